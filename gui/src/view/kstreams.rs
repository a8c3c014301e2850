//! A Kafka Streams run, shown at its end: a timeline per task (which instance owned it when,
//! its restores from the changelog, the time it had no owner after a crash, its commits), the
//! tasks per instance (phase, offsets, changelog and what the last restore replayed), the
//! counters (commits, reprocessed records, restores, aborted transactions), the oracle's verdict
//! against the application's fault-free run, and the sink rows. No scrubbing, forks or saving
//! yet: `streamlab replay --until` steps through a run. Recorded off the UI thread
//! (`recording::kstreams_recorder`).

use std::sync::Arc;

use sim::kernel::TimeNs;
use sim::recording::{Payload, TraceEvent};
use sim::scenario::NodeId;
use sim::Scenario;

/// What a task was doing over a stretch of the run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TaskActivity {
    /// Processing on its instance.
    Running,
    /// Replaying this many changelog records into its store on its (new) instance.
    Restoring { records: u64 },
    /// Its instance died: no owner until the rebalance gives it to a live one.
    Unowned,
}

/// A stretch of a task's life: `[from_ns, to_ns)`, on which instance, doing what.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stretch {
    pub from_ns: TimeNs,
    pub to_ns: TimeNs,
    /// The owning instance (None while unowned).
    pub instance: Option<NodeId>,
    pub activity: TaskActivity,
}

/// One task's line of the timeline.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaskLane {
    /// Kafka Streams' name (`0_2`).
    pub name: String,
    pub stretches: Vec<Stretch>,
    /// When its offsets were committed.
    pub commits: Vec<TimeNs>,
}

/// Every task's lane, read off the run's trace: its first event names its first owner; a
/// restore starts on a new owner, a resume makes it run, a crash of its owner leaves it unowned
/// (unless it had finished its input by then).
pub fn task_lanes(run: &sim::kstreams::KStreamsRun, events: &[TraceEvent]) -> Vec<TaskLane> {
    let world = &run.world;
    let end_ns = world.finished_at_ns.unwrap_or(sim::stepped::SteppedWorld::now_ns(&run.world));
    let n = world.tasks.len();
    // A finished task's last event is its final commit: a crash after it does not touch it.
    let mut last_event = vec![0; n];
    let mut lanes: Vec<TaskLane> = world
        .tasks
        .iter()
        .map(|t| TaskLane { name: t.id.to_string(), stretches: Vec::new(), commits: Vec::new() })
        .collect();
    for e in events {
        if let Some(t) = task_of(e).filter(|&t| t < n) {
            last_event[t] = e.time_ns;
        }
    }
    let done_at: Vec<Option<TimeNs>> = world
        .tasks
        .iter()
        .enumerate()
        .map(|(t, task)| (task.phase == sim::kstreams::TaskPhase::Done).then_some(last_event[t]))
        .collect();
    let mut open: Vec<Option<Stretch>> = vec![None; n];
    let switch = |lane: &mut TaskLane, open: &mut Option<Stretch>, at: TimeNs, next: Option<Stretch>| {
        if let Some(mut s) = open.take() {
            s.to_ns = at;
            if s.to_ns > s.from_ns || s.activity != TaskActivity::Running {
                lane.stretches.push(s);
            }
        }
        *open = next;
    };
    for e in events {
        let at = e.time_ns;
        let stretch = |instance: Option<NodeId>, activity| Stretch { from_ns: at, to_ns: at, instance, activity };
        match e.payload() {
            Payload::KStreamsRestore { task, records } => {
                let t = task as usize;
                if t < n {
                    let next = stretch(Some(e.node()), TaskActivity::Restoring { records });
                    switch(&mut lanes[t], &mut open[t], at, Some(next));
                }
            }
            Payload::KStreamsResume { task, .. } => {
                let t = task as usize;
                if t < n {
                    switch(&mut lanes[t], &mut open[t], at, Some(stretch(Some(e.node()), TaskActivity::Running)));
                }
            }
            Payload::KStreamsProcess { task, .. } | Payload::KStreamsCommit { task, .. } => {
                let t = task as usize;
                if t < n && open[t].is_none() && lanes[t].stretches.is_empty() {
                    // Its first owner, running from the start.
                    open[t] = Some(Stretch {
                        from_ns: 0,
                        to_ns: 0,
                        instance: Some(e.node()),
                        activity: TaskActivity::Running,
                    });
                }
                if let Payload::KStreamsCommit { .. } = e.payload() {
                    if t < n {
                        lanes[t].commits.push(at);
                    }
                }
            }
            Payload::NodeCrashed { .. } => {
                let node = e.node();
                for t in 0..n {
                    let owned = open[t].is_some_and(|s| s.instance == Some(node));
                    let finished = done_at[t].is_some_and(|d| d <= at);
                    if owned && !finished {
                        switch(&mut lanes[t], &mut open[t], at, Some(stretch(None, TaskActivity::Unowned)));
                    }
                }
            }
            _ => {}
        }
    }
    for t in 0..n {
        let end = done_at[t].unwrap_or(end_ns).max(open[t].map_or(0, |s| s.from_ns));
        switch(&mut lanes[t], &mut open[t], end, None);
    }
    lanes
}

/// The task a Kafka Streams event is about, if any.
fn task_of(e: &TraceEvent) -> Option<usize> {
    match e.payload() {
        Payload::KStreamsProcess { task, .. }
        | Payload::KStreamsCommit { task, .. }
        | Payload::KStreamsRestore { task, .. }
        | Payload::KStreamsResume { task, .. } => Some(task as usize),
        _ => None,
    }
}

/// What the view shows of one run (computed once, when the scenario is opened).
pub struct KStreamsShown {
    pub base: Arc<Scenario>,
    /// Where it was loaded from (the scenario bar names it; *Re-run* loads it again).
    pub source: crate::app::ScenarioSource,
    pub seed: u64,
    /// Why and when the run stopped, the counters and the tasks table.
    pub summary: String,
    /// The oracle's verdict, one line.
    pub verdict: String,
    /// Faults of the schedule this model does not inject, with why.
    pub notes: Vec<String>,
    /// The visible sink rows, one line each.
    pub rows: String,
    /// The run's trace hash (`streamlab run` prints it).
    pub trace_hash: u64,
    /// Per task: who owned it when, its restores, its commits.
    pub lanes: Vec<TaskLane>,
    /// When the run ended (the timeline's scale).
    pub end_ns: TimeNs,
    /// Instance crashes and returns: (time, instance, crashed).
    pub nodes: Vec<(TimeNs, NodeId, bool)>,
    pub instances: u32,
}

impl KStreamsShown {
    /// Run `scenario` with `seed` to its end (the kernel world, as `streamlab run` does), here.
    pub fn of(scenario: Arc<Scenario>, source: crate::app::ScenarioSource, seed: u64) -> KStreamsShown {
        let run = sim::kstreams::run_kstreams(scenario.clone(), seed, true);
        KStreamsShown::from_run(scenario, source, seed, run)
    }

    /// What the view shows of a finished run (recorded here, or off the UI thread by
    /// `recording::kstreams_recorder`), judged against the application's fault-free run.
    pub fn from_run(
        scenario: Arc<Scenario>,
        source: crate::app::ScenarioSource,
        seed: u64,
        mut run: sim::kstreams::KStreamsRun,
    ) -> KStreamsShown {
        let events = run.world.recorder.take_events();
        let nodes = events
            .iter()
            .filter_map(|e| match e.payload() {
                Payload::NodeCrashed { .. } => Some((e.time_ns, e.node(), true)),
                Payload::NodeRestarted => Some((e.time_ns, e.node(), false)),
                _ => None,
            })
            .collect();
        let judgement = sim::kstreams::judge::judge(&scenario, seed, &run);
        KStreamsShown {
            summary: sim::kstreams::report::summary(&run),
            verdict: format!("oracle vs the fault-free run: {}", judgement.describe(scenario.guarantee)),
            notes: run.world.faults_not_modelled(),
            rows: sim::kstreams::report::rows_text(&run),
            trace_hash: run.trace_hash(),
            lanes: task_lanes(&run, &events),
            end_ns: run.world.finished_at_ns.unwrap_or(sim::stepped::SteppedWorld::now_ns(&run.world)),
            nodes,
            instances: scenario.task_managers,
            base: scenario,
            source,
            seed,
        }
    }
}

/// The view: what it is, the summary, the verdict, the rows.
pub fn kstreams_ui(ui: &mut egui::Ui, shown: &KStreamsShown) {
    ui.heading(format!("{} — Kafka Streams, seed {}", shown.base.name, shown.seed));
    ui.label(format!(
        "The run at its end (no scrubbing, forks or saving in this view): `streamlab replay {} --until <ms>` steps through it, `streamlab compare {}` puts the guarantees side by side.",
        shown.base.file, shown.base.file
    ));
    ui.separator();
    ui.label(egui::RichText::new(&shown.verdict).strong());
    for note in &shown.notes {
        ui.label(note);
    }
    ui.separator();
    tasks_timeline_ui(ui, shown);
    ui.separator();
    ui.label(egui::RichText::new(&shown.summary).monospace());
    ui.separator();
    ui.label("Sink rows a reader sees:");
    ui.label(egui::RichText::new(&shown.rows).monospace());
}

/// Per task, a lane: who owned it (the instance's colour), restoring (lighter, the records it
/// replayed on hover), unowned after a crash (red), its commits (ticks); crashes as dark lines.
fn tasks_timeline_ui(ui: &mut egui::Ui, shown: &KStreamsShown) {
    let visuals = ui.visuals().clone();
    ui.strong("Tasks over time");
    ui.horizontal_wrapped(|ui| {
        ui.label("owner:");
        for i in 0..shown.instances {
            ui.colored_label(crate::panels::palette(i as usize), format!("tm-{i}"));
        }
        ui.colored_label(crate::panels::BLOCKED_COLOR, "no owner (its instance died)");
        let crash = if visuals.dark_mode { "white" } else { "black" };
        ui.label(format!(
            "lighter: restoring from the changelog; ticks: commits; {crash} lines: crashes. Hover a stretch."
        ));
    });
    let lane_h = 16.0;
    let label_w = 50.0;
    let width = ui.available_width().max(200.0);
    let height = lane_h * shown.lanes.len() as f32 + 14.0;
    let (rect, response) = ui.allocate_exact_size(egui::vec2(width, height), egui::Sense::hover());
    let axis = egui::Rect::from_min_max(egui::pos2(rect.left() + label_w, rect.top()), rect.max);
    let end = shown.end_ns.max(1) as f64;
    let x = |t: TimeNs| axis.left() + axis.width() * ((t as f64 / end).min(1.0) as f32);
    let painter = ui.painter();
    painter.rect_filled(axis, 2.0, visuals.extreme_bg_color);
    let font = egui::FontId::proportional(11.0);
    let mut hovered: Option<String> = None;
    let pointer = response.hover_pos();
    for (i, lane) in shown.lanes.iter().enumerate() {
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
        for s in &lane.stretches {
            let r = egui::Rect::from_min_max(
                egui::pos2(x(s.from_ns), row.top()),
                egui::pos2(x(s.to_ns).max(x(s.from_ns) + 2.0), row.bottom()),
            );
            let owner = s.instance.and_then(|n| n.task_manager_index()).map(|i| crate::panels::palette(i as usize));
            let (color, what) = match (s.activity, owner) {
                (TaskActivity::Unowned, _) | (_, None) => (
                    crate::panels::BLOCKED_COLOR,
                    "no owner: its instance died, it waits for the rebalance".to_string(),
                ),
                (TaskActivity::Running, Some(c)) => (c, "running".to_string()),
                (TaskActivity::Restoring { records }, Some(c)) => {
                    (c.gamma_multiply(0.45), format!("restoring {records} changelog records"))
                }
            };
            painter.rect_filled(r, 0.0, color);
            if pointer.is_some_and(|p| r.expand2(egui::vec2(0.0, 2.0)).contains(p)) {
                let on = s.instance.map_or(String::new(), |n| format!(" on {}", n.name()));
                hovered = Some(format!(
                    "task {}{on}: {what}, {} to {}",
                    lane.name,
                    crate::view::time_text(&shown.base, s.from_ns),
                    crate::view::time_text(&shown.base, s.to_ns)
                ));
            }
        }
        for &c in &lane.commits {
            painter.line_segment(
                [egui::pos2(x(c), row.top()), egui::pos2(x(c), row.top() + 4.0)],
                egui::Stroke::new(1.0, visuals.text_color()),
            );
        }
    }
    for &(at, _, _) in shown.nodes.iter().filter(|n| n.2) {
        painter.line_segment(
            [egui::pos2(x(at), rect.top()), egui::pos2(x(at), rect.bottom() - 12.0)],
            egui::Stroke::new(2.0, visuals.strong_text_color()),
        );
    }
    painter.text(
        egui::pos2(axis.left(), rect.bottom()),
        egui::Align2::LEFT_BOTTOM,
        "0 s",
        font.clone(),
        visuals.weak_text_color(),
    );
    painter.text(
        egui::pos2(axis.right(), rect.bottom()),
        egui::Align2::RIGHT_BOTTOM,
        crate::view::time_text(&shown.base, shown.end_ns),
        font,
        visuals.weak_text_color(),
    );
    if let Some(text) = hovered {
        response.on_hover_text(text);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The failover scenario: tm-0 dies; its tasks have no owner until the rebalance, then
    /// restore on another instance (a window task replays its changelog) and run there; the
    /// others keep their owner throughout, and every task commits.
    #[test]
    fn the_failover_moves_the_dead_instances_tasks_and_restores_them() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/kafka-streams-failover.ron");
        let shown = KStreamsShown::of(
            Arc::new(Scenario::load(&path).expect("loads")),
            crate::app::ScenarioSource::File(path),
            42,
        );
        let crash = shown.nodes.iter().find(|n| n.2).copied().expect("a crash");
        let moved: Vec<&TaskLane> =
            shown.lanes.iter().filter(|l| l.stretches.iter().any(|s| s.activity == TaskActivity::Unowned)).collect();
        assert!(!moved.is_empty(), "{:?}", shown.lanes);
        for lane in &moved {
            let unowned = lane.stretches.iter().position(|s| s.activity == TaskActivity::Unowned).unwrap();
            assert_eq!(lane.stretches[unowned].from_ns, crash.0, "{lane:?}");
            assert_eq!(lane.stretches[unowned - 1].instance, Some(crash.1), "owned by the dead instance: {lane:?}");
            let after = &lane.stretches[unowned + 1];
            assert!(matches!(after.activity, TaskActivity::Restoring { .. }), "{lane:?}");
            assert_ne!(after.instance, Some(crash.1), "{lane:?}");
        }
        assert!(
            moved.iter().any(|l| l
                .stretches
                .iter()
                .any(|s| matches!(s.activity, TaskActivity::Restoring { records } if records > 0))),
            "a window task replays its changelog: {moved:?}"
        );
        let kept: Vec<&TaskLane> = shown.lanes.iter().filter(|l| !moved.contains(l)).collect();
        assert!(!kept.is_empty());
        for lane in kept {
            assert_eq!(lane.stretches.len(), 1, "one owner throughout: {lane:?}");
        }
        assert!(shown.lanes.iter().all(|l| !l.commits.is_empty()));
        // The stretches of a lane follow each other without gaps.
        for lane in &shown.lanes {
            for pair in lane.stretches.windows(2) {
                assert_eq!(pair[0].to_ns, pair[1].from_ns, "{lane:?}");
            }
        }
    }
}
