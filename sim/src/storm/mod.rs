//! Storm as a runtime in the simulator: [`world::StormWorld`] runs a scenario whose `model` is
//! `Storm(..)` as a topology of spouts, bolts and ackers (the protocol is `engine::storm`).
//! [`run_storm`] runs one to the end; the oracle judges its sink store like a Flink run's.

pub mod core;
pub mod world;

use std::sync::Arc;

pub use self::core::{executor_of, subtask_of_executor, EmittedHigh, StormCore, StormStats};
pub use world::StormWorld;

use engine::sink::SinkKind;

use crate::faults::Fault;
use crate::model_world::ModelRun;
use crate::run::core_model::{CoreModel, ReferenceKey};
use crate::run::StormFigures;
use crate::scenario::{Guarantee, Runtime, Scenario};

/// A finished Storm run.
pub type StormRun = ModelRun<StormCore>;

impl StormRun {
    pub fn late_dropped(&self) -> u64 {
        self.world.stats.late_dropped
    }
}

/// Run a Storm scenario with `seed` (its own faults plus the seed's swarm).
pub fn run_storm(scenario: Arc<Scenario>, seed: u64, keep_trace: bool) -> StormRun {
    ModelRun::of_seed(scenario, seed, keep_trace)
}

pub fn run_storm_with_faults(scenario: Arc<Scenario>, seed: u64, keep_trace: bool, faults: Vec<Fault>) -> StormRun {
    ModelRun::with_faults(scenario, seed, keep_trace, faults)
}

impl CoreModel for StormCore {
    const RUNTIME: Runtime = Runtime::Storm;
    const WHAT: &'static str = "topology";
    const FINISHED: &'static str = "topology finished (every spout tuple done)";
    const STALLED: &'static str = "stalled (nothing left to do, topology not finished)";

    /// The topology without faults and without acking (no timeouts, so every tuple is
    /// processed once): one reference for every variant.
    fn reference_scenario(scenario: &Scenario, _variant: Option<(Guarantee, SinkKind)>) -> Scenario {
        scenario.with_runtime_variant(Runtime::Storm, Guarantee::AtMostOnce, None).without_faults()
    }
    fn reference_key(_variant: (Guarantee, SinkKind)) -> ReferenceKey {
        (None, None)
    }
    /// A run with acking differs from the reference (acking off) even without faults: a tree
    /// that times out is replayed.
    fn is_own_reference(scenario: &Scenario) -> bool {
        scenario.guarantee != Guarantee::AtLeastOnce
    }
    fn restarts(world: &StormWorld) -> u32 {
        world.stats.worker_restarts as u32
    }
    fn storm_figures(world: &StormWorld) -> Option<StormFigures> {
        let stats = world.stats;
        Some(StormFigures {
            ack_messages_per_tuple: stats.ack_messages as f64 / world.log.len().max(1) as f64,
            replays: stats.replays + stats.rereads + stats.trident_replays,
            timeouts: stats.timeouts,
            ack_messages: stats.ack_messages,
            trident_batches: stats.trident_batches,
        })
    }
    fn reference_name(scenario: &Scenario, _world: &StormWorld) -> String {
        format!("the Storm topology's fault-free run (storm {})", scenario.guarantee.label())
    }
    fn progress(world: &StormWorld) -> String {
        crate::report::storm_progress(world)
    }
    fn rows_text(run: &StormRun) -> String {
        crate::report::storm_rows_text(run)
    }
}
