//! Spark Structured Streaming as a runtime in the simulator: [`world::SparkWorld`] runs a
//! scenario whose `model` is `Spark(..)` as a micro-batch query (the decisions are
//! [`core::SparkCore`]'s). [`run_spark`] runs one to the end; the oracle judges its sink store
//! like a Flink run's, against the same query without faults.

pub mod core;
pub mod world;

use std::sync::Arc;

pub use self::core::{BatchInfo, SparkCore, SparkStats};
pub use world::SparkWorld;

use engine::sink::SinkKind;

use crate::faults::Fault;
use crate::model_world::ModelRun;
use crate::run::core_model::{CoreModel, ReferenceKey};
use crate::scenario::{Guarantee, Runtime, Scenario};

/// A finished Spark run.
pub type SparkRun = ModelRun<SparkCore>;

/// Run a Spark scenario with `seed` (its own faults plus the seed's swarm).
pub fn run_spark(scenario: Arc<Scenario>, seed: u64, keep_trace: bool) -> SparkRun {
    ModelRun::of_seed(scenario, seed, keep_trace)
}

pub fn run_spark_with_faults(scenario: Arc<Scenario>, seed: u64, keep_trace: bool, faults: Vec<Fault>) -> SparkRun {
    ModelRun::with_faults(scenario, seed, keep_trace, faults)
}

impl CoreModel for SparkCore {
    const RUNTIME: Runtime = Runtime::Spark;
    const WHAT: &'static str = "query";
    const FINISHED: &'static str = "query idle with its input consumed (every offset committed)";
    const STALLED: &'static str = "stalled (nothing left to do, input not consumed)";

    /// The same query (same guarantee and sink, so the same batches and watermarks) without
    /// faults: a query without a checkpoint location restarts differently, but without faults
    /// it runs the same batches; each variant has its own.
    fn reference_scenario(scenario: &Scenario, variant: Option<(Guarantee, SinkKind)>) -> Scenario {
        match variant {
            None => scenario.without_faults(),
            Some((g, sink)) => scenario.with_runtime_variant(Runtime::Spark, g, Some(sink)).without_faults(),
        }
    }
    fn reference_key((g, sink): (Guarantee, SinkKind)) -> ReferenceKey {
        (Some(g), Some(sink))
    }
    fn restarts(world: &SparkWorld) -> u32 {
        world.stats.driver_restarts as u32
    }
    fn reference_name(scenario: &Scenario, _world: &SparkWorld) -> String {
        format!(
            "the Spark query's fault-free run (spark {})",
            crate::run::guarantee_name(Runtime::Spark, scenario.guarantee)
        )
    }
    fn progress(world: &SparkWorld) -> String {
        crate::report::spark_progress(world)
    }
    fn rows_text(run: &SparkRun) -> String {
        crate::report::spark_rows_text(run)
    }
}
