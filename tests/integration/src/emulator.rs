//! The real runtime path: `cargo lambda watch --only-lambda-apis` (cargo-lambda's
//! Lambda runtime emulator) on a free loopback port, the function binaries started
//! against it as Lambda starts `bootstrap`, and `cargo lambda invoke` sending payloads.
//!
//! Needs cargo-lambda (`KUSTIQ_TEST_CARGO_LAMBDA`, else `.cache/venv/bin/cargo-lambda`,
//! installed by `scripts/lambda`) and the function binaries (`KUSTIQ_TEST_FUNCTIONS_DIR`,
//! else this test binary's `target/debug`, built by `scripts/test`). Panics, never skips,
//! when either is missing.

use crate::eventbridge::SOURCE;
use crate::template::root;
use crate::webhook::Bench;
use crate::{moto, require_env, unique};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;
use tokio::process::{Child, Command};

/// What an invocation returned: the function's result, or its Lambda error.
#[derive(Debug)]
pub enum Invoked {
    /// The function's JSON result.
    Ok(Value),
    /// A Lambda error; `detail` is what `cargo lambda invoke` printed (it names the `errorType`).
    Err {
        /// stderr and stdout of `cargo lambda invoke`.
        detail: String,
    },
}

impl Invoked {
    /// The result, or a panic naming the error.
    #[track_caller]
    pub fn ok(self) -> Value {
        match self {
            Self::Ok(v) => v,
            Self::Err { detail } => panic!("the invocation failed: {detail}"),
        }
    }

    /// The error's text, or a panic naming the result.
    #[track_caller]
    pub fn err(self) -> String {
        match self {
            Self::Ok(v) => panic!("the invocation succeeded: {v}"),
            Self::Err { detail } => detail,
        }
    }
}

/// cargo-lambda's binary.
pub fn cargo_lambda() -> PathBuf {
    let path = std::env::var_os("KUSTIQ_TEST_CARGO_LAMBDA")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join(".cache/venv/bin/cargo-lambda"));
    assert!(
        path.is_file(),
        "cargo-lambda not found at {}: run the tests through ./scripts/test, or `scripts/lambda tools` \
         (installs the pinned cargo-lambda into .cache/venv)",
        path.display()
    );
    path
}

/// A binary of the workspace (a function's, `kustiq-webhook` …, or `kustiq-local`), built
/// for this host.
pub fn function_binary(name: &str) -> PathBuf {
    let dir = std::env::var_os("KUSTIQ_TEST_FUNCTIONS_DIR")
        .map(PathBuf::from)
        .or_else(|| {
            // target/debug/deps/it-<hash> → target/debug
            let exe = std::env::current_exe().ok()?;
            Some(exe.parent()?.parent()?.to_path_buf())
        })
        .unwrap_or_else(|| root().join("target/debug"));
    let path = dir.join(name);
    assert!(
        path.is_file(),
        "{} is not built: run the tests through ./scripts/test, or `cargo build --bins -p {name}`",
        path.display()
    );
    path
}

/// The template's function environment for `bench`'s table, with fresh secrets in moto
/// (`webhook_secret` as the Stripe webhook signing secret), pointed at DynamoDB Local and moto.
pub async fn environment(bench: &Bench, webhook_secret: &str) -> Vec<(&'static str, String)> {
    let prefix = format!("{}/", unique("kustiq/emulator"));
    let sm = moto::config("eu-central-1").await;
    for (name, value) in [
        ("stripe-webhook-secret", format!("[\"{webhook_secret}\"]")),
        ("stripe-platform-key", stripe_sim::PLATFORM_KEY.to_owned()),
        ("api-cursor-key", "emulator-cursor-key".to_owned()),
        ("oauth-state-key", "emulator-state-key".to_owned()),
    ] {
        moto::create_secret(&sm, &format!("{prefix}{name}"), &value).await;
    }
    let (_, kms_key) = moto::create_kms_key("eu-central-1").await;
    vec![
        ("KUSTIQ_ENV", "test".to_owned()),
        ("KUSTIQ_KMS_KEY_ID", kms_key),
        (
            "KUSTIQ_PUBLIC_URL",
            "https://api.eu.kustiq.example".to_owned(),
        ),
        ("KUSTIQ_STRIPE_CLIENT_ID", stripe_sim::CLIENT_ID.to_owned()),
        ("KUSTIQ_REGION", "eu".to_owned()),
        ("AWS_REGION", "eu-central-1".to_owned()),
        ("KUSTIQ_TABLE", bench.store.table().to_owned()),
        ("KUSTIQ_SECRETS_PREFIX", prefix),
        ("KUSTIQ_SECRETS_TTL_SECS", "300".to_owned()),
        ("KUSTIQ_STRIPE_EVENT_SOURCE", SOURCE.to_owned()),
        // DynamoDB Local keeps one namespace per access key and region: the bench's.
        ("AWS_ACCESS_KEY_ID", "testing".to_owned()),
        ("AWS_SECRET_ACCESS_KEY", "testing".to_owned()),
        (
            "AWS_ENDPOINT_URL_DYNAMODB",
            require_env("KUSTIQ_TEST_DYNAMODB_ENDPOINT"),
        ),
        ("AWS_ENDPOINT_URL_SECRETS_MANAGER", moto::endpoint()),
        ("AWS_ENDPOINT_URL_KMS", moto::endpoint()),
    ]
}

/// An API Gateway HTTP API (payload 2.0) request as the JWT authorizer passes it on;
/// `claims: None` for the unauthenticated routes.
pub fn http_request(
    method: &str,
    path: &str,
    headers: Value,
    body: Option<&str>,
    claims: Option<Value>,
) -> Value {
    let (path, query) = path.split_once('?').unwrap_or((path, ""));
    let mut ctx = json!({
        "accountId": "123456789012",
        "apiId": "k7x2q9w1ab",
        "domainName": "api.eu.kustiq.com",
        "domainPrefix": "api",
        "http": {"method": method, "path": path, "protocol": "HTTP/1.1",
                 "sourceIp": "54.187.174.169", "userAgent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)"},
        "requestId": "JKJaXmPLvHcESHA=",
        "routeKey": format!("{method} {path}"),
        "stage": "$default",
        "time": "30/Nov/2026:10:00:00 +0000",
        "timeEpoch": 1_795_946_400_000_i64,
    });
    if let Some(claims) = claims {
        ctx["authorizer"] = json!({"jwt": {"claims": claims, "scopes": null}});
    }
    json!({
        "version": "2.0",
        "routeKey": format!("{method} {path}"),
        "rawPath": path,
        "rawQueryString": query,
        "headers": headers,
        "requestContext": ctx,
        "body": body,
        "isBase64Encoded": false,
    })
}

/// The emulator and the functions started against it; all are killed on drop.
pub struct Emulator {
    watch: Child,
    port: u16,
    functions: Vec<Child>,
    logs: tempfile::TempDir,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("no free port: {e}"))
}

impl Emulator {
    /// Starts `cargo lambda watch --only-lambda-apis` and waits until it accepts connections.
    pub async fn start() -> Self {
        let port = free_port();
        let logs = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let log =
            std::fs::File::create(logs.path().join("watch.log")).unwrap_or_else(|e| panic!("{e}"));
        let watch = Command::new(cargo_lambda())
            .args(["lambda", "watch", "--only-lambda-apis", "--ignore-changes"])
            .args([
                "--invoke-address",
                "127.0.0.1",
                "--invoke-port",
                &port.to_string(),
            ])
            .current_dir(root())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("cargo lambda watch: {e}"));
        let mut emulator = Self {
            watch,
            port,
            functions: vec![],
            logs,
        };
        for _ in 0..600 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                return emulator;
            }
            if let Ok(Some(status)) = emulator.watch.try_wait() {
                panic!(
                    "cargo lambda watch exited ({status}): {}",
                    emulator.log("watch")
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!(
            "cargo lambda watch did not listen within 60 s: {}",
            emulator.log("watch")
        )
    }

    fn log(&self, name: &str) -> String {
        std::fs::read_to_string(self.logs.path().join(format!("{name}.log"))).unwrap_or_default()
    }

    /// Starts function binary `name` against the emulator, as Lambda would, with
    /// `env` (the template's variables) on a clean environment.
    pub fn function(&mut self, name: &str, env: &[(&str, String)]) {
        let child = self.spawn(name, env);
        self.functions.push(child);
    }

    /// [`Emulator::function`], handing the process to the caller (killed when dropped):
    /// the cold-start benchmark starts and stops each function many times.
    pub fn spawn(&self, name: &str, env: &[(&str, String)]) -> Child {
        let log = std::fs::File::create(self.logs.path().join(format!("{name}.log")))
            .unwrap_or_else(|e| panic!("{e}"));
        Command::new(function_binary(name))
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env(
                "AWS_LAMBDA_RUNTIME_API",
                format!("http://127.0.0.1:{}/.rt/{name}", self.port),
            )
            .env("AWS_LAMBDA_FUNCTION_NAME", name)
            .env("AWS_LAMBDA_FUNCTION_VERSION", "1")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
            .env(
                "AWS_LAMBDA_LOG_GROUP_NAME",
                format!("/kustiq/test/eu/{name}"),
            )
            .env("AWS_LAMBDA_LOG_STREAM_NAME", "emulator")
            .env("RUST_LOG", "info")
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("{name}: {e}"))
    }

    /// The Lambda Invoke API's URL for function `name` on this emulator (what
    /// `cargo lambda invoke` posts to), for callers that time the HTTP exchange alone.
    pub fn invoke_url(&self, name: &str) -> String {
        format!(
            "http://127.0.0.1:{}/2015-03-31/functions/{name}/invocations",
            self.port
        )
    }

    /// `cargo lambda invoke name` with `payload`.
    pub async fn invoke(&self, name: &str, payload: &Value) -> Invoked {
        let file = self.logs.path().join(format!("{name}-payload.json"));
        std::fs::write(&file, payload.to_string()).unwrap_or_else(|e| panic!("{e}"));
        let out = Command::new(cargo_lambda())
            .args(["lambda", "invoke", name, "--output-format", "json"])
            .args([
                "--invoke-address",
                "127.0.0.1",
                "--invoke-port",
                &self.port.to_string(),
            ])
            .arg("--data-file")
            .arg(&file)
            .current_dir(root())
            .env("NO_COLOR", "1")
            .output();
        let out = tokio::time::timeout(Duration::from_secs(120), out)
            .await
            .unwrap_or_else(|_| panic!("{name}: no answer in 120 s: {}", self.log(name)))
            .unwrap_or_else(|e| panic!("cargo lambda invoke: {e}"));
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        if out.status.success() {
            let value = serde_json::from_str(&stdout)
                .unwrap_or_else(|e| panic!("{name} answered non-JSON ({e}): {stdout}"));
            Invoked::Ok(value)
        } else {
            Invoked::Err {
                detail: format!(
                    "{}{stdout}\n--- function log ---\n{}",
                    String::from_utf8_lossy(&out.stderr),
                    self.log(name)
                ),
            }
        }
    }
}
