//! Retry sweep, every minute (EventBridge Scheduler): re-runs recorded events
//! whose retry is due (1 m, 5 m, 30 m, 2 h, 12 h) and marks them failed after 24 h.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    kustiq::wiring::run_tasks(kustiq::wiring::scoring_function).await
}
