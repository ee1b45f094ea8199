//! One AWS SDK configuration for every client: rustls with ring (no aws-lc),
//! the region pinned by the workspace region, and an optional endpoint override
//! for DynamoDB Local, dynoxide and moto.

use aws_config::{BehaviorVersion, Region as AwsRegion, SdkConfig};
use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnectorSettings, SharedHttpClient, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::runtime_components::{
    RuntimeComponents, RuntimeComponentsBuilder,
};
use aws_smithy_runtime_api::shared::IntoShared;
use aws_smithy_types::config_bag::ConfigBag;
use std::sync::OnceLock;

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
    let http_client = ValidatedOnce::shared(
        aws_smithy_http_client::Builder::new()
            .tls_provider(Provider::Rustls(CryptoMode::Ring))
            .build_https(),
    );
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

/// The SDK's HTTP client, checked once however many SDK clients share it.
///
/// The SDK's hyper client builds a throwaway TLS connector each time an SDK client
/// is created (`validate_base_client_config`), to load the trust roots at init: it
/// parses the whole CA bundle again for every client, and a function creates one per
/// table, secret and key reader it wires (plus STS for the credential chain). The
/// first check does that; the rest are skipped. Connectors for requests are built
/// and cached by the inner client as before.
#[derive(Debug)]
struct ValidatedOnce {
    inner: SharedHttpClient,
    checked: OnceLock<Result<(), String>>,
}

impl ValidatedOnce {
    fn shared(inner: SharedHttpClient) -> SharedHttpClient {
        Self {
            inner,
            checked: OnceLock::new(),
        }
        .into_shared()
    }
}

impl HttpClient for ValidatedOnce {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        self.inner.http_connector(settings, components)
    }

    fn validate_base_client_config(
        &self,
        runtime_components: &RuntimeComponentsBuilder,
        cfg: &ConfigBag,
    ) -> Result<(), BoxError> {
        self.checked
            .get_or_init(|| {
                self.inner
                    .validate_base_client_config(runtime_components, cfg)
                    .map_err(|e| e.to_string())
            })
            .clone()
            .map_err(BoxError::from)
    }

    fn validate_final_config(
        &self,
        runtime_components: &RuntimeComponents,
        cfg: &ConfigBag,
    ) -> Result<(), BoxError> {
        self.inner.validate_final_config(runtime_components, cfg)
    }

    fn connector_metadata(
        &self,
    ) -> Option<aws_smithy_runtime_api::client::connector_metadata::ConnectorMetadata> {
        self.inner.connector_metadata()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_smithy_runtime_api::client::http::{HttpConnector, HttpConnectorFuture};
    use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
    use aws_smithy_runtime_api::client::result::ConnectorError;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A connector that sends nothing.
    #[derive(Debug)]
    struct Refusing;

    impl HttpConnector for Refusing {
        fn call(&self, _: HttpRequest) -> HttpConnectorFuture {
            HttpConnectorFuture::ready(Err(ConnectorError::other(
                "no request in this test".into(),
                None,
            )))
        }
    }

    /// An HTTP client that counts its checks and never connects.
    #[derive(Debug, Default)]
    struct Counting {
        checks: Arc<AtomicUsize>,
    }

    impl HttpClient for Counting {
        fn http_connector(
            &self,
            _: &HttpConnectorSettings,
            _: &RuntimeComponents,
        ) -> SharedHttpConnector {
            Refusing.into_shared()
        }

        fn validate_base_client_config(
            &self,
            _: &RuntimeComponentsBuilder,
            _: &ConfigBag,
        ) -> Result<(), BoxError> {
            self.checks.fetch_add(1, Ordering::SeqCst);
            Ok(())
        }
    }

    #[test]
    fn sdk_clients_sharing_one_config_check_its_http_client_once() {
        let checks = Arc::new(AtomicUsize::new(0));
        let http = ValidatedOnce::shared(
            Counting {
                checks: checks.clone(),
            }
            .into_shared(),
        );
        let config = aws_sdk_dynamodb::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(AwsRegion::new("eu-central-1"))
            .http_client(http)
            .build();
        for _ in 0..4 {
            let _ = aws_sdk_dynamodb::Client::from_conf(config.clone());
        }
        assert_eq!(checks.load(Ordering::SeqCst), 1);
    }
}
