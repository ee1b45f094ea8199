//! Stripe webhook signatures: `Stripe-Signature: t=<unix>,v1=<hex>[,v1=<hex>…]`,
//! where each `v1` is HMAC-SHA256 over `"<t>." + raw body`, keyed with the
//! endpoint secret's UTF-8 bytes (including the `whsec_` prefix).
//!
//! Matches Stripe's own libraries: any matching `v1` passes, other schemes
//! (`v0`) are ignored, the hex is compared as sent (uppercase never matches),
//! and the signature is checked before the timestamp.

use crate::domain::error_code::ErrorCode;
use crate::domain::secret::Secret;
use crate::domain::time::Timestamp;
use hmac::digest::KeyInit;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

type HmacSha256 = Hmac<Sha256>;

/// How old a signed timestamp may be, Stripe's default: five minutes.
pub const DEFAULT_TOLERANCE_SECS: u64 = 300;

/// How far ahead of our clock a signed timestamp may be. Stripe's libraries
/// accept any future timestamp; we bound it so a header can't stay replayable
/// for long, yet leave room for skew (one of Stripe's own test vectors is
/// 1000 s ahead and must pass).
pub const MAX_FUTURE_SKEW_SECS: u64 = 3_600;

/// Why a webhook signature was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// No `Stripe-Signature` header, or an empty one.
    #[error("Stripe-Signature header is missing")]
    MissingHeader,
    /// The header has no `t=` element.
    #[error("Stripe-Signature header has no timestamp")]
    NoTimestamp,
    /// The `t=` element is not a Unix time, or appears twice.
    #[error("Stripe-Signature header has an invalid timestamp")]
    BadTimestamp,
    /// The header has no `v1=` signature.
    #[error("Stripe-Signature header has no v1 signature")]
    NoSignature,
    /// No endpoint secret is configured, so nothing can be verified.
    #[error("no webhook endpoint secret is configured")]
    NoSecrets,
    /// No `v1` signature matches any endpoint secret.
    #[error("no signature matches the payload")]
    Mismatch,
    /// The signature matches but the timestamp is older than the tolerance.
    #[error("signed timestamp is {age_secs} s old, beyond the {tolerance_secs} s tolerance")]
    Stale {
        /// Seconds between the signed timestamp and now.
        age_secs: u64,
        /// The tolerance in force.
        tolerance_secs: u64,
    },
    /// The signature matches but the timestamp is too far in the future.
    #[error("signed timestamp is {ahead_secs} s in the future")]
    Future {
        /// Seconds between now and the signed timestamp.
        ahead_secs: u64,
    },
}

impl SignatureError {
    /// The API error code: a timing problem is `ERR_WEBHOOK_STALE`, a missing
    /// secret is ours (`ERR_INTERNAL`), everything else `ERR_WEBHOOK_SIG`.
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::Stale { .. } | Self::Future { .. } => ErrorCode::ERR_WEBHOOK_STALE,
            Self::NoSecrets => ErrorCode::ERR_INTERNAL,
            Self::MissingHeader
            | Self::NoTimestamp
            | Self::BadTimestamp
            | Self::NoSignature
            | Self::Mismatch => ErrorCode::ERR_WEBHOOK_SIG,
        }
    }
}

/// A parsed `Stripe-Signature` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureHeader<'a> {
    /// The signed Unix timestamp, exactly as sent (it is part of the signed bytes).
    pub timestamp_raw: &'a str,
    /// The signed timestamp.
    pub timestamp: Timestamp,
    /// Every `v1` signature, as sent.
    pub v1: Vec<&'a str>,
}

impl<'a> SignatureHeader<'a> {
    /// Parses the header like Stripe's libraries: comma-separated `key=value`
    /// pairs, no whitespace trimming, unknown keys ignored.
    pub fn parse(header: &'a str) -> Result<Self, SignatureError> {
        if header.trim().is_empty() {
            return Err(SignatureError::MissingHeader);
        }
        let mut timestamp: Option<(&str, i64)> = None;
        let mut v1 = Vec::new();
        for item in header.split(',') {
            let Some((key, value)) = item.split_once('=') else {
                continue;
            };
            match key {
                "t" => {
                    if timestamp.is_some() {
                        return Err(SignatureError::BadTimestamp);
                    }
                    timestamp = Some((value, parse_unix(value)?));
                }
                "v1" => v1.push(value),
                _ => {}
            }
        }
        let (timestamp_raw, secs) = timestamp.ok_or(SignatureError::NoTimestamp)?;
        if v1.is_empty() {
            return Err(SignatureError::NoSignature);
        }
        Ok(Self {
            timestamp_raw,
            timestamp: Timestamp::from_unix(secs),
            v1,
        })
    }
}

/// Unix seconds: ASCII digits only, at most 18 of them (no sign, no overflow).
fn parse_unix(raw: &str) -> Result<i64, SignatureError> {
    if raw.is_empty() || raw.len() > 18 || !raw.bytes().all(|b| b.is_ascii_digit()) {
        return Err(SignatureError::BadTimestamp);
    }
    raw.parse().map_err(|_| SignatureError::BadTimestamp)
}

/// Lowercase hex of HMAC-SHA256(`secret`, `"{t}." + body`).
fn expected_hex(secret: &[u8], timestamp_raw: &str, body: &[u8]) -> [u8; 64] {
    // HMAC accepts keys of any length, so this never fails in practice.
    let mut mac = match HmacSha256::new_from_slice(secret) {
        Ok(mac) => mac,
        Err(_) => return [0; 64],
    };
    mac.update(timestamp_raw.as_bytes());
    mac.update(b".");
    mac.update(body);
    let digest = mac.finalize().into_bytes();
    let mut out = [0u8; 64];
    // hex::encode_to_slice only fails on a wrong output length, which is fixed here.
    let _ = hex::encode_to_slice(digest, &mut out);
    out
}

/// Verifies a `Stripe-Signature` header against the raw body with any of the
/// active endpoint secrets (more than one during rotation). `tolerance_secs`
/// bounds the timestamp's age; see [`MAX_FUTURE_SKEW_SECS`] for the future.
pub fn verify(
    header: &str,
    body: &[u8],
    secrets: &[Secret],
    now: Timestamp,
    tolerance_secs: u64,
) -> Result<(), SignatureError> {
    verify_matching(header, body, secrets, now, tolerance_secs).map(|_| ())
}

/// Like [`verify`], returning the index in `secrets` of the secret that matched
/// (during rotation this tells the old secret from the new one).
pub fn verify_matching(
    header: &str,
    body: &[u8],
    secrets: &[Secret],
    now: Timestamp,
    tolerance_secs: u64,
) -> Result<usize, SignatureError> {
    let parsed = SignatureHeader::parse(header)?;
    if secrets.is_empty() {
        return Err(SignatureError::NoSecrets);
    }
    let mut matched = None;
    for (index, secret) in secrets.iter().enumerate() {
        let expected = expected_hex(secret.expose().as_bytes(), parsed.timestamp_raw, body);
        for candidate in &parsed.v1 {
            // Lengths are public; the comparison of equal-length values is constant-time.
            if candidate.len() == expected.len()
                && bool::from(candidate.as_bytes().ct_eq(&expected))
                && matched.is_none()
            {
                matched = Some(index);
            }
        }
    }
    let index = matched.ok_or(SignatureError::Mismatch)?;
    let age = now.secs_since(parsed.timestamp);
    if age > 0 && age.unsigned_abs() > tolerance_secs {
        return Err(SignatureError::Stale {
            age_secs: age.unsigned_abs(),
            tolerance_secs,
        });
    }
    if age < 0 && age.unsigned_abs() > MAX_FUTURE_SKEW_SECS {
        return Err(SignatureError::Future {
            ahead_secs: age.unsigned_abs(),
        });
    }
    Ok(index)
}

/// Builds the `Stripe-Signature` header Stripe would send for `body` signed
/// with `secret` at `timestamp` (for the simulator and tests).
pub fn sign(body: &[u8], secret: &Secret, timestamp: Timestamp) -> String {
    let t = timestamp.unix().to_string();
    let hex = expected_hex(secret.expose().as_bytes(), &t, body);
    format!("t={t},v1={}", String::from_utf8_lossy(&hex))
}
