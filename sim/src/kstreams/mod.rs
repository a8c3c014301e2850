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

use crate::faults::Fault;
use crate::model_world::ModelRun;
use crate::scenario::Scenario;

/// A finished Kafka Streams run.
pub type KStreamsRun = ModelRun<KStreamsCore>;

/// Run a Kafka Streams scenario with `seed` (its own faults plus the seed's swarm).
pub fn run_kstreams(scenario: Arc<Scenario>, seed: u64, keep_trace: bool) -> KStreamsRun {
    ModelRun::of_seed(scenario, seed, keep_trace)
}

pub fn run_kstreams_with_faults(
    scenario: Arc<Scenario>,
    seed: u64,
    keep_trace: bool,
    faults: Vec<Fault>,
) -> KStreamsRun {
    ModelRun::with_faults(scenario, seed, keep_trace, faults)
}
