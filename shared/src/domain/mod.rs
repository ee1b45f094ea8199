//! Pure domain: values and rules, no I/O. Everything here is a function of its inputs and `now`.

pub mod billing_state;
pub mod connection;
pub mod contact;
pub mod engine;
pub mod error_code;
pub mod factors;
pub mod ids;
pub mod lifecycle;
pub mod limits;
pub mod matching;
pub mod money;
pub mod mrr;
pub mod payments;
pub mod plan_history;
pub mod plan_sample;
pub mod profile;
pub mod profile_history;
pub mod profile_view;
pub mod ratio;
pub mod region;
pub mod secret;
pub mod segment;
pub mod signal_name;
pub mod signals;
pub mod time;
