//! [`MatchStore`] on the table: a match-table row per customer (`MREC#…`, listed by
//! status on GSI1), read next to the profiles (`PROF#…`) and the customer → profile
//! links (`MATCH#…`) that `profiles.rs` writes with each profile.

use super::{Condition, DynamoStore, Index, Item, Query, SortKey, keys};
use crate::domain::ids::{ProfileId, StripeCustomerId, WorkspaceId};
use crate::domain::matching::{MatchStatus, ProfileContact};
use crate::domain::profile::Profile;
use crate::ports::matches::{MatchRecord, MatchStore};
use crate::ports::store::{Page, PageSize, StoreCursor, StoreError};
use serde::Deserialize;

/// Profiles read per page while loading a workspace's profiles for matching.
const PROFILE_PAGE: PageSize = match PageSize::new(PageSize::MAX) {
    Some(p) => p,
    None => PageSize::MIN,
};

/// The link item as `profiles.rs` writes it.
#[derive(Deserialize)]
struct Link {
    profile_id: ProfileId,
}

fn parse_page<T>(
    page: Page<Item>,
    parse: impl Fn(&Item) -> Result<T, StoreError>,
) -> Result<Page<T>, StoreError> {
    Ok(Page {
        items: page.items.iter().map(parse).collect::<Result<_, _>>()?,
        next_cursor: page.next_cursor,
    })
}

fn prefixed(ws: &WorkspaceId, prefix: &str, limit: PageSize, cursor: Option<StoreCursor>) -> Query {
    let mut q = Query::partition(Index::Table, keys::workspace(ws));
    q.sort = SortKey::Prefix(prefix.to_owned());
    q.limit = Some(i32::from(limit.get()));
    q.cursor = cursor;
    q
}

impl MatchStore for DynamoStore {
    async fn match_record(
        &self,
        workspace: &WorkspaceId,
        customer: &StripeCustomerId,
    ) -> Result<Option<MatchRecord>, StoreError> {
        self.get(&keys::match_record(workspace, customer))
            .await?
            .map(|i| i.parse())
            .transpose()
    }

    async fn save_match(
        &self,
        workspace: &WorkspaceId,
        record: &MatchRecord,
    ) -> Result<(), StoreError> {
        let customer = &record.contact.customer;
        let item = Item::json(keys::match_record(workspace, customer), record)?.with_gsi1(
            keys::match_status(workspace, record.decision.status.as_str()),
            customer.as_str(),
        );
        self.put(&item, Condition::None).await.map(|_| ())
    }

    async fn matches(
        &self,
        workspace: &WorkspaceId,
        status: MatchStatus,
        limit: PageSize,
        cursor: Option<StoreCursor>,
    ) -> Result<Page<MatchRecord>, StoreError> {
        let mut q = Query::partition(Index::Gsi1, keys::match_status(workspace, status.as_str()));
        q.limit = Some(i32::from(limit.get()));
        q.cursor = cursor;
        parse_page(self.query(&q).await?, Item::parse)
    }

    async fn match_records(
        &self,
        workspace: &WorkspaceId,
        limit: PageSize,
        cursor: Option<StoreCursor>,
    ) -> Result<Page<MatchRecord>, StoreError> {
        let q = prefixed(workspace, keys::MATCH_RECORD_PREFIX, limit, cursor);
        parse_page(self.query(&q).await?, Item::parse)
    }

    async fn profile_contacts(
        &self,
        workspace: &WorkspaceId,
    ) -> Result<Vec<ProfileContact>, StoreError> {
        let q = prefixed(workspace, keys::PROFILE_PREFIX, PROFILE_PAGE, None);
        self.query_all(&q)
            .await?
            .iter()
            .map(|i| {
                let p: Profile = i.parse()?;
                Ok(ProfileContact {
                    profile_id: p.profile_id,
                    email: p.email,
                    domain: p.domain,
                    stripe_customer_id: p.stripe_customer_id,
                })
            })
            .collect()
    }

    async fn links(
        &self,
        workspace: &WorkspaceId,
        limit: PageSize,
        cursor: Option<StoreCursor>,
    ) -> Result<Page<(StripeCustomerId, ProfileId)>, StoreError> {
        let q = prefixed(workspace, keys::MATCH_PREFIX, limit, cursor);
        parse_page(self.query(&q).await?, |i| {
            let raw = i
                .key
                .sk
                .strip_prefix(keys::MATCH_PREFIX)
                .unwrap_or_default();
            let customer =
                StripeCustomerId::parse(raw).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            Ok((customer, i.parse::<Link>()?.profile_id))
        })
    }

    async fn unlink(
        &self,
        workspace: &WorkspaceId,
        customer: &StripeCustomerId,
    ) -> Result<(), StoreError> {
        self.delete(&keys::customer_match(workspace, customer), Condition::None)
            .await
    }
}
