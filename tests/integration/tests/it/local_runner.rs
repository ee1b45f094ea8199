//! `kustiq-local serve` semantics: the same handlers behind its own bearer
//! tokens, on the embedded default, never a panic on bad input.

use kustiq_local::server::Limits;
use kustiq_local::token::Claims;
use kustiq_tests::local::{LocalServer, claims, now};
use reqwest::Method;
use serde_json::json;

async fn running() -> LocalServer {
    LocalServer::start("ws_local", Limits::default()).await
}

const STATUS: &str = "/api/v1/integrations/stripe";

#[tokio::test]
async fn routes_need_a_valid_token_and_answer_json_errors() {
    let r = running().await;

    r.call(Method::GET, STATUS, None, None)
        .await
        .assert_refused(401, "ERR_UNAUTHENTICATED");
    let forged = r
        .call(Method::GET, STATUS, Some("forged.token"), None)
        .await;
    assert_eq!(forged.status, 401);
    let a = r.get(STATUS).await;
    assert_eq!(a.status, 200, "{:?}", a.body);
    assert_eq!(
        (a.body["connected"].as_bool(), a.body["region"].as_str()),
        (Some(false), Some("eu"))
    );
    r.get("/api/v1/nowhere")
        .await
        .assert_refused(404, "ERR_NOT_FOUND");
}

#[tokio::test]
async fn malformed_input_is_a_400_and_changes_nothing() {
    let r = running().await;
    let before = r.snapshot().await;

    r.put("/api/v1/profiles/p1", "{not json")
        .await
        .assert_refused(400, "ERR_BAD_REQUEST");
    let bad_family =
        json!({"email": "a@b.com", "families": {"billing": [{"signal": "x", "impact": 5}]}})
            .to_string();
    assert_eq!(
        r.put("/api/v1/profiles/p1", &bad_family).await.status,
        400,
        "billing is never supplied from outside"
    );
    assert_eq!(r.put("/api/v1/profiles/bad%23id", "{}").await.status, 400);

    r.assert_nothing_stored(&before, "the rejected requests")
        .await;
    assert_eq!(
        r.get("/api/v1/profiles/p1").await.status,
        404,
        "nothing was stored by the rejected requests"
    );
    assert_eq!(r.get("/api/v1/churn/at-risk?limit=0").await.status, 400);
    assert_eq!(
        r.get("/api/v1/churn/at-risk?cursor=%25%25").await.status,
        400
    );
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
        let a = r.put(&format!("/api/v1/profiles/{id}"), &body).await;
        assert_eq!(a.status, 200, "{:?}", a.body);
    }

    let churn = r.get("/api/v1/profiles/p_high/churn").await;
    assert_eq!(churn.status, 200);
    // One behavioural family (crm) → classifier weight 0.7.
    assert_eq!(churn.body["classifier"]["weight"], 0.7);
    assert!(churn.body["families"]["crm"]["factors"][0]["explanation"].is_string());
    let list = r.get("/api/v1/churn/at-risk?limit=10").await;
    assert_eq!(list.status, 200);
    let ids: Vec<&str> = list.body["data"]
        .as_array()
        .map(|d| d.iter().filter_map(|x| x["profile_id"].as_str()).collect())
        .unwrap_or_default();
    let scores: Vec<f64> = list.body["data"]
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
        "{:?}",
        list.body
    );
}

#[tokio::test]
async fn another_regions_workspace_and_a_non_pro_plan_are_refused() {
    let r = running().await;
    let key = kustiq_local::token::TokenKey::load_or_create(r.dir.path())
        .unwrap_or_else(|e| panic!("{e}"));
    let token = |plan: &str, region: &str| {
        key.issue(&Claims {
            plan: plan.into(),
            region: region.into(),
            ..claims("ws_other", now(), now() + 3600)
        })
    };
    let status_as = async |token: &str| r.call(Method::GET, STATUS, Some(token), None).await;

    status_as(&token("pro", "us"))
        .await
        .assert_refused(421, "ERR_REGION_MISMATCH");
    let free = token("free", "eu");
    let a = status_as(&free).await;
    assert_eq!(
        (a.status, a.code()),
        (200, Some("ERR_PLAN_REQUIRED")),
        "status shows why"
    );
    r.call(
        Method::POST,
        "/api/v1/integrations/stripe/failed-events/evt_1/replay",
        Some(&free),
        None,
    )
    .await
    .assert_refused(403, "ERR_PLAN_REQUIRED");
    assert_eq!(
        status_as(&token("pro", "mars")).await.status,
        400,
        "a malformed claim is a 400"
    );
}
