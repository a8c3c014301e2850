//! The task side of the job rules: what happens where a subtask runs, written once for both
//! worlds. A world calls these with its own clock and carries out what they return (an ack to
//! send, a source entry to read); none of them schedules anything or touches a network.

use std::collections::BTreeSet;

use engine::checkpoint::CheckpointMode;
use engine::graph::SubtaskId;
use engine::sink::SinkEffect;
use engine::subtask::{Note, SnapshotReport, Subtask};
use engine::{CheckpointId, SourceRef};

use crate::consistency::SnapshotConsistency;
use crate::external::{CheckpointStorage, SinkStore, SourceLog};
use crate::invariants::{CommitInvariant, InvariantViolation};
use crate::kernel::TimeNs;
use crate::scenario::Scenario;

use super::RestorePlan;

/// A subtask (re)deployed for a job attempt.
pub struct Deployed {
    pub subtask: Subtask,
    /// Per input, how many in-flight stream elements (records, watermarks, idleness) of an
    /// unaligned snapshot were put back into it.
    pub restored_in_flight: Vec<usize>,
    /// The plan named a checkpoint to restore but storage holds no state of this subtask in it.
    pub missing_state: Option<CheckpointId>,
}

/// The restore rule: a subtask of `plan`'s attempt starts from its state in the checkpoint the
/// plan restores (operator state, and for unaligned checkpoints the in-flight data, which goes
/// back into the input channels before anything new is read), or fresh; at-most-once sources
/// start at the plan's positions instead ("the latest positions").
pub fn deploy_subtask(
    scenario: &Scenario,
    storage: &CheckpointStorage,
    id: SubtaskId,
    plan: &RestorePlan,
    now: TimeNs,
) -> Deployed {
    let mode: Option<CheckpointMode> = scenario.checkpoint_config().map(|c| c.mode);
    let state = plan.restore_from.and_then(|cp| storage.get(cp)).and_then(|snapshots| snapshots.get(&id).cloned());
    let missing_state = match (plan.restore_from, &state) {
        (Some(cp), None) => Some(cp),
        _ => None,
    };
    let (mut subtask, restored_in_flight) = match (plan.restore_from, state) {
        (Some(cp), Some(state)) => {
            let channel_state = storage.channel_state(cp, id);
            let counts = channel_state
                .iter()
                .map(|c| {
                    c.iter()
                        .filter(|m| {
                            matches!(
                                m,
                                engine::message::Message::Record(_)
                                    | engine::message::Message::Watermark(_)
                                    | engine::message::Message::Idle(_)
                            )
                        })
                        .count()
                })
                .collect();
            let mut subtask =
                Subtask::restored_with_channel_state(&scenario.plan, id, mode, plan.attempt, now, state, channel_state);
            if let Some(records) = storage.channel_counts(cp, id) {
                subtask.restore_channel_counts(records);
            }
            (subtask, counts)
        }
        _ => (Subtask::new(&scenario.plan, id, mode, plan.attempt, now), Vec::new()),
    };
    if let Some(positions) = &plan.positions {
        subtask.set_source_positions(positions);
    }
    subtask.set_aligned_checkpoint_timeout(scenario.checkpoint_config().and_then(|c| c.aligned_timeout_ns));
    Deployed { subtask, restored_in_flight, missing_state }
}

/// Snapshot → storage: persist a subtask's snapshot. Returns what the ack to the coordinator
/// says: accepted, or declined because storage refused the write.
pub fn persist_snapshot(storage: &mut CheckpointStorage, id: SubtaskId, report: SnapshotReport) -> bool {
    let accepted = storage.write(report.checkpoint_id, id, report.state);
    if accepted {
        storage.write_channel_state(report.checkpoint_id, id, report.channel_state);
        storage.write_channel_counts(report.checkpoint_id, id, report.counts);
    }
    accepted
}

/// Apply a sink's effect to the external store: the two-phase-commit contract is checked
/// first (returned: what it broke), transactions past the store's timeout are aborted, then
/// the effect is applied.
pub fn apply_sink_effect(
    scenario: &Scenario,
    store: &mut SinkStore,
    commits: &mut CommitInvariant,
    id: SubtaskId,
    effect: SinkEffect,
    now: TimeNs,
) -> Vec<InvariantViolation> {
    let broken = commits.on_sink_effect(&effect);
    if let Some(timeout) = scenario.transaction_timeout_ns {
        store.expire_transactions(now, timeout);
    }
    store.apply(scenario.plan.subtask(id).operator, id, effect, now);
    broken
}

/// A checkpoint completed: the commit contract learns it, and older checkpoints are discarded.
/// Returns the checkpoint's snapshot-consistency check, and the violation when the mode promises
/// a consistent snapshot (every mode but at-least-once barrier tracking, whose snapshots may
/// hold records of the next epoch by design) and this one is not.
pub fn checkpoint_completed(
    scenario: &Scenario,
    commits: &mut CommitInvariant,
    storage: &mut CheckpointStorage,
    id: CheckpointId,
) -> (Option<SnapshotConsistency>, Option<InvariantViolation>) {
    commits.on_checkpoint_completed(id);
    storage.discard_before(id);
    let consistency = storage.consistency(&scenario.plan, id);
    let promised = scenario.checkpoint_config().is_some_and(|c| c.mode != CheckpointMode::AtLeastOnce);
    let violation = consistency.as_ref().filter(|c| promised && !c.is_consistent()).map(|c| {
        InvariantViolation::InconsistentSnapshot {
            checkpoint: id,
            imbalances: c.broken.len(),
            sent: c.sent,
            received: c.received,
            in_channel_state: c.in_channel_state,
        }
    });
    (consistency, violation)
}

/// A checkpoint was aborted: storage discards what was written for it (and any earlier one but
/// the latest completed, `keep`).
pub fn checkpoint_aborted(storage: &mut CheckpointStorage, id: CheckpointId, keep: Option<CheckpointId>) {
    storage.discard_aborted(id, keep);
}

/// Records dropped as late (the oracle's evidence): returns true when `note` was one.
pub fn note_late(note: &Note, late_sources: &mut BTreeSet<SourceRef>) -> bool {
    match note {
        Note::LateDropped { source, .. } | Note::LateForSomeWindows { source } => {
            late_sources.insert(*source);
            true
        }
        _ => false,
    }
}

/// What a source may read next from the log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SourceRead {
    /// The earliest-appended entry readable at `now` (ties: the lower partition):
    /// `(append time, partition, offset)`.
    pub next: Option<(TimeNs, u32, u64)>,
    /// The earliest append time of an entry not readable yet.
    pub upcoming: Option<TimeNs>,
    /// No partition of this source has an entry left.
    pub exhausted: bool,
}

/// The source reading rule: of the partitions' next offsets, the earliest-appended entry that
/// is readable at `now`.
pub fn next_source_read(subtask: &Subtask, log: &SourceLog, now: TimeNs) -> SourceRead {
    let mut read = SourceRead { next: None, upcoming: None, exhausted: true };
    for (partition, offset) in subtask.source_positions() {
        let Some(entry) = log.entry(SourceRef { partition, offset }) else {
            continue;
        };
        read.exhausted = false;
        if entry.append_ns <= now {
            if read.next.is_none_or(|(t, p, _)| (entry.append_ns, partition) < (t, p)) {
                read.next = Some((entry.append_ns, partition, offset));
            }
        } else {
            read.upcoming = Some(read.upcoming.map_or(entry.append_ns, |u| u.min(entry.append_ns)));
        }
    }
    read
}

/// Per partition, one past the highest offset any source read: where at-most-once restarts
/// ("the latest positions"). Kept beside the log, so it survives task failures.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HighWater(Vec<u64>);

impl HighWater {
    pub fn new(partitions: u32) -> HighWater {
        HighWater(vec![0; partitions as usize])
    }
    /// A source read `offset` of `partition`.
    pub fn on_read(&mut self, partition: u32, offset: u64) {
        if let Some(high) = self.0.get_mut(partition as usize) {
            *high = (*high).max(offset + 1);
        }
    }
    /// `(partition, next offset)` for every partition.
    pub fn positions(&self) -> Vec<(u32, u64)> {
        self.0.iter().enumerate().map(|(p, o)| (p as u32, *o)).collect()
    }
}
