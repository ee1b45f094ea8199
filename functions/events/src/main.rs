//! Stripe's Amazon EventBridge event destination: a rule on the partner event bus
//! invokes this function with the envelope; the Stripe event in `detail` enters the
//! same ingest as the webhook (see `kustiq::events_ingress`). It has no HTTP route:
//! without a signature to check, only EventBridge may reach it.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    kustiq::wiring::run_stripe_events().await
}
