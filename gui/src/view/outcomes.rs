//! Faults and their outcomes: what a forked run did to the output compared with the original,
//! and how each delivery guarantee fares under the same seed and faults.

use std::sync::Arc;

use engine::sink::SinkKind;
use sim::faults::Fault;
use sim::oracle::{self, Outcome};
use sim::run::{VariantReport, COMPARED_VARIANTS};
use sim::scenario::{Guarantee, OutcomeClass};
use sim::Scenario;

use crate::scrub::RecordedRun;

pub fn class_label(class: OutcomeClass) -> &'static str {
    match class {
        OutcomeClass::Exact => "exact",
        OutcomeClass::Duplicates => "duplicates",
        OutcomeClass::Loss => "loss",
        OutcomeClass::LossAndDuplicates => "loss and duplicates",
        OutcomeClass::Regrouped => "regrouped",
        OutcomeClass::WrongValues => "wrong values",
    }
}

/// What `guarantee` promises, in a student's words.
pub fn promise(guarantee: Guarantee) -> &'static str {
    match guarantee {
        Guarantee::AtMostOnce => "nothing counted twice (loss allowed)",
        Guarantee::AtLeastOnce => "nothing lost (duplicates allowed)",
        Guarantee::ExactlyOnce => "nothing lost, nothing counted twice",
    }
}

/// What a run of `guarantee` into a `sink` promises its reader, end to end. Exactly-once is a
/// promise about the job's state; a plain sink writes replayed results again, so the output
/// keeps it only with an idempotent or two-phase-commit sink (the end-to-end chapter's lesson).
pub fn promise_with_sink(guarantee: Guarantee, sink: SinkKind) -> String {
    match (guarantee, sink) {
        (Guarantee::ExactlyOnce, SinkKind::Plain) => format!(
            "{} in the job's state; a plain sink writes replayed results again, so its output may show results twice",
            promise(guarantee)
        ),
        _ => promise(guarantee).to_string(),
    }
}

/// One sentence about an oracle outcome.
pub fn summary(outcome: &Outcome) -> String {
    match outcome.class() {
        OutcomeClass::Exact => format!("exact: all {} rows as expected, no record lost or counted twice", outcome.reference_rows),
        OutcomeClass::Regrouped => format!(
            "regrouped: every source record counted as often as in the fault-free run, but event time grouped them into other rows ({} missing, {} unexpected, {} with another value): after a restore event time starts again, so late data and idle inputs can land differently",
            outcome.missing_rows.len(),
            outcome.unexpected_rows.len(),
            outcome.wrong_rows.len(),
        ),
        _ => format!(
            "{}: {} source records lost, {} counted more than once; rows: {} missing, {} extra, {} with a wrong value (of {} expected)",
            class_label(outcome.class()),
            outcome.lost_records.len(),
            outcome.duplicated_records.len(),
            outcome.missing_rows.len(),
            outcome.duplicate_rows.len(),
            outcome.wrong_rows.len(),
            outcome.reference_rows
        ),
    }
}

/// A forked run's visible output against the original run's.
pub fn versus_original(original: &RecordedRun, run: &RecordedRun) -> Outcome {
    oracle::evaluate(&original.final_world.observed(), &run.final_world.observed())
}

/// The faults a run suffered, as a schedule in time: the scenario's own (protocol-point crashes
/// resolved to when they fired) plus those injected by hand.
pub fn fault_schedule(scenario: &Arc<Scenario>, run: &RecordedRun) -> Vec<Fault> {
    let mut faults = sim::run::fault_schedule_in_time(scenario, run.seed);
    faults.extend(run.injections.iter().map(|i| i.fault.clone()));
    faults
}

/// Run every compared variant against the fault-free reference (one for all: faults, not
/// guarantees, change what the output should be), on two threads.
pub fn compare(scenario: &Scenario, seed: u64, faults: &[Fault]) -> Vec<VariantReport> {
    let reference = sim::run::reference_run(scenario, seed);
    let reference = &reference;
    let variants: Vec<(Guarantee, SinkKind)> = COMPARED_VARIANTS.to_vec();
    let half = variants.len().div_ceil(2);
    let (first, second) = variants.split_at(half);
    let run = |list: &[(Guarantee, SinkKind)]| -> Vec<VariantReport> {
        list.iter().map(|&(g, s)| sim::run::run_variant(scenario, seed, g, s, faults.to_vec(), reference)).collect()
    };
    std::thread::scope(|scope| {
        let other = scope.spawn(|| run(second));
        let mut reports = run(first);
        reports.extend(other.join().expect("a variant run does not panic"));
        reports
    })
}

/// One row of the comparison table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutcomeRow {
    /// The run this row stands for (opening it runs it with the same faults).
    pub variant: (Guarantee, SinkKind),
    pub guarantee: &'static str,
    pub sink: &'static str,
    pub result: &'static str,
    pub keeps_promise: bool,
    pub promise: &'static str,
    pub lost_records: usize,
    pub duplicated_records: usize,
    pub missing_rows: usize,
    pub extra_rows: usize,
    pub wrong_rows: usize,
    pub restarts: u32,
    pub checkpoints: String,
    /// p50 / p99 end-to-end latency.
    pub latency: String,
    /// Why the run ended before the job finished ("job failed: no restart strategy …"): what it
    /// never read counts as lost, which a student should not mistake for the guarantee's doing.
    pub stopped: Option<String>,
    /// Why there is no verdict: the fault-free reference stopped before the job finished, so
    /// its output is incomplete and the run cannot be judged against it (`reference_stop`).
    pub no_verdict: Option<String>,
    /// Where records counted twice or lost went when no row is doubled or missing
    /// (`Outcome::records_inside_rows`): the result cell's hover says it.
    pub notes: Vec<String>,
}

pub fn rows(reports: &[VariantReport]) -> Vec<OutcomeRow> {
    reports
        .iter()
        .map(|r| OutcomeRow {
            variant: (r.guarantee, r.sink),
            guarantee: r.guarantee.label(),
            sink: r.sink.label(),
            result: class_label(r.class),
            keeps_promise: r.verdict,
            promise: promise(r.guarantee),
            lost_records: r.outcome.lost_records.len(),
            duplicated_records: r.outcome.duplicated_records.len(),
            missing_rows: r.outcome.missing_rows.len(),
            extra_rows: r.outcome.duplicate_rows.len(),
            wrong_rows: r.outcome.wrong_rows.len(),
            restarts: r.restarts,
            checkpoints: format!("{} done, {} aborted", r.checkpoints_completed, r.checkpoints_aborted),
            latency: format!(
                "{} / {}",
                crate::view::duration_text(r.latency_p50_ns),
                crate::view::duration_text(r.latency_p99_ns)
            ),
            stopped: (r.stop != sim::StopReason::JobFinished).then(|| r.stop.to_string()),
            no_verdict: sim::run::no_verdict(r.reference_stop),
            notes: r.outcome.records_inside_rows(),
        })
        .collect()
}

/// One setup's cost on the compared seed and faults: what the cost view plots.
#[derive(Clone, Debug, PartialEq)]
pub struct Cost {
    pub variant: (Guarantee, SinkKind),
    /// "exactly-once · two-phase-commit".
    pub label: String,
    pub latency_p50_ms: f64,
    pub latency_p99_ms: f64,
    /// Source records fully processed per second of virtual time.
    pub throughput_per_s: f64,
    pub lost_records: usize,
    pub duplicated_records: usize,
}

/// Every compared setup's cost, and the largest of each measure (the bars' full length; at least
/// 1 so that an all-zero measure draws empty bars, not a division by zero).
#[derive(Clone, Debug, PartialEq)]
pub struct Costs {
    pub rows: Vec<Cost>,
    pub max_latency_ms: f64,
    pub max_throughput_per_s: f64,
    pub max_records: usize,
}

pub fn costs(reports: &[VariantReport]) -> Costs {
    let rows: Vec<Cost> = reports
        .iter()
        .map(|r| Cost {
            variant: (r.guarantee, r.sink),
            label: format!("{} · {}", r.guarantee.label(), r.sink.label()),
            latency_p50_ms: r.latency_p50_ns as f64 / 1e6,
            latency_p99_ms: r.latency_p99_ns as f64 / 1e6,
            throughput_per_s: r.throughput_per_s as f64,
            lost_records: r.outcome.lost_records.len(),
            duplicated_records: r.outcome.duplicated_records.len(),
        })
        .collect();
    let max = |f: fn(&Cost) -> f64| rows.iter().map(f).fold(1.0f64, f64::max);
    Costs {
        max_latency_ms: max(|c| c.latency_p99_ms.max(c.latency_p50_ms)),
        max_throughput_per_s: max(|c| c.throughput_per_s),
        max_records: rows.iter().map(|c| c.lost_records.max(c.duplicated_records)).max().unwrap_or(0).max(1),
        rows,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sim::faults::Trigger;

    fn crash_at(now: sim::kernel::TimeNs) -> Fault {
        Fault::Crash {
            node: sim::scenario::NodeId::task_manager(1),
            at: Trigger::At(now),
            restart_after_ns: Some(1_000_000_000),
        }
    }

    #[test]
    fn exactly_once_into_a_plain_sink_says_the_output_may_show_results_twice() {
        let plain = promise_with_sink(Guarantee::ExactlyOnce, SinkKind::Plain);
        assert!(plain.contains("plain sink") && plain.contains("twice"), "{plain}");
        for sink in [SinkKind::Idempotent, SinkKind::TwoPhaseCommit] {
            assert_eq!(promise_with_sink(Guarantee::ExactlyOnce, sink), promise(Guarantee::ExactlyOnce));
        }
        assert_eq!(promise_with_sink(Guarantee::AtLeastOnce, SinkKind::Plain), promise(Guarantee::AtLeastOnce));
    }

    #[test]
    fn a_crash_shows_the_three_guarantees_apart() {
        // The flagship fault scenario without its own faults: only the crash injected here.
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../scenarios/crash-during-checkpoint.ron");
        let scenario = Arc::new(Scenario::load(std::path::Path::new(path)).unwrap().without_faults());
        let mut run = RecordedRun::record(scenario.clone(), 42);
        let at = run.end_ns / 3;
        let fork = run.fork(0, at, "crash tm-1".into(), crash_at);
        let faults = fault_schedule(&scenario, &fork);
        assert_eq!(faults.len(), 1);
        let reports = compare(&scenario, 42, &faults);
        let table = rows(&reports);
        assert_eq!(table.len(), COMPARED_VARIANTS.len());
        let at_most_once = table.iter().find(|r| r.guarantee == "at-most-once").unwrap();
        assert!(at_most_once.lost_records > 0, "{at_most_once:?}");
        let two_phase = table.iter().find(|r| r.guarantee == "exactly-once" && r.sink == "two-phase-commit").unwrap();
        assert_eq!(two_phase.result, "exact", "{two_phase:?}");
        assert!(two_phase.keeps_promise);
        // The cost view: one bar set per setup, scaled to the largest.
        let c = costs(&reports);
        assert_eq!(c.rows.len(), reports.len());
        assert!(c.rows.iter().all(|r| r.latency_p50_ms <= r.latency_p99_ms && r.latency_p99_ms <= c.max_latency_ms));
        let amo = c.rows.iter().find(|r| r.variant.0 == Guarantee::AtMostOnce).unwrap();
        assert_eq!(amo.lost_records, at_most_once.lost_records);
        assert!(c.max_records >= amo.lost_records && c.max_throughput_per_s > 1.0);
        // The fork itself against the original: exactly-once state, plain sink.
        let versus = versus_original(&run, &fork);
        assert_ne!(versus.class(), OutcomeClass::Loss, "{}", summary(&versus));
    }
}
