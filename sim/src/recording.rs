//! The recording of a run: a compact trace of everything that happened (and its hash), metrics
//! series, and per-checkpoint statistics. The GUI, the CLI's exports and the tests all read it.

use serde::Serialize;

use crate::kernel::TimeNs;

/// What a trace event records. The meaning of the `a`/`b` fields is given per kind.
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
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct TraceEvent {
    pub time_ns: TimeNs,
    pub kind: TraceKind,
    pub subtask: u32,
    pub channel: u32,
    pub a: i64,
    pub b: i64,
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
    pub fn record(&mut self, time_ns: TimeNs, kind: TraceKind, subtask: u32, channel: u32, a: i64, b: i64) {
        // FxHash-style folding (one multiply per word): fast, and the same on every platform.
        const K: u64 = 0x517c_c1b7_2722_0a95;
        let mut h = self.hash;
        for word in [time_ns, kind as u64 | (subtask as u64) << 8 | (channel as u64) << 32, a as u64, b as u64] {
            h = (h.rotate_left(5) ^ word).wrapping_mul(K);
        }
        self.hash = h;
        self.count += 1;
        if let Some(events) = &mut self.events {
            events.push(TraceEvent { time_ns, kind, subtask, channel, a, b });
        }
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
    pub subtask: usize,
    /// From trigger to the first barrier reaching the subtask.
    pub start_delay_ns: TimeNs,
    /// From the first to the last barrier (0 for single-input subtasks).
    pub alignment_ns: TimeNs,
    /// Synchronous part: taking the snapshot (modelled as proportional to state size).
    pub sync_ns: TimeNs,
    /// Asynchronous part: writing to checkpoint storage and acknowledging.
    pub async_ns: TimeNs,
    pub state_size_bytes: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum CheckpointOutcome {
    InProgress,
    Completed { at_ns: TimeNs },
    Aborted { at_ns: TimeNs, reason: engine::checkpoint::AbortReason },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CheckpointStats {
    pub id: u64,
    pub triggered_ns: TimeNs,
    pub outcome: CheckpointOutcome,
    pub subtasks: Vec<SubtaskCheckpointStats>,
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
}
