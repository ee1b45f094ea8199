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

/// How an optimistic commit ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Committed {
    /// Everything written.
    Done,
    /// The event was already recorded by someone else: nothing written.
    Duplicate,
    /// Another writer changed a versioned item first: nothing written; read
    /// again and retry (see `app::optimistic`).
    Raced,
}

/// How many items a page holds: 1 to [`PageSize::MAX`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct PageSize(u16);

impl PageSize {
    /// The largest page any query asks for.
    pub const MAX: u16 = 1_000;
    /// One item.
    pub const MIN: Self = Self(1);

    /// `n` if it is between 1 and [`PageSize::MAX`].
    pub const fn new(n: u16) -> Option<Self> {
        if n >= 1 && n <= Self::MAX {
            Some(Self(n))
        } else {
            None
        }
    }

    /// The size.
    pub const fn get(self) -> u16 {
        self.0
    }
}

/// Where a query resumes, as the store encoded it. Never shown to a client
/// as is: the API seals it (`app::cursor`) so it cannot be forged or moved
/// to another workspace or query.
#[derive(Clone, PartialEq, Eq)]
pub struct StoreCursor(String);

impl StoreCursor {
    /// Wraps the store's encoding.
    pub fn new(raw: String) -> Self {
        Self(raw)
    }

    /// The store's encoding.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for StoreCursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StoreCursor(..)")
    }
}

/// One page of a query and where the next one starts.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    /// The items of this page, in query order.
    pub items: Vec<T>,
    /// Where the next page starts; `None` on the last page.
    pub next_cursor: Option<StoreCursor>,
}
