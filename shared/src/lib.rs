//! Kustiq's read-only Stripe integration for the churn engine.
//!
//! Data flows one way (see `docs/architecture.md`):
//! raw body → verify → event → record → billing state → usage signals → factors → score → API.
//!
//! - [`domain`]: pure values and rules (no I/O).
//! - [`stripe`]: Stripe's wire formats: webhook signatures and the typed objects we read.
//! - [`ports`]: the small traits use cases depend on.
//! - [`adapters`]: AWS, Stripe and local implementations of the ports.
//! - [`app`]: use cases (domain + ports).
//! - [`http`]: lambda_http requests ⇄ use cases; the one place errors become status codes.
//! - [`events_ingress`]: Stripe's Amazon EventBridge destination, the second way into ingest.
//! - [`scheduled`]: the scheduled functions' jobs; the one place their errors become Lambda diagnostics.
//! - [`wiring`]: the composition root: which adapters each function builds.

pub mod adapters;
pub mod app;
pub mod domain;
pub mod events_ingress;
pub mod http;
pub mod ports;
pub mod scheduled;
pub mod stripe;
pub mod telemetry;
pub mod wiring;
