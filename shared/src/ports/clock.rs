//! The current time, as a port so tests control `now`.

use crate::domain::time::Timestamp;

/// Tells the current UTC time. Infallible.
pub trait Clock: Send + Sync {
    /// Now, in UTC.
    fn now(&self) -> Timestamp;
}
