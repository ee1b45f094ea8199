//! Local adapters for the embedded default (`kustiq-local`): no AWS account,
//! everything under the data dir or in environment variables.

pub mod keys;
pub mod secrets;
