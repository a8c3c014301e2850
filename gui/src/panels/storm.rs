//! The Storm panel: draws a [`StormFrame`](crate::view::storm::StormFrame) — the topology with the acker as a node, the
//! cursor and the timeline with its timeouts, pending tuples per spout, the counters, and the
//! selected spout tuple's tree with its ack value. Drawing only; the state is the
//! [`StormSession`]'s cursor and selection.

use egui::{Color32, Sense, Stroke};

use crate::app::{Action, FaultSettings};
use crate::panels::ledger::{LedgerClick, LedgerTable};
use crate::panels::{faults, run_controls};
use crate::shown_run::ShownRun as _;
use crate::view::storm::{StormSession, StormTab, TreeStatus};
use crate::view::time_text;

const TIMEOUT_RED: Color32 = Color32::from_rgb(200, 40, 40);

/// `height`: the panel's height (the outcome table fits its rows in what is left of it). The
/// Save tab's content is the shared save panel, drawn by the caller below this.
pub use crate::panels::Shared;

pub fn storm_ui(ui: &mut egui::Ui, s: &mut StormSession, height: f32, shared: Shared, actions: &mut Vec<Action>) {
    let (cursor, selected, tab, line) = (s.cursor_ns, s.selected, s.tab, s.provenance.as_ref().map(|p| p.0));
    storm_frame_ui(ui, s, height, shared, actions);
    // A button or the slider moved the cursor or the selection: draw the new state next frame.
    if (s.cursor_ns, s.selected, s.tab, s.provenance.as_ref().map(|p| p.0)) != (cursor, selected, tab, line) {
        ui.ctx().request_repaint();
    }
}

fn storm_frame_ui(ui: &mut egui::Ui, s: &mut StormSession, height: f32, shared: Shared, actions: &mut Vec<Action>) {
    // Wrapped: a long name must not widen the view past its panel (text clipped at the edge).
    ui.horizontal_wrapped(|ui| {
        ui.heading(format!("Storm topology: {}", s.scenario.name));
        ui.label(format!("seed {}", s.seed));
    });
    ui.horizontal_wrapped(|ui| {
        run_controls::guarantee_combo_ui(ui, s, actions);
        ui.weak("(changing it runs the topology again)");
    });
    run_controls::guarantee_effect_ui(ui, s);
    ui.horizontal(|ui| {
        ui.selectable_value(&mut s.tab, StormTab::Topology, "Topology and tuple trees");
        ui.selectable_value(&mut s.tab, StormTab::Outcome, format!("Outcome ({})", s.ledger.counts_text()))
            .on_hover_text(
                "the sink output against the same topology without faults, row by row, with each row's provenance",
            );
        ui.selectable_value(&mut s.tab, StormTab::Faults, "Faults")
            .on_hover_text("crash a worker or cut a link at the cursor; the topology is recorded again with it");
        ui.selectable_value(&mut s.tab, StormTab::Charts, "Charts")
            .on_hover_text("what the topology did each second, and the pending tuples over time");
        ui.selectable_value(&mut s.tab, StormTab::Save, "Save / export")
            .on_hover_text("this run as a scenario file, its sink output, its trace for Perfetto");
    });
    crate::panels::outcomes::verdict_ui(ui, s.kept, &s.verdict, &s.notes);
    if s.tab == StormTab::Save {
        ui.separator();
        return;
    }
    if let Some(scrub) = crate::panels::scrubber::scrubber_ui(ui, &s.scenario, s.cursor_ns, s.end_ns) {
        s.set_cursor(scrub.to_ns());
    }
    timeline_ui(ui, s);
    ui.separator();
    if s.tab == StormTab::Faults {
        faults_tab_ui(ui, s, shared.faults, actions);
        return;
    }
    if s.tab == StormTab::Charts {
        crate::panels::plots::plots_ui(ui, &s.charts, s.cursor_ns, shared.export_dir, shared.export_status, actions);
        return;
    }
    if s.tab == StormTab::Outcome {
        let top = ui.min_rect().height();
        outcome_ui(ui, s, (height - top - 90.0).max(200.0));
        return;
    }
    let frame = s.frame();
    // The topology: components in pipeline order, the acker below them, every component's
    // acks going to it.
    let mut rects = Vec::new();
    ui.horizontal(|ui| {
        for c in frame.components.iter().filter(|c| c.kind != "acker") {
            let r = egui::Frame::group(ui.style())
                .show(ui, |ui| {
                    ui.vertical(|ui| {
                        ui.strong(&c.name);
                        ui.label(format!("{} x{}", c.kind, c.tasks));
                        ui.label(format!("acks sent: {}", c.acked));
                    });
                })
                .response
                .rect;
            rects.push(r);
            ui.add_space(30.0);
        }
    });
    ui.add_space(16.0);
    let acker = frame.components.last().cloned();
    let acker_rect = ui
        .horizontal(|ui| {
            ui.add_space(rects.first().map_or(0.0, |r| (r.width() * rects.len() as f32) / 2.0));
            egui::Frame::group(ui.style())
                .stroke(Stroke::new(1.5, Color32::from_rgb(120, 90, 200)))
                .show(ui, |ui| {
                    ui.vertical(|ui| {
                        let tasks = acker.as_ref().map_or(0, |a| a.tasks);
                        for i in 0..tasks {
                            ui.strong(format!("__acker[{i}]"));
                        }
                        if tasks == 0 {
                            ui.strong("no acker (acking off)");
                            ui.label("no tuple is tracked or replayed");
                        } else {
                            ui.label(format!("trees done: {}", acker.as_ref().map_or(0, |a| a.acked)));
                        }
                    });
                })
                .response
                .rect
        })
        .inner;
    let painter = ui.painter();
    let arrow = Stroke::new(1.5, Color32::GRAY);
    for pair in rects.windows(2) {
        painter.arrow(pair[0].right_center(), egui::vec2(pair[1].left() - pair[0].right(), 0.0), arrow);
    }
    // Acks go to the acker; with acking off nothing does (no line to the empty box).
    if acker.as_ref().is_some_and(|a| a.tasks > 0) {
        let ack = Stroke::new(1.0, Color32::from_rgb(120, 90, 200));
        for r in &rects {
            painter.line_segment([r.center_bottom(), acker_rect.center_top()], ack);
        }
    }
    ui.separator();
    ui.columns(2, |cols| {
        let ui = &mut cols[0];
        ui.strong("Counters");
        let rows: Vec<(&str, u64)> = match frame.trident {
            Some(t) => vec![
                ("Trident batches begun", t.batches_begun),
                ("replayed batches", t.batches_replayed),
                ("batches timed out", t.batches_timed_out),
                ("batches committed", t.commits),
                ("state updates skipped (txid already applied)", t.updates_skipped),
            ],
            None => vec![
                ("spout tuples emitted", frame.emitted),
                ("replayed (tree failed or timed out)", frame.replayed),
                ("re-read after a spout restart", frame.reread),
                ("timed out", frame.timed_out),
                ("failed by a bolt", frame.fails),
                ("trees completed", frame.trees_completed),
                ("trees failed", frame.trees_failed),
                ("acker messages", frame.acker_messages),
            ],
        };
        egui::Grid::new("storm_counts").striped(true).show(ui, |ui| {
            for (label, n) in rows {
                ui.label(label);
                ui.label(n.to_string());
                ui.end_row();
            }
        });
        // Trident tracks batches, not tuples: no spout tuple is ever pending under it.
        if frame.trident.is_none() {
            ui.strong("Pending tuples per spout");
            for (spout, n) in &frame.pending {
                ui.label(format!("{spout} pending: {n}"));
            }
        }
        let ui = &mut cols[1];
        ui.strong("Tuple tree");
        ui.horizontal(|ui| {
            if ui.button("Previous tuple").clicked() {
                s.step_tuple(false);
            }
            if ui.button("Next tuple").clicked() {
                s.step_tuple(true);
            }
            if ui.button("Next timed-out tuple").clicked() {
                s.next_troubled_tuple();
            }
        });
        match &frame.tree {
            None if frame.trident.is_some() => {
                ui.label("Trident tracks batches, not tuple trees: the Outcome tab's provenance of a row names its batch's txid, what failed it, its replays and each commit.");
            }
            None => {
                ui.label("No tuple selected (Next tuple picks the first one, moving the cursor to it if it comes later).");
            }
            Some(tree) => {
                let t = tree.tuple;
                ui.label(format!(
                    "root {:#018x}: partition {} offset {}{}, emitted at {}",
                    t.root,
                    t.partition,
                    t.offset,
                    if t.replay { " (a replay)" } else { "" },
                    time_text(&s.scenario, t.emitted_ns)
                ));
                let (status, color) = match tree.status {
                    TreeStatus::Pending => ("tree pending", Color32::GRAY),
                    TreeStatus::Complete => ("tree complete: ack value 0", Color32::from_rgb(40, 140, 60)),
                    TreeStatus::Failed => ("tree failed: the spout replays it", TIMEOUT_RED),
                    TreeStatus::TimedOut => ("tree timed out: the spout replays it", TIMEOUT_RED),
                };
                ui.colored_label(color, status);
                egui::ScrollArea::vertical().max_height(220.0).show(ui, |ui| {
                    egui::Grid::new("storm_tree").striped(true).show(ui, |ui| {
                        for h in ["time", "from", "message", "value", "ack value after"] {
                            ui.strong(h);
                        }
                        ui.end_row();
                        for step in &tree.steps {
                            ui.label(time_text(&s.scenario, step.time_ns));
                            ui.label(&step.executor);
                            ui.label(step.what);
                            ui.monospace(format!("{:#018x}", step.value));
                            ui.monospace(format!("{:#018x}", step.ack_value));
                            ui.end_row();
                        }
                    });
                });
            }
        }
    });
}

/// The run's time axis: timeouts as red ticks, crashes as black ones, the cursor; a click moves
/// the cursor.
fn timeline_ui(ui: &mut egui::Ui, s: &mut StormSession) {
    let (timeouts, crashes) = s.markers();
    // The strip follows the theme as the Flink timeline does: crashes in the strongest text
    // colour (black on a light theme, white on a dark one), the cursor in the selection colour.
    let visuals = ui.visuals().clone();
    let crash_color = visuals.strong_text_color();
    let crash_word = if visuals.dark_mode { "white" } else { "black" };
    let count = crate::view::units::count_text;
    ui.label(format!(
        "timeline: {} (red), {} ({crash_word}); hover a mark for what and when, click to move the cursor",
        count(timeouts.len(), "timeout", "timeouts"),
        count(crashes.len(), "crash", "crashes")
    ));
    let width = ui.available_width().max(100.0);
    let (rect, response) = ui.allocate_exact_size(egui::vec2(width, 24.0), Sense::click());
    let end = s.end_ns.max(1) as f32;
    let x = |t: u64| rect.left() + rect.width() * (t as f32 / end).min(1.0);
    let painter = ui.painter();
    painter.rect_filled(rect, 2.0, visuals.extreme_bg_color);
    for &t in &timeouts {
        painter.line_segment(
            [egui::pos2(x(t), rect.top()), egui::pos2(x(t), rect.bottom())],
            Stroke::new(1.0, TIMEOUT_RED),
        );
    }
    for &t in &crashes {
        painter.line_segment(
            [egui::pos2(x(t), rect.top()), egui::pos2(x(t), rect.bottom())],
            Stroke::new(2.5, crash_color),
        );
    }
    let c = x(s.cursor_ns);
    painter.line_segment(
        [egui::pos2(c, rect.top()), egui::pos2(c, rect.bottom())],
        Stroke::new(2.0, visuals.selection.stroke.color),
    );
    crate::panels::scrubber::time_ticks_ui(ui, &s.scenario, (rect.left(), rect.right()), s.end_ns);
    let at = |pos: egui::Pos2| {
        let frac = ((pos.x - rect.left()) / rect.width()).clamp(0.0, 1.0);
        (frac as f64 * s.end_ns as f64) as u64
    };
    if let Some(pos) = response.hover_pos() {
        // Four points either side: a mark is two or three points wide.
        let tolerance_ns = (4.0 / rect.width() as f64 * s.end_ns as f64) as u64;
        response.clone().on_hover_text_at_pointer(s.strip_hover_text(at(pos), tolerance_ns));
    }
    if let Some(pos) = response.interact_pointer_pos().filter(|_| response.clicked()) {
        s.set_cursor(at(pos));
    }
}

/// The Storm run's outcome table: its sink rows against the topology without faults, and the
/// selected row's chain (a step's link moves the cursor, and selects the spout tuple emitted
/// then for the tuple tree).
fn outcome_ui(ui: &mut egui::Ui, s: &mut StormSession, height: f32) {
    let table = LedgerTable {
        scenario: &s.scenario,
        ledger: &s.ledger,
        heading: format!("{}:", s.choice_of(s.scenario.guarantee).label),
        hint: "Select a row (a duplicate, say: untick \"exact\" or press \"Only what differs\") to follow it back: the source records that fed it, the spout's message (its root id) or Trident batch (its txid), what failed it (a crash, a timeout, a bolt's fail), the replay, and each emission that reached the sink.",
        height: Some(height),
    };
    let selected = s.provenance.as_ref().map(|(l, p)| (*l, p));
    match table.ui(ui, selected, &mut s.filter) {
        Some(LedgerClick::Select(line)) => s.select_line(line),
        Some(LedgerClick::Seek(t)) => s.seek(t),
        None => {}
    }
}

/// Inject a fault at the cursor: a Storm run is recorded again from the start with it (the same
/// seed gives the same run up to the fault), and the clicked faults accumulate until cleared.
fn faults_tab_ui(ui: &mut egui::Ui, s: &StormSession, settings: &mut FaultSettings, actions: &mut Vec<Action>) {
    ui.strong(format!(
        "Inject a fault at {} — the topology is recorded again with it (the same seed: the same run up to the fault)",
        time_text(&s.scenario, s.cursor_ns)
    ));
    let workers = s.scenario.task_managers;
    faults::restart_setting_ui(ui, settings, "worker");
    ui.horizontal_wrapped(|ui| {
        let label = ui.label("Outages last");
        faults::outage_ui(ui, settings, label.id);
    });
    let executors = |tm: u32| crate::view::subtasks_on(&s.scenario, tm);
    faults::crash_buttons_ui(ui, workers, settings, executors, actions);
    faults::link_buttons_ui(ui, workers, settings, actions);
    ui.separator();
    let file = crate::view::file_faults_text(&s.origin.base);
    match s.origin.injected_text() {
        None => {
            ui.label(format!("This run has {file} only."));
        }
        Some(clicked) => {
            ui.label(format!("This run has {file}, then {clicked}."));
            if ui.button("Back to the file's faults").clicked() {
                actions.push(Action::ClearInjectedFaults);
            }
        }
    }
    ui.separator();
    compare_ui(ui, s, actions);
    // Weak, not small: at 1280x800 the small font was too small to read.
    ui.weak(
        "Each tm-i is a worker process; crashing it kills the executors it runs (hover a button). \
         The supervisor restarts it after the time above; one that never comes back has its executors \
         reassigned by Nimbus after the heartbeat timeout. With acking, the tuples the dead executors \
         held are replayed: a surviving spout re-emits them when they time out, a spout that died \
         with them reads them again from its committed offset when it restarts (replays counts \
         both; at-least-once: a bolt that had counted them counts them again); with acking off \
         they are lost; Trident replays the whole batch under \
         the same txid and its state skips what it already applied.",
    );
}

/// Each guarantee Storm offers on this run's seed and faults, side by side: what it did to the
/// output and whether it kept its promise. A guarantee's name records the topology under it.
fn compare_ui(ui: &mut egui::Ui, s: &StormSession, actions: &mut Vec<Action>) {
    crate::panels::outcomes::ModelComparison {
        id: "storm_comparison",
        shown: s,
        comparing: s.comparing.is_some(),
        reports: s.comparison.as_deref(),
        what: "the topology under acking off, acking and Trident",
        sink_name: None,
        extra: &[
            ("replays", |r| r.storm.as_ref().map_or(0, |f| f.replays).to_string()),
            ("timeouts", |r| r.storm.as_ref().map_or(0, |f| f.timeouts).to_string()),
        ],
    }
    .ui(ui, actions);
}
