//! `compare --checkpoint-mode`: the same Flink job's exactly-once row under each barrier rule —
//! aligned barriers, unaligned barriers, Chandy–Lamport markers — with the same seed and faults,
//! and what each rule costs: inputs blocked by alignment, records recorded as channel state.

use std::sync::Arc;

use engine::checkpoint::CheckpointMode;

use super::{fault_schedule_in_time, fresh_variant_world, judge_run, own_sink, reference_run, run_to_end};
use super::{RunResult, VariantReport};
use crate::scenario::{Guarantee, Scenario};

/// A barrier rule of exactly-once checkpoints: the axis of `compare --checkpoint-mode` (and an
/// exercise's `checkpoint_mode`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
pub enum BarrierRule {
    /// Flink's aligned barriers (asynchronous barrier snapshotting): an input that delivered its
    /// barrier is blocked until every input has.
    Aligned,
    /// Flink's unaligned checkpoints: the first barrier overtakes the queued data, which joins
    /// the snapshot as channel state.
    Unaligned,
    /// Chandy–Lamport markers: in order with the data, never blocking, channel state recorded
    /// until each input's marker arrives.
    ChandyLamport,
}

impl BarrierRule {
    pub const ALL: [BarrierRule; 3] = [BarrierRule::Aligned, BarrierRule::Unaligned, BarrierRule::ChandyLamport];

    /// The name `--checkpoint-mode` takes and the table prints.
    pub fn label(self) -> &'static str {
        match self {
            BarrierRule::Aligned => "aligned",
            BarrierRule::Unaligned => "unaligned",
            BarrierRule::ChandyLamport => "chandy-lamport",
        }
    }

    /// The rule `--checkpoint-mode` names `name`.
    pub fn named(name: &str) -> Option<BarrierRule> {
        BarrierRule::ALL.into_iter().find(|r| r.label() == name)
    }

    /// The engine's checkpoint mode for this rule.
    pub fn mode(self) -> CheckpointMode {
        match self {
            BarrierRule::Aligned => CheckpointMode::ExactlyOnce,
            BarrierRule::Unaligned => CheckpointMode::Unaligned,
            BarrierRule::ChandyLamport => CheckpointMode::ChandyLamport,
        }
    }
}

/// One row of `compare --checkpoint-mode`: the exactly-once variant with the scenario's own
/// sink under one barrier rule.
#[derive(Clone, Debug, serde::Serialize)]
pub struct ModeReport {
    pub checkpoint_mode: BarrierRule,
    #[serde(flatten)]
    pub report: VariantReport,
    /// What the rule cost the run: see [`ModeFigures`].
    #[serde(flatten)]
    pub figures: ModeFigures,
}

/// What a barrier rule cost one run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct ModeFigures {
    /// Times an input was blocked by alignment (every attempt): only aligned barriers block.
    pub inputs_blocked: u64,
    /// Records in the channel state of the completed checkpoints, summed over them (what the
    /// snapshot-consistency check counts as "in channel state").
    pub channel_state_records: u64,
}

impl ModeFigures {
    /// The figures of a finished Flink run.
    pub fn of(run: &RunResult) -> ModeFigures {
        ModeFigures {
            inputs_blocked: run.world.inputs_blocked,
            channel_state_records: run
                .world
                .checkpoints
                .iter()
                .filter_map(|c| c.consistency.as_ref())
                .map(|c| c.in_channel_state)
                .sum(),
        }
    }
}

/// `scenario` run as a Flink job under exactly-once checkpoints with `rule`'s barriers (the
/// scenario's checkpoint interval and timeouts; default checkpoints when it has none).
pub fn with_barrier_rule(scenario: &Scenario, rule: BarrierRule) -> Scenario {
    let mut s = scenario.with_runtime_variant(crate::scenario::Runtime::Flink, Guarantee::ExactlyOnce, None);
    if let Some(c) = &mut s.checkpoint_settings {
        c.mode = Guarantee::ExactlyOnce;
        c.unaligned = rule == BarrierRule::Unaligned;
        c.chandy_lamport = rule == BarrierRule::ChandyLamport;
        if rule != BarrierRule::Unaligned {
            // The aligned-checkpoint timeout is a setting of unaligned checkpoints only.
            c.aligned_checkpoint_timeout_ms = None;
        }
    }
    s
}

/// The exactly-once row of `scenario` with its own sink under each of `rules`, all with the
/// seed's faults of the scenario as written, each judged against its own fault-free run.
pub fn compare_checkpoint_modes(scenario: &Arc<Scenario>, seed: u64, rules: &[BarrierRule]) -> Vec<ModeReport> {
    let faults = fault_schedule_in_time(scenario, seed);
    rules
        .iter()
        .map(|&rule| {
            let variant = Arc::new(with_barrier_rule(scenario, rule));
            let reference = reference_run(&variant, seed);
            let run = run_to_end(fresh_variant_world(variant.clone(), seed, faults.clone(), &reference));
            let report = judge_run(&run, Guarantee::ExactlyOnce, own_sink(&variant), &reference);
            ModeReport { checkpoint_mode: rule, report, figures: ModeFigures::of(&run) }
        })
        .collect()
}
