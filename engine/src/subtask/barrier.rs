//! A subtask's side of checkpointing: barrier alignment (aligned, unaligned, and aligned until
//! the aligned-checkpoint timeout), snapshots and their reports, and the coordinator's calls.

use crate::CheckpointId;
use serde::{Deserialize, Serialize};

use super::gate::PriorityBarrier;
use super::operator::OperatorState;
use super::{ChannelCounts, Note, Output, SnapshotReport, Subtask};
use crate::checkpoint::{BarrierOutcome, CheckpointMode, SnapshotAlignment};
use crate::graph::InputIndex;
use crate::message::{Barrier, Message};
use crate::ProcTimeNs;

/// A snapshot with channel state waiting for its last barriers (unaligned, or Chandy–Lamport):
/// the state was taken at the first one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnalignedSnapshot {
    pub checkpoint_id: CheckpointId,
    pub state: OperatorState,
    pub channel_state: Vec<Vec<Message>>,
    /// Inputs whose arrivals still belong to the channel state (their barrier is not here yet).
    pub recording: Vec<bool>,
    pub started_ns: ProcTimeNs,
    /// The records per channel when the state was taken.
    pub counts: ChannelCounts,
}

impl UnalignedSnapshot {
    /// A message arrived on `input`: while the input records, it is in flight at the snapshot;
    /// the input's own barrier closes its channel state on *arrival* — whatever comes after it
    /// on the channel belongs to the next epoch, even if the barrier is processed later.
    pub(super) fn on_arrival(&mut self, input: InputIndex, message: &Message) {
        let i = input.index();
        match message {
            Message::Barrier(b) if b.checkpoint_id == self.checkpoint_id => self.recording[i] = false,
            Message::Barrier(_) => {}
            _ if self.recording[i] => self.channel_state[i].push(message.clone()),
            _ => {}
        }
    }
}

/// The first barrier of a checkpoint arrived (it may still wait behind data): the alignment
/// timer runs from the checkpoint's trigger.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Announced {
    pub checkpoint_id: CheckpointId,
    pub deadline_ns: ProcTimeNs,
}

impl Subtask {
    /// Unaligned checkpoints with an aligned-checkpoint timeout (Flink's
    /// `execution.checkpointing.aligned-checkpoint-timeout`): every checkpoint starts aligned, and
    /// switches to unaligned once `timeout_ns` has passed since it was triggered. None or 0:
    /// always unaligned. Ignored in the other modes.
    pub fn set_aligned_checkpoint_timeout(&mut self, timeout_ns: Option<ProcTimeNs>) {
        let timeout = timeout_ns.filter(|&t| t > 0 && self.aligner.mode() == CheckpointMode::Unaligned);
        self.aligned_timeout_ns = timeout;
        self.aligner.set_alternating(timeout.is_some());
    }

    /// The aligned-checkpoint timeout, when this subtask has one.
    pub fn aligned_checkpoint_timeout_ns(&self) -> Option<ProcTimeNs> {
        self.aligned_timeout_ns
    }

    /// The checkpoint whose alignment will time out, and when (None: nothing to time out).
    pub fn alignment_deadline(&self) -> Option<Announced> {
        let a = self.announced?;
        if self.aligner.switched_to_unaligned(a.checkpoint_id) {
            return None;
        }
        let open = Some(a.checkpoint_id) > self.aligner.latest_id()
            || self.aligner.pending().is_some_and(|p| p.checkpoint_id == a.checkpoint_id);
        open.then_some(a)
    }

    /// The unaligned snapshot waiting for its last barriers, if any.
    pub fn unaligned_snapshot(&self) -> Option<&UnalignedSnapshot> {
        self.unaligned.as_ref()
    }

    /// Source only: checkpoint `checkpoint_id` was triggered. Snapshot offsets, then send the
    /// barrier downstream behind every record already emitted. A finished subtask of any kind
    /// is triggered directly too (it will never see a barrier again) and just snapshots.
    /// `triggered_ns` is when the coordinator triggered it: the barrier carries it.
    pub fn trigger_checkpoint(&mut self, checkpoint_id: CheckpointId, triggered_ns: ProcTimeNs, now_ns: ProcTimeNs) {
        self.barrier_timestamp_ns = triggered_ns;
        self.snapshot(checkpoint_id, now_ns);
        if !self.finished {
            self.out.broadcast(Message::Barrier(Barrier { checkpoint_id, timestamp_ns: triggered_ns }));
        }
    }

    /// `notifyCheckpointComplete`.
    pub fn notify_checkpoint_complete(&mut self, checkpoint_id: CheckpointId) {
        self.operator.on_checkpoint_complete(checkpoint_id, &mut self.out);
    }

    /// An aligned barrier arrived (it may wait behind data): the first of a checkpoint starts
    /// its alignment timer, from the checkpoint's trigger (Flink's barrier announcement).
    pub(super) fn announce(&mut self, barrier: Barrier) {
        let Some(timeout) = self.aligned_timeout_ns else {
            return;
        };
        let id = barrier.checkpoint_id;
        let old = Some(id) < self.aligner.latest_id()
            || (Some(id) == self.aligner.latest_id() && self.aligner.pending().is_none_or(|p| p.checkpoint_id != id));
        if old || self.announced.is_some_and(|a| a.checkpoint_id >= id) {
            return;
        }
        self.announced =
            Some(Announced { checkpoint_id: id, deadline_ns: barrier.timestamp_ns.saturating_add(timeout) });
    }

    /// The alignment timer: if the announced checkpoint is still aligning at `now_ns`, switch it
    /// to unaligned — its barriers still queued overtake the data before them, and if some
    /// barrier was already processed (inputs blocked), snapshot now with the in-flight data
    /// (Flink's `AlternatingCollectingBarriers.alignedCheckpointTimeout`); otherwise the first
    /// overtaking barrier snapshots (`AlternatingWaitingForFirstBarrier`).
    pub(super) fn time_out_alignment(&mut self, now_ns: ProcTimeNs) {
        let Some(a) = self.alignment_deadline() else {
            return;
        };
        if now_ns < a.deadline_ns {
            return;
        }
        let id = a.checkpoint_id;
        self.aligner.switch_to_unaligned(id);
        self.gate.prioritize_barriers(id);
        self.out.note(Note::AlignmentTimedOut { checkpoint_id: id });
        if let Some(started_ns) = self.aligner.pending().filter(|p| p.checkpoint_id == id).map(|p| p.started_ns) {
            self.start_unaligned_snapshot(id, None, started_ns);
        }
    }

    /// What the aligner decided about `barrier` arriving on `input` (None: the input finished,
    /// which can only complete an alignment).
    pub(super) fn apply_barrier_outcome(
        &mut self,
        outcome: BarrierOutcome,
        input: InputIndex,
        barrier: Option<Barrier>,
    ) {
        if let Some(b) = barrier.filter(|_| outcome != BarrierOutcome::Ignored) {
            self.barrier_timestamp_ns = b.timestamp_ns;
        }
        match outcome {
            BarrierOutcome::Ignored => {}
            BarrierOutcome::Waiting { block, first } => {
                let Some(Barrier { checkpoint_id, .. }) = barrier else {
                    return;
                };
                if first {
                    self.out.note(Note::AlignmentStarted { checkpoint_id, input });
                    if self.aligner.mode() == CheckpointMode::ChandyLamport {
                        // The first marker, processed in order: snapshot and forward at once;
                        // its own channel is recorded empty (nothing of it is queued before it).
                        let started_ns = self.aligner.pending().map_or(0, |p| p.started_ns);
                        self.start_unaligned_snapshot(checkpoint_id, Some((input, 0)), started_ns);
                    }
                }
                if block {
                    self.out.note(Note::InputBlocked { checkpoint_id, input });
                }
            }
            BarrierOutcome::Complete { checkpoint_id, alignment_started_ns } => {
                if let Some(u) = self.unaligned.take() {
                    if u.checkpoint_id == checkpoint_id {
                        // The unaligned snapshot taken earlier (at the first barrier, or when
                        // the alignment timed out) is complete.
                        self.report_snapshot(u.checkpoint_id, u.state, u.channel_state, u.started_ns, u.counts);
                        return;
                    }
                    // An older unaligned snapshot, abandoned for this checkpoint: dropped.
                }
                self.snapshot(checkpoint_id, alignment_started_ns);
                if !self.finished {
                    let timestamp_ns = self.barrier_timestamp_ns;
                    self.out.broadcast(Message::Barrier(Barrier { checkpoint_id, timestamp_ns }));
                }
            }
        }
    }

    /// An unaligned barrier: the first of a checkpoint snapshots at once (state plus the data it
    /// overtook and the data queued on the other inputs) and forwards it; later ones close their
    /// input's channel state; the last one reports the snapshot.
    pub(super) fn on_unaligned_barrier(&mut self, barrier: PriorityBarrier, now_ns: ProcTimeNs) {
        let PriorityBarrier { input, checkpoint_id, overtaken, timestamp_ns } = barrier;
        let outcome = self.aligner.on_barrier(input, checkpoint_id, now_ns);
        if outcome != BarrierOutcome::Ignored {
            self.barrier_timestamp_ns = timestamp_ns;
        }
        let first = match outcome {
            BarrierOutcome::Ignored => return,
            BarrierOutcome::Waiting { first, .. } => first,
            BarrierOutcome::Complete { .. } => self.unaligned.as_ref().is_none_or(|u| u.checkpoint_id != checkpoint_id),
        };
        if first {
            self.out.note(Note::AlignmentStarted { checkpoint_id, input });
            self.start_unaligned_snapshot(checkpoint_id, Some((input, overtaken)), now_ns);
        } else if let Some(u) = &mut self.unaligned {
            u.recording[input.index()] = false;
        }
        if matches!(outcome, BarrierOutcome::Complete { .. }) {
            if let Some(u) = self.unaligned.take() {
                self.report_snapshot(u.checkpoint_id, u.state, u.channel_state, u.started_ns, u.counts);
            }
        }
    }

    /// Take a snapshot with channel state of `checkpoint_id` now (unaligned, or Chandy–Lamport):
    /// the operator state, and per input the in-flight data — cut at that input's barrier (`at`:
    /// the one just processed and how many messages it overtook; one already processed: nothing;
    /// one waiting in the priority list: what it overtook; a Chandy–Lamport marker queued in
    /// order: the messages before it) or, where the barrier has not arrived, everything queued
    /// plus whatever arrives before it. Then forward the barrier downstream.
    fn start_unaligned_snapshot(
        &mut self,
        checkpoint_id: CheckpointId,
        at: Option<(InputIndex, usize)>,
        started_ns: ProcTimeNs,
    ) {
        let inputs = self.gate.input_count();
        let mut channel_state = vec![Vec::new(); inputs];
        let mut recording = vec![false; inputs];
        let seen = self.aligner.pending().map(|p| p.seen.clone()).unwrap_or_else(|| vec![true; inputs]);
        for (j, input) in InputIndex::all(inputs).enumerate() {
            let queue = self.gate.queue(input);
            let waiting = self.gate.priority.iter().find(|p| p.input == input && p.checkpoint_id == checkpoint_id);
            let cut = match at {
                Some((at_input, overtaken)) if at_input == input => Some(overtaken),
                _ if seen[j] => Some(0),
                _ => waiting.map(|p| p.overtaken).or_else(|| barrier_position(self.gate.queue(input), checkpoint_id)),
            };
            match cut {
                Some(n) => channel_state[j] = queue.take(n).cloned().collect(),
                None => {
                    channel_state[j] = queue.cloned().collect();
                    recording[j] = true;
                }
            }
        }
        let state = self.operator.snapshot(checkpoint_id, &mut self.out);
        let counts = self.channel_counts();
        self.unaligned = Some(UnalignedSnapshot { checkpoint_id, state, channel_state, recording, started_ns, counts });
        if !self.finished {
            let timestamp_ns = self.barrier_timestamp_ns;
            self.out.broadcast(Message::Barrier(Barrier { checkpoint_id, timestamp_ns }));
        }
    }

    fn snapshot(&mut self, checkpoint_id: CheckpointId, alignment_started_ns: ProcTimeNs) {
        let state = self.operator.snapshot(checkpoint_id, &mut self.out);
        let counts = self.channel_counts();
        self.report_snapshot(checkpoint_id, state, Vec::new(), alignment_started_ns, counts);
    }

    fn report_snapshot(
        &mut self,
        checkpoint_id: CheckpointId,
        state: OperatorState,
        channel_state: Vec<Vec<Message>>,
        alignment_started_ns: ProcTimeNs,
        counts: ChannelCounts,
    ) {
        // In-flight data is serialised too: count 64 bytes a message.
        let in_flight: usize = channel_state.iter().map(Vec::len).sum();
        let state_size_bytes = state.size_bytes() + 64 * in_flight as u64;
        let alignment = if self.aligner.is_alternating() {
            if self.aligner.timed_out(checkpoint_id) {
                SnapshotAlignment::TimedOut
            } else {
                SnapshotAlignment::Aligned
            }
        } else {
            match self.aligner.mode() {
                CheckpointMode::Unaligned => SnapshotAlignment::Unaligned,
                CheckpointMode::ChandyLamport => SnapshotAlignment::ChandyLamport,
                CheckpointMode::ExactlyOnce | CheckpointMode::AtLeastOnce => SnapshotAlignment::Aligned,
            }
        };
        self.out.push(Output::Snapshot(Box::new(SnapshotReport {
            checkpoint_id,
            state,
            channel_state,
            alignment_started_ns,
            state_size_bytes,
            alignment,
            counts,
        })));
    }
}

/// Where barrier `checkpoint_id` waits in an input's FIFO queue: the number of messages before
/// it (None: it has not arrived).
fn barrier_position<'a>(queue: impl Iterator<Item = &'a Message>, checkpoint_id: CheckpointId) -> Option<usize> {
    queue
        .enumerate()
        .find_map(|(i, m)| matches!(m, Message::Barrier(b) if b.checkpoint_id == checkpoint_id).then_some(i))
}
