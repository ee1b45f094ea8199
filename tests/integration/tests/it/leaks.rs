//! After a full demo run (connect through OAuth, backfill, simulated days of webhooks and
//! nightly syncs), nothing we write holds a credential in plaintext: not the stored items
//! (the data dir's SQLite file and its side files, read as bytes), not any other file of
//! the data dir, not a log line (every crate, trace level). No card-number pattern and no
//! field of Stripe's payment-method objects either.

use kustiq_local::demo::{DemoArgs, run};
use kustiq_tests::logs::LogSink as Sink;
use std::path::Path;

/// Every file under `dir`, as (path, bytes).
fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap_or_else(|e| panic!("{}: {e}", d.display())) {
            let path = entry.unwrap_or_else(|e| panic!("{e}")).path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{e}"));
                out.push((path.display().to_string(), bytes));
            }
        }
    }
    out
}

/// `prefix` followed by at least `min` token characters (an OAuth code, token or key).
fn token_after(hay: &[u8], prefix: &[u8], min: usize) -> Option<String> {
    hay.windows(prefix.len())
        .enumerate()
        .filter(|(_, w)| *w == prefix)
        .find_map(|(i, _)| {
            let tail: Vec<u8> = hay[i + prefix.len()..]
                .iter()
                .take_while(|b| b.is_ascii_alphanumeric())
                .copied()
                .collect();
            (tail.len() >= min).then(|| {
                String::from_utf8_lossy(&hay[i..i + prefix.len() + tail.len()]).into_owned()
            })
        })
}

/// A run of 15 or 16 digits that starts like a card number (3–6) and passes Luhn. With
/// `near_card_word`, only runs that follow "card" or "number" within 40 bytes count: a
/// trace-level log carries 16-digit ids and timings, one in ten of which passes Luhn.
fn card_number(hay: &[u8], near_card_word: bool) -> Option<String> {
    let mut i = 0;
    while i < hay.len() {
        let run = hay[i..].iter().take_while(|b| b.is_ascii_digit()).count();
        if run == 0 {
            i += 1;
            continue;
        }
        let digits = &hay[i..i + run];
        let before = String::from_utf8_lossy(&hay[i.saturating_sub(40)..i]).to_ascii_lowercase();
        let labelled = before.contains("card") || before.contains("number");
        if (run == 15 || run == 16)
            && (b'3'..=b'6').contains(&digits[0])
            && (!near_card_word || labelled)
        {
            let sum: u32 = digits
                .iter()
                .rev()
                .enumerate()
                .map(|(k, d)| {
                    let d = u32::from(d - b'0');
                    if k % 2 == 1 {
                        let x = d * 2;
                        if x > 9 { x - 9 } else { x }
                    } else {
                        d
                    }
                })
                .sum();
            if sum.is_multiple_of(10) {
                return Some(String::from_utf8_lossy(digits).into_owned());
            }
        }
        i += run;
    }
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_demo_run_no_credential_card_number_or_payment_method_field_is_stored_or_logged() {
    let sink = Sink::default();
    let writer = sink.clone();
    // Global: the demo's server and workers log from every runtime thread.
    use tracing_subscriber::util::SubscriberInitExt;
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(tracing_subscriber::EnvFilter::new("trace"))
        .with_writer(move || writer.clone())
        .finish()
        .try_init()
        .unwrap_or_else(|e| panic!("{e}"));

    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let summary = run(DemoArgs {
        customers: 40,
        days: 3,
        seed: 5,
        serve: false,
        port: 0,
        data_dir: Some(dir.path().to_path_buf()),
        years: 1,
    })
    .await
    .unwrap_or_else(|e| panic!("demo: {e}"));
    assert!(summary.backfilled > 40, "the demo read the account");

    let logs = sink.bytes();
    assert!(logs.len() > 10_000, "the subscriber captured the run");
    let mut places = files(dir.path());
    assert!(
        places
            .iter()
            .any(|(p, b)| p.ends_with("kustiq.sqlite") && b.len() > 10_000),
        "the store's file holds the run's items"
    );
    places.push(("log".to_owned(), logs));
    // Billing states are stored compressed, which a byte scan cannot see through:
    // every one is scanned decoded too.
    let engine =
        kustiq_local::embedded::EmbeddedDynamo::open_file(&dir.path().join("kustiq.sqlite"))
            .unwrap_or_else(|e| panic!("reopen the store: {e}"));
    let stored = kustiq_tests::snapshot::TableSnapshot::take(
        &engine.store("eu-central-1", kustiq_local::runner::LOCAL_TABLE),
    )
    .await;
    let states = stored.binaries();
    assert!(
        states.len() >= 40,
        "a billing state per customer: {}",
        states.len()
    );
    for (key, bytes) in states {
        let state = kustiq::adapters::dynamo::state_codec::decode(&bytes)
            .unwrap_or_else(|e| panic!("{key}: {e}"));
        let json = serde_json::to_vec(&state).unwrap_or_else(|e| panic!("{e}"));
        places.push((format!("billing state {key}"), json));
    }

    // Credentials: the platform key and OAuth access tokens (sk_test_…), restricted keys
    // and Apps tokens (rk_test_…), refresh tokens (rt_…), authorization codes (ac_…),
    // webhook signing secrets (whsec_…).
    let credentials: [(&[u8], usize); 5] = [
        (b"sk_test_", 3),
        (b"rk_test_", 3),
        (b"rt_", 32),
        (b"ac_", 24),
        (b"whsec_", 4),
    ];
    // Fields of Stripe's payment-method objects (card details).
    let card_fields: [&[u8]; 6] = [
        b"\"last4\"",
        b"\"exp_month\"",
        b"\"exp_year\"",
        b"\"fingerprint\"",
        b"payment_method_details",
        b"\"cvc_check\"",
    ];
    for (place, bytes) in &places {
        for (prefix, min) in credentials {
            if let Some(found) = token_after(bytes, prefix, min) {
                panic!("{place} holds a credential in plaintext: {found}");
            }
        }
        for field in card_fields {
            assert!(
                !bytes.windows(field.len()).any(|w| w == field),
                "{place} holds the payment-method field {}",
                String::from_utf8_lossy(field)
            );
        }
        if let Some(n) = card_number(bytes, place == "log") {
            panic!("{place} holds a card-number pattern: {n}");
        }
    }
}

#[test]
fn the_scanners_find_what_they_look_for() {
    assert_eq!(
        token_after(b"x sk_test_abc y", b"sk_test_", 3).as_deref(),
        Some("sk_test_abc")
    );
    assert_eq!(token_after(b"start_at rt_short", b"rt_", 32), None);
    assert_eq!(
        card_number(b"n=4242424242424242;", false).as_deref(),
        Some("4242424242424242")
    );
    assert_eq!(
        card_number(b"t=1796042554000 4242424242424241", false),
        None
    );
    assert_eq!(
        card_number(br#"{"card_number":"4242424242424242"}"#, true).as_deref(),
        Some("4242424242424242")
    );
    assert_eq!(card_number(br#"{"span":6641099160006957}"#, true), None);
}
