//! The shown fork against its parent: the first divergence (a link to it), the sink rows it
//! added, removed or changed, the oracle's verdicts on both (against the same fault-free run),
//! and the charts of both runs overlaid.

use sim::kernel::TimeNs;

use crate::app::{Action, Session, Tab};
use crate::panels::ledger::status_color;
use crate::panels::plots::chart_ui;
use crate::panels::{BLOCKED_COLOR, DIVERGENCE_COLOR, GOOD_COLOR, IDLE_COLOR};
use crate::time_control::Command;
use crate::view::diff::Change;
use crate::view::time_text;

/// Lines listed per table (the counts above say how many there are).
const MAX_LINES: usize = 200;

fn change_color(change: Change) -> egui::Color32 {
    match change {
        Change::Added => GOOD_COLOR,
        Change::Removed => IDLE_COLOR,
        Change::Changed => BLOCKED_COLOR,
    }
}

pub fn diff_ui(
    ui: &mut egui::Ui,
    session: &Session,
    cursor_ns: TimeNs,
    reference_progress: Option<f32>,
    actions: &mut Vec<Action>,
) {
    let Some(fork) = &session.run().fork else {
        ui.label("This run is not a fork. Inject a fault at the cursor (Faults and outcomes tab, or right-click a subtask) to fork it, then come back here to see what the fault changed.");
        let forks: Vec<usize> = (0..session.runs.len()).filter(|&i| session.runs[i].fork.is_some()).collect();
        if !forks.is_empty() {
            ui.horizontal_wrapped(|ui| {
                ui.label("Forks of this session:");
                for i in forks {
                    if ui.link(&session.runs[i].label).clicked() {
                        actions.push(Action::ShowRun(i));
                    }
                }
            });
        }
        return;
    };
    let Some(diff) = session.diff.as_ref().filter(|d| d.fork == session.shown) else {
        ui.spinner();
        return;
    };
    let parent = &session.runs[fork.parent];
    ui.horizontal_wrapped(|ui| {
        ui.strong(format!("\"{}\" against its parent \"{}\"", session.run().label, parent.label));
        if ui.button("Show the parent").clicked() {
            actions.push(Action::ShowRun(fork.parent));
        }
    });
    egui::ScrollArea::vertical().id_salt("diff_scroll").auto_shrink([false, false]).show(ui, |ui| {
        // 1. Where they part.
        match &diff.divergence {
            Some(d) => {
                ui.horizontal_wrapped(|ui| {
                    let text = format!("First divergence: {}", time_text(&session.scenario, d.time_ns));
                    if ui
                        .link(egui::RichText::new(text).color(DIVERGENCE_COLOR))
                        .on_hover_text("move the cursor there (marked on both timelines)")
                        .clicked()
                    {
                        actions.push(Action::Time(Command::Seek(d.time_ns)));
                    }
                    ui.weak(format!(
                        "(the fault was clicked at {}; it fires at the next free whole millisecond)",
                        time_text(&session.scenario, fork.at_ns)
                    ));
                });
                ui.label(format!("parent: {}", d.parent.as_deref().unwrap_or("(its trace had ended)")));
                ui.label(format!("fork: {}", d.fork.as_deref().unwrap_or("(its trace had ended)")));
            }
            None => {
                ui.label("The two runs are identical: the fault changed nothing.");
            }
        }
        ui.separator();
        // 2. Sink rows.
        ui.horizontal_wrapped(|ui| {
            ui.strong("Sink rows (visible at the end):");
            for c in Change::ALL {
                ui.colored_label(change_color(c), format!("{} {}", diff.count(c), c.label()));
            }
        });
        if diff.rows.is_empty() {
            ui.weak("Both runs show the same rows.");
        } else {
            egui::Grid::new("diff_rows").striped(true).num_columns(6).show(ui, |ui| {
                for h in ["change", "sink", "key", "window", "parent", "fork"] {
                    ui.strong(h);
                }
                ui.end_row();
                for r in diff.rows.iter().take(MAX_LINES) {
                    let at = time_text(&session.scenario, r.time_ns);
                    if ui
                        .link(egui::RichText::new(r.change.label()).color(change_color(r.change)))
                        .on_hover_text(format!("first visible at {at}: move the cursor there"))
                        .clicked()
                    {
                        actions.push(Action::Time(Command::Seek(r.time_ns)));
                    }
                    ui.label(&r.sink);
                    ui.label(&r.key);
                    ui.label(&r.window);
                    ui.label(r.parent_text());
                    ui.label(r.fork_text());
                    ui.end_row();
                }
            });
            if diff.rows.len() > MAX_LINES {
                ui.weak(format!("… {} more", diff.rows.len() - MAX_LINES));
            }
        }
        ui.separator();
        // 3. Verdicts, both against the same fault-free run.
        ui.strong("Verdicts: every row of both runs against the same run without faults");
        match &diff.verdicts {
            None => {
                ui.label("Running the scenario without faults to compare every row with…");
                ui.add(egui::ProgressBar::new(reference_progress.unwrap_or(0.0)).show_percentage());
                ui.ctx().request_repaint();
            }
            Some(v) => {
                egui::Grid::new("diff_verdict_counts").striped(true).num_columns(3).show(ui, |ui| {
                    ui.strong("verdict");
                    ui.strong("parent");
                    ui.strong("fork");
                    ui.end_row();
                    for (status, p, f) in &v.counts {
                        ui.colored_label(status_color(*status), status.label()).on_hover_text(status.meaning());
                        ui.label(p.to_string());
                        if p == f {
                            ui.label(f.to_string());
                        } else {
                            ui.strong(f.to_string());
                        }
                        ui.end_row();
                    }
                });
                if ui.link("Open the fork's outcome table (provenance of each row)").clicked() {
                    actions.push(Action::ShowTab(Tab::Outcome));
                }
                if v.changes.is_empty() {
                    ui.weak("No result changed its verdict.");
                } else {
                    ui.label(format!("{} results changed their verdict:", v.changes.len()));
                    egui::Grid::new("diff_verdicts").striped(true).num_columns(5).show(ui, |ui| {
                        for h in ["sink", "key", "window", "parent", "fork"] {
                            ui.strong(h);
                        }
                        ui.end_row();
                        for c in v.changes.iter().take(MAX_LINES) {
                            ui.label(&c.sink);
                            ui.label(&c.key);
                            ui.label(&c.window);
                            ui.label(c.parent_text());
                            let color = c.fork.iter().find(|s| **s != crate::view::ledger::Status::Exact);
                            match color {
                                Some(s) => ui.colored_label(status_color(*s), c.fork_text()),
                                None => ui.label(c.fork_text()),
                            };
                            ui.end_row();
                        }
                    });
                    if v.changes.len() > MAX_LINES {
                        ui.weak(format!("… {} more", v.changes.len() - MAX_LINES));
                    }
                }
            }
        }
        ui.separator();
        // 4. Charts overlaid.
        ui.strong("Charts: the parent's series and the fork's (\"fork · …\") on one plot");
        let width = ui.available_width();
        let per_row = if width > 900.0 { 2 } else { 1 };
        let chart_width = width / per_row as f32 - 8.0;
        for pair in diff.charts.chunks(per_row) {
            ui.horizontal(|ui| {
                for chart in pair {
                    chart_ui(ui, chart, cursor_ns, egui::vec2(chart_width, 200.0));
                }
            });
        }
    });
}
