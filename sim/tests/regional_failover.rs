//! Failover per pipelined region (`sim::job::regions`): a failure restarts only the regions
//! with a task on the failed node; a job with a shuffle is one region and restarts whole.

use std::path::Path;
use std::sync::Arc;

use engine::sink::SinkKind;
use sim::faults::{Fault, Trigger};
use sim::job::FailoverStrategy;
use sim::recording::TraceKind;
use sim::run::{reference_run, run_variant};
use sim::scenario::{Guarantee, NodeId, OutcomeClass};
use sim::{RunOptions, Scenario, StopReason, World};

fn load(name: &str, failover: FailoverStrategy) -> Arc<Scenario> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join("scenarios").join(name);
    let mut scenario = Scenario::load(&path).expect("shipped scenario loads");
    scenario.failover = failover;
    Arc::new(scenario)
}

/// Duplicated source records of an at-least-once run with a plain sink.
fn duplicates(scenario: &Scenario, seed: u64) -> usize {
    let reference = reference_run(scenario, seed);
    let faults = scenario.faults_for_seed(seed);
    let report = run_variant(scenario, seed, Guarantee::AtLeastOnce, SinkKind::Plain, faults, &reference);
    assert_eq!(report.stop, StopReason::JobFinished);
    assert_eq!(report.restarts, 1);
    assert!(report.violations.is_empty(), "{:?}", report.violations);
    report.outcome.duplicated_records.len()
}

#[test]
fn only_the_failed_lane_restarts_and_replays() {
    let scenario = load("regional-failover.ron", FailoverStrategy::Region);
    let mut world = World::new(scenario.clone(), 42, RunOptions::default());
    assert_eq!(world.run(), StopReason::JobFinished);
    let plan = &scenario.plan;
    let id = |name: &str| plan.subtask_by_name(name).unwrap();
    // The healthy lane kept its first attempt; the lane on tm-1 runs in attempt 1.
    for name in ["readings[0]", "scaled[0]", "out[0]"] {
        assert_eq!(world.tasks[id(name).index()].attempt, 0, "{name}");
    }
    for name in ["readings[1]", "scaled[1]", "out[1]"] {
        assert_eq!(world.tasks[id(name).index()].attempt, 1, "{name}");
    }
    // The ended attempt holds the replaced lane's counts only.
    assert_eq!(world.earlier_attempts.len(), 1);
    assert_eq!(world.earlier_attempts[0][id("readings[0]").index()].records_in, 0);
    assert!(world.earlier_attempts[0][id("readings[1]").index()].records_in > 0);
    let restarts = world.recorder.events().iter().filter(|e| e.kind == TraceKind::JobRestarted).count();
    assert_eq!(restarts, 1);
}

#[test]
fn regional_failover_replays_less_than_full_failover() {
    let region = duplicates(&load("regional-failover.ron", FailoverStrategy::Region), 42);
    let full = duplicates(&load("regional-failover.ron", FailoverStrategy::Full), 42);
    assert!(region > 0, "the failed lane replays from its checkpoint");
    assert!(region < full, "region {region} vs full {full}");
}

#[test]
fn a_key_by_makes_the_job_one_region_so_both_strategies_agree() {
    for seed in [42, 7] {
        let run = |failover| {
            let mut world = World::new(load("crash-during-checkpoint.ron", failover), seed, RunOptions::default());
            world.run();
            (world.recorder.hash(), world.restarts())
        };
        let (region, full) = (run(FailoverStrategy::Region), run(FailoverStrategy::Full));
        assert!(region.1 > 0);
        assert_eq!(region, full, "seed {seed}");
    }
}

#[test]
fn a_node_without_tasks_of_the_job_restarts_nothing_under_region_failover() {
    let scenario = load("regional-failover.ron", FailoverStrategy::Region);
    let faults = vec![Fault::Crash {
        node: NodeId::task_manager(0),
        at: Trigger::At(3_000_000_000),
        restart_after_ns: Some(500_000_000),
    }];
    // Move every task to tm-1: tm-0 then hosts nothing.
    let mut world = World::with_faults(scenario.clone(), 42, RunOptions::default(), faults.clone());
    for task in &mut world.tasks {
        task.node = NodeId::task_manager(1);
    }
    assert_eq!(world.run(), StopReason::JobFinished);
    assert_eq!(world.restarts(), 0);
    let full = load("regional-failover.ron", FailoverStrategy::Full);
    let mut world = World::with_faults(full, 42, RunOptions::default(), faults);
    for task in &mut world.tasks {
        task.node = NodeId::task_manager(1);
    }
    assert_eq!(world.run(), StopReason::JobFinished);
    assert_eq!(world.restarts(), 1);
}

#[test]
fn exactly_once_stays_exact_under_regional_failover_with_random_faults() {
    let scenario = load("regional-failover.ron", FailoverStrategy::Region);
    let swarm = Arc::new(sim::run::with_swarm(scenario.without_faults()));
    for seed in 1..=12 {
        let reference = reference_run(&swarm, seed);
        let faults = swarm.faults_for_seed(seed);
        let report = run_variant(&swarm, seed, Guarantee::ExactlyOnce, SinkKind::TwoPhaseCommit, faults, &reference);
        assert!(report.violations.is_empty(), "seed {seed}: {:?}", report.violations);
        assert_eq!(report.stop, StopReason::JobFinished, "seed {seed}");
        assert!(matches!(report.class, OutcomeClass::Exact), "seed {seed}: {:?}", report.class);
    }
}
