//! Disconnect and erase. Disconnect revokes our access at Stripe where Stripe
//! has a revoke call (Connect's deauthorize; a failure is owed and retried by
//! the rotation job, never blocking), deletes the sealed credentials and stops
//! new events; billing state, scores, matches and history stay, so a reconnect
//! restores the billing family without losing history. Erase deletes every
//! Stripe-derived item and rescores the profiles without a billing family.
//! Both are idempotent.

use super::ConnectError;
use crate::app::optimistic::{Round, until_committed};
use crate::app::score::score_profile;
use crate::domain::connection::{ConnectMethod, ConnectionStatus};
use crate::domain::engine::EngineConfig;
use crate::domain::ids::WorkspaceId;
use crate::domain::time::Timestamp;
use crate::ports::connections::{ConnectionStore, GrantStore, StripeDataEraser};
use crate::ports::oauth::StripePlatform;
use crate::ports::profiles::ProfileStore;
use crate::ports::store::{Committed, StoreError};

/// What a disconnect did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Disconnected {
    /// Whether a connection was feeding scores before (false: already disconnected).
    pub was_connected: bool,
    /// Whether Stripe confirmed the revoke now (false: owed and retried, or none exists).
    pub revoked_at_stripe: bool,
}

/// What an erase did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Erased {
    /// Profiles rescored without a billing family.
    pub rescored: usize,
}

/// Disconnects `ws`.
pub async fn disconnect<S, P>(
    store: &S,
    platform: &P,
    ws: &WorkspaceId,
) -> Result<Disconnected, ConnectError>
where
    S: ConnectionStore + GrantStore,
    P: StripePlatform,
{
    let Some((connection, _)) = store.connection(ws).await? else {
        return Ok(Disconnected {
            was_connected: false,
            revoked_at_stripe: false,
        });
    };
    let was_connected = connection.status == ConnectionStatus::Connected;
    let mut revoked_at_stripe = false;
    if connection.method == ConnectMethod::Connect && was_connected {
        match platform.connect_deauthorize(&connection.account_id).await {
            Ok(()) => revoked_at_stripe = true,
            Err(e) => {
                tracing::warn!(workspace_id = %ws, stripe_account = %connection.account_id, error = %e, "deauthorize failed; owed and retried later");
                store.queue_deauthorization(&connection.account_id).await?;
            }
        }
    }
    let done = until_committed(|| async {
        let Some((mut c, version)) = store.connection(ws).await? else {
            return Ok::<_, StoreError>(Round::Done(()));
        };
        if c.status == ConnectionStatus::Disconnected && store.grant(ws).await?.is_none() {
            return Ok(Round::Done(()));
        }
        c.status = ConnectionStatus::Disconnected;
        c.error = None;
        match store.disconnect(&c, version).await {
            Ok(()) => Ok(Round::Done(())),
            Err(StoreError::Conflict | StoreError::TransactionCancelled { .. }) => Ok(Round::Raced),
            Err(e) => Err(e),
        }
    })
    .await?;
    if done.is_none() {
        return Err(StoreError::Conflict.into());
    }
    tracing::info!(workspace_id = %ws, was_connected, revoked_at_stripe, "Stripe disconnected; credentials deleted");
    Ok(Disconnected {
        was_connected,
        revoked_at_stripe,
    })
}

/// Erases every Stripe-derived item of `ws` and rescores its scored profiles.
pub async fn erase<S>(
    store: &S,
    cfg: &EngineConfig,
    ws: &WorkspaceId,
    now: Timestamp,
) -> Result<Erased, ConnectError>
where
    S: ConnectionStore + StripeDataEraser + ProfileStore,
{
    let connection = store.connection(ws).await?.map(|(c, _)| c);
    let account = connection.as_ref().map(|c| c.account_id.clone());
    let connected = connection.as_ref().is_some_and(|c| c.feeds_scores());
    let profiles = store.erase_stripe_data(ws, account.as_ref()).await?;
    let mut rescored = 0;
    for profile in &profiles {
        let done = until_committed(|| async {
            let Some((_, version)) = store.score(ws, &profile.profile_id).await? else {
                return Ok::<_, StoreError>(Round::Done(false));
            };
            let score = score_profile(profile, None, connected, now, cfg, "stripe data erased");
            let outcome = store.save_scored(ws, profile, &score, version).await?;
            Ok(Round::from_commit(outcome, |c| c == Committed::Done))
        })
        .await?;
        match done {
            Some(true) => rescored += 1,
            Some(false) => {}
            None => return Err(StoreError::Conflict.into()),
        }
    }
    tracing::info!(workspace_id = %ws, rescored, "Stripe-derived data erased");
    Ok(Erased { rescored })
}
