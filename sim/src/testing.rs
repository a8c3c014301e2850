//! A small API for users' own tests: load or build a scenario, pick seeds, run it against its
//! fault-free reference, and assert a guarantee. Every failure message carries the seed and the
//! command that replays it.
//!
//! ```no_run
//! use sim::testing::{seeds_from_env, Simulation};
//! use sim::scenario::Guarantee;
//! use engine::sink::SinkKind;
//!
//! let sim = Simulation::load("scenarios/swarm.ron").unwrap().with_variant(Guarantee::ExactlyOnce, SinkKind::TwoPhaseCommit);
//! for seed in seeds_from_env(1..20) {
//!     sim.run(seed).assert_exact();
//! }
//! ```

use std::ops::Range;
use std::path::Path;
use std::sync::Arc;

use engine::sink::SinkKind;

use crate::oracle::{self, Outcome};
use crate::run::{fault_schedule_in_time, reference_run, RunResult};
use crate::scenario::{Guarantee, OutcomeClass, Scenario, ScenarioError};
use crate::world::{RunOptions, StopReason, World};

/// Seeds to run: `STREAMLAB_SEED=7` (one), `STREAMLAB_SEEDS=1..100` or `STREAMLAB_SEEDS=3,9,12`
/// when set (madsim's `MADSIM_TEST_SEED` habit), else `default`.
pub fn seeds_from_env(default: Range<u64>) -> Vec<u64> {
    if let Ok(one) = std::env::var("STREAMLAB_SEED") {
        if let Ok(seed) = one.trim().parse() {
            return vec![seed];
        }
    }
    if let Ok(spec) = std::env::var("STREAMLAB_SEEDS") {
        if let Some(seeds) = parse_seeds(&spec) {
            return seeds;
        }
    }
    default.collect()
}

/// `"A..B"` (B excluded), `"A..=B"`, or a comma-separated list; None when malformed, empty, or
/// larger than [`MAX_COLLECTED_SEEDS`] (use [`SeedSet`] to iterate over huge ranges).
pub fn parse_seeds(spec: &str) -> Option<Vec<u64>> {
    let set = SeedSet::parse(spec)?;
    if set.is_empty() || set.len() > MAX_COLLECTED_SEEDS as u128 {
        return None;
    }
    Some((0..set.len() as u64).filter_map(|i| set.get(i as u128)).collect())
}

/// The most seeds [`parse_seeds`] collects into a list.
pub const MAX_COLLECTED_SEEDS: u64 = 10_000_000;

/// A set of seeds, iterated without collecting (`0..18446744073709551615` is fine).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SeedSet {
    /// `first ..= last`; empty when `first > last`.
    Range {
        first: u64,
        last: u64,
        empty: bool,
    },
    List(Vec<u64>),
}

impl SeedSet {
    /// `"A..B"` (B excluded), `"A..=B"`, or a comma-separated list. A set: a list is taken in
    /// increasing order with each seed once (`9,3,9` is 3 and 9), so a sweep runs and reports
    /// every seed once, in the same order as a range would.
    pub fn parse(spec: &str) -> Option<SeedSet> {
        let spec = spec.trim();
        if let Some((a, b)) = spec.split_once("..=") {
            let (first, last): (u64, u64) = (a.trim().parse().ok()?, b.trim().parse().ok()?);
            return Some(SeedSet::Range { first, last, empty: first > last });
        }
        if let Some((a, b)) = spec.split_once("..") {
            let (first, end): (u64, u64) = (a.trim().parse().ok()?, b.trim().parse().ok()?);
            return Some(match end.checked_sub(1) {
                Some(last) if first <= last => SeedSet::Range { first, last, empty: false },
                _ => SeedSet::Range { first, last: first, empty: true },
            });
        }
        let mut list = spec.split(',').map(|s| s.trim().parse().ok()).collect::<Option<Vec<u64>>>()?;
        list.sort_unstable();
        list.dedup();
        Some(SeedSet::List(list))
    }

    pub fn len(&self) -> u128 {
        match self {
            SeedSet::Range { empty: true, .. } => 0,
            SeedSet::Range { first, last, .. } => u128::from(*last) - u128::from(*first) + 1,
            SeedSet::List(list) => list.len() as u128,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The seed at position `i`.
    pub fn get(&self, i: u128) -> Option<u64> {
        if i >= self.len() {
            return None;
        }
        match self {
            SeedSet::Range { first, .. } => u64::try_from(u128::from(*first) + i).ok(),
            SeedSet::List(list) => list.get(usize::try_from(i).ok()?).copied(),
        }
    }
}

/// A scenario ready to run under chosen seeds.
#[derive(Clone)]
pub struct Simulation {
    scenario: Arc<Scenario>,
}

impl Simulation {
    pub fn load(path: impl AsRef<Path>) -> Result<Simulation, ScenarioError> {
        Ok(Simulation { scenario: Arc::new(Scenario::load(path.as_ref())?) })
    }
    /// From scenario text (`name` appears in errors and replay commands).
    pub fn parse(text: &str, name: &str) -> Result<Simulation, ScenarioError> {
        Ok(Simulation { scenario: Arc::new(Scenario::parse(text, name)?) })
    }
    pub fn from_scenario(scenario: Scenario) -> Simulation {
        Simulation { scenario: Arc::new(scenario) }
    }
    /// The same scenario under another guarantee, with every sink of `sink`'s kind.
    pub fn with_variant(&self, guarantee: Guarantee, sink: SinkKind) -> Simulation {
        Simulation { scenario: Arc::new(self.scenario.with_variant(guarantee, Some(sink))) }
    }
    pub fn scenario(&self) -> &Arc<Scenario> {
        &self.scenario
    }

    /// Run with `seed` (faults from the file and the seed's swarm) against the reference.
    pub fn run(&self, seed: u64) -> Run {
        let reference = reference_run(&self.scenario, seed);
        let faults = fault_schedule_in_time(&self.scenario, seed);
        let mut world = World::with_faults(self.scenario.clone(), seed, RunOptions::default(), faults);
        let stop = world.run();
        let result = RunResult { world, stop };
        let outcome = oracle::evaluate(&reference.observed(), &result.observed());
        Run { seed, replay: replay_command(&self.scenario, seed), result, outcome }
    }
}

/// The command that replays `seed` of `scenario`.
pub fn replay_command(scenario: &Scenario, seed: u64) -> String {
    format!("cargo run --release -- replay {} --seed {seed}", crate::scenario::error::shell_word(&scenario.file))
}

/// A finished run, its recording, and what the oracle says about it.
pub struct Run {
    pub seed: u64,
    /// The command that replays this run.
    pub replay: String,
    pub result: RunResult,
    pub outcome: Outcome,
}

impl Run {
    pub fn class(&self) -> OutcomeClass {
        self.outcome.class()
    }
    pub fn trace_hash(&self) -> u64 {
        self.result.trace_hash()
    }

    fn fail(&self, what: &str) -> ! {
        panic!(
            "{what} (seed {}): {:?}; {}; stop {:?}; violations {:?}\nreplay: {}",
            self.seed,
            self.class(),
            self.outcome.counts_text(),
            self.result.stop,
            self.result.world.violations,
            self.replay
        )
    }

    /// The job finished and no invariant broke.
    pub fn assert_healthy(&self) -> &Self {
        if self.result.stop != StopReason::JobFinished || !self.result.world.violations.is_empty() {
            self.fail("the run did not end healthy");
        }
        self
    }
    /// The visible output equals the fault-free reference.
    pub fn assert_exact(&self) -> &Self {
        self.assert_healthy();
        if self.class() != OutcomeClass::Exact {
            self.fail("expected the exact reference output");
        }
        self
    }
    pub fn assert_no_loss(&self) -> &Self {
        self.assert_healthy();
        if self.outcome.has_loss() {
            self.fail("expected nothing lost");
        }
        self
    }
    pub fn assert_no_duplicates(&self) -> &Self {
        self.assert_healthy();
        if self.outcome.has_duplicates() {
            self.fail("expected nothing duplicated");
        }
        self
    }
    pub fn assert_class(&self, class: OutcomeClass) -> &Self {
        if self.class() != class {
            self.fail(&format!("expected {class:?}"));
        }
        self
    }
}
