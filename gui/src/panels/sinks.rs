//! What the sinks wrote by the cursor: every row with its state (visible, pending in an open
//! transaction, aborted, overwritten), or only what a reader sees.

use crate::app::Session;
use crate::view::inspector::SinkRowView;
use crate::view::Frame;

pub fn sinks_ui(ui: &mut egui::Ui, session: &Session, frame: &Frame, visible_only: &mut bool) {
    let world = session.run().current();
    let total = world.sink_store.rows.len();
    ui.horizontal(|ui| {
        ui.checkbox(visible_only, "Only rows a reader sees (committed, not overwritten)");
        ui.weak(format!("{} of {} rows written so far", frame.sink_rows.len(), total));
    });
    let columns = ["sink", "key", "window", "value", "firing", "state", "written at", "visible at"];
    let row_height = ui.text_style_height(&egui::TextStyle::Body) + 4.0;
    egui::ScrollArea::vertical().id_salt("sink_rows").auto_shrink([false, false]).show_rows(
        ui,
        row_height,
        frame.sink_rows.len() + 1,
        |ui, range| {
            egui::Grid::new("sink_grid").num_columns(columns.len()).striped(true).min_col_width(60.0).show(ui, |ui| {
                for c in columns {
                    ui.strong(c);
                }
                ui.end_row();
                // Row 0 of the scroll range is the header; only visible rows are formatted.
                for i in range.start.max(1)..range.end {
                    let Some(&index) = frame.sink_rows.get(i - 1) else {
                        break;
                    };
                    let Some(row) = world.sink_store.rows.get(index as usize) else {
                        break;
                    };
                    let v = SinkRowView::of(&session.scenario, row);
                    for cell in [&v.sink, &v.key, &v.window, &v.value] {
                        ui.label(cell);
                    }
                    ui.label(v.firing);
                    ui.label(v.state);
                    ui.label(&v.written);
                    ui.label(&v.visible);
                    ui.end_row();
                }
            });
        },
    );
}
