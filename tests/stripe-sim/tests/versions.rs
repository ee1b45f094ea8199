//! API versions and `expand[]`: basil by default (no legacy fields, tiers and coupons only when
//! expanded), the 2024-06-20 shape on request, and Stripe's 400 for what cannot be expanded.

mod common;

use common::{client, get, list_all, platform_get, start};
use kustiq::stripe::models::{Charge, Customer, Dispute, Invoice, Subscription};
use serde_json::Value;
use std::collections::HashSet;
use stripe_sim::{ApiVersion, PLATFORM_KEY, RunningSim, SimConfig};

fn one_account(customers: usize, api_version: ApiVersion) -> SimConfig {
    SimConfig {
        customers,
        accounts: 1,
        api_version,
        ..SimConfig::default()
    }
}

/// GET as the platform on the first account with a `Stripe-Version` header.
async fn get_versioned(sim: &RunningSim, path: &str, version: &str) -> (u16, Value) {
    let r = client()
        .get(format!("{}{path}", sim.base_url))
        .bearer_auth(PLATFORM_KEY)
        .header("Stripe-Account", &sim.accounts[0].id)
        .header("Stripe-Version", version)
        .send()
        .await
        .expect("request");
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// Whether `key` appears as an object key anywhere in `v`.
fn has_key(v: &Value, key: &str) -> bool {
    match v {
        Value::Object(m) => m.contains_key(key) || m.values().any(|x| has_key(x, key)),
        Value::Array(a) => a.iter().any(|x| has_key(x, key)),
        _ => false,
    }
}

#[tokio::test]
async fn basil_objects_carry_no_legacy_fields_and_parse_as_kustiq_reads_them() {
    let sim = start(one_account(400, ApiVersion::Basil)).await;
    let account = sim.accounts[0].id.clone();
    let subs = list_all(&sim, "/v1/subscriptions?status=all", &account).await;
    let invoices = list_all(&sim, "/v1/invoices", &account).await;
    let charges = list_all(&sim, "/v1/charges", &account).await;
    for c in list_all(&sim, "/v1/customers", &account).await {
        serde_json::from_value::<Customer>(c.clone()).unwrap_or_else(|e| panic!("{e}: {c}"));
    }
    for s in &subs {
        serde_json::from_value::<Subscription>(s.clone()).unwrap_or_else(|e| panic!("{e}: {s}"));
        for legacy in ["current_period_start", "current_period_end", "discount"] {
            assert!(s.get(legacy).is_none(), "subscription.{legacy}: {s}");
        }
        let item = &s["items"]["data"][0];
        assert!(item["current_period_end"].as_i64() > item["current_period_start"].as_i64());
        assert!(
            s["discounts"]
                .as_array()
                .unwrap()
                .iter()
                .all(Value::is_string)
        );
        assert!(
            s["items"].get("total_count").is_none(),
            "basil counts no lists"
        );
    }
    for i in &invoices {
        serde_json::from_value::<Invoice>(i.clone()).unwrap_or_else(|e| panic!("{e}: {i}"));
        for legacy in [
            "charge",
            "paid",
            "payment_intent",
            "subscription",
            "discount",
        ] {
            assert!(i.get(legacy).is_none(), "invoice.{legacy}: {i}");
        }
        assert!(i["parent"]["subscription_details"]["subscription"].is_string());
        let line = &i["lines"]["data"][0];
        assert!(
            line.get("price").is_none() && line.get("type").is_none(),
            "{line}"
        );
        assert!(line["pricing"]["price_details"]["price"].is_string());
    }
    for c in &charges {
        serde_json::from_value::<Charge>(c.clone()).unwrap_or_else(|e| panic!("{e}: {c}"));
        assert!(c.get("invoice").is_none(), "charge.invoice: {c}");
    }
    for d in list_all(&sim, "/v1/disputes", &account).await {
        serde_json::from_value::<Dispute>(d.clone()).unwrap_or_else(|e| panic!("{e}: {d}"));
    }
    assert!(
        !has_key(&Value::Array(subs.clone()), "tiers"),
        "tiers only when expanded"
    );
    let events = list_all(&sim, "/v1/events", &account).await;
    assert!(
        events
            .iter()
            .all(|e| e["api_version"] == "2025-03-31.basil")
    );
    assert!(
        !has_key(&Value::Array(events), "tiers"),
        "no webhook carries tiers"
    );

    // Coupons come back through `expand[]=discounts`.
    let expanded = list_all(
        &sim,
        "/v1/subscriptions?status=all&expand[]=data.discounts",
        &account,
    )
    .await;
    let durations: HashSet<&str> = expanded
        .iter()
        .flat_map(|s| s["discounts"].as_array().unwrap().iter())
        .filter_map(|d| d["coupon"]["duration"].as_str())
        .collect();
    assert!(
        durations.contains("forever") && durations.contains("repeating"),
        "{durations:?}"
    );

    // A paid invoice's charge is its payment's charge.
    let paid = invoices
        .iter()
        .find(|i| i["status"] == "paid" && i["amount_paid"].as_i64() > Some(0))
        .expect("a paid invoice");
    let id = paid["id"].as_str().unwrap();
    let with = platform_get(&sim, &format!("/v1/invoices/{id}?expand[]=payments")).await;
    let payment = &with.body["payments"]["data"][0];
    assert_eq!(payment["status"], "paid");
    assert_eq!(payment["amount_paid"], paid["amount_paid"]);
    let charge = payment["payment"]["charge"].as_str().unwrap();
    assert!(
        charges
            .iter()
            .any(|c| c["id"] == charge && c["status"] == "succeeded")
    );
    let listed = list_all(
        &sim,
        &format!("/v1/invoice_payments?invoice={id}"),
        &account,
    )
    .await;
    assert_eq!(listed.first(), Some(payment));
}

#[tokio::test]
async fn tiers_come_only_with_expand_on_prices_and_subscription_items() {
    let sim = start(one_account(300, ApiVersion::Basil)).await;
    let account = sim.accounts[0].id.clone();
    let prices = list_all(&sim, "/v1/prices", &account).await;
    let tiered = prices
        .iter()
        .find(|p| p["billing_scheme"] == "tiered")
        .expect("a tiered price");
    assert!(tiered.get("tiers").is_none());
    let id = tiered["id"].as_str().unwrap();
    let plain = platform_get(&sim, &format!("/v1/prices/{id}")).await.body;
    assert!(plain.get("tiers").is_none());
    let with = platform_get(&sim, &format!("/v1/prices/{id}?expand[]=tiers"))
        .await
        .body;
    let tiers = with["tiers"].as_array().expect("tiers");
    assert!(tiers.len() >= 2 && tiers.last().unwrap()["up_to"].is_null());

    let subs = list_all(&sim, "/v1/subscriptions?status=all", &account).await;
    let sub = subs
        .iter()
        .find(|s| s["items"]["data"][0]["price"]["billing_scheme"] == "tiered")
        .expect("a tiered subscription");
    let sid = sub["id"].as_str().unwrap();
    let r = platform_get(
        &sim,
        &format!("/v1/subscriptions/{sid}?expand[]=items.data.price.tiers&expand[]=customer"),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body["items"]["data"][0]["price"]["tiers"].is_array());
    assert_eq!(r.body["customer"]["object"], "customer");
    let coupons = list_all(&sim, "/v1/coupons", &account).await;
    assert!(coupons.len() >= 4 && coupons.iter().all(|c| c["object"] == "coupon"));
    let code = coupons[0]["id"].as_str().unwrap();
    let one = platform_get(&sim, &format!("/v1/coupons/{code}")).await;
    assert_eq!(one.body, coupons[0]);
}

#[tokio::test]
async fn expansions_stripe_refuses_answer_its_400() {
    let sim = start(one_account(50, ApiVersion::Basil)).await;
    let sub = platform_get(&sim, "/v1/subscriptions?limit=1").await.body["data"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    for (path, message) in [
        (
            format!("/v1/subscriptions/{sub}?expand[]=colour"),
            "This property cannot be expanded (colour).",
        ),
        (
            format!("/v1/subscriptions/{sub}?expand[]=metadata"),
            "This property cannot be expanded (metadata).",
        ),
        (
            "/v1/subscriptions?expand[]=customer".to_owned(),
            "This property cannot be expanded (customer). You may want to try expanding 'data.customer' instead.",
        ),
        (
            "/v1/subscriptions?expand[]=data.items.data.price.tiers".to_owned(),
            "You cannot expand more than 4 levels of a property.",
        ),
        (
            "/v1/invoices?expand[]=data.charge".to_owned(),
            "This property cannot be expanded (charge).",
        ),
    ] {
        let r = platform_get(&sim, &path).await;
        assert_eq!(r.status, 400, "{path}: {}", r.body);
        assert_eq!(r.body["error"]["type"], "invalid_request_error");
        assert_eq!(r.body["error"]["message"], message, "{path}");
    }
}

#[tokio::test]
async fn stripe_version_selects_the_legacy_shape_per_request_but_not_for_events() {
    let sim = start(one_account(100, ApiVersion::Basil)).await;
    let inv = platform_get(&sim, "/v1/invoices?status=paid&limit=1")
        .await
        .body["data"][0]
        .clone();
    let id = inv["id"].as_str().unwrap();
    assert!(inv.get("charge").is_none());
    let (status, legacy) = get_versioned(&sim, &format!("/v1/invoices/{id}"), "2024-06-20").await;
    assert_eq!(status, 200);
    assert!(
        legacy["charge"].is_string() && legacy["paid"] == true,
        "{legacy}"
    );
    assert_eq!(
        legacy["subscription"],
        inv["parent"]["subscription_details"]["subscription"]
    );
    let (_, basil) = get_versioned(&sim, &format!("/v1/invoices/{id}"), "2025-09-30.clover").await;
    assert_eq!(basil, inv);
    let (status, bad) = get_versioned(&sim, "/v1/invoices", "last-tuesday").await;
    assert_eq!(
        (status, bad["error"]["type"].as_str()),
        (400, Some("invalid_request_error"))
    );
    // Events keep the version they were created in, whatever the reader asks for.
    let (_, events) = get_versioned(&sim, "/v1/events?limit=5", "2024-06-20").await;
    assert!(
        events["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["api_version"] == "2025-03-31.basil")
    );
}

#[tokio::test]
async fn the_legacy_version_renders_the_2024_shape_and_its_expansions() {
    let sim = start(one_account(200, ApiVersion::Legacy)).await;
    let account = sim.accounts[0].id.clone();
    let subs = list_all(&sim, "/v1/subscriptions?status=all", &account).await;
    assert!(
        subs.iter()
            .all(|s| s["current_period_end"].is_i64() && s.get("discount").is_some())
    );
    assert!(
        subs.iter()
            .any(|s| s["discount"]["coupon"]["object"] == "coupon")
    );
    let r = platform_get(
        &sim,
        "/v1/invoices?status=paid&limit=5&expand[]=data.charge",
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    for i in r.body["data"].as_array().unwrap() {
        assert!(i["paid"] == true && i["subscription"].is_string());
        if i["amount_paid"].as_i64() > Some(0) {
            assert_eq!(i["charge"]["object"], "charge");
            assert_eq!(i["charge"]["invoice"], i["id"]);
        }
    }
    let r = platform_get(&sim, "/v1/invoices?expand[]=data.payments").await;
    assert_eq!(r.status, 400, "invoice payments are basil's");
    let events = get(&sim, "/v1/events?limit=3", PLATFORM_KEY, Some(&account))
        .await
        .body;
    assert!(
        events["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["api_version"] == "2024-06-20")
    );
}

#[tokio::test]
async fn ids_inside_hashes_and_arrays_expand_by_their_dotted_path() {
    let sim = start(one_account(300, ApiVersion::Basil)).await;
    let account = sim.accounts[0].id.clone();
    let invoices = list_all(&sim, "/v1/invoices", &account).await;
    let discounted = invoices
        .iter()
        .find(|i| !i["total_discount_amounts"].as_array().unwrap().is_empty())
        .expect("a discounted invoice");
    let id = discounted["id"].as_str().unwrap();
    let r = platform_get(
        &sim,
        &format!(
            "/v1/invoices/{id}?expand[]=total_discount_amounts.discount&expand[]=parent.subscription_details.subscription&expand[]=lines.data.discount_amounts.discount"
        ),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let discount = &r.body["total_discount_amounts"][0]["discount"];
    assert_eq!(discount["object"], "discount");
    assert_eq!(discount["coupon"]["object"], "coupon");
    assert_eq!(discount["id"], discounted["discounts"][0]);
    assert_eq!(
        r.body["parent"]["subscription_details"]["subscription"]["object"],
        "subscription"
    );
    assert_eq!(
        r.body["lines"]["data"][0]["discount_amounts"][0]["discount"],
        *discount
    );
    let payments = platform_get(
        &sim,
        "/v1/invoice_payments?limit=3&expand[]=data.payment.charge",
    )
    .await
    .body;
    for p in payments["data"].as_array().unwrap() {
        assert_eq!(p["payment"]["charge"]["object"], "charge");
    }
}
