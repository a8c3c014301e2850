//! The guided tour's bar: offered when the scenario carries one; while it plays, the current
//! stop's caption and what it highlights, with Previous, Next (plays on to the next stop) and End.

use crate::app::{Action, Session};
use crate::panels::BARRIER_COLOR;
use crate::view::tour::{highlight_text, TourState};
use crate::view::{time_text, tour};

pub fn tour_ui(ui: &mut egui::Ui, session: &Session, state: Option<&TourState>, actions: &mut Vec<Action>) {
    let stops = &session.scenario.tour;
    let Some(state) = state else {
        ui.horizontal_wrapped(|ui| {
            ui.label(format!("This scenario comes with a guided tour ({} stops).", stops.len()));
            if ui.button("Play tour").clicked() {
                actions.push(Action::TourStart);
            }
        });
        return;
    };
    let (Some(stop), Some(placed)) = (stops.get(state.shown), session.tour.get(state.shown)) else {
        return;
    };
    ui.horizontal_wrapped(|ui| {
        ui.strong(format!("Tour {}/{} · {}", state.shown + 1, stops.len(), time_text(&session.scenario, placed.at_ns)));
        if let Some(h) = stop.highlight {
            ui.colored_label(BARRIER_COLOR, format!("look at {}", highlight_text(&session.scenario, h))).on_hover_text(
                match tour::selected_subtask(&session.scenario, h) {
                    Some(_) => "selected in the job graph; its details are in the inspector",
                    None => "the job manager: it runs no subtask",
                },
            );
        }
    });
    ui.label(egui::RichText::new(&stop.caption).size(15.0));
    if placed.missing {
        ui.weak(
            "(This stop's event does not happen in the run shown now: it stands where the scenario as loaded has it.)",
        );
    } else if session.shown != 0 {
        ui.weak("(The captions describe the scenario as loaded; the run shown now is another one: a fork or another guarantee. Stops that name an event, a crash or a restart say, stand where it happens in this run.)");
    }
    ui.horizontal(|ui| {
        if ui.add_enabled(state.shown > 0, egui::Button::new("Previous stop")).clicked() {
            actions.push(Action::TourJump(state.shown - 1));
        }
        if state.finished {
            ui.weak("End of the tour.");
        } else {
            if ui.button("Next stop").on_hover_text("play on to the next stop (it pauses there)").clicked() {
                actions.push(Action::TourNext);
            }
            if ui.button("Skip to it").clicked() {
                actions.push(Action::TourJump(state.shown + 1));
            }
        }
        if ui.button("End tour").clicked() {
            actions.push(Action::TourEnd);
        }
    });
}
