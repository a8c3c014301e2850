//! The commit and restore rules of Kafka Streams, stated once: what a changelog replay puts back
//! into a store, and which transactional records a `read_committed` reader sees.
//!
//! At-least-once writes no transactions: a restore replays the whole changelog (every write that
//! reached it, including those after the last commit, which the task then repeats). Exactly-once
//! v2 restores with a `read_committed` consumer (`StoreChangelogReader` reads up to the last
//! stable offset and skips aborted records), so the store holds committed writes only, matching
//! the committed input offset it resumes from.

use engine::message::{Key, SourceRef};
use engine::window::Window;

/// The state of a transaction (exactly-once v2: one per stream thread and commit).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub enum TxnState {
    Open,
    Committed,
    Aborted,
}

/// One update of a windowed store, as its changelog topic receives it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    /// `value` from source record `source` was added to `key`'s `window`.
    Add { key: Key, window: Window, value: i64, source: SourceRef, ingest_ns: u64 },
    /// The window closed and its final result was emitted (a tombstone: the store forgets it).
    Close { key: Key, window: Window },
}

/// A changelog record: the change and the transaction that wrote it (None: at-least-once).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChangelogEntry {
    pub txn: Option<u32>,
    pub change: Change,
}

/// Does a `read_committed` consumer see a record written in `txn` (None: outside transactions)?
pub fn commit_visible(txn: Option<u32>, txns: &[TxnState]) -> bool {
    match txn {
        None => true,
        Some(x) => txns.get(x as usize) == Some(&TxnState::Committed),
    }
}

/// The changelog records a restore replays, in order: every one under at-least-once, the
/// committed ones under exactly-once v2.
pub fn restored_entries<'a>(
    changelog: &'a [ChangelogEntry],
    txns: &'a [TxnState],
    exactly_once: bool,
) -> impl Iterator<Item = &'a ChangelogEntry> + 'a {
    changelog.iter().filter(move |e| !exactly_once || commit_visible(e.txn, txns))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn add(txn: Option<u32>, offset: u64) -> ChangelogEntry {
        let window = Window::new(0, 10);
        let source = SourceRef { partition: 0, offset };
        ChangelogEntry { txn, change: Change::Add { key: 1, window, value: 1, source, ingest_ns: 0 } }
    }

    #[test]
    fn exactly_once_restores_committed_writes_only_and_at_least_once_all() {
        let txns = [TxnState::Committed, TxnState::Aborted, TxnState::Open];
        let log = [add(Some(0), 0), add(Some(1), 1), add(Some(2), 2)];
        let eos: Vec<_> = restored_entries(&log, &txns, true).collect();
        assert_eq!(eos, vec![&log[0]]);
        let plain = [add(None, 0), add(None, 1)];
        assert_eq!(restored_entries(&plain, &[], false).count(), 2);
    }
}
