//! Adapters: implementations of the ports against AWS, Stripe and the local machine.

pub mod aws;
pub mod clock;
pub mod dynamo;
pub mod kms;
pub mod local;
pub mod outbound;
pub mod runtime;
pub mod secrets;
pub mod stripe;
