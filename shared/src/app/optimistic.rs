//! The one optimistic-concurrency loop every rescoring path uses (ingest,
//! profile change, later backfill and rematch): read, compute, commit under a
//! version condition; on a race, back off a little and do it again.

use crate::ports::store::Committed;
use std::future::Future;
use std::time::Duration;

/// Rounds before a write gives up as contended (nothing of it written).
pub const MAX_ROUNDS: u32 = 12;

/// How a round of [`until_committed`] ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Round<T> {
    /// Committed (or nothing to commit): the result.
    Done(T),
    /// Another writer got there first: nothing written; read again.
    Raced,
}

impl<T> Round<T> {
    /// A store commit outcome as a round: `Raced` retries, anything else ends with `value`.
    pub fn from_commit(committed: Committed, value: impl FnOnce(Committed) -> T) -> Self {
        match committed {
            Committed::Raced => Self::Raced,
            other => Self::Done(value(other)),
        }
    }
}

/// Runs `attempt` until it is done, at most [`MAX_ROUNDS`] times. `Ok(None)`
/// means every round raced: nothing was written, the caller answers "retry".
/// Between rounds it sleeps a random 0–2^round ms, so many writers of one
/// item spread out instead of colliding again in lockstep.
pub async fn until_committed<T, E, F, Fut>(mut attempt: F) -> Result<Option<T>, E>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Round<T>, E>>,
{
    for round in 0..MAX_ROUNDS {
        match attempt().await? {
            Round::Done(v) => return Ok(Some(v)),
            Round::Raced => {
                let cap = 1u64 << round.min(8);
                tokio::time::sleep(Duration::from_millis(fastrand::u64(0..=cap))).await;
            }
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    #[tokio::test]
    async fn a_race_is_retried_until_the_commit_lands() {
        let calls = Cell::new(0);
        let out: Result<Option<u32>, ()> = until_committed(|| {
            calls.set(calls.get() + 1);
            let n = calls.get();
            async move { Ok(if n < 3 { Round::Raced } else { Round::Done(n) }) }
        })
        .await;
        assert_eq!(out, Ok(Some(3)));
    }

    #[tokio::test]
    async fn endless_races_give_up_with_nothing_written() {
        let calls = Cell::new(0);
        let out: Result<Option<()>, ()> = until_committed(|| {
            calls.set(calls.get() + 1);
            async { Ok(Round::Raced) }
        })
        .await;
        assert_eq!((out, calls.get()), (Ok(None), MAX_ROUNDS));
    }
}
