//! Every route × every plan and region, and sloppy bodies and paths.

use super::*;
use kustiq_tests::Engine;
use std::collections::{BTreeMap, BTreeSet};

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
const GATES: &[(&str, &str, Access, u16)] = &[
    ("POST", "/webhooks/stripe", Access::Signed, 400),
    (
        "POST",
        "/webhooks/stripe/c/{connection_id}",
        Access::Signed,
        400,
    ),
    ("GET", "/api/v1/integrations/stripe", Access::AnyPlan, 200),
    (
        "POST",
        "/api/v1/integrations/stripe/failed-events/{event_id}/replay",
        Access::Pro,
        404,
    ),
    ("PUT", "/api/v1/profiles/{profile_id}", Access::Pro, 200),
    ("GET", "/api/v1/profiles/{profile_id}", Access::Pro, 200),
    // No body: a clear 400 once the plan lets the caller in.
    ("POST", "/api/v1/profiles:batch", Access::Pro, 400),
    (
        "GET",
        "/api/v1/profiles/{profile_id}/churn",
        Access::Pro,
        200,
    ),
    ("GET", "/api/v1/churn/at-risk", Access::Pro, 200),
    // No connection on the bench: nothing to sync or backfill.
    ("POST", "/api/v1/integrations/stripe/sync", Access::Pro, 404),
    (
        "POST",
        "/api/v1/integrations/stripe/backfill",
        Access::Pro,
        404,
    ),
    (
        "GET",
        "/api/v1/integrations/stripe/matches",
        Access::Pro,
        200,
    ),
    // The empty body is not a mapping.
    (
        "PATCH",
        "/api/v1/integrations/stripe/customer-mapping/{profile_id}",
        Access::Pro,
        400,
    ),
    (
        "POST",
        "/api/v1/integrations/stripe/rematch",
        Access::Pro,
        200,
    ),
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
    for &(method, template, access, pro_status) in GATES {
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
