//! Retry sweep, every minute (EventBridge Scheduler): re-runs recorded events
//! whose retry is due (1 m, 5 m, 30 m, 2 h, 12 h) and marks them failed after 24 h.

use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::{Value, json};

#[tokio::main]
async fn main() -> Result<(), Error> {
    kustiq::telemetry::init();
    let app = kustiq::adapters::runtime::aws_app_from_env().await?;
    let app = &app;
    lambda_runtime::run(service_fn(move |_: LambdaEvent<Value>| async move {
        let applied = kustiq::app::ingest::retry_due(
            &app.store,
            &app.settings.engine,
            app.clock.now(),
            kustiq::app::worker::BATCH,
        )
        .await?;
        Ok::<_, Error>(json!({"applied": applied}))
    }))
    .await
}
