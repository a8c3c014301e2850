//! The recording of a run: a compact trace of everything that happened (and its hash), metrics
//! series, and per-checkpoint statistics. The GUI, the CLI's exports and the tests all read it.

use engine::checkpoint::SnapshotAlignment;
use engine::graph::{ChannelId, SubtaskId};
use engine::CheckpointId;
use serde::Serialize;

use crate::kernel::TimeNs;
use crate::scenario::NodeId;

mod payload;
pub use payload::{AckerMessage, FaultWhat, Payload, TimedOut};

/// What a trace event records. Its payload, typed per kind, is [`TraceEvent::payload`]; the
/// comments below say how each kind lays it out in the `a`/`b` words ([`Payload::encode`]), which
/// only this module reads (and the JSON trace export shows as they are).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[repr(u8)]
pub enum TraceKind {
    /// A message left `subtask` on `channel`. a = arrival time (ns), b = payload (a record's value,
    /// the watermark, the checkpoint id, 1 for idle / 0 for active, 0 for end of input).
    SendRecord,
    SendWatermark,
    SendBarrier,
    SendIdle,
    SendEndOfInput,
    /// `subtask` processed an input message (a = input index, b = payload as for sends).
    ProcessRecord,
    ProcessWatermark,
    ProcessBarrier,
    ProcessIdle,
    ProcessEndOfInput,
    /// A source read the log: a = partition, b = offset.
    SourceRead,
    /// A subtask's output watermark advanced: b = watermark (ms).
    WatermarkAdvanced,
    /// A record was too late: a = key, b = timestamp (ms).
    LateDropped,
    /// a = checkpoint id, b = input index.
    AlignmentStarted,
    InputBlocked,
    /// A subtask snapshotted: a = checkpoint id, b = state size (bytes).
    Snapshot,
    Finished,
    /// Sink effects: a = key, b = value (appends, upserts, transactional writes);
    /// transactions: a = transaction sequence, b = checkpoint id or attempt.
    SinkAppend,
    SinkUpsert,
    SinkTxnWrite,
    SinkPreCommit,
    SinkCommit,
    SinkRecover,
    /// Coordinator: a = checkpoint id (b = abort reason for aborts).
    CheckpointTriggered,
    CheckpointCompleted,
    CheckpointAborted,
    /// Faults and recovery: `subtask` holds the node id; a, b as documented at the call site.
    NodeCrashed,
    NodeRestarted,
    FailureDetected,
    JobRestarted,
    NetworkFault,
    /// Storm: a spout emitted a tuple (`a` partition, `b` offset; `channel` 1 for a replay).
    StormEmit,
    /// Storm: an acker message was sent (`channel`: 0 init, 1 ack, 2 fail; `a` root id).
    StormAckerMessage,
    /// Storm: a tuple tree completed (`a` root id); the spout's `ack` follows.
    StormTreeComplete,
    /// Storm: a spout tuple timed out (`a` partition, `b` offset) and will be replayed.
    StormTimeout,
    /// Storm: a worker's executors restarted with empty state (`subtask` is the node).
    StormWorkerRestarted,
    /// Trident: a batch began (`a` txid, `b` 1 for a replay).
    TridentBatch,
    /// Trident: a batch's state updates committed (`a` txid, `b` updates skipped as applied).
    TridentCommit,
    /// The aligned-checkpoint timeout expired while `subtask` aligned: it switched the checkpoint
    /// to unaligned (a = checkpoint id).
    AlignmentTimedOut,
    /// Spark: the driver wrote `offsets/a` and starts batch `a` (`b` 1 for a re-run after a
    /// restart).
    SparkBatch,
    /// Spark: the driver wrote `commits/a` with the watermark `b` the next batch uses.
    SparkCommit,
    /// Kafka Streams: a task processed an input record (`subtask` is its instance's node; a =
    /// task number, b = input offset).
    KStreamsProcess,
    /// Kafka Streams: a task committed its input offset (a = task number, b = the offset).
    KStreamsCommit,
    /// Kafka Streams: a task began restoring its store (a = task number, b = changelog records
    /// to replay).
    KStreamsRestore,
    /// Kafka Streams: a task finished restoring and resumes (a = task number, b = the committed
    /// offset it resumes from).
    KStreamsResume,
    /// Kafka Streams: an open transaction was aborted (a = transaction number).
    KStreamsTxnAborted,
}

/// Who a trace event is about, kept in the event's subtask word: a subtask of the plan, a node
/// (faults and recovery), a Storm executor (plan subtasks first, then ackers: see
/// `storm::core`), or the job as a whole (the coordinator's and the job master's events, word 0).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum About {
    Subtask(SubtaskId),
    Node(NodeId),
    Executor(usize),
    Job,
}

impl About {
    /// The event's subtask word.
    pub(super) fn word(self) -> u32 {
        match self {
            About::Subtask(id) => id.get(),
            About::Node(node) => node.get(),
            // Executors are numbered like plan subtasks (and fit the word alike).
            About::Executor(executor) => u32::try_from(executor).unwrap_or(u32::MAX),
            About::Job => 0,
        }
    }
}

impl From<SubtaskId> for About {
    fn from(id: SubtaskId) -> About {
        About::Subtask(id)
    }
}

impl From<NodeId> for About {
    fn from(node: NodeId) -> About {
        About::Node(node)
    }
}

/// One traced event in 32 bytes: the time and the two kind-specific words, the channel, and the
/// subtask in three bytes beside the one-byte kind. A subtask (or node, or Storm executor) id is
/// below 2^24: the scenario limits bound subtasks at 1 000 steps x 1 000 subtasks
/// (`sim::scenario::limits`); a larger id would be stored as 2^24 - 1.
///
/// The two payload words are private: read an event through [`TraceEvent::payload`] (or the
/// accessors of [`Payload`]), build one with [`TraceEvent::from_payload`].
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct TraceEvent {
    pub time_ns: TimeNs,
    a: i64,
    b: i64,
    /// The channel the event is about (sends); a few kinds keep part of their payload here
    /// ([`Payload::encode`]), so read those through [`TraceEvent::payload`].
    pub channel: u32,
    pub kind: TraceKind,
    subtask: [u8; 3],
}

/// The largest subtask id a [`TraceEvent`] holds.
pub const MAX_TRACED_SUBTASK: u32 = (1 << 24) - 1;

impl TraceEvent {
    fn new(time_ns: TimeNs, kind: TraceKind, subtask: u32, channel: u32, a: i64, b: i64) -> Self {
        let [s0, s1, s2, _] = subtask.min(MAX_TRACED_SUBTASK).to_le_bytes();
        TraceEvent { time_ns, a, b, channel, kind, subtask: [s0, s1, s2] }
    }
    /// The channel a send is about (the `Send*` kinds; other kinds' channel word is no channel).
    pub fn channel_id(&self) -> ChannelId {
        ChannelId::from_raw(self.channel)
    }
    /// The subtask word as stored: whatever [`About`] the event was recorded for.
    fn subtask_word(&self) -> u32 {
        let [s0, s1, s2] = self.subtask;
        u32::from_le_bytes([s0, s1, s2, 0])
    }
    /// The subtask the event is about (the kinds a subtask records).
    pub fn subtask(&self) -> SubtaskId {
        SubtaskId::from_raw(self.subtask_word())
    }
    /// The node a fault or recovery event is about.
    pub fn node(&self) -> NodeId {
        NodeId::from_raw(self.subtask_word())
    }
    /// The Storm executor a Storm world's event is about.
    pub fn executor(&self) -> u32 {
        self.subtask_word()
    }
}

impl std::fmt::Debug for TraceEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TraceEvent")
            .field("time_ns", &self.time_ns)
            .field("kind", &self.kind)
            .field("subtask", &self.subtask_word())
            .field("channel", &self.channel)
            .field("a", &self.a)
            .field("b", &self.b)
            .finish()
    }
}

/// Serialised as it was before the compact layout: `time_ns`, `kind`, `subtask`, `channel`, `a`, `b`.
impl Serialize for TraceEvent {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut s = serializer.serialize_struct("TraceEvent", 6)?;
        s.serialize_field("time_ns", &self.time_ns)?;
        s.serialize_field("kind", &self.kind)?;
        s.serialize_field("subtask", &self.subtask_word())?;
        s.serialize_field("channel", &self.channel)?;
        s.serialize_field("a", &self.a)?;
        s.serialize_field("b", &self.b)?;
        s.end()
    }
}

/// Records trace events and folds each into a running hash. Storing the events is optional
/// (benchmarks only need the hash).
#[derive(Clone, Debug)]
pub struct Recorder {
    hash: u64,
    count: u64,
    events: Option<Vec<TraceEvent>>,
}

impl Recorder {
    pub fn new(keep_events: bool) -> Self {
        Recorder { hash: 0xcbf2_9ce4_8422_2325, count: 0, events: keep_events.then(Vec::new) }
    }

    #[inline]
    fn record(&mut self, time_ns: TimeNs, kind: TraceKind, subtask: u32, channel: u32, a: i64, b: i64) {
        // FxHash-style folding (one multiply per word): fast, and the same on every platform.
        const K: u64 = 0x517c_c1b7_2722_0a95;
        let mut h = self.hash;
        for word in [time_ns, kind as u64 | (subtask as u64) << 8 | (channel as u64) << 32, a as u64, b as u64] {
            h = (h.rotate_left(5) ^ word).wrapping_mul(K);
        }
        self.hash = h;
        self.count += 1;
        if let Some(events) = &mut self.events {
            events.push(TraceEvent::new(time_ns, kind, subtask, channel, a, b));
        }
    }

    /// Record `payload` (its kind and words from [`Payload::encode`]) about `about`; `channel` is
    /// the channel the event is about, for the kinds that have one.
    // Inline always, as `Payload::encode`: outlined, the payload's variant is lost to the match.
    #[inline(always)]
    pub fn record_payload(
        &mut self,
        time_ns: TimeNs,
        about: impl Into<About>,
        channel: Option<ChannelId>,
        payload: Payload,
    ) {
        let (kind, channel_word, a, b) = payload.pack(channel);
        self.record(time_ns, kind, about.into().word(), channel_word, a, b);
    }

    /// Record `event` again, as it was (a recording that re-folds a kept trace gets the hash of
    /// the run that recorded it).
    pub fn record_event(&mut self, event: &TraceEvent) {
        self.record(event.time_ns, event.kind, event.subtask_word(), event.channel, event.a, event.b);
    }

    /// The hash of everything recorded so far: equal hashes, equal runs.
    pub fn hash(&self) -> u64 {
        self.hash
    }
    pub fn count(&self) -> u64 {
        self.count
    }
    pub fn events(&self) -> &[TraceEvent] {
        self.events.as_deref().unwrap_or(&[])
    }
    pub fn take_events(&mut self) -> Vec<TraceEvent> {
        self.events.take().unwrap_or_default()
    }
    /// The events kept so far, leaving the recorder keeping (from empty) if it was: a recording
    /// that copies the world now and then moves the trace out first, so no copy carries it.
    pub fn drain_events(&mut self) -> Vec<TraceEvent> {
        self.events.as_mut().map(std::mem::take).unwrap_or_default()
    }
    /// Start or stop keeping events (the hash is folded either way; stopping drops those kept).
    pub fn keep_events(&mut self, keep: bool) {
        match (keep, self.events.is_some()) {
            (true, false) => self.events = Some(Vec::new()),
            (false, true) => self.events = None,
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_traced_event_takes_32_bytes() {
        assert_eq!(std::mem::size_of::<TraceEvent>(), 32);
    }

    /// A fault's event keeps what it is, whether it began or ended, and its nodes, for every
    /// kind of fault that has one (and the largest node numbers); a crash has none.
    #[test]
    fn a_fault_event_keeps_its_kind_phase_and_nodes() {
        use crate::faults::Fault;
        use crate::scenario::NodeId;
        let (a, b) = (NodeId::from_raw(3), NodeId::from_raw(u32::MAX));
        let specs = [
            Fault::Partition { a, b, from_ns: 1, until_ns: 2 },
            Fault::LatencySpike { link: None, from_ns: 1, until_ns: 2, extra_ns: 5 },
            Fault::MessageLoss { link: Some((b, a)), from_ns: 1, until_ns: 2, loss_ppm: 9, retransmit_ns: 3 },
            Fault::SlowNode { node: b, from_ns: 1, until_ns: 2, factor: 4 },
        ];
        let mut recorder = Recorder::new(true);
        let mut recorded = Vec::new();
        for (i, spec) in specs.iter().enumerate() {
            for ended in [false, true] {
                let payload = Payload::of_fault(i as u32, spec, ended).expect("not a crash");
                recorder.record_payload(7, About::Job, None, payload);
                recorded.push(payload);
            }
        }
        let read: Vec<Payload> = recorder.events().iter().map(TraceEvent::payload).collect();
        assert_eq!(read, recorded);
        let whats: Vec<FaultWhat> = read
            .iter()
            .filter_map(|p| match p {
                Payload::NetworkFault { what, ended: false, .. } => Some(*what),
                _ => None,
            })
            .collect();
        assert_eq!(whats, [FaultWhat::Partition, FaultWhat::LatencySpike, FaultWhat::MessageLoss, FaultWhat::SlowNode]);
        let crash = Fault::Crash { node: a, at: crate::faults::Trigger::At(1), restart_after_ns: None };
        assert_eq!(Payload::of_fault(0, &crash, false), None);
    }

    #[test]
    fn a_traced_event_keeps_every_field() {
        let e = TraceEvent::new(u64::MAX, TraceKind::TridentCommit, 1_000_999, u32::MAX, i64::MIN, i64::MAX);
        assert_eq!(
            (e.time_ns, e.kind, e.subtask_word(), e.channel, e.a, e.b),
            (u64::MAX, TraceKind::TridentCommit, 1_000_999, u32::MAX, i64::MIN, i64::MAX)
        );
        assert_eq!(TraceEvent::new(0, TraceKind::Finished, u32::MAX, 0, 0, 0).subtask_word(), MAX_TRACED_SUBTASK);
        let json = serde_json::to_value(TraceEvent::new(5, TraceKind::SourceRead, 7, 2, 3, 4)).expect("serialises");
        assert_eq!(
            json,
            serde_json::json!({"time_ns": 5, "kind": "SourceRead", "subtask": 7, "channel": 2, "a": 3, "b": 4})
        );
    }
}

/// One bucket of the metrics series (one per `bucket_ns` of virtual time).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct MetricsBucket {
    pub start_ns: TimeNs,
    /// Records processed per operator during the bucket.
    pub records_in: Vec<u64>,
    /// Per operator: processing time minus the lowest output watermark of its subtasks, in ms,
    /// at the end of the bucket (None before the first watermark).
    pub watermark_lag_ms: Vec<Option<i64>>,
    /// Rows that became visible in a sink during the bucket.
    pub rows_visible: u64,
    /// End-to-end latency of those rows (visible time minus the newest contributing record's
    /// ingestion), summed and at most, in ms.
    pub latency_ms_sum: u64,
    pub latency_ms_max: u64,
}

impl MetricsBucket {
    /// Mean end-to-end latency of the rows that became visible in this bucket.
    pub fn latency_ms_mean(&self) -> Option<u64> {
        (self.rows_visible > 0).then(|| self.latency_ms_sum / self.rows_visible)
    }
}

/// Per-checkpoint, per-subtask figures, as Flink's web UI shows them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SubtaskCheckpointStats {
    pub subtask: SubtaskId,
    /// From trigger to the first barrier reaching the subtask.
    pub start_delay_ns: TimeNs,
    /// From the first to the last barrier (0 for single-input subtasks).
    pub alignment_ns: TimeNs,
    /// Synchronous part: taking the snapshot (modelled as proportional to state size).
    pub sync_ns: TimeNs,
    /// Asynchronous part: writing to checkpoint storage and acknowledging.
    pub async_ns: TimeNs,
    pub state_size_bytes: u64,
    /// Aligned, unaligned, or timed out to unaligned (the aligned-checkpoint timeout).
    pub alignment: engine::checkpoint::SnapshotAlignment,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum CheckpointOutcome {
    InProgress,
    Completed { at_ns: TimeNs },
    Aborted { at_ns: TimeNs, reason: engine::checkpoint::AbortReason },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CheckpointStats {
    pub id: CheckpointId,
    pub triggered_ns: TimeNs,
    pub outcome: CheckpointOutcome,
    pub subtasks: Vec<SubtaskCheckpointStats>,
    /// Completed: the snapshot-consistency check over its snapshots (`sim::consistency`).
    pub consistency: Option<crate::consistency::SnapshotConsistency>,
}

impl CheckpointStats {
    pub fn duration_ns(&self) -> Option<TimeNs> {
        match self.outcome {
            CheckpointOutcome::Completed { at_ns } => Some(at_ns - self.triggered_ns),
            _ => None,
        }
    }
    pub fn max_alignment_ns(&self) -> TimeNs {
        self.subtasks.iter().map(|s| s.alignment_ns).max().unwrap_or(0)
    }
    /// How this checkpoint aligned, over the snapshots of subtasks with inputs in `plan`
    /// (sources never align): None when no such subtask took one.
    pub fn alignment(&self, plan: &engine::graph::PhysicalPlan) -> Option<CheckpointAlignment> {
        let aligning: Vec<SnapshotAlignment> = self
            .subtasks
            .iter()
            .filter(|s| plan.subtasks.get(s.subtask.index()).is_some_and(|p| !p.inputs.is_empty()))
            .map(|s| s.alignment)
            .collect();
        let timed_out = aligning.iter().filter(|a| **a == SnapshotAlignment::TimedOut).count();
        // One switched subtask makes the checkpoint unaligned in part: it carries channel state.
        let how = if timed_out > 0 {
            SnapshotAlignment::TimedOut
        } else if aligning.contains(&SnapshotAlignment::Aligned) {
            SnapshotAlignment::Aligned
        } else {
            *aligning.first()?
        };
        Some(CheckpointAlignment { how, timed_out, snapshots: aligning.len() })
    }
}

/// How one checkpoint aligned ([`CheckpointStats::alignment`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CheckpointAlignment {
    /// Timed out to unaligned if any subtask switched, else aligned if any aligned, else unaligned.
    pub how: SnapshotAlignment,
    /// Snapshots (of subtasks with inputs) that timed out to unaligned.
    pub timed_out: usize,
    /// Snapshots of subtasks with inputs.
    pub snapshots: usize,
}

/// A run's checkpoints in four figures, as `compare` and `replay` show them: completed
/// checkpoints' durations from trigger to completion (virtual time), and how many checkpoints
/// stayed aligned or timed out to unaligned (`execution.checkpointing.aligned-checkpoint-timeout`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct CheckpointFigures {
    pub checkpoint_duration_p50_ns: TimeNs,
    pub checkpoint_duration_max_ns: TimeNs,
    pub checkpoints_aligned: usize,
    pub checkpoints_timed_out: usize,
}

impl CheckpointFigures {
    pub fn of(checkpoints: &[CheckpointStats], plan: &engine::graph::PhysicalPlan) -> CheckpointFigures {
        let mut durations: Vec<TimeNs> = checkpoints.iter().filter_map(CheckpointStats::duration_ns).collect();
        // Completed checkpoints only: an aborted one's statistics lack the subtasks that never
        // acknowledged.
        let hows: Vec<SnapshotAlignment> = checkpoints
            .iter()
            .filter(|c| c.duration_ns().is_some())
            .filter_map(|c| c.alignment(plan))
            .map(|a| a.how)
            .collect();
        let count = |how: SnapshotAlignment| hows.iter().filter(|h| **h == how).count();
        CheckpointFigures {
            checkpoint_duration_p50_ns: crate::oracle::percentile(&mut durations, 50).unwrap_or(0),
            checkpoint_duration_max_ns: durations.iter().copied().max().unwrap_or(0),
            checkpoints_aligned: count(SnapshotAlignment::Aligned),
            checkpoints_timed_out: count(SnapshotAlignment::TimedOut),
        }
    }
}
