//! The disconnect function: mounts only its own routes (see `kustiq::wiring::disconnect`).

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    kustiq::wiring::run_http(kustiq::wiring::disconnect).await
}
