//! Kafka Streams as a runtime in the simulator: [`world::KStreamsWorld`] runs a scenario whose
//! `model` is `KafkaStreams(..)` as an application of tasks with changelog-backed state, commits
//! every `commit_interval_ms`, and per-task failover after an instance crash (the decisions are
//! [`core::KStreamsCore`]). [`run_kstreams`] runs one to the end; the oracle judges its sink
//! store like a Flink run's.

pub mod core;
pub mod judge;
pub mod report;
pub mod world;

use std::sync::Arc;

pub use self::core::{KStreamsCore, KStreamsStats, TaskId, TaskPhase};
pub use world::KStreamsWorld;

use crate::external::StoredRow;
use crate::faults::Fault;
use crate::scenario::Scenario;
use crate::stepped::SteppedWorld;
use crate::world::StopReason;

/// A finished Kafka Streams run.
pub struct KStreamsRun {
    pub world: KStreamsWorld,
    pub stop: StopReason,
}

impl KStreamsRun {
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

/// Run a Kafka Streams scenario with `seed` (its own faults plus the seed's swarm).
pub fn run_kstreams(scenario: Arc<Scenario>, seed: u64, keep_trace: bool) -> KStreamsRun {
    let faults = scenario.faults_for_seed(seed);
    run_kstreams_with_faults(scenario, seed, keep_trace, faults)
}

pub fn run_kstreams_with_faults(
    scenario: Arc<Scenario>,
    seed: u64,
    keep_trace: bool,
    faults: Vec<Fault>,
) -> KStreamsRun {
    let mut world = KStreamsWorld::with_faults(scenario, seed, keep_trace, faults);
    let stop = world.run();
    KStreamsRun { world, stop }
}
