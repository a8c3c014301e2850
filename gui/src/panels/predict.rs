//! The predict panel: a window listing the exercises on the loaded scenario. Predict, press
//! *Check*: the scenario runs on a worker thread and the answer is revealed with why, where to
//! look, and the command that shows it (`view::predict`).

use crate::panels::{BLOCKED_COLOR, GOOD_COLOR};
use crate::view::predict::{self, PredictState};

/// Draw the predict window, when opened from the scenario bar, for the loaded scenario (a Flink
/// session's or the Storm view's): the exercises whose scenario file is `scenario_file`.
/// `timeline_top`: the top of the bottom timeline panel this frame (None in the Storm view, which
/// has none), the window's bottom kept above it.
pub fn predict_window_ui(ui: &mut egui::Ui, scenario_file: &str, state: &mut PredictState, timeline_top: Option<f32>) {
    if !state.open {
        return;
    }
    let course = state.course.get_or_insert_with(|| predict::load_course(&predict::course_root()));
    let course = match course {
        Ok(c) => c,
        Err(e) => {
            let e = e.to_string();
            egui::Window::new("Predict").open(&mut state.open).show(ui.ctx(), |ui| {
                ui.colored_label(BLOCKED_COLOR, e);
            });
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
                // The reveal makes the window taller; the anchor places it by the size it had,
                // so one more frame lifts its bottom back above the timeline.
                ui.ctx().request_repaint();
            }
            Err(std::sync::mpsc::TryRecvError::Empty) => {
                ui.ctx().request_repaint_after(std::time::Duration::from_millis(50))
            }
            Err(std::sync::mpsc::TryRecvError::Disconnected) => state.pending = None,
        }
    }
    // Bottom left, above the timeline, growing upwards: clear of the scenario bar, the transport
    // and the inspector. Anchored, because a placed window keeps its top where it first was and
    // the reveal then grew it past the bottom of the screen; past the height left, it scrolls.
    // Closed with its x or the scenario bar's button.
    // Zoomed in, the timeline's lanes make its panel taller than the 110 points the window used
    // to keep clear, and it covered the top lanes: it keeps clear of the panel as drawn.
    let content = ui.ctx().content_rect();
    let bottom_room = timeline_top.map_or(110.0, |top| content.bottom() - top + 6.0);
    let mut open = state.open;
    let window = egui::Window::new(title)
        .id(egui::Id::unique("predict_window"))
        .open(&mut open)
        .anchor(egui::Align2::LEFT_BOTTOM, egui::vec2(12.0, -bottom_room))
        .default_width(520.0);
    // The scenario bar, the transport and the window's title bar take about 150 points.
    let max_height = (content.height() - bottom_room - 150.0).max(200.0);
    window.show(ui.ctx(), |ui| {
        egui::ScrollArea::vertical().max_height(max_height).show(ui, |ui| {
            if exercises.is_empty() {
                ui.label("No exercise of the course runs this scenario. `streamlab exercise list` lists them all.");
                return;
            }
            for e in &exercises {
                let chosen = state.selected.as_deref() == Some(e.spec.id.as_str());
                if ui.selectable_label(chosen, format!("{}: {}", e.spec.id, e.spec.question.trim())).clicked()
                    && !chosen
                {
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
    });
    state.open &= open;
}
