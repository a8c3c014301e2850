//! What travels on a channel between two subtasks.
//!
//! Data and control share one in-band, FIFO stream per channel, as in Flink: a barrier or a
//! watermark is ordered with respect to the records around it, which is what barrier alignment and
//! event-time progress rely on.

use serde::{Deserialize, Serialize};

use crate::window::Window;
use crate::EventTimeMs;

/// A record's key. Scenario files use names; the simulator interns them to small integers.
pub type Key = u64;

/// Where a source record lives in the replayable log: which is also its identity.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct SourceRef {
    pub partition: u32,
    pub offset: u64,
}

/// A data record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    pub key: Key,
    pub value: i64,
    /// Event time. For a window result, the window's `max_timestamp` (as Flink sets it).
    pub timestamp_ms: EventTimeMs,
    /// The source record this one derives from. For a window result: the newest contributor.
    pub source: SourceRef,
    /// Processing time at which the source read the (newest contributing) source record; used
    /// for end-to-end latency.
    pub ingest_ns: u64,
    /// Set on the results of a window firing: which window, which firing, and which source
    /// records contributed (when lineage tracking is on).
    pub pane: Option<Box<Pane>>,
}

/// The window a result belongs to, and why it was emitted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pane {
    pub window: Window,
    pub firing: Firing,
    /// Number of records aggregated into this result.
    pub count: u64,
    /// Every source record that contributed (with repetition, if one was counted twice).
    /// Empty unless the window operator tracks lineage (the oracle needs it; benchmarks do not).
    pub lineage: Vec<SourceRef>,
}

/// Why a window emitted a result.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Firing {
    /// The watermark passed the window's end.
    OnTime,
    /// A record arrived for a window that had already fired, within the allowed lateness.
    Late,
    /// Not a window result (a plain record reaching a sink).
    None,
}

impl Firing {
    pub fn label(self) -> &'static str {
        match self {
            Firing::OnTime => "on-time",
            Firing::Late => "late",
            Firing::None => "record",
        }
    }
}

/// A checkpoint barrier: "everything before me belongs to checkpoint `id`".
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Barrier {
    pub checkpoint_id: crate::CheckpointId,
    /// When the coordinator triggered the checkpoint (Flink's `CheckpointBarrier.timestamp`): the
    /// aligned-checkpoint timeout counts from here, on every subtask alike.
    pub timestamp_ns: crate::ProcTimeNs,
}

/// One message on a channel.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Message {
    Record(Record),
    /// No more records with timestamp `<=` this are expected on this channel.
    Watermark(EventTimeMs),
    /// The sender became idle (`true`) or active again (`false`); idle channels do not hold back
    /// the receiver's watermark (Flink's `WatermarkStatus`).
    Idle(bool),
    Barrier(Barrier),
    /// The sender will send nothing more; stands for watermark +infinity.
    EndOfInput,
}

impl Message {
    /// A short tag for traces and the GUI.
    pub fn kind(&self) -> MessageKind {
        match self {
            Message::Record(_) => MessageKind::Record,
            Message::Watermark(_) => MessageKind::Watermark,
            Message::Idle(_) => MessageKind::Idle,
            Message::Barrier(_) => MessageKind::Barrier,
            Message::EndOfInput => MessageKind::EndOfInput,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum MessageKind {
    Record,
    Watermark,
    Idle,
    Barrier,
    EndOfInput,
}
