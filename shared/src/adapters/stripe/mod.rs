//! The read-only Stripe client (reqwest, rustls with ring).
//!
//! Read-only by construction: the only request the API client can send is a
//! `GET` to one of the fixed read endpoints of `ReadPath`; the only `POST`s
//! are the OAuth token and deauthorize calls of [`StripeOAuth`], restricted to
//! the three OAuth paths.
//!
//! Build one [`StripeClient`] per process (it owns the connection pool and the
//! per-account rate limiters), then an [`AccountReader`] per connected account;
//! `AccountReader` implements [`crate::ports::stripe::StripeReader`].

mod catalog;
mod client;
mod config;
mod credentials;
mod limiter;
mod oauth;
mod path;
mod platform;
mod reader;
mod readers;
mod response;
mod retry;
mod tls;

pub use crate::ports::stripe::StripeError;
pub use catalog::PlatformSources;
pub use client::{ClientStats, StripeClient, http_builder};
pub use config::StripeConfig;
pub use credentials::{StripeCredentials, StripeMode};
pub use oauth::{OAuthGrant, StripeOAuth};
pub use platform::Platform;
pub use reader::AccountReader;
pub use readers::PlatformReaders;
pub use retry::RetryPolicy;
