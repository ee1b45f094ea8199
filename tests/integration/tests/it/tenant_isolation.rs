//! Tenant isolation over EVERY mounted route: the workspace comes from the
//! authorizer's claims only, and workspace A can neither read nor change B's
//! data nor learn that it exists. For each route (the routers' own `routes()`
//! lists, so a new route is covered the day it is mounted) A asks for B's
//! resources, with B's workspace id planted in a header and the query; A's
//! answer must equal its answer for an id nobody has (same status, same code:
//! 404, never 403), must not show any of B's data, and B's items must be
//! byte-for-byte what they were.

use kustiq::adapters::kms::KmsSealer;
use kustiq::adapters::local::secrets::EnvSecrets;
use kustiq::adapters::outbound::{HttpSender, SendTimeouts};
use kustiq::adapters::runtime::Secrets;
use kustiq::adapters::stripe::{Platform, StripeClient, StripeConfig};
use kustiq::app::connect::{ConnectSettings, Connector};
use kustiq::app::outbound::target::TargetPolicy;
use kustiq::domain::connection::Mode;
use kustiq::domain::ids::WorkspaceId;
use kustiq::domain::region::Region;
use kustiq::http::{ConnectRoutes, DisconnectRoutes, OutboundRoutes, Router};
use kustiq::ports::clock::Clock;
use kustiq::ports::events::{EventLog, EventStatus};
use kustiq_tests::simulated::Simulated;
use kustiq_tests::snapshot::TableSnapshot;
use kustiq_tests::webhook::Bench;
use kustiq_tests::{Answer, moto};
use lambda_http::RequestExt;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;

const A: &str = "ws_tenant_a";
const B: &str = "ws_tenant_b";
/// Only in B's data: no answer to A may contain it.
const B_MARKER: &str = "bsecretmarker";

/// A plausible body for a route, so that writes get past parsing and reach the store.
fn body_for(method: &str, template: &str) -> Option<Value> {
    let profile = json!({"name": "A's own", "families": {"crm": [{"signal": "a_signal", "impact": 5.0}]}, "classifier_churn_risk": 10.0});
    match (method, template) {
        ("PUT", "/api/v1/profiles/{profile_id}") => Some(profile),
        ("POST", "/api/v1/profiles:batch") => {
            Some(json!({"profiles": [{"id": "{profile_id}", "name": "A's own"}]}))
        }
        ("PATCH", _) => Some(json!({"stripe_customer_id": null})),
        ("PUT", "/api/v1/integrations/stripe/webhook-secret") => {
            Some(json!({"secrets": ["whsec_a_own"]}))
        }
        ("POST", "/api/v1/webhook-endpoints") => {
            Some(json!({"url": "https://a.example/hook", "events": ["profile.entered_at_risk"]}))
        }
        ("POST" | "PUT", _) => Some(json!({})),
        _ => None,
    }
}

/// `template` with each `{param}` replaced from `values` (anything else: `fallback`).
fn fill(template: &str, values: &HashMap<&str, String>, fallback: &str) -> String {
    template
        .split('/')
        .map(
            |seg| match seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                Some(name) => values
                    .get(name)
                    .cloned()
                    .unwrap_or_else(|| fallback.to_owned()),
                None => seg.to_owned(),
            },
        )
        .collect::<Vec<_>>()
        .join("/")
}

/// `method path` as workspace A's authorizer passes it, with B planted elsewhere,
/// through `router` (the bench's groups plus the connect and disconnect groups).
async fn as_a(b: &Bench, router: &Router, method: &str, path: &str, body: Option<Value>) -> Answer {
    let mut req = b.authed(method, path, A, body);
    req.headers_mut()
        .insert("x-workspace-id", http::HeaderValue::from_static(B));
    let req = req.with_query_string_parameters(HashMap::from([(
        "workspace_id".to_owned(),
        vec![B.to_owned()],
    )]));
    let resp = router.handle(req).await;
    let status = resp.status().as_u16();
    let body = match resp.body() {
        lambda_http::Body::Text(t) => serde_json::from_str(t).unwrap_or(Value::Null),
        lambda_http::Body::Binary(x) => serde_json::from_slice(x).unwrap_or(Value::Null),
        _ => Value::Null,
    };
    Answer { status, body }
}

/// The bench's router plus the connect and disconnect groups over the same
/// table (Stripe unreachable: a route that would call it fails alike for everyone).
async fn every_group(b: &Bench) -> Router {
    let secrets = || {
        Secrets::Env(EnvSecrets::from_vars([
            (
                "KUSTIQ_API_CURSOR_KEY".to_owned(),
                "tenant-cursor".to_owned(),
            ),
            (
                "KUSTIQ_OAUTH_STATE_KEY".to_owned(),
                "tenant-state".to_owned(),
            ),
            (
                "KUSTIQ_STRIPE_PLATFORM_KEY".to_owned(),
                stripe_sim::PLATFORM_KEY.to_owned(),
            ),
        ]))
    };
    let platform = || {
        let config = StripeConfig::at("http://127.0.0.1:9").unwrap_or_else(|e| panic!("{e}"));
        let client = StripeClient::new(config).unwrap_or_else(|e| panic!("{e}"));
        Platform::new(client, stripe_sim::CLIENT_ID, secrets())
    };
    let (config, arn) = moto::create_kms_key(Region::Eu.aws_region()).await;
    let arn_for_outbound = arn.clone();
    let sealer = Arc::new(KmsSealer::new(&config, arn));
    let clock: Arc<dyn Clock> = Arc::new(b.clock.clone());
    let public = url::Url::parse("http://127.0.0.1:8080").unwrap_or_else(|e| panic!("{e}"));
    b.router
        .clone()
        .mount(ConnectRoutes {
            connector: Connector {
                store: b.store.clone(),
                secrets: secrets(),
                sealer,
                platform: platform(),
                settings: ConnectSettings::new(public, Region::Eu),
            },
            clock: clock.clone(),
            settings: b.settings.clone(),
        })
        .mount(DisconnectRoutes {
            store: b.store.clone(),
            platform: platform(),
            clock: clock.clone(),
            settings: b.settings.clone(),
        })
        .mount(OutboundRoutes {
            store: b.store.clone(),
            sealer: Arc::new(KmsSealer::new(&config, arn_for_outbound)),
            sender: HttpSender::new(TargetPolicy::LOCAL, SendTimeouts::default())
                .unwrap_or_else(|e| panic!("{e}")),
            clock,
            settings: b.settings.clone(),
        })
}

#[tokio::test]
async fn workspace_a_can_neither_read_nor_change_b_nor_learn_it_exists_on_any_route() {
    let given = Simulated::new(6, 5).await;
    let b = Bench::new(kustiq_tests::Engine::DynamoDbLocal, given.now()).await;

    // B: connected, every customer matched and scored, a secret profile, a failed event.
    let ws_b = b.connect(B, &given.account, Mode::Test).await;
    b.match_all(&ws_b, &given.customers()).await;
    for e in &given.events {
        assert_eq!(b.post_event(e).await.status, 200);
    }
    let secret = json!({"email": format!("{B_MARKER}@bcorp.io"), "name": B_MARKER, "domain": "bcorp.io",
        "families": {"crm": [{"signal": B_MARKER, "impact": 20.0, "explanation": B_MARKER}]}, "classifier_churn_risk": 100.0});
    assert_eq!(b.put_profile_json(B, "b_secret", secret).await.status, 200);
    let failure = given.payment_failure();
    let (mut rec, v) = b
        .event(&ws_b, &failure.id)
        .await
        .unwrap_or_else(|| panic!("recorded"));
    rec.status = EventStatus::Failed;
    b.store
        .update(&rec, v)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        b.status(&ws_b).await.body["failed_events"][0]["event_id"],
        failure.id.as_str()
    );
    // A: a profile of its own, so its lists are not empty by accident.
    assert_eq!(
        b.put_profile_json(A, "a_own", json!({"classifier_churn_risk": 90.0}))
            .await
            .status,
        200
    );

    let is_b = |pk: &str, _: &str| pk.contains(B) || pk.contains(&given.account);
    let b_before = TableSnapshot::take(&b.store).await.only(is_b);
    assert!(b_before.len() > 10, "B has data to protect");

    // Every route mounted here, and that is everything the local runner serves.
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let local = kustiq_local::runner::start(dir.path(), Region::Eu)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let router = every_group(&b).await;
    let routes = router.routes();
    for r in local.router.routes() {
        assert!(
            routes.contains(&r),
            "the test mounts {r:?}: add its group to every_group"
        );
    }
    // What A's answers must never show: B's data, not ids A itself sent.
    let mut leaks = vec![B_MARKER.to_owned(), given.account.clone(), B.to_owned()];
    leaks.extend(given.customers());
    // B's outbound endpoint: its id fills `{id}`.
    let registered = router
        .handle(b.authed(
            "POST",
            "/api/v1/webhook-endpoints",
            B,
            Some(
                json!({"url": "http://127.0.0.1:9/b-hook", "events": ["profile.entered_at_risk"]}),
            ),
        ))
        .await;
    let registered: Value = match registered.body() {
        lambda_http::Body::Text(t) => serde_json::from_str(t).unwrap_or(Value::Null),
        _ => Value::Null,
    };
    let endpoint_b = registered["id"]
        .as_str()
        .unwrap_or_else(|| panic!("B registers an endpoint: {registered}"))
        .to_owned();
    // B as it stands, its endpoint included: nothing of it may change below.
    let b_before = TableSnapshot::take(&b.store).await.only(is_b);
    let of_b: HashMap<&str, String> = HashMap::from([
        ("id", endpoint_b.clone()),
        ("profile_id", "b_secret".to_owned()),
        ("event_id", failure.id.as_str().to_owned()),
        ("connection_id", B.to_owned()),
    ]);
    let nobody: HashMap<&str, String> = HashMap::from([
        ("event_id", "evt_nobody0000".to_owned()),
        ("id", "we_000000000000000000000000".to_owned()),
    ]);
    for (method, template) in &routes {
        let path_b = fill(template, &of_b, "b_resource_1");
        let path_nobody = fill(template, &nobody, "nobody_0001");
        let body = |p: &str| {
            body_for(method, template).map(|v| {
                serde_json::from_str(&v.to_string().replace("{profile_id}", p)).unwrap_or(v)
            })
        };
        let fresh = as_a(&b, &router, method, &path_nobody, body("nobody_0001")).await;
        let at_b = as_a(&b, &router, method, &path_b, body("b_secret")).await;
        let route = format!("{method} {template}");
        assert_ne!(
            at_b.status, 403,
            "{route}: a refusal would tell B's resource exists"
        );
        assert_eq!(
            (at_b.status, at_b.code()),
            (fresh.status, fresh.code()),
            "{route}: B's resource answers as one that does not exist\nB's: {}\nnobody's: {}",
            at_b.body,
            fresh.body
        );
        let shown = at_b.body.to_string();
        for leak in &leaks {
            assert!(
                !shown.contains(leak.as_str()),
                "{route} showed B's {leak}: {shown}"
            );
        }
    }
    let b_after = TableSnapshot::take(&b.store).await.only(is_b);
    let changes = b_before.changes(&b_after);
    assert!(
        changes.is_empty(),
        "A's requests changed B:\n{}",
        changes.join("\n")
    );

    // And B still reads its own data: nothing was moved to A either.
    let mine = b.call("GET", "/api/v1/profiles/b_secret", B, None).await;
    assert_eq!(mine.body["name"], B_MARKER);
    let a_view = b.call("GET", "/api/v1/profiles/b_secret", A, None).await;
    assert_ne!(
        a_view.body["name"], B_MARKER,
        "A sees only its own b_secret, if any"
    );
    let ws_a = WorkspaceId::parse(A).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        b.status(&ws_a).await.body["connected"],
        false,
        "A never got B's connection"
    );
}
