//! The webhook function: mounts only its own routes (see `kustiq::wiring::webhook`).

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    kustiq::wiring::run_http(kustiq::wiring::webhook).await
}
