//! The predict panel: the exercises on the loaded scenario, docked beside the view so that it
//! covers nothing a question asks about (a floating window covered the Kafka Streams timeline, the
//! Flink tables, the Spark batches). Predict, press *Check*: the scenario runs on a worker thread
//! and the answer is revealed with why, where to look, and the command that shows it
//! (`view::predict`).

use crate::panels::{BLOCKED_COLOR, GOOD_COLOR};
use crate::view::predict::{self, PredictState};

/// The predict panel docked at the right edge of a view without an inspector (Storm, Spark,
/// Kafka Streams), when opened from the scenario bar; the view keeps the rest of the width. Call
/// before the view's central panel.
pub fn predict_dock_ui(ui: &mut egui::Ui, scenario_file: &str, state: &mut PredictState) {
    if !state.open {
        return;
    }
    egui::Panel::right("predict_dock").resizable(true).default_size(380.0).size_range(260.0..=640.0).show(ui, |ui| {
        predict_ui(ui, scenario_file, state);
    });
}

/// The predict panel's content in `ui` (the dock, or the top of the Flink view's inspector
/// column): a heading with its close button, then the exercises, the answer and the reveal,
/// scrolling within the height it is given.
pub fn predict_ui(ui: &mut egui::Ui, scenario_file: &str, state: &mut PredictState) {
    if !state.open {
        return;
    }
    let course = state.course.get_or_insert_with(|| predict::load_course(&predict::course_root()));
    let course = match course {
        Ok(c) => c,
        Err(e) => {
            let e = e.to_string();
            if heading_ui(ui, "Predict") {
                state.open = false;
            }
            ui.colored_label(BLOCKED_COLOR, e);
            return;
        }
    };
    let exercises = predict::exercises_for(course, scenario_file);
    let title = format!("Predict ({} exercises on this scenario)", exercises.len());
    // Collect what arrived from a grading thread.
    if let Some((id, answer, receiver)) = &state.pending {
        match receiver.try_recv() {
            Ok(solution) => {
                if let Some(e) = course.find(id) {
                    state.revealed = predict::reveal(e, &solution, answer).ok();
                }
                state.pending = None;
                state.scroll_to_answer = true;
                ui.ctx().request_repaint();
            }
            Err(std::sync::mpsc::TryRecvError::Empty) => {
                ui.ctx().request_repaint_after(std::time::Duration::from_millis(50))
            }
            Err(std::sync::mpsc::TryRecvError::Disconnected) => state.pending = None,
        }
    }
    if heading_ui(ui, &title) {
        state.open = false;
        return;
    }
    egui::ScrollArea::vertical().id_salt("predict_scroll").auto_shrink([false, false]).show(ui, |ui| {
        if exercises.is_empty() {
            ui.label("No exercise of the course runs this scenario. `streamlab exercise list` lists them all.");
            return;
        }
        for e in &exercises {
            let chosen = state.selected.as_deref() == Some(e.spec.id.as_str());
            if ui.selectable_label(chosen, format!("{}: {}", e.spec.id, e.spec.question.trim())).clicked() && !chosen {
                state.selected = Some(e.spec.id.clone());
                state.answer.clear();
                state.revealed = None;
                state.error = None;
                state.scroll_to_answer = true;
            }
        }
        let Some(e) = state.selected.as_deref().and_then(|id| exercises.iter().find(|e| e.spec.id == id)) else {
            return;
        };
        ui.separator();
        ui.label(format!("Answer: {}", e.answer_format()));
        let mut last = ui
            .horizontal(|ui| {
                ui.text_edit_singleline(&mut state.answer);
                let busy = state.pending.is_some();
                if ui.add_enabled(!busy, egui::Button::new(if busy { "Running…" } else { "Check" })).clicked() {
                    match e.parse_answer(&state.answer) {
                        Err(bad) => {
                            state.revealed = None;
                            state.error = Some(crate::error::PredictError::unreadable(e, bad));
                            state.scroll_to_answer = true;
                        }
                        Ok(_) => {
                            state.error = None;
                            let (sender, receiver) = std::sync::mpsc::channel();
                            let exercise = (*e).clone();
                            std::thread::spawn(move || {
                                let _ = sender.send(exercise.solve());
                            });
                            state.pending = Some((e.spec.id.clone(), state.answer.clone(), receiver));
                            state.revealed = None;
                        }
                    }
                }
            })
            .response;
        if let Some(error) = &state.error {
            last = ui.colored_label(BLOCKED_COLOR, error.to_string());
        }
        if let Some(r) = state.revealed.as_ref().filter(|r| r.id == e.spec.id) {
            // Mid-tone colours: the light theme's pale background washes light green and red out.
            if r.right {
                ui.colored_label(GOOD_COLOR, format!("Right: {}", r.actual));
            } else {
                ui.colored_label(BLOCKED_COLOR, format!("You said {}; the run shows {}", r.answer, r.actual));
            }
            ui.label(format!("Why: {}", r.why));
            ui.label(format!("In the workbench: {}.", predict::workbench_place(e)));
            ui.label(format!("In the output of the command below: {}.", r.look));
            last = ui.monospace(&r.command);
        }
        if std::mem::take(&mut state.scroll_to_answer) {
            last.scroll_to_me(Some(egui::Align::BOTTOM));
        }
    });
}

/// The panel's heading: its title and a close button. True when the button was pressed.
fn heading_ui(ui: &mut egui::Ui, title: &str) -> bool {
    let closed = ui
        .horizontal(|ui| {
            ui.strong(title);
            ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                ui.button("Close")
                    .on_hover_text("close the predict panel (the scenario bar's Predict opens it again)")
                    .clicked()
            })
            .inner
        })
        .inner;
    ui.separator();
    closed
}
