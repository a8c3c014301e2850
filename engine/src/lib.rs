//! streamlab's streaming engine: a Flink-style dataflow as pure, deterministic state machines.
//!
//! Nothing here reads a clock, draws a random number, spawns a thread or does IO. Time comes in as
//! an argument (`now_ns`, virtual nanoseconds of processing time); everything a subtask wants to
//! happen in the world comes out of [`subtask::Subtask::poll_output`]. That is what lets the
//! simulator (crate `sim`) pause, snapshot, fork and replay a run bit for bit.
//!
//! Codemap:
//! - [`message`]: what travels on channels (records, watermarks, barriers, end of input).
//! - [`id`]: `id_newtype!`, the accessors every id type shares.
//! - [`graph`]: the logical job graph (petgraph) and the physical plan (subtasks and channels).
//! - [`partition`]: key groups and how a record picks its output channel.
//! - [`watermark`]: watermark generators and the per-subtask min-combiner with idleness.
//! - [`mintree`]: a tournament tree (the combiner's minimum over inputs in O(log n)).
//! - [`window`]: window assigners, aggregates and the keyed window operator.
//! - [`transform`]: stateless map and filter functions, described as data.
//! - [`checkpoint`]: barrier aligner/tracker and the checkpoint coordinator.
//! - [`sink`]: plain, idempotent and two-phase-commit sink protocols.
//! - [`subtask`]: the state machine that ties one parallel instance of an operator together.

#[macro_use]
pub mod id;

pub mod checkpoint;
pub mod graph;
pub mod message;
pub mod mintree;
pub mod partition;
pub mod sink;
pub mod storm;
pub mod subtask;
pub mod transform;
pub mod watermark;
pub mod window;

pub use checkpoint::CheckpointId;
pub use graph::{GraphError, JobGraph, PhysicalPlan};
pub use message::{Firing, Key, Message, Pane, Record, SourceRef};
pub use subtask::{Output, Subtask};

/// Event time, in milliseconds (the unit scenario files use). Signed so that `i64::MIN` can mean
/// "no watermark yet" and arithmetic like `max_ts - bound - 1` never wraps in practice.
pub type EventTimeMs = i64;

/// Processing time, in virtual nanoseconds since the start of the run. Only the simulator makes it.
pub type ProcTimeNs = u64;

/// The watermark before any has been seen.
pub const WATERMARK_MIN: EventTimeMs = i64::MIN;
/// The watermark that end of input stands for: every window may fire.
pub const WATERMARK_MAX: EventTimeMs = i64::MAX;

/// Milliseconds to nanoseconds, saturating (scenario limits keep us far from the edge).
pub const fn ms_to_ns(ms: u64) -> ProcTimeNs {
    ms.saturating_mul(1_000_000)
}
