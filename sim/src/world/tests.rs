//! The world's own tests.

use super::*;
use crate::recording::TraceKind;
use engine::checkpoint::AbortReason;

const TWO_INPUTS: &str = r#"Scenario(
    name: "two inputs",
    duration_ms: 1_000,
    source: Generator((partitions: 2, rate_per_s: 100)),
    pipeline: [Source(name: "s", parallelism: 2), KeyBy(Key), Window(name: "w", kind: Tumbling(size_ms: 100), aggregate: Count), Sink(name: "k")],
    checkpoints: (interval_ms: 100, mode: ExactlyOnce),
)"#;

fn world() -> (World, SubtaskId) {
    let scenario = Arc::new(Scenario::parse(TWO_INPUTS, "test").unwrap());
    let window = scenario.plan.subtask_by_name("w[0]").unwrap();
    (World::new(scenario, 1, RunOptions::default()), window)
}

#[test]
fn a_real_aligned_run_never_trips_the_checker() {
    let (mut w, _) = world();
    assert_eq!(w.run(), StopReason::JobFinished);
    assert!(w.violations.is_empty(), "{:?}", w.violations);
    assert!(w.checkpoints.len() >= 5);
}

#[test]
fn a_failed_storage_write_declines_the_checkpoint() {
    let scenario = Arc::new(Scenario::parse(TWO_INPUTS, "test").unwrap());
    let faults = vec![Fault::CheckpointStorageFailure { checkpoint: CheckpointId::from_raw(2) }];
    let mut w = World::with_faults(scenario, 1, RunOptions::default(), faults);
    assert_eq!(w.run(), StopReason::JobFinished);
    let outcome =
        |id: u64| w.checkpoints.iter().find(|c| c.id == CheckpointId::from_raw(id)).map(|c| c.outcome.clone());
    assert!(matches!(outcome(1), Some(CheckpointOutcome::Completed { .. })));
    assert!(matches!(outcome(2), Some(CheckpointOutcome::Aborted { reason: AbortReason::Declined, .. })));
    assert!(matches!(outcome(3), Some(CheckpointOutcome::Completed { .. })));
}

#[test]
fn restart_strategies() {
    use crate::scenario::RestartStrategy;
    let fixed = RestartStrategy::FixedDelay { delay_ms: 100, max_attempts: 2 };
    assert_eq!((1..=3).map(|n| fixed.delay_ms(n, 7)).collect::<Vec<_>>(), vec![Some(100), Some(100), None]);
    let exp = RestartStrategy::ExponentialDelay {
        initial_delay_ms: 100,
        max_delay_ms: 350,
        multiplier_milli: 2_000,
        max_attempts: 9,
        jitter_milli: 0,
        reset_after_ms: 1_000,
    };
    let delays: Vec<_> = (1..=4).map(|n| exp.delay_ms(n, 12_345)).collect();
    assert_eq!(delays, vec![Some(100), Some(200), Some(350), Some(350)]);
    assert_eq!(exp.delay_ms(10, 0), None);
    assert_eq!(RestartStrategy::NoRestart.delay_ms(1, 0), None);
}

#[test]
fn flink_default_exponential_delay_stays_in_its_jitter_bounds() {
    use crate::scenario::RestartStrategy;
    let flink = RestartStrategy::flink_default(true);
    assert_eq!(RestartStrategy::flink_default(false), RestartStrategy::NoRestart);
    // Flink's table: restart n waits 1000 * 1.5^(n-1) ms +-10 %, never under 1 s, at most 1 min.
    let bounds = [(1, 1_000, 1_100), (2, 1_350, 1_650), (3, 2_025, 2_475), (20, 60_000, 60_000)];
    for (attempt, low, high) in bounds {
        let delays: Vec<u64> = (0..200u64)
            .map(|draw| flink.delay_ms(attempt, engine::partition::mix64(draw)).expect("unlimited attempts"))
            .collect();
        assert!(delays.iter().all(|d| (low..=high).contains(d)), "attempt {attempt}: {delays:?}");
        if low < high {
            assert!(delays.iter().any(|&d| d != delays[0]), "attempt {attempt}: the jitter varies");
        }
    }
    assert!(flink.delay_ms(u32::MAX, 3).is_some(), "Flink's default never gives up");
}

#[test]
fn a_crashed_node_is_detected_and_the_job_restarts() {
    let (mut w, _) = world();
    w.run_until(300_000_000);
    w.inject(Fault::Crash { node: NodeId::task_manager(0), at: Trigger::At(0), restart_after_ns: Some(100_000_000) });
    assert_eq!(w.run(), StopReason::JobFinished);
    let kinds: Vec<TraceKind> = w.recorder.events().iter().map(|e| e.kind).collect();
    let crash = kinds.iter().position(|k| *k == TraceKind::NodeCrashed).expect("crashed");
    let detected = kinds.iter().position(|k| *k == TraceKind::FailureDetected).expect("detected");
    let restarted = kinds.iter().position(|k| *k == TraceKind::JobRestarted).expect("restarted");
    assert!(crash < detected && detected < restarted);
    assert_eq!(w.restarts(), 1);
}

/// Taking a task's next run inline (no kernel event) is exactly the run that queues it: the same
/// trace hash, with faults and unaligned checkpoints, with and without a buffer timeout — and
/// fewer kernel events.
#[test]
fn inline_runs_change_nothing_but_the_event_count() {
    for (mode, timeout) in [
        ("ExactlyOnce", 100),
        ("ExactlyOnce, unaligned: true", 100),
        ("AtLeastOnce", 0),
        ("ExactlyOnce, unaligned: true", 0),
    ] {
        let text = format!(
            r#"Scenario(
            name: "inline", duration_ms: 3_000,
            cluster: (task_managers: 3, slots_per_task_manager: 2),
            network: (buffer_timeout_ms: {timeout}, channel_capacity: 4),
            source: Generator((partitions: 4, rate_per_s: 2_000, keys: 20, disorder: (delay: Uniform(min_ms: 0, max_ms: 30)))),
            watermarks: BoundedOutOfOrderness(bound_ms: 50, idle_timeout_ms: 200),
            pipeline: [Source(name: "s", parallelism: 2), KeyBy(Key),
                       Window(name: "w", kind: Tumbling(size_ms: 200), aggregate: Count, parallelism: 3, cost_us: 300),
                       Sink(name: "k")],
            checkpoints: (interval_ms: 250, mode: {mode}),
            restart: FixedDelay(delay_ms: 100, max_attempts: 5),
            faults: [Crash(node: "tm-1", at: At(1_300), restart_after_ms: 200)],
        )"#
        );
        let scenario = Arc::new(Scenario::parse(&text, "test").unwrap());
        let mut queued = World::new(Arc::clone(&scenario), 3, RunOptions::default());
        queued.inline_runs = false;
        let mut inline = World::new(scenario, 3, RunOptions::default());
        assert_eq!(queued.run(), StopReason::JobFinished, "{mode} {timeout}");
        assert_eq!(inline.run(), StopReason::JobFinished);
        assert_eq!(queued.recorder.hash(), inline.recorder.hash(), "{mode}, buffer timeout {timeout}");
        assert_eq!(queued.runs_inline, 0);
        assert!(inline.runs_inline > 0);
        assert_eq!(queued.events_processed, inline.events_processed + inline.runs_inline);
        assert!(queued.restarts() > 0, "the crash restarted the job");
    }
}

/// What every task run reads of its `Task` lies in the struct's first cache line (the layout
/// the struct's comment promises; a field added or moved ahead of them would spill it).
#[test]
fn a_tasks_per_run_fields_share_its_first_cache_line() {
    use std::mem::{align_of, offset_of, size_of};
    assert_eq!(align_of::<Task>(), 64);
    let ends = [
        offset_of!(Task, busy_until_ns) + size_of::<TimeNs>(),
        offset_of!(Task, run_at) + size_of::<Option<TimeNs>>(),
        offset_of!(Task, timer_at) + size_of::<Option<TimeNs>>(),
        offset_of!(Task, record_cost_ns) + size_of::<TimeNs>(),
        offset_of!(Task, attempt) + size_of::<u32>(),
        offset_of!(Task, node) + size_of::<NodeId>(),
        offset_of!(Task, operator) + size_of::<u32>(),
        offset_of!(Task, alive) + size_of::<bool>(),
        offset_of!(Task, backpressured) + size_of::<bool>(),
    ];
    assert!(ends.iter().all(|&end| end <= 64), "field ends {ends:?}");
}

/// A task takes the records waiting in its input back to back, at most `RUN_SPAN_MAX_NS` of work
/// (and `RECORDS_PER_RUN_MAX` records) per step, each step's records traced at its start; a
/// record that costs the span or more is a step of its own; a barrier or watermark is never
/// in a step with records.
#[test]
fn cheap_records_are_taken_back_to_back_within_the_span() {
    use super::hosts::{RECORDS_PER_RUN_MAX, RUN_SPAN_MAX_NS};
    use std::collections::BTreeMap;
    for cost_us in [1, 3, RUN_SPAN_MAX_NS / 1_000, 250] {
        let text = format!(
            r#"Scenario(
            name: "steps", duration_ms: 2_000,
            cluster: (task_managers: 2, slots_per_task_manager: 2),
            source: Generator((partitions: 2, rate_per_s: 3_000, keys: 20)),
            watermarks: BoundedOutOfOrderness(bound_ms: 50),
            pipeline: [Source(name: "s", parallelism: 2), KeyBy(Key),
                       Window(name: "w", kind: Tumbling(size_ms: 200), aggregate: Count, parallelism: 2, cost_us: {cost_us}),
                       Sink(name: "k")],
            checkpoints: (interval_ms: 300, mode: ExactlyOnce),
        )"#
        );
        let scenario = Arc::new(Scenario::parse(&text, "test").unwrap());
        let mut w = World::new(scenario, 5, RunOptions::default());
        assert_eq!(w.run(), StopReason::JobFinished, "cost {cost_us} us");
        let window =
            |e: &&crate::recording::TraceEvent| w.tasks.get(e.subtask().index()).is_some_and(|t| t.operator == 1);
        // Per window step (subtask and time): its records and its control messages.
        let mut steps: BTreeMap<(u32, TimeNs), (u64, u64)> = BTreeMap::new();
        for event in w.recorder.events().iter().filter(window) {
            let step = steps.entry((event.subtask().index() as u32, event.time_ns)).or_default();
            match event.kind {
                TraceKind::ProcessRecord => step.0 += 1,
                TraceKind::ProcessBarrier | TraceKind::ProcessWatermark => step.1 += 1,
                _ => {}
            }
        }
        let most = steps.values().map(|s| s.0).max().unwrap();
        let cost_ns = cost_us * 1_000;
        let allowed = RUN_SPAN_MAX_NS.div_ceil(cost_ns).min(u64::from(RECORDS_PER_RUN_MAX));
        assert!(most <= allowed, "cost {cost_us} us: a step took {most} records, at most {allowed}");
        if cost_ns < RUN_SPAN_MAX_NS {
            assert!(most > 1, "cost {cost_us} us: records queued behind each other are taken in one step");
        }
        assert!(steps.values().all(|&(records, control)| records == 0 || control == 0), "cost {cost_us} us");
    }
}
