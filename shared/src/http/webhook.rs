//! `POST /webhooks/stripe`: verify on the raw body first, then ingest.
//! Rejections store nothing and are counted by reason.

use crate::app::connect::open_webhook_secrets;
use crate::app::ingest::{Ignored, IngestError, Ingested, ingest};
use crate::domain::error_code::ErrorCode;
use crate::domain::ids::ConnectionId;
use crate::domain::secret::Secret;
use crate::domain::time::Timestamp;
use crate::http::Settings;
use crate::http::error::{ApiError, ok};
use crate::http::router::{Reply, Routes, method_not_allowed};
use crate::ports::catalog::{CatalogSources, CatalogStore};
use crate::ports::clock::Clock;
use crate::ports::connections::{ConnectionStore, GrantStore};
use crate::ports::events::EventLog;
use crate::ports::ingest::IngestStore;
use crate::ports::keys::{NoSealer, Sealer};
use crate::ports::secrets::{SecretError, SecretName, SecretSource};
use crate::stripe::VerifiedEvent;
use crate::stripe::verify_and_parse;
use crate::telemetry::count;
use futures::future::BoxFuture;
use lambda_http::Request;
use serde_json::json;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use tracing::Instrument;

/// The webhook function's routes and what they need: the store, the endpoint
/// secrets, the Stripe reads that fill what a payload lacks, the clock. Nothing else
/// is built in that function.
pub struct WebhookRoutes<S, K, C, Z = NoSealer> {
    /// The table.
    pub store: S,
    /// Endpoint signing secrets.
    pub secrets: K,
    /// Catalog reads per connected account (tiers, coupons, a disputed charge's owner).
    pub sources: C,
    /// Now.
    pub clock: Arc<dyn Clock>,
    /// Settings.
    pub settings: Settings,
    /// Opens a restricted-key connection's own endpoint secrets.
    pub sealer: Z,
    missing_secret_logged: AtomicBool,
}

impl<S, K, C> WebhookRoutes<S, K, C> {
    /// The group over its dependencies.
    pub fn new(
        store: S,
        secrets: K,
        sources: C,
        clock: Arc<dyn Clock>,
        settings: Settings,
    ) -> Self {
        Self {
            store,
            secrets,
            sources,
            clock,
            settings,
            sealer: NoSealer,
            missing_secret_logged: AtomicBool::new(false),
        }
    }

    /// The same routes opening per-connection endpoint secrets with `sealer`
    /// (`POST /webhooks/stripe/c/{connection_id}` answers 400 without one).
    pub fn with_sealer<Z: Sealer>(self, sealer: Z) -> WebhookRoutes<S, K, C, Z> {
        WebhookRoutes {
            store: self.store,
            secrets: self.secrets,
            sources: self.sources,
            clock: self.clock,
            settings: self.settings,
            sealer,
            missing_secret_logged: self.missing_secret_logged,
        }
    }
}

const ROUTES: &[(&str, &str)] = &[
    ("POST", "/webhooks/stripe"),
    ("POST", "/webhooks/stripe/c/{connection_id}"),
];

impl<S, K, C, Z> Routes for WebhookRoutes<S, K, C, Z>
where
    S: ConnectionStore
        + GrantStore
        + EventLog
        + IngestStore
        + CatalogStore
        + crate::app::matching::MatchingStores
        + 'static,
    K: SecretSource + Send + Sync + 'static,
    C: CatalogSources + 'static,
    Z: Sealer + 'static,
{
    fn serve<'a>(&'a self, req: &'a Request, path: &'a [&'a str]) -> Option<BoxFuture<'a, Reply>> {
        match (req.method().as_str(), path) {
            ("POST", ["webhooks", "stripe"]) => Some(Box::pin(self.receive(req))),
            ("POST", ["webhooks", "stripe", "c", id]) => {
                Some(Box::pin(self.receive_for_connection(req, id)))
            }
            (_, ["webhooks", "stripe"] | ["webhooks", "stripe", "c", _]) => method_not_allowed(req),
            _ => None,
        }
    }

    fn routes(&self) -> &'static [(&'static str, &'static str)] {
        ROUTES
    }
}

fn reject(reason: &str, err: impl Into<ApiError>) -> ApiError {
    count("WebhooksRejected", ("Reason", reason), 1);
    err.into()
}

/// The body and signature header of a delivery, or the rejection.
fn delivery(req: &Request, max_bytes: usize) -> Result<(&[u8], &str), ApiError> {
    let body: &[u8] = req.body().as_ref();
    if body.len() > max_bytes {
        return Err(reject(
            "too_large",
            ApiError::too_large("webhook body larger than 1 MiB"),
        ));
    }
    let Some(header) = req
        .headers()
        .get("stripe-signature")
        .and_then(|h| h.to_str().ok())
    else {
        return Err(reject(
            "signature",
            ApiError::new(
                ErrorCode::ERR_WEBHOOK_SIG,
                "missing Stripe-Signature header",
            ),
        ));
    };
    Ok((body, header))
}

impl<S, K, C, Z> WebhookRoutes<S, K, C, Z>
where
    S: ConnectionStore
        + GrantStore
        + EventLog
        + IngestStore
        + CatalogStore
        + crate::app::matching::MatchingStores,
    K: SecretSource + Send + Sync,
    C: CatalogSources,
    Z: Sealer,
{
    /// `POST /webhooks/stripe/c/{connection_id}`: a restricted-key connection's
    /// own endpoint, verified with the secrets set for that connection. An unknown
    /// connection (or one without secrets) answers as a bad signature, so ids
    /// cannot be probed.
    async fn receive_for_connection(&self, req: &Request, id: &str) -> Reply {
        let (body, header) = delivery(req, self.settings.max_webhook_bytes)?;
        let unknown = || {
            reject(
                "signature",
                ApiError::new(
                    ErrorCode::ERR_WEBHOOK_SIG,
                    "no signing secret matches this endpoint",
                ),
            )
        };
        let Ok(id) = ConnectionId::parse(id) else {
            return Err(unknown());
        };
        let grant = match self.store.grant_by_id(&id).await {
            Ok(Some((g, _))) => g,
            Ok(None) => return Err(unknown()),
            Err(e) => return Err(reject("store", e)),
        };
        let secrets = match open_webhook_secrets(&self.sealer, &grant).await {
            Ok(s) if !s.is_empty() => s,
            Ok(_) => return Err(unknown()),
            Err(e) => {
                tracing::error!(error = %e, retryable = e.is_retryable(), "connection webhook secrets could not be opened");
                return Err(reject("secrets", ApiError::unavailable()));
            }
        };
        let now = self.clock.now();
        let event = self.verify(header, body, &secrets, now)?;
        let Some(event) = event.for_account(&grant.account_id) else {
            return Err(reject(
                "account",
                ApiError::bad_request("the event names another Stripe account"),
            ));
        };
        self.accept(event, now).await
    }

    /// Handles one delivery. 2xx only once the event is durably recorded (or
    /// deliberately ignored); 5xx when recording failed or Stripe could not be read
    /// for what the payload lacks, so Stripe retries.
    async fn receive(&self, req: &Request) -> Reply {
        let (body, header) = delivery(req, self.settings.max_webhook_bytes)?;
        let secrets = match self
            .secrets
            .get_list(&SecretName::STRIPE_WEBHOOK_SECRET)
            .await
        {
            Ok(s) => s,
            Err(e) => return Err(reject("secrets", self.secrets_error(&e))),
        };
        let now = self.clock.now();
        let event = self.verify(header, body, &secrets, now)?;
        self.accept(event, now).await
    }

    /// Verifies the signature over the raw body, then parses it.
    fn verify(
        &self,
        header: &str,
        body: &[u8],
        secrets: &[Secret],
        now: Timestamp,
    ) -> Result<VerifiedEvent, ApiError> {
        verify_and_parse(
            header,
            body,
            secrets,
            now,
            self.settings.webhook_tolerance_secs,
        )
        .map_err(|e| {
            let reason = match e.code() {
                ErrorCode::ERR_WEBHOOK_STALE => "stale",
                ErrorCode::ERR_WEBHOOK_SIG => "signature",
                _ => "not_an_event",
            };
            reject(reason, e)
        })
    }

    /// Ingests a verified event and answers.
    async fn accept(&self, event: VerifiedEvent, now: Timestamp) -> Reply {
        // One span per delivery, attached to the future: never entered across an
        // await, so concurrent deliveries never log under each other's event.
        let span = tracing::info_span!(
            "webhook",
            event_id = %event.id,
            stripe_account = event.account.as_ref().map(|a| a.as_str()).unwrap_or("-"),
            event_type = %event.kind,
        );
        let outcome = ingest(
            &self.store,
            &self.sources,
            &self.settings.engine,
            now,
            event,
        )
        .instrument(span)
        .await
        .map_err(|e| match e {
            IngestError::Store(_) => reject("store", e),
            IngestError::Stripe(_) => reject("stripe", e),
        })?;
        let label = outcome_label(&outcome);
        count("WebhooksAccepted", ("Outcome", label), 1);
        Ok(ok(&json!({"received": true, "outcome": label})))
    }

    /// A missing or unusable endpoint secret is our configuration's fault: a
    /// server-side configuration error, logged once per process; an unreachable
    /// secret service is "unavailable, retry".
    fn secrets_error(&self, e: &SecretError) -> ApiError {
        match e {
            SecretError::Unavailable(_) => {
                tracing::error!(error = %e, "webhook secrets unavailable");
                ApiError::unavailable()
            }
            _ => {
                if !self.missing_secret_logged.swap(true, Ordering::Relaxed) {
                    tracing::error!(error = %e, "webhook endpoint secret is not configured");
                }
                ApiError::new(
                    ErrorCode::ERR_CONFIG,
                    "the webhook endpoint is not configured",
                )
            }
        }
    }
}

/// The outcome's name in answers and metrics (shared with `crate::events_ingress`).
pub(crate) fn outcome_label(outcome: &Ingested) -> &'static str {
    match outcome {
        Ingested::Applied { .. } => "applied",
        Ingested::Duplicate => "duplicate",
        Ingested::Ignored(Ignored::EventType(_)) => "ignored_type",
        Ingested::Ignored(Ignored::UnknownAccount) => "unknown_account",
        Ingested::Ignored(Ignored::NotConnected) => "not_connected",
        Ingested::Ignored(Ignored::NoCustomer) => "no_customer",
        Ingested::ModeMismatch => "mode_mismatch",
        Ingested::Deauthorized => "deauthorized",
        Ingested::Deferred { .. } => "deferred",
    }
}
