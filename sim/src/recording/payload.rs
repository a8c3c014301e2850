//! What a trace event says, typed: one [`Payload`] variant per [`TraceKind`], with named fields.
//!
//! A [`TraceEvent`] stores its payload in two 64-bit words (and, for a few kinds, the channel
//! word) so that an event stays 32 bytes; [`Payload::encode`] and [`TraceEvent::payload`] are the
//! one place that knows the layout. Writers record a `Payload` ([`super::Recorder::record_payload`])
//! and readers match on [`TraceEvent::payload`], so no reader decodes `a`/`b` by convention.
//! Encoding a decoded payload gives back the same words, so the trace hash does not depend on
//! which side of this module an event was built on.

use serde::Serialize;

use engine::graph::{ChannelId, InputIndex};
use engine::message::SourceRef;
use engine::CheckpointId;

use super::{About, TraceEvent, TraceKind};
use crate::kernel::TimeNs;

/// What a Storm acker message does (`StormAckerMessage`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum AckerMessage {
    /// The spout registers a tuple tree (`value`: the XOR of its first edges).
    Init,
    /// A bolt acked a tuple (`value`: the XOR of the acked id and the new edges).
    Ack,
    /// A bolt failed a tuple.
    Fail,
}

/// The kind of a fault that is not a crash (`NetworkFault`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum FaultWhat {
    Partition,
    LatencySpike,
    MessageLoss,
    SlowNode,
}

impl FaultWhat {
    const ALL: [FaultWhat; 4] =
        [FaultWhat::Partition, FaultWhat::LatencySpike, FaultWhat::MessageLoss, FaultWhat::SlowNode];
}

/// What timed out (`StormTimeout`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum TimedOut {
    /// A spout tuple, by its source record.
    Tuple { partition: u32, offset: u64 },
    /// A Trident batch, by its transaction id.
    Batch { txid: u64 },
}

/// A trace event's payload, per kind (see [`TraceKind`] for when each is recorded).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Payload {
    SendRecord {
        arrival_ns: TimeNs,
        value: i64,
    },
    SendWatermark {
        arrival_ns: TimeNs,
        watermark_ms: i64,
    },
    SendBarrier {
        arrival_ns: TimeNs,
        checkpoint: CheckpointId,
    },
    SendIdle {
        arrival_ns: TimeNs,
        idle: bool,
    },
    SendEndOfInput {
        arrival_ns: TimeNs,
    },
    /// `checkpoint`: the barrier's, for `ProcessBarrier` (None for every other input).
    ProcessRecord {
        input: InputIndex,
        checkpoint: Option<CheckpointId>,
    },
    ProcessWatermark {
        input: InputIndex,
        checkpoint: Option<CheckpointId>,
    },
    ProcessBarrier {
        input: InputIndex,
        checkpoint: Option<CheckpointId>,
    },
    ProcessIdle {
        input: InputIndex,
        checkpoint: Option<CheckpointId>,
    },
    ProcessEndOfInput {
        input: InputIndex,
        checkpoint: Option<CheckpointId>,
    },
    SourceRead {
        partition: u32,
        offset: u64,
    },
    WatermarkAdvanced {
        watermark_ms: i64,
    },
    LateDropped {
        key: u64,
        timestamp_ms: i64,
    },
    AlignmentStarted {
        checkpoint: CheckpointId,
        input: InputIndex,
    },
    InputBlocked {
        checkpoint: CheckpointId,
        input: InputIndex,
    },
    Snapshot {
        checkpoint: CheckpointId,
        state_bytes: u64,
    },
    Finished,
    SinkAppend {
        key: u64,
        value: i64,
    },
    SinkUpsert {
        key: u64,
        value: i64,
    },
    SinkTxnWrite {
        key: u64,
        value: i64,
    },
    SinkPreCommit {
        txn_sequence: u64,
        checkpoint: CheckpointId,
    },
    SinkCommit {
        txn_sequence: u64,
        attempt: u32,
    },
    SinkRecover {
        committed: u64,
    },
    CheckpointTriggered {
        checkpoint: CheckpointId,
    },
    CheckpointCompleted {
        checkpoint: CheckpointId,
    },
    /// `reason`: `engine::checkpoint::AbortReason` as its discriminant.
    CheckpointAborted {
        checkpoint: CheckpointId,
        reason: u8,
    },
    /// The crashed node comes back after `back_after_ns` (None: never).
    NodeCrashed {
        back_after_ns: Option<TimeNs>,
    },
    NodeRestarted,
    FailureDetected,
    /// `restored_from`: the checkpoint the restart restores (None: fresh state).
    JobRestarted {
        attempt: u32,
        restored_from: Option<CheckpointId>,
    },
    /// Fault number `fault` of the run's schedule (not a crash: [`Payload::NodeCrashed`]) began,
    /// or ended: what it is and where — a partition's two nodes, a link's two (both 0: every
    /// link), a slow node as `node_a`.
    NetworkFault {
        fault: u32,
        what: FaultWhat,
        ended: bool,
        node_a: u32,
        node_b: u32,
    },
    StormEmit {
        partition: u32,
        offset: u64,
        replay: bool,
    },
    StormAckerMessage {
        message: AckerMessage,
        root: u64,
        value: u64,
    },
    StormTreeComplete {
        root: u64,
        failed: bool,
    },
    StormTimeout(TimedOut),
    StormWorkerRestarted,
    TridentBatch {
        txid: u64,
        replay: bool,
    },
    TridentCommit {
        txid: u64,
        skipped: u64,
    },
    /// The aligned-checkpoint timeout switched `checkpoint` to unaligned at this subtask.
    AlignmentTimedOut {
        checkpoint: CheckpointId,
    },
    /// Spark: `offsets/{batch}` written, the batch starts (`rerun`: after a restart, with the
    /// logged offsets and watermark).
    SparkBatch {
        batch: u64,
        rerun: bool,
    },
    /// Spark: `commits/{batch}` written with the watermark the next batch uses.
    SparkCommit {
        batch: u64,
        watermark_ms: i64,
    },
    KStreamsProcess {
        task: u32,
        offset: u64,
    },
    KStreamsCommit {
        task: u32,
        offset: u64,
    },
    KStreamsRestore {
        task: u32,
        records: u64,
    },
    KStreamsResume {
        task: u32,
        offset: u64,
    },
    KStreamsTxnAborted {
        txn: u64,
    },
}

fn opt_u64(word: i64) -> Option<u64> {
    (word >= 0).then_some(word as u64)
}
fn opt_word(value: Option<u64>) -> i64 {
    value.map_or(-1, |v| v as i64)
}
/// A process event's checkpoint word: 0 stands for none (checkpoint ids start at 1).
fn checkpoint_or_none(word: i64) -> Option<CheckpointId> {
    (word != 0).then(|| checkpoint_from(word))
}
fn checkpoint_word(checkpoint: Option<CheckpointId>) -> i64 {
    checkpoint.map_or(0, CheckpointId::get) as i64
}
fn checkpoint_from(word: i64) -> CheckpointId {
    CheckpointId::from_raw(word as u64)
}

impl Payload {
    /// What the trace says when fault number `fault` of a run's schedule begins or ends (None
    /// for a crash, whose node's events say it, and a checkpoint storage failure, whose
    /// checkpoint's do). One wording for the Flink world and Storm's.
    pub fn of_fault(fault: u32, spec: &crate::faults::Fault, ended: bool) -> Option<Payload> {
        use crate::faults::Fault;
        let link = |link: &Option<(crate::scenario::NodeId, crate::scenario::NodeId)>| {
            link.map_or((0, 0), |(a, b)| (a.get(), b.get()))
        };
        let (what, (node_a, node_b)) = match spec {
            Fault::Crash { .. } | Fault::CheckpointStorageFailure { .. } => return None,
            Fault::Partition { a, b, .. } => (FaultWhat::Partition, (a.get(), b.get())),
            Fault::LatencySpike { link: l, .. } => (FaultWhat::LatencySpike, link(l)),
            Fault::MessageLoss { link: l, .. } => (FaultWhat::MessageLoss, link(l)),
            Fault::SlowNode { node, .. } => (FaultWhat::SlowNode, (node.get(), 0)),
        };
        Some(Payload::NetworkFault { fault, what, ended, node_a, node_b })
    }

    /// What the trace says of a sink's effect on its store: one wording for every world and
    /// runtime (a Flink sink subtask, a Storm sink bolt, a Trident state commit).
    pub fn of_sink_effect(effect: &engine::sink::SinkEffect) -> Payload {
        use engine::sink::SinkEffect;
        match effect {
            SinkEffect::Append(r) => Payload::SinkAppend { key: r.key, value: r.value },
            SinkEffect::Upsert(r) => Payload::SinkUpsert { key: r.key, value: r.value },
            SinkEffect::TxnWrite { row, .. } => Payload::SinkTxnWrite { key: row.key, value: row.value },
            SinkEffect::PreCommit { txn, checkpoint_id } => {
                Payload::SinkPreCommit { txn_sequence: txn.sequence, checkpoint: *checkpoint_id }
            }
            SinkEffect::Commit { txn } => Payload::SinkCommit { txn_sequence: txn.sequence, attempt: txn.attempt },
            SinkEffect::Recover { commit, .. } => Payload::SinkRecover { committed: commit.len() as u64 },
        }
    }
}

impl Payload {
    /// The kind, the channel word and the two words of an event about `channel` (for the kinds
    /// that have one): the kind's own channel word if it keeps payload there, else the channel's
    /// number, 0 for none.
    #[inline(always)] // with `encode`: the variant a caller names folds the match away
    pub(super) fn pack(self, channel: Option<ChannelId>) -> (TraceKind, u32, i64, i64) {
        let (kind, channel_word, a, b) = self.encode();
        (kind, channel_word.unwrap_or(channel.map_or(0, ChannelId::get)), a, b)
    }

    /// The kind, the channel word when the kind uses it for its payload (None: the event's
    /// channel is a real channel, or 0), and the two words.
    // Inline always: every recorded event comes through here, and most callers name the
    // payload's variant, so the match folds away (outlined, it was a call and a match per event).
    #[inline(always)]
    pub fn encode(self) -> (TraceKind, Option<u32>, i64, i64) {
        use Payload as P;
        use TraceKind as K;
        let none = None;
        match self {
            P::SendRecord { arrival_ns, value } => (K::SendRecord, none, arrival_ns as i64, value),
            P::SendWatermark { arrival_ns, watermark_ms } => (K::SendWatermark, none, arrival_ns as i64, watermark_ms),
            P::SendBarrier { arrival_ns, checkpoint } => {
                (K::SendBarrier, none, arrival_ns as i64, checkpoint.get() as i64)
            }
            P::SendIdle { arrival_ns, idle } => (K::SendIdle, none, arrival_ns as i64, idle as i64),
            P::SendEndOfInput { arrival_ns } => (K::SendEndOfInput, none, arrival_ns as i64, 0),
            P::ProcessRecord { input, checkpoint } => {
                (K::ProcessRecord, none, input.get() as i64, checkpoint_word(checkpoint))
            }
            P::ProcessWatermark { input, checkpoint } => {
                (K::ProcessWatermark, none, input.get() as i64, checkpoint_word(checkpoint))
            }
            P::ProcessBarrier { input, checkpoint } => {
                (K::ProcessBarrier, none, input.get() as i64, checkpoint_word(checkpoint))
            }
            P::ProcessIdle { input, checkpoint } => {
                (K::ProcessIdle, none, input.get() as i64, checkpoint_word(checkpoint))
            }
            P::ProcessEndOfInput { input, checkpoint } => {
                (K::ProcessEndOfInput, none, input.get() as i64, checkpoint_word(checkpoint))
            }
            P::SourceRead { partition, offset } => (K::SourceRead, none, partition as i64, offset as i64),
            P::WatermarkAdvanced { watermark_ms } => (K::WatermarkAdvanced, none, 0, watermark_ms),
            P::LateDropped { key, timestamp_ms } => (K::LateDropped, none, key as i64, timestamp_ms),
            P::AlignmentStarted { checkpoint, input } => {
                (K::AlignmentStarted, none, checkpoint.get() as i64, input.get() as i64)
            }
            P::InputBlocked { checkpoint, input } => {
                (K::InputBlocked, none, checkpoint.get() as i64, input.get() as i64)
            }
            P::Snapshot { checkpoint, state_bytes } => (K::Snapshot, none, checkpoint.get() as i64, state_bytes as i64),
            P::Finished => (K::Finished, none, 0, 0),
            P::SinkAppend { key, value } => (K::SinkAppend, none, key as i64, value),
            P::SinkUpsert { key, value } => (K::SinkUpsert, none, key as i64, value),
            P::SinkTxnWrite { key, value } => (K::SinkTxnWrite, none, key as i64, value),
            P::SinkPreCommit { txn_sequence, checkpoint } => {
                (K::SinkPreCommit, none, txn_sequence as i64, checkpoint.get() as i64)
            }
            P::SinkCommit { txn_sequence, attempt } => (K::SinkCommit, none, txn_sequence as i64, attempt as i64),
            P::SinkRecover { committed } => (K::SinkRecover, none, committed as i64, 0),
            P::CheckpointTriggered { checkpoint } => (K::CheckpointTriggered, none, checkpoint.get() as i64, 0),
            P::CheckpointCompleted { checkpoint } => (K::CheckpointCompleted, none, checkpoint.get() as i64, 0),
            P::CheckpointAborted { checkpoint, reason } => {
                (K::CheckpointAborted, none, checkpoint.get() as i64, reason as i64)
            }
            P::NodeCrashed { back_after_ns } => (K::NodeCrashed, none, opt_word(back_after_ns), 0),
            P::NodeRestarted => (K::NodeRestarted, none, 0, 0),
            P::FailureDetected => (K::FailureDetected, none, 0, 0),
            P::JobRestarted { attempt, restored_from } => {
                (K::JobRestarted, none, attempt as i64, opt_word(restored_from.map(CheckpointId::get)))
            }
            P::NetworkFault { fault, what, ended, node_a, node_b } => {
                // The first word: node a, then the kind and the phase above its 32 bits.
                let a = i64::from(node_a) | (what as i64) << 32 | i64::from(ended) << 40;
                (K::NetworkFault, Some(fault), a, i64::from(node_b))
            }
            P::StormEmit { partition, offset, replay } => {
                (K::StormEmit, Some(replay as u32), partition as i64, offset as i64)
            }
            P::StormAckerMessage { message, root, value } => {
                (K::StormAckerMessage, Some(message as u32), root as i64, value as i64)
            }
            P::StormTreeComplete { root, failed } => (K::StormTreeComplete, Some(failed as u32), root as i64, 0),
            P::StormTimeout(TimedOut::Tuple { partition, offset }) => {
                (K::StormTimeout, Some(0), partition as i64, offset as i64)
            }
            P::StormTimeout(TimedOut::Batch { txid }) => (K::StormTimeout, Some(1), txid as i64, 0),
            P::StormWorkerRestarted => (K::StormWorkerRestarted, none, 0, 0),
            P::TridentBatch { txid, replay } => (K::TridentBatch, none, txid as i64, replay as i64),
            P::TridentCommit { txid, skipped } => (K::TridentCommit, none, txid as i64, skipped as i64),
            P::AlignmentTimedOut { checkpoint } => (K::AlignmentTimedOut, none, checkpoint.get() as i64, 0),
            P::SparkBatch { batch, rerun } => (K::SparkBatch, none, batch as i64, rerun as i64),
            P::SparkCommit { batch, watermark_ms } => (K::SparkCommit, none, batch as i64, watermark_ms),
            P::KStreamsProcess { task, offset } => (K::KStreamsProcess, none, task as i64, offset as i64),
            P::KStreamsCommit { task, offset } => (K::KStreamsCommit, none, task as i64, offset as i64),
            P::KStreamsRestore { task, records } => (K::KStreamsRestore, none, task as i64, records as i64),
            P::KStreamsResume { task, offset } => (K::KStreamsResume, none, task as i64, offset as i64),
            P::KStreamsTxnAborted { txn } => (K::KStreamsTxnAborted, none, txn as i64, 0),
        }
    }
}

impl Payload {
    /// The checkpoint the event is about: a barrier's (sent, or processed), an alignment's, a
    /// snapshot's, a pre-commit's, the coordinator's; None for the other kinds.
    pub fn checkpoint(&self) -> Option<CheckpointId> {
        use Payload as P;
        match *self {
            P::SendBarrier { checkpoint, .. }
            | P::AlignmentStarted { checkpoint, .. }
            | P::InputBlocked { checkpoint, .. }
            | P::Snapshot { checkpoint, .. }
            | P::SinkPreCommit { checkpoint, .. }
            | P::CheckpointTriggered { checkpoint }
            | P::CheckpointCompleted { checkpoint }
            | P::CheckpointAborted { checkpoint, .. }
            | P::AlignmentTimedOut { checkpoint } => Some(checkpoint),
            P::ProcessRecord { checkpoint, .. }
            | P::ProcessWatermark { checkpoint, .. }
            | P::ProcessBarrier { checkpoint, .. }
            | P::ProcessIdle { checkpoint, .. }
            | P::ProcessEndOfInput { checkpoint, .. } => checkpoint,
            _ => None,
        }
    }

    /// The input (its index among the subtask's inputs) a processed message, an alignment or a
    /// blocked input is about.
    pub fn input(&self) -> Option<InputIndex> {
        use Payload as P;
        match *self {
            P::ProcessRecord { input, .. }
            | P::ProcessWatermark { input, .. }
            | P::ProcessBarrier { input, .. }
            | P::ProcessIdle { input, .. }
            | P::ProcessEndOfInput { input, .. }
            | P::AlignmentStarted { input, .. }
            | P::InputBlocked { input, .. } => Some(input),
            _ => None,
        }
    }

    /// When a sent message arrives at the other end of its channel (the `Send*` kinds).
    pub fn arrival_ns(&self) -> Option<TimeNs> {
        use Payload as P;
        match *self {
            P::SendRecord { arrival_ns, .. }
            | P::SendWatermark { arrival_ns, .. }
            | P::SendBarrier { arrival_ns, .. }
            | P::SendIdle { arrival_ns, .. }
            | P::SendEndOfInput { arrival_ns } => Some(arrival_ns),
            _ => None,
        }
    }

    /// The source record a read, a Storm emit or a Storm tuple's timeout is about.
    pub fn source_record(&self) -> Option<SourceRef> {
        use Payload as P;
        match *self {
            P::SourceRead { partition, offset }
            | P::StormEmit { partition, offset, .. }
            | P::StormTimeout(TimedOut::Tuple { partition, offset }) => Some(SourceRef { partition, offset }),
            _ => None,
        }
    }

    /// The root id of the Storm tuple tree an acker message or a finished tree is about.
    pub fn root(&self) -> Option<u64> {
        match *self {
            Payload::StormAckerMessage { root, .. } | Payload::StormTreeComplete { root, .. } => Some(root),
            _ => None,
        }
    }
}

impl TraceEvent {
    /// The event recording `payload` would keep ([`super::Recorder::record_payload`]).
    pub fn from_payload(
        time_ns: TimeNs,
        about: impl Into<About>,
        channel: Option<ChannelId>,
        payload: Payload,
    ) -> TraceEvent {
        let (kind, channel_word, a, b) = payload.pack(channel);
        TraceEvent::new(time_ns, kind, about.into().word(), channel_word, a, b)
    }

    /// What this event says (the inverse of [`Payload::encode`]).
    pub fn payload(&self) -> Payload {
        use Payload as P;
        use TraceKind as K;
        let (a, b, channel) = (self.a, self.b, self.channel);
        let arrival_ns = a as TimeNs;
        let input = InputIndex::from_raw(a as u32);
        match self.kind {
            K::SendRecord => P::SendRecord { arrival_ns, value: b },
            K::SendWatermark => P::SendWatermark { arrival_ns, watermark_ms: b },
            K::SendBarrier => P::SendBarrier { arrival_ns, checkpoint: checkpoint_from(b) },
            K::SendIdle => P::SendIdle { arrival_ns, idle: b != 0 },
            K::SendEndOfInput => P::SendEndOfInput { arrival_ns },
            K::ProcessRecord => P::ProcessRecord { input, checkpoint: checkpoint_or_none(b) },
            K::ProcessWatermark => P::ProcessWatermark { input, checkpoint: checkpoint_or_none(b) },
            K::ProcessBarrier => P::ProcessBarrier { input, checkpoint: checkpoint_or_none(b) },
            K::ProcessIdle => P::ProcessIdle { input, checkpoint: checkpoint_or_none(b) },
            K::ProcessEndOfInput => P::ProcessEndOfInput { input, checkpoint: checkpoint_or_none(b) },
            K::SourceRead => P::SourceRead { partition: a as u32, offset: b as u64 },
            K::WatermarkAdvanced => P::WatermarkAdvanced { watermark_ms: b },
            K::LateDropped => P::LateDropped { key: a as u64, timestamp_ms: b },
            K::AlignmentStarted => {
                P::AlignmentStarted { checkpoint: checkpoint_from(a), input: InputIndex::from_raw(b as u32) }
            }
            K::InputBlocked => {
                P::InputBlocked { checkpoint: checkpoint_from(a), input: InputIndex::from_raw(b as u32) }
            }
            K::Snapshot => P::Snapshot { checkpoint: checkpoint_from(a), state_bytes: b as u64 },
            K::Finished => P::Finished,
            K::SinkAppend => P::SinkAppend { key: a as u64, value: b },
            K::SinkUpsert => P::SinkUpsert { key: a as u64, value: b },
            K::SinkTxnWrite => P::SinkTxnWrite { key: a as u64, value: b },
            K::SinkPreCommit => P::SinkPreCommit { txn_sequence: a as u64, checkpoint: checkpoint_from(b) },
            K::SinkCommit => P::SinkCommit { txn_sequence: a as u64, attempt: b as u32 },
            K::SinkRecover => P::SinkRecover { committed: a as u64 },
            K::CheckpointTriggered => P::CheckpointTriggered { checkpoint: checkpoint_from(a) },
            K::CheckpointCompleted => P::CheckpointCompleted { checkpoint: checkpoint_from(a) },
            K::CheckpointAborted => P::CheckpointAborted { checkpoint: checkpoint_from(a), reason: b as u8 },
            K::NodeCrashed => P::NodeCrashed { back_after_ns: opt_u64(a) },
            K::NodeRestarted => P::NodeRestarted,
            K::FailureDetected => P::FailureDetected,
            K::JobRestarted => {
                P::JobRestarted { attempt: a as u32, restored_from: opt_u64(b).map(CheckpointId::from_raw) }
            }
            K::NetworkFault => P::NetworkFault {
                fault: channel,
                what: FaultWhat::ALL[((a >> 32) & 0xff) as usize % FaultWhat::ALL.len()],
                ended: (a >> 40) & 1 == 1,
                node_a: a as u32,
                node_b: b as u32,
            },
            K::StormEmit => P::StormEmit { partition: a as u32, offset: b as u64, replay: channel != 0 },
            K::StormAckerMessage => P::StormAckerMessage {
                message: match channel {
                    0 => AckerMessage::Init,
                    1 => AckerMessage::Ack,
                    _ => AckerMessage::Fail,
                },
                root: a as u64,
                value: b as u64,
            },
            K::StormTreeComplete => P::StormTreeComplete { root: a as u64, failed: channel != 0 },
            K::StormTimeout if channel == 0 => {
                P::StormTimeout(TimedOut::Tuple { partition: a as u32, offset: b as u64 })
            }
            K::StormTimeout => P::StormTimeout(TimedOut::Batch { txid: a as u64 }),
            K::StormWorkerRestarted => P::StormWorkerRestarted,
            K::TridentBatch => P::TridentBatch { txid: a as u64, replay: b != 0 },
            K::TridentCommit => P::TridentCommit { txid: a as u64, skipped: b as u64 },
            K::AlignmentTimedOut => P::AlignmentTimedOut { checkpoint: checkpoint_from(a) },
            K::SparkBatch => P::SparkBatch { batch: a as u64, rerun: b != 0 },
            K::SparkCommit => P::SparkCommit { batch: a as u64, watermark_ms: b },
            K::KStreamsProcess => P::KStreamsProcess { task: a as u32, offset: b as u64 },
            K::KStreamsCommit => P::KStreamsCommit { task: a as u32, offset: b as u64 },
            K::KStreamsRestore => P::KStreamsRestore { task: a as u32, records: b as u64 },
            K::KStreamsResume => P::KStreamsResume { task: a as u32, offset: b as u64 },
            K::KStreamsTxnAborted => P::KStreamsTxnAborted { txn: a as u64 },
        }
    }
}
