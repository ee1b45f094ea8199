//! Matching simulated Stripe customers to profiles through the backfill, the match table
//! route, the manual mapping, profile writes, customer webhooks and rematch.

use kustiq::app::sync::worker::Outcome;
use kustiq::domain::connection::BackfillWindow;
use kustiq::domain::contact::{Domain, Email};
use kustiq::domain::ids::{ProfileId, StripeCustomerId, WorkspaceId};
use kustiq::domain::profile::Profile;
use kustiq::ports::profiles::ProfileStore;
use kustiq::ports::sync::RunKind;
use kustiq_tests::Engine;
use kustiq_tests::sync::SyncBench;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use stripe_sim::SimConfig;

/// What the simulated customers offer, by id.
struct Customers(Vec<Value>);

impl Customers {
    fn of(s: &SyncBench) -> Self {
        Self(s.sim.sim.customers(&s.account))
    }

    fn domain(c: &Value) -> Option<String> {
        c["email"]
            .as_str()
            .and_then(|e| e.rsplit_once('@'))
            .map(|(_, d)| d.to_owned())
    }

    fn personal(c: &Value) -> bool {
        Self::domain(c).is_some_and(|d| kustiq::domain::matching::personal::is_personal(&d))
    }

    fn bare(c: &Value) -> bool {
        c["metadata"].as_object().is_none_or(|m| m.is_empty())
    }

    /// Customers per business domain they name (email or `metadata.domain`).
    fn by_domain(&self) -> BTreeMap<String, Vec<&Value>> {
        let mut out: BTreeMap<String, Vec<&Value>> = BTreeMap::new();
        for c in &self.0 {
            if let Some(d) = Self::domain(c).filter(|_| !Self::personal(c)) {
                out.entry(d).or_default().push(c);
            }
            if let Some(d) = c["metadata"]["domain"].as_str() {
                out.entry(d.to_owned()).or_default().push(c);
            }
        }
        out
    }

    /// A customer without metadata whose business domain no other customer has.
    fn lone_business(&self, skip: usize) -> (&Value, String) {
        self.by_domain()
            .into_iter()
            .filter(|(_, cs)| cs.len() == 1 && Self::bare(cs[0]) && !Self::meta_domain(cs[0]))
            .nth(skip)
            .map(|(d, cs)| (cs[0], d))
            .unwrap_or_else(|| panic!("no lone business customer #{skip}"))
    }

    fn meta_domain(c: &Value) -> bool {
        c["metadata"]["domain"].is_string()
    }
}

fn id(c: &Value) -> String {
    c["id"].as_str().unwrap_or_default().to_owned()
}

fn profile(id: &str, email: Option<&str>, domain: Option<&str>) -> Profile {
    Profile {
        profile_id: ProfileId::parse(id).unwrap(),
        email: email.map(|e| Email::parse(e).unwrap()),
        domain: domain.map(|d| Domain::parse(d).unwrap()),
        name: None,
        stripe_customer_id: None,
        families: Default::default(),
        classifier_churn_risk: Some(40.0),
    }
}

async fn put(s: &SyncBench, p: &Profile) {
    s.bench.store.put_profile(&s.ws, p).await.unwrap();
}

async fn stored(s: &SyncBench, id: &str) -> Profile {
    s.bench
        .store
        .profile(&s.ws, &ProfileId::parse(id).unwrap())
        .await
        .unwrap()
        .unwrap()
}

fn row<'a>(rows: &'a [Value], customer: &str) -> Option<&'a Value> {
    rows.iter().find(|r| r["stripe_customer_id"] == customer)
}

fn config(seed: u64) -> SimConfig {
    SimConfig {
        seed,
        customers: 80,
        years: 1,
        accounts: 1,
        ..SimConfig::default()
    }
}

async fn bench() -> SyncBench {
    SyncBench::new(Engine::DynamoDbLocal, config(31), BackfillWindow::Days30).await
}

/// A bench whose account has a customer with no email and no metadata (the first seed
/// from 31 that generates one).
async fn bench_with_an_anonymous_customer() -> SyncBench {
    let seed = (31..200)
        .find(|seed| {
            let sim = stripe_sim::Simulator::new(config(*seed));
            let account = sim.accounts()[0].id.clone();
            sim.customers(&account)
                .iter()
                .any(|c| c["email"].is_null() && Customers::bare(c))
        })
        .expect("a seed with an anonymous customer");
    SyncBench::new(Engine::DynamoDbLocal, config(seed), BackfillWindow::Days30).await
}

#[tokio::test]
async fn the_backfill_matches_in_the_documented_order_and_only_sure_matches_feed_scores() {
    let s = bench_with_an_anonymous_customer().await;
    let customers = Customers::of(&s);
    let meta = customers
        .0
        .iter()
        .find(|c| c["metadata"]["kustiq_profile_id"].is_string())
        .expect("a customer naming its profile");
    let meta_profile = meta["metadata"]["kustiq_profile_id"].as_str().unwrap();
    let (by_email, _) = customers.lone_business(0);
    let (by_domain, domain) = customers.lone_business(1);
    let (shared, shared_domain) = customers.lone_business(2);
    let nobody = customers
        .0
        .iter()
        .find(|c| c["email"].is_null() && Customers::bare(c))
        .expect("a customer with no email and no metadata");

    put(&s, &profile(meta_profile, None, None)).await;
    put(&s, &profile("crm_email", by_email["email"].as_str(), None)).await;
    put(&s, &profile("crm_domain", None, Some(&domain))).await;
    put(&s, &profile("crm_shared_a", None, Some(&shared_domain))).await;
    put(&s, &profile("crm_shared_b", None, Some(&shared_domain))).await;
    assert_eq!(s.run().await, Outcome::Finished(RunKind::Backfill));

    let matched = s.all_matches("matched").await;
    let expect = |c: &Value, profile: &str, method: &str, confidence: u64| {
        let r = row(&matched, &id(c)).unwrap_or_else(|| panic!("{} not matched", id(c)));
        assert_eq!(
            (
                &r["profile_id"],
                &r["method"],
                &r["confidence"],
                &r["error"]
            ),
            (
                &json!(profile),
                &json!(method),
                &json!(confidence),
                &Value::Null
            ),
            "{r}"
        );
    };
    expect(meta, meta_profile, "metadata", 100);
    expect(by_email, "crm_email", "email", 95);
    expect(by_domain, "crm_domain", "domain", 90);

    // A domain two profiles share: review with ERR_MATCH_LOW, never a guess.
    let review = s.all_matches("review").await;
    let r = row(&review, &id(shared)).expect("the shared domain is in review");
    assert_eq!(r["error"]["code"], "ERR_MATCH_LOW", "{r}");
    assert!(r["confidence"].as_u64().unwrap() < 90);
    assert_eq!(r["profile_id"], Value::Null);
    assert_eq!(r["candidates"], json!(["crm_shared_a", "crm_shared_b"]));

    let unmatched = s.all_matches("unmatched").await;
    assert!(
        row(&unmatched, &id(nobody)).is_some(),
        "no email, no metadata: unmatched"
    );
    // Every customer is in exactly one table.
    assert_eq!(
        matched.len() + review.len() + unmatched.len(),
        customers.0.len()
    );

    // Sure matches are written back and feed the billing family …
    for (p, c) in [
        (meta_profile, meta),
        ("crm_email", by_email),
        ("crm_domain", by_domain),
    ] {
        assert_eq!(
            stored(&s, p).await.stripe_customer_id.map(String::from),
            Some(id(c))
        );
        let churn = s
            .bench
            .api("GET", &format!("/api/v1/profiles/{p}/churn"), &s.ws)
            .await;
        assert_eq!(
            churn.body["billing"]["stripe_customer_id"],
            json!(id(c)),
            "{:?}",
            churn.body
        );
    }
    // … candidates under review do not.
    for p in ["crm_shared_a", "crm_shared_b"] {
        assert_eq!(stored(&s, p).await.stripe_customer_id, None);
        let churn = s
            .bench
            .api("GET", &format!("/api/v1/profiles/{p}/churn"), &s.ws)
            .await;
        assert_eq!(churn.body["billing"], Value::Null, "{:?}", churn.body);
    }
}

#[tokio::test]
async fn the_match_table_pages_with_sealed_cursors() {
    let s = bench().await;
    assert_eq!(s.run().await, Outcome::Finished(RunKind::Backfill));
    let all = s.all_matches("unmatched").await;
    assert!(all.len() > 3);
    let mut paged = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let page = s.matches("unmatched", 2, cursor.as_deref()).await;
        let data = page.body["data"].as_array().cloned().unwrap_or_default();
        assert!(data.len() <= 2);
        paged.extend(data);
        match page.body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(paged, all);
    s.matches("unmatched", 2, Some("forged"))
        .await
        .assert_refused(400, "ERR_BAD_REQUEST");
    s.matches("nonsense", 2, None)
        .await
        .assert_refused(400, "ERR_BAD_REQUEST");
    // Another workspace's cursor is refused too.
    let page = s.matches("unmatched", 2, None).await;
    let theirs = page.body["next_cursor"].as_str().unwrap().to_owned();
    let other = WorkspaceId::parse("ws-other").unwrap();
    let mut params = std::collections::HashMap::new();
    params.insert("status".to_owned(), vec!["unmatched".to_owned()]);
    params.insert("cursor".to_owned(), vec![theirs]);
    use lambda_http::RequestExt;
    let req = s
        .bench
        .authed(
            "GET",
            "/api/v1/integrations/stripe/matches",
            other.as_str(),
            None,
        )
        .with_query_string_parameters(params);
    s.bench
        .send(req)
        .await
        .assert_refused(400, "ERR_BAD_REQUEST");
}

#[tokio::test]
async fn a_manual_mapping_wins_and_can_be_cleared() {
    let s = bench().await;
    let customers = Customers::of(&s);
    let (shared, shared_domain) = customers.lone_business(0);
    put(&s, &profile("crm_a", None, Some(&shared_domain))).await;
    put(&s, &profile("crm_b", None, Some(&shared_domain))).await;
    assert_eq!(s.run().await, Outcome::Finished(RunKind::Backfill));

    let path = "/api/v1/integrations/stripe/customer-mapping/crm_a";
    let req = s.bench.authed(
        "PATCH",
        path,
        s.ws.as_str(),
        Some(json!({"stripe_customer_id": id(shared)})),
    );
    let answer = s.bench.send(req).await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    let matched = s.all_matches("matched").await;
    let r = row(&matched, &id(shared)).expect("mapped");
    assert_eq!(
        (&r["profile_id"], &r["method"], &r["confidence"]),
        (&json!("crm_a"), &json!("manual"), &json!(100))
    );
    let churn = s
        .bench
        .api("GET", "/api/v1/profiles/crm_a/churn", &s.ws)
        .await;
    assert_eq!(
        churn.body["billing"]["stripe_customer_id"],
        json!(id(shared))
    );
    // The next sync keeps it (the override path comes first).
    assert_eq!(
        kustiq::app::sync::request::request_sync(&s.bench.store, &s.ws)
            .await
            .unwrap(),
        kustiq::app::sync::request::Requested::Queued
    );
    assert_eq!(s.run().await, Outcome::Finished(RunKind::Sync));
    assert!(row(&s.all_matches("matched").await, &id(shared)).is_some());

    let req = s.bench.authed(
        "PATCH",
        path,
        s.ws.as_str(),
        Some(json!({"stripe_customer_id": null})),
    );
    assert_eq!(s.bench.send(req).await.status, 200);
    assert_eq!(stored(&s, "crm_a").await.stripe_customer_id, None);
    assert!(row(&s.all_matches("matched").await, &id(shared)).is_none());
    let churn = s
        .bench
        .api("GET", "/api/v1/profiles/crm_a/churn", &s.ws)
        .await;
    assert_eq!(churn.body["billing"], Value::Null, "{:?}", churn.body);

    // Bad input is refused before anything is written.
    let req = s.bench.authed(
        "PATCH",
        path,
        s.ws.as_str(),
        Some(json!({"stripe_customer_id": "not-a-customer"})),
    );
    s.bench
        .send(req)
        .await
        .assert_refused(400, "ERR_BAD_REQUEST");
    let req = s.bench.authed(
        "PATCH",
        "/api/v1/integrations/stripe/customer-mapping/nobody",
        s.ws.as_str(),
        Some(json!({"stripe_customer_id": id(shared)})),
    );
    s.bench.send(req).await.assert_refused(404, "ERR_NOT_FOUND");
}

#[tokio::test]
async fn a_new_profile_is_matched_as_it_arrives_and_rematch_decides_everyone_again() {
    let s = bench().await;
    assert_eq!(s.run().await, Outcome::Finished(RunKind::Backfill));
    let customers = Customers::of(&s);
    let (waiting, _) = customers.lone_business(3);
    let email = waiting["email"].as_str().unwrap();
    let req = s.bench.authed(
        "PUT",
        "/api/v1/profiles/crm_late",
        s.ws.as_str(),
        Some(json!({"email": email})),
    );
    let answer = s.bench.send(req).await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    assert_eq!(
        answer.body["billing"]["stripe_customer_id"],
        json!(id(waiting)),
        "{:?}",
        answer.body
    );
    let r = row(&s.all_matches("matched").await, &id(waiting))
        .cloned()
        .expect("matched on arrival");
    assert_eq!(r["method"], "email");

    let answer = s
        .bench
        .api("POST", "/api/v1/integrations/stripe/rematch", &s.ws)
        .await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    let total: u64 = ["matched", "review", "unmatched"]
        .iter()
        .map(|k| answer.body[k].as_u64().unwrap())
        .sum();
    assert_eq!(total as usize, customers.0.len());
    // Rematch keeps how a written-back match was found.
    let again = row(&s.all_matches("matched").await, &id(waiting))
        .cloned()
        .unwrap();
    assert_eq!(
        (again["method"].clone(), again["confidence"].clone()),
        (json!("email"), json!(95))
    );
}

#[tokio::test]
async fn a_customer_webhook_matches_the_customer_as_it_arrives() {
    let s = bench().await;
    assert_eq!(s.run().await, Outcome::Finished(RunKind::Backfill));
    let customers = Customers::of(&s);
    let (c, _) = customers.lone_business(4);
    // A profile for the customer, written straight to the store (no matching on the way) …
    put(&s, &profile("crm_hook", c["email"].as_str(), None)).await;
    assert!(row(&s.all_matches("matched").await, &id(c)).is_none());
    // … then Stripe tells of a change to the customer.
    s.sim
        .sim
        .emit(&s.account, "customer.updated", &id(c))
        .await
        .expect("emit");
    let event = s
        .sim
        .sim
        .events(&s.account)
        .into_iter()
        .rev()
        .find(|e| e["type"] == "customer.updated" && e["data"]["object"]["id"] == json!(id(c)))
        .expect("the event");
    s.bench
        .clock
        .set(kustiq::domain::time::Timestamp::from_unix(
            event["created"].as_i64().unwrap(),
        ));
    s.bench
        .post_event(&event)
        .await
        .assert_acknowledged("applied");
    let customer = StripeCustomerId::parse(id(c)).unwrap();
    assert_eq!(
        stored(&s, "crm_hook").await.stripe_customer_id,
        Some(customer)
    );
}

#[tokio::test]
async fn a_review_never_lists_a_profile_that_a_later_customer_of_the_backfill_took() {
    let s = bench().await;
    let customers = Customers::of(&s);
    // Two customers of one business domain, nothing but their emails to go by. Stripe
    // lists the newer first: it is decided while both profiles below are still free.
    let (domain, older, newer) = customers
        .by_domain()
        .into_iter()
        .find(|(_, cs)| {
            cs.len() == 2
                && cs
                    .iter()
                    .all(|c| Customers::bare(c) && !Customers::meta_domain(c))
        })
        .map(|(d, cs)| (d, id(cs[0]), id(cs[1])))
        .expect("a business domain with two customers");
    let older_email = customers.0.iter().find(|c| id(c) == older).unwrap()["email"]
        .as_str()
        .unwrap()
        .to_owned();
    put(&s, &profile("crm_taken", Some(&older_email), None)).await;
    let other = format!("someone.else@{domain}");
    put(&s, &profile("crm_free", Some(&other), None)).await;
    assert_eq!(s.run().await, Outcome::Finished(RunKind::Backfill));

    let matched = s.all_matches("matched").await;
    let taken = row(&matched, &older).expect("the older customer matched by email");
    assert_eq!(
        (taken["profile_id"].clone(), taken["method"].clone()),
        (json!("crm_taken"), json!("email"))
    );
    // crm_taken is the older customer's: the newer one's only free candidate is crm_free.
    let review = s.all_matches("review").await;
    let newer_row = row(&matched, &newer)
        .unwrap_or_else(|| panic!("{newer} is not matched: {:?}", row(&review, &newer)));
    assert_eq!(
        (newer_row["profile_id"].clone(), newer_row["method"].clone()),
        (json!("crm_free"), json!("domain"))
    );
}
