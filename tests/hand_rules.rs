//! The guarantees stated as hand rules, independently of the oracle: one key, one event every
//! 10 ms of event time (arriving at its event time), counted in 1 s tumbling windows at
//! parallelism 1, and one crash at 3.25 s. The expected counts come from the event list in
//! this file; the test reads the sink's visible rows itself and never calls `sim::oracle`.
//!
//! - exactly-once with a two-phase-commit sink: every window once, with its true count;
//! - exactly-once with an idempotent sink: every window's latest value is its true count;
//! - at-least-once with a plain sink: every row its true count (one input channel: nothing to
//!   over-count), and exactly the windows whose row was written between the restored
//!   checkpoint and the crash are shown twice (the restore fires them again);
//! - at-most-once with a plain sink: no window twice; the windows the crash does not touch
//!   are exact; the window holding the crash misses the records before it (empty state after
//!   the restart, the source reading on from where it was).
//!
//! Timing, by the same rules: a window's row reaches the sink `ROW_DELAY_MS` after the window
//! ends (the source's and the window's output buffers flush every 100 ms, the network's
//! default buffer timeout), and checkpoints complete every `CHECKPOINT_MS`.

use std::collections::BTreeMap;

use engine::sink::SinkKind;
use sim::scenario::Guarantee;
use sim::testing::Simulation;

const EVENTS: i64 = 600;
const EVERY_MS: i64 = 10;
const WINDOW_MS: i64 = 1_000;
const CRASH_MS: i64 = 3_250;
const ROW_DELAY_MS: i64 = 200;
const CHECKPOINT_MS: i64 = 300;

fn scenario() -> Simulation {
    let events: Vec<String> =
        (0..EVENTS).map(|i| format!("(key: \"k\", value: 1, ts: {t}, arrives: {t})", t = i * EVERY_MS)).collect();
    let text = format!(
        r#"Scenario(
    name: "hand rules",
    source: Events([{}]),
    watermarks: BoundedOutOfOrderness(bound_ms: 0, emit: Periodic(interval_ms: 50)),
    pipeline: [Source(name: "in"), KeyBy(Key), Window(name: "w", kind: Tumbling(size_ms: {WINDOW_MS}), aggregate: Count), Sink(name: "out")],
    checkpoints: (interval_ms: {CHECKPOINT_MS}),
    restart: FixedDelay(delay_ms: 100, max_attempts: 3),
    failure_detection: (heartbeat_interval_ms: 50, heartbeat_timeout_ms: 200),
    faults: [Crash(node: "tm-0", at: At({CRASH_MS}), restart_after_ms: Some(50))],
)"#,
        events.join(", ")
    );
    Simulation::parse(&text, "hand-rules.ron").expect("the scenario loads")
}

/// The true count of every window, from the event list alone.
fn truth() -> BTreeMap<i64, i64> {
    let mut counts = BTreeMap::new();
    for i in 0..EVENTS {
        *counts.entry((i * EVERY_MS).div_euclid(WINDOW_MS) * WINDOW_MS).or_insert(0) += 1;
    }
    counts
}

/// The visible rows as (window start, value), in the order they became visible.
fn visible_rows(guarantee: Guarantee, sink: SinkKind) -> Vec<(i64, i64)> {
    let run = scenario().with_variant(guarantee, sink).run(1);
    assert_eq!(run.result.stop, sim::StopReason::JobFinished, "{guarantee:?}/{sink:?}");
    assert!(run.result.world.faults.iter().any(|f| f.describe(&run.result.world.scenario).contains("crash")));
    let observed = run.result.observed();
    observed.rows.iter().map(|r| (r.row.window.expect("a window's row").start_ms, r.row.value)).collect()
}

#[test]
fn exactly_once_with_two_phase_commit_shows_each_window_once_with_its_true_count() {
    let rows = visible_rows(Guarantee::ExactlyOnce, SinkKind::TwoPhaseCommit);
    let shown: BTreeMap<i64, i64> = rows.iter().copied().collect();
    assert_eq!(rows.len(), shown.len(), "no window twice: {rows:?}");
    assert_eq!(shown, truth());
}

#[test]
fn exactly_once_with_an_idempotent_sink_ends_with_the_true_counts() {
    let latest: BTreeMap<i64, i64> = visible_rows(Guarantee::ExactlyOnce, SinkKind::Idempotent).into_iter().collect();
    assert_eq!(latest, truth());
}

#[test]
fn at_least_once_with_a_plain_sink_shows_the_windows_written_after_the_restored_checkpoint_twice() {
    let rows = visible_rows(Guarantee::AtLeastOnce, SinkKind::Plain);
    let truth = truth();
    for (window, value) in &rows {
        assert_eq!(Some(value), truth.get(window), "window {window}: {rows:?}");
    }
    let restored_from = CRASH_MS.div_euclid(CHECKPOINT_MS) * CHECKPOINT_MS;
    for window in truth.keys() {
        let written_ms = window + WINDOW_MS + ROW_DELAY_MS;
        let times = rows.iter().filter(|(w, _)| w == window).count();
        let expected = if (restored_from..CRASH_MS).contains(&written_ms) { 2 } else { 1 };
        assert_eq!(times, expected, "window {window} (row written at {written_ms} ms): {rows:?}");
    }
}

#[test]
fn at_most_once_with_a_plain_sink_loses_the_crashed_window_and_nothing_else() {
    let rows = visible_rows(Guarantee::AtMostOnce, SinkKind::Plain);
    let shown: BTreeMap<i64, i64> = rows.iter().copied().collect();
    assert_eq!(rows.len(), shown.len(), "no window twice: {rows:?}");
    let crashed = CRASH_MS.div_euclid(WINDOW_MS) * WINDOW_MS;
    for (window, count) in truth() {
        if window == crashed {
            let value = shown.get(&window).copied().unwrap_or(0);
            assert!(value < count, "the crashed window [{window}, +{WINDOW_MS}) lost records: {value} of {count}");
        } else {
            assert_eq!(shown.get(&window), Some(&count), "window {window}: {rows:?}");
        }
    }
}
