//! The OAuth `state`: what the user asked for at `…/connect`, signed so the
//! callback can trust it. Bound to the workspace, its region, the mode, the
//! backfill window, the method and the cross-region consent; valid for ten
//! minutes; single-use (the callback records its nonce, see
//! [`crate::ports::connections::StateLedger`]).
//!
//! Wire form: `base64url(json) "." base64url(HMAC-SHA256(key, "kustiq-oauth-state" ‖ json))`.

use crate::domain::connection::{BackfillWindow, ConnectMethod, Mode};
use crate::domain::ids::WorkspaceId;
use crate::domain::region::Region;
use crate::domain::secret::Secret;
use crate::domain::time::Timestamp;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::Mac;
use hmac::digest::KeyInit;
use serde::{Deserialize, Serialize};

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

/// How long a state is valid after it was issued.
pub const STATE_TTL_SECS: i64 = 600;

/// Largest state accepted (a real one is about 300 bytes).
const MAX_STATE_LEN: usize = 2_048;

/// What the connect request asked for, carried through Stripe in `state`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OAuthState {
    /// The workspace that started the flow.
    pub workspace_id: WorkspaceId,
    /// Its region.
    pub region: Region,
    /// Live or test.
    pub mode: Mode,
    /// The backfill window chosen.
    pub window: BackfillWindow,
    /// Connect or App.
    pub method: ConnectMethod,
    /// The user accepted a Stripe account of the other region.
    pub cross_region: bool,
    /// Single-use nonce (128 random bits, hex).
    pub nonce: String,
    /// Not valid at or after this instant.
    pub expires_at: Timestamp,
}

/// Why a state was refused. Every variant answers 400 `ERR_OAUTH_STATE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum StateError {
    /// Not a state we signed (forged, altered, truncated, signed with another key).
    #[error("the OAuth state is not one Kustiq issued")]
    Forged,
    /// Issued more than ten minutes ago.
    #[error("the OAuth state expired; start the connection again")]
    Expired,
    /// Already used once.
    #[error("the OAuth state was already used; start the connection again")]
    Replayed,
    /// Issued for another workspace or region than the caller's.
    #[error("the OAuth state belongs to another workspace")]
    OtherWorkspace,
}

fn mac(key: &Secret, body: &[u8]) -> Result<HmacSha256, StateError> {
    let mut mac =
        HmacSha256::new_from_slice(key.expose().as_bytes()).map_err(|_| StateError::Forged)?;
    mac.update(b"kustiq-oauth-state");
    mac.update(body);
    Ok(mac)
}

impl OAuthState {
    /// The signed wire form.
    pub fn sign(&self, key: &Secret) -> Result<String, StateError> {
        let body = serde_json::to_vec(self).map_err(|_| StateError::Forged)?;
        let tag = mac(key, &body)?.finalize().into_bytes();
        Ok(format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(&body),
            URL_SAFE_NO_PAD.encode(tag)
        ))
    }

    /// Checks the signature (constant time) and the expiry at `now`.
    /// Single use is the caller's to record after this passes.
    pub fn verify(key: &Secret, raw: &str, now: Timestamp) -> Result<Self, StateError> {
        if raw.len() > MAX_STATE_LEN {
            return Err(StateError::Forged);
        }
        let (body, tag) = raw.split_once('.').ok_or(StateError::Forged)?;
        let body = URL_SAFE_NO_PAD
            .decode(body)
            .map_err(|_| StateError::Forged)?;
        let tag = URL_SAFE_NO_PAD
            .decode(tag)
            .map_err(|_| StateError::Forged)?;
        mac(key, &body)?
            .verify_slice(&tag)
            .map_err(|_| StateError::Forged)?;
        let state: Self = serde_json::from_slice(&body).map_err(|_| StateError::Forged)?;
        if now >= state.expires_at {
            return Err(StateError::Expired);
        }
        Ok(state)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(now: Timestamp) -> OAuthState {
        OAuthState {
            workspace_id: WorkspaceId::parse("ws_1").unwrap(),
            region: Region::Eu,
            mode: Mode::Test,
            window: BackfillWindow::Days30,
            method: ConnectMethod::Connect,
            cross_region: false,
            nonce: "00ff".into(),
            expires_at: now.plus_secs(STATE_TTL_SECS),
        }
    }

    #[test]
    fn a_signed_state_verifies_for_ten_minutes_then_expires() {
        let key = Secret::new("k1");
        let now = Timestamp::from_unix(1_000_000);
        let raw = state(now).sign(&key).unwrap();
        assert_eq!(OAuthState::verify(&key, &raw, now), Ok(state(now)));
        assert_eq!(
            OAuthState::verify(&key, &raw, now.plus_secs(599)),
            Ok(state(now))
        );
        assert_eq!(
            OAuthState::verify(&key, &raw, now.plus_secs(600)),
            Err(StateError::Expired)
        );
    }

    #[test]
    fn an_altered_or_foreign_state_is_forged() {
        let key = Secret::new("k1");
        let now = Timestamp::from_unix(1_000_000);
        let raw = state(now).sign(&key).unwrap();
        let other_key = state(now).sign(&Secret::new("k2")).unwrap();
        let mut other_ws = state(now);
        other_ws.workspace_id = WorkspaceId::parse("ws_2").unwrap();
        let (_, tag) = raw.split_once('.').unwrap();
        let (body2, _) = other_ws
            .sign(&key)
            .unwrap()
            .split_once('.')
            .map(|(a, b)| (a.to_owned(), b.to_owned()))
            .unwrap();
        for bad in [
            other_key,
            format!("{body2}.{tag}"),
            raw.replace('.', ""),
            format!("{raw}x"),
            String::new(),
            "a".repeat(5_000),
        ] {
            assert_eq!(
                OAuthState::verify(&key, &bad, now),
                Err(StateError::Forged),
                "{bad}"
            );
        }
    }
}
