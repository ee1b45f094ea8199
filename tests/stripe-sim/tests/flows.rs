//! Events, webhooks and the generator's realism and determinism.

mod common;

use common::{get, list_all, platform_get, receiver, small, start};
use kustiq::domain::secret::Secret;
use kustiq::stripe::models::{Charge, Customer, Dispute, Invoice, Subscription};
use serde_json::Value;
use std::collections::HashSet;
use stripe_sim::{ApiVersion, PLATFORM_KEY, SimConfig, Simulator, WebhookTarget};

#[tokio::test]
async fn advancing_days_sends_webhooks_that_kustiq_verifies_and_parses() {
    let (url, got) = receiver().await;
    let secret = Secret::new("whsec_simulated_secret");
    let sim = start(SimConfig {
        customers: 400,
        webhook: Some(WebhookTarget {
            url,
            secret: secret.clone(),
        }),
        ..SimConfig::default()
    })
    .await;
    let before = sim.sim.now().unix();
    let report = sim.sim.advance_days(10).await;
    assert_eq!(report.now, before + 10 * 86_400);
    assert!(
        report.events > 20,
        "ten days of a 400-customer account: {report:?}"
    );
    assert_eq!(report.delivered, report.events);
    assert_eq!(report.failed, 0);

    let received = got.lock().unwrap().clone();
    assert_eq!(received.len(), report.events);
    let accounts: HashSet<&str> = sim.accounts.iter().map(|a| a.id.as_str()).collect();
    let mut types = HashSet::new();
    for (sig, body) in &received {
        let event = kustiq::stripe::verify_and_parse(
            sig,
            body,
            std::slice::from_ref(&secret),
            stripe_sim::sim::wall_now(),
            300,
        )
        .expect("signature verifies and event parses");
        assert!(
            accounts.contains(event.account.as_ref().map(|a| a.as_str()).unwrap_or("")),
            "account is set"
        );
        let raw: Value = serde_json::from_slice(body).unwrap();
        assert_eq!(raw["api_version"], "2025-03-31.basil");
        assert!(raw["created"].as_i64().unwrap() > before);
        types.insert(raw["type"].as_str().unwrap().to_owned());
        let wrong = kustiq::stripe::verify_and_parse(
            sig,
            body,
            &[Secret::new("whsec_other")],
            stripe_sim::sim::wall_now(),
            300,
        );
        assert!(wrong.is_err());
    }
    for t in [
        "invoice.finalized",
        "invoice.payment_succeeded",
        "customer.created",
    ] {
        assert!(types.contains(t), "{t} among {types:?}");
    }
    assert_eq!(
        sim.sim.deliveries().iter().filter(|d| d.ok()).count(),
        received.len()
    );
}

#[tokio::test]
async fn emit_makes_one_transition_happen_and_delivers_it() {
    let (url, got) = receiver().await;
    let secret = Secret::new("whsec_emit");
    let sim = start(SimConfig {
        customers: 200,
        webhook: Some(WebhookTarget {
            url,
            secret: secret.clone(),
        }),
        ..SimConfig::default()
    })
    .await;
    let account = sim.accounts[0].id.clone();
    let active = list_all(&sim, "/v1/subscriptions?status=active", &account).await;
    let customer = active[0]["customer"].as_str().unwrap().to_owned();
    let client = reqwest::Client::new();
    let r = client
        .post(format!(
            "{}/_sim/emit?type=invoice.payment_failed&customer={customer}",
            sim.base_url
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let ids: Value = r.json().await.unwrap();
    assert!(!ids["events"].as_array().unwrap().is_empty());

    let sub = get(
        &sim,
        &format!("/v1/subscriptions/{}", active[0]["id"].as_str().unwrap()),
        PLATFORM_KEY,
        Some(&account),
    )
    .await
    .body;
    assert_eq!(sub["status"], "past_due");
    let failed = list_all(&sim, "/v1/events?type=invoice.payment_failed", &account).await;
    let newest = &failed[0];
    assert_eq!(newest["data"]["object"]["customer"], customer.as_str());
    assert_eq!(newest["data"]["object"]["attempt_count"], 1);
    let updated = list_all(
        &sim,
        "/v1/events?type=customer.subscription.updated",
        &account,
    )
    .await;
    assert_eq!(
        updated[0]["data"]["previous_attributes"]["status"],
        "active"
    );
    let received = got.lock().unwrap().clone();
    let types: Vec<String> = received
        .iter()
        .map(|(_, b)| {
            serde_json::from_slice::<Value>(b).unwrap()["type"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert!(
        types.contains(&"invoice.payment_failed".to_owned()),
        "{types:?}"
    );

    let r = client
        .post(format!(
            "{}/_sim/emit?type=customer.subscription.resumed&customer={customer}",
            sim.base_url
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status().as_u16(),
        400,
        "a past_due subscription cannot be resumed"
    );
}

#[tokio::test]
async fn events_cover_thirty_days_and_filter_by_type_and_created() {
    let sim = start(small()).await;
    sim.sim.advance_days(45).await;
    let account = sim.accounts[0].id.clone();
    let now = sim.sim.now().unix();
    let events = list_all(&sim, "/v1/events", &account).await;
    assert!(!events.is_empty());
    assert!(
        events
            .iter()
            .all(|e| e["created"].as_i64().unwrap() >= now - 30 * 86_400),
        "only the last 30 days"
    );
    let total = sim.sim.counts(&account).unwrap().events;
    assert!(
        events.len() < total,
        "older events exist but are not listed"
    );

    let picked = list_all(
        &sim,
        "/v1/events?types[]=invoice.payment_failed&types[]=customer.subscription.deleted",
        &account,
    )
    .await;
    assert!(!picked.is_empty());
    assert!(
        picked.iter().all(|e| e["type"] == "invoice.payment_failed"
            || e["type"] == "customer.subscription.deleted")
    );
    let expected = events
        .iter()
        .filter(|e| {
            e["type"] == "invoice.payment_failed" || e["type"] == "customer.subscription.deleted"
        })
        .count();
    assert_eq!(picked.len(), expected);

    let cut = now - 5 * 86_400;
    let recent = list_all(&sim, &format!("/v1/events?created[gt]={cut}"), &account).await;
    assert!(recent.iter().all(|e| e["created"].as_i64().unwrap() > cut));
    assert_eq!(
        recent.len(),
        events
            .iter()
            .filter(|e| e["created"].as_i64().unwrap() > cut)
            .count()
    );

    let updated = list_all(
        &sim,
        "/v1/events?type=customer.subscription.updated",
        &account,
    )
    .await;
    let with_items = updated
        .iter()
        .find(|e| e["data"]["previous_attributes"].get("items").is_some());
    if let Some(e) = with_items {
        assert_eq!(e["data"]["previous_attributes"]["items"]["object"], "list");
        assert_ne!(
            e["data"]["previous_attributes"]["items"],
            e["data"]["object"]["items"]
        );
    }
    let one = &events[0];
    let again = platform_get(&sim, &format!("/v1/events/{}", one["id"].as_str().unwrap()))
        .await
        .body;
    assert_eq!(&again, one);
}

#[tokio::test]
async fn same_seed_same_account_and_another_seed_differs() {
    let config = SimConfig {
        customers: 500,
        years: 3,
        ..SimConfig::default()
    };
    let a = Simulator::new(config.clone());
    let b = Simulator::new(config.clone());
    let c = Simulator::new(SimConfig { seed: 2, ..config });
    let acct = a.accounts()[0].id.clone();
    assert_eq!(a.accounts(), b.accounts());
    assert_eq!(a.customers(&acct), b.customers(&acct));
    assert_eq!(a.subscriptions(&acct), b.subscriptions(&acct));
    assert_eq!(a.events(&acct), b.events(&acct));
    assert_ne!(a.customers(&acct), c.customers(&c.accounts()[0].id));
    let (ra, rb) = (a.advance_days(20).await, b.advance_days(20).await);
    assert!(ra.events > 0);
    assert_eq!(ra, rb);
    assert_eq!(
        a.events(&acct),
        b.events(&acct),
        "simulated days are deterministic too"
    );
}

#[tokio::test]
async fn generated_objects_parse_as_kustiq_reads_them_and_cover_the_lifecycle() {
    // Pinned to the legacy shape: it reads the embedded `discount.coupon` and the period on
    // both the subscription and its items (tests/versions.rs covers the basil default).
    let sim = start(SimConfig {
        customers: 2_000,
        years: 3,
        accounts: 1,
        api_version: ApiVersion::Legacy,
        ..SimConfig::default()
    })
    .await;
    let account = sim.accounts[0].id.clone();
    let customers = list_all(&sim, "/v1/customers", &account).await;
    let subs = list_all(&sim, "/v1/subscriptions?status=all", &account).await;
    let invoices = list_all(&sim, "/v1/invoices", &account).await;
    let charges = list_all(&sim, "/v1/charges", &account).await;
    let disputes = list_all(&sim, "/v1/disputes", &account).await;
    for c in &customers {
        serde_json::from_value::<Customer>(c.clone())
            .unwrap_or_else(|e| panic!("customer: {e}: {c}"));
    }
    for s in &subs {
        serde_json::from_value::<Subscription>(s.clone())
            .unwrap_or_else(|e| panic!("subscription: {e}: {s}"));
    }
    for i in invoices.iter().take(3_000) {
        serde_json::from_value::<Invoice>(i.clone())
            .unwrap_or_else(|e| panic!("invoice: {e}: {i}"));
    }
    for c in charges.iter().take(3_000) {
        serde_json::from_value::<Charge>(c.clone()).unwrap_or_else(|e| panic!("charge: {e}: {c}"));
    }
    for d in &disputes {
        serde_json::from_value::<Dispute>(d.clone())
            .unwrap_or_else(|e| panic!("dispute: {e}: {d}"));
    }

    let statuses: HashSet<&str> = subs.iter().filter_map(|s| s["status"].as_str()).collect();
    for s in [
        "active", "trialing", "past_due", "canceled", "unpaid", "paused",
    ] {
        assert!(
            statuses.contains(s),
            "a {s} subscription among {statuses:?}"
        );
    }
    let price = |s: &Value| s["items"]["data"][0]["price"].clone();
    let intervals: HashSet<String> = subs
        .iter()
        .map(|s| {
            price(s)["recurring"]["interval"]
                .as_str()
                .unwrap_or("")
                .to_owned()
        })
        .collect();
    assert!(
        ["week", "month", "year"]
            .iter()
            .all(|i| intervals.contains(*i)),
        "{intervals:?}"
    );
    let modes: HashSet<String> = subs
        .iter()
        .filter_map(|s| price(s)["tiers_mode"].as_str().map(str::to_owned))
        .collect();
    assert!(
        modes.contains("graduated") && modes.contains("volume"),
        "{modes:?}"
    );
    let currencies: HashSet<&str> = subs.iter().filter_map(|s| s["currency"].as_str()).collect();
    assert_eq!(currencies, HashSet::from(["usd", "eur", "gbp"]));
    let durations: HashSet<&str> = subs
        .iter()
        .filter_map(|s| s["discount"]["coupon"]["duration"].as_str())
        .collect();
    assert!(
        durations.contains("forever") && durations.contains("repeating"),
        "{durations:?}"
    );
    assert!(
        subs.iter()
            .any(|s| s["items"]["data"][0]["quantity"].as_u64() > Some(1))
    );
    assert!(subs.iter().any(|s| !s["pause_collection"].is_null()) || statuses.contains("paused"));
    assert!(
        subs.iter()
            .all(|s| s["items"]["data"][0]["current_period_end"] == s["current_period_end"]),
        "both placements agree"
    );
    let trial_canceled = subs
        .iter()
        .filter(|s| {
            s["status"] == "canceled"
                && !s["trial_end"].is_null()
                && s["ended_at"] == s["trial_end"]
        })
        .count();
    assert!(
        trial_canceled > 0,
        "some trials end without a payment method"
    );

    let emails: Vec<&str> = customers
        .iter()
        .filter_map(|c| c["email"].as_str())
        .collect();
    assert!(emails.iter().any(|e| e.ends_with("@gmail.com")));
    assert!(
        emails
            .iter()
            .filter(|e| !e.ends_with(".com") || e.contains("labs") || e.contains("analytics"))
            .count()
            > 100,
        "business domains"
    );
    assert!(
        customers
            .iter()
            .any(|c| c["metadata"]["kustiq_profile_id"].is_string())
    );
    assert!(
        customers
            .iter()
            .any(|c| c["metadata"]["domain"].is_string())
    );
    assert!(customers.iter().any(|c| c["email"].is_null()));

    assert!(
        invoices
            .iter()
            .any(|i| i["status"] == "open" && i["attempt_count"].as_u64() > Some(1))
    );
    assert!(invoices.iter().any(|i| i["status"] == "uncollectible"));
    assert!(invoices.iter().any(|i| {
        i["total_discount_amounts"]
            .as_array()
            .is_some_and(|d| !d.is_empty())
    }));
    for i in invoices.iter().take(500) {
        let lines: i64 = i["lines"]["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["amount"].as_i64().unwrap())
            .sum();
        assert_eq!(i["subtotal"].as_i64(), Some(lines));
        assert!(i["period_end"].as_i64() >= i["period_start"].as_i64());
    }
    assert!(
        charges
            .iter()
            .any(|c| c["refunded"] == true && c["amount_refunded"] == c["amount"])
    );
    let failed: Vec<&Value> = charges.iter().filter(|c| c["status"] == "failed").collect();
    assert!(
        !failed.is_empty()
            && failed
                .iter()
                .all(|c| c["paid"] == false && c["failure_code"].is_string())
    );
    assert!(!disputes.is_empty());
    assert!(disputes.iter().all(|d| {
        charges
            .iter()
            .any(|c| c["id"] == d["charge"] && c["disputed"] == true)
    }));
    let ids_ok = |list: &[Value], prefix: &str| {
        list.iter().all(|o| {
            o["id"].as_str().is_some_and(|i| i.starts_with(prefix)) && o["livemode"] == false
        })
    };
    assert!(
        ids_ok(&customers, "cus_")
            && ids_ok(&subs, "sub_")
            && ids_ok(&invoices, "in_")
            && ids_ok(&charges, "ch_")
            && ids_ok(&disputes, "dp_")
    );
}

#[tokio::test]
async fn latency_is_added_to_every_api_response() {
    let sim = start(SimConfig {
        customers: 20,
        latency: std::time::Duration::from_millis(150),
        ..SimConfig::default()
    })
    .await;
    let started = std::time::Instant::now();
    let r = platform_get(&sim, "/v1/customers?limit=1").await;
    assert_eq!(r.status, 200);
    assert!(started.elapsed() >= std::time::Duration::from_millis(150));
}
