//! The read-only Stripe client against the Stripe simulator, in process:
//! pagination, pacing and retries, error codes, read-only-ness, and both
//! OAuth flows.

use futures::{StreamExt, TryStreamExt, future};
use kustiq::adapters::stripe::{
    AccountReader, RetryPolicy, StripeClient, StripeConfig, StripeCredentials, http_builder,
};
use kustiq::domain::error_code::ErrorCode;
use kustiq::domain::ids::{StripeAccountId, StripeCustomerId, StripeObjectId};
use kustiq::domain::secret::Secret;
use kustiq::domain::time::Timestamp;
use kustiq::ports::stripe::{EventQuery, ListFilter, StripeError, StripeReader};
use kustiq::stripe::models::{EventType, SubscriptionStatus};
use serde_json::Value;
use std::collections::{HashMap, HashSet};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use stripe_sim::engine::EVENT_WINDOW;
use stripe_sim::{CLIENT_ID, Flag, PLATFORM_KEY, RunningSim, SimConfig, Simulator};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn sim(customers: usize, rate_limit: Option<u32>) -> RunningSim {
    let config = SimConfig {
        seed: 7,
        customers,
        years: 2,
        accounts: 2,
        rate_limit,
        ..SimConfig::default()
    };
    Simulator::new(config).bind(0).await.unwrap()
}

/// A client for the simulator, pacing at `rate` requests/s, with short retry waits.
fn client(sim: &RunningSim, rate: u32) -> StripeClient {
    let mut config = StripeConfig::at(&sim.base_url)
        .unwrap()
        .with_rate(NonZeroU32::new(rate).unwrap());
    config.retry = RetryPolicy {
        max_attempts: 8,
        base_delay: Duration::from_millis(100),
        max_delay: Duration::from_secs(2),
    };
    StripeClient::new(config).unwrap()
}

fn account(sim: &RunningSim, i: usize) -> StripeAccountId {
    StripeAccountId::parse(sim.accounts[i].id.clone()).unwrap()
}

/// Connect: the platform key with `Stripe-Account`.
fn connect(client: &StripeClient, sim: &RunningSim, i: usize) -> AccountReader {
    client.reader(StripeCredentials::Connect {
        platform_key: Secret::new(PLATFORM_KEY),
        account: account(sim, i),
    })
}

/// The ids of a listing, asserting none appears twice.
fn unique_ids(what: &str, ids: Vec<String>) -> HashSet<String> {
    let mut seen = HashSet::new();
    for id in ids {
        assert!(seen.insert(id.clone()), "{what}: {id} listed twice");
    }
    seen
}

fn ids_of(values: &[Value]) -> HashSet<String> {
    values
        .iter()
        .map(|v| v["id"].as_str().unwrap().to_owned())
        .collect()
}

/// Every item of a listing; panics on the first error.
async fn all<T>(stream: impl futures::Stream<Item = Result<T, StripeError>>) -> Vec<T> {
    stream.try_collect().await.unwrap()
}

async fn first_error<T>(
    stream: impl futures::Stream<Item = Result<T, StripeError>>,
) -> StripeError {
    let mut stream = std::pin::pin!(stream);
    loop {
        match stream.next().await {
            Some(Ok(_)) => continue,
            Some(Err(e)) => return e,
            None => panic!("the listing succeeded"),
        }
    }
}

#[tokio::test]
async fn every_list_yields_each_object_exactly_once() {
    let sim = sim(450, None).await;
    let client = client(&sim, 1000);
    let reader = connect(&client, &sim, 0);
    let acct = sim.accounts[0].id.clone();
    let counts = sim.sim.counts(&acct).unwrap();

    let customers = reader
        .customers(ListFilter::all())
        .map_ok(|c| c.id.to_string());
    let customers = unique_ids("customers", all(customers).await);
    assert!(customers.len() > 100, "more than one page");
    assert_eq!(customers, ids_of(&sim.sim.customers(&acct)));

    let subs: Vec<(String, SubscriptionStatus)> = reader
        .subscriptions(ListFilter::all())
        .map_ok(|s| (s.id.to_string(), s.status))
        .try_collect()
        .await
        .unwrap();
    assert!(
        subs.iter()
            .any(|(_, status)| *status == SubscriptionStatus::Canceled),
        "status=all lists canceled subscriptions"
    );
    let subs = unique_ids(
        "subscriptions",
        subs.into_iter().map(|(id, _)| id).collect(),
    );
    assert_eq!(subs, ids_of(&sim.sim.subscriptions(&acct)));

    let invoices = reader
        .invoices(ListFilter::all())
        .map_ok(|i| i.id.to_string());
    let invoices = unique_ids("invoices", all(invoices).await);
    assert_eq!(invoices.len(), counts.invoices);

    let charges = reader
        .charges(ListFilter::all())
        .map_ok(|c| c.id.to_string());
    let charges = unique_ids("charges", all(charges).await);
    assert_eq!(charges.len(), counts.charges);

    let disputes = reader
        .disputes(ListFilter::all())
        .map_ok(|d| d.id.to_string());
    let disputes = unique_ids("disputes", all(disputes).await);
    assert_eq!(disputes.len(), counts.disputes);

    let window_start = sim.sim.now().unix() - EVENT_WINDOW;
    let recent: Vec<Value> = sim
        .sim
        .events(&acct)
        .into_iter()
        .filter(|e| e["created"].as_i64().unwrap() >= window_start)
        .collect();
    let events = reader
        .events(EventQuery::default())
        .map_ok(|e| e.id.to_string());
    let events = unique_ids("events", all(events).await);
    assert_eq!(events, ids_of(&recent));

    // Filters reach the server: only the asked types, only the asked window.
    let since = Timestamp::from_unix(sim.sim.now().unix() - 10 * 86_400);
    let query = EventQuery {
        created_gte: Some(since),
        types: vec![EventType::InvoicePaymentFailed],
        starting_after: None,
    };
    let failed = all(reader.events(query)).await;
    let expected = recent
        .iter()
        .filter(|e| {
            e["type"] == "invoice.payment_failed" && e["created"].as_i64().unwrap() >= since.unix()
        })
        .count();
    assert_eq!(failed.len(), expected);
    assert!(
        failed
            .iter()
            .all(|e| e.kind == EventType::InvoicePaymentFailed && e.created >= since)
    );
}

#[tokio::test]
async fn retrieves_return_the_listed_objects() {
    let sim = sim(30, None).await;
    let client = client(&sim, 1000);
    let reader = connect(&client, &sim, 0);
    let sub = reader
        .subscriptions(ListFilter::all())
        .next()
        .await
        .unwrap()
        .unwrap();
    let again = reader.subscription(&sub.id).await.unwrap();
    assert_eq!(again, sub);
    let customer_id = StripeCustomerId::parse(sub.customer.id().to_string()).unwrap();
    let customer = reader.customer(&customer_id).await.unwrap();
    assert_eq!(customer.id, customer_id);
    let theirs = all(reader.subscriptions(ListFilter::for_customer(customer_id.clone()))).await;
    assert!(theirs.iter().any(|s| s.id == sub.id));
    assert!(theirs.iter().all(|s| s.customer.id() == &customer_id));

    let missing = reader
        .invoice(&StripeObjectId::parse("in_doesnotexist").unwrap())
        .await;
    assert_eq!(missing.unwrap_err().code(), ErrorCode::ERR_NOT_FOUND);

    let account = reader.account().await.unwrap();
    assert!(account.ensure_not_restricted().is_ok());
}

#[tokio::test]
async fn a_throttled_read_is_retried_until_it_succeeds() {
    // The simulator allows 5 requests/s; the client paces at 1000/s and must
    // recover through 429 + Stripe-Should-Retry.
    let sim = sim(60, Some(5)).await;
    let client = client(&sim, 1000);
    let reader = connect(&client, &sim, 0);
    let customers = all(reader.customers(ListFilter::all())).await;
    let reads = customers.iter().take(12).map(|c| reader.customer(&c.id));
    for result in future::join_all(reads).await {
        result.unwrap();
    }
    assert!(
        sim.sim.rate_limited() > 0,
        "the simulator never throttled: the test proves nothing"
    );
    let stats = client.stats();
    assert_eq!(stats.throttled, sim.sim.rate_limited());
    assert!(stats.retries >= stats.throttled);
}

#[tokio::test]
async fn a_client_paced_at_the_simulators_limit_is_never_throttled() {
    let sim = sim(60, Some(20)).await;
    let client = client(&sim, 20);
    let reader = connect(&client, &sim, 0);
    let customers = all(reader.customers(ListFilter::all())).await;
    // Spend the simulator's initial burst allowance, then 50 paced reads.
    let reads = customers
        .iter()
        .cycle()
        .take(70)
        .map(|c| reader.customer(&c.id));
    for result in future::join_all(reads).await {
        result.unwrap();
    }
    assert_eq!(sim.sim.rate_limited(), 0);
    assert_eq!(client.stats().throttled, 0);
}

#[tokio::test]
async fn a_missing_permission_is_err_st_403_and_not_retried() {
    let sim = sim(20, None).await;
    let client = client(&sim, 1000);
    let reader = connect(&client, &sim, 0);
    assert!(
        sim.sim
            .set_flag(&sim.accounts[0].id, Flag::PermissionDenied, true)
    );
    let before = sim.sim.requests();
    let err = first_error(reader.subscriptions(ListFilter::all())).await;
    assert_eq!(err.code(), ErrorCode::ERR_ST_403, "{err}");
    assert!(!err.retryable());
    assert_eq!(sim.sim.requests() - before, 1, "a 403 is not retried");
}

#[tokio::test]
async fn revoked_or_expired_credentials_are_err_st_401() {
    let sim = sim(20, None).await;
    let client = client(&sim, 1000);

    let unknown = client.reader(StripeCredentials::Bearer {
        token: Secret::new("rk_test_unknown"),
        account: None,
    });
    assert_eq!(
        unknown.account().await.unwrap_err().code(),
        ErrorCode::ERR_ST_401
    );

    let reader = connect(&client, &sim, 1);
    reader.account().await.unwrap();
    assert!(sim.sim.set_flag(&sim.accounts[1].id, Flag::Revoked, true));
    let err = first_error(reader.customers(ListFilter::all())).await;
    assert_eq!(err.code(), ErrorCode::ERR_ST_401, "{err}");
    assert!(!err.retryable());
}

#[tokio::test]
async fn a_restricted_account_is_err_acct_restricted() {
    let sim = sim(20, None).await;
    let client = client(&sim, 1000);
    let reader = connect(&client, &sim, 0);
    assert!(
        sim.sim
            .set_flag(&sim.accounts[0].id, Flag::Restricted, true)
    );
    let err = first_error(reader.invoices(ListFilter::all())).await;
    assert_eq!(err.code(), ErrorCode::ERR_ACCT_RESTRICTED, "{err}");
    let account = reader.account().await.unwrap();
    assert!(account.disabled_reason.is_some());
    assert_eq!(
        account.ensure_not_restricted().unwrap_err().code(),
        ErrorCode::ERR_ACCT_RESTRICTED
    );
}

#[tokio::test]
async fn a_full_sync_sends_no_write() {
    let sim = sim(150, None).await;
    let client = client(&sim, 1000);
    let by_key = client.reader(StripeCredentials::Bearer {
        token: Secret::new(sim.accounts[1].restricted_key.clone()),
        account: None,
    });
    for reader in [connect(&client, &sim, 0), by_key] {
        reader.account().await.unwrap();
        let customers = all(reader.customers(ListFilter::all())).await;
        let _ = all(reader.subscriptions(ListFilter::all())).await;
        let invoices = all(reader.invoices(ListFilter::all())).await;
        let _ = all(reader.charges(ListFilter::all())).await;
        let _ = all(reader.disputes(ListFilter::all())).await;
        let events = all(reader.events(EventQuery::default())).await;
        reader.customer(&customers[0].id).await.unwrap();
        reader.invoice(&invoices[0].id).await.unwrap();
        if let Some(event) = events.first() {
            reader.event(&event.id).await.unwrap();
        }
    }
    assert!(sim.sim.requests() > 10);
    assert_eq!(sim.sim.requests(), client.stats().requests);
    assert_eq!(sim.sim.non_get_requests(), 0);
}

/// Opens an authorize URL without following the redirect (the simulator
/// approves at once) and returns the redirect's query parameters.
async fn approve(url: &reqwest::Url) -> HashMap<String, String> {
    let http = http_builder()
        .unwrap()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let response = http.get(url.clone()).send().await.unwrap();
    assert_eq!(response.status(), 302, "authorize must redirect");
    let location = response.headers()["location"].to_str().unwrap();
    reqwest::Url::parse(location)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect()
}

#[tokio::test]
async fn connect_oauth_exchanges_refreshes_and_deauthorizes() {
    let sim = sim(20, None).await;
    let client = client(&sim, 1000);
    let oauth = client.oauth(CLIENT_ID, Secret::new(PLATFORM_KEY));

    let url = oauth
        .connect_authorize_url("http://127.0.0.1:9/callback", "state-1")
        .unwrap();
    let answer = approve(&url).await;
    assert_eq!(answer["state"], "state-1");
    assert_eq!(answer["scope"], "read_only");

    let grant = oauth.connect_exchange(&answer["code"]).await.unwrap();
    assert_eq!(grant.account, account(&sim, 0));
    assert_eq!(grant.scope.as_deref(), Some("read_only"));
    assert!(!grant.livemode);
    // A code is single-use.
    let reused = oauth.connect_exchange(&answer["code"]).await.unwrap_err();
    assert_eq!(reused.code(), ErrorCode::ERR_ST_401, "{reused}");

    let refreshed = oauth
        .connect_refresh(grant.refresh_token.as_ref().unwrap())
        .await
        .unwrap();
    assert_eq!(refreshed.account, grant.account);

    let reader = client.reader(StripeCredentials::Connect {
        platform_key: Secret::new(PLATFORM_KEY),
        account: grant.account.clone(),
    });
    assert_eq!(reader.account().await.unwrap().id, grant.account);
    reader
        .customers(ListFilter::all())
        .next()
        .await
        .unwrap()
        .unwrap();

    oauth.connect_deauthorize(&grant.account).await.unwrap();
    let err = first_error(reader.customers(ListFilter::all())).await;
    assert_eq!(err.code(), ErrorCode::ERR_ST_401, "{err}");
}

#[tokio::test]
async fn app_oauth_refresh_rotates_the_refresh_token() {
    let sim = sim(20, None).await;
    let client = client(&sim, 1000);
    let oauth = client.oauth(CLIENT_ID, Secret::new(PLATFORM_KEY));

    let url = oauth
        .app_authorize_url("http://127.0.0.1:9/callback", "state-2")
        .unwrap();
    let answer = approve(&url).await;
    assert_eq!(answer["state"], "state-2");
    let grant = oauth.app_exchange(&answer["code"]).await.unwrap();
    assert_eq!(grant.expires_in, Some(Duration::from_secs(3600)));
    let first_refresh = grant.refresh_token.clone().unwrap();

    let bearer = |token: &Secret| {
        client.reader(StripeCredentials::Bearer {
            token: token.clone(),
            account: Some(grant.account.clone()),
        })
    };
    bearer(&grant.access_token)
        .customers(ListFilter::all())
        .next()
        .await
        .unwrap()
        .unwrap();

    // An hour later the access token is expired: ERR_ST_401 until refreshed.
    sim.sim.expire_access_tokens();
    let expired = bearer(&grant.access_token).account().await.unwrap_err();
    assert_eq!(expired.code(), ErrorCode::ERR_ST_401);

    let renewed = oauth.app_refresh(&first_refresh).await.unwrap();
    let second_refresh = renewed.refresh_token.clone().unwrap();
    assert!(second_refresh != first_refresh, "the refresh token rotates");
    bearer(&renewed.access_token)
        .customers(ListFilter::all())
        .next()
        .await
        .unwrap()
        .unwrap();

    // The old refresh token no longer works; the new one does.
    let stale = oauth.app_refresh(&first_refresh).await.unwrap_err();
    assert_eq!(stale.code(), ErrorCode::ERR_ST_401, "{stale}");
    oauth.app_refresh(&second_refresh).await.unwrap();
}

/// One scripted answer: status, extra headers, body.
type Answer = (u16, &'static [(&'static str, &'static str)], &'static str);

/// A stand-in Stripe on 127.0.0.1 that answers the n-th request with
/// `script[n]` (the last answer repeats) and counts requests.
async fn scripted(script: Vec<Answer>) -> (String, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let count = Arc::new(AtomicUsize::new(0));
    let seen = count.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            let n = seen.fetch_add(1, Ordering::SeqCst);
            let (status, headers, body) = script[n.min(script.len() - 1)];
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                    match socket.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(k) => buf.extend_from_slice(&chunk[..k]),
                    }
                }
                let mut response = format!(
                    "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n",
                    body.len()
                );
                for (k, v) in headers {
                    response.push_str(&format!("{k}: {v}\r\n"));
                }
                response.push_str("\r\n");
                response.push_str(body);
                let _ = socket.write_all(response.as_bytes()).await;
            });
        }
    });
    (base, count)
}

fn scripted_reader(base: &str, max_attempts: u32) -> AccountReader {
    let mut config = StripeConfig::at(base).unwrap();
    config.retry = RetryPolicy {
        max_attempts,
        base_delay: Duration::from_millis(50),
        max_delay: Duration::from_secs(3),
    };
    StripeClient::new(config)
        .unwrap()
        .reader(StripeCredentials::Bearer {
            token: Secret::new("rk_test_scripted"),
            account: None,
        })
}

const CUSTOMER: &str = r#"{"id": "cus_scripted", "object": "customer", "email": "a@example.com"}"#;
const OUTAGE: &str = r#"{"error": {"type": "api_error", "message": "Something went wrong."}}"#;

#[tokio::test]
async fn outages_are_retried_honouring_retry_after() {
    let (base, count) = scripted(vec![
        (503, &[], OUTAGE),
        (429, &[("Retry-After", "1")], OUTAGE),
        (200, &[], CUSTOMER),
    ])
    .await;
    let reader = scripted_reader(&base, 5);
    let start = std::time::Instant::now();
    let id = StripeCustomerId::parse("cus_scripted").unwrap();
    assert_eq!(reader.customer(&id).await.unwrap().id, id);
    assert_eq!(count.load(Ordering::SeqCst), 3);
    // Backoff alone would wait well under a second; Retry-After asked for one.
    assert!(
        start.elapsed() >= Duration::from_secs(1),
        "{:?}",
        start.elapsed()
    );
}

#[tokio::test]
async fn stripe_should_retry_false_stops_the_retries() {
    let (base, count) = scripted(vec![(503, &[("Stripe-Should-Retry", "false")], OUTAGE)]).await;
    let reader = scripted_reader(&base, 5);
    let err = reader
        .customer(&StripeCustomerId::parse("cus_x").unwrap())
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::ERR_STRIPE_UNAVAILABLE);
    assert_eq!(count.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_lasting_outage_gives_up_after_the_attempt_bound() {
    let (base, count) = scripted(vec![(500, &[], OUTAGE)]).await;
    let reader = scripted_reader(&base, 3);
    let err = reader
        .customer(&StripeCustomerId::parse("cus_x").unwrap())
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::ERR_STRIPE_UNAVAILABLE);
    assert!(err.retryable());
    assert_eq!(count.load(Ordering::SeqCst), 3);

    let (base, count) = scripted(vec![(429, &[], OUTAGE)]).await;
    let err = scripted_reader(&base, 3).account().await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::ERR_ST_429);
    assert_eq!(count.load(Ordering::SeqCst), 3);
}
