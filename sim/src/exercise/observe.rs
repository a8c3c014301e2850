//! What one run shows, for the exercises: every model reads its own run the way `run` and
//! `compare` do (its world, its fault-free reference, the shared oracle) and hands back one
//! [`crate::exercise::Observed`]. A model plugs in here by implementing
//! [`crate::exercise::observe::Observe`], which
//! [`crate::runtime::FaultToleranceModel`] requires: an exercise on a scenario runs under that
//! scenario's model, never as a Flink job of the same pipeline.

use std::sync::Arc;

use engine::sink::SinkKind;

use super::{ModelCounters, Observed};
use crate::faults::Fault;
use crate::oracle;
use crate::recording::CheckpointOutcome;
use crate::run;
use crate::runtime::{FlinkBarriers, KafkaStreamsChangelog, SparkMicroBatch, StormAcking};
use crate::scenario::{Guarantee, Runtime, Scenario};
use crate::world::{RunOptions, World};

/// A guarantee to run instead of the scenario's, and optionally every sink of another kind.
pub type Variant = Option<(Guarantee, Option<SinkKind>)>;

/// One run of a model for the exercises.
pub trait Observe {
    /// Run `scenario` (under `variant` when given) with `faults` and hold it against this
    /// model's fault-free reference of the same variant.
    fn observe(&self, scenario: &Arc<Scenario>, seed: u64, variant: Variant, faults: Vec<Fault>) -> Observed;
}

impl Observe for FlinkBarriers {
    fn observe(&self, scenario: &Arc<Scenario>, seed: u64, variant: Variant, faults: Vec<Fault>) -> Observed {
        let reference = run::reference_run(scenario, seed);
        let variant = match variant {
            None => scenario.clone(),
            Some((g, sink)) => Arc::new(scenario.with_variant(g, sink)),
        };
        let options = RunOptions { keep_trace: false, ..RunOptions::default() };
        let mut world = World::with_faults(variant, seed, options, faults);
        let stop = world.run();
        let r = run::RunResult { world, stop };
        let outcome = oracle::evaluate(&reference.observed(), &r.observed());
        let plan = &r.world.scenario.plan;
        let source_reads = plan.source_subtasks().map(|t| r.world.total_counters(t).records_in).sum();
        let count = |f: fn(&CheckpointOutcome) -> bool| r.world.checkpoints.iter().filter(|c| f(&c.outcome)).count();
        Observed {
            outcome,
            rows: r.visible_rows().into_iter().cloned().collect(),
            late_dropped: r.late_dropped(),
            source_records: r.world.log.len() as u64,
            source_reads,
            restarts: u64::from(r.world.restarts()),
            counters: ModelCounters::Flink {
                checkpoints_completed: count(|o| matches!(o, CheckpointOutcome::Completed { .. })) as u64,
                checkpoints_aborted: count(|o| matches!(o, CheckpointOutcome::Aborted { .. })) as u64,
                modes: run::ModeFigures::of(&r),
            },
            stop,
            violations: r.world.violations.len(),
        }
    }
}

impl Observe for StormAcking {
    fn observe(&self, scenario: &Arc<Scenario>, seed: u64, variant: Variant, faults: Vec<Fault>) -> Observed {
        let reference = run::storm_reference_run(scenario, seed);
        let variant = match variant {
            Some((g, _)) => Arc::new(scenario.with_runtime_variant(Runtime::Storm, g, None)),
            None => scenario.clone(),
        };
        let r = crate::storm::run_storm_with_faults(variant, seed, false, faults);
        let outcome = oracle::evaluate(&reference.observed(), &r.observed());
        let stats = r.world.stats;
        Observed {
            outcome,
            rows: r.visible_rows().into_iter().cloned().collect(),
            late_dropped: r.late_dropped(),
            source_records: r.world.log.len() as u64,
            source_reads: stats.spout_emitted,
            restarts: stats.worker_restarts,
            counters: ModelCounters::Storm(stats),
            stop: r.stop,
            violations: 0,
        }
    }
}

impl Observe for SparkMicroBatch {
    /// As a `compare` row: the variant against the same variant without faults.
    fn observe(&self, scenario: &Arc<Scenario>, seed: u64, variant: Variant, faults: Vec<Fault>) -> Observed {
        let variant = match variant {
            Some((g, sink)) => Arc::new(scenario.with_runtime_variant(Runtime::Spark, g, sink)),
            None => scenario.clone(),
        };
        let reference = run::spark_reference_run(&variant, seed);
        let r = crate::spark::run_spark_with_faults(variant, seed, false, faults);
        let outcome = oracle::evaluate(&reference.observed(), &r.observed());
        let stats = r.world.stats;
        Observed {
            outcome,
            rows: r.visible_rows().into_iter().cloned().collect(),
            late_dropped: stats.late_dropped,
            source_records: r.world.log.len() as u64,
            source_reads: stats.records_read,
            restarts: stats.driver_restarts,
            counters: ModelCounters::Spark(stats),
            stop: r.stop,
            violations: 0,
        }
    }
}

impl Observe for KafkaStreamsChangelog {
    /// As a `compare` row: the variant against the application without faults under the same
    /// guarantee.
    fn observe(&self, scenario: &Arc<Scenario>, seed: u64, variant: Variant, faults: Vec<Fault>) -> Observed {
        let guarantee = variant.map_or(scenario.guarantee, |(g, _)| g);
        let reference = crate::kstreams::judge::reference_run(scenario, seed, guarantee);
        let variant = match variant {
            Some((g, sink)) => Arc::new(scenario.with_runtime_variant(Runtime::KafkaStreams, g, sink)),
            None => scenario.clone(),
        };
        let r = crate::kstreams::run_kstreams_with_faults(variant, seed, false, faults);
        let outcome = oracle::evaluate(&reference.observed(), &r.observed());
        let stats = r.world.stats;
        Observed {
            outcome,
            rows: r.visible_rows().into_iter().cloned().collect(),
            late_dropped: stats.late_dropped,
            source_records: r.world.log.len() as u64,
            // Records the tasks took in, repartition topics included (`Metric::SourceReads`
            // is not asked of Kafka Streams).
            source_reads: stats.processed,
            restarts: stats.restores,
            counters: ModelCounters::KafkaStreams(stats),
            stop: r.stop,
            violations: 0,
        }
    }
}
