//! `GET /api/v1/churn/at-risk`: `sort=rising` by the rise over 7 days, the
//! filters, and their paging semantics: the cursor always advances, pages are
//! full until the end, and a filtered walk lists exactly the matching rows of
//! the unfiltered walk, in the same order.

use kustiq::domain::connection::Mode;
use kustiq::domain::time::Timestamp;
use kustiq_tests::Engine;
use kustiq_tests::api::ids;
use kustiq_tests::simulated::Simulated;
use kustiq_tests::webhook::Bench;
use serde_json::{Value, json};

const NOW: Timestamp = Timestamp::from_unix(1_760_000_000);

fn body(crm: f64, risk: f64) -> Value {
    json!({"families": {"crm": [{"signal": "champion_left", "impact": crm, "explanation": "the champion left"}]}, "classifier_churn_risk": risk})
}

/// PUTs `id` and returns its new score.
async fn put(b: &Bench, ws: &str, id: &str, crm: f64, risk: f64) -> f64 {
    let a = b.put_profile_json(ws, id, body(crm, risk)).await;
    assert_eq!(a.status, 200, "{}", a.body);
    a.body["score"].as_f64().unwrap_or(f64::NAN)
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

#[tokio::test]
async fn rising_lists_the_largest_rise_over_seven_days_first() {
    let b = Bench::new(Engine::DynamoDbLocal, NOW).await;
    let ws = "ws_rising";
    // Day 0.
    let a0 = put(&b, ws, "a", -20.0, 0.0).await;
    let b0 = put(&b, ws, "b", 0.0, 0.0).await;
    let c0 = put(&b, ws, "c", 20.0, 100.0).await;
    let d0 = put(&b, ws, "d", -20.0, 0.0).await;
    // Day 5: a rises most, b less, c unchanged, d rises but stays below the threshold.
    b.clock.set(NOW.plus_days(5));
    let a5 = put(&b, ws, "a", 20.0, 100.0).await;
    let b5 = put(&b, ws, "b", 10.0, 30.0).await;
    assert_eq!(put(&b, ws, "c", 20.0, 100.0).await, c0);
    let d5 = put(&b, ws, "d", 0.0, 0.0).await;
    assert!(
        a5 >= 65.0 && b5 >= 65.0 && c0 >= 65.0 && d5 < 65.0,
        "{a5} {b5} {c0} {d5}"
    );
    assert!(a5 - a0 > b5 - b0 && b5 - b0 > 0.0 && d5 > d0);

    let (rows, _) = b.at_risk_walk(ws, "sort=rising").await;
    assert_eq!(
        ids(&rows),
        ["a", "b"],
        "largest rise first; no rise, or not at risk: not listed"
    );
    assert_eq!(rows[0]["delta"], round1(a5 - a0));
    assert_eq!(rows[1]["delta"], round1(b5 - b0));
    let (paged, pages) = b.at_risk_walk(ws, "sort=rising&limit=1").await;
    assert_eq!(ids(&paged), ["a", "b"], "pages of one read the same order");
    assert!(pages <= 3, "{pages} pages");

    let (by_score, _) = b.at_risk_walk(ws, "").await;
    let deltas: Vec<(String, f64)> = by_score
        .iter()
        .map(|r| {
            (
                r["profile_id"].as_str().unwrap_or_default().to_owned(),
                r["delta"].as_f64().unwrap_or(f64::NAN),
            )
        })
        .collect();
    assert!(
        deltas.contains(&("c".to_owned(), 0.0)),
        "an unchanged score shows no rise: {deltas:?}"
    );

    // Day 13: the last change is more than 7 days old: nothing rose this week.
    b.clock.set(NOW.plus_days(13));
    let (rows, _) = b.at_risk_walk(ws, "sort=rising").await;
    assert_eq!(
        ids(&rows),
        Vec::<String>::new(),
        "a rise older than 7 days reads as none"
    );
    let (by_score, _) = b.at_risk_walk(ws, "").await;
    assert!(by_score.iter().all(|r| r["delta"] == 0.0), "{by_score:?}");

    // Day 14: a falls, leaving the rising index; b rises again.
    b.clock.set(NOW.plus_days(14));
    put(&b, ws, "a", 0.0, 60.0).await;
    let b14 = put(&b, ws, "b", 20.0, 40.0).await;
    let (rows, _) = b.at_risk_walk(ws, "sort=rising").await;
    assert_eq!(ids(&rows), ["b"]);
    assert_eq!(
        rows[0]["delta"],
        round1(b14 - b5),
        "measured from the score 7 days before"
    );
}

#[tokio::test]
async fn min_score_pages_are_full_until_the_end() {
    let b = Bench::new(Engine::DynamoDbLocal, NOW).await;
    let ws = "ws_min";
    let mut scores = Vec::new();
    for i in 0..12 {
        let crm = -20.0 + 4.0 * f64::from(i);
        scores.push(put(&b, ws, &format!("m{i}"), crm, 100.0).await);
    }
    let (all, _) = b.at_risk_walk(ws, "limit=200").await;
    for min in ["0", "70", "75.5", "100"] {
        let floor: f64 = min.parse().unwrap_or_default();
        let want: Vec<String> = all
            .iter()
            .filter(|r| r["score"].as_f64().unwrap_or_default() >= floor)
            .filter_map(|r| r["profile_id"].as_str().map(str::to_owned))
            .collect();
        let (rows, pages) = b
            .at_risk_walk(ws, &format!("min_score={min}&limit=2"))
            .await;
        assert_eq!(
            ids(&rows),
            want,
            "min_score={min}: the matching rows, in order"
        );
        assert!(
            pages <= want.len() / 2 + 1,
            "min_score={min}: full pages ({pages} for {})",
            want.len()
        );
    }
    for bad in ["-1", "101", "abc", "NaN"] {
        b.call(
            "GET",
            &format!("/api/v1/churn/at-risk?min_score={bad}"),
            ws,
            None,
        )
        .await
        .assert_refused(400, "ERR_BAD_REQUEST");
    }
    for bad in ["sort=newest", "lifecycle=gold", "involuntary=yes"] {
        b.call("GET", &format!("/api/v1/churn/at-risk?{bad}"), ws, None)
            .await
            .assert_refused(400, "ERR_BAD_REQUEST");
    }
}

#[tokio::test]
async fn a_cursor_is_bound_to_its_sort_and_filters() {
    let b = Bench::new(Engine::DynamoDbLocal, NOW).await;
    let ws = "ws_bound";
    for i in 0..4 {
        put(&b, ws, &format!("q{i}"), 20.0, 100.0).await;
    }
    let first = b
        .call(
            "GET",
            "/api/v1/churn/at-risk?limit=1&min_score=70",
            ws,
            None,
        )
        .await;
    let c = first.body["next_cursor"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(!c.is_empty());
    let same = b
        .call(
            "GET",
            &format!("/api/v1/churn/at-risk?limit=1&min_score=70&cursor={c}"),
            ws,
            None,
        )
        .await;
    assert_eq!(same.status, 200, "{}", same.body);
    for other in [
        "limit=1",
        "limit=1&min_score=71",
        "limit=1&min_score=70&sort=rising",
        "limit=1&min_score=70&involuntary=true",
    ] {
        b.call(
            "GET",
            &format!("/api/v1/churn/at-risk?{other}&cursor={c}"),
            ws,
            None,
        )
        .await
        .assert_refused(400, "ERR_BAD_REQUEST");
    }
}

/// The billing facts of a profile as its explained score shows them.
struct Truth {
    id: String,
    at_risk: bool,
    lifecycle: Value,
    involuntary: bool,
}

#[tokio::test]
async fn lifecycle_and_involuntary_filters_list_exactly_the_matching_rows() {
    let given = Simulated::new(25, 11).await;
    let (b, ws) = Bench::matched(&given, "ws_filters", Mode::Test).await;
    for e in &given.events {
        assert_eq!(b.post_event(e).await.status, 200);
    }
    // Two payment failures now for a few customers that pay: involuntary risk.
    let customers: Vec<String> = given.customers().into_iter().collect();
    let mut posted = 0;
    for c in customers.iter().step_by(5) {
        for _ in 0..2 {
            let Ok(new_ids) = given
                .sim
                .emit(&given.account, "invoice.payment_failed", c)
                .await
            else {
                continue;
            };
            for e in given.sim.events(&given.account) {
                if new_ids.iter().any(|id| e["id"] == id.as_str()) {
                    let at = e["created"].as_i64().unwrap_or_default() + 60;
                    b.clock
                        .set(Timestamp::from_unix(at.max(given.now().unix())));
                    assert_eq!(b.post_event(&e).await.status, 200);
                    posted += 1;
                }
            }
        }
    }
    assert!(posted > 0, "the simulator made payments fail");
    let ws = ws.as_str();
    // Push every matched profile up with other families, keeping its customer.
    let mut truth = Vec::new();
    for (i, c) in customers.iter().enumerate() {
        let id = format!("p{i}");
        let a = b
            .put_profile_json(ws, &id, json!({"stripe_customer_id": c, "families": {"crm": [{"signal": "champion_left", "impact": 20.0}]}, "classifier_churn_risk": 100.0}))
            .await;
        assert_eq!(a.status, 200, "{}", a.body);
        let billing = &a.body["billing"];
        let failing = a.body["families"]["billing"]["factors"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|f| {
                f["impact"].as_f64().unwrap_or_default() > 0.0
                    && matches!(
                        f["signal"].as_str(),
                        Some("stripe_payment_failure" | "stripe_dispute")
                    )
            });
        truth.push(Truth {
            id,
            at_risk: a.body["at_risk"] == true,
            lifecycle: billing["lifecycle"].clone(),
            involuntary: billing["churn_type"] == "involuntary" || failing,
        });
    }
    let (all, _) = b.at_risk_walk(ws, "limit=200").await;
    let listed = ids(&all);
    let want_all: Vec<&str> = truth
        .iter()
        .filter(|t| t.at_risk)
        .map(|t| t.id.as_str())
        .collect();
    assert_eq!(
        listed.len(),
        want_all.len(),
        "every at-risk profile once: {listed:?}"
    );
    let in_order = |keep: &dyn Fn(&Truth) -> bool| -> Vec<String> {
        listed
            .iter()
            .filter(|id| truth.iter().any(|t| &t.id == *id && keep(t)))
            .cloned()
            .collect()
    };
    let mut nonempty = 0;
    for lc in ["none", "trial", "customer", "churned"] {
        let want = in_order(&|t: &Truth| t.lifecycle == lc);
        nonempty += usize::from(!want.is_empty());
        let (rows, pages) = b.at_risk_walk(ws, &format!("lifecycle={lc}&limit=2")).await;
        assert_eq!(ids(&rows), want, "lifecycle={lc}");
        assert!(rows.iter().all(|r| r["lifecycle"] == lc));
        assert!(pages <= want.len() / 2 + 1, "lifecycle={lc}: full pages");
    }
    assert!(
        nonempty >= 2,
        "the simulation has customers in more than one lifecycle"
    );
    let want = in_order(&|t: &Truth| t.involuntary);
    assert!(!want.is_empty(), "the simulation has failing payments");
    let (rows, _) = b.at_risk_walk(ws, "involuntary=true&limit=3").await;
    assert_eq!(ids(&rows), want, "involuntary=true");
    let want = in_order(&|t: &Truth| t.involuntary && t.lifecycle == "customer");
    let (rows, _) = b
        .at_risk_walk(ws, "involuntary=true&lifecycle=customer&limit=1")
        .await;
    assert_eq!(ids(&rows), want, "filters combine");
}
