//! Storm as a runtime in the simulator: [`world::StormWorld`] runs a scenario whose `model` is
//! `Storm(..)` as a topology of spouts, bolts and ackers (the protocol is `engine::storm`).
//! [`run_storm`] runs one to the end; the oracle judges its sink store like a Flink run's.

pub mod core;
pub mod world;

use std::sync::Arc;

pub use self::core::{executor_of, subtask_of_executor, StormCore, StormStats};
pub use world::StormWorld;

use crate::external::StoredRow;
use crate::faults::Fault;
use crate::scenario::Scenario;
use crate::stepped::SteppedWorld;
use crate::world::StopReason;

/// A finished Storm run.
pub struct StormRun {
    pub world: StormWorld,
    pub stop: StopReason,
}

impl StormRun {
    pub fn trace_hash(&self) -> u64 {
        self.world.recorder.hash()
    }
    pub fn visible_rows(&self) -> Vec<&StoredRow> {
        self.world.sink_store.visible()
    }
    /// What the oracle sees of this run.
    pub fn observed(&self) -> crate::oracle::Observed<'_> {
        crate::oracle::Observed { rows: self.visible_rows(), late: &self.world.late_sources }
    }
    pub fn late_dropped(&self) -> u64 {
        self.world.stats.late_dropped
    }
}

/// Run a Storm scenario with `seed` (its own faults plus the seed's swarm).
pub fn run_storm(scenario: Arc<Scenario>, seed: u64, keep_trace: bool) -> StormRun {
    let faults = scenario.faults_for_seed(seed);
    run_storm_with_faults(scenario, seed, keep_trace, faults)
}

pub fn run_storm_with_faults(scenario: Arc<Scenario>, seed: u64, keep_trace: bool, faults: Vec<Fault>) -> StormRun {
    let mut world = StormWorld::with_faults(scenario, seed, keep_trace, faults);
    let stop = world.run();
    StormRun { world, stop }
}
