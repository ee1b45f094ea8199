//! The api function: mounts only its own routes (see `kustiq::wiring::api`).

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    kustiq::wiring::run_http(kustiq::wiring::api).await
}
