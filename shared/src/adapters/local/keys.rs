//! [`Sealer`] for the embedded default: a master key file in the data dir.
//!
//! On first run `<data dir>/master.key` is created with mode 0600 holding 32
//! random bytes; later runs reuse it. A key file that group or others can read
//! or write is refused ([`KeyError::Misconfigured`]), as ssh does for private
//! keys: a key that may have leaked must not silently keep protecting tokens.
//!
//! Envelope (same [`SealedBlob`] format as KMS, [`crate::ports::keys`]): a
//! random data key per seal, wrapped by the master key with AES-256-GCM
//! (wrapped key = nonce ‖ ciphertext+tag) and the payload sealed under the data
//! key; both use [`SealContext::aad`] as associated data. The key id is
//! `local:<fingerprint>`, the first 16 hex digits of SHA-256 over a domain tag
//! and the master key, so blobs from another data dir are refused up front.

use crate::adapters::kms::{DATA_KEY_LEN, aead_open, aead_open_bytes, aead_seal, random_key};
use crate::domain::secret::Secret;
use crate::ports::keys::{KeyError, NONCE_LEN, SealContext, SealedBlob, Sealer};
use secrecy::zeroize::Zeroizing;
use sha2::{Digest, Sha256};
use std::fs;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

/// The master key file's name inside the data dir.
pub const MASTER_KEY_FILE: &str = "master.key";

/// The only key version the local master key has.
const LOCAL_KEY_VERSION: u32 = 1;

/// Envelope encryption under a local master key file.
pub struct LocalSealer {
    master: Zeroizing<[u8; DATA_KEY_LEN]>,
    key_id: String,
}

impl std::fmt::Debug for LocalSealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalSealer")
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

impl LocalSealer {
    /// Loads `<data_dir>/master.key`, creating the directory and a new key
    /// (mode 0600) if there is none. Fails with [`KeyError::Misconfigured`] if
    /// the file is not 32 bytes or is accessible to group or others.
    pub fn open_or_create(data_dir: &Path) -> Result<Self, KeyError> {
        let path = data_dir.join(MASTER_KEY_FILE);
        let master = match read_key(&path) {
            Ok(key) => key,
            Err(e) if e.kind() == io::ErrorKind::NotFound => create_key(data_dir, &path)?,
            Err(e) => return Err(misconfigured(&path, e)),
        };
        Ok(Self::from_key(master))
    }

    fn from_key(master: Zeroizing<[u8; DATA_KEY_LEN]>) -> Self {
        let digest = Sha256::new()
            .chain_update(b"kustiq-local-master-key")
            .chain_update(master.as_slice())
            .finalize();
        let key_id = format!("local:{}", hex::encode(&digest[..8]));
        Self { master, key_id }
    }

    /// `local:<fingerprint>` of the master key.
    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// A key for another local purpose (e.g. the runner's bearer tokens),
    /// derived from the master key as HMAC-SHA256(master, label), so the data
    /// dir holds one secret file only.
    pub fn derive_key(&self, label: &str) -> Zeroizing<[u8; 32]> {
        use hmac::{Hmac, KeyInit, Mac};
        let mut out = Zeroizing::new([0u8; 32]);
        if let Ok(mut mac) = <Hmac<Sha256> as KeyInit>::new_from_slice(&*self.master) {
            mac.update(label.as_bytes());
            out.copy_from_slice(&mac.finalize().into_bytes());
        }
        out
    }
}

fn misconfigured(path: &Path, err: impl std::fmt::Display) -> KeyError {
    KeyError::Misconfigured(format!("master key file {}: {err}", path.display()))
}

fn read_key(path: &Path) -> io::Result<Zeroizing<[u8; DATA_KEY_LEN]>> {
    let mut file = fs::File::open(path)?;
    check_private(&file.metadata()?)?;
    let mut key = Zeroizing::new([0u8; DATA_KEY_LEN]);
    file.read_exact(&mut *key)
        .map_err(|_| invalid("shorter than 32 bytes"))?;
    let mut extra = [0u8; 1];
    if file.read(&mut extra)? != 0 {
        return Err(invalid("longer than 32 bytes"));
    }
    Ok(key)
}

fn invalid(msg: &'static str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}

#[cfg(unix)]
fn check_private(meta: &fs::Metadata) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!("mode {mode:o} lets group or others access it; run chmod 600"),
        ));
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_private(_meta: &fs::Metadata) -> io::Result<()> {
    Ok(())
}

fn create_key(data_dir: &Path, path: &PathBuf) -> Result<Zeroizing<[u8; DATA_KEY_LEN]>, KeyError> {
    fs::create_dir_all(data_dir).map_err(|e| misconfigured(path, e))?;
    let key = random_key()?;
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    match options.open(path) {
        Ok(mut file) => {
            file.write_all(&*key)
                .and_then(|()| file.sync_all())
                .map_err(|e| misconfigured(path, e))?;
            tracing::info!(path = %path.display(), "created local master key");
            Ok(key)
        }
        // Another process created it first: use theirs.
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            read_key(path).map_err(|e| misconfigured(path, e))
        }
        Err(e) => Err(misconfigured(path, e)),
    }
}

impl Sealer for LocalSealer {
    async fn seal(&self, ctx: &SealContext, plaintext: &Secret) -> Result<SealedBlob, KeyError> {
        let aad = ctx.aad(&self.key_id, LOCAL_KEY_VERSION);
        let data_key = random_key()?;
        let (wrap_nonce, wrapped) = aead_seal(&*self.master, &aad, &*data_key)?;
        let mut wrapped_key = Vec::with_capacity(NONCE_LEN + wrapped.len());
        wrapped_key.extend_from_slice(&wrap_nonce);
        wrapped_key.extend_from_slice(&wrapped);
        let (nonce, ciphertext) = aead_seal(&*data_key, &aad, plaintext.expose().as_bytes())?;
        Ok(SealedBlob::from_parts(
            self.key_id.clone(),
            LOCAL_KEY_VERSION,
            wrapped_key,
            nonce,
            ciphertext,
        ))
    }

    async fn open(&self, ctx: &SealContext, blob: &SealedBlob) -> Result<Secret, KeyError> {
        if blob.key_id() != self.key_id {
            return Err(KeyError::Decrypt);
        }
        let aad = ctx.aad(blob.key_id(), blob.key_version());
        let (wrap_nonce, wrapped) = blob
            .wrapped_key()
            .split_first_chunk::<NONCE_LEN>()
            .ok_or(KeyError::Decrypt)?;
        let data_key = Zeroizing::new(aead_open_bytes(&*self.master, &aad, wrap_nonce, wrapped)?);
        aead_open(&data_key, &aad, blob.nonce(), blob.ciphertext())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ids::WorkspaceId;
    use crate::ports::keys::SealPurpose;
    use std::os::unix::fs::PermissionsExt;

    fn ctx(ws: &str, purpose: SealPurpose) -> SealContext {
        SealContext::new(WorkspaceId::parse(ws).unwrap(), purpose)
    }

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[tokio::test]
    async fn first_start_creates_a_private_key_file_and_roundtrips() {
        let dir = tempfile::tempdir().unwrap();
        let data_dir = dir.path().join("nested/.kustiq");
        let sealer = LocalSealer::open_or_create(&data_dir).unwrap();
        let key_file = data_dir.join(MASTER_KEY_FILE);
        assert_eq!(mode(&key_file), 0o600);
        assert_eq!(fs::read(&key_file).unwrap().len(), 32);
        assert!(sealer.key_id().starts_with("local:"));

        let c = ctx("ws_1", SealPurpose::OauthRefreshToken);
        let blob = sealer.seal(&c, &Secret::new("rt_abc")).await.unwrap();
        assert_eq!(blob.key_id(), sealer.key_id());
        let reparsed = SealedBlob::parse(&blob.to_string()).unwrap();
        assert_eq!(sealer.open(&c, &reparsed).await.unwrap().expose(), "rt_abc");
        assert!(!blob.to_string().contains("rt_abc"));
    }

    #[tokio::test]
    async fn second_start_reuses_the_key_and_opens_old_blobs() {
        let dir = tempfile::tempdir().unwrap();
        let c = ctx("ws_1", SealPurpose::RestrictedKey);
        let first = LocalSealer::open_or_create(dir.path()).unwrap();
        let blob = first.seal(&c, &Secret::new("rk_test_1")).await.unwrap();
        let before = fs::read(dir.path().join(MASTER_KEY_FILE)).unwrap();
        drop(first);

        let second = LocalSealer::open_or_create(dir.path()).unwrap();
        assert_eq!(fs::read(dir.path().join(MASTER_KEY_FILE)).unwrap(), before);
        assert_eq!(second.open(&c, &blob).await.unwrap().expose(), "rk_test_1");
    }

    #[tokio::test]
    async fn wrong_context_other_key_or_tampering_fail_to_decrypt() {
        let dir = tempfile::tempdir().unwrap();
        let sealer = LocalSealer::open_or_create(dir.path()).unwrap();
        let c = ctx("ws_1", SealPurpose::AccessToken);
        let blob = sealer.seal(&c, &Secret::new("tok")).await.unwrap();

        let other_ws = ctx("ws_2", SealPurpose::AccessToken);
        let other_purpose = ctx("ws_1", SealPurpose::RestrictedKey);
        assert_eq!(
            sealer.open(&other_ws, &blob).await.unwrap_err(),
            KeyError::Decrypt
        );
        assert_eq!(
            sealer.open(&other_purpose, &blob).await.unwrap_err(),
            KeyError::Decrypt
        );

        let other_dir = tempfile::tempdir().unwrap();
        let other = LocalSealer::open_or_create(other_dir.path()).unwrap();
        assert_eq!(other.open(&c, &blob).await.unwrap_err(), KeyError::Decrypt);

        let mut ct = blob.ciphertext().to_vec();
        ct[0] ^= 0x80;
        let tampered = SealedBlob::from_parts(
            blob.key_id().into(),
            blob.key_version(),
            blob.wrapped_key().into(),
            *blob.nonce(),
            ct,
        );
        assert_eq!(
            sealer.open(&c, &tampered).await.unwrap_err(),
            KeyError::Decrypt
        );
        let short = SealedBlob::from_parts(
            blob.key_id().into(),
            blob.key_version(),
            vec![1, 2, 3],
            *blob.nonce(),
            blob.ciphertext().into(),
        );
        assert_eq!(
            sealer.open(&c, &short).await.unwrap_err(),
            KeyError::Decrypt
        );
    }

    #[test]
    fn key_files_others_can_read_or_of_wrong_size_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        LocalSealer::open_or_create(dir.path()).unwrap();
        let key_file = dir.path().join(MASTER_KEY_FILE);
        fs::set_permissions(&key_file, fs::Permissions::from_mode(0o644)).unwrap();
        let err = LocalSealer::open_or_create(dir.path()).unwrap_err();
        assert!(
            matches!(&err, KeyError::Misconfigured(m) if m.contains("chmod 600")),
            "{err:?}"
        );

        fs::set_permissions(&key_file, fs::Permissions::from_mode(0o600)).unwrap();
        fs::write(&key_file, [0u8; 31]).unwrap();
        assert!(matches!(
            LocalSealer::open_or_create(dir.path()),
            Err(KeyError::Misconfigured(_))
        ));
        fs::write(&key_file, [0u8; 33]).unwrap();
        assert!(matches!(
            LocalSealer::open_or_create(dir.path()),
            Err(KeyError::Misconfigured(_))
        ));
    }

    #[test]
    fn derived_keys_are_stable_per_label_and_not_the_master_key() {
        let dir = tempfile::tempdir().unwrap();
        let first = LocalSealer::open_or_create(dir.path()).unwrap();
        let tokens = first.derive_key("bearer-tokens");
        assert_ne!(*tokens, *first.derive_key("other"));
        assert_ne!(
            tokens.as_slice(),
            fs::read(dir.path().join(MASTER_KEY_FILE)).unwrap()
        );
        let again = LocalSealer::open_or_create(dir.path()).unwrap();
        assert_eq!(*tokens, *again.derive_key("bearer-tokens"));
    }
}
