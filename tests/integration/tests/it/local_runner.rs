//! `kustiq-local serve` semantics: the same handlers behind its own bearer
//! tokens, on the embedded default, never a panic on bad input.

use kustiq_local::runner::start;
use kustiq_local::server::{Local, serve};
use kustiq_local::token::Claims;
use serde_json::{Value, json};

struct Running {
    base: String,
    token: String,
    http: reqwest::Client,
    _dir: tempfile::TempDir,
}

async fn running() -> Running {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let stack = start(dir.path(), kustiq::domain::region::Region::Eu)
        .await
        .unwrap_or_else(|e| panic!("start: {e}"));
    let token = stack.tokens.issue(&Claims {
        workspace_id: "ws_local".into(),
        plan: "pro".into(),
        region: "eu".into(),
        iat: chrono::Utc::now().timestamp(),
        exp: chrono::Utc::now().timestamp() + 3600,
    });
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let base = format!(
        "http://{}",
        listener.local_addr().unwrap_or_else(|e| panic!("{e}"))
    );
    let local = Local {
        router: stack.router.clone(),
        tokens: stack.tokens.clone(),
    };
    tokio::spawn(async move {
        let _engine = stack.engine;
        let _ = serve(listener, local).await;
    });
    Running {
        base,
        token,
        http: kustiq_tests::http(),
        _dir: dir,
    }
}

async fn call(
    r: &Running,
    method: reqwest::Method,
    path: &str,
    token: Option<&str>,
    body: Option<&str>,
) -> (u16, Value) {
    let mut req = r.http.request(method, format!("{}{path}", r.base));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(b) = body {
        req = req
            .header("content-type", "application/json")
            .body(b.to_owned());
    }
    let resp = req.send().await.unwrap_or_else(|e| panic!("{e}"));
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn routes_need_a_valid_token_and_answer_json_errors() {
    let r = running().await;
    let (status, body) = call(
        &r,
        reqwest::Method::GET,
        "/api/v1/integrations/stripe",
        None,
        None,
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (401, Some("ERR_UNAUTHENTICATED"))
    );
    let (status, _) = call(
        &r,
        reqwest::Method::GET,
        "/api/v1/integrations/stripe",
        Some("forged.token"),
        None,
    )
    .await;
    assert_eq!(status, 401);
    let (status, body) = call(
        &r,
        reqwest::Method::GET,
        "/api/v1/integrations/stripe",
        Some(&r.token),
        None,
    )
    .await;
    assert_eq!(status, 200, "{body:?}");
    assert_eq!(
        (body["connected"].as_bool(), body["region"].as_str()),
        (Some(false), Some("eu"))
    );
    let (status, body) = call(
        &r,
        reqwest::Method::GET,
        "/api/v1/nowhere",
        Some(&r.token),
        None,
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("ERR_NOT_FOUND"))
    );
}

#[tokio::test]
async fn malformed_input_is_a_400_and_changes_nothing() {
    let r = running().await;
    let (status, body) = call(
        &r,
        reqwest::Method::PUT,
        "/api/v1/profiles/p1",
        Some(&r.token),
        Some("{not json"),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("ERR_BAD_REQUEST"))
    );
    let bad_family =
        json!({"email": "a@b.com", "families": {"billing": [{"signal": "x", "impact": 5}]}})
            .to_string();
    let (status, _) = call(
        &r,
        reqwest::Method::PUT,
        "/api/v1/profiles/p1",
        Some(&r.token),
        Some(&bad_family),
    )
    .await;
    assert_eq!(status, 400, "billing is never supplied from outside");
    let (status, _) = call(
        &r,
        reqwest::Method::PUT,
        "/api/v1/profiles/bad%23id",
        Some(&r.token),
        Some("{}"),
    )
    .await;
    assert_eq!(status, 400);
    let (status, _) = call(
        &r,
        reqwest::Method::GET,
        "/api/v1/profiles/p1",
        Some(&r.token),
        None,
    )
    .await;
    assert_eq!(status, 404, "nothing was stored by the rejected requests");
    let (status, _) = call(
        &r,
        reqwest::Method::GET,
        "/api/v1/churn/at-risk?limit=0",
        Some(&r.token),
        None,
    )
    .await;
    assert_eq!(status, 400);
    let (status, _) = call(
        &r,
        reqwest::Method::GET,
        "/api/v1/churn/at-risk?cursor=%25%25",
        Some(&r.token),
        None,
    )
    .await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn a_profile_put_is_scored_and_listed_at_risk_by_score() {
    let r = running().await;
    for (id, crm, risk) in [
        ("p_low", -5.0, 0.0),
        ("p_high", 25.0, 30.0),
        ("p_mid", 15.0, 20.0),
    ] {
        let body = json!({"email": format!("{id}@acme.io"), "domain": "acme.io", "families": {"crm": [{"signal": "champion_left", "impact": crm, "explanation": "the champion left"}]}, "classifier_churn_risk": risk}).to_string();
        let (status, resp) = call(
            &r,
            reqwest::Method::PUT,
            &format!("/api/v1/profiles/{id}"),
            Some(&r.token),
            Some(&body),
        )
        .await;
        assert_eq!(status, 200, "{resp:?}");
    }
    let (status, churn) = call(
        &r,
        reqwest::Method::GET,
        "/api/v1/profiles/p_high/churn",
        Some(&r.token),
        None,
    )
    .await;
    assert_eq!(status, 200);
    // One behavioural family (crm) → classifier weight 0.7.
    assert_eq!(churn["classifier"]["weight"], 0.7);
    assert!(churn["families"]["crm"]["factors"][0]["explanation"].is_string());
    let (status, list) = call(
        &r,
        reqwest::Method::GET,
        "/api/v1/churn/at-risk?limit=10",
        Some(&r.token),
        None,
    )
    .await;
    assert_eq!(status, 200);
    let ids: Vec<&str> = list["data"]
        .as_array()
        .map(|d| d.iter().filter_map(|x| x["profile_id"].as_str()).collect())
        .unwrap_or_default();
    let scores: Vec<f64> = list["data"]
        .as_array()
        .map(|d| d.iter().filter_map(|x| x["score"].as_f64()).collect())
        .unwrap_or_default();
    assert!(
        scores.windows(2).all(|w| w[0] >= w[1]),
        "highest first: {scores:?}"
    );
    assert!(scores.iter().all(|s| *s >= 70.0));
    assert!(
        ids.contains(&"p_high") && !ids.contains(&"p_low"),
        "{list:?}"
    );
}

#[tokio::test]
async fn another_regions_workspace_and_a_non_pro_plan_are_refused() {
    let r = running().await;
    let key = kustiq_local::token::TokenKey::load_or_create(r._dir.path())
        .unwrap_or_else(|e| panic!("{e}"));
    let token = |plan: &str, region: &str| {
        key.issue(&Claims {
            workspace_id: "ws_other".into(),
            plan: plan.into(),
            region: region.into(),
            iat: chrono::Utc::now().timestamp(),
            exp: chrono::Utc::now().timestamp() + 3600,
        })
    };
    let us = token("pro", "us");
    let (status, body) = call(
        &r,
        reqwest::Method::GET,
        "/api/v1/integrations/stripe",
        Some(&us),
        None,
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (421, Some("ERR_REGION_MISMATCH"))
    );
    let free = token("free", "eu");
    let (status, body) = call(
        &r,
        reqwest::Method::GET,
        "/api/v1/integrations/stripe",
        Some(&free),
        None,
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (200, Some("ERR_PLAN_REQUIRED")),
        "status shows why"
    );
    let (status, body) = call(
        &r,
        reqwest::Method::POST,
        "/api/v1/integrations/stripe/failed-events/evt_1/replay",
        Some(&free),
        None,
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("ERR_PLAN_REQUIRED"))
    );
    let bad_region = token("pro", "mars");
    let (status, _) = call(
        &r,
        reqwest::Method::GET,
        "/api/v1/integrations/stripe",
        Some(&bad_region),
        None,
    )
    .await;
    assert_eq!(status, 400, "a malformed claim is a 400");
}
