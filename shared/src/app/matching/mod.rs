//! Matching use cases: decide a customer's profile ([`crate::domain::matching`]), keep
//! the decision in the match table, and write a sure match back to the profile — which
//! links the customer to it, so the billing family feeds its score from then on and the
//! next sync takes the manual-override path.

use crate::app::dashboard::{DashboardError, put_profile};
use crate::domain::engine::EngineConfig;
use crate::domain::ids::{ProfileId, StripeCustomerId, WorkspaceId};
use crate::domain::matching::{
    CustomerContact, MatchDecision, MatchMethod, MatchStatus, ProfileContact, ProfileIndex,
};
use crate::domain::profile::Profile;
use crate::domain::time::Timestamp;
use crate::ports::billing::BillingStore;
use crate::ports::connections::ConnectionStore;
use crate::ports::matches::{MatchRecord, MatchStore};
use crate::ports::profiles::ProfileStore;
use crate::ports::store::{PageSize, StoreError};
use crate::stripe::models::Customer;

/// Every store port matching reads or writes.
pub trait MatchingStores: MatchStore + ProfileStore + ConnectionStore + BillingStore {}
impl<T: MatchStore + ProfileStore + ConnectionStore + BillingStore> MatchingStores for T {}

/// Records read per page while rematching.
const PAGE: PageSize = match PageSize::new(200) {
    Some(p) => p,
    None => PageSize::MIN,
};

/// Why a matching use case failed.
#[derive(Debug, thiserror::Error)]
pub enum MatchError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Writing the match back to the profile failed.
    #[error("writing the match back to the profile: {0}")]
    WriteBack(#[from] DashboardError),
    /// No such profile (mapping route).
    #[error("no profile {0}")]
    NoProfile(ProfileId),
}

/// What a Stripe customer offers for matching.
pub fn contact_of(c: &Customer) -> CustomerContact {
    CustomerContact {
        customer: c.id.clone(),
        email: c.email.clone(),
        metadata_profile: c.metadata.kustiq_profile_id.clone(),
        metadata_domain: c.metadata.domain.clone(),
        deleted: c.deleted,
    }
}

/// Counts of a rematch, by outcome.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Rematched {
    /// Matched (feeding scores).
    pub matched: u64,
    /// Waiting for review.
    pub review: u64,
    /// No candidate.
    pub unmatched: u64,
}

impl Rematched {
    fn count(&mut self, status: MatchStatus) {
        match status {
            MatchStatus::Matched => self.matched += 1,
            MatchStatus::Review => self.review += 1,
            MatchStatus::Unmatched => self.unmatched += 1,
        }
    }
}

/// The workspace's profiles, indexed for matching.
pub async fn profile_index(
    store: &impl MatchStore,
    ws: &WorkspaceId,
) -> Result<ProfileIndex, StoreError> {
    Ok(ProfileIndex::new(store.profile_contacts(ws).await?))
}

/// Matches one customer against `index`: stores the decision and, when it is sure and
/// not yet on the profile, writes it back (the profile is rescored with the customer's
/// billing state in the same transaction). `index` learns the write-back, so a later
/// customer of the same run sees the profile as taken.
pub async fn match_customer<S: MatchingStores>(
    store: &S,
    cfg: &EngineConfig,
    now: Timestamp,
    ws: &WorkspaceId,
    index: &mut ProfileIndex,
    contact: CustomerContact,
) -> Result<MatchDecision, MatchError> {
    let mut decision = index.decide(&contact);
    let previous = store.match_record(ws, &contact.customer).await?;
    // A written-back auto-match comes back through the override path: keep how it was found.
    if decision.method == Some(MatchMethod::Manual)
        && let Some(prev) = previous.as_ref().filter(|p| {
            p.decision.status == MatchStatus::Matched
                && p.decision.profile_id == decision.profile_id
                && p.decision.method != Some(MatchMethod::Manual)
        })
    {
        decision.method = prev.decision.method;
        decision.confidence = prev.decision.confidence;
        decision.reason = prev.decision.reason.clone();
    }
    let unchanged = previous
        .as_ref()
        .is_some_and(|p| p.contact == contact && p.decision == decision);
    if !unchanged {
        let record = MatchRecord {
            contact: contact.clone(),
            decision: decision.clone(),
            decided_at: now,
        };
        store.save_match(ws, &record).await?;
    }
    if decision.feeds_scores()
        && let Some(pid) = &decision.profile_id
    {
        write_back(store, cfg, now, ws, index, pid, &contact.customer).await?;
    }
    Ok(decision)
}

/// Writes `customer` onto the profile unless it is there already.
async fn write_back<S: MatchingStores>(
    store: &S,
    cfg: &EngineConfig,
    now: Timestamp,
    ws: &WorkspaceId,
    index: &mut ProfileIndex,
    pid: &ProfileId,
    customer: &StripeCustomerId,
) -> Result<(), MatchError> {
    let Some(mut profile) = store.profile(ws, pid).await? else {
        return Ok(());
    };
    if profile.stripe_customer_id.as_ref() == Some(customer) {
        return Ok(());
    }
    profile.stripe_customer_id = Some(customer.clone());
    put_profile(store, cfg, now, ws, &profile).await?;
    index.add(contact_of_profile(&profile));
    Ok(())
}

fn contact_of_profile(p: &Profile) -> ProfileContact {
    ProfileContact {
        profile_id: p.profile_id.clone(),
        email: p.email.clone(),
        domain: p.domain.clone(),
        stripe_customer_id: p.stripe_customer_id.clone(),
    }
}

/// Re-runs matching for every customer in the match table (`POST …/rematch`).
pub async fn rematch<S: MatchingStores>(
    store: &S,
    cfg: &EngineConfig,
    now: Timestamp,
    ws: &WorkspaceId,
) -> Result<Rematched, MatchError> {
    let mut index = profile_index(store, ws).await?;
    let mut out = Rematched::default();
    let mut cursor = None;
    loop {
        let page = store.match_records(ws, PAGE, cursor).await?;
        for record in page.items {
            let d = match_customer(store, cfg, now, ws, &mut index, record.contact).await?;
            out.count(d.status);
        }
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => return Ok(out),
        }
    }
}

/// A profile was created or changed: customers still in review or unmatched are
/// decided again (the profile may be the one they were missing). Matched customers keep
/// their match.
pub async fn on_profile_written<S: MatchingStores>(
    store: &S,
    cfg: &EngineConfig,
    now: Timestamp,
    ws: &WorkspaceId,
) -> Result<Rematched, MatchError> {
    let mut index = profile_index(store, ws).await?;
    let mut out = Rematched::default();
    for status in [MatchStatus::Review, MatchStatus::Unmatched] {
        // Collect first: deciding a record moves it out of the status index being paged.
        let mut contacts = Vec::new();
        let mut cursor = None;
        loop {
            let page = store.matches(ws, status, PAGE, cursor).await?;
            contacts.extend(page.items.into_iter().map(|r| r.contact));
            match page.next_cursor {
                Some(c) => cursor = Some(c),
                None => break,
            }
        }
        for contact in contacts {
            let d = match_customer(store, cfg, now, ws, &mut index, contact).await?;
            out.count(d.status);
        }
    }
    Ok(out)
}

/// Sets or clears a profile's manual override (`PATCH …/customer-mapping/{profile_id}`):
/// the profile is rescored with the customer's billing state, the customer's row says
/// manual, and a cleared (or replaced) customer is unlinked.
pub async fn set_mapping<S: MatchingStores>(
    store: &S,
    cfg: &EngineConfig,
    now: Timestamp,
    ws: &WorkspaceId,
    pid: &ProfileId,
    customer: Option<StripeCustomerId>,
) -> Result<Profile, MatchError> {
    let mut profile = store
        .profile(ws, pid)
        .await?
        .ok_or_else(|| MatchError::NoProfile(pid.clone()))?;
    let old = profile.stripe_customer_id.take();
    profile.stripe_customer_id = customer.clone();
    put_profile(store, cfg, now, ws, &profile).await?;
    if let Some(old) = old.filter(|o| Some(o) != customer.as_ref()) {
        store.unlink(ws, &old).await?;
        if let Some(mut record) = store.match_record(ws, &old).await? {
            record.decision = MatchDecision {
                status: MatchStatus::Unmatched,
                profile_id: None,
                method: None,
                confidence: 0,
                candidates: Vec::new(),
                reason: format!("the manual override on {pid} was removed"),
            };
            record.decided_at = now;
            store.save_match(ws, &record).await?;
        }
    }
    if let Some(c) = customer {
        let contact = match store.match_record(ws, &c).await? {
            Some(r) => r.contact,
            None => CustomerContact {
                customer: c.clone(),
                email: None,
                metadata_profile: None,
                metadata_domain: None,
                deleted: false,
            },
        };
        let record = MatchRecord {
            contact,
            decision: MatchDecision {
                status: MatchStatus::Matched,
                profile_id: Some(pid.clone()),
                method: Some(MatchMethod::Manual),
                confidence: 100,
                candidates: vec![pid.clone()],
                reason: "set by the customer-mapping route".into(),
            },
            decided_at: now,
        };
        store.save_match(ws, &record).await?;
    }
    Ok(profile)
}
