//! Outbound churn events, every minute (EventBridge Scheduler): fans the outbox
//! out to the registered endpoints and sends due deliveries, signed, retried
//! with backoff, in order per (endpoint, profile).

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    kustiq::wiring::run_fallible_job(kustiq::wiring::outbound_delivery).await
}
