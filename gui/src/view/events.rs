//! The event log: the trace around the cursor, each event with a caption in plain words.

use engine::checkpoint::CheckpointMode;
use sim::kernel::TimeNs;
use sim::recording::{TraceEvent, TraceKind};
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
            | StormWorkerRestarted => EventClass::Faults,
            _ => EventClass::Data,
        }
    }
}

/// What the log shows: classes, and one subtask or all.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventFilter {
    pub show: [bool; 4],
    pub subtask: Option<u32>,
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
    match e.kind {
        TraceKind::ProcessBarrier => format!("{text}; {}", barrier_context(scenario, trace, index)),
        _ => text,
    }
}

/// What a subtask does after barrier `n` reached it on one input, given the barriers it had.
fn barrier_context(scenario: &Scenario, trace: &[TraceEvent], index: usize) -> String {
    let e = &trace[index];
    let plan = &scenario.plan;
    let (n, input) = (e.b, e.a);
    let name = plan.subtasks.get(e.subtask() as usize).map_or_else(|| format!("#{}", e.subtask()), |s| s.name.clone());
    let inputs = plan.subtasks.get(e.subtask() as usize).map_or(1, |s| s.inputs.len());
    let mut have = std::collections::BTreeSet::from([input]);
    let mut timed_out = false;
    let mut bounded = index <= BARRIER_LOOKBACK;
    for p in trace[..index].iter().rev().take(BARRIER_LOOKBACK) {
        if (p.kind == TraceKind::CheckpointTriggered && p.a == n) || p.kind == TraceKind::JobRestarted {
            bounded = true;
            break;
        }
        if p.kind == TraceKind::ProcessBarrier && p.subtask() == e.subtask() && p.b == n {
            have.insert(p.a);
        }
        timed_out |= p.kind == TraceKind::AlignmentTimedOut && p.subtask() == e.subtask() && p.a == n;
    }
    if !bounded {
        // The checkpoint started too long ago to list its barriers here; say nothing wrong.
        return format!("checkpoint {n} started more than {BARRIER_LOOKBACK} events ago");
    }
    let from = |i: i64| {
        plan.subtasks
            .get(e.subtask() as usize)
            .and_then(|st| st.inputs.get(i as usize))
            .and_then(|c| plan.channels.get(*c))
            .and_then(|c| plan.subtasks.get(c.from))
            .map_or_else(|| format!("input {i}"), |from| format!("input {i} (from {})", from.name))
    };
    let missing: Vec<String> = (0..inputs as i64).filter(|i| !have.contains(i)).map(from).collect();
    let config = scenario.checkpoint_config();
    let mode = match config.map(|c| (c.mode, c.aligned_timeout_ns)) {
        // With an aligned-checkpoint timeout a checkpoint is aligned until it times out.
        Some((CheckpointMode::Unaligned, Some(_))) if !timed_out => Some(CheckpointMode::ExactlyOnce),
        other => other.map(|(m, _)| m),
    };
    if missing.is_empty() {
        let unblock = match mode {
            Some(CheckpointMode::ExactlyOnce) if inputs > 1 => " and unblocks its inputs",
            _ => "",
        };
        return if inputs > 1 {
            format!("that was the last of its {inputs} inputs: {name} snapshots its state for checkpoint {n}, forwards barrier {n}{unblock}")
        } else {
            format!("its only input: {name} snapshots its state for checkpoint {n} and forwards barrier {n}")
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
        _ => match config.and_then(|c| c.aligned_timeout_ns) {
            Some(t) => format!(
                "input {input} is now blocked until barrier {n} arrives on {waiting}, or until the aligned-checkpoint timeout ({} after the checkpoint's trigger) switches it to unaligned",
                crate::view::units::duration_text(t)
            ),
            None => format!("input {input} is now blocked until barrier {n} arrives on {waiting}"),
        },
    }
}

/// One event in plain words.
pub fn caption(scenario: &Scenario, e: &TraceEvent) -> String {
    let plan = &scenario.plan;
    let subtask = |id: u32| plan.subtasks.get(id as usize).map_or_else(|| format!("#{id}"), |s| s.name.clone());
    let s = subtask(e.subtask());
    let from = |input: i64| {
        plan.subtasks
            .get(e.subtask() as usize)
            .and_then(|st| st.inputs.get(input as usize))
            .and_then(|c| plan.channels.get(*c))
            .map_or_else(|| format!("input {input}"), |c| format!("input {input} (from {})", subtask(c.from as u32)))
    };
    let to =
        || plan.channels.get(e.channel as usize).map_or_else(String::new, |c| format!(" to {}", subtask(c.to as u32)));
    let ms = |v: i64| crate::view::event_time_text(scenario, v);
    use TraceKind::*;
    match e.kind {
        SendRecord => format!("{s} sent a record (value {}){}", e.b, to()),
        SendWatermark => format!("{s} sent watermark {}{}", ms(e.b), to()),
        SendBarrier => format!("{s} sent barrier {}{}", e.b, to()),
        SendIdle => format!("{s} told{} it is {}", to(), if e.b == 1 { "idle" } else { "active again" }),
        SendEndOfInput => format!("{s} sent end of input{}", to()),
        ProcessRecord => format!("{s} processed a record (value {}) from {}", e.b, from(e.a)),
        ProcessWatermark => format!("{s} received watermark {} on {}", ms(e.b), from(e.a)),
        ProcessBarrier => format!("barrier {} reached {s} on {}", e.b, from(e.a)),
        ProcessIdle => format!("{} is {} for {s}", from(e.a), if e.b == 1 { "idle" } else { "active" }),
        ProcessEndOfInput => format!("{} ended for {s}", from(e.a)),
        SourceRead => format!("{s} read partition {} offset {}", e.a, e.b),
        WatermarkAdvanced => format!("{s}'s watermark advanced to {}", ms(e.b)),
        LateDropped => format!("{s} dropped a late record (key {}, event time {})", scenario.key_name(e.a as u64), ms(e.b)),
        AlignmentStarted => format!(
            "barrier {} reached {s} first on {}: alignment starts; that input is now blocked until the barrier arrives on every other input",
            e.a,
            from(e.b)
        ),
        InputBlocked => format!("{s} blocks {} until barrier {} arrives on its other inputs", from(e.b), e.a),
        AlignmentTimedOut => format!(
            "{s}'s alignment for checkpoint {} timed out (aligned-checkpoint timeout): it switches to unaligned — the queued barriers overtake, the in-flight data goes into the snapshot, its inputs unblock",
            e.a
        ),
        Snapshot => format!("{s} snapshotted its state for checkpoint {} ({} bytes)", e.a, e.b),
        Finished => format!("{s} finished"),
        SinkAppend => format!("{s} appended key {} = {} (visible now)", scenario.key_name(e.a as u64), e.b),
        SinkUpsert => format!("{s} upserted key {} = {} (replaces the row of that key and window)", scenario.key_name(e.a as u64), e.b),
        SinkTxnWrite => format!("{s} wrote key {} = {} into its open transaction (not visible yet)", scenario.key_name(e.a as u64), e.b),
        SinkPreCommit => format!("{s} pre-committed transaction {} at checkpoint {}", e.a, e.b),
        SinkCommit => format!("{s} committed transaction {}: its rows are visible now", e.a),
        SinkRecover => format!("{s} recovered: {} pre-committed transactions committed after the restore", e.a),
        CheckpointTriggered => format!("the job manager triggered checkpoint {}: sources inject barrier {}", e.a, e.a),
        CheckpointCompleted => format!("checkpoint {} completed: every subtask acknowledged its snapshot", e.a),
        CheckpointAborted => format!("checkpoint {} was aborted", e.a),
        NodeCrashed => format!("{} crashed", scenario.node_name(e.subtask() as usize)),
        NodeRestarted => format!("{} is back", scenario.node_name(e.subtask() as usize)),
        FailureDetected => format!(
            "the job manager noticed {} is gone (heartbeat timeout) and cancels the job",
            scenario.node_name(e.subtask() as usize)
        ),
        JobRestarted if e.b >= 0 => format!("the job restarted (attempt {}) from checkpoint {}", e.a + 1, e.b),
        JobRestarted => format!("the job restarted (attempt {}) with empty state", e.a + 1),
        NetworkFault => format!("network fault on {}", scenario.node_name(e.subtask() as usize)),
        // Storm runs (`sim::storm`); the workbench runs Flink, but a trace file may hold these.
        StormEmit => format!("{s} emitted partition {} offset {}{}", e.a, e.b, if e.channel == 1 { " again (replay)" } else { "" }),
        StormAckerMessage => format!("{s} sent the acker {} for root {:#x}", ["an init", "an ack", "a fail"].get(e.channel as usize).unwrap_or(&"a message"), e.a),
        StormTreeComplete => format!("the tuple tree of root {:#x} {}", e.a, if e.channel == 1 { "failed" } else { "completed: the spout is told to ack" }),
        StormTimeout => format!("{s}: a tuple timed out (partition {} offset {}) and will be replayed", e.a, e.b),
        StormWorkerRestarted => format!("the worker on {} restarted with empty state", scenario.node_name(e.subtask() as usize)),
        TridentBatch => format!("Trident batch {} began{}", e.a, if e.b == 1 { " (a replay)" } else { "" }),
        TridentCommit => format!("{s} committed Trident batch {} ({} updates skipped as already applied)", e.a, e.b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

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
        let counts = |e: &TraceEvent| scenario.plan.subtasks[e.subtask() as usize].inputs.len() > 1;
        let (i, first) = run
            .trace
            .iter()
            .enumerate()
            .find(|(_, e)| e.kind == TraceKind::ProcessBarrier && counts(e))
            .expect("a barrier reached a subtask with several inputs");
        let text = narrate(&scenario, &run.trace, i);
        assert!(
            text.contains(&format!("is now blocked until barrier {} arrives on input", first.b)),
            "exactly-once blocks: {text}"
        );
        assert!(!text.contains(&format!("input {} (from", first.a)) || text.matches("(from").count() >= 2);
        // The same subtask's last barrier of that checkpoint.
        let inputs = scenario.plan.subtasks[first.subtask() as usize].inputs.len();
        let (j, _) = run
            .trace
            .iter()
            .enumerate()
            .filter(|(_, e)| e.kind == TraceKind::ProcessBarrier && e.subtask() == first.subtask() && e.b == first.b)
            .nth(inputs - 1)
            .expect("every input delivers the barrier");
        let text = narrate(&scenario, &run.trace, j);
        assert!(text.contains("that was the last of its") && text.contains("unblocks"), "{text}");
    }
}
