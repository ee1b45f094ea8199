//! `kustiq-local serve` against a hostile local client (issue 9): bytes on a
//! raw socket, so the tests control exactly what the server receives.
//! Every refusal is the API's JSON error and never echoes the input; slow or
//! oversized requests are cut off early; the store is not reachable at all;
//! only `Bearer <token>` with a valid token passes.

use kustiq_local::server::Limits;
use kustiq_local::token::{Claims, TokenKey};
use kustiq_tests::local::{self, LocalServer, now};
use serde_json::Value;
use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A marker put into refused inputs; no answer may contain it.
const MARKER: &str = "zq9echo";

async fn runner(limits: Limits) -> LocalServer {
    LocalServer::start("ws_hard", limits).await
}

fn claims(iat: i64, exp: i64) -> Claims {
    local::claims("ws_hard", iat, exp)
}

/// One answer read off the socket until the server closes it.
#[derive(Debug)]
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) body: Value,
    pub(crate) raw: String,
    pub(crate) elapsed: Duration,
}

/// Writes `parts` with `gap` between them (a slow client), reads the answer.
async fn exchange(addr: SocketAddr, parts: Vec<Vec<u8>>, gap: Duration) -> Answer {
    let started = Instant::now();
    let stream = TcpStream::connect(addr)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let (mut reader, mut writer) = stream.into_split();
    let writing = tokio::spawn(async move {
        for part in parts {
            if writer.write_all(&part).await.is_err() {
                return;
            }
            tokio::time::sleep(gap).await;
        }
        // Keep the write side open: a slow client has not finished.
        tokio::time::sleep(Duration::from_secs(30)).await;
    });
    let mut buf = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), reader.read_to_end(&mut buf)).await;
    writing.abort();
    assert!(read.is_ok(), "the server kept the connection open for 10 s");
    answer(&buf, started.elapsed())
}

/// Writes `raw` to a fresh connection and reads the whole answer (also used by `hostile`).
pub(crate) async fn send(addr: SocketAddr, raw: impl Into<Vec<u8>>) -> Answer {
    exchange(addr, vec![raw.into()], Duration::ZERO).await
}

fn answer(buf: &[u8], elapsed: Duration) -> Answer {
    let raw = String::from_utf8_lossy(buf).into_owned();
    let status = raw
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = raw
        .split_once("\r\n\r\n")
        .and_then(|(_, b)| serde_json::from_str(b).ok())
        .unwrap_or(Value::Null);
    Answer {
        status,
        body,
        raw,
        elapsed,
    }
}

fn get(path: &str, extra_headers: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{extra_headers}\r\n").into_bytes()
}

/// The answer is the API's JSON error with `code`, and does not echo the input.
fn assert_json_error(a: &Answer, status: u16, code: &str, case: &str) {
    assert_eq!(
        (a.status, a.body["error"]["code"].as_str()),
        (status, Some(code)),
        "{case}: {}",
        a.raw
    );
    assert!(
        a.body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{case}: {}",
        a.raw
    );
    assert!(!a.raw.contains(MARKER), "{case} echoes input: {}", a.raw);
}

#[tokio::test]
async fn malformed_framing_and_paths_answer_json_errors_without_echo() {
    let r = runner(Limits::default()).await;
    let auth = format!("Authorization: Bearer {}\r\n", r.token);
    let cases: Vec<(&str, Vec<u8>, u16, &str)> = vec![
        ("control character in the path", format!("GET /api/v1/profiles/{MARKER}\x01 HTTP/1.1\r\n\r\n").into_bytes(), 400, "ERR_BAD_REQUEST"),
        ("NUL in the path", format!("GET /api/{MARKER}\x00 HTTP/1.1\r\n\r\n").into_bytes(), 400, "ERR_BAD_REQUEST"),
        ("control character in a header", get("/api/v1/integrations/stripe", &format!("X-Note: {MARKER}\x07\r\n")), 400, "ERR_BAD_REQUEST"),
        ("escape in a header", get("/api/v1/integrations/stripe", &format!("X-Note: {MARKER}\x1b[31m\r\n")), 400, "ERR_BAD_REQUEST"),
        ("space in a header name", get("/", &format!("X {MARKER}: 1\r\n")), 400, "ERR_BAD_REQUEST"),
        ("bad method token", format!("G{{T /{MARKER} HTTP/1.1\r\n\r\n").into_bytes(), 400, "ERR_BAD_REQUEST"),
        ("absolute-form target", format!("GET http://{MARKER}/ HTTP/1.1\r\n\r\n").into_bytes(), 400, "ERR_BAD_REQUEST"),
        ("not HTTP/1.x", format!("GET /{MARKER} HTTP/3.0\r\n\r\n").into_bytes(), 400, "ERR_BAD_REQUEST"),
        ("path over 8 KiB", get(&format!("/api/v1/profiles/{MARKER}{}", "a".repeat(9000)), ""), 414, "ERR_URI_TOO_LONG"),
        ("header block over 10 KiB", get("/", &format!("X-Big: {MARKER}{}\r\n", "b".repeat(11_000))), 431, "ERR_HEADERS_TOO_LARGE"),
        ("65 headers", get("/", &format!("X-{MARKER}: 1\r\n").repeat(65)), 431, "ERR_HEADERS_TOO_LARGE"),
        ("two Content-Lengths", b"PUT /api/v1/profiles/p1 HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n{".to_vec(), 400, "ERR_BAD_REQUEST"),
        ("Content-Length with Transfer-Encoding", b"POST /webhooks/stripe HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n".to_vec(), 400, "ERR_BAD_REQUEST"),
        ("empty segments", get("/api//v1///profiles//p1", &auth), 404, "ERR_NOT_FOUND"),
        ("leading empty segment", get("//api/v1/integrations/stripe", &auth), 404, "ERR_NOT_FOUND"),
        ("trailing slash", get("/api/v1/integrations/stripe/", &auth), 404, "ERR_NOT_FOUND"),
    ];
    for (case, raw, status, code) in cases {
        let a = send(r.addr, raw).await;
        assert_json_error(&a, status, code, case);
    }
    // The same route without the empty segments is served.
    let a = send(r.addr, get("/api/v1/integrations/stripe", &auth)).await;
    assert_eq!(a.status, 200, "{}", a.raw);
}

#[tokio::test]
async fn a_declared_body_over_the_limit_is_refused_before_it_is_sent() {
    let r = runner(Limits {
        max_body: 1024,
        ..Limits::default()
    })
    .await;
    let over_chunked = {
        let chunk = "x".repeat(600);
        format!(
            "POST /webhooks/stripe HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n258\r\n{chunk}\r\n258\r\n{chunk}\r\n0\r\n\r\n"
        )
    };
    let cases: Vec<(&str, Vec<u8>, u16, &str)> = vec![
        ("99,999,999,999 bytes declared, none sent", b"POST /webhooks/stripe HTTP/1.1\r\nContent-Length: 99999999999\r\n\r\n".to_vec(), 413, "ERR_PAYLOAD_TOO_LARGE"),
        ("declared with Expect: 100-continue", b"PUT /api/v1/profiles/p1 HTTP/1.1\r\nContent-Length: 1025\r\nExpect: 100-continue\r\n\r\n".to_vec(), 413, "ERR_PAYLOAD_TOO_LARGE"),
        ("length past u64", b"POST /webhooks/stripe HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n".to_vec(), 400, "ERR_BAD_REQUEST"),
        ("chunked body over the limit", over_chunked.into_bytes(), 413, "ERR_PAYLOAD_TOO_LARGE"),
    ];
    for (case, raw, status, code) in cases {
        let a = send(r.addr, raw).await;
        assert_json_error(&a, status, code, case);
        assert!(
            a.elapsed < Duration::from_secs(2),
            "{case}: answered after {:?}",
            a.elapsed
        );
    }
}

#[tokio::test]
async fn slow_heads_and_bodies_are_cut_off_with_a_408() {
    let timeout = Duration::from_millis(600);
    let r = runner(Limits {
        header_timeout: timeout,
        body_timeout: timeout,
        ..Limits::default()
    })
    .await;
    let bytes = |s: &str| s.as_bytes().to_vec();
    let dribble: Vec<Vec<u8>> = "GET /api/v1/integrations/stripe HTTP/1.1\r\nHost: a\r\n\r\n"
        .bytes()
        .map(|b| vec![b])
        .collect();
    let cases: Vec<(&str, Vec<Vec<u8>>, Duration)> = vec![
        ("connects and sends nothing", vec![], Duration::ZERO),
        (
            "partial headers",
            vec![bytes("GET / HTTP/1.1\r\nHost: a\r\n")],
            Duration::ZERO,
        ),
        (
            "one header byte every 100 ms",
            dribble,
            Duration::from_millis(100),
        ),
        (
            "partial body",
            vec![bytes(
                "PUT /api/v1/profiles/p1 HTTP/1.1\r\nContent-Length: 100\r\n\r\n{\"email\"",
            )],
            Duration::ZERO,
        ),
        (
            "partial chunked body",
            vec![bytes(
                "POST /webhooks/stripe HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n10\r\nabc",
            )],
            Duration::ZERO,
        ),
    ];
    for (case, parts, gap) in cases {
        let a = exchange(r.addr, parts, gap).await;
        assert_json_error(&a, 408, "ERR_TIMEOUT", case);
        assert!(
            a.elapsed >= timeout / 2 && a.elapsed < timeout * 4,
            "{case}: closed after {:?}",
            a.elapsed
        );
    }
}

#[tokio::test]
async fn idle_connections_are_bounded_and_reaped() {
    let timeout = Duration::from_millis(800);
    let r = runner(Limits {
        header_timeout: timeout,
        max_connections: 3,
        ..Limits::default()
    })
    .await;
    let mut idle = Vec::new();
    for _ in 0..3 {
        idle.push(
            TcpStream::connect(r.addr)
                .await
                .unwrap_or_else(|e| panic!("{e}")),
        );
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    // Every slot is held: the next request waits until the idle ones are reaped.
    let a = send(r.addr, get("/api/v1/nowhere", "")).await;
    assert!(a.elapsed >= timeout / 2, "served after {:?}", a.elapsed);
    assert!(a.status > 0, "{}", a.raw);
    for mut s in idle {
        let mut buf = Vec::new();
        let closed = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut buf)).await;
        assert!(closed.is_ok(), "an idle connection stayed open");
        assert_json_error(&answer(&buf, Duration::ZERO), 408, "ERR_TIMEOUT", "idle");
    }
    // Slots are free again: answered at once.
    let a = send(r.addr, get("/api/v1/nowhere", "")).await;
    assert!(a.elapsed < timeout / 2, "served after {:?}", a.elapsed);
}

/// The TCP ports this process listens on (Linux: `/proc`).
fn listening_ports() -> BTreeSet<u16> {
    let inodes: BTreeSet<String> = std::fs::read_dir("/proc/self/fd")
        .map(|d| {
            d.filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
                .filter_map(|l| {
                    let l = l.to_string_lossy().into_owned();
                    Some(l.strip_prefix("socket:[")?.strip_suffix(']')?.to_owned())
                })
                .collect()
        })
        .unwrap_or_default();
    let mut ports = BTreeSet::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let text = std::fs::read_to_string(table).unwrap_or_default();
        for line in text.lines().skip(1) {
            let f: Vec<&str> = line.split_whitespace().collect();
            // local_address, state 0A = LISTEN, inode.
            if f.len() > 9 && f[3] == "0A" && inodes.contains(f[9]) {
                let port = f[1].rsplit(':').next().unwrap_or_default();
                if let Ok(p) = u16::from_str_radix(port, 16) {
                    ports.insert(p);
                }
            }
        }
    }
    ports
}

fn modes(dir: &Path, out: &mut Vec<(String, u32, bool)>) {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(dir).unwrap_or_else(|e| panic!("{e}"));
    out.push((
        dir.display().to_string(),
        meta.permissions().mode() & 0o777,
        true,
    ));
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{e}")) {
        let entry = entry.unwrap_or_else(|e| panic!("{e}"));
        let meta = entry.metadata().unwrap_or_else(|e| panic!("{e}"));
        if meta.is_dir() {
            modes(&entry.path(), out);
        } else {
            out.push((
                entry.path().display().to_string(),
                meta.permissions().mode() & 0o777,
                false,
            ));
        }
    }
}

#[tokio::test]
async fn the_store_has_no_port_and_the_data_dir_is_owner_only() {
    let before = listening_ports();
    let r = runner(Limits::default()).await;
    let after = listening_ports();
    let api = r.addr.port();
    assert!(
        after.contains(&api),
        "the port list sees the API: {after:?}"
    );
    let opened: Vec<u16> = after
        .difference(&before)
        .copied()
        .filter(|p| *p != api)
        .collect();
    assert_eq!(
        opened,
        Vec::<u16>::new(),
        "the runner opened a port besides its API"
    );

    // Data a foreign client would be after.
    let body = r#"{"email": "secret@acme.io", "families": {}}"#;
    let put = format!(
        "PUT /api/v1/profiles/p1 HTTP/1.1\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        r.token,
        body.len()
    );
    assert_eq!(send(r.addr, put).await.status, 200);

    // A DynamoDB Scan with a made-up signature, sent to every port this process listens on.
    let scan = r#"{"TableName": "kustiq-local"}"#;
    for port in listening_ports() {
        let raw = format!(
            "POST / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nX-Amz-Target: DynamoDB_20120810.Scan\r\nContent-Type: application/x-amz-json-1.0\r\nX-Amz-Date: 20260101T000000Z\r\nAuthorization: AWS4-HMAC-SHA256 Credential=made/20260101/eu-central-1/dynamodb/aws4_request, SignedHeaders=host;x-amz-date;x-amz-target, Signature=00\r\nContent-Length: {}\r\n\r\n{scan}",
            scan.len()
        );
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let a = send(addr, raw).await;
        assert!(
            a.status != 200 && !a.raw.contains("secret@acme.io") && a.body.get("Items").is_none(),
            "port {port} answered a foreign Scan: {}",
            a.raw
        );
    }

    let mut found = Vec::new();
    modes(r.dir.path(), &mut found);
    let names: Vec<&str> = found
        .iter()
        .map(|(p, _, _)| p.rsplit('/').next().unwrap_or_default())
        .collect();
    eprintln!("data dir: {names:?}");
    for wanted in ["kustiq.sqlite", "master.key"] {
        assert!(names.contains(&wanted), "{wanted} missing: {names:?}");
    }
    for (path, mode, is_dir) in &found {
        let want = if *is_dir { 0o700 } else { 0o600 };
        assert_eq!(*mode, want, "{path} is {mode:o}");
    }
}

#[tokio::test]
async fn only_bearer_with_a_valid_token_passes() {
    let r = runner(Limits::default()).await;
    let key = TokenKey::load_or_create(r.dir.path()).unwrap_or_else(|e| panic!("{e}"));
    let other_dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let other = TokenKey::load_or_create(other_dir.path()).unwrap_or_else(|e| panic!("{e}"));
    let t = &r.token;
    let expired = key.issue(&claims(now() - 7200, now() - 60));
    let future = key.issue(&claims(now() + 600, now() + 3600));
    let too_long = key.issue(&claims(now(), now() + 31 * 86_400));
    let foreign = other.issue(&claims(now(), now() + 3600));
    let tampered = format!("{}x", t);
    let cases: Vec<(&str, String, u16)> = vec![
        ("Bearer", format!("Authorization: Bearer {t}\r\n"), 200),
        (
            "scheme in lower case",
            format!("Authorization: bearer {t}\r\n"),
            200,
        ),
        ("no scheme", format!("Authorization: {t}\r\n"), 401),
        ("Basic", format!("Authorization: Basic {t}\r\n"), 401),
        ("no space", format!("Authorization: Bearer{t}\r\n"), 401),
        ("scheme only", "Authorization: Bearer\r\n".to_owned(), 401),
        (
            "trailing junk",
            format!("Authorization: Bearer {t} {MARKER}\r\n"),
            401,
        ),
        (
            "two headers",
            format!("Authorization: Bearer {t}\r\nAuthorization: Bearer {t}\r\n"),
            401,
        ),
        (
            "expired",
            format!("Authorization: Bearer {expired}\r\n"),
            401,
        ),
        (
            "issued in the future",
            format!("Authorization: Bearer {future}\r\n"),
            401,
        ),
        (
            "lifetime over 30 days",
            format!("Authorization: Bearer {too_long}\r\n"),
            401,
        ),
        (
            "another data dir's key",
            format!("Authorization: Bearer {foreign}\r\n"),
            401,
        ),
        (
            "tampered",
            format!("Authorization: Bearer {tampered}\r\n"),
            401,
        ),
        (
            "marker as token",
            format!("Authorization: Bearer {MARKER}\r\n"),
            401,
        ),
        ("no header", String::new(), 401),
    ];
    for (case, header, status) in cases {
        let a = send(r.addr, get("/api/v1/integrations/stripe", &header)).await;
        if status == 200 {
            assert_eq!(a.status, 200, "{case}: {}", a.raw);
        } else {
            assert_json_error(&a, status, "ERR_UNAUTHENTICATED", case);
            assert!(!a.raw.contains(t.as_str()), "{case} echoes the token");
        }
    }
}
