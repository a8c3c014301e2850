//! Trace export: JSON lines (one event per line, names resolved), and the Chrome trace event
//! format, which Perfetto (ui.perfetto.dev) and chrome://tracing open: a track per subtask grouped
//! by node, spans for barrier alignment and checkpoints, instants for crashes and recoveries, and
//! a watermark counter per subtask.

use std::collections::BTreeMap;
use std::io::{self, Write};

use engine::graph::SubtaskId;
use engine::CheckpointId;
use serde_json::{json, Value};

use crate::recording::{AckerMessage, Payload, TimedOut, TraceEvent, TraceKind};
use crate::scenario::{NodeId, Scenario, JOB_MANAGER};
use crate::storm::subtask_of_executor;

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
fn storm_event(kind: TraceKind) -> bool {
    matches!(
        kind,
        TraceKind::StormEmit
            | TraceKind::StormAckerMessage
            | TraceKind::StormTreeComplete
            | TraceKind::StormTimeout
            | TraceKind::TridentBatch
            | TraceKind::TridentCommit
    )
}

/// A Storm executor's name: plan subtasks first, then the ackers (`__acker[i]`, Storm's name).
fn storm_executor(scenario: &Scenario, task: usize) -> String {
    let subtasks = scenario.plan.subtasks.len();
    subtask_of_executor(&scenario.plan, task)
        .map_or_else(|| format!("__acker[{}]", task - subtasks), |s| scenario.plan.subtask(s).name.clone())
}

/// The (process, thread) of a Storm executor in the Chrome trace: acker i runs on task manager
/// i mod n (as `sim::storm` places it), on a thread after the plan's subtasks.
fn storm_pid_tid(scenario: &Scenario, task: usize) -> (NodeId, usize) {
    let subtasks = scenario.plan.subtasks.len();
    match subtask_of_executor(&scenario.plan, task) {
        Some(id) => (scenario.node_of_subtask(id), task + 1),
        None => (NodeId::task_manager(((task - subtasks) % scenario.task_managers.max(1) as usize) as u32), task + 1),
    }
}

pub fn event_json(scenario: &Scenario, e: &TraceEvent) -> Value {
    let who = if storm_event(e.kind) || e.kind == TraceKind::StormWorkerRestarted {
        if e.kind == TraceKind::StormWorkerRestarted {
            scenario.node_name(e.node())
        } else {
            storm_executor(scenario, e.executor() as usize)
        }
    } else if node_event(e.kind) {
        scenario.node_name(e.node())
    } else if coordinator_event(e.kind) {
        "jm".to_string()
    } else {
        scenario.plan.subtasks.get(e.subtask().index()).map_or_else(|| e.subtask().to_string(), |s| s.name.clone())
    };
    // The payload's words as the recording lays them out (`Payload::encode`), named `a` and `b`.
    let (_, _, a, b) = e.payload().encode();
    json!({"time_ns": e.time_ns, "kind": format!("{:?}", e.kind), "at": who, "channel": e.channel, "a": a, "b": b})
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
    let pid_of_subtask = |s: SubtaskId| scenario.node_of_subtask(s);
    // Thread 0 of every process is the coordinator's (or a node's own): subtask s is thread s + 1.
    let tid_of_subtask = |s: SubtaskId| s.get() + 1;
    let mut out: Vec<Value> = Vec::new();
    for node in (0..=scenario.task_managers).map(NodeId::from_raw) {
        out.push(json!({"ph": "M", "name": "process_name", "pid": node, "tid": 0, "args": {"name": scenario.node_name(node)}}));
    }
    out.push(json!({"ph": "M", "name": "thread_name", "pid": JOB_MANAGER, "tid": 0, "args": {"name": "checkpoint coordinator"}}));
    for s in &scenario.plan.subtasks {
        out.push(json!({"ph": "M", "name": "thread_name", "pid": pid_of_subtask(s.id), "tid": tid_of_subtask(s.id), "args": {"name": s.name}}));
    }
    if let Some(storm) = scenario.model.storm() {
        for i in 0..storm.ackers as usize {
            let task = scenario.plan.subtasks.len() + i;
            let (pid, tid) = storm_pid_tid(scenario, task);
            out.push(json!({"ph": "M", "name": "thread_name", "pid": pid, "tid": tid, "args": {"name": storm_executor(scenario, task)}}));
        }
    }
    let mut alignment_start: BTreeMap<(SubtaskId, CheckpointId), u64> = BTreeMap::new();
    let mut checkpoint_start: BTreeMap<CheckpointId, u64> = BTreeMap::new();
    for e in events {
        let s = e.subtask();
        match e.payload() {
            Payload::AlignmentStarted { checkpoint, .. } => {
                alignment_start.insert((e.subtask(), checkpoint), e.time_ns);
            }
            Payload::Snapshot { checkpoint, state_bytes } => {
                let start = alignment_start.remove(&(e.subtask(), checkpoint)).unwrap_or(e.time_ns);
                out.push(json!({"ph": "X", "name": format!("align + snapshot {checkpoint}"), "cat": "checkpoint",
                    "pid": pid_of_subtask(s), "tid": tid_of_subtask(s), "ts": us(start), "dur": us(e.time_ns - start).max(0.001),
                    "args": {"checkpoint": checkpoint, "state_bytes": state_bytes}}));
            }
            Payload::CheckpointTriggered { checkpoint } => {
                checkpoint_start.insert(checkpoint, e.time_ns);
            }
            Payload::CheckpointCompleted { checkpoint } | Payload::CheckpointAborted { checkpoint, .. } => {
                let start = checkpoint_start.remove(&checkpoint).unwrap_or(e.time_ns);
                let outcome = if e.kind == TraceKind::CheckpointCompleted { "completed" } else { "aborted" };
                out.push(json!({"ph": "X", "name": format!("checkpoint {checkpoint} {outcome}"), "cat": "checkpoint",
                    "pid": JOB_MANAGER, "tid": 0, "ts": us(start), "dur": us(e.time_ns - start).max(0.001)}));
            }
            Payload::NodeCrashed { .. } | Payload::NodeRestarted | Payload::FailureDetected => {
                out.push(json!({"ph": "i", "s": "p", "name": format!("{:?}", e.kind), "cat": "fault",
                    "pid": s, "tid": 0, "ts": us(e.time_ns)}));
            }
            Payload::JobRestarted { attempt, restored_from } => {
                let from = restored_from.map_or("fresh state".to_string(), |c| format!("from checkpoint {c}"));
                out.push(json!({"ph": "i", "s": "g", "name": format!("job restarted (attempt {attempt}, {from})"),
                    "cat": "recovery", "pid": JOB_MANAGER, "tid": 0, "ts": us(e.time_ns)}));
            }
            Payload::LateDropped { timestamp_ms, .. } => {
                out.push(json!({"ph": "i", "s": "t", "name": "late record dropped", "cat": "event-time",
                    "pid": pid_of_subtask(s), "tid": tid_of_subtask(s), "ts": us(e.time_ns), "args": {"timestamp_ms": timestamp_ms}}));
            }
            Payload::WatermarkAdvanced { watermark_ms } if watermark_ms != i64::MAX => {
                out.push(json!({"ph": "C", "name": format!("watermark {}", scenario.plan.subtask(s).name),
                    "pid": pid_of_subtask(s), "tid": tid_of_subtask(s), "ts": us(e.time_ns), "args": {"watermark_ms": watermark_ms}}));
            }
            payload @ (Payload::SinkCommit { .. } | Payload::SinkRecover { .. } | Payload::SinkPreCommit { .. }) => {
                let args = match payload {
                    Payload::SinkPreCommit { txn_sequence, checkpoint } => {
                        json!({"transaction": txn_sequence, "checkpoint": checkpoint})
                    }
                    Payload::SinkCommit { txn_sequence, attempt } => {
                        json!({"transaction": txn_sequence, "attempt": attempt})
                    }
                    Payload::SinkRecover { committed } => json!({"committed": committed}),
                    _ => json!({}),
                };
                out.push(json!({"ph": "i", "s": "t", "name": format!("{:?}", e.kind), "cat": "sink",
                    "pid": pid_of_subtask(s), "tid": tid_of_subtask(s), "ts": us(e.time_ns), "args": args}));
            }
            _ if storm_event(e.kind) => out.push(storm_chrome_event(scenario, e)),
            Payload::StormWorkerRestarted => {
                out.push(json!({"ph": "i", "s": "p", "name": "worker restarted", "cat": "fault",
                    "pid": s, "tid": 0, "ts": us(e.time_ns)}));
            }
            _ => {}
        }
    }
    json!({"traceEvents": out, "displayTimeUnit": "ms"})
}

/// One Storm event as an instant on its executor's thread: spout emits and replays, acker
/// inits, acks and fails (root ids in hex, as Storm logs them), completed and failed trees,
/// timeouts, Trident batches and commits.
fn storm_chrome_event(scenario: &Scenario, e: &TraceEvent) -> Value {
    let (pid, tid) = storm_pid_tid(scenario, e.executor() as usize);
    let hex = |v: u64| format!("{v:#018x}");
    let (name, cat, args) = match e.payload() {
        Payload::StormEmit { partition, offset, replay } => {
            let name = if replay { "replay" } else { "emit" };
            (name.to_string(), "storm-spout", json!({"partition": partition, "offset": offset}))
        }
        Payload::StormAckerMessage { message: AckerMessage::Init, root, value } => {
            ("ack init".to_string(), "storm-ack", json!({"root": hex(root), "value": hex(value)}))
        }
        Payload::StormAckerMessage { message: AckerMessage::Ack, root, value } => {
            ("ack".to_string(), "storm-ack", json!({"root": hex(root), "value": hex(value)}))
        }
        Payload::StormAckerMessage { message: AckerMessage::Fail, root, .. } => {
            ("fail".to_string(), "storm-ack", json!({"root": hex(root)}))
        }
        Payload::StormTreeComplete { root, failed } => {
            let name = if failed { "tree failed" } else { "tree complete" };
            (name.to_string(), "storm-ack", json!({"root": hex(root)}))
        }
        Payload::StormTimeout(TimedOut::Tuple { partition, offset }) => {
            ("timeout".to_string(), "storm-timeout", json!({"partition": partition, "offset": offset}))
        }
        Payload::StormTimeout(TimedOut::Batch { txid }) => {
            (format!("batch {txid} timed out"), "storm-timeout", json!({"txid": txid}))
        }
        Payload::TridentBatch { txid, replay } => {
            (format!("batch {txid}{}", if replay { " (replay)" } else { "" }), "trident", json!({"txid": txid}))
        }
        Payload::TridentCommit { txid, skipped } => {
            (format!("commit {txid}"), "trident", json!({"txid": txid, "skipped_updates": skipped}))
        }
        other => (format!("{:?}", e.kind), "storm", json!({ "payload": other })),
    };
    json!({"ph": "i", "s": "t", "name": name, "cat": cat, "pid": pid, "tid": tid, "ts": us(e.time_ns), "args": args})
}

/// Write `events` to `path`: Chrome trace format for `.json`, JSON lines otherwise. Written to
/// a temporary file first and renamed, so a crash never leaves half a trace.
///
/// Returns what the file holds, in words: every event as a JSON line, or (`.json`) the Perfetto
/// view of them — spans and instants for checkpoints, alignments, faults and sink commits, not
/// one entry per record — so the count says which.
pub fn write_trace_file(scenario: &Scenario, events: &[TraceEvent], path: &std::path::Path) -> io::Result<String> {
    let perfetto = path.extension().is_some_and(|e| e == "json");
    let mut entries = events.len();
    // A trace is the tool's own output: it may replace a regular file, never anything else.
    crate::atomic_write::write_with(path, crate::atomic_write::Overwrite::Replace, |w| {
        if perfetto {
            let trace = chrome_trace(scenario, events);
            entries = trace["traceEvents"].as_array().map_or(0, Vec::len);
            serde_json::to_writer(&mut *w, &trace)?;
        } else {
            let mut w = w;
            write_jsonl(scenario, events, &mut w)?;
        }
        Ok(())
    })?;
    Ok(if perfetto {
        format!("{} trace events shown as {entries} Perfetto entries in {}", events.len(), path.display())
    } else {
        format!("{entries} events written to {}", path.display())
    })
}
