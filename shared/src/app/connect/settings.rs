//! What the operator offers: which connection methods, whether a secret key is
//! accepted, the public URL OAuth redirects come back to, and the region served.

use super::ConnectError;
use crate::domain::connection::ConnectMethod;
use crate::domain::region::Region;
use url::Url;

/// The path of the OAuth callback, appended to the public base URL.
pub const CALLBACK_PATH: &str = "/api/v1/integrations/stripe/oauth/callback";

/// What the operator offers: the methods, whether an `sk_…` key is accepted, the
/// public base URL (for redirect URIs), and this deployment's region.
#[derive(Debug, Clone)]
pub struct ConnectSettings {
    /// The methods offered (`KUSTIQ_CONNECT_METHODS`, default all three).
    pub methods: Vec<ConnectMethod>,
    /// Whether `POST …/api-key` accepts a secret key (default no).
    pub allow_secret_key: bool,
    /// The public base URL, e.g. `https://api.kustiq.example`.
    pub public_url: Url,
    /// This deployment's region.
    pub region: Region,
}

impl ConnectSettings {
    /// Every method, no secret keys, at `public_url` in `region`.
    pub fn new(public_url: Url, region: Region) -> Self {
        Self {
            methods: vec![
                ConnectMethod::Connect,
                ConnectMethod::App,
                ConnectMethod::ApiKey,
            ],
            allow_secret_key: false,
            public_url,
            region,
        }
    }

    /// Parses `connect,app,api_key` (any subset, comma-separated).
    pub fn parse_methods(raw: &str) -> Result<Vec<ConnectMethod>, String> {
        raw.split(',')
            .map(str::trim)
            .filter(|m| !m.is_empty())
            .map(|m| match m {
                "connect" => Ok(ConnectMethod::Connect),
                "app" => Ok(ConnectMethod::App),
                "api_key" => Ok(ConnectMethod::ApiKey),
                other => Err(format!("unknown connection method {other:?}")),
            })
            .collect()
    }

    pub(crate) fn redirect_uri(&self) -> String {
        format!(
            "{}{CALLBACK_PATH}",
            self.public_url.as_str().trim_end_matches('/')
        )
    }

    pub(crate) fn offer(&self, method: ConnectMethod) -> Result<(), ConnectError> {
        if self.methods.contains(&method) {
            Ok(())
        } else {
            Err(ConnectError::MethodDisabled(method_name(method)))
        }
    }
}

/// The wire name of a method.
pub fn method_name(m: ConnectMethod) -> &'static str {
    match m {
        ConnectMethod::Connect => "connect",
        ConnectMethod::App => "app",
        ConnectMethod::ApiKey => "api_key",
    }
}
