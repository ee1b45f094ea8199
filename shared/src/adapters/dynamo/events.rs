//! [`EventLog`] on the table. Event items expire after [`EVENT_TTL_DAYS`];
//! retrying events sit in the sparse GSI2 queue, failed ones in GSI1.

use super::{Condition, DynamoStore, Index, Item, Query, SortKey, keys};
use crate::domain::ids::{StripeEventId, WorkspaceId};
use crate::domain::time::Timestamp;
use crate::ports::events::{EventLog, EventRecord, EventStatus, Recorded};
use crate::ports::store::{PageSize, StoreError};

/// Recorded events are kept this long: past Stripe's 3-day retry window and
/// its 30-day `/v1/events` window, so a replay can still find them.
pub const EVENT_TTL_DAYS: i64 = 35;

pub(crate) fn event_item(record: &EventRecord) -> Result<Item, StoreError> {
    let ws = &record.workspace_id;
    let id = &record.event.id;
    let mut item = Item::json(keys::event(ws, id), record)?
        .with_ttl(record.received_at.plus_days(EVENT_TTL_DAYS).unix());
    match &record.status {
        EventStatus::Retrying { next_attempt_at } => {
            item = item.with_gsi2(
                keys::RETRY_QUEUE,
                keys::retry_sort(*next_attempt_at, ws, id),
            );
        }
        EventStatus::Failed => {
            item = item.with_gsi1(keys::failed_events(ws), id.as_str());
        }
        EventStatus::Applied { .. } | EventStatus::Skipped { .. } => {}
    }
    Ok(item)
}

impl EventLog for DynamoStore {
    async fn record(&self, record: &EventRecord) -> Result<Recorded, StoreError> {
        match self.put(&event_item(record)?, Condition::Absent).await {
            Ok(_) => Ok(Recorded::New),
            Err(StoreError::Conflict) => Ok(Recorded::Duplicate),
            Err(e) => Err(e),
        }
    }

    async fn event(
        &self,
        workspace: &WorkspaceId,
        id: &StripeEventId,
    ) -> Result<Option<(EventRecord, u64)>, StoreError> {
        match self.get(&keys::event(workspace, id)).await? {
            Some(item) => Ok(Some((item.parse()?, item.version))),
            None => Ok(None),
        }
    }

    async fn update(&self, record: &EventRecord, expected: u64) -> Result<u64, StoreError> {
        self.put(&event_item(record)?, Condition::Version(expected))
            .await
    }

    async fn failed(&self, workspace: &WorkspaceId) -> Result<Vec<EventRecord>, StoreError> {
        let q = Query::partition(Index::Gsi1, keys::failed_events(workspace));
        self.query_all(&q).await?.iter().map(Item::parse).collect()
    }

    async fn due(
        &self,
        now: Timestamp,
        limit: PageSize,
    ) -> Result<Vec<(EventRecord, u64)>, StoreError> {
        let mut q = Query::partition(Index::Gsi2, keys::RETRY_QUEUE);
        // Everything due up to and including `now`; '~' sorts after every id character.
        q.sort = SortKey::AtMost(keys::retry_due_until(now));
        q.limit = Some(i32::from(limit.get()));
        let page = self.query(&q).await?;
        page.items
            .iter()
            .map(|i| Ok((i.parse()?, i.version)))
            .collect()
    }
}
