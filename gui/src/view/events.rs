//! The event log: the trace around the cursor, each event with a caption in plain words.

use engine::checkpoint::{CheckpointId, CheckpointMode};
use engine::graph::{InputIndex, SubtaskId};
use sim::kernel::TimeNs;
use sim::recording::{AckerMessage, FaultWhat, Payload, TimedOut, TraceEvent, TraceKind};

use sim::Scenario;

use crate::view::time_text;

/// Which events the log lists.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventClass {
    /// Records and watermarks moving (sends, processing, source reads).
    Data,
    /// Barriers, alignment, snapshots, checkpoints.
    Checkpoints,
    /// Sink writes and transactions.
    Sinks,
    /// Crashes, failure detection, restarts, network faults.
    Faults,
}

impl EventClass {
    pub const ALL: [EventClass; 4] = [EventClass::Data, EventClass::Checkpoints, EventClass::Sinks, EventClass::Faults];
    pub fn label(self) -> &'static str {
        match self {
            EventClass::Data => "records and watermarks",
            EventClass::Checkpoints => "barriers and checkpoints",
            EventClass::Sinks => "sink writes",
            EventClass::Faults => "faults and recovery",
        }
    }
    pub fn of(kind: TraceKind) -> EventClass {
        use TraceKind::*;
        match kind {
            SendBarrier | ProcessBarrier | AlignmentStarted | InputBlocked | Snapshot | CheckpointTriggered
            | CheckpointCompleted | CheckpointAborted => EventClass::Checkpoints,
            SinkAppend | SinkUpsert | SinkTxnWrite | SinkPreCommit | SinkCommit | SinkRecover => EventClass::Sinks,
            NodeCrashed | NodeRestarted | FailureDetected | JobRestarted | NetworkFault | StormTimeout
            | StormWorkerRestarted | KStreamsRestore | KStreamsResume | KStreamsTxnAborted => EventClass::Faults,
            KStreamsCommit => EventClass::Checkpoints,
            _ => EventClass::Data,
        }
    }
}

/// What the log shows: classes, and one subtask or all.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventFilter {
    pub show: [bool; 4],
    pub subtask: Option<SubtaskId>,
}

impl Default for EventFilter {
    fn default() -> Self {
        // Records and watermarks are most of the trace: off until asked for.
        EventFilter { show: [false, true, true, true], subtask: None }
    }
}

impl EventFilter {
    pub fn matches(&self, e: &TraceEvent) -> bool {
        let class = EventClass::of(e.kind);
        let is_node_event = EventClass::of(e.kind) == EventClass::Faults
            || matches!(
                e.kind,
                TraceKind::CheckpointTriggered | TraceKind::CheckpointCompleted | TraceKind::CheckpointAborted
            );
        self.show[class as usize] && (is_node_event || self.subtask.is_none_or(|s| s == e.subtask()))
    }
}

/// One line of the log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogLine {
    pub time_ns: TimeNs,
    pub time: String,
    pub caption: String,
    /// The line at (or last before) the cursor.
    pub current: bool,
}

/// Up to `before` lines at or before the cursor and `after` lines after it.
pub fn log(
    scenario: &Scenario,
    trace: &[TraceEvent],
    cursor_ns: TimeNs,
    filter: &EventFilter,
    before: usize,
    after: usize,
) -> Vec<LogLine> {
    let split = trace.partition_point(|e| e.time_ns <= cursor_ns);
    let mut earlier: Vec<usize> = (0..split).rev().filter(|&i| filter.matches(&trace[i])).take(before).collect();
    earlier.reverse();
    let later = (split..trace.len()).filter(|&i| filter.matches(&trace[i])).take(after);
    let last = earlier.len();
    earlier
        .into_iter()
        .chain(later)
        .enumerate()
        .map(|(line, i)| LogLine {
            time_ns: trace[i].time_ns,
            time: time_text(scenario, trace[i].time_ns),
            caption: narrate(scenario, trace, i),
            current: line + 1 == last,
        })
        .collect()
}

/// How far back [`narrate`] looks for the barriers a subtask already has (a checkpoint's
/// barriers arrive within a few thousand events of each other; the log narrates every frame).
const BARRIER_LOOKBACK: usize = 50_000;

/// Event `index` of `trace` in plain words, with what it means at that moment: for a barrier,
/// which inputs still wait for theirs and what the subtask does meanwhile.
pub fn narrate(scenario: &Scenario, trace: &[TraceEvent], index: usize) -> String {
    let Some(e) = trace.get(index) else {
        return String::new();
    };
    let text = caption(scenario, e);
    match e.payload() {
        Payload::ProcessBarrier { input, checkpoint: Some(n) } => {
            format!("{text}; {}", barrier_context(scenario, trace, index, input, n))
        }
        _ => text,
    }
}

/// What a subtask does after barrier `n` reached it on `input` (trace event `index`), given the
/// barriers it had.
fn barrier_context(
    scenario: &Scenario,
    trace: &[TraceEvent],
    index: usize,
    input: InputIndex,
    n: CheckpointId,
) -> String {
    let e = &trace[index];
    let plan = &scenario.plan;
    let name = plan.subtasks.get(e.subtask().index()).map_or_else(|| format!("#{}", e.subtask()), |s| s.name.clone());
    let inputs = plan.subtasks.get(e.subtask().index()).map_or(1, |s| s.inputs.len());
    let mut have = std::collections::BTreeSet::from([input]);
    let mut timed_out = false;
    let mut bounded = index <= BARRIER_LOOKBACK;
    for p in trace[..index].iter().rev().take(BARRIER_LOOKBACK) {
        match p.payload() {
            Payload::CheckpointTriggered { checkpoint } if checkpoint == n => {
                bounded = true;
                break;
            }
            Payload::JobRestarted { .. } => {
                bounded = true;
                break;
            }
            Payload::ProcessBarrier { input, checkpoint } if p.subtask() == e.subtask() && checkpoint == Some(n) => {
                have.insert(input);
            }
            Payload::AlignmentTimedOut { checkpoint } if p.subtask() == e.subtask() && checkpoint == n => {
                timed_out = true;
            }
            _ => {}
        }
    }
    if !bounded {
        // The checkpoint started too long ago to list its barriers here; say nothing wrong.
        return format!("checkpoint {n} started more than {BARRIER_LOOKBACK} events ago");
    }
    let from = |i: InputIndex| {
        plan.subtasks
            .get(e.subtask().index())
            .and_then(|st| st.inputs.get(i.index()))
            .map(|&c| plan.channel(c))
            .and_then(|c| plan.subtasks.get(c.from.index()))
            .map_or_else(|| format!("input {i}"), |from| format!("input {i} (from {})", from.name))
    };
    let missing: Vec<String> = InputIndex::all(inputs).filter(|i| !have.contains(i)).map(from).collect();
    let config = scenario.checkpoint_config();
    let mode = match config.map(|c| (c.mode, c.aligned_timeout_ns)) {
        // With an aligned-checkpoint timeout a checkpoint is aligned until it times out.
        Some((CheckpointMode::Unaligned, Some(_))) if !timed_out => Some(CheckpointMode::ExactlyOnce),
        other => other.map(|(m, _)| m),
    };
    if missing.is_empty() {
        // A sink has no output channel: it snapshots but has no barrier to forward.
        let has_outputs = plan.subtasks.get(e.subtask().index()).is_some_and(|s| !s.outputs.is_empty());
        let unblock = match mode {
            Some(CheckpointMode::ExactlyOnce) if inputs > 1 => "unblocks its inputs",
            _ => "",
        };
        let forward = if has_outputs { format!("forwards barrier {n}") } else { String::new() };
        let then = match (forward.is_empty(), unblock.is_empty()) {
            (true, true) => String::new(),
            (false, true) => format!(" and {forward}"),
            (true, false) => format!(" and {unblock}"),
            (false, false) => format!(", {forward} and {unblock}"),
        };
        return if inputs > 1 {
            format!("that was the last of its {inputs} inputs: {name} snapshots its state for checkpoint {n}{then}")
        } else {
            format!("its only input: {name} snapshots its state for checkpoint {n}{then}")
        };
    }
    let waiting = missing.join(" and ");
    match mode {
        Some(CheckpointMode::AtLeastOnce) => format!(
            "at-least-once does not block: records on input {input} keep flowing (and slip into snapshot {n}) until barrier {n} arrives on {waiting}"
        ),
        Some(CheckpointMode::Unaligned) if have.len() == 1 => format!(
            "unaligned: the barrier overtakes the data queued before it, {name} snapshots now and forwards barrier {n}; what still arrives on {waiting} before its barrier {n} goes into the snapshot as channel state"
        ),
        Some(CheckpointMode::Unaligned) => {
            format!("{name} already snapshotted (unaligned); still recording channel state from {waiting}")
        }
        Some(CheckpointMode::ChandyLamport) if have.len() == 1 => format!(
            "Chandy–Lamport: the first marker, taken in after the data before it: {name} snapshots now and forwards marker {n}; what it takes in on {waiting} before marker {n} goes into the snapshot as channel state (no input is blocked)"
        ),
        Some(CheckpointMode::ChandyLamport) => {
            format!("{name} already snapshotted (Chandy–Lamport); still recording channel state from {waiting}")
        }
        _ => match config.and_then(|c| c.aligned_timeout_ns) {
            Some(t) => format!(
                "input {input} is now blocked until barrier {n} arrives on {waiting}, or until the aligned-checkpoint timeout ({} after the checkpoint's trigger) switches it to unaligned",
                crate::view::units::duration_text(t)
            ),
            None => format!("input {input} is now blocked until barrier {n} arrives on {waiting}"),
        },
    }
}

/// A fault that is not a crash, beginning or ending, in plain words.
fn fault_caption(scenario: &Scenario, what: FaultWhat, ended: bool, node_a: u32, node_b: u32) -> String {
    let name = |n: u32| scenario.node_name(sim::scenario::NodeId::from_raw(n));
    let link = if (node_a, node_b) == (0, 0) {
        "every link".to_string()
    } else {
        format!("the link {}–{}", name(node_a), name(node_b))
    };
    match (what, ended) {
        (FaultWhat::Partition, false) => {
            format!("network partition between {} and {}: nothing crosses until it heals", name(node_a), name(node_b))
        }
        (FaultWhat::Partition, true) => format!("the partition between {} and {} heals", name(node_a), name(node_b)),
        (FaultWhat::LatencySpike, false) => format!("a latency spike on {link} begins"),
        (FaultWhat::LatencySpike, true) => format!("the latency spike on {link} ends"),
        (FaultWhat::MessageLoss, false) => format!("messages on {link} start to be lost (and retransmitted)"),
        (FaultWhat::MessageLoss, true) => format!("the message loss on {link} ends"),
        (FaultWhat::SlowNode, false) => format!("{} slows down", name(node_a)),
        (FaultWhat::SlowNode, true) => format!("{} runs at full speed again", name(node_a)),
    }
}

/// One event in plain words.
pub fn caption(scenario: &Scenario, e: &TraceEvent) -> String {
    let plan = &scenario.plan;
    let subtask = |id: SubtaskId| plan.subtasks.get(id.index()).map_or_else(|| format!("#{id}"), |s| s.name.clone());
    let s = subtask(e.subtask());
    let from = |input: InputIndex| {
        plan.subtasks
            .get(e.subtask().index())
            .and_then(|st| st.inputs.get(input.index()))
            .map(|&c| plan.channel(c))
            .map_or_else(|| format!("input {input}"), |c| format!("input {input} (from {})", subtask(c.from)))
    };
    let to =
        || plan.channels.get(e.channel_id().index()).map_or_else(String::new, |c| format!(" to {}", subtask(c.to)));
    let ms = |v: i64| crate::view::event_time_text(scenario, v);
    let key = |k: u64| scenario.key_name(k);
    let node = || scenario.node_name(e.node());
    use Payload as P;
    match e.payload() {
        P::SendRecord { value, .. } => format!("{s} sent a record (value {value}){}", to()),
        P::SendWatermark { watermark_ms, .. } => format!("{s} sent watermark {}{}", ms(watermark_ms), to()),
        P::SendBarrier { checkpoint, .. } => format!("{s} sent barrier {checkpoint}{}", to()),
        P::SendIdle { idle, .. } => format!("{s} told{} it is {}", to(), if idle { "idle" } else { "active again" }),
        P::SendEndOfInput { .. } => format!("{s} sent end of input{}", to()),
        P::ProcessRecord { input, .. } => format!("{s} processed a record from {}", from(input)),
        P::ProcessWatermark { input, .. } => format!("{s} received a watermark on {}", from(input)),
        P::ProcessBarrier { input, checkpoint } => {
            format!("barrier {} reached {s} on {}", checkpoint.map_or(0, CheckpointId::get), from(input))
        }
        P::ProcessIdle { input, .. } => format!("{s} received a watermark status (idle or active) on {}", from(input)),
        P::ProcessEndOfInput { input, .. } => format!("{} ended for {s}", from(input)),
        P::SourceRead { partition, offset } => format!("{s} read partition {partition} offset {offset}"),
        P::WatermarkAdvanced { watermark_ms } => format!("{s}'s watermark advanced to {}", ms(watermark_ms)),
        P::LateDropped { key: k, timestamp_ms } => {
            format!("{s} dropped a late record (key {}, event time {})", key(k), ms(timestamp_ms))
        }
        // These follow the barrier's own line at the same instant, which already says what is
        // blocked until when: short, so that the log does not say it three times.
        P::AlignmentStarted { checkpoint, .. } => format!("{s} starts aligning checkpoint {checkpoint}"),
        P::InputBlocked { checkpoint, input } => {
            format!("{s} blocks {} for checkpoint {checkpoint}: what arrives there now waits in its queue", from(input))
        }
        P::AlignmentTimedOut { checkpoint } => format!(
            "{s}'s alignment for checkpoint {checkpoint} timed out (aligned-checkpoint timeout): it switches to unaligned — the queued barriers overtake, the in-flight data goes into the snapshot, its inputs unblock"
        ),
        P::Snapshot { checkpoint, state_bytes } => {
            format!("{s} snapshotted its state for checkpoint {checkpoint} ({state_bytes} bytes)")
        }
        P::Finished => format!("{s} finished"),
        P::SinkAppend { key: k, value } => format!("{s} appended key {} = {value} (visible now)", key(k)),
        P::SinkUpsert { key: k, value } => {
            format!("{s} upserted key {} = {value} (replaces the row of that key and window)", key(k))
        }
        P::SinkTxnWrite { key: k, value } => {
            format!("{s} wrote key {} = {value} into its open transaction (not visible yet)", key(k))
        }
        P::SinkPreCommit { txn_sequence, checkpoint } => {
            format!("{s} pre-committed transaction {txn_sequence} at checkpoint {checkpoint}")
        }
        P::SinkCommit { txn_sequence, .. } => format!("{s} committed transaction {txn_sequence}: its rows are visible now"),
        P::SinkRecover { committed } => {
            format!("{s} recovered: {committed} pre-committed transactions committed after the restore")
        }
        P::CheckpointTriggered { checkpoint } => {
            format!("the job manager triggered checkpoint {checkpoint}: sources inject barrier {checkpoint}")
        }
        P::CheckpointCompleted { checkpoint } => {
            format!("checkpoint {checkpoint} completed: every subtask acknowledged its snapshot")
        }
        P::CheckpointAborted { checkpoint, .. } => format!("checkpoint {checkpoint} was aborted"),
        P::NodeCrashed { .. } => format!("{} crashed", node()),
        P::NodeRestarted => format!("{} is back", node()),
        P::FailureDetected => {
            format!("the job manager noticed {} is gone (heartbeat timeout) and cancels the job", node())
        }
        P::JobRestarted { attempt, restored_from: Some(checkpoint) } => {
            format!("the job restarted (attempt {}) from checkpoint {checkpoint}", super::job_attempt(attempt))
        }
        P::JobRestarted { attempt, restored_from: None } => {
            format!("the job restarted (attempt {}) with empty state", super::job_attempt(attempt))
        }
        P::NetworkFault { what, ended, node_a, node_b, .. } => fault_caption(scenario, what, ended, node_a, node_b),
        // Storm runs (`sim::storm`); the workbench runs Flink, but a trace file may hold these.
        P::StormEmit { partition, offset, replay } => {
            format!("{s} emitted partition {partition} offset {offset}{}", if replay { " again (replay)" } else { "" })
        }
        P::StormAckerMessage { message, root, .. } => {
            let what = match message {
                AckerMessage::Init => "an init",
                AckerMessage::Ack => "an ack",
                AckerMessage::Fail => "a fail",
            };
            format!("{s} sent the acker {what} for root {root:#x}")
        }
        P::StormTreeComplete { root, failed } => format!(
            "the tuple tree of root {root:#x} {}",
            if failed { "failed" } else { "completed: the spout is told to ack" }
        ),
        P::StormTimeout(TimedOut::Tuple { partition, offset }) => {
            format!("{s}: a tuple timed out (partition {partition} offset {offset}) and will be replayed")
        }
        P::StormTimeout(TimedOut::Batch { txid }) => {
            format!("{s}: Trident batch {txid} timed out and will be replayed")
        }
        P::StormWorkerRestarted => format!("the worker on {} restarted with empty state", node()),
        P::TridentBatch { txid, replay } => {
            format!("Trident batch {txid} began{}", if replay { " (a replay)" } else { "" })
        }
        P::TridentCommit { txid, skipped } => {
            format!("{s} committed Trident batch {txid} ({skipped} updates skipped as already applied)")
        }
        P::SparkBatch { batch, rerun } => {
            format!("Spark wrote offsets/{batch} and ran batch {batch}{}", if rerun { " (a re-run after a restart)" } else { "" })
        }
        P::SparkCommit { batch, watermark_ms } => {
            format!(
                "Spark wrote commits/{batch}; the next batch's watermark is {}",
                crate::view::event_time_text(scenario, watermark_ms)
            )
        }
        P::KStreamsProcess { task, offset } => format!("{}: task {task} processed offset {offset}", node()),
        P::KStreamsCommit { task, offset } => format!("{}: task {task} committed offset {offset}", node()),
        P::KStreamsRestore { task, records } => {
            format!("{}: task {task} restores its store ({records} changelog records)", node())
        }
        P::KStreamsResume { task, offset } => {
            format!("{}: task {task} resumes from committed offset {offset}", node())
        }
        P::KStreamsTxnAborted { txn } => format!("transaction {txn} aborted"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    /// A slow node's fault says which node slows down and when it is back to full speed, not
    /// "network fault on jm" twice (what the log said before faults carried their kind).
    #[test]
    fn a_slow_node_and_a_partition_are_told_as_what_they_are() {
        let file =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/unaligned-under-backpressure.ron");
        let scenario = Arc::new(Scenario::load(&file).expect("loads"));
        let run = crate::scrub::RecordedRun::record_every(scenario.clone(), 42, 20_000);
        let faults: Vec<String> =
            run.trace.iter().filter(|e| e.kind == TraceKind::NetworkFault).map(|e| caption(&scenario, e)).collect();
        assert_eq!(faults, ["tm-1 slows down", "tm-1 runs at full speed again"]);
        let (a, b) = (sim::scenario::NodeId::from_raw(1), sim::scenario::NodeId::from_raw(2));
        let partition = sim::faults::Fault::Partition { a, b, from_ns: 1, until_ns: 2 };
        let mut recorder = sim::recording::Recorder::new(true);
        for ended in [false, true] {
            let payload = Payload::of_fault(0, &partition, ended).expect("a partition is told");
            recorder.record_payload(1, sim::recording::About::Job, None, payload);
        }
        let told: Vec<String> = recorder.events().iter().map(|e| caption(&scenario, e)).collect();
        assert_eq!(
            told,
            [
                format!("network partition between {} and {}: nothing crosses until it heals", a.name(), b.name()),
                format!("the partition between {} and {} heals", a.name(), b.name())
            ]
        );
    }

    #[test]
    fn the_log_follows_the_cursor_and_its_filter() {
        let scenario = Arc::new(Scenario::default_scenario());
        let mut run = crate::scrub::RecordedRun::record_every(scenario.clone(), 42, 20_000);
        let cp = run.markers.iter().find(|m| m.kind.is_checkpoint()).map(|m| m.time_ns).expect("a checkpoint");
        let _ = run.world_at(cp);
        let filter = EventFilter::default();
        let lines = log(&scenario, &run.trace, cp, &filter, 10, 5);
        let current = lines.iter().find(|l| l.current).expect("a line at the cursor");
        assert!(current.time_ns <= cp);
        assert!(lines.iter().filter(|l| l.time_ns > cp).count() <= 5);
        assert!(lines.iter().any(|l| l.caption.contains("checkpoint")), "{lines:?}");
        // Records are filtered out by default; asking for them brings them in.
        assert!(!lines.iter().any(|l| l.caption.contains("processed a record")));
        let all = EventFilter { show: [true; 4], subtask: None };
        let lines = log(&scenario, &run.trace, cp, &all, 200, 0);
        assert!(lines.iter().any(|l| l.caption.contains("record")), "{lines:?}");
        // A barrier's caption names the subtask and its input in plain words.
        let barrier = run.trace.iter().find(|e| e.kind == TraceKind::ProcessBarrier).expect("a barrier arrived");
        let text = caption(&scenario, barrier);
        assert!(text.starts_with("barrier ") && text.contains(" reached ") && text.contains("(from "), "{text}");
    }

    /// A barrier's narration says which inputs still wait, and when the last one arrives.
    #[test]
    fn barriers_are_narrated_with_the_inputs_still_waiting() {
        let scenario = Arc::new(Scenario::default_scenario());
        let run = crate::scrub::RecordedRun::record_every(scenario.clone(), 42, 20_000);
        let counts = |e: &TraceEvent| scenario.plan.subtask(e.subtask()).inputs.len() > 1;
        let (i, first) = run
            .trace
            .iter()
            .enumerate()
            .find(|(_, e)| e.kind == TraceKind::ProcessBarrier && counts(e))
            .expect("a barrier reached a subtask with several inputs");
        let Payload::ProcessBarrier { input, checkpoint: Some(n) } = first.payload() else {
            panic!("a barrier's arrival names its input and checkpoint: {first:?}")
        };
        let text = narrate(&scenario, &run.trace, i);
        assert!(
            text.contains(&format!("is now blocked until barrier {n} arrives on input")),
            "exactly-once blocks: {text}"
        );
        assert!(!text.contains(&format!("input {input} (from")) || text.matches("(from").count() >= 2);
        // The same subtask's last barrier of that checkpoint.
        let inputs = scenario.plan.subtask(first.subtask()).inputs.len();
        let (j, _) = run
            .trace
            .iter()
            .enumerate()
            .filter(|(_, e)| {
                e.kind == TraceKind::ProcessBarrier
                    && e.subtask() == first.subtask()
                    && e.payload().checkpoint() == Some(n)
            })
            .nth(inputs - 1)
            .expect("every input delivers the barrier");
        let text = narrate(&scenario, &run.trace, j);
        assert!(text.contains("that was the last of its") && text.contains("unblocks"), "{text}");
        assert!(text.contains(&format!("forwards barrier {n}")), "a window subtask forwards it: {text}");
    }

    /// A sink has no output channel: its last barrier snapshots and unblocks, forwarding nothing.
    #[test]
    fn a_sink_snapshots_without_forwarding_a_barrier() {
        let scenario = Arc::new(Scenario::default_scenario());
        let run = crate::scrub::RecordedRun::record_every(scenario.clone(), 42, 20_000);
        let sink = |e: &TraceEvent| {
            let st = scenario.plan.subtask(e.subtask());
            st.outputs.is_empty() && st.inputs.len() > 1
        };
        let narrated: Vec<String> = (0..run.trace.len())
            .filter(|&i| run.trace[i].kind == TraceKind::ProcessBarrier && sink(&run.trace[i]))
            .map(|i| narrate(&scenario, &run.trace, i))
            .filter(|t| t.contains("that was the last of its"))
            .collect();
        assert!(!narrated.is_empty(), "the sink's inputs all delivered a barrier");
        for text in &narrated {
            assert!(text.contains("snapshots its state") && text.ends_with("and unblocks its inputs"), "{text}");
            assert!(!text.contains("forwards"), "{text}");
        }
    }
}
