//! Marking work: what the sync and backfill routes and the nightly trigger do. Nothing
//! here talks to Stripe; the worker picks the work up.

use crate::app::optimistic::{Round, until_committed};
use crate::domain::connection::{BackfillProgress, BackfillState, ConnectionStatus};
use crate::domain::ids::WorkspaceId;
use crate::domain::time::Timestamp;
use crate::ports::connections::ConnectionStore;
use crate::ports::store::{PageSize, StoreError};
use crate::ports::sync::{RunKind, SyncState, SyncStore};

/// The nightly sync starts at 05:45 UTC (the HubSpot cron runs at 05:30).
pub const NIGHTLY_AT_SECS_OF_DAY: i64 = 5 * 3600 + 45 * 60;

/// What asking for work found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Requested {
    /// Queued: a worker starts it shortly.
    Queued,
    /// The same kind of run is queued or in progress already: one at a time.
    AlreadyQueued,
    /// A run of this kind is in progress: one at a time.
    Running,
    /// The workspace has no Stripe connection.
    NotConnected,
}

/// Why asking for work failed.
#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Every round raced with another writer.
    #[error("the sync state kept changing concurrently")]
    Contended,
}

fn saved(r: Result<u64, StoreError>) -> Result<Round<()>, StoreError> {
    match r {
        Ok(_) => Ok(Round::Done(())),
        Err(StoreError::Conflict) | Err(StoreError::TransactionCancelled { .. }) => {
            Ok(Round::Raced)
        }
        Err(e) => Err(e),
    }
}

/// Asks for a sync of `ws` (sync-now, or the nightly run): missed events since the
/// last reconcile, then every matched profile rescored against now.
pub async fn request_sync<S>(store: &S, ws: &WorkspaceId) -> Result<Requested, RequestError>
where
    S: SyncStore + ConnectionStore,
{
    let connected = store
        .connection(ws)
        .await?
        .is_some_and(|(c, _)| c.status == ConnectionStatus::Connected);
    if !connected {
        return Ok(Requested::NotConnected);
    }
    let outcome = until_committed(|| async {
        let (mut state, version) = store
            .sync_state(ws)
            .await?
            .unwrap_or_else(|| (SyncState::new(ws.clone()), 0));
        if state.run.as_ref().is_some_and(|r| r.kind == RunKind::Sync) {
            return Ok(Round::Done(Requested::Running));
        }
        if state.sync_requested {
            return Ok(Round::Done(Requested::AlreadyQueued));
        }
        state.sync_requested = true;
        Ok::<_, StoreError>(match saved(store.save_sync_state(&state, version).await)? {
            Round::Done(()) => Round::Done(Requested::Queued),
            Round::Raced => Round::Raced,
        })
    })
    .await?;
    outcome.ok_or(RequestError::Contended)
}

/// Asks for the backfill to be read again (`POST …/backfill`): the connection's
/// backfill goes back to pending, which queues it; a run in progress restarts.
pub async fn request_backfill<S>(store: &S, ws: &WorkspaceId) -> Result<Requested, RequestError>
where
    S: ConnectionStore,
{
    let outcome = until_committed(|| async {
        let Some((mut conn, version)) = store.connection(ws).await? else {
            return Ok(Round::Done(Requested::NotConnected));
        };
        if conn.status != ConnectionStatus::Connected {
            return Ok(Round::Done(Requested::NotConnected));
        }
        if conn.backfill.state == BackfillState::Pending {
            return Ok(Round::Done(Requested::AlreadyQueued));
        }
        conn.backfill = BackfillProgress::default();
        Ok::<_, StoreError>(match saved(store.save_connection(&conn, version).await)? {
            Round::Done(()) => Round::Done(Requested::Queued),
            Round::Raced => Round::Raced,
        })
    })
    .await?;
    outcome.ok_or(RequestError::Contended)
}

/// The UTC day of `now` (`YYYY-MM-DD`), and whether the nightly time has come that day.
pub fn nightly_day(now: Timestamp) -> (String, bool) {
    let day = now.to_date();
    let secs_of_day = now.unix().rem_euclid(86_400);
    (day, secs_of_day >= NIGHTLY_AT_SECS_OF_DAY)
}

/// Starts the nightly sync once per UTC day, on the first worker run at or after 05:45:
/// every connected workspace of the region gets a sync requested. Returns how many.
pub async fn start_nightly_if_due<S>(store: &S, now: Timestamp) -> Result<u64, RequestError>
where
    S: SyncStore + ConnectionStore,
{
    let (day, due) = nightly_day(now);
    if !due || !store.claim_nightly(&day, now).await? {
        return Ok(0);
    }
    request_all(store).await
}

/// Requests a sync of every connected workspace of the region.
pub async fn request_all<S>(store: &S) -> Result<u64, RequestError>
where
    S: SyncStore + ConnectionStore,
{
    let page_size = PageSize::new(100).unwrap_or(PageSize::MIN);
    let mut queued = 0;
    let mut cursor = None;
    loop {
        let page = store.connected_workspaces(page_size, cursor).await?;
        for ws in &page.items {
            if request_sync(store, ws).await? == Requested::Queued {
                queued += 1;
            }
        }
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => return Ok(queued),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_nightly_time_is_05_45_utc() {
        let midnight = Timestamp::from_unix(1_767_225_600); // 2026-01-01T00:00:00Z
        assert_eq!(nightly_day(midnight), ("2026-01-01".to_owned(), false));
        assert!(!nightly_day(midnight.plus_secs(5 * 3600 + 44 * 60 + 59)).1);
        assert!(nightly_day(midnight.plus_secs(5 * 3600 + 45 * 60)).1);
    }
}
