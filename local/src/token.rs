//! Bearer tokens the local runner issues and accepts, standing in for the API
//! Gateway JWT authorizer: `base64url(claims JSON) "." base64url(HMAC-SHA256)`.
//!
//! The signing key is its own file, `<data dir>/token-signing/master.key`,
//! not the key that seals credentials (`<data dir>/master.key`): deleting the
//! signing key revokes every token and leaves sealed credentials readable;
//! rotating the sealing key leaves tokens valid.

use crate::files;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use kustiq::adapters::local::keys::LocalSealer;
use kustiq::ports::keys::KeyError;
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use std::path::{Path, PathBuf};

/// The signing key's directory inside the data dir.
pub const SIGNING_KEY_DIR: &str = "token-signing";
/// Token lifetime unless `--ttl` says otherwise.
pub const DEFAULT_TTL_SECS: i64 = 12 * 3600;
/// The longest lifetime a token may have; longer ones are refused.
pub const MAX_TTL_SECS: i64 = 30 * 24 * 3600;
/// How far in the future `iat` may lie (clock drift between issuer and runner).
pub const CLOCK_SKEW_SECS: i64 = 60;

/// The claims API Gateway's JWT authorizer would pass on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// The workspace.
    pub workspace_id: String,
    /// `free`, `insight` or `pro`.
    pub plan: String,
    /// `eu` or `us`.
    pub region: String,
    /// Issued at, epoch seconds.
    pub iat: i64,
    /// Expiry, epoch seconds.
    pub exp: i64,
}

/// Why a token was refused. Messages name the rule, never the token.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TokenError {
    /// The `Authorization` header is not `Bearer <token>`.
    #[error("Authorization must be `Bearer <token>`")]
    NotBearer,
    /// Not `payload.signature`, or not base64url / JSON with every claim.
    #[error("malformed token")]
    Malformed,
    /// The signature does not match (tampered, or signed with another key).
    #[error("invalid token signature")]
    BadSignature,
    /// Past `exp`.
    #[error("token expired")]
    Expired,
    /// `iat` lies in the future beyond the allowed clock skew.
    #[error("token issued in the future")]
    IssuedInFuture,
    /// `exp` is not after `iat`, or further from it than [`MAX_TTL_SECS`].
    #[error("token lifetime out of range")]
    BadLifetime,
}

/// The token in an `Authorization` header value: exactly `Bearer <token>`,
/// the scheme case-insensitive (RFC 7235), one or more spaces, and a token
/// without whitespace.
pub fn bearer(header: &str) -> Result<&str, TokenError> {
    let (scheme, rest) = header.split_once(' ').ok_or(TokenError::NotBearer)?;
    let token = rest.trim_start_matches(' ');
    if !scheme.eq_ignore_ascii_case("bearer")
        || token.is_empty()
        || token.contains(|c: char| c.is_ascii_whitespace() || c.is_ascii_control())
    {
        return Err(TokenError::NotBearer);
    }
    Ok(token)
}

/// Parses a `--ttl` value: a whole number with a unit, `s`, `m`, `h` or `d`
/// (`90m`, `12h`, `7d`), between one minute and [`MAX_TTL_SECS`].
pub fn parse_ttl(value: &str) -> Result<i64, String> {
    let split = value.find(|c: char| !c.is_ascii_digit()).unwrap_or(0);
    let (number, unit) = value.split_at(split);
    let unit_secs = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err("--ttl needs a number and a unit: 90m, 12h, 7d".to_owned()),
    };
    let secs = number
        .parse::<i64>()
        .ok()
        .and_then(|n| n.checked_mul(unit_secs))
        .ok_or("--ttl needs a number and a unit: 90m, 12h, 7d")?;
    if !(60..=MAX_TTL_SECS).contains(&secs) {
        return Err("--ttl must be between 1m and 30d".to_owned());
    }
    Ok(secs)
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
    /// Loads the signing key under `data_dir`, creating it (and the data dir,
    /// owner-only) on first use. A key file others can read is refused.
    pub fn load_or_create(data_dir: &Path) -> Result<Self, KeyError> {
        let dir = Self::dir(data_dir);
        for d in [data_dir, dir.as_path()] {
            files::private_dir(d).map_err(|e| {
                KeyError::Misconfigured(format!("token signing key dir {}: {e}", d.display()))
            })?;
        }
        // The local key-file sealer gives the file handling (0600, refusal
        // of loose files, races between two first runs); its own directory
        // keeps this key apart from the sealing key.
        let file = LocalSealer::open_or_create(&dir)?;
        Ok(Self(*file.derive_key("kustiq-local-bearer-tokens")))
    }

    /// Where the signing key lives: delete this directory to revoke every token.
    pub fn dir(data_dir: &Path) -> PathBuf {
        data_dir.join(SIGNING_KEY_DIR)
    }

    fn mac(&self) -> Hmac<Sha256> {
        <Hmac<Sha256> as KeyInit>::new_from_slice(&self.0)
            .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"))
    }

    /// Issues a token for `claims`.
    pub fn issue(&self, claims: &Claims) -> String {
        let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).unwrap_or_default());
        let mut mac = self.mac();
        mac.update(payload.as_bytes());
        let sig = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
        format!("{payload}.{sig}")
    }

    /// Verifies a token at `now` (epoch seconds) and returns its claims.
    pub fn verify(&self, token: &str, now: i64) -> Result<Claims, TokenError> {
        let (payload, sig) = token.split_once('.').ok_or(TokenError::Malformed)?;
        let sig = URL_SAFE_NO_PAD
            .decode(sig)
            .map_err(|_| TokenError::Malformed)?;
        let mut mac = self.mac();
        mac.update(payload.as_bytes());
        mac.verify_slice(&sig)
            .map_err(|_| TokenError::BadSignature)?;
        let json = URL_SAFE_NO_PAD
            .decode(payload)
            .map_err(|_| TokenError::Malformed)?;
        let claims: Claims = serde_json::from_slice(&json).map_err(|_| TokenError::Malformed)?;
        let lifetime = claims.exp.saturating_sub(claims.iat);
        if !(1..=MAX_TTL_SECS).contains(&lifetime) {
            return Err(TokenError::BadLifetime);
        }
        if claims.iat > now.saturating_add(CLOCK_SKEW_SECS) {
            return Err(TokenError::IssuedInFuture);
        }
        if claims.exp <= now {
            return Err(TokenError::Expired);
        }
        Ok(claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000;

    fn claims(iat: i64, exp: i64) -> Claims {
        Claims {
            workspace_id: "ws_1".into(),
            plan: "pro".into(),
            region: "eu".into(),
            iat,
            exp,
        }
    }

    fn key(dir: &Path) -> TokenKey {
        TokenKey::load_or_create(dir).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn tokens_are_refused_outside_their_lifetime_or_with_another_key() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let other_dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let (k, other) = (key(dir.path()), key(other_dir.path()));
        let day = 86_400;
        let cases: [(&str, Claims, &TokenKey, Result<(), TokenError>); 9] = [
            ("fresh", claims(NOW, NOW + 3600), &k, Ok(())),
            (
                "issued within skew",
                claims(NOW + 59, NOW + 3600),
                &k,
                Ok(()),
            ),
            (
                "longest lifetime",
                claims(NOW, NOW + MAX_TTL_SECS),
                &k,
                Ok(()),
            ),
            (
                "expired",
                claims(NOW - 7200, NOW - 1),
                &k,
                Err(TokenError::Expired),
            ),
            (
                "expires now",
                claims(NOW - 60, NOW),
                &k,
                Err(TokenError::Expired),
            ),
            (
                "issued in the future",
                claims(NOW + 61, NOW + 3600),
                &k,
                Err(TokenError::IssuedInFuture),
            ),
            (
                "exp before iat",
                claims(NOW, NOW - 1),
                &k,
                Err(TokenError::BadLifetime),
            ),
            (
                "lifetime over 30 days",
                claims(NOW, NOW + 31 * day),
                &k,
                Err(TokenError::BadLifetime),
            ),
            (
                "another key",
                claims(NOW, NOW + 3600),
                &other,
                Err(TokenError::BadSignature),
            ),
        ];
        for (name, c, signer, want) in cases {
            let got = k.verify(&signer.issue(&c), NOW);
            assert_eq!(got, want.map(|()| c.clone()), "{name}");
        }
    }

    #[test]
    fn tampered_truncated_or_claimless_tokens_are_refused() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let k = key(dir.path());
        let t = k.issue(&claims(NOW, NOW + 3600));
        let (payload, sig) = t.split_once('.').unwrap_or_default();
        let mut forged = claims(NOW, NOW + 3600);
        forged.workspace_id = "ws_2".into();
        let forged = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&forged).unwrap_or_default());
        // Signed correctly but without `iat`: a token of the earlier format.
        let no_iat = URL_SAFE_NO_PAD.encode(
            serde_json::json!({"workspace_id": "ws_1", "plan": "pro", "region": "eu", "exp": NOW + 60})
                .to_string(),
        );
        let mut mac = k.mac();
        mac.update(no_iat.as_bytes());
        let no_iat = format!(
            "{no_iat}.{}",
            URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
        );
        let cases = [
            (format!("{forged}.{sig}"), TokenError::BadSignature),
            (format!("{payload}."), TokenError::BadSignature),
            (payload.to_owned(), TokenError::Malformed),
            (format!("{payload}.!!"), TokenError::Malformed),
            ("garbage".to_owned(), TokenError::Malformed),
            (String::new(), TokenError::Malformed),
            (no_iat, TokenError::Malformed),
        ];
        for (token, want) in cases {
            assert_eq!(k.verify(&token, NOW), Err(want), "{token:?}");
        }
    }

    #[test]
    fn only_bearer_and_one_token_is_an_authorization() {
        let cases = [
            ("Bearer abc.def", Ok("abc.def")),
            ("bearer abc.def", Ok("abc.def")),
            ("BEARER  abc.def", Ok("abc.def")),
            ("abc.def", Err(TokenError::NotBearer)),
            ("Bearer", Err(TokenError::NotBearer)),
            ("Bearer ", Err(TokenError::NotBearer)),
            ("Basic abc.def", Err(TokenError::NotBearer)),
            ("Bearerabc.def", Err(TokenError::NotBearer)),
            ("Bearer abc def", Err(TokenError::NotBearer)),
            ("Bearer abc.def\t", Err(TokenError::NotBearer)),
            (" Bearer abc.def", Err(TokenError::NotBearer)),
            ("Token abc.def", Err(TokenError::NotBearer)),
        ];
        for (header, want) in cases {
            assert_eq!(bearer(header), want, "{header:?}");
        }
    }

    #[test]
    fn ttl_takes_a_unit_and_stays_within_a_minute_and_30_days() {
        let cases = [
            ("12h", Ok(43_200)),
            ("90m", Ok(5_400)),
            ("30d", Ok(MAX_TTL_SECS)),
            ("60s", Ok(60)),
            ("59s", Err(())),
            ("31d", Err(())),
            ("12", Err(())),
            ("h", Err(())),
            ("-1h", Err(())),
            ("1.5h", Err(())),
            ("99999999999999999999d", Err(())),
        ];
        for (value, want) in cases {
            assert_eq!(parse_ttl(value).map_err(|_| ()), want, "{value}");
        }
    }

    #[tokio::test]
    async fn the_signing_key_is_separate_from_the_sealing_key_and_rotates_alone() {
        use kustiq::domain::ids::WorkspaceId;
        use kustiq::domain::secret::Secret;
        use kustiq::ports::keys::{SealContext, SealPurpose, Sealer};
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let sealer = || LocalSealer::open_or_create(dir.path()).unwrap_or_else(|e| panic!("{e}"));
        let ctx = SealContext::new(
            WorkspaceId::parse("ws_1").unwrap_or_else(|e| panic!("{e}")),
            SealPurpose::RestrictedKey,
        );
        let blob = sealer()
            .seal(&ctx, &Secret::new("rk_test_1"))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let t = key(dir.path()).issue(&claims(NOW, NOW + 3600));
        let signing_file = TokenKey::dir(dir.path()).join("master.key");
        let sealing_file = dir.path().join("master.key");
        let read = |p: &Path| std::fs::read(p).unwrap_or_else(|e| panic!("{e}"));
        assert_ne!(read(&signing_file), read(&sealing_file));

        // Rotating the signing key revokes tokens; sealed credentials still open.
        std::fs::remove_dir_all(TokenKey::dir(dir.path())).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            key(dir.path()).verify(&t, NOW),
            Err(TokenError::BadSignature)
        );
        let opened = sealer()
            .open(&ctx, &blob)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(opened.expose(), "rk_test_1");

        // Rotating the sealing key leaves tokens signed after the rotation above valid.
        let t = key(dir.path()).issue(&claims(NOW, NOW + 3600));
        std::fs::remove_file(&sealing_file).unwrap_or_else(|e| panic!("{e}"));
        sealer();
        assert!(key(dir.path()).verify(&t, NOW).is_ok());
    }
}
