//! Every key format of the table, in one place (see `docs/tables.md`).

use crate::domain::ids::{
    ConnectionId, ProfileId, StripeAccountId, StripeCustomerId, StripeEventId, StripeObjectId,
    WorkspaceId,
};
use crate::domain::segment::SegmentRank;
use crate::domain::time::Timestamp;

use super::Key;

/// A workspace's partition.
pub fn workspace(ws: &WorkspaceId) -> String {
    format!("WS#{ws}")
}

/// The workspace's Stripe connection.
pub fn connection(ws: &WorkspaceId) -> Key {
    Key::new(workspace(ws), "CONN#stripe")
}

/// The route from a Stripe account to its workspace in this region.
pub fn account_route(account: &StripeAccountId) -> Key {
    Key::new(format!("ACCT#{account}"), "ROUTE")
}

/// The workspace's sealed Stripe credentials (its grant).
pub fn grant(ws: &WorkspaceId) -> Key {
    Key::new(workspace(ws), "GRANT#stripe")
}

/// GSI1 partition listing every grant of the region (the re-seal job's list).
pub const GRANTS: &str = "GRANTS";

/// The route from a connection id (per-connection webhook URL) to its workspace.
pub fn connection_id_route(id: &ConnectionId) -> Key {
    Key::new(format!("CONNID#{id}"), "ROUTE")
}

/// A Connect deauthorization still owed to Stripe for `account`.
pub fn owed_deauthorization(account: &StripeAccountId) -> Key {
    Key::new(format!("DEAUTH#{account}"), "OWED")
}

/// GSI1 partition listing owed deauthorizations.
pub const DEAUTHS: &str = "DEAUTHS";

/// A used OAuth state nonce (expires with the state).
pub fn oauth_state(nonce: &str) -> Key {
    Key::new(format!("OSTATE#{nonce}"), "USED")
}

/// A customer's billing state.
pub fn billing(ws: &WorkspaceId, customer: &StripeCustomerId) -> Key {
    Key::new(workspace(ws), format!("BILL#{customer}"))
}

/// The customer a charge belongs to (disputes name only their charge).
pub fn charge_owner(ws: &WorkspaceId, charge: &str) -> Key {
    Key::new(workspace(ws), format!("CHG#{charge}"))
}

/// A tiered price's cached tiers, per account (one partition per entry).
pub fn catalog_price(account: &StripeAccountId, price: &StripeObjectId) -> Key {
    Key::new(format!("ACCT#{account}#PRICE#{price}"), "PRICE")
}

/// A cached discount (its coupon and end), per account.
pub fn catalog_discount(account: &StripeAccountId, discount: &StripeObjectId) -> Key {
    Key::new(format!("ACCT#{account}#DISC#{discount}"), "DISC")
}

/// A cached coupon's terms, per account. Coupon ids are merchant strings: `#` cannot
/// collide because the kind is in the sort key too.
pub fn catalog_coupon(account: &StripeAccountId, coupon: &str) -> Key {
    Key::new(format!("ACCT#{account}#COUPON#{coupon}"), "COUPON")
}

/// A recorded event. Keyed by workspace and event id: the idempotency key.
pub fn event(ws: &WorkspaceId, id: &StripeEventId) -> Key {
    Key::new(format!("EVT#{ws}#{id}"), "EVT")
}

/// GSI1 partition of a workspace's failed events.
pub fn failed_events(ws: &WorkspaceId) -> String {
    format!("WS#{ws}#FAILED")
}

/// GSI2 partition of events waiting for a retry, sorted by due time.
pub const RETRY_QUEUE: &str = "RETRY";

/// GSI2 sort key of a retrying event: zero-padded due time, then the event.
pub fn retry_sort(due: Timestamp, ws: &WorkspaceId, id: &StripeEventId) -> String {
    format!("{:012}#{ws}#{id}", due.unix().max(0))
}

/// The GSI2 sort-key bound of every retry due at `now` or earlier.
pub fn retry_due_until(now: Timestamp) -> String {
    format!("{:012}~", now.unix().max(0))
}

/// A CRM profile.
pub fn profile(ws: &WorkspaceId, id: &ProfileId) -> Key {
    Key::new(workspace(ws), format!("PROF#{id}"))
}

/// The match of a Stripe customer to a profile.
pub fn customer_match(ws: &WorkspaceId, customer: &StripeCustomerId) -> Key {
    Key::new(workspace(ws), format!("MATCH#{customer}"))
}

/// A profile's latest score.
pub fn score(ws: &WorkspaceId, id: &ProfileId) -> Key {
    Key::new(workspace(ws), format!("SCORE#{id}"))
}

/// GSI1 partition ordering a workspace's scored profiles by score.
pub fn scores(ws: &WorkspaceId) -> String {
    format!("WS#{ws}#SCORE")
}

/// GSI1 sort key of a score in the segment's order (`domain::segment`): live
/// (`1`) before churned (`0`), then the score in tenths, then the newest
/// evidence, zero-padded so a descending query lists the segment's top first.
pub fn score_sort(rank: &SegmentRank, id: &ProfileId) -> String {
    format!(
        "{}{:04}#{:012}#{id}",
        u8::from(!rank.churned()),
        rank.score_tenths(),
        rank.newest_evidence_unix()
    )
}

/// The GSI1 sort-key range of live (or churned) scores from `min_tenths` (a
/// score in tenths of a point) up to the top.
pub fn score_range(live: bool, min_tenths: u16) -> (String, String) {
    let class = u8::from(live);
    (
        format!("{class}{:04}", min_tenths.min(1_000)),
        format!("{class}1001"),
    )
}

/// GSI2 partition of a workspace's rising at-risk profiles (sparse: only a
/// score that is at risk and rose over its window has it).
pub fn rising(ws: &WorkspaceId) -> String {
    format!("WS#{ws}#RISING")
}

/// GSI2 sort key of a rising score: the rise in tenths, then the score in
/// tenths, then the profile, zero-padded so a descending query lists the
/// largest rise first.
pub fn rising_sort(rise_tenths: u16, score_tenths: u16, id: &ProfileId) -> String {
    format!(
        "{:04}#{:04}#{id}",
        rise_tenths.min(1_000),
        score_tenths.min(1_000)
    )
}

/// A profile's score history partition.
pub fn history(ws: &WorkspaceId, id: &ProfileId) -> String {
    format!("HIST#{ws}#{id}")
}

/// One history entry: time, then the score item's version that the write
/// created, so two writes in the same second never share a key (the version
/// moves by one per write of the score, under the write's own condition).
pub fn history_sort(at: Timestamp, version: u64) -> String {
    format!("{:012}#{version:012}", at.unix().max(0))
}

/// The key of one history entry.
pub fn history_entry(ws: &WorkspaceId, id: &ProfileId, at: Timestamp, version: u64) -> Key {
    Key::new(history(ws, id), history_sort(at, version))
}

/// A workspace's sync state (queue entry, lease, checkpoints).
pub fn sync_state(ws: &WorkspaceId) -> Key {
    Key::new(workspace(ws), "SYNC#stripe")
}

/// GSI2 partition of workspaces with sync work, sorted by when it is due.
pub const SYNC_QUEUE: &str = "SYNCQ";

/// GSI2 sort key of a workspace's sync work: zero-padded due time, then the workspace.
pub fn sync_due_sort(due: Timestamp, ws: &WorkspaceId) -> String {
    format!("{:012}#{ws}", due.unix().max(0))
}

/// The GSI2 sort-key bound of every sync due at `now` or earlier.
pub fn sync_due_until(now: Timestamp) -> String {
    format!("{:012}~", now.unix().max(0))
}

/// GSI1 partition listing the region's connections (the table is the region's).
pub const CONNECTIONS: &str = "CONNS";

/// The marker the first nightly run of `day` writes.
pub fn nightly_claim(day: &str) -> Key {
    Key::new(format!("NIGHTLY#{day}"), "NIGHTLY")
}

/// Sort-key prefix of a workspace's profiles.
pub const PROFILE_PREFIX: &str = "PROF#";

/// Sort-key prefix of a workspace's customer → profile links.
pub const MATCH_PREFIX: &str = "MATCH#";

/// A customer's row of the match table.
pub fn match_record(ws: &WorkspaceId, customer: &StripeCustomerId) -> Key {
    Key::new(workspace(ws), format!("{MATCH_RECORD_PREFIX}{customer}"))
}

/// Sort-key prefix of a workspace's match table.
pub const MATCH_RECORD_PREFIX: &str = "MREC#";

/// GSI1 partition of a workspace's match table rows with one status.
pub fn match_status(ws: &WorkspaceId, status: &str) -> String {
    format!("WS#{ws}#MATCHES#{status}")
}
