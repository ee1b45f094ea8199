//! `kustiq-local`: runs the product on this machine (see CONTRACT.md).

use clap::{Parser, Subcommand};
use kustiq_local::demo::{DemoArgs, run as run_demo};
use kustiq_local::runner::{region_from_env, spawn_workers, start_at};
use kustiq_local::server::{Local, serve};
use kustiq_local::token::{Claims, TokenKey, parse_ttl};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "kustiq-local",
    about = "Kustiq's Stripe integration on this machine, no AWS needed"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serves every route on 127.0.0.1 on the embedded default.
    Serve {
        #[arg(long, default_value_t = 8080)]
        port: u16,
        #[arg(long, default_value = ".kustiq")]
        data_dir: PathBuf,
    },
    /// Runs the whole product against a simulated Stripe account and prints the at-risk
    /// segment (connect, backfill, simulated days of live webhooks and nightly syncs).
    Demo {
        /// Customers in the simulated account.
        #[arg(long, default_value_t = 500)]
        customers: usize,
        /// Simulated days after the backfill.
        #[arg(long, default_value_t = 14)]
        days: u32,
        /// Seed: same seed, same account, same output.
        #[arg(long, default_value_t = 7)]
        seed: u64,
        /// Years of history in the simulated account.
        #[arg(long, default_value_t = 3)]
        years: u32,
        /// Keep serving the API and the dashboard when done.
        #[arg(long)]
        serve: bool,
        /// Port of the local runner (0 picks a free one).
        #[arg(long, default_value_t = 0)]
        port: u16,
        /// Data directory (default: a fresh temporary one).
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
    /// Prints a bearer token for the local runner.
    Token {
        #[arg(long)]
        workspace: String,
        #[arg(long, default_value = "pro")]
        plan: String,
        #[arg(long, default_value = "eu")]
        region: String,
        #[arg(long, default_value = ".kustiq")]
        data_dir: PathBuf,
        /// Lifetime with a unit (`90m`, `12h`, `7d`), at most 30 days.
        #[arg(long, default_value = "12h", value_parser = parse_ttl)]
        ttl: i64,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    if matches!(cli.command, Command::Demo { .. }) {
        kustiq::telemetry::init_with_default("warn");
    } else {
        kustiq::telemetry::init();
    }
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("kustiq-local: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<(), String> {
    match cli.command {
        Command::Demo {
            customers,
            days,
            seed,
            years,
            serve,
            port,
            data_dir,
        } => run_demo(DemoArgs {
            customers,
            days,
            seed,
            serve,
            port,
            data_dir,
            years,
        })
        .await
        .map(|_| ())
        .map_err(|e| e.to_string()),
        Command::Token {
            workspace,
            plan,
            region,
            data_dir,
            ttl,
        } => {
            kustiq::domain::ids::WorkspaceId::parse(workspace.as_str())
                .map_err(|e| e.to_string())?;
            kustiq::http::auth::Plan::parse(&plan).ok_or("--plan must be free, insight or pro")?;
            kustiq::domain::region::Region::parse(&region).map_err(|e| e.to_string())?;
            let key = TokenKey::load_or_create(&data_dir).map_err(|e| e.to_string())?;
            let iat = chrono::Utc::now().timestamp();
            println!(
                "{}",
                key.issue(&Claims {
                    workspace_id: workspace,
                    plan,
                    region,
                    iat,
                    exp: iat + ttl,
                })
            );
            Ok(())
        }
        Command::Serve { port, data_dir } => {
            let region = region_from_env().map_err(|e| e.to_string())?;
            let public = match std::env::var("KUSTIQ_PUBLIC_URL") {
                Ok(u) if !u.is_empty() => u,
                _ => format!("http://127.0.0.1:{port}"),
            };
            let stack = start_at(&data_dir, region, &public)
                .await
                .map_err(|e| e.to_string())?;
            let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
                .await
                .map_err(|e| format!("cannot bind 127.0.0.1:{port}: {e}"))?;
            spawn_workers(&stack);
            eprintln!(
                "kustiq-local serving http://127.0.0.1:{port} (region {region}, data {})",
                data_dir.display()
            );
            serve(
                listener,
                Local {
                    router: stack.router.clone(),
                    tokens: stack.tokens.clone(),
                },
            )
            .await
            .map_err(|e| e.to_string())
        }
    }
}
