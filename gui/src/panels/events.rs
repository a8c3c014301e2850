//! The event log: what happened around the cursor, in plain words; a line moves the cursor.

use engine::graph::SubtaskId;
use sim::kernel::TimeNs;

use crate::app::{Action, Session};
use crate::time_control::Command;
use crate::view::events::{self, EventClass, EventFilter};

pub fn events_ui(
    ui: &mut egui::Ui,
    session: &Session,
    cursor_ns: TimeNs,
    selected: Option<SubtaskId>,
    filter: &mut EventFilter,
    actions: &mut Vec<Action>,
) {
    ui.horizontal_wrapped(|ui| {
        for class in EventClass::ALL {
            ui.checkbox(&mut filter.show[class as usize], class.label());
        }
        let mut only = filter.subtask.is_some();
        let name = selected.and_then(|s| session.scenario.plan.subtasks.get(s.index())).map(|s| s.name.clone());
        ui.add_enabled_ui(name.is_some() || only, |ui| {
            let text = match &name {
                Some(n) => format!("only {n} (the selected subtask)"),
                None => "only the selected subtask".to_string(),
            };
            if ui.checkbox(&mut only, text).changed() {
                filter.subtask = if only { selected } else { None };
            }
        });
        if only && filter.subtask != selected && selected.is_some() {
            filter.subtask = selected;
        }
    });
    ui.weak("The highlighted line is the last event at or before the cursor. Click a line to move the cursor there.");
    let lines = events::log(&session.scenario, &session.run().trace, cursor_ns, filter, 40, 15);
    // The log follows the cursor only when the highlighted line changes: scrolling to it every
    // frame would snap the log back while the student scrolls to read what came before.
    let followed_id = ui.scope_id().with("event_log_followed");
    let followed: Option<(TimeNs, usize)> = ui.data(|d| d.get_temp(followed_id));
    egui::ScrollArea::vertical().id_salt("event_log").auto_shrink([false, false]).show(ui, |ui| {
        egui::Grid::new("event_log_grid").num_columns(2).striped(true).show(ui, |ui| {
            for (i, line) in lines.iter().enumerate() {
                let time = egui::RichText::new(&line.time).monospace();
                let response = ui.selectable_label(line.current, time);
                if line.current && followed != Some((line.time_ns, i)) {
                    response.scroll_to_me(Some(egui::Align::Center));
                    // Followed once the line is in sight: on a tab's first frame the grid is not
                    // laid out yet and the scroll lands elsewhere, so it is asked for again.
                    if ui.clip_rect().contains_rect(response.rect) {
                        ui.data_mut(|d| d.insert_temp(followed_id, (line.time_ns, i)));
                    }
                }
                if response.clicked() {
                    actions.push(Action::Time(Command::Seek(line.time_ns)));
                }
                let text = egui::RichText::new(&line.caption);
                // Long narrations (a barrier's arrival and what it means) wrap inside the panel.
                ui.add(egui::Label::new(if line.time_ns > cursor_ns { text.weak() } else { text }).wrap());
                ui.end_row();
            }
        });
    });
}
