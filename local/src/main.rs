//! `kustiq-local`: runs the product on this machine (see CONTRACT.md).

use clap::{Parser, Subcommand};
use kustiq_local::runner::{deliver_outbound, region_from_env, start};
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
    kustiq::telemetry::init();
    match run(Cli::parse()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("kustiq-local: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<(), String> {
    match cli.command {
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
            let stack = start(&data_dir, region).await.map_err(|e| e.to_string())?;
            let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
                .await
                .map_err(|e| format!("cannot bind 127.0.0.1:{port}: {e}"))?;
            let (store, engine, clock) = (
                stack.store.clone(),
                stack.settings.engine.clone(),
                stack.clock.clone(),
            );
            let outbound_clock = clock.clone();
            tokio::spawn(async move {
                kustiq::app::worker::run_retries(&store, &engine, clock.as_ref()).await;
            });
            let outbound = stack.outbound;
            tokio::spawn(async move {
                deliver_outbound(&outbound, outbound_clock.as_ref()).await;
            });
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
