//! infra/template.yaml matches the code: every function crate is deployed, every route
//! in it is served by its function's router and by the local runner and documented,
//! every wildcard is justified, the data key opens credentials only where code needs it,
//! and the schedules, failure queues, alarms, recovery and log retention are there.

use kustiq::adapters::runtime::FunctionConfig;
use kustiq::domain::region::Region;
use kustiq::http::Router;
use kustiq::wiring::{self, Aws};
use kustiq_tests::template::{Function, Template, read, root, strings_of, yaml};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

type Route = (String, String);

/// The wiring that builds one function's router.
type Build = fn(&Aws) -> Result<Router, lambda_http::Error>;

/// Each HTTP function's binary and the wiring that builds its router.
const HTTP_FUNCTIONS: [(&str, Build); 4] = [
    ("kustiq-webhook", wiring::webhook),
    ("kustiq-connect", wiring::connect),
    ("kustiq-api", wiring::api),
    ("kustiq-disconnect", wiring::disconnect),
];

/// Who may open sealed credentials with the data key, for which purposes, and why.
/// Everyone else reaches the key only through DynamoDB and Secrets Manager.
const OPENS_CREDENTIALS: [(&str, &[&str], &str); 4] = [
    (
        "kustiq-connect",
        &[
            "oauth_refresh_token",
            "access_token",
            "restricted_key",
            "webhook_secret",
        ],
        "seals what a connection hands over and reads it back to verify it",
    ),
    (
        "kustiq-sync",
        &["oauth_refresh_token", "access_token", "restricted_key"],
        "reads Stripe with the connection's credential; a refresh re-seals it",
    ),
    (
        "kustiq-webhook",
        &[
            "webhook_secret",
            "restricted_key",
            "access_token",
            "oauth_refresh_token",
        ],
        "verifies a restricted-key connection's endpoint signature; reads what a payload lacks with the connection's own credential",
    ),
    (
        "kustiq-scoring",
        &["outbound_signing_secret"],
        "signs each outbound churn event with its endpoint's secret",
    ),
];

async fn aws() -> Aws {
    // The builders read these from the process (nextest runs each test in its own process).
    for (k, v) in [
        ("KUSTIQ_PUBLIC_URL", "https://api.eu.kustiq.example"),
        ("KUSTIQ_STRIPE_CLIENT_ID", "ca_template"),
        (
            "KUSTIQ_KMS_KEY_ID",
            "arn:aws:kms:eu-central-1:123456789012:key/00000000-0000-0000-0000-000000000000",
        ),
    ] {
        // SAFETY: set before any thread of this test reads the environment.
        unsafe { std::env::set_var(k, v) };
    }
    let env: BTreeMap<&str, &str> = [
        ("KUSTIQ_REGION", "eu"),
        ("AWS_REGION", "eu-central-1"),
        ("KUSTIQ_TABLE", "unused"),
        ("KUSTIQ_SECRETS_PREFIX", "kustiq/test/eu/"),
    ]
    .into();
    let cfg = FunctionConfig::from_lookup(|k| env.get(k).map(|v| (*v).to_owned()))
        .unwrap_or_else(|e| panic!("{e}"));
    // Nothing listens there: building a router calls nothing.
    Aws::local(cfg, "http://127.0.0.1:9").await
}

fn route_set(routes: &[(String, String, bool)]) -> BTreeSet<Route> {
    routes
        .iter()
        .map(|(m, p, _)| (m.clone(), p.clone()))
        .collect()
}

fn served(router: &Router) -> BTreeSet<Route> {
    router
        .routes()
        .into_iter()
        .map(|(m, p)| (m.to_owned(), p.to_owned()))
        .collect()
}

fn function<'a>(functions: &'a [Function], binary: &str) -> &'a Function {
    functions
        .iter()
        .find(|f| f.binary == binary)
        .unwrap_or_else(|| panic!("the template deploys no function built from {binary}"))
}

#[test]
fn every_function_crate_is_deployed_by_the_template_and_nothing_else() {
    let mut crates = BTreeSet::new();
    for entry in std::fs::read_dir(root().join("functions")).unwrap_or_else(|e| panic!("{e}")) {
        let manifest = entry
            .unwrap_or_else(|e| panic!("{e}"))
            .path()
            .join("Cargo.toml");
        let text = std::fs::read_to_string(&manifest).unwrap_or_else(|e| panic!("{e}"));
        let doc: toml_edit::DocumentMut = text.parse().unwrap_or_else(|e| panic!("{e}"));
        let bins = doc
            .get("bin")
            .and_then(|b| b.as_array_of_tables())
            .unwrap_or_else(|| panic!("{}: no [[bin]]", manifest.display()));
        for bin in bins {
            crates.insert(
                bin.get("name")
                    .and_then(|n| n.as_str())
                    .unwrap_or_default()
                    .to_owned(),
            );
        }
    }
    let deployed: BTreeSet<String> = Template::load()
        .functions()
        .into_iter()
        .map(|f| f.binary)
        .collect();
    assert_eq!(
        deployed, crates,
        "template functions vs functions/*/ binaries"
    );
}

#[tokio::test]
async fn every_route_in_the_template_is_served_by_its_function_and_only_there() {
    let functions = Template::load().functions();
    let aws = aws().await;
    let mut problems = vec![];
    for (binary, build) in HTTP_FUNCTIONS {
        let in_template = route_set(&function(&functions, binary).routes);
        let router = build(&aws).unwrap_or_else(|e| panic!("{binary}: {e}"));
        let serves = served(&router);
        for (m, p) in in_template.difference(&serves) {
            problems.push(format!(
                "{binary}: template routes {m} {p}, its router does not serve it"
            ));
        }
        for (m, p) in serves.difference(&in_template) {
            problems.push(format!(
                "{binary}: serves {m} {p}, the template does not route it there"
            ));
        }
    }
    for f in &functions {
        if !HTTP_FUNCTIONS.iter().any(|(b, _)| *b == f.binary) {
            assert!(
                f.routes.is_empty(),
                "{} has HTTP routes but no router",
                f.binary
            );
        }
    }
    assert!(problems.is_empty(), "\n{}", problems.join("\n"));
}

#[tokio::test]
async fn the_local_runner_serves_every_route_of_the_template() {
    let routes: BTreeSet<Route> = Template::load()
        .functions()
        .iter()
        .flat_map(|f| route_set(&f.routes))
        .collect();
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let local = kustiq_local::runner::start(dir.path(), Region::Eu)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let serves = served(&local.router);
    let missing: Vec<_> = routes.difference(&serves).collect();
    assert!(
        missing.is_empty(),
        "the local runner does not serve {missing:?}"
    );
}

#[test]
fn every_route_in_the_template_is_documented_in_openapi() {
    let spec = yaml(&read("docs/openapi.yaml"), "docs/openapi.yaml");
    let mut missing = vec![];
    for f in Template::load().functions() {
        for (method, path, _) in &f.routes {
            if spec["paths"][path][method.to_lowercase()].is_null() {
                missing.push(format!("{method} {path}"));
            }
        }
    }
    assert!(missing.is_empty(), "docs/openapi.yaml lacks {missing:?}");
}

#[test]
fn only_the_webhooks_and_the_oauth_callback_skip_the_jwt_authorizer() {
    let open: BTreeSet<String> = Template::load()
        .functions()
        .iter()
        .flat_map(|f| {
            f.routes
                .iter()
                .filter(|r| !r.2)
                .map(|r| format!("{} {}", r.0, r.1))
        })
        .collect();
    let expected: BTreeSet<String> = [
        "POST /webhooks/stripe",
        "POST /webhooks/stripe/c/{connection_id}",
        "GET /api/v1/integrations/stripe/oauth/callback",
    ]
    .map(str::to_owned)
    .into();
    assert_eq!(open, expected);
}

#[test]
fn every_wildcard_in_a_policy_is_justified_by_a_comment_above_its_statement() {
    let t = Template::load();
    let mut problems = vec![];
    for stmt in t.all_statements() {
        let wild: Vec<String> = strings_of(&stmt["Action"])
            .into_iter()
            .chain(strings_of(&stmt["Resource"]))
            .chain(strings_of(&stmt["Principal"]["AWS"]))
            .filter(|s| s.contains('*'))
            .collect();
        if wild.is_empty() {
            continue;
        }
        let Some(sid) = stmt["Sid"].as_str() else {
            problems.push(format!("a statement without a Sid has wildcards {wild:?}"));
            continue;
        };
        let places = t.comments_above_sid(sid);
        if places.len() != 1 || places[0].is_empty() {
            problems.push(format!(
                "statement {sid} has wildcards {wild:?}: give it a unique Sid and a comment saying why"
            ));
        }
    }
    assert!(problems.is_empty(), "\n{}", problems.join("\n"));
}

/// The `kms:EncryptionContext:purpose` values a statement is limited to, or `None`
/// when it is limited by `kms:ViaService` (the table's or the secrets' encryption).
fn purposes(stmt: &Value) -> Option<Vec<String>> {
    let eq = &stmt["Condition"]["StringEquals"];
    if !eq["kms:ViaService"].is_null() {
        return None;
    }
    Some(strings_of(&eq["kms:EncryptionContext:purpose"]))
}

#[test]
fn only_functions_that_open_credentials_can_decrypt_with_the_data_key() {
    let mut problems = vec![];
    for f in Template::load().functions() {
        let allowed = OPENS_CREDENTIALS.iter().find(|(b, _, _)| *b == f.binary);
        for stmt in &f.statements {
            let actions = strings_of(&stmt["Action"]);
            let decrypts = actions.iter().any(|a| a == "kms:Decrypt" || a == "kms:*");
            if !decrypts {
                continue;
            }
            let sid = stmt["Sid"].as_str().unwrap_or("?");
            match (purposes(stmt), allowed) {
                (None, _) => {}
                (Some(p), _) if p.is_empty() => {
                    problems.push(format!(
                        "{}: {sid} decrypts without a purpose or service condition",
                        f.binary
                    ));
                }
                (Some(p), None) => problems.push(format!(
                    "{}: {sid} decrypts {p:?}, but nothing in it opens credentials",
                    f.binary
                )),
                (Some(p), Some((_, needed, _))) => {
                    for extra in p.iter().filter(|p| !needed.contains(&p.as_str())) {
                        problems.push(format!(
                            "{}: {sid} decrypts {extra}, which it never opens",
                            f.binary
                        ));
                    }
                    if stmt["Condition"]["Null"]["kms:EncryptionContext:workspace_id"] != "false" {
                        problems.push(format!(
                            "{}: {sid} does not require a workspace_id context",
                            f.binary
                        ));
                    }
                }
            }
        }
    }
    assert!(problems.is_empty(), "\n{}", problems.join("\n"));
}

#[test]
fn schedules_run_each_job_on_time_and_failed_runs_land_on_an_alarmed_queue() {
    let t = Template::load();
    let functions = t.functions();
    let schedules: BTreeMap<String, (String, String, bool)> = functions
        .iter()
        .flat_map(|f| {
            f.schedules.iter().map(move |(expr, task, dlq)| {
                (task.clone(), (f.binary.clone(), expr.clone(), *dlq))
            })
        })
        .collect();
    for (task, binary, expr) in [
        ("nightly-sync", "kustiq-sync", "cron(45 5 * * ? *)"),
        ("rotate-credentials", "kustiq-sync", "rate(6 hours)"),
        ("backfill-continue", "kustiq-sync", "rate(5 minutes)"),
        ("retry-sweep", "kustiq-scoring", "rate(1 minute)"),
        ("outbound-delivery", "kustiq-scoring", "rate(1 minute)"),
    ] {
        let got = schedules.get(task);
        assert_eq!(
            got.map(|(b, e, _)| (b.as_str(), e.as_str())),
            Some((binary, expr)),
            "schedule of {task}"
        );
        assert!(
            got.is_some_and(|g| g.2),
            "{task}: a schedule without a dead-letter queue"
        );
    }
    let alarmed: BTreeSet<String> = t
        .resources()
        .values()
        .filter(|r| r["Type"] == "AWS::CloudWatch::Alarm")
        .filter_map(|r| r["Properties"]["Dimensions"][0]["Value"]["Fn::GetAtt"][0].as_str())
        .map(str::to_owned)
        .collect();
    for f in functions
        .iter()
        .filter(|f| !f.schedules.is_empty() || f.binary == "kustiq-events")
    {
        let target = &f.properties["EventInvokeConfig"]["DestinationConfig"]["OnFailure"];
        let queue = target["Destination"]["Fn::GetAtt"][0]
            .as_str()
            .unwrap_or_default();
        assert_eq!(
            target["Type"], "SQS",
            "{}: failed async runs go nowhere",
            f.binary
        );
        assert!(
            alarmed.contains(queue),
            "{}: its failure queue {queue} has no alarm",
            f.binary
        );
    }
    assert!(
        alarmed.contains("SyncDeadLetterQueue"),
        "the sync DLQ has no alarm"
    );
}

#[test]
fn the_events_function_is_reachable_only_from_its_eventbridge_rule() {
    let t = Template::load();
    let events = t
        .functions()
        .into_iter()
        .find(|f| f.binary == "kustiq-events")
        .unwrap_or_else(|| panic!("no kustiq-events function"));
    assert!(
        events.routes.is_empty() && events.other_events.is_empty(),
        "{events:?}"
    );
    let permissions: Vec<&Value> = t
        .resources()
        .values()
        .filter(|r| r["Type"] == "AWS::Lambda::Permission")
        .filter(|r| r["Properties"]["FunctionName"]["Ref"] == "EventsFunction")
        .collect();
    assert_eq!(permissions.len(), 1, "exactly one invoke permission");
    let p = &permissions[0]["Properties"];
    assert_eq!(p["Principal"], "events.amazonaws.com");
    assert_eq!(p["SourceArn"]["Fn::GetAtt"][0], "StripeEventsRule");
    let rule = &t.resources()["StripeEventsRule"]["Properties"];
    assert_eq!(
        rule["EventPattern"]["source"][0]["Ref"], "StripeEventSourceName",
        "the rule matches only Stripe's partner source"
    );
    assert_eq!(
        events.properties["Environment"]["Variables"]["KUSTIQ_STRIPE_EVENT_SOURCE"]["Ref"],
        "StripeEventSourceName",
        "the function checks the same source"
    );
}

#[test]
fn data_is_recoverable_and_every_function_logs_with_retention() {
    let t = Template::load();
    let table = &t.resources()["MainTable"]["Properties"];
    assert_eq!(
        table["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"],
        true
    );
    for f in t.functions() {
        let group = f.properties["LoggingConfig"]["LogGroup"]["Ref"]
            .as_str()
            .unwrap_or_else(|| panic!("{}: no log group", f.binary));
        let retention = &t.resources()[group]["Properties"]["RetentionInDays"];
        assert!(
            !retention.is_null(),
            "{}: log group {group} keeps logs forever",
            f.binary
        );
    }
}
