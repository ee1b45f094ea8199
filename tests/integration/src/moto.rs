//! moto_server helpers for the KMS and Secrets Manager tests.

use aws_config::SdkConfig;
use kustiq::adapters::aws::{AwsTarget, sdk_config};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// The moto_server endpoint from `KUSTIQ_TEST_MOTO_ENDPOINT`. Panics, never
/// skips, when it is unset: these tests must run against moto.
pub fn endpoint() -> String {
    match std::env::var("KUSTIQ_TEST_MOTO_ENDPOINT") {
        Ok(v) if !v.is_empty() => v,
        _ => panic!(
            "KUSTIQ_TEST_MOTO_ENDPOINT is not set: run the tests through ./scripts/test, \
             or start moto_server and export KUSTIQ_TEST_MOTO_ENDPOINT=http://127.0.0.1:<port>"
        ),
    }
}

/// A name no other test run has used against the same moto (moto keeps state).
pub fn unique_name(prefix: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!(
        "{prefix}-{}-{nanos}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// An SDK configuration for moto in `region`.
pub async fn config(region: &str) -> SdkConfig {
    sdk_config(&AwsTarget::local(region, &endpoint())).await
}

/// A new symmetric KMS key in `region`; returns the configuration and the key ARN.
pub async fn create_kms_key(region: &str) -> (SdkConfig, String) {
    let config = config(region).await;
    let out = aws_sdk_kms::Client::new(&config)
        .create_key()
        .description(unique_name("kustiq-test-key"))
        .send()
        .await
        .unwrap_or_else(|e| {
            panic!(
                "CreateKey in {region}: {}",
                aws_sdk_kms::error::DisplayErrorContext(e)
            )
        });
    let arn = out
        .key_metadata()
        .map(|m| m.arn().unwrap_or(m.key_id()).to_owned())
        .unwrap_or_else(|| panic!("CreateKey in {region} returned no key metadata"));
    (config, arn)
}

/// Creates secret `id` with `value` in Secrets Manager.
pub async fn create_secret(config: &SdkConfig, id: &str, value: &str) {
    aws_sdk_secretsmanager::Client::new(config)
        .create_secret()
        .name(id)
        .secret_string(value)
        .send()
        .await
        .unwrap_or_else(|e| {
            panic!(
                "CreateSecret {id}: {}",
                aws_sdk_secretsmanager::error::DisplayErrorContext(e)
            )
        });
}

/// Stores a new current value for secret `id` (as a rotation would).
pub async fn update_secret(config: &SdkConfig, id: &str, value: &str) {
    aws_sdk_secretsmanager::Client::new(config)
        .put_secret_value()
        .secret_id(id)
        .secret_string(value)
        .send()
        .await
        .unwrap_or_else(|e| {
            panic!(
                "PutSecretValue {id}: {}",
                aws_sdk_secretsmanager::error::DisplayErrorContext(e)
            )
        });
}
