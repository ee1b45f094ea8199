//! [`ConnectionReaders`] over sealed credentials: Connect reads through the
//! platform key with `Stripe-Account`, a restricted key is opened and used as
//! the bearer, and a Stripe Apps access token is refreshed before it expires.
//!
//! Refreshes of one connection are serialized by conditional writes on the
//! grant's version: a refresher first claims a short lease (`refreshing_until`)
//! at the version it read; others wait for the new token. Stripe Apps rotate the
//! refresh token on every refresh and the old one stops working, so once Stripe
//! answered, the new tokens are written whatever happened meanwhile: losing them
//! would lose the connection.

use super::flow::{open, sealed_app};
use crate::domain::connection::{Connection, ConnectionStatus};
use crate::domain::error_code::ErrorCode;
use crate::domain::ids::StripeAccountId;
use crate::domain::secret::Secret;
use crate::domain::time::Timestamp;
use crate::ports::catalog::{CatalogSource, CatalogSources};
use crate::ports::clock::Clock;
use crate::ports::connections::{ConnectionStore, Credential, Grant, GrantStore};
use crate::ports::keys::{KeyError, SealPurpose, Sealer};
use crate::ports::oauth::StripePlatform;
use crate::ports::readers::ConnectionReaders;
use crate::ports::store::StoreError;
use crate::ports::stripe::StripeError;
use std::sync::Arc;
use std::time::Duration;

/// Refresh an Apps access token this long before it expires.
pub const REFRESH_MARGIN_SECS: i64 = 300;
/// How long a refresher holds its lease.
const LEASE_SECS: i64 = 30;
/// How long a reader waits for another refresher before giving up (retryable).
const WAIT: Duration = Duration::from_secs(10);
/// Pause between two looks at a grant another refresher holds.
const POLL: Duration = Duration::from_millis(50);

/// Readers built from each connection's sealed credentials.
pub struct SealedReaders<S, Z, P> {
    /// The table (grants and connections).
    pub store: S,
    /// Opens and seals credentials.
    pub sealer: Z,
    /// Stripe's OAuth and readers.
    pub platform: P,
    /// Now.
    pub clock: Arc<dyn Clock>,
}

fn unauthorized(message: &str) -> StripeError {
    StripeError::Unauthorized {
        message: message.to_owned(),
    }
}

fn key_error(e: KeyError) -> StripeError {
    match e {
        KeyError::Unavailable(m) => StripeError::Unavailable(format!("key service: {m}")),
        other => StripeError::Config(format!("sealed credential: {other}")),
    }
}

fn store_error(e: StoreError) -> StripeError {
    StripeError::Unavailable(format!("store: {e}"))
}

fn is_conflict(e: &StoreError) -> bool {
    matches!(
        e,
        StoreError::Conflict | StoreError::TransactionCancelled { .. }
    )
}

impl<S, Z, P> SealedReaders<S, Z, P>
where
    S: ConnectionStore + GrantStore,
    Z: Sealer,
    P: StripePlatform,
{
    async fn load(&self, connection: &Connection) -> Result<(Grant, u64), StripeError> {
        match self
            .store
            .grant(&connection.workspace_id)
            .await
            .map_err(store_error)?
        {
            Some((g, v)) if g.account_id == connection.account_id => Ok((g, v)),
            _ => Err(unauthorized(
                "no credentials are stored for this connection; reconnect",
            )),
        }
    }

    async fn open(
        &self,
        grant: &Grant,
        purpose: SealPurpose,
        blob: &crate::ports::keys::SealedBlob,
    ) -> Result<Secret, StripeError> {
        open(
            &self.sealer,
            &grant.workspace_id,
            &grant.account_id,
            purpose,
            blob,
        )
        .await
        .map_err(key_error)
    }

    /// A valid Apps access token: the stored one while it has more than
    /// [`REFRESH_MARGIN_SECS`] to live, else a refreshed one.
    pub async fn app_token(&self, connection: &Connection) -> Result<Secret, StripeError> {
        self.app_token_with(connection, false).await.map(|(t, _)| t)
    }

    /// Refreshes the Apps token now, whatever its expiry (the rotation job).
    /// Whether a refresh happened here (false: another refresher's token was used).
    pub async fn refresh_now(&self, connection: &Connection) -> Result<bool, StripeError> {
        self.app_token_with(connection, true).await.map(|(_, r)| r)
    }

    async fn app_token_with(
        &self,
        connection: &Connection,
        force: bool,
    ) -> Result<(Secret, bool), StripeError> {
        let mut waited = false;
        let started = tokio::time::Instant::now();
        loop {
            let (grant, version) = self.load(connection).await?;
            let now = self.clock.now();
            let Credential::App {
                access_token,
                expires_at,
                ..
            } = &grant.credential
            else {
                return Err(unauthorized("the connection holds no Stripe Apps token"));
            };
            // A forced refresh is satisfied by another refresher's fresh token.
            if (!force || waited) && expires_at.secs_since(now) > REFRESH_MARGIN_SECS {
                let token = self
                    .open(&grant, SealPurpose::AccessToken, access_token)
                    .await?;
                return Ok((token, false));
            }
            if grant.refreshing_until.is_some_and(|t| t > now) {
                if started.elapsed() > WAIT {
                    return Err(StripeError::Unavailable(
                        "another refresh of this connection's token is still running".into(),
                    ));
                }
                tokio::time::sleep(POLL).await;
                waited = true;
                continue;
            }
            let mut claimed = grant.clone();
            claimed.refreshing_until = Some(now.plus_secs(LEASE_SECS));
            match self.store.save_grant(&claimed, version).await {
                Ok(v) => {
                    return self
                        .refresh(connection, claimed, v, now)
                        .await
                        .map(|t| (t, true));
                }
                Err(e) if is_conflict(&e) => continue,
                Err(e) => return Err(store_error(e)),
            }
        }
    }

    /// Refreshes under the lease held at `version`.
    async fn refresh(
        &self,
        connection: &Connection,
        grant: Grant,
        version: u64,
        now: Timestamp,
    ) -> Result<Secret, StripeError> {
        let Credential::App { refresh_token, .. } = &grant.credential else {
            return Err(unauthorized("the connection holds no Stripe Apps token"));
        };
        let refresh = self
            .open(&grant, SealPurpose::OauthRefreshToken, refresh_token)
            .await?;
        match self.platform.app_refresh(&refresh).await {
            Ok(new) => {
                let access = new.access_token.clone();
                let credential = sealed_app(
                    &self.sealer,
                    &grant.workspace_id,
                    &grant.account_id,
                    new,
                    now,
                )
                .await
                .map_err(|e| match e {
                    super::ConnectError::Keys(k) => key_error(k),
                    other => StripeError::Decode(other.to_string()),
                })?;
                self.store_refreshed(grant, version, credential, now)
                    .await?;
                tracing::info!(workspace_id = %connection.workspace_id, stripe_account = %connection.account_id, "Stripe Apps token refreshed");
                Ok(access)
            }
            Err(e) if e.code() == ErrorCode::ERR_ST_401 => {
                let mut released = grant;
                released.refreshing_until = None;
                // Best effort: a lease left behind expires on its own.
                let _ = self.store.save_grant(&released, version).await;
                self.flag_unauthorized(connection, now).await;
                Err(unauthorized(
                    "Stripe refused the refresh token (invalid_grant); reconnect",
                ))
            }
            Err(e) => {
                let mut released = grant;
                released.refreshing_until = None;
                let _ = self.store.save_grant(&released, version).await;
                Err(e)
            }
        }
    }

    /// Writes refreshed tokens. The old refresh token no longer works, so on a
    /// version race the new credential is written onto whatever is stored now.
    async fn store_refreshed(
        &self,
        mut grant: Grant,
        mut version: u64,
        credential: Credential,
        now: Timestamp,
    ) -> Result<(), StripeError> {
        for _ in 0..crate::app::optimistic::MAX_ROUNDS {
            grant.credential = credential.clone();
            grant.refreshing_until = None;
            grant.sealed_at = now;
            match self.store.save_grant(&grant, version).await {
                Ok(_) => return Ok(()),
                Err(e) if is_conflict(&e) => {
                    match self
                        .store
                        .grant(&grant.workspace_id)
                        .await
                        .map_err(store_error)?
                    {
                        Some((g, v)) if g.account_id == grant.account_id => {
                            grant = g;
                            version = v;
                        }
                        // Disconnected meanwhile: the tokens are not wanted any more.
                        _ => {
                            return Err(unauthorized(
                                "the connection was removed during a refresh",
                            ));
                        }
                    }
                }
                Err(e) => {
                    tracing::error!(workspace_id = %grant.workspace_id, error = %e, "refreshed Stripe Apps token could not be stored; retrying");
                    tokio::time::sleep(POLL).await;
                }
            }
        }
        Err(StripeError::Unavailable(
            "the refreshed token could not be stored".into(),
        ))
    }

    /// Shows ERR_ST_401 on the connection's status.
    async fn flag_unauthorized(&self, connection: &Connection, now: Timestamp) {
        for _ in 0..crate::app::optimistic::MAX_ROUNDS {
            let Ok(Some((mut c, v))) = self.store.connection(&connection.workspace_id).await else {
                return;
            };
            if c.account_id != connection.account_id
                || c.error
                    .as_ref()
                    .is_some_and(|e| e.code == ErrorCode::ERR_ST_401)
            {
                return;
            }
            c.set_error(
                ErrorCode::ERR_ST_401,
                "Stripe refused the stored grant (invalid_grant); reconnect to resume",
                now,
            );
            match self.store.save_connection(&c, v).await {
                Err(e) if is_conflict(&e) => continue,
                _ => return,
            }
        }
    }
}

impl<S, Z, P> ConnectionReaders for SealedReaders<S, Z, P>
where
    S: ConnectionStore + GrantStore,
    Z: Sealer,
    P: StripePlatform,
{
    type Reader = P::Reader;

    async fn for_connection(&self, connection: &Connection) -> Result<P::Reader, StripeError> {
        if connection.status != ConnectionStatus::Connected {
            return Err(unauthorized("the connection is disconnected or revoked"));
        }
        let account = connection.account_id.clone();
        let (grant, _) = self.load(connection).await?;
        match &grant.credential {
            Credential::Connect { .. } => self.platform.platform_reader(&account).await,
            Credential::ApiKey { key } => {
                let key = self.open(&grant, SealPurpose::RestrictedKey, key).await?;
                Ok(self.platform.bearer_reader(key, Some(account)))
            }
            Credential::App { .. } => {
                let token = self.app_token(connection).await?;
                Ok(self.platform.bearer_reader(token, Some(account)))
            }
        }
    }
}

/// The plaintext webhook secrets of a grant (for verifying one delivery).
pub async fn open_webhook_secrets<Z: Sealer>(
    sealer: &Z,
    grant: &Grant,
) -> Result<Vec<Secret>, KeyError> {
    let mut out = Vec::with_capacity(grant.webhook_secrets.len());
    for blob in &grant.webhook_secrets {
        out.push(
            open(
                sealer,
                &grant.workspace_id,
                &grant.account_id,
                SealPurpose::WebhookSecret,
                blob,
            )
            .await?,
        );
    }
    Ok(out)
}

/// Ingest's catalog reads (tiers, coupons, a disputed charge's owner) through
/// the connection's own credentials. A connection without a grant (saved before
/// credentials were stored) reads through the platform key with `Stripe-Account`,
/// as every read did before.
impl<S, Z, P> CatalogSources for SealedReaders<S, Z, P>
where
    S: ConnectionStore + GrantStore,
    Z: Sealer,
    P: StripePlatform,
    P::Reader: CatalogSource,
{
    type Source = P::Reader;

    async fn for_account(&self, account: &StripeAccountId) -> Result<P::Reader, StripeError> {
        let connection = self
            .store
            .connection_for_account(account)
            .await
            .map_err(store_error)?;
        let Some(connection) = connection else {
            return self.platform.platform_reader(account).await;
        };
        let has_grant = self
            .store
            .grant(&connection.workspace_id)
            .await
            .map_err(store_error)?
            .is_some_and(|(g, _)| &g.account_id == account);
        if has_grant {
            self.for_connection(&connection).await
        } else {
            self.platform.platform_reader(account).await
        }
    }
}
