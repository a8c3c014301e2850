//! Trace export: JSON lines (one event per line, names resolved), and the Chrome trace event
//! format, which Perfetto (ui.perfetto.dev) and chrome://tracing open: a track per subtask grouped
//! by node, spans for barrier alignment and checkpoints, instants for crashes and recoveries, and
//! a watermark counter per subtask.

use std::collections::BTreeMap;
use std::io::{self, Write};

use serde_json::{json, Value};

use crate::recording::{TraceEvent, TraceKind};
use crate::scenario::{Scenario, JOB_MANAGER};

fn node_event(kind: TraceKind) -> bool {
    matches!(kind, TraceKind::NodeCrashed | TraceKind::NodeRestarted | TraceKind::FailureDetected)
}

fn coordinator_event(kind: TraceKind) -> bool {
    matches!(
        kind,
        TraceKind::CheckpointTriggered
            | TraceKind::CheckpointCompleted
            | TraceKind::CheckpointAborted
            | TraceKind::JobRestarted
            | TraceKind::NetworkFault
    )
}

/// One event as a self-describing JSON object.
pub fn event_json(scenario: &Scenario, e: &TraceEvent) -> Value {
    let who = if node_event(e.kind) {
        scenario.node_name(e.subtask as usize)
    } else if coordinator_event(e.kind) {
        "jm".to_string()
    } else {
        scenario.plan.subtasks.get(e.subtask as usize).map_or_else(|| e.subtask.to_string(), |s| s.name.clone())
    };
    json!({"time_ns": e.time_ns, "kind": format!("{:?}", e.kind), "at": who, "channel": e.channel, "a": e.a, "b": e.b})
}

pub fn write_jsonl(scenario: &Scenario, events: &[TraceEvent], out: &mut impl Write) -> io::Result<()> {
    for e in events {
        serde_json::to_writer(&mut *out, &event_json(scenario, e))?;
        out.write_all(b"\n")?;
    }
    Ok(())
}

fn us(ns: u64) -> f64 {
    ns as f64 / 1000.0
}

/// The Chrome trace event format (JSON object with `traceEvents`).
pub fn chrome_trace(scenario: &Scenario, events: &[TraceEvent]) -> Value {
    let pid_of_subtask = |s: usize| scenario.node_of_subtask(s);
    let mut out: Vec<Value> = Vec::new();
    for node in 0..=scenario.task_managers as usize {
        out.push(json!({"ph": "M", "name": "process_name", "pid": node, "tid": 0, "args": {"name": scenario.node_name(node)}}));
    }
    out.push(json!({"ph": "M", "name": "thread_name", "pid": JOB_MANAGER, "tid": 0, "args": {"name": "checkpoint coordinator"}}));
    for s in &scenario.plan.subtasks {
        out.push(json!({"ph": "M", "name": "thread_name", "pid": pid_of_subtask(s.id), "tid": s.id + 1, "args": {"name": s.name}}));
    }
    let mut alignment_start: BTreeMap<(u32, i64), u64> = BTreeMap::new();
    let mut checkpoint_start: BTreeMap<i64, u64> = BTreeMap::new();
    for e in events {
        let s = e.subtask as usize;
        match e.kind {
            TraceKind::AlignmentStarted => {
                alignment_start.insert((e.subtask, e.a), e.time_ns);
            }
            TraceKind::Snapshot => {
                let start = alignment_start.remove(&(e.subtask, e.a)).unwrap_or(e.time_ns);
                out.push(json!({"ph": "X", "name": format!("align + snapshot {}", e.a), "cat": "checkpoint",
                    "pid": pid_of_subtask(s), "tid": s + 1, "ts": us(start), "dur": us(e.time_ns - start).max(0.001),
                    "args": {"checkpoint": e.a, "state_bytes": e.b}}));
            }
            TraceKind::CheckpointTriggered => {
                checkpoint_start.insert(e.a, e.time_ns);
            }
            TraceKind::CheckpointCompleted | TraceKind::CheckpointAborted => {
                let start = checkpoint_start.remove(&e.a).unwrap_or(e.time_ns);
                let outcome = if e.kind == TraceKind::CheckpointCompleted { "completed" } else { "aborted" };
                out.push(json!({"ph": "X", "name": format!("checkpoint {} {outcome}", e.a), "cat": "checkpoint",
                    "pid": JOB_MANAGER, "tid": 0, "ts": us(start), "dur": us(e.time_ns - start).max(0.001)}));
            }
            TraceKind::NodeCrashed | TraceKind::NodeRestarted | TraceKind::FailureDetected => {
                out.push(json!({"ph": "i", "s": "p", "name": format!("{:?}", e.kind), "cat": "fault",
                    "pid": s, "tid": 0, "ts": us(e.time_ns)}));
            }
            TraceKind::JobRestarted => {
                out.push(json!({"ph": "i", "s": "g", "name": format!("job restarted (attempt {}, from checkpoint {})", e.a, e.b),
                    "cat": "recovery", "pid": JOB_MANAGER, "tid": 0, "ts": us(e.time_ns)}));
            }
            TraceKind::LateDropped => {
                out.push(json!({"ph": "i", "s": "t", "name": "late record dropped", "cat": "event-time",
                    "pid": pid_of_subtask(s), "tid": s + 1, "ts": us(e.time_ns), "args": {"timestamp_ms": e.b}}));
            }
            TraceKind::WatermarkAdvanced if e.b != i64::MAX => {
                out.push(json!({"ph": "C", "name": format!("watermark {}", scenario.plan.subtasks[s].name),
                    "pid": pid_of_subtask(s), "tid": s + 1, "ts": us(e.time_ns), "args": {"watermark_ms": e.b}}));
            }
            TraceKind::SinkCommit | TraceKind::SinkRecover | TraceKind::SinkPreCommit => {
                out.push(json!({"ph": "i", "s": "t", "name": format!("{:?}", e.kind), "cat": "sink",
                    "pid": pid_of_subtask(s), "tid": s + 1, "ts": us(e.time_ns), "args": {"a": e.a, "b": e.b}}));
            }
            _ => {}
        }
    }
    json!({"traceEvents": out, "displayTimeUnit": "ms"})
}

/// Write `events` to `path`: Chrome trace format for `.json`, JSON lines otherwise. Written to
/// a temporary file first and renamed, so a crash never leaves half a trace.
pub fn write_trace_file(scenario: &Scenario, events: &[TraceEvent], path: &std::path::Path) -> io::Result<()> {
    // A trace is the tool's own output: it may replace a regular file, never anything else.
    crate::atomic_write::write_with(path, crate::atomic_write::Overwrite::Replace, |w| {
        if path.extension().is_some_and(|e| e == "json") {
            serde_json::to_writer(&mut *w, &chrome_trace(scenario, events))?;
        } else {
            let mut w = w;
            write_jsonl(scenario, events, &mut w)?;
        }
        Ok(())
    })
}
