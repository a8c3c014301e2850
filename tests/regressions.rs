//! Replays the pinned seeds of tests/regressions.ron: each must keep its outcome, replay bit for
//! bit in this process, and give the same trace hash in a second process.

use std::path::Path;
use std::process::Command;

use engine::sink::SinkKind;
use serde::Deserialize;
use sim::scenario::{Guarantee, OutcomeClass};
use sim::testing::Simulation;

#[derive(Deserialize)]
struct Pinned {
    scenario: String,
    seed: u64,
    /// The faults come from `--swarm` (`sim::run::with_swarm`).
    #[serde(default)]
    swarm: bool,
    guarantee: Guarantee,
    sink: SinkKind,
    outcome: OutcomeClass,
}

fn pinned() -> Vec<Pinned> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/regressions.ron");
    let text = std::fs::read_to_string(&path).unwrap();
    ron::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn simulation(p: &Pinned) -> Simulation {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(&p.scenario);
    let scenario = sim::Scenario::load(&path).unwrap_or_else(|e| panic!("{e}"));
    let scenario = if p.swarm { sim::run::with_swarm(scenario) } else { scenario };
    Simulation::from_scenario(scenario).with_variant(p.guarantee, p.sink)
}

#[test]
fn pinned_seeds_keep_their_outcomes() {
    for p in pinned() {
        let run = simulation(&p).run(p.seed);
        run.assert_healthy().assert_class(p.outcome);
    }
}

#[test]
fn pinned_seeds_replay_bit_for_bit() {
    for p in pinned() {
        let sim = simulation(&p);
        assert_eq!(sim.run(p.seed).trace_hash(), sim.run(p.seed).trace_hash(), "{} seed {}", p.scenario, p.seed);
    }
}

/// `streamlab replay` in two separate processes prints the same trace hash.
#[test]
fn a_pinned_seed_replays_identically_in_another_process() {
    let p = &pinned()[2];
    let hash = || {
        let out = Command::new(env!("CARGO_BIN_EXE_streamlab"))
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .args(["replay", &p.scenario, "--seed", &p.seed.to_string()])
            .output()
            .unwrap();
        // Exactly-once state with a plain sink shows duplicates: the promise is broken, and
        // `replay` says so with exit code 1 (the run itself finished, no invariant broke).
        assert_eq!((p.guarantee, p.outcome), (Guarantee::ExactlyOnce, OutcomeClass::Duplicates));
        assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
        let stdout = String::from_utf8(out.stdout).unwrap();
        stdout.lines().find(|l| l.starts_with("trace hash:")).expect("replay prints the trace hash").to_string()
    };
    assert_eq!(hash(), hash());
}

/// Storm scenarios pinned with a seed (the runs above are Flink's): each must meet every outcome
/// its file declares. Add a line when a sweep finds a Storm counterexample.
const PINNED_STORM: &[(&str, u64)] = &[("tests/regressions/trident-stale-commit.ron", 1)];

#[test]
fn pinned_storm_scenarios_meet_their_declared_outcomes() {
    for &(file, seed) in PINNED_STORM {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(file);
        let scenario = std::sync::Arc::new(sim::Scenario::load(&path).unwrap_or_else(|e| panic!("{e}")));
        assert!(!scenario.expect.outcomes.is_empty(), "{file} declares its outcomes");
        let check = sim::run::check_seed(&scenario, seed);
        assert!(check.failures.is_empty(), "{file} seed {seed}: {:?}", check.failures);
    }
}
