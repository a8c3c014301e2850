//! Verdicts: a run of the scenario as written judged against its model's fault-free reference
//! (what `run` and `replay` exit with), and a seed checked against the scenario's expectations
//! (what `sweep` and `shrink` count as failing).

use std::sync::Arc;

use super::*;
/// The verdict on one run of a scenario as written (what `run` and `replay` exit with).
#[derive(Clone, Debug, serde::Serialize)]
pub struct Judgement {
    /// The oracle against the fault-free reference (exact, without a second run, when the seed
    /// has no faults: the reference is this very run).
    pub outcome: Outcome,
    pub class: OutcomeClass,
    /// The outcome the scenario declares for its own guarantee and sink, if any: it replaces
    /// the guarantee's promise as what the run is held to.
    pub declared: Option<OutcomeClass>,
    /// Whether the promise (or the declaration) was kept.
    pub kept: bool,
    pub stop: StopReason,
    /// How the fault-free reference ended (the run itself when the seed has no faults). Unless
    /// it finished, the outcome compares with an incomplete output: no verdict.
    pub reference_stop: StopReason,
    pub violations: usize,
    /// What the run was held to when nothing was declared ([`promise_of`]; None: nothing).
    #[serde(skip)]
    pub promise: Option<Guarantee>,
}

impl Judgement {
    /// One line for people.
    pub fn describe(&self, guarantee: Guarantee) -> String {
        let held_to = match (self.declared, self.promise) {
            (Some(d), _) => format!("declared outcome {d:?}"),
            (None, Some(_)) => format!("the {} promise", guarantee.label()),
            (None, None) => "nothing promised, so nothing broken".to_string(),
        };
        if !self.reference_stop.is_finished() {
            return format!(
                "no verdict: the fault-free reference did not finish ({}), so there is no complete output to \
                 compare with (a larger max_run_ms may let it finish); against what it showed: {:?}, {}",
                self.reference_stop,
                self.class,
                self.outcome.counts_text(),
            );
        }
        if self.declared.is_none() && self.promise.is_none() {
            return format!("{:?} ({held_to}); {}", self.class, self.outcome.counts_text());
        }
        format!(
            "{:?} ({}: {}); {}",
            self.class,
            held_to,
            if self.kept { "kept" } else { "BROKEN" },
            self.outcome.counts_text(),
        )
    }
}

/// What a run under `guarantee` on `runtime` is held to when the scenario declares no outcome:
/// the guarantee's promise, or nothing (None). Spark without a checkpoint location promises
/// nothing: a restarted query starts from the latest offsets (what was in flight is lost), and a
/// task retried after an executor loss writes a plain sink again, as Spark's `ForeachWriter`
/// does (duplicates) — the book's Spark chapter. Such a run is reported as it happened, never
/// BROKEN. The one rule `run`, `compare`, `sweep` and `shrink` hold runs to.
pub fn promise_of(runtime: Runtime, guarantee: Guarantee) -> Option<Guarantee> {
    match (runtime, guarantee) {
        (Runtime::Spark, Guarantee::AtMostOnce) => None,
        _ => Some(guarantee),
    }
}

/// Does `outcome` keep what `runtime` promises under `guarantee` ([`promise_of`])? A run
/// promised nothing keeps it.
pub fn keeps_promise(outcome: &Outcome, runtime: Runtime, guarantee: Guarantee) -> bool {
    promise_of(runtime, guarantee).is_none_or(|g| outcome.verdict(g))
}

/// `guarantee` as `runtime` calls the setting, in messages ("spark no checkpoint with a plain
/// sink"): Spark's at-most-once variant is a query without a checkpoint location.
pub fn guarantee_name(runtime: Runtime, guarantee: Guarantee) -> &'static str {
    match promise_of(runtime, guarantee) {
        None => "no checkpoint",
        Some(g) => g.label(),
    }
}

/// "no verdict: the fault-free reference stopped (…)" when the reference did not finish: what a
/// comparison (the `compare` table, the workbench's) shows for a setup instead of a verdict.
pub fn no_verdict(reference_stop: StopReason) -> Option<String> {
    (!reference_stop.is_finished()).then(|| format!("no verdict: the fault-free reference stopped ({reference_stop})"))
}

/// Hold a finished run of `scenario` (as written, with `seed`'s faults) against its promise.
pub fn judge(scenario: &Scenario, seed: u64, run: &RunResult) -> Judgement {
    let (outcome, reference_stop) = if run.world.faults.is_empty() {
        let seen = run.observed();
        (oracle::evaluate(&seen, &seen), run.stop)
    } else {
        let reference = reference_run(scenario, seed);
        (oracle::evaluate(&reference.observed(), &run.observed()), reference.stop)
    };
    let stops = Stops { run: run.stop, reference: reference_stop };
    held_to_promise(scenario, Runtime::Flink, outcome, stops, run.world.violations.len())
}

/// How a run and its fault-free reference ended.
pub(crate) struct Stops {
    pub(crate) run: StopReason,
    pub(crate) reference: StopReason,
}

/// The outcome against the scenario's declared outcome for its own guarantee and sink on
/// `runtime`, else against the guarantee's promise.
pub(crate) fn held_to_promise(
    scenario: &Scenario,
    runtime: Runtime,
    outcome: Outcome,
    stops: Stops,
    violations: usize,
) -> Judgement {
    let class = outcome.class();
    let sink = own_sink(scenario);
    let declared = scenario
        .expect
        .outcomes
        .iter()
        .find(|e| e.runtime == runtime && e.guarantee == scenario.guarantee && e.sink == sink)
        .and_then(|e| e.result);
    let kept = match declared {
        Some(d) => d == class,
        None => keeps_promise(&outcome, runtime, scenario.guarantee),
    };
    Judgement {
        outcome,
        class,
        declared,
        kept,
        stop: stops.run,
        reference_stop: stops.reference,
        violations,
        promise: promise_of(runtime, scenario.guarantee),
    }
}

/// What a sweep checks for one seed: the declared outcomes (or, when none are declared, that
/// the scenario as written keeps its guarantee's promise), no broken invariant, a finished job.
#[derive(Clone, Debug, serde::Serialize)]
pub struct SeedCheck {
    pub seed: u64,
    pub reports: Vec<VariantReport>,
    /// Why the seed fails; empty when it passes.
    pub failures: Vec<String>,
}

pub fn check_seed(scenario: &Arc<Scenario>, seed: u64) -> SeedCheck {
    check_with_faults(scenario, seed, fault_schedule_in_time(scenario, seed))
}

/// [`check_seed`] with an explicit fault schedule (what `shrink` varies).
pub fn check_with_faults(scenario: &Arc<Scenario>, seed: u64, faults: Vec<Fault>) -> SeedCheck {
    let own_sink = own_sink(scenario);
    let variants: Vec<(Runtime, Guarantee, SinkKind)> = if scenario.expect.outcomes.is_empty() {
        vec![(scenario.runtime(), scenario.guarantee, own_sink)]
    } else {
        scenario.expect.outcomes.iter().map(|e| (e.runtime, e.guarantee, e.sink)).collect()
    };
    // Per model, its variants in one batch (one reference run each), then back in the
    // declared order.
    let mut reports: Vec<Option<VariantReport>> = variants.iter().map(|_| None).collect();
    for model in crate::runtime::MODELS {
        let mine: Vec<usize> = (0..variants.len()).filter(|&i| variants[i].0 == model.runtime()).collect();
        let wanted: Vec<(Guarantee, SinkKind)> = mine.iter().map(|&i| (variants[i].1, variants[i].2)).collect();
        for (i, report) in mine.into_iter().zip(model.reports(scenario, seed, &wanted, &faults)) {
            reports[i] = Some(report);
        }
    }
    let reports: Vec<VariantReport> = reports.into_iter().flatten().collect();
    let mut failures = unmet_expectations(scenario, &reports);
    for r in &reports {
        let name =
            format!("{}{} with {}", storm_prefix(r.runtime), guarantee_name(r.runtime, r.guarantee), r.sink.a_sink());
        if scenario.expect.outcomes.is_empty() && !r.verdict && r.reference_stop.is_finished() {
            failures.push(format!("{name}: {:?} breaks the {} promise", r.class, r.guarantee.label()));
        }
        for v in &r.violations {
            failures.push(format!("{name}: invariant violated: {v}"));
        }
        if r.stop != StopReason::JobFinished {
            failures.push(format!("{name}: run stopped: {}", r.stop));
        }
        if !r.reference_stop.is_finished() {
            failures.push(format!(
                "{name}: the fault-free reference stopped: {} (no verdict against an incomplete output)",
                r.reference_stop
            ));
        }
    }
    SeedCheck { seed, reports, failures }
}

/// Declared expectations that a comparison did not meet, as messages.
pub fn unmet_expectations(scenario: &Scenario, reports: &[VariantReport]) -> Vec<String> {
    let mut unmet = Vec::new();
    for e in &scenario.expect.outcomes {
        match reports.iter().find(|r| r.runtime == e.runtime && r.guarantee == e.guarantee && r.sink == e.sink) {
            Some(r) if e.met_by(r.class, r.verdict) => {}
            // No verdict against an incomplete reference: said as such by whoever reports it.
            Some(r) if !r.reference_stop.is_finished() => {}
            Some(r) => unmet.push(format!(
                "{}{} with {}: expected {}, got {:?}{}",
                storm_prefix(e.runtime),
                guarantee_name(e.runtime, e.guarantee),
                e.sink.a_sink(),
                e.wanted(),
                r.class,
                own_faults_not_injected(scenario, r)
            )),
            None => unmet.push(format!(
                "{}{} with {} was not run",
                storm_prefix(e.runtime),
                guarantee_name(e.runtime, e.guarantee),
                e.sink.a_sink()
            )),
        }
    }
    unmet
}

/// The scenario's own faults that `r`'s run never injected, as a clause for an unmet
/// expectation: the declared outcome is about those faults, so a seed whose added faults (a
/// swarm's) kept one from happening says so ("expected Loss, got Exact; the scenario's own fault
/// was not injected: crash tm-0 after checkpoint 3 completed, …").
fn own_faults_not_injected(scenario: &Scenario, r: &VariantReport) -> String {
    let missed: Vec<&str> = r
        .faults_not_injected
        .iter()
        .filter(|note| scenario.faults.iter().any(|f| note.starts_with(&format!("{}: ", f.describe(scenario)))))
        .map(String::as_str)
        .collect();
    match missed.len() {
        0 => String::new(),
        1 => format!("; the scenario's own fault was not injected: {}", missed[0]),
        _ => format!("; the scenario's own faults were not injected: {}", missed.join("; ")),
    }
}

/// "storm " before a Storm variant's name in messages.
fn storm_prefix(runtime: Runtime) -> &'static str {
    match runtime {
        Runtime::Flink => "",
        Runtime::Storm => "storm ",
        Runtime::Spark => "spark ",
        Runtime::KafkaStreams => "kafka-streams ",
    }
}
