//! A Kafka Streams run held against its own fault-free reference: the same application under
//! the same guarantee without faults (stream time per task depends on when records reach a
//! task, which the guarantee's commit interval changes, so each guarantee is its own reference).
//! The judging itself is every core model's ([`crate::run::core_model`]).

use engine::sink::SinkKind;

use crate::run::core_model::{self, CoreModel, ReferenceKey};
use crate::run::Judgement;
use crate::scenario::{Guarantee, Runtime, Scenario};

use super::{KStreamsCore, KStreamsRun, KStreamsWorld};

impl CoreModel for KStreamsCore {
    const RUNTIME: Runtime = Runtime::KafkaStreams;
    const WHAT: &'static str = "application";
    const FINISHED: &'static str = "application finished (every task read its input and committed)";
    const STALLED: &'static str = "stalled (nothing left to do, application not finished)";

    fn reference_scenario(scenario: &Scenario, variant: Option<(Guarantee, SinkKind)>) -> Scenario {
        let guarantee = variant.map_or(scenario.guarantee, |(g, _)| g);
        scenario.with_runtime_variant(Runtime::KafkaStreams, guarantee, None).without_faults()
    }
    fn reference_key((g, _): (Guarantee, SinkKind)) -> ReferenceKey {
        (Some(g), None)
    }
    fn restarts(world: &KStreamsWorld) -> u32 {
        world.stats.restores as u32
    }
    /// Crashes that never fired and the network faults this model does not feel.
    fn faults_not_injected(world: &KStreamsWorld) -> Vec<String> {
        world.faults_not_modelled()
    }
    fn notes(world: &KStreamsWorld) -> Vec<String> {
        world.faults_not_modelled()
    }
    fn reference_name(_scenario: &Scenario, world: &KStreamsWorld) -> String {
        format!("the application's fault-free run (kafka streams {:?})", world.config.guarantee)
    }
    fn progress(world: &KStreamsWorld) -> String {
        super::report::progress(world)
    }
    fn rows_text(run: &KStreamsRun) -> String {
        super::report::rows_text(run)
    }
}

/// The oracle's reference for a Kafka Streams run of `scenario` under `guarantee`.
pub fn reference_run(scenario: &Scenario, seed: u64, guarantee: Guarantee) -> KStreamsRun {
    // The sink is not the reference's: each guarantee has one (`reference_key`).
    core_model::reference_run(scenario, seed, Some((guarantee, SinkKind::Plain)))
}

/// Hold a finished run of `scenario` (as written) against its promise.
pub fn judge(scenario: &Scenario, seed: u64, run: &KStreamsRun) -> Judgement {
    core_model::judge(scenario, seed, run)
}
