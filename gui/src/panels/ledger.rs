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

/// The outcome table's columns.
const HEADERS: [&str; 6] = ["status", "key", "window", "value", "attempt", "visible at"];
/// Space between two columns, in points.
const COLUMN_GAP: f32 = 8.0;

/// Each column's width: the widest of its header and its cells (the longest text of each column
/// is measured, so a clock-time window or a "3 (expected 2)" value gets its room).
fn column_widths<const N: usize>(
    ui: &egui::Ui,
    headers: &[&str; N],
    rows: impl Iterator<Item = [String; N]>,
) -> [f32; N] {
    let mut longest: [String; N] = headers.map(str::to_string);
    for row in rows {
        for (l, cell) in longest.iter_mut().zip(row) {
            if cell.chars().count() > l.chars().count() {
                *l = cell;
            }
        }
    }
    let font = egui::TextStyle::Body.resolve(ui.style());
    // The header is bold and the status a selectable label (its padding): a little extra room.
    let pad = 2.0 * ui.spacing().button_padding.x;
    longest.map(|text| ui.painter().layout_no_wrap(text, font.clone(), Color32::WHITE).size().x + pad)
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
            // The header stays above the rows, which scroll: two grids whose columns line up by
            // their widths, each the widest of its header and its cells.
            let cells = |l: &crate::view::ledger::LedgerRow| {
                [
                    l.status.label().to_string(),
                    l.key.clone(),
                    l.window.clone(),
                    l.value_text(),
                    l.attempt_text(),
                    time_text(scenario, l.visible_ns),
                ]
            };
            let widths = column_widths(ui, &HEADERS, lines.iter().map(|&line| cells(&ledger.rows[line])));
            let grid = |id: &str| {
                egui::Grid::new(id.to_string())
                    .num_columns(widths.len())
                    .min_col_width(0.0)
                    .spacing(egui::vec2(COLUMN_GAP, 4.0))
            };
            let cell = |ui: &mut egui::Ui, i: usize, add: &mut dyn FnMut(&mut egui::Ui)| {
                let size = egui::vec2(widths[i], row_height - 4.0);
                ui.allocate_ui_with_layout(size, egui::Layout::left_to_right(egui::Align::Center), |ui| {
                    ui.set_min_width(widths[i]);
                    add(ui)
                });
            };
            // Narrower than the table (a docked Predict panel takes room): the table scrolls
            // sideways inside its column instead of running under the provenance.
            egui::ScrollArea::horizontal().id_salt("ledger_x").auto_shrink([false, true]).show(ui, |ui| {
                grid("ledger_header").show(ui, |ui| {
                    for (i, h) in HEADERS.iter().enumerate() {
                        cell(ui, i, &mut |ui| {
                            ui.strong(*h);
                        });
                    }
                    ui.end_row();
                });
                let area = egui::ScrollArea::vertical().id_salt("ledger_rows").auto_shrink([false, false]);
                let area = match height {
                    Some(h) => area.max_height(h),
                    None => area,
                };
                area.show_rows(ui, row_height, lines.len(), |ui, range| {
                    grid("ledger_grid").striped(true).show(ui, |ui| {
                        for &line in &lines[range] {
                            let l = &ledger.rows[line];
                            let [status, rest @ ..] = cells(l);
                            let text = egui::RichText::new(status).color(status_color(l.status));
                            let text = if l.status == Status::Missing { text.italics() } else { text };
                            let is_selected = selected.is_some_and(|(s, _)| s == line);
                            let mut clicked = false;
                            cell(ui, 0, &mut |ui| {
                                clicked |= ui
                                    .selectable_label(is_selected, text.clone())
                                    .on_hover_text(l.status.meaning())
                                    .clicked();
                            });
                            // The whole row selects, as the hint above says, not only its status.
                            for (i, text) in rest.iter().enumerate() {
                                cell(ui, i + 1, &mut |ui| {
                                    clicked |=
                                        ui.add(egui::Label::new(text.as_str()).sense(egui::Sense::click())).clicked();
                                });
                            }
                            if clicked {
                                click = Some(LedgerClick::Select(if is_selected { None } else { Some(line) }));
                            }
                            ui.end_row();
                        }
                    });
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
