//! Issue 9 (hardening), one table per class: numbers at and beyond their
//! limits, oversized fields and lists, forged cursors, concurrency on one
//! item, sloppy bodies and paths, every route × every plan, and webhook logs
//! under concurrent deliveries. Each goes through the real router on a real
//! table; no answer in any table may be a 5xx.

use futures::future::join_all;
use kustiq::app::cursor;
use kustiq::domain::ids::WorkspaceId;
use kustiq::domain::limits::{
    MAX_CLASSIFIER, MAX_DOMAIN, MAX_EMAIL, MAX_EVIDENCE, MAX_EVIDENCE_ID, MAX_EXPLANATION,
    MAX_FACTORS, MAX_FACTORS_PER_FAMILY, MAX_IMPACT, MAX_NAME, MAX_PROFILE_BYTES, MAX_SIGNAL,
};
use kustiq::domain::secret::Secret;
use kustiq::domain::time::Timestamp;
use kustiq::ports::store::StoreCursor;
use kustiq_tests::Engine;
use kustiq_tests::webhook::{Answer, Bench, CURSOR_KEY};
use lambda_http::request::RequestContext;
use lambda_http::{Body, RequestExt};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// The bench's clock: one second after the dispute fixture's `created`.
const NOW: Timestamp = Timestamp::from_unix(1_746_144_001);
/// Put into refused inputs; no answer may contain it.
const MARKER: &str = "zq9echo";
/// Words of our internals no message may show.
const INTERNAL_WORDS: [&str; 7] = [
    "struct",
    "ProfileBody",
    "ExternalFactor",
    "Vec<",
    "BTreeMap",
    "Option<",
    "invalid type",
];

/// A caller as the JWT authorizer passes it.
#[derive(Debug, Clone, Copy)]
struct Who<'a> {
    ws: &'a str,
    plan: &'a str,
    region: &'a str,
}

fn pro(ws: &str) -> Who<'_> {
    Who {
        ws,
        plan: "pro",
        region: "eu",
    }
}

/// A request with `who`'s claims (none: unauthenticated), query parameters and a raw body.
fn request(
    method: &str,
    path: &str,
    query: &[(&str, &str)],
    who: Option<Who<'_>>,
    body: Body,
) -> lambda_http::Request {
    let mut ctx = json!({
        "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "test"},
        "timeEpoch": 0
    });
    if let Some(w) = who {
        ctx["authorizer"] = json!({"jwt": {"claims": {"workspace_id": w.ws, "plan": w.plan, "region": w.region}, "scopes": null}});
    }
    let ctx: lambda_http::aws_lambda_events::apigw::ApiGatewayV2httpRequestContext =
        serde_json::from_value(ctx).unwrap_or_else(|e| panic!("context: {e}"));
    let mut params: HashMap<String, Vec<String>> = HashMap::new();
    for (k, v) in query {
        params
            .entry((*k).to_owned())
            .or_default()
            .push((*v).to_owned());
    }
    http::Request::builder()
        .method(method)
        .uri(path)
        .body(body)
        .unwrap_or_else(|e| panic!("{method} {path}: {e}"))
        .with_query_string_parameters(params)
        .with_request_context(RequestContext::ApiGatewayV2(ctx))
}

fn text(body: &str) -> Body {
    if body.is_empty() {
        Body::Empty
    } else {
        Body::Text(body.to_owned())
    }
}

async fn put(b: &Bench, ws: &str, id: &str, body: &str) -> Answer {
    let path = format!("/api/v1/profiles/{id}");
    b.send(request("PUT", &path, &[], Some(pro(ws)), text(body)))
        .await
}

async fn get(b: &Bench, ws: &str, path: &str) -> Answer {
    b.send(request("GET", path, &[], Some(pro(ws)), Body::Empty))
        .await
}

async fn at_risk(b: &Bench, ws: &str, query: &[(&str, &str)]) -> Answer {
    let req = request(
        "GET",
        "/api/v1/churn/at-risk",
        query,
        Some(pro(ws)),
        Body::Empty,
    );
    b.send(req).await
}

/// The profile and its explained score as the API shows them.
async fn stored(b: &Bench, ws: &str, id: &str) -> (Answer, Answer) {
    let profile = get(b, ws, &format!("/api/v1/profiles/{id}")).await;
    let churn = get(b, ws, &format!("/api/v1/profiles/{id}/churn")).await;
    (profile, churn)
}

/// Every at-risk profile of `ws` with its score, following real cursors.
async fn at_risk_all(b: &Bench, ws: &str, limit: &str) -> Vec<(String, f64)> {
    let (mut out, mut cursor) = (Vec::new(), None::<String>);
    loop {
        let mut query = vec![("limit", limit)];
        if let Some(c) = &cursor {
            query.push(("cursor", c.as_str()));
        }
        let a = at_risk(b, ws, &query).await;
        assert_eq!(a.status, 200, "at-risk page: {}", a.body);
        for item in a.body["data"].as_array().into_iter().flatten() {
            let id = item["profile_id"].as_str().unwrap_or_default().to_owned();
            out.push((id, item["score"].as_f64().unwrap_or(f64::NAN)));
        }
        match a.body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => return out,
        }
    }
}

fn code(a: &Answer) -> &str {
    a.body["error"]["code"]
        .as_str()
        .unwrap_or("<no error code>")
}

/// A refusal: `status`, the code that status stands for, and a message that
/// neither echoes `MARKER` nor names our types.
fn assert_refused(what: &str, a: &Answer, status: u16) {
    let want = match status {
        400 => "ERR_BAD_REQUEST",
        404 => "ERR_NOT_FOUND",
        405 => "ERR_METHOD_NOT_ALLOWED",
        413 => "ERR_PAYLOAD_TOO_LARGE",
        other => panic!("no code for {other}"),
    };
    assert_eq!((a.status, code(a)), (status, want), "{what}: {}", a.body);
    let message = a.body["error"]["message"].as_str().unwrap_or_default();
    assert!(!message.is_empty(), "{what}: no message");
    for word in INTERNAL_WORDS.iter().chain([&MARKER]) {
        assert!(
            !message.contains(word),
            "{what}: message shows {word:?}: {message}"
        );
    }
}

fn factor(signal: &str, impact: f64) -> Value {
    json!({"signal": signal, "impact": impact, "explanation": "", "evidence": []})
}

fn factors(prefix: &str, n: usize, impact: f64) -> Vec<Value> {
    (0..n)
        .map(|i| factor(&format!("{prefix}{i}"), impact))
        .collect()
}

fn crm(list: Vec<Value>) -> Value {
    json!({"families": {"crm": list}})
}

/// A domain of exactly `len` bytes: 63-byte labels, then the rest.
fn domain_of(len: usize) -> String {
    let mut labels = Vec::new();
    let mut left = len;
    while left > 64 {
        labels.push("d".repeat(63));
        left -= 64;
    }
    labels.push("e".repeat(left));
    labels.join(".")
}

/// One row of a limits table: a body for a profile, and the status it must get.
struct Case {
    what: String,
    id: Option<String>,
    body: String,
    want: u16,
}

fn case(what: impl Into<String>, body: Value, want: u16) -> Case {
    Case {
        what: what.into(),
        id: None,
        body: body.to_string(),
        want,
    }
}

fn raw(what: &str, body: &str, want: u16) -> Case {
    Case {
        what: what.into(),
        id: None,
        body: body.to_owned(),
        want,
    }
}

/// Every limit of `domain::limits` at its value (accepted) and just beyond (400).
fn limit_cases() -> Vec<Case> {
    let evidence = |n: usize, len: usize| {
        let ids: Vec<String> = (0..n).map(|i| format!("{i:0>len$}")).collect();
        crm(vec![
            json!({"signal": "s", "impact": 1.0, "explanation": "", "evidence": ids}),
        ])
    };
    let families = |per: usize, extra: usize| {
        let mut f = serde_json::Map::new();
        for (i, name) in ["crm", "product_usage", "support", "engagement"]
            .iter()
            .enumerate()
        {
            f.insert((*name).into(), json!(factors(&format!("f{i}_"), per, 0.5)));
        }
        f.insert("contract".into(), json!(factors("x", extra, 0.5)));
        json!({ "families": f })
    };
    let local = |len: usize| format!("{}@acme.io", "a".repeat(len - "@acme.io".len()));
    let base = json!({"name": "Acme", "families": {"crm": [factor("a", 10.0)]}}).to_string();
    let mut padded = base.clone();
    padded.push_str(&" ".repeat(MAX_PROFILE_BYTES - base.len()));
    let mut cases = vec![
        case("impact +max", crm(vec![factor("a", MAX_IMPACT)]), 200),
        case("impact -max", crm(vec![factor("a", -MAX_IMPACT)]), 200),
        case("impact -0.0", crm(vec![factor("a", -0.0)]), 200),
        case(
            "impact smallest subnormal",
            crm(vec![factor("a", 5e-324)]),
            200,
        ),
        case("impact 1e-300", crm(vec![factor("a", -1e-300)]), 200),
        case("two impacts at max", crm(factors("a", 2, MAX_IMPACT)), 200),
        case(
            "a full family at max",
            crm(factors("a", MAX_FACTORS_PER_FAMILY, MAX_IMPACT)),
            200,
        ),
        case("classifier 0", json!({"classifier_churn_risk": 0.0}), 200),
        case(
            "classifier -0.0",
            json!({"classifier_churn_risk": -0.0}),
            200,
        ),
        case(
            "classifier max",
            json!({"classifier_churn_risk": MAX_CLASSIFIER}),
            200,
        ),
        case(
            "classifier subnormal",
            json!({"classifier_churn_risk": 5e-324}),
            200,
        ),
        case("email at max", json!({"email": local(MAX_EMAIL)}), 200),
        case(
            "domain at max",
            json!({"domain": domain_of(MAX_DOMAIN)}),
            200,
        ),
        case(
            "name at max (2-byte chars)",
            json!({"name": "é".repeat(MAX_NAME)}),
            200,
        ),
        case(
            "signal at max",
            crm(vec![factor(&"s".repeat(MAX_SIGNAL), 1.0)]),
            200,
        ),
        case(
            "explanation at max (4-byte chars)",
            crm(vec![
                json!({"signal": "s", "impact": 1.0, "explanation": "😀".repeat(MAX_EXPLANATION), "evidence": []}),
            ]),
            200,
        ),
        case(
            "evidence at max",
            evidence(MAX_EVIDENCE, MAX_EVIDENCE_ID),
            200,
        ),
        case("factors at max in all", families(MAX_FACTORS / 4, 0), 200),
        case(
            "customer id at max",
            json!({"stripe_customer_id": format!("cus_{}", "c".repeat(251))}),
            200,
        ),
        raw("body at max (padded)", &padded, 200),
        case(
            "impact just over max",
            crm(vec![factor("a", MAX_IMPACT + 1e-7)]),
            400,
        ),
        case(
            "impact just under -max",
            crm(vec![factor("a", -(MAX_IMPACT + 1e-7))]),
            400,
        ),
        case("impact 1000", crm(vec![factor("a", 1000.0)]), 400),
        case("impacts 1e308 twice", crm(factors("a", 2, 1e308)), 400),
        case("impact f64::MAX", crm(vec![factor("a", f64::MAX)]), 400),
        case(
            "impact \"NaN\"",
            crm(vec![json!({"signal": "a", "impact": "NaN"})]),
            400,
        ),
        case(
            "impact \"Infinity\"",
            crm(vec![json!({"signal": "a", "impact": "Infinity"})]),
            400,
        ),
        case(
            "impact null",
            crm(vec![json!({"signal": "a", "impact": null})]),
            400,
        ),
        raw(
            "impact NaN literal",
            r#"{"families":{"crm":[{"signal":"a","impact":NaN}]}}"#,
            400,
        ),
        raw(
            "impact 1e309",
            r#"{"families":{"crm":[{"signal":"a","impact":1e309}]}}"#,
            400,
        ),
        raw(
            "impact -1e309",
            r#"{"families":{"crm":[{"signal":"a","impact":-1e309}]}}"#,
            400,
        ),
        case("classifier -1", json!({"classifier_churn_risk": -1.0}), 400),
        case(
            "classifier just below 0",
            json!({"classifier_churn_risk": -5e-324}),
            400,
        ),
        case(
            "classifier 101",
            json!({"classifier_churn_risk": 101.0}),
            400,
        ),
        case(
            "classifier just over max",
            json!({"classifier_churn_risk": MAX_CLASSIFIER + 1e-7}),
            400,
        ),
        case(
            "classifier 1e308",
            json!({"classifier_churn_risk": 1e308}),
            400,
        ),
        case(
            "email over max",
            json!({"email": local(MAX_EMAIL + 1)}),
            400,
        ),
        case(
            "domain over max",
            json!({"domain": domain_of(MAX_DOMAIN + 1)}),
            400,
        ),
        case(
            "domain label of 64",
            json!({"domain": format!("{}.io", "d".repeat(64))}),
            400,
        ),
        case(
            "name over max",
            json!({"name": "é".repeat(MAX_NAME + 1)}),
            400,
        ),
        case(
            "name with a control character",
            json!({"name": "a\u{7}b"}),
            400,
        ),
        case(
            "signal over max",
            crm(vec![factor(&"s".repeat(MAX_SIGNAL + 1), 1.0)]),
            400,
        ),
        case("signal empty", crm(vec![factor("", 1.0)]), 400),
        case("signal blank", crm(vec![factor("   ", 1.0)]), 400),
        case(
            "explanation over max",
            crm(vec![
                json!({"signal": "s", "impact": 1.0, "explanation": "😀".repeat(MAX_EXPLANATION + 1)}),
            ]),
            400,
        ),
        case("evidence over max", evidence(MAX_EVIDENCE + 1, 8), 400),
        case(
            "evidence id over max",
            evidence(1, MAX_EVIDENCE_ID + 1),
            400,
        ),
        case(
            "evidence id empty",
            crm(vec![json!({"signal": "s", "impact": 1.0, "evidence": [""]})]),
            400,
        ),
        case(
            "family over max",
            crm(factors("a", MAX_FACTORS_PER_FAMILY + 1, 1.0)),
            400,
        ),
        case("factors over max in all", families(MAX_FACTORS / 4, 1), 400),
        case(
            "billing family",
            json!({"families": {"billing": [factor("a", 1.0)]}}),
            400,
        ),
        case(
            "customer id over max",
            json!({"stripe_customer_id": format!("cus_{}", "c".repeat(252))}),
            400,
        ),
        raw("body over max (padded)", &format!("{padded} "), 413),
    ];
    cases.push(Case {
        what: "profile id at max".into(),
        id: Some("p".repeat(255)),
        body: base.clone(),
        want: 200,
    });
    cases.push(Case {
        what: "profile id over max".into(),
        id: Some("p".repeat(256)),
        body: base,
        want: 400,
    });
    cases
}

/// Every field a body sent is what `GET /api/v1/profiles/{id}` reads back.
fn assert_read_back(what: &str, sent: &str, profile: &Answer) {
    assert_eq!(
        profile.status, 200,
        "{what}: profile read back: {}",
        profile.body
    );
    let sent: Value = serde_json::from_str(sent).unwrap_or_else(|e| panic!("{what}: {e}"));
    for (field, value) in sent.as_object().into_iter().flatten() {
        assert_eq!(&profile.body[field], value, "{what}: {field} read back");
    }
}

/// The snapshot a refused write must leave unchanged.
async fn keep(b: &Bench, ws: &str) -> (Value, Value) {
    let (p, c) = stored(b, ws, "keep").await;
    assert_eq!(
        (p.status, c.status),
        (200, 200),
        "keep: {} {}",
        p.body,
        c.body
    );
    (p.body, c.body)
}

async fn limits_on(engine: Engine) {
    let b = Bench::new(engine, NOW).await;
    let ws = "ws_limits";
    let first = json!({"name": "Keep", "families": {"crm": [factor("k", 5.0)]}}).to_string();
    assert_eq!(put(&b, ws, "keep", &first).await.status, 200);
    let before = keep(&b, ws).await;
    let mut accepted = BTreeMap::new();
    for (i, c) in limit_cases().iter().enumerate() {
        let what = format!("{engine:?} {}", c.what);
        let id = c.id.clone().unwrap_or_else(|| format!("case{i}"));
        let a = put(&b, ws, &id, &c.body).await;
        let (profile, churn) = stored(&b, ws, &id).await;
        if c.want == 200 {
            assert_eq!(a.status, 200, "{what}: {}", a.body);
            assert_read_back(&what, &c.body, &profile);
            assert_eq!(churn.status, 200, "{what}: churn read back: {}", churn.body);
            assert_eq!(
                churn.body, a.body,
                "{what}: the stored score is the one answered"
            );
            let score = churn.body["score"].as_f64().unwrap_or(f64::NAN);
            assert!((0.0..=100.0).contains(&score), "{what}: score {score}");
            accepted.insert(id, (score, churn.body["at_risk"] == true));
        } else {
            assert_refused(&what, &a, c.want);
            // An id no profile can have reads back as a 400, any other as "not there".
            let absent = if c.id.is_some() { 400 } else { 404 };
            assert_refused(&format!("{what}: profile"), &profile, absent);
            assert_refused(&format!("{what}: churn"), &churn, absent);
            if c.id.is_none() {
                let again = put(&b, ws, "keep", &c.body).await;
                assert_refused(&format!("{what} over a stored profile"), &again, c.want);
            }
        }
    }
    assert_eq!(
        keep(&b, ws).await,
        before,
        "{engine:?}: refused writes changed nothing"
    );
    let listed: BTreeMap<String, f64> = at_risk_all(&b, ws, "200").await.into_iter().collect();
    let want: BTreeMap<String, f64> = accepted
        .into_iter()
        .filter(|(_, (_, risky))| *risky)
        .map(|(id, (score, _))| (id, score))
        .collect();
    assert!(!want.is_empty(), "some accepted extreme is at risk");
    assert_eq!(
        listed, want,
        "{engine:?}: the at-risk segment reads every accepted extreme"
    );
}

#[tokio::test]
async fn impacts_and_classifier_at_and_beyond_their_limits() {
    limits_on(Engine::DynamoDbLocal).await;
    limits_on(Engine::Dynoxide).await;
}

/// The largest profile the limits allow: 200 factors whose explanations fill the body.
fn largest_profile() -> String {
    let body = |len: usize| {
        let list = |f: usize| -> Vec<Value> {
            (0..MAX_FACTORS / 4)
                .map(|i| json!({"signal": format!("f{f}_{i}"), "impact": -0.5, "explanation": "x".repeat(len), "evidence": [format!("ev_{i}")]}))
                .collect()
        };
        json!({"email": "big@acme.io", "families": {"crm": list(0), "support": list(1), "engagement": list(2), "contract": list(3)}}).to_string()
    };
    let len = (0..=MAX_EXPLANATION)
        .rev()
        .find(|n| body(*n).len() <= MAX_PROFILE_BYTES)
        .unwrap_or(0);
    body(len)
}

async fn oversized_on(engine: Engine) {
    let b = Bench::new(engine, NOW).await;
    let ws = "ws_big";
    let first = json!({"name": "Keep", "families": {"crm": [factor("k", 5.0)]}}).to_string();
    assert_eq!(put(&b, ws, "keep", &first).await.status, 200);
    let before = keep(&b, ws).await;
    let big = largest_profile();
    assert!(
        big.len() > MAX_PROFILE_BYTES - 400,
        "the largest profile fills the body"
    );
    let a = put(&b, ws, "largest", &big).await;
    assert_eq!(
        a.status, 200,
        "{engine:?}: the largest allowed profile: {}",
        a.body
    );
    let (profile, churn) = stored(&b, ws, "largest").await;
    assert_read_back("largest", &big, &profile);
    assert_eq!(
        churn.body, a.body,
        "{engine:?}: the largest profile's score reads back"
    );
    let evidence = |n: usize, len: usize| {
        let ids: Vec<String> = (0..n).map(|i| format!("{i:0>len$}")).collect();
        crm(vec![json!({"signal": "s", "impact": 1.0, "evidence": ids})])
    };
    let table = [
        case(
            "460 KB email",
            json!({"email": format!("{}@acme.io", "a".repeat(460_000))}),
            413,
        ),
        case("3,000 factors", crm(factors("sig", 3_000, 1.0)), 413),
        case(
            "a body over 64 KiB",
            json!({"name": "x".repeat(MAX_PROFILE_BYTES)}),
            413,
        ),
        case("50 KB name", json!({"name": "x".repeat(50_000)}), 400),
        case(
            "50 KB signal",
            crm(vec![factor(&"s".repeat(50_000), 1.0)]),
            400,
        ),
        case(
            "60 KB explanation",
            crm(vec![
                json!({"signal": "s", "impact": 1.0, "explanation": "x".repeat(60_000)}),
            ]),
            400,
        ),
        case("10 evidence ids of 6 KB", evidence(10, 6_000), 400),
        case("2,000 evidence ids", evidence(2_000, 4), 400),
        case(
            "51 factors in one family",
            crm(factors("a", MAX_FACTORS_PER_FAMILY + 1, 1.0)),
            400,
        ),
        case(
            "201 factors in all",
            json!({"families": {
                "crm": factors("a", 50, 1.0), "support": factors("b", 50, 1.0), "engagement": factors("c", 50, 1.0),
                "contract": factors("d", 50, 1.0), "product_usage": factors("e", 1, 1.0),
            }}),
            400,
        ),
        case(
            "300-byte email",
            json!({"email": format!("{}@acme.io", "a".repeat(292))}),
            400,
        ),
    ];
    for c in &table {
        let what = format!("{engine:?} {}", c.what);
        let a = put(&b, ws, "fresh", &c.body).await;
        assert_refused(&what, &a, c.want);
        let (profile, churn) = stored(&b, ws, "fresh").await;
        assert_refused(&format!("{what}: profile"), &profile, 404);
        assert_refused(&format!("{what}: churn"), &churn, 404);
        assert_refused(
            &format!("{what} over a stored profile"),
            &put(&b, ws, "keep", &c.body).await,
            c.want,
        );
        assert_eq!(
            keep(&b, ws).await,
            before,
            "{what}: the stored profile and score are unchanged"
        );
    }
}

#[tokio::test]
async fn oversized_fields_and_lists_are_refused_before_anything_is_written() {
    oversized_on(Engine::DynamoDbLocal).await;
    oversized_on(Engine::Dynoxide).await;
}

#[tokio::test]
async fn forged_altered_or_foreign_cursors_are_a_400() {
    let b = Bench::new(Engine::DynamoDbLocal, NOW).await;
    for (ws, n) in [("ws_a", 7), ("ws_b", 3)] {
        for i in 0..n {
            let body = json!({"classifier_churn_risk": 50.0, "families": {"crm": [factor("c", -f64::from(i))]}});
            assert_eq!(
                put(&b, ws, &format!("p{i}"), &body.to_string())
                    .await
                    .status,
                200
            );
        }
    }
    let all = at_risk_all(&b, "ws_a", "200").await;
    assert_eq!(all.len(), 7);
    assert_eq!(
        at_risk_all(&b, "ws_a", "2").await,
        all,
        "pages of 2 read every profile once"
    );
    let first = at_risk(&b, "ws_a", &[("limit", "2")]).await;
    let real = first.body["next_cursor"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let second = at_risk(&b, "ws_a", &[("limit", "2"), ("cursor", &real)]).await;
    assert_eq!(second.status, 200);
    let b_page = at_risk(&b, "ws_b", &[("limit", "1")]).await;
    let foreign = b_page.body["next_cursor"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        !real.is_empty() && !foreign.is_empty(),
        "both workspaces have a second page"
    );
    let key = Secret::new(CURSOR_KEY);
    let ws = |w: &str| WorkspaceId::parse(w).unwrap_or_else(|e| panic!("{e}"));
    let inner = cursor::open(&key, &ws("ws_a"), "at-risk:score", &real)
        .unwrap_or_else(|e| panic!("the real cursor opens: {e}"));
    let b_inner = cursor::open(&key, &ws("ws_b"), "at-risk:score", &foreign)
        .unwrap_or_else(|e| panic!("the foreign cursor opens: {e}"));
    let body_part = real.split('.').next().unwrap_or_default().to_owned();
    let mut table: Vec<(String, String)> = vec![
        ("another workspace's real cursor".into(), foreign.clone()),
        (
            "sealed for another query".into(),
            cursor::seal(&key, &ws("ws_a"), "at-risk:rising", &inner),
        ),
        (
            "sealed with another key".into(),
            cursor::seal(
                &Secret::new("other-key"),
                &ws("ws_a"),
                "at-risk:score",
                &inner,
            ),
        ),
        (
            "sealed for this workspace, pointing into another's".into(),
            cursor::seal(&key, &ws("ws_a"), "at-risk:score", &b_inner),
        ),
        (
            "sealed junk".into(),
            cursor::seal(
                &key,
                &ws("ws_a"),
                "at-risk:score",
                &StoreCursor::new("%%%".into()),
            ),
        ),
        ("the unsealed store cursor".into(), body_part.clone()),
        ("tag cut off".into(), format!("{body_part}.")),
        ("truncated".into(), real[..real.len() - 1].to_owned()),
        ("one more character".into(), format!("{real}A")),
        ("empty".into(), String::new()),
        ("junk".into(), "abc".into()),
        ("dot".into(), ".".into()),
        ("three parts".into(), format!("{real}.{body_part}")),
        ("percent junk".into(), "%%%.%%%".into()),
        ("long junk".into(), "A".repeat(8_192)),
        ("with the marker".into(), format!("{MARKER}.{MARKER}")),
    ];
    for (i, ch) in real.char_indices() {
        let flipped = if ch == 'A' { 'B' } else { 'A' };
        let mut forged = real.clone();
        forged.replace_range(i..i + ch.len_utf8(), &flipped.to_string());
        table.push((format!("byte {i} altered"), forged));
    }
    for (what, c) in &table {
        let a = at_risk(&b, "ws_a", &[("limit", "2"), ("cursor", c)]).await;
        assert_refused(what, &a, 400);
    }
    let reused = at_risk(&b, "ws_b", &[("limit", "2"), ("cursor", &real)]).await;
    assert_refused("ws_a's cursor in ws_b", &reused, 400);
    for bad in ["0", "201", "-1", "abc", "", "1e2", "65536", "2.5"] {
        assert_refused(
            &format!("limit {bad:?}"),
            &at_risk(&b, "ws_a", &[("limit", bad)]).await,
            400,
        );
    }
    for good in ["1", "200"] {
        assert_eq!(
            at_risk(&b, "ws_a", &[("limit", good)]).await.status,
            200,
            "limit {good}"
        );
    }
    let again = at_risk(&b, "ws_a", &[("limit", "2"), ("cursor", &real)]).await;
    assert_eq!(
        again.body, second.body,
        "the real cursor still reads the second page"
    );
}

async fn race_on(engine: Engine) {
    let b = Bench::new(engine, NOW).await;
    let n = 200;
    let bodies: Vec<String> = (0..n)
        .map(|i| json!({"name": format!("w{i}"), "families": {"crm": [factor(&format!("s{i}"), f64::from(i) / 10.0)]}}).to_string())
        .collect();
    let answers = join_all(bodies.iter().map(|body| put(&b, "ws_race", "p", body))).await;
    let mut applied = BTreeSet::new();
    for (i, a) in answers.iter().enumerate() {
        match a.status {
            200 => {
                let own = &a.body["families"]["crm"]["factors"][0]["signal"];
                assert_eq!(
                    own,
                    &json!(format!("s{i}")),
                    "{engine:?}: request {i} is answered with its own score"
                );
                applied.insert(i);
            }
            409 => assert_eq!(code(a), "ERR_CONFLICT", "{engine:?}: request {i}"),
            other => panic!("{engine:?}: request {i} answered {other}: {}", a.body),
        }
    }
    assert!(!applied.is_empty(), "{engine:?}: some write lands");
    let (profile, churn) = stored(&b, "ws_race", "p").await;
    let name = profile.body["name"].as_str().unwrap_or_default();
    let writer: usize = name.trim_start_matches('w').parse().unwrap_or(usize::MAX);
    let signal = &churn.body["families"]["crm"]["factors"][0]["signal"];
    assert_eq!(
        signal,
        &json!(format!("s{writer}")),
        "{engine:?}: profile {name} and its score come from one request"
    );
    assert!(
        applied.contains(&writer),
        "{engine:?}: the stored write {name} was answered 200"
    );
}

#[tokio::test]
async fn concurrent_puts_to_one_profile_leave_profile_and_score_from_one_request() {
    race_on(Engine::DynamoDbLocal).await;
    race_on(Engine::Dynoxide).await;
}

/// What a route asks of its caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Access {
    /// A Stripe signature, no workspace token: plans do not apply.
    Signed,
    /// Any plan (the integration status shows `ERR_PLAN_REQUIRED` in its body).
    AnyPlan,
    /// Pro only: every churn-engine and integration route.
    Pro,
}

/// Every route, what it asks, and what a Pro caller gets on the bench
/// (after the PUT stored `p1`). A route missing here fails the test.
const GATES: [(&str, &str, Access, u16); 7] = [
    ("POST", "/webhooks/stripe", Access::Signed, 400),
    ("GET", "/api/v1/integrations/stripe", Access::AnyPlan, 200),
    (
        "POST",
        "/api/v1/integrations/stripe/failed-events/{event_id}/replay",
        Access::Pro,
        404,
    ),
    ("PUT", "/api/v1/profiles/{profile_id}", Access::Pro, 200),
    ("GET", "/api/v1/profiles/{profile_id}", Access::Pro, 200),
    (
        "GET",
        "/api/v1/profiles/{profile_id}/churn",
        Access::Pro,
        200,
    ),
    ("GET", "/api/v1/churn/at-risk", Access::Pro, 200),
];

/// The Plans table of docs/errors.md: route → (free, insight, pro) cells.
fn documented_plans() -> BTreeMap<String, Vec<String>> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/errors.md");
    let doc = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("docs/errors.md: {e}"));
    let mut rows = BTreeMap::new();
    for line in doc.lines() {
        let cells: Vec<String> = line.split('|').map(|c| c.trim().to_owned()).collect();
        let Some(route) = cells.get(1).map(|c| c.trim_matches('`')) else {
            continue;
        };
        let is_route = route
            .split_once(" /")
            .is_some_and(|(m, _)| !m.is_empty() && m.bytes().all(|b| b.is_ascii_uppercase()));
        if is_route && cells.len() >= 5 {
            rows.insert(route.to_owned(), cells[2..5].to_vec());
        }
    }
    rows
}

#[tokio::test]
async fn every_route_by_every_plan() {
    let b = Bench::new(Engine::DynamoDbLocal, NOW).await;
    let mounted: BTreeSet<(&str, &str)> = b.router.routes().into_iter().collect();
    let gated: BTreeSet<(&str, &str)> = GATES.iter().map(|(m, t, ..)| (*m, *t)).collect();
    assert_eq!(
        mounted, gated,
        "every mounted route has a row in GATES, and only those"
    );
    let docs = documented_plans();
    let body = json!({"name": "Gate", "families": {"crm": [factor("g", 1.0)]}}).to_string();
    for (method, template, access, pro_status) in GATES {
        let path = template
            .replace("{profile_id}", "p1")
            .replace("{event_id}", "evt_1");
        let route = format!("{method} {template}");
        let payload = if method == "PUT" { body.as_str() } else { "" };
        let none = b
            .send(request(method, &path, &[], None, text(payload)))
            .await;
        let want = match access {
            Access::Signed => (400, "ERR_WEBHOOK_SIG"),
            _ => (401, "ERR_UNAUTHENTICATED"),
        };
        assert_eq!((none.status, code(&none)), want, "{route} without a token");
        for plan in ["free", "insight", "pro"] {
            let ws = format!("ws_{plan}");
            for region in ["eu", "us"] {
                let who = Who {
                    ws: &ws,
                    plan,
                    region,
                };
                let a = b
                    .send(request(method, &path, &[], Some(who), text(payload)))
                    .await;
                let what = format!("{route} as {plan} in {region}");
                let refused = match (access, region, plan) {
                    (Access::Signed, ..) => Some((400, "ERR_WEBHOOK_SIG")),
                    (_, "us", _) => Some((421, "ERR_REGION_MISMATCH")),
                    (Access::Pro, _, "free" | "insight") => Some((403, "ERR_PLAN_REQUIRED")),
                    _ => None,
                };
                match refused {
                    Some(w) => assert_eq!((a.status, code(&a)), w, "{what}: {}", a.body),
                    None => {
                        assert_eq!(
                            a.status,
                            if plan == "pro" { pro_status } else { 200 },
                            "{what}: {}",
                            a.body
                        );
                        // Only the status route may *show* the code, in its body.
                        if plan == "pro" || access != Access::AnyPlan {
                            assert_ne!(code(&a), "ERR_PLAN_REQUIRED", "{what}");
                        }
                    }
                }
                if access == Access::AnyPlan && region == "eu" {
                    let shown = a.body["error"]["code"].as_str();
                    let want = (plan != "pro").then_some("ERR_PLAN_REQUIRED");
                    assert_eq!(
                        shown, want,
                        "{what}: the status route tells why the card is locked"
                    );
                }
            }
        }
        let cells = docs
            .get(&route)
            .unwrap_or_else(|| panic!("docs/errors.md has no Plans row for {route}"));
        let want: [&str; 3] = match access {
            Access::Signed => ["no token", "no token", "no token"],
            Access::AnyPlan => ["yes", "yes", "yes"],
            Access::Pro => ["403", "403", "yes"],
        };
        for (cell, w) in cells.iter().zip(want) {
            assert!(
                cell.starts_with(w),
                "docs/errors.md Plans row {route}: {cells:?}"
            );
        }
    }
    assert_eq!(
        docs.len(),
        GATES.len(),
        "docs/errors.md lists no route that is not served"
    );
    for plan in ["free", "insight"] {
        let ws = format!("ws_{plan}");
        let (profile, churn) = stored(&b, &ws, "p1").await;
        assert_eq!(
            (profile.status, churn.status),
            (404, 404),
            "{plan}: the refused PUT stored nothing"
        );
    }
}

#[tokio::test]
async fn sloppy_bodies_and_paths_are_clear_400s_or_404s_without_echo() {
    let b = Bench::new(Engine::DynamoDbLocal, NOW).await;
    let ws = "ws_sloppy";
    let first = json!({"name": "Keep", "families": {"crm": [factor("k", 5.0)]}}).to_string();
    assert_eq!(put(&b, ws, "keep", &first).await.status, 200);
    let before = keep(&b, ws).await;
    let m = MARKER;
    let bodies: Vec<(&str, Body)> = vec![
        (
            "an array read by position",
            text(&format!(r#"["{m}@example.com","{m}.example","{m}"]"#)),
        ),
        ("an empty array", text("[]")),
        ("null", text("null")),
        ("a number", text("42")),
        ("a string", text(&format!("\"{m}\""))),
        ("true", text("true")),
        (
            "an unknown field",
            text(&format!(r#"{{"name":"a","{m}":1}}"#)),
        ),
        (
            "a field of the wrong type",
            text(&format!(r#"{{"name":["{m}"]}}"#)),
        ),
        (
            "families not a map",
            text(&format!(r#"{{"families":"{m}"}}"#)),
        ),
        (
            "a family not a list",
            text(&format!(r#"{{"families":{{"crm":{{"{m}":1}}}}}}"#)),
        ),
        (
            "a factor without impact",
            text(r#"{"families":{"crm":[{"signal":"a"}]}}"#),
        ),
        (
            "a factor with an unknown field",
            text(&format!(
                r#"{{"families":{{"crm":[{{"signal":"a","impact":1,"{m}":2}}]}}}}"#
            )),
        ),
        (
            "an unknown family",
            text(&format!(r#"{{"families":{{"{m}":[]}}}}"#)),
        ),
        (
            "a customer id without its prefix",
            text(&format!(r#"{{"stripe_customer_id":"{m}"}}"#)),
        ),
        ("not an email", text(&format!(r#"{{"email":"{m}"}}"#))),
        ("not a domain", text(&format!(r#"{{"domain":"{m} x"}}"#))),
        ("truncated JSON", text(&format!(r#"{{"name":"{m}""#))),
        ("trailing garbage", text(&format!(r#"{{"name":"a"}} {m}"#))),
        ("no body", Body::Empty),
        ("whitespace only", text("   ")),
        ("a byte-order mark", text("\u{feff}{}")),
        ("single quotes", text(&format!("{{'name':'{m}'}}"))),
        ("a comment", text(&format!("{{/* {m} */}}"))),
        ("not UTF-8", Body::Binary(vec![b'{', 0xff, 0xfe, b'}'])),
    ];
    for (what, body) in bodies {
        for id in ["fresh", "keep"] {
            let path = format!("/api/v1/profiles/{id}");
            let a = b
                .send(request("PUT", &path, &[], Some(pro(ws)), body.clone()))
                .await;
            assert_refused(&format!("{what} to {id}"), &a, 400);
        }
        let (profile, _) = stored(&b, ws, "fresh").await;
        assert_refused(&format!("{what}: nothing stored"), &profile, 404);
        assert_eq!(
            keep(&b, ws).await,
            before,
            "{what}: the stored profile is unchanged"
        );
    }
    let risky = json!({"classifier_churn_risk": 100.0}).to_string();
    let long = format!("/api/v1/profiles/{}", "p".repeat(256));
    let paths: Vec<(&str, String, u16)> = vec![
        ("PUT", "/api/v1/profiles/.".into(), 404),
        ("PUT", "/api/v1/profiles/..".into(), 404),
        ("GET", "/api/v1/profiles/..".into(), 404),
        ("PUT", "/api/v1/profiles/...".into(), 400),
        ("PUT", "/api/v1/profiles/%2e%2e".into(), 400),
        ("PUT", format!("/api/v1/profiles/{m}%2E"), 400),
        ("PUT", format!("/api/v1/profiles/{m}%00"), 400),
        ("PUT", "/api/v1/profiles/%C3%A9".into(), 400),
        ("PUT", long.clone(), 400),
        ("GET", long, 400),
        ("PUT", "/api//v1///profiles//p1".into(), 404),
        ("GET", "/api//v1///profiles//keep".into(), 404),
        ("GET", "//api/v1/profiles/keep".into(), 404),
        ("GET", "/api/v1/profiles/keep/".into(), 404),
        ("GET", "/api/v1/./profiles/keep".into(), 404),
        ("GET", "/api/v1/profiles/keep/.".into(), 404),
        ("GET", "/api/v1/profiles/x/../keep".into(), 404),
        ("GET", "/API/V1/PROFILES/keep".into(), 404),
        ("GET", "/api/v1/profiles/keep/churn/extra".into(), 404),
        ("GET", format!("/api/v1/{m}"), 404),
        ("PUT", "/api/v1/profiles/keep/churn".into(), 405),
        ("DELETE", "/api/v1/profiles/keep".into(), 405),
        ("PATCH", "/api/v1/profiles/keep".into(), 405),
        ("POST", "/api/v1/churn/at-risk".into(), 405),
        ("PUT", "/api/v1/integrations/stripe".into(), 405),
        ("GET", "/webhooks/stripe".into(), 405),
    ];
    for (method, path, want) in &paths {
        let a = b
            .send(request(method, path, &[], Some(pro(ws)), text(&risky)))
            .await;
        assert_refused(&format!("{method} {path}"), &a, *want);
    }
    assert_eq!(
        keep(&b, ws).await,
        before,
        "no sloppy path reached the stored profile"
    );
    assert_eq!(
        at_risk_all(&b, ws, "200").await,
        vec![],
        "no sloppy path stored a profile"
    );
}

/// Log lines as the subscriber writes them.
#[derive(Clone, Default)]
struct Lines(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Lines {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let mut out = self.0.lock().unwrap_or_else(|e| e.into_inner());
        out.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Lines {
    fn parsed(&self) -> Vec<Value> {
        let bytes = self.0.lock().unwrap_or_else(|e| e.into_inner()).clone();
        String::from_utf8_lossy(&bytes)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("log line {l}: {e}")))
            .collect()
    }
}

/// `n` disputes of charges the store has never seen: each is deferred, which
/// logs a warning naming its own event from inside the delivery.
fn disputes(account: &str, n: usize) -> Vec<(String, String)> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/tests/fixtures/stripe/dispute_created.json"
    );
    let fixture = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let template: Value = serde_json::from_str(&fixture).unwrap_or_else(|e| panic!("{e}"));
    (0..n)
        .map(|i| {
            let mut e = template.clone();
            let id = format!("evt_hardening{i:03}");
            e["id"] = json!(id);
            e["account"] = json!(account);
            e["data"]["object"]["id"] = json!(format!("dp_hardening{i:03}"));
            e["data"]["object"]["charge"] = json!(format!("ch_hardening{i:03}"));
            (id, e.to_string())
        })
        .collect()
}

#[tokio::test]
async fn concurrent_webhook_deliveries_log_under_their_own_event() {
    use tracing_subscriber::util::SubscriberInitExt;
    let lines = Lines::default();
    let sink = lines.clone();
    let _guard = tracing_subscriber::fmt()
        .json()
        .with_current_span(true)
        .with_span_list(true)
        .with_env_filter(tracing_subscriber::EnvFilter::new("debug"))
        .with_writer(move || sink.clone())
        .finish()
        .set_default();
    let b = Bench::new(Engine::DynamoDbLocal, NOW).await;
    let account = "acct_1HardeningLogs0";
    b.connect("ws_logs", account, kustiq::domain::connection::Mode::Test)
        .await;
    let events = disputes(account, 50);
    let answers = join_all(events.iter().map(|(_, body)| b.post_signed(body))).await;
    for ((id, _), a) in events.iter().zip(&answers) {
        assert_eq!(
            (a.status, a.body["outcome"].as_str()),
            (200, Some("deferred")),
            "{id}: {}",
            a.body
        );
    }
    let webhook_spans = |line: &Value| -> Vec<String> {
        line["spans"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|s| s["name"] == "webhook")
            .map(|s| s["event_id"].as_str().unwrap_or_default().to_owned())
            .collect()
    };
    let parsed = lines.parsed();
    let mut in_span = 0;
    let mut named = BTreeMap::new();
    for line in &parsed {
        let spans = webhook_spans(line);
        if spans.is_empty() {
            continue;
        }
        in_span += 1;
        assert_eq!(
            spans.len(),
            1,
            "one delivery's line inside another's span: {line}"
        );
        if let Some(own) = line["fields"]["event_id"].as_str() {
            assert_eq!(
                own, spans[0],
                "a line names another delivery's event: {line}"
            );
            *named.entry(own.to_owned()).or_insert(0) += 1;
        }
    }
    let posted: BTreeMap<String, i32> = events.iter().map(|(id, _)| (id.clone(), 1)).collect();
    assert_eq!(
        named, posted,
        "each delivery logs its deferral once, under its own span"
    );
    assert!(
        in_span >= events.len(),
        "lines inside delivery spans: {in_span}"
    );
}
