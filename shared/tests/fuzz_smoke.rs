//! A bounded, stable-toolchain run of the cargo-fuzz bodies (`fuzz/bodies.rs`):
//! mutated Stripe payloads and signature headers, plus random bytes, must never
//! panic the parsers. Scale with `KUSTIQ_FUZZ_ITERS` (default 100 000 per
//! target) and vary with `KUSTIQ_FUZZ_SEED`.

#[path = "../../fuzz/bodies.rs"]
mod bodies;

use fastrand::Rng;

fn iterations() -> usize {
    std::env::var("KUSTIQ_FUZZ_ITERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000)
}

fn rng() -> Rng {
    let seed = std::env::var("KUSTIQ_FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0x5eed_f022);
    Rng::with_seed(seed)
}

fn fixtures() -> Vec<Vec<u8>> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/stripe");
    let mut out: Vec<Vec<u8>> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| std::fs::read(e.unwrap().path()).unwrap())
        .collect();
    out.sort();
    assert!(out.len() >= 5, "fixtures missing");
    out
}

/// Tokens that steer mutations into interesting JSON and header shapes.
const DICTIONARY: &[&[u8]] = &[
    b"null",
    b"true",
    b"false",
    b"0",
    b"-1",
    b"1e999",
    b"18446744073709551616",
    b"\"\"",
    b"{}",
    b"[]",
    b"\"object\":\"customer\"",
    b"\"object\":\"subscription\"",
    b"\"object\":\"invoice\"",
    b"\"object\":\"charge\"",
    b"\"object\":\"dispute\"",
    b"\"object\":\"application\"",
    b"\"customer\":{\"id\":\"cus_x\"}",
    b"\"previous_attributes\":{\"items\":[]}",
    b"\"up_to\":\"inf\"",
    b"\\u0000",
    b"\\ud800",
    b"\xff\xfe",
    b"t=",
    b"v1=",
    b"v0=",
    b",",
    b"=",
    b"t=1700000000",
    b"t=99999999999999999999",
    b"t=-5",
];

fn mutate(rng: &mut Rng, seed: &[u8], corpus: &[Vec<u8>]) -> Vec<u8> {
    let mut data = seed.to_vec();
    // Mostly one or two mutations, so many inputs stay valid JSON and reach the typed models.
    let rounds = 1 + rng.usize(0..8).min(rng.usize(0..8));
    for _ in 0..rounds {
        let len = data.len();
        match rng.u8(0..8) {
            0 if len > 0 => {
                let i = rng.usize(0..len);
                data[i] ^= 1 << rng.u8(0..8);
            }
            1 if len > 0 => {
                let i = rng.usize(0..len);
                data[i] = rng.u8(..);
            }
            2 => {
                let i = rng.usize(0..=len);
                data.insert(i, rng.u8(..));
            }
            3 if len > 0 => {
                let start = rng.usize(0..len);
                let end = (start + rng.usize(1..=64)).min(len);
                data.drain(start..end);
            }
            4 => {
                let i = rng.usize(0..=len);
                let token = DICTIONARY[rng.usize(0..DICTIONARY.len())];
                data.splice(i..i, token.iter().copied());
            }
            5 if len > 0 => data.truncate(rng.usize(0..len)),
            6 if !corpus.is_empty() => {
                // Splice a slice of another input in.
                let other = &corpus[rng.usize(0..corpus.len())];
                if !other.is_empty() {
                    let a = rng.usize(0..other.len());
                    let b = (a + rng.usize(1..=256)).min(other.len());
                    let i = rng.usize(0..=len);
                    data.splice(i..i, other[a..b].iter().copied());
                }
            }
            _ if len > 1 => {
                // Duplicate a chunk (repeated keys, nested objects).
                let a = rng.usize(0..len);
                let b = (a + rng.usize(1..=128)).min(len);
                let chunk = data[a..b].to_vec();
                let i = rng.usize(0..=data.len());
                data.splice(i..i, chunk);
            }
            _ => {}
        }
    }
    data
}

/// A JSON-aware mutation: replace, delete or retype one node of a valid
/// payload, so the input stays JSON and exercises the typed models.
fn mutate_json(rng: &mut Rng, seed: &[u8]) -> Vec<u8> {
    use serde_json::Value;
    let Ok(mut root) = serde_json::from_slice::<Value>(seed) else {
        return seed.to_vec();
    };
    // Pick a random path (as a JSON pointer), then mutate the node there.
    let mut pointer = String::new();
    let mut node = &root;
    for _ in 0..rng.usize(0..12) {
        let step = match node {
            Value::Object(map) if !map.is_empty() => map
                .iter()
                .nth(rng.usize(0..map.len()))
                .map(|(k, v)| (k.replace('~', "~0").replace('/', "~1"), v)),
            Value::Array(items) if !items.is_empty() => {
                let i = rng.usize(0..items.len());
                Some((i.to_string(), &items[i]))
            }
            _ => None,
        };
        let Some((segment, child)) = step else { break };
        pointer.push('/');
        pointer.push_str(&segment);
        node = child;
    }
    let Some(node) = root.pointer_mut(&pointer) else {
        return seed.to_vec();
    };
    let replacement = match rng.u8(0..9) {
        0 => Value::Null,
        1 => Value::Bool(rng.bool()),
        2 => Value::from(rng.i64(..)),
        3 => Value::from(rng.f64() * 1e6),
        4 => Value::from(""),
        5 => Value::from(["inf", "cus_", "acct_x", "usd", "??", "evt_1"][rng.usize(0..6)]),
        6 => Value::Array(vec![]),
        7 => serde_json::json!({"id": "x"}),
        _ => {
            if let Value::Object(map) = node
                && let Some(k) = map.keys().nth(rng.usize(0..map.len().max(1))).cloned()
            {
                map.remove(&k);
            }
            return serde_json::to_vec(&root).unwrap_or_default();
        }
    };
    *node = replacement;
    serde_json::to_vec(&root).unwrap_or_default()
}

fn random_bytes(rng: &mut Rng) -> Vec<u8> {
    let len = rng.usize(0..512);
    std::iter::repeat_with(|| rng.u8(..)).take(len).collect()
}

#[test]
fn event_parse_survives_mutated_stripe_payloads() {
    let corpus = fixtures();
    let mut rng = rng();
    let mut parsed = 0usize;
    for n in 0..iterations() {
        let pick = rng.usize(0..corpus.len());
        let input = match n % 10 {
            0 => random_bytes(&mut rng),
            1..=4 => mutate_json(&mut rng, &corpus[pick]),
            _ => mutate(&mut rng, &corpus[pick], &corpus),
        };
        parsed += usize::from(bodies::event_parse(&input));
    }
    eprintln!("{parsed} of {} inputs parsed", iterations());
    // The mutations must keep some inputs valid, or the parser's deep paths go untested.
    assert!(
        parsed > iterations() / 20,
        "only {parsed} mutated inputs parsed"
    );
}

#[test]
fn webhook_header_survives_mutated_headers() {
    // A short body keeps the run on the header parser rather than on hashing.
    let body = br#"{"id":"evt_1","object":"event","type":"customer.created"}"#.to_vec();
    let secret = kustiq::domain::secret::Secret::new("whsec_fuzz_a");
    let now = kustiq::domain::time::Timestamp::from_unix(1_700_000_000);
    let signed = kustiq::stripe::signature::sign(&body, &secret, now);
    let seeds: Vec<Vec<u8>> = vec![
        [signed.as_bytes(), b"\n", &body].concat(),
        format!("{signed},v1={},v0=00", "ab".repeat(32)).into_bytes(),
        b"t=1700000000,v1=\n{}".to_vec(),
    ];
    let mut rng = rng();
    for n in 0..iterations() {
        let input = if n % 10 == 0 {
            random_bytes(&mut rng)
        } else {
            let pick = rng.usize(0..seeds.len());
            mutate(&mut rng, &seeds[pick], &seeds)
        };
        bodies::webhook_header(&input);
    }
}

#[test]
fn profile_bodies_are_parsed_or_refused_as_client_errors() {
    let seeds: Vec<Vec<u8>> = [
        r#"{"email":"a@acme.io","domain":"acme.io","name":"A","stripe_customer_id":"cus_1","families":{"crm":[{"signal":"champion_left","impact":12.5,"explanation":"x","evidence":["e"]}],"support":[]},"classifier_churn_risk":40}"#,
        r#"{"families":{"product_usage":[{"signal":"seats_down","impact":-3}]}}"#,
        r#"{}"#,
    ]
    .iter()
    .map(|s| s.as_bytes().to_vec())
    .collect();
    let mut rng = rng();
    let mut parsed = 0usize;
    for n in 0..iterations() {
        let pick = rng.usize(0..seeds.len());
        let input = match n % 10 {
            0 => random_bytes(&mut rng),
            1..=5 => mutate_json(&mut rng, &seeds[pick]),
            _ => mutate(&mut rng, &seeds[pick], &seeds),
        };
        parsed += usize::from(bodies::profile_body(&input));
    }
    eprintln!("{parsed} of {} profile bodies parsed", iterations());
    assert!(
        parsed > iterations() / 20,
        "only {parsed} mutated profile bodies parsed"
    );
}

#[test]
fn request_lines_never_panic_and_cursors_open_only_where_sealed() {
    use kustiq::domain::ids::WorkspaceId;
    use kustiq::ports::store::StoreCursor;
    let ws = WorkspaceId::parse("ws_fuzz").unwrap();
    let key = kustiq::domain::secret::Secret::new("fuzz-cursor-key");
    let sealed = kustiq::app::cursor::seal(
        &key,
        &ws,
        "at-risk:score",
        &StoreCursor::new("eyJwayI6IldTI2EifQ".to_owned()),
    );
    let seeds: Vec<Vec<u8>> = vec![
        format!("/api/v1/churn/at-risk\nlimit=25&cursor={sealed}").into_bytes(),
        b"/api/v1/profiles/p1/churn\ncursor=&cursor=%00".to_vec(),
        b"//api/./v1/../x%2e%2e\n%ff=%fe&cursor=a.b".to_vec(),
    ];
    let mut rng = rng();
    for n in 0..iterations() {
        let input = if n % 10 == 0 {
            random_bytes(&mut rng)
        } else {
            let pick = rng.usize(0..seeds.len());
            mutate(&mut rng, &seeds[pick], &seeds)
        };
        bodies::api_request_line(&input);
    }
    // The seed itself takes the path where a cursor opens.
    bodies::api_request_line(&seeds[0]);
}
