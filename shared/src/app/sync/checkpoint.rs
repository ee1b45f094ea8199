//! The lease and the checkpoints: a worker holds a workspace's sync state through
//! conditional writes. Taking the lease is a write conditioned on the version it read
//! (a free or lapsed lease); each checkpoint renews it under the same condition. A write
//! that finds another version reloads: another worker holding the lease now means ours
//! lapsed and this worker stops ([`SyncError::LeaseLost`]); a route that only asked for
//! work (a flag) is merged and the checkpoint written again.

use super::SyncError;
use crate::domain::ids::WorkspaceId;
use crate::domain::time::Timestamp;
use crate::ports::store::StoreError;
use crate::ports::sync::{Lease, SyncState, SyncStore};
use tokio::sync::Mutex;

/// Rounds of reload-and-merge before a checkpoint gives up.
const MAX_MERGES: u32 = 8;

/// A workspace's sync state while this worker holds its lease.
pub struct Held<'a, S> {
    store: &'a S,
    owner: String,
    lease_secs: i64,
    inner: Mutex<(SyncState, u64)>,
}

impl<'a, S: SyncStore> Held<'a, S> {
    /// Takes `ws`'s lease for `lease_secs` if no other worker holds it at `now`, after
    /// `prepare` (which may start a run). `None`: another worker holds it (or got it first).
    pub async fn acquire(
        store: &'a S,
        ws: &WorkspaceId,
        owner: &str,
        now: Timestamp,
        lease_secs: i64,
        prepare: impl FnOnce(&mut SyncState),
    ) -> Result<Option<Self>, StoreError> {
        let (mut state, version) = store
            .sync_state(ws)
            .await?
            .unwrap_or_else(|| (SyncState::new(ws.clone()), 0));
        if state.leased_by_other(owner, now) {
            return Ok(None);
        }
        prepare(&mut state);
        state.lease = Some(Lease {
            owner: owner.to_owned(),
            until: now.plus_secs(lease_secs),
        });
        match store.save_sync_state(&state, version).await {
            Ok(v) => Ok(Some(Self {
                store,
                owner: owner.to_owned(),
                lease_secs,
                inner: Mutex::new((state, v)),
            })),
            Err(StoreError::Conflict) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The state as last written.
    pub async fn state(&self) -> SyncState {
        self.inner.lock().await.0.clone()
    }

    /// Applies `change` and writes it, renewing the lease until `now + lease`.
    pub async fn update(
        &self,
        now: Timestamp,
        change: impl Fn(&mut SyncState),
    ) -> Result<SyncState, SyncError> {
        self.write(now, change, true).await
    }

    /// Applies `change` and writes it with the lease released, so the next worker
    /// may continue at once. The holder must not write again.
    pub async fn release(
        &self,
        now: Timestamp,
        change: impl Fn(&mut SyncState),
    ) -> Result<SyncState, SyncError> {
        self.write(now, change, false).await
    }

    async fn write(
        &self,
        now: Timestamp,
        change: impl Fn(&mut SyncState),
        keep: bool,
    ) -> Result<SyncState, SyncError> {
        let mut guard = self.inner.lock().await;
        let (mut state, mut version) = guard.clone();
        for _ in 0..MAX_MERGES {
            change(&mut state);
            state.lease = keep.then(|| Lease {
                owner: self.owner.clone(),
                until: now.plus_secs(self.lease_secs),
            });
            match self.store.save_sync_state(&state, version).await {
                Ok(v) => {
                    *guard = (state.clone(), v);
                    return Ok(state);
                }
                Err(StoreError::Conflict) => {
                    let Some((fresh, v)) = self.store.sync_state(&state.workspace).await? else {
                        return Err(SyncError::LeaseLost);
                    };
                    let ours = fresh.lease.as_ref().is_some_and(|l| l.owner == self.owner);
                    if !ours {
                        return Err(SyncError::LeaseLost);
                    }
                    // Someone only asked for work: keep their flag, our run and cursors.
                    let run = guard.0.run.clone();
                    state = fresh;
                    state.run = run;
                    version = v;
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(SyncError::Store(StoreError::Unavailable(
            "the sync state kept changing concurrently".into(),
        )))
    }
}
