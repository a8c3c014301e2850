//! One parallel instance of an operator, as a sans-IO state machine.
//!
//! Inputs go in through `handle_*` / [`Subtask::push_input`] + [`Subtask::step`]; everything the
//! subtask wants done comes out of [`Subtask::poll_output`]. Time is an argument. The subtask owns
//! its input gate (per-channel FIFO buffers) so that barrier alignment — which inputs may be read —
//! is engine logic, not the simulator's; the simulator only decides *when* the subtask runs.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};

use serde::{Deserialize, Serialize};

use crate::checkpoint::{BarrierAligner, BarrierOutcome, CheckpointMode, SnapshotAlignment};
use crate::graph::{ChannelId, OperatorKind, OutputGate, PhysicalPlan, Stream, SubtaskId};
use crate::message::{Barrier, Key, Message, MessageKind, Record, SourceRef};
use crate::mintree::MinTree;
use crate::partition::{subtask_for_key, Partitioning};
use crate::sink::{SinkEffect, SinkState};
use crate::transform::{FilterFn, MapFn};
use crate::watermark::{BoundedGenerator, CombinerUpdate, Emission, WatermarkCombiner, WatermarkStrategy};
use crate::window::{RecordFate, WindowOperator};
use crate::{ms_to_ns, EventTimeMs, ProcTimeNs, WATERMARK_MIN};

/// One event read from the external log.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceEvent {
    pub key: Key,
    pub value: i64,
    pub timestamp_ms: EventTimeMs,
}

/// Something the subtask wants the world to do or know.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Output {
    /// Put `message` on `channel` (FIFO).
    Send { channel: ChannelId, message: Message },
    /// The subtask took its snapshot for `checkpoint_id`: persist it and ack the coordinator.
    Snapshot(Box<SnapshotReport>),
    /// Ask the external sink store to do something.
    Sink(SinkEffect),
    /// Worth recording, changes nothing.
    Note(Note),
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotReport {
    pub checkpoint_id: u64,
    pub state: OperatorState,
    /// Unaligned checkpoints: per input, the messages in flight at the snapshot (empty otherwise).
    pub channel_state: Vec<Vec<Message>>,
    /// When the first barrier arrived (the source: when triggered).
    pub alignment_started_ns: ProcTimeNs,
    /// Approximate size of the state, as a serialised snapshot would have it.
    pub state_size_bytes: u64,
    /// Aligned, unaligned, or aligned until the aligned-checkpoint timeout switched it.
    pub alignment: SnapshotAlignment,
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
    AlignmentStarted { checkpoint_id: u64, input: usize },
    /// Input `input` is blocked until the other inputs deliver the barrier.
    InputBlocked { checkpoint_id: u64, input: usize },
    /// The aligned-checkpoint timeout expired during the alignment of `checkpoint_id`: the
    /// subtask switches it to unaligned (the barriers overtake, the in-flight data is saved).
    AlignmentTimedOut { checkpoint_id: u64 },
    /// The subtask's output watermark advanced.
    WatermarkAdvanced { watermark_ms: EventTimeMs },
    /// The subtask sent end of input on all outputs: it is done.
    Finished,
}

/// What one [`Subtask::step`] processed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Step {
    pub input: usize,
    pub kind: MessageKind,
    /// The barrier's checkpoint, when it was a barrier.
    pub checkpoint_id: Option<u64>,
}

/// Per-subtask counters for summaries and metrics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counters {
    pub records_in: u64,
    pub records_out: u64,
    pub late_dropped: u64,
}

/// A source partition as the source subtask reads it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartitionReader {
    pub partition: u32,
    pub next_offset: u64,
    pub generator: BoundedGenerator,
    pub idle: bool,
    pub last_record_ns: ProcTimeNs,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceState {
    pub partitions: Vec<PartitionReader>,
    pub strategy: WatermarkStrategy,
    /// Index of the next unreached entry of an explicit watermark schedule.
    pub explicit_next: usize,
    pub next_periodic_ns: ProcTimeNs,
    /// The log has nothing more for us.
    pub exhausted: bool,
    /// Per partition `(idle, current watermark)`: the root is the source's watermark, the
    /// minimum over active partitions, without a scan per record. Kept in step by
    /// [`SourceState::sync`] wherever a partition's generator or idleness changes.
    watermarks: MinTree<(bool, EventTimeMs)>,
}

impl SourceState {
    fn new(partitions: Vec<PartitionReader>, strategy: WatermarkStrategy, now_ns: ProcTimeNs) -> Self {
        let watermarks = MinTree::new(partitions.iter().map(|p| (p.idle, p.generator.current())).collect());
        SourceState { partitions, strategy, explicit_next: 0, next_periodic_ns: now_ns, exhausted: false, watermarks }
    }
    fn sync(&mut self, index: usize) {
        let p = &self.partitions[index];
        self.watermarks.set(index, (p.idle, p.generator.current()));
    }
    fn sync_all(&mut self) {
        self.watermarks = MinTree::new(self.partitions.iter().map(|p| (p.idle, p.generator.current())).collect());
    }
    /// The minimum watermark over active partitions (`None`: all idle, or none).
    fn active_watermark(&self) -> Option<EventTimeMs> {
        match self.watermarks.min() {
            Some((_, (false, w))) => Some(w),
            _ => None,
        }
    }
    /// Is every partition idle (true for none)?
    fn all_idle(&self) -> bool {
        self.active_watermark().is_none()
    }
    /// The reader of `partition` (a subtask's partitions are ascending).
    fn reader_index(&self, partition: u32) -> Option<usize> {
        self.partitions.binary_search_by_key(&partition, |p| p.partition).ok()
    }
}

/// An operator's own state: what a snapshot holds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum OperatorState {
    Source(SourceState),
    Map(MapFn),
    Filter(FilterFn),
    Window(WindowOperator),
    Union,
    Sink(SinkState),
}

impl OperatorState {
    /// An approximation of the serialised size: 16 bytes per offset, per window 48 bytes plus 12
    /// per lineage entry, per pending transaction 32 bytes.
    pub fn size_bytes(&self) -> u64 {
        match self {
            OperatorState::Source(s) => 16 * s.partitions.len() as u64,
            OperatorState::Window(w) => w.windows().map(|(_, c)| 48 + 12 * c.lineage.len() as u64).sum(),
            OperatorState::Sink(s) => 32 * s.pending_transactions().len() as u64,
            _ => 0,
        }
    }
}

/// Per-channel FIFO buffers of a subtask's inputs; the next message is the oldest arrival on an
/// input that alignment does not block. Unaligned barriers skip the queues: they wait in
/// `priority` with the number of messages they overtook.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputGate {
    queues: Vec<VecDeque<(u64, Message)>>,
    next_sequence: u64,
    queued: usize,
    priority: VecDeque<PriorityBarrier>,
    /// The arrival number at the head of every non-empty queue, oldest on top: the next input
    /// without scanning all of them.
    heads: HeadOrder,
}

/// A min-heap of `(arrival number, input)`, one entry per non-empty queue's head, plus stale
/// entries of heads taken out of order (while alignment blocked the oldest input) that are
/// dropped when they reach the top. The top is always a live head. Derived from the queues,
/// so it takes no part in comparing two gates.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct HeadOrder(BinaryHeap<Reverse<(u64, usize)>>);

impl PartialEq for HeadOrder {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}
impl Eq for HeadOrder {}

/// An unaligned barrier that overtook `overtaken` messages queued on `input`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PriorityBarrier {
    pub input: usize,
    pub checkpoint_id: u64,
    pub overtaken: usize,
    /// The barrier's trigger time ([`Barrier::timestamp_ns`]).
    pub timestamp_ns: ProcTimeNs,
}

/// An unaligned snapshot waiting for its last barriers: the state was taken at the first one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnalignedSnapshot {
    pub checkpoint_id: u64,
    pub state: OperatorState,
    pub channel_state: Vec<Vec<Message>>,
    /// Inputs whose arrivals still belong to the channel state (their barrier is not here yet).
    pub recording: Vec<bool>,
    pub started_ns: ProcTimeNs,
}

impl InputGate {
    pub fn new(input_count: usize) -> Self {
        InputGate {
            queues: vec![VecDeque::new(); input_count],
            next_sequence: 0,
            queued: 0,
            priority: VecDeque::new(),
            heads: HeadOrder::default(),
        }
    }
    pub fn push(&mut self, input: usize, message: Message) {
        let queue = &mut self.queues[input];
        if queue.is_empty() {
            self.heads.0.push(Reverse((self.next_sequence, input)));
        }
        queue.push_back((self.next_sequence, message));
        self.next_sequence += 1;
        self.queued += 1;
    }
    /// Messages waiting on `input`.
    pub fn queued_on(&self, input: usize) -> usize {
        self.queues[input].len()
    }
    pub fn queued(&self) -> usize {
        self.queued
    }
    /// The messages waiting on `input`, oldest first.
    pub fn queue(&self, input: usize) -> impl Iterator<Item = &Message> {
        self.queues[input].iter().map(|(_, m)| m)
    }
    /// The input whose head arrived first among those not blocked. The oldest head is on top
    /// of the heap; only while alignment blocks it are the queues scanned.
    fn next_input(&self, blocked: impl Fn(usize) -> bool) -> Option<usize> {
        let &Reverse((_, top)) = self.heads.0.peek()?;
        if !blocked(top) {
            return Some(top);
        }
        let mut best: Option<(u64, usize)> = None;
        for (input, queue) in self.queues.iter().enumerate() {
            if let Some(&(seq, _)) = queue.front() {
                if !blocked(input) && best.is_none_or(|(s, _)| seq < s) {
                    best = Some((seq, input));
                }
            }
        }
        best.map(|(_, input)| input)
    }
    fn pop(&mut self, input: usize) -> Message {
        self.queued -= 1;
        let (seq, message) = self.queues[input].pop_front().expect("caller checked");
        if self.heads.0.peek() == Some(&Reverse((seq, input))) {
            self.heads.0.pop();
        }
        if let Some(&(next, _)) = self.queues[input].front() {
            self.heads.0.push(Reverse((next, input)));
        }
        self.drop_stale_heads();
        message
    }
    /// Alignment timed out: the barrier `checkpoint_id` still queued on each input leaves its
    /// queue for the priority list, overtaking the messages before it.
    fn prioritize_barriers(&mut self, checkpoint_id: u64) {
        for input in 0..self.queues.len() {
            let found = self.queues[input].iter().enumerate().find_map(|(i, (_, m))| match m {
                Message::Barrier(b) if b.checkpoint_id == checkpoint_id => Some((i, b.timestamp_ns)),
                _ => None,
            });
            let Some((position, timestamp_ns)) = found else {
                continue;
            };
            self.queues[input].remove(position);
            self.queued -= 1;
            if position == 0 {
                if let Some(&(next, _)) = self.queues[input].front() {
                    self.heads.0.push(Reverse((next, input)));
                }
                self.drop_stale_heads();
            }
            self.priority.push_back(PriorityBarrier { input, checkpoint_id, overtaken: position, timestamp_ns });
        }
    }
    /// Drop heads taken out of order, so that the top is live.
    fn drop_stale_heads(&mut self) {
        while let Some(&Reverse((seq, input))) = self.heads.0.peek() {
            if self.queues[input].front().is_some_and(|&(s, _)| s == seq) {
                break;
            }
            self.heads.0.pop();
        }
    }
    fn clear(&mut self) {
        for q in &mut self.queues {
            q.clear();
        }
        self.queued = 0;
        self.priority.clear();
        self.heads.0.clear();
    }
}

/// The first barrier of a checkpoint arrived (it may still wait behind data): the alignment
/// timer runs from the checkpoint's trigger.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Announced {
    pub checkpoint_id: u64,
    pub deadline_ns: ProcTimeNs,
}

/// The subtask state machine.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subtask {
    id: SubtaskId,
    name: String,
    outputs: Vec<OutputGate>,
    rebalance_next: Vec<usize>,
    gate: InputGate,
    valve: WatermarkCombiner,
    aligner: BarrierAligner,
    operator: OperatorState,
    checkpointing: bool,
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
    counters: Counters,
    outbox: VecDeque<Output>,
    #[serde(skip)]
    scratch_records: Vec<Record>,
    #[serde(skip)]
    scratch_effects: Vec<SinkEffect>,
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
        let info = &plan.subtasks[id];
        let op = &plan.operators[info.operator];
        let input_count = info.inputs.len();
        let operator = match &op.kind {
            OperatorKind::Source(spec) => {
                let partitions = plan
                    .partitions_of(id)
                    .into_iter()
                    .map(|partition| PartitionReader {
                        partition,
                        next_offset: 0,
                        generator: BoundedGenerator::new(match spec.watermarks {
                            WatermarkStrategy::BoundedOutOfOrderness { bound_ms, .. } => bound_ms,
                            _ => 0,
                        }),
                        idle: false,
                        last_record_ns: now_ns,
                    })
                    .collect();
                OperatorState::Source(SourceState::new(partitions, spec.watermarks.clone(), now_ns))
            }
            OperatorKind::Map(f) => OperatorState::Map(f.clone()),
            OperatorKind::Filter(f) => OperatorState::Filter(f.clone()),
            OperatorKind::Window(spec) => OperatorState::Window(WindowOperator::new(spec.clone())),
            OperatorKind::Union => OperatorState::Union,
            OperatorKind::Sink(kind) => OperatorState::Sink(SinkState::new(*kind, id, attempt)),
        };
        let mut subtask = Subtask {
            id,
            name: info.name.clone(),
            outputs: info.outputs.clone(),
            rebalance_next: vec![info.index as usize; info.outputs.len()],
            gate: InputGate::new(input_count),
            valve: WatermarkCombiner::new(input_count),
            aligner: BarrierAligner::new(mode.unwrap_or(CheckpointMode::ExactlyOnce), input_count),
            operator,
            checkpointing: mode.is_some(),
            unaligned: None,
            aligned_timeout_ns: None,
            announced: None,
            barrier_timestamp_ns: 0,
            output_watermark: WATERMARK_MIN,
            output_idle: false,
            finished: false,
            counters: Counters::default(),
            outbox: VecDeque::new(),
            scratch_records: Vec::new(),
            scratch_effects: Vec::new(),
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
        for (input, messages) in channel_state.into_iter().enumerate() {
            for message in messages {
                subtask.gate.push(input, message);
            }
        }
        match &mut subtask.operator {
            OperatorState::Source(source) => {
                // Offsets come from the snapshot; watermark generation starts over (as Flink's).
                for p in &mut source.partitions {
                    p.generator = BoundedGenerator::new(p.generator.bound_ms);
                    p.idle = false;
                    p.last_record_ns = now_ns;
                }
                source.next_periodic_ns = now_ns;
                source.explicit_next = 0;
                source.exhausted = false;
                source.sync_all();
            }
            OperatorState::Sink(sink) => {
                let mut effects = Vec::new();
                sink.on_restore(attempt, &mut effects);
                subtask.outbox.extend(effects.into_iter().map(Output::Sink));
            }
            _ => {}
        }
        subtask
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
        self.counters
    }
    pub fn is_source(&self) -> bool {
        matches!(self.operator, OperatorState::Source(_))
    }
    /// Is input `input` blocked by barrier alignment?
    pub fn is_input_blocked(&self, input: usize) -> bool {
        self.aligner.is_blocked(input)
    }
    /// Is there an input message that may be processed now?
    pub fn has_runnable_input(&self) -> bool {
        !self.gate.priority.is_empty()
            || (self.gate.queued() > 0 && self.gate.next_input(|i| self.aligner.is_blocked(i)).is_some())
    }

    /// Source only: `(partition, next offset)` for each partition this subtask reads.
    pub fn source_positions(&self) -> impl Iterator<Item = (u32, u64)> + '_ {
        let partitions = match &self.operator {
            OperatorState::Source(s) => s.partitions.as_slice(),
            _ => &[],
        };
        partitions.iter().map(|p| (p.partition, p.next_offset))
    }

    // ---- inputs -------------------------------------------------------------------------------

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
        let open = a.checkpoint_id > self.aligner.latest_id()
            || self.aligner.pending().is_some_and(|p| p.checkpoint_id == a.checkpoint_id);
        open.then_some(a)
    }

    /// An aligned barrier arrived (it may wait behind data): the first of a checkpoint starts
    /// its alignment timer, from the checkpoint's trigger (Flink's barrier announcement).
    fn announce(&mut self, barrier: Barrier) {
        let Some(timeout) = self.aligned_timeout_ns else {
            return;
        };
        let id = barrier.checkpoint_id;
        let old = id < self.aligner.latest_id()
            || (id == self.aligner.latest_id() && self.aligner.pending().is_none_or(|p| p.checkpoint_id != id));
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
    fn time_out_alignment(&mut self, now_ns: ProcTimeNs) {
        let Some(a) = self.alignment_deadline() else {
            return;
        };
        if now_ns < a.deadline_ns {
            return;
        }
        let id = a.checkpoint_id;
        self.aligner.switch_to_unaligned(id);
        self.gate.prioritize_barriers(id);
        self.outbox.push_back(Output::Note(Note::AlignmentTimedOut { checkpoint_id: id }));
        if let Some(started_ns) = self.aligner.pending().filter(|p| p.checkpoint_id == id).map(|p| p.started_ns) {
            self.start_unaligned_snapshot(id, None, started_ns);
        }
    }

    /// A message arrived on input `input`; it waits in the gate until [`Subtask::step`].
    pub fn push_input(&mut self, input: usize, message: Message) {
        if self.aligner.mode() == CheckpointMode::Unaligned {
            if let Message::Barrier(b) = message {
                if self.aligned_timeout_ns.is_some() && !self.aligner.switched_to_unaligned(b.checkpoint_id) {
                    // Aligned for now: the barrier waits in its queue; the timer starts.
                    self.announce(b);
                    self.gate.push(input, message);
                    return;
                }
                // Overtake everything queued on this input.
                let overtaken = self.gate.queues[input].len();
                self.gate.priority.push_back(PriorityBarrier {
                    input,
                    checkpoint_id: b.checkpoint_id,
                    overtaken,
                    timestamp_ns: b.timestamp_ns,
                });
                // The barrier closes this input's channel state on *arrival*: whatever comes
                // after it on the channel belongs to the next epoch, even if the barrier itself
                // is processed later.
                if let Some(u) = &mut self.unaligned {
                    if u.checkpoint_id == b.checkpoint_id {
                        u.recording[input] = false;
                    }
                }
                return;
            }
            if let Some(u) = &mut self.unaligned {
                if u.recording[input] {
                    u.channel_state[input].push(message.clone());
                }
            }
        }
        self.gate.push(input, message);
    }

    /// The unaligned snapshot waiting for its last barriers, if any.
    pub fn unaligned_snapshot(&self) -> Option<&UnalignedSnapshot> {
        self.unaligned.as_ref()
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
            Message::Record(record) => self.on_record(record),
            Message::Watermark(w) => {
                let update = self.valve.on_watermark(input, w);
                self.apply_valve(update);
            }
            Message::Idle(idle) => {
                let update = self.valve.on_idle(input, idle);
                self.apply_valve(update);
            }
            Message::Barrier(Barrier { checkpoint_id, timestamp_ns }) => {
                let outcome = self.aligner.on_barrier(input, checkpoint_id, now_ns);
                self.apply_barrier_outcome(outcome, input, checkpoint_id, timestamp_ns);
            }
            Message::EndOfInput => {
                let update = self.valve.on_end_of_input(input);
                self.apply_valve(update);
                if let Some(outcome) = self.aligner.on_input_finished(input) {
                    let timestamp_ns = self.barrier_timestamp_ns;
                    self.apply_barrier_outcome(outcome, input, 0, timestamp_ns);
                }
                if self.valve.inputs().iter().all(|i| i.finished) {
                    self.finish();
                }
            }
        }
        Some(Step { input, kind, checkpoint_id })
    }

    /// Restart a source from explicit log positions with no other state (at-most-once recovery:
    /// "start from the latest offsets").
    pub fn set_source_positions(&mut self, positions: &[(u32, u64)]) {
        if let OperatorState::Source(source) = &mut self.operator {
            for p in &mut source.partitions {
                if let Some(&(_, offset)) = positions.iter().find(|(part, _)| *part == p.partition) {
                    p.next_offset = offset;
                }
            }
        }
    }

    /// Source only: the record at `offset` of `partition` was read from the log.
    pub fn handle_source_record(&mut self, partition: u32, offset: u64, event: SourceEvent, now_ns: ProcTimeNs) {
        let OperatorState::Source(source) = &mut self.operator else {
            panic!("handle_source_record on non-source subtask {}", self.name);
        };
        let index = source
            .reader_index(partition)
            .unwrap_or_else(|| panic!("{} does not read partition {partition}", self.name));
        let reader = &mut source.partitions[index];
        assert_eq!(reader.next_offset, offset, "source reads its partition in offset order");
        reader.next_offset = offset + 1;
        reader.generator.observe(event.timestamp_ms);
        reader.idle = false;
        reader.last_record_ns = now_ns;
        source.sync(index);
        // After skipped ticks the grid point may lie in the past: move it to the next tick after
        // now, where the periodic emitter would have looked next.
        if let WatermarkStrategy::BoundedOutOfOrderness { emission: Emission::Periodic { interval_ms }, .. } =
            source.strategy
        {
            if source.next_periodic_ns <= now_ns {
                source.next_periodic_ns =
                    next_grid_point(source.next_periodic_ns, ms_to_ns(interval_ms.max(1)), now_ns.saturating_add(1));
            }
        }
        let per_record =
            matches!(source.strategy, WatermarkStrategy::BoundedOutOfOrderness { emission: Emission::PerRecord, .. });
        self.counters.records_in += 1;
        if self.output_idle {
            self.set_output_idle(false);
        }
        let record = Record {
            key: event.key,
            value: event.value,
            timestamp_ms: event.timestamp_ms,
            source: SourceRef { partition, offset },
            ingest_ns: now_ns,
            pane: None,
        };
        self.emit(Stream::Main, record);
        if per_record {
            self.emit_source_watermark();
        }
    }

    /// Source only: the log holds nothing more for this subtask; finish once any explicit
    /// watermark schedule has played out.
    pub fn handle_source_exhausted(&mut self) {
        if let OperatorState::Source(source) = &mut self.operator {
            source.exhausted = true;
            let schedule_done = match &source.strategy {
                WatermarkStrategy::Explicit(list) => source.explicit_next >= list.len(),
                _ => true,
            };
            if schedule_done && !self.finished {
                self.finish();
            }
        }
    }

    /// When this subtask next wants [`Subtask::handle_timer`] (sources: periodic watermarks,
    /// idleness, explicit schedules).
    pub fn next_timer_ns(&self) -> Option<ProcTimeNs> {
        let OperatorState::Source(source) = &self.operator else {
            // The alignment timer (aligned-checkpoint timeout).
            return self.alignment_deadline().map(|a| a.deadline_ns);
        };
        if self.finished {
            return None;
        }
        match &source.strategy {
            WatermarkStrategy::BoundedOutOfOrderness { emission, idle_timeout_ms, .. } => {
                let idle_check = idle_timeout_ms.and_then(|t| {
                    source
                        .partitions
                        .iter()
                        .filter(|p| !p.idle)
                        .map(|p| p.last_record_ns.saturating_add(ms_to_ns(t)))
                        .min()
                });
                match emission {
                    // Flink's periodic emitter ticks every interval but only emits a watermark
                    // that advanced. Ticks that cannot change anything are skipped, so idle
                    // virtual time costs nothing: the next tick is the periodic one if a
                    // watermark is pending, else the first tick at or after an idleness deadline.
                    Emission::Periodic { interval_ms } => {
                        let pending = self.source_watermark_pending();
                        let idle_tick = idle_check.map(|deadline| {
                            next_grid_point(source.next_periodic_ns, ms_to_ns((*interval_ms).max(1)), deadline)
                        });
                        if pending {
                            Some(source.next_periodic_ns)
                        } else {
                            idle_tick
                        }
                    }
                    Emission::PerRecord => idle_check,
                }
            }
            WatermarkStrategy::Explicit(list) => list.get(source.explicit_next).map(|e| e.at_ns),
            WatermarkStrategy::None => None,
        }
    }

    pub fn handle_timer(&mut self, now_ns: ProcTimeNs) {
        let OperatorState::Source(source) = &mut self.operator else {
            self.time_out_alignment(now_ns);
            return;
        };
        if self.finished {
            return;
        }
        // An explicit schedule is read in place: it may be long, and this runs once per mark.
        if let WatermarkStrategy::Explicit(list) = &source.strategy {
            let mut latest = None;
            while let Some(entry) = list.get(source.explicit_next) {
                if entry.at_ns > now_ns {
                    break;
                }
                latest = Some(entry.watermark_ms);
                source.explicit_next += 1;
            }
            let done = source.exhausted && source.explicit_next >= list.len();
            if let Some(w) = latest {
                self.advance_output_watermark(w);
            }
            if done {
                self.finish();
            }
            return;
        }
        match source.strategy.clone() {
            WatermarkStrategy::BoundedOutOfOrderness { emission, idle_timeout_ms, .. } => {
                if let Emission::Periodic { interval_ms } = emission {
                    if now_ns < source.next_periodic_ns {
                        return;
                    }
                    // Ticks stay on their grid even when skipped ones are jumped over.
                    let interval_ns = ms_to_ns(interval_ms.max(1));
                    source.next_periodic_ns =
                        next_grid_point(source.next_periodic_ns, interval_ns, now_ns.saturating_add(1));
                }
                if let Some(timeout_ms) = idle_timeout_ms {
                    for i in 0..source.partitions.len() {
                        let p = &mut source.partitions[i];
                        if !p.idle && now_ns >= p.last_record_ns.saturating_add(ms_to_ns(timeout_ms)) {
                            p.idle = true;
                            source.sync(i);
                        }
                    }
                }
                let all_idle = source.all_idle();
                if all_idle && !self.output_idle {
                    self.set_output_idle(true);
                }
                self.emit_source_watermark();
            }
            WatermarkStrategy::Explicit(_) | WatermarkStrategy::None => {}
        }
    }

    /// Source only: checkpoint `checkpoint_id` was triggered. Snapshot offsets, then send the
    /// barrier downstream behind every record already emitted. A finished subtask of any kind
    /// is triggered directly too (it will never see a barrier again) and just snapshots.
    /// `triggered_ns` is when the coordinator triggered it: the barrier carries it.
    pub fn trigger_checkpoint(&mut self, checkpoint_id: u64, triggered_ns: ProcTimeNs, now_ns: ProcTimeNs) {
        self.barrier_timestamp_ns = triggered_ns;
        self.snapshot(checkpoint_id, now_ns);
        if !self.finished {
            self.broadcast(Message::Barrier(Barrier { checkpoint_id, timestamp_ns: triggered_ns }));
        }
    }

    /// `notifyCheckpointComplete`.
    pub fn notify_checkpoint_complete(&mut self, checkpoint_id: u64) {
        if let OperatorState::Sink(sink) = &mut self.operator {
            let mut effects = std::mem::take(&mut self.scratch_effects);
            sink.on_checkpoint_complete(checkpoint_id, &mut effects);
            self.outbox.extend(effects.drain(..).map(Output::Sink));
            self.scratch_effects = effects;
        }
    }

    /// Drop everything buffered in the input gate (the subtask's process died).
    pub fn clear_inputs(&mut self) {
        self.gate.clear();
    }

    // ---- outputs ------------------------------------------------------------------------------

    pub fn poll_output(&mut self) -> Option<Output> {
        self.outbox.pop_front()
    }

    // ---- internals ----------------------------------------------------------------------------

    fn on_record(&mut self, mut record: Record) {
        self.counters.records_in += 1;
        match &mut self.operator {
            OperatorState::Map(f) => {
                f.apply(&mut record);
                self.emit(Stream::Main, record);
            }
            OperatorState::Filter(f) => {
                if f.keeps(&record) {
                    self.emit(Stream::Main, record);
                }
            }
            OperatorState::Union => self.emit(Stream::Main, record),
            OperatorState::Window(window) => {
                let mut results = std::mem::take(&mut self.scratch_records);
                // `Skipped` (a gap between sliding windows, not late) is ignored silently, as in Flink.
                match window.on_record(&record, &mut results) {
                    RecordFate::DroppedLate => {
                        self.counters.late_dropped += 1;
                        self.outbox.push_back(Output::Note(Note::LateDropped {
                            key: record.key,
                            timestamp_ms: record.timestamp_ms,
                            source: record.source,
                        }));
                        self.emit(Stream::Late, record);
                    }
                    RecordFate::AssignedSkippingLate => {
                        self.outbox.push_back(Output::Note(Note::LateForSomeWindows { source: record.source }));
                    }
                    RecordFate::Assigned | RecordFate::Skipped => {}
                }
                for r in results.drain(..) {
                    self.emit(Stream::Main, r);
                }
                self.scratch_records = results;
            }
            OperatorState::Sink(sink) => {
                let mut effects = std::mem::take(&mut self.scratch_effects);
                sink.write(record, &mut effects);
                self.outbox.extend(effects.drain(..).map(Output::Sink));
                self.scratch_effects = effects;
            }
            OperatorState::Source(_) => unreachable!("sources have no inputs"),
        }
    }

    fn apply_valve(&mut self, update: CombinerUpdate) {
        if let Some(w) = update.watermark {
            if let OperatorState::Window(window) = &mut self.operator {
                let mut results = std::mem::take(&mut self.scratch_records);
                window.on_watermark(w, &mut results);
                for r in results.drain(..) {
                    self.emit(Stream::Main, r);
                }
                self.scratch_records = results;
            }
            self.advance_output_watermark(w);
        }
        if let Some(idle) = update.idle {
            self.set_output_idle(idle);
        }
    }

    fn apply_barrier_outcome(
        &mut self,
        outcome: BarrierOutcome,
        input: usize,
        checkpoint_id: u64,
        timestamp_ns: ProcTimeNs,
    ) {
        if checkpoint_id > 0 && outcome != BarrierOutcome::Ignored {
            self.barrier_timestamp_ns = timestamp_ns;
        }
        match outcome {
            BarrierOutcome::Ignored => {}
            BarrierOutcome::Waiting { block, first } => {
                if first {
                    self.outbox.push_back(Output::Note(Note::AlignmentStarted { checkpoint_id, input }));
                }
                if block {
                    self.outbox.push_back(Output::Note(Note::InputBlocked { checkpoint_id, input }));
                }
            }
            BarrierOutcome::Complete { checkpoint_id, alignment_started_ns } => {
                if let Some(u) = self.unaligned.take() {
                    if u.checkpoint_id == checkpoint_id {
                        // The unaligned snapshot taken earlier (at the first barrier, or when
                        // the alignment timed out) is complete.
                        self.report_snapshot(u.checkpoint_id, u.state, u.channel_state, u.started_ns);
                        return;
                    }
                    // An older unaligned snapshot, abandoned for this checkpoint: dropped.
                }
                self.snapshot(checkpoint_id, alignment_started_ns);
                if !self.finished {
                    let timestamp_ns = self.barrier_timestamp_ns;
                    self.broadcast(Message::Barrier(Barrier { checkpoint_id, timestamp_ns }));
                }
            }
        }
    }

    /// An unaligned barrier: the first of a checkpoint snapshots at once (state plus the data it
    /// overtook and the data queued on the other inputs) and forwards it; later ones close their
    /// input's channel state; the last one reports the snapshot.
    fn on_unaligned_barrier(&mut self, barrier: PriorityBarrier, now_ns: ProcTimeNs) {
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
            self.outbox.push_back(Output::Note(Note::AlignmentStarted { checkpoint_id, input }));
            self.start_unaligned_snapshot(checkpoint_id, Some((input, overtaken)), now_ns);
        } else if let Some(u) = &mut self.unaligned {
            u.recording[input] = false;
        }
        if matches!(outcome, BarrierOutcome::Complete { .. }) {
            if let Some(u) = self.unaligned.take() {
                self.report_snapshot(u.checkpoint_id, u.state, u.channel_state, u.started_ns);
            }
        }
    }

    /// Take an unaligned snapshot of `checkpoint_id` now: the operator state, and per input the
    /// in-flight data — cut at that input's barrier (`at`: the one just processed and how many
    /// messages it overtook; one already processed: nothing; one waiting in the priority list:
    /// what it overtook) or, where the barrier has not arrived, everything queued plus whatever
    /// arrives before it. Then forward the barrier downstream.
    fn start_unaligned_snapshot(&mut self, checkpoint_id: u64, at: Option<(usize, usize)>, started_ns: ProcTimeNs) {
        let inputs = self.gate.queues.len();
        let mut channel_state = vec![Vec::new(); inputs];
        let mut recording = vec![false; inputs];
        let seen = self.aligner.pending().map(|p| p.seen.clone()).unwrap_or_else(|| vec![true; inputs]);
        for (j, queue) in self.gate.queues.iter().enumerate() {
            let waiting = self.gate.priority.iter().find(|p| p.input == j && p.checkpoint_id == checkpoint_id);
            let cut = match at {
                Some((input, overtaken)) if input == j => Some(overtaken),
                _ if seen[j] => Some(0),
                _ => waiting.map(|p| p.overtaken),
            };
            match cut {
                Some(n) => channel_state[j] = queue.iter().take(n).map(|(_, m)| m.clone()).collect(),
                None => {
                    channel_state[j] = queue.iter().map(|(_, m)| m.clone()).collect();
                    recording[j] = true;
                }
            }
        }
        if let OperatorState::Sink(sink) = &mut self.operator {
            let mut effects = std::mem::take(&mut self.scratch_effects);
            sink.on_snapshot(checkpoint_id, &mut effects);
            self.outbox.extend(effects.drain(..).map(Output::Sink));
            self.scratch_effects = effects;
        }
        self.unaligned = Some(UnalignedSnapshot {
            checkpoint_id,
            state: self.operator.clone(),
            channel_state,
            recording,
            started_ns,
        });
        if !self.finished {
            let timestamp_ns = self.barrier_timestamp_ns;
            self.broadcast(Message::Barrier(Barrier { checkpoint_id, timestamp_ns }));
        }
    }

    fn snapshot(&mut self, checkpoint_id: u64, alignment_started_ns: ProcTimeNs) {
        if let OperatorState::Sink(sink) = &mut self.operator {
            let mut effects = std::mem::take(&mut self.scratch_effects);
            sink.on_snapshot(checkpoint_id, &mut effects);
            self.outbox.extend(effects.drain(..).map(Output::Sink));
            self.scratch_effects = effects;
        }
        let state = self.operator.clone();
        self.report_snapshot(checkpoint_id, state, Vec::new(), alignment_started_ns);
    }

    fn report_snapshot(
        &mut self,
        checkpoint_id: u64,
        state: OperatorState,
        channel_state: Vec<Vec<Message>>,
        alignment_started_ns: ProcTimeNs,
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
        } else if self.aligner.mode() == CheckpointMode::Unaligned {
            SnapshotAlignment::Unaligned
        } else {
            SnapshotAlignment::Aligned
        };
        self.outbox.push_back(Output::Snapshot(Box::new(SnapshotReport {
            checkpoint_id,
            state,
            channel_state,
            alignment_started_ns,
            state_size_bytes,
            alignment,
        })));
    }

    fn finish(&mut self) {
        if self.finished {
            return;
        }
        if !self.checkpointing {
            if let OperatorState::Sink(sink) = &mut self.operator {
                let mut effects = Vec::new();
                sink.on_end_without_checkpoints(&mut effects);
                self.outbox.extend(effects.into_iter().map(Output::Sink));
            }
        }
        if let OperatorState::Source(_) = self.operator {
            // Flink's bounded sources send MAX_WATERMARK before end of input.
            self.advance_output_watermark(crate::WATERMARK_MAX);
        }
        self.broadcast(Message::EndOfInput);
        self.finished = true;
        self.outbox.push_back(Output::Note(Note::Finished));
    }

    /// Would a periodic tick now change the output: a higher watermark, or all partitions idle
    /// while the output is not marked idle?
    fn source_watermark_pending(&self) -> bool {
        let OperatorState::Source(source) = &self.operator else {
            return false;
        };
        match source.active_watermark() {
            Some(w) => w > self.output_watermark,
            None => !self.output_idle,
        }
    }

    fn emit_source_watermark(&mut self) {
        let OperatorState::Source(source) = &self.operator else {
            return;
        };
        if let Some(w) = source.active_watermark() {
            self.advance_output_watermark(w);
        }
    }

    fn advance_output_watermark(&mut self, watermark: EventTimeMs) {
        if watermark > self.output_watermark {
            self.output_watermark = watermark;
            self.broadcast(Message::Watermark(watermark));
            self.outbox.push_back(Output::Note(Note::WatermarkAdvanced { watermark_ms: watermark }));
        }
    }

    fn set_output_idle(&mut self, idle: bool) {
        if self.output_idle != idle {
            self.output_idle = idle;
            self.broadcast(Message::Idle(idle));
        }
    }

    fn broadcast(&mut self, message: Message) {
        for gate in &self.outputs {
            for &channel in &gate.channels {
                self.outbox.push_back(Output::Send { channel, message: message.clone() });
            }
        }
    }

    fn emit(&mut self, stream: Stream, mut record: Record) {
        let gates = self.outputs.len();
        for g in 0..gates {
            let gate = &self.outputs[g];
            if gate.stream != stream {
                continue;
            }
            let n = gate.channels.len();
            match gate.partitioning {
                Partitioning::Forward => {
                    let channel = gate.channels[0];
                    self.counters.records_out += 1;
                    self.send_record(channel, &mut record, g + 1 < gates);
                }
                Partitioning::Hash(selector) => {
                    record.key = selector.select(&record);
                    let channel = gate.channels[subtask_for_key(record.key, n as u32) as usize];
                    self.counters.records_out += 1;
                    self.send_record(channel, &mut record, g + 1 < gates);
                }
                Partitioning::Rebalance => {
                    let next = &mut self.rebalance_next[g];
                    let channel = gate.channels[*next % n];
                    *next = (*next + 1) % n;
                    self.counters.records_out += 1;
                    self.send_record(channel, &mut record, g + 1 < gates);
                }
                Partitioning::Broadcast => {
                    for i in 0..n {
                        let channel = self.outputs[g].channels[i];
                        self.counters.records_out += 1;
                        self.send_record(channel, &mut record, true);
                    }
                }
            }
        }
    }

    /// Send a record, moving it when no later gate needs it.
    fn send_record(&mut self, channel: ChannelId, record: &mut Record, keep: bool) {
        let message = if keep {
            Message::Record(record.clone())
        } else {
            Message::Record(std::mem::replace(record, placeholder_record()))
        };
        self.outbox.push_back(Output::Send { channel, message });
    }
}

fn placeholder_record() -> Record {
    Record { key: 0, value: 0, timestamp_ms: 0, source: SourceRef::default(), ingest_ns: 0, pane: None }
}

/// The first point of the grid `origin + k * interval_ns` (k ≥ 0) at or after `at`.
fn next_grid_point(origin: ProcTimeNs, interval_ns: ProcTimeNs, at: ProcTimeNs) -> ProcTimeNs {
    if at <= origin {
        return origin;
    }
    let steps = (at - origin).div_ceil(interval_ns);
    origin.saturating_add(steps.saturating_mul(interval_ns))
}
