//! Logging and metrics: `tracing` (JSON in Lambda) and CloudWatch embedded-metric-format counters.

use serde_json::json;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// Installs the global subscriber: JSON lines when running in Lambda, plain text elsewhere.
/// Level from `RUST_LOG` (default `info`). Safe to call more than once.
pub fn init() {
    init_with_default("info");
}

/// [`init`] with `default` as the filter when `RUST_LOG` is unset or does not parse
/// (the local demo prints its own progress and keeps the log to warnings).
///
/// `RUST_LOG` takes a level and `target=level` directives (`warn,kustiq=debug`), read by
/// [`Targets`]: the template only ever sets a level, and `EnvFilter`'s span and field
/// matching would link a regex engine into every function for nothing.
pub fn init_with_default(default: &str) {
    let filter = filter(std::env::var("RUST_LOG").ok().as_deref(), default);
    let in_lambda = std::env::var_os("AWS_LAMBDA_FUNCTION_NAME").is_some();
    let builder = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_target(false);
    let _ = if in_lambda {
        builder
            .json()
            .without_time()
            .finish()
            .with(filter)
            .try_init()
    } else {
        builder
            .with_writer(std::io::stderr)
            .finish()
            .with(filter)
            .try_init()
    };
}

/// The filter `RUST_LOG` (`configured`) asks for, or `default` when it is unset, empty
/// or does not parse; `info` when neither parses.
fn filter(configured: Option<&str>, default: &str) -> Targets {
    configured
        .filter(|c| !c.trim().is_empty())
        .and_then(|c| c.parse().ok())
        .or_else(|| default.parse().ok())
        .unwrap_or_else(|| Targets::new().with_default(tracing::Level::INFO))
}

/// Emits one counter as a CloudWatch embedded-metric-format line on stdout,
/// which CloudWatch turns into a metric without an API call.
pub fn count(metric: &str, dimension: (&str, &str), value: u64) {
    let (dim_name, dim_value) = dimension;
    let line = json!({
        "_aws": {
            "Timestamp": chrono::Utc::now().timestamp_millis(),
            "CloudWatchMetrics": [{
                "Namespace": "Kustiq/Stripe",
                "Dimensions": [[dim_name]],
                "Metrics": [{"Name": metric, "Unit": "Count"}],
            }],
        },
        dim_name: dim_value,
        metric: value,
    });
    if std::env::var_os("AWS_LAMBDA_FUNCTION_NAME").is_some() {
        println!("{line}");
    } else {
        tracing::debug!(target: "metrics", %line);
    }
}

#[cfg(test)]
mod tests {
    use super::filter;
    use tracing::Level;
    use tracing_subscriber::filter::LevelFilter;

    fn level(f: &tracing_subscriber::filter::Targets, target: &str) -> bool {
        f.would_enable(target, &Level::DEBUG)
    }

    #[test]
    fn rust_log_sets_the_level_and_per_target_directives() {
        let f = filter(Some("warn,kustiq=debug"), "info");
        assert!(level(&f, "kustiq::app"));
        assert!(!level(&f, "hyper"));
        assert!(f.would_enable("hyper", &Level::WARN));
        assert_eq!(
            filter(Some("debug"), "info").default_level(),
            Some(LevelFilter::DEBUG)
        );
    }

    #[test]
    fn an_unset_empty_or_unreadable_rust_log_falls_back_to_the_default() {
        for configured in [None, Some(""), Some("  "), Some("kustiq=loud")] {
            let f = filter(configured, "warn");
            assert_eq!(f.default_level(), Some(LevelFilter::WARN), "{configured:?}");
        }
    }
}
