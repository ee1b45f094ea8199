//! The credential job (every 6 hours): refreshes every Stripe Apps token,
//! re-seals every stored credential under a fresh data key (and the current
//! key version), and retries Connect deauthorizations still owed from a
//! disconnect. One connection's failure never stops the others.

use super::credentials::SealedReaders;
use super::flow::seal_ctx;
use crate::domain::connection::ConnectionStatus;
use crate::domain::time::Timestamp;
use crate::ports::connections::{ConnectionStore, Credential, Grant, GrantStore};
use crate::ports::keys::{KeyError, SealPurpose, SealedBlob, Sealer};
use crate::ports::oauth::StripePlatform;
use crate::ports::store::StoreError;

/// What one run did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Rotated {
    /// Grants re-sealed under fresh data keys.
    pub resealed: usize,
    /// Stripe Apps tokens refreshed.
    pub refreshed: usize,
    /// Connections that failed this run (logged; retried next run).
    pub failed: usize,
    /// Owed Connect deauthorizations Stripe confirmed.
    pub deauthorized: usize,
}

async fn reseal_blob<Z: Sealer>(
    sealer: &Z,
    grant: &Grant,
    purpose: SealPurpose,
    blob: &SealedBlob,
) -> Result<SealedBlob, KeyError> {
    let ctx = seal_ctx(&grant.workspace_id, &grant.account_id, purpose);
    let plain = sealer.open(&ctx, blob).await?;
    sealer.seal(&ctx, &plain).await
}

/// `grant` with every blob opened and sealed again under a fresh data key.
async fn resealed<Z: Sealer>(sealer: &Z, grant: &Grant, now: Timestamp) -> Result<Grant, KeyError> {
    let mut out = grant.clone();
    out.credential = match &grant.credential {
        Credential::Connect { refresh_token } => Credential::Connect {
            refresh_token: match refresh_token {
                Some(b) => {
                    Some(reseal_blob(sealer, grant, SealPurpose::OauthRefreshToken, b).await?)
                }
                None => None,
            },
        },
        Credential::App {
            access_token,
            expires_at,
            refresh_token,
        } => Credential::App {
            access_token: reseal_blob(sealer, grant, SealPurpose::AccessToken, access_token)
                .await?,
            expires_at: *expires_at,
            refresh_token: reseal_blob(
                sealer,
                grant,
                SealPurpose::OauthRefreshToken,
                refresh_token,
            )
            .await?,
        },
        Credential::ApiKey { key } => Credential::ApiKey {
            key: reseal_blob(sealer, grant, SealPurpose::RestrictedKey, key).await?,
        },
    };
    let mut secrets = Vec::with_capacity(grant.webhook_secrets.len());
    for b in &grant.webhook_secrets {
        secrets.push(reseal_blob(sealer, grant, SealPurpose::WebhookSecret, b).await?);
    }
    out.webhook_secrets = secrets;
    out.sealed_at = now;
    Ok(out)
}

/// One run of the credential job at `now`. Fails only when the list of grants
/// cannot be read.
pub async fn rotate_all<S, Z, P>(
    readers: &SealedReaders<S, Z, P>,
    now: Timestamp,
) -> Result<Rotated, StoreError>
where
    S: ConnectionStore + GrantStore,
    Z: Sealer,
    P: StripePlatform,
{
    let store = &readers.store;
    let mut out = Rotated::default();
    for ws in store.granted_workspaces().await? {
        let Some((connection, _)) = store.connection(&ws).await? else {
            continue;
        };
        if connection.status != ConnectionStatus::Connected {
            continue;
        }
        let Some((grant, _)) = store.grant(&ws).await? else {
            continue;
        };
        if matches!(grant.credential, Credential::App { .. }) {
            match readers.refresh_now(&connection).await {
                Ok(true) => out.refreshed += 1,
                Ok(false) => {}
                Err(e) => {
                    tracing::warn!(workspace_id = %ws, error = %e, "Stripe Apps token refresh failed");
                    out.failed += 1;
                    continue;
                }
            }
        }
        // Re-read: a refresh above wrote a new version.
        let Some((grant, version)) = store.grant(&ws).await? else {
            continue;
        };
        if grant.refreshing_until.is_some_and(|t| t > now) {
            continue;
        }
        match resealed(&readers.sealer, &grant, now).await {
            Ok(fresh) => match store.save_grant(&fresh, version).await {
                Ok(_) => out.resealed += 1,
                // A refresh won the race and sealed anew itself; next run re-seals.
                Err(StoreError::Conflict) => {}
                Err(e) => {
                    tracing::warn!(workspace_id = %ws, error = %e, "re-sealed grant not stored");
                    out.failed += 1;
                }
            },
            Err(e) => {
                tracing::warn!(workspace_id = %ws, error = %e, "grant could not be re-sealed");
                out.failed += 1;
            }
        }
    }
    for account in store.owed_deauthorizations().await? {
        match readers.platform.connect_deauthorize(&account).await {
            Ok(()) => {
                store.deauthorization_done(&account).await?;
                out.deauthorized += 1;
            }
            // Stripe says we are not connected to it any more: nothing is owed.
            Err(e) if e.code() == crate::domain::error_code::ErrorCode::ERR_BAD_REQUEST => {
                store.deauthorization_done(&account).await?;
            }
            Err(e) => {
                tracing::warn!(stripe_account = %account, error = %e, "owed deauthorize failed again")
            }
        }
    }
    tracing::info!(
        resealed = out.resealed,
        refreshed = out.refreshed,
        failed = out.failed,
        deauthorized = out.deauthorized,
        "credential job done"
    );
    Ok(out)
}
