//! View models: plain data derived from the world at the cursor and from the recording, built
//! without egui and tested on their own. Panels only draw them.
//!
//! Rules: no wall clock, no randomness, no hash-map order in anything shown.

pub mod alignment;
pub mod dag;
pub mod diff;
pub mod events;
pub mod inspector;
pub mod kstreams;
pub mod ledger;
pub mod markers;
pub mod outcomes;
pub mod plots;
pub mod predict;
pub mod spark;
pub mod storm;
pub mod timeline;
pub mod tour;
pub mod units;
pub mod watermarks;

use engine::graph::SubtaskId;
use sim::kernel::TimeNs;
use sim::World;

use crate::scrub::SendIndex;

pub use units::{
    cursor_text, duration_ms_text, duration_text, event_time_text, fault_text, faults_text, row_window_text, tick_text,
    time_text, window_text,
};

/// The job attempt the workbench names, counted from 1 (the first run is attempt 1), from the
/// engine's attempt, which counts restores from 0 (`World::attempt`, a task's or a two-phase-commit
/// transaction's `attempt`). The one rule, so that the job graph's banner, the event log, the
/// timeline's markers, the inspector and the Outcome tab's attempt column name one attempt alike.
pub fn job_attempt(engine_attempt: u32) -> u32 {
    engine_attempt + 1
}

/// What runs on task manager `tm` (a Storm worker): its subtasks' (executors') names, for the
/// fault buttons' hover text — so a student sees what a crash there takes down.
pub fn subtasks_on(scenario: &sim::Scenario, tm: u32) -> String {
    let names: Vec<&str> = scenario
        .plan
        .subtasks
        .iter()
        .zip(&scenario.placement)
        .filter(|(_, &placed)| placed == tm)
        .map(|(s, _)| s.name.as_str())
        .collect();
    match names.is_empty() {
        true => "nothing runs there".to_string(),
        false => format!("runs {}", names.join(", ")),
    }
}

/// Everything the panels show about one moment, built once per cursor position.
#[derive(Clone, Debug, PartialEq)]
pub struct Frame {
    pub cursor_ns: TimeNs,
    pub dag: dag::DagState,
    pub alignment: alignment::AlignmentView,
    pub watermarks: watermarks::WatermarkView,
    /// The selected subtask's details.
    pub inspector: Option<inspector::Inspector>,
    /// Sink store rows to list (indices into `world.sink_store.rows`).
    pub sink_rows: Vec<u32>,
    pub events_processed: u64,
}

impl Frame {
    pub fn build(
        world: &World,
        sends: &SendIndex,
        cursor_ns: TimeNs,
        selected: Option<SubtaskId>,
        visible_only: bool,
    ) -> Frame {
        Frame {
            cursor_ns,
            dag: dag::DagState::build(world, sends, cursor_ns),
            alignment: alignment::AlignmentView::build(world),
            watermarks: watermarks::WatermarkView::build(world),
            inspector: selected.map(|s| inspector::Inspector::build(world, s)),
            sink_rows: inspector::sink_row_indices(world, visible_only),
            events_processed: world.events_processed,
        }
    }
}

/// Faults clicked in a view that records its run again with them ("crash tm-0 at 7.500 s, back
/// after 2 s, then ..."); None when none were.
pub fn injected_text(scenario: &sim::Scenario, faults: &[sim::faults::Fault]) -> Option<String> {
    faults_text(scenario, faults)
}

/// The scenario file's own faults in words, for "this run has …": "the file's faults (crash
/// tm-1 at 12.000 s, back after 2 s)", or "no faults (the file has none)".
pub fn file_faults_text(base: &sim::Scenario) -> String {
    match faults_text(base, &base.faults) {
        Some(text) => format!("the file's faults ({text})"),
        None => "no faults (the file has none)".to_string(),
    }
}

/// Add the faults clicked in a view that records its run again with them (Storm, Spark, Kafka
/// Streams). The outcomes a file declares are about its own faults: with more, the run is held
/// to its guarantee's promise instead (a clicked cut that left a Spark run exact read "declared
/// outcome Duplicates: BROKEN" in red), and a saved run declares none.
pub fn add_clicked_faults(scenario: &mut sim::Scenario, clicked: impl IntoIterator<Item = sim::faults::Fault>) {
    let before = scenario.faults.len();
    scenario.faults.extend(clicked);
    if scenario.faults.len() > before {
        scenario.expect.outcomes.clear();
    }
}
