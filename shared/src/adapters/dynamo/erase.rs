//! [`StripeDataEraser`] on the table. A workspace's own partition is queried;
//! recorded events and the account's catalog cache live in partitions of their
//! own (one per item, for the write spread), so they are found with a filtered
//! Scan: erase is rare and user-initiated, a full read of the table is its price.

use super::errors::map_sdk_error;
use super::{Condition, DynamoStore, Index, Query, SortKey, keys};
use crate::domain::connection::Connection;
use crate::domain::ids::{StripeAccountId, WorkspaceId};
use crate::domain::profile::Profile;
use crate::ports::connections::StripeDataEraser;
use crate::ports::store::StoreError;
use aws_sdk_dynamodb::types::AttributeValue;
use std::collections::HashMap;

/// Sort-key prefixes of the Stripe-derived items in a workspace's partition: billing
/// states, charge owners, matches and the match table's records.
const DERIVED: [&str; 4] = ["BILL#", "CHG#", "MATCH#", keys::MATCH_RECORD_PREFIX];

impl DynamoStore {
    /// Every key whose partition key starts with one of `prefixes` (a filtered Scan).
    async fn scan_prefixes(&self, prefixes: &[String]) -> Result<Vec<super::Key>, StoreError> {
        let mut values = HashMap::new();
        let mut clauses = Vec::new();
        for (i, p) in prefixes.iter().enumerate() {
            values.insert(format!(":p{i}"), AttributeValue::S(p.clone()));
            clauses.push(format!("begins_with(#pk, :p{i})"));
        }
        let mut keys = Vec::new();
        let mut start = None;
        loop {
            let out = self
                .client()
                .scan()
                .table_name(self.table())
                .filter_expression(clauses.join(" OR "))
                .expression_attribute_names("#pk", "pk")
                .set_expression_attribute_values(Some(values.clone()))
                .projection_expression("#pk, sk")
                .set_exclusive_start_key(start)
                .return_consumed_capacity(aws_sdk_dynamodb::types::ReturnConsumedCapacity::Total)
                .send()
                .await
                .map_err(map_sdk_error)?;
            self.capacity.read(out.consumed_capacity.as_slice());
            for item in out.items.unwrap_or_default() {
                if let (Some(AttributeValue::S(pk)), Some(AttributeValue::S(sk))) =
                    (item.get("pk"), item.get("sk"))
                {
                    keys.push(super::Key::new(pk.clone(), sk.clone()));
                }
            }
            match out.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => return Ok(keys),
            }
        }
    }
}

impl StripeDataEraser for DynamoStore {
    async fn erase_stripe_data(
        &self,
        workspace: &WorkspaceId,
        account: Option<&StripeAccountId>,
    ) -> Result<Vec<Profile>, StoreError> {
        let own = self
            .query_all(&Query::partition(Index::Table, keys::workspace(workspace)))
            .await?;
        let mut profiles = Vec::new();
        let mut ended = None;
        for item in own {
            let sk = item.key.sk.as_str();
            if DERIVED.iter().any(|p| sk.starts_with(p)) {
                self.delete(&item.key, Condition::None).await?;
            } else if sk.starts_with("PROF#") {
                let mut profile: Profile = item.parse()?;
                if profile.stripe_customer_id.take().is_some() {
                    let stripped = super::Item::json(item.key.clone(), &profile)?;
                    self.put(&stripped, Condition::Version(item.version))
                        .await?;
                }
                profiles.push(profile);
            } else if item.key == keys::connection(workspace) {
                let connection: Connection = item.parse()?;
                if !connection.feeds_scores() {
                    ended = Some((connection, item));
                }
            }
        }
        // Score-history entries caused by a Stripe event name it (`reason`); a profile
        // update's entries hold no Stripe id and stay.
        for profile in &profiles {
            let mut q =
                Query::partition(Index::Table, keys::history(workspace, &profile.profile_id));
            q.sort = SortKey::Any;
            for entry in self.query_all(&q).await? {
                let stripe_event = entry.key.sk.contains("#evt_")
                    || entry
                        .parse::<serde_json::Value>()
                        .is_ok_and(|v| v["reason"].as_str().is_some_and(|r| r.contains("evt_")));
                if stripe_event {
                    self.delete(&entry.key, Condition::None).await?;
                }
            }
        }
        // Recorded events, and outbound events queued or delivered (their payloads cite
        // Stripe evidence).
        let mut prefixes = vec![
            format!("EVT#{workspace}#"),
            format!("OBX#{workspace}#"),
            format!("DLV#{workspace}#"),
        ];
        if let Some(account) = account {
            prefixes.push(format!("ACCT#{account}#"));
        }
        for key in self.scan_prefixes(&prefixes).await? {
            self.delete(&key, Condition::None).await?;
        }
        // An ended connection goes last: it names the account whose items are erased
        // above, so an erase that dies midway and is asked again still finds them all.
        if let Some((connection, item)) = ended {
            let route = keys::account_route(&connection.account_id);
            self.routes.forget(&connection.account_id);
            if let Some(r) = self.get(&route).await?
                && &super::connections::route_owner(&r)? == workspace
            {
                self.delete(&route, Condition::Version(r.version)).await?;
            }
            // Its sync state (cursors name Stripe objects) goes with it.
            self.delete(&keys::sync_state(workspace), Condition::None)
                .await?;
            self.delete(&item.key, Condition::Version(item.version))
                .await?;
        }
        Ok(profiles)
    }
}
