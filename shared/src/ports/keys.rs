//! Envelope encryption of tokens and keys at rest.
//!
//! A [`Sealer`] turns a [`Secret`] into a [`SealedBlob`] bound to a
//! [`SealContext`] (workspace id, Stripe account when there is one, purpose) and back. Every adapter uses the
//! same envelope:
//!
//! 1. a fresh 256-bit data key per seal: from KMS `GenerateDataKey` (AES_256,
//!    encryption context `{workspace_id, stripe_account?, purpose}`), or locally random and
//!    wrapped with AES-256-GCM under the master key file;
//! 2. the secret encrypted with AES-256-GCM under that data key, a random
//!    96-bit nonce, and the associated data from [`SealContext::aad`]: format
//!    version, key id, key version, workspace id, purpose and (when the context
//!    names one) the Stripe account. So a blob opened with another workspace,
//!    account, purpose or key fails even where the key service ignores the context;
//! 3. the plaintext data key zeroized; the blob keeps only the wrapped one.
//!
//! A blob is stored as one ASCII string (see [`SealedBlob`]'s `Display`):
//!
//! ```text
//! ksv1.<key id>.<key version>.<wrapped data key>.<nonce>.<ciphertext+tag>
//! ```
//!
//! with each binary or free-text field in unpadded base64url. The key id is the
//! KMS key ARN that sealed it, or `local:<fingerprint>` for the local master key;
//! the key version is the operator's generation number for that key id.

use crate::domain::ids::{StripeAccountId, WorkspaceId};
use crate::domain::secret::Secret;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use std::fmt;
use std::future::Future;
use std::str::FromStr;

/// The current (and only) envelope format version.
pub const FORMAT_VERSION: u8 = 1;

/// Length of an AES-GCM nonce, in bytes (96 bits).
pub const NONCE_LEN: usize = 12;

const PREFIX: &str = "ksv1";

/// What a sealed value is used for. Part of the encryption context, so a
/// refresh token can never be opened as, say, a restricted key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SealPurpose {
    /// An OAuth refresh token from Stripe Connect or a Stripe App.
    OauthRefreshToken,
    /// An OAuth access token.
    AccessToken,
    /// A restricted API key pasted by the customer.
    RestrictedKey,
    /// A webhook endpoint signing secret.
    WebhookSecret,
}

impl SealPurpose {
    /// The name used in the KMS encryption context and the AAD.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::OauthRefreshToken => "oauth_refresh_token",
            Self::AccessToken => "access_token",
            Self::RestrictedKey => "restricted_key",
            Self::WebhookSecret => "webhook_secret",
        }
    }
}

impl fmt::Display for SealPurpose {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The encryption context: whose secret and what for. The same context must
/// be given to open a blob as was given to seal it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SealContext {
    /// The workspace the secret belongs to.
    pub workspace_id: WorkspaceId,
    /// The Stripe account the secret opens, for connection credentials.
    pub account: Option<StripeAccountId>,
    /// What the secret is.
    pub purpose: SealPurpose,
}

impl SealContext {
    /// A context for `workspace_id` and `purpose`, bound to no Stripe account.
    pub fn new(workspace_id: WorkspaceId, purpose: SealPurpose) -> Self {
        Self {
            workspace_id,
            account: None,
            purpose,
        }
    }

    /// A context for a connection credential: `workspace_id`, the Stripe
    /// `account` it opens, and `purpose`.
    pub fn for_account(
        workspace_id: WorkspaceId,
        account: StripeAccountId,
        purpose: SealPurpose,
    ) -> Self {
        Self {
            workspace_id,
            account: Some(account),
            purpose,
        }
    }

    /// The KMS encryption context pairs: `workspace_id`, `stripe_account` (when
    /// set) and `purpose`.
    pub fn kms_pairs(&self) -> Vec<(&'static str, &str)> {
        let mut pairs = vec![("workspace_id", self.workspace_id.as_str())];
        if let Some(account) = &self.account {
            pairs.push(("stripe_account", account.as_str()));
        }
        pairs.push(("purpose", self.purpose.as_str()));
        pairs
    }

    /// The AES-GCM associated data binding this context to the blob header.
    /// Each variable field is length-prefixed so no two inputs share an encoding.
    pub fn aad(&self, key_id: &str, key_version: u32) -> Vec<u8> {
        let mut aad = Vec::with_capacity(64 + key_id.len());
        aad.extend_from_slice(b"kustiq-seal");
        aad.push(FORMAT_VERSION);
        let version = key_version.to_be_bytes();
        let mut fields: Vec<&[u8]> = vec![
            key_id.as_bytes(),
            &version,
            self.workspace_id.as_str().as_bytes(),
            self.purpose.as_str().as_bytes(),
        ];
        // Appended only when set, so blobs sealed without an account still open.
        if let Some(account) = &self.account {
            fields.push(account.as_str().as_bytes());
        }
        for field in fields {
            aad.extend_from_slice(&(field.len() as u32).to_be_bytes());
            aad.extend_from_slice(field);
        }
        aad
    }
}

/// A sealed secret: safe to store and log (it reveals only the key id and
/// version). Serializes as one string, `ksv1.…` (module docs).
#[derive(Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SealedBlob {
    key_id: String,
    key_version: u32,
    wrapped_key: Vec<u8>,
    nonce: [u8; NONCE_LEN],
    ciphertext: Vec<u8>,
}

impl SealedBlob {
    /// Assembles a blob from its parts (adapters only).
    pub fn from_parts(
        key_id: String,
        key_version: u32,
        wrapped_key: Vec<u8>,
        nonce: [u8; NONCE_LEN],
        ciphertext: Vec<u8>,
    ) -> Self {
        Self {
            key_id,
            key_version,
            wrapped_key,
            nonce,
            ciphertext,
        }
    }

    /// The format version of this blob.
    pub fn format_version(&self) -> u8 {
        FORMAT_VERSION
    }

    /// The KMS key ARN or `local:<fingerprint>` that sealed it.
    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// The operator's generation number of the key that sealed it; a re-seal
    /// job compares it with the current one.
    pub fn key_version(&self) -> u32 {
        self.key_version
    }

    /// The wrapped data key (KMS `CiphertextBlob`, or nonce ‖ AES-GCM output locally).
    pub fn wrapped_key(&self) -> &[u8] {
        &self.wrapped_key
    }

    /// The AES-GCM nonce of the payload.
    pub fn nonce(&self) -> &[u8; NONCE_LEN] {
        &self.nonce
    }

    /// The AES-GCM ciphertext with its 16-byte tag appended.
    pub fn ciphertext(&self) -> &[u8] {
        &self.ciphertext
    }

    /// Parses the string form.
    pub fn parse(raw: &str) -> Result<Self, SealedBlobError> {
        let mut parts = raw.split('.');
        let mut next = |field: &'static str| parts.next().ok_or(SealedBlobError::Missing(field));
        let prefix = next("version")?;
        if prefix != PREFIX {
            return Err(SealedBlobError::UnknownVersion);
        }
        let key_id = decode(next("key id")?, "key id")?;
        let key_id = String::from_utf8(key_id).map_err(|_| SealedBlobError::Invalid("key id"))?;
        let key_version = next("key version")?
            .parse()
            .map_err(|_| SealedBlobError::Invalid("key version"))?;
        let wrapped_key = decode(next("wrapped key")?, "wrapped key")?;
        let nonce = decode(next("nonce")?, "nonce")?
            .try_into()
            .map_err(|_| SealedBlobError::Invalid("nonce"))?;
        let ciphertext = decode(next("ciphertext")?, "ciphertext")?;
        if parts.next().is_some() {
            return Err(SealedBlobError::Invalid("trailing fields"));
        }
        if key_id.is_empty() || wrapped_key.is_empty() || ciphertext.is_empty() {
            return Err(SealedBlobError::Invalid("empty field"));
        }
        Ok(Self {
            key_id,
            key_version,
            wrapped_key,
            nonce,
            ciphertext,
        })
    }
}

fn decode(field: &str, name: &'static str) -> Result<Vec<u8>, SealedBlobError> {
    URL_SAFE_NO_PAD
        .decode(field)
        .map_err(|_| SealedBlobError::Invalid(name))
}

impl fmt::Display for SealedBlob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{PREFIX}.{}.{}.{}.{}.{}",
            URL_SAFE_NO_PAD.encode(self.key_id.as_bytes()),
            self.key_version,
            URL_SAFE_NO_PAD.encode(&self.wrapped_key),
            URL_SAFE_NO_PAD.encode(self.nonce),
            URL_SAFE_NO_PAD.encode(&self.ciphertext),
        )
    }
}

impl fmt::Debug for SealedBlob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SealedBlob")
            .field("key_id", &self.key_id)
            .field("key_version", &self.key_version)
            .field("ciphertext_len", &self.ciphertext.len())
            .finish_non_exhaustive()
    }
}

impl FromStr for SealedBlob {
    type Err = SealedBlobError;
    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        Self::parse(raw)
    }
}

impl TryFrom<String> for SealedBlob {
    type Error = SealedBlobError;
    fn try_from(raw: String) -> Result<Self, Self::Error> {
        Self::parse(&raw)
    }
}

impl From<SealedBlob> for String {
    fn from(blob: SealedBlob) -> String {
        blob.to_string()
    }
}

/// A stored string that is not a sealed blob of a known format.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealedBlobError {
    /// Not `ksv1.…`: an unknown format version or not a blob at all.
    #[error("sealed blob has an unknown format version")]
    UnknownVersion,
    /// A field is missing.
    #[error("sealed blob is missing its {0}")]
    Missing(&'static str),
    /// A field is present but malformed.
    #[error("sealed blob has a malformed {0}")]
    Invalid(&'static str),
}

/// Why sealing or opening failed. Never carries plaintext.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// The blob cannot be opened with this key and context: another
    /// workspace or purpose, another key or region, or altered bytes.
    /// Not retryable; never a panic.
    #[error("sealed value could not be opened: wrong key, wrong context or altered data")]
    Decrypt,
    /// The key service could not be reached or is throttling. Retryable.
    #[error("key service unavailable: {0}")]
    Unavailable(String),
    /// The key is missing, disabled, not permitted, or the local key file is
    /// unusable. Not retryable until an operator fixes it.
    #[error("key misconfigured: {0}")]
    Misconfigured(String),
    /// Sealing itself failed (no system randomness, value too large). Not retryable.
    #[error("sealing failed: {0}")]
    Encrypt(&'static str),
}

impl KeyError {
    /// Whether retrying the same call later may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Unavailable(_))
    }
}

/// Envelope encryption of secrets at rest, bound to a [`SealContext`].
///
/// Error contract: `open` with another context, another key (including a key
/// of another region) or an altered blob returns [`KeyError::Decrypt`], never a
/// panic and never partial plaintext; an unreachable key service returns
/// [`KeyError::Unavailable`] (retryable); a missing, disabled or forbidden key
/// returns [`KeyError::Misconfigured`].
pub trait Sealer: Send + Sync {
    /// Encrypts `plaintext` under a fresh data key bound to `ctx`.
    fn seal(
        &self,
        ctx: &SealContext,
        plaintext: &Secret,
    ) -> impl Future<Output = Result<SealedBlob, KeyError>> + Send;

    /// Decrypts a blob sealed with the same key and context.
    fn open(
        &self,
        ctx: &SealContext,
        blob: &SealedBlob,
    ) -> impl Future<Output = Result<Secret, KeyError>> + Send;
}

/// No key configured: every call is [`KeyError::Misconfigured`]. For processes
/// that never open a sealed value (a webhook function without per-connection
/// endpoints).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoSealer;

impl Sealer for NoSealer {
    async fn seal(&self, _: &SealContext, _: &Secret) -> Result<SealedBlob, KeyError> {
        Err(KeyError::Misconfigured(
            "no sealing key is configured".into(),
        ))
    }

    async fn open(&self, _: &SealContext, _: &SealedBlob) -> Result<Secret, KeyError> {
        Err(KeyError::Misconfigured(
            "no sealing key is configured".into(),
        ))
    }
}

/// A shared sealer seals and opens as the one it shares.
impl<T: Sealer> Sealer for std::sync::Arc<T> {
    fn seal(
        &self,
        ctx: &SealContext,
        plaintext: &Secret,
    ) -> impl Future<Output = Result<SealedBlob, KeyError>> + Send {
        (**self).seal(ctx, plaintext)
    }

    fn open(
        &self,
        ctx: &SealContext,
        blob: &SealedBlob,
    ) -> impl Future<Output = Result<Secret, KeyError>> + Send {
        (**self).open(ctx, blob)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blob() -> SealedBlob {
        SealedBlob::from_parts(
            "arn:aws:kms:eu-central-1:123456789012:key/abc".into(),
            3,
            vec![1, 2, 3],
            [7; NONCE_LEN],
            vec![9; 20],
        )
    }

    #[test]
    fn blob_string_roundtrips_and_starts_with_its_version() {
        let b = blob();
        let s = b.to_string();
        assert!(s.starts_with("ksv1."));
        assert_eq!(SealedBlob::parse(&s), Ok(b.clone()));
        let json = serde_json::to_string(&b).unwrap();
        assert_eq!(serde_json::from_str::<SealedBlob>(&json).unwrap(), b);
    }

    #[test]
    fn malformed_blobs_are_rejected() {
        let s = blob().to_string();
        assert_eq!(
            SealedBlob::parse("ksv2.a.1.a.a.a"),
            Err(SealedBlobError::UnknownVersion)
        );
        assert!(SealedBlob::parse(&format!("{s}.extra")).is_err());
        assert!(SealedBlob::parse(s.rsplit_once('.').unwrap().0).is_err());
        assert!(SealedBlob::parse(&s.replace(".3.", ".x.")).is_err());
        assert!(SealedBlob::parse("").is_err());
    }

    #[test]
    fn aad_differs_by_workspace_purpose_and_key() {
        let ws = |w: &str| WorkspaceId::parse(w).unwrap();
        let a = SealContext::new(ws("ws_a"), SealPurpose::AccessToken);
        let b = SealContext::new(ws("ws_b"), SealPurpose::AccessToken);
        let c = SealContext::new(ws("ws_a"), SealPurpose::RestrictedKey);
        let acct = |a: &str| StripeAccountId::parse(a).unwrap();
        let d = SealContext::for_account(ws("ws_a"), acct("acct_1"), SealPurpose::AccessToken);
        let e = SealContext::for_account(ws("ws_a"), acct("acct_2"), SealPurpose::AccessToken);
        assert_ne!(a.aad("k", 1), d.aad("k", 1));
        assert_ne!(d.aad("k", 1), e.aad("k", 1));
        assert_ne!(a.aad("k", 1), b.aad("k", 1));
        assert_ne!(a.aad("k", 1), c.aad("k", 1));
        assert_ne!(a.aad("k", 1), a.aad("k", 2));
        assert_ne!(a.aad("k", 1), a.aad("k2", 1));
    }

    #[test]
    fn debug_shows_no_ciphertext() {
        let dbg = format!("{:?}", blob());
        assert!(dbg.contains("key_version: 3"));
        assert!(!dbg.contains("[9, 9"));
    }
}
