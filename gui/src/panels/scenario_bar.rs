//! The scenario bar: pick a shipped scenario or open a file, set the seed, run again; scenario
//! errors in red, with file, line, column and field.

use std::path::PathBuf;

use crate::app::{Action, App, ScenarioSource};

pub fn scenario_bar_ui(ui: &mut egui::Ui, app: &mut App, actions: &mut Vec<Action>) {
    ui.horizontal_wrapped(|ui| {
        ui.strong("streamlab");
        ui.separator();
        let current = app.shown_source().cloned();
        let current_label = app
            .scenarios
            .iter()
            .find(|e| Some(&e.source) == current.as_ref())
            .map(|e| e.label.clone())
            .or_else(|| {
                current.as_ref().map(|s| match s {
                    ScenarioSource::Embedded => crate::app::EMBEDDED_LABEL.to_string(),
                    ScenarioSource::File(p) => p.display().to_string(),
                })
            })
            .unwrap_or_else(|| "(none)".to_string());
        let label = ui.label("Scenario:");
        let picker = egui::ComboBox::from_id_salt("scenario_picker").selected_text(current_label).width(260.0).show_ui(
            ui,
            |ui| {
                for entry in &app.scenarios {
                    let selected = Some(&entry.source) == current.as_ref();
                    if ui.selectable_label(selected, &entry.label).clicked() && !selected {
                        actions.push(Action::Load(entry.source.clone()));
                    }
                }
            },
        );
        picker.response.labelled_by(label.id);
        ui.separator();
        ui.label("File:");
        let field = ui
            .add(egui::TextEdit::singleline(&mut app.path_text).hint_text("path/to/scenario.ron").desired_width(200.0));
        let enter = field.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
        if (ui.button("Open").clicked() || enter) && !app.path_text.trim().is_empty() {
            actions.push(Action::Load(ScenarioSource::File(PathBuf::from(app.path_text.trim()))));
        }
        ui.separator();
        let label = ui.label("Seed:");
        let seed = ui.add(egui::TextEdit::singleline(&mut app.seed_text).desired_width(90.0)).labelled_by(label.id);
        let enter = seed.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
        if ui.button("Re-run").on_hover_text("Run the scenario again from the start with this seed").clicked() || enter
        {
            actions.push(Action::Rerun);
        }
        ui.separator();
        ui.checkbox(&mut app.presenter, "Presenter mode")
            .on_hover_text("Everything larger, the job graph's text included, in high contrast: for a projector");
        // The window follows the system's theme at first; a bright room or a printout wants the
        // light one whatever the system says.
        let mut light = !ui.visuals().dark_mode;
        if ui.checkbox(&mut light, "Light").on_hover_text("the light theme (off: the dark one)").changed() {
            ui.ctx().set_theme(if light { egui::Theme::Light } else { egui::Theme::Dark });
        }
        // Every view: the course's Spark (week 11) and Kafka Streams (week 12) exercises too.
        if app.session.is_some() || app.storm.is_some() || app.spark.is_some() || app.kstreams.is_some() {
            ui.toggle_value(&mut app.predict.open, "Predict")
                .on_hover_text("The course's exercises on this scenario: predict what the run does, then check");
        }
    });
    if let Some(error) = &app.error {
        ui.horizontal_wrapped(|ui| {
            ui.colored_label(egui::Color32::from_rgb(200, 30, 30), format!("Could not load: {error}"));
        });
    }
    if let Some(session) = &app.session {
        ui.horizontal_wrapped(|ui| {
            ui.heading(&session.scenario.name);
        });
        if !session.scenario.description.is_empty() {
            ui.label(&session.scenario.description);
        }
    }
}
