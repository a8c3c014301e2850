//! The library API users write their own tests with: seeds from the environment, a run against
//! the fault-free reference, assertions that carry the replay command, and proptest strategies.

use std::path::Path;

use engine::sink::SinkKind;
use proptest::prelude::*;
use sim::scenario::Guarantee;
use sim::strategies::keyed_window_scenario;
use sim::testing::{parse_seeds, seeds_from_env, Simulation};

fn swarm() -> Simulation {
    Simulation::load(Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/swarm.ron")).unwrap()
}

#[test]
fn seed_lists_parse() {
    assert_eq!(parse_seeds("3..6"), Some(vec![3, 4, 5]));
    assert_eq!(parse_seeds("3..=5"), Some(vec![3, 4, 5]));
    assert_eq!(parse_seeds("7, 9,12"), Some(vec![7, 9, 12]));
    assert_eq!(parse_seeds("x..2"), None);
    // A set: in order, each seed once.
    assert_eq!(parse_seeds("12,7, 9,7,12"), Some(vec![7, 9, 12]));
}

#[test]
fn exactly_once_with_two_phase_commit_for_every_seed() {
    let sim = swarm().with_variant(Guarantee::ExactlyOnce, SinkKind::TwoPhaseCommit);
    for seed in seeds_from_env(100..106) {
        sim.run(seed).assert_exact();
    }
}

#[test]
fn a_failed_assertion_names_the_seed_and_the_replay_command() {
    let sim = swarm().with_variant(Guarantee::AtMostOnce, SinkKind::Plain);
    let run = sim.run(4);
    let message = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        run.assert_exact();
    }))
    .expect_err("at-most-once under crashes is not exact")
    .downcast::<String>()
    .expect("a formatted message");
    assert!(message.contains("seed 4"), "{message}");
    assert!(message.contains("cargo run --release -- replay"), "{message}");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Random data, a random window and random crashes, partitions and latency spikes:
    /// exactly-once with a two-phase-commit sink always ends with the reference output.
    #[test]
    fn exactly_once_survives_generated_fault_schedules(text in keyed_window_scenario("ExactlyOnce", "TwoPhaseCommit")) {
        let sim = Simulation::parse(&text.0, "generated").map_err(|e| TestCaseError::fail(format!("{e}\n{}", text.0)))?;
        let run = sim.run(1);
        prop_assert!(run.result.world.violations.is_empty(), "{:?}\n{}", run.result.world.violations, text.0);
        prop_assert_eq!(run.class(), sim::scenario::OutcomeClass::Exact, "{}", text.0);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// The same with unaligned checkpoints: restoring the in-flight data must not lose or
    /// repeat anything.
    #[test]
    fn unaligned_exactly_once_survives_generated_fault_schedules(
        text in keyed_window_scenario("ExactlyOnce, unaligned: true", "TwoPhaseCommit")
    ) {
        let sim = Simulation::parse(&text.0, "generated").map_err(|e| TestCaseError::fail(format!("{e}\n{}", text.0)))?;
        let run = sim.run(1);
        prop_assert!(run.result.world.violations.is_empty(), "{:?}\n{}", run.result.world.violations, text.0);
        prop_assert_eq!(run.class(), sim::scenario::OutcomeClass::Exact, "{}", text.0);
    }
}

#[test]
fn trace_exports_open_as_json() {
    let dir = std::env::temp_dir().join(format!("streamlab-trace-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let sim =
        Simulation::load(Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/crash-during-checkpoint.ron")).unwrap();
    let run = sim.run(42);
    let events = run.result.world.recorder.events();
    let chrome = dir.join("trace.json");
    let lines = dir.join("trace.jsonl");
    sim::export::write_trace_file(sim.scenario(), events, &chrome).unwrap();
    sim::export::write_trace_file(sim.scenario(), events, &lines).unwrap();

    let trace: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&chrome).unwrap()).unwrap();
    let items = trace["traceEvents"].as_array().unwrap();
    let named =
        |prefix: &str| items.iter().filter(|e| e["name"].as_str().is_some_and(|n| n.starts_with(prefix))).count();
    assert!(named("NodeCrashed") >= 2, "two crashes as instants");
    assert!(named("checkpoint") >= 5, "checkpoint spans");
    assert!(named("align + snapshot") >= 5, "alignment spans per subtask");
    assert!(items.iter().any(|e| e["ph"] == "M" && e["args"]["name"] == "counts[1]"), "a track per subtask");

    let text = std::fs::read_to_string(&lines).unwrap();
    assert_eq!(text.lines().count(), events.len());
    for line in text.lines().take(100) {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        assert!(v["kind"].is_string() && v["time_ns"].is_u64());
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
