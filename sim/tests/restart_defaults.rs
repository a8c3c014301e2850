//! Flink 2.x's restart-strategy defaults when a scenario names none: without checkpointing the
//! first failure fails the job; with checkpointing the job restarts with exponential delay
//! (1 s initial backoff, x1.5, at most 1 min, jitter +-10 % from the seed, reset after 1 h).

use std::sync::Arc;

use sim::job::task::HighWater;
use sim::job::{Failover, JobFailure, JobMaster};
use sim::recording::TraceKind;
use sim::report;
use sim::run::run_scenario;
use sim::scenario::{NodeId, RestartStrategy};
use sim::{RunOptions, Scenario, StopReason};

const MS: u64 = 1_000_000;

/// A forward-only job on one task manager, a crash of it at 2 s (back 100 ms later), and
/// `extra` spliced in (checkpoints, a restart strategy).
fn scenario(extra: &str) -> Arc<Scenario> {
    let text = format!(
        r#"Scenario(
    name: "restart defaults",
    duration_ms: 4_000,
    source: Generator((partitions: 1, rate_per_s: 50)),
    pipeline: [Source(name: "s"), Map(name: "m", f: AddToValue(1)), Sink(name: "k")],
    faults: [Crash(node: "tm-0", at: At(2_000), restart_after_ms: 100)],
    {extra}
)"#
    );
    Arc::new(Scenario::parse(&text, "test").unwrap_or_else(|e| panic!("{e}")))
}

/// Failure detected → job restarted, in nanoseconds, for the run's first restart.
fn restart_delay_ns(scenario: &Arc<Scenario>, seed: u64) -> u64 {
    let result = run_scenario(scenario.clone(), seed, RunOptions::default());
    assert_eq!(result.stop, StopReason::JobFinished, "seed {seed}");
    let events = result.world.recorder.events();
    let at = |kind: TraceKind| events.iter().find(|e| e.kind == kind).map(|e| e.time_ns).expect("in the trace");
    at(TraceKind::JobRestarted) - at(TraceKind::FailureDetected)
}

#[test]
fn without_checkpointing_and_without_a_restart_strategy_the_job_fails() {
    let s = scenario("");
    assert_eq!(s.restart, None);
    assert_eq!(s.restart_strategy(), RestartStrategy::NoRestart);
    let result = run_scenario(s.clone(), 1, RunOptions::default());
    assert_eq!(result.stop, StopReason::JobFailed(JobFailure::NoRestartStrategy));
    assert_eq!(result.world.restarts(), 1, "the failover that failed the job is counted");
    let summary = report::summary(&result);
    assert!(summary.contains("job failed: no restart strategy (Flink's default without checkpointing)"), "{summary}");
    assert!(s.describe().iter().any(|l| l.contains("restart: none, a failure fails the job (Flink's default without")));
}

#[test]
fn at_most_once_with_an_explicit_restart_strategy_restarts_without_restoring() {
    let s = scenario("restart: FixedDelay(delay_ms: 200, max_attempts: 3),");
    let result = run_scenario(s, 1, RunOptions::default());
    assert_eq!(result.stop, StopReason::JobFinished);
    assert_eq!(result.world.restarts(), 1);
}

#[test]
fn an_explicit_no_restart_fails_the_job_even_with_checkpoints() {
    let s = scenario("checkpoints: (interval_ms: 500, mode: ExactlyOnce), restart: NoRestart,");
    let result = run_scenario(s, 1, RunOptions::default());
    assert_eq!(result.stop, StopReason::JobFailed(JobFailure::RestartDisabled));
}

#[test]
fn with_checkpointing_the_default_is_exponential_delay_with_jitter_from_the_seed() {
    let s = scenario("checkpoints: (interval_ms: 500, mode: ExactlyOnce),");
    assert_eq!(s.restart_strategy(), RestartStrategy::FLINK_EXPONENTIAL);
    let delays: Vec<u64> = (1..=6).map(|seed| restart_delay_ns(&s, seed)).collect();
    // The first restart waits 1 s to 1.1 s (Flink cuts the jitter below the initial backoff).
    assert!(delays.iter().all(|d| (1_000 * MS..=1_100 * MS).contains(d)), "{delays:?}");
    assert!(delays.iter().any(|&d| d != delays[0]), "the jitter depends on the seed: {delays:?}");
    assert_eq!(restart_delay_ns(&s, 3), delays[2], "same seed, same delay");
}

#[test]
fn exponential_delay_grows_per_consecutive_failure_and_resets_after_a_quiet_spell() {
    let s = scenario(
        "checkpoints: (interval_ms: 500, mode: ExactlyOnce),
         restart: ExponentialDelay(initial_delay_ms: 100, max_delay_ms: 1_000, multiplier_milli: 2_000, jitter_milli: 0, reset_after_ms: 5_000),",
    );
    let mut job = JobMaster::new(&s, 9, 0, false);
    let placement = vec![NodeId::task_manager(0); s.plan.subtasks.len()];
    let high_water = HighWater::new(1);
    let mut now = 0;
    let mut fail = |job: &mut JobMaster, at: u64| -> Option<u64> {
        now = at;
        let delay = match job.on_failure(NodeId::task_manager(0), &placement, now) {
            Failover::Restart { restart_after_ns, .. } => restart_after_ns,
            other => panic!("{other:?}"),
        };
        job.restart(now + delay.unwrap_or(0), &high_water);
        delay.map(|d| d / MS)
    };
    // Consecutive failures: 100, 200, 400 ms.
    assert_eq!(fail(&mut job, 1_000 * MS), Some(100));
    assert_eq!(fail(&mut job, 1_500 * MS), Some(200));
    assert_eq!(fail(&mut job, 2_000 * MS), Some(400));
    // 5 s after the last restart was due: back to the initial delay.
    assert_eq!(fail(&mut job, 2_400 * MS + 5_000 * MS), Some(100));
    assert_eq!(job.restarts(), 4);
}

#[test]
fn a_restart_strategy_that_gives_up_says_after_how_many_restarts() {
    let s = scenario("restart: FixedDelay(delay_ms: 100, max_attempts: 0),");
    let result = run_scenario(s, 1, RunOptions::default());
    assert_eq!(result.stop, StopReason::JobFailed(JobFailure::RestartsExhausted { restarts: 0 }));
    assert!(report::summary(&result).contains("job failed: the restart strategy gave up after 0 restarts"));
}
