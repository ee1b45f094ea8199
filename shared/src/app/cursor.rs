//! Page cursors as clients see them: the store's cursor, sealed with an HMAC
//! bound to the workspace and the query, so a forged, altered or foreign
//! cursor (another workspace's real `next_cursor`) is a clean 400, never a
//! store request.

use crate::domain::ids::WorkspaceId;
use crate::domain::secret::Secret;
use crate::ports::store::StoreCursor;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::Mac;
use hmac::digest::KeyInit;

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

/// Bytes of the MAC kept in a cursor (128 bits).
const TAG_BYTES: usize = 16;

/// A cursor that is not one this API issued for this workspace and query.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("invalid cursor")]
pub struct BadCursor;

fn tag(key: &Secret, ws: &WorkspaceId, query: &str, cursor: &[u8]) -> Result<Vec<u8>, BadCursor> {
    let mut mac = HmacSha256::new_from_slice(key.expose().as_bytes()).map_err(|_| BadCursor)?;
    // Length-prefixed fields, so no two (workspace, query, cursor) triples share an input.
    for part in [ws.as_str().as_bytes(), query.as_bytes(), cursor] {
        mac.update(&(part.len() as u64).to_be_bytes());
        mac.update(part);
    }
    let mut out = mac.finalize().into_bytes().to_vec();
    out.truncate(TAG_BYTES);
    Ok(out)
}

/// Seals `cursor` for `ws` and `query` (a canonical description of the filters).
pub fn seal(key: &Secret, ws: &WorkspaceId, query: &str, cursor: &StoreCursor) -> String {
    let raw = cursor.as_str().as_bytes();
    let t = tag(key, ws, query, raw).unwrap_or_default();
    format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(raw),
        URL_SAFE_NO_PAD.encode(t)
    )
}

/// Opens a sealed cursor, checking it was issued for `ws` and `query`.
pub fn open(
    key: &Secret,
    ws: &WorkspaceId,
    query: &str,
    sealed: &str,
) -> Result<StoreCursor, BadCursor> {
    let (body, t) = sealed.split_once('.').ok_or(BadCursor)?;
    let raw = URL_SAFE_NO_PAD.decode(body).map_err(|_| BadCursor)?;
    let given = URL_SAFE_NO_PAD.decode(t).map_err(|_| BadCursor)?;
    let expected = tag(key, ws, query, &raw)?;
    if given.len() != TAG_BYTES
        || !bool::from(subtle::ConstantTimeEq::ct_eq(&given[..], &expected[..]))
    {
        return Err(BadCursor);
    }
    String::from_utf8(raw)
        .map(StoreCursor::new)
        .map_err(|_| BadCursor)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ws(s: &str) -> WorkspaceId {
        WorkspaceId::parse(s).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn a_cursor_opens_only_for_its_workspace_query_and_key() {
        let key = Secret::new("k1");
        let c = StoreCursor::new("eyJwayI6IldTI2EifQ".into());
        let sealed = seal(&key, &ws("a"), "at-risk", &c);
        assert_eq!(open(&key, &ws("a"), "at-risk", &sealed), Ok(c));
        assert_eq!(open(&key, &ws("b"), "at-risk", &sealed), Err(BadCursor));
        assert_eq!(
            open(&key, &ws("a"), "at-risk:rising", &sealed),
            Err(BadCursor)
        );
        assert_eq!(
            open(&Secret::new("k2"), &ws("a"), "at-risk", &sealed),
            Err(BadCursor)
        );
        let forged = format!("{}x", sealed);
        assert_eq!(open(&key, &ws("a"), "at-risk", &forged), Err(BadCursor));
        for junk in ["", ".", "abc", "%%%.%%%", "a.b.c"] {
            assert_eq!(
                open(&key, &ws("a"), "at-risk", junk),
                Err(BadCursor),
                "{junk}"
            );
        }
    }
}
