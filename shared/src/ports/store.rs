//! What every store port shares: the error contract and page cursors.
//! The entity ports (event log, connections, billing state, profiles …) live
//! in their own files and all return [`StoreError`].

/// A store operation failed.
///
/// Contract: `Conflict` means a conditional write found the item in another
/// state and changed nothing; `TransactionCancelled` means no item of the
/// transaction was written; `Unavailable` is retryable; `Corrupt` means a
/// stored item could not be read back (a bug or a manual edit), never retried.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A condition on the write did not hold; nothing was written.
    #[error("conditional write conflict")]
    Conflict,
    /// A transaction was cancelled as a whole; nothing was written.
    #[error("transaction cancelled: {reasons}")]
    TransactionCancelled {
        /// DynamoDB's cancellation reasons, one per item, comma-separated.
        reasons: String,
    },
    /// The store could not be reached, throttled, or failed; retry later.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// A stored item or a cursor could not be decoded.
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// A page cursor from a client did not decode.
    #[error("invalid cursor")]
    BadCursor,
    /// The store rejected the request as malformed (a bug, never retried).
    #[error("store rejected the request: {0}")]
    Invalid(String),
}

impl StoreError {
    /// Whether the same call may succeed later.
    pub fn retryable(&self) -> bool {
        matches!(self, Self::Unavailable(_))
    }
}

/// One page of a query and where the next one starts.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    /// The items of this page, in query order.
    pub items: Vec<T>,
    /// Opaque cursor for the next page; `None` on the last page.
    pub next_cursor: Option<String>,
}
