//! Every route the local runner mounts, under hostile input, through its HTTP
//! front (`kustiq-local serve`): bytes on a raw socket, so nothing between the
//! test and the server tidies the request. The routes come from the router's own
//! list, so a route added later is walked without touching this file.
//!
//! Every answer is checked the same way: never a 5xx, never a dropped
//! connection; every refusal is a 4xx with the API's
//! `{"error": {"code", "message"}}` body that does not echo the input. Where
//! the route must read the hostile part (its path parameters, its credentials,
//! the body of a PUT, PATCH or webhook, a body or target over the server's
//! limits, a method it does not serve, the query of a route that reads one),
//! the answer must be a refusal. Elsewhere a route may ignore what it does not
//! read (a body sent with a GET, an unknown query key), so a 2xx is allowed there.

use crate::local_hardening::{Answer, send};
use kustiq::domain::secret::Secret;
use kustiq::domain::time::Timestamp;
use kustiq_local::server::Limits;
use kustiq_local::token::TokenKey;
use kustiq_tests::local::{LocalServer, WEBHOOK_SECRET, claims, now};
use std::collections::{BTreeMap, BTreeSet};

/// Put into hostile inputs; no refusal may contain it.
const MARKER: &str = "zq9echo";

/// Routes that read their query string, and the keys they read: hostile
/// values for these keys must be refused. (A route missing here is still
/// walked with every query below; only a 2xx is then allowed too.)
const QUERY_READERS: &[(&str, &str, &[&str])] = &[
    (
        "GET",
        "/api/v1/churn/at-risk",
        &[
            "limit",
            "cursor",
            "sort",
            "lifecycle",
            "min_score",
            "involuntary",
        ],
    ),
    (
        "GET",
        "/api/v1/integrations/stripe/matches",
        &["status", "limit", "cursor"],
    ),
    (
        "GET",
        "/api/v1/integrations/stripe/connect",
        &["method", "mode", "backfill", "cross_region"],
    ),
    (
        "GET",
        "/api/v1/integrations/stripe/oauth/callback",
        &["code", "state", "error"],
    ),
];

/// Whether a refusal is required, or a 2xx is an acceptable answer too.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// A 4xx JSON error.
    Refused,
    /// A 4xx JSON error, or the route's usual 2xx or 3xx: it may not read the hostile part.
    NoServerError,
}

/// One hostile request.
struct Case {
    what: String,
    raw: Vec<u8>,
    expect: Expect,
}

/// A request with `headers` (each ending in CRLF) and a `Content-Length` for `body`.
fn raw(method: &str, target: &[u8], headers: &str, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + 256);
    out.extend_from_slice(method.as_bytes());
    out.push(b' ');
    out.extend_from_slice(target);
    out.extend_from_slice(
        format!(
            " HTTP/1.1\r\nHost: 127.0.0.1\r\n{headers}Content-Length: {}\r\n\r\n",
            body.len()
        )
        .as_bytes(),
    );
    out.extend_from_slice(body);
    out
}

/// `template` with every `{param}` replaced by `value`.
fn fill(template: &str, value: &str) -> String {
    let mut out = String::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        match rest[open..].find('}') {
            Some(close) => rest = &rest[open + close + 1..],
            None => break,
        }
        out.push_str(value);
    }
    out.push_str(rest);
    out
}

/// A plain, well-formed value for every path parameter: the routes' own id shapes.
fn plain(template: &str) -> String {
    if template.contains("{event_id}") {
        fill(template, "evt_1Hostile")
    } else {
        fill(template, "p1")
    }
}

/// Path parameter values no route may serve: encodings, NULs, traversal, bad
/// UTF-8, overlong ids.
fn hostile_segments() -> Vec<(&'static str, String)> {
    vec![
        ("an encoded NUL", format!("{MARKER}%00")),
        ("an encoded ..", "%2e%2e".into()),
        ("an encoded slash", format!("{MARKER}%2F..%2Fetc")),
        ("an encoded space", format!("{MARKER}%20x")),
        ("an encoded question mark", format!("{MARKER}%3Fa=1")),
        ("encoded non-ASCII", "%C3%A9t%C3%A9".into()),
        ("encoded bad UTF-8", format!("{MARKER}%ff%fe")),
        ("a broken escape", format!("{MARKER}%zz%")),
        ("encoded braces", "%7Bprofile_id%7D".into()),
        ("a 300-byte id", format!("{MARKER}{}", "p".repeat(300))),
        ("a 6 KiB id", format!("{MARKER}{}", "e".repeat(6 * 1024))),
        ("an event id of digits", format!("evt_{}", "9".repeat(400))),
        ("only punctuation", "-_.~!$&'()*+,;=:@".into()),
    ]
}

/// Bodies that are not what any route reads. Each carries `MARKER` where it can.
fn hostile_bodies() -> Vec<(&'static str, &'static str, Vec<u8>)> {
    let json = "Content-Type: application/json\r\n";
    let deep_arrays = "[".repeat(100_000).into_bytes();
    let deep_objects = r#"{"a":"#.repeat(30_000).into_bytes();
    let mut deep_closed = "[".repeat(5_000);
    deep_closed.push_str(&"]".repeat(5_000));
    let long_string = format!(r#"{{"name":"{MARKER}{}"}}"#, "n".repeat(1_500_000));
    let many_keys: String = (0..20_000)
        .map(|i| format!(r#""k{i}":{i}"#))
        .collect::<Vec<_>>()
        .join(",");
    vec![
        (
            "truncated JSON",
            json,
            format!(r#"{{"name":"{MARKER}""#).into_bytes(),
        ),
        (
            "trailing garbage",
            json,
            format!(r#"{{}} {MARKER}"#).into_bytes(),
        ),
        ("100,000 nested arrays", json, deep_arrays),
        ("30,000 nested objects", json, deep_objects),
        (
            "5,000 nested arrays, closed",
            json,
            deep_closed.into_bytes(),
        ),
        ("a 1.5 MB string", json, long_string.into_bytes()),
        (
            "20,000 unknown keys",
            json,
            format!("{{{many_keys}}}").into_bytes(),
        ),
        (
            "duplicate keys",
            json,
            br#"{"name":"a","name":{"b":1},"families":{},"families":[]}"#.to_vec(),
        ),
        (
            "numbers past f64 and i64",
            json,
            br#"{"classifier_churn_risk":1e999,"limit":99999999999999999999999,"impact":-1e400}"#
                .to_vec(),
        ),
        (
            "a lone surrogate",
            json,
            format!(r#"{{"name":"\ud800{MARKER}"}}"#).into_bytes(),
        ),
        (
            "an escaped NUL",
            json,
            format!(r#"{{"name":"\u0000{MARKER}"}}"#).into_bytes(),
        ),
        (
            "bad UTF-8",
            json,
            [
                b"{\"name\":\"".as_slice(),
                b"\xff\xfe\xc3(",
                MARKER.as_bytes(),
                b"\"}",
            ]
            .concat(),
        ),
        (
            "a UTF-16 body",
            json,
            "{\"name\":\"a\"}"
                .encode_utf16()
                .flat_map(u16::to_le_bytes)
                .collect(),
        ),
        ("an array", json, format!(r#"["{MARKER}"]"#).into_bytes()),
        ("null", json, b"null".to_vec()),
        ("a number", json, b"-0.0e-0".to_vec()),
        (
            "a form body",
            "Content-Type: application/x-www-form-urlencoded\r\n",
            format!("name={MARKER}&families=1").into_bytes(),
        ),
        (
            "a multipart body",
            "Content-Type: multipart/form-data; boundary=b\r\n",
            format!(
                "--b\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\n{MARKER}\r\n--b--\r\n"
            )
            .into_bytes(),
        ),
        (
            "XML",
            "Content-Type: application/xml\r\n",
            format!("<profile><name>{MARKER}</name></profile>").into_bytes(),
        ),
        (
            "a NUL byte",
            "Content-Type: text/plain\r\n",
            [b"{\x00".as_slice(), MARKER.as_bytes()].concat(),
        ),
    ]
}

/// Query strings no reader of `limit` or `cursor` may accept, and odd shapes
/// for every route: repeated keys, NULs, overlong values, broken escapes.
fn hostile_queries() -> Vec<(&'static str, String)> {
    vec![
        ("a repeated limit", "limit=1&limit=500".into()),
        ("a repeated cursor", format!("cursor={MARKER}&cursor=x")),
        ("an encoded NUL limit", "limit=%00".into()),
        ("a negative limit", "limit=-1".into()),
        ("a limit past u64", "limit=99999999999999999999999".into()),
        ("a float limit", "limit=1e2".into()),
        ("an empty limit", "limit=".into()),
        ("a limit with spaces", "limit=+5+".into()),
        (
            "an overlong cursor",
            format!("cursor={MARKER}{}", "A".repeat(7_000)),
        ),
        (
            "a cursor of bad UTF-8",
            format!("cursor={MARKER}%ff%fe%c3%28"),
        ),
        ("an encoded NUL cursor", format!("cursor=%00{MARKER}")),
        (
            "a base64 cursor of junk",
            "cursor=eyJwayI6IndzX290aGVyIn0".into(),
        ),
        ("a broken escape", format!("cursor={MARKER}%z&limit=%")),
        ("only separators", "&&&==&=".into()),
        ("bracketed keys", format!("limit[]=1&cursor[a][b]={MARKER}")),
        ("an encoded NUL key", format!("%00={MARKER}")),
        (
            "7 KB of keys",
            (0..1_000)
                .map(|i| format!("k{i}=1"))
                .collect::<Vec<_>>()
                .join("&"),
        ),
    ]
}

/// Every hostile case for one mounted route.
fn cases_for(method: &str, template: &str, token: &str, others: &[&str]) -> Vec<Case> {
    let auth = format!("Authorization: Bearer {token}\r\n");
    let path = plain(template);
    let webhook = template.starts_with("/webhooks/");
    let mut cases = Vec::new();
    let route = format!("{method} {template}");

    if template.contains('{') {
        for (what, seg) in hostile_segments() {
            let target = fill(template, &seg);
            cases.push(Case {
                what: format!("{route}: {what} as a path parameter"),
                raw: raw(method, target.as_bytes(), &auth, b"{}"),
                expect: Expect::Refused,
            });
        }
        let target = [fill(template, "").as_bytes(), b"\xff\xfe"].concat();
        cases.push(Case {
            what: format!("{route}: raw bad UTF-8 in the path"),
            raw: raw(method, &target, &auth, b""),
            expect: Expect::Refused,
        });
    }
    for suffix in ["/%00", "/..%2f", &format!("/{MARKER}"), "%20"] {
        cases.push(Case {
            what: format!("{route}: path + {suffix:?}"),
            raw: raw(method, format!("{path}{suffix}").as_bytes(), &auth, b""),
            expect: Expect::Refused,
        });
    }
    for other in others {
        cases.push(Case {
            what: format!("{other} {template}: a method the path does not serve"),
            raw: raw(other, path.as_bytes(), &auth, b"{}"),
            expect: Expect::Refused,
        });
    }

    let foreign = {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let key = TokenKey::load_or_create(dir.path()).unwrap_or_else(|e| panic!("{e}"));
        key.issue(&claims("ws_hostile", now(), now() + 3600))
    };
    let odd_auth: Vec<(&str, Vec<u8>)> = vec![
        ("an empty Authorization", b"Authorization: \r\n".to_vec()),
        (
            "Bearer without a token",
            b"Authorization: Bearer\r\n".to_vec(),
        ),
        (
            "a made-up token",
            format!("Authorization: Bearer {MARKER}.{MARKER}\r\n").into_bytes(),
        ),
        (
            "another runner's token",
            format!("Authorization: Bearer {foreign}\r\n").into_bytes(),
        ),
        (
            "a Basic credential",
            format!("Authorization: Basic {MARKER}\r\n").into_bytes(),
        ),
        (
            "a token with bad UTF-8",
            [
                b"Authorization: Bearer ".as_slice(),
                b"\xff\xfe\xfd",
                b"\r\n",
            ]
            .concat(),
        ),
        (
            "a 9 KB token",
            format!("Authorization: Bearer {}\r\n", "t".repeat(9_000)).into_bytes(),
        ),
    ];
    for (what, header) in odd_auth {
        // Raw header bytes (bad UTF-8 included) go straight onto the wire.
        let mut request = raw(method, path.as_bytes(), "", b"");
        let at = request.len() - "Content-Length: 0\r\n\r\n".len();
        request.splice(at..at, header);
        cases.push(Case {
            what: format!("{route}: {what}"),
            raw: request,
            expect: Expect::Refused,
        });
    }
    if webhook {
        for header in [
            "",
            "Stripe-Signature: \r\n",
            "Stripe-Signature: t=1,v1=00\r\n",
            "Stripe-Signature: t=99999999999999999999,v1=zz,v1=\r\n",
        ] {
            cases.push(Case {
                what: format!("{route}: signature header {header:?}"),
                raw: raw(
                    method,
                    path.as_bytes(),
                    header,
                    br#"{"id":"evt_1","object":"event"}"#,
                ),
                expect: Expect::Refused,
            });
        }
    }

    let reads_body = matches!(method, "PUT" | "PATCH") || webhook;
    for (what, content_type, body) in hostile_bodies() {
        let mut headers = format!("{auth}{content_type}");
        if webhook {
            // Signed correctly, so the body itself is what gets judged.
            let signature = kustiq::stripe::signature::sign(
                &body,
                &Secret::new(WEBHOOK_SECRET),
                Timestamp::from_unix(now()),
            );
            headers = format!("{content_type}Stripe-Signature: {signature}\r\n");
        }
        cases.push(Case {
            what: format!("{route}: {what}"),
            raw: raw(method, path.as_bytes(), &headers, &body),
            expect: if reads_body {
                Expect::Refused
            } else {
                Expect::NoServerError
            },
        });
    }
    let over = vec![b'['; Limits::default().max_body + 1];
    cases.push(Case {
        what: format!("{route}: a body over the server's limit"),
        raw: raw(method, path.as_bytes(), &auth, &over),
        expect: Expect::Refused,
    });

    let read_keys: BTreeSet<&str> = QUERY_READERS
        .iter()
        .filter(|(m, t, _)| *m == method && *t == template)
        .flat_map(|(_, _, keys)| keys.iter().copied())
        .collect();
    for (what, query) in hostile_queries() {
        let reads = read_keys
            .iter()
            .any(|k| query.split('&').any(|kv| kv.split('=').next() == Some(k)));
        cases.push(Case {
            what: format!("{route}: {what} in the query"),
            raw: raw(method, format!("{path}?{query}").as_bytes(), &auth, b""),
            expect: if reads {
                Expect::Refused
            } else {
                Expect::NoServerError
            },
        });
    }
    cases.push(Case {
        what: format!("{route}: a 9 KB query"),
        raw: raw(
            method,
            format!("{path}?q={}", "x".repeat(9_000)).as_bytes(),
            &auth,
            b"",
        ),
        expect: Expect::Refused,
    });
    cases.push(Case {
        what: format!("{route}: raw bad UTF-8 in the query"),
        raw: raw(
            method,
            &[path.as_bytes(), b"?limit=\xff\xfe&cursor=\xc3("].concat(),
            &auth,
            b"",
        ),
        expect: Expect::Refused,
    });
    cases
}

/// What is wrong with `a` as the answer to `case`, if anything.
fn judge(case: &Case, a: &Answer) -> Option<String> {
    let code = a.body["error"]["code"].as_str().unwrap_or_default();
    let message = a.body["error"]["message"].as_str().unwrap_or_default();
    let head: String = a.raw.chars().take(300).collect();
    let refused = (400..500).contains(&a.status);
    if refused {
        if !code.starts_with("ERR_") || message.is_empty() {
            return Some(format!(
                "{}: {} without the JSON error body: {head}",
                case.what, a.status
            ));
        }
        if a.raw.contains(MARKER) {
            return Some(format!(
                "{}: the refusal echoes the input: {head}",
                case.what
            ));
        }
        return None;
    }
    // A route that ignores the hostile part answers as usual: a 2xx, or the
    // connect route's 302 to Stripe.
    let allowed = case.expect == Expect::NoServerError && (200..400).contains(&a.status);
    if allowed && !a.body.is_null() {
        return None;
    }
    Some(format!(
        "{}: answered {} ({code}): {head}",
        case.what, a.status
    ))
}

#[tokio::test]
async fn every_route_refuses_hostile_input_with_a_json_4xx_never_a_5xx() {
    let r = LocalServer::start("ws_hostile", Limits::default()).await;
    assert!(!r.routes.is_empty(), "the runner mounts no route");
    let mut methods: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for (method, template) in &r.routes {
        methods.entry(template).or_default().insert(method);
    }
    let mut failures = Vec::new();
    let mut sent = 0;
    for (method, template) in &r.routes {
        let others: Vec<&str> = ["GET", "PUT", "POST", "PATCH", "DELETE"]
            .into_iter()
            .filter(|m| !methods[template].contains(m))
            .collect();
        for case in cases_for(method, template, &r.token, &others) {
            let a = send(r.addr, case.raw.clone()).await;
            sent += 1;
            failures.extend(judge(&case, &a));
        }
    }
    eprintln!("{sent} hostile requests over {} routes", r.routes.len());
    assert!(
        failures.is_empty(),
        "{} of {sent} hostile requests were not refused properly:\n{}",
        failures.len(),
        failures.join("\n")
    );
    // The runner still serves after all of it.
    assert_eq!(r.get("/api/v1/integrations/stripe").await.status, 200);
}

/// Every numeric leaf of `v`, as JSON pointers.
fn numeric_leaves(v: &serde_json::Value, at: String, out: &mut Vec<String>) {
    match v {
        serde_json::Value::Number(_) => out.push(at),
        serde_json::Value::Object(map) => {
            for (k, child) in map {
                let k = k.replace('~', "~0").replace('/', "~1");
                numeric_leaves(child, format!("{at}/{k}"), out);
            }
        }
        serde_json::Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                numeric_leaves(child, format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
}

/// Realistic Stripe events, correctly signed, for a connected account whose
/// customers are matched, with one number at a time pushed to an extreme
/// (amounts, quantities, timestamps, counts): the apply and scoring pipe answers
/// 200 or a JSON 4xx, never a 5xx or a panic. Through the handler in process,
/// with no Stripe to read (what a payload lacks stays unknown), so no request
/// leaves the machine.
#[tokio::test]
async fn signed_events_with_extreme_numbers_are_applied_or_refused_never_a_5xx() {
    use kustiq::domain::connection::Mode;
    use kustiq_tests::Engine;
    use kustiq_tests::simulated::customer_of;
    use kustiq_tests::webhook::Bench;
    use serde_json::{Value, json};

    const ACCOUNT: &str = "acct_1Extreme";
    let b = Bench::new(Engine::Dynoxide, Timestamp::from_unix(1_800_000_000)).await;
    let ws = b.connect("ws_extreme", ACCOUNT, Mode::Test).await;
    let dir = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/tests/fixtures/stripe"
    );
    let mut events: Vec<Value> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{dir}: {e}"))
        .filter_map(|f| serde_json::from_slice(&std::fs::read(f.ok()?.path()).ok()?).ok())
        .filter(|e: &Value| {
            e["object"] == "event" && e["type"] != "account.application.deauthorized"
        })
        .collect();
    events.sort_by_key(|e| e["id"].as_str().unwrap_or_default().to_owned());
    assert!(events.len() >= 8, "fixtures missing: {}", events.len());
    let mut customers: Vec<String> = events.iter().filter_map(customer_of).collect();
    customers.sort();
    customers.dedup();
    for (i, c) in customers.iter().enumerate() {
        b.match_profile(&ws, &format!("p{i}"), c).await;
    }
    let extremes = [
        json!(i64::MAX),
        json!(i64::MIN),
        json!(u64::MAX),
        json!(-1),
        json!(0),
        json!(1e300),
    ];
    let (mut sent, mut failures) = (0, Vec::new());
    let mut outcomes: BTreeMap<String, usize> = BTreeMap::new();
    for event in &events {
        let mut leaves = Vec::new();
        numeric_leaves(event, String::new(), &mut leaves);
        for (i, pointer) in leaves.iter().enumerate() {
            let mut e = event.clone();
            e["account"] = json!(ACCOUNT);
            e["livemode"] = json!(false);
            let extreme = extremes[i % extremes.len()].clone();
            if let Some(node) = e.pointer_mut(pointer) {
                *node = extreme.clone();
            }
            e["id"] = json!(format!("evt_1Extreme{sent}"));
            let a = b.post_event(&e).await;
            sent += 1;
            let outcome = a.outcome().or(a.code()).unwrap_or("?").to_owned();
            *outcomes.entry(outcome).or_default() += 1;
            let code = a.body["error"]["code"].as_str().unwrap_or_default();
            let message = a.body["error"]["message"].as_str().unwrap_or_default();
            let ok = a.status == 200
                || ((400..500).contains(&a.status)
                    && code.starts_with("ERR_")
                    && !message.is_empty());
            if !ok {
                failures.push(format!(
                    "{} with {pointer} = {extreme}: {} {}",
                    event["type"], a.status, a.body
                ));
            }
        }
    }
    eprintln!("{sent} signed events with an extreme number: {outcomes:?}");
    // Most must reach the pipe, or the extremes never met the arithmetic.
    let applied = outcomes.get("applied").copied().unwrap_or_default();
    assert!(
        applied * 2 > sent,
        "only {applied} of {sent} applied: {outcomes:?}"
    );
    assert!(
        failures.is_empty(),
        "{} of {sent} answered neither 200 nor a JSON 4xx:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
