//! Concurrent webhook deliveries: every log line inside a delivery names that delivery's event.

use super::*;
use futures::future::join_all;
use kustiq_tests::Engine;
use std::collections::BTreeMap;

/// Log lines as the subscriber writes them.
#[derive(Clone, Default)]
struct Lines(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Lines {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let mut out = self.0.lock().unwrap_or_else(|e| e.into_inner());
        out.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Lines {
    fn parsed(&self) -> Vec<Value> {
        let bytes = self.0.lock().unwrap_or_else(|e| e.into_inner()).clone();
        String::from_utf8_lossy(&bytes)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("log line {l}: {e}")))
            .collect()
    }
}

/// `n` disputes of charges the store has never seen: each is deferred, which
/// logs a warning naming its own event from inside the delivery.
fn disputes(account: &str, n: usize) -> Vec<(String, String)> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/tests/fixtures/stripe/dispute_created.json"
    );
    let fixture = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let template: Value = serde_json::from_str(&fixture).unwrap_or_else(|e| panic!("{e}"));
    (0..n)
        .map(|i| {
            let mut e = template.clone();
            let id = format!("evt_hardening{i:03}");
            e["id"] = json!(id);
            e["account"] = json!(account);
            e["data"]["object"]["id"] = json!(format!("dp_hardening{i:03}"));
            e["data"]["object"]["charge"] = json!(format!("ch_hardening{i:03}"));
            (id, e.to_string())
        })
        .collect()
}

#[tokio::test]
async fn concurrent_webhook_deliveries_log_under_their_own_event() {
    use tracing_subscriber::util::SubscriberInitExt;
    let lines = Lines::default();
    let sink = lines.clone();
    let _guard = tracing_subscriber::fmt()
        .json()
        .with_current_span(true)
        .with_span_list(true)
        .with_env_filter(tracing_subscriber::EnvFilter::new("debug"))
        .with_writer(move || sink.clone())
        .finish()
        .set_default();
    let b = Bench::new(Engine::DynamoDbLocal, NOW).await;
    let account = "acct_1HardeningLogs0";
    b.connect("ws_logs", account, kustiq::domain::connection::Mode::Test)
        .await;
    let events = disputes(account, 50);
    let answers = join_all(events.iter().map(|(_, body)| b.post_signed(body))).await;
    for ((id, _), a) in events.iter().zip(&answers) {
        assert_eq!(
            (a.status, a.body["outcome"].as_str()),
            (200, Some("deferred")),
            "{id}: {}",
            a.body
        );
    }
    let webhook_spans = |line: &Value| -> Vec<String> {
        line["spans"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|s| s["name"] == "webhook")
            .map(|s| s["event_id"].as_str().unwrap_or_default().to_owned())
            .collect()
    };
    let parsed = lines.parsed();
    let mut in_span = 0;
    let mut named = BTreeMap::new();
    for line in &parsed {
        let spans = webhook_spans(line);
        if spans.is_empty() {
            continue;
        }
        in_span += 1;
        assert_eq!(
            spans.len(),
            1,
            "one delivery's line inside another's span: {line}"
        );
        if let Some(own) = line["fields"]["event_id"].as_str() {
            assert_eq!(
                own, spans[0],
                "a line names another delivery's event: {line}"
            );
            *named.entry(own.to_owned()).or_insert(0) += 1;
        }
    }
    let posted: BTreeMap<String, i32> = events.iter().map(|(id, _)| (id.clone(), 1)).collect();
    assert_eq!(
        named, posted,
        "each delivery logs its deferral once, under its own span"
    );
    assert!(
        in_span >= events.len(),
        "lines inside delivery spans: {in_span}"
    );
}
