//! "Export for slides": the job graph at the cursor and the timeline (as zoomed) as PNG and SVG,
//! at a chosen size, into a folder named here (by default outside the repository).

use crate::app::Action;
use crate::slides::{SlideKind, MAX_SIDE, MIN_SIDE, SIZES};

pub fn export_menu_ui(
    ui: &mut egui::Ui,
    export_dir: &mut String,
    size: &mut (u32, u32),
    status: &Option<Result<String, crate::error::WriteError>>,
    actions: &mut Vec<Action>,
) {
    {
        // Stays open while a size is picked; the export buttons close it.
        let config =
            egui::containers::menu::MenuConfig::new().close_behavior(egui::PopupCloseBehavior::CloseOnClickOutside);
        let (button, _) = egui::containers::menu::MenuButton::new("Export for slides").config(config).ui(ui, |ui| {
            ui.label(format!("Files go to {export_dir}"));
            ui.horizontal(|ui| {
                ui.label("Folder:");
                ui.add(egui::TextEdit::singleline(export_dir).desired_width(320.0));
            });
            ui.weak("By default in your documents folder (or the temporary folder), outside the repository.");
            ui.horizontal_wrapped(|ui| {
                ui.label("Size:");
                for (w, h) in SIZES {
                    ui.selectable_value(size, (w, h), format!("{w}×{h}"));
                }
            });
            ui.horizontal(|ui| {
                ui.label("or");
                ui.add(egui::DragValue::new(&mut size.0).range(MIN_SIDE..=MAX_SIDE).suffix(" px wide"));
                ui.add(egui::DragValue::new(&mut size.1).range(MIN_SIDE..=MAX_SIDE).suffix(" px high"));
            });
            ui.weak("Titled with the scenario, seed, run and guarantee; PNG and SVG.");
            if ui.button("Export the job graph at the cursor").clicked() {
                actions.push(Action::ExportSlide(SlideKind::JobGraph));
                ui.close();
            }
            if ui.button("Export the timeline as shown").clicked() {
                actions.push(Action::ExportSlide(SlideKind::Timeline));
                ui.close();
            }
        });
        button.on_hover_text(format!("PNG and SVG of the job graph or the timeline, to {export_dir}"));
        // One short word on the row (the panel keeps its height); the whole message on hover.
        match status {
            Some(Ok(message)) => {
                ui.weak("exported").on_hover_text(message);
            }
            Some(Err(e)) => {
                ui.colored_label(crate::panels::BLOCKED_COLOR, "export failed").on_hover_text(e.to_string());
            }
            None => {}
        }
    }
}
