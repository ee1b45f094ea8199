//! What the demo prints: the connection, the match table summary and the at-risk segment.

use crate::demo::client::{Api, DemoError};
use comfy_table::{ContentArrangement, Table, presets::UTF8_FULL_CONDENSED};
use serde_json::Value;

/// A step heading.
pub fn step(what: &str) {
    println!("\n==> {what}");
}

fn text(v: &Value) -> String {
    match v {
        Value::Null => "–".into(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Minor units with a currency as `1,234.50 EUR`.
fn money(v: &Value) -> String {
    let (Some(amount), Some(currency)) = (v["amount"].as_i64(), v["currency"].as_str()) else {
        return "–".into();
    };
    let (major, minor) = (amount / 100, (amount % 100).abs());
    format!("{major}.{minor:02} {}", currency.to_ascii_uppercase())
}

/// The connection as the status route shows it.
pub fn connection(status: &Value) {
    step("Connection");
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED);
    for (k, label) in [
        ("account_id", "Stripe account"),
        ("method", "method"),
        ("mode", "mode"),
        ("region", "region"),
        ("last_sync_at", "last sync"),
    ] {
        t.add_row(vec![label.to_owned(), text(&status[k])]);
    }
    let b = &status["backfill"];
    t.add_row(vec![
        "backfill".to_owned(),
        format!(
            "{} · {} objects",
            text(&b["state"]),
            text(&b["objects_done"])
        ),
    ]);
    t.add_row(vec![
        "current error".to_owned(),
        status["error"]["code"]
            .as_str()
            .unwrap_or("none")
            .to_owned(),
    ]);
    t.add_row(vec![
        "failed events".to_owned(),
        status["failed_events"]
            .as_array()
            .map_or(0, Vec::len)
            .to_string(),
    ]);
    println!("{t}");
}

/// Counts of the match table by status and method.
pub async fn matches(api: &Api) -> Result<Vec<(String, usize)>, DemoError> {
    let mut counts = Vec::new();
    step("Customer matching");
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED);
    t.set_header(vec!["status", "customers", "by method"]);
    for status in ["matched", "review", "unmatched"] {
        let mut rows: Vec<Value> = Vec::new();
        let mut path = format!("/api/v1/integrations/stripe/matches?status={status}&limit=200");
        loop {
            let page = api.get(&path).await?;
            rows.extend(page["data"].as_array().cloned().unwrap_or_default());
            match page["next_cursor"].as_str() {
                Some(c) => {
                    path = format!(
                        "/api/v1/integrations/stripe/matches?status={status}&limit=200&cursor={c}"
                    )
                }
                None => break,
            }
        }
        let mut by_method = std::collections::BTreeMap::<String, usize>::new();
        for r in &rows {
            *by_method.entry(text(&r["method"])).or_default() += 1;
        }
        let methods = by_method
            .iter()
            .map(|(m, n)| format!("{m}: {n}"))
            .collect::<Vec<_>>()
            .join(", ");
        t.add_row(vec![status.to_owned(), rows.len().to_string(), methods]);
        counts.push((status.to_owned(), rows.len()));
    }
    println!("{t}");
    Ok(counts)
}

/// One printed row of the segment, for the summary.
#[derive(Debug, Clone)]
pub struct SegmentRow {
    /// Profile id.
    pub profile_id: String,
    /// Score.
    pub score: f64,
    /// Stripe evidence ids of its top factors.
    pub evidence: Vec<String>,
}

/// The at-risk segment with each profile's top factors, their explanations and evidence.
pub async fn at_risk(api: &Api, page: &Value) -> Result<Vec<SegmentRow>, DemoError> {
    let mut rows = Vec::new();
    step("At-risk segment (highest score first)");
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_width(160);
    t.set_header(vec![
        "profile",
        "score",
        "change",
        "top factors (evidence)",
        "MRR",
        "lifecycle",
    ]);
    for row in page["data"].as_array().cloned().unwrap_or_default() {
        let id = text(&row["profile_id"]);
        let churn = api.get(&format!("/api/v1/profiles/{id}/churn")).await?;
        let mut factors: Vec<(f64, String, Vec<String>)> = Vec::new();
        if let Some(families) = churn["families"].as_object() {
            for fam in families.values() {
                for f in fam["factors"].as_array().into_iter().flatten() {
                    let evidence: Vec<String> = f["evidence"]
                        .as_array()
                        .map(|e| e.iter().map(text).collect())
                        .unwrap_or_default();
                    let explanation = text(&f["explanation"]);
                    // Billing explanations name their evidence already; others get it appended.
                    let cited = evidence.iter().all(|e| explanation.contains(e.as_str()));
                    let impact = f["impact"].as_f64().unwrap_or(0.0);
                    let line = if cited {
                        format!("{} {impact:+.1}: {explanation}", text(&f["signal"]))
                    } else {
                        format!(
                            "{} {impact:+.1}: {explanation} [{}]",
                            text(&f["signal"]),
                            evidence.join(", ")
                        )
                    };
                    factors.push((impact, line, evidence));
                }
            }
        }
        factors.sort_by(|a, b| b.0.total_cmp(&a.0));
        factors.truncate(3);
        let top = factors
            .iter()
            .map(|(_, l, _)| l.as_str())
            .collect::<Vec<_>>()
            .join("\n");
        rows.push(SegmentRow {
            profile_id: id.clone(),
            score: row["score"].as_f64().unwrap_or(0.0),
            evidence: factors.iter().flat_map(|(_, _, e)| e.clone()).collect(),
        });
        t.add_row(vec![
            id,
            text(&row["score"]),
            row["delta"]
                .as_f64()
                .map_or("–".into(), |d| format!("{d:+.1}")),
            top,
            money(&row["mrr"]),
            text(&row["lifecycle"]),
        ]);
    }
    println!("{t}");
    Ok(rows)
}

/// Where the profile whose payments failed during the demo ended up.
pub fn victim(page: &Value, customer: &str, profile: &str, failures: u32) -> Option<usize> {
    let rank = page["data"]
        .as_array()
        .and_then(|rows| rows.iter().position(|r| r["profile_id"] == profile));
    match rank {
        Some(i) => println!(
            "\n{profile} ({customer}) had {failures} failed payments during the simulated days: #{} of the at-risk segment.",
            i + 1
        ),
        None => println!(
            "\n{profile} ({customer}) had {failures} failed payments during the simulated days but is not in the first page of the segment."
        ),
    }
    rank.map(|i| i + 1)
}
