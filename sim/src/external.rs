//! Systems outside the job that survive its crashes: the replayable source log (Kafka-like), the
//! checkpoint storage, and the sink store that records every write and what readers can see.

use engine::ms_to_ns;
use engine::CheckpointId;
use std::collections::BTreeMap;
use std::sync::Arc;

use engine::graph::SubtaskId;
use engine::message::Message;
use engine::sink::{SinkEffect, SinkRow, TxnId};
use engine::subtask::{ChannelCounts, OperatorState, SourceEvent};
use engine::{Key, SourceRef};
use serde::Serialize;

use crate::chunked::{ChunkedVec, SharedMap};
use crate::kernel::{SimRng, TimeNs};
use crate::scenario::{Generator, KeySkew, LogData, ValueDist};

/// One entry of a log partition.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct LogEntry {
    /// When the entry becomes readable (its arrival, processing time).
    pub append_ns: TimeNs,
    pub key: Key,
    pub value: i64,
    pub timestamp_ms: i64,
}

/// A partitioned, offset-addressed, append-only log. Built up front from the scenario (the data
/// does not depend on the job), read by offset, so a restarted source can rewind.
#[derive(Clone, Debug, Default)]
pub struct SourceLog {
    pub partitions: Partitions,
}

/// The entries of each partition of a log, in offset order. Shared: a scenario's explicit events
/// are its log's partitions, which every run of it reads.
pub type Partitions = Arc<Vec<Vec<LogEntry>>>;

impl SourceLog {
    pub fn build(data: &LogData, partitions: u32, duration_ms: u64, rng: &mut SimRng) -> SourceLog {
        match data {
            LogData::Events(events) => SourceLog { partitions: Arc::clone(events) },
            LogData::Generator(g) => {
                let mut generated = vec![Vec::new(); partitions as usize];
                generate(g, duration_ms, rng, &mut generated);
                SourceLog { partitions: Arc::new(generated) }
            }
        }
    }

    pub fn entry(&self, at: SourceRef) -> Option<&LogEntry> {
        self.partitions.get(at.partition as usize)?.get(at.offset as usize)
    }

    pub fn len(&self) -> usize {
        self.partitions.iter().map(Vec::len).sum()
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn event(&self, at: SourceRef) -> Option<SourceEvent> {
        self.entry(at).map(|e| SourceEvent { key: e.key, value: e.value, timestamp_ms: e.timestamp_ms })
    }
}

fn generate(g: &Generator, duration_ms: u64, rng: &mut SimRng, log: &mut [Vec<LogEntry>]) {
    let duration_ns = ms_to_ns(duration_ms);
    // Mean gap between arrivals on one partition.
    let base_gap_ns = (1_000_000_000u64 * g.partitions as u64 / g.rate_per_s).max(1);
    // Arrivals come one per `base_gap_ns` on average: room for an eighth more up front spares a
    // growing log its doublings (bursts may still grow it; capped for a mostly idle partition).
    let expected = usize::try_from(duration_ns / base_gap_ns).unwrap_or(usize::MAX).min(1 << 20);
    for p in 0..g.partitions {
        log[p as usize].reserve(expected + expected / 8 + 16);
        let mut t: TimeNs = rng.exponential(base_gap_ns);
        while t < duration_ns {
            let t_ms = t / 1_000_000;
            let multiplier = g
                .bursts
                .iter()
                .filter(|b| b.from_ms <= t_ms && t_ms < b.until_ms)
                .map(|b| b.rate_multiplier)
                .max()
                .unwrap_or(1);
            let silenced = g.idle_partitions.iter().any(|i| i.partition == p && i.from_ms <= t_ms && t_ms < i.until_ms);
            if !silenced {
                let key = match g.key_skew {
                    KeySkew::Uniform => rng.below(g.keys as u64),
                    KeySkew::Hot { keys, share_ppm } => {
                        if rng.chance_ppm(share_ppm) {
                            rng.below(keys as u64)
                        } else {
                            rng.below(g.keys as u64)
                        }
                    }
                };
                let value = match g.value {
                    ValueDist::Constant(v) => v,
                    // In i128: `max - min` overflows i64 for wide ranges; the full range is every u64.
                    ValueDist::Uniform { min, max } => match u64::try_from(i128::from(max) - i128::from(min) + 1) {
                        Ok(span) => min.wrapping_add(rng.below(span) as i64),
                        Err(_) => rng.next_u64() as i64,
                    },
                };
                let mut delay_ns = g.disorder.delay.sample_ns(rng);
                if g.disorder.very_late_ppm > 0 && rng.chance_ppm(g.disorder.very_late_ppm) {
                    delay_ns += ms_to_ns(g.disorder.very_late_ms);
                }
                let timestamp_ms = (t as i64 - delay_ns as i64).div_euclid(1_000_000);
                log[p as usize].push(LogEntry { append_ns: t, key, value, timestamp_ms });
            }
            t += (rng.exponential(base_gap_ns) / multiplier).max(1);
        }
    }
}

/// Durable checkpoint storage: per checkpoint, the snapshot of every subtask.
#[derive(Clone, Debug, Default)]
pub struct CheckpointStorage {
    pub checkpoints: BTreeMap<CheckpointId, BTreeMap<SubtaskId, OperatorState>>,
    /// Unaligned checkpoints: per checkpoint and subtask, the in-flight messages per input.
    pub channel_states: BTreeMap<CheckpointId, BTreeMap<SubtaskId, Vec<Vec<Message>>>>,
    /// Per checkpoint and subtask, the records per channel at the snapshot (what the
    /// snapshot-consistency check compares; restored with the state).
    pub channel_counts: BTreeMap<CheckpointId, BTreeMap<SubtaskId, ChannelCounts>>,
    /// Checkpoints whose writes fail (a fault), which declines them.
    pub failing: Vec<CheckpointId>,
}

impl CheckpointStorage {
    /// Persist one subtask's snapshot. `false` when storage refuses (the checkpoint is declined).
    pub fn write(&mut self, checkpoint_id: CheckpointId, subtask: SubtaskId, state: OperatorState) -> bool {
        if self.failing.contains(&checkpoint_id) {
            return false;
        }
        self.checkpoints.entry(checkpoint_id).or_default().insert(subtask, state);
        true
    }
    pub fn get(&self, checkpoint_id: CheckpointId) -> Option<&BTreeMap<SubtaskId, OperatorState>> {
        self.checkpoints.get(&checkpoint_id)
    }
    /// Persist the in-flight data of an unaligned snapshot (nothing to do when there is none).
    pub fn write_channel_state(
        &mut self,
        checkpoint_id: CheckpointId,
        subtask: SubtaskId,
        channel_state: Vec<Vec<Message>>,
    ) {
        if channel_state.iter().any(|c| !c.is_empty()) {
            self.channel_states.entry(checkpoint_id).or_default().insert(subtask, channel_state);
        }
    }
    /// Persist a snapshot's records per channel (alongside its state).
    pub fn write_channel_counts(&mut self, checkpoint_id: CheckpointId, subtask: SubtaskId, counts: ChannelCounts) {
        self.channel_counts.entry(checkpoint_id).or_default().insert(subtask, counts);
    }
    pub fn channel_counts(&self, checkpoint_id: CheckpointId, subtask: SubtaskId) -> Option<&ChannelCounts> {
        self.channel_counts.get(&checkpoint_id).and_then(|m| m.get(&subtask))
    }
    /// The snapshot-consistency check of checkpoint `checkpoint_id` (None: not stored, or a
    /// snapshot without counts).
    pub fn consistency(
        &self,
        plan: &engine::graph::PhysicalPlan,
        checkpoint_id: CheckpointId,
    ) -> Option<crate::consistency::SnapshotConsistency> {
        let contents = crate::consistency::CheckpointContents {
            states: self.checkpoints.get(&checkpoint_id)?,
            counts: self.channel_counts.get(&checkpoint_id)?,
            channel_states: self.channel_states.get(&checkpoint_id),
        };
        crate::consistency::check(plan, &contents)
    }
    pub fn channel_state(&self, checkpoint_id: CheckpointId, subtask: SubtaskId) -> Vec<Vec<Message>> {
        self.channel_states.get(&checkpoint_id).and_then(|m| m.get(&subtask)).cloned().unwrap_or_default()
    }
    /// Checkpoint `aborted` was aborted (it timed out, was declined, or a failover cancelled
    /// it): what was written for it, or for any earlier checkpoint but `keep` (the latest
    /// completed one, which a restore reads), is discarded, as Flink discards an aborted
    /// checkpoint's state. Without this, a job whose checkpoints all time out kept every
    /// subtask's snapshot of each (630 000 checkpoints, 1.9 GB). At most one checkpoint is in
    /// flight, so none after `keep` and up to `aborted` can still complete.
    pub fn discard_aborted(&mut self, aborted: CheckpointId, keep: Option<CheckpointId>) {
        let garbage = |id: &CheckpointId| *id <= aborted && Some(*id) != keep;
        self.checkpoints.retain(|id, _| !garbage(id));
        self.channel_states.retain(|id, _| !garbage(id));
        self.channel_counts.retain(|id, _| !garbage(id));
    }

    /// Drop snapshots of checkpoints that can no longer be restored (older than `keep_from`).
    pub fn discard_before(&mut self, keep_from: CheckpointId) {
        self.checkpoints.retain(|id, _| *id >= keep_from);
        self.channel_states.retain(|id, _| *id >= keep_from);
        self.channel_counts.retain(|id, _| *id >= keep_from);
    }
}

/// What happened to a written row.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum RowState {
    /// Readers see it.
    Visible,
    /// In a transaction that is not committed (yet).
    Pending,
    /// In a transaction that was aborted: never visible.
    Aborted,
    /// An idempotent upsert that a later write of the same key replaced.
    Overwritten,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StoredRow {
    pub sink: usize,
    pub subtask: SubtaskId,
    pub row: SinkRow,
    pub written_ns: TimeNs,
    /// When it became visible (committed, or written for non-transactional sinks).
    pub visible_ns: Option<TimeNs>,
    pub state: RowState,
    pub txn: Option<TxnId>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum TxnState {
    Open,
    PreCommitted { checkpoint_id: CheckpointId },
    Committed,
    Aborted,
}

/// The external store behind every sink: records every write, in order, and which are visible.
///
/// Its size follows the history (every write is kept), so it is built to be cloned cheaply: the
/// rows live in shared chunks (a clone copies only what changes afterwards, see
/// [`ChunkedVec`]), and the rows of a transaction are remembered only while it is open
/// (committed and aborted transactions never change their rows again).
#[derive(Clone, Debug, Default)]
pub struct SinkStore {
    pub rows: ChunkedVec<StoredRow>,
    pub transactions: BTreeMap<TxnId, TxnState>,
    /// Rows of each transaction that is neither committed nor aborted.
    txn_rows: BTreeMap<TxnId, Vec<usize>>,
    /// The row holding each (sink, key, window, source): history-sized, so shared by clones.
    upserts: SharedMap<(usize, Key, Option<engine::window::Window>, Option<SourceRef>), usize>,
    visible_rows: usize,
    /// Rows that became visible since the last `take_newly_visible` (for latency metrics).
    newly_visible: Vec<usize>,
    /// Transactions the store aborted because they outlived the transaction timeout.
    pub expired: Vec<TxnId>,
    /// Source references the rows carry as lineage, over every row written.
    lineage_entries: u64,
}

impl SinkStore {
    /// Source references every row written so far carries as lineage (what the work limit
    /// bounds: [`crate::scenario::Scenario::max_sink_lineage`]).
    pub fn lineage_entries(&self) -> u64 {
        self.lineage_entries
    }

    pub fn apply(&mut self, sink: usize, subtask: SubtaskId, effect: SinkEffect, now_ns: TimeNs) {
        match effect {
            SinkEffect::Append(row) => self.push(sink, subtask, row, now_ns, RowState::Visible, None),
            SinkEffect::Upsert(row) => {
                let (key, window, source) = row.upsert_key();
                let index = self.rows.len();
                if let Some(old) = self.upserts.insert((sink, key, window, source), index) {
                    if let Some(row) = self.rows.get_mut(old) {
                        row.state = RowState::Overwritten;
                    }
                    self.visible_rows -= 1;
                }
                self.push(sink, subtask, row, now_ns, RowState::Visible, None);
            }
            SinkEffect::TxnWrite { txn, row } => {
                self.transactions.entry(txn).or_insert(TxnState::Open);
                let index = self.rows.len();
                self.txn_rows.entry(txn).or_default().push(index);
                self.push(sink, subtask, row, now_ns, RowState::Pending, Some(txn));
            }
            SinkEffect::PreCommit { txn, checkpoint_id } => {
                self.transactions.insert(txn, TxnState::PreCommitted { checkpoint_id });
            }
            SinkEffect::Commit { txn } => self.commit(txn, now_ns),
            SinkEffect::Recover { subtask, commit } => {
                for txn in &commit {
                    self.commit(*txn, now_ns);
                }
                let others: Vec<TxnId> = self
                    .transactions
                    .iter()
                    .filter(|(t, s)| {
                        t.subtask == subtask
                            && !commit.contains(t)
                            && !matches!(s, TxnState::Committed | TxnState::Aborted)
                    })
                    .map(|(t, _)| *t)
                    .collect();
                for txn in others {
                    self.abort(txn);
                }
            }
        }
    }

    fn push(
        &mut self,
        sink: usize,
        subtask: SubtaskId,
        row: SinkRow,
        now_ns: TimeNs,
        state: RowState,
        txn: Option<TxnId>,
    ) {
        let visible_ns = (state == RowState::Visible).then_some(now_ns);
        self.lineage_entries += row.lineage.len() as u64;
        self.visible_rows += (state == RowState::Visible) as usize;
        if state == RowState::Visible {
            self.newly_visible.push(self.rows.len());
        }
        self.rows.push(StoredRow { sink, subtask, row, written_ns: now_ns, visible_ns, state, txn });
    }

    fn commit(&mut self, txn: TxnId, now_ns: TimeNs) {
        match self.transactions.get(&txn) {
            Some(TxnState::Committed) | Some(TxnState::Aborted) | None => return,
            _ => {}
        }
        self.transactions.insert(txn, TxnState::Committed);
        for i in self.txn_rows.remove(&txn).unwrap_or_default() {
            if let Some(row) = self.rows.get_mut(i) {
                row.state = RowState::Visible;
                row.visible_ns = Some(now_ns);
                self.visible_rows += 1;
                self.newly_visible.push(i);
            }
        }
    }

    /// Abort a transaction (recovery, or the store's transaction timeout).
    pub fn abort(&mut self, txn: TxnId) {
        if matches!(self.transactions.get(&txn), Some(TxnState::Committed) | None) {
            return;
        }
        self.transactions.insert(txn, TxnState::Aborted);
        for i in self.txn_rows.remove(&txn).unwrap_or_default() {
            if let Some(row) = self.rows.get_mut(i) {
                row.state = RowState::Aborted;
            }
        }
    }

    /// A copy that shares no rows with `self`: what a clone cost before the rows were shared.
    /// For benchmarks that measure the difference.
    pub fn deep_clone(&self) -> SinkStore {
        SinkStore { rows: self.rows.deep_clone(), upserts: self.upserts.deep_clone(), ..self.clone() }
    }

    /// A copy that shares the rows but copies the upsert index whole: what a clone cost before
    /// the index was shared (for benchmarks that measure the difference).
    pub fn with_upserts_copied(&self) -> SinkStore {
        SinkStore { upserts: self.upserts.deep_clone(), ..self.clone() }
    }

    /// Indexes of the rows that became visible since the last call.
    pub fn take_newly_visible(&mut self) -> Vec<usize> {
        std::mem::take(&mut self.newly_visible)
    }

    pub fn visible_count(&self) -> usize {
        self.visible_rows
    }

    /// The store's transaction timeout (Kafka's `transaction.timeout.ms`): a transaction not
    /// committed within `timeout_ns` of its first write is aborted, and its rows are lost.
    pub fn expire_transactions(&mut self, now_ns: TimeNs, timeout_ns: TimeNs) {
        let expired: Vec<TxnId> = self
            .transactions
            .iter()
            .filter(|(_, s)| matches!(s, TxnState::Open | TxnState::PreCommitted { .. }))
            .filter(|(t, _)| {
                self.txn_rows
                    .get(t)
                    .and_then(|rows| rows.first())
                    .is_some_and(|&i| self.rows[i].written_ns + timeout_ns < now_ns)
            })
            .map(|(t, _)| *t)
            .collect();
        for txn in expired {
            self.abort(txn);
            self.expired.push(txn);
        }
    }

    /// Rows a reader sees now, in the order they became visible.
    pub fn visible(&self) -> Vec<&StoredRow> {
        let mut rows: Vec<&StoredRow> = self.rows.iter().filter(|r| r.state == RowState::Visible).collect();
        rows.sort_by_key(|r| r.visible_ns);
        rows
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An aborted checkpoint's state goes, and any earlier one's but the latest completed (which
    /// a restore reads); a later checkpoint's stays.
    #[test]
    fn an_aborted_checkpoint_is_discarded_but_the_latest_completed_is_kept() {
        let mut storage = CheckpointStorage::default();
        let cp = |n: usize| std::iter::successors(Some(CheckpointId::FIRST), |c| Some(c.next())).nth(n).unwrap();
        for n in 0..4 {
            assert!(storage.write(cp(n), SubtaskId::from_raw(0), OperatorState::Union));
        }
        storage.write_channel_state(cp(1), SubtaskId::from_raw(0), vec![vec![Message::EndOfInput]]);
        storage.discard_aborted(cp(2), Some(cp(0)));
        assert_eq!(storage.checkpoints.keys().copied().collect::<Vec<_>>(), vec![cp(0), cp(3)]);
        assert!(storage.channel_states.is_empty());
        storage.discard_aborted(cp(3), None);
        assert!(storage.checkpoints.is_empty());
    }
}
