//! [`ProfileStore`] and [`IngestStore`] on the table.

use super::{Condition, DynamoStore, Index, Item, Query, SortKey, TxOp, keys};
use crate::domain::ids::{ProfileId, StripeCustomerId, StripeEventId, WorkspaceId};
use crate::domain::profile::{HistoryEntry, Profile, StoredScore};
use crate::domain::segment::{SegmentOrder, segment_rank};
use crate::ports::ingest::{Commit, Committed, IngestStore, Snapshot};
use crate::ports::profiles::{ProfileStore, SegmentEntry};
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
    let rank = segment_rank(
        score.profile_id.as_str(),
        &score.score,
        score.billing.as_ref().map(|b| b.lifecycle),
    );
    let mut item = Item::json(keys::score(ws, &score.profile_id), score)?
        .with_gsi1(keys::scores(ws), keys::score_sort(&rank, &score.profile_id));
    // Sparse: only an at-risk score that rose is in the rising index; a later
    // put without it takes the profile out.
    let rise_tenths = (score.rise_7d * 10.0).round();
    if score.score.at_risk && rise_tenths >= 1.0 {
        item = item.with_gsi2(
            keys::rising(ws),
            keys::rising_sort(
                rise_tenths.min(1_000.0) as u16,
                rank.score_tenths(),
                &score.profile_id,
            ),
        );
    }
    let condition = if expected == 0 {
        Condition::Absent
    } else {
        Condition::Version(expected)
    };
    let mut ops = vec![TxOp::Put(item, condition)];
    if let Some(entry) = HistoryEntry::of(score) {
        // The version this write gives the score item: unique per write.
        let written = expected + 1;
        let history = Item::json(
            keys::history_entry(ws, &score.profile_id, score.computed_at, written),
            &entry,
        )?
        .with_ttl(score.computed_at.plus_days(HISTORY_TTL_DAYS).unix());
        ops.push(TxOp::Put(history, Condition::None));
    }
    Ok(ops)
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

/// The at-risk cursor that starts the churned range.
const CHURNED_START: &str = "churned";

/// DynamoDB refuses a start key outside the query's partition or sort range
/// (a cursor of another workspace, or from before a threshold change) with a
/// validation error: that is a bad cursor, never an outage.
/// Checks an at-risk cursor points into this workspace's score index, within
/// one of the two ranges; returns whether it is in the live range.
fn check_score_cursor(
    cursor: &StoreCursor,
    workspace: &WorkspaceId,
    partition: &str,
    min_tenths: u16,
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
        let (from, to) = keys::score_range(live, min_tenths);
        attr("gsi1sk").is_some_and(|sk| (from.as_str()..=to.as_str()).contains(&sk))
    };
    match (fits, in_range(true), in_range(false)) {
        (true, true, _) => Ok(true),
        (true, false, true) => Ok(false),
        _ => Err(StoreError::BadCursor),
    }
}

/// Checks a rising cursor points into this workspace's rising index.
fn check_rising_cursor(cursor: &StoreCursor, workspace: &WorkspaceId) -> Result<(), StoreError> {
    let start = super::cursor::decode(cursor.as_str(), Index::Gsi2)?;
    let attr = |name: &str| match start.get(name) {
        Some(AttributeValue::S(v)) => Some(v.as_str()),
        _ => None,
    };
    let fits = attr("pk") == Some(keys::workspace(workspace).as_str())
        && attr("sk").is_some_and(|sk| sk.starts_with("SCORE#"))
        && attr("gsi2pk") == Some(keys::rising(workspace).as_str())
        && attr("gsi2sk").is_some();
    if fits {
        Ok(())
    } else {
        Err(StoreError::BadCursor)
    }
}

/// A score item of an index query with the cursor that resumes after it (the
/// item's table and index keys: what DynamoDB's `LastEvaluatedKey` would be).
fn entry(item: &Item, index: Index) -> Result<SegmentEntry, StoreError> {
    let mut key = item.key.to_attributes();
    let gsi = match index {
        Index::Gsi1 => item.gsi1.as_ref().map(|g| ("gsi1pk", "gsi1sk", g)),
        Index::Gsi2 => item.gsi2.as_ref().map(|g| ("gsi2pk", "gsi2sk", g)),
        Index::Table => None,
    };
    if let Some((pk, sk, g)) = gsi {
        key.insert(pk.to_owned(), AttributeValue::S(g.pk.clone()));
        key.insert(sk.to_owned(), AttributeValue::S(g.sk.clone()));
    }
    Ok(SegmentEntry {
        score: item.parse()?,
        resume: StoreCursor::new(super::cursor::encode(&key)?),
    })
}

impl DynamoStore {
    /// The at-risk segment in its order: two ranges, live customers then
    /// churned ones. A cursor names its range by its own sort key;
    /// `CHURNED_START` starts the second.
    async fn segment_by_score(
        &self,
        workspace: &WorkspaceId,
        min_tenths: u16,
        limit: PageSize,
        cursor: Option<StoreCursor>,
    ) -> Result<Page<SegmentEntry>, StoreError> {
        let partition = keys::scores(workspace);
        let (mut live, mut start) = match cursor {
            None => (true, None),
            Some(c) if c.as_str() == CHURNED_START => (false, None),
            Some(c) => {
                let live = check_score_cursor(&c, workspace, &partition, min_tenths)?;
                (live, Some(c))
            }
        };
        let mut items = Vec::new();
        loop {
            let room = usize::from(limit.get()) - items.len();
            let mut q = Query::partition(Index::Gsi1, partition.clone());
            let (from, to) = keys::score_range(live, min_tenths);
            q.sort = SortKey::Between(from, to);
            q.forward = false;
            q.limit = i32::try_from(room).ok();
            q.cursor = start.take();
            let page = self.query(&q).await?;
            for item in &page.items {
                items.push(entry(item, Index::Gsi1)?);
            }
            let next_cursor = match page.next_cursor {
                Some(next) => Some(next),
                None if live && items.len() < usize::from(limit.get()) => {
                    live = false;
                    continue;
                }
                None if live => Some(StoreCursor::new(CHURNED_START.to_owned())),
                None => None,
            };
            return Ok(Page { items, next_cursor });
        }
    }

    /// The rising index, largest rise first.
    async fn segment_by_rise(
        &self,
        workspace: &WorkspaceId,
        limit: PageSize,
        cursor: Option<StoreCursor>,
    ) -> Result<Page<SegmentEntry>, StoreError> {
        if let Some(c) = &cursor {
            check_rising_cursor(c, workspace)?;
        }
        let mut q = Query::partition(Index::Gsi2, keys::rising(workspace));
        q.forward = false;
        q.limit = Some(i32::from(limit.get()));
        q.cursor = cursor;
        let page = self.query(&q).await?;
        Ok(Page {
            items: page
                .items
                .iter()
                .map(|i| entry(i, Index::Gsi2))
                .collect::<Result<_, _>>()?,
            next_cursor: page.next_cursor,
        })
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
        order: SegmentOrder,
        min_tenths: u16,
        limit: PageSize,
        cursor: Option<StoreCursor>,
    ) -> Result<Page<SegmentEntry>, StoreError> {
        match order {
            SegmentOrder::Score => {
                self.segment_by_score(workspace, min_tenths, limit, cursor)
                    .await
            }
            SegmentOrder::Rising => self.segment_by_rise(workspace, limit, cursor).await,
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
                snap.billing = (super::state_codec::decode_item(item)?, item.version);
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
                    // A score that no longer reads only restarts the trail.
                    snap.previous_score = item.parse().ok();
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
        let billing = super::state_codec::item(keys::billing(ws, &c.customer), &c.billing)?;
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
        let guarded = c.route.is_some();
        let room = 100usize.saturating_sub(ops.len() + usize::from(guarded));
        for o in owners.into_iter().take(room) {
            let owner = ChargeOwner {
                customer: o.customer.clone(),
            };
            ops.push(TxOp::Put(
                Item::json(keys::charge_owner(ws, o.payment.as_str()), &owner)?,
                Condition::None,
            ));
        }
        // The route guard goes last: its reason is the last one on a cancel.
        if let Some(guard) = &c.route {
            ops.push(TxOp::CheckData(
                keys::account_route(&guard.account),
                guard.stamp.clone(),
            ));
        }
        let guard_at = ops.len().saturating_sub(1);
        match self.transact(ops).await {
            Ok(()) => Ok(Committed::Done),
            Err(StoreError::TransactionCancelled { reasons }) => {
                let failed = |i: usize| reasons.split(',').nth(i) == Some("ConditionalCheckFailed");
                if failed(0) && new_event {
                    Ok(Committed::Duplicate)
                } else if guarded && failed(guard_at) {
                    if let Some(g) = &c.route {
                        self.routes.forget(&g.account);
                    }
                    Err(StoreError::Conflict)
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
