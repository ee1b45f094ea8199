//! Logging and metrics: `tracing` (JSON in Lambda) and CloudWatch embedded-metric-format counters.

use serde_json::json;

/// Installs the global subscriber: JSON lines when running in Lambda, plain text elsewhere.
/// Level from `RUST_LOG` (default `info`). Safe to call more than once.
pub fn init() {
    init_with_default("info");
}

/// [`init`] with `default` as the filter when `RUST_LOG` is unset (the local demo
/// prints its own progress and keeps the log to warnings).
pub fn init_with_default(default: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let in_lambda = std::env::var_os("AWS_LAMBDA_FUNCTION_NAME").is_some();
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false);
    let _ = if in_lambda {
        builder.json().without_time().try_init()
    } else {
        builder.with_writer(std::io::stderr).try_init()
    };
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
