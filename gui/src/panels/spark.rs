//! The Spark panel: draws a [`SparkFrame`](crate::view::spark::SparkFrame) — the verdict, the
//! time scrubber and the timeline (the driver's batches, each executor's tasks, crashes and
//! restarts), the driver and executors at the cursor, what a driver restart resumed from, the
//! batches so far and the selected batch's steps and task attempts. Drawing only; the state is
//! the [`SparkSession`]'s cursor and selection.

use egui::{Color32, Sense, Stroke};

use crate::app::{Action, FaultSettings};
use crate::panels::ledger::{LedgerClick, LedgerTable};
use crate::panels::scrubber::Scrub;
use crate::panels::{run_controls, Shared, BLOCKED_COLOR, DOWN_COLOR, GOOD_COLOR, IDLE_COLOR};
use crate::shown_run::ShownRun as _;
use crate::view::spark::{BatchStep, SparkSession, SparkTab};
use crate::view::time_text;

const MAP_COLOR: Color32 = Color32::from_rgb(0, 114, 178);
const REDUCE_COLOR: Color32 = Color32::from_rgb(0, 158, 115);
const RERUN_COLOR: Color32 = Color32::from_rgb(230, 159, 0);
/// An executor's link to the driver cut or delayed (a box over its lane).
const LINK_FAULT_COLOR: Color32 = Color32::from_rgb(204, 121, 167);

/// `shared`: the fault buttons' knobs and the chart export's folder, shared with the other views.
pub fn spark_ui(ui: &mut egui::Ui, s: &mut SparkSession, shared: Shared, actions: &mut Vec<Action>) {
    let line = |s: &SparkSession| s.provenance.as_ref().map(|p| p.0);
    let before = (s.cursor_ns, s.selected, s.tab, line(s));
    spark_frame_ui(ui, s, shared, actions);
    // A button or the slider moved the cursor or the selection: draw the new state next frame.
    if (s.cursor_ns, s.selected, s.tab, line(s)) != before {
        ui.ctx().request_repaint();
    }
}

fn spark_frame_ui(ui: &mut egui::Ui, s: &mut SparkSession, shared: Shared, actions: &mut Vec<Action>) {
    // Wrapped: a long name must not widen the view past its panel (text clipped at the edge).
    ui.horizontal_wrapped(|ui| {
        ui.heading(format!("Spark query: {}", s.scenario.name));
        ui.label(format!("seed {}", s.seed));
    });
    ui.horizontal_wrapped(|ui| {
        run_controls::guarantee_combo_ui(ui, s, actions);
        ui.weak("(changing it runs the query again)");
    });
    run_controls::guarantee_effect_ui(ui, s);
    ui.horizontal(|ui| {
        ui.selectable_value(&mut s.tab, SparkTab::Batches, "Batches and tasks");
        ui.selectable_value(&mut s.tab, SparkTab::Charts, "Charts")
            .on_hover_text("records per batch, batch durations against the trigger interval, the lag");
        ui.selectable_value(&mut s.tab, SparkTab::Outcome, format!("Outcome ({})", s.ledger.counts_text()))
            .on_hover_text(
                "the sink rows against the same query without faults, row by row, with the batch that wrote each",
            );
        ui.selectable_value(&mut s.tab, SparkTab::Save, "Save / export")
            .on_hover_text("this run as a scenario file, its sink output, its trace for Perfetto");
    });
    ui.separator();
    verdict_ui(ui, s);
    if s.tab == SparkTab::Save {
        ui.separator();
        return;
    }
    if s.tab == SparkTab::Outcome {
        ui.separator();
        outcome_ui(ui, s);
        return;
    }
    ui.separator();
    scrubber_ui(ui, s);
    timeline_ui(ui, s);
    crash_ui(ui, s, shared.faults, actions);
    network_ui(ui, s, shared.faults, actions);
    if s.tab == SparkTab::Charts {
        ui.separator();
        crate::panels::plots::plots_ui(ui, &s.charts, s.cursor_ns, shared.export_dir, shared.export_status, actions);
        return;
    }
    ui.separator();
    let frame = s.frame();
    ui.columns(2, |cols| {
        let ui = &mut cols[0];
        ui.strong(format!("At {}", time_text(&s.scenario, s.cursor_ns)));
        egui::Grid::new("spark_nodes").striped(true).show(ui, |ui| {
            ui.label("driver (jm)");
            if frame.driver.alive {
                ui.colored_label(GOOD_COLOR, format!("running query run {}", frame.driver.query_run));
            } else {
                ui.colored_label(BLOCKED_COLOR, "down: no batch runs");
            }
            ui.end_row();
            for e in &frame.executors {
                ui.label(format!("executor {}", e.name));
                match (e.alive, e.running.is_empty()) {
                    (false, _) => ui.colored_label(BLOCKED_COLOR, "down: its tasks and shuffle files are lost"),
                    (true, true) => ui.weak("idle"),
                    (true, false) => ui.label(format!("running {}", e.running.join(", "))),
                };
                ui.end_row();
            }
        });
        if !frame.recovery.is_empty() {
            ui.add_space(6.0);
            ui.strong("After the driver crash");
            for line in &frame.recovery {
                ui.label(line);
            }
        }
        ui.add_space(6.0);
        ui.horizontal_wrapped(|ui| {
            ui.strong("Batches so far (click one for its steps)");
            if let Some(first) = frame.batches.first().filter(|b| b.index > 0) {
                ui.weak(format!("the latest {} of {}", frame.batches.len(), first.index + frame.batches.len()));
            }
        });
        // The header stays above the rows, which scroll to the latest: two grids whose columns
        // line up by their widths.
        let widths = [70.0, 62.0, 82.0, 52.0, 96.0, 36.0, 150.0];
        let grid = |id: &str| {
            egui::Grid::new(id.to_string()).num_columns(widths.len()).min_col_width(0.0).spacing(egui::vec2(6.0, 4.0))
        };
        let cell = |ui: &mut egui::Ui, i: usize, add: &mut dyn FnMut(&mut egui::Ui)| {
            ui.allocate_ui_with_layout(
                egui::vec2(widths[i], 18.0),
                egui::Layout::left_to_right(egui::Align::Center),
                |ui| {
                    ui.set_min_width(widths[i]);
                    add(ui)
                },
            );
        };
        grid("spark_batch_header").show(ui, |ui| {
            for (i, h) in ["batch", "query run", "trigger due", "records", "tasks done", "rows", "step"].iter().enumerate() {
                cell(ui, i, &mut |ui| {
                    ui.strong(*h);
                });
            }
            ui.end_row();
        });
        egui::ScrollArea::vertical().id_salt("spark_batches").max_height(300.0).stick_to_bottom(true).show(ui, |ui| {
            grid("spark_batch_table").striped(true).show(ui, |ui| {
                let shown = s.selected.or(s.batch_at_cursor());
                for b in &frame.batches {
                    let name = if b.rerun { format!("{} (re-run)", b.id) } else { b.id.to_string() };
                    let mut clicked = false;
                    cell(ui, 0, &mut |ui| clicked = ui.selectable_label(shown == Some(b.index), name.as_str()).clicked());
                    if clicked {
                        s.select_batch(b.index);
                    }
                    let failed = match b.failed_attempts {
                        0 => String::new(),
                        n => format!(" ({n} cut short)"),
                    };
                    let texts = [
                        b.query_run.to_string(),
                        time_text(&s.scenario, b.due_ns),
                        b.records.to_string(),
                        format!("{}/{}{failed}", b.done, b.tasks),
                        b.rows_written.to_string(),
                    ];
                    for (i, text) in texts.iter().enumerate() {
                        cell(ui, i + 1, &mut |ui| {
                            ui.label(text);
                        });
                    }
                    cell(ui, 6, &mut |ui| {
                        match b.step {
                            BatchStep::Abandoned => ui.colored_label(BLOCKED_COLOR, b.step.text()),
                            BatchStep::Committed => ui.label(b.step.text()),
                            _ => ui.strong(b.step.text()),
                        };
                    });
                    ui.end_row();
                }
            });
        });
        let ui = &mut cols[1];
        ui.horizontal(|ui| {
            if ui.button("Previous batch").clicked() {
                s.step_batch(false);
            }
            if ui.button("Next batch").clicked() {
                s.step_batch(true);
            }
            let rerun = s.batches().iter().any(|b| b.rerun);
            if ui
                .add_enabled(rerun, egui::Button::new("Show the re-run batch"))
                .on_hover_text("the batch a restarted driver found in the offset log without a commit")
                .on_disabled_hover_text("no batch was re-run in this run")
                .clicked()
            {
                s.show_rerun();
            }
        });
        let Some(selected) = s.selected.or(s.batch_at_cursor()) else {
            ui.label("No batch yet: the driver's first trigger plans batch 0. Next batch steps through the batches; Show the re-run batch goes to the one a restarted driver ran again; a click on the timeline moves the cursor there.");
            return;
        };
        let b = &s.batches()[selected];
        ui.strong(format!("Batch {}{} in query run {}", b.id, if b.rerun { " (re-run)" } else { "" }, b.run + 1));
        // One wrapped line per step: a grid's cells do not wrap, and the offset ranges are long.
        for (at, text) in &frame.steps {
            ui.label(format!("{}   {text}", time_text(&s.scenario, *at)));
        }
        ui.add_space(6.0);
        ui.strong("Task attempts");
        egui::Grid::new("spark_attempts").striped(true).show(ui, |ui| {
            for h in ["task", "attempt", "executor", "launched", "ended", "rows", "state"] {
                ui.strong(h);
            }
            ui.end_row();
            for a in &frame.attempts {
                ui.label(&a.task);
                ui.label(a.attempt.to_string());
                ui.label(&a.executor);
                // A task lasts milliseconds: too short to hit on the timeline, so its launch
                // time puts the cursor inside it (where a crash of its executor cuts it short).
                let inside = a.launched_ns + a.ended_ns.map_or(0, |e| e.saturating_sub(a.launched_ns) / 2);
                if ui
                    .link(time_text(&s.scenario, a.launched_ns))
                    .on_hover_text("put the cursor while it runs (to crash its executor there)")
                    .clicked()
                {
                    s.set_cursor(inside);
                }
                ui.label(a.ended_ns.map_or("-".to_string(), |t| time_text(&s.scenario, t)));
                ui.label(a.rows_written.to_string());
                if a.ok {
                    ui.label(a.state);
                } else {
                    ui.colored_label(BLOCKED_COLOR, a.state);
                }
                ui.end_row();
            }
        });
    });
}

/// Crash the driver or an executor at the cursor: the query is recorded again with it (the same
/// seed: the same run up to the crash); the clicked crashes add up until cleared.
fn crash_ui(ui: &mut egui::Ui, s: &SparkSession, settings: &mut FaultSettings, actions: &mut Vec<Action>) {
    // A Spark node always comes back (a supervised driver relaunched, a replacement executor):
    // "never" is not offered here.
    let back_ms = *settings.restart_after_ms.get_or_insert(2_000);
    ui.horizontal_wrapped(|ui| {
        ui.label(format!("At {}:", time_text(&s.scenario, s.cursor_ns)));
        if ui
            .button("Crash the driver")
            .on_hover_text("the query stops; the restarted driver reads the checkpoint location")
            .clicked()
        {
            actions.push(Action::CrashDriver);
        }
        for tm in 0..s.scenario.task_managers {
            let request = crate::app::FaultRequest::Crash { tm, restart_after_ms: settings.restart_after_ms };
            if ui
                .button(format!("Crash executor tm-{tm}"))
                .on_hover_text("its running tasks and its map outputs are lost: the driver launches them again")
                .clicked()
            {
                actions.push(Action::Inject(request));
            }
        }
        let mut ms = back_ms;
        let label = ui.label("back after");
        if ui.add(crate::panels::faults::length_ms_field(&mut ms, 600_000)).labelled_by(label.id).changed() {
            settings.restart_after_ms = Some(ms);
        }
        if let Some(clicked) = s.origin.injected_text() {
            ui.label(format!("(this run: {}, then {clicked})", crate::view::file_faults_text(&s.origin.base)));
            if ui.button("Back to the file's faults").clicked() {
                actions.push(Action::ClearInjectedFaults);
            }
        }
    });
}

/// Cut an executor off from the driver, or delay their link, at the cursor for the outage's
/// length: the query is recorded again with it. Messages wait out a cut (task launches, task
/// results), so the batch running then finishes late and the next ones start late (*Charts*).
/// The executors talk only to the driver: links between them carry nothing to cut.
fn network_ui(ui: &mut egui::Ui, s: &SparkSession, settings: &mut FaultSettings, actions: &mut Vec<Action>) {
    ui.horizontal_wrapped(|ui| {
        let label = ui.label("For");
        crate::panels::faults::outage_ui(ui, settings, label.id);
        for tm in 0..s.scenario.task_managers {
            let request = crate::app::FaultRequest::Isolate { tm, duration_ms: settings.outage_ms };
            if ui
                .button(format!("Cut tm-{tm} off from the driver"))
                .on_hover_text(
                    "task launches and results between them wait until the cut heals: the batch finishes late",
                )
                .clicked()
            {
                actions.push(Action::Inject(request));
            }
        }
        let label = ui.label("or delay by");
        ui.add(crate::panels::faults::length_ms_field(&mut settings.link_delay_ms, 60_000)).labelled_by(label.id);
        for tm in 0..s.scenario.task_managers {
            let request = crate::app::FaultRequest::DelayJobManager {
                tm,
                extra_ms: settings.link_delay_ms,
                duration_ms: settings.outage_ms,
            };
            if ui
                .button(format!("Delay driver<->tm-{tm}"))
                .on_hover_text("every message between them takes this much longer while it lasts")
                .clicked()
            {
                actions.push(Action::Inject(request));
            }
        }
    });
}

/// The Spark run's outcome table: its sink rows against the query without faults, and the
/// selected row's chain (a step's time moves the cursor there and opens the Batches tab, which
/// shows the scrubber, the timeline and the batch at that moment).
fn outcome_ui(ui: &mut egui::Ui, s: &mut SparkSession) {
    let table = LedgerTable {
        scenario: &s.scenario,
        ledger: &s.ledger,
        heading: format!("{} (attempt: the query run that wrote the row):", s.choice_of(s.scenario.guarantee).label),
        hint: "Select a row (a duplicate, say: untick \"exact\" or press \"Only what differs\") to follow it back: the batch that wrote it, the task, the commit or the crash that cut its batch short, and the earlier write it repeats.",
        // The rows take the height left in the view below the filters and the header (as the
        // Storm view's do): a fixed 420 points left the bottom of a 1280x800 window empty.
        height: Some((ui.clip_rect().bottom() - ui.cursor().top() - 90.0).max(200.0)),
    };
    let selected = s.provenance.as_ref().map(|(l, p)| (*l, p));
    match table.ui(ui, selected, &mut s.filter) {
        Some(LedgerClick::Select(line)) => s.select_line(line),
        Some(LedgerClick::Seek(t)) => {
            s.selected = None;
            s.set_cursor(t);
            s.tab = SparkTab::Batches;
        }
        None => {}
    }
}

/// The oracle's verdict in `streamlab run`'s words, and the rows a reader sees.
fn verdict_ui(ui: &mut egui::Ui, s: &SparkSession) {
    crate::panels::outcomes::verdict_ui(ui, s.kept, &s.verdict, &[]);
    ui.label(format!(
        "Sink rows a reader sees at the end: {} (the same query without faults: {}).",
        s.rows_visible, s.rows_reference
    ));
    for note in &s.notes {
        ui.label(note);
    }
}

fn scrubber_ui(ui: &mut egui::Ui, s: &mut SparkSession) {
    match crate::panels::scrubber::scrubber_ui(ui, &s.scenario, s.cursor_ns, s.end_ns) {
        Some(Scrub::Stepped(t)) => s.set_cursor(t),
        // Moving the time lets the batch at the cursor be the one detailed.
        Some(Scrub::Dragged(t)) => {
            s.selected = None;
            s.set_cursor(t);
        }
        None => {}
    }
}

/// The run's time axis: a lane for the driver's batches (re-runs in orange, abandoned ones in
/// red), a lane per executor with its task attempts (map blue, reduce green, failed red), the
/// crashes as dark lines and the restarts as green ones, the cursor; a click moves the cursor.
fn timeline_ui(ui: &mut egui::Ui, s: &mut SparkSession) {
    let visuals = ui.visuals().clone();
    let lanes = 1 + s.scenario.task_managers as usize;
    let lane_h = 16.0;
    let crash = if visuals.dark_mode { "white" } else { "dark" };
    ui.label(format!("timeline: the driver's batches (grey; re-run orange, abandoned red), each executor's tasks (map blue, reduce green, cut short red); crashes {crash}, restarts green; pink box over an executor: its link to the driver cut or delayed. Click to move the cursor."));
    let label_w = 90.0;
    let width = ui.available_width().max(200.0);
    let (rect, response) = ui.allocate_exact_size(egui::vec2(width, lane_h * lanes as f32 + 4.0), Sense::click());
    let axis = egui::Rect::from_min_max(egui::pos2(rect.left() + label_w, rect.top()), rect.max);
    let end = s.end_ns.max(1) as f64;
    let x = |t: u64| axis.left() + axis.width() * ((t as f64 / end).min(1.0) as f32);
    // What the pointer is over (a batch, a task attempt), said in a tooltip.
    let hover = response.hover_pos();
    let mut tip: Option<String> = None;
    let lane = |i: usize| {
        egui::Rect::from_min_max(
            egui::pos2(axis.left(), rect.top() + 2.0 + lane_h * i as f32),
            egui::pos2(axis.right(), rect.top() + lane_h * (i + 1) as f32),
        )
    };
    let painter = ui.painter();
    painter.rect_filled(axis, 2.0, visuals.extreme_bg_color);
    let font = egui::FontId::proportional(11.0);
    painter.text(
        egui::pos2(rect.left(), lane(0).center().y),
        egui::Align2::LEFT_CENTER,
        "driver",
        font.clone(),
        visuals.text_color(),
    );
    for i in 0..s.scenario.task_managers {
        painter.text(
            egui::pos2(rect.left(), lane(1 + i as usize).center().y),
            egui::Align2::LEFT_CENTER,
            format!("executor tm-{i}"),
            font.clone(),
            visuals.text_color(),
        );
    }
    for (at, crashed, driver) in s.markers() {
        let color = if crashed { DOWN_COLOR } else { GOOD_COLOR };
        let color = if crashed && visuals.dark_mode { visuals.strong_text_color() } else { color };
        let (top, bottom) = if driver { (rect.top(), rect.bottom()) } else { (lane(1).top(), rect.bottom()) };
        painter.line_segment([egui::pos2(x(at), top), egui::pos2(x(at), bottom)], Stroke::new(2.0, color));
    }
    let driver_lane = lane(0).shrink2(egui::vec2(0.0, 2.0));
    for (i, b) in s.batches().iter().enumerate() {
        let end_ns = b.committed_ns.unwrap_or_else(|| s.abandoned_at(i));
        let color = match (b.committed_ns.is_some(), b.rerun) {
            (false, _) => BLOCKED_COLOR,
            (true, true) => RERUN_COLOR,
            // Grey on either theme (the theme's widget fill vanished on the light one).
            (true, false) => IDLE_COLOR,
        };
        // At least 4 px: a batch takes tens of ms of a run of tens of seconds.
        let (l, r) = (x(b.started_ns), x(end_ns).max(x(b.started_ns) + 4.0));
        let r_rect = egui::Rect::from_min_max(egui::pos2(l, driver_lane.top()), egui::pos2(r, driver_lane.bottom()));
        painter.rect_filled(r_rect, 1.0, color);
        if hover.is_some_and(|p| r_rect.expand2(egui::vec2(0.0, 2.0)).contains(p)) {
            let state = match (b.committed_ns, b.rerun) {
                (None, _) => "abandoned: no commit".to_string(),
                (Some(c), rerun) => {
                    format!("{}committed at {}", if rerun { "re-run, " } else { "" }, time_text(&s.scenario, c))
                }
            };
            tip = Some(format!(
                "batch {} (query run {}): started {}, {state}",
                b.id,
                b.run + 1,
                time_text(&s.scenario, b.started_ns)
            ));
        }
        if s.selected == Some(i) {
            painter.rect_stroke(
                r_rect,
                1.0,
                Stroke::new(1.5, visuals.selection.stroke.color),
                egui::StrokeKind::Outside,
            );
        }
    }
    for a in &s.watch.attempts {
        let lane_rect = lane(1 + a.executor as usize).shrink2(egui::vec2(0.0, 2.0));
        let end_ns = a.ended.map_or(s.end_ns, |e| e.0);
        let failed = a.ended.is_some_and(|e| e.1 != sim::spark::core::TaskEnd::Done);
        let color = match (failed, a.task) {
            (true, _) => BLOCKED_COLOR,
            (false, sim::spark::core::TaskRef::Map(_)) => MAP_COLOR,
            (false, sim::spark::core::TaskRef::Reduce(_)) => REDUCE_COLOR,
        };
        let (l, r) = (x(a.launched_ns), x(end_ns).max(x(a.launched_ns) + 1.5));
        let a_rect = egui::Rect::from_min_max(egui::pos2(l, lane_rect.top()), egui::pos2(r, lane_rect.bottom()));
        painter.rect_filled(a_rect, 0.0, color);
        if hover.is_some_and(|p| a_rect.expand2(egui::vec2(1.0, 2.0)).contains(p)) {
            let id = s.batches().get(a.batch_index).map_or(0, |b| b.id);
            tip = Some(format!(
                "batch {id}: {} (attempt {}) on tm-{}, launched {}{}",
                match a.task {
                    sim::spark::core::TaskRef::Map(p) => format!("map {p}"),
                    sim::spark::core::TaskRef::Reduce(r) => format!("reduce {r}"),
                },
                a.attempt,
                a.executor,
                time_text(&s.scenario, a.launched_ns),
                if failed { ", cut short" } else { "" }
            ));
        }
    }
    // An executor's link to the driver cut or delayed: a band over its lane (outlined, so the
    // tasks waiting under it still show).
    for f in s.driver_link_faults() {
        let lane_rect = lane(1 + f.executor as usize);
        let band = egui::Rect::from_min_max(
            egui::pos2(x(f.from_ns), lane_rect.top()),
            egui::pos2(x(f.until_ns).max(x(f.from_ns) + 2.0), lane_rect.bottom()),
        );
        painter.rect_filled(band, 0.0, LINK_FAULT_COLOR.gamma_multiply(0.3));
        painter.rect_stroke(band, 0.0, Stroke::new(1.5, LINK_FAULT_COLOR), egui::StrokeKind::Inside);
        if hover.is_some_and(|p| band.contains(p)) {
            let what = match f.extra_ns {
                None => "cut off from the driver: task launches and results wait".to_string(),
                Some(extra) => format!("its link to the driver delayed by {}", crate::view::duration_text(extra)),
            };
            tip = Some(format!(
                "tm-{} {what}, {} to {}",
                f.executor,
                time_text(&s.scenario, f.from_ns),
                time_text(&s.scenario, f.until_ns)
            ));
        }
    }
    let c = x(s.cursor_ns);
    painter.line_segment(
        [egui::pos2(c, rect.top()), egui::pos2(c, rect.bottom())],
        Stroke::new(2.0, visuals.selection.stroke.color),
    );
    if let Some(pos) = response.interact_pointer_pos().filter(|_| response.clicked()) {
        let frac = ((pos.x - axis.left()) / axis.width()).clamp(0.0, 1.0);
        s.selected = None;
        s.set_cursor((frac as f64 * end) as u64);
    }
    if let Some(tip) = tip {
        response.on_hover_text(tip);
    }
    crate::panels::scrubber::time_ticks_ui(ui, &s.scenario, (axis.left(), axis.right()), s.end_ns);
}
