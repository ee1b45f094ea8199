//! Pure domain: values and rules, no I/O. Everything here is a function of its inputs and `now`.

pub mod error_code;
pub mod ids;
pub mod money;
pub mod region;
pub mod secret;
pub mod time;
