//! The Kafka Streams panel: draws a [`KStreamsShown`] — the guarantee, the verdict, the time
//! scrubber and the tasks' timeline with the cursor, instance crashes at the cursor, and at the
//! cursor the instances, every task (owner, doing what, read, committed, processed since its
//! commit) and the sink rows a reader sees by then; the Outcome tab's rows against the fault-free
//! run and a selected row's story. Drawing only; the state is the shown run's cursor, tab,
//! filter and selection.

use egui::Stroke;

use crate::app::{Action, FaultRequest, FaultSettings};
use crate::panels::{run_controls, Shared, BLOCKED_COLOR, GOOD_COLOR};
use crate::shown_run::ShownRun;
use crate::view::kstreams::{KStreamsShown, KStreamsTab, TaskActivity};
use crate::view::time_text;
use crate::view::units::count_text;

pub fn kstreams_ui(ui: &mut egui::Ui, s: &mut KStreamsShown, shared: Shared, actions: &mut Vec<Action>) {
    let before = (s.cursor_ns, s.tab);
    kstreams_frame_ui(ui, s, shared, actions);
    // A button or the slider moved the cursor: draw the new state next frame.
    if (s.cursor_ns, s.tab) != before {
        ui.ctx().request_repaint();
    }
}

fn kstreams_frame_ui(ui: &mut egui::Ui, s: &mut KStreamsShown, shared: Shared, actions: &mut Vec<Action>) {
    // Wrapped: a long name must not widen the view past its panel (text clipped at the edge).
    ui.horizontal_wrapped(|ui| {
        ui.heading(format!("Kafka Streams application: {}", s.scenario.name));
        ui.label(format!("seed {}", s.seed));
    });
    ui.horizontal_wrapped(|ui| {
        run_controls::guarantee_combo_ui(ui, s, actions);
        ui.weak("(changing it runs the application again)");
    });
    run_controls::guarantee_effect_ui(ui, s);
    ui.horizontal(|ui| {
        ui.selectable_value(&mut s.tab, KStreamsTab::Tasks, "Tasks and rows");
        ui.selectable_value(&mut s.tab, KStreamsTab::Charts, "Charts").on_hover_text(
            "records per task over time and those processed again after a failover, commits, restores, end-to-end latency",
        );
        ui.selectable_value(&mut s.tab, KStreamsTab::Outcome, format!("Outcome ({})", s.ledger.counts_text()))
            .on_hover_text("the sink rows against the run without faults; a row's task, its failovers and why");
        ui.selectable_value(&mut s.tab, KStreamsTab::Save, "Save / export")
            .on_hover_text("this run as a scenario file, its sink output, its trace for Perfetto");
    });
    ui.separator();
    crate::panels::outcomes::verdict_ui(ui, s.kept, &s.verdict, &s.notes);
    if s.tab == KStreamsTab::Save {
        ui.separator();
        return;
    }
    ui.separator();
    if let Some(scrub) = crate::panels::scrubber::scrubber_ui(ui, &s.scenario, s.cursor_ns, s.end_ns) {
        s.set_cursor(scrub.to_ns());
    }
    tasks_timeline_ui(ui, s);
    if s.tab == KStreamsTab::Charts {
        ui.separator();
        crate::panels::plots::plots_ui(ui, &s.charts, s.cursor_ns, shared.export_dir, shared.export_status, actions);
        return;
    }
    if s.tab == KStreamsTab::Outcome {
        ui.separator();
        outcome_ui(ui, s);
        return;
    }
    crash_ui(ui, s, shared.faults, actions);
    crate::panels::outcomes::ModelComparison {
        id: "kstreams_comparison",
        shown: s,
        comparing: s.comparing.is_some(),
        reports: s.comparison.as_deref(),
        what: "the application under at_least_once and exactly_once_v2 (read by a read_uncommitted and a read_committed consumer)",
        // Kafka Streams' sink kinds are how its output topic is read (`sim::kstreams::core`).
        sink_name: Some(|kind| match kind {
            engine::sink::SinkKind::Plain => "read_uncommitted reader",
            engine::sink::SinkKind::TwoPhaseCommit => "read_committed reader",
            engine::sink::SinkKind::Idempotent => "idempotent sink",
        }),
        extra: &[("restores", |r| r.restarts.to_string())],
    }
    .ui(ui, actions);
    ui.separator();
    let at = s.at_cursor();
    ui.columns(2, |cols| {
        let ui = &mut cols[0];
        ui.strong(format!("At {}", time_text(&s.scenario, s.cursor_ns)));
        // Until the rebalance a dead instance's tasks have no owner; after it they run elsewhere.
        let waiting = at.tasks.iter().any(|t| t.activity == Some(TaskActivity::Unowned));
        egui::Grid::new("kstreams_instances").striped(true).show(ui, |ui| {
            for (name, up) in &at.instances {
                ui.label(format!("instance {name}"));
                match (*up, waiting) {
                    (true, _) => ui.colored_label(GOOD_COLOR, "up"),
                    (false, true) => ui.colored_label(BLOCKED_COLOR, "down: its tasks wait for the rebalance"),
                    (false, false) => ui.colored_label(BLOCKED_COLOR, "down: its tasks were moved to live instances"),
                };
                ui.end_row();
            }
        });
        ui.add_space(6.0);
        egui::Grid::new("kstreams_tasks").striped(true).show(ui, |ui| {
            for (h, tip) in [
                ("task", "subtopology_partition, as Kafka Streams names it"),
                ("on", "the instance that owns it"),
                ("doing", "running, restoring its store from the changelog, or waiting for an owner"),
                ("read up to", "one past the last offset it processed"),
                ("committed", "the offset its last commit stored: where it resumes after a crash"),
                ("since commit", "records processed since its last commit: a crash now makes it process them again"),
                ("commits", "commits so far"),
            ] {
                ui.strong(h).on_hover_text(tip);
            }
            ui.end_row();
            for t in &at.tasks {
                ui.label(&t.name);
                ui.label(t.instance.map_or("-".to_string(), |n| n.name()));
                match t.activity {
                    Some(TaskActivity::Running) => ui.label("running"),
                    Some(TaskActivity::Restoring { records }) => ui.label(format!("restoring {records} records")),
                    Some(TaskActivity::Unowned) => ui.colored_label(BLOCKED_COLOR, "no owner"),
                    None if t.commits > 0 => ui.weak("done"),
                    None => ui.weak("-"),
                };
                ui.label(t.position.to_string());
                ui.label(t.committed.to_string());
                ui.label(t.since_commit.to_string());
                ui.label(t.commits.to_string());
                ui.end_row();
            }
        });
        ui.add_space(6.0);
        ui.label(format!(
            "So far: {} records processed, {}, {} ({} changelog records replayed), {}, {}.",
            at.processed,
            count_text(at.commits as usize, "commit", "commits"),
            count_text(at.restores as usize, "restore", "restores"),
            at.restored_records,
            count_text(at.aborted_transactions as usize, "aborted transaction", "aborted transactions"),
            count_text(at.crashes as usize, "crash", "crashes"),
        ));
        let recovery = s.recovery();
        if !recovery.is_empty() {
            ui.add_space(6.0);
            ui.strong("After the crash");
            for line in &recovery {
                ui.label(line);
            }
        }
        egui::CollapsingHeader::new("The run at its end (streamlab run's summary)").show(ui, |ui| {
            ui.label(egui::RichText::new(&s.summary).monospace());
        });
        let ui = &mut cols[1];
        ui.strong(format!(
            "Sink rows a reader sees by {}: {} of {} at the end",
            time_text(&s.scenario, s.cursor_ns),
            at.rows_visible,
            s.row_visible_ns.len()
        ));
        // The header stays above the rows, which scroll to the latest.
        let rows = s.rows_at_cursor();
        let (header, body) = rows.split_once('\n').unwrap_or((rows.as_str(), ""));
        // A row is one line (wrapped, its columns no longer lined up under the header in
        // presenter mode): the table scrolls sideways when the column is narrower.
        let line = |text: &str| egui::Label::new(egui::RichText::new(text).monospace()).extend();
        egui::ScrollArea::horizontal().id_salt("kstreams_rows_x").show(ui, |ui| {
            ui.add(line(header));
            egui::ScrollArea::vertical().id_salt("kstreams_rows").max_height(360.0).stick_to_bottom(true).show(
                ui,
                |ui| {
                    ui.add(line(body));
                },
            );
        });
    });
}

/// Crash an instance at the cursor: the application is recorded again with it (the same seed:
/// the same run up to the crash); the clicked crashes add up until cleared. (No network faults:
/// the tasks talk through the brokers' topics, which this model keeps outside the network.)
fn crash_ui(ui: &mut egui::Ui, s: &KStreamsShown, settings: &mut FaultSettings, actions: &mut Vec<Action>) {
    crate::panels::faults::restart_setting_ui(ui, settings, "instance");
    ui.horizontal_wrapped(|ui| {
        ui.label(format!("At {}:", time_text(&s.scenario, s.cursor_ns)));
        for tm in 0..s.instances {
            let request = FaultRequest::Crash { tm, restart_after_ms: settings.restart_after_ms };
            if ui
                .button(format!("Crash instance tm-{tm}"))
                .on_hover_text("its tasks lose their owner; after the session timeout the rebalance gives them to live instances, which restore their stores from the changelog and resume at the committed offsets")
                .clicked()
            {
                actions.push(Action::Inject(request));
            }
        }
        if let Some(clicked) = s.origin.injected_text() {
            ui.label(format!("(this run: {}, then {clicked})", crate::view::file_faults_text(&s.origin.base)));
            if ui.button("Back to the file's faults").clicked() {
                actions.push(Action::ClearInjectedFaults);
            }
        }
    });
}

/// Per task, a lane: who owned it (the instance's colour), restoring (lighter, the records it
/// replayed on hover), unowned after a crash (red), its commits (ticks); crashes as strong lines,
/// the cursor; a click moves the cursor.
fn tasks_timeline_ui(ui: &mut egui::Ui, s: &mut KStreamsShown) {
    let visuals = ui.visuals().clone();
    ui.horizontal_wrapped(|ui| {
        ui.strong("Tasks over time");
        ui.label("owner:");
        for i in 0..s.instances {
            ui.colored_label(crate::panels::palette(i as usize), format!("tm-{i}"));
        }
        ui.colored_label(BLOCKED_COLOR, "no owner (its instance died)");
        let crash = if visuals.dark_mode { "white" } else { "black" };
        ui.label(format!(
            "lighter: restoring from the changelog; ticks: commits; {crash} lines: crashes; the line with a triangle on top: the cursor. Hover a stretch, click to move the cursor."
        ));
    });
    let lane_h = 16.0;
    let label_w = 50.0;
    let width = ui.available_width().max(200.0);
    let height = lane_h * s.lanes.len() as f32 + 14.0;
    let (rect, response) = ui.allocate_exact_size(egui::vec2(width, height), egui::Sense::click());
    let axis = egui::Rect::from_min_max(egui::pos2(rect.left() + label_w, rect.top()), rect.max);
    let end = s.end_ns.max(1) as f64;
    let x = |t: u64| axis.left() + axis.width() * ((t as f64 / end).min(1.0) as f32);
    let painter = ui.painter();
    painter.rect_filled(axis, 2.0, visuals.extreme_bg_color);
    let font = egui::FontId::proportional(11.0);
    let mut hovered: Option<String> = None;
    let pointer = response.hover_pos();
    for (i, lane) in s.lanes.iter().enumerate() {
        let top = rect.top() + lane_h * i as f32;
        let row =
            egui::Rect::from_min_max(egui::pos2(axis.left(), top + 2.0), egui::pos2(axis.right(), top + lane_h - 2.0));
        painter.text(
            egui::pos2(rect.left(), row.center().y),
            egui::Align2::LEFT_CENTER,
            &lane.name,
            font.clone(),
            visuals.text_color(),
        );
        for st in &lane.stretches {
            let r = egui::Rect::from_min_max(
                egui::pos2(x(st.from_ns), row.top()),
                egui::pos2(x(st.to_ns).max(x(st.from_ns) + 2.0), row.bottom()),
            );
            let owner = st.instance.and_then(|n| n.task_manager_index()).map(|i| crate::panels::palette(i as usize));
            let (color, what) = match (st.activity, owner) {
                (TaskActivity::Unowned, _) | (_, None) => {
                    (BLOCKED_COLOR, "no owner: its instance died, it waits for the rebalance".to_string())
                }
                (TaskActivity::Running, Some(c)) => (c, "running".to_string()),
                (TaskActivity::Restoring { records }, Some(c)) => {
                    (c.gamma_multiply(0.45), format!("restoring {records} changelog records"))
                }
            };
            painter.rect_filled(r, 0.0, color);
            if pointer.is_some_and(|p| r.expand2(egui::vec2(0.0, 2.0)).contains(p)) {
                let on = st.instance.map_or(String::new(), |n| format!(" on {}", n.name()));
                hovered = Some(format!(
                    "task {}{on}: {what}, {} to {}",
                    lane.name,
                    time_text(&s.scenario, st.from_ns),
                    time_text(&s.scenario, st.to_ns)
                ));
            }
        }
        for &c in &lane.commits {
            painter.line_segment(
                [egui::pos2(x(c), row.top()), egui::pos2(x(c), row.top() + 4.0)],
                Stroke::new(1.0, visuals.text_color()),
            );
        }
    }
    for &(at, _, _) in s.nodes.iter().filter(|n| n.2) {
        painter.line_segment(
            [egui::pos2(x(at), rect.top()), egui::pos2(x(at), rect.bottom() - 12.0)],
            Stroke::new(2.0, visuals.strong_text_color()),
        );
    }
    // The cursor: a line with a triangle on top, apart from the crashes' plain lines (on the
    // dark theme both are light).
    let c = x(s.cursor_ns);
    let cursor_color = visuals.selection.stroke.color;
    painter
        .line_segment([egui::pos2(c, rect.top()), egui::pos2(c, rect.bottom() - 12.0)], Stroke::new(2.0, cursor_color));
    painter.add(egui::Shape::convex_polygon(
        vec![egui::pos2(c - 6.0, rect.top()), egui::pos2(c + 6.0, rect.top()), egui::pos2(c, rect.top() + 8.0)],
        cursor_color,
        Stroke::NONE,
    ));
    // Round times along the bottom, as under the Storm and Spark views' strips.
    let ticks_top = rect.bottom() - 12.0;
    let color = visuals.weak_text_color();
    crate::panels::scrubber::paint_time_ticks(
        painter,
        &s.scenario,
        (axis.left(), axis.right()),
        ticks_top,
        s.end_ns,
        color,
    );
    if let Some(pos) = response.interact_pointer_pos().filter(|_| response.clicked()) {
        let frac = ((pos.x - axis.left()) / axis.width()).clamp(0.0, 1.0);
        s.set_cursor((frac as f64 * end) as u64);
    }
    if let Some(text) = hovered {
        response.on_hover_text(text);
    }
}

/// The outcome table: the sink rows against the run without faults, and the selected row's
/// story (a step's time moves the cursor there and opens the Tasks tab).
fn outcome_ui(ui: &mut egui::Ui, s: &mut KStreamsShown) {
    let heading = format!(
        "{} (attempt: the writing task's life, 2 after its first failover):",
        s.choice_of(s.scenario.guarantee).label
    );
    let table = crate::panels::ledger::LedgerTable {
        scenario: &s.scenario,
        ledger: &s.ledger,
        heading,
        hint: "Select a row (untick \"exact\" or press \"Only what differs\") to follow it back: the task that wrote it, its instance's crash and what it had processed since its last commit, its restore from the changelog on a new owner, and the write.",
        height: None,
    };
    let selected = s.provenance.as_ref().map(|(l, p)| (*l, p));
    match table.ui(ui, selected, &mut s.filter) {
        Some(crate::panels::ledger::LedgerClick::Select(line)) => s.select_line(line),
        Some(crate::panels::ledger::LedgerClick::Seek(t)) => {
            s.set_cursor(t);
            s.tab = KStreamsTab::Tasks;
        }
        None => {}
    }
}
