//! [`EndpointStore`] and [`OutboxStore`] on the table (see `docs/tables.md`):
//! endpoints under the workspace, outbox events per profile (queued on gsi2
//! `OUTBOX`), deliveries per lane (listed on gsi1 per endpoint, queued on gsi2
//! `OUTBOUND` while pending).

use super::{Condition, DynamoStore, Index, Item, Query, SortKey, TxOp, keys};
use crate::domain::ids::{ProfileId, WorkspaceId};
use crate::domain::time::Timestamp;
use crate::ports::outbound::{
    Delivery, DeliveryStatus, Endpoint, EndpointId, EndpointStore, Lane, OutboundEvent, OutboxStore,
};
use crate::ports::store::{Committed, StoreError};

/// Finished deliveries are kept this long (the deliveries route shows them).
pub const DELIVERY_TTL_DAYS: i64 = 30;

/// The version every outbox item has: written once, never updated.
const OUTBOX_ITEM_VERSION: u64 = 1;

/// The outbox item of `event`: written in the transaction of the score that made it.
pub(crate) fn outbox_item(event: &OutboundEvent) -> Result<TxOp, StoreError> {
    let ws = &event.workspace_id;
    let item = Item::json(
        super::Key::new(keys::outbox(ws, &event.profile_id), event.seq.clone()),
        event,
    )?
    .with_gsi2(
        keys::OUTBOX_QUEUE,
        keys::outbox_sort(ws, &event.profile_id, &event.seq),
    );
    // `seq` comes from the score's version, which the same transaction checks:
    // an existing item means a bug, so the write must fail rather than overwrite.
    Ok(TxOp::Put(item, Condition::Absent))
}

fn delivery_key(d: &Delivery) -> super::Key {
    super::Key::new(
        keys::delivery_lane(&d.workspace_id, &d.endpoint, &d.profile_id),
        d.seq.clone(),
    )
}

fn delivery_item(d: &Delivery) -> Result<Item, StoreError> {
    let ws = &d.workspace_id;
    let item = Item::json(delivery_key(d), d)?
        .with_gsi1(keys::endpoint_deliveries(ws, &d.endpoint), d.id.clone());
    Ok(match d.status {
        DeliveryStatus::Pending => item.with_gsi2(
            keys::DELIVERY_QUEUE,
            keys::delivery_due_sort(d.next_at, ws, &d.endpoint, &d.profile_id, &d.seq),
        ),
        DeliveryStatus::Delivered | DeliveryStatus::Failed => {
            let last = d.attempts.last().map(|a| a.at).unwrap_or(d.created);
            item.with_ttl(last.plus_days(DELIVERY_TTL_DAYS).unix())
        }
    })
}

fn cancelled_as_raced(r: Result<(), StoreError>) -> Result<Committed, StoreError> {
    match r {
        Ok(()) => Ok(Committed::Done),
        Err(StoreError::TransactionCancelled { reasons })
            if reasons.contains("ConditionalCheckFailed") =>
        {
            Ok(Committed::Raced)
        }
        Err(StoreError::Conflict) => Ok(Committed::Raced),
        Err(StoreError::TransactionCancelled { reasons }) => Err(StoreError::Unavailable(format!(
            "transaction cancelled: {reasons}"
        ))),
        Err(e) => Err(e),
    }
}

impl EndpointStore for DynamoStore {
    async fn put_endpoint(
        &self,
        workspace: &WorkspaceId,
        endpoint: &Endpoint,
    ) -> Result<(), StoreError> {
        let item = Item::json(keys::webhook_endpoint(workspace, &endpoint.id), endpoint)?;
        self.put(&item, Condition::Absent).await.map(|_| ())
    }

    async fn endpoints(&self, workspace: &WorkspaceId) -> Result<Vec<Endpoint>, StoreError> {
        let mut q = Query::partition(Index::Table, keys::workspace(workspace));
        q.sort = SortKey::Prefix(keys::WEBHOOK_ENDPOINT_PREFIX.to_owned());
        let mut all: Vec<Endpoint> = self
            .query_all(&q)
            .await?
            .iter()
            .map(Item::parse)
            .collect::<Result<_, _>>()?;
        all.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        Ok(all)
    }

    async fn delete_endpoint(
        &self,
        workspace: &WorkspaceId,
        id: &EndpointId,
    ) -> Result<bool, StoreError> {
        // Exists-conditioned, so a second delete tells the caller it found nothing.
        let key = keys::webhook_endpoint(workspace, id);
        match self.get(&key).await? {
            None => Ok(false),
            Some(item) => match self.delete(&key, Condition::Version(item.version)).await {
                Ok(()) => Ok(true),
                Err(StoreError::Conflict) => Ok(false),
                Err(e) => Err(e),
            },
        }
    }
}

impl OutboxStore for DynamoStore {
    async fn queued_profiles(
        &self,
        limit: u16,
    ) -> Result<Vec<(WorkspaceId, ProfileId)>, StoreError> {
        let mut q = Query::partition(Index::Gsi2, keys::OUTBOX_QUEUE);
        q.limit = Some(i32::from(limit.max(1)));
        let mut out: Vec<(WorkspaceId, ProfileId)> = Vec::new();
        for item in self.query(&q).await?.items {
            let e: OutboundEvent = item.parse()?;
            let pair = (e.workspace_id, e.profile_id);
            if !out.contains(&pair) {
                out.push(pair);
            }
        }
        Ok(out)
    }

    async fn outbox(
        &self,
        workspace: &WorkspaceId,
        profile: &ProfileId,
    ) -> Result<Vec<OutboundEvent>, StoreError> {
        let q = Query::partition(Index::Table, keys::outbox(workspace, profile));
        self.query_all(&q).await?.iter().map(Item::parse).collect()
    }

    async fn fan_out(
        &self,
        event: &OutboundEvent,
        deliveries: &[Delivery],
    ) -> Result<Committed, StoreError> {
        let key = super::Key::new(
            keys::outbox(&event.workspace_id, &event.profile_id),
            event.seq.clone(),
        );
        // An outbox item is written once (`attribute_not_exists`, so at version 1) and never
        // updated: deleting at version 1 fails only if another run removed it first.
        let mut ops = vec![TxOp::Delete(key, Condition::Version(OUTBOX_ITEM_VERSION))];
        for d in deliveries {
            ops.push(TxOp::Put(delivery_item(d)?, Condition::Absent));
        }
        cancelled_as_raced(self.transact(ops).await)
    }

    async fn due_lanes(&self, now: Timestamp, limit: u16) -> Result<Vec<Lane>, StoreError> {
        let mut q = Query::partition(Index::Gsi2, keys::DELIVERY_QUEUE);
        q.sort = SortKey::AtMost(keys::retry_due_until(now));
        q.limit = Some(i32::from(limit.max(1)));
        let mut out: Vec<Lane> = Vec::new();
        for item in self.query(&q).await?.items {
            let d: Delivery = item.parse()?;
            let lane = Lane {
                workspace: d.workspace_id,
                endpoint: d.endpoint,
                profile: d.profile_id,
            };
            if !out.contains(&lane) {
                out.push(lane);
            }
        }
        Ok(out)
    }

    async fn lane(&self, lane: &Lane) -> Result<Vec<(Delivery, u64)>, StoreError> {
        let q = Query::partition(
            Index::Table,
            keys::delivery_lane(&lane.workspace, &lane.endpoint, &lane.profile),
        );
        self.query_all(&q)
            .await?
            .iter()
            .map(|i| Ok((i.parse()?, i.version)))
            .collect()
    }

    async fn save_delivery(
        &self,
        workspace: &WorkspaceId,
        delivery: &Delivery,
        expected: u64,
    ) -> Result<Committed, StoreError> {
        if &delivery.workspace_id != workspace {
            return Err(StoreError::Invalid(
                "a delivery is saved only in its own workspace".into(),
            ));
        }
        let item = delivery_item(delivery)?;
        match self.put(&item, Condition::Version(expected)).await {
            Ok(_) => Ok(Committed::Done),
            Err(StoreError::Conflict) => Ok(Committed::Raced),
            Err(e) => Err(e),
        }
    }

    async fn deliveries(
        &self,
        workspace: &WorkspaceId,
        endpoint: &EndpointId,
        limit: u16,
    ) -> Result<Vec<Delivery>, StoreError> {
        let mut q = Query::partition(Index::Gsi1, keys::endpoint_deliveries(workspace, endpoint));
        q.forward = false;
        q.limit = Some(i32::from(limit.max(1)));
        self.query(&q)
            .await?
            .items
            .iter()
            .map(Item::parse)
            .collect()
    }

    async fn delivery(
        &self,
        workspace: &WorkspaceId,
        endpoint: &EndpointId,
        id: &str,
    ) -> Result<Option<(Delivery, u64)>, StoreError> {
        // The index finds the lane; the table read is consistent and carries the version.
        let mut q = Query::partition(Index::Gsi1, keys::endpoint_deliveries(workspace, endpoint));
        q.sort = SortKey::Between(id.to_owned(), id.to_owned());
        q.limit = Some(1);
        let Some(found) = self.query(&q).await?.items.into_iter().next() else {
            return Ok(None);
        };
        match self.get(&found.key).await? {
            Some(i) => Ok(Some((i.parse()?, i.version))),
            None => Ok(None),
        }
    }
}
