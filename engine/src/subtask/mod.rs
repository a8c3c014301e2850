//! One parallel instance of an operator, as a sans-IO state machine.
//!
//! Inputs go in through `handle_*` / [`Subtask::push_input`] + [`Subtask::step`]; everything the
//! subtask wants done comes out of [`Subtask::poll_output`]. Time is an argument. The subtask owns
//! its input gate (per-channel FIFO buffers) so that barrier alignment — which inputs may be read —
//! is engine logic, not the simulator's; the simulator only decides *when* the subtask runs.
//!
//! Parts: this file holds the subtask and its input loop; [`gate`] the input buffers;
//! [`operator`] the operators behind one interface; [`source`] the source state machine;
//! `barrier` alignment and snapshots; `outlet` where output goes (routing, the outbox).

mod barrier;
pub mod gate;
pub mod operator;
mod outlet;
pub mod source;

use crate::CheckpointId;
use serde::{Deserialize, Serialize};

pub use barrier::{Announced, UnalignedSnapshot};
pub use gate::{InputGate, PriorityBarrier};
pub use operator::OperatorState;
use outlet::Outlet;
pub use source::{PartitionReader, SourceEvent, SourceState};

use crate::checkpoint::{BarrierAligner, CheckpointMode, SnapshotAlignment};
use crate::graph::{ChannelId, InputIndex, PhysicalPlan, SubtaskId};
use crate::message::{Key, Message, MessageKind, SourceRef};
use crate::sink::SinkEffect;
use crate::watermark::{CombinerUpdate, WatermarkCombiner};
use crate::{EventTimeMs, ProcTimeNs, WATERMARK_MIN};

/// Something the subtask wants the world to do or know.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Output {
    /// Put `message` on `channel` (FIFO).
    Send { channel: ChannelId, message: Message },
    /// The subtask took its snapshot for `checkpoint_id`: persist it and ack the coordinator.
    Snapshot(Box<SnapshotReport>),
    /// Ask the external sink store to do something. Boxed: an effect is 112 bytes, and every
    /// record sent passes through the outbox as an `Output`, which is 72 bytes without it.
    Sink(Box<SinkEffect>),
    /// Worth recording, changes nothing.
    Note(Note),
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotReport {
    pub checkpoint_id: CheckpointId,
    pub state: OperatorState,
    /// Unaligned checkpoints: per input, the messages in flight at the snapshot (empty otherwise).
    pub channel_state: Vec<Vec<Message>>,
    /// When the first barrier arrived (the source: when triggered).
    pub alignment_started_ns: ProcTimeNs,
    /// Approximate size of the state, as a serialised snapshot would have it.
    pub state_size_bytes: u64,
    /// Aligned, unaligned, or aligned until the aligned-checkpoint timeout switched it.
    pub alignment: SnapshotAlignment,
    /// Records taken in per input and sent per output channel up to the snapshot: what the
    /// snapshot-consistency check compares across each channel.
    pub counts: ChannelCounts,
}

/// A subtask's records per channel up to a snapshot, counted since the job's first attempt (a
/// restored subtask continues from its snapshot's counts). Across a channel of a consistent
/// checkpoint, the sender's `sent` = the receiver's `received` + the records in the receiver's
/// channel state for that input.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelCounts {
    /// Per input, the records the operator took in.
    pub received: Vec<u64>,
    /// Per output channel, the records sent on it.
    pub sent: Vec<(ChannelId, u64)>,
}

/// Observations for the recording.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Note {
    /// A record too late for all its windows was dropped.
    LateDropped { key: Key, timestamp_ms: EventTimeMs, source: SourceRef },
    /// A record was added to some of its windows but skipped as late by others (sliding windows
    /// past their allowed lateness). Not counted as late-dropped (Flink does not count it either);
    /// the oracle needs to know its effect is missing from those windows by rule, not by loss.
    LateForSomeWindows { source: SourceRef },
    /// The first barrier of a checkpoint arrived on `input`; alignment starts.
    AlignmentStarted { checkpoint_id: CheckpointId, input: InputIndex },
    /// Input `input` is blocked until the other inputs deliver the barrier.
    InputBlocked { checkpoint_id: CheckpointId, input: InputIndex },
    /// The aligned-checkpoint timeout expired during the alignment of `checkpoint_id`: the
    /// subtask switches it to unaligned (the barriers overtake, the in-flight data is saved).
    AlignmentTimedOut { checkpoint_id: CheckpointId },
    /// The subtask's output watermark advanced.
    WatermarkAdvanced { watermark_ms: EventTimeMs },
    /// The subtask sent end of input on all outputs: it is done.
    Finished,
}

/// What one [`Subtask::step`] processed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Step {
    pub input: InputIndex,
    pub kind: MessageKind,
    /// The barrier's checkpoint, when it was a barrier.
    pub checkpoint_id: Option<CheckpointId>,
}

/// Per-subtask counters for summaries and metrics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counters {
    pub records_in: u64,
    pub records_out: u64,
    pub late_dropped: u64,
}

/// The subtask state machine.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subtask {
    id: SubtaskId,
    name: String,
    gate: InputGate,
    valve: WatermarkCombiner,
    aligner: BarrierAligner,
    operator: OperatorState,
    checkpointing: bool,
    /// Records taken in per input, since the job's first attempt ([`ChannelCounts::received`]).
    received: Vec<u64>,
    unaligned: Option<UnalignedSnapshot>,
    /// Unaligned mode with an aligned-checkpoint timeout (> 0): how long a checkpoint may stay
    /// aligned, counted from its trigger (the barrier's timestamp).
    aligned_timeout_ns: Option<ProcTimeNs>,
    /// The checkpoint whose first barrier arrived here (Flink's barrier announcement) and when
    /// its alignment times out.
    announced: Option<Announced>,
    /// The trigger time of the checkpoint whose barrier this subtask handled last: the barriers
    /// it forwards carry it on.
    barrier_timestamp_ns: ProcTimeNs,
    output_watermark: EventTimeMs,
    output_idle: bool,
    finished: bool,
    /// The output gates, the outbox and the counters.
    out: Outlet,
}

impl Subtask {
    /// A fresh subtask (no state) for attempt `attempt` of the job.
    pub fn new(
        plan: &PhysicalPlan,
        id: SubtaskId,
        mode: Option<CheckpointMode>,
        attempt: u32,
        now_ns: ProcTimeNs,
    ) -> Self {
        let info = plan.subtask(id);
        let input_count = info.inputs.len();
        let mut subtask = Subtask {
            id,
            name: info.name.clone(),
            gate: InputGate::new(input_count),
            valve: WatermarkCombiner::new(input_count),
            aligner: BarrierAligner::new(mode.unwrap_or(CheckpointMode::ExactlyOnce), input_count),
            operator: OperatorState::new(plan, id, attempt, now_ns),
            checkpointing: mode.is_some(),
            received: vec![0; input_count],
            unaligned: None,
            aligned_timeout_ns: None,
            announced: None,
            barrier_timestamp_ns: 0,
            output_watermark: WATERMARK_MIN,
            output_idle: false,
            finished: false,
            out: Outlet::new(info.outputs.clone(), info.index),
        };
        if let OperatorState::Source(source) = &subtask.operator {
            if source.partitions.is_empty() {
                // More source subtasks than partitions: this one has nothing to read. Say so at
                // once, or it would hold every downstream watermark back forever.
                subtask.set_output_idle(true);
            }
        }
        subtask
    }

    /// A subtask restored from a completed checkpoint's snapshot of its operator state.
    pub fn restored(
        plan: &PhysicalPlan,
        id: SubtaskId,
        mode: Option<CheckpointMode>,
        attempt: u32,
        now_ns: ProcTimeNs,
        state: OperatorState,
    ) -> Self {
        Subtask::restored_with_channel_state(plan, id, mode, attempt, now_ns, state, Vec::new())
    }

    /// As [`Subtask::restored`], with the in-flight data of an unaligned snapshot: it goes back
    /// into the input channels before anything new arrives.
    pub fn restored_with_channel_state(
        plan: &PhysicalPlan,
        id: SubtaskId,
        mode: Option<CheckpointMode>,
        attempt: u32,
        now_ns: ProcTimeNs,
        state: OperatorState,
        channel_state: Vec<Vec<Message>>,
    ) -> Self {
        let mut subtask = Subtask::new(plan, id, mode, attempt, now_ns);
        subtask.operator = state;
        for (input, messages) in InputIndex::all(channel_state.len()).zip(channel_state) {
            for message in messages {
                subtask.gate.push(input, message);
            }
        }
        subtask.operator.restore(attempt, now_ns, &mut subtask.out);
        subtask
    }

    /// Continue counting records per channel from a snapshot's counts (see [`ChannelCounts`]).
    pub fn restore_channel_counts(&mut self, counts: &ChannelCounts) {
        for (received, &restored) in self.received.iter_mut().zip(&counts.received) {
            *received = restored;
        }
        self.out.restore_sent(&counts.sent);
    }

    /// Records taken in per input and sent per output channel so far.
    pub fn channel_counts(&self) -> ChannelCounts {
        ChannelCounts { received: self.received.clone(), sent: self.out.sent_per_channel() }
    }

    // ---- getters ------------------------------------------------------------------------------

    pub fn id(&self) -> SubtaskId {
        self.id
    }
    pub fn name(&self) -> &str {
        &self.name
    }
    pub fn operator_state(&self) -> &OperatorState {
        &self.operator
    }
    pub fn gate(&self) -> &InputGate {
        &self.gate
    }
    pub fn watermarks(&self) -> &WatermarkCombiner {
        &self.valve
    }
    pub fn aligner(&self) -> &BarrierAligner {
        &self.aligner
    }
    pub fn output_watermark(&self) -> EventTimeMs {
        self.output_watermark
    }
    pub fn is_output_idle(&self) -> bool {
        self.output_idle
    }
    pub fn is_finished(&self) -> bool {
        self.finished
    }
    pub fn counters(&self) -> Counters {
        self.out.counters
    }
    /// Is input `input` blocked by barrier alignment?
    pub fn is_input_blocked(&self, input: InputIndex) -> bool {
        self.aligner.is_blocked(input)
    }
    /// Is there an input message that may be processed now? (Mutable: the gate parks the
    /// blocked messages it looks past.)
    pub fn has_runnable_input(&mut self) -> bool {
        // While no input can be blocked, any queued message may be processed: the gate's search
        // (asked after every step) is needed only during an alignment.
        !self.gate.priority.is_empty()
            || (self.gate.queued() > 0
                && (!self.aligner.may_block() || self.gate.next_input(|i| self.aligner.is_blocked(i)).is_some()))
    }

    /// Whether the next [`Subtask::step`] would process a record (no barrier, watermark or
    /// other control message, no alignment deadline to look at first).
    pub fn next_is_record(&mut self) -> bool {
        if self.announced.is_some() || !self.gate.priority.is_empty() || self.gate.queued() == 0 {
            return false;
        }
        let Some(input) = self.gate.next_input(|i| self.aligner.is_blocked(i)) else {
            return false;
        };
        matches!(self.gate.front(input), Some(Message::Record(_)))
    }

    // ---- inputs -------------------------------------------------------------------------------

    /// A message arrived on input `input`; it waits in the gate until [`Subtask::step`].
    pub fn push_input(&mut self, input: InputIndex, message: Message) {
        // Channel state (unaligned and Chandy–Lamport alike) is recorded on arrival.
        if let Some(u) = &mut self.unaligned {
            u.on_arrival(input, &message);
        }
        if self.aligner.mode() == CheckpointMode::Unaligned {
            if let Message::Barrier(b) = message {
                if self.aligned_timeout_ns.is_some() && !self.aligner.switched_to_unaligned(b.checkpoint_id) {
                    // Aligned for now: the barrier waits in its queue; the timer starts.
                    self.announce(b);
                    self.gate.push(input, message);
                    return;
                }
                // Overtake everything queued on this input.
                let overtaken = self.gate.queued_on(input);
                self.gate.priority.push_back(PriorityBarrier {
                    input,
                    checkpoint_id: b.checkpoint_id,
                    overtaken,
                    timestamp_ns: b.timestamp_ns,
                });
                return;
            }
        }
        // Everything else, Chandy–Lamport markers included, waits in FIFO order.
        self.gate.push(input, message);
    }

    /// Process the next runnable input message, if any; says which input it came from and what
    /// it was.
    pub fn step(&mut self, now_ns: ProcTimeNs) -> Option<Step> {
        if self.announced.is_some() {
            self.time_out_alignment(now_ns);
        }
        if let Some(barrier) = self.gate.priority.pop_front() {
            self.on_unaligned_barrier(barrier, now_ns);
            return Some(Step {
                input: barrier.input,
                kind: MessageKind::Barrier,
                checkpoint_id: Some(barrier.checkpoint_id),
            });
        }
        let input = self.gate.next_input(|i| self.aligner.is_blocked(i))?;
        let message = self.gate.pop(input);
        let kind = message.kind();
        let checkpoint_id = match message {
            Message::Barrier(b) => Some(b.checkpoint_id),
            _ => None,
        };
        match message {
            Message::Record(record) => {
                self.out.counters.records_in += 1;
                self.received[input.index()] += 1;
                self.operator.on_record(record, &mut self.out);
            }
            Message::Watermark(w) => {
                let update = self.valve.on_watermark(input, w);
                self.apply_valve(update);
            }
            Message::Idle(idle) => {
                let update = self.valve.on_idle(input, idle);
                self.apply_valve(update);
            }
            Message::Barrier(barrier) => {
                let outcome = self.aligner.on_barrier(input, barrier.checkpoint_id, now_ns);
                self.apply_barrier_outcome(outcome, input, Some(barrier));
            }
            Message::EndOfInput => {
                let update = self.valve.on_end_of_input(input);
                self.apply_valve(update);
                if let Some(outcome) = self.aligner.on_input_finished(input) {
                    self.apply_barrier_outcome(outcome, input, None);
                }
                if self.valve.inputs().iter().all(|i| i.finished) {
                    self.finish();
                }
            }
        }
        Some(Step { input, kind, checkpoint_id })
    }

    /// When this subtask next wants [`Subtask::handle_timer`]: the operator's timers (sources:
    /// periodic watermarks, idleness, explicit schedules) and the alignment timer
    /// (aligned-checkpoint timeout).
    pub fn next_timer_ns(&self) -> Option<ProcTimeNs> {
        let alignment = self.alignment_deadline().map(|a| a.deadline_ns);
        let operator =
            if self.finished { None } else { self.operator.next_timer_ns(self.output_watermark, self.output_idle) };
        match (alignment, operator) {
            (Some(a), Some(o)) => Some(a.min(o)),
            (a, o) => a.or(o),
        }
    }

    pub fn handle_timer(&mut self, now_ns: ProcTimeNs) {
        self.time_out_alignment(now_ns);
        if self.finished {
            return;
        }
        let tick = self.operator.on_timer(now_ns);
        // The watermark before the idleness: an idle channel's watermarks are ignored downstream
        // (Flink's `StatusWatermarkValve`; its outputs drop them).
        if let Some(w) = tick.watermark {
            self.advance_output_watermark(w);
        }
        if tick.all_idle {
            self.set_output_idle(true);
        }
        if tick.finished {
            self.finish();
        }
    }

    /// Drop everything buffered in the input gate (the subtask's process died).
    pub fn clear_inputs(&mut self) {
        self.gate.clear();
    }

    // ---- outputs ------------------------------------------------------------------------------

    // Inline (across the crate boundary): the world polls after every step, mostly finding one
    // output or none.
    #[inline]
    pub fn poll_output(&mut self) -> Option<Output> {
        self.out.pop()
    }

    // ---- internals ----------------------------------------------------------------------------

    fn apply_valve(&mut self, update: CombinerUpdate) {
        // Flink's order (`StatusWatermarkValve`): active again before the watermark that comes
        // with it, idle after the watermark flushed on the way — a watermark on an idle channel
        // is dropped in Flink.
        if update.idle == Some(false) {
            self.set_output_idle(false);
        }
        if let Some(w) = update.watermark {
            self.operator.on_watermark(w, &mut self.out);
            self.advance_output_watermark(w);
        }
        if update.idle == Some(true) {
            self.set_output_idle(true);
        }
    }

    fn finish(&mut self) {
        if self.finished {
            return;
        }
        if let Some(w) = self.operator.on_end(self.checkpointing, &mut self.out) {
            self.advance_output_watermark(w);
        }
        self.out.broadcast(Message::EndOfInput);
        self.finished = true;
        self.out.note(Note::Finished);
    }

    fn advance_output_watermark(&mut self, watermark: EventTimeMs) {
        if watermark > self.output_watermark {
            self.output_watermark = watermark;
            self.out.broadcast(Message::Watermark(watermark));
            self.out.note(Note::WatermarkAdvanced { watermark_ms: watermark });
        }
    }

    fn set_output_idle(&mut self, idle: bool) {
        if self.output_idle != idle {
            self.output_idle = idle;
            self.out.broadcast(Message::Idle(idle));
        }
    }
}
