//! [`Sender`] over reqwest: the signed POST of an outbound churn event, behind
//! the SSRF guard.
//!
//! The guard runs twice: `check` (registration) parses the URL and resolves its
//! host; at delivery the client's own DNS resolver is [`GuardedResolver`], which
//! refuses a name if any address it resolves to is forbidden — so a host that
//! passed registration and later re-resolves to 169.254.169.254 (DNS rebinding)
//! is refused at connect time, with no window between check and connect. A
//! literal IP host never reaches a resolver, so `post` checks the URL first.
//! No proxy (it would resolve for us), no redirect (it could point anywhere),
//! short timeouts, and at most [`MAX_ANSWER_BYTES`] of the answer read.

use crate::app::outbound::target::TargetPolicy;
use crate::ports::outbound::{Sender, Sent, TargetError};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// The answer's body is read up to this many bytes, then dropped.
pub const MAX_ANSWER_BYTES: usize = 4 * 1024;

/// The header carrying the signature.
pub const SIGNATURE_HEADER: &str = "Kustiq-Signature";

/// Timeouts of one POST.
#[derive(Debug, Clone, Copy)]
pub struct SendTimeouts {
    /// TCP and TLS connect.
    pub connect: Duration,
    /// The whole request, answer included.
    pub request: Duration,
}

impl Default for SendTimeouts {
    /// 3 s to connect, 10 s in all: a receiver should acknowledge first and work later.
    fn default() -> Self {
        Self {
            connect: Duration::from_secs(3),
            request: Duration::from_secs(10),
        }
    }
}

/// A DNS resolver that refuses names resolving to addresses the policy forbids.
#[derive(Debug, Clone, Copy)]
pub struct GuardedResolver {
    policy: TargetPolicy,
}

/// Resolves `host` and checks every address against `policy`.
async fn resolve_checked(host: &str, policy: TargetPolicy) -> Result<Vec<SocketAddr>, TargetError> {
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, 0))
        .await
        .map_err(|_| TargetError::Unresolvable)?
        .collect();
    if addrs.is_empty() {
        return Err(TargetError::Unresolvable);
    }
    // One forbidden address refuses the name: the connector could pick any of them.
    if addrs.iter().any(|a| !policy.allows(a.ip())) {
        return Err(TargetError::Forbidden);
    }
    Ok(addrs)
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let policy = self.policy;
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addrs = resolve_checked(&host, policy).await?;
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// Sends outbound events with reqwest behind the guard.
#[derive(Debug, Clone)]
pub struct HttpSender {
    client: reqwest::Client,
    policy: TargetPolicy,
}

impl HttpSender {
    /// A sender enforcing `policy` with `timeouts`.
    pub fn new(policy: TargetPolicy, timeouts: SendTimeouts) -> Result<Self, String> {
        let client = crate::adapters::stripe::http_builder()
            .map_err(|e| e.to_string())?
            .dns_resolver(Arc::new(GuardedResolver { policy }))
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(timeouts.connect)
            .timeout(timeouts.request)
            .user_agent("Kustiq-Webhooks/1")
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Self { client, policy })
    }

    /// The policy it enforces.
    pub fn policy(&self) -> TargetPolicy {
        self.policy
    }
}

/// The guard's refusal inside a transport error, if that is what it is.
fn refusal(e: &reqwest::Error) -> Option<TargetError> {
    std::iter::successors(std::error::Error::source(e), |s| s.source())
        .find_map(|s| s.downcast_ref::<TargetError>().cloned())
}

/// Our words for a transport failure: never the remote's text or an address.
fn describe(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timed out".into()
    } else if e.is_connect() {
        "could not connect".into()
    } else {
        "the request failed".into()
    }
}

impl Sender for HttpSender {
    async fn check(&self, url: &str) -> Result<(), TargetError> {
        let parsed = self.policy.parse(url)?;
        match parsed.host() {
            Some(url::Host::Domain(d)) => resolve_checked(d, self.policy).await.map(|_| ()),
            // Literal addresses were judged by `parse`.
            _ => Ok(()),
        }
    }

    async fn post(&self, url: &str, signature: &str, body: &str) -> Sent {
        let parsed = match self.policy.parse(url) {
            Ok(u) => u,
            Err(e) => return Sent::Refused(e),
        };
        let sent = self
            .client
            .post(parsed)
            .header(http::header::CONTENT_TYPE, "application/json")
            .header(SIGNATURE_HEADER, signature)
            .body(body.to_owned())
            .send()
            .await;
        let mut resp = match sent {
            Ok(r) => r,
            Err(e) => {
                return match refusal(&e) {
                    Some(t) => Sent::Refused(t),
                    None => Sent::NoAnswer(describe(&e)),
                };
            }
        };
        let status = resp.status().as_u16();
        // Read a little of the answer (so a well-behaved server sees it taken), never more.
        let mut read = 0usize;
        while read < MAX_ANSWER_BYTES {
            match resp.chunk().await {
                Ok(Some(c)) => read += c.len(),
                _ => break,
            }
        }
        Sent::Answered(status)
    }
}
