//! The shown run: what every model's view offers the controls all models share — choose the
//! guarantee and run again, save the run as a scenario file, export its sink output, its trace
//! and its charts. The Flink workbench's [`Session`], the Storm view's [`StormSession`], the
//! Spark view's [`SparkSession`] and the Kafka Streams view's
//! [`KStreamsShown`](crate::view::kstreams::KStreamsShown) implement it; `panels::run_controls` draws the guarantee choice and `panels::save` the save
//! and export buttons from it, and `App` applies what they ask for through it, whichever view is
//! on screen.

use std::sync::Arc;

use engine::sink::SinkKind;
use sim::external::StoredRow;
use sim::recording::TraceEvent;
use sim::runtime::{FaultToleranceModel, GuaranteeChoice};
use sim::scenario::Guarantee;
use sim::Scenario;

use crate::app::{ScenarioSource, Session};
use crate::view::plots::Chart;
use crate::view::spark::SparkSession;
use crate::view::storm::StormSession;

pub trait ShownRun {
    /// The scenario as loaded (before the workbench's choices).
    fn base(&self) -> &Arc<Scenario>;
    /// What the shown run ran: the loaded scenario under the chosen guarantee (and sink kind).
    fn scenario(&self) -> &Arc<Scenario>;
    fn seed(&self) -> u64;
    fn source(&self) -> &ScenarioSource;
    /// The guarantee and sink kind chosen in the workbench (None: as written). A model without
    /// sink variants keeps the sink None.
    fn choice(&self) -> (Option<Guarantee>, Option<SinkKind>);
    /// The run's name ("original run", a fork's fault, the guarantee it was switched to).
    fn title(&self) -> String;
    /// What its fault schedule is ("faults from the file", a fork's clicked faults).
    fn faults_label(&self) -> String;
    /// What tells this run apart in a file name ("original", "run2", "at-most-once").
    fn stem_suffix(&self) -> String;
    /// The run as a scenario file: loaded again, it records the same trace.
    fn scenario_file_text(&self) -> String;
    /// The sink rows a reader sees at the end of the run.
    fn visible_rows(&self) -> Vec<&StoredRow>;
    /// Every traced event of the run (what the Perfetto export writes).
    fn trace(&self) -> &[TraceEvent];
    /// The run's charts, or why there are none.
    fn charts(&self) -> Result<&[Chart], &'static str>;

    /// The model the run belongs to (the runtime boundary, `sim::runtime`).
    fn model(&self) -> &'static dyn FaultToleranceModel {
        sim::runtime::model(self.base().runtime())
    }
    /// The guarantees the model offers for this scenario.
    fn guarantees(&self) -> Vec<GuaranteeChoice> {
        self.model().guarantees(self.base())
    }
    /// The model's words for `guarantee` (its label alone when the model does not offer it).
    fn choice_of(&self, guarantee: Guarantee) -> GuaranteeChoice {
        self.guarantees().into_iter().find(|c| c.guarantee == guarantee).unwrap_or(GuaranteeChoice {
            guarantee,
            label: guarantee.label(),
            effect: "",
        })
    }
}

/// The Flink workbench: the run of the session on screen (the original, a fork, a variant).
impl ShownRun for Session {
    fn base(&self) -> &Arc<Scenario> {
        &self.base
    }
    fn scenario(&self) -> &Arc<Scenario> {
        &self.scenario
    }
    fn seed(&self) -> u64 {
        self.seed
    }
    fn source(&self) -> &ScenarioSource {
        &self.source
    }
    fn choice(&self) -> (Option<Guarantee>, Option<SinkKind>) {
        self.variant
    }
    fn title(&self) -> String {
        self.run().label.clone()
    }
    fn faults_label(&self) -> String {
        self.schedule_labels[self.shown].clone()
    }
    fn stem_suffix(&self) -> String {
        if self.shown == 0 {
            "original".to_string()
        } else {
            format!("run{}", self.shown + 1)
        }
    }
    fn scenario_file_text(&self) -> String {
        self.run_file_text(self.shown)
    }
    fn visible_rows(&self) -> Vec<&StoredRow> {
        self.run().final_world.sink_store.visible()
    }
    fn trace(&self) -> &[TraceEvent] {
        &self.run().trace
    }
    fn charts(&self) -> Result<&[Chart], &'static str> {
        Ok(&self.charts[self.shown])
    }
}

/// The Storm view: one run of the loaded topology, under the guarantee chosen.
impl ShownRun for StormSession {
    fn base(&self) -> &Arc<Scenario> {
        &self.origin.base
    }
    fn scenario(&self) -> &Arc<Scenario> {
        &self.scenario
    }
    fn seed(&self) -> u64 {
        self.seed
    }
    fn source(&self) -> &ScenarioSource {
        &self.origin.source
    }
    fn choice(&self) -> (Option<Guarantee>, Option<SinkKind>) {
        (self.origin.guarantee, None)
    }
    fn title(&self) -> String {
        model_title(self, "topology", self.origin.guarantee)
    }
    fn faults_label(&self) -> String {
        faults_label(self.origin.injected_text())
    }
    fn stem_suffix(&self) -> String {
        stem_suffix(self.origin.guarantee, self.origin.injected.len())
    }
    fn scenario_file_text(&self) -> String {
        saved_scenario_text(self, None, &self.run.world.faults)
    }
    fn visible_rows(&self) -> Vec<&StoredRow> {
        self.run.visible_rows()
    }
    fn trace(&self) -> &[TraceEvent] {
        &self.events
    }
    fn charts(&self) -> Result<&[Chart], &'static str> {
        Ok(&self.charts)
    }
}

/// The Spark view: one run of the loaded query, under the guarantee (checkpoint location and
/// sink) chosen.
impl ShownRun for SparkSession {
    fn base(&self) -> &Arc<Scenario> {
        &self.origin.base
    }
    fn scenario(&self) -> &Arc<Scenario> {
        &self.scenario
    }
    fn seed(&self) -> u64 {
        self.seed
    }
    fn source(&self) -> &ScenarioSource {
        &self.origin.source
    }
    fn choice(&self) -> (Option<Guarantee>, Option<SinkKind>) {
        self.origin.variant
    }
    fn title(&self) -> String {
        model_title(self, "query", self.origin.variant.0)
    }
    fn faults_label(&self) -> String {
        faults_label(self.origin.injected_text())
    }
    fn stem_suffix(&self) -> String {
        stem_suffix(self.origin.variant.0, self.origin.injected.len())
    }
    fn scenario_file_text(&self) -> String {
        saved_scenario_text(self, Some(sim::run::own_sink(&self.scenario)), &self.run.world.faults)
    }
    fn visible_rows(&self) -> Vec<&StoredRow> {
        self.run.visible_rows()
    }
    fn trace(&self) -> &[TraceEvent] {
        &self.events
    }
    fn charts(&self) -> Result<&[Chart], &'static str> {
        Ok(&self.charts)
    }
}

/// The Kafka Streams view: one run of the loaded application, under the `processing.guarantee`
/// chosen.
impl ShownRun for crate::view::kstreams::KStreamsShown {
    fn base(&self) -> &Arc<Scenario> {
        &self.origin.base
    }
    fn scenario(&self) -> &Arc<Scenario> {
        &self.scenario
    }
    fn seed(&self) -> u64 {
        self.seed
    }
    fn source(&self) -> &ScenarioSource {
        &self.origin.source
    }
    fn choice(&self) -> (Option<Guarantee>, Option<SinkKind>) {
        (self.origin.guarantee, None)
    }
    fn title(&self) -> String {
        model_title(self, "application", self.origin.guarantee)
    }
    fn faults_label(&self) -> String {
        faults_label(self.origin.injected_text())
    }
    fn stem_suffix(&self) -> String {
        stem_suffix(self.origin.guarantee, self.origin.injected.len())
    }
    fn scenario_file_text(&self) -> String {
        saved_scenario_text(self, None, &self.run.world.faults)
    }
    fn visible_rows(&self) -> Vec<&StoredRow> {
        self.run.visible_rows()
    }
    fn trace(&self) -> &[TraceEvent] {
        &self.events
    }
    fn charts(&self) -> Result<&[Chart], &'static str> {
        Ok(&self.charts)
    }
}

// ---- the words of a model view's run (Storm, Spark, Kafka Streams): one run of the loaded
// file, under a chosen guarantee, with clicked faults ------------------------------------------

/// "the topology as written", "the query under exactly-once" (`noun`: what the model runs).
fn model_title(run: &impl ShownRun, noun: &str, guarantee: Option<Guarantee>) -> String {
    match guarantee {
        None => format!("the {noun} as written"),
        Some(g) => format!("the {noun} under {}", run.choice_of(g).label),
    }
}

/// "faults from the file", then the clicked ones in words.
fn faults_label(injected: Option<String>) -> String {
    match injected {
        None => "faults from the file".to_string(),
        Some(clicked) => format!("faults from the file, then {clicked}"),
    }
}

/// "original", "at-least-once", "at-least-once-plus2faults".
fn stem_suffix(guarantee: Option<Guarantee>, injected: usize) -> String {
    let guarantee = guarantee.map_or("original", |g| g.label());
    match injected {
        0 => guarantee.to_string(),
        n => format!("{guarantee}-plus{n}faults"),
    }
}

/// The run as a scenario file with its faults (`sink`: the sink kind to write, if the model has
/// sink variants).
fn saved_scenario_text(run: &impl ShownRun, sink: Option<SinkKind>, faults: &[sim::faults::Fault]) -> String {
    let note =
        format!("saved from the streamlab workbench: {} of {} (seed {})", run.title(), run.base().name, run.seed());
    crate::save::scenario_text(&run.base().raw, run.scenario(), sink, faults, run.seed(), &note)
}
