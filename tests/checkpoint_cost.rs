//! Issue 11: the checkpoint cost model. The synchronous phase blocks the task; the asynchronous
//! upload competes for the task manager's cores with the tasks on it. Virtual throughput only
//! (a function of the model, never of this machine): the calibration itself is
//! `streamlab bench --only checkpoints` (book: "What a checkpoint costs").

use std::sync::Arc;

use sim::{RunOptions, Scenario};

/// A small saturated keyed count at p = 1 on one task manager with 2 slots (2 cores).
fn scenario(checkpoints: &str) -> Arc<Scenario> {
    Arc::new(Scenario::parse(&text(checkpoints), "checkpoint cost").unwrap())
}

fn text(checkpoints: &str) -> String {
    format!(
        r#"Scenario(
    name: "checkpoint cost",
    duration_ms: 600,
    cluster: (task_managers: 1, slots_per_task_manager: 2),
    source: Generator((partitions: 1, rate_per_s: 200_000, keys: 20_000, value: Constant(1))),
    watermarks: BoundedOutOfOrderness(bound_ms: 100, emit: Periodic(interval_ms: 200)),
    pipeline: [
        Source(name: "source", parallelism: 1, cost_us: 1),
        KeyBy(Key),
        Window(name: "window", kind: Tumbling(size_ms: 60_000), aggregate: Count, parallelism: 1, cost_us: 10),
        Sink(name: "sink", parallelism: 1, cost_us: 1),
    ],
    checkpoints: {checkpoints},
    track_lineage: false,
)"#
    )
}

/// Source records per virtual second until the last task finished.
fn throughput(scenario: Arc<Scenario>) -> u64 {
    let run = sim::run_scenario(scenario, 1, RunOptions { keep_trace: false, ..RunOptions::default() });
    let end = run.world.all_tasks_finished_ns.expect("the job finishes");
    run.world.log.len() as u64 * 1_000_000_000 / end
}

#[test]
fn checkpoints_cost_more_the_more_often_they_run_and_uploads_compete_for_cores() {
    let base = throughput(scenario("None"));
    let at = |interval: u64, cost: &str| {
        throughput(scenario(&format!("Some((interval_ms: {interval}, mode: ExactlyOnce{cost}))")))
    };
    let (slow, fast) = (at(200, ""), at(50, ""));
    assert!(slow < base, "a checkpoint every 200 ms costs something: {slow} vs {base}");
    assert!(fast < slow, "more checkpoints cost more: 50 ms {fast}, 200 ms {slow}");
    // The upload is what competes for the cores: make it (nearly) free and most of the loss goes.
    let free_upload = at(50, ", cost: (upload_mb_per_s: 1_000_000)");
    assert!(free_upload > fast, "{free_upload} vs {fast}");
    // And the synchronous copy blocks the task: make it slow and throughput drops further.
    let slow_copy = at(50, ", cost: (sync_mb_per_s: 20)");
    assert!(slow_copy < fast, "{slow_copy} vs {fast}");
}

#[test]
fn a_zero_snapshot_rate_is_refused_where_it_is_written() {
    let text = text("(interval_ms: 1_000, cost: (upload_mb_per_s: 0))");
    let line = text.lines().position(|l| l.contains("upload_mb_per_s: 0")).unwrap() + 1;
    let error = Scenario::parse(&text, "bad.ron").expect_err("refused");
    let message = error.to_string();
    assert!(message.starts_with(&format!("bad.ron:{line}:")), "{message}");
    assert!(message.contains("checkpoints.cost.upload_mb_per_s") && message.contains("never finish"), "{message}");
}
