//! The API reference lists every route the dispatcher serves.

const ROUTES: [&str; 6] = [
    "/webhooks/stripe:",
    "/api/v1/integrations/stripe:",
    "/api/v1/integrations/stripe/failed-events/{event_id}/replay:",
    "/api/v1/profiles/{profile_id}:",
    "/api/v1/profiles/{profile_id}/churn:",
    "/api/v1/churn/at-risk:",
];

#[test]
fn openapi_documents_every_served_route() {
    let spec = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/openapi.yaml"
    ))
    .unwrap_or_else(|e| panic!("docs/openapi.yaml: {e}"));
    for route in ROUTES {
        assert!(
            spec.lines().any(|l| l.trim() == route),
            "docs/openapi.yaml lacks {route}"
        );
    }
}
