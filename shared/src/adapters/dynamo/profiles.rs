//! [`ProfileStore`] and [`IngestStore`] on the table.

use super::{Condition, DynamoStore, Index, Item, Query, SortKey, TxOp, keys};
use crate::domain::ids::{ProfileId, StripeCustomerId, StripeEventId, WorkspaceId};
use crate::domain::profile::{HistoryEntry, Profile, StoredScore};
use crate::domain::segment::segment_rank;
use crate::ports::ingest::{Commit, Committed, IngestStore, Snapshot};
use crate::ports::profiles::ProfileStore;
use crate::ports::store::{Page, PageSize, StoreCursor, StoreError};
use aws_sdk_dynamodb::types::AttributeValue;
use serde::{Deserialize, Serialize};

/// History entries are kept this long.
pub const HISTORY_TTL_DAYS: i64 = 400;

/// The customer → profile match item.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct MatchItem {
    pub profile_id: ProfileId,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct ChargeOwner {
    customer: StripeCustomerId,
}

fn score_items(
    ws: &WorkspaceId,
    score: &StoredScore,
    expected: u64,
) -> Result<Vec<TxOp>, StoreError> {
    let item = Item::json(keys::score(ws, &score.profile_id), score)?.with_gsi1(
        keys::scores(ws),
        keys::score_sort(
            &segment_rank(
                score.profile_id.as_str(),
                &score.score,
                score.billing.as_ref().map(|b| b.lifecycle),
            ),
            &score.profile_id,
        ),
    );
    let entry = HistoryEntry {
        at: score.computed_at,
        score: score.score.score,
        reason: score.reason.clone(),
    };
    let history = Item::json(
        keys::history_entry(ws, &score.profile_id, score.computed_at, &score.reason),
        &entry,
    )?
    .with_ttl(score.computed_at.plus_days(HISTORY_TTL_DAYS).unix());
    let condition = if expected == 0 {
        Condition::Absent
    } else {
        Condition::Version(expected)
    };
    Ok(vec![
        TxOp::Put(item, condition),
        TxOp::Put(history, Condition::None),
    ])
}

/// The profile and, when it names a customer, the customer → profile match.
fn profile_items(workspace: &WorkspaceId, profile: &Profile) -> Result<Vec<TxOp>, StoreError> {
    let mut ops = vec![TxOp::Put(
        Item::json(keys::profile(workspace, &profile.profile_id), profile)?,
        Condition::None,
    )];
    if let Some(customer) = &profile.stripe_customer_id {
        let m = MatchItem {
            profile_id: profile.profile_id.clone(),
        };
        ops.push(TxOp::Put(
            Item::json(keys::customer_match(workspace, customer), &m)?,
            Condition::None,
        ));
    }
    Ok(ops)
}

/// DynamoDB refuses a start key outside the query's partition or sort range
/// (a cursor of another workspace, or from before a threshold change) with a
/// validation error: that is a bad cursor, never an outage.
/// The at-risk cursor that starts the churned range.
const CHURNED_START: &str = "churned";

/// Checks an at-risk cursor points into this workspace's score index, within
/// one of the two ranges; returns whether it is in the live range.
fn check_score_cursor(
    cursor: &StoreCursor,
    workspace: &WorkspaceId,
    partition: &str,
    min_score: u8,
) -> Result<bool, StoreError> {
    let start = super::cursor::decode(cursor.as_str(), Index::Gsi1)?;
    let attr = |name: &str| match start.get(name) {
        Some(AttributeValue::S(v)) => Some(v.as_str()),
        _ => None,
    };
    let fits = attr("pk") == Some(keys::workspace(workspace).as_str())
        && attr("sk").is_some_and(|sk| sk.starts_with("SCORE#"))
        && attr("gsi1pk") == Some(partition);
    let in_range = |live: bool| {
        let (from, to) = keys::score_range(live, min_score);
        attr("gsi1sk").is_some_and(|sk| (from.as_str()..=to.as_str()).contains(&sk))
    };
    match (fits, in_range(true), in_range(false)) {
        (true, true, _) => Ok(true),
        (true, false, true) => Ok(false),
        _ => Err(StoreError::BadCursor),
    }
}

impl ProfileStore for DynamoStore {
    async fn put_profile(
        &self,
        workspace: &WorkspaceId,
        profile: &Profile,
    ) -> Result<(), StoreError> {
        self.transact(profile_items(workspace, profile)?).await
    }

    async fn profile(
        &self,
        workspace: &WorkspaceId,
        id: &ProfileId,
    ) -> Result<Option<Profile>, StoreError> {
        self.get(&keys::profile(workspace, id))
            .await?
            .map(|i| i.parse())
            .transpose()
    }

    async fn score(
        &self,
        workspace: &WorkspaceId,
        id: &ProfileId,
    ) -> Result<Option<(StoredScore, u64)>, StoreError> {
        match self.get(&keys::score(workspace, id)).await? {
            Some(i) => Ok(Some((i.parse()?, i.version))),
            None => Ok(None),
        }
    }

    async fn save_scored_with_events(
        &self,
        workspace: &WorkspaceId,
        profile: &Profile,
        score: &StoredScore,
        expected: u64,
        outbox: &[crate::ports::outbound::OutboundEvent],
    ) -> Result<Committed, StoreError> {
        let mut ops = profile_items(workspace, profile)?;
        ops.extend(score_items(workspace, score, expected)?);
        for event in outbox {
            ops.push(super::outbound::outbox_item(event)?);
        }
        match self.transact(ops).await {
            Ok(()) => Ok(Committed::Done),
            Err(StoreError::TransactionCancelled { reasons })
                if reasons.contains("ConditionalCheckFailed") =>
            {
                Ok(Committed::Raced)
            }
            Err(StoreError::TransactionCancelled { reasons }) => Err(StoreError::Unavailable(
                format!("transaction cancelled: {reasons}"),
            )),
            Err(e) => Err(e),
        }
    }

    async fn at_risk(
        &self,
        workspace: &WorkspaceId,
        min_score: u8,
        limit: PageSize,
        cursor: Option<StoreCursor>,
    ) -> Result<Page<StoredScore>, StoreError> {
        // Two ranges in the segment's order: live customers, then churned ones.
        // A cursor names its range by its own sort key; `CHURNED_START` starts the second.
        let partition = keys::scores(workspace);
        let (mut live, mut start) = match cursor {
            None => (true, None),
            Some(c) if c.as_str() == CHURNED_START => (false, None),
            Some(c) => {
                let live = check_score_cursor(&c, workspace, &partition, min_score)?;
                (live, Some(c))
            }
        };
        let mut items = Vec::new();
        loop {
            let room = usize::from(limit.get()) - items.len();
            let mut q = Query::partition(Index::Gsi1, partition.clone());
            let (from, to) = keys::score_range(live, min_score);
            q.sort = SortKey::Between(from, to);
            q.forward = false;
            q.limit = i32::try_from(room).ok();
            q.cursor = start.take();
            let page = self.query(&q).await?;
            for item in &page.items {
                items.push(item.parse()?);
            }
            match page.next_cursor {
                Some(next) => {
                    return Ok(Page {
                        items,
                        next_cursor: Some(next),
                    });
                }
                None if live && items.len() < usize::from(limit.get()) => live = false,
                None if live => {
                    return Ok(Page {
                        items,
                        next_cursor: Some(StoreCursor::new(CHURNED_START.to_owned())),
                    });
                }
                None => {
                    return Ok(Page {
                        items,
                        next_cursor: None,
                    });
                }
            }
        }
    }

    async fn history(
        &self,
        workspace: &WorkspaceId,
        id: &ProfileId,
        limit: PageSize,
    ) -> Result<Vec<HistoryEntry>, StoreError> {
        let mut q = Query::partition(Index::Table, keys::history(workspace, id));
        q.forward = false;
        q.limit = Some(i32::from(limit.get()));
        self.query(&q)
            .await?
            .items
            .iter()
            .map(Item::parse)
            .collect()
    }
}

impl IngestStore for DynamoStore {
    async fn snapshot(
        &self,
        workspace: &WorkspaceId,
        event: Option<&StripeEventId>,
        customer: &StripeCustomerId,
    ) -> Result<Snapshot, StoreError> {
        let event_key = event.map(|e| keys::event(workspace, e));
        let billing_key = keys::billing(workspace, customer);
        let match_key = keys::customer_match(workspace, customer);
        let mut wanted = vec![billing_key.clone(), match_key.clone()];
        wanted.extend(event_key.clone());
        let found = self.batch_get(&wanted).await?;
        let mut snap = Snapshot::default();
        let mut matched: Option<MatchItem> = None;
        for item in &found {
            if Some(&item.key) == event_key.as_ref() {
                snap.recorded = Some((item.parse()?, item.version));
            } else if item.key == billing_key {
                snap.billing = (item.parse()?, item.version);
            } else if item.key == match_key {
                matched = Some(item.parse()?);
            }
        }
        if let Some(m) = matched {
            let profile_key = keys::profile(workspace, &m.profile_id);
            let s_key = keys::score(workspace, &m.profile_id);
            for item in self
                .batch_get(&[profile_key.clone(), s_key.clone()])
                .await?
            {
                if item.key == profile_key {
                    snap.profile = Some(item.parse()?);
                } else if item.key == s_key {
                    snap.score_version = item.version;
                    snap.score = Some(item.parse()?);
                }
            }
        }
        Ok(snap)
    }

    async fn charge_owner(
        &self,
        workspace: &WorkspaceId,
        charge: &str,
    ) -> Result<Option<StripeCustomerId>, StoreError> {
        match self.get(&keys::charge_owner(workspace, charge)).await? {
            Some(i) => Ok(Some(i.parse::<ChargeOwner>()?.customer)),
            None => Ok(None),
        }
    }

    async fn commit(&self, c: &Commit) -> Result<Committed, StoreError> {
        let ws = &c.workspace;
        let billing = Item::json(keys::billing(ws, &c.customer), &c.billing)?;
        let billing_condition = if c.billing_version == 0 {
            Condition::Absent
        } else {
            Condition::Version(c.billing_version)
        };
        // The event record goes first, so its condition is the first reason on a cancel.
        let mut ops = Vec::with_capacity(4);
        let new_event = matches!(c.event, Some((_, 0)));
        if let Some((record, version)) = &c.event {
            let condition = if *version == 0 {
                Condition::Absent
            } else {
                Condition::Version(*version)
            };
            ops.push(TxOp::Put(super::events::event_item(record)?, condition));
        }
        ops.push(TxOp::Put(billing, billing_condition));
        if let Some((score, expected)) = &c.score {
            ops.extend(score_items(ws, score, *expected)?);
        }
        for event in &c.outbox {
            ops.push(super::outbound::outbox_item(event)?);
        }
        // One op per key (a transaction refuses two on the same item); at most
        // 100 items, so owners beyond that are written by a later pass.
        let mut owners: Vec<_> = c.charge_owners.iter().collect();
        owners.sort_by(|a, b| a.payment.cmp(&b.payment));
        owners.dedup_by(|a, b| a.payment == b.payment);
        let room = 100usize.saturating_sub(ops.len());
        for o in owners.into_iter().take(room) {
            let owner = ChargeOwner {
                customer: o.customer.clone(),
            };
            ops.push(TxOp::Put(
                Item::json(keys::charge_owner(ws, o.payment.as_str()), &owner)?,
                Condition::None,
            ));
        }
        match self.transact(ops).await {
            Ok(()) => Ok(Committed::Done),
            Err(StoreError::TransactionCancelled { reasons }) => {
                let first = reasons.split(',').next().unwrap_or_default();
                if first == "ConditionalCheckFailed" && new_event {
                    Ok(Committed::Duplicate)
                } else if reasons.contains("ConditionalCheckFailed") {
                    Ok(Committed::Raced)
                } else {
                    Err(StoreError::Unavailable(format!(
                        "transaction cancelled: {reasons}"
                    )))
                }
            }
            Err(e) => Err(e),
        }
    }
}
