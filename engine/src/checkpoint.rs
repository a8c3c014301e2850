//! Checkpoints by asynchronous barrier snapshotting: the per-subtask barrier aligner (exactly-once)
//! or tracker (at-least-once), and the job manager's checkpoint coordinator.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::graph::{InputIndex, SubtaskId};
use crate::ProcTimeNs;

/// A checkpoint's id. The coordinator numbers checkpoints from [`CheckpointId::FIRST`] up, one
/// per trigger (as Flink does); "no checkpoint" is `Option::None`, never a reserved number. Ids
/// are compared (a newer barrier overtakes an older alignment) but not added: the only way to a
/// later id is [`CheckpointId::next`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CheckpointId(u64);

impl CheckpointId {
    /// The first checkpoint a job triggers.
    pub const FIRST: CheckpointId = CheckpointId(1);

    /// The id the coordinator gives the checkpoint after this one.
    pub const fn next(self) -> CheckpointId {
        CheckpointId(self.0 + 1)
    }
}

id_newtype!(CheckpointId(u64), display);

/// What barriers do to a subtask with several inputs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum CheckpointMode {
    /// Barrier alignment: an input that delivered barrier n is blocked until every input has.
    ExactlyOnce,
    /// Barrier tracking: no blocking; snapshot once barrier n was seen on every input. Records of
    /// the next epoch can slip into snapshot n, and are replayed after recovery.
    AtLeastOnce,
    /// Unaligned (exactly-once): the first barrier n overtakes the data queued before it, the
    /// task snapshots at once and forwards it; the data it overtook, and whatever arrives on the
    /// other inputs before their barrier n, goes into the snapshot as channel state.
    Unaligned,
    /// Chandy–Lamport markers (exactly-once): barriers stay in FIFO order with the data (no
    /// overtaking, no blocking). The task snapshots when it *processes* the first barrier n,
    /// forwards it at once, and records what each other input delivers until its barrier n
    /// arrives as that channel's state (the first barrier's channel is recorded empty).
    ChandyLamport,
}

/// What the aligner decided about one barrier or one finished input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BarrierOutcome {
    /// An old or repeated barrier: nothing to do.
    Ignored,
    /// Barrier recorded; more inputs must deliver it. `block` says whether to stop reading the
    /// input (aligned mode); `first` whether this barrier started the alignment.
    Waiting { block: bool, first: bool },
    /// Every input delivered barrier `checkpoint_id`: snapshot now, forward the barrier, unblock.
    Complete { checkpoint_id: CheckpointId, alignment_started_ns: ProcTimeNs },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingAlignment {
    pub checkpoint_id: CheckpointId,
    /// Per input: has barrier `checkpoint_id` arrived (or has the input finished)?
    pub seen: Vec<bool>,
    pub started_ns: ProcTimeNs,
    /// Does this alignment block the inputs that delivered the barrier? Exactly-once: always;
    /// unaligned: never; unaligned with an aligned-checkpoint timeout: until it times out.
    pub blocking: bool,
}

/// How a subtask's snapshot for one checkpoint was taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum SnapshotAlignment {
    /// After every input delivered its barrier in order (aligned; at-least-once's tracking; a
    /// source, which has no inputs).
    Aligned,
    /// At the first barrier, which overtook the queued data (unaligned checkpoints).
    Unaligned,
    /// Started aligned; the aligned-checkpoint timeout expired and the subtask switched this
    /// checkpoint to unaligned.
    TimedOut,
    /// When the first barrier was processed in FIFO order (Chandy–Lamport markers).
    ChandyLamport,
}

impl SnapshotAlignment {
    pub fn label(self) -> &'static str {
        match self {
            SnapshotAlignment::Aligned => "aligned",
            SnapshotAlignment::Unaligned => "unaligned",
            SnapshotAlignment::TimedOut => "timed out → unaligned",
            SnapshotAlignment::ChandyLamport => "Chandy–Lamport",
        }
    }
}

/// Counts barriers per input (Arroyo's `mark` / `is_blocked` / `all_clear`, Flink's
/// `SingleCheckpointBarrierHandler`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BarrierAligner {
    mode: CheckpointMode,
    input_count: usize,
    finished: Vec<bool>,
    pending: Option<PendingAlignment>,
    /// Highest checkpoint this subtask has snapshotted (or abandoned for a newer one).
    latest_id: Option<CheckpointId>,
    /// Unaligned mode with an aligned-checkpoint timeout: alignments block until
    /// [`Self::switch_to_unaligned`] (Flink's alternating barrier handler).
    alternating: bool,
    /// Alternating: the highest checkpoint switched to unaligned (its alignment never blocks).
    unaligned_id: Option<CheckpointId>,
}

impl BarrierAligner {
    pub fn new(mode: CheckpointMode, input_count: usize) -> Self {
        BarrierAligner {
            mode,
            input_count,
            finished: vec![false; input_count],
            pending: None,
            latest_id: None,
            alternating: false,
            unaligned_id: None,
        }
    }

    /// Unaligned mode with an aligned-checkpoint timeout: every checkpoint starts aligned
    /// (blocking) until [`Self::switch_to_unaligned`] says it timed out.
    pub fn set_alternating(&mut self, alternating: bool) {
        self.alternating = alternating && self.mode == CheckpointMode::Unaligned;
    }

    pub fn is_alternating(&self) -> bool {
        self.alternating
    }

    /// Checkpoint `checkpoint_id` timed out: its alignment (pending or still to come) stops
    /// blocking. Its snapshot is taken by the caller, with the in-flight data as channel state.
    pub fn switch_to_unaligned(&mut self, checkpoint_id: CheckpointId) {
        self.unaligned_id = self.unaligned_id.max(Some(checkpoint_id));
        if let Some(p) = self.pending.as_mut().filter(|p| p.checkpoint_id == checkpoint_id) {
            p.blocking = false;
        }
    }

    /// Was checkpoint `checkpoint_id` switched to unaligned by its timeout?
    pub fn switched_to_unaligned(&self, checkpoint_id: CheckpointId) -> bool {
        self.alternating && Some(checkpoint_id) <= self.unaligned_id
    }

    /// Did checkpoint `checkpoint_id` time out here (the latest switch)?
    pub fn timed_out(&self, checkpoint_id: CheckpointId) -> bool {
        self.alternating && Some(checkpoint_id) == self.unaligned_id
    }

    fn blocks(&self, checkpoint_id: CheckpointId) -> bool {
        match self.mode {
            CheckpointMode::ExactlyOnce => true,
            CheckpointMode::AtLeastOnce | CheckpointMode::ChandyLamport => false,
            CheckpointMode::Unaligned => self.alternating && Some(checkpoint_id) > self.unaligned_id,
        }
    }

    pub fn mode(&self) -> CheckpointMode {
        self.mode
    }
    pub fn pending(&self) -> Option<&PendingAlignment> {
        self.pending.as_ref()
    }
    /// The highest checkpoint this subtask has snapshotted or abandoned (None: none yet).
    pub fn latest_id(&self) -> Option<CheckpointId> {
        self.latest_id
    }

    pub fn on_barrier(&mut self, input: InputIndex, checkpoint_id: CheckpointId, now_ns: ProcTimeNs) -> BarrierOutcome {
        if Some(checkpoint_id) <= self.latest_id
            && self.pending.as_ref().is_none_or(|p| p.checkpoint_id != checkpoint_id)
        {
            return BarrierOutcome::Ignored;
        }
        let mut first = false;
        if self.pending.as_ref().is_none_or(|p| p.checkpoint_id < checkpoint_id) {
            // A newer barrier overtakes an unfinished alignment: that checkpoint is abandoned
            // here (the coordinator will time it out), and the new one starts.
            let blocking = self.blocks(checkpoint_id);
            self.pending =
                Some(PendingAlignment { checkpoint_id, seen: self.finished.clone(), started_ns: now_ns, blocking });
            self.latest_id = Some(checkpoint_id);
            first = true;
        }
        let Some(pending) = self.pending.as_mut() else {
            return BarrierOutcome::Ignored;
        };
        let Some(seen) = pending.seen.get_mut(input.index()).filter(|seen| !**seen) else {
            return BarrierOutcome::Ignored;
        };
        *seen = true;
        let block = pending.blocking;
        self.try_complete().unwrap_or(BarrierOutcome::Waiting { block, first })
    }

    /// An input ended: it counts as having delivered every future barrier.
    pub fn on_input_finished(&mut self, input: InputIndex) -> Option<BarrierOutcome> {
        self.finished[input.index()] = true;
        if let Some(p) = self.pending.as_mut() {
            p.seen[input.index()] = true;
        }
        self.try_complete()
    }

    fn try_complete(&mut self) -> Option<BarrierOutcome> {
        let pending = self.pending.as_ref()?;
        if pending.seen.iter().all(|&s| s) {
            let done = self.pending.take().expect("checked");
            Some(BarrierOutcome::Complete { checkpoint_id: done.checkpoint_id, alignment_started_ns: done.started_ns })
        } else {
            None
        }
    }

    /// Inputs currently blocked by alignment.
    pub fn is_blocked(&self, input: InputIndex) -> bool {
        let i = input.index();
        self.pending.as_ref().is_some_and(|p| p.blocking && p.seen[i] && !self.finished[i])
    }

    /// Might any input be blocked ([`BarrierAligner::is_blocked`])? False: none is.
    pub fn may_block(&self) -> bool {
        self.pending.as_ref().is_some_and(|p| p.blocking)
    }

    pub fn input_count(&self) -> usize {
        self.input_count
    }
}

/// Checkpoint settings (Flink's `CheckpointConfig`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckpointConfig {
    pub interval_ns: ProcTimeNs,
    pub timeout_ns: ProcTimeNs,
    /// Least time between the end of one checkpoint and the start of the next.
    pub min_pause_ns: ProcTimeNs,
    pub mode: CheckpointMode,
    /// Unaligned mode only (`execution.checkpointing.aligned-checkpoint-timeout`): a checkpoint
    /// starts aligned and a subtask switches it to unaligned once this much time has passed since
    /// the checkpoint was triggered. None (or 0 in the scenario file): always unaligned.
    pub aligned_timeout_ns: Option<ProcTimeNs>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingCheckpoint {
    pub id: CheckpointId,
    pub triggered_ns: ProcTimeNs,
    pub acked: BTreeSet<SubtaskId>,
}

/// What happened to a checkpoint, for the coordinator's caller.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CheckpointEvent {
    Triggered { id: CheckpointId },
    Completed { id: CheckpointId },
    Aborted { id: CheckpointId, reason: AbortReason },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum AbortReason {
    Timeout,
    Declined,
    /// A failure restarted the job while it was in flight.
    JobRestarted,
}

impl std::fmt::Display for AbortReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            AbortReason::Timeout => "timed out",
            AbortReason::Declined => "declined",
            AbortReason::JobRestarted => "job restarted",
        })
    }
}

/// The job manager's checkpoint coordinator: triggers at most one checkpoint at a time, collects
/// acks, completes or aborts. Pure: time comes in, decisions come out.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckpointCoordinator {
    config: CheckpointConfig,
    task_count: usize,
    /// The most recently triggered checkpoint; the next trigger takes its [`CheckpointId::next`].
    last_triggered: Option<CheckpointId>,
    pending: Option<PendingCheckpoint>,
    latest_completed: Option<CheckpointId>,
    /// Earliest time the next checkpoint may be triggered.
    next_trigger_ns: ProcTimeNs,
    /// The world reports every step that can change task state ([`Self::note_activity`]), so
    /// checkpoints over idle time can be skipped.
    skips_idle: bool,
    /// Something changed since the last checkpoint was triggered.
    active_since_trigger: bool,
    /// Asleep over idle time: no deadline until [`Self::note_activity`] wakes it.
    dormant: bool,
}

impl CheckpointCoordinator {
    pub fn new(config: CheckpointConfig, task_count: usize, now_ns: ProcTimeNs) -> Self {
        CheckpointCoordinator {
            config,
            task_count,
            last_triggered: None,
            pending: None,
            latest_completed: None,
            next_trigger_ns: now_ns.saturating_add(config.interval_ns),
            skips_idle: false,
            active_since_trigger: true,
            dormant: false,
        }
    }

    /// Skip checkpoints over idle time. The caller promises to call [`Self::note_activity`]
    /// whenever a task does anything but handle a barrier (reads a record, processes a record,
    /// watermark, idleness change or end of input). A checkpoint is then not triggered when the
    /// previous one completed and nothing happened since it was triggered: its snapshot would be
    /// the previous one again. Flink would take it (and change nothing but the id); skipping it
    /// makes idle virtual time free, so a run's cost does not depend on how far apart its times
    /// are. The coordinator sleeps until the next activity and then triggers on its own grid.
    pub fn skip_idle_checkpoints(&mut self) {
        self.skips_idle = true;
    }

    /// A task did something that a snapshot would see. Returns true when this woke the
    /// coordinator from idle sleep (the caller must re-arm its deadline).
    pub fn note_activity(&mut self, now_ns: ProcTimeNs) -> bool {
        self.active_since_trigger = true;
        if !self.dormant {
            return false;
        }
        self.dormant = false;
        // The next point of the trigger grid at or after now.
        let interval = self.config.interval_ns.max(1);
        if self.next_trigger_ns < now_ns {
            let steps = (now_ns - self.next_trigger_ns).div_ceil(interval);
            self.next_trigger_ns = self.next_trigger_ns.saturating_add(steps.saturating_mul(interval));
        }
        true
    }

    /// Asleep over idle time (no deadline; see [`Self::skip_idle_checkpoints`]).
    pub fn is_dormant(&self) -> bool {
        self.dormant
    }

    pub fn config(&self) -> &CheckpointConfig {
        &self.config
    }
    pub fn pending(&self) -> Option<&PendingCheckpoint> {
        self.pending.as_ref()
    }
    pub fn latest_completed(&self) -> Option<CheckpointId> {
        self.latest_completed
    }

    /// The id of the most recently triggered checkpoint (None before the first).
    pub fn last_triggered(&self) -> Option<CheckpointId> {
        self.last_triggered
    }

    /// When the coordinator next wants to be woken: the next trigger or the pending timeout.
    pub fn next_deadline_ns(&self) -> ProcTimeNs {
        match &self.pending {
            Some(p) => p.triggered_ns.saturating_add(self.config.timeout_ns),
            None => self.next_trigger_ns,
        }
    }

    /// Called at (or after) `next_deadline_ns`: trigger a checkpoint or time one out.
    pub fn on_tick(&mut self, now_ns: ProcTimeNs) -> Option<CheckpointEvent> {
        if let Some(p) = &self.pending {
            if now_ns < p.triggered_ns.saturating_add(self.config.timeout_ns) {
                return None;
            }
            let id = p.id;
            self.end_pending(now_ns);
            return Some(CheckpointEvent::Aborted { id, reason: AbortReason::Timeout });
        }
        if now_ns < self.next_trigger_ns {
            return None;
        }
        let previous_completed = self.last_triggered().is_some_and(|id| self.latest_completed == Some(id));
        if self.skips_idle && !self.active_since_trigger && previous_completed {
            self.dormant = true;
            return None;
        }
        self.active_since_trigger = false;
        let id = self.last_triggered.map_or(CheckpointId::FIRST, CheckpointId::next);
        self.last_triggered = Some(id);
        self.pending = Some(PendingCheckpoint { id, triggered_ns: now_ns, acked: BTreeSet::new() });
        Some(CheckpointEvent::Triggered { id })
    }

    pub fn on_ack(&mut self, subtask: SubtaskId, id: CheckpointId, now_ns: ProcTimeNs) -> Option<CheckpointEvent> {
        let p = self.pending.as_mut().filter(|p| p.id == id)?;
        p.acked.insert(subtask);
        if p.acked.len() < self.task_count {
            return None;
        }
        self.end_pending(now_ns);
        self.latest_completed = Some(id);
        Some(CheckpointEvent::Completed { id })
    }

    pub fn on_decline(&mut self, id: CheckpointId, now_ns: ProcTimeNs) -> Option<CheckpointEvent> {
        self.pending.as_ref().filter(|p| p.id == id)?;
        self.end_pending(now_ns);
        Some(CheckpointEvent::Aborted { id, reason: AbortReason::Declined })
    }

    /// A global failover: the in-flight checkpoint dies with the job; the interval starts over.
    pub fn on_job_restart(&mut self, now_ns: ProcTimeNs) -> Option<CheckpointEvent> {
        let aborted =
            self.pending.take().map(|p| CheckpointEvent::Aborted { id: p.id, reason: AbortReason::JobRestarted });
        self.next_trigger_ns = now_ns.saturating_add(self.config.interval_ns);
        self.active_since_trigger = true;
        self.dormant = false;
        aborted
    }

    fn end_pending(&mut self, now_ns: ProcTimeNs) {
        let p = self.pending.take().expect("a pending checkpoint");
        // The interval counts from the last trigger; the minimum pause from the last end.
        self.next_trigger_ns =
            p.triggered_ns.saturating_add(self.config.interval_ns).max(now_ns.saturating_add(self.config.min_pause_ns));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Input `i` of the subtask under test.
    fn input(i: u32) -> InputIndex {
        InputIndex::from_raw(i)
    }

    fn cp(id: u64) -> CheckpointId {
        CheckpointId::from_raw(id)
    }

    #[test]
    fn aligned_mode_blocks_inputs_until_all_barriers() {
        let mut a = BarrierAligner::new(CheckpointMode::ExactlyOnce, 3);
        assert_eq!(a.on_barrier(input(1), cp(1), 10), BarrierOutcome::Waiting { block: true, first: true });
        assert!(a.is_blocked(input(1)) && !a.is_blocked(input(0)));
        assert_eq!(a.on_barrier(input(0), cp(1), 20), BarrierOutcome::Waiting { block: true, first: false });
        assert_eq!(
            a.on_barrier(input(2), cp(1), 30),
            BarrierOutcome::Complete { checkpoint_id: cp(1), alignment_started_ns: 10 }
        );
        assert!(!a.is_blocked(input(1)));
        assert_eq!(a.on_barrier(input(2), cp(1), 40), BarrierOutcome::Ignored);
    }

    #[test]
    fn tracking_mode_never_blocks() {
        let mut a = BarrierAligner::new(CheckpointMode::AtLeastOnce, 2);
        assert_eq!(a.on_barrier(input(0), cp(1), 10), BarrierOutcome::Waiting { block: false, first: true });
        assert!(!a.is_blocked(input(0)));
    }

    #[test]
    fn finished_input_counts_as_delivered() {
        let mut a = BarrierAligner::new(CheckpointMode::ExactlyOnce, 2);
        a.on_barrier(input(0), cp(4), 10);
        assert_eq!(
            a.on_input_finished(input(1)),
            Some(BarrierOutcome::Complete { checkpoint_id: cp(4), alignment_started_ns: 10 })
        );
        assert_eq!(
            a.on_barrier(input(0), cp(5), 20),
            BarrierOutcome::Complete { checkpoint_id: cp(5), alignment_started_ns: 20 }
        );
    }

    #[test]
    fn newer_barrier_abandons_older_alignment() {
        let mut a = BarrierAligner::new(CheckpointMode::ExactlyOnce, 2);
        a.on_barrier(input(0), cp(1), 10);
        assert_eq!(a.on_barrier(input(1), cp(2), 20), BarrierOutcome::Waiting { block: true, first: true });
        assert!(!a.is_blocked(input(0)), "input 0 delivered only the abandoned barrier 1");
        assert_eq!(a.on_barrier(input(1), cp(1), 25), BarrierOutcome::Ignored);
    }

    #[test]
    fn coordinator_triggers_completes_and_times_out() {
        let config = CheckpointConfig {
            interval_ns: 100,
            timeout_ns: 50,
            min_pause_ns: 0,
            mode: CheckpointMode::ExactlyOnce,
            aligned_timeout_ns: None,
        };
        let mut c = CheckpointCoordinator::new(config, 2, 0);
        assert_eq!(c.on_tick(99), None);
        assert_eq!(c.on_tick(100), Some(CheckpointEvent::Triggered { id: cp(1) }));
        assert_eq!(c.on_ack(SubtaskId::from_raw(0), cp(1), 110), None);
        assert_eq!(c.on_ack(SubtaskId::from_raw(1), cp(1), 120), Some(CheckpointEvent::Completed { id: cp(1) }));
        assert_eq!(c.latest_completed(), Some(cp(1)));
        assert_eq!(c.next_deadline_ns(), 200);
        assert_eq!(c.on_tick(200), Some(CheckpointEvent::Triggered { id: cp(2) }));
        assert_eq!(c.on_tick(250), Some(CheckpointEvent::Aborted { id: cp(2), reason: AbortReason::Timeout }));
        assert_eq!(c.latest_completed(), Some(cp(1)));
    }
}
