//! Each function serves only its own routes, and the webhook route's
//! configuration errors are server errors, through the real router.

use kustiq::adapters::clock::ManualClock;
use kustiq::adapters::dynamo::DynamoStore;
use kustiq::adapters::local::secrets::EnvSecrets;
use kustiq::adapters::stripe::PlatformSources;
use kustiq::domain::region::Region;
use kustiq::domain::time::Timestamp;
use kustiq::http::{Router, Routes, Settings, WebhookRoutes};
use std::sync::Arc;

/// A store whose client is never reached by these requests.
fn unreachable_store() -> DynamoStore {
    let conf = aws_sdk_dynamodb::Config::builder()
        .behavior_version_latest()
        .region(aws_sdk_dynamodb::config::Region::new("eu-central-1"))
        .endpoint_url("http://127.0.0.1:9")
        .build();
    DynamoStore::new(aws_sdk_dynamodb::Client::from_conf(conf), "unused")
}

/// No Stripe reads: these requests never reach one.
fn no_stripe() -> Option<PlatformSources<EnvSecrets>> {
    None
}

#[tokio::test]
async fn the_webhook_function_serves_only_the_webhook_route() {
    let group = WebhookRoutes::new(
        unreachable_store(),
        EnvSecrets::from_vars([]),
        no_stripe(),
        Arc::new(ManualClock::at(Timestamp::from_unix(0))),
        Settings::new(Region::Eu),
    );
    // The platform endpoint and restricted-key connections' own endpoints (issue 11).
    assert_eq!(
        group.routes(),
        &[
            ("POST", "/webhooks/stripe"),
            ("POST", "/webhooks/stripe/c/{connection_id}")
        ]
    );
    let router = Router::new().mount(group);
    for (method, path) in [
        ("GET", "/api/v1/integrations/stripe"),
        ("PUT", "/api/v1/profiles/p1"),
        ("GET", "/api/v1/churn/at-risk"),
        (
            "POST",
            "/api/v1/integrations/stripe/failed-events/evt_1/replay",
        ),
        ("GET", "/api/v1/integrations/stripe/connect"),
        ("DELETE", "/api/v1/integrations/stripe"),
    ] {
        let req = http::Request::builder()
            .method(method)
            .uri(path)
            .body(lambda_http::Body::Empty)
            .unwrap_or_else(|e| panic!("{e}"));
        let resp = router.handle(req).await;
        assert_eq!(resp.status().as_u16(), 404, "{method} {path}");
    }
}

#[tokio::test]
async fn a_missing_endpoint_secret_is_a_configuration_error_not_a_bad_request() {
    let router = Router::new().mount(WebhookRoutes::new(
        unreachable_store(),
        EnvSecrets::from_vars([]),
        no_stripe(),
        Arc::new(ManualClock::at(Timestamp::from_unix(0))),
        Settings::new(Region::Eu),
    ));
    let req = http::Request::builder()
        .method("POST")
        .uri("/webhooks/stripe")
        .header("stripe-signature", "t=1,v1=00")
        .body(lambda_http::Body::Text("{}".into()))
        .unwrap_or_else(|e| panic!("{e}"));
    let resp = router.handle(req).await;
    assert_eq!(resp.status().as_u16(), 500);
}
