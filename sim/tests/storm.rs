//! The Storm runtime's promises under random faults (swarm: crashes, partitions, latency
//! spikes, slow nodes drawn from the seed): acking is at-least-once, acking off is
//! at-most-once, Trident is exactly-once; and the located refusals of what Storm cannot run.
//! Seeds are bounded so this stays within a few seconds in debug builds.

use std::sync::Arc;

use sim::run::storm_reference_run;
use sim::scenario::{Guarantee, OutcomeClass, Runtime};
use sim::storm::run_storm;
use sim::{Scenario, StopReason};

/// A record pipeline (every record a sink row), on three workers, with swarm faults; the
/// message timeout is short so replays happen within the run.
const RECORDS: &str = r#"Scenario(
    name: "storm records under swarm faults",
    duration_ms: 2_000,
    cluster: (task_managers: 3, slots_per_task_manager: 2),
    network: (latency: Uniform(min_ms: 1, max_ms: 4)),
    source: Generator((partitions: 3, rate_per_s: 150, keys: 8, value: Uniform(min: 1, max: 9))),
    pipeline: [
        Source(name: "events", parallelism: 2),
        Map(name: "double", f: MultiplyValue(2), parallelism: 2),
        KeyBy(Key),
        Sink(name: "out", parallelism: 2),
    ],
    model: Storm((ackers: 2, message_timeout_ms: 400, max_spout_pending: Some(50))),
    swarm: (crashes: 2, partitions: 1, latency_spikes: 1, slow_nodes: 1, from_ms: 200, until_ms: 1_800,
            max_outage_ms: 800, include_job_manager: true),
)"#;

/// The word count's shape (a windowed count) under swarm faults, for Trident.
const WINDOWED: &str = r#"Scenario(
    name: "storm windowed count under swarm faults",
    duration_ms: 3_000,
    cluster: (task_managers: 3, slots_per_task_manager: 2),
    network: (latency: Uniform(min_ms: 1, max_ms: 4)),
    source: Generator((partitions: 2, rate_per_s: 150, keys: 6, disorder: (delay: Uniform(min_ms: 0, max_ms: 50)))),
    watermarks: BoundedOutOfOrderness(bound_ms: 100),
    pipeline: [
        Source(name: "words", parallelism: 2),
        KeyBy(Key),
        Window(name: "counts", kind: Tumbling(size_ms: 500), aggregate: Count, parallelism: 2),
        Sink(name: "out", parallelism: 1),
    ],
    model: Storm((ackers: 1, message_timeout_ms: 600, max_spout_pending: Some(3),
                  trident: Some((batch_ms: 200, state: Transactional)))),
    swarm: (crashes: 2, partitions: 1, latency_spikes: 1, slow_nodes: 1, from_ms: 300, until_ms: 2_700,
            max_outage_ms: 800, include_job_manager: true),
)"#;

fn scenario(text: &str, guarantee: Guarantee) -> Arc<Scenario> {
    let s = Scenario::parse(text, "test.ron").expect("test scenario loads");
    Arc::new(s.with_runtime_variant(Runtime::Storm, guarantee, None))
}

/// Acking: every record's effect reaches the sink at least once, whatever the faults; and the
/// seeds do exercise timeouts and replays.
#[test]
fn acking_is_at_least_once_under_swarm_faults() {
    let s = scenario(RECORDS, Guarantee::AtLeastOnce);
    let (mut replayed, mut duplicated) = (0, 0);
    for seed in 0..300 {
        let reference = storm_reference_run(&s, seed);
        let run = run_storm(s.clone(), seed, false);
        assert_eq!(run.stop, StopReason::JobFinished, "seed {seed}: {:?}", run.stop);
        let outcome = sim::oracle::evaluate(&reference.observed(), &run.observed());
        assert!(!outcome.has_loss(), "seed {seed}: lost {:?}", outcome.lost_records);
        assert!(outcome.exact_records > 0, "seed {seed}: the reference has records");
        replayed += (run.world.stats.replays > 0) as u32;
        duplicated += outcome.has_duplicates() as u32;
    }
    assert!(replayed > 30, "only {replayed} of 300 seeds timed out and replayed a tuple");
    assert!(duplicated > 10, "only {duplicated} of 300 seeds duplicated: at-least-once, not exactly-once");
}

/// Acking off: nothing is ever replayed, so nothing twice; crashes lose records.
#[test]
fn acking_off_loses_and_never_duplicates() {
    let s = scenario(RECORDS, Guarantee::AtMostOnce);
    let mut lossy = 0;
    for seed in 0..100 {
        let reference = storm_reference_run(&s, seed);
        let run = run_storm(s.clone(), seed, false);
        assert_eq!(run.stop, StopReason::JobFinished, "seed {seed}");
        let outcome = sim::oracle::evaluate(&reference.observed(), &run.observed());
        assert!(!outcome.has_duplicates(), "seed {seed}: duplicated {:?}", outcome.duplicated_records);
        assert_eq!(run.world.stats.ack_messages, 0, "no acker, no ack traffic");
        lossy += outcome.has_loss() as u32;
    }
    assert!(lossy > 10, "only {lossy} of 100 seeds lost records under crashes");
}

/// Trident: the windowed counts equal the fault-free run's under every seed's faults, and the
/// seeds do replay batches.
#[test]
fn trident_is_exact_under_swarm_faults() {
    let s = scenario(WINDOWED, Guarantee::ExactlyOnce);
    let mut replays = 0;
    for seed in 0..80 {
        let reference = storm_reference_run(&s, seed);
        let run = run_storm(s.clone(), seed, false);
        assert_eq!(run.stop, StopReason::JobFinished, "seed {seed}: {:?}", run.stop);
        let outcome = sim::oracle::evaluate(&reference.observed(), &run.observed());
        assert_eq!(outcome.class(), OutcomeClass::Exact, "seed {seed}: {outcome:?}");
        replays += run.world.stats.trident_replays;
    }
    assert!(replays > 5, "only {replays} batch replays over 80 seeds");
}

/// Acker messages are real traffic: a three-stage topology with acking sends about four per
/// record (init, two acks, the ack to the spout); acking off sends none.
#[test]
fn ack_traffic_is_counted() {
    let on = run_storm(Arc::new(scenario(RECORDS, Guarantee::AtLeastOnce).without_faults()), 1, false);
    let records = on.world.log.len() as u64;
    let per_record = on.world.stats.ack_messages as f64 / records as f64;
    assert!((3.9..=4.1).contains(&per_record), "{per_record} acker messages per record");
    assert_eq!(on.world.stats.timeouts, 0, "no fault, no timeout");
}

#[test]
fn the_same_seed_gives_the_same_storm_run() {
    for (text, g) in [(RECORDS, Guarantee::AtLeastOnce), (WINDOWED, Guarantee::ExactlyOnce)] {
        let s = scenario(text, g);
        let (a, b) = (run_storm(s.clone(), 7, false), run_storm(s.clone(), 7, false));
        assert_eq!(a.trace_hash(), b.trace_hash());
        assert_ne!(a.trace_hash(), run_storm(s, 8, false).trace_hash());
    }
}

/// What Storm cannot run is refused where it is written.
#[test]
fn storm_refusals_are_located() {
    let cases = [
        (
            "Window(name: \"counts\", kind: Tumbling(size_ms: 500)",
            "Window(name: \"counts\", kind: Session(gap_ms: 500)",
            "pipeline[2].Window.kind",
        ),
        (
            "Sink(name: \"out\", parallelism: 1)",
            "Sink(name: \"out\", kind: TwoPhaseCommit, parallelism: 1)",
            "pipeline[3].Sink.kind",
        ),
        ("batch_ms: 200", "batch_ms: 0", "model.Storm.trident.batch_ms"),
        ("ackers: 1,", "ackers: 0,", "model.Storm.ackers"),
    ];
    for (from, to, field) in cases {
        let text = WINDOWED.replace(from, to);
        assert_ne!(text, WINDOWED, "{from}");
        let err = Scenario::parse(&text, "bad.ron").expect_err(field).to_string();
        assert!(err.starts_with("bad.ron:"), "{err}");
        assert!(err.contains(&format!(": {field}: ")), "{field} in {err}");
        let (line, column) = {
            let mut parts = err.split(':').skip(1);
            (
                parts.next().unwrap_or("0").parse::<usize>().unwrap_or(0),
                parts.next().unwrap_or("0").parse::<usize>().unwrap_or(0),
            )
        };
        assert!(line > 1 && column > 0, "{err}");
    }
}

/// Explicit fails: a bolt that fails every tuple whose value is divisible by 3 twice (a lookup
/// that times out, twice) makes the acker fail those trees at once and the spout replay them —
/// no message timeout involved, and every record still reaches the sink exactly once (the bolt
/// emitted nothing for the failed attempts). With acking off there is no acker to tell: the
/// failed tuples are lost.
#[test]
fn a_bolt_failing_tuples_makes_the_spout_replay_them() {
    let text = RECORDS.replace(
        "max_spout_pending: Some(50))",
        "max_spout_pending: Some(50),\n        fails: [(bolt: \"double\", when: ValueDivisibleBy(3), times: 2)])",
    );
    assert_ne!(text, RECORDS);
    let mut base = Scenario::parse(&text, "fails.ron").expect("scenario with fails loads");
    base.faults.clear();
    base.swarm = None;
    assert!(base.without_faults().model.storm().is_some_and(|c| c.fails.is_empty()), "the reference has no fails");
    let matching = {
        let log_run = run_storm(Arc::new(base.clone()), 3, false);
        let log = log_run.world.log.clone();
        log.partitions.iter().flatten().filter(|e| e.value % 3 == 0).count() as u64
    };
    assert!(matching > 50, "{matching} records divisible by 3");
    let reference = storm_reference_run(&base, 3);
    let alo = run_storm(Arc::new(base.with_runtime_variant(Runtime::Storm, Guarantee::AtLeastOnce, None)), 3, false);
    assert_eq!(alo.stop, StopReason::JobFinished);
    let stats = alo.world.stats;
    assert_eq!(stats.bolt_fails, 2 * matching, "each matching record failed twice");
    assert_eq!(stats.replays, 2 * matching, "each fail replayed from the spout");
    assert_eq!(stats.timeouts, 0, "explicit fails, not timeouts");
    let outcome = sim::oracle::evaluate(&reference.observed(), &alo.observed());
    assert_eq!(outcome.class(), OutcomeClass::Exact, "{outcome:?}");
    // The Perfetto export shows the acker's work: inits, acks, fails, trees completed and failed,
    // the spout's emits and replays, on the executors' threads (the acker has its own).
    let traced = run_storm(alo.world.scenario.clone(), 3, true);
    let chrome = sim::export::chrome_trace(&traced.world.scenario, traced.world.recorder.events());
    let events = chrome["traceEvents"].as_array().expect("a trace event array");
    let count = |name: &str| events.iter().filter(|e| e["name"] == name && e["ph"] == "i").count() as u64;
    assert_eq!(count("fail"), 2 * matching, "one fail message per failed tuple");
    assert_eq!(count("tree failed"), 2 * matching);
    assert_eq!(count("replay"), 2 * matching);
    assert_eq!(count("ack init"), stats.spout_emitted);
    assert_eq!(count("tree complete"), stats.acked);
    assert!(count("ack") > 0);
    assert!(events.iter().any(|e| e["ph"] == "M" && e["args"]["name"] == "__acker[1]"), "the second acker's thread");

    let amo = run_storm(Arc::new(base.with_runtime_variant(Runtime::Storm, Guarantee::AtMostOnce, None)), 3, false);
    let outcome = sim::oracle::evaluate(&reference.observed(), &amo.observed());
    assert_eq!(outcome.class(), OutcomeClass::Loss, "acking off: a failed tuple is gone");
    assert_eq!(outcome.lost_records.len() as u64, matching, "{outcome:?}");

    for (from, to, field) in [
        ("bolt: \"double\"", "bolt: \"nope\"", "model.Storm.fails[0].bolt"),
        ("bolt: \"double\"", "bolt: \"events\"", "model.Storm.fails[0].bolt"),
        ("times: 2", "times: 0", "model.Storm.fails[0].times"),
    ] {
        let err = Scenario::parse(&text.replace(from, to), "bad.ron").expect_err(field).to_string();
        assert!(err.contains(&format!(": {field}: ")), "{field} in {err}");
    }
}

/// A message timeout below the bolt's processing time (1 ms against 1.5 ms per tuple) re-emits
/// every tuple, and each copy again: the run stops at the work limit, within bounded time and
/// memory, instead of running to `max_run_ms` with an ever longer queue. The same scenario with
/// its own timeout (1.5 s) stays far below the limit.
#[test]
fn a_replay_storm_stops_at_the_work_limit() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../scenarios/storm-timeout-storm.ron");
    let text = std::fs::read_to_string(path).unwrap();
    assert!(text.contains("message_timeout_ms: 1_500"), "the scenario's timeout changed: update this test");
    assert!(text.contains("duration_ms: 10_000"), "the scenario's duration changed: update this test");
    // One second of input (a tenth of the file's) keeps the limit near its floor of a million
    // events, so the storm reaches it in a fraction of the time.
    let storm_text = text
        .replace("message_timeout_ms: 1_500", "message_timeout_ms: 1")
        .replace("duration_ms: 10_000", "duration_ms: 1_000");
    let storm = Arc::new(Scenario::parse(&storm_text, "1ms.ron").unwrap());
    let run = run_storm(storm.clone(), 3, false);
    assert_eq!(run.stop, StopReason::WorkLimit);
    // Whichever bound it reaches first: the kernel events, or the messages it holds waiting
    // (the copies pile up in the bolt's inbox faster than it takes them).
    assert!(run.world.events_processed <= storm.max_kernel_events(), "{}", run.world.events_processed);
    let held = run.world.held_messages();
    assert!(
        run.world.events_processed == storm.max_kernel_events() || held > storm.max_held_messages(),
        "stopped at {} events holding {held} messages",
        run.world.events_processed
    );
    assert!(run.world.stats.timeouts > 0);

    let calm = Arc::new(Scenario::parse(&text, "1500ms.ron").unwrap());
    let run = run_storm(calm.clone(), 3, false);
    assert_eq!(run.stop, StopReason::JobFinished);
    assert!(run.world.events_processed < calm.max_kernel_events() / 10, "{}", run.world.events_processed);
}

/// Java's `String.hashCode`, as its Javadoc states it: `s[0]*31^(n-1) + ... + s[n-1]` over the
/// UTF-16 code units, in 32-bit arithmetic.
fn java_string_hash(name: &str) -> i32 {
    let units: Vec<u16> = name.encode_utf16().collect();
    let n = units.len() as u32;
    units.iter().enumerate().fold(0i32, |sum, (i, &unit)| {
        sum.wrapping_add(i32::from(unit).wrapping_mul(31i32.wrapping_pow(n - 1 - i as u32)))
    })
}

/// A fields grouping sends every tuple of a key to sink task `Math.floorMod(listHashCode([key]),
/// tasks)` with `listHashCode = 31 * 1 + key.hashCode()` (Storm's `TupleUtils.chooseTaskIndex`
/// and `Arrays.deepHashCode`, stated here apart from `engine::partition`), the key's name being
/// the `String`: over a whole run with acking, each row is written by that task, a key never
/// moves, and the 20 keys reach every one of 1 to 10 tasks.
#[test]
fn a_fields_grouping_sends_each_key_where_storm_does() {
    for tasks in 1..=10u32 {
        let text = RECORDS
            .replace("keys: 8,", "keys: 20,")
            .replace("Sink(name: \"out\", parallelism: 2)", &format!("Sink(name: \"out\", parallelism: {tasks})"))
            .replace("task_managers: 3, slots_per_task_manager: 2", "task_managers: 3, slots_per_task_manager: 4");
        let text = text.split("    swarm:").next().expect("the scenario before its swarm").to_string() + ")";
        let base = Scenario::parse(&text, "fields.ron").unwrap_or_else(|e| panic!("{e}"));
        let s = Arc::new(base.with_runtime_variant(Runtime::Storm, Guarantee::AtLeastOnce, None));
        let run = run_storm(s.clone(), 7, false);
        assert_eq!(run.stop, StopReason::JobFinished);
        let mut task_of_key = std::collections::BTreeMap::new();
        for stored in run.world.sink_store.rows.iter() {
            let name = &s.key_names[stored.row.key as usize];
            let expected = (31i32.wrapping_add(java_string_hash(name))).rem_euclid(tasks as i32);
            let task = s.plan.subtask(stored.subtask).index.index();
            assert_eq!(task as i32, expected, "{name} with {tasks} tasks");
            assert_eq!(*task_of_key.entry(stored.row.key).or_insert(task), task, "{name} moved");
        }
        let used: std::collections::BTreeSet<_> = task_of_key.values().collect();
        assert_eq!(used.len(), tasks as usize, "{tasks} tasks: {task_of_key:?}");
    }
}
