//! The dashboard page at `/`, in Debian's headless Chromium driven by Playwright
//! (tests/browser/dashboard.py; `scripts/browser install` puts both in place).
//!
//! The replay test's server is the local runner's HTTP front
//! (`kustiq_local::server::serve`: its bearer tokens, its page) over every route
//! group on an embedded store, as `kustiq-local serve` mounts them, but with a
//! clock the test moves: that is how an event really reaches the failed list (its
//! retries run out over 24 hours) in a test that lasts seconds. The other tests run
//! the runner itself (`LocalServer`: `runner::start` on a temporary data dir).

use kustiq::domain::connection::Mode;
use kustiq::domain::secret::Secret;
use kustiq_local::server::{Limits, Local, serve};
use kustiq_local::token::TokenKey;
use kustiq_tests::Engine;
use kustiq_tests::local::{LocalServer, claims, now};
use kustiq_tests::webhook::{Bench, NowTs, SECRETS, is_engine_event};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::Command;
use stripe_sim::{ApiVersion, Flag, RunningSim, SimConfig, Simulator};

const WORKSPACE: &str = "ws_page";
/// The profile matched to the customer whose dispute fails, then is replayed.
const DISPUTED: &str = "p_disputed";

/// The repository root (this crate is tests/integration).
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The venv's Python with Playwright, or a panic saying how to install it.
fn playwright_python() -> PathBuf {
    let python = std::env::var_os("KUSTIQ_BROWSER_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join(".cache/venv/bin/python"));
    let ready = Path::new("/usr/bin/chromium").exists()
        && Command::new(&python)
            .args(["-c", "import playwright"])
            .status()
            .is_ok_and(|s| s.success());
    assert!(
        ready,
        "the browser test needs /usr/bin/chromium and Playwright in {}: run scripts/browser install \
         (scripts/test does)",
        python.display()
    );
    python
}

/// Runs tests/browser/dashboard.py with `args` (the scenario first; the screenshot
/// directory, target/browser, is appended) and asserts every step held and `shot` was saved.
async fn browse(args: &[&str], shot: &str) {
    let python = playwright_python();
    let out = root().join("target/browser");
    // An earlier run's screenshot must not pass for this run's.
    let _ = std::fs::remove_file(out.join(shot));
    let run = tokio::process::Command::new(&python)
        .arg(root().join("tests/browser/dashboard.py"))
        .args(args)
        .arg(&out)
        .output()
        .await
        .unwrap_or_else(|e| panic!("{}: {e}", python.display()));
    assert!(
        run.status.success(),
        "the browser steps failed ({}); screenshots in {}\nstdout:\n{}\nstderr:\n{}",
        run.status,
        out.display(),
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(out.join(shot).is_file(), "no screenshot {shot} saved");
}

/// A served simulated account with 60 days of history, and its id.
async fn simulated() -> (RunningSim, String) {
    let sim = Simulator::new(SimConfig {
        seed: 11,
        customers: 15,
        years: 1,
        accounts: 1,
        api_version: ApiVersion::Legacy,
        ..SimConfig::default()
    });
    sim.advance_days(60).await;
    let account = sim
        .accounts()
        .first()
        .map(|a| a.id.clone())
        .unwrap_or_default();
    let running = sim.bind(0).await.unwrap_or_else(|e| panic!("bind: {e}"));
    (running, account)
}

/// A customer who paid an invoice in the simulated window, whose next payment failed,
/// and who disputed the paid charge (`invoice.payment_failed`, then
/// `charge.dispute.created`): the dispute event and the customer.
async fn failing_then_disputing(sim: &RunningSim, account: &str) -> (Value, String) {
    let history = sim.sim.events(account);
    // Legacy invoices name their charge: the history tells who owns the disputed charge.
    let paid = |customer: &str| {
        history.iter().any(|e| {
            e["type"] == "invoice.payment_succeeded"
                && e["data"]["object"]["customer"] == customer
                && e["data"]["object"]["charge"].is_string()
        })
    };
    for c in sim.sim.customers(account) {
        let customer = c["id"].as_str().unwrap_or_default().to_owned();
        // A customer that cannot fail or dispute is passed over; what was emitted for it
        // stays ordinary history.
        if !paid(&customer)
            || sim
                .sim
                .emit(account, "invoice.payment_failed", &customer)
                .await
                .is_err()
        {
            continue;
        }
        let Ok(ids) = sim
            .sim
            .emit(account, "charge.dispute.created", &customer)
            .await
        else {
            continue;
        };
        let dispute =
            sim.sim.events(account).into_iter().find(|e| {
                e["type"] == "charge.dispute.created" && ids.iter().any(|i| e["id"] == *i)
            });
        let named_in_history = |d: &Value| {
            let charge = &d["data"]["object"]["charge"];
            history
                .iter()
                .any(|e| e["data"]["object"]["charge"] == *charge)
        };
        if let Some(dispute) = dispute.filter(named_in_history) {
            return (dispute, customer);
        }
    }
    panic!("no customer paid in the window, then failed a payment and disputed the charge")
}

/// The page's server over `bench`'s routes on a free loopback port; its URL with a
/// token for [`WORKSPACE`] in the fragment, and the token.
async fn page_server(bench: &Bench, dir: &Path) -> (String, String) {
    let tokens = TokenKey::load_or_create(dir).unwrap_or_else(|e| panic!("token key: {e}"));
    let token = tokens.issue(&claims(WORKSPACE, now(), now() + 3600));
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .unwrap_or_else(|e| panic!("bind: {e}"));
    let addr = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
    let local = Local {
        router: bench.router.clone(),
        tokens,
    };
    tokio::spawn(async move {
        let _ = serve(listener, local).await;
    });
    (format!("http://{addr}"), token)
}

/// `method path` on the page's server with the bearer token; status and JSON body.
async fn call(
    base: &str,
    token: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = kustiq_tests::http()
        .request(method, format!("{base}{path}"))
        .bearer_auth(token);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.unwrap_or_else(|e| panic!("{path}: {e}"));
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

/// Posts `event` to the page's server as Stripe would: signed now with the bench's newest secret.
async fn webhook(base: &str, bench: &Bench, event: &Value) -> (u16, Value) {
    let body = event.to_string();
    let signature = kustiq::stripe::signature::sign(
        body.as_bytes(),
        &Secret::new(SECRETS[1]),
        bench.clock.now_ts(),
    );
    let resp = kustiq_tests::http()
        .post(format!("{base}/webhooks/stripe"))
        .header("stripe-signature", signature)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap_or_else(|e| panic!("webhook: {e}"));
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

fn crm(impact: f64) -> Value {
    json!({"crm": [{"signal": "champion_left", "impact": impact, "explanation": "the champion left the account"}]})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_explains_a_profile_and_replays_a_failed_event() {
    playwright_python();
    let (sim, account) = simulated().await;
    let (disputed, customer) = failing_then_disputing(&sim, &account).await;
    let dispute_id = disputed["id"].as_str().unwrap_or_default().to_owned();
    let dispute_object = disputed["data"]["object"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let history: Vec<Value> = sim
        .sim
        .events(&account)
        .into_iter()
        .filter(|e| is_engine_event(e) && e["id"] != disputed["id"])
        .collect();
    let newest = sim
        .sim
        .events(&account)
        .iter()
        .filter_map(|e| e["created"].as_i64())
        .max()
        .unwrap_or(0);
    let bench = Bench::new(
        Engine::Dynoxide,
        kustiq::domain::time::Timestamp::from_unix(newest + 3_600),
    )
    .await
    .with_stripe(&sim.base_url);
    bench.connect(WORKSPACE, &account, Mode::Test).await;
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let (base, token) = page_server(&bench, dir.path()).await;

    // Profiles through the API: the disputed customer's, at risk, and two others.
    for (id, customer, impact, risk) in [
        (DISPUTED, Some(customer.as_str()), 20.0, 30.0),
        ("p_watch", None, 18.0, 25.0),
        ("p_calm", None, -5.0, 0.0),
    ] {
        let body = json!({"email": format!("{id}@acme.io"), "stripe_customer_id": customer, "families": crm(impact), "classifier_churn_risk": risk});
        let (status, answer) = call(
            &base,
            &token,
            reqwest::Method::PUT,
            &format!("/api/v1/profiles/{id}"),
            Some(body),
        )
        .await;
        assert_eq!(status, 200, "{answer}");
    }

    // The dispute arrives while Stripe refuses to say whose charge it is: deferred,
    // retried, and after 24 hours of failed attempts, failed.
    assert!(sim.sim.set_flag(&account, Flag::Revoked, true));
    let (_, answer) = webhook(&base, &bench, &disputed).await;
    assert_eq!(answer["outcome"], "deferred", "{answer}");
    assert!(sim.sim.set_flag(&account, Flag::Revoked, false));
    bench.clock.advance(25 * 3600);
    bench.retry_due(10).await;

    // The account's history arrives (signed webhooks): billing factors, and the
    // disputed charge's owner is now known.
    for event in &history {
        let (status, answer) = webhook(&base, &bench, event).await;
        assert_eq!(status, 200, "{} {answer}", event["type"]);
    }
    let (_, status) = call(
        &base,
        &token,
        reqwest::Method::GET,
        "/api/v1/integrations/stripe",
        None,
    )
    .await;
    let failed: Vec<&str> = status["failed_events"]
        .as_array()
        .map(|a| a.iter().filter_map(|f| f["event_id"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(failed, [dispute_id.as_str()], "{status}");

    // The browser: load, open the profile, factors and chart, replay, screenshots.
    let url = format!("{base}/#token={token}");
    browse(
        &["replay", &url, DISPUTED, &dispute_id, &dispute_object],
        "dashboard.png",
    )
    .await;

    // What the click did, seen through the API.
    let (_, status) = call(
        &base,
        &token,
        reqwest::Method::GET,
        "/api/v1/integrations/stripe",
        None,
    )
    .await;
    assert_eq!(status["failed_events"], json!([]), "{status}");
    let (_, churn) = call(
        &base,
        &token,
        reqwest::Method::GET,
        &format!("/api/v1/profiles/{DISPUTED}/churn"),
        None,
    )
    .await;
    let factors = churn["families"]["billing"]["factors"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(
        factors.iter().any(|f| f["signal"] == "stripe_dispute"),
        "the replayed dispute counts: {churn}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_runner_serves_the_page_under_a_strict_csp_and_api_text_stays_text() {
    playwright_python();
    let r = LocalServer::start("ws_page_prompt", Limits::default()).await;
    let http = kustiq_tests::http();
    for (path, kind) in [
        ("/", "text/html"),
        ("/app.js", "text/javascript"),
        ("/app.css", "text/css"),
    ] {
        // The files are public: no token.
        let resp = http
            .get(format!("{}{path}", r.base))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{path}: {e}"));
        let header = |name: &str| {
            resp.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned()
        };
        assert_eq!(resp.status().as_u16(), 200, "{path}");
        assert!(header("content-type").starts_with(kind), "{path}");
        assert_eq!(
            header("content-security-policy"),
            kustiq_local::page::CSP,
            "{path}"
        );
        assert_eq!(header("x-content-type-options"), "nosniff", "{path}");
    }
    let data = http
        .get(format!("{}/api/v1/churn/at-risk", r.base))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(data.status().as_u16(), 401, "the data still needs a token");

    let markup = r#"<img src=x onerror="window.kustiqInjected=1"><b>bold</b>"#;
    let body = json!({"email": "p_markup@acme.io", "families": {"crm": [{"signal": "champion_left", "impact": 10.0, "explanation": markup}]}});
    let put = r.put("/api/v1/profiles/p_markup", &body.to_string()).await;
    assert_eq!(put.status, 200, "{:?}", put.body);

    browse(
        &["prompt", &format!("{}/", r.base), &r.token, "p_markup"],
        "prompt.png",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn match_review_accepts_the_proposed_profile_or_overrides_it_with_one_patch_each() {
    playwright_python();
    let r = LocalServer::start("ws_page_matches", Limits::default()).await;
    // The match routes answer from the browser side (the script's), to the contract's shapes.
    browse(
        &["matches", &format!("{}/#token={}", r.base, r.token)],
        "matches.png",
    )
    .await;
}
