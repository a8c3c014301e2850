//! The invariants both worlds check as they run, each stated once, here.
//!
//! Both [`crate::world::World`] and the madsim world (crate `madsim-world`) call these checkers at
//! the same points of the protocol and stop (kernel) or report (madsim) when one returns a
//! message. A broken invariant is a bug in the engine or in a world, never an outcome of faults.
//!
//! 1. **A watermark never goes back on a channel** within a job attempt ([`TaskInvariants::on_send`]).
//! 2. **A subtask snapshots checkpoints in increasing order** within a job attempt
//!    ([`TaskInvariants::on_snapshot`]).
//! 3. **Aligned checkpoints: no record behind barrier *n* is processed before snapshot *n***
//!    ([`TaskInvariants::on_step`]): once an input delivered barrier *n*, its records wait until
//!    the subtask snapshotted *n*.
//! 4. **A sink commits a transaction only when a checkpoint covers it** ([`CommitInvariant`]), as
//!    Flink's `TwoPhaseCommitSinkFunction` contract says: a transaction pre-committed at barrier
//!    *c* may be committed once any checkpoint *n ≥ c* completed (a later completed checkpoint
//!    subsumes an earlier declined or aborted one, so checkpoint 8 completing commits the
//!    transaction pre-committed for a declined checkpoint 7), and never before. A job without
//!    checkpoints (at-most-once) pre-commits nothing: its sinks commit their open transaction at
//!    end of input (Flink's Sink V2 committer without checkpointing), which the rule allows.

use std::collections::BTreeMap;

use engine::graph::{ChannelId, InputIndex, SubtaskId};
use engine::message::{Message, MessageKind};
use engine::sink::{SinkEffect, TxnId};
use engine::subtask::Step;
use engine::CheckpointId;
use serde::Serialize;

/// A broken invariant: what the checkers return, and what a run that stopped on one carries
/// (`StopReason::InvariantViolated`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, thiserror::Error)]
pub enum InvariantViolation {
    /// Invariant 1.
    #[error("watermark went back on channel {channel}: {last} then {watermark}")]
    WatermarkWentBack { channel: ChannelId, last: i64, watermark: i64 },
    /// Invariant 2.
    #[error("snapshot for checkpoint {checkpoint} after checkpoint {last}")]
    SnapshotOutOfOrder { checkpoint: CheckpointId, last: CheckpointId },
    /// Invariant 3.
    #[error("record on input {input} behind barrier {checkpoint} processed before snapshot {checkpoint}")]
    RecordBehindBarrier { input: InputIndex, checkpoint: CheckpointId },
    /// Invariant 4: no completed checkpoint covers the transaction yet.
    #[error(
        "sink commits transaction {txn:?} pre-committed for checkpoint {precommitted_for}, but no checkpoint >= \
         {precommitted_for} completed (latest completed: {})",
        .latest_completed.map_or("none".to_string(), |c| c.to_string())
    )]
    CommitBeforeCheckpoint { txn: TxnId, precommitted_for: CheckpointId, latest_completed: Option<CheckpointId> },
    /// A restore found no state of a subtask in the checkpoint the restore plan names (the
    /// checkpoint completed, so every subtask acknowledged its snapshot).
    #[error("attempt {attempt}: no state of subtask {subtask} in checkpoint {checkpoint}")]
    MissingRestoredState { attempt: u32, subtask: SubtaskId, checkpoint: CheckpointId },
    /// Invariant 4: the transaction was never pre-committed.
    #[error("sink commits transaction {txn:?}, which was never pre-committed")]
    CommitNeverPreCommitted { txn: TxnId },
    /// A completed checkpoint of a mode that promises a consistent cut (aligned, unaligned,
    /// Chandy–Lamport) does not conserve records across its channels (`sim::consistency`).
    #[error(
        "checkpoint {checkpoint} is not a consistent cut: {imbalances} channel(s) or source(s) do not conserve records \
         (over all channels: sent {sent}, received {received} + {in_channel_state} in channel state)"
    )]
    InconsistentSnapshot {
        checkpoint: CheckpointId,
        imbalances: usize,
        sent: u64,
        received: u64,
        in_channel_state: u64,
    },
}

/// Per-subtask invariants (1–3), for one job attempt: make a fresh one when the subtask is
/// (re)deployed.
#[derive(Clone, Debug, Default)]
pub struct TaskInvariants {
    /// Highest checkpoint snapshotted in this attempt.
    last_snapshot_id: Option<CheckpointId>,
    /// The checkpoint being aligned and which inputs delivered its barrier.
    aligning: Option<(CheckpointId, Vec<bool>)>,
    /// Last watermark sent per output channel in this attempt.
    last_watermark: BTreeMap<ChannelId, i64>,
}

impl TaskInvariants {
    /// Invariant 1: called for every message the subtask sends on `channel`.
    pub fn on_send(&mut self, channel: ChannelId, message: &Message) -> Result<(), InvariantViolation> {
        if let Message::Watermark(w) = message {
            let last = self.last_watermark.insert(channel, *w);
            if let Some(last) = last.filter(|last| w < last) {
                self.last_watermark.insert(channel, last);
                return Err(InvariantViolation::WatermarkWentBack { channel, last, watermark: *w });
            }
        }
        Ok(())
    }

    /// Invariant 2: called for every snapshot the subtask takes.
    pub fn on_snapshot(&mut self, checkpoint_id: CheckpointId) -> Result<(), InvariantViolation> {
        let last = self.last_snapshot_id;
        self.last_snapshot_id = last.max(Some(checkpoint_id));
        if self.aligning.as_ref().is_some_and(|(cp, _)| *cp <= checkpoint_id) {
            self.aligning = None;
        }
        match last {
            Some(last) if checkpoint_id <= last => {
                Err(InvariantViolation::SnapshotOutOfOrder { checkpoint: checkpoint_id, last })
            }
            _ => Ok(()),
        }
    }

    /// Invariant 3: called for every input the subtask processed (`Subtask::step`), with the
    /// number of its inputs and whether checkpoints are aligned (exactly-once, not unaligned).
    // Inline: called at every task step, and mostly with nothing to check (outlined, the call
    // and the returned `Result` cost more than the check).
    #[inline]
    pub fn on_step(&mut self, step: &Step, inputs: usize, aligned: bool) -> Result<(), InvariantViolation> {
        match step.kind {
            MessageKind::Barrier => {
                let Some(cp) = step.checkpoint_id else { return Ok(()) };
                if Some(cp) > self.last_snapshot_id && step.input.index() < inputs {
                    match &mut self.aligning {
                        Some((current, seen)) if *current == cp => seen[step.input.index()] = true,
                        Some((current, _)) if *current > cp => {}
                        _ => {
                            let mut seen = vec![false; inputs];
                            seen[step.input.index()] = true;
                            self.aligning = Some((cp, seen));
                        }
                    }
                }
            }
            MessageKind::Record if aligned => {
                if let Some((cp, seen)) = &self.aligning {
                    if seen.get(step.input.index()).copied().unwrap_or(false) {
                        return Err(InvariantViolation::RecordBehindBarrier { input: step.input, checkpoint: *cp });
                    }
                }
            }
            _ => {}
        }
        Ok(())
    }
}

/// Invariant 4, over the whole run (it spans restarts: checkpoint ids keep increasing).
#[derive(Clone, Debug)]
pub struct CommitInvariant {
    /// Pre-committed transactions and the checkpoint whose barrier pre-committed them.
    precommitted: BTreeMap<TxnId, CheckpointId>,
    /// The highest completed checkpoint.
    latest_completed: Option<CheckpointId>,
    /// The job takes checkpoints. Without them nothing is ever pre-committed, and the only
    /// commit is a sink's end-of-input commit of its open transaction.
    checkpointing: bool,
}

/// A job that takes checkpoints: the strict rule.
impl Default for CommitInvariant {
    fn default() -> Self {
        CommitInvariant::for_job(true)
    }
}

impl CommitInvariant {
    /// The checker for a job that takes checkpoints (`checkpointing`) or none.
    pub fn for_job(checkpointing: bool) -> Self {
        CommitInvariant { precommitted: BTreeMap::new(), latest_completed: None, checkpointing }
    }

    /// The coordinator declared checkpoint `id` complete.
    pub fn on_checkpoint_completed(&mut self, id: CheckpointId) {
        self.latest_completed = self.latest_completed.max(Some(id));
    }

    /// Called for every sink effect, before it is applied to the store.
    pub fn on_sink_effect(&mut self, effect: &SinkEffect) -> Vec<InvariantViolation> {
        let to_commit: &[TxnId] = match effect {
            SinkEffect::Commit { txn } => std::slice::from_ref(txn),
            SinkEffect::Recover { commit, .. } => commit,
            SinkEffect::PreCommit { txn, checkpoint_id } => {
                self.precommitted.insert(*txn, *checkpoint_id);
                &[]
            }
            _ => &[],
        };
        let mut broken = Vec::new();
        for txn in to_commit {
            match self.precommitted.get(txn) {
                Some(&cp) if self.latest_completed.is_some_and(|done| done >= cp) => {}
                Some(&cp) => broken.push(InvariantViolation::CommitBeforeCheckpoint {
                    txn: *txn,
                    precommitted_for: cp,
                    latest_completed: self.latest_completed,
                }),
                None if !self.checkpointing => {}
                None => broken.push(InvariantViolation::CommitNeverPreCommitted { txn: *txn }),
            }
        }
        broken
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cp(id: u64) -> CheckpointId {
        CheckpointId::from_raw(id)
    }

    fn txn(sequence: u64) -> TxnId {
        TxnId { subtask: SubtaskId::from_raw(0), attempt: 0, sequence }
    }

    #[test]
    fn a_later_completed_checkpoint_may_commit_an_earlier_declined_ones_transaction() {
        let mut c = CommitInvariant::default();
        assert!(c.on_sink_effect(&SinkEffect::PreCommit { txn: txn(0), checkpoint_id: cp(7) }).is_empty());
        assert!(c.on_sink_effect(&SinkEffect::PreCommit { txn: txn(1), checkpoint_id: cp(8) }).is_empty());
        // Checkpoint 7 was declined; 8 completes and commits both.
        c.on_checkpoint_completed(cp(8));
        assert!(c.on_sink_effect(&SinkEffect::Commit { txn: txn(0) }).is_empty());
        assert!(c.on_sink_effect(&SinkEffect::Commit { txn: txn(1) }).is_empty());
    }

    #[test]
    fn committing_before_any_covering_checkpoint_completed_is_a_violation() {
        let mut c = CommitInvariant::default();
        c.on_sink_effect(&SinkEffect::PreCommit { txn: txn(0), checkpoint_id: cp(7) });
        c.on_checkpoint_completed(cp(6));
        let broken = c.on_sink_effect(&SinkEffect::Commit { txn: txn(0) });
        assert_eq!(
            broken,
            vec![InvariantViolation::CommitBeforeCheckpoint {
                txn: txn(0),
                precommitted_for: cp(7),
                latest_completed: Some(cp(6))
            }]
        );
        assert!(broken[0].to_string().contains("no checkpoint >= 7 completed (latest completed: 6)"), "{broken:?}");
        let broken = c.on_sink_effect(&SinkEffect::Commit { txn: txn(9) });
        assert_eq!(broken, vec![InvariantViolation::CommitNeverPreCommitted { txn: txn(9) }]);
    }

    #[test]
    fn without_checkpoints_the_end_of_input_commit_is_allowed() {
        let mut without = CommitInvariant::for_job(false);
        assert!(without.on_sink_effect(&SinkEffect::Commit { txn: txn(0) }).is_empty());
        let mut with = CommitInvariant::for_job(true);
        let broken = with.on_sink_effect(&SinkEffect::Commit { txn: txn(0) });
        assert_eq!(broken, vec![InvariantViolation::CommitNeverPreCommitted { txn: txn(0) }]);
    }

    #[test]
    fn watermarks_and_snapshots() {
        let mut t = TaskInvariants::default();
        let (c3, c4) = (ChannelId::from_raw(3), ChannelId::from_raw(4));
        assert!(t.on_send(c3, &Message::Watermark(10)).is_ok());
        assert!(t.on_send(c4, &Message::Watermark(5)).is_ok(), "another channel");
        assert!(t.on_send(c3, &Message::Watermark(10)).is_ok(), "equal is not back");
        assert_eq!(
            t.on_send(c3, &Message::Watermark(9)),
            Err(InvariantViolation::WatermarkWentBack { channel: c3, last: 10, watermark: 9 })
        );
        assert!(t.on_snapshot(cp(1)).is_ok());
        assert!(t.on_snapshot(cp(2)).is_ok());
        assert_eq!(
            t.on_snapshot(cp(2)),
            Err(InvariantViolation::SnapshotOutOfOrder { checkpoint: cp(2), last: cp(2) })
        );
    }

    #[test]
    fn a_record_behind_a_barrier_before_the_snapshot_breaks_alignment() {
        let step = |input, kind, checkpoint_id| Step { input: InputIndex::from_raw(input), kind, checkpoint_id };
        let mut t = TaskInvariants::default();
        assert!(t.on_step(&step(0, MessageKind::Barrier, Some(cp(1))), 2, true).is_ok());
        assert!(t.on_step(&step(1, MessageKind::Record, None), 2, true).is_ok(), "input 1 has no barrier yet");
        assert!(t.on_step(&step(0, MessageKind::Record, None), 2, false).is_ok(), "not aligned: allowed");
        assert_eq!(
            t.on_step(&step(0, MessageKind::Record, None), 2, true),
            Err(InvariantViolation::RecordBehindBarrier { input: InputIndex::from_raw(0), checkpoint: cp(1) })
        );
        assert!(t.on_snapshot(cp(1)).is_ok());
        assert!(t.on_step(&step(0, MessageKind::Record, None), 2, true).is_ok(), "after the snapshot");
    }
}
