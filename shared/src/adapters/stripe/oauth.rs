//! The OAuth flows: Stripe Connect (`read_only` scope) and Stripe Apps
//! (1-hour access tokens, rotating refresh tokens). These are the only
//! `POST`s Kustiq sends to Stripe, and only to the three OAuth paths of
//! `OAuthPath`.

use super::config::{StripeConfig, join};
use super::response::oauth_error;
use crate::domain::ids::StripeAccountId;
use crate::domain::secret::Secret;
use crate::ports::stripe::StripeError;
use reqwest::header::{AUTHORIZATION, HeaderValue};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use std::time::Duration;
use url::Url;

/// The OAuth endpoints a `POST` may go to. Nothing else can be posted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OAuthPath {
    /// Connect: `connect.stripe.com/oauth/token`.
    ConnectToken,
    /// Connect: `connect.stripe.com/oauth/deauthorize`.
    ConnectDeauthorize,
    /// Stripe Apps: `api.stripe.com/v1/oauth/token`.
    AppToken,
}

pub use crate::ports::oauth::OAuthGrant;

#[derive(Deserialize)]
struct GrantWire {
    access_token: String,
    #[serde(default)]
    refresh_token: Option<String>,
    stripe_user_id: StripeAccountId,
    #[serde(default)]
    livemode: bool,
    #[serde(default)]
    scope: Option<String>,
    #[serde(default)]
    expires_in: Option<u64>,
}

impl From<GrantWire> for OAuthGrant {
    fn from(w: GrantWire) -> Self {
        Self {
            account: w.stripe_user_id,
            access_token: Secret::new(w.access_token),
            refresh_token: w.refresh_token.map(Secret::new),
            livemode: w.livemode,
            scope: w.scope,
            expires_in: w.expires_in.map(Duration::from_secs),
        }
    }
}

#[derive(Deserialize)]
struct DeauthorizeWire {
    stripe_user_id: StripeAccountId,
}

/// The OAuth side of a Stripe platform: authorize URLs, code exchange,
/// refresh, and deauthorize. Built by [`super::StripeClient::oauth`].
#[derive(Clone)]
pub struct StripeOAuth {
    http: reqwest::Client,
    config: StripeConfig,
    client_id: String,
    platform_key: Secret,
}

impl std::fmt::Debug for StripeOAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StripeOAuth")
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

impl StripeOAuth {
    pub(crate) fn new(
        http: reqwest::Client,
        config: StripeConfig,
        client_id: String,
        platform_key: Secret,
    ) -> Self {
        Self {
            http,
            config,
            client_id,
            platform_key,
        }
    }

    /// Where to send the user to grant Connect access:
    /// `{connect_base}/oauth/authorize?response_type=code&client_id=…&scope=read_only&redirect_uri=…&state=…`.
    pub fn connect_authorize_url(
        &self,
        redirect_uri: &str,
        state: &str,
    ) -> Result<Url, StripeError> {
        let mut url = join(&self.config.connect_base, "/oauth/authorize")?;
        url.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", &self.client_id)
            .append_pair("scope", "read_only")
            .append_pair("redirect_uri", redirect_uri)
            .append_pair("state", state);
        Ok(url)
    }

    /// Where to send the user to install the Stripe App (install link):
    /// `{app_authorize_url}?client_id=…&redirect_uri=…&state=…`.
    pub fn app_authorize_url(&self, redirect_uri: &str, state: &str) -> Result<Url, StripeError> {
        let mut url = self.config.app_authorize_url.clone();
        url.query_pairs_mut()
            .append_pair("client_id", &self.client_id)
            .append_pair("redirect_uri", redirect_uri)
            .append_pair("state", state);
        Ok(url)
    }

    /// Exchanges a Connect authorization code (single use).
    pub async fn connect_exchange(&self, code: &str) -> Result<OAuthGrant, StripeError> {
        let form = [("grant_type", "authorization_code"), ("code", code)];
        self.post::<GrantWire>(OAuthPath::ConnectToken, &form)
            .await
            .map(OAuthGrant::from)
    }

    /// Refreshes a Connect grant.
    pub async fn connect_refresh(&self, refresh_token: &Secret) -> Result<OAuthGrant, StripeError> {
        let form = [
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token.expose()),
        ];
        self.post::<GrantWire>(OAuthPath::ConnectToken, &form)
            .await
            .map(OAuthGrant::from)
    }

    /// Revokes our access to `account` (disconnect). Succeeds when Stripe
    /// confirms the account id.
    pub async fn connect_deauthorize(&self, account: &StripeAccountId) -> Result<(), StripeError> {
        let form = [
            ("client_id", self.client_id.as_str()),
            ("stripe_user_id", account.as_str()),
        ];
        let answer: DeauthorizeWire = self.post(OAuthPath::ConnectDeauthorize, &form).await?;
        if &answer.stripe_user_id == account {
            Ok(())
        } else {
            Err(StripeError::Decode(
                "deauthorize confirmed another account".into(),
            ))
        }
    }

    /// Exchanges a Stripe Apps authorization code for a one-hour access token
    /// and a refresh token.
    pub async fn app_exchange(&self, code: &str) -> Result<OAuthGrant, StripeError> {
        let form = [("grant_type", "authorization_code"), ("code", code)];
        self.post::<GrantWire>(OAuthPath::AppToken, &form)
            .await
            .map(OAuthGrant::from)
    }

    /// Refreshes a Stripe Apps grant. The answer carries a new refresh token
    /// that replaces `refresh_token`.
    pub async fn app_refresh(&self, refresh_token: &Secret) -> Result<OAuthGrant, StripeError> {
        let form = [
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token.expose()),
        ];
        self.post::<GrantWire>(OAuthPath::AppToken, &form)
            .await
            .map(OAuthGrant::from)
    }

    /// One form `POST` to an OAuth endpoint, authenticated with the platform
    /// key. Not retried: an authorization code is single-use, so a resend after
    /// a lost answer would fail anyway; the caller restarts the flow.
    async fn post<T: DeserializeOwned>(
        &self,
        path: OAuthPath,
        form: &[(&str, &str)],
    ) -> Result<T, StripeError> {
        let url = match path {
            OAuthPath::ConnectToken => join(&self.config.connect_base, "/oauth/token")?,
            OAuthPath::ConnectDeauthorize => join(&self.config.connect_base, "/oauth/deauthorize")?,
            OAuthPath::AppToken => join(&self.config.api_base, "/v1/oauth/token")?,
        };
        let mut auth = HeaderValue::from_str(&format!("Bearer {}", self.platform_key.expose()))
            .map_err(|_| StripeError::Config("the platform key is not a header value".into()))?;
        auth.set_sensitive(true);
        let response = self
            .http
            .post(url)
            .header(AUTHORIZATION, auth)
            .form(form)
            .send()
            .await
            .map_err(|e| StripeError::Unavailable(format!("OAuth {path:?}: {e}")))?;
        let status = response.status().as_u16();
        let body = response
            .bytes()
            .await
            .map_err(|e| StripeError::Unavailable(format!("OAuth {path:?} body: {e}")))?;
        if !(200..300).contains(&status) {
            return Err(oauth_error(status, &body));
        }
        serde_json::from_slice(&body)
            .map_err(|e| StripeError::Decode(format!("OAuth {path:?}: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::stripe::StripeClient;

    fn oauth() -> StripeOAuth {
        let config = StripeConfig::at("http://127.0.0.1:9").unwrap();
        StripeClient::new(config)
            .unwrap()
            .oauth("ca_test", Secret::new("sk_test_x"))
    }

    #[test]
    fn connect_authorize_url_asks_for_read_only() {
        let url = oauth()
            .connect_authorize_url("https://app.example/cb?x=1", "st&ate")
            .unwrap();
        let pairs: Vec<(String, String)> = url.query_pairs().into_owned().collect();
        assert_eq!(url.path(), "/oauth/authorize");
        for (k, v) in [
            ("response_type", "code"),
            ("client_id", "ca_test"),
            ("scope", "read_only"),
            ("redirect_uri", "https://app.example/cb?x=1"),
            ("state", "st&ate"),
        ] {
            assert!(
                pairs.contains(&(k.to_owned(), v.to_owned())),
                "{k} missing in {url}"
            );
        }
    }

    #[test]
    fn grants_never_print_tokens() {
        let grant = OAuthGrant::from(GrantWire {
            access_token: "sk_test_access".into(),
            refresh_token: Some("rt_refresh".into()),
            stripe_user_id: StripeAccountId::parse("acct_1").unwrap(),
            livemode: false,
            scope: Some("read_only".into()),
            expires_in: Some(3600),
        });
        let shown = format!("{grant:?} {:?}", oauth());
        for secret in ["sk_test_access", "rt_refresh", "sk_test_x"] {
            assert!(!shown.contains(secret), "{secret} leaked: {shown}");
        }
    }
}
