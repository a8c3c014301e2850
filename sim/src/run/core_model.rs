//! One way to run, judge and report every model built on a [`ModelCore`] (Storm, Spark, Kafka
//! Streams): a run is held against the same model's fault-free reference run
//! ([`CoreModel::reference_scenario`]), and a `compare` row of such a run has no checkpoint
//! figures. What differs between the models — which fault-free run is the reference, what
//! counts as a restart, what a run's summary shows — is each model's [`CoreModel`] impl.

use std::sync::Arc;

use engine::sink::SinkKind;

use crate::faults::Fault;
use crate::kernel::TimeNs;
use crate::model_world::{ModelCore, ModelRun, ModelWorld};
use crate::oracle;
use crate::recording::CheckpointFigures;
use crate::scenario::{Guarantee, Runtime, Scenario};
use crate::stepped::SteppedWorld;

use super::{held_to_promise, per_second, Judgement, Stops, StormFigures, VariantReport};

/// Which variants of a model share one fault-free reference run: the guarantee, the sink, both
/// or neither ([`CoreModel::reference_key`]).
pub type ReferenceKey = (Option<Guarantee>, Option<SinkKind>);

/// A fault-tolerance model whose kernel world is a [`ModelWorld`] of its core: how its runs are
/// judged and shown (see the module docs).
pub trait CoreModel: ModelCore + Sized {
    /// The runtime whose scenarios this core runs.
    const RUNTIME: Runtime;
    /// What runs, in `run`'s words: "topology", "query", "application".
    const WHAT: &'static str;

    /// The fault-free scenario a run is held against: that of `scenario` as written (`variant`
    /// None), or that of one of its variants (guarantee, sink) on this model.
    fn reference_scenario(scenario: &Scenario, variant: Option<(Guarantee, SinkKind)>) -> Scenario;
    /// Which variants share one reference run: those with the same key.
    fn reference_key(variant: (Guarantee, SinkKind)) -> ReferenceKey;
    /// Whether a run of `scenario` without faults is its own reference (no second run).
    fn is_own_reference(_scenario: &Scenario) -> bool {
        true
    }
    /// The restarts `compare` counts.
    fn restarts(world: &ModelWorld<Self>) -> u32;
    /// Faults of the schedule that did not act on this run, each with why (`compare`'s note).
    fn faults_not_injected(world: &ModelWorld<Self>) -> Vec<String> {
        let scenario = world.scenario();
        let already_down = crate::faults::crashes_on_a_node_already_down(world.faults(), &world.fault_fired_at);
        world
            .faults()
            .iter()
            .zip(&world.fault_fired_at)
            .zip(already_down)
            .filter_map(|((f, fired), already_down)| {
                let why = match fired {
                    None => "the run ended first".to_string(),
                    Some(_) => super::already_down_clause(world.faults(), already_down, scenario)?,
                };
                Some(format!("{}: not injected, {why}", f.describe(scenario)))
            })
            .collect()
    }
    /// Lines `run` and `replay` print between the summary and the verdict.
    fn notes(_world: &ModelWorld<Self>) -> Vec<String> {
        Vec::new()
    }
    /// Storm's acking figures for `compare` (None for the other models).
    fn storm_figures(_world: &ModelWorld<Self>) -> Option<StormFigures> {
        None
    }
    /// The reference in `run`'s oracle line: "the Storm topology's fault-free run (...)".
    fn reference_name(scenario: &Scenario, world: &ModelWorld<Self>) -> String;
    /// Why a finished run stopped, in the model's words ("topology finished (...)").
    const FINISHED: &'static str;
    /// Why a run with nothing left to do stopped before it finished.
    const STALLED: &'static str;
    /// The counters so far, for a run paused by `replay --until`.
    fn progress(world: &ModelWorld<Self>) -> String;
    /// The visible sink rows as a table.
    fn rows_text(run: &ModelRun<Self>) -> String;
}

/// The fault-free reference run of `scenario` (as written: `variant` None) on model `C`.
pub fn reference_run<C: CoreModel>(
    scenario: &Scenario,
    seed: u64,
    variant: Option<(Guarantee, SinkKind)>,
) -> ModelRun<C> {
    ModelRun::of_seed(Arc::new(C::reference_scenario(scenario, variant)), seed, false)
}

/// Hold a finished run of `scenario` (as written, with `seed`'s faults) on model `C` against
/// its promise (or its declared outcome).
pub fn judge<C: CoreModel>(scenario: &Scenario, seed: u64, run: &ModelRun<C>) -> Judgement {
    match reference_for(scenario, seed, run) {
        Some(reference) => judge_against(scenario, run, &reference),
        None => judge_against(scenario, run, run),
    }
}

/// The fault-free reference `run` of `scenario` is judged against: None when the run is its own
/// (no faults, and the model's reference is the scenario as written), else a run of its own.
pub fn reference_for<C: CoreModel>(scenario: &Scenario, seed: u64, run: &ModelRun<C>) -> Option<ModelRun<C>> {
    let own = run.world.faults().is_empty() && C::is_own_reference(scenario);
    (!own).then(|| reference_run::<C>(scenario, seed, None))
}

/// [`judge`] with the reference given (one [`reference_for`] made, or the run itself).
pub fn judge_against<C: CoreModel>(scenario: &Scenario, run: &ModelRun<C>, reference: &ModelRun<C>) -> Judgement {
    let outcome = oracle::evaluate(&reference.observed(), &run.observed());
    held_to_promise(scenario, C::RUNTIME, outcome, Stops { run: run.stop, reference: reference.stop }, 0)
}

/// Run each of `variants` of `scenario` on model `C` with `faults`, each against its fault-free
/// reference (one reference run per [`CoreModel::reference_key`]). A reference is dropped after
/// the last variant that needs it, so that one reference and one variant are held at a time, as
/// the admission budget counts: Spark has a reference per guarantee and sink, and holding all of
/// them until the end took a sweep of `spark-micro-batch.ron` at 1 024 times its rate to 1.8 GB
/// (0.76 GB with one declared row).
pub fn reports<C: CoreModel>(
    scenario: &Scenario,
    seed: u64,
    variants: &[(Guarantee, SinkKind)],
    faults: &[Fault],
) -> Vec<VariantReport> {
    let keys: Vec<ReferenceKey> = variants.iter().map(|&variant| C::reference_key(variant)).collect();
    let last_use = last_uses(&keys);
    let mut references: Vec<(ReferenceKey, ModelRun<C>)> = Vec::new();
    let mut reports = Vec::with_capacity(variants.len());
    for (i, &variant) in variants.iter().enumerate() {
        let key = keys[i];
        let at = match references.iter().position(|(k, _)| *k == key) {
            Some(at) => at,
            None => {
                references.push((key, reference_run::<C>(scenario, seed, Some(variant))));
                references.len() - 1
            }
        };
        reports.push(run_variant(scenario, seed, variant, faults.to_vec(), &references[at].1));
        if last_use[i] {
            references.remove(at);
        }
    }
    reports
}

/// For each key, whether no later one equals it (after it, its reference is not needed again).
fn last_uses<K: PartialEq>(keys: &[K]) -> Vec<bool> {
    keys.iter().enumerate().map(|(i, key)| !keys[i + 1..].contains(key)).collect()
}

/// Run `scenario` on model `C` as `variant` (guarantee, sink) with `faults`, and hold it against
/// `reference`: a `compare` row without checkpoints.
pub fn run_variant<C: CoreModel>(
    scenario: &Scenario,
    seed: u64,
    (guarantee, sink): (Guarantee, SinkKind),
    faults: Vec<Fault>,
    reference: &ModelRun<C>,
) -> VariantReport {
    let variant = Arc::new(scenario.with_runtime_variant(C::RUNTIME, guarantee, Some(sink)));
    let run = ModelRun::<C>::with_faults(variant, seed, false, faults);
    let outcome = oracle::evaluate(&reference.observed(), &run.observed());
    let world = &run.world;
    let mut latencies: Vec<u64> = run.visible_rows().iter().map(|r| super::row_latency_ns(r, world.log())).collect();
    let end_ns: TimeNs = world.finished_at_ns().unwrap_or(world.now_ns());
    VariantReport {
        guarantee,
        sink,
        verdict: super::keeps_promise(&outcome, C::RUNTIME, guarantee),
        class: outcome.class(),
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
        restarts: C::restarts(world),
        stop: run.stop,
        reference_stop: reference.stop,
        violations: Vec::new(),
        faults_not_injected: C::faults_not_injected(world),
        trace_hash: world.recorder().hash(),
        runtime: C::RUNTIME,
        throughput_per_s: per_second(world.source_records(), end_ns),
        time_use_max: None,
        storm: C::storm_figures(world),
    }
}

#[cfg(test)]
mod tests {
    /// A reference is let go after its last variant: Spark's keys are all different (each
    /// dropped at once), Storm's all the same (kept to the end), Kafka Streams' per guarantee.
    #[test]
    fn each_reference_is_let_go_after_the_last_variant_that_needs_it() {
        assert_eq!(super::last_uses(&[1, 2, 3, 4]), [true, true, true, true]);
        assert_eq!(super::last_uses(&[0, 0, 0]), [false, false, true]);
        assert_eq!(super::last_uses(&['a', 'e', 'a', 'e', 'e']), [false, false, true, false, true]);
        assert!(super::last_uses::<u8>(&[]).is_empty());
    }
}
