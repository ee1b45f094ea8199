//! Connect OAuth (`/oauth/*`) and Stripe Apps OAuth (`/apps/oauth/authorize`, `/v1/oauth/token`).
//!
//! The authorize pages approve at once (or deny with `deny=1`), so a test drives the whole flow
//! with plain HTTP. Errors use OAuth's flat `{"error", "error_description"}` shape, as Stripe's do.

use crate::api::presented_key;
use crate::sim::{
    APP_TOKEN_TTL, AccessToken, AuthCode, CLIENT_ID, Grant, PLATFORM_KEY, RefreshToken, Simulator,
};
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use std::collections::HashMap;
use std::time::Instant;

fn oauth_error(status: StatusCode, error: &str, description: String) -> Response {
    (
        status,
        axum::Json(json!({"error": error, "error_description": description})),
    )
        .into_response()
}

fn redirect(base: &str, params: &[(&str, &str)]) -> Response {
    match url::Url::parse(base) {
        Ok(mut u) => {
            {
                let mut q = u.query_pairs_mut();
                for (k, v) in params {
                    q.append_pair(k, v);
                }
            }
            (StatusCode::FOUND, [(header::LOCATION, u.to_string())]).into_response()
        }
        Err(_) => oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            format!("Invalid redirect_uri: {base}"),
        ),
    }
}

fn authorize(sim: &Simulator, q: &HashMap<String, String>, grant: Grant) -> Response {
    sim.count_request();
    if q.get("client_id").map(String::as_str) != Some(CLIENT_ID) {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_client",
            format!(
                "No such application: '{}'",
                q.get("client_id").map_or("", String::as_str)
            ),
        );
    }
    let Some(redirect_uri) = q.get("redirect_uri") else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "No redirect_uri was provided.".into(),
        );
    };
    if grant == Grant::Connect && q.get("response_type").map(String::as_str) != Some("code") {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_response_type",
            "Only response_type=code is supported.".into(),
        );
    }
    let state = q.get("state").map_or("", String::as_str);
    if q.get("deny").is_some_and(|d| d == "1" || d == "true") {
        return redirect(
            redirect_uri,
            &[
                ("error", "access_denied"),
                ("error_description", "The user denied your request"),
                ("state", state),
            ],
        );
    }
    // `account=acct_…` (a simulator extension) picks which connected account approves.
    let account = match q.get("account") {
        Some(id) => match sim.account_index(id) {
            Some(i) => i,
            None => {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    format!("No such account: '{id}'"),
                );
            }
        },
        None => 0,
    };
    let code = {
        let mut st = sim.lock();
        let code = format!("ac_{}", random_token(&mut st.token_rng, 24));
        st.codes.insert(code.clone(), AuthCode { account, grant });
        code
    };
    let scope = if grant == Grant::Connect {
        q.get("scope").map_or("read_only", String::as_str)
    } else {
        "stripe_apps"
    };
    redirect(
        redirect_uri,
        &[("code", &code), ("scope", scope), ("state", state)],
    )
}

fn random_token(rng: &mut fastrand::Rng, n: usize) -> String {
    (0..n).map(|_| rng.alphanumeric()).collect()
}

/// `GET /oauth/authorize`: Connect OAuth.
pub async fn connect_authorize(
    State(sim): State<Simulator>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    authorize(&sim, &q, Grant::Connect)
}

/// `GET /apps/oauth/authorize`: Stripe Apps OAuth install link.
pub async fn app_authorize(
    State(sim): State<Simulator>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    authorize(&sim, &q, Grant::App)
}

fn form(body: &Bytes) -> HashMap<String, String> {
    serde_urlencoded::from_bytes::<Vec<(String, String)>>(body)
        .unwrap_or_default()
        .into_iter()
        .collect()
}

fn platform_authenticated(headers: &HeaderMap, f: &HashMap<String, String>) -> bool {
    presented_key(headers) == PLATFORM_KEY
        || f.get("client_secret").is_some_and(|s| s == PLATFORM_KEY)
}

fn exchange(sim: &Simulator, headers: &HeaderMap, body: &Bytes, grant: Grant) -> Response {
    let f = form(body);
    if !platform_authenticated(headers, &f) {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "No valid API key provided for the platform (use Bearer sk_test_sim or client_secret)."
                .into(),
        );
    }
    let mut st = sim.lock();
    let (account, refresh_in) = match f.get("grant_type").map(String::as_str) {
        Some("authorization_code") => {
            let Some(code) = f.get("code") else {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "No code was provided.".into(),
                );
            };
            match st.codes.remove(code) {
                Some(c) if c.grant == grant => (c.account, None),
                _ => {
                    return oauth_error(
                        StatusCode::BAD_REQUEST,
                        "invalid_grant",
                        format!("Authorization code does not exist: {code}"),
                    );
                }
            }
        }
        Some("refresh_token") => {
            let Some(rt) = f.get("refresh_token") else {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "No refresh_token was provided.".into(),
                );
            };
            match st.refresh.get(rt) {
                Some(r) if r.grant == grant => (r.account, Some(rt.clone())),
                _ => {
                    return oauth_error(
                        StatusCode::BAD_REQUEST,
                        "invalid_grant",
                        format!("Refresh token does not exist: {rt}"),
                    );
                }
            }
        }
        other => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                format!("Unsupported grant type: {}", other.unwrap_or("")),
            );
        }
    };
    let Some(info) = sim.accounts().into_iter().nth(account) else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "Unknown account.".into(),
        );
    };
    let access = format!(
        "{}{}",
        if grant == Grant::App {
            "rk_test_app_"
        } else {
            "sk_test_oauth_"
        },
        random_token(&mut st.token_rng, 32)
    );
    let expires = (grant == Grant::App).then(|| Instant::now() + APP_TOKEN_TTL);
    st.access.insert(
        access.clone(),
        AccessToken {
            account,
            grant,
            expires,
        },
    );
    // Apps refresh tokens rotate: the used one stops working. Connect keeps its refresh token.
    let refresh = match (grant, refresh_in) {
        (Grant::Connect, Some(rt)) => rt,
        (_, old) => {
            if let Some(old) = old {
                st.refresh.remove(&old);
            }
            let rt = format!("rt_{}", random_token(&mut st.token_rng, 32));
            st.refresh
                .insert(rt.clone(), RefreshToken { account, grant });
            rt
        }
    };
    if let Some(a) = st.accounts.get_mut(account) {
        a.flags.revoked = false;
    }
    drop(st);
    let mut body = json!({
        "access_token": access,
        "livemode": false,
        "refresh_token": refresh,
        "scope": if grant == Grant::App { "stripe_apps" } else { f.get("scope").map_or("read_only", String::as_str) },
        "stripe_publishable_key": format!("pk_test_{}", info.id.trim_start_matches("acct_")),
        "stripe_user_id": info.id,
        "token_type": "bearer"
    });
    if grant == Grant::App {
        body["expires_in"] = json!(APP_TOKEN_TTL.as_secs());
    }
    axum::Json(body).into_response()
}

/// `POST /oauth/token`: Connect code exchange and refresh.
pub async fn connect_token(
    State(sim): State<Simulator>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    sim.count_request();
    exchange(&sim, &headers, &body, Grant::Connect)
}

/// `POST /v1/oauth/token`: Stripe Apps code exchange and (rotating) refresh.
pub fn app_token(sim: &Simulator, headers: &HeaderMap, body: &Bytes) -> Response {
    exchange(sim, headers, body, Grant::App)
}

/// `POST /oauth/deauthorize`: revokes the platform's access to an account.
pub async fn deauthorize(
    State(sim): State<Simulator>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    sim.count_request();
    let f = form(&body);
    if !platform_authenticated(&headers, &f) {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "No valid API key provided for the platform.".into(),
        );
    }
    if f.get("client_id").map(String::as_str) != Some(CLIENT_ID) {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_client",
            format!(
                "No such application: '{}'",
                f.get("client_id").map_or("", String::as_str)
            ),
        );
    }
    let Some(user) = f.get("stripe_user_id") else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "No stripe_user_id was provided.".into(),
        );
    };
    let Some(account) = sim.account_index(user) else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_client",
            format!(
                "This application is not connected to stripe account {user}, or that account does not exist."
            ),
        );
    };
    {
        let mut st = sim.lock();
        st.access.retain(|_, t| t.account != account);
        st.refresh.retain(|_, t| t.account != account);
        if let Some(a) = st.accounts.get_mut(account) {
            a.flags.revoked = true;
        }
    }
    sim.deauthorized(account).await;
    axum::Json(json!({"stripe_user_id": user})).into_response()
}
