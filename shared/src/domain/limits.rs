//! The documented limits of what a client may store (docs/errors.md). Every
//! field and list is bounded so no item can outgrow DynamoDB's 400 KB and no
//! sum of impacts can overflow: the largest profile body is 64 KiB, and
//! 200 factors × 100 points stay far inside `f64`.

use crate::domain::engine::Family;
use crate::domain::profile::Profile;

/// Largest profile body in bytes (a `PUT /api/v1/profiles/{id}`).
pub const MAX_PROFILE_BYTES: usize = 64 * 1024;
/// Largest batch body in bytes (`POST /api/v1/profiles:batch`, ≤ 1,000 profiles).
pub const MAX_BATCH_BYTES: usize = 6 * 1024 * 1024;
/// Most profiles in one `POST /api/v1/profiles:batch`.
pub const MAX_BATCH: usize = 1_000;
/// Largest email, in bytes (RFC 5321's path limit).
pub const MAX_EMAIL: usize = 254;
/// Largest domain, in bytes (RFC 1035).
pub const MAX_DOMAIN: usize = 253;
/// Largest display name, in characters.
pub const MAX_NAME: usize = 200;
/// Most factors in one family.
pub const MAX_FACTORS_PER_FAMILY: usize = 50;
/// Most factors over all families of a profile.
pub const MAX_FACTORS: usize = 200;
/// Largest signal name, in bytes.
pub const MAX_SIGNAL: usize = 64;
/// Largest factor explanation, in characters.
pub const MAX_EXPLANATION: usize = 500;
/// Most evidence ids on one factor.
pub const MAX_EVIDENCE: usize = 10;
/// Largest evidence id, in bytes.
pub const MAX_EVIDENCE_ID: usize = 255;
/// Largest page of the at-risk segment (`limit`).
pub const AT_RISK_PAGE_MAX: u16 = 200;
/// The at-risk segment's page when `limit` is absent.
pub const AT_RISK_PAGE_DEFAULT: u16 = 50;
/// A factor's impact lies in `[-MAX_IMPACT, MAX_IMPACT]` score points.
pub const MAX_IMPACT: f64 = 100.0;
/// The classifier's churn_risk lies in `[0, MAX_CLASSIFIER]`.
pub const MAX_CLASSIFIER: f64 = 100.0;

/// A value outside its documented limit: which field, and which rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {rule}")]
pub struct LimitError {
    /// The field, as the API names it (`families.crm[3].impact`).
    pub field: String,
    /// The rule it broke.
    pub rule: String,
}

fn err(field: impl Into<String>, rule: impl Into<String>) -> LimitError {
    LimitError {
        field: field.into(),
        rule: rule.into(),
    }
}

fn plain_text(s: &str) -> bool {
    !s.chars().any(char::is_control)
}

/// Checks an email's shape: one `@`, a non-empty local part, a domain with a dot,
/// no spaces or control characters, at most [`MAX_EMAIL`] bytes.
pub fn check_email(email: &str) -> Result<(), LimitError> {
    if email.len() > MAX_EMAIL {
        return Err(err("email", format!("at most {MAX_EMAIL} bytes")));
    }
    let ok = match email.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !domain.contains('@')
                && check_domain_shape(domain)
                && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        }
        None => false,
    };
    if ok {
        Ok(())
    } else {
        Err(err("email", "not an email address"))
    }
}

fn check_domain_shape(domain: &str) -> bool {
    domain.len() <= MAX_DOMAIN
        && domain.contains('.')
        && domain.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

/// Checks a domain name: dot-separated labels of letters, digits and `-`.
pub fn check_domain(domain: &str) -> Result<(), LimitError> {
    if check_domain_shape(domain) {
        Ok(())
    } else {
        Err(err(
            "domain",
            format!(
                "not a domain name (labels of letters, digits and '-', at most {MAX_DOMAIN} bytes)"
            ),
        ))
    }
}

/// Checks every documented limit of a profile.
pub fn check_profile(p: &Profile) -> Result<(), LimitError> {
    if let Some(n) = &p.name
        && (n.chars().count() > MAX_NAME || !plain_text(n))
    {
        return Err(err(
            "name",
            format!("at most {MAX_NAME} characters, no control characters"),
        ));
    }
    if let Some(r) = p.classifier_churn_risk
        && !(0.0..=MAX_CLASSIFIER).contains(&r)
    {
        return Err(err(
            "classifier_churn_risk",
            format!("a number from 0 to {MAX_CLASSIFIER}"),
        ));
    }
    let mut total = 0;
    for (family, factors) in &p.families {
        if *family == Family::Billing {
            return Err(err(
                "families.billing",
                "the billing family comes from Stripe only",
            ));
        }
        if factors.len() > MAX_FACTORS_PER_FAMILY {
            return Err(err(
                format!("families.{}", family.as_str()),
                format!("at most {MAX_FACTORS_PER_FAMILY} factors"),
            ));
        }
        total += factors.len();
        for (i, f) in factors.iter().enumerate() {
            let at = |field: &str| format!("families.{}[{i}].{field}", family.as_str());
            let signal = f.signal.as_str();
            if signal.trim().is_empty() || signal.len() > MAX_SIGNAL || !plain_text(signal) {
                return Err(err(
                    at("signal"),
                    format!("1 to {MAX_SIGNAL} bytes, no control characters"),
                ));
            }
            if !f.impact.is_finite() || f.impact.abs() > MAX_IMPACT {
                return Err(err(
                    at("impact"),
                    format!("a number from -{MAX_IMPACT} to {MAX_IMPACT}"),
                ));
            }
            if f.explanation.chars().count() > MAX_EXPLANATION || !plain_text(&f.explanation) {
                return Err(err(
                    at("explanation"),
                    format!("at most {MAX_EXPLANATION} characters, no control characters"),
                ));
            }
            if f.evidence.len() > MAX_EVIDENCE
                || f.evidence
                    .iter()
                    .any(|e| e.is_empty() || e.len() > MAX_EVIDENCE_ID || !plain_text(e))
            {
                return Err(err(
                    at("evidence"),
                    format!("at most {MAX_EVIDENCE} ids of 1 to {MAX_EVIDENCE_ID} bytes"),
                ));
            }
        }
    }
    if total > MAX_FACTORS {
        return Err(err(
            "families",
            format!("at most {MAX_FACTORS} factors in all"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_and_domains_are_checked_for_shape() {
        for good in ["a@acme.io", "first.last+tag@sub.acme.co.uk"] {
            assert_eq!(check_email(good), Ok(()), "{good}");
        }
        for bad in [
            "",
            "acme.io",
            "@acme.io",
            "a@b",
            "a@@acme.io",
            "a b@acme.io",
            "a@acme..io",
            "a@-acme.io",
        ] {
            assert!(check_email(bad).is_err(), "{bad:?}");
        }
        assert!(check_email(&format!("{}@acme.io", "a".repeat(300))).is_err());
        assert!(check_domain("acme.io").is_ok());
        assert!(check_domain("acme").is_err());
        assert!(check_domain("ac me.io").is_err());
    }
}
