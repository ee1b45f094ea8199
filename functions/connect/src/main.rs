//! The connect function: mounts only its own routes (see `kustiq::wiring::connect`).

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    kustiq::wiring::run_http(kustiq::wiring::connect).await
}
