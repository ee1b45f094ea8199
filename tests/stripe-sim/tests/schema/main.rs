//! The simulator against Stripe's own OpenAPI schemas: every list endpoint paged to the end,
//! every object, every event's `data.object`, list envelopes, expansions and error bodies
//! validate with 0 violations, for the basil default and for a legacy API version.

#[path = "../common/mod.rs"]
mod common;
mod spec;

use common::{get, start};
use serde_json::Value;
use spec::Schemas;
use std::collections::BTreeMap;
use std::time::Instant;
use stripe_sim::{ApiVersion, PLATFORM_KEY, RunningSim, SimConfig};

/// Validation results: objects checked and violations grouped by message.
struct Report {
    schemas: Schemas,
    objects: usize,
    violations: BTreeMap<String, (usize, String)>,
}

impl Report {
    fn record(&mut self, found: Vec<String>, sample: &Value) {
        self.objects += 1;
        for v in found {
            // Group by the message without array indices, so one bug counts once per kind.
            let key: String = v
                .split('/')
                .map(|s| if s.parse::<usize>().is_ok() { "*" } else { s })
                .collect::<Vec<_>>()
                .join("/");
            let key: String = key.chars().take(300).collect();
            let e = self.violations.entry(key).or_insert((0, String::new()));
            if e.0 == 0 {
                e.1 = sample.get("id").map_or_else(String::new, Value::to_string);
            }
            e.0 += 1;
        }
    }

    fn object(&mut self, value: &Value) {
        let Some(kind) = value["object"].as_str() else {
            self.record(vec![format!("no `object` in {value}")], value);
            return;
        };
        let found = self.schemas.check(kind, value);
        self.record(found, value);
        if kind == "event" {
            let inner = &value["data"]["object"];
            self.object(inner);
        }
    }

    fn error_body(&mut self, what: &str, status: u16, want: u16, body: &Value) {
        assert_eq!(status, want, "{what}: {body}");
        let found = self.schemas.check("error", body);
        self.record(found, body);
    }

    fn total(&self) -> usize {
        self.violations.values().map(|v| v.0).sum()
    }
}

/// Pages `path` to the end (or `max_pages`), checking each envelope and each object; returns
/// the objects.
async fn page_all(
    sim: &RunningSim,
    account: &str,
    path: &str,
    item: &str,
    max_pages: usize,
    r: &mut Report,
) -> Vec<Value> {
    let base = path.split('?').next().unwrap_or(path);
    let sep = if path.contains('?') { '&' } else { '?' };
    let mut out = Vec::new();
    let mut url = format!("{path}{sep}limit=100");
    for _ in 0..max_pages {
        let resp = get(sim, &url, PLATFORM_KEY, Some(account)).await;
        assert_eq!(resp.status, 200, "{url}: {}", resp.body);
        // The envelope's schema checks every object on the page against its own schema.
        let found = r.schemas.check_list(base, item, &resp.body);
        let data = resp.body["data"].as_array().cloned().unwrap_or_default();
        r.objects += data.len();
        r.record(found, &resp.body);
        for o in &data {
            if o["object"] != *item {
                r.record(
                    vec![format!(
                        "{base}: an object of type {} in a list of {item}",
                        o["object"]
                    )],
                    o,
                );
            }
            // An event's `data.object` is typed `object` in its schema: check it by its type.
            if o["object"] == "event" {
                r.object(&o["data"]["object"]);
            }
        }
        let more = resp.body["has_more"] == Value::Bool(true);
        let last = data
            .last()
            .and_then(|o| o["id"].as_str())
            .map(str::to_owned);
        out.extend(data);
        match (more, last) {
            (true, Some(last)) => url = format!("{path}{sep}limit=100&starting_after={last}"),
            _ => break,
        }
    }
    out
}

async fn check(version: ApiVersion, date: &str) {
    let started = Instant::now();
    let sim = start(SimConfig {
        customers: 300,
        years: 2,
        accounts: 1,
        api_version: version,
        ..SimConfig::default()
    })
    .await;
    // Simulated days add live events (renewals, failures, disputes) to the 30-day window.
    sim.sim.advance_days(5).await;
    let account = sim.accounts[0].id.clone();
    let mut r = Report {
        schemas: Schemas::for_version(date),
        objects: 0,
        violations: BTreeMap::new(),
    };
    let basil = version == ApiVersion::Basil;
    let mut lists = vec![
        ("/v1/customers", "customer"),
        ("/v1/subscriptions?status=all", "subscription"),
        ("/v1/invoices", "invoice"),
        ("/v1/charges", "charge"),
        ("/v1/disputes", "dispute"),
        ("/v1/prices", "price"),
        ("/v1/coupons", "coupon"),
        ("/v1/events", "event"),
    ];
    if basil {
        lists.push(("/v1/invoice_payments", "invoice_payment"));
    }
    let mut first: BTreeMap<&str, String> = BTreeMap::new();
    for (path, item) in &lists {
        let all = page_all(&sim, &account, path, item, usize::MAX, &mut r).await;
        assert!(!all.is_empty(), "{path} lists something");
        if let Some(id) = all.iter().find_map(|o| o["id"].as_str()) {
            first.insert(item, id.to_owned());
        }
    }

    // Expansions Kustiq and Stripe's docs use, on lists and on retrieves.
    let invoice_money = if basil {
        "data.payments"
    } else {
        "data.charge"
    };
    let expanded = [
        ("/v1/subscriptions?status=all&expand[]=data.customer&expand[]=data.latest_invoice&expand[]=data.discounts".to_owned(), "subscription"),
        (format!("/v1/invoices?expand[]={invoice_money}&expand[]=data.discounts&expand[]=data.customer"), "invoice"),
        ("/v1/charges?expand[]=data.customer".to_owned(), "charge"),
        ("/v1/disputes?expand[]=data.charge".to_owned(), "dispute"),
        ("/v1/prices?expand[]=data.tiers&expand[]=data.product".to_owned(), "price"),
    ];
    for (path, item) in &expanded {
        // One page each: the expanded objects are the same objects checked above.
        page_all(&sim, &account, path, item, 1, &mut r).await;
    }
    for (item, id) in &first {
        let path = match *item {
            "subscription" => format!("/v1/subscriptions/{id}?expand[]=items.data.price.tiers"),
            "invoice_payment" => format!("/v1/invoice_payments/{id}"),
            other => format!("/v1/{other}s/{id}"),
        };
        let resp = get(&sim, &path, PLATFORM_KEY, Some(&account)).await;
        assert_eq!(resp.status, 200, "{path}: {}", resp.body);
        r.object(&resp.body);
    }

    let resp = get(&sim, "/v1/account", PLATFORM_KEY, Some(&account)).await;
    r.object(&resp.body);
    // Error bodies.
    let resp = get(&sim, "/v1/customers", "sk_test_wrongkey1234", None).await;
    r.error_body("unknown key", resp.status, 401, &resp.body);
    let resp = get(&sim, "/v1/invoices/in_nope", PLATFORM_KEY, Some(&account)).await;
    r.error_body("unknown id", resp.status, 404, &resp.body);
    let resp = get(
        &sim,
        "/v1/customers?expand[]=data.colour",
        PLATFORM_KEY,
        Some(&account),
    )
    .await;
    r.error_body("bad expand", resp.status, 400, &resp.body);
    let resp = get(
        &sim,
        "/v1/subscriptions?expand[]=data.items.data.price.tiers",
        PLATFORM_KEY,
        Some(&account),
    )
    .await;
    r.error_body("five levels", resp.status, 400, &resp.body);
    let resp = get(
        &sim,
        "/v1/customers?limit=1000",
        PLATFORM_KEY,
        Some(&account),
    )
    .await;
    r.error_body("bad limit", resp.status, 400, &resp.body);
    let limited = start(SimConfig {
        customers: 5,
        accounts: 1,
        rate_limit: Some(1),
        api_version: version,
        ..SimConfig::default()
    })
    .await;
    let acct = limited.accounts[0].id.clone();
    let mut saw_429 = false;
    for _ in 0..5 {
        let resp = get(&limited, "/v1/customers?limit=1", PLATFORM_KEY, Some(&acct)).await;
        if resp.status == 429 {
            r.error_body("rate limit", resp.status, 429, &resp.body);
            saw_429 = true;
            break;
        }
    }
    assert!(saw_429, "5 requests at 1 r/s meet a 429");

    for d in spec::DELTAS.iter().filter(|d| d.since <= date) {
        eprintln!("{date}: delta since {} on {}: {}", d.since, d.schema, d.why);
    }
    eprintln!(
        "{date}: {} objects validated, {} violations, {:?}",
        r.objects,
        r.total(),
        started.elapsed()
    );
    for (msg, (n, sample)) in &r.violations {
        eprintln!("  {n:>6} × {msg} (e.g. {sample})");
    }
    assert!(r.objects >= 5_000, "{} objects checked", r.objects);
    assert_eq!(r.total(), 0, "schema violations (listed above)");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn basil_payloads_validate_against_stripes_schemas() {
    check(ApiVersion::Basil, "2025-03-31").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn legacy_payloads_validate_against_stripes_schemas() {
    check(ApiVersion::Legacy, "2024-06-20").await;
}
