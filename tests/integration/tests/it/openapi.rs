//! docs/openapi.yaml against the code: every route the local runner serves (all
//! route groups' `routes()` lists) is in the spec, and responses of every
//! class validate against their schemas. Responses captured by the other
//! dashboard tests are checked too (`Bench::call`).

use kustiq::domain::region::Region;
use kustiq::domain::time::Timestamp;
use kustiq_tests::Engine;
use kustiq_tests::openapi::{assert_conforms, spec};
use kustiq_tests::webhook::Bench;
use serde_json::json;

#[tokio::test]
async fn every_served_route_is_in_the_openapi_spec() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let stack = kustiq_local::runner::start(dir.path(), Region::Eu)
        .await
        .unwrap_or_else(|e| panic!("start: {e}"));
    let served = stack.router.routes();
    assert!(
        served.len() >= 8,
        "the runner mounts every group: {served:?}"
    );
    let missing: Vec<String> = served
        .iter()
        .filter(|(m, t)| !spec().has(m, t))
        .map(|(m, t)| format!("{m} {t}"))
        .collect();
    assert!(
        missing.is_empty(),
        "served but not in docs/openapi.yaml: {missing:?}"
    );
    assert_eq!(spec().version(), "3.1.0");
    assert!(
        !spec().has("GET", "/api/v1/not-a-route"),
        "the check can fail"
    );
}

#[test]
fn the_spec_lists_every_contract_route() {
    // CONTRACT.md's table, as (method, template): the spec may list more.
    let contract = [
        ("POST", "/webhooks/stripe"),
        ("GET", "/api/v1/integrations/stripe/connect"),
        ("GET", "/api/v1/integrations/stripe/oauth/callback"),
        ("POST", "/api/v1/integrations/stripe/api-key"),
        ("POST", "/webhooks/stripe/c/{connection_id}"),
        ("PUT", "/api/v1/integrations/stripe/webhook-secret"),
        ("GET", "/api/v1/integrations/stripe"),
        ("POST", "/api/v1/integrations/stripe/sync"),
        ("POST", "/api/v1/integrations/stripe/backfill"),
        (
            "POST",
            "/api/v1/integrations/stripe/failed-events/{event_id}/replay",
        ),
        ("GET", "/api/v1/integrations/stripe/matches"),
        (
            "PATCH",
            "/api/v1/integrations/stripe/customer-mapping/{profile_id}",
        ),
        ("POST", "/api/v1/integrations/stripe/rematch"),
        ("DELETE", "/api/v1/integrations/stripe"),
        ("POST", "/api/v1/integrations/stripe/erase"),
        ("PUT", "/api/v1/profiles/{profile_id}"),
        ("GET", "/api/v1/profiles/{profile_id}"),
        ("POST", "/api/v1/profiles:batch"),
        ("GET", "/api/v1/churn/at-risk"),
        ("POST", "/api/v1/webhook-endpoints"),
        ("GET", "/api/v1/webhook-endpoints"),
        ("DELETE", "/api/v1/webhook-endpoints/{id}"),
        ("GET", "/api/v1/webhook-endpoints/{id}/deliveries"),
        (
            "POST",
            "/api/v1/webhook-endpoints/{id}/deliveries/{delivery_id}/replay",
        ),
        ("GET", "/api/v1/profiles/{profile_id}/churn"),
    ];
    for (m, t) in contract {
        assert!(spec().has(m, t), "docs/openapi.yaml lacks {m} {t}");
    }
}

#[test]
fn a_response_off_its_schema_is_caught() {
    let s = spec();
    let ok = json!({"data": [], "next_cursor": null});
    assert_eq!(s.check("GET", "/api/v1/churn/at-risk", 200, &ok), Ok(()));
    let bad = json!({"data": [{"profile_id": 1}], "next_cursor": null});
    assert!(s.check("GET", "/api/v1/churn/at-risk", 200, &bad).is_err());
    let err = json!({"error": {"code": "ERR_NOT_FOUND", "message": "no profile"}});
    assert_eq!(s.check("GET", "/api/v1/profiles/p1", 404, &err), Ok(()));
    assert!(
        s.check("GET", "/api/v1/profiles/p1", 404, &json!({"oops": 1}))
            .is_err()
    );
    assert!(s.check("GET", "/api/v1/nowhere", 200, &ok).is_err());
}

#[tokio::test]
async fn responses_of_every_class_validate_against_their_schemas() {
    let b = Bench::new(Engine::Dynoxide, Timestamp::from_unix(1_760_000_000)).await;
    let ws = "ws_spec";
    let profile = json!({"email": "a@acme.io", "domain": "acme.io", "name": "A", "stripe_customer_id": "cus_x1",
        "families": {"crm": [{"signal": "champion_left", "impact": 20.0, "explanation": "gone", "evidence": ["crm_9"]}]},
        "classifier_churn_risk": 90.0});
    let calls: Vec<(&str, &str, Option<serde_json::Value>, u16)> = vec![
        ("PUT", "/api/v1/profiles/p1", Some(profile.clone()), 200),
        ("GET", "/api/v1/profiles/p1", None, 200),
        ("GET", "/api/v1/profiles/p1/churn", None, 200),
        ("GET", "/api/v1/profiles/nobody", None, 404),
        ("GET", "/api/v1/profiles/nobody/churn", None, 404),
        (
            "PUT",
            "/api/v1/profiles/p2",
            Some(json!({"colour": 1})),
            400,
        ),
        ("DELETE", "/api/v1/profiles/p1", None, 405),
        (
            "POST",
            "/api/v1/profiles:batch",
            Some(json!({"profiles": [{"id": "p3"}, {"id": "p3"}]})),
            200,
        ),
        (
            "POST",
            "/api/v1/profiles:batch",
            Some(json!({"profiles": []})),
            400,
        ),
        ("GET", "/api/v1/churn/at-risk?limit=1", None, 200),
        (
            "GET",
            "/api/v1/churn/at-risk?sort=rising&involuntary=true&lifecycle=customer&min_score=50",
            None,
            200,
        ),
        ("GET", "/api/v1/churn/at-risk?limit=0", None, 400),
        ("GET", "/api/v1/integrations/stripe", None, 200),
        (
            "POST",
            "/api/v1/integrations/stripe/failed-events/evt_1/replay",
            None,
            404,
        ),
    ];
    for (method, path, body, status) in calls {
        // `call` asserts conformance; the status proves the case is the one meant.
        let a = b.call(method, path, ws, body).await;
        assert_eq!(a.status, status, "{method} {path}: {}", a.body);
    }
    let unauthenticated = b
        .send(
            http::Request::builder()
                .method("GET")
                .uri("/api/v1/churn/at-risk")
                .body(lambda_http::Body::Empty)
                .unwrap_or_else(|e| panic!("{e}")),
        )
        .await;
    assert_eq!(unauthenticated.status, 401);
    assert_conforms("GET", "/api/v1/churn/at-risk", &unauthenticated);
    let webhook = b.post("{}", Some("t=1,v1=00")).await;
    assert_eq!(webhook.status, 400);
    assert_conforms("POST", "/webhooks/stripe", &webhook);
}
