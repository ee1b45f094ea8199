//! [`Sealer`] over AWS KMS: envelope encryption with one KMS data key per seal.
//!
//! Seal: `GenerateDataKey` (AES_256, `KeyId`, encryption context
//! `{workspace_id, purpose}`) → AES-256-GCM of the secret under the plaintext
//! data key with a random 96-bit nonce and [`SealContext::aad`] → the plaintext
//! data key is zeroized; the blob keeps KMS's `CiphertextBlob` and the key ARN
//! KMS reports (format in [`crate::ports::keys`]).
//!
//! Open: `Decrypt` of the wrapped data key with this sealer's `KeyId` and the
//! same encryption context, then AES-GCM open with the AAD. A sealer opens only
//! what its own key sealed: KMS refuses a ciphertext of another key, so an
//! eu-central-1 sealer cannot open data sealed in us-east-1. The AAD binds the
//! context a second time, so a KMS (or emulator) that ignored the encryption
//! context would still fail a wrong-context open.

use crate::domain::secret::Secret;
use crate::ports::keys::{KeyError, NONCE_LEN, SealContext, SealedBlob, Sealer};
use aes_gcm::aead::{Aead, Generate, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use aws_config::SdkConfig;
use aws_sdk_kms::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::DataKeySpec;
use secrecy::zeroize::{Zeroize, Zeroizing};

/// Length of an AES-256 key, in bytes.
pub(crate) const DATA_KEY_LEN: usize = 32;

/// Envelope encryption with a KMS key of one region.
#[derive(Debug, Clone)]
pub struct KmsSealer {
    client: aws_sdk_kms::Client,
    key_id: String,
    key_version: u32,
}

impl KmsSealer {
    /// A sealer for `key_id` (key id, ARN or alias) using the region and
    /// endpoint of `config`. The key version recorded in blobs starts at 1.
    pub fn new(config: &SdkConfig, key_id: impl Into<String>) -> Self {
        Self {
            client: aws_sdk_kms::Client::new(config),
            key_id: key_id.into(),
            key_version: 1,
        }
    }

    /// Records `version` as the key version in new blobs (bump it when the
    /// operator moves to a new key id, so a re-seal job can find old blobs).
    #[must_use]
    pub fn with_key_version(mut self, version: u32) -> Self {
        self.key_version = version;
        self
    }

    /// The configured key id.
    pub fn key_id(&self) -> &str {
        &self.key_id
    }
}

impl Sealer for KmsSealer {
    async fn seal(&self, ctx: &SealContext, plaintext: &Secret) -> Result<SealedBlob, KeyError> {
        let mut request = self
            .client
            .generate_data_key()
            .key_id(&self.key_id)
            .key_spec(DataKeySpec::Aes256);
        for (k, v) in ctx.kms_pairs() {
            request = request.encryption_context(k, v);
        }
        let mut out = request.send().await.map_err(|e| kms_error(e, Op::Seal))?;
        let data_key = Zeroizing::new(
            out.plaintext
                .take()
                .map(Blob::into_inner)
                .unwrap_or_default(),
        );
        let wrapped = out
            .ciphertext_blob
            .take()
            .map(Blob::into_inner)
            .unwrap_or_default();
        // KMS answers with the key ARN even when called with an alias.
        let key_id = out.key_id.take().unwrap_or_else(|| self.key_id.clone());
        if data_key.len() != DATA_KEY_LEN || wrapped.is_empty() {
            return Err(KeyError::Unavailable(
                "KMS returned an incomplete data key".into(),
            ));
        }
        let aad = ctx.aad(&key_id, self.key_version);
        let (nonce, ciphertext) = aead_seal(&data_key, &aad, plaintext.expose().as_bytes())?;
        Ok(SealedBlob::from_parts(
            key_id,
            self.key_version,
            wrapped,
            nonce,
            ciphertext,
        ))
    }

    async fn open(&self, ctx: &SealContext, blob: &SealedBlob) -> Result<Secret, KeyError> {
        let mut request = self
            .client
            .decrypt()
            .key_id(&self.key_id)
            .ciphertext_blob(Blob::new(blob.wrapped_key()));
        for (k, v) in ctx.kms_pairs() {
            request = request.encryption_context(k, v);
        }
        let mut out = request.send().await.map_err(|e| kms_error(e, Op::Open))?;
        let data_key = Zeroizing::new(
            out.plaintext
                .take()
                .map(Blob::into_inner)
                .unwrap_or_default(),
        );
        if data_key.len() != DATA_KEY_LEN {
            return Err(KeyError::Decrypt);
        }
        let aad = ctx.aad(blob.key_id(), blob.key_version());
        aead_open(&data_key, &aad, blob.nonce(), blob.ciphertext())
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Op {
    Seal,
    Open,
}

/// Maps a KMS failure onto the port's error contract by its error code.
fn kms_error<E, R>(err: SdkError<E, R>, op: Op) -> KeyError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    let code = match &err {
        SdkError::ServiceError(service) => service.err().code().map(str::to_owned),
        _ => None,
    };
    let detail = || DisplayErrorContext(&err).to_string();
    match code.as_deref() {
        Some("InvalidCiphertextException" | "IncorrectKeyException") => KeyError::Decrypt,
        // Decrypt answers AccessDenied for a ciphertext of a key this caller or
        // region cannot use (moto does so for a key of another region).
        Some("AccessDeniedException") if op == Op::Open => KeyError::Decrypt,
        Some(
            "AccessDeniedException"
            | "NotFoundException"
            | "DisabledException"
            | "KMSInvalidStateException"
            | "InvalidKeyUsageException"
            | "InvalidGrantTokenException"
            | "ValidationException",
        ) => KeyError::Misconfigured(detail()),
        _ => KeyError::Unavailable(detail()),
    }
}

/// AES-256-GCM under `key` with a random nonce; returns the nonce and the
/// ciphertext with its tag. Shared with the local adapter.
pub(crate) fn aead_seal(
    key: &[u8],
    aad: &[u8],
    plaintext: &[u8],
) -> Result<([u8; NONCE_LEN], Vec<u8>), KeyError> {
    let cipher =
        Aes256Gcm::new_from_slice(key).map_err(|_| KeyError::Encrypt("data key length"))?;
    let nonce = Nonce::try_generate().map_err(|_| KeyError::Encrypt("no system randomness"))?;
    let ciphertext = cipher
        .encrypt(
            &nonce,
            Payload {
                msg: plaintext,
                aad,
            },
        )
        .map_err(|_| KeyError::Encrypt("value too large"))?;
    Ok((nonce.into(), ciphertext))
}

/// Opens what [`aead_seal`] produced; any mismatch is [`KeyError::Decrypt`].
/// The plaintext must be UTF-8 (every sealed value is a string).
pub(crate) fn aead_open(
    key: &[u8],
    aad: &[u8],
    nonce: &[u8; NONCE_LEN],
    ciphertext: &[u8],
) -> Result<Secret, KeyError> {
    let plain = Zeroizing::new(aead_open_bytes(key, aad, nonce, ciphertext)?);
    let text = std::str::from_utf8(&plain).map_err(|_| KeyError::Decrypt)?;
    // An exact-capacity copy, so turning it into the secret's boxed str does not
    // reallocate and leave an unzeroized copy behind.
    let mut value = String::with_capacity(text.len());
    value.push_str(text);
    Ok(Secret::new(value))
}

/// Opens raw bytes (the local adapter's wrapped data keys).
pub(crate) fn aead_open_bytes(
    key: &[u8],
    aad: &[u8],
    nonce: &[u8; NONCE_LEN],
    ciphertext: &[u8],
) -> Result<Vec<u8>, KeyError> {
    let cipher = Aes256Gcm::new_from_slice(key).map_err(|_| KeyError::Decrypt)?;
    cipher
        .decrypt(
            &Nonce::from(*nonce),
            Payload {
                msg: ciphertext,
                aad,
            },
        )
        .map_err(|_| KeyError::Decrypt)
}

/// A fresh random AES-256 key, zeroized on drop.
pub(crate) fn random_key() -> Result<Zeroizing<[u8; DATA_KEY_LEN]>, KeyError> {
    let mut key = Zeroizing::new([0u8; DATA_KEY_LEN]);
    let mut generated = aes_gcm::Key::<Aes256Gcm>::try_generate()
        .map_err(|_| KeyError::Encrypt("no system randomness"))?;
    key.copy_from_slice(&generated);
    generated.zeroize();
    Ok(key)
}

/// A fresh random 256-bit secret from the OS RNG, hex-encoded (per-run keys of the local runner).
pub fn random_secret() -> Result<crate::domain::secret::Secret, KeyError> {
    let key = random_key()?;
    Ok(crate::domain::secret::Secret::new(hex::encode(&key[..])))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aead_roundtrips_and_rejects_other_aad_or_tampering() {
        let key = random_key().unwrap();
        let (nonce, ct) = aead_seal(&*key, b"ctx-a", "rk_live_123".as_bytes()).unwrap();
        assert_eq!(
            aead_open(&*key, b"ctx-a", &nonce, &ct).unwrap().expose(),
            "rk_live_123"
        );
        assert_eq!(
            aead_open(&*key, b"ctx-b", &nonce, &ct).unwrap_err(),
            KeyError::Decrypt
        );
        let mut tampered = ct.clone();
        tampered[0] ^= 1;
        assert_eq!(
            aead_open(&*key, b"ctx-a", &nonce, &tampered).unwrap_err(),
            KeyError::Decrypt
        );
        let other = random_key().unwrap();
        assert_eq!(
            aead_open(&*other, b"ctx-a", &nonce, &ct).unwrap_err(),
            KeyError::Decrypt
        );
    }

    #[test]
    fn nonces_and_keys_are_fresh_each_time() {
        let key = random_key().unwrap();
        let (n1, c1) = aead_seal(&*key, b"", b"same").unwrap();
        let (n2, c2) = aead_seal(&*key, b"", b"same").unwrap();
        assert_ne!(n1, n2);
        assert_ne!(c1, c2);
        assert_ne!(*random_key().unwrap(), *key);
    }
}
