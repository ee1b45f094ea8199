//! One AWS SDK configuration for every client: rustls with ring (no aws-lc),
//! the region pinned by the workspace region, and an optional endpoint override
//! for DynamoDB Local, dynoxide and moto.

use aws_config::{BehaviorVersion, Region as AwsRegion, SdkConfig};
use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};

/// Where and how to reach AWS.
#[derive(Debug, Clone, Default)]
pub struct AwsTarget {
    /// AWS region name, e.g. `eu-central-1`.
    pub region: String,
    /// Endpoint override (`http://127.0.0.1:8000`) for local engines; `None` in AWS.
    pub endpoint_url: Option<String>,
    /// Use fixed dummy credentials (local engines accept any); `false` loads the
    /// default chain (Lambda's role).
    pub static_test_credentials: bool,
}

impl AwsTarget {
    /// A local engine at `endpoint` in `region` with dummy credentials.
    pub fn local(region: &str, endpoint: &str) -> Self {
        Self {
            region: region.to_owned(),
            endpoint_url: Some(endpoint.to_owned()),
            static_test_credentials: true,
        }
    }
}

/// Builds the shared SDK configuration. Call once per process (Lambda init) and
/// reuse the clients built from it.
pub async fn sdk_config(target: &AwsTarget) -> SdkConfig {
    let http_client = aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .build_https();
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .region(AwsRegion::new(target.region.clone()))
        .http_client(http_client);
    if let Some(endpoint) = &target.endpoint_url {
        loader = loader.endpoint_url(endpoint);
    }
    if target.static_test_credentials {
        loader = loader.credentials_provider(aws_credential_types::Credentials::from_keys(
            "testing", "testing", None,
        ));
    }
    loader.load().await
}
