//! Nightly sync (EventBridge, 05:45 UTC): see `kustiq::scheduled::NightlySync`.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    kustiq::wiring::run_tasks(kustiq::wiring::sync_function).await
}
