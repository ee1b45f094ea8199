//! [`SyncStore`] on the table: one sync-state item per workspace, in the sync queue
//! (GSI2 `SYNCQ`, by due time) while it has work; the region's connections listed on
//! GSI1 `CONNS`, and a connection with a pending backfill queued on GSI2 as well, so a
//! new connection is picked up without its writer knowing about the queue.

use super::{Condition, DynamoStore, Index, Item, Query, SortKey, keys};
use crate::domain::connection::{BackfillState, Connection, ConnectionStatus};
use crate::domain::ids::WorkspaceId;
use crate::domain::time::Timestamp;
use crate::ports::store::{Page, PageSize, StoreCursor, StoreError};
use crate::ports::sync::{SyncState, SyncStore};

/// Nightly claims are kept this long.
const NIGHTLY_CLAIM_TTL_DAYS: i64 = 3;

/// The connection item's index keys: listed among the region's connections, and queued
/// while its backfill waits to start. `connections.rs` calls this on every write.
pub(crate) fn index_connection(item: Item, connection: &Connection) -> Item {
    let ws = &connection.workspace_id;
    let item = item.with_gsi1(keys::CONNECTIONS, ws.as_str());
    let pending = connection.status == ConnectionStatus::Connected
        && connection.backfill.state == BackfillState::Pending;
    if pending {
        item.with_gsi2(
            keys::SYNC_QUEUE,
            keys::sync_due_sort(Timestamp::from_unix(0), ws),
        )
    } else {
        item
    }
}

/// The workspace a queue or registry entry names (the table key's `WS#…`).
fn workspace_of(item: &Item) -> Result<WorkspaceId, StoreError> {
    let raw = item
        .key
        .pk
        .strip_prefix("WS#")
        .ok_or_else(|| StoreError::Corrupt(format!("not a workspace item: {}", item.key.pk)))?;
    WorkspaceId::parse(raw).map_err(|e| StoreError::Corrupt(e.to_string()))
}

impl SyncStore for DynamoStore {
    async fn sync_state(
        &self,
        workspace: &WorkspaceId,
    ) -> Result<Option<(SyncState, u64)>, StoreError> {
        match self.get(&keys::sync_state(workspace)).await? {
            Some(item) => Ok(Some((item.parse()?, item.version))),
            None => Ok(None),
        }
    }

    async fn save_sync_state(&self, state: &SyncState, expected: u64) -> Result<u64, StoreError> {
        let ws = &state.workspace;
        let mut item = Item::json(keys::sync_state(ws), state)?;
        if let Some(due) = state.due_at() {
            item = item.with_gsi2(keys::SYNC_QUEUE, keys::sync_due_sort(due, ws));
        }
        let condition = if expected == 0 {
            Condition::Absent
        } else {
            Condition::Version(expected)
        };
        self.put(&item, condition).await
    }

    async fn due_syncs(
        &self,
        now: Timestamp,
        limit: PageSize,
    ) -> Result<Vec<WorkspaceId>, StoreError> {
        let mut q = Query::partition(Index::Gsi2, keys::SYNC_QUEUE);
        q.sort = SortKey::AtMost(keys::sync_due_until(now));
        q.limit = Some(i32::from(limit.get()));
        let page = self.query(&q).await?;
        let mut out: Vec<WorkspaceId> = Vec::with_capacity(page.items.len());
        for item in &page.items {
            let ws = workspace_of(item)?;
            if !out.contains(&ws) {
                out.push(ws);
            }
        }
        Ok(out)
    }

    async fn connected_workspaces(
        &self,
        limit: PageSize,
        cursor: Option<StoreCursor>,
    ) -> Result<Page<WorkspaceId>, StoreError> {
        let mut q = Query::partition(Index::Gsi1, keys::CONNECTIONS);
        q.limit = Some(i32::from(limit.get()));
        q.cursor = cursor;
        let page = self.query(&q).await?;
        Ok(Page {
            items: page
                .items
                .iter()
                .map(workspace_of)
                .collect::<Result<_, _>>()?,
            next_cursor: page.next_cursor,
        })
    }

    async fn claim_nightly(&self, day: &str, now: Timestamp) -> Result<bool, StoreError> {
        let item = Item::json(keys::nightly_claim(day), &day)?
            .with_ttl(now.plus_days(NIGHTLY_CLAIM_TTL_DAYS).unix());
        match self.put(&item, Condition::Absent).await {
            Ok(_) => Ok(true),
            Err(StoreError::Conflict) => Ok(false),
            Err(e) => Err(e),
        }
    }
}
