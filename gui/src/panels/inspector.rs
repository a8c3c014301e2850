//! The inspector: the selected subtask's state at the cursor.

use crate::app::{Action, Session};
use crate::view::inspector::Table;
use crate::view::Frame;

pub fn inspector_ui(ui: &mut egui::Ui, session: &Session, frame: &Frame, actions: &mut Vec<Action>) {
    ui.heading("Inspector");
    let plan = &session.scenario.plan;
    let current = frame.inspector.as_ref().map_or("choose a subtask", |i| i.title.as_str());
    let label = ui.label("Subtask:");
    let picker = egui::ComboBox::from_id_salt("inspect_subtask").selected_text(current).show_ui(ui, |ui| {
        for s in &plan.subtasks {
            if ui.selectable_label(frame.inspector.as_ref().is_some_and(|i| i.title == s.name), &s.name).clicked() {
                actions.push(Action::Select(Some(s.id)));
            }
        }
    });
    picker.response.labelled_by(label.id);
    let Some(inspector) = &frame.inspector else {
        ui.label("Click a subtask in the graph (or pick one above) to see its state at the cursor: buffered inputs, watermarks, window contents, source offsets, sink transactions.");
        return;
    };
    ui.separator();
    egui::ScrollArea::vertical().auto_shrink([false, false]).show(ui, |ui| {
        egui::Grid::new("inspector_facts").num_columns(2).striped(true).show(ui, |ui| {
            for (k, v) in &inspector.facts {
                ui.label(*k);
                ui.label(v);
                ui.end_row();
            }
        });
        for (i, table) in inspector.tables.iter().enumerate() {
            ui.add_space(6.0);
            table_ui(ui, i, table);
        }
    });
}

fn table_ui(ui: &mut egui::Ui, index: usize, table: &Table) {
    ui.strong(&table.title);
    if table.rows.is_empty() {
        ui.weak("(empty)");
        return;
    }
    egui::Grid::new(("inspector_table", index)).num_columns(table.columns.len()).striped(true).show(ui, |ui| {
        for c in &table.columns {
            ui.small(*c);
        }
        ui.end_row();
        for row in &table.rows {
            for cell in row {
                ui.label(cell);
            }
            ui.end_row();
        }
    });
    if table.more > 0 {
        ui.weak(format!("… and {} more", table.more));
    }
}
