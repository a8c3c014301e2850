//! Watermarks per subtask and input channel, and why each window subtask's next window has
//! (not) fired. The selected subtask comes first, then window subtasks, then the rest.

use crate::app::{Action, Session};
use crate::panels::{BLOCKED_COLOR, IDLE_COLOR, WATERMARK_COLOR};
use crate::view::watermarks::{watermark_text, WatermarkRow};
use crate::view::Frame;
use engine::graph::SubtaskId;

pub fn watermarks_ui(
    ui: &mut egui::Ui,
    session: &Session,
    frame: &Frame,
    selected: Option<SubtaskId>,
    actions: &mut Vec<Action>,
) {
    let scenario = &session.scenario;
    let mut rows: Vec<&WatermarkRow> = frame.watermarks.rows.iter().collect();
    // Stable sort: plan order within each group.
    rows.sort_by_key(|r| (Some(r.subtask) != selected, !r.is_window));
    ui.small("A subtask's watermark is the minimum over its active input channels; idle inputs do not count. A window fires when the watermark reaches its end minus 1 ms.");
    egui::ScrollArea::vertical().id_salt("watermarks_scroll").auto_shrink([false, false]).show(ui, |ui| {
        for row in rows {
            ui.horizontal_wrapped(|ui| {
                if ui.selectable_label(Some(row.subtask) == selected, egui::RichText::new(&row.name).strong()).clicked()
                {
                    actions.push(Action::Select(Some(row.subtask)));
                }
                ui.label("watermark");
                ui.colored_label(WATERMARK_COLOR, watermark_text(scenario, row.combined));
                if row.output != row.combined {
                    ui.weak(format!("(sent downstream: {})", watermark_text(scenario, row.output)));
                }
                if row.idle {
                    ui.colored_label(IDLE_COLOR, "idle");
                }
                ui.weak("·");
                for input in &row.inputs {
                    let held = Some(input.input) == row.holding_back && !row.idle;
                    let mut text = format!("{}: {}", input.from, watermark_text(scenario, input.watermark));
                    if input.idle {
                        text.push_str(" (idle)");
                    }
                    if input.catching_up {
                        text.push_str(" (catching up)");
                    }
                    if input.finished {
                        text = format!("{}: ended", input.from);
                    }
                    if held {
                        ui.colored_label(BLOCKED_COLOR, format!("{text} (holds it back)"));
                    } else {
                        ui.weak(text);
                    }
                }
            });
            ui.label(&row.explanation);
            ui.separator();
        }
    });
}
