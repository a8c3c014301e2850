//! Faults and outcomes: crash a task manager at the cursor (forking the run), and compare what
//! each delivery guarantee does to the output.

use crate::app::{Action, Session};

pub fn outcomes_ui(ui: &mut egui::Ui, session: &Session, _actions: &mut Vec<Action>) {
    ui.label(format!(
        "Runs of this scenario: {}. Fault injection and the guarantee comparison appear here once the simulator offers them.",
        session.runs.len()
    ));
}
