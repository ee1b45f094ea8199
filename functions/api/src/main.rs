//! Dashboard API: status, failed-event replay, profiles, churn, at-risk.
//! Thin: configuration from the environment, clients built once, then the
//! shared HTTP dispatcher for every request.

use lambda_http::{Error, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    kustiq::telemetry::init();
    let app = kustiq::adapters::runtime::aws_app_from_env().await?;
    let app = &app;
    lambda_http::run(service_fn(move |req| async move {
        Ok::<_, std::convert::Infallible>(kustiq::http::handle(app, req).await)
    }))
    .await
}
