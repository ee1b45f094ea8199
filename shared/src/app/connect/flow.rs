//! The connect flows: start (authorize URL with a signed state), the OAuth
//! callback (state checks, code exchange), the restricted key (validated by
//! reading each resource), and the per-connection webhook secrets. All three
//! methods end in [`Connector::finish`]: region check, account and workspace
//! rules, sealing, one transactional write, backfill queued (`pending`).

use super::ConnectError;
use super::settings::{ConnectSettings, method_name};
use super::state::{OAuthState, STATE_TTL_SECS, StateError};
use crate::domain::connection::{
    BackfillProgress, BackfillWindow, ConnectMethod, Connection, ConnectionStatus, Mode,
};
use crate::domain::error_code::ErrorCode;
use crate::domain::ids::{ConnectionId, StripeAccountId, WorkspaceId};
use crate::domain::region::Region;
use crate::domain::secret::Secret;
use crate::domain::time::Timestamp;
use crate::ports::connections::{ConnectionStore, Credential, Grant, GrantStore, StateLedger};
use crate::ports::keys::{SealContext, SealPurpose, SealedBlob, Sealer};
use crate::ports::oauth::{OAuthGrant, StripePlatform};
use crate::ports::secrets::{SecretName, SecretSource};
use crate::ports::store::StoreError;
use crate::ports::stripe::{ListFilter, StripeAccount, StripeError, StripeReader};
use futures::StreamExt;
use url::Url;

/// Apps access tokens live one hour when Stripe does not say.
const DEFAULT_ACCESS_TTL_SECS: i64 = 3_600;

/// Largest number of webhook secrets kept at once (old and new during a rotation).
pub const MAX_WEBHOOK_SECRETS: usize = 2;

/// `GET …/connect`: what the user asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectRequest {
    /// Connect or App.
    pub method: ConnectMethod,
    /// Live or test.
    pub mode: Mode,
    /// Backfill window.
    pub window: BackfillWindow,
    /// `cross_region=accept`.
    pub cross_region: bool,
}

/// The callback's query.
#[derive(Debug, Clone, Default)]
pub struct CallbackParams {
    /// The authorization code.
    pub code: Option<String>,
    /// The state we issued.
    pub state: Option<String>,
    /// OAuth's `error` (`access_denied`).
    pub error: Option<String>,
}

/// `POST …/api-key`.
#[derive(Debug, Clone)]
pub struct ApiKeyRequest {
    /// The pasted key.
    pub key: Secret,
    /// Live or test.
    pub mode: Mode,
    /// Backfill window.
    pub window: BackfillWindow,
    /// `cross_region: "accept"`.
    pub cross_region: bool,
}

/// A finished connect.
#[derive(Debug, Clone)]
pub struct Connected {
    /// The connection as stored.
    pub connection: Connection,
    /// Its id (a restricted-key connection's webhook endpoint is `/webhooks/stripe/c/{id}`).
    pub connection_id: ConnectionId,
    /// Whether the user accepted an account of the other region.
    pub cross_region: bool,
}

/// The connect use case over its ports.
pub struct Connector<S, K, Z, P> {
    /// The table.
    pub store: S,
    /// Operator secrets (the OAuth state key).
    pub secrets: K,
    /// Seals credentials with the region's key.
    pub sealer: Z,
    /// Stripe's OAuth and readers.
    pub platform: P,
    /// What the operator offers.
    pub settings: ConnectSettings,
}

/// The permissions a restricted key needs, by resource, as Stripe names them.
const PERMISSIONS: [(&str, &str); 5] = [
    ("customers", "rak_customer_read"),
    ("subscriptions", "rak_subscription_read"),
    ("invoices", "rak_invoice_read"),
    ("charges", "rak_charge_read"),
    ("disputes", "rak_dispute_read"),
];

/// A fresh connection id, `kc_` and 128 random bits in hex.
fn new_connection_id() -> Result<ConnectionId, ConnectError> {
    ConnectionId::parse(format!("kc_{:032x}", fastrand::u128(..)))
        .map_err(|e| ConnectError::Invalid(e.to_string()))
}

/// The context a connection credential is sealed under.
pub(crate) fn seal_ctx(ws: &WorkspaceId, account: &StripeAccountId, p: SealPurpose) -> SealContext {
    SealContext::for_account(ws.clone(), account.clone(), p)
}

impl<S, K, Z, P> Connector<S, K, Z, P>
where
    S: ConnectionStore + GrantStore + StateLedger,
    K: SecretSource + Send + Sync,
    Z: Sealer,
    P: StripePlatform,
{
    async fn state_key(&self) -> Result<Secret, ConnectError> {
        Ok(self.secrets.get(&SecretName::OAUTH_STATE_KEY).await?)
    }

    /// `GET …/connect`: the URL to send the user to, carrying a signed state.
    pub async fn start(
        &self,
        workspace: &WorkspaceId,
        req: ConnectRequest,
        now: Timestamp,
    ) -> Result<Url, ConnectError> {
        self.settings.offer(req.method)?;
        let state = OAuthState {
            workspace_id: workspace.clone(),
            region: self.settings.region,
            mode: req.mode,
            window: req.window,
            method: req.method,
            cross_region: req.cross_region,
            nonce: format!("{:032x}", fastrand::u128(..)),
            expires_at: now.plus_secs(STATE_TTL_SECS),
        };
        let signed = state.sign(&self.state_key().await?)?;
        let redirect = self.settings.redirect_uri();
        let url = match req.method {
            ConnectMethod::Connect => self.platform.connect_authorize_url(&redirect, &signed)?,
            ConnectMethod::App => self.platform.app_authorize_url(&redirect, &signed)?,
            ConnectMethod::ApiKey => {
                return Err(ConnectError::Invalid(
                    "method=api_key connects with POST /api/v1/integrations/stripe/api-key".into(),
                ));
            }
        };
        Ok(url)
    }

    /// `GET …/oauth/callback`: checks the state (signature, expiry, caller,
    /// single use), exchanges the code and connects. `caller` is the workspace
    /// of the request's own identity, when it carries one.
    pub async fn callback(
        &self,
        caller: Option<&WorkspaceId>,
        params: CallbackParams,
        now: Timestamp,
    ) -> Result<Connected, ConnectError> {
        let raw = params.state.as_deref().ok_or(StateError::Forged)?;
        let state = OAuthState::verify(&self.state_key().await?, raw, now)?;
        if state.region != self.settings.region || caller.is_some_and(|c| c != &state.workspace_id)
        {
            return Err(StateError::OtherWorkspace.into());
        }
        // A denial stores nothing, not even the used state.
        if params.error.is_some() {
            return Err(ConnectError::Denied);
        }
        let code = params
            .code
            .as_deref()
            .filter(|c| !c.is_empty() && c.len() <= 512)
            .ok_or_else(|| ConnectError::Invalid("the callback has no code".into()))?;
        self.settings.offer(state.method)?;
        if !self.store.consume(&state.nonce, state.expires_at).await? {
            return Err(StateError::Replayed.into());
        }
        let grant = match state.method {
            ConnectMethod::App => self.platform.app_exchange(code).await?,
            _ => self.platform.connect_exchange(code).await?,
        };
        let got = Mode::from_livemode(grant.livemode);
        if got != state.mode {
            return Err(ConnectError::ModeMismatch {
                wanted: state.mode,
                got,
            });
        }
        let account = match state.method {
            ConnectMethod::App => {
                self.platform
                    .bearer_reader(grant.access_token.clone(), Some(grant.account.clone()))
                    .account()
                    .await?
            }
            _ => {
                self.platform
                    .platform_reader(&grant.account)
                    .await?
                    .account()
                    .await?
            }
        };
        let req = ConnectRequest {
            method: state.method,
            mode: state.mode,
            window: state.window,
            cross_region: state.cross_region,
        };
        let ws = state.workspace_id;
        let credential = Pending::OAuth(grant);
        self.finish(&ws, req, &account, credential, now).await
    }

    /// `POST …/api-key`: validates the key by reading each resource the engine
    /// needs, then connects.
    pub async fn api_key(
        &self,
        workspace: &WorkspaceId,
        req: ApiKeyRequest,
        now: Timestamp,
    ) -> Result<Connected, ConnectError> {
        self.settings.offer(ConnectMethod::ApiKey)?;
        let raw = req.key.expose();
        let secret_key = raw.starts_with("sk_");
        if !(raw.starts_with("rk_") || secret_key)
            || raw.len() > 255
            || !raw.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        {
            return Err(ConnectError::Invalid(
                "api_key must be a Stripe restricted key (rk_live_… or rk_test_…)".into(),
            ));
        }
        if secret_key && !self.settings.allow_secret_key {
            return Err(ConnectError::SecretKeyRefused);
        }
        let got = if raw.contains("_live_") {
            Mode::Live
        } else {
            Mode::Test
        };
        if got != req.mode {
            return Err(ConnectError::ModeMismatch {
                wanted: req.mode,
                got,
            });
        }
        let reader = self.platform.bearer_reader(req.key.clone(), None);
        let account = reader.account().await?;
        let missing = missing_permissions(&reader).await?;
        if !missing.is_empty() {
            return Err(ConnectError::MissingPermissions(missing));
        }
        let request = ConnectRequest {
            method: ConnectMethod::ApiKey,
            mode: req.mode,
            window: req.window,
            cross_region: req.cross_region,
        };
        self.finish(workspace, request, &account, Pending::Key(req.key), now)
            .await
    }

    /// The end of every method: region consent, the workspace's current
    /// connection, sealing, and one write of connection + grant.
    async fn finish(
        &self,
        ws: &WorkspaceId,
        req: ConnectRequest,
        account: &StripeAccount,
        pending: Pending,
        now: Timestamp,
    ) -> Result<Connected, ConnectError> {
        let region = self.settings.region;
        let account_region = Region::of_country(account.country.as_deref().unwrap_or(""));
        if account_region != region && !req.cross_region {
            return Err(ConnectError::RegionMismatch {
                account: account_region,
                workspace: region,
            });
        }
        if let Some(other) = self.store.connection_for_account(&account.id).await?
            && &other.workspace_id != ws
        {
            return Err(ConnectError::AccountTaken);
        }
        let existing = self.store.connection(ws).await?;
        if let Some((c, _)) = &existing
            && c.status == ConnectionStatus::Connected
            && (c.account_id != account.id || c.mode != req.mode)
        {
            return Err(ConnectError::AlreadyConnected);
        }
        let old_grant = self.store.grant(ws).await?;
        // A reconnect of the same account keeps its id, so a webhook endpoint the
        // user created in Stripe's dashboard keeps working.
        let connection_id = match &old_grant {
            Some((g, _)) if g.account_id == account.id => g.connection_id.clone(),
            _ => new_connection_id()?,
        };
        let credential = self.seal(ws, &account.id, pending, now).await?;
        let mut connection = Connection {
            workspace_id: ws.clone(),
            region,
            method: req.method,
            mode: req.mode,
            account_id: account.id.clone(),
            status: ConnectionStatus::Connected,
            error: None,
            backfill: BackfillProgress::default(),
            window: req.window,
            connected_at: now,
            last_sync_at: existing.as_ref().and_then(|(c, _)| c.last_sync_at),
        };
        if let Some(reason) = &account.disabled_reason {
            connection.set_error(
                ErrorCode::ERR_ACCT_RESTRICTED,
                format!("Stripe restricted the account ({reason}); reads may be denied"),
                now,
            );
        }
        let grant = Grant {
            workspace_id: ws.clone(),
            connection_id: connection_id.clone(),
            account_id: account.id.clone(),
            credential,
            webhook_secrets: match &old_grant {
                Some((g, _)) if g.account_id == account.id => g.webhook_secrets.clone(),
                _ => Vec::new(),
            },
            cross_region: account_region != region,
            refreshing_until: None,
            sealed_at: now,
        };
        let version = existing.as_ref().map_or(0, |(_, v)| *v);
        let grant_version = old_grant.as_ref().map_or(0, |(_, v)| *v);
        match self
            .store
            .connect(&connection, version, &grant, grant_version)
            .await
        {
            Ok(_) => {}
            Err(StoreError::Conflict | StoreError::TransactionCancelled { .. }) => {
                // Lost a race: either another workspace took the account, or a
                // concurrent connect of this workspace won. Tell which.
                return match self.store.connection_for_account(&account.id).await? {
                    Some(o) if &o.workspace_id != ws => Err(ConnectError::AccountTaken),
                    _ => Err(StoreError::Conflict.into()),
                };
            }
            Err(e) => return Err(e.into()),
        }
        tracing::info!(
            workspace_id = %ws,
            stripe_account = %account.id,
            method = method_name(req.method),
            cross_region = grant.cross_region,
            "Stripe connected; backfill pending"
        );
        Ok(Connected {
            connection,
            connection_id,
            cross_region: grant.cross_region,
        })
    }

    async fn seal(
        &self,
        ws: &WorkspaceId,
        account: &StripeAccountId,
        pending: Pending,
        now: Timestamp,
    ) -> Result<Credential, ConnectError> {
        let seal = |p: SealPurpose, s: Secret| async move {
            self.sealer.seal(&seal_ctx(ws, account, p), &s).await
        };
        Ok(match pending {
            Pending::Key(key) => Credential::ApiKey {
                key: seal(SealPurpose::RestrictedKey, key).await?,
            },
            Pending::OAuth(grant) if grant.expires_in.is_some() => {
                sealed_app(&self.sealer, ws, account, grant, now).await?
            }
            Pending::OAuth(grant) => Credential::Connect {
                refresh_token: match grant.refresh_token {
                    Some(rt) => Some(seal(SealPurpose::OauthRefreshToken, rt).await?),
                    None => None,
                },
            },
        })
    }

    /// `PUT …/webhook-secret`: seals and stores the endpoint secrets of a
    /// restricted-key connection (one, or two during a rotation).
    pub async fn set_webhook_secrets(
        &self,
        ws: &WorkspaceId,
        secrets: Vec<Secret>,
    ) -> Result<ConnectionId, ConnectError> {
        if secrets.is_empty() || secrets.len() > MAX_WEBHOOK_SECRETS {
            return Err(ConnectError::Invalid(format!(
                "secrets must hold 1 to {MAX_WEBHOOK_SECRETS} endpoint secrets (whsec_…)"
            )));
        }
        if secrets.iter().any(|s| {
            let s = s.expose();
            !s.starts_with("whsec_") || s.len() > 255 || !s.bytes().all(|b| b.is_ascii_graphic())
        }) {
            return Err(ConnectError::Invalid(
                "each secret must be a Stripe endpoint signing secret (whsec_…)".into(),
            ));
        }
        let (mut grant, version) = self
            .store
            .grant(ws)
            .await?
            .ok_or(ConnectError::NotConnected)?;
        if !matches!(grant.credential, Credential::ApiKey { .. }) {
            return Err(ConnectError::Invalid(
                "only a restricted-key connection has its own webhook endpoint; Connect and App events arrive at /webhooks/stripe".into(),
            ));
        }
        let mut sealed = Vec::with_capacity(secrets.len());
        for s in secrets {
            let ctx = seal_ctx(ws, &grant.account_id, SealPurpose::WebhookSecret);
            sealed.push(self.sealer.seal(&ctx, &s).await?);
        }
        grant.webhook_secrets = sealed;
        self.store.save_grant(&grant, version).await?;
        Ok(grant.connection_id)
    }
}

/// A credential not sealed yet.
enum Pending {
    /// Tokens from an OAuth exchange.
    OAuth(OAuthGrant),
    /// A pasted key.
    Key(Secret),
}

/// Seals an Apps grant (access token, expiry, refresh token).
pub(crate) async fn sealed_app<Z: Sealer>(
    sealer: &Z,
    ws: &WorkspaceId,
    account: &StripeAccountId,
    grant: OAuthGrant,
    now: Timestamp,
) -> Result<Credential, ConnectError> {
    let refresh = grant.refresh_token.ok_or_else(|| {
        ConnectError::Stripe(StripeError::Decode(
            "Stripe Apps grant without a refresh token".into(),
        ))
    })?;
    let ttl = grant.expires_in.map_or(DEFAULT_ACCESS_TTL_SECS, |d| {
        d.as_secs().min(i64::MAX as u64) as i64
    });
    Ok(Credential::App {
        access_token: sealer
            .seal(
                &seal_ctx(ws, account, SealPurpose::AccessToken),
                &grant.access_token,
            )
            .await?,
        expires_at: now.plus_secs(ttl),
        refresh_token: sealer
            .seal(
                &seal_ctx(ws, account, SealPurpose::OauthRefreshToken),
                &refresh,
            )
            .await?,
    })
}

/// The resources a key cannot read, each named with the permission it lacks.
async fn missing_permissions<R: StripeReader>(reader: &R) -> Result<Vec<String>, ConnectError> {
    let mut missing = Vec::new();
    for (resource, permission) in PERMISSIONS {
        let first = match resource {
            "customers" => reader
                .customers(ListFilter::all())
                .next()
                .await
                .map(|r| r.map(|_| ())),
            "subscriptions" => reader
                .subscriptions(ListFilter::all())
                .next()
                .await
                .map(|r| r.map(|_| ())),
            "invoices" => reader
                .invoices(ListFilter::all())
                .next()
                .await
                .map(|r| r.map(|_| ())),
            "charges" => reader
                .charges(ListFilter::all())
                .next()
                .await
                .map(|r| r.map(|_| ())),
            _ => reader
                .disputes(ListFilter::all())
                .next()
                .await
                .map(|r| r.map(|_| ())),
        };
        match first {
            None | Some(Ok(())) => {}
            Some(Err(StripeError::PermissionDenied { .. })) => {
                missing.push(format!("{resource} ({permission})"));
            }
            Some(Err(e)) => return Err(e.into()),
        }
    }
    Ok(missing)
}

/// Opens one sealed credential secret.
pub(crate) async fn open<Z: Sealer>(
    sealer: &Z,
    ws: &WorkspaceId,
    account: &StripeAccountId,
    purpose: SealPurpose,
    blob: &SealedBlob,
) -> Result<Secret, crate::ports::keys::KeyError> {
    sealer.open(&seal_ctx(ws, account, purpose), blob).await
}
