//! Issue 9 (hardening), one table per class: numbers at and beyond their
//! limits, oversized fields and lists, forged cursors, concurrency on one
//! item, sloppy bodies and paths, every route × every plan, and webhook logs
//! under concurrent deliveries. Each goes through the real router on a real
//! table; no answer in any table may be a 5xx.

mod cursors;
mod limits;
mod logs;
mod race;
mod routes;

use kustiq::domain::time::Timestamp;
use kustiq_tests::webhook::{Answer, Bench};
use lambda_http::request::RequestContext;
use lambda_http::{Body, RequestExt};
use serde_json::{Value, json};
use std::collections::HashMap;

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
