//! `kustiq-local demo`: the whole product against a simulated Stripe account, through
//! the same routes a user's browser and Stripe would use.
//!
//! Order: the simulator (in-process, seeded), the local stack on a loopback port with its
//! clock following the simulator's, a Pro workspace and its CRM profiles, the OAuth
//! connect, the all-time backfill (progress bar), `D` simulated days of signed webhooks
//! with a nightly sync after each, then the connection, the match table and the at-risk
//! segment as tables. Same seed, same output.

pub mod client;
pub mod crm;
pub mod report;

use crate::runner::{LocalStack, StartOptions, spawn_workers, start_with};
use crate::server::{Local, serve};
use crate::token::Claims;
use client::{Api, DemoError};
use indicatif::{ProgressBar, ProgressStyle};
use kustiq::domain::region::Region;
use kustiq::domain::secret::Secret;
use kustiq::domain::time::Timestamp;
use kustiq::ports::clock::Clock;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use stripe_sim::{SimConfig, Simulator, WebhookTarget};

/// What `kustiq-local demo` was asked for.
#[derive(Debug, Clone)]
pub struct DemoArgs {
    /// Customers in the simulated account.
    pub customers: usize,
    /// Simulated days after the backfill.
    pub days: u32,
    /// Seed of the simulated account.
    pub seed: u64,
    /// Keep serving the API and the page when done.
    pub serve: bool,
    /// Port of the local runner (0 picks a free one).
    pub port: u16,
    /// Where the data lives; a fresh temporary directory when not given.
    pub data_dir: Option<PathBuf>,
    /// Years of history in the simulated account.
    pub years: u32,
}

/// The workspace the demo creates.
pub const WORKSPACE: &str = "demo";

/// The simulated present when the demo starts (fixed, so a seed gives the same output).
const SIM_START: i64 = 1_767_225_600; // 2026-01-01T00:00:00Z

/// The local stack's clock: the simulator's present, so time windows follow the simulated days.
struct SimClock(Simulator);

impl Clock for SimClock {
    fn now(&self) -> Timestamp {
        self.0.now()
    }
}

/// What the demo showed, for callers that check it (the test of the README's first command).
#[derive(Debug, Clone)]
pub struct DemoSummary {
    /// Rows of the match table per status.
    pub matches: Vec<(String, usize)>,
    /// The printed at-risk segment, highest first.
    pub segment: Vec<report::SegmentRow>,
    /// The profile whose payments failed during the simulated days, its failures and its
    /// rank in the segment (1 = top).
    pub victim: Option<(String, u32, Option<usize>)>,
    /// Webhooks the simulator delivered during the simulated days, and how many were refused.
    pub webhooks: (usize, usize),
    /// Objects the backfill read.
    pub backfilled: u64,
}

/// Runs the demo; returns when done (or, with `--serve`, when interrupted).
pub async fn run(args: DemoArgs) -> Result<DemoSummary, DemoError> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", args.port))
        .await
        .map_err(|e| DemoError::Setup(format!("cannot bind 127.0.0.1:{}: {e}", args.port)))?;
    let base = format!(
        "http://{}",
        listener
            .local_addr()
            .map_err(|e| DemoError::Setup(e.to_string()))?
    );
    let webhook_secret = format!(
        "whsec_demo_{:016x}",
        args.seed.wrapping_mul(0x9e37_79b9_7f4a_7c15)
    );
    let sim = Simulator::new(SimConfig {
        seed: args.seed,
        customers: args.customers,
        years: args.years,
        accounts: 1,
        // Stripe's test-mode limit; the client paces itself below it.
        rate_limit: Some(25),
        webhook: Some(WebhookTarget {
            url: format!("{base}/webhooks/stripe"),
            secret: Secret::new(webhook_secret.clone()),
        }),
        now: Timestamp::from_unix(SIM_START),
        ..SimConfig::default()
    });
    sim.sign_with_simulated_clock();
    // An EU workspace connecting an account of an EU country: no cross-region consent needed.
    if let Some(a) = sim.accounts().first() {
        sim.set_country(&a.id, "DE");
    }
    let running = sim
        .clone()
        .bind(0)
        .await
        .map_err(|e| DemoError::Setup(format!("simulator: {e}")))?;
    let account = running
        .accounts
        .first()
        .map(|a| a.id.clone())
        .ok_or_else(|| DemoError::Setup("the simulator has no account".into()))?;

    let (data_dir, _temp) = match &args.data_dir {
        Some(d) => (d.clone(), None),
        None => {
            let t = tempfile::tempdir().map_err(|e| DemoError::Setup(e.to_string()))?;
            (t.path().to_path_buf(), Some(t))
        }
    };
    let clock: Arc<dyn Clock> = Arc::new(SimClock(sim.clone()));
    let stack: LocalStack = start_with(
        &data_dir,
        Region::Eu,
        StartOptions {
            clock: Some(clock),
            stripe_api_base: Some(running.base_url.clone()),
            stripe_connect_base: Some(running.base_url.clone()),
            webhook_secrets: Some(vec![webhook_secret]),
            public_url: Some(base.clone()),
        },
    )
    .await
    .map_err(|e| DemoError::Setup(e.to_string()))?;
    spawn_workers(&stack);
    let local = Local {
        router: stack.router.clone(),
        tokens: stack.tokens.clone(),
    };
    tokio::spawn(async move {
        let _ = serve(listener, local).await;
    });

    let iat = chrono::Utc::now().timestamp();
    let token = stack.tokens.issue(&Claims {
        workspace_id: WORKSPACE.into(),
        plan: "pro".into(),
        region: "eu".into(),
        iat,
        exp: iat + 12 * 3600,
    });
    let api = Api::new(&base, &token)?;

    println!(
        "Simulated Stripe account {account}: {} customers, {} years of history (seed {}).",
        args.customers, args.years, args.seed
    );
    let profiles = crm::plant(&sim.customers(&account));
    report::step(&format!("Creating {} CRM profiles", profiles.len()));
    api.put_profiles(&profiles).await?;

    report::step("Connecting Stripe (Connect OAuth, read_only, test mode, all-time backfill)");
    api.connect_oauth().await?;
    backfill(&api).await?;

    let victim = pick_victim(&api, &sim, &account, &profiles).await?;
    report::step(&format!("Running {} simulated days", args.days));
    let days = days_bar(args.days);
    let fail_on = [args.days / 3, (2 * args.days) / 3];
    let mut failures = 0;
    let (mut delivered, mut refused) = (0, 0);
    for day in 0..args.days {
        if let Some((customer, _)) = &victim {
            if fail_on.contains(&day) && failures < 2 {
                sim.emit(&account, "invoice.payment_failed", customer)
                    .await
                    .map_err(|e| DemoError::Setup(format!("simulator emit: {e}")))?;
                failures += 1;
            }
        }
        let advanced = sim.advance_days(1).await;
        delivered += advanced.delivered;
        refused += advanced.failed;
        api.sync_now_and_wait().await?;
        days.set_message(format!(
            "{} · {} webhooks delivered",
            Timestamp::from_unix(advanced.now).to_rfc3339(),
            advanced.delivered
        ));
        days.inc(1);
    }
    days.finish();

    let status = api.get("/api/v1/integrations/stripe").await?;
    report::connection(&status);
    let matches = report::matches(&api).await?;
    let at_risk = api.get("/api/v1/churn/at-risk?limit=15").await?;
    let segment = report::at_risk(&api, &at_risk).await?;
    let victim = victim.map(|(customer, profile)| {
        let rank = report::victim(&at_risk, &customer, &profile, failures);
        (profile, failures, rank)
    });
    let summary = DemoSummary {
        matches,
        segment,
        victim,
        webhooks: (delivered, refused),
        backfilled: status["backfill"]["objects_done"].as_u64().unwrap_or(0),
    };

    if args.serve {
        println!("\nServing the API and the dashboard at {base}/#token={token}");
        println!("Bearer token for the API: {token}");
        println!("Press Ctrl-C to stop.");
        let _ = tokio::signal::ctrl_c().await;
    }
    drop(running);
    Ok(summary)
}

/// Waits for the backfill with a progress bar of objects read.
async fn backfill(api: &Api) -> Result<(), DemoError> {
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template(
            "  backfill [{bar:30}] {pos}/{len} objects · {per_sec} · eta {eta} {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    loop {
        let status = api.get("/api/v1/integrations/stripe").await?;
        let b = &status["backfill"];
        bar.set_length(b["objects_estimated"].as_u64().unwrap_or(0).max(1));
        bar.set_position(b["objects_done"].as_u64().unwrap_or(0));
        match b["state"].as_str() {
            Some("done") => break,
            Some("failed") => {
                bar.abandon();
                return Err(DemoError::Flow(format!(
                    "backfill failed: {}",
                    status["error"]
                )));
            }
            _ => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
    bar.finish();
    Ok(())
}

fn days_bar(days: u32) -> ProgressBar {
    let bar = ProgressBar::new(u64::from(days));
    bar.set_style(
        ProgressStyle::with_template("  day {pos}/{len} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar
}

/// A matched customer with a live subscription whose payments will fail twice during the
/// simulated days: the demo's proof that the segment follows billing as it happens.
async fn pick_victim(
    api: &Api,
    sim: &Simulator,
    account: &str,
    profiles: &[crm::PlantedProfile],
) -> Result<Option<(String, String)>, DemoError> {
    let live: std::collections::HashSet<String> = sim
        .subscriptions(account)
        .iter()
        .filter(|s| s["status"] == "active")
        .filter_map(|s| s["customer"].as_str().map(str::to_owned))
        .collect();
    let matched = api
        .get("/api/v1/integrations/stripe/matches?status=matched&limit=200")
        .await?;
    let planted_email: std::collections::HashSet<&str> = profiles
        .iter()
        .filter(|p| p.planted == crm::Planted::Email)
        .map(|p| p.id.as_str())
        .collect();
    let rows = matched["data"].as_array().cloned().unwrap_or_default();
    Ok(rows.iter().find_map(|r| {
        let customer = r["stripe_customer_id"].as_str()?;
        let profile = r["profile_id"].as_str()?;
        (live.contains(customer) && planted_email.contains(profile))
            .then(|| (customer.to_owned(), profile.to_owned()))
    }))
}
