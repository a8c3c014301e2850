//! The timeline's zoom, pan, "fit to activity", lanes and bookmarks, driven as a user would
//! (buttons, the wheel, drags, menus) with egui_kittest; frames advance by the harness's step.

use egui_kittest::kittest::Queryable as _;
use egui_kittest::Harness;
use gui::app::{Action, App, ScenarioSource};
use gui::panels::labels::{overlapping, timeline_labels_id, Labels};
use gui::time_control::Command;
use gui::view::timeline::TimeWindow;

fn scenario_file(name: &str) -> ScenarioSource {
    ScenarioSource::File(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios").join(name))
}

fn harness(source: ScenarioSource, size: (f32, f32)) -> Harness<'static, App> {
    Harness::builder()
        .with_size(egui::vec2(size.0, size.1))
        .build_ui_state(|ui, app: &mut App| app.workbench_ui(ui), App::new_headless(source, None))
}

fn window(h: &Harness<'static, App>) -> TimeWindow {
    let app = h.state();
    let session = app.session.as_ref().unwrap();
    app.timeline.window(session.run().end_ns, gui::view::timeline::min_span(&session.scenario))
}

fn end_ns(h: &Harness<'static, App>) -> u64 {
    h.state().session.as_ref().unwrap().run().end_ns
}

fn wheel(h: &mut Harness<'static, App>, at: egui::Pos2, delta: egui::Vec2, modifiers: egui::Modifiers) {
    h.event(egui::Event::PointerMoved(at));
    h.event(egui::Event::MouseWheel {
        unit: egui::MouseWheelUnit::Line,
        delta,
        phase: egui::TouchPhase::Move,
        source: egui::MouseWheelSource::Wheel,
        modifiers,
    });
    h.run_steps(1);
}

/// The textbook scenario's records carry clock times from 12:00: twelve idle hours, then minutes
/// of data. "Fit to activity" frames the minutes (as the scenario opens), zoomed in there is a
/// lane per subtask, and "Whole run" goes back.
#[test]
fn fit_to_activity_frames_the_textbook_minutes_and_shows_lanes() {
    let mut h = harness(scenario_file("streaming-systems-heuristic.ron"), (1400.0, 900.0));
    h.run_steps(1);
    let end = end_ns(&h);
    assert!(end > 12 * 3_600_000_000_000, "a run past noon");
    // It opens framed on its activity (`a_textbook_scenario_opens_where_its_records_are`):
    // the whole run first.
    h.get_by_label("Whole run").click();
    // One frame applies it, one shrinks the panel without the lanes, one lays it out again.
    h.run_steps(3);
    assert!(!window(&h).is_zoomed(end));
    h.get_by_label("Fit to activity").click();
    // One frame applies the click, one grows the panel for the lanes, one lays it out again.
    h.run_steps(3);
    let w = window(&h);
    let first = h.state().session.as_ref().unwrap().run().trace[0].time_ns;
    assert!(w.span() < 3_600_000_000_000, "less than an hour shown: {w:?}");
    assert!(w.start_ns <= first && first < w.end_ns, "{w:?} from the first event at {first}");
    let labels = Labels::last(&h.ctx, timeline_labels_id());
    assert!(labels.iter().any(|l| l.text == "sum[0]"), "a lane per subtask: {labels:?}");
    assert!(labels.iter().any(|l| l.text.starts_with("12:0")), "clock ticks: {labels:?}");
    assert!(overlapping(&labels).is_empty(), "{labels:?}");
    assert!(h.query_by_label_contains("showing 12:").is_some());
    h.get_by_label("Whole run").click();
    h.run_steps(2);
    assert_eq!(h.state().timeline.window, None);
    assert!(!Labels::last(&h.ctx, timeline_labels_id()).iter().any(|l| l.text == "sum[0]"), "no lanes");
}

#[test]
fn the_wheel_zooms_around_the_pointer_and_shift_wheel_and_right_drag_pan() {
    let mut h = harness(ScenarioSource::Embedded, (1400.0, 900.0));
    h.run_steps(1);
    let end = end_ns(&h);
    let rect = h.get_by_label("Timeline").rect();
    let at = egui::pos2(rect.left() + rect.width() * 0.25, rect.center().y);
    wheel(&mut h, at, egui::vec2(0.0, 3.0), egui::Modifiers::NONE);
    let zoomed = window(&h);
    assert!(zoomed.is_zoomed(end));
    let expected = end as f64 * 0.8f64.powi(3);
    assert!((zoomed.span() as f64 - expected).abs() < expected * 0.01, "{zoomed:?} of {end}");
    // The time under the pointer stays about a quarter of the way in.
    assert!((zoomed.fraction(end / 4) - 0.25).abs() < 0.03, "{zoomed:?}");
    wheel(&mut h, at, egui::vec2(0.0, -1.0), egui::Modifiers::SHIFT);
    let panned = window(&h);
    assert_eq!(panned.span(), zoomed.span(), "panning keeps the width");
    assert!(panned.start_ns > zoomed.start_ns, "{panned:?} after {zoomed:?}");
    // A drag with the right button to the right shows earlier times.
    let rect = h.get_by_label("Timeline").rect();
    let from = egui::pos2(rect.center().x, rect.center().y);
    h.event(egui::Event::PointerMoved(from));
    h.event(egui::Event::PointerButton {
        pos: from,
        button: egui::PointerButton::Secondary,
        pressed: true,
        modifiers: egui::Modifiers::NONE,
    });
    h.run_steps(1);
    for k in 1..=4 {
        h.event(egui::Event::PointerMoved(from + egui::vec2(40.0 * k as f32, 0.0)));
        h.run_steps(1);
    }
    h.event(egui::Event::PointerButton {
        pos: from + egui::vec2(160.0, 0.0),
        button: egui::PointerButton::Secondary,
        pressed: false,
        modifiers: egui::Modifiers::NONE,
    });
    h.run_steps(1);
    let dragged = window(&h);
    assert_eq!(dragged.span(), panned.span());
    assert!(dragged.start_ns < panned.start_ns, "{dragged:?} after {panned:?}");
    let cursor = h.state().time.cursor_ns;
    assert_eq!(cursor, 0, "panning does not move the cursor");
    // Zooming out all the way shows the whole run again.
    for _ in 0..10 {
        h.get_by_label("Zoom out").click();
        h.run_steps(1);
    }
    assert_eq!(h.state().timeline.window, None);
}

/// The bookmarks menu lists the faults and checkpoints; picking one moves the cursor there, and
/// a click on the timeline next to a fault's triangle lands on the fault.
#[test]
fn bookmarks_move_the_cursor_to_faults_and_checkpoints() {
    let mut h = harness(scenario_file("crash-during-checkpoint.ron"), (1400.0, 900.0));
    h.run_steps(1);
    let run = h.state().session.as_ref().unwrap().run();
    let marks = gui::view::timeline::bookmarks(&run.scenario, &run.final_world.faults, &run.markers);
    let crash = marks.iter().find(|b| b.fault).expect("the scenario crashes a task manager").clone();
    let checkpoint = marks.iter().find(|b| !b.fault).expect("a checkpoint completes").clone();
    h.get_by_label_contains("Bookmarks (").click();
    h.run_steps(2);
    h.get_by_label(&crash.text).click();
    h.run_steps(2);
    assert_eq!(h.state().time.cursor_ns, crash.time_ns);
    h.get_by_label_contains("Bookmarks (").click();
    h.run_steps(2);
    h.get_by_label(&checkpoint.text).click();
    h.run_steps(2);
    assert_eq!(h.state().time.cursor_ns, checkpoint.time_ns);
    // A click two points beside the crash's triangle lands on the crash.
    let end = end_ns(&h);
    let rect = h.get_by_label("Timeline").rect();
    let plot = rect.shrink2(egui::vec2(8.0, 4.0));
    let x = plot.left() + plot.width() * (crash.time_ns as f64 / end as f64) as f32 + 2.0;
    let at = egui::pos2(x, rect.center().y);
    h.event(egui::Event::PointerMoved(at));
    for pressed in [true, false] {
        h.event(egui::Event::PointerButton {
            pos: at,
            button: egui::PointerButton::Primary,
            pressed,
            modifiers: egui::Modifiers::NONE,
        });
    }
    h.run_steps(2);
    assert_eq!(h.state().time.cursor_ns, crash.time_ns);
}

/// Zoomed in with the cursor still, seeking elsewhere brings the window along; the lanes' names
/// and ticks never overlap at either projector resolution in presenter mode.
#[test]
fn zoomed_lanes_follow_the_cursor_without_overlap() {
    for (w, hgt) in [(1280.0, 800.0), (1920.0, 1080.0)] {
        let mut h = harness(ScenarioSource::Embedded, (w, hgt));
        h.state_mut().presenter = true;
        h.run_steps(2);
        let end = end_ns(&h);
        for _ in 0..6 {
            h.get_by_label("Zoom in").click();
            h.run_steps(1);
        }
        let before = window(&h);
        assert!(before.is_zoomed(end));
        h.state_mut().apply(Action::Time(Command::Seek(end - 1)));
        h.run_steps(2);
        let after = window(&h);
        let last = end - 1;
        assert!((after.start_ns..=after.end_ns).contains(&last), "{after:?}");
        assert_eq!(after.span(), before.span());
        let labels = Labels::last(&h.ctx, timeline_labels_id());
        let lanes = labels.iter().filter(|l| l.text.contains('[')).count();
        assert!(lanes >= 3, "lanes are named: {labels:?}");
        if w < 1500.0 {
            // The default job has 8 subtasks; on the small projector the lanes leave the graph
            // and the tabs their room (an eighth of the height at most).
            assert!(lanes < 8, "{lanes} lanes at {w}x{hgt}");
        }
        assert!(overlapping(&labels).is_empty(), "{w}x{hgt}: {labels:?}");
        // The axis' times sit under the last lane, not over the lanes.
        let lanes_bottom = labels.iter().filter(|l| l.text.contains('[')).map(|l| l.rect.bottom()).fold(0.0, f32::max);
        let ticks: Vec<_> = labels.iter().filter(|l| l.text.ends_with(" s")).collect();
        assert!(!ticks.is_empty() && ticks.iter().all(|t| t.rect.top() >= lanes_bottom), "{labels:?}");
    }
}

/// "Export for slides" writes the job graph and the timeline as PNG and SVG at the chosen size
/// into the folder the menu names; the default folder is outside the working directory.
#[test]
fn the_job_graph_and_the_timeline_export_for_slides() {
    let mut h = harness(scenario_file("crash-during-checkpoint.ron"), (1400.0, 900.0));
    h.run_steps(1);
    let default = std::path::PathBuf::from(&h.state().export_dir);
    assert!(default.is_absolute(), "{default:?}");
    assert!(!default.starts_with(std::env::current_dir().unwrap()), "not in the repository: {default:?}");
    h.get_by_label("Export for slides").click();
    h.run_steps(2);
    assert!(h.query_by_label_contains(&format!("Files go to {}", default.display())).is_some(), "named in the UI");
    h.key_press(egui::Key::Escape);
    h.run_steps(2);
    let dir = std::env::temp_dir().join(format!("streamlab-slides-ui-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    h.state_mut().export_dir = dir.display().to_string();
    let end = end_ns(&h);
    h.state_mut().apply(Action::Time(Command::Seek(end / 3)));
    h.run_steps(1);
    h.get_by_label("Export for slides").click();
    h.run_steps(2);
    h.get_by_label("1280×720").click();
    h.run_steps(1);
    assert_eq!(h.state().export_size, (1280, 720));
    h.get_by_label("Export the job graph at the cursor").click();
    h.run_steps(2);
    let status = h.state().slides_status.as_ref().expect("exported");
    assert!(status.as_ref().is_ok_and(|m| m.contains("1280×720")), "{status:?}");
    // The Charts tab's own status line stays empty: a slide is not a chart export.
    assert!(h.state().export_status.is_none());
    h.get_by_label("Fit to activity").click();
    h.run_steps(1);
    h.get_by_label("Export for slides").click();
    h.run_steps(2);
    h.get_by_label("Export the timeline as shown").click();
    h.run_steps(2);
    let mut names: Vec<String> =
        std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    assert_eq!(names.len(), 4, "{names:?}");
    assert!(names.iter().any(|n| n.contains("job-graph") && n.ends_with(".png")), "{names:?}");
    assert!(names.iter().any(|n| n.contains("timeline") && n.ends_with(".svg")), "{names:?}");
    let svg = std::fs::read_to_string(dir.join(names.iter().find(|n| n.ends_with("timeline.svg")).unwrap())).unwrap();
    let scenario = h.state().session.as_ref().unwrap().scenario.name.clone();
    assert!(svg.contains(&scenario) && svg.contains("seed "), "titled");
    std::fs::remove_dir_all(&dir).unwrap();
}
