//! Spark Structured Streaming as a runtime in the simulator: [`world::SparkWorld`] runs a
//! scenario whose `model` is `Spark(..)` as a micro-batch query (the decisions are
//! [`core::SparkCore`]'s). [`run_spark`] runs one to the end; the oracle judges its sink store
//! like a Flink run's, against the same query without faults.

pub mod core;
pub mod world;

use std::sync::Arc;

pub use self::core::{BatchInfo, SparkCore, SparkStats};
pub use world::SparkWorld;

use crate::external::StoredRow;
use crate::faults::Fault;
use crate::scenario::Scenario;
use crate::stepped::SteppedWorld;
use crate::world::StopReason;

/// A finished Spark run.
pub struct SparkRun {
    pub world: SparkWorld,
    pub stop: StopReason,
}

impl SparkRun {
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
}

/// Run a Spark scenario with `seed` (its own faults plus the seed's swarm).
pub fn run_spark(scenario: Arc<Scenario>, seed: u64, keep_trace: bool) -> SparkRun {
    let faults = scenario.faults_for_seed(seed);
    run_spark_with_faults(scenario, seed, keep_trace, faults)
}

pub fn run_spark_with_faults(scenario: Arc<Scenario>, seed: u64, keep_trace: bool, faults: Vec<Fault>) -> SparkRun {
    let mut world = SparkWorld::with_faults(scenario, seed, keep_trace, faults);
    let stop = world.run();
    SparkRun { world, stop }
}
