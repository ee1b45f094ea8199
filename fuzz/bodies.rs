//! The fuzz bodies, shared by the cargo-fuzz targets (`fuzz_targets/`) and the
//! stable smoke run (`shared/tests/fuzz_smoke.rs`). Each must never panic on
//! any input; the assertions are properties that must hold for every input.

use kustiq::domain::secret::Secret;
use kustiq::domain::time::Timestamp;
use kustiq::stripe::models::Event;
use kustiq::stripe::signature::{SignatureHeader, sign, verify};

/// Fuzzes the `Stripe-Signature` parser and verifier. The input is split at the
/// first newline into a header and a body.
pub fn webhook_header(data: &[u8]) {
    let split = data.iter().position(|&b| b == b'\n').unwrap_or(data.len());
    let (head, body) = data.split_at(split);
    let body = body.get(1..).unwrap_or_default();
    let header = String::from_utf8_lossy(head);
    let secrets = [Secret::new("whsec_fuzz_a"), Secret::new("whsec_fuzz_b")];
    let now = Timestamp::from_unix(1_700_000_000);

    let parsed = SignatureHeader::parse(&header);
    let verified = verify(&header, body, &secrets, now, 300);
    // Verification can only pass for a header that parses.
    assert!(verified.is_err() || parsed.is_ok());

    // Whatever the body, a header we sign for it verifies, and one for another secret does not.
    let signed = sign(body, &secrets[1], now);
    assert_eq!(verify(&signed, body, &secrets, now, 300), Ok(()));
    assert!(verify(&signed, body, &[Secret::new("whsec_other")], now, 300).is_err());
}

/// Fuzzes event parsing: never panics, and whatever parses survives our own
/// serialization unchanged. Returns whether the input parsed.
pub fn event_parse(data: &[u8]) -> bool {
    // Whatever plain serde parses, the fast path parses the same way. (It may
    // accept a little more: unknown fields are skipped without decoding, so a
    // lone surrogate escape in one is not an error.)
    let general = serde_json::from_slice::<Event>(data).ok();
    let Ok(event) = Event::parse(data) else {
        assert!(general.is_none(), "only the general path parsed");
        return false;
    };
    if let Some(general) = general {
        assert_eq!(general, event);
    }
    let out = serde_json::to_vec(&event).expect("a parsed event serializes");
    let again = Event::parse(&out).expect("our own serialization parses");
    assert_eq!(again, event);
    true
}

/// Fuzzes the profile body of `PUT /api/v1/profiles/{id}`: never panics, every
/// refusal is a client error (400 or 413), and what parses is a profile with
/// only families a caller may supply. Returns whether the input parsed.
pub fn profile_body(data: &[u8]) -> bool {
    use kustiq::domain::engine::Family;
    use kustiq::domain::ids::ProfileId;
    let Ok(id) = ProfileId::parse("p_fuzz") else {
        return false;
    };
    match kustiq::http::dashboard::parse_profile(id, data) {
        Ok(profile) => {
            assert!(!profile.families.contains_key(&Family::Billing));
            assert!(serde_json::to_vec(&profile).is_ok());
            true
        }
        Err(e) => {
            assert!(
                matches!(e.status(), 400 | 413),
                "a refused body is the client's error: {e}"
            );
            false
        }
    }
}

/// Fuzzes what the API reads from a request line: the path (split into route
/// segments) and the at-risk query's cursor. The input is split at the first
/// newline into a path and a query string. Never panics; a path's segments are
/// never empty, `.` or `..`; a cursor opens only if it is one we sealed for this
/// workspace and query, and what opens seals back to a cursor that opens the same.
pub fn api_request_line(data: &[u8]) {
    use kustiq::app::cursor;
    use kustiq::domain::ids::WorkspaceId;
    let split = data.iter().position(|&b| b == b'\n').unwrap_or(data.len());
    let (path, query) = data.split_at(split);
    let path = String::from_utf8_lossy(path);
    if let Some(segments) = kustiq::http::router::segments(&path) {
        assert!(
            segments
                .iter()
                .all(|s| !s.is_empty() && *s != "." && *s != ".."),
            "{segments:?}"
        );
    }
    let (Ok(ws), Ok(other)) = (
        WorkspaceId::parse("ws_fuzz"),
        WorkspaceId::parse("ws_other"),
    ) else {
        return;
    };
    let key = Secret::new("fuzz-cursor-key");
    let query = query.get(1..).unwrap_or_default();
    for (name, value) in url::form_urlencoded::parse(query) {
        if name != "cursor" {
            continue;
        }
        if let Ok(opened) = cursor::open(&key, &ws, "at-risk:score", &value) {
            let sealed = cursor::seal(&key, &ws, "at-risk:score", &opened);
            assert_eq!(
                cursor::open(&key, &ws, "at-risk:score", &sealed),
                Ok(opened.clone())
            );
            // Bound to the workspace and the query.
            assert!(cursor::open(&key, &other, "at-risk:score", &sealed).is_err());
            assert!(cursor::open(&key, &ws, "matches", &sealed).is_err());
        }
    }
}
