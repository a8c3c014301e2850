//! Faults and outcomes: inject a fault at the cursor (which forks the run: both runs are kept),
//! switch the guarantee and sink kind, and compare what each guarantee does to the output
//! under the same seed and faults.

use engine::sink::SinkKind;
use sim::kernel::TimeNs;

use crate::app::{Action, FaultSettings, Session};
use crate::panels::{faults, run_controls, BLOCKED_COLOR, GOOD_COLOR};
use crate::view::outcomes::{self, OutcomeRow};
use crate::view::subtasks_on;
use crate::view::time_text;

const SINKS: [SinkKind; 3] = [SinkKind::Plain, SinkKind::Idempotent, SinkKind::TwoPhaseCommit];

pub fn outcomes_ui(
    ui: &mut egui::Ui,
    session: &Session,
    cursor_ns: TimeNs,
    settings: &mut FaultSettings,
    actions: &mut Vec<Action>,
) {
    // Keyed by the scenario, so that opening another one starts at the top (its guarantee
    // control in sight), not where the last one's comparison was scrolled to.
    let scroll_id = ("outcomes_scroll", &session.scenario.name);
    // The bar always shows: at 1280x800 the network faults (partitions, delays) sit below the
    // fold, and a student did not find them behind a bar that appears only on hover.
    egui::ScrollArea::vertical()
        .id_salt(scroll_id)
        .auto_shrink([false, false])
        .scroll_bar_visibility(egui::scroll_area::ScrollBarVisibility::AlwaysVisible)
        .show(ui, |ui| {
            // Side by side: what to do on the left, what came of it on the right.
            ui.columns(2, |columns| {
                // Left: what to do (guarantee, faults) — it never moves. Right: what came of it. The
                // comparison table first: it is what the tab is for, and at 1280x800 the tab is
                // about 230 points high, so under the list of runs (which grows with every fork) it
                // was out of sight. Then the runs, each against the original, then the cost bars.
                variant_ui(&mut columns[0], session, actions);
                columns[0].separator();
                faults_ui(&mut columns[0], session, cursor_ns, settings, actions);
                comparison_ui(&mut columns[1], session, actions);
                columns[1].separator();
                runs_ui(&mut columns[1], session, actions);
                if let Some((run, reports)) = &session.comparison {
                    columns[1].separator();
                    cost_ui(&mut columns[1], *run, &outcomes::costs(reports), actions);
                }
            });
        });
}

fn variant_ui(ui: &mut egui::Ui, session: &Session, actions: &mut Vec<Action>) {
    let (guarantee, sink) = session.variant;
    ui.horizontal_wrapped(|ui| {
        run_controls::guarantee_combo_ui(ui, session, actions);
        let label = ui.label("Sinks:");
        let current = sink.map_or("as written", |k| k.label());
        let combo = egui::ComboBox::from_id_salt("sink_kind").selected_text(current).show_ui(ui, |ui| {
            if ui.selectable_label(sink.is_none(), "as written").clicked() {
                actions.push(Action::SetVariant(guarantee, None));
            }
            for k in SINKS {
                if ui.selectable_label(sink == Some(k), k.label()).clicked() {
                    actions.push(Action::SetVariant(guarantee, Some(k)));
                }
            }
        });
        combo.response.labelled_by(label.id);
        ui.weak("(changing these runs the scenario again)");
    });
    run_controls::guarantee_effect_ui(ui, session);
    let sink = sim::run::own_sink(&session.scenario);
    ui.small(format!("This run promises: {}.", outcomes::promise_with_sink(session.scenario.guarantee, sink)));
}

fn faults_ui(
    ui: &mut egui::Ui,
    session: &Session,
    cursor_ns: TimeNs,
    settings: &mut FaultSettings,
    actions: &mut Vec<Action>,
) {
    ui.strong(format!(
        "Inject a fault now ({}) — the run forks; the original stays",
        time_text(&session.scenario, cursor_ns)
    ));
    let tms = session.scenario.task_managers;
    faults::restart_setting_ui(ui, settings, "task manager");
    let on = |tm: u32| subtasks_on(&session.scenario, tm);
    faults::crash_buttons_ui(ui, tms, settings, on, actions);
    faults::isolate_buttons_ui(ui, tms, settings, actions);
    faults::link_buttons_ui(ui, tms, settings, actions);
    ui.small("Tip: right-click a subtask in the graph to crash its task manager. A crash is detected after the heartbeat timeout; then the pipelined regions with a task on that task manager restart from the latest completed checkpoint (at-most-once: with empty state) — the whole job when it has a shuffle.");
}

fn runs_ui(ui: &mut egui::Ui, session: &Session, actions: &mut Vec<Action>) {
    ui.strong("Runs of this scenario");
    ui.small(format!(
        "Fault schedule shown: {}. Switching the guarantee or sink (left) runs this same schedule again.",
        session.schedule_labels[session.shown]
    ));
    for (i, run) in session.runs.iter().enumerate() {
        ui.horizontal_wrapped(|ui| {
            if ui.selectable_label(i == session.shown, &run.label).clicked() {
                actions.push(Action::ShowRun(i));
            }
            ui.weak(format!(
                "[{} · {} sinks]",
                run.scenario.guarantee.label(),
                session.variants[i].1.map_or("as-written", |k| k.label())
            ));
            if let Some(fork) = &run.fork {
                ui.weak(format!("forked from \"{}\"", session.runs[fork.parent].label));
            }
            match &session.versus_original[i] {
                Some(outcome) => {
                    let color =
                        if outcome.class() == sim::scenario::OutcomeClass::Exact { GOOD_COLOR } else { BLOCKED_COLOR };
                    ui.colored_label(color, format!("vs the original: {}", outcomes::summary(outcome)));
                }
                None => {
                    ui.weak(format!(
                        "{} faults from the scenario file",
                        run.final_world.faults.len() - run.injections.len()
                    ));
                }
            }
        });
    }
}

fn comparison_ui(ui: &mut egui::Ui, session: &Session, actions: &mut Vec<Action>) {
    ui.strong("Compare the guarantees");
    ui.horizontal_wrapped(|ui| {
        if session.comparing.is_some() {
            ui.spinner();
            ui.label("comparing…");
        } else if ui
            .button("Compare at-most-once, at-least-once, exactly-once")
            .on_hover_text("Runs the scenario under each guarantee and sink kind with this run's faults, each against its own fault-free run")
            .clicked()
        {
            actions.push(Action::Compare);
        }
    });
    let Some((run, reports)) = &session.comparison else {
        ui.weak(
            "Same seed, same faults (those of the run shown), five setups; each is checked against its fault-free run.",
        );
        return;
    };
    ui.small(format!(
        "Faults of \"{}\". Records: source records whose effect reached the output too few / too many times.",
        session.runs[*run].label
    ));
    let rows: Vec<OutcomeRow> = outcomes::rows(reports);
    egui::Grid::new("comparison").striped(true).num_columns(6).show(ui, |ui| {
        // Short headers keep the table inside its column; the long form is a hover away.
        let headers = [
            ("guarantee", "the delivery guarantee the job runs with"),
            ("sinks", "how the sinks write: plain appends, idempotent upserts, two-phase-commit transactions"),
            ("result", "the visible output against the fault-free run: exact, loss, duplicates"),
            ("promise kept?", "does the output keep what the guarantee promises?"),
            ("lost", LOST_HINT),
            ("twice", TWICE_HINT),
        ];
        header_row(ui, &headers);
        for r in &rows {
            // Each row opens its run: the same faults under that guarantee and sink kind.
            let open = ui
                .link(r.guarantee)
                .on_hover_text("open this run (the same faults under this guarantee and sink), and its outcome table");
            if open.clicked() {
                actions.push(Action::ShowRun(*run));
                actions.push(Action::SetVariant(Some(r.variant.0), Some(r.variant.1)));
                actions.push(Action::ShowTab(crate::app::Tab::Outcome));
            }
            ui.label(r.sink);
            // The rest would not fit side by side: it is one hover away.
            let mut details = format!(
                "rows missing / extra / wrong: {} / {} / {}\nrestarts: {}\ncheckpoints: {}\nlatency p50 / p99: {}",
                r.missing_rows, r.extra_rows, r.wrong_rows, r.restarts, r.checkpoints, r.latency
            );
            for note in &r.notes {
                details.push('\n');
                details.push_str(note);
            }
            verdict_cells(ui, r).on_hover_text(details);
            ui.label(r.lost_records.to_string());
            ui.label(r.duplicated_records.to_string());
            ui.end_row();
        }
    });
    no_verdict_lines(ui, &rows, |r| format!("{} · {}", r.guarantee, r.sink));
    for r in rows.iter().filter(|r| r.stopped.is_some()) {
        let reason = r.stopped.as_deref().unwrap_or_default();
        ui.colored_label(
            BLOCKED_COLOR,
            format!(
                "{} · {}: the run stopped before the job finished ({reason}); the records it never read count as lost.",
                r.guarantee, r.sink
            ),
        );
    }
}

/// A run's verdict line (green when it kept what it is held to: its promise, or a declared outcome)
/// and the notes under it: why a "Duplicates" or "Loss" verdict shows no doubled or
/// missing row when the records sit inside rows both runs have (`Outcome::records_inside_rows`).
/// Every model's view says it this way.
pub fn verdict_ui(ui: &mut egui::Ui, kept: bool, verdict: &str, notes: &[String]) {
    let color = if kept { GOOD_COLOR } else { BLOCKED_COLOR };
    ui.colored_label(color, egui::RichText::new(verdict).strong());
    for note in notes {
        ui.label(note);
    }
}

/// A comparison row's "result" and "promise kept?" cells: the outcome and yes / no, or "no
/// verdict" and a dash when the fault-free reference did not finish (the line under the table
/// says why). Returns the result cell, for its hover text.
pub fn verdict_cells(ui: &mut egui::Ui, r: &OutcomeRow) -> egui::Response {
    if let Some(why) = &r.no_verdict {
        let result = ui.colored_label(BLOCKED_COLOR, "no verdict");
        ui.weak("—").on_hover_text(why);
        return result;
    }
    let result = ui.label(r.result);
    if r.keeps_promise {
        ui.colored_label(GOOD_COLOR, "yes").on_hover_text(r.promise);
    } else {
        ui.colored_label(BLOCKED_COLOR, "no").on_hover_text(r.promise);
    }
    result
}

/// Under a comparison table, for each setup without a verdict: "SETUP: no verdict: the
/// fault-free reference stopped (…)"; one line for all when every setup shares that reason (the
/// setups of one comparison share one reference run).
pub fn no_verdict_lines(ui: &mut egui::Ui, rows: &[OutcomeRow], setup: impl Fn(&OutcomeRow) -> String) {
    let without: Vec<(&OutcomeRow, &String)> =
        rows.iter().filter_map(|r| r.no_verdict.as_ref().map(|why| (r, why))).collect();
    let lines: Vec<String> = match without.first() {
        Some((_, first)) if without.len() == rows.len() && without.iter().all(|(_, why)| why == first) => {
            vec![format!("Every setup: {first}")]
        }
        _ => without.iter().map(|(r, why)| format!("{}: {why}", setup(r))).collect(),
    };
    for line in lines {
        ui.colored_label(BLOCKED_COLOR, line).on_hover_text(
            "Its output is incomplete, so no run can be judged against it; the counts in the table are against what it showed. A larger max_run_ms may let it finish.",
        );
    }
}

const LOST_HINT: &str = "source records whose effect reached the output fewer times than without faults";
const TWICE_HINT: &str = "source records whose effect reached the output more times than without faults";

/// A table's header row: short names, each with its long form on hover.
fn header_row(ui: &mut egui::Ui, headers: &[(&str, &str)]) {
    for (h, hint) in headers {
        ui.strong(*h).on_hover_text(*hint);
    }
    ui.end_row();
}

/// A bar `fraction` of `width` long with `text` after it.
fn bar(ui: &mut egui::Ui, fraction: f64, width: f32, color: egui::Color32, text: String) {
    let (rect, _) = ui.allocate_exact_size(egui::vec2(width, 12.0), egui::Sense::hover());
    let filled = (width * fraction.clamp(0.0, 1.0) as f32).max(if fraction > 0.0 { 1.0 } else { 0.0 });
    ui.painter().rect_filled(rect, 1.0, ui.visuals().faint_bg_color);
    ui.painter().rect_filled(egui::Rect::from_min_size(rect.min, egui::vec2(filled, rect.height())), 1.0, color);
    ui.label(text);
}

/// The cost of each guarantee on this seed and these faults, as bars: latency (p50 and p99),
/// throughput, records lost and counted twice. A setup's name opens its run.
fn cost_ui(ui: &mut egui::Ui, run: usize, costs: &outcomes::Costs, actions: &mut Vec<Action>) {
    ui.strong("Cost of each guarantee on this seed and these faults");
    ui.small("Bars are scaled to the largest value of their column. Latency: source record read to visible output.");
    // Four bar columns share what the setup names leave; at 1280 px the right column is narrow,
    // so the bars shrink (and the headers stay short, their long form a hover away) rather than
    // push "lost" and "twice" out of sight: each takes its bar and about 60 px of number.
    let width = ((ui.available_width() - 130.0) / 4.0 - 60.0).clamp(20.0, 70.0);
    egui::Grid::new("costs").striped(true).num_columns(5).show(ui, |ui| {
        let headers = [
            ("setup", "the guarantee and the sinks' kind; click to open that run"),
            ("latency (ms)", "p50 (blue) and p99 (purple): from a source record's read to the output it made visible"),
            ("records/s", "throughput: source records fully processed per second of the run"),
            ("lost", LOST_HINT),
            ("twice", TWICE_HINT),
        ];
        header_row(ui, &headers);
        for c in &costs.rows {
            // The guarantee above the sink kind: the row has two lines anyway (p50 and p99),
            // and one line would take the room of a column.
            let name = c.label.replace(" · ", "\n");
            if ui.link(name).on_hover_text("open this run (the same faults under this setup)").clicked() {
                actions.push(Action::ShowRun(run));
                actions.push(Action::SetVariant(Some(c.variant.0), Some(c.variant.1)));
                actions.push(Action::ShowTab(crate::app::Tab::Outcome));
            }
            ui.vertical(|ui| {
                ui.horizontal(|ui| {
                    let f = c.latency_p50_ms / costs.max_latency_ms;
                    bar(ui, f, width, crate::panels::RECORD_COLOR, format!("{:.0}", c.latency_p50_ms));
                });
                ui.horizontal(|ui| {
                    let f = c.latency_p99_ms / costs.max_latency_ms;
                    bar(ui, f, width, crate::panels::BARRIER_COLOR, format!("{:.0}", c.latency_p99_ms));
                });
            });
            ui.horizontal(|ui| {
                let f = c.throughput_per_s / costs.max_throughput_per_s;
                bar(ui, f, width, GOOD_COLOR, format!("{:.0}", c.throughput_per_s));
            });
            let max = costs.max_records as f64;
            ui.horizontal(|ui| {
                bar(ui, c.lost_records as f64 / max, width, crate::panels::IDLE_COLOR, c.lost_records.to_string());
            });
            ui.horizontal(|ui| {
                bar(ui, c.duplicated_records as f64 / max, width, BLOCKED_COLOR, c.duplicated_records.to_string());
            });
            ui.end_row();
        }
    });
}

/// A model's own view (Storm, Kafka Streams): its guarantees compared on the shown run's seed and
/// faults — a *Compare* button (a spinner while the runs go on off the UI thread), then one row
/// per setup: its name (a link that records the run under it), the result, whether it kept its
/// promise, lost and twice, and the model's own counters (`extra`: header and value).
pub struct ModelComparison<'a> {
    pub id: &'a str,
    pub shown: &'a dyn crate::shown_run::ShownRun,
    pub comparing: bool,
    pub reports: Option<&'a [sim::run::VariantReport]>,
    /// What the button runs, on hover ("the topology under acking off, acking and Trident").
    pub what: &'a str,
    /// How a setup's name says its sink (None: it does not; a model that compares one
    /// guarantee with two sinks names them in its own words).
    pub sink_name: Option<fn(engine::sink::SinkKind) -> &'static str>,
    pub extra: &'a [ExtraColumn<'a>],
}

/// A model's own counter in its comparison table: its header and its value in a report.
pub type ExtraColumn<'a> = (&'a str, fn(&sim::run::VariantReport) -> String);

impl ModelComparison<'_> {
    pub fn ui(&self, ui: &mut egui::Ui, actions: &mut Vec<Action>) {
        ui.horizontal_wrapped(|ui| {
            if self.comparing {
                ui.spinner();
                ui.label("comparing…");
            } else if ui
                .button("Compare the guarantees on these faults")
                .on_hover_text(format!(
                    "runs {} with this run's seed and faults, each against the same fault-free run",
                    self.what
                ))
                .clicked()
            {
                actions.push(Action::Compare);
            }
        });
        let Some(reports) = self.reports else {
            return;
        };
        let rows = crate::view::outcomes::rows(reports);
        let name = |row: &OutcomeRow| match self.sink_name {
            Some(sink) => format!("{} · {}", self.shown.choice_of(row.variant.0).label, sink(row.variant.1)),
            None => self.shown.choice_of(row.variant.0).label.to_string(),
        };
        egui::Grid::new(self.id).striped(true).num_columns(5 + self.extra.len()).show(ui, |ui| {
            for h in ["guarantee", "result", "promise kept?", "lost", "twice"] {
                ui.strong(h);
            }
            for (h, _) in self.extra {
                ui.strong(*h);
            }
            ui.end_row();
            for (row, report) in rows.iter().zip(reports) {
                if ui.link(name(row)).on_hover_text("record the run under this guarantee (same faults)").clicked() {
                    actions.push(Action::SetVariant(Some(row.variant.0), None));
                }
                let result = verdict_cells(ui, row);
                if !row.notes.is_empty() {
                    result.on_hover_text(row.notes.join("\n"));
                }
                ui.label(row.lost_records.to_string());
                ui.label(row.duplicated_records.to_string());
                for (_, value) in self.extra {
                    ui.label(value(report));
                }
                ui.end_row();
            }
        });
        no_verdict_lines(ui, &rows, |row| name(row));
        ui.small(
            "lost / twice: source records whose effect reached the output fewer / more times than without faults.",
        );
    }
}
