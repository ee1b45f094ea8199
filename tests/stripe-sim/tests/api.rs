//! The simulator's Stripe API: pagination, scoping, errors, rate limits, filters.

mod common;

use common::{get, list_all, platform_get, small, start};
use serde_json::Value;
use std::collections::HashSet;
use std::time::Instant;
use stripe_sim::{Flag, PLATFORM_KEY, SimConfig, Simulator};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_customers_over_five_years_page_exactly_once_newest_first() {
    let started = Instant::now();
    let sim = Simulator::new(SimConfig {
        customers: 10_000,
        years: 5,
        accounts: 1,
        ..SimConfig::default()
    });
    let generated = started.elapsed();
    eprintln!(
        "generated 10,000 customers × 5 years in {generated:?} ({:?})",
        sim.counts(&sim.accounts()[0].id)
    );
    assert!(
        generated.as_secs() < 10,
        "generation took {generated:?} (goal: a few seconds in debug)"
    );
    let sim = sim.bind(0).await.expect("bind");
    let account = sim.accounts[0].id.clone();

    let customers = list_all(&sim, "/v1/customers", &account).await;
    let ids: HashSet<&str> = customers.iter().filter_map(|c| c["id"].as_str()).collect();
    assert_eq!(customers.len(), 10_000);
    assert_eq!(ids.len(), 10_000, "every customer exactly once");
    let created: Vec<i64> = customers
        .iter()
        .filter_map(|c| c["created"].as_i64())
        .collect();
    assert!(created.windows(2).all(|w| w[0] >= w[1]), "newest first");
    let span_days = (created[0] - created[created.len() - 1]) / 86_400;
    assert!(span_days > 4 * 365, "history spans {span_days} days");

    let subs = list_all(&sim, "/v1/subscriptions?status=all", &account).await;
    let counts = sim.sim.counts(&account).expect("counts");
    assert_eq!(subs.len(), counts.subscriptions);
}

#[tokio::test]
async fn pages_chain_forwards_with_starting_after_and_back_with_ending_before() {
    let sim = start(small()).await;
    let p1 = platform_get(&sim, "/v1/customers?limit=7").await.body;
    assert_eq!(p1["object"], "list");
    assert_eq!(p1["url"], "/v1/customers");
    assert_eq!(p1["has_more"], true);
    let p1_ids: Vec<&str> = p1["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(p1_ids.len(), 7);
    let p2 = platform_get(
        &sim,
        &format!("/v1/customers?limit=7&starting_after={}", p1_ids[6]),
    )
    .await
    .body;
    let p2_ids: Vec<&str> = p2["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert!(p2_ids.iter().all(|id| !p1_ids.contains(id)));
    let back = platform_get(
        &sim,
        &format!("/v1/customers?limit=7&ending_before={}", p2_ids[0]),
    )
    .await
    .body;
    let back_ids: Vec<&str> = back["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        back_ids, p1_ids,
        "ending_before returns the previous page, newest first"
    );
    assert_eq!(
        back["has_more"], false,
        "nothing is newer than the first page"
    );
    let default = platform_get(&sim, "/v1/customers").await.body;
    assert_eq!(
        default["data"].as_array().map(Vec::len),
        Some(10),
        "default limit is 10"
    );
}

#[tokio::test]
async fn stripe_account_scopes_every_read() {
    let sim = start(small()).await;
    let (a, b) = (sim.accounts[0].clone(), sim.accounts[1].clone());
    let a_first = get(&sim, "/v1/customers?limit=1", PLATFORM_KEY, Some(&a.id))
        .await
        .body["data"][0]
        .clone();
    let b_first = get(&sim, "/v1/customers?limit=1", PLATFORM_KEY, Some(&b.id))
        .await
        .body["data"][0]
        .clone();
    assert_ne!(a_first["id"], b_first["id"]);
    let a_cus = a_first["id"].as_str().unwrap();
    let cross = get(
        &sim,
        &format!("/v1/customers/{a_cus}"),
        PLATFORM_KEY,
        Some(&b.id),
    )
    .await;
    assert_eq!(cross.status, 404);
    assert_eq!(cross.body["error"]["code"], "resource_missing");
    let own = get(
        &sim,
        &format!("/v1/customers/{a_cus}"),
        &a.restricted_key,
        None,
    )
    .await;
    assert_eq!(own.status, 200);
    assert_eq!(own.body, a_first);
    let wrong = get(&sim, "/v1/customers", &a.restricted_key, Some(&b.id)).await;
    assert_eq!(
        wrong.status, 401,
        "a key of one account cannot read another"
    );
    let platform_only = get(&sim, "/v1/customers", PLATFORM_KEY, None).await;
    assert_eq!(
        platform_only.body["data"],
        Value::Array(Vec::new()),
        "the platform itself has no customers"
    );
    let account = get(&sim, "/v1/account", &b.restricted_key, None).await.body;
    assert_eq!(account["id"], b.id.as_str());
}

#[tokio::test]
async fn unknown_keys_get_stripes_401_body() {
    let sim = start(small()).await;
    let r = get(&sim, "/v1/customers", "sk_test_wrongkey1234", None).await;
    assert_eq!(r.status, 401);
    assert_eq!(r.body["error"]["type"], "invalid_request_error");
    assert_eq!(
        r.body["error"]["message"],
        "Invalid API Key provided: sk_test_****1234"
    );
    let none = reqwest::get(format!("{}/v1/customers", sim.base_url))
        .await
        .unwrap();
    assert_eq!(none.status().as_u16(), 401);
}

#[tokio::test]
async fn bad_parameters_and_unknown_ids_answer_like_stripe() {
    let sim = start(small()).await;
    for (query, param) in [
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("limit=ten", "limit"),
        ("colour=blue", "colour"),
    ] {
        let r = platform_get(&sim, &format!("/v1/customers?{query}")).await;
        assert_eq!(r.status, 400, "{query}");
        assert_eq!(r.body["error"]["type"], "invalid_request_error");
        assert_eq!(r.body["error"]["param"], param);
    }
    let r = platform_get(&sim, "/v1/subscriptions?status=sleeping").await;
    assert_eq!(r.status, 400);
    for path in [
        "/v1/customers/cus_doesnotexist00",
        "/v1/invoices/in_nope",
        "/v1/charges/ch_1",
        "/v1/disputes/dp_x",
    ] {
        let r = platform_get(&sim, path).await;
        assert_eq!(r.status, 404, "{path}");
        assert_eq!(r.body["error"]["code"], "resource_missing");
    }
    let r = platform_get(&sim, "/v1/customers?starting_after=cus_nope").await;
    assert_eq!(
        (r.status, r.body["error"]["param"].as_str()),
        (404, Some("starting_after"))
    );
}

#[tokio::test]
async fn writes_are_refused_and_counted() {
    let sim = start(small()).await;
    assert_eq!(sim.sim.non_get_requests(), 0);
    let client = reqwest::Client::new();
    for method in [
        reqwest::Method::POST,
        reqwest::Method::DELETE,
        reqwest::Method::PATCH,
    ] {
        let r = client
            .request(method, format!("{}/v1/customers", sim.base_url))
            .bearer_auth(PLATFORM_KEY)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 405);
    }
    assert_eq!(sim.sim.non_get_requests(), 3);
}

#[tokio::test]
async fn rate_limit_answers_429_with_stripes_body_and_should_retry() {
    let sim = start(SimConfig {
        rate_limit: Some(5),
        ..small()
    })
    .await;
    let mut limited = 0;
    // Fired together so the test does not depend on how fast the machine is.
    let base = sim.base_url.clone();
    let account = sim.accounts[0].id.clone();
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let (base, account) = (base.clone(), account.clone());
            tokio::spawn(async move {
                let r = reqwest::Client::new()
                    .get(format!("{base}/v1/customers?limit=1"))
                    .bearer_auth(PLATFORM_KEY)
                    .header("Stripe-Account", account)
                    .send()
                    .await
                    .expect("request");
                let status = r.status().as_u16();
                let headers = r.headers().clone();
                (
                    status,
                    headers,
                    r.json::<Value>().await.unwrap_or(Value::Null),
                )
            })
        })
        .collect();
    for t in tasks {
        let (status, headers, body) = t.await.expect("task");
        let r = common::Resp {
            status,
            headers,
            body,
        };
        if r.status == 429 {
            limited += 1;
            assert_eq!(r.body["error"]["code"], "rate_limit");
            assert_eq!(r.body["error"]["type"], "invalid_request_error");
            assert_eq!(
                r.headers
                    .get("stripe-should-retry")
                    .and_then(|v| v.to_str().ok()),
                Some("true")
            );
        }
    }
    assert!(
        limited >= 10,
        "20 back-to-back requests at 5 r/s: {limited} limited"
    );
    assert_eq!(sim.sim.rate_limited(), limited);
    // The other account has its own budget.
    let other = get(
        &sim,
        "/v1/customers?limit=1",
        PLATFORM_KEY,
        Some(&sim.accounts[1].id),
    )
    .await;
    assert_eq!(other.status, 200);
}

#[tokio::test]
async fn subscription_and_invoice_filters_select_what_they_name() {
    let sim = start(small()).await;
    let account = sim.accounts[0].id.clone();
    let all = list_all(&sim, "/v1/subscriptions?status=all", &account).await;
    let default = list_all(&sim, "/v1/subscriptions", &account).await;
    let canceled = list_all(&sim, "/v1/subscriptions?status=canceled", &account).await;
    assert!(!canceled.is_empty());
    assert!(canceled.iter().all(|s| s["status"] == "canceled"));
    assert!(
        default.iter().all(|s| s["status"] != "canceled"),
        "without status Stripe hides canceled ones"
    );
    assert_eq!(default.len() + canceled.len(), all.len());

    let customer = all[0]["customer"].as_str().unwrap().to_owned();
    let theirs = list_all(&sim, &format!("/v1/invoices?customer={customer}"), &account).await;
    assert!(!theirs.is_empty());
    assert!(theirs.iter().all(|i| i["customer"] == customer.as_str()));
    let sub = all[0]["id"].as_str().unwrap();
    let by_sub = list_all(&sim, &format!("/v1/invoices?subscription={sub}"), &account).await;
    // Basil (the default) names an invoice's subscription under `parent`.
    assert!(
        by_sub
            .iter()
            .all(|i| i["parent"]["subscription_details"]["subscription"] == sub)
    );
    let paid = list_all(&sim, "/v1/invoices?status=paid&limit=100", &account).await;
    assert!(!paid.is_empty() && paid.iter().all(|i| i["status"] == "paid"));
    let charges = list_all(&sim, &format!("/v1/charges?customer={customer}"), &account).await;
    assert!(charges.iter().all(|c| c["customer"] == customer.as_str()));
    let created_cut = all[all.len() / 2]["created"].as_i64().unwrap();
    let recent = list_all(
        &sim,
        &format!("/v1/subscriptions?status=all&created[gte]={created_cut}"),
        &account,
    )
    .await;
    assert!(
        recent
            .iter()
            .all(|s| s["created"].as_i64().unwrap() >= created_cut)
    );
    assert!(recent.len() > all.len() / 3 && recent.len() < all.len());
}

#[tokio::test]
async fn control_toggles_produce_401_403_and_a_restricted_account() {
    let sim = start(small()).await;
    let a = sim.accounts[0].clone();
    assert!(sim.sim.set_flag(&a.id, Flag::PermissionDenied, true));
    let r = platform_get(&sim, "/v1/subscriptions").await;
    assert_eq!(r.status, 403);
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("rak_subscription_read")
    );
    sim.sim.set_flag(&a.id, Flag::PermissionDenied, false);

    let client = reqwest::Client::new();
    let r = client
        .post(format!("{}/_sim/accounts/{}/restrict", sim.base_url, a.id))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let r = platform_get(&sim, "/v1/invoices").await;
    assert_eq!(
        (r.status, r.body["error"]["code"].as_str()),
        (403, Some("account_restricted"))
    );
    let acct = platform_get(&sim, "/v1/account").await.body;
    assert_eq!(acct["requirements"]["disabled_reason"], "under_review");
    assert_eq!(acct["charges_enabled"], false);
    client
        .post(format!(
            "{}/_sim/accounts/{}/restrict?enabled=false",
            sim.base_url, a.id
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(platform_get(&sim, "/v1/invoices").await.status, 200);

    client
        .post(format!("{}/_sim/accounts/{}/revoke", sim.base_url, a.id))
        .send()
        .await
        .unwrap();
    let r = get(&sim, "/v1/customers", &a.restricted_key, None).await;
    assert_eq!(
        (r.status, r.body["error"]["code"].as_str()),
        (401, Some("account_invalid"))
    );
    let other = get(
        &sim,
        "/v1/customers",
        PLATFORM_KEY,
        Some(&sim.accounts[1].id),
    )
    .await;
    assert_eq!(other.status, 200, "only the revoked account is affected");
}
