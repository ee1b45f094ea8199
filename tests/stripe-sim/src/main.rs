//! `stripe-sim`: serves a simulated Stripe on 127.0.0.1 and prints one JSON line when ready.

use clap::Parser;
use kustiq::domain::secret::Secret;
use std::time::Duration;
use stripe_sim::{ApiVersion, SimConfig, Simulator, WebhookTarget};

/// Command-line flags (see CONTRACT.md).
#[derive(Debug, Parser)]
#[command(
    name = "stripe-sim",
    about = "Stripe simulator for tests and the local demo"
)]
struct Args {
    /// Port on 127.0.0.1 (0 picks a free one).
    #[arg(long)]
    port: u16,
    /// Seed: same seed, same data.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Customers in the first account (the others get a fifth as many).
    #[arg(long, default_value_t = 200)]
    customers: usize,
    /// Years of history.
    #[arg(long, default_value_t = 2)]
    years: u32,
    /// Requests per second per account before 429s (0 = unlimited). Stripe's test mode allows 25.
    #[arg(long, default_value_t = 25)]
    rate_limit: u32,
    /// Requests per second per endpoint of an account before 429s (0 = unlimited).
    /// Stripe allows 25 by default.
    #[arg(long, default_value_t = 25)]
    endpoint_rate_limit: u32,
    /// Milliseconds added to every API response.
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
    /// Webhook endpoint for simulated changes.
    #[arg(long, requires = "webhook_secret")]
    webhook_url: Option<String>,
    /// Webhook endpoint secret (`whsec_…`).
    #[arg(long, requires = "webhook_url")]
    webhook_secret: Option<String>,
    /// Connected accounts.
    #[arg(long, default_value_t = 2)]
    accounts: usize,
    /// The simulated present as Unix seconds (default: the wall clock).
    #[arg(long)]
    now: Option<i64>,
    /// API version to render: `2025-03-31.basil` (or any later date) or an earlier date such
    /// as `2024-06-20` for the legacy shape.
    #[arg(long, default_value = stripe_sim::version::BASIL, value_parser = parse_version)]
    api_version: ApiVersion,
    /// Every account's country on `/v1/account` (two capital letters; default US). Kustiq
    /// refuses an account of the other region without consent: `--country DE` for an EU
    /// workspace.
    #[arg(long)]
    country: Option<String>,
}

fn parse_version(s: &str) -> Result<ApiVersion, String> {
    ApiVersion::parse(s)
        .ok_or_else(|| format!("not a Stripe API version (YYYY-MM-DD[.release]): {s}"))
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .init();
    let args = Args::parse();
    let webhook = match (args.webhook_url, args.webhook_secret) {
        (Some(url), Some(secret)) => Some(WebhookTarget {
            url,
            secret: Secret::new(secret),
        }),
        _ => None,
    };
    let config = SimConfig {
        seed: args.seed,
        customers: args.customers,
        years: args.years,
        accounts: args.accounts,
        rate_limit: (args.rate_limit > 0).then_some(args.rate_limit),
        endpoint_rate_limit: (args.endpoint_rate_limit > 0).then_some(args.endpoint_rate_limit),
        latency: Duration::from_millis(args.latency_ms),
        webhook,
        api_version: args.api_version,
        now: args.now.map_or_else(
            stripe_sim::sim::wall_now,
            kustiq::domain::time::Timestamp::from_unix,
        ),
    };
    let sim = Simulator::new(config);
    if let Some(country) = &args.country {
        for a in sim.accounts() {
            if !sim.set_country(&a.id, country) {
                eprintln!("stripe-sim: --country must be two capital letters, not {country:?}");
                return std::process::ExitCode::FAILURE;
            }
        }
    }
    let running = match sim.bind(args.port).await {
        Ok(r) => r,
        Err(e) => {
            eprintln!("stripe-sim: cannot bind 127.0.0.1:{}: {e}", args.port);
            return std::process::ExitCode::FAILURE;
        }
    };
    println!("{}", running.ready_line());
    let _ = tokio::signal::ctrl_c().await;
    running.shutdown().await;
    std::process::ExitCode::SUCCESS
}
