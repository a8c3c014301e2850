//! A Kafka Streams run, shown at its end: the tasks per instance (phase, offsets, changelog and
//! what the last restore replayed), the counters (commits, reprocessed records, restores, aborted
//! transactions), the oracle's verdict against the application's fault-free run, and the sink
//! rows. No timeline, forks or saving yet: `streamlab replay --until` steps through a run.

use std::sync::Arc;

use sim::Scenario;

/// What the view shows of one run (computed once, when the scenario is opened).
pub struct KStreamsShown {
    pub base: Arc<Scenario>,
    pub seed: u64,
    /// Why and when the run stopped, the counters and the tasks table.
    pub summary: String,
    /// The oracle's verdict, one line.
    pub verdict: String,
    /// Faults of the schedule this model does not inject, with why.
    pub notes: Vec<String>,
    /// The visible sink rows, one line each.
    pub rows: String,
    /// The run's trace hash (`streamlab run` prints it).
    pub trace_hash: u64,
}

impl KStreamsShown {
    /// Run `scenario` with `seed` to its end (the kernel world, as `streamlab run` does), here.
    pub fn of(scenario: Arc<Scenario>, seed: u64) -> KStreamsShown {
        let run = sim::kstreams::run_kstreams(scenario.clone(), seed, true);
        KStreamsShown::from_run(scenario, seed, run)
    }

    /// What the view shows of a finished run (recorded here, or off the UI thread by
    /// `recording::kstreams_recorder`), judged against the application's fault-free run.
    pub fn from_run(scenario: Arc<Scenario>, seed: u64, run: sim::kstreams::KStreamsRun) -> KStreamsShown {
        let judgement = sim::kstreams::judge::judge(&scenario, seed, &run);
        KStreamsShown {
            summary: sim::kstreams::report::summary(&run),
            verdict: format!("oracle vs the fault-free run: {}", judgement.describe(scenario.guarantee)),
            notes: run.world.faults_not_modelled(),
            rows: sim::kstreams::report::rows_text(&run),
            trace_hash: run.trace_hash(),
            base: scenario,
            seed,
        }
    }
}

/// The view: what it is, the summary, the verdict, the rows.
pub fn kstreams_ui(ui: &mut egui::Ui, shown: &KStreamsShown) {
    ui.heading(format!("{} — Kafka Streams, seed {}", shown.base.name, shown.seed));
    ui.label(format!(
        "The run at its end (no timeline, forks or saving in this view): `streamlab replay {} --until <ms>` steps through it, `streamlab compare {}` puts the guarantees side by side.",
        shown.base.file, shown.base.file
    ));
    ui.separator();
    ui.label(egui::RichText::new(&shown.verdict).strong());
    for note in &shown.notes {
        ui.label(note);
    }
    ui.separator();
    ui.label(egui::RichText::new(&shown.summary).monospace());
    ui.separator();
    ui.label("Sink rows a reader sees:");
    ui.label(egui::RichText::new(&shown.rows).monospace());
}
