//! Every function binary under cargo-lambda's runtime emulator, invoked with
//! `cargo lambda invoke` and the payloads AWS sends (API Gateway v2 requests with
//! JWT-authorizer claims, EventBridge envelopes, the schedules' inputs), against
//! DynamoDB Local and moto: the code path Lambda runs, start-up and configuration included.

use kustiq::app::ingest::recorded_event;
use kustiq::domain::connection::Mode;
use kustiq::domain::ids::WorkspaceId;
use kustiq::domain::secret::Secret;
use kustiq::domain::time::Timestamp;
use kustiq::ports::events::{EventLog, EventRecord, EventStatus};
use kustiq::stripe::models::Event;
use kustiq_tests::emulator::{Emulator, Invoked, http_request};
use kustiq_tests::eventbridge::{SOURCE, envelope};
use kustiq_tests::simulated::Simulated;
use kustiq_tests::template::Template;
use kustiq_tests::webhook::Bench;
use serde_json::{Value, json};

const WEBHOOK_SECRET: &str = "whsec_emulator_current";

/// A connected, matched workspace on DynamoDB Local, its secrets in moto, and the
/// environment the template gives every function, pointed at both.
struct Deployed {
    bench: Bench,
    ws: WorkspaceId,
    env: Vec<(&'static str, String)>,
    given: Simulated,
}

async fn deployed(workspace: &str, seed: u64) -> Deployed {
    let given = Simulated::new(6, seed).await;
    let (bench, ws) = Bench::matched(&given, workspace, Mode::Test).await;
    let env = environment(&bench).await;
    Deployed {
        bench,
        ws,
        env,
        given,
    }
}

/// The template's function environment for `bench`'s table, with fresh secrets in moto.
async fn environment(bench: &Bench) -> Vec<(&'static str, String)> {
    kustiq_tests::emulator::environment(bench, WEBHOOK_SECRET).await
}

fn now() -> Timestamp {
    Timestamp::from_unix(chrono::Utc::now().timestamp())
}

fn claims(ws: &WorkspaceId) -> Value {
    json!({"workspace_id": ws.as_str(), "plan": "pro", "region": "eu",
           "iss": "https://auth.kustiq.com/", "aud": "kustiq-api", "sub": "user_1"})
}

/// The status code and JSON body of an HTTP function's answer.
fn answer(result: Value) -> (u64, Value) {
    let status = result["statusCode"].as_u64().unwrap_or(0);
    let body =
        serde_json::from_str(result["body"].as_str().unwrap_or("null")).unwrap_or(Value::Null);
    (status, body)
}

#[tokio::test]
async fn a_signed_webhook_through_the_runtime_emulator_is_applied_to_dynamodb() {
    let d = deployed("ws_emu_webhook", 31).await;
    let mut emu = Emulator::start().await;
    emu.function("kustiq-webhook", &d.env);
    let failure = d.given.payment_failure();
    let body = failure.event.to_string();
    let signature =
        kustiq::stripe::signature::sign(body.as_bytes(), &Secret::new(WEBHOOK_SECRET), now());
    let request = http_request(
        "POST",
        "/webhooks/stripe",
        json!({"content-type": "application/json; charset=utf-8", "stripe-signature": signature}),
        Some(&body),
        None,
    );
    let (status, reply) = answer(emu.invoke("kustiq-webhook", &request).await.ok());
    assert_eq!(
        (status, &reply["outcome"]),
        (200, &json!("applied")),
        "{reply}"
    );
    let (_, version) = d.bench.billing(&d.ws, &failure.customer).await;
    assert!(version > 0, "the billing state was written");
    assert!(
        d.bench.event(&d.ws, &failure.id).await.is_some(),
        "the event was recorded"
    );
    // The same delivery again (Stripe retries): acknowledged as a duplicate.
    let (status, reply) = answer(emu.invoke("kustiq-webhook", &request).await.ok());
    assert_eq!(
        (status, &reply["outcome"]),
        (200, &json!("duplicate")),
        "{reply}"
    );
    // A forged one: refused with the spec's code, nothing applied.
    let forged = http_request(
        "POST",
        "/webhooks/stripe",
        json!({"stripe-signature": format!("t={},v1={}", now().unix(), "0".repeat(64))}),
        Some(&body),
        None,
    );
    let (status, reply) = answer(emu.invoke("kustiq-webhook", &forged).await.ok());
    assert_eq!(
        (status, &reply["error"]["code"]),
        (400, &json!("ERR_WEBHOOK_SIG")),
        "{reply}"
    );
}

#[tokio::test]
async fn an_authorized_dashboard_call_through_the_runtime_emulator_reads_the_connection() {
    let d = deployed("ws_emu_api", 32).await;
    let mut emu = Emulator::start().await;
    emu.function("kustiq-api", &d.env);
    let request = http_request(
        "GET",
        "/api/v1/integrations/stripe",
        json!({"authorization": "Bearer eyJhbGciOiJSUzI1NiJ9.e30.sig"}),
        None,
        Some(claims(&d.ws)),
    );
    let (status, body) = answer(emu.invoke("kustiq-api", &request).await.ok());
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (
            &body["connected"],
            &body["mode"],
            &body["region"],
            &body["account_id"]
        ),
        (
            &json!(true),
            &json!("test"),
            &json!("eu"),
            &json!(d.given.account)
        ),
        "{body}"
    );
    // Claims of a US workspace on the EU deployment: refused.
    let mut us = claims(&d.ws);
    us["region"] = json!("us");
    let request = http_request(
        "GET",
        "/api/v1/integrations/stripe",
        json!({}),
        None,
        Some(us),
    );
    let (status, body) = answer(emu.invoke("kustiq-api", &request).await.ok());
    assert_eq!(
        (status, &body["error"]["code"]),
        (421, &json!("ERR_REGION_MISMATCH")),
        "{body}"
    );
}

#[tokio::test]
async fn an_eventbridge_envelope_through_the_runtime_emulator_is_applied_once() {
    let d = deployed("ws_emu_events", 33).await;
    let mut emu = Emulator::start().await;
    emu.function("kustiq-events", &d.env);
    let failure = d.given.payment_failure();
    let delivery = envelope(&failure.event, SOURCE);
    let first = emu.invoke("kustiq-events", &delivery).await.ok();
    assert_eq!(first["outcome"], "applied", "{first}");
    assert!(d.bench.billing(&d.ws, &failure.customer).await.1 > 0);
    // EventBridge delivers at least once: the same envelope again changes nothing.
    let again = emu.invoke("kustiq-events", &delivery).await.ok();
    assert_eq!(again["outcome"], "duplicate", "{again}");
    // An envelope from another source: a Lambda error that retrying cannot fix.
    let foreign = envelope(&failure.event, "aws.partner/stripe.com/ed_test_not_ours");
    let err = emu.invoke("kustiq-events", &foreign).await.err();
    assert!(err.contains("NotRetryable.Source"), "{err}");
}

/// The `Input` of `task`'s schedule in the template, as the scheduler sends it.
fn schedule_input(task: &str) -> (String, Value) {
    let t = Template::load();
    for f in t.functions() {
        if f.schedules.iter().any(|s| s.1 == task) {
            let input = f.properties["Events"]
                .as_object()
                .into_iter()
                .flatten()
                .map(|(_, e)| &e["Properties"]["Input"])
                .filter_map(|i| serde_json::from_str::<Value>(i.as_str()?).ok())
                .find(|i| i["kustiq_task"] == task)
                .unwrap_or_else(|| panic!("no input for {task}"));
            return (f.binary, input);
        }
    }
    panic!("no schedule runs {task}")
}

#[tokio::test]
async fn the_retry_sweep_on_its_schedule_applies_a_due_event_and_fails_retryably_without_its_table()
{
    let d = deployed("ws_emu_sweep", 34).await;
    let failure = d.given.payment_failure();
    let event =
        Event::parse(failure.event.to_string().as_bytes()).unwrap_or_else(|e| panic!("{e}"));
    let at = now();
    let due = EventRecord {
        workspace_id: d.ws.clone(),
        event: recorded_event(&event),
        received_at: at.plus_secs(-120),
        status: EventStatus::Retrying {
            next_attempt_at: at.plus_secs(-60),
        },
        attempts: 1,
        last_error: Some("store unavailable: throttled".into()),
    };
    d.bench
        .store
        .record(&due)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let (binary, input) = schedule_input("retry-sweep");
    assert_eq!(binary, "kustiq-scoring");
    let mut emu = Emulator::start().await;
    emu.function(&binary, &d.env);
    let ran = emu.invoke(&binary, &input).await.ok();
    assert_eq!(ran["applied"], 1, "{ran}");
    assert!(d.bench.billing(&d.ws, &failure.customer).await.1 > 0);
    // A schedule wired to the wrong task is refused, not run.
    let err = emu
        .invoke(&binary, &json!({"kustiq_task": "nightly-sync"}))
        .await
        .err();
    assert!(err.contains("NotRetryable.UnknownTask"), "{err}");

    // The same function with DynamoDB unreachable: a retryable Lambda error.
    let mut broken = d.env.clone();
    for (k, v) in &mut broken {
        if *k == "AWS_ENDPOINT_URL_DYNAMODB" {
            *v = "http://127.0.0.1:9".to_owned();
        }
    }
    let mut emu = Emulator::start().await;
    emu.function(&binary, &broken);
    let err = emu.invoke(&binary, &input).await.err();
    assert!(
        err.contains("Retryable.StoreUnavailable") && !err.contains("NotRetryable"),
        "{err}"
    );
}

#[tokio::test]
async fn every_function_binary_starts_under_the_emulator_and_answers_its_own_kind_of_event() {
    let d = deployed("ws_emu_all", 35).await;
    let mut emu = Emulator::start().await;
    for f in Template::load().functions() {
        emu.function(&f.binary, &d.env);
    }
    for f in Template::load().functions() {
        if let Some((method, path, authorized)) = f.routes.first() {
            let path = path
                .replace("{connection_id}", "conn_1")
                .replace("{profile_id}", "p0");
            let claims = authorized.then(|| claims(&d.ws));
            let (status, body) = answer(
                emu.invoke(
                    &f.binary,
                    &http_request(method, &path, json!({}), None, claims),
                )
                .await
                .ok(),
            );
            assert!(
                status > 0 && status < 500,
                "{} {method} {path}: {status} {body}",
                f.binary
            );
        } else if !f.schedules.is_empty() {
            // At least one of its schedules runs (all of them: the next test).
            let mut results = vec![];
            for (_, task, _) in &f.schedules {
                let (_, input) = schedule_input(task);
                results.push((task.clone(), emu.invoke(&f.binary, &input).await));
            }
            assert!(
                results.iter().any(|(_, r)| matches!(r, Invoked::Ok(_))),
                "{}: {results:?}",
                f.binary
            );
        } else {
            let failure = d.given.payment_failure();
            let done = emu
                .invoke(&f.binary, &envelope(&failure.event, SOURCE))
                .await
                .ok();
            assert_eq!(done["received"], true, "{}: {done}", f.binary);
        }
    }
}

#[tokio::test]
async fn every_schedule_in_the_template_runs_a_task_its_function_knows() {
    let d = deployed("ws_emu_tasks", 36).await;
    let mut emu = Emulator::start().await;
    let functions: Vec<_> = Template::load()
        .functions()
        .into_iter()
        .filter(|f| !f.schedules.is_empty())
        .collect();
    for f in &functions {
        emu.function(&f.binary, &d.env);
    }
    let mut unknown = vec![];
    for f in &functions {
        for (_, task, _) in &f.schedules {
            let (_, input) = schedule_input(task);
            if let Invoked::Err { detail } = emu.invoke(&f.binary, &input).await {
                unknown.push(format!(
                    "{} {task}: {}",
                    f.binary,
                    detail.lines().next().unwrap_or_default()
                ));
            }
        }
    }
    assert!(unknown.is_empty(), "\n{}", unknown.join("\n"));
}

#[tokio::test]
async fn the_readme_s_signed_fixture_invoked_with_cargo_lambda_is_applied() {
    // README: `scripts/lambda webhook-request <fixture> <whsec>` then `cargo lambda invoke`.
    let fixture = "shared/tests/fixtures/stripe/invoice_payment_failed_2024-06-20.json";
    let event: Value = serde_json::from_str(&kustiq_tests::template::read(fixture))
        .unwrap_or_else(|e| panic!("{e}"));
    let bench = Bench::new(kustiq_tests::Engine::DynamoDbLocal, now()).await;
    let account = event["account"].as_str().unwrap_or_default();
    let ws = bench.connect("ws_emu_readme", account, Mode::Test).await;
    let customer = event["data"]["object"]["customer"]
        .as_str()
        .unwrap_or_default();
    bench.match_profile(&ws, "p0", customer).await;
    let env = environment(&bench).await;
    let out = std::process::Command::new("bash")
        .arg(kustiq_tests::template::root().join("scripts/lambda"))
        .args(["webhook-request", fixture, WEBHOOK_SECRET])
        .current_dir(kustiq_tests::template::root())
        .output()
        .unwrap_or_else(|e| panic!("scripts/lambda: {e}"));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let request: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}"));
    let mut emu = Emulator::start().await;
    emu.function("kustiq-webhook", &env);
    let (status, reply) = answer(emu.invoke("kustiq-webhook", &request).await.ok());
    assert_eq!(
        (status, &reply["outcome"]),
        (200, &json!("applied")),
        "{reply}"
    );
    let id = kustiq::domain::ids::StripeEventId::parse(event["id"].as_str().unwrap_or_default())
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        bench.event(&ws, &id).await.is_some(),
        "the event was recorded"
    );
}
