//! The webhook-endpoints routes: happy paths, 400s, 404s, another workspace's
//! endpoints, the Pro plan gate, the SSRF guard at registration, and the
//! secret sealed at rest. Errors store nothing.

use kustiq::adapters::outbound::{HttpSender, SendTimeouts};
use kustiq::app::outbound::target::TargetPolicy;
use kustiq::domain::time::Timestamp;
use kustiq::ports::outbound::{Sender, TargetError};
use kustiq_tests::Engine;
use kustiq_tests::outbound::{OutboundBench, Receiver};
use serde_json::json;

const T0: Timestamp = Timestamp::from_unix(1_790_000_000);
const BASE: &str = "/api/v1/webhook-endpoints";

async fn registration_shows_the_secret_once_and_seals_it_at_rest(engine: Engine) {
    let b = OutboundBench::new(engine, T0).await;
    let r = Receiver::start().await;
    let body = json!({"url": r.url, "events": ["profile.renewal_due", "profile.payment_failed", "profile.renewal_due"]});
    let a = b
        .call("POST", BASE, "ws_a", "pro", Some(&body.to_string()))
        .await;
    assert_eq!(a.status, 201, "{:?}", a.body);
    let id = a.body["id"].as_str().unwrap_or_default().to_owned();
    let secret = a.body["secret"].as_str().unwrap_or_default().to_owned();
    assert!(id.starts_with("we_") && id.len() == 27, "{id}");
    assert!(secret.starts_with("whsec_") && secret.len() > 40);
    assert_eq!(
        a.body["events"],
        json!(["profile.renewal_due", "profile.payment_failed"])
    );

    let list = b.call("GET", BASE, "ws_a", "pro", None).await;
    assert_eq!(list.status, 200);
    let data = list.body["data"].as_array().cloned().unwrap_or_default();
    assert_eq!(data.len(), 1);
    assert_eq!(data[0]["id"], id.as_str());
    assert_eq!(data[0]["url"], r.url.as_str());
    assert!(data[0].get("secret").is_none(), "the secret is shown once");

    // At rest only sealed: no item of the table holds the plaintext.
    let snapshot = b.bench.snapshot().await;
    let dump = format!("{snapshot:?}");
    assert!(!dump.contains(&secret), "plaintext secret stored");
    assert!(dump.contains("ksv1."), "sealed blob stored");
}

async fn malformed_registrations_are_400_and_store_nothing(engine: Engine) {
    let b = OutboundBench::new(engine, T0).await;
    let before = b.bench.snapshot().await;
    let cases = [
        "not json".to_owned(),
        "[]".to_owned(),
        json!({"url": "http://127.0.0.1:9/h"}).to_string(),
        json!({"url": "http://127.0.0.1:9/h", "events": []}).to_string(),
        json!({"url": "http://127.0.0.1:9/h", "events": ["profile.exploded"]}).to_string(),
        json!({"url": "http://127.0.0.1:9/h", "events": ["profile.left_at_risk"], "x": 1})
            .to_string(),
        json!({"url": "ftp://127.0.0.1/h", "events": ["profile.left_at_risk"]}).to_string(),
        json!({"url": "not a url", "events": ["profile.left_at_risk"]}).to_string(),
        json!({"url": "http://u:p@127.0.0.1:9/h", "events": ["profile.left_at_risk"]}).to_string(),
        // Private, link-local and metadata addresses are refused even locally.
        json!({"url": "http://10.0.0.1/h", "events": ["profile.left_at_risk"]}).to_string(),
        json!({"url": "http://169.254.169.254/latest/meta-data/", "events": ["profile.left_at_risk"]}).to_string(),
        json!({"url": "http://[fd00:ec2::254]/", "events": ["profile.left_at_risk"]}).to_string(),
        json!({"url": "http://192.168.0.10/h", "events": ["profile.left_at_risk"]}).to_string(),
        json!({"url": "http://no-such-host.invalid/h", "events": ["profile.left_at_risk"]})
            .to_string(),
    ];
    for body in &cases {
        let a = b.call("POST", BASE, "ws_a", "pro", Some(body)).await;
        a.assert_refused(400, "ERR_BAD_REQUEST");
    }
    b.bench
        .assert_nothing_stored(&before, "refused registrations")
        .await;
}

async fn unknown_and_malformed_ids_are_404_and_400(engine: Engine) {
    let b = OutboundBench::new(engine, T0).await;
    let r = Receiver::start().await;
    let (id, _) = b.register("ws_a", &r.url, &["profile.left_at_risk"]).await;
    let unknown = "we_000000000000000000000000";
    let dlv = "dlv_17900000000123456789abcdef";
    for (method, path) in [
        ("DELETE", format!("{BASE}/{unknown}")),
        ("GET", format!("{BASE}/{unknown}/deliveries")),
        ("POST", format!("{BASE}/{unknown}/deliveries/{dlv}/replay")),
        ("POST", format!("{BASE}/{id}/deliveries/{dlv}/replay")),
    ] {
        let a = b.call(method, &path, "ws_a", "pro", None).await;
        a.assert_refused(404, "ERR_NOT_FOUND");
    }
    for (method, path) in [
        ("DELETE", format!("{BASE}/we_nothex")),
        ("GET", format!("{BASE}/ep_1/deliveries")),
        ("POST", format!("{BASE}/{id}/deliveries/evt_1/replay")),
        ("GET", format!("{BASE}/{id}/deliveries?limit=0")),
        ("GET", format!("{BASE}/{id}/deliveries?limit=101")),
    ] {
        let a = b.call(method, &path, "ws_a", "pro", None).await;
        a.assert_refused(400, "ERR_BAD_REQUEST");
    }
    let a = b.call("PUT", BASE, "ws_a", "pro", None).await;
    a.assert_refused(405, "ERR_METHOD_NOT_ALLOWED");

    // Deleting twice: found, then not.
    let path = format!("{BASE}/{id}");
    assert_eq!(
        b.call("DELETE", &path, "ws_a", "pro", None).await.status,
        200
    );
    b.call("DELETE", &path, "ws_a", "pro", None)
        .await
        .assert_refused(404, "ERR_NOT_FOUND");
    let list = b.call("GET", BASE, "ws_a", "pro", None).await;
    assert_eq!(list.body["data"], json!([]));
}

async fn a_workspace_has_at_most_10_endpoints(engine: Engine) {
    let b = OutboundBench::new(engine, T0).await;
    let r = Receiver::start().await;
    for _ in 0..kustiq::app::outbound::MAX_ENDPOINTS {
        b.register("ws_a", &r.url, &["profile.left_at_risk"]).await;
    }
    let before = b.bench.snapshot().await;
    let body = json!({"url": r.url, "events": ["profile.left_at_risk"]}).to_string();
    b.call("POST", BASE, "ws_a", "pro", Some(&body))
        .await
        .assert_refused(409, "ERR_CONFLICT");
    b.bench
        .assert_nothing_stored(&before, "the 11th endpoint")
        .await;
    // Another workspace has its own ten.
    b.register("ws_b", &r.url, &["profile.left_at_risk"]).await;
}

async fn another_workspace_can_neither_see_nor_touch_an_endpoint(engine: Engine) {
    let b = OutboundBench::new(engine, T0).await;
    let r = Receiver::start().await;
    let (id, _) = b
        .register("ws_a", &r.url, &["profile.entered_at_risk"])
        .await;
    b.score("ws_a", "p1", 30.0).await;
    b.deliver().await;
    let dlv = b.deliveries("ws_a", &id).await[0]["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let before = b.bench.snapshot().await;

    let list = b.call("GET", BASE, "ws_b", "pro", None).await;
    assert_eq!(list.body["data"], json!([]));
    for (method, path) in [
        ("DELETE", format!("{BASE}/{id}")),
        ("GET", format!("{BASE}/{id}/deliveries")),
        ("POST", format!("{BASE}/{id}/deliveries/{dlv}/replay")),
    ] {
        let a = b.call(method, &path, "ws_b", "pro", None).await;
        a.assert_refused(404, "ERR_NOT_FOUND");
    }
    b.bench
        .assert_nothing_stored(&before, "another workspace's attempts")
        .await;
    // ws_b's own events never reach ws_a's endpoint.
    b.score("ws_b", "p1", 30.0).await;
    b.deliver().await;
    assert_eq!(r.received().len(), 1);
}

async fn every_route_needs_the_pro_plan(engine: Engine) {
    let b = OutboundBench::new(engine, T0).await;
    let r = Receiver::start().await;
    let (id, _) = b.register("ws_a", &r.url, &["profile.left_at_risk"]).await;
    let before = b.bench.snapshot().await;
    let body = json!({"url": r.url, "events": ["profile.left_at_risk"]}).to_string();
    let dlv = "dlv_17900000000123456789abcdef";
    for plan in ["free", "insight"] {
        for (method, path, body) in [
            ("POST", BASE.to_owned(), Some(body.as_str())),
            ("GET", BASE.to_owned(), None),
            ("DELETE", format!("{BASE}/{id}"), None),
            ("GET", format!("{BASE}/{id}/deliveries"), None),
            ("POST", format!("{BASE}/{id}/deliveries/{dlv}/replay"), None),
        ] {
            let a = b.call(method, &path, "ws_a", plan, body).await;
            a.assert_refused(403, "ERR_PLAN_REQUIRED");
        }
    }
    b.bench
        .assert_nothing_stored(&before, "refused plans")
        .await;
}

/// In AWS only public `https` endpoints register: the guard resolves the host.
#[tokio::test]
async fn the_aws_policy_refuses_http_loopback_private_and_metadata_targets() {
    let s = HttpSender::new(TargetPolicy::AWS, SendTimeouts::default())
        .unwrap_or_else(|e| panic!("{e}"));
    for (url, want) in [
        ("https://localhost/hook", TargetError::Forbidden),
        ("https://127.0.0.1/hook", TargetError::Forbidden),
        (
            "https://169.254.169.254/latest/meta-data/",
            TargetError::Forbidden,
        ),
        ("https://[fd00:ec2::254]/", TargetError::Forbidden),
        ("https://10.1.2.3/", TargetError::Forbidden),
        ("https://[::ffff:a9fe:a9fe]/", TargetError::Forbidden),
        ("https://no-such-host.invalid/", TargetError::Unresolvable),
    ] {
        assert_eq!(s.check(url).await, Err(want), "{url}");
    }
    assert!(matches!(
        s.check("http://example.com/hook").await,
        Err(TargetError::Invalid(_))
    ));
}

on_both_engines!(
    registration_shows_the_secret_once_and_seals_it_at_rest,
    malformed_registrations_are_400_and_store_nothing,
    unknown_and_malformed_ids_are_404_and_400,
    a_workspace_has_at_most_10_endpoints,
    another_workspace_can_neither_see_nor_touch_an_endpoint,
    every_route_needs_the_pro_plan,
);

#[tokio::test]
async fn openapi_documents_every_webhook_endpoints_route() {
    let spec = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/openapi.yaml"
    ))
    .unwrap_or_else(|e| panic!("docs/openapi.yaml: {e}"));
    let b = OutboundBench::new(Engine::Dynoxide, T0).await;
    let ours: Vec<_> = b
        .bench
        .router
        .routes()
        .into_iter()
        .filter(|(_, p)| p.starts_with(BASE))
        .collect();
    assert_eq!(ours.len(), 5);
    for (_, path) in ours {
        assert!(
            spec.lines().any(|l| l.trim() == format!("{path}:")),
            "docs/openapi.yaml lacks {path}"
        );
    }
}

/// `kustiq-local serve` mounts the routes: registration over real HTTP with the
/// runner's own token, a loopback endpoint allowed, a private one refused.
#[tokio::test]
async fn the_local_runner_serves_the_webhook_endpoints_routes() {
    let server = kustiq_tests::local::LocalServer::start(
        "ws_local",
        kustiq_local::server::Limits::default(),
    )
    .await;
    let r = Receiver::start().await;
    let body = json!({"url": r.url, "events": ["profile.entered_at_risk"]}).to_string();
    let a = server
        .call(
            reqwest::Method::POST,
            BASE,
            Some(&server.token),
            Some(&body),
        )
        .await;
    assert_eq!(a.status, 201, "{:?}", a.body);
    assert!(
        a.body["secret"]
            .as_str()
            .is_some_and(|s| s.starts_with("whsec_"))
    );
    let private = json!({"url": "http://10.0.0.1/h", "events": ["profile.entered_at_risk"]});
    server
        .call(
            reqwest::Method::POST,
            BASE,
            Some(&server.token),
            Some(&private.to_string()),
        )
        .await
        .assert_refused(400, "ERR_BAD_REQUEST");
    let list = server.get(BASE).await;
    assert_eq!(list.body["data"].as_array().map(Vec::len), Some(1));
}

#[test]
fn errors_md_lists_the_webhook_endpoint_limits_with_their_values() {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/errors.md"))
        .unwrap_or_else(|e| panic!("docs/errors.md: {e}"));
    for (name, value) in [
        (
            "MAX_ENDPOINTS",
            kustiq::app::outbound::MAX_ENDPOINTS.to_string(),
        ),
        (
            "MAX_URL_LEN",
            kustiq::app::outbound::target::MAX_URL_LEN.to_string(),
        ),
        (
            "MAX_ENDPOINT_BODY_BYTES",
            kustiq::http::outbound::MAX_ENDPOINT_BODY_BYTES.to_string(),
        ),
    ] {
        let row = doc
            .lines()
            .find(|l| l.starts_with(&format!("| `{name}` |")))
            .unwrap_or_else(|| panic!("docs/errors.md has no row for {name}"));
        let cells: Vec<&str> = row.split('|').map(str::trim).collect();
        assert_eq!(cells[2], value, "docs/errors.md: the value of {name}");
    }
}
