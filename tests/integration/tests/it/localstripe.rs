//! The Stripe client against localstripe, an independent Stripe fake (PyPI)
//! started by `scripts/stack` on 127.0.0.1. localstripe lists customers and
//! subscriptions oldest-first (Stripe lists newest-first): the client's
//! pagination must still yield every object exactly once.
//!
//! Fixtures are created here with raw form POSTs: the client under test has
//! no way to write.

use futures::TryStreamExt;
use kustiq::adapters::stripe::{StripeClient, StripeConfig, StripeCredentials, http_builder};
use kustiq::domain::secret::Secret;
use kustiq::domain::time::Timestamp;
use kustiq::ports::stripe::{ListFilter, StripeReader};
use kustiq::stripe::models::{Event, EventObject, SubscriptionStatus};
use kustiq::stripe::signature;
use serde_json::Value;
use std::collections::{HashMap, HashSet};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

/// localstripe accepts any `sk_…` key.
const KEY: &str = "sk_test_kustiq_localstripe";

fn localstripe_url() -> String {
    std::env::var("KUSTIQ_TEST_LOCALSTRIPE_URL").expect(
        "KUSTIQ_TEST_LOCALSTRIPE_URL is not set: start the test stack with `scripts/stack up` \
         and `source .cache/stack.env` (scripts/test does both)",
    )
}

/// A tag unique to this test run, so fixtures of parallel runs never mix.
fn run_tag() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{}{}", std::process::id(), nanos % 1_000_000_000)
}

/// Writes fixtures into localstripe.
struct Fixtures {
    http: reqwest::Client,
    base: String,
}

impl Fixtures {
    fn new() -> Self {
        let http = http_builder()
            .unwrap()
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap();
        Self {
            http,
            base: localstripe_url(),
        }
    }

    async fn post(&self, path: &str, form: &[(&str, &str)]) -> Value {
        self.send(self.http.post(format!("{}{path}", self.base)).form(form))
            .await
    }

    async fn delete(&self, path: &str) -> Value {
        self.send(self.http.delete(format!("{}{path}", self.base)))
            .await
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> Value {
        let response = request.bearer_auth(KEY).send().await.unwrap();
        let status = response.status();
        let raw = response.bytes().await.unwrap();
        // `/_config/*` answers with an empty body.
        let body: Value = if raw.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&raw).unwrap()
        };
        assert!(status.is_success(), "localstripe answered {status}: {body}");
        body
    }

    async fn create(&self, path: &str, form: &[(&str, &str)]) -> String {
        self.post(path, form).await["id"]
            .as_str()
            .unwrap()
            .to_owned()
    }
}

fn reader() -> (StripeClient, kustiq::adapters::stripe::AccountReader) {
    let client = StripeClient::new(StripeConfig::at(&localstripe_url()).unwrap()).unwrap();
    let reader = client.reader(StripeCredentials::Bearer {
        token: Secret::new(KEY),
        account: None,
    });
    (client, reader)
}

/// Asserts that `listed` holds no id twice and every id of `created` once.
fn assert_exactly_once(what: &str, listed: &[String], created: &[String]) {
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for id in listed {
        *counts.entry(id.as_str()).or_default() += 1;
    }
    let repeated: Vec<_> = counts.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        repeated.is_empty(),
        "{what}: listed more than once: {repeated:?}"
    );
    let missing: Vec<_> = created
        .iter()
        .filter(|id| !counts.contains_key(id.as_str()))
        .collect();
    assert!(missing.is_empty(), "{what}: never listed: {missing:?}");
}

#[tokio::test]
async fn customers_subscriptions_and_invoices_are_each_listed_exactly_once() {
    let fx = Fixtures::new();
    let tag = run_tag();

    // More than one page (100) of each kind, whatever else the store holds.
    let product = fx
        .create("/v1/products", &[("name", "Kustiq pagination")])
        .await;
    let plan_id = format!("plan_kustiq_{tag}");
    fx.create(
        "/v1/plans",
        &[
            ("id", &plan_id),
            ("amount", "1900"),
            ("currency", "eur"),
            ("interval", "month"),
            ("product", &product),
        ],
    )
    .await;
    let mut customers = Vec::new();
    for i in 0..110 {
        let email = format!("c{i}-{tag}@example.com");
        customers.push(fx.create("/v1/customers", &[("email", &email)]).await);
    }
    let mut subscriptions = Vec::new();
    for customer in customers.iter().take(105) {
        let sub = fx
            .create(
                "/v1/subscriptions",
                // A trial needs no payment method in localstripe.
                &[
                    ("customer", customer),
                    ("items[0][plan]", &plan_id),
                    ("trial_period_days", "14"),
                ],
            )
            .await;
        subscriptions.push(sub);
    }
    // Invoices before cancelling: localstripe only invoices customers with a live subscription.
    let mut invoices = Vec::new();
    for customer in customers.iter().take(102) {
        fx.post(
            "/v1/invoiceitems",
            &[
                ("customer", customer),
                ("amount", "700"),
                ("currency", "eur"),
            ],
        )
        .await;
        invoices.push(fx.create("/v1/invoices", &[("customer", customer)]).await);
    }

    let canceled: Vec<String> = subscriptions.iter().step_by(5).cloned().collect();
    for sub in &canceled {
        let answer = fx.delete(&format!("/v1/subscriptions/{sub}")).await;
        assert_eq!(answer["status"], "canceled");
    }

    let (client, reader) = reader();
    let listed_customers: Vec<String> = reader
        .customers(ListFilter::all())
        .map_ok(|c| c.id.to_string())
        .try_collect()
        .await
        .unwrap();
    assert_exactly_once("customers", &listed_customers, &customers);
    // The premise of this suite: localstripe lists oldest-first, Stripe's reverse.
    let ours: Vec<&String> = listed_customers
        .iter()
        .filter(|id| customers.contains(id))
        .collect();
    assert_eq!(
        ours,
        customers.iter().collect::<Vec<_>>(),
        "localstripe order changed"
    );

    let listed_subs: Vec<(String, SubscriptionStatus)> = reader
        .subscriptions(ListFilter::all())
        .map_ok(|s| (s.id.to_string(), s.status))
        .try_collect()
        .await
        .unwrap();
    let sub_ids: Vec<String> = listed_subs.iter().map(|(id, _)| id.clone()).collect();
    assert_exactly_once("subscriptions", &sub_ids, &subscriptions);
    let canceled_listed: HashSet<&str> = listed_subs
        .iter()
        .filter(|(_, status)| *status == SubscriptionStatus::Canceled)
        .map(|(id, _)| id.as_str())
        .collect();
    for sub in &canceled {
        assert!(
            canceled_listed.contains(sub.as_str()),
            "canceled {sub} not listed as canceled"
        );
    }

    let listed_invoices: Vec<String> = reader
        .invoices(ListFilter::all())
        .map_ok(|i| i.id.to_string())
        .try_collect()
        .await
        .unwrap();
    assert_exactly_once("invoices", &listed_invoices, &invoices);

    // One customer's invoices only, through the same pagination.
    let one = kustiq::domain::ids::StripeCustomerId::parse(customers[0].clone()).unwrap();
    let theirs: Vec<String> = reader
        .invoices(ListFilter::for_customer(one))
        .map_ok(|i| i.id.to_string())
        .try_collect()
        .await
        .unwrap();
    assert_eq!(theirs, vec![invoices[0].clone()]);

    assert_eq!(client.stats().throttled, 0);
}

/// Accepts HTTP/1.1 POSTs on 127.0.0.1 and forwards (Stripe-Signature, body).
async fn webhook_receiver() -> (String, mpsc::UnboundedReceiver<(String, Vec<u8>)>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/webhooks/stripe", listener.local_addr().unwrap());
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            let tx = tx.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 8192];
                let (head_end, length, signature) = loop {
                    let Ok(n) = socket.read(&mut chunk).await else {
                        return;
                    };
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    if let Some(pos) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        let head = String::from_utf8_lossy(&buf[..pos]).to_string();
                        let header = |name: &str| {
                            head.lines().find_map(|line| {
                                let (k, v) = line.split_once(':')?;
                                k.trim()
                                    .eq_ignore_ascii_case(name)
                                    .then(|| v.trim().to_owned())
                            })
                        };
                        let length = header("content-length").and_then(|v| v.parse().ok());
                        break (pos + 4, length.unwrap_or(0), header("stripe-signature"));
                    }
                };
                while buf.len() < head_end + length {
                    match socket.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
                let body = buf[head_end..head_end + length].to_vec();
                let _ = socket
                    .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                    .await;
                let _ = tx.send((signature.unwrap_or_default(), body));
            });
        }
    });
    (url, rx)
}

#[tokio::test]
async fn webhooks_signed_by_localstripe_verify_with_our_signature_check() {
    let fx = Fixtures::new();
    let tag = run_tag();
    let (url, mut deliveries) = webhook_receiver().await;
    let secret = Secret::new(format!("whsec_kustiq_{tag}"));
    fx.post(
        &format!("/_config/webhooks/kustiq_{tag}"),
        &[
            ("url", &url),
            ("secret", secret.expose()),
            ("events[0]", "customer.created"),
        ],
    )
    .await;

    let email = format!("webhook-{tag}@example.com");
    let customer = fx.create("/v1/customers", &[("email", &email)]).await;

    // localstripe waits a second before sending; other runs' customers may arrive too.
    let (header, body) = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            let (header, body) = deliveries.recv().await.expect("receiver stopped");
            if String::from_utf8_lossy(&body).contains(&customer) {
                return (header, body);
            }
        }
    })
    .await
    .expect("no customer.created webhook from localstripe within 20 s");

    let now = Timestamp::from_unix(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64,
    );
    signature::verify(&header, &body, std::slice::from_ref(&secret), now, 300).unwrap_or_else(
        |e| panic!("localstripe's signature did not verify: {e:?} (header {header})"),
    );
    let wrong = Secret::new(format!("whsec_other_{tag}"));
    assert!(signature::verify(&header, &body, std::slice::from_ref(&wrong), now, 300).is_err());
    // During rotation the old and the new secret are both accepted.
    assert_eq!(
        signature::verify_matching(&header, &body, &[wrong, secret.clone()], now, 300).unwrap(),
        1
    );
    // One byte changed in the body breaks the signature.
    let mut tampered = body.clone();
    let last = tampered.len() - 2;
    tampered[last] ^= 0x01;
    assert!(signature::verify(&header, &tampered, &[secret], now, 300).is_err());

    let event = Event::parse(&body).unwrap();
    assert_eq!(event.kind.as_str(), "customer.created");
    let EventObject::Customer(c) = &event.data.object else {
        panic!("expected a customer object, got {:?}", event.data.object);
    };
    assert_eq!(c.id.as_str(), customer);
    assert_eq!(c.email.as_deref(), Some(email.as_str()));
}
