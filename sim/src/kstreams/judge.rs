//! A Kafka Streams run held against its own fault-free reference: the same application under
//! the same guarantee without faults (stream time per task depends on when records reach a
//! task, which the guarantee's commit interval changes, so each guarantee is its own reference).

use std::sync::Arc;

use engine::sink::SinkKind;

use crate::faults::Fault;
use crate::oracle;
use crate::recording::CheckpointFigures;
use crate::run::{Judgement, VariantReport};
use crate::scenario::{Guarantee, Runtime, Scenario};
use crate::stepped::SteppedWorld;

use super::{run_kstreams, run_kstreams_with_faults, KStreamsRun};

/// The oracle's reference for a Kafka Streams run of `scenario` under `guarantee`.
pub fn reference_run(scenario: &Scenario, seed: u64, guarantee: Guarantee) -> KStreamsRun {
    let variant = scenario.with_runtime_variant(Runtime::KafkaStreams, guarantee, None).without_faults();
    run_kstreams(Arc::new(variant), seed, false)
}

/// Hold a finished run of `scenario` (as written) against its promise.
pub fn judge(scenario: &Scenario, seed: u64, run: &KStreamsRun) -> Judgement {
    let (outcome, reference_stop) = if run.world.faults.is_empty() {
        let seen = run.observed();
        (oracle::evaluate(&seen, &seen), run.stop)
    } else {
        let reference = reference_run(scenario, seed, scenario.guarantee);
        (oracle::evaluate(&reference.observed(), &run.observed()), reference.stop)
    };
    crate::run::held_to_promise_of(scenario, Runtime::KafkaStreams, outcome, run.stop, reference_stop)
}

/// Run `scenario` on Kafka Streams under `guarantee` with `sink` and `faults`, against
/// `reference` (the same guarantee without faults).
pub fn run_variant(
    scenario: &Scenario,
    seed: u64,
    guarantee: Guarantee,
    sink: SinkKind,
    faults: Vec<Fault>,
    reference: &KStreamsRun,
) -> VariantReport {
    let variant = Arc::new(scenario.with_runtime_variant(Runtime::KafkaStreams, guarantee, Some(sink)));
    let run = run_kstreams_with_faults(variant, seed, false, faults);
    let outcome = oracle::evaluate(&reference.observed(), &run.observed());
    let class = outcome.class();
    let world = &run.world;
    let mut latencies: Vec<u64> = run
        .visible_rows()
        .iter()
        .map(|r| r.visible_ns.unwrap_or(r.written_ns).saturating_sub(r.row.ingest_ns))
        .collect();
    let until = world.finished_at_ns.unwrap_or(world.now_ns()).max(1);
    VariantReport {
        guarantee,
        sink,
        verdict: outcome.verdict(guarantee),
        class,
        outcome,
        checkpoints_completed: 0,
        checkpoints_aborted: 0,
        checkpoint_figures: CheckpointFigures::default(),
        alignment_p50_ns: 0,
        alignment_max_ns: 0,
        snapshots_timed_out: 0,
        snapshots_aligned: 0,
        latency_p50_ns: oracle::percentile(&mut latencies, 50).unwrap_or(0),
        latency_p99_ns: oracle::percentile(&mut latencies, 99).unwrap_or(0),
        restarts: world.stats.restores as u32,
        stop: run.stop,
        reference_stop: reference.stop,
        violations: Vec::new(),
        faults_not_injected: world.faults_not_modelled(),
        trace_hash: world.recorder.hash(),
        runtime: Runtime::KafkaStreams,
        throughput_per_s: (world.log.len() as u128 * 1_000_000_000 / u128::from(until)) as u64,
        time_use_max: None,
        storm: None,
    }
}
