//! The operators behind one interface. The subtask hands every input, timer, checkpoint step
//! and restore to its [`OperatorState`]; this file is the one place that dispatches on the kind
//! of operator, and each kind writes its output through the subtask's `Outlet`.

use crate::CheckpointId;
use serde::{Deserialize, Serialize};

use super::outlet::Outlet;
use super::source::{SourceState, SourceTick};
use super::Note;
use crate::graph::{OperatorKind, PhysicalPlan, Stream, SubtaskId};
use crate::message::Record;
use crate::sink::SinkState;
use crate::transform::{FilterFn, MapFn};
use crate::window::{RecordFate, WindowOperator};
use crate::{EventTimeMs, ProcTimeNs, WATERMARK_MAX};

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
    /// The fresh state of subtask `id` (no history) in attempt `attempt` of the job.
    pub(super) fn new(plan: &PhysicalPlan, id: SubtaskId, attempt: u32, now_ns: ProcTimeNs) -> Self {
        let info = plan.subtask(id);
        match &plan.operators[info.operator].kind {
            OperatorKind::Source(spec) => {
                OperatorState::Source(SourceState::for_subtask(plan, id, &spec.watermarks, now_ns))
            }
            OperatorKind::Map(f) => OperatorState::Map(f.clone()),
            OperatorKind::Filter(f) => OperatorState::Filter(f.clone()),
            OperatorKind::Window(spec) => OperatorState::Window(WindowOperator::new(spec.clone())),
            OperatorKind::Union => OperatorState::Union,
            OperatorKind::Sink(kind) => OperatorState::Sink(SinkState::new(*kind, id, attempt)),
        }
    }

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

    /// A record arrived on an input.
    pub(super) fn on_record(&mut self, mut record: Record, out: &mut Outlet) {
        match self {
            OperatorState::Map(f) => {
                f.apply(&mut record);
                out.emit(Stream::Main, record);
            }
            OperatorState::Filter(f) => {
                if f.keeps(&record) {
                    out.emit(Stream::Main, record);
                }
            }
            OperatorState::Union => out.emit(Stream::Main, record),
            OperatorState::Window(window) => {
                let mut results = out.take_scratch_records();
                // `Skipped` (a gap between sliding windows, not late) is ignored silently, as in Flink.
                match window.on_record(&record, &mut results) {
                    RecordFate::DroppedLate => {
                        out.counters.late_dropped += 1;
                        out.note(Note::LateDropped {
                            key: record.key,
                            timestamp_ms: record.timestamp_ms,
                            source: record.source,
                        });
                        out.emit(Stream::Late, record);
                    }
                    RecordFate::AssignedSkippingLate => out.note(Note::LateForSomeWindows { source: record.source }),
                    RecordFate::Assigned | RecordFate::Skipped => {}
                }
                out.emit_all(Stream::Main, results);
            }
            OperatorState::Sink(sink) => out.sink_effects(|effects| sink.write(record, effects)),
            OperatorState::Source(_) => unreachable!("sources have no inputs"),
        }
    }

    /// The combined input watermark advanced to `watermark` (the subtask forwards it after).
    pub(super) fn on_watermark(&mut self, watermark: EventTimeMs, out: &mut Outlet) {
        if let OperatorState::Window(window) = self {
            let mut results = out.take_scratch_records();
            window.on_watermark(watermark, &mut results);
            out.emit_all(Stream::Main, results);
        }
    }

    /// When the operator next wants [`OperatorState::on_timer`], given the subtask's output
    /// watermark and idleness (only sources keep timers).
    pub(super) fn next_timer_ns(&self, output_watermark: EventTimeMs, output_idle: bool) -> Option<ProcTimeNs> {
        match self {
            OperatorState::Source(source) => source.next_timer_ns(output_watermark, output_idle),
            _ => None,
        }
    }

    /// The operator's timer at `now_ns`: what the subtask's output should do.
    pub(super) fn on_timer(&mut self, now_ns: ProcTimeNs) -> SourceTick {
        match self {
            OperatorState::Source(source) => source.on_timer(now_ns),
            _ => SourceTick::default(),
        }
    }

    /// The state to snapshot for `checkpoint_id`, after the operator's pre-snapshot step (a
    /// two-phase-commit sink pre-commits its transaction).
    pub(super) fn snapshot(&mut self, checkpoint_id: CheckpointId, out: &mut Outlet) -> OperatorState {
        if let OperatorState::Sink(sink) = self {
            out.sink_effects(|effects| sink.on_snapshot(checkpoint_id, effects));
        }
        self.clone()
    }

    /// This state was just restored from a snapshot, in attempt `attempt` of the job.
    pub(super) fn restore(&mut self, attempt: u32, now_ns: ProcTimeNs, out: &mut Outlet) {
        match self {
            OperatorState::Source(source) => source.restart_watermarks(now_ns),
            OperatorState::Window(window) => window.restart_event_time(),
            OperatorState::Sink(sink) => out.sink_effects(|effects| sink.on_restore(attempt, effects)),
            _ => {}
        }
    }

    /// `notifyCheckpointComplete`.
    pub(super) fn on_checkpoint_complete(&mut self, checkpoint_id: CheckpointId, out: &mut Outlet) {
        if let OperatorState::Sink(sink) = self {
            out.sink_effects(|effects| sink.on_checkpoint_complete(checkpoint_id, effects));
        }
    }

    /// All input is done (`checkpointing`: the job takes checkpoints). Returns the watermark to
    /// emit before end of input: Flink's bounded sources send MAX_WATERMARK.
    pub(super) fn on_end(&mut self, checkpointing: bool, out: &mut Outlet) -> Option<EventTimeMs> {
        match self {
            OperatorState::Sink(sink) if !checkpointing => {
                out.sink_effects(|effects| sink.on_end_without_checkpoints(effects));
                None
            }
            OperatorState::Source(_) => Some(WATERMARK_MAX),
            _ => None,
        }
    }
}
