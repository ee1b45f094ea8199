//! Many writers of one profile: each write is applied and answered 200, or not applied and answered 409.

use super::*;
use futures::future::join_all;
use kustiq_tests::Engine;
use std::collections::BTreeSet;

async fn race_on(engine: Engine) {
    let b = Bench::new(engine, NOW).await;
    let n = 200;
    let bodies: Vec<String> = (0..n)
        .map(|i| json!({"name": format!("w{i}"), "families": {"crm": [factor(&format!("s{i}"), f64::from(i) / 10.0)]}}).to_string())
        .collect();
    let answers = join_all(bodies.iter().map(|body| put(&b, "ws_race", "p", body))).await;
    let mut applied = BTreeSet::new();
    for (i, a) in answers.iter().enumerate() {
        match a.status {
            200 => {
                let own = &a.body["families"]["crm"]["factors"][0]["signal"];
                assert_eq!(
                    own,
                    &json!(format!("s{i}")),
                    "{engine:?}: request {i} is answered with its own score"
                );
                applied.insert(i);
            }
            409 => assert_eq!(code(a), "ERR_CONFLICT", "{engine:?}: request {i}"),
            other => panic!("{engine:?}: request {i} answered {other}: {}", a.body),
        }
    }
    assert!(!applied.is_empty(), "{engine:?}: some write lands");
    let (profile, churn) = stored(&b, "ws_race", "p").await;
    let name = profile.body["name"].as_str().unwrap_or_default();
    let writer: usize = name.trim_start_matches('w').parse().unwrap_or(usize::MAX);
    let signal = &churn.body["families"]["crm"]["factors"][0]["signal"];
    assert_eq!(
        signal,
        &json!(format!("s{writer}")),
        "{engine:?}: profile {name} and its score come from one request"
    );
    assert!(
        applied.contains(&writer),
        "{engine:?}: the stored write {name} was answered 200"
    );
}

#[tokio::test]
async fn concurrent_puts_to_one_profile_leave_profile_and_score_from_one_request() {
    race_on(Engine::DynamoDbLocal).await;
    race_on(Engine::Dynoxide).await;
}
