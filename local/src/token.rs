//! Bearer tokens the local runner issues and accepts, standing in for the API
//! Gateway JWT authorizer: `base64url(claims JSON) "." base64url(HMAC-SHA256)`,
//! keyed by a key derived from the data dir's master key file.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use kustiq::adapters::local::keys::LocalSealer;
use kustiq::ports::keys::KeyError;
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use std::path::Path;

/// The claims API Gateway's JWT authorizer would pass on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// The workspace.
    pub workspace_id: String,
    /// `free`, `insight` or `pro`.
    pub plan: String,
    /// `eu` or `us`.
    pub region: String,
    /// Expiry, epoch seconds.
    pub exp: i64,
}

/// Why a token was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TokenError {
    /// Not `payload.signature`, or not base64url / JSON.
    #[error("malformed token")]
    Malformed,
    /// The signature does not match.
    #[error("invalid token signature")]
    BadSignature,
    /// Past `exp`.
    #[error("token expired")]
    Expired,
}

/// The signing key. Its Debug never shows the bytes.
#[derive(Clone)]
pub struct TokenKey([u8; 32]);

impl std::fmt::Debug for TokenKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenKey([redacted])")
    }
}

impl TokenKey {
    /// Derives the token key from the master key in `dir` (created 0600 on first use).
    pub fn load_or_create(dir: &Path) -> Result<Self, KeyError> {
        let sealer = LocalSealer::open_or_create(dir)?;
        Ok(Self(*sealer.derive_key("kustiq-local-bearer-tokens")))
    }

    fn mac(&self, payload: &[u8]) -> Vec<u8> {
        // A 32-byte key is always accepted by HMAC.
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.0)
            .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
        mac.update(payload);
        mac.finalize().into_bytes().to_vec()
    }

    /// Issues a token for `claims`.
    pub fn issue(&self, claims: &Claims) -> String {
        let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).unwrap_or_default());
        let sig = URL_SAFE_NO_PAD.encode(self.mac(payload.as_bytes()));
        format!("{payload}.{sig}")
    }

    /// Verifies a token and returns its claims.
    pub fn verify(&self, token: &str, now: i64) -> Result<Claims, TokenError> {
        let (payload, sig) = token.split_once('.').ok_or(TokenError::Malformed)?;
        let sig = URL_SAFE_NO_PAD
            .decode(sig)
            .map_err(|_| TokenError::Malformed)?;
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.0)
            .map_err(|_| TokenError::Malformed)?;
        mac.update(payload.as_bytes());
        mac.verify_slice(&sig)
            .map_err(|_| TokenError::BadSignature)?;
        let json = URL_SAFE_NO_PAD
            .decode(payload)
            .map_err(|_| TokenError::Malformed)?;
        let claims: Claims = serde_json::from_slice(&json).map_err(|_| TokenError::Malformed)?;
        if claims.exp <= now {
            return Err(TokenError::Expired);
        }
        Ok(claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims() -> Claims {
        Claims {
            workspace_id: "ws_1".into(),
            plan: "pro".into(),
            region: "eu".into(),
            exp: 2_000,
        }
    }

    #[test]
    fn issued_tokens_verify_and_tampered_ones_do_not() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let key = TokenKey::load_or_create(dir.path()).unwrap_or_else(|e| panic!("{e}"));
        let t = key.issue(&claims());
        assert_eq!(key.verify(&t, 1_000), Ok(claims()));
        assert_eq!(key.verify(&t, 2_000), Err(TokenError::Expired));
        let mut forged = claims();
        forged.workspace_id = "ws_2".into();
        let forged_payload =
            URL_SAFE_NO_PAD.encode(serde_json::to_vec(&forged).unwrap_or_default());
        let sig = t.split_once('.').map(|(_, s)| s).unwrap_or_default();
        assert_eq!(
            key.verify(&format!("{forged_payload}.{sig}"), 1_000),
            Err(TokenError::BadSignature)
        );
        assert_eq!(key.verify("garbage", 1_000), Err(TokenError::Malformed));
        // The same key file is reused.
        let again = TokenKey::load_or_create(dir.path()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(again.verify(&t, 1_000), Ok(claims()));
    }
}
