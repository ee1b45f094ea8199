//! Page cursors and page sizes: only a real `next_cursor` of the same workspace and query reads on.

use super::*;
use kustiq::app::cursor;
use kustiq::domain::ids::WorkspaceId;
use kustiq::domain::secret::Secret;
use kustiq::ports::store::StoreCursor;
use kustiq_tests::Engine;
use kustiq_tests::webhook::CURSOR_KEY;

#[tokio::test]
async fn forged_altered_or_foreign_cursors_are_a_400() {
    let b = Bench::new(Engine::DynamoDbLocal, NOW).await;
    for (ws, n) in [("ws_a", 7), ("ws_b", 3)] {
        for i in 0..n {
            let body = json!({"classifier_churn_risk": 50.0, "families": {"crm": [factor("c", -f64::from(i))]}});
            assert_eq!(
                put(&b, ws, &format!("p{i}"), &body.to_string())
                    .await
                    .status,
                200
            );
        }
    }
    let all = at_risk_all(&b, "ws_a", "200").await;
    assert_eq!(all.len(), 7);
    assert_eq!(
        at_risk_all(&b, "ws_a", "2").await,
        all,
        "pages of 2 read every profile once"
    );
    let first = at_risk(&b, "ws_a", &[("limit", "2")]).await;
    let real = first.body["next_cursor"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let second = at_risk(&b, "ws_a", &[("limit", "2"), ("cursor", &real)]).await;
    assert_eq!(second.status, 200);
    let b_page = at_risk(&b, "ws_b", &[("limit", "1")]).await;
    let foreign = b_page.body["next_cursor"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        !real.is_empty() && !foreign.is_empty(),
        "both workspaces have a second page"
    );
    let key = Secret::new(CURSOR_KEY);
    let ws = |w: &str| WorkspaceId::parse(w).unwrap_or_else(|e| panic!("{e}"));
    let inner = cursor::open(&key, &ws("ws_a"), "at-risk:score", &real)
        .unwrap_or_else(|e| panic!("the real cursor opens: {e}"));
    let b_inner = cursor::open(&key, &ws("ws_b"), "at-risk:score", &foreign)
        .unwrap_or_else(|e| panic!("the foreign cursor opens: {e}"));
    let body_part = real.split('.').next().unwrap_or_default().to_owned();
    let mut table: Vec<(String, String)> = vec![
        ("another workspace's real cursor".into(), foreign.clone()),
        (
            "sealed for another query".into(),
            cursor::seal(&key, &ws("ws_a"), "at-risk:rising", &inner),
        ),
        (
            "sealed with another key".into(),
            cursor::seal(
                &Secret::new("other-key"),
                &ws("ws_a"),
                "at-risk:score",
                &inner,
            ),
        ),
        (
            "sealed for this workspace, pointing into another's".into(),
            cursor::seal(&key, &ws("ws_a"), "at-risk:score", &b_inner),
        ),
        (
            "sealed junk".into(),
            cursor::seal(
                &key,
                &ws("ws_a"),
                "at-risk:score",
                &StoreCursor::new("%%%".into()),
            ),
        ),
        ("the unsealed store cursor".into(), body_part.clone()),
        ("tag cut off".into(), format!("{body_part}.")),
        ("truncated".into(), real[..real.len() - 1].to_owned()),
        ("one more character".into(), format!("{real}A")),
        ("empty".into(), String::new()),
        ("junk".into(), "abc".into()),
        ("dot".into(), ".".into()),
        ("three parts".into(), format!("{real}.{body_part}")),
        ("percent junk".into(), "%%%.%%%".into()),
        ("long junk".into(), "A".repeat(8_192)),
        ("with the marker".into(), format!("{MARKER}.{MARKER}")),
    ];
    for (i, ch) in real.char_indices() {
        let flipped = if ch == 'A' { 'B' } else { 'A' };
        let mut forged = real.clone();
        forged.replace_range(i..i + ch.len_utf8(), &flipped.to_string());
        table.push((format!("byte {i} altered"), forged));
    }
    for (what, c) in &table {
        let a = at_risk(&b, "ws_a", &[("limit", "2"), ("cursor", c)]).await;
        assert_refused(what, &a, 400);
    }
    let reused = at_risk(&b, "ws_b", &[("limit", "2"), ("cursor", &real)]).await;
    assert_refused("ws_a's cursor in ws_b", &reused, 400);
    for bad in ["0", "201", "-1", "abc", "", "1e2", "65536", "2.5"] {
        assert_refused(
            &format!("limit {bad:?}"),
            &at_risk(&b, "ws_a", &[("limit", bad)]).await,
            400,
        );
    }
    for good in ["1", "200"] {
        assert_eq!(
            at_risk(&b, "ws_a", &[("limit", good)]).await.status,
            200,
            "limit {good}"
        );
    }
    let again = at_risk(&b, "ws_a", &[("limit", "2"), ("cursor", &real)]).await;
    assert_eq!(
        again.body, second.body,
        "the real cursor still reads the second page"
    );
}
