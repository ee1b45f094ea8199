//! Customer matching: which Kustiq profile a Stripe customer is, by how sure we are.
//!
//! In order, first hit wins: a manual override (a profile whose `stripe_customer_id`
//! names the customer, set by the mapping route or written back by an earlier
//! auto-match) → the customer's `metadata.kustiq_profile_id` → exact email → business
//! domain of the email, then `metadata.domain` (personal providers skipped, see
//! [`personal`]). Every decision carries a method and a confidence; below
//! [`AUTO_MATCH_MIN`] it never feeds a score and goes to review. Two profiles that fit
//! equally well are a review, never a guess.

pub mod personal;

use crate::domain::contact::{Domain, Email};
use crate::domain::ids::{ProfileId, StripeCustomerId};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Confidence (percent) at or above which a match feeds scores and is written back.
pub const AUTO_MATCH_MIN: u8 = 90;

/// How a customer was matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MatchMethod {
    /// The profile names the customer (`stripe_customer_id`).
    Manual,
    /// The customer names the profile (`metadata.kustiq_profile_id`).
    Metadata,
    /// Same email address.
    Email,
    /// Same business domain.
    Domain,
}

/// Where a customer stands in the match table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MatchStatus {
    /// Matched at [`AUTO_MATCH_MIN`] or more: feeds the profile's score.
    Matched,
    /// A candidate below [`AUTO_MATCH_MIN`], or several: a person decides (`ERR_MATCH_LOW`).
    Review,
    /// No candidate.
    Unmatched,
}

impl MatchStatus {
    /// The query value (`matched`, `review`, `unmatched`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Matched => "matched",
            Self::Review => "review",
            Self::Unmatched => "unmatched",
        }
    }

    /// Parses the query value.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "matched" => Some(Self::Matched),
            "review" => Some(Self::Review),
            "unmatched" => Some(Self::Unmatched),
            _ => None,
        }
    }
}

/// What a Stripe customer tells about who it is (and nothing else).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerContact {
    /// The customer.
    pub customer: StripeCustomerId,
    /// Its email, as Stripe has it.
    #[serde(default)]
    pub email: Option<String>,
    /// `metadata.kustiq_profile_id`.
    #[serde(default)]
    pub metadata_profile: Option<String>,
    /// `metadata.domain`.
    #[serde(default)]
    pub metadata_domain: Option<String>,
    /// Deleted on Stripe.
    #[serde(default)]
    pub deleted: bool,
}

/// What a profile offers to be matched on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileContact {
    /// The profile.
    pub profile_id: ProfileId,
    /// Its email.
    pub email: Option<Email>,
    /// Its company domain.
    pub domain: Option<Domain>,
    /// The customer it is matched to (manual override or written-back auto-match).
    pub stripe_customer_id: Option<StripeCustomerId>,
}

/// The outcome of matching one customer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MatchDecision {
    /// Matched, review or unmatched.
    pub status: MatchStatus,
    /// The profile (matched), or the best candidate (review with one candidate).
    pub profile_id: Option<ProfileId>,
    /// How.
    pub method: Option<MatchMethod>,
    /// Percent, 0 when unmatched.
    pub confidence: u8,
    /// Every profile that fit, for review.
    pub candidates: Vec<ProfileId>,
    /// Why, in words.
    pub reason: String,
}

impl MatchDecision {
    fn unmatched(reason: impl Into<String>) -> Self {
        Self {
            status: MatchStatus::Unmatched,
            profile_id: None,
            method: None,
            confidence: 0,
            candidates: Vec::new(),
            reason: reason.into(),
        }
    }

    fn found(method: MatchMethod, confidence: u8, candidates: Vec<ProfileId>, why: &str) -> Self {
        let single = candidates.len() == 1;
        let confidence = if single {
            confidence
        } else {
            confidence.min(50)
        };
        let status = if single && confidence >= AUTO_MATCH_MIN {
            MatchStatus::Matched
        } else {
            MatchStatus::Review
        };
        let reason = if single {
            why.to_owned()
        } else {
            format!("{why}: {} profiles fit equally", candidates.len())
        };
        Self {
            status,
            profile_id: single.then(|| candidates.first().cloned()).flatten(),
            method: Some(method),
            confidence,
            candidates,
            reason,
        }
    }

    /// Whether this decision feeds the profile's score (and is written back to it).
    pub fn feeds_scores(&self) -> bool {
        self.status == MatchStatus::Matched
    }
}

/// The domain part of an email address, lower-case, if it has one.
pub fn email_domain(email: &str) -> Option<String> {
    let (_, d) = email.trim().rsplit_once('@')?;
    let d = d.trim().trim_end_matches('.').to_ascii_lowercase();
    (d.contains('.') && !d.starts_with('.')).then_some(d)
}

/// The business domain an email or a domain value names: `None` for a personal provider.
fn business(domain: &str) -> Option<String> {
    let d = domain.trim().trim_end_matches('.').to_ascii_lowercase();
    let d = d.strip_prefix("www.").map(str::to_owned).unwrap_or(d);
    (d.contains('.') && !personal::is_personal(&d)).then_some(d)
}

/// Every profile of a workspace, indexed for matching.
#[derive(Debug, Clone, Default)]
pub struct ProfileIndex {
    by_id: BTreeMap<ProfileId, Option<StripeCustomerId>>,
    by_customer: BTreeMap<StripeCustomerId, Vec<ProfileId>>,
    by_email: BTreeMap<String, Vec<ProfileId>>,
    by_domain: BTreeMap<String, Vec<ProfileId>>,
}

fn push(map: &mut BTreeMap<String, Vec<ProfileId>>, key: String, id: &ProfileId) {
    let ids = map.entry(key).or_default();
    if !ids.contains(id) {
        ids.push(id.clone());
    }
}

impl ProfileIndex {
    /// Indexes `profiles`: by the customer they name, their email, their domain and
    /// their email's business domain.
    pub fn new(profiles: impl IntoIterator<Item = ProfileContact>) -> Self {
        let mut index = Self::default();
        for p in profiles {
            index.add(p);
        }
        index
    }

    /// Adds (or re-adds) one profile.
    pub fn add(&mut self, p: ProfileContact) {
        let id = &p.profile_id;
        if let Some(c) = &p.stripe_customer_id {
            let ids = self.by_customer.entry(c.clone()).or_default();
            if !ids.contains(id) {
                ids.push(id.clone());
            }
        }
        if let Some(e) = &p.email {
            push(&mut self.by_email, e.as_str().to_owned(), id);
            if let Some(d) = business(e.domain()) {
                push(&mut self.by_domain, d, id);
            }
        }
        if let Some(d) = p.domain.as_ref().and_then(|d| business(d.as_str())) {
            push(&mut self.by_domain, d, id);
        }
        self.by_id.insert(p.profile_id, p.stripe_customer_id);
    }

    /// Profiles indexed.
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    /// Whether no profile is indexed.
    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    /// Candidates that are not already matched to another customer, and whether any was.
    fn free_for(&self, ids: &[ProfileId], customer: &StripeCustomerId) -> (Vec<ProfileId>, bool) {
        let mut taken = false;
        let free = ids
            .iter()
            .filter(|id| match self.by_id.get(*id) {
                Some(Some(other)) if other != customer => {
                    taken = true;
                    false
                }
                _ => true,
            })
            .cloned()
            .collect();
        (free, taken)
    }

    /// A candidate list found by `method`; profiles already matched to another customer
    /// turn a sure match into a review.
    fn decide_among(
        &self,
        c: &CustomerContact,
        ids: &[ProfileId],
        method: MatchMethod,
        confidence: u8,
        why: &str,
    ) -> MatchDecision {
        let (free, taken) = self.free_for(ids, &c.customer);
        if free.is_empty() && taken {
            let mut d = MatchDecision::found(method, 60, ids.to_vec(), why);
            d.status = MatchStatus::Review;
            d.confidence = d.confidence.min(60);
            d.reason = format!("{why}, but the profile is already matched to another customer");
            return d;
        }
        MatchDecision::found(method, confidence, free, why)
    }

    /// Matches one customer: manual override → metadata → email → domain.
    pub fn decide(&self, c: &CustomerContact) -> MatchDecision {
        if c.deleted {
            return MatchDecision::unmatched("the customer is deleted on Stripe");
        }
        if let Some(ids) = self.by_customer.get(&c.customer) {
            return MatchDecision::found(
                MatchMethod::Manual,
                100,
                ids.clone(),
                "the profile names this customer",
            );
        }
        if let Some(id) = c
            .metadata_profile
            .as_deref()
            .and_then(|p| ProfileId::parse(p.trim()).ok())
            .filter(|id| self.by_id.contains_key(id))
        {
            return self.decide_among(
                c,
                &[id],
                MatchMethod::Metadata,
                100,
                "metadata.kustiq_profile_id names the profile",
            );
        }
        let email = c
            .email
            .as_deref()
            .map(|e| e.trim().to_ascii_lowercase())
            .filter(|e| !e.is_empty());
        if let Some(ids) = email.as_ref().and_then(|e| self.by_email.get(e)) {
            return self.decide_among(c, ids, MatchMethod::Email, 95, "same email address");
        }
        let domains = email
            .as_deref()
            .and_then(email_domain)
            .into_iter()
            .chain(c.metadata_domain.clone())
            .filter_map(|d| business(&d));
        for d in domains {
            if let Some(ids) = self.by_domain.get(&d) {
                return self.decide_among(
                    c,
                    ids,
                    MatchMethod::Domain,
                    90,
                    &format!("same business domain {d}"),
                );
            }
            // `eu.acme.io` against a profile of `acme.io`: likely, not sure.
            let mut parent = d.as_str();
            while let Some((_, rest)) = parent.split_once('.') {
                if !rest.contains('.') {
                    break;
                }
                if let Some(ids) = self.by_domain.get(rest) {
                    return self.decide_among(
                        c,
                        ids,
                        MatchMethod::Domain,
                        70,
                        &format!("{d} is a subdomain of {rest}"),
                    );
                }
                parent = rest;
            }
        }
        if email.is_none() && c.metadata_domain.is_none() && c.metadata_profile.is_none() {
            MatchDecision::unmatched("the customer has no email and no metadata")
        } else {
            MatchDecision::unmatched("no profile has this customer's email or business domain")
        }
    }
}

#[cfg(test)]
mod tests;
