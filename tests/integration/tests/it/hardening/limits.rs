//! Every limit of `domain::limits` at its value and beyond, and bodies far over them.

use super::*;
use kustiq::domain::limits::{
    MAX_CLASSIFIER, MAX_DOMAIN, MAX_EMAIL, MAX_EVIDENCE, MAX_EVIDENCE_ID, MAX_EXPLANATION,
    MAX_FACTORS, MAX_FACTORS_PER_FAMILY, MAX_IMPACT, MAX_NAME, MAX_PROFILE_BYTES, MAX_SIGNAL,
};
use kustiq_tests::Engine;
use std::collections::BTreeMap;

/// A domain of exactly `len` bytes: 63-byte labels, then the rest.
fn domain_of(len: usize) -> String {
    let mut labels = Vec::new();
    let mut left = len;
    while left > 64 {
        labels.push("d".repeat(63));
        left -= 64;
    }
    labels.push("e".repeat(left));
    labels.join(".")
}

/// One row of a limits table: a body for a profile, and the status it must get.
struct Case {
    what: String,
    id: Option<String>,
    body: String,
    want: u16,
}

fn case(what: impl Into<String>, body: Value, want: u16) -> Case {
    Case {
        what: what.into(),
        id: None,
        body: body.to_string(),
        want,
    }
}

fn raw(what: &str, body: &str, want: u16) -> Case {
    Case {
        what: what.into(),
        id: None,
        body: body.to_owned(),
        want,
    }
}

/// Every limit of `domain::limits` at its value (accepted) and just beyond (400).
fn limit_cases() -> Vec<Case> {
    let evidence = |n: usize, len: usize| {
        let ids: Vec<String> = (0..n).map(|i| format!("{i:0>len$}")).collect();
        crm(vec![
            json!({"signal": "s", "impact": 1.0, "explanation": "", "evidence": ids}),
        ])
    };
    let families = |per: usize, extra: usize| {
        let mut f = serde_json::Map::new();
        for (i, name) in ["crm", "product_usage", "support", "engagement"]
            .iter()
            .enumerate()
        {
            f.insert((*name).into(), json!(factors(&format!("f{i}_"), per, 0.5)));
        }
        f.insert("contract".into(), json!(factors("x", extra, 0.5)));
        json!({ "families": f })
    };
    let local = |len: usize| format!("{}@acme.io", "a".repeat(len - "@acme.io".len()));
    let base = json!({"name": "Acme", "families": {"crm": [factor("a", 10.0)]}}).to_string();
    let mut padded = base.clone();
    padded.push_str(&" ".repeat(MAX_PROFILE_BYTES - base.len()));
    let mut cases = vec![
        case("impact +max", crm(vec![factor("a", MAX_IMPACT)]), 200),
        case("impact -max", crm(vec![factor("a", -MAX_IMPACT)]), 200),
        case("impact -0.0", crm(vec![factor("a", -0.0)]), 200),
        case(
            "impact smallest subnormal",
            crm(vec![factor("a", 5e-324)]),
            200,
        ),
        case("impact 1e-300", crm(vec![factor("a", -1e-300)]), 200),
        case("two impacts at max", crm(factors("a", 2, MAX_IMPACT)), 200),
        case(
            "a full family at max",
            crm(factors("a", MAX_FACTORS_PER_FAMILY, MAX_IMPACT)),
            200,
        ),
        case("classifier 0", json!({"classifier_churn_risk": 0.0}), 200),
        case(
            "classifier -0.0",
            json!({"classifier_churn_risk": -0.0}),
            200,
        ),
        case(
            "classifier max",
            json!({"classifier_churn_risk": MAX_CLASSIFIER}),
            200,
        ),
        case(
            "classifier subnormal",
            json!({"classifier_churn_risk": 5e-324}),
            200,
        ),
        case("email at max", json!({"email": local(MAX_EMAIL)}), 200),
        case(
            "domain at max",
            json!({"domain": domain_of(MAX_DOMAIN)}),
            200,
        ),
        case(
            "name at max (2-byte chars)",
            json!({"name": "é".repeat(MAX_NAME)}),
            200,
        ),
        case(
            "signal at max",
            crm(vec![factor(&"s".repeat(MAX_SIGNAL), 1.0)]),
            200,
        ),
        case(
            "explanation at max (4-byte chars)",
            crm(vec![
                json!({"signal": "s", "impact": 1.0, "explanation": "😀".repeat(MAX_EXPLANATION), "evidence": []}),
            ]),
            200,
        ),
        case(
            "evidence at max",
            evidence(MAX_EVIDENCE, MAX_EVIDENCE_ID),
            200,
        ),
        case("factors at max in all", families(MAX_FACTORS / 4, 0), 200),
        case(
            "customer id at max",
            json!({"stripe_customer_id": format!("cus_{}", "c".repeat(251))}),
            200,
        ),
        raw("body at max (padded)", &padded, 200),
        case(
            "impact just over max",
            crm(vec![factor("a", MAX_IMPACT + 1e-7)]),
            400,
        ),
        case(
            "impact just under -max",
            crm(vec![factor("a", -(MAX_IMPACT + 1e-7))]),
            400,
        ),
        case("impact 1000", crm(vec![factor("a", 1000.0)]), 400),
        case("impacts 1e308 twice", crm(factors("a", 2, 1e308)), 400),
        case("impact f64::MAX", crm(vec![factor("a", f64::MAX)]), 400),
        case(
            "impact \"NaN\"",
            crm(vec![json!({"signal": "a", "impact": "NaN"})]),
            400,
        ),
        case(
            "impact \"Infinity\"",
            crm(vec![json!({"signal": "a", "impact": "Infinity"})]),
            400,
        ),
        case(
            "impact null",
            crm(vec![json!({"signal": "a", "impact": null})]),
            400,
        ),
        raw(
            "impact NaN literal",
            r#"{"families":{"crm":[{"signal":"a","impact":NaN}]}}"#,
            400,
        ),
        raw(
            "impact 1e309",
            r#"{"families":{"crm":[{"signal":"a","impact":1e309}]}}"#,
            400,
        ),
        raw(
            "impact -1e309",
            r#"{"families":{"crm":[{"signal":"a","impact":-1e309}]}}"#,
            400,
        ),
        case("classifier -1", json!({"classifier_churn_risk": -1.0}), 400),
        case(
            "classifier just below 0",
            json!({"classifier_churn_risk": -5e-324}),
            400,
        ),
        case(
            "classifier 101",
            json!({"classifier_churn_risk": 101.0}),
            400,
        ),
        case(
            "classifier just over max",
            json!({"classifier_churn_risk": MAX_CLASSIFIER + 1e-7}),
            400,
        ),
        case(
            "classifier 1e308",
            json!({"classifier_churn_risk": 1e308}),
            400,
        ),
        case(
            "email over max",
            json!({"email": local(MAX_EMAIL + 1)}),
            400,
        ),
        case(
            "domain over max",
            json!({"domain": domain_of(MAX_DOMAIN + 1)}),
            400,
        ),
        case(
            "domain label of 64",
            json!({"domain": format!("{}.io", "d".repeat(64))}),
            400,
        ),
        case(
            "name over max",
            json!({"name": "é".repeat(MAX_NAME + 1)}),
            400,
        ),
        case(
            "name with a control character",
            json!({"name": "a\u{7}b"}),
            400,
        ),
        case(
            "signal over max",
            crm(vec![factor(&"s".repeat(MAX_SIGNAL + 1), 1.0)]),
            400,
        ),
        case("signal empty", crm(vec![factor("", 1.0)]), 400),
        case("signal blank", crm(vec![factor("   ", 1.0)]), 400),
        case(
            "explanation over max",
            crm(vec![
                json!({"signal": "s", "impact": 1.0, "explanation": "😀".repeat(MAX_EXPLANATION + 1)}),
            ]),
            400,
        ),
        case("evidence over max", evidence(MAX_EVIDENCE + 1, 8), 400),
        case(
            "evidence id over max",
            evidence(1, MAX_EVIDENCE_ID + 1),
            400,
        ),
        case(
            "evidence id empty",
            crm(vec![
                json!({"signal": "s", "impact": 1.0, "evidence": [""]}),
            ]),
            400,
        ),
        case(
            "family over max",
            crm(factors("a", MAX_FACTORS_PER_FAMILY + 1, 1.0)),
            400,
        ),
        case("factors over max in all", families(MAX_FACTORS / 4, 1), 400),
        case(
            "billing family",
            json!({"families": {"billing": [factor("a", 1.0)]}}),
            400,
        ),
        case(
            "customer id over max",
            json!({"stripe_customer_id": format!("cus_{}", "c".repeat(252))}),
            400,
        ),
        raw("body over max (padded)", &format!("{padded} "), 413),
    ];
    cases.push(Case {
        what: "profile id at max".into(),
        id: Some("p".repeat(255)),
        body: base.clone(),
        want: 200,
    });
    cases.push(Case {
        what: "profile id over max".into(),
        id: Some("p".repeat(256)),
        body: base,
        want: 400,
    });
    cases
}

/// Every field a body sent is what `GET /api/v1/profiles/{id}` reads back.
fn assert_read_back(what: &str, sent: &str, profile: &Answer) {
    assert_eq!(
        profile.status, 200,
        "{what}: profile read back: {}",
        profile.body
    );
    let sent: Value = serde_json::from_str(sent).unwrap_or_else(|e| panic!("{what}: {e}"));
    for (field, value) in sent.as_object().into_iter().flatten() {
        assert_eq!(&profile.body[field], value, "{what}: {field} read back");
    }
}

async fn limits_on(engine: Engine) {
    let b = Bench::new(engine, NOW).await;
    let ws = "ws_limits";
    let first = json!({"name": "Keep", "families": {"crm": [factor("k", 5.0)]}}).to_string();
    assert_eq!(put(&b, ws, "keep", &first).await.status, 200);
    let before = keep(&b, ws).await;
    let mut accepted = BTreeMap::new();
    for (i, c) in limit_cases().iter().enumerate() {
        let what = format!("{engine:?} {}", c.what);
        let id = c.id.clone().unwrap_or_else(|| format!("case{i}"));
        let a = put(&b, ws, &id, &c.body).await;
        let (profile, churn) = stored(&b, ws, &id).await;
        if c.want == 200 {
            assert_eq!(a.status, 200, "{what}: {}", a.body);
            assert_read_back(&what, &c.body, &profile);
            assert_eq!(churn.status, 200, "{what}: churn read back: {}", churn.body);
            assert_eq!(
                churn.body, a.body,
                "{what}: the stored score is the one answered"
            );
            let score = churn.body["score"].as_f64().unwrap_or(f64::NAN);
            assert!((0.0..=100.0).contains(&score), "{what}: score {score}");
            accepted.insert(id, (score, churn.body["at_risk"] == true));
        } else {
            assert_refused(&what, &a, c.want);
            // An id no profile can have reads back as a 400, any other as "not there".
            let absent = if c.id.is_some() { 400 } else { 404 };
            assert_refused(&format!("{what}: profile"), &profile, absent);
            assert_refused(&format!("{what}: churn"), &churn, absent);
            if c.id.is_none() {
                let again = put(&b, ws, "keep", &c.body).await;
                assert_refused(&format!("{what} over a stored profile"), &again, c.want);
            }
        }
    }
    assert_eq!(
        keep(&b, ws).await,
        before,
        "{engine:?}: refused writes changed nothing"
    );
    let listed: BTreeMap<String, f64> = at_risk_all(&b, ws, "200").await.into_iter().collect();
    let want: BTreeMap<String, f64> = accepted
        .into_iter()
        .filter(|(_, (_, risky))| *risky)
        .map(|(id, (score, _))| (id, score))
        .collect();
    assert!(!want.is_empty(), "some accepted extreme is at risk");
    assert_eq!(
        listed, want,
        "{engine:?}: the at-risk segment reads every accepted extreme"
    );
}

#[tokio::test]
async fn impacts_and_classifier_at_and_beyond_their_limits() {
    limits_on(Engine::DynamoDbLocal).await;
    limits_on(Engine::Dynoxide).await;
}

/// The largest profile the limits allow: 200 factors whose explanations fill the body.
fn largest_profile() -> String {
    let body = |len: usize| {
        let list = |f: usize| -> Vec<Value> {
            (0..MAX_FACTORS / 4)
                .map(|i| json!({"signal": format!("f{f}_{i}"), "impact": -0.5, "explanation": "x".repeat(len), "evidence": [format!("ev_{i}")]}))
                .collect()
        };
        json!({"email": "big@acme.io", "families": {"crm": list(0), "support": list(1), "engagement": list(2), "contract": list(3)}}).to_string()
    };
    let len = (0..=MAX_EXPLANATION)
        .rev()
        .find(|n| body(*n).len() <= MAX_PROFILE_BYTES)
        .unwrap_or(0);
    body(len)
}

async fn oversized_on(engine: Engine) {
    let b = Bench::new(engine, NOW).await;
    let ws = "ws_big";
    let first = json!({"name": "Keep", "families": {"crm": [factor("k", 5.0)]}}).to_string();
    assert_eq!(put(&b, ws, "keep", &first).await.status, 200);
    let before = keep(&b, ws).await;
    let big = largest_profile();
    assert!(
        big.len() > MAX_PROFILE_BYTES - 400,
        "the largest profile fills the body"
    );
    let a = put(&b, ws, "largest", &big).await;
    assert_eq!(
        a.status, 200,
        "{engine:?}: the largest allowed profile: {}",
        a.body
    );
    let (profile, churn) = stored(&b, ws, "largest").await;
    assert_read_back("largest", &big, &profile);
    assert_eq!(
        churn.body, a.body,
        "{engine:?}: the largest profile's score reads back"
    );
    let evidence = |n: usize, len: usize| {
        let ids: Vec<String> = (0..n).map(|i| format!("{i:0>len$}")).collect();
        crm(vec![json!({"signal": "s", "impact": 1.0, "evidence": ids})])
    };
    let table = [
        case(
            "460 KB email",
            json!({"email": format!("{}@acme.io", "a".repeat(460_000))}),
            413,
        ),
        case("3,000 factors", crm(factors("sig", 3_000, 1.0)), 413),
        case(
            "a body over 64 KiB",
            json!({"name": "x".repeat(MAX_PROFILE_BYTES)}),
            413,
        ),
        case("50 KB name", json!({"name": "x".repeat(50_000)}), 400),
        case(
            "50 KB signal",
            crm(vec![factor(&"s".repeat(50_000), 1.0)]),
            400,
        ),
        case(
            "60 KB explanation",
            crm(vec![
                json!({"signal": "s", "impact": 1.0, "explanation": "x".repeat(60_000)}),
            ]),
            400,
        ),
        case("10 evidence ids of 6 KB", evidence(10, 6_000), 400),
        case("2,000 evidence ids", evidence(2_000, 4), 400),
        case(
            "51 factors in one family",
            crm(factors("a", MAX_FACTORS_PER_FAMILY + 1, 1.0)),
            400,
        ),
        case(
            "201 factors in all",
            {
                let full = |p: &str| factors(p, MAX_FACTORS / 4, 1.0);
                json!({"families": {
                    "crm": full("a"), "support": full("b"), "engagement": full("c"),
                    "contract": full("d"), "product_usage": factors("e", 1, 1.0),
                }})
            },
            400,
        ),
        case(
            "300-byte email",
            json!({"email": format!("{}@acme.io", "a".repeat(292))}),
            400,
        ),
    ];
    for c in &table {
        let what = format!("{engine:?} {}", c.what);
        let a = put(&b, ws, "fresh", &c.body).await;
        assert_refused(&what, &a, c.want);
        let (profile, churn) = stored(&b, ws, "fresh").await;
        assert_refused(&format!("{what}: profile"), &profile, 404);
        assert_refused(&format!("{what}: churn"), &churn, 404);
        assert_refused(
            &format!("{what} over a stored profile"),
            &put(&b, ws, "keep", &c.body).await,
            c.want,
        );
        assert_eq!(
            keep(&b, ws).await,
            before,
            "{what}: the stored profile and score are unchanged"
        );
    }
}

#[tokio::test]
async fn oversized_fields_and_lists_are_refused_before_anything_is_written() {
    oversized_on(Engine::DynamoDbLocal).await;
    oversized_on(Engine::Dynoxide).await;
}
