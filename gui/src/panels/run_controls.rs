//! Choosing the guarantee, for the run on screen whichever model ran it ([`ShownRun`]): the
//! model's guarantees in its own words (`FaultToleranceModel::guarantees`), each with what it
//! does to the output. Choosing one runs the loaded scenario again under it
//! ([`Action::SetVariant`], which keeps the sink kind chosen).

use crate::app::Action;
use crate::shown_run::ShownRun;

/// The "Guarantee:" combo box: "as written" and each of the model's guarantees.
pub fn guarantee_combo_ui(ui: &mut egui::Ui, shown: &dyn ShownRun, actions: &mut Vec<Action>) {
    let (chosen, sink) = shown.choice();
    let label = ui.label("Guarantee:");
    let as_written = format!("as written ({})", shown.choice_of(shown.base().guarantee).label);
    let current = chosen.map_or(as_written.clone(), |g| shown.choice_of(g).label.to_string());
    let combo = egui::ComboBox::from_id_salt("guarantee").selected_text(current).show_ui(ui, |ui| {
        if ui.selectable_label(chosen.is_none(), &as_written).clicked() {
            actions.push(Action::SetVariant(None, sink));
        }
        for choice in shown.guarantees() {
            if ui.selectable_label(chosen == Some(choice.guarantee), choice.label).clicked() {
                actions.push(Action::SetVariant(Some(choice.guarantee), sink));
            }
        }
    });
    // On the closed box only: a tooltip over the open list would hide the entries below.
    let every_effect: Vec<String> = shown.guarantees().iter().map(|c| format!("{}: {}", c.label, c.effect)).collect();
    combo.response.labelled_by(label.id).on_hover_text(every_effect.join("\n"));
}

/// One line: what the shown run's guarantee does to the output when something fails.
pub fn guarantee_effect_ui(ui: &mut egui::Ui, shown: &dyn ShownRun) {
    let choice = shown.choice_of(shown.scenario().guarantee);
    ui.label(format!("{}: {}.", choice.label, choice.effect));
}
