//! Connect and Apps OAuth flows, and deauthorization.

mod common;

use common::{get, platform_get, receiver, small, start};
use kustiq::domain::secret::Secret;
use serde_json::Value;
use std::collections::HashMap;
use stripe_sim::{PLATFORM_KEY, SimConfig, WebhookTarget};

fn no_redirect() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

fn location_params(resp: &reqwest::Response) -> HashMap<String, String> {
    let loc = resp
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .expect("a Location header");
    let url = url::Url::parse(loc).expect("absolute redirect");
    url.query_pairs().into_owned().collect()
}

async fn post_form(
    client: &reqwest::Client,
    url: String,
    bearer: Option<&str>,
    form: &[(&str, &str)],
) -> (u16, Value) {
    let mut req = client.post(url).form(form);
    if let Some(b) = bearer {
        req = req.bearer_auth(b);
    }
    let r = req.send().await.expect("post");
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn connect_oauth_approves_denies_refreshes_and_deauthorizes() {
    let sim = start(small()).await;
    let client = no_redirect();
    let authorize = format!(
        "{}/oauth/authorize?response_type=code&client_id=ca_sim&scope=read_only&redirect_uri=http%3A%2F%2F127.0.0.1%3A9%2Fcb%3Fx%3D1&state=st4te",
        sim.base_url
    );
    let denied = client
        .get(format!("{authorize}&deny=1"))
        .send()
        .await
        .unwrap();
    assert_eq!(denied.status().as_u16(), 302);
    let p = location_params(&denied);
    assert_eq!(p.get("error").map(String::as_str), Some("access_denied"));
    assert_eq!(p.get("state").map(String::as_str), Some("st4te"));
    assert!(!p.contains_key("code"));

    let approved = client.get(&authorize).send().await.unwrap();
    let p = location_params(&approved);
    assert_eq!(p.get("state").map(String::as_str), Some("st4te"));
    assert_eq!(
        p.get("x").map(String::as_str),
        Some("1"),
        "the redirect_uri's own query survives"
    );
    let code = p.get("code").expect("code").clone();

    let token_url = format!("{}/oauth/token", sim.base_url);
    let (status, _) = post_form(
        &client,
        token_url.clone(),
        Some("sk_test_other"),
        &[("grant_type", "authorization_code"), ("code", &code)],
    )
    .await;
    assert_eq!(status, 401, "the platform key is required");
    let (status, tok) = post_form(
        &client,
        token_url.clone(),
        None,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("client_secret", PLATFORM_KEY),
        ],
    )
    .await;
    assert_eq!(status, 200, "{tok}");
    assert_eq!(tok["token_type"], "bearer");
    assert_eq!(tok["scope"], "read_only");
    assert_eq!(tok["livemode"], false);
    assert_eq!(tok["stripe_user_id"], sim.accounts[0].id.as_str());
    assert!(
        tok["stripe_publishable_key"]
            .as_str()
            .unwrap()
            .starts_with("pk_test_")
    );
    let (status, reused) = post_form(
        &client,
        token_url.clone(),
        Some(PLATFORM_KEY),
        &[("grant_type", "authorization_code"), ("code", &code)],
    )
    .await;
    assert_eq!(
        (status, reused["error"].as_str()),
        (400, Some("invalid_grant")),
        "a code works once"
    );

    let access = tok["access_token"].as_str().unwrap().to_owned();
    let refresh = tok["refresh_token"].as_str().unwrap().to_owned();
    assert_eq!(
        get(&sim, "/v1/customers?limit=1", &access, None)
            .await
            .status,
        200
    );
    let (status, again) = post_form(
        &client,
        token_url.clone(),
        Some(PLATFORM_KEY),
        &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
    )
    .await;
    assert_eq!(status, 200);
    let access2 = again["access_token"].as_str().unwrap().to_owned();
    assert_ne!(access2, access);
    assert_eq!(
        get(&sim, "/v1/customers?limit=1", &access2, None)
            .await
            .status,
        200
    );

    let (status, de) = post_form(
        &client,
        format!("{}/oauth/deauthorize", sim.base_url),
        Some(PLATFORM_KEY),
        &[
            ("client_id", "ca_sim"),
            ("stripe_user_id", &sim.accounts[0].id),
        ],
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(de["stripe_user_id"], sim.accounts[0].id.as_str());
    let after = get(&sim, "/v1/customers", &access2, None).await;
    assert_eq!(after.status, 401, "tokens stop working after deauthorize");
    let platform = platform_get(&sim, "/v1/customers").await;
    assert_eq!(
        (platform.status, platform.body["error"]["code"].as_str()),
        (401, Some("account_invalid"))
    );
    assert_eq!(
        sim.sim.non_get_requests(),
        0,
        "OAuth POSTs are not API writes"
    );
}

#[tokio::test]
async fn apps_oauth_issues_hour_tokens_and_rotates_refresh_tokens() {
    let sim = start(small()).await;
    let client = no_redirect();
    let second = sim.accounts[1].id.clone();
    let r = client
        .get(format!("{}/apps/oauth/authorize?client_id=ca_sim&redirect_uri=http://127.0.0.1:9/cb&state=s&account={second}", sim.base_url))
        .send()
        .await
        .unwrap();
    let code = location_params(&r).get("code").expect("code").clone();
    let token_url = format!("{}/v1/oauth/token", sim.base_url);
    let (status, tok) = post_form(
        &client,
        token_url.clone(),
        Some(PLATFORM_KEY),
        &[("grant_type", "authorization_code"), ("code", &code)],
    )
    .await;
    assert_eq!(status, 200, "{tok}");
    assert_eq!(tok["expires_in"], 3600);
    assert_eq!(tok["stripe_user_id"], second.as_str());
    let access = tok["access_token"].as_str().unwrap().to_owned();
    let rt1 = tok["refresh_token"].as_str().unwrap().to_owned();
    let me = get(&sim, "/v1/account", &access, None).await;
    assert_eq!(me.body["id"], second.as_str());

    let (status, tok2) = post_form(
        &client,
        token_url.clone(),
        Some(PLATFORM_KEY),
        &[("grant_type", "refresh_token"), ("refresh_token", &rt1)],
    )
    .await;
    assert_eq!(status, 200);
    let rt2 = tok2["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(rt1, rt2, "refresh tokens rotate");
    let (status, old) = post_form(
        &client,
        token_url.clone(),
        Some(PLATFORM_KEY),
        &[("grant_type", "refresh_token"), ("refresh_token", &rt1)],
    )
    .await;
    assert_eq!(
        (status, old["error"].as_str()),
        (400, Some("invalid_grant")),
        "a used refresh token stops working"
    );

    let access2 = tok2["access_token"].as_str().unwrap().to_owned();
    client
        .post(format!("{}/_sim/tokens/expire", sim.base_url))
        .send()
        .await
        .unwrap();
    let expired = get(&sim, "/v1/customers", &access2, None).await;
    assert_eq!(
        (expired.status, expired.body["error"]["code"].as_str()),
        (401, Some("api_key_expired"))
    );
    let (status, tok3) = post_form(
        &client,
        token_url,
        Some(PLATFORM_KEY),
        &[("grant_type", "refresh_token"), ("refresh_token", &rt2)],
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        get(
            &sim,
            "/v1/customers",
            tok3["access_token"].as_str().unwrap(),
            None
        )
        .await
        .status,
        200
    );
}

#[tokio::test]
async fn deauthorize_sends_account_application_deauthorized() {
    let (url, got) = receiver().await;
    let secret = Secret::new("whsec_deauth");
    let sim = start(SimConfig {
        customers: 50,
        webhook: Some(WebhookTarget {
            url,
            secret: secret.clone(),
        }),
        ..SimConfig::default()
    })
    .await;
    let account = sim.accounts[1].id.clone();
    let (status, _) = post_form(
        &no_redirect(),
        format!("{}/oauth/deauthorize", sim.base_url),
        Some(PLATFORM_KEY),
        &[("client_id", "ca_sim"), ("stripe_user_id", &account)],
    )
    .await;
    assert_eq!(status, 200);
    let received = got.lock().unwrap().clone();
    assert_eq!(received.len(), 1);
    let (sig, body) = &received[0];
    let event =
        kustiq::stripe::verify_and_parse(sig, body, &[secret], stripe_sim::sim::wall_now(), 300)
            .expect("verifies");
    assert_eq!(event.kind.as_str(), "account.application.deauthorized");
    assert_eq!(
        event.account.as_ref().map(|a| a.as_str()),
        Some(account.as_str())
    );
}
