//! Sinks: what a sink subtask asks the external sink store to do. Three protocols:
//! - plain: append at once (a replay appends again: duplicates downstream);
//! - idempotent: upsert by (key, window) (a replay overwrites the same row);
//! - two-phase commit: write into an open transaction, pre-commit at the checkpoint barrier,
//!   commit when the checkpoint completes, and on restore commit what the checkpoint recorded as
//!   pre-committed and abort everything else (Flink's `TwoPhaseCommitSinkFunction`).

use crate::CheckpointId;
use serde::{Deserialize, Serialize};

use crate::graph::SubtaskId;
use crate::message::{Firing, Key, Record, SourceRef};
use crate::window::Window;
use crate::EventTimeMs;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum SinkKind {
    Plain,
    Idempotent,
    TwoPhaseCommit,
}

impl SinkKind {
    pub fn label(self) -> &'static str {
        match self {
            SinkKind::Plain => "plain",
            SinkKind::Idempotent => "idempotent",
            SinkKind::TwoPhaseCommit => "two-phase-commit",
        }
    }

    /// "a plain sink", "an idempotent sink", "a two-phase-commit sink": the label with its
    /// article, for messages.
    pub fn a_sink(self) -> String {
        let article = if self == SinkKind::Idempotent { "an" } else { "a" };
        format!("{article} {} sink", self.label())
    }
}

/// One output row as the sink store keeps it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SinkRow {
    pub key: Key,
    pub value: i64,
    pub timestamp_ms: EventTimeMs,
    pub window: Option<Window>,
    pub firing: Firing,
    /// Source records whose effect this row carries (a raw record: itself).
    pub lineage: Vec<SourceRef>,
    pub ingest_ns: u64,
}

impl SinkRow {
    pub fn from_record(record: Record) -> SinkRow {
        match record.pane {
            Some(pane) => {
                let pane = *pane;
                SinkRow {
                    key: record.key,
                    value: record.value,
                    timestamp_ms: record.timestamp_ms,
                    window: Some(pane.window),
                    firing: pane.firing,
                    lineage: pane.lineage,
                    ingest_ns: record.ingest_ns,
                }
            }
            None => SinkRow {
                key: record.key,
                value: record.value,
                timestamp_ms: record.timestamp_ms,
                window: None,
                firing: Firing::None,
                lineage: vec![record.source],
                ingest_ns: record.ingest_ns,
            },
        }
    }

    /// The row's identity for an idempotent sink: same key and window (or same source record,
    /// for unwindowed rows) means same row.
    pub fn upsert_key(&self) -> (Key, Option<Window>, Option<SourceRef>) {
        match self.window {
            Some(w) => (self.key, Some(w), None),
            None => (self.key, None, self.lineage.first().copied()),
        }
    }
}

/// A transaction of one sink subtask. Unique across restarts: `attempt` counts restores.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct TxnId {
    pub subtask: SubtaskId,
    pub attempt: u32,
    pub sequence: u64,
}

/// What the sink subtask asks of the external store.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SinkEffect {
    /// Visible at once; a second append of the same row is a second row.
    Append(SinkRow),
    /// Visible at once; replaces the row with the same [`SinkRow::upsert_key`].
    Upsert(SinkRow),
    /// Written into an open transaction: invisible until committed.
    TxnWrite {
        txn: TxnId,
        row: SinkRow,
    },
    /// Flushed and prepared at barrier `checkpoint_id`; it must be committable later.
    PreCommit {
        txn: TxnId,
        checkpoint_id: CheckpointId,
    },
    Commit {
        txn: TxnId,
    },
    /// After a restore: commit these (pre-committed in the restored checkpoint, which completed),
    /// abort every other transaction of this subtask.
    Recover {
        subtask: SubtaskId,
        commit: Vec<TxnId>,
    },
}

/// A sink subtask's protocol state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SinkState {
    pub kind: SinkKind,
    pub subtask: SubtaskId,
    pub attempt: u32,
    next_sequence: u64,
    open: Option<TxnId>,
    /// Pre-committed transactions waiting for their checkpoint to complete, oldest first.
    pending: Vec<(CheckpointId, TxnId)>,
}

impl SinkState {
    pub fn new(kind: SinkKind, subtask: SubtaskId, attempt: u32) -> Self {
        SinkState { kind, subtask, attempt, next_sequence: 0, open: None, pending: Vec::new() }
    }

    pub fn open_transaction(&self) -> Option<TxnId> {
        self.open
    }
    pub fn pending_transactions(&self) -> &[(CheckpointId, TxnId)] {
        &self.pending
    }

    pub fn write(&mut self, record: Record, out: &mut Vec<SinkEffect>) {
        let row = SinkRow::from_record(record);
        match self.kind {
            SinkKind::Plain => out.push(SinkEffect::Append(row)),
            SinkKind::Idempotent => out.push(SinkEffect::Upsert(row)),
            SinkKind::TwoPhaseCommit => {
                let txn = match self.open {
                    Some(t) => t,
                    None => {
                        let t = TxnId { subtask: self.subtask, attempt: self.attempt, sequence: self.next_sequence };
                        self.next_sequence += 1;
                        self.open = Some(t);
                        t
                    }
                };
                out.push(SinkEffect::TxnWrite { txn, row });
            }
        }
    }

    /// At the barrier of `checkpoint_id`, before the snapshot is taken.
    pub fn on_snapshot(&mut self, checkpoint_id: CheckpointId, out: &mut Vec<SinkEffect>) {
        if let Some(txn) = self.open.take() {
            out.push(SinkEffect::PreCommit { txn, checkpoint_id });
            self.pending.push((checkpoint_id, txn));
        }
    }

    /// `notifyCheckpointComplete(checkpoint_id)`: commit everything pre-committed up to it.
    pub fn on_checkpoint_complete(&mut self, checkpoint_id: CheckpointId, out: &mut Vec<SinkEffect>) {
        let split = self.pending.partition_point(|(id, _)| *id <= checkpoint_id);
        for (_, txn) in self.pending.drain(..split) {
            out.push(SinkEffect::Commit { txn });
        }
    }

    /// End of input without checkpointing: nothing will ever complete, so commit directly.
    pub fn on_end_without_checkpoints(&mut self, out: &mut Vec<SinkEffect>) {
        if let Some(txn) = self.open.take() {
            out.push(SinkEffect::Commit { txn });
        }
    }

    /// Restored from a completed checkpoint as attempt `attempt`.
    pub fn on_restore(&mut self, attempt: u32, out: &mut Vec<SinkEffect>) {
        self.attempt = attempt;
        self.next_sequence = 0;
        self.open = None;
        if self.kind == SinkKind::TwoPhaseCommit {
            let commit = self.pending.drain(..).map(|(_, t)| t).collect();
            out.push(SinkEffect::Recover { subtask: self.subtask, commit });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sink_takes_the_article_its_label_needs() {
        assert_eq!(SinkKind::Plain.a_sink(), "a plain sink");
        assert_eq!(SinkKind::Idempotent.a_sink(), "an idempotent sink");
        assert_eq!(SinkKind::TwoPhaseCommit.a_sink(), "a two-phase-commit sink");
    }

    fn cp(id: u64) -> CheckpointId {
        CheckpointId::from_raw(id)
    }

    fn record(value: i64) -> Record {
        Record { key: 1, value, timestamp_ms: 0, source: SourceRef::default(), ingest_ns: 0, pane: None }
    }

    #[test]
    fn two_phase_commit_protocol() {
        let mut s = SinkState::new(SinkKind::TwoPhaseCommit, SubtaskId::from_raw(7), 0);
        let mut out = Vec::new();
        s.write(record(1), &mut out);
        s.on_snapshot(cp(1), &mut out);
        s.write(record(2), &mut out);
        s.on_snapshot(cp(2), &mut out);
        s.on_checkpoint_complete(cp(1), &mut out);
        let t0 = TxnId { subtask: SubtaskId::from_raw(7), attempt: 0, sequence: 0 };
        let t1 = TxnId { subtask: SubtaskId::from_raw(7), attempt: 0, sequence: 1 };
        assert_eq!(out[1], SinkEffect::PreCommit { txn: t0, checkpoint_id: cp(1) });
        assert_eq!(out[3], SinkEffect::PreCommit { txn: t1, checkpoint_id: cp(2) });
        assert_eq!(out[4], SinkEffect::Commit { txn: t0 });
        assert_eq!(s.pending_transactions(), &[(cp(2), t1)]);

        // A snapshot taken at checkpoint 2 holds t1 as pending; restoring it commits t1.
        let mut restored = s.clone();
        out.clear();
        restored.on_restore(1, &mut out);
        assert_eq!(out, vec![SinkEffect::Recover { subtask: SubtaskId::from_raw(7), commit: vec![t1] }]);
        out.clear();
        restored.write(record(3), &mut out);
        assert!(matches!(out[0], SinkEffect::TxnWrite { txn: TxnId { attempt: 1, sequence: 0, .. }, .. }));
    }

    #[test]
    fn empty_epoch_precommits_nothing() {
        let mut s = SinkState::new(SinkKind::TwoPhaseCommit, SubtaskId::from_raw(0), 0);
        let mut out = Vec::new();
        s.on_snapshot(cp(1), &mut out);
        s.on_checkpoint_complete(cp(1), &mut out);
        assert!(out.is_empty());
    }
}
