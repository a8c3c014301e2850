//! The outcome table: every visible row of the run against the run without faults, marked by
//! the oracle, with ghost rows for what is missing; filters and counts on top; the selected
//! row's provenance beside it, each step a link that moves the cursor.

use egui::Color32;
use sim::kernel::TimeNs;
use sim::Scenario;

use crate::app::{Action, Session};
use crate::panels::{BLOCKED_COLOR, GOOD_COLOR, IDLE_COLOR, WATERMARK_COLOR};
use crate::time_control::Command;
use crate::view::ledger::{Ledger, LedgerFilter, Provenance, Status};
use crate::view::time_text;

pub fn status_color(status: Status) -> Color32 {
    match status {
        Status::Exact => GOOD_COLOR,
        Status::Duplicate => BLOCKED_COLOR,
        Status::Wrong => WATERMARK_COLOR,
        Status::Missing => IDLE_COLOR,
        Status::Unexpected => Color32::from_rgb(150, 40, 170),
    }
}

/// What a click in the outcome table asks for.
pub enum LedgerClick {
    /// Select a line (None: unselect it).
    Select(Option<usize>),
    /// Move the cursor to a provenance step.
    Seek(TimeNs),
}

pub fn ledger_ui(
    ui: &mut egui::Ui,
    session: &Session,
    reference_progress: Option<f32>,
    filter: &mut LedgerFilter,
    actions: &mut Vec<Action>,
) {
    let Some(ledger) = session.ledgers.get(session.shown).and_then(|l| l.as_ref()) else {
        // The fault-free run to compare with is being recorded (off the UI thread).
        ui.label("Running the scenario without faults to compare every row with…");
        ui.add(egui::ProgressBar::new(reference_progress.unwrap_or(0.0)).show_percentage());
        ui.ctx().request_repaint();
        return;
    };
    let selected = session.provenance.as_ref().filter(|((run, _), _)| *run == session.shown).map(|((_, l), p)| (*l, p));
    // A variant run's label already names its guarantee and sink.
    let heading = match session.variant {
        (None, None) => format!(
            "{} ({} · {} sinks):",
            session.run().label,
            session.scenario.guarantee.label(),
            session.variant.1.map_or("as-written", |k| k.label())
        ),
        _ => format!("{}:", session.run().label),
    };
    // Held to the guarantee's promise, as the comparison table's "promise kept?" column is.
    let (outcome, guarantee) = (&ledger.outcome, session.scenario.guarantee);
    let kept = sim::run::keeps_promise(outcome, sim::scenario::Runtime::Flink, guarantee);
    let verdict = format!(
        "oracle vs the fault-free run: {:?} (the {} promise: {}); {}",
        outcome.class(),
        guarantee.label(),
        if kept { "kept" } else { "BROKEN" },
        outcome.counts_text()
    );
    crate::panels::outcomes::verdict_ui(ui, kept, &verdict, &outcome.records_inside_rows());
    let hint = "Select a row (a duplicate, say: press \"Only what differs\" to hide the exact ones) to follow it back: the source records that fed it, the checkpoint they belonged to, the crash, the restore, the replay and the emissions.";
    let table = LedgerTable { scenario: &session.scenario, ledger, heading, hint, height: None };
    match table.ui(ui, selected, filter) {
        Some(LedgerClick::Select(line)) => actions.push(Action::SelectLine(line)),
        Some(LedgerClick::Seek(t)) => actions.push(Action::Time(Command::Seek(t))),
        None => {}
    }
}

/// The outcome table of a run (Flink's or Storm's) and the selected line's provenance.
pub struct LedgerTable<'a> {
    pub scenario: &'a Scenario,
    pub ledger: &'a Ledger,
    pub heading: String,
    /// What the provenance column says before a line is selected.
    pub hint: &'a str,
    /// The table's height (None: what is left of the panel).
    pub height: Option<f32>,
}

impl LedgerTable<'_> {
    pub fn ui(
        &self,
        ui: &mut egui::Ui,
        selected: Option<(usize, &Option<Provenance>)>,
        filter: &mut LedgerFilter,
    ) -> Option<LedgerClick> {
        let (scenario, ledger) = (self.scenario, self.ledger);
        let mut click = None;
        ui.horizontal_wrapped(|ui| {
            ui.strong(&self.heading);
            for status in Status::ALL {
                let mut on = filter.shows(status);
                let text = egui::RichText::new(format!("{} {}", ledger.count(status), status.label()))
                    .color(status_color(status));
                if ui.checkbox(&mut on, text).on_hover_text(status.meaning()).changed() {
                    filter.set(status, on);
                }
            }
            if ui.button("Only what differs").on_hover_text("hide the exact rows").clicked() {
                filter.show = [true; 5];
                filter.set(Status::Exact, false);
            }
            if ui.small_button("All").clicked() {
                filter.show = [true; 5];
            }
        });
        ui.horizontal_wrapped(|ui| {
            let label = ui.label("Key:");
            ui.add(egui::TextEdit::singleline(&mut filter.key).desired_width(80.0)).labelled_by(label.id);
            let label = ui.label("Window:");
            ui.add(egui::TextEdit::singleline(&mut filter.window).desired_width(120.0)).labelled_by(label.id);
            ui.checkbox(&mut filter.later_attempts, "attempt 2 or later").on_hover_text(
                "only rows written after a restart (Storm: by a replay or re-read), exact ones included",
            );
            ui.weak("Rows against the same seed without faults. Click a row to see where it came from.");
        });
        let lines = ledger.filtered(filter);
        let height = self.height;
        ui.columns(2, |columns| {
            let ui = &mut columns[0];
            let row_height = ui.text_style_height(&egui::TextStyle::Body) + 6.0;
            let area = egui::ScrollArea::vertical().id_salt("ledger_rows").auto_shrink([false, false]);
            let area = match height {
                Some(h) => area.max_height(h),
                None => area,
            };
            area.show_rows(ui, row_height, lines.len() + 1, |ui, range| {
                egui::Grid::new("ledger_grid").num_columns(6).striped(true).show(ui, |ui| {
                    for h in ["status", "key", "window", "value", "attempt", "visible at"] {
                        ui.strong(h);
                    }
                    ui.end_row();
                    for i in range.start.max(1)..range.end {
                        let Some(&line) = lines.get(i - 1) else {
                            break;
                        };
                        let l = &ledger.rows[line];
                        let text = egui::RichText::new(l.status.label()).color(status_color(l.status));
                        let text = if l.status == Status::Missing { text.italics() } else { text };
                        let is_selected = selected.is_some_and(|(s, _)| s == line);
                        let mut clicked =
                            ui.selectable_label(is_selected, text).on_hover_text(l.status.meaning()).clicked();
                        // The whole row selects, as the hint above says, not only its status.
                        let cells = [
                            l.key.clone(),
                            l.window.clone(),
                            l.value_text(),
                            l.attempt_text(),
                            time_text(scenario, l.visible_ns),
                        ];
                        for cell in cells {
                            clicked |= ui.add(egui::Label::new(cell).sense(egui::Sense::click())).clicked();
                        }
                        if clicked {
                            click = Some(LedgerClick::Select(if is_selected { None } else { Some(line) }));
                        }
                        ui.end_row();
                    }
                });
            });
            let ui = &mut columns[1];
            let area = egui::ScrollArea::vertical().id_salt("provenance").auto_shrink([false, false]);
            let area = match height {
                Some(h) => area.max_height(h),
                None => area,
            };
            area.show(ui, |ui| match selected {
                None => {
                    ui.strong("Provenance");
                    ui.label(self.hint);
                }
                Some((_, None)) => {
                    ui.label("No provenance for this row.");
                }
                Some((_, Some(p))) => {
                    ui.strong(&p.headline);
                    // One step under the other, its caption below its link: a grid placed its
                    // rows by the heights of the previous frame, so on the frame a chain first
                    // showed, a wrapped caption pushed its row's link onto the next one's.
                    for (i, step) in p.steps.iter().enumerate() {
                        ui.push_id(("provenance_step", i), |ui| {
                            match step.time_ns {
                                Some(t) => {
                                    let text = format!("{}: {}", step.title, time_text(scenario, t));
                                    // As wide as its text (the column's layout stretches
                                    // widgets across it).
                                    let link = ui.horizontal(|ui| ui.link(text)).inner;
                                    if link.on_hover_text("move the cursor here").clicked() {
                                        click = Some(LedgerClick::Seek(t));
                                    }
                                }
                                None => {
                                    ui.strong(&step.title);
                                }
                            }
                            ui.indent("caption", |ui| ui.add(egui::Label::new(&step.caption).wrap()));
                        });
                    }
                    ui.separator();
                    ui.strong("Why");
                    ui.label(&p.why);
                }
            });
        });
        click
    }
}
