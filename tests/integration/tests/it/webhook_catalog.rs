//! Webhook ingest reading from Stripe (the simulator, basil payloads) what a payload
//! lacks: the tiers of a tiered price, the coupon behind a discount id, the owner of a
//! disputed charge — and answering 503 when Stripe is down, so Stripe redelivers.

use kustiq::domain::connection::Mode;
use kustiq::domain::ids::{ProfileId, StripeCustomerId, StripeEventId, WorkspaceId};
use kustiq::domain::profile::Profile;
use kustiq::domain::time::Timestamp;
use kustiq::ports::billing::BillingStore;
use kustiq::ports::events::EventLog;
use kustiq::ports::ingest::IngestStore;
use kustiq::ports::profiles::ProfileStore;
use kustiq_tests::Engine;
use kustiq_tests::webhook::Bench;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use stripe_sim::model::{Cur, Interval, Price, Scheme, Tier, TiersMode};
use stripe_sim::{ApiVersion, Flag, RunningSim, SimConfig, Simulator};

/// A served simulated account of 200 customers in `version`, and its id.
async fn served(version: ApiVersion) -> (RunningSim, String) {
    let sim = Simulator::new(SimConfig {
        seed: 7,
        customers: 200,
        years: 1,
        accounts: 1,
        api_version: version,
        ..SimConfig::default()
    });
    let account = sim
        .accounts()
        .first()
        .map(|a| a.id.clone())
        .unwrap_or_default();
    let running = sim.bind(0).await.unwrap_or_else(|e| panic!("bind: {e}"));
    (running, account)
}

/// `GET path` on the simulator as the platform on `account`: what the test compares with.
async fn read(sim: &RunningSim, account: &str, path: &str) -> Value {
    reqwest::Client::new()
        .get(format!("{}{path}", sim.base_url))
        .bearer_auth(stripe_sim::PLATFORM_KEY)
        .header("Stripe-Account", account)
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {path}: {e}"))
        .json()
        .await
        .unwrap_or_else(|e| panic!("GET {path}: {e}"))
}

/// A bench reading Stripe at `base`, with `workspace` connected to `account`, an hour
/// after `events` happened.
async fn bench_at(
    base: &str,
    account: &str,
    workspace: &str,
    events: &[&Value],
) -> (Bench, WorkspaceId) {
    let newest = events
        .iter()
        .filter_map(|e| e["created"].as_i64())
        .max()
        .unwrap_or(0);
    let bench = Bench::new(Engine::DynamoDbLocal, Timestamp::from_unix(newest + 3_600))
        .await
        .with_stripe(base);
    let ws = bench.connect(workspace, account, Mode::Test).await;
    (bench, ws)
}

/// Matches profile `profile` to `customer`.
async fn match_profile(bench: &Bench, ws: &WorkspaceId, profile: &str, customer: &str) {
    let profile = Profile {
        profile_id: ProfileId::parse(profile).unwrap_or_else(|e| panic!("{e}")),
        email: None,
        domain: None,
        name: None,
        stripe_customer_id: Some(customer_id(customer)),
        families: BTreeMap::new(),
        classifier_churn_risk: Some(10.0),
    };
    bench
        .store
        .put_profile(ws, &profile)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
}

fn customer_id(raw: &str) -> StripeCustomerId {
    StripeCustomerId::parse(raw).unwrap_or_else(|e| panic!("{e}"))
}

/// `GET /api/v1/profiles/{profile}/churn`.
async fn churn(bench: &Bench, ws: &WorkspaceId, profile: &str) -> Value {
    let path = format!("/api/v1/profiles/{profile}/churn");
    let answer = bench
        .send(bench.authed("GET", &path, ws.as_str(), None))
        .await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    answer.body
}

/// Posts `event` and asserts it was applied.
async fn applied(bench: &Bench, event: &Value) {
    let answer = bench.post_signed(&event.to_string()).await;
    assert_eq!(
        (answer.status, answer.body["outcome"].as_str()),
        (200, Some("applied")),
        "{} {}: {:?}",
        event["type"],
        event["id"],
        answer.body
    );
}

/// The prices of a subscription's items, and of its previous items when the event
/// changed them.
fn prices(event: &Value) -> Vec<&Value> {
    let mut out = item_prices(&event["data"]["object"]);
    out.extend(item_prices(&event["data"]["previous_attributes"]));
    out
}

fn item_prices(sub: &Value) -> Vec<&Value> {
    sub["items"]["data"]
        .as_array()
        .map(|a| a.iter().map(|i| &i["price"]).collect())
        .unwrap_or_default()
}

/// An active subscription billing monthly (so its MRR is one period's amount), with no
/// tax, one item and the discounts given.
fn monthly_single_item(sub: &Value) -> bool {
    let items = sub["items"]["data"].as_array().map_or(0, Vec::len);
    sub["status"] == "active"
        && items == 1
        && sub["default_tax_rates"]
            .as_array()
            .is_none_or(Vec::is_empty)
        && sub["items"]["data"][0]["price"]["recurring"]["interval"] == "month"
        && sub["items"]["data"][0]["price"]["recurring"]["interval_count"] == 1
}

/// `customer.subscription.updated` events of `sim`, oldest first.
fn subscription_updates(sim: &RunningSim, account: &str) -> Vec<Value> {
    sim.sim
        .events(account)
        .into_iter()
        .filter(|e| e["type"] == "customer.subscription.updated")
        .collect()
}

/// An update of an active monthly subscription of a tiered price (sent without tiers).
fn tiered_update(sim: &RunningSim, account: &str) -> Value {
    subscription_updates(sim, account)
        .into_iter()
        .find(|e| {
            monthly_single_item(&e["data"]["object"])
                && prices(e).iter().any(|p| p["billing_scheme"] == "tiered")
        })
        .unwrap_or_else(|| panic!("no update of a tiered subscription"))
}

/// One period of a tiered price for `quantity`, by the simulator's own arithmetic over the
/// tiers it serves (`expand[]=tiers`).
fn tiered_amount(price: &Value, quantity: u32) -> i64 {
    let tiers = price["tiers"]
        .as_array()
        .unwrap_or_else(|| panic!("tiers not expanded: {price}"))
        .iter()
        .map(|t| Tier {
            up_to: t["up_to"].as_u64().and_then(|u| u32::try_from(u).ok()),
            unit_amount: t["unit_amount"].as_i64().unwrap_or(0),
            flat_amount: t["flat_amount"].as_i64().unwrap_or(0),
        })
        .collect();
    let mode = match price["tiers_mode"].as_str() {
        Some("volume") => TiersMode::Volume,
        _ => TiersMode::Graduated,
    };
    Price {
        product: 0,
        currency: Cur::Usd,
        interval: Interval::Month,
        interval_count: 1,
        scheme: Scheme::Tiered(mode, tiers),
        rank: 0,
        per_seat: true,
    }
    .amount(quantity)
}

/// A new `charge.dispute.created` of the simulator (on the latest paid charge of the first
/// customer that has one) and its customer.
async fn dispute(sim: &RunningSim, account: &str) -> (Value, String) {
    for c in sim.sim.customers(account) {
        let customer = c["id"].as_str().unwrap_or_default().to_owned();
        let Ok(ids) = sim
            .sim
            .emit(account, "charge.dispute.created", &customer)
            .await
        else {
            continue;
        };
        let event =
            sim.sim.events(account).into_iter().find(|e| {
                e["type"] == "charge.dispute.created" && ids.iter().any(|i| e["id"] == *i)
            });
        if let Some(event) = event {
            return (event, customer);
        }
    }
    panic!("no customer could dispute")
}

#[tokio::test]
async fn a_basil_dispute_scores_at_once_by_retrieving_its_charge() {
    let (sim, account) = served(ApiVersion::Basil).await;
    let (event, customer) = dispute(&sim, &account).await;
    let object = &event["data"]["object"];
    let charge = object["charge"]
        .as_str()
        .unwrap_or_else(|| panic!("a basil dispute names its charge by id: {object}"));
    let (bench, ws) = bench_at(&sim.base_url, &account, "ws_dispute", &[&event]).await;
    match_profile(&bench, &ws, "p0", &customer).await;

    // No invoice or charge of this customer was ever delivered: only Stripe knows the owner.
    let before = sim.sim.requests();
    applied(&bench, &event).await;
    assert_eq!(
        sim.sim.requests() - before,
        1,
        "one GET /v1/charges/{charge}"
    );
    let body = churn(&bench, &ws, "p0").await;
    let factors = body["families"]["billing"]["factors"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let disputed = factors
        .iter()
        .find(|f| f["signal"] == "stripe_dispute")
        .unwrap_or_else(|| panic!("the dispute scores: {body}"));
    assert!(
        disputed["impact"].as_f64().is_some_and(|i| i > 0.0),
        "{disputed}"
    );
    assert_eq!(disputed["evidence"][0], object["id"], "{disputed}");
    // Its owner was committed with it: the next dispute on the charge needs no Stripe read.
    let owner = bench
        .store
        .charge_owner(&ws, charge)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(owner, Some(customer_id(&customer)));
}

#[tokio::test]
async fn a_tiered_price_without_tiers_is_fetched_once_and_cached() {
    let (sim, account) = served(ApiVersion::Basil).await;
    // Two updates of monthly, undiscounted subscriptions of one tiered price (and no other
    // tiered price before or after), of two customers.
    let updates: Vec<Value> = subscription_updates(&sim, &account)
        .into_iter()
        .filter(|e| {
            let sub = &e["data"]["object"];
            monthly_single_item(sub) && sub["discounts"].as_array().is_some_and(Vec::is_empty)
        })
        .collect();
    let mut by_price: BTreeMap<String, Vec<&Value>> = BTreeMap::new();
    for e in &updates {
        let tiered: BTreeSet<&str> = prices(e)
            .into_iter()
            .filter(|p| p["billing_scheme"] == "tiered")
            .filter_map(|p| p["id"].as_str())
            .collect();
        if let [price] = tiered.into_iter().collect::<Vec<_>>()[..] {
            by_price.entry(price.to_owned()).or_default().push(e);
        }
    }
    let (price_id, pair) = by_price
        .iter()
        .find_map(|(p, es)| {
            let first = es.first()?;
            let other = es
                .iter()
                .find(|e| e["data"]["object"]["customer"] != first["data"]["object"]["customer"])?;
            Some((p.clone(), [*first, *other]))
        })
        .unwrap_or_else(|| panic!("no tiered price shared by two customers"));
    for e in pair {
        assert!(
            e["data"]["object"]["items"]["data"][0]["price"]["tiers"].is_null(),
            "Stripe sends no tiers unless expanded"
        );
    }
    let price = read(
        &sim,
        &account,
        &format!("/v1/prices/{price_id}?expand[]=tiers"),
    )
    .await;
    let (bench, ws) = bench_at(&sim.base_url, &account, "ws_tiers", &pair).await;

    let mut fetched = Vec::new();
    for (i, e) in pair.iter().enumerate() {
        let sub = &e["data"]["object"];
        let profile = format!("p{i}");
        match_profile(
            &bench,
            &ws,
            &profile,
            sub["customer"].as_str().unwrap_or_default(),
        )
        .await;
        let before = sim.sim.requests();
        applied(&bench, e).await;
        fetched.push(sim.sim.requests() - before);
        let quantity = sub["items"]["data"][0]["quantity"].as_u64().unwrap_or(1);
        let expected = tiered_amount(&price, u32::try_from(quantity).unwrap_or(u32::MAX));
        let billing = churn(&bench, &ws, &profile).await["billing"].clone();
        assert_eq!(
            (
                billing["mrr"]["amount"].as_i64(),
                billing["mrr"]["currency"].as_str()
            ),
            (Some(expected), price["currency"].as_str()),
            "MRR of {} × {quantity} of {price_id}: {billing}",
            sub["id"]
        );
    }
    assert_eq!(
        fetched,
        [1, 0],
        "the tiers are read once, then from the cache"
    );
}

#[tokio::test]
async fn a_discount_id_resolves_to_its_coupon_so_20_percent_off_forever_is_mrr_80() {
    for version in [ApiVersion::Basil, ApiVersion::Legacy] {
        let (sim, account) = served(version).await;
        // Updates of monthly per-unit subscriptions with one discount, whose coupon is
        // 20 % off forever (the simulator's SAVE20).
        let mut found = None;
        for e in subscription_updates(&sim, &account) {
            let sub = &e["data"]["object"];
            let per_unit = prices(&e).iter().all(|p| p["billing_scheme"] == "per_unit");
            let discounted = sub["discounts"].as_array().is_some_and(|d| !d.is_empty())
                || sub["discount"].is_object();
            if !(monthly_single_item(sub) && per_unit && discounted) {
                continue;
            }
            let Some(sub_id) = sub["id"].as_str() else {
                continue;
            };
            let expanded = read(
                &sim,
                &account,
                &format!("/v1/subscriptions/{sub_id}?expand[]=discounts"),
            )
            .await;
            let coupons: Vec<&Value> = expanded["discounts"]
                .as_array()
                .map(|d| d.iter().map(|d| &d["coupon"]).collect())
                .unwrap_or_default();
            if let [coupon] = coupons[..]
                && coupon["percent_off"] == 20.0
                && coupon["duration"] == "forever"
            {
                found = Some(e);
                break;
            }
        }
        let event =
            found.unwrap_or_else(|| panic!("{version:?}: no 20 %-off-forever subscription"));
        let sub = &event["data"]["object"];
        if version == ApiVersion::Basil {
            assert!(
                sub["discounts"][0].is_string(),
                "basil sends the discount's id: {sub}"
            );
        }
        let (bench, ws) = bench_at(&sim.base_url, &account, "ws_coupon", &[&event]).await;
        match_profile(
            &bench,
            &ws,
            "p0",
            sub["customer"].as_str().unwrap_or_default(),
        )
        .await;
        applied(&bench, &event).await;

        let item = &sub["items"]["data"][0];
        let list = item["price"]["unit_amount"].as_i64().unwrap_or(0)
            * item["quantity"].as_i64().unwrap_or(1);
        let billing = churn(&bench, &ws, "p0").await["billing"].clone();
        assert_eq!(
            billing["mrr"]["amount"].as_i64(),
            Some(list * 80 / 100),
            "{version:?}: 20 % off {list} forever: {billing}"
        );
        assert_eq!(list * 80 % 100, 0, "an exact amount, no rounding involved");
    }
}

#[tokio::test]
async fn a_stripe_outage_while_resolving_answers_503_and_stores_nothing() {
    let (sim, account) = served(ApiVersion::Basil).await;
    let event = tiered_update(&sim, &account);
    let customer = customer_id(
        event["data"]["object"]["customer"]
            .as_str()
            .unwrap_or_default(),
    );
    let id = StripeEventId::parse(event["id"].as_str().unwrap_or_default())
        .unwrap_or_else(|e| panic!("{e}"));
    // Stripe is down: nothing listens where the bench reads it.
    let (base, simulator) = (sim.base_url.clone(), sim.sim.clone());
    sim.shutdown().await;
    let (bench, ws) = bench_at(&base, &account, "ws_outage", &[&event]).await;
    match_profile(&bench, &ws, "p0", customer.as_str()).await;

    let answer = bench.post_signed(&event.to_string()).await;
    assert_eq!(
        answer.status, 503,
        "Stripe must redeliver: {:?}",
        answer.body
    );
    let recorded = bench
        .store
        .event(&ws, &id)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(recorded.is_none(), "no event recorded");
    let (_, version) = bench
        .store
        .load(&ws, &customer)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(version, 0, "no billing state written");

    // Stripe is back where it was: the redelivery is applied with the tiers.
    let port = base
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    let _back = simulator
        .bind(port)
        .await
        .unwrap_or_else(|e| panic!("rebind {port}: {e}"));
    applied(&bench, &event).await;
    let billing = churn(&bench, &ws, "p0").await["billing"].clone();
    assert!(
        billing["mrr"]["amount"].as_i64().is_some_and(|m| m > 0),
        "MRR known: {billing}"
    );
}

#[tokio::test]
async fn a_refused_stripe_read_applies_the_event_with_the_amount_unknown_and_defers_the_dispute() {
    let (sim, account) = served(ApiVersion::Basil).await;
    let update = tiered_update(&sim, &account);
    let (disputed, _) = dispute(&sim, &account).await;
    let (bench, ws) = bench_at(&sim.base_url, &account, "ws_refused", &[&update, &disputed]).await;
    let customer = update["data"]["object"]["customer"]
        .as_str()
        .unwrap_or_default();
    match_profile(&bench, &ws, "p0", customer).await;
    // The account revoked the platform's access: Stripe answers 401, which retrying
    // cannot fix, so the events are acknowledged with what their payloads tell.
    assert!(sim.sim.set_flag(&account, Flag::Revoked, true));

    applied(&bench, &update).await;
    let billing = churn(&bench, &ws, "p0").await["billing"].clone();
    assert!(billing["mrr"].is_null(), "unknown, never 0: {billing}");
    let answer = bench.post_signed(&disputed.to_string()).await;
    assert_eq!(
        (answer.status, answer.body["outcome"].as_str()),
        (200, Some("deferred")),
        "{:?}",
        answer.body
    );
}
