//! Trident: tuples processed in small batches, each with a transaction id. Batches may be
//! processed concurrently (up to `max.spout.pending` of them) but their state updates commit
//! strictly in txid order. A failed batch is replayed with the same txid and — for a
//! transactional spout — the same tuples. State stores the txid with each value, so a replayed
//! batch whose update was already stored is skipped: exactly-once state.

use std::collections::BTreeMap;

/// Where a batch is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BatchStatus {
    /// Emitted; its tuples are being processed.
    Processing,
    /// Every tuple processed (the batch's tree completed); waiting for its turn to commit.
    Processed,
    /// The commit was sent to the state tasks.
    Committing,
}

/// The master batch coordinator: hands out txids, tracks batches, orders commits.
#[derive(Clone, Debug)]
pub struct TridentCoordinator<B: Clone> {
    max_in_flight: usize,
    next_txid: u64,
    batches: BTreeMap<u64, (B, BatchStatus)>,
    /// Failed batches to emit again (same txid, same content).
    replay: BTreeMap<u64, B>,
    pub committed: u64,
    pub replayed: u64,
}

impl<B: Clone> TridentCoordinator<B> {
    pub fn new(max_in_flight: usize) -> Self {
        TridentCoordinator {
            max_in_flight: max_in_flight.max(1),
            next_txid: 1,
            batches: BTreeMap::new(),
            replay: BTreeMap::new(),
            committed: 0,
            replayed: 0,
        }
    }

    pub fn in_flight(&self) -> usize {
        self.batches.len()
    }

    /// A failed batch to emit again, lowest txid first.
    pub fn take_replay(&mut self) -> Option<(u64, B)> {
        if self.batches.len() >= self.max_in_flight {
            return None;
        }
        let (txid, batch) = self.replay.pop_first()?;
        self.replayed += 1;
        self.batches.insert(txid, (batch.clone(), BatchStatus::Processing));
        Some((txid, batch))
    }

    /// Whether a new batch may start (nothing to replay, room in flight).
    pub fn can_begin(&self) -> bool {
        self.replay.is_empty() && self.batches.len() < self.max_in_flight
    }

    /// Start a new batch with `content`; returns its txid.
    pub fn begin(&mut self, content: B) -> u64 {
        let txid = self.next_txid;
        self.next_txid += 1;
        self.batches.insert(txid, (content, BatchStatus::Processing));
        txid
    }

    pub fn processed(&mut self, txid: u64) {
        if let Some((_, s)) = self.batches.get_mut(&txid) {
            if *s == BatchStatus::Processing {
                *s = BatchStatus::Processed;
            }
        }
    }

    /// The batch to commit next: the lowest txid in flight, if processed and no commit runs.
    pub fn next_commit(&mut self) -> Option<u64> {
        let (&txid, (_, status)) = self.batches.iter_mut().next()?;
        if *status == BatchStatus::Processed && txid == self.committed + 1 {
            *status = BatchStatus::Committing;
            return Some(txid);
        }
        None
    }

    /// Every state task stored the batch's updates.
    pub fn commit_done(&mut self, txid: u64) -> Option<B> {
        let (b, _) = self.batches.remove(&txid)?;
        self.committed = self.committed.max(txid);
        Some(b)
    }

    /// A batch failed or timed out (while processing or committing): replay it.
    pub fn fail(&mut self, txid: u64) {
        if let Some((b, _)) = self.batches.remove(&txid) {
            self.replay.insert(txid, b);
        }
    }

    pub fn status(&self, txid: u64) -> Option<BatchStatus> {
        self.batches.get(&txid).map(|(_, s)| *s)
    }

    pub fn txids_in_flight(&self) -> Vec<u64> {
        self.batches.keys().copied().collect()
    }

    pub fn is_idle(&self) -> bool {
        self.batches.is_empty() && self.replay.is_empty()
    }
}

/// Transactional state: value and the txid that last wrote it. A batch's txid equal to the
/// stored one means "already applied": skip.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TransactionalState<K: Ord, V> {
    pub map: BTreeMap<K, (V, u64)>,
    pub skipped: u64,
}

impl<K: Ord, V> Default for TransactionalState<K, V> {
    fn default() -> Self {
        TransactionalState { map: BTreeMap::new(), skipped: 0 }
    }
}

impl<K: Ord, V: Clone> TransactionalState<K, V> {
    /// Apply `update` of batch `txid` to `key`; false when skipped as already applied.
    pub fn apply(&mut self, key: K, txid: u64, update: impl FnOnce(Option<&V>) -> V) -> bool {
        match self.map.get(&key) {
            Some((_, stored)) if *stored == txid => {
                self.skipped += 1;
                false
            }
            current => {
                let v = update(current.map(|(v, _)| v));
                self.map.insert(key, (v, txid));
                true
            }
        }
    }
    pub fn get(&self, key: &K) -> Option<&V> {
        self.map.get(key).map(|(v, _)| v)
    }
}

/// Opaque-transactional state: value, the value before the last txid, and that txid. A replayed
/// batch may carry other tuples (an opaque spout), so it is re-applied on top of the previous
/// value instead of skipped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpaqueState<K: Ord, V> {
    pub map: BTreeMap<K, (V, Option<V>, u64)>,
}

impl<K: Ord, V> Default for OpaqueState<K, V> {
    fn default() -> Self {
        OpaqueState { map: BTreeMap::new() }
    }
}

impl<K: Ord, V: Clone> OpaqueState<K, V> {
    pub fn apply(&mut self, key: K, txid: u64, update: impl FnOnce(Option<&V>) -> V) {
        let next = match self.map.remove(&key) {
            Some((_, prev, stored)) if stored == txid => (update(prev.as_ref()), prev, txid),
            Some((curr, _, _)) => (update(Some(&curr)), Some(curr), txid),
            None => (update(None), None, txid),
        };
        self.map.insert(key, next);
    }
    pub fn get(&self, key: &K) -> Option<&V> {
        self.map.get(key).map(|(v, _, _)| v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_commit_in_order_and_a_failed_one_replays_with_its_txid() {
        let mut c: TridentCoordinator<&str> = TridentCoordinator::new(2);
        let a = c.begin("a");
        let b = c.begin("b");
        assert!(!c.can_begin());
        c.processed(b);
        assert_eq!(c.next_commit(), None, "batch 2 waits for batch 1");
        c.fail(a);
        assert_eq!(c.take_replay(), Some((a, "a")));
        c.processed(a);
        assert_eq!(c.next_commit(), Some(a));
        assert_eq!(c.commit_done(a), Some("a"));
        assert_eq!(c.next_commit(), Some(b));
    }

    #[test]
    fn transactional_state_applies_a_replayed_batch_once() {
        let mut s: TransactionalState<u64, i64> = TransactionalState::default();
        assert!(s.apply(1, 1, |v| v.copied().unwrap_or(0) + 3));
        assert!(!s.apply(1, 1, |v| v.copied().unwrap_or(0) + 3));
        assert!(s.apply(1, 2, |v| v.copied().unwrap_or(0) + 1));
        assert_eq!(s.get(&1), Some(&4));
        let mut o: OpaqueState<u64, i64> = OpaqueState::default();
        o.apply(1, 1, |v| v.copied().unwrap_or(0) + 3);
        o.apply(1, 2, |v| v.copied().unwrap_or(0) + 1);
        // Batch 2 replayed with other contents: recomputed from the value before it.
        o.apply(1, 2, |v| v.copied().unwrap_or(0) + 5);
        assert_eq!(o.get(&1), Some(&8));
    }
}
