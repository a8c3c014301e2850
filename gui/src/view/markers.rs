//! Timeline markers: the moments worth jumping to, taken from the trace once per run.

use engine::CheckpointId;
use sim::faults::Fault;
use sim::kernel::TimeNs;
use sim::recording::{Payload, TraceEvent, TraceKind};
use sim::scenario::NodeId;
use sim::Scenario;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum MarkerKind {
    CheckpointTriggered,
    CheckpointCompleted,
    CheckpointAborted,
    LateDropped,
    Finished,
    NodeCrashed,
    NodeRestarted,
    FailureDetected,
    JobRestarted,
    NetworkFault,
    /// Where this run and a fork of it (or its parent) first differ ([`Detail::Divergence`]).
    /// Not from the trace: added when a fork is recorded ([`mark_divergence`]).
    Divergence,
}

impl MarkerKind {
    fn of(kind: TraceKind) -> Option<MarkerKind> {
        Some(match kind {
            TraceKind::CheckpointTriggered => MarkerKind::CheckpointTriggered,
            TraceKind::CheckpointCompleted => MarkerKind::CheckpointCompleted,
            TraceKind::CheckpointAborted => MarkerKind::CheckpointAborted,
            TraceKind::LateDropped => MarkerKind::LateDropped,
            TraceKind::Finished => MarkerKind::Finished,
            TraceKind::NodeCrashed => MarkerKind::NodeCrashed,
            TraceKind::NodeRestarted => MarkerKind::NodeRestarted,
            TraceKind::FailureDetected => MarkerKind::FailureDetected,
            TraceKind::JobRestarted => MarkerKind::JobRestarted,
            TraceKind::NetworkFault => MarkerKind::NetworkFault,
            _ => return None,
        })
    }

    pub fn is_checkpoint(self) -> bool {
        matches!(
            self,
            MarkerKind::CheckpointTriggered | MarkerKind::CheckpointCompleted | MarkerKind::CheckpointAborted
        )
    }

    pub fn is_divergence(self) -> bool {
        self == MarkerKind::Divergence
    }

    pub fn is_fault(self) -> bool {
        matches!(
            self,
            MarkerKind::NodeCrashed
                | MarkerKind::NodeRestarted
                | MarkerKind::FailureDetected
                | MarkerKind::JobRestarted
                | MarkerKind::NetworkFault
        )
    }

    /// The timeline lane: checkpoints on top, faults in the middle, data events below.
    pub fn lane(self) -> usize {
        if self.is_checkpoint() {
            0
        } else if self.is_fault() {
            1
        } else {
            2
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Marker {
    pub time_ns: TimeNs,
    pub kind: MarkerKind,
    /// The trace event's subtask field (a node id for faults).
    pub subtask: u32,
    pub detail: Detail,
}

/// What a marker says beyond its kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Detail {
    /// The trace event's payload.
    Event(Payload),
    /// This run and run `other` first differ here; `other_is_fork`: the other run is a fork of
    /// this one (else its parent).
    Divergence { other: usize, other_is_fork: bool },
}

impl Marker {
    /// The checkpoint a checkpoint marker is about.
    pub fn checkpoint(&self) -> Option<CheckpointId> {
        match self.detail {
            Detail::Event(payload) => payload.checkpoint(),
            Detail::Divergence { .. } => None,
        }
    }
    /// The run a divergence marker points at.
    pub fn diverges_from(&self) -> Option<usize> {
        match self.detail {
            Detail::Divergence { other, .. } => Some(other),
            Detail::Event(_) => None,
        }
    }
}

/// Every marker in the trace, in time order.
pub fn collect(trace: &[TraceEvent]) -> Vec<Marker> {
    trace
        .iter()
        .filter_map(|e| {
            MarkerKind::of(e.kind).map(|kind| Marker {
                time_ns: e.time_ns,
                kind,
                subtask: e.subtask().get(),
                detail: Detail::Event(e.payload()),
            })
        })
        .collect()
}

/// A sentence for a marker's tooltip. `faults` is the run's fault list (network fault markers
/// point into it).
pub fn describe(scenario: &Scenario, faults: &[Fault], m: &Marker) -> String {
    let subtask =
        || scenario.plan.subtasks.get(m.subtask as usize).map_or_else(|| format!("#{}", m.subtask), |s| s.name.clone());
    let node = || scenario.node_name(NodeId::from_raw(m.subtask));
    let payload = match m.detail {
        Detail::Event(payload) => payload,
        Detail::Divergence { other, other_is_fork } => {
            let whose = if other_is_fork { "its fork" } else { "its parent" };
            return format!("first divergence from {whose} (run {}): from here on the two runs differ", other + 1);
        }
    };
    match payload {
        Payload::CheckpointTriggered { checkpoint } => format!("checkpoint {checkpoint} triggered"),
        Payload::CheckpointCompleted { checkpoint } => format!("checkpoint {checkpoint} completed"),
        Payload::CheckpointAborted { checkpoint, .. } => format!("checkpoint {checkpoint} aborted"),
        Payload::LateDropped { key, timestamp_ms } => {
            format!(
                "{}: late record of key {} (event time {}) dropped",
                subtask(),
                scenario.key_name(key),
                crate::view::event_time_text(scenario, timestamp_ms)
            )
        }
        Payload::Finished => format!("{} finished", subtask()),
        Payload::NodeCrashed { back_after_ns: None } => format!("{} crashed (never back)", node()),
        Payload::NodeCrashed { back_after_ns: Some(after_ns) } => {
            format!("{} crashed (back after {})", node(), crate::view::duration_text(after_ns))
        }
        Payload::NodeRestarted => format!("{} is back (empty, until the job restarts)", node()),
        Payload::FailureDetected => format!("the job manager detected the failure of {}; the job stops", node()),
        Payload::JobRestarted { attempt, restored_from: None } => {
            format!(
                "job restarted (attempt {}) with empty state: no checkpoint to restore",
                crate::view::job_attempt(attempt)
            )
        }
        Payload::JobRestarted { attempt, restored_from: Some(checkpoint) } => {
            format!(
                "job restarted (attempt {}): every task restored from checkpoint {checkpoint}",
                crate::view::job_attempt(attempt)
            )
        }
        Payload::NetworkFault { fault, ended, .. } => match (faults.get(fault as usize), ended) {
            (Some(f), false) => format!("fault: {}", crate::view::fault_text(scenario, f)),
            (Some(f), true) => format!("fault over: {}", crate::view::fault_text(scenario, f)),
            (None, _) => "network fault".to_string(),
        },
        // Markers are only made of the kinds above (`MarkerKind::of`).
        other => format!("{other:?}"),
    }
}

/// Mark where this run and run `other` first differ (`other_is_fork`: the other run is a fork of
/// this one), keeping the markers in time order; a mark already there for `other` is replaced.
pub fn mark_divergence(markers: &mut Vec<Marker>, time_ns: TimeNs, other: usize, other_is_fork: bool) {
    markers.retain(|m| m.diverges_from() != Some(other));
    let at = markers.partition_point(|m| m.time_ns <= time_ns);
    let marker = Marker {
        time_ns,
        kind: MarkerKind::Divergence,
        subtask: 0,
        detail: Detail::Divergence { other, other_is_fork },
    };
    markers.insert(at, marker);
}

/// A checkpoint from trigger to its end (or still open at the end of the run).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CheckpointSpan {
    pub id: CheckpointId,
    pub start_ns: TimeNs,
    pub end_ns: Option<TimeNs>,
    pub completed: bool,
}

/// Pair triggers with completions and aborts.
pub fn checkpoint_spans(markers: &[Marker]) -> Vec<CheckpointSpan> {
    let mut spans: Vec<CheckpointSpan> = Vec::new();
    for m in markers {
        let Some(id) = m.checkpoint() else { continue };
        match m.kind {
            MarkerKind::CheckpointTriggered => {
                spans.push(CheckpointSpan { id, start_ns: m.time_ns, end_ns: None, completed: false })
            }
            MarkerKind::CheckpointCompleted | MarkerKind::CheckpointAborted => {
                if let Some(span) = spans.iter_mut().rev().find(|s| s.id == id && s.end_ns.is_none()) {
                    span.end_ns = Some(m.time_ns);
                    span.completed = m.kind == MarkerKind::CheckpointCompleted;
                }
            }
            _ => {}
        }
    }
    spans
}

#[cfg(test)]
mod tests {
    use super::*;
    use sim::recording::About;

    fn ev(time_ns: TimeNs, payload: Payload) -> TraceEvent {
        TraceEvent::from_payload(time_ns, About::Job, None, payload)
    }
    fn cp(id: u64) -> CheckpointId {
        CheckpointId::from_raw(id)
    }
    fn triggered(checkpoint: u64) -> Payload {
        Payload::CheckpointTriggered { checkpoint: cp(checkpoint) }
    }
    fn completed(checkpoint: u64) -> Payload {
        Payload::CheckpointCompleted { checkpoint: cp(checkpoint) }
    }

    #[test]
    fn markers_keep_only_interesting_kinds_in_order() {
        let trace = [
            ev(1, Payload::SendRecord { arrival_ns: 5, value: 0 }),
            ev(2, triggered(1)),
            ev(3, Payload::LateDropped { key: 7, timestamp_ms: 0 }),
            ev(4, completed(1)),
            ev(5, Payload::NodeCrashed { back_after_ns: Some(2) }),
        ];
        let kinds: Vec<MarkerKind> = collect(&trace).iter().map(|m| m.kind).collect();
        assert_eq!(
            kinds,
            [
                MarkerKind::CheckpointTriggered,
                MarkerKind::LateDropped,
                MarkerKind::CheckpointCompleted,
                MarkerKind::NodeCrashed
            ]
        );
        assert!(MarkerKind::NodeCrashed.is_fault() && !MarkerKind::LateDropped.is_fault());
    }

    #[test]
    fn a_divergence_mark_keeps_time_order_and_replaces_its_own() {
        let mut m = collect(&[ev(2, triggered(1)), ev(9, completed(1))]);
        mark_divergence(&mut m, 5, 3, true);
        mark_divergence(&mut m, 6, 3, true);
        mark_divergence(&mut m, 1, 4, false);
        let times: Vec<(TimeNs, MarkerKind)> = m.iter().map(|m| (m.time_ns, m.kind)).collect();
        assert_eq!(
            times,
            [
                (1, MarkerKind::Divergence),
                (2, MarkerKind::CheckpointTriggered),
                (6, MarkerKind::Divergence),
                (9, MarkerKind::CheckpointCompleted)
            ]
        );
        let s = Scenario::default_scenario();
        assert!(describe(&s, &[], &m[2]).contains("its fork (run 4)"));
        assert!(!MarkerKind::Divergence.is_fault() && !MarkerKind::Divergence.is_checkpoint());
    }

    #[test]
    fn spans_pair_triggers_with_their_end() {
        let trace = [
            ev(10, triggered(1)),
            ev(20, completed(1)),
            ev(30, triggered(2)),
            ev(90, Payload::CheckpointAborted { checkpoint: cp(2), reason: 0 }),
            ev(100, triggered(3)),
        ];
        let spans = checkpoint_spans(&collect(&trace));
        assert_eq!(
            spans,
            [
                CheckpointSpan { id: cp(1), start_ns: 10, end_ns: Some(20), completed: true },
                CheckpointSpan { id: cp(2), start_ns: 30, end_ns: Some(90), completed: false },
                CheckpointSpan { id: cp(3), start_ns: 100, end_ns: None, completed: false },
            ]
        );
    }
}
