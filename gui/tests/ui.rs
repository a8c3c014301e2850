//! UI flows with egui_kittest: click by label, advance frames, assert on the app's state.
//! Frames advance by the harness's fixed step (a quarter second), never by the wall clock.

use egui::accesskit::Role;
use egui_kittest::kittest::Queryable as _;
use egui_kittest::Harness;
use gui::app::{Action, App, ScenarioSource};
use gui::time_control::Command;

fn harness(source: ScenarioSource) -> Harness<'static, App> {
    Harness::builder()
        .with_size(egui::vec2(1400.0, 900.0))
        .build_ui_state(|ui, app: &mut App| app.workbench_ui(ui), App::new_headless(source, None))
}

/// Compare runs on a worker thread: step frames until its reports arrived (bounded), showing the
/// spinner meanwhile. Waiting is not a timing assertion: the bound only keeps a bug from hanging.
fn wait_for_comparison(h: &mut Harness<'static, App>) {
    wait_until_compared(h, |app| app.session.as_ref().unwrap().comparing.is_none());
}

/// [`wait_for_comparison`] for any view: `compared` says whether its comparison is over.
fn wait_until_compared(h: &mut Harness<'static, App>, compared: impl Fn(&App) -> bool) {
    h.run_steps(1);
    for _ in 0..600 {
        if compared(h.state()) {
            h.run_steps(1);
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
        h.run_steps(1);
    }
    panic!("the comparison did not arrive");
}

/// Open *Faults and outcomes*, press *Compare …* and wait for its reports.
fn compare_the_guarantees(h: &mut Harness<'static, App>) -> Vec<sim::run::VariantReport> {
    h.get_by_label("Faults and outcomes").click();
    h.run_steps(1);
    h.get_by_label("Compare at-most-once, at-least-once, exactly-once").click();
    wait_for_comparison(h);
    h.state().session.as_ref().unwrap().comparison.as_ref().expect("compared").1.clone()
}

fn scenario_file(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios").join(name)
}

#[test]
fn the_default_scenario_opens_paused_at_the_start() {
    let mut h = harness(ScenarioSource::Embedded);
    h.run_steps(2);
    let app = h.state();
    assert!(app.error.is_none());
    assert!(!app.time.playing);
    assert_eq!(app.time.cursor_ns, 0);
    assert_eq!(app.session.as_ref().unwrap().source, ScenarioSource::Embedded);
    h.get_by_label("Play");
    h.get_by_label_contains("Legend");
}

#[test]
fn play_moves_the_cursor_and_pause_stops_it() {
    let mut h = harness(ScenarioSource::Embedded);
    h.run_steps(1);
    h.get_by_label("Play").click();
    h.run_steps(4);
    let moved = h.state().time.cursor_ns;
    assert!(h.state().time.playing);
    assert!(moved > 0, "four quarter-second frames of playback move the cursor");
    h.get_by_label("Pause").click();
    h.run_steps(1);
    let paused_at = h.state().time.cursor_ns;
    h.run_steps(4);
    assert!(!h.state().time.playing);
    assert_eq!(h.state().time.cursor_ns, paused_at);
}

/// *Step* goes to the next moment something happens, often within the same millisecond (a local
/// hop takes 10 µs): the readout beside the transport changes with every step all the same.
#[test]
fn every_step_changes_the_time_readout() {
    let mut h = crash_during_checkpoint_at(4_500_000_000);
    // The readout as drawn: found by its whole text, which names the cursor.
    let readout = |h: &Harness<'static, App>| {
        let session = h.state().session.as_ref().unwrap();
        let text = format!(
            "now {} of {}",
            gui::view::cursor_text(&session.scenario, h.state().time.cursor_ns),
            gui::view::time_text(&session.scenario, session.run().end_ns)
        );
        h.get_by_label(&text);
        text
    };
    let mut seen = vec![(h.state().time.cursor_ns, readout(&h))];
    for _ in 0..6 {
        h.get_by_label("Step").click();
        // One frame applies the click, the next draws the new cursor.
        h.run_steps(2);
        seen.push((h.state().time.cursor_ns, readout(&h)));
    }
    for pair in seen.windows(2) {
        assert!(pair[1].0 > pair[0].0, "{seen:?}");
        assert_ne!(pair[1].1, pair[0].1, "{seen:?}");
    }
    let same_ms = seen.windows(2).filter(|p| p[0].0 / 1_000_000 == p[1].0 / 1_000_000).count();
    assert!(same_ms > 0, "a step within one millisecond was tried: {seen:?}");
}

#[test]
fn step_back_and_start_move_the_cursor_back() {
    let mut h = harness(ScenarioSource::Embedded);
    h.run_steps(1);
    h.get_by_label("Next checkpoint").click();
    h.run_steps(1);
    h.get_by_label("Next checkpoint").click();
    h.run_steps(1);
    let at = h.state().time.cursor_ns;
    assert!(at > 0);
    h.get_by_label("Step back").click();
    h.run_steps(1);
    let back = h.state().time.cursor_ns;
    assert!(back < at, "step back went from {at} to {back}");
    h.get_by_label("Start").click();
    h.run_steps(1);
    assert_eq!(h.state().time.cursor_ns, 0);
}

#[test]
fn keyboard_space_plays_and_arrows_step() {
    let mut h = harness(ScenarioSource::Embedded);
    h.run_steps(1);
    h.key_press(egui::Key::ArrowRight);
    h.run_steps(1);
    let stepped = h.state().time.cursor_ns;
    assert!(stepped > 0);
    h.key_press(egui::Key::ArrowLeft);
    h.run_steps(1);
    assert!(h.state().time.cursor_ns < stepped);
    h.key_press(egui::Key::Space);
    h.run_steps(1);
    assert!(h.state().time.playing);
}

/// A scenario opened by path (as `streamlab gui FILE` does) is named in the scenario picker —
/// a Storm one (its own view) as much as a Flink one; a file outside the list by its path.
#[test]
fn the_picker_names_a_scenario_opened_by_path() {
    for name in ["storm-word-count.ron", "sessions.ron"] {
        let mut h = harness(ScenarioSource::File(scenario_file(name)));
        h.run_steps(1);
        assert!(h.state().error.is_none(), "{:?}", h.state().error);
        let picker = h.get_by_role_and_label(Role::ComboBox, "Scenario:");
        assert_eq!(picker.value().as_deref(), Some(name));
    }
    // The same listed file by another path (absolute, as a shell's completion gives it).
    let absolute = std::fs::canonicalize(scenario_file("sessions.ron")).expect("the shipped file");
    let mut h = harness(ScenarioSource::File(absolute));
    h.run_steps(1);
    let picker = h.get_by_role_and_label(Role::ComboBox, "Scenario:");
    assert_eq!(picker.value().as_deref(), Some("sessions.ron"));
    let dir = std::env::temp_dir().join(format!("streamlab-picker-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temporary folder");
    let copy = dir.join("my-storm.ron");
    std::fs::copy(scenario_file("storm-word-count.ron"), &copy).expect("copied");
    let mut h = harness(ScenarioSource::File(copy.clone()));
    h.run_steps(1);
    assert!(h.state().storm.is_some());
    let picker = h.get_by_role_and_label(Role::ComboBox, "Scenario:");
    assert_eq!(picker.value(), Some(copy.display().to_string()));
    std::fs::remove_dir_all(&dir).expect("cleaned up");
}

/// The first windows of a generated run can start before 0 ("[-5 s, 0 s)" in the default
/// scenario). They are real windows, not a labelling slip: the generator gives each record the
/// event time append time − disorder delay, so the records appended first are older than the
/// start, and tumbling windows are aligned to 0. Each such window counts only those records.
#[test]
fn a_window_before_zero_holds_records_older_than_the_start() {
    let mut h = harness(ScenarioSource::Embedded);
    h.run_steps(1);
    let world = &h.state().session.as_ref().unwrap().run().final_world;
    let early: Vec<_> =
        world.sink_store.visible().into_iter().filter(|r| r.row.window.is_some_and(|w| w.start_ms < 0)).collect();
    assert!(!early.is_empty(), "the default scenario's first window starts before 0");
    for row in early {
        let window = row.row.window.expect("filtered on its window");
        assert_eq!((window.start_ms, window.end_ms), (-5_000, 0), "{row:?}");
        assert!(!row.row.lineage.is_empty());
        for s in &row.row.lineage {
            let timestamp_ms = world.log.partitions[s.partition as usize][s.offset as usize].timestamp_ms;
            assert!((window.start_ms..window.end_ms).contains(&timestamp_ms), "{s:?} at {timestamp_ms} ms");
        }
    }
}

#[test]
fn switching_scenario_in_the_picker_loads_it() {
    let mut h = harness(ScenarioSource::Embedded);
    h.run_steps(1);
    let before = h.state().session.as_ref().unwrap().scenario.name.clone();
    let picker = h.get_by_role_and_label(Role::ComboBox, "Scenario:");
    assert_eq!(picker.value().as_deref(), Some(gui::app::EMBEDDED_LABEL));
    picker.click();
    // One frame to open the popup, one to lay it out.
    h.run_steps(2);
    // Every scenario the picker lists is in the open popup, and the last one (the lowest) is
    // reached by scrolling the list, as a student would with the wheel, and loads.
    let entries: Vec<(String, ScenarioSource)> =
        h.state().scenarios.iter().map(|e| (e.label.clone(), e.source.clone())).collect();
    assert!(entries.len() >= 20, "{entries:?}");
    for (label, _) in &entries {
        assert!(h.query_by_label(label).is_some(), "{label} is in the open picker");
    }
    let (last, source) = entries.last().cloned().expect("entries");
    // The last entry opens in the Flink workbench (a Storm scenario opens its own view); only the
    // file name says which, not the checkout's path.
    let file_name = |p: &std::path::Path| p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    assert!(matches!(&source, ScenarioSource::File(p) if !file_name(p).contains("storm")), "{last}");
    // The wheel over the list, bounded: a few notches bring the last entry into view.
    let first = h.get_by_label(&entries[1].0).rect().center();
    // egui's combo list is 200 points tall.
    let popup_bottom = h.get_by_label(&entries[1].0).rect().min.y + 180.0;
    let mut notches = 0;
    for _ in 0..40 {
        if h.get_by_label(&last).rect().max.y <= popup_bottom {
            break;
        }
        h.hover_at(first);
        h.event(egui::Event::MouseWheel {
            unit: egui::MouseWheelUnit::Point,
            delta: egui::vec2(0.0, -60.0),
            phase: egui::TouchPhase::Move,
            source: egui::MouseWheelSource::Unknown,
            modifiers: egui::Modifiers::default(),
        });
        h.run_steps(2);
        notches += 1;
    }
    assert!(notches > 0 && notches < 40, "the list scrolls, and the last entry comes into view ({notches} notches)");
    h.get_by_label(&last).click();
    h.run_steps(1);
    let session = h.state().session.as_ref().unwrap();
    assert_ne!(session.scenario.name, before);
    assert_eq!(session.source, source);
    assert_eq!(h.state().time.cursor_ns, 0, "a new scenario starts at the beginning");
}

#[test]
fn a_broken_scenario_file_shows_its_error_and_keeps_the_old_run() {
    let dir = std::env::temp_dir().join(format!("streamlab-ui-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("broken.ron");
    std::fs::write(&path, "Scenario(\n    name: \"broken\",\n    pipeline: [],\n    bogus: 1,\n)\n").unwrap();
    let mut h = harness(ScenarioSource::Embedded);
    h.run_steps(1);
    h.state_mut().path_text = path.display().to_string();
    h.get_by_label("Open").click();
    h.run_steps(2);
    let error = h.state().error.as_ref().expect("the error is kept for display").to_string();
    assert!(error.contains("broken.ron:"), "{error}");
    assert!(matches!(h.state().error, Some(gui::error::LoadError::Scenario(_))));
    assert!(h.query_by_label_contains("Could not load").is_some());
    assert_eq!(h.state().session.as_ref().unwrap().source, ScenarioSource::Embedded);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A Spark query opens in its own view: its batches, the driver crash and the re-run batch, and
/// the verdict in `streamlab run`'s words; the guarantee's choice runs it again. Opened from the
/// scenario bar over a Flink run, it replaces it.
#[test]
fn a_spark_scenario_opens_in_its_own_view_and_shows_the_re_run_batch() {
    let mut h = harness(ScenarioSource::Embedded);
    h.run_steps(1);
    let spark = scenario_file("spark-micro-batch.ron");
    h.state_mut().path_text = spark.display().to_string();
    h.get_by_label("Open").click();
    h.run_steps(2);
    assert!(h.state().error.is_none(), "{:?}", h.state().error.as_ref().map(|e| e.to_string()));
    assert!(h.state().session.is_none() && h.state().storm.is_none(), "nothing shown as a Flink job or a topology");
    let scenario = h.state().spark.as_ref().expect("the Spark view is shown").scenario.clone();
    // The verdict is the one `streamlab run` prints for this file and seed.
    let cli = sim::runtime::model(sim::scenario::Runtime::Spark).run(&scenario, 42, sim::runtime::RowsAs::Text);
    assert!(cli.oracle_line.contains("Duplicates"), "{}", cli.oracle_line);
    h.get_by_label(&cli.oracle_line);

    // Scrub to just after the driver crash: batch 6 is abandoned, the driver is down.
    let crash = h.state().spark.as_ref().unwrap().markers().iter().find(|m| m.1 && m.2).expect("a driver crash").0;
    h.state_mut().spark.as_mut().unwrap().set_cursor(crash + 1_000_000);
    h.run_steps(1);
    h.get_by_label("down: no batch runs");
    h.get_by_label("abandoned: the driver died");
    assert!(h.query_by_label("6 (re-run)").is_none(), "not re-run yet");

    // The button goes to the re-run batch: it is listed, and why it runs again is said.
    h.get_by_label("Show the re-run batch").click();
    h.run_steps(2);
    h.get_by_label("6 (re-run)");
    h.get_by_label_contains("offsets/6 is there without commits/6");
    h.get_by_label_contains("a reader sees them twice");
    h.get_by_label("running query run 2");
    assert!(h.state().spark.as_ref().unwrap().cursor_ns > crash);

    // Next batch from there goes to batch 7 of the second query run.
    h.get_by_label("Next batch").click();
    h.run_steps(1);
    h.get_by_label("Batch 7 in query run 2");

    // Without a checkpoint location: nothing re-runs, the loss is the verdict.
    h.state_mut().apply(Action::SetVariant(Some(sim::scenario::Guarantee::AtMostOnce), None));
    h.run_steps(2);
    let spark = h.state().spark.as_ref().expect("recorded again");
    assert!(spark.verdict.contains("Loss"), "{}", spark.verdict);
    assert!(!spark.batches().iter().any(|b| b.rerun));
    h.get_by_label_contains("Without a checkpoint location the restarted query starts afresh");

    // Started on the file, the workbench opens on the Spark view.
    let mut h = harness(ScenarioSource::File(scenario_file("spark-micro-batch.ron")));
    h.run_steps(3);
    assert!(h.state().spark.is_some() && h.state().session.is_none());
}

/// The Spark view's Outcome tab: "Only what differs" leaves the duplicates; selecting one shows
/// its chain back to batch 6's two runs and why; a step's time moves the cursor there.
#[test]
fn the_spark_outcome_tab_follows_a_duplicate_back_to_the_batch_that_ran_twice() {
    let mut h = harness(ScenarioSource::File(scenario_file("spark-micro-batch.ron")));
    h.run_steps(2);
    h.get_by_label_contains("Outcome (60 exact · 12 duplicate").click();
    h.run_steps(1);
    h.get_by_label("Only what differs").click();
    h.run_steps(1);
    let spark = h.state().spark.as_ref().unwrap();
    let dup = spark.ledger.rows.iter().position(|l| l.status == gui::view::ledger::Status::Duplicate).unwrap();
    h.get_all_by_label("duplicate").next().expect("a duplicate line").click();
    h.run_steps(2);
    let selected = h.state().spark.as_ref().unwrap().provenance.as_ref().map(|p| p.0);
    assert_eq!(selected, Some(dup), "the first duplicate line is selected");
    h.get_by_label_contains("Batch 6 ran twice with the same offsets");
    h.get_by_label("the driver died before commits/6");
    let crash = h.state().spark.as_ref().unwrap().markers().iter().find(|m| m.1 && m.2).unwrap().0;
    h.get_by_label_contains("Driver crash: ").click();
    h.run_steps(2);
    assert_eq!(h.state().spark.as_ref().unwrap().cursor_ns, crash, "the step's link moved the cursor");
    assert_eq!(
        h.state().spark.as_ref().unwrap().tab,
        gui::view::spark::SparkTab::Batches,
        "and shows the batches there"
    );
    h.get_by_label("abandoned: the driver died");
}

/// In the Spark view, "Crash executor tm-1" at a moment its map tasks run records the query again
/// with that crash: those attempts are lost and launched again elsewhere, the crash is named,
/// and "Back to the file's faults" takes it away.
#[test]
fn crashing_an_executor_in_the_spark_view_retries_its_tasks() {
    let mut h = harness(ScenarioSource::File(scenario_file("spark-micro-batch.ron")));
    h.run_steps(2);
    let spark = h.state().spark.as_ref().expect("the Spark view");
    let three = spark.batches().iter().position(|b| b.id == 3).expect("batch 3");
    let on_tm1 =
        spark.watch.attempts.iter().find(|a| a.batch_index == three && a.executor == 1).expect("a task on tm-1");
    let at = on_tm1.launched_ns + 1_000_000;
    h.state_mut().spark.as_mut().unwrap().set_cursor(at);
    h.run_steps(1);
    h.get_by_label("Crash executor tm-1").click();
    h.run_steps(3);
    let spark = h.state().spark.as_ref().expect("recorded again");
    assert_eq!(spark.origin.injected.len(), 1);
    assert_eq!(spark.cursor_ns, at, "the moment looked at is kept");
    let lost = spark
        .watch
        .attempts
        .iter()
        .filter(|a| a.ended.is_some_and(|e| e.1 == sim::spark::core::TaskEnd::ExecutorLost))
        .count();
    assert!(lost > 0 && spark.run.world.stats.task_retries > 0, "{:?}", spark.run.world.stats);
    h.get_by_label_contains("then crash tm-1 at");
    h.get_by_label("Back to the file's faults").click();
    h.run_steps(3);
    let spark = h.state().spark.as_ref().expect("recorded again");
    assert!(spark.origin.injected.is_empty() && spark.run.world.stats.task_retries == 0);
}

#[test]
fn rerun_with_another_seed_records_another_run() {
    let mut h = harness(ScenarioSource::Embedded);
    h.run_steps(1);
    let before = h.state().session.as_ref().unwrap().run().final_world.recorder.hash();
    h.state_mut().seed_text = "7".into();
    h.get_by_label("Re-run").click();
    h.run_steps(1);
    let session = h.state().session.as_ref().unwrap();
    assert_eq!(session.seed, 7);
    assert_ne!(session.run().final_world.recorder.hash(), before);
    h.state_mut().seed_text = "seven".into();
    h.get_by_label("Re-run").click();
    h.run_steps(1);
    let error = h.state().error.as_ref().expect("a seed error");
    assert!(matches!(error, gui::error::LoadError::Seed { text } if text == "seven"), "{error:?}");
    assert!(error.to_string().starts_with("seed: `seven`"), "{error}");
}

#[test]
fn tabs_and_inspector_show_the_selected_subtask() {
    let mut h = harness(ScenarioSource::File(scenario_file("streaming-systems-heuristic.ron")));
    h.run_steps(1);
    let sum = h.state().session.as_ref().unwrap().scenario.plan.subtask_by_name("sum[0]").unwrap();
    h.state_mut().apply(Action::Select(Some(sum)));
    h.state_mut().apply(Action::Time(Command::Seek(12 * 3_600_000_000_000 + 5 * 60_000_000_000)));
    h.run_steps(1);
    assert!(h.query_by_label_contains("fires when the watermark reaches 12:01:59.999").is_some());
    for tab in [
        "Barrier alignment",
        "Event log",
        "Sink output",
        "Outcome: every row vs. the run without faults",
        "Charts",
        "Faults and outcomes",
    ] {
        h.get_by_label(tab).click();
        h.run_steps(1);
    }
    h.get_by_label("Sink output").click();
    h.run_steps(1);
    assert_eq!(h.state().tab, gui::app::Tab::SinkOutput);
}

#[test]
fn crashing_a_task_manager_forks_the_run_and_compare_fills_the_table() {
    let mut h = harness(ScenarioSource::File(scenario_file("crash-during-checkpoint.ron")));
    h.run_steps(1);
    h.get_by_label("Faults and outcomes").click();
    h.run_steps(1);
    let end = h.state().session.as_ref().unwrap().run().end_ns;
    h.state_mut().apply(Action::Time(Command::Seek(end / 3)));
    h.run_steps(1);
    h.get_by_label("Crash tm-2").click();
    // One frame applies the click, the next draws the fork.
    h.run_steps(2);
    let session = h.state().session.as_ref().unwrap();
    assert_eq!(session.runs.len(), 2, "the original run is kept");
    assert_eq!(session.shown, 1, "the fork is shown");
    assert_eq!(session.run().injections.len(), 1);
    let cursor = h.state().time.cursor_ns;
    assert_eq!(cursor, end / 3, "the cursor stays where the fault was injected");
    assert!(h.query_by_label_contains("vs the original").is_some());
    h.get_by_label("Compare at-most-once, at-least-once, exactly-once").click();
    wait_for_comparison(&mut h);
    let session = h.state().session.as_ref().unwrap();
    let (run, reports) = session.comparison.as_ref().expect("compared");
    assert_eq!((*run, reports.len()), (1, 5));
    assert!(h.query_by_label("promise kept?").is_some());
    // A row of the table opens its run: the same faults under that guarantee and sink, and its
    // outcome table says what the table's row says.
    let report = reports.iter().find(|r| r.guarantee.label() == "at-least-once").expect("compared").clone();
    h.get_all_by_label("at-least-once").next().expect("a row of the table").click();
    h.run_steps(2);
    assert_eq!(h.state().tab, gui::app::Tab::Outcome);
    let session = h.state_mut().session.as_mut().unwrap();
    assert_eq!((session.scenario.guarantee, session.variant.1), (report.guarantee, Some(report.sink)));
    assert_eq!(session.runs.len(), 3);
    let shown = session.shown;
    assert_eq!(session.ledger(shown).unwrap().outcome, report.outcome, "the run is the table's row");
    // Back to the original run.
    h.get_by_label("Faults and outcomes").click();
    h.run_steps(1);
    h.get_by_label("original run").click();
    h.run_steps(1);
    assert_eq!(h.state().session.as_ref().unwrap().shown, 0);
}

/// *Faults and outcomes*, *Guarantee:*, at-least-once: the switch is applied.
fn choose_at_least_once(h: &mut Harness<'static, App>) {
    h.get_by_label("Faults and outcomes").click();
    h.run_steps(1);
    h.get_by_role_and_label(Role::ComboBox, "Guarantee:").click();
    h.run_steps(2);
    h.get_by_label("at-least-once").click();
    h.run_steps(1);
}

#[test]
fn the_guarantee_switch_runs_the_scenario_again() {
    let mut h = harness(ScenarioSource::Embedded);
    h.run_steps(1);
    choose_at_least_once(&mut h);
    let session = h.state().session.as_ref().unwrap();
    assert_eq!(session.scenario.guarantee, sim::scenario::Guarantee::AtLeastOnce);
    assert_eq!(session.base.guarantee, sim::scenario::Guarantee::ExactlyOnce, "the loaded scenario is kept");
}

#[test]
fn clicking_the_timeline_moves_the_cursor_there() {
    let mut h = harness(ScenarioSource::Embedded);
    h.run_steps(1);
    let end = h.state().session.as_ref().unwrap().run().end_ns;
    h.state_mut().apply(Action::Time(Command::Seek(end / 2)));
    h.run_steps(1);
    let rect = h.get_by_label("Timeline").rect();
    let at = egui::pos2(rect.left() + rect.width() * 0.1, rect.center().y);
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
    let cursor = h.state().time.cursor_ns;
    assert!(cursor < end / 2, "clicking left of the cursor moves it back");
    // About a tenth of the way in (the bar has a small inner margin).
    assert!(cursor > end / 20 && cursor < end / 7, "{cursor} of {end}");
}

#[test]
fn right_clicking_a_subtask_crashes_its_task_manager() {
    let mut h = harness(ScenarioSource::Embedded);
    h.run_steps(1);
    let end = h.state().session.as_ref().unwrap().run().end_ns;
    h.state_mut().apply(Action::Time(Command::Seek(end / 2)));
    h.run_steps(1);
    let graph = h.get_by_label("Job graph").rect();
    let session = h.state().session.as_ref().unwrap();
    let counts1 = session.scenario.plan.subtask_by_name("counts[1]").unwrap();
    let tm = session.layout.subtasks[counts1.index()].task_manager;
    let at = gui::panels::dag::subtask_rect(&session.layout, graph, counts1).center();
    h.event(egui::Event::PointerMoved(at));
    for pressed in [true, false] {
        h.event(egui::Event::PointerButton {
            pos: at,
            button: egui::PointerButton::Secondary,
            pressed,
            modifiers: egui::Modifiers::NONE,
        });
    }
    h.run_steps(2);
    h.get_by_label_contains(&format!("Crash tm-{tm} (")).click();
    h.run_steps(2);
    let session = h.state().session.as_ref().unwrap();
    assert_eq!(session.runs.len(), 2);
    let fault = &session.run().injections[0].fault;
    assert!(
        matches!(fault, sim::faults::Fault::Crash { node, .. } if *node == sim::scenario::NodeId::task_manager(tm)),
        "{fault:?}"
    );
}

#[test]
fn partitioning_and_delaying_a_link_fork_the_run() {
    let mut h = harness(ScenarioSource::File(scenario_file("crash-during-checkpoint.ron")));
    h.run_steps(1);
    h.get_by_label("Faults and outcomes").click();
    h.run_steps(1);
    let end = h.state().session.as_ref().unwrap().run().end_ns;
    h.state_mut().apply(Action::Time(Command::Seek(end / 4)));
    h.run_steps(1);
    h.get_by_label("Partition tm-0<->tm-1").click();
    h.run_steps(2);
    let session = h.state().session.as_ref().unwrap();
    assert_eq!(session.runs.len(), 2);
    assert!(session.run().label.starts_with("partition tm-0<->tm-1 from "), "{}", session.run().label);
    // The fork's panel may push the button below the small test window: clicked as a screen
    // reader would.
    h.get_by_label("Delay tm-1<->tm-2").click_accesskit();
    h.run_steps(2);
    let session = h.state().session.as_ref().unwrap();
    assert_eq!(session.runs.len(), 3, "a fork of the fork");
    assert_eq!(session.run().injections.len(), 2, "it replays both faults");
    // While both are on, the graph marks them: on the task managers' headers and the channels.
    // (A clicked fault starts at the first free whole millisecond after the cursor.)
    let started = session.run().injections.iter().map(|i| i.fired_ns).max().unwrap();
    assert!(started > end / 4 && started < end / 4 + 100_000_000, "{started}");
    let cursor = started + 1_000_000;
    h.state_mut().apply(Action::Time(Command::Seek(cursor)));
    h.run_steps(1);
    let session = h.state_mut().session.as_mut().unwrap();
    let dag = session.frame(cursor, None, true).dag.clone();
    assert!(dag.link_faults[0].iter().any(|n| n == "partitioned from tm-1"), "{:?}", dag.link_faults);
    assert!(dag.link_faults[2].iter().any(|n| n.starts_with('+') && n.ends_with("to tm-1")), "{:?}", dag.link_faults);
    assert!(dag.channels.iter().any(|c| c.cut) && dag.channels.iter().any(|c| c.delay_ns > 0));
    let late = session.run().end_ns;
    assert!(h.query_by_label("partitioned from tm-1").is_some(), "on tm-0's header");
    // Long after, neither is.
    let dag = h.state_mut().session.as_mut().unwrap().frame(late, None, true).dag.clone();
    assert!(dag.link_faults.iter().all(|l| l.is_empty()) && dag.channels.iter().all(|c| !c.cut && c.delay_ns == 0));
}

/// Every label of the job graph, at moments all through two scenarios (one with a crash, restarts
/// and partitions), at both projector resolutions, in presenter mode and not: no two overlap, and
/// no channel's curve (nor a leader line) crosses one. The labels and the lines are the ones the
/// drawing code placed and drew (`panels::labels`), read back after the frame.
#[test]
fn no_two_labels_of_the_job_graph_overlap_nor_cross_a_line() {
    use gui::panels::labels::{crossing, dag_labels_id, overlapping, Labels};
    let cases = [
        (ScenarioSource::File(scenario_file("crash-during-checkpoint.ron")), (1280.0, 800.0), false),
        (ScenarioSource::File(scenario_file("crash-during-checkpoint.ron")), (1920.0, 1080.0), true),
        (ScenarioSource::Embedded, (1280.0, 800.0), true),
        (ScenarioSource::Embedded, (1920.0, 1080.0), false),
    ];
    for (source, (w, h_px), presenter) in cases {
        let mut h = Harness::builder()
            .with_size(egui::vec2(w, h_px))
            .build_ui_state(|ui, app: &mut App| app.workbench_ui(ui), App::new_headless(source.clone(), None));
        h.state_mut().presenter = presenter;
        h.run_steps(2);
        let end = h.state().session.as_ref().unwrap().run().end_ns;
        // A partition a quarter of the way in, so that cut channels and their piles are drawn too.
        h.state_mut().apply(Action::Time(Command::Seek(end / 4)));
        h.state_mut().apply(Action::Inject(gui::app::FaultRequest::Partition { a: 0, b: 1, duration_ms: 3_000 }));
        h.run_steps(1);
        let (mut total, mut floating) = (0, 0);
        for k in 0..=40u64 {
            h.state_mut().time.cursor_ns = end / 4 + (end - end / 4) * k / 40;
            h.step();
            let labels = Labels::last(&h.ctx, dag_labels_id());
            let ticks = Labels::last(&h.ctx, gui::panels::labels::timeline_labels_id());
            assert!(ticks.len() >= 3 && overlapping(&ticks).is_empty(), "timeline ticks: {ticks:?}");
            let pairs = overlapping(&labels);
            assert!(pairs.is_empty(), "{source:?} at {w}x{h_px}, presenter {presenter}, step {k}: {pairs:?}");
            let lines = Labels::last_lines(&h.ctx, dag_labels_id());
            assert!(lines.len() > 50, "the channels' curves were kept ({})", lines.len());
            let crossed = crossing(&labels, &lines);
            assert!(crossed.is_empty(), "{source:?} at {w}x{h_px}, presenter {presenter}, step {k}: {crossed:?}");
            total += labels.len();
            floating += labels.iter().filter(|l| l.floating).count();
        }
        assert!(total > 200, "the labels were collected ({total})");
        assert!(floating > 0, "messages and channels were labelled ({source:?})");
    }
}

/// The flow a new user tries first: on the default scenario, crash a task manager after a window
/// fired and before the next checkpoint, then compare the guarantees: at-least-once shows the
/// replayed results twice, exactly-once with a two-phase-commit sink is exact. (Crashing while
/// checkpoint 5 is in flight no longer over-counts at-least-once: with Flink's 100 ms buffer
/// timeout the post-barrier records wait in their buffers longer than the barriers' gap.)
#[test]
fn crashing_during_a_checkpoint_then_comparing_shows_at_least_once_duplicates() {
    // The windows [5 s, 10 s) fired before 11.5 s; checkpoint 6 comes at 12 s.
    let mut h = crash_tm1_now_at(11_500_000_000);
    let session = h.state().session.as_ref().unwrap();
    assert_eq!(session.runs.len(), 2, "the crash forked the run");
    let reports = compare_the_guarantees(&mut h);
    let class = |g, s| reports.iter().find(|r| r.guarantee == g && r.sink == s).map(|r| r.class);
    use engine::sink::SinkKind;
    use sim::scenario::{Guarantee, OutcomeClass};
    assert_eq!(class(Guarantee::AtLeastOnce, SinkKind::Plain), Some(OutcomeClass::Duplicates));
    assert_eq!(class(Guarantee::ExactlyOnce, SinkKind::TwoPhaseCommit), Some(OutcomeClass::Exact));
    assert_eq!(class(Guarantee::AtMostOnce, SinkKind::Plain), Some(OutcomeClass::Loss));
    // The cost view plots the same reports; a setup's name opens its run.
    assert!(h.query_by_label("Cost of each guarantee on this seed and these faults").is_some());
    let lost = reports.iter().find(|r| r.guarantee == Guarantee::AtMostOnce).unwrap().outcome.lost_records.len();
    assert!(lost > 0 && h.query_all_by_label(&lost.to_string()).count() >= 2, "in the table and the cost view");
    // The default scenario names no restart strategy: without checkpoints Flink's default is none,
    // so the at-most-once run fails at the crash, and the table says so under it.
    h.get_by_label_contains(
        "at-most-once · plain: the run stopped before the job finished (job failed: no restart strategy",
    );
    // Below the table, maybe scrolled out of the test window: clicked as a screen reader would.
    h.get_by_label("at-least-once\nplain").click_accesskit();
    h.run_steps(2);
    let session = h.state().session.as_ref().unwrap();
    assert_eq!((session.scenario.guarantee, session.variant.1), (Guarantee::AtLeastOnce, Some(SinkKind::Plain)));
    assert_eq!(h.state().tab, gui::app::Tab::Outcome);
}

/// The default scenario, the cursor at `at_ns`, "Crash tm-1 now" pressed and the fork drawn.
fn crash_tm1_now_at(at_ns: u64) -> Harness<'static, App> {
    let mut h = harness(ScenarioSource::Embedded);
    h.run_steps(1);
    h.state_mut().apply(Action::Time(Command::Seek(at_ns)));
    h.run_steps(1);
    h.get_by_label("Crash tm-1 now").click();
    // One frame applies the click, the next draws the fork.
    h.run_steps(2);
    h
}

/// Open the Charts tab and export into a fresh temporary folder named after `what`; it went well.
fn export_charts(h: &mut Harness<'static, App>, what: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("streamlab-ui-{what}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    h.get_by_label("Charts").click();
    h.run_steps(1);
    h.state_mut().export_dir = dir.display().to_string();
    h.get_by_label("Export charts (PNG + SVG)").click();
    h.run_steps(1);
    assert!(matches!(&h.state().export_status, Some(Ok(_))), "{:?}", h.state().export_status);
    dir
}

/// `crash-during-checkpoint.ron` with the cursor at `at_ns`, drawn there.
fn crash_during_checkpoint_at(at_ns: u64) -> Harness<'static, App> {
    let mut h = harness(ScenarioSource::File(scenario_file("crash-during-checkpoint.ron")));
    h.run_steps(1);
    h.state_mut().apply(Action::Time(Command::Seek(at_ns)));
    h.run_steps(1);
    h
}

/// `file` opened on its Outcome tab, with *Only what differs* pressed.
fn only_what_differs(file: &str) -> Harness<'static, App> {
    let mut h = harness(ScenarioSource::File(scenario_file(file)));
    h.run_steps(1);
    h.get_by_label("Outcome: every row vs. the run without faults").click();
    h.run_steps(2);
    h.get_by_label("Only what differs").click();
    h.run_steps(1);
    h
}

/// The Flink Outcome tab says the oracle's verdict, and under a "Duplicates" verdict with no
/// doubled row (at-least-once into an idempotent sink: the replayed records were counted twice
/// into windows both runs have) says where the records went, as the other models' views do.
#[test]
fn the_flink_outcome_tab_says_why_duplicates_show_no_doubled_row() {
    let mut h = harness(ScenarioSource::File(scenario_file("crash-during-checkpoint.ron")));
    h.run_steps(1);
    h.get_by_label("Outcome: every row vs. the run without faults").click();
    h.run_steps(2);
    // As written (exactly-once, plain sink) the replayed windows are doubled rows: no note.
    h.get_by_label_contains(
        "oracle vs the fault-free run: Duplicates (the exactly-once promise: BROKEN); source records lost 0",
    );
    assert!(h.query_by_label_contains("No row is doubled").is_none());
    choose_at_least_once(&mut h);
    h.run_steps(2);
    h.get_by_role_and_label(Role::ComboBox, "Sinks:").click();
    h.run_steps(2);
    h.get_by_label("idempotent").click();
    h.run_steps(1);
    h.get_by_label("Outcome: every row vs. the run without faults").click();
    h.run_steps(2);
    let session = h.state_mut().session.as_mut().unwrap();
    let shown = session.shown;
    let outcome = session.ledger(shown).expect("built when the tab opened").outcome.clone();
    let twice = outcome.duplicated_records.len();
    assert!(twice > 0 && outcome.duplicate_rows.is_empty() && outcome.unexpected_rows.is_empty(), "{outcome:?}");
    h.get_by_label_contains(&format!("No row is doubled: the {twice} records counted twice"));
    h.get_by_label_contains("oracle vs the fault-free run: Duplicates (the at-least-once promise: kept)");
}

/// The outcome tab: find the duplicated windows after the crash with the filter, select one,
/// follow its provenance to the crash.
#[test]
fn the_duplicates_are_found_by_the_filter_and_their_provenance_leads_to_the_crash() {
    let mut h = only_what_differs("crash-during-checkpoint.ron");
    let app = h.state();
    assert!(!app.ledger_filter.shows(gui::view::ledger::Status::Exact));
    let session = app.session.as_ref().unwrap();
    let ledger = session.ledgers[session.shown].as_ref().expect("built when the tab opened");
    let dups = ledger.count(gui::view::ledger::Status::Duplicate);
    assert!(dups > 0 && dups == ledger.outcome.duplicate_rows.len(), "{}", ledger.counts_text());
    assert!(h.query_by_label(&format!("{dups} duplicate")).is_some(), "the count is on top");
    h.get_all_by_label("duplicate").next().expect("a duplicate line").click();
    h.run_steps(2);
    let session = h.state().session.as_ref().unwrap();
    let (_, provenance) = session.provenance.as_ref().expect("selected");
    let crash = provenance.as_ref().expect("a chain").steps.iter().find(|s| s.title == "Crash").cloned().unwrap();
    // The chain may be scrolled out of the small test window: click it as a screen reader would.
    h.get_by_label_contains("Crash: ").click_accesskit();
    h.run_steps(1);
    let cursor = h.state().time.cursor_ns;
    assert_eq!(Some(cursor), crash.time_ns);
    let run = h.state().session.as_ref().unwrap().run();
    assert!(run.trace.iter().any(|e| e.kind == sim::recording::TraceKind::NodeCrashed && e.time_ns == cursor));
}

/// A clicked crash is the run's fault schedule: switching the guarantee runs the same schedule
/// again, next to the other runs; switching back shows the run already made.
#[test]
fn switching_the_guarantee_keeps_the_clicked_fault() {
    let mut h = harness(ScenarioSource::File(scenario_file("crash-during-checkpoint.ron")));
    h.run_steps(1);
    h.get_by_label("Faults and outcomes").click();
    h.run_steps(1);
    let end = h.state().session.as_ref().unwrap().run().end_ns;
    h.state_mut().apply(Action::Time(Command::Seek(end / 3)));
    h.run_steps(1);
    h.get_by_label("Crash tm-0").click();
    h.run_steps(2);
    let clicked = h.state().session.as_ref().unwrap().run().injections[0].fault.clone();
    h.get_by_role_and_label(Role::ComboBox, "Guarantee:").click();
    h.run_steps(2);
    h.get_by_label("at-least-once").click();
    h.run_steps(1);
    let session = h.state().session.as_ref().unwrap();
    assert_eq!(session.runs.len(), 3, "original, fork, and the fork's schedule under at-least-once");
    assert_eq!(session.scenario.guarantee, sim::scenario::Guarantee::AtLeastOnce);
    let faults = session.run().faults.as_ref().expect("run with the fork's schedule");
    assert!(faults.contains(&clicked), "the clicked crash is kept: {faults:?}");
    assert_eq!(session.schedule_labels[2], session.schedule_labels[1]);
    assert!(session.run().final_world.restarts() > 0);
    // Back to the guarantee as written: the fork is shown again, nothing is re-run.
    h.get_by_role_and_label(Role::ComboBox, "Guarantee:").click();
    h.run_steps(2);
    h.get_by_label("as written (exactly-once)").click();
    h.run_steps(1);
    let session = h.state().session.as_ref().unwrap();
    assert_eq!((session.runs.len(), session.shown), (3, 1));
}

/// A Storm scenario opens in the Storm view: the topology with the acker as a node, pending
/// tuples per spout, and a tuple tree whose ack value goes to zero.
#[test]
fn a_storm_scenario_shows_the_acker_and_a_tuple_tree() {
    let mut h = harness(ScenarioSource::Embedded);
    h.run_steps(1);
    h.state_mut().apply(Action::Load(ScenarioSource::File(scenario_file("storm-word-count.ron"))));
    h.run_steps(1);
    assert!(h.state().error.is_none(), "{:?}", h.state().error);
    assert!(h.state().session.is_none() && h.state().storm.is_some(), "the Storm view replaces the Flink one");
    h.get_by_label("__acker[0]");
    h.get_by_label("words");
    h.get_by_label("counts");
    h.get_by_label("words[0] pending: 0");
    // Five seconds in, the counting bolts hold the first window's tuples un-acked.
    for _ in 0..5 {
        h.get_by_label("+1 s").click();
        h.run_steps(2);
    }
    assert_eq!(h.state().storm.as_ref().unwrap().cursor_ns, 5_000_000_000);
    let pending = h.state().storm.as_ref().unwrap().frame().pending[0].1;
    assert!(pending > 100, "{pending} tuples pending at 5 s");
    h.get_by_label(&format!("words[0] pending: {pending}"));
    h.get_by_label("Next tuple").click();
    h.run_steps(2);
    h.get_by_label("End").click();
    h.run_steps(2);
    let storm = h.state().storm.as_ref().unwrap();
    let tree = storm.frame().tree.expect("a tuple is selected");
    assert_eq!(tree.status, gui::view::storm::TreeStatus::Complete);
    assert_eq!(tree.steps.last().map(|s| s.ack_value), Some(0));
    h.get_by_label("tree complete: ack value 0");
    assert_eq!(storm.frame().pending[0].1, 0, "every tuple acked by the end");
}

/// The word count's worker crash kills the spout with its pending tuples: nothing is replayed
/// (no tree failed or timed out), yet the output has duplicates. The counters say why: the
/// restarted spout re-read records it had emitted before — as many as the core counted, none
/// before the crash.
#[test]
fn the_storm_counters_show_what_a_restarted_spout_read_again() {
    let mut h = harness(ScenarioSource::File(scenario_file("storm-word-count.ron")));
    h.run_steps(1);
    let rereads = h.state().storm.as_ref().expect("the Storm view").run.world.stats.rereads;
    assert!(rereads > 0, "the spout's worker crashes and comes back");
    h.get_by_label("re-read after a spout restart");
    for _ in 0..11 {
        h.get_by_label("+1 s").click();
        h.run_steps(2);
    }
    let storm = h.state().storm.as_ref().unwrap();
    assert_eq!((storm.cursor_ns, storm.frame().reread), (11_000_000_000, 0), "nothing re-read before the crash");
    h.get_by_label("End").click();
    h.run_steps(2);
    let frame = h.state().storm.as_ref().unwrap().frame();
    assert_eq!((frame.reread, frame.replayed), (rereads, 0));
}

/// The Kafka Streams view's Outcome tab marks the rows as the verdict counts them (the failover
/// leaves rows with over-counted values); a wrong row's story names the failovers behind it and
/// the guarantee's rule, and a step's time moves the cursor to it.
#[test]
fn the_kafka_streams_outcome_tab_marks_rows_and_tells_a_wrong_rows_story() {
    use gui::view::kstreams::KStreamsTab;
    use gui::view::ledger::Status;
    let mut h = harness(ScenarioSource::File(scenario_file("kafka-streams-failover.ron")));
    h.run_steps(1);
    h.get_by_label_contains("Outcome (").click();
    h.run_steps(2);
    let ks = h.state().kstreams.as_ref().expect("the Kafka Streams view");
    assert_eq!(ks.tab, KStreamsTab::Outcome);
    let wrong = ks.ledger.count(Status::Wrong);
    assert!(wrong > 0 && wrong == ks.ledger.outcome.wrong_rows.len(), "{}", ks.ledger.counts_text());
    assert!(ks.verdict.contains(&format!("wrong {wrong}")), "the table counts what the verdict says: {}", ks.verdict);
    // The book says so: under at_least_once every row that differs is over-counted.
    let over = |l: &gui::view::ledger::LedgerRow| l.expected.is_some_and(|e| l.value > e);
    assert!(ks.ledger.rows.iter().filter(|l| l.status == Status::Wrong).all(over));
    h.get_by_label("Only what differs").click();
    h.run_steps(1);
    h.get_all_by_label("wrong value").next().expect("a wrong line").click();
    h.run_steps(2);
    let ks = h.state().kstreams.as_ref().unwrap();
    let (line, chain) = ks.provenance.clone().expect("a line is selected");
    let chain = chain.expect("a row the run wrote has a story");
    assert_eq!(ks.ledger.rows[line].status, Status::Wrong);
    assert_eq!(chain.steps.last().map(|s| s.title.as_str()), Some("This row"));
    assert!(chain.why.contains("offsets committed every commit interval"), "the guarantee's rule: {}", chain.why);
    let crash = chain.steps.iter().find(|s| s.title == "Crash").and_then(|s| s.time_ns);
    let upstream = chain.why.contains("of the first sub-topology did");
    assert!(crash.is_some() || upstream, "a failover is named: {chain:?}");
    if let Some(crash) = crash {
        h.get_by_label_contains("Crash: ").click_accesskit();
        h.run_steps(2);
        let ks = h.state().kstreams.as_ref().unwrap();
        assert_eq!((ks.cursor_ns, ks.tab), (crash, KStreamsTab::Tasks));
    }
}

/// The timeout storm in the workbench: the timeline counts its timeouts, and the button finds a
/// tuple whose tree timed out and was replayed.
#[test]
fn the_workbench_marks_timeouts_and_finds_a_timed_out_tuple() {
    let mut h = harness(ScenarioSource::File(scenario_file("storm-timeout-storm.ron")));
    h.run_steps(1);
    let timeouts = h.state().storm.as_ref().expect("the Storm view").run.world.stats.timeouts;
    assert!(timeouts > 0);
    // Crashes are marked in the theme's strongest text colour, and the label names it.
    let crash_word = if h.ctx.global_style().visuals.dark_mode { "white" } else { "black" };
    h.get_by_label_contains(&format!("timeline: {timeouts} timeouts (red), 0 crashes ({crash_word}); hover a mark"));
    h.get_by_label("Next timed-out tuple").click();
    h.run_steps(2);
    let storm = h.state().storm.as_ref().unwrap();
    assert_eq!(storm.frame().tree.map(|t| t.status), Some(gui::view::storm::TreeStatus::TimedOut));
    h.get_by_label("tree timed out: the spout replays it");
    // Loading a Flink scenario again leaves the Storm view.
    h.state_mut().apply(Action::Load(ScenarioSource::Embedded));
    h.run_steps(1);
    assert!(h.state().storm.is_none() && h.state().session.is_some());
}

/// A fault clicked in the Storm view: the topology is recorded again with the worker crash added
/// at the cursor — the same run up to it — and it stays through a guarantee switch until cleared.
#[test]
fn the_storm_view_crashes_a_worker_at_the_cursor() {
    use gui::app::FaultRequest;
    use sim::recording::Payload;
    use sim::scenario::Guarantee;
    let crashes = |events: &[sim::recording::TraceEvent]| {
        events.iter().filter(|e| matches!(e.payload(), Payload::NodeCrashed { .. })).count()
    };
    let mut h = harness(ScenarioSource::File(scenario_file("storm-word-count.ron")));
    h.run_steps(1);
    let original = h.state().storm.as_ref().expect("the Storm view").events.clone();
    let file_faults = h.state().storm.as_ref().unwrap().run.world.faults.len();
    for _ in 0..3 {
        h.get_by_label("+1 s").click();
        h.run_steps(2);
    }
    h.get_by_label("Faults").click();
    h.run_steps(1);
    // The file's own fault is named, in the workbench's words.
    h.get_by_label("This run has the file's faults (crash tm-1 at 12.000 s, back after 2 s) only.");
    h.get_by_label("Crash tm-0").click();
    h.run_steps(2);
    let at_ns = 3_000_000_000;
    let storm = h.state().storm.as_ref().expect("still the Storm view");
    let crash = FaultRequest::Crash { tm: 0, restart_after_ms: Some(2_000) };
    assert_eq!(storm.origin.injected, vec![(at_ns, crash)]);
    assert_eq!(storm.run.world.faults.len(), file_faults + 1);
    assert_eq!(crashes(&storm.events), crashes(&original) + 1, "one more worker crash");
    let before = |events: &[sim::recording::TraceEvent]| events.iter().filter(|e| e.time_ns < at_ns).count();
    let n = before(&original);
    assert_eq!(&storm.events[..n], &original[..n], "the same run up to the clicked crash");
    assert_ne!(storm.events, original);
    assert_eq!(storm.tab, gui::view::storm::StormTab::Faults, "the tab stays open");
    assert_eq!(storm.cursor_ns, at_ns, "and the cursor at the clicked moment");
    h.get_by_label_contains(
        "This run has the file's faults (crash tm-1 at 12.000 s, back after 2 s), then crash tm-0 at ",
    );
    // The guarantees compared on these faults: acking off loses, acking duplicates, Trident is exact.
    h.get_by_label("Compare the guarantees on these faults").click();
    wait_until_compared(&mut h, |app| app.storm.as_ref().unwrap().comparing.is_none());
    let reports = h.state().storm.as_ref().unwrap().comparison.clone().expect("compared");
    let guarantees: Vec<Guarantee> = reports.iter().map(|r| r.guarantee).collect();
    assert_eq!(guarantees, [Guarantee::AtMostOnce, Guarantee::AtLeastOnce, Guarantee::ExactlyOnce]);
    let (off, acking, trident) = (&reports[0].outcome, &reports[1].outcome, &reports[2].outcome);
    assert!(!off.lost_records.is_empty() && off.duplicated_records.is_empty(), "{off:?}");
    assert!(acking.lost_records.is_empty() && !acking.duplicated_records.is_empty(), "{acking:?}");
    assert!(trident.lost_records.is_empty() && trident.duplicated_records.is_empty(), "{trident:?}");
    assert!(reports.iter().all(|r| r.verdict), "each kept its own promise");
    h.get_by_label("promise kept?");
    // Another guarantee runs the same faults, and its Outcome tab agrees with the comparison.
    h.get_by_role_and_label(Role::ComboBox, "Guarantee:").click();
    h.run_steps(2);
    h.get_all_by_label("acking off: at-most-once").next().expect("in the list").click();
    h.run_steps(2);
    let storm = h.state().storm.as_ref().unwrap();
    assert_eq!(storm.origin.injected.len(), 1, "the clicked crash is kept");
    assert_eq!(storm.run.world.config.ackers, 0);
    assert_eq!(storm.ledger.outcome.lost_records, off.lost_records, "the view and the comparison agree");
    assert!(storm.comparison.is_none(), "a new run: compared again on request");
    h.get_by_label("Back to the file's faults").click();
    h.run_steps(2);
    let storm = h.state().storm.as_ref().unwrap();
    assert!(storm.origin.injected.is_empty());
    assert_eq!(storm.run.world.faults.len(), file_faults);
    assert_eq!(crashes(&storm.events), crashes(&original));
    // The Charts tab draws the run's charts and exports them.
    let dir = export_charts(&mut h, "storm-charts");
    // Named by the run, as its saved files are: another run's charts go beside them.
    let stem = h.state().save_stem();
    for file in ["storm-per-second.png", "storm-per-second.svg"] {
        assert!(dir.join(format!("{stem}-{file}")).is_file(), "{stem}-{file} written");
    }
    assert!(!dir.join("storm-pending.svg").exists(), "acking off: no tuple is ever pending, no such chart");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A Storm run's outcome: the duplicates found by the filter, one duplicate's provenance followed
/// to the timeout that made the spout replay it; its spout message's link selects that tuple.
#[test]
fn a_storm_duplicate_is_found_by_the_filter_and_its_provenance_leads_to_the_timeout() {
    let mut h = harness(ScenarioSource::File(scenario_file("storm-timeout-storm.ron")));
    h.run_steps(1);
    h.get_by_label_contains("Outcome (").click();
    h.run_steps(2);
    h.get_by_label("Only what differs").click();
    h.run_steps(1);
    let storm = h.state().storm.as_ref().expect("the Storm view");
    assert!(!storm.filter.shows(gui::view::ledger::Status::Exact));
    let dups = storm.ledger.count(gui::view::ledger::Status::Duplicate);
    assert!(dups > 0 && dups == storm.ledger.outcome.duplicate_rows.len(), "{}", storm.ledger.counts_text());
    assert!(h.query_by_label(&format!("{dups} duplicate")).is_some(), "the count is on top");
    h.get_all_by_label("duplicate").next().expect("a duplicate line").click();
    h.run_steps(2);
    let storm = h.state().storm.as_ref().unwrap();
    let chain = storm.provenance.as_ref().and_then(|(_, p)| p.clone()).expect("a chain");
    let step = |title: &str| chain.steps.iter().find(|s| s.title == title).and_then(|s| s.time_ns).expect(title);
    let (timeout, message) = (step("Timeout"), step("Spout message"));
    h.get_by_label_contains("Timeout: ").click_accesskit();
    h.run_steps(1);
    let storm = h.state().storm.as_ref().unwrap();
    assert_eq!(storm.cursor_ns, timeout);
    assert!(storm.events.iter().any(|e| e.kind == sim::recording::TraceKind::StormTimeout && e.time_ns == timeout));
    // The spout message's link selects the tuple emitted then: its tree timed out.
    h.get_by_label_contains("Spout message: ").click_accesskit();
    h.run_steps(1);
    h.get_by_label("Topology and tuple trees").click();
    h.run_steps(2);
    let storm = h.state().storm.as_ref().unwrap();
    assert_eq!(storm.cursor_ns, message);
    h.state_mut().storm.as_mut().unwrap().set_cursor(u64::MAX);
    h.run_steps(1);
    let tree = h.state().storm.as_ref().unwrap().frame().tree.expect("the message's tuple is selected");
    assert_eq!((tree.tuple.emitted_ns, tree.status), (message, gui::view::storm::TreeStatus::TimedOut));
}

/// Storm word count under acking: an over-counted window's provenance leads to the worker crash
/// that made the spout re-read its records.
#[test]
fn a_storm_over_counted_window_leads_to_the_crash() {
    let mut h = harness(ScenarioSource::File(scenario_file("storm-word-count.ron")));
    h.run_steps(1);
    h.get_by_label_contains("Outcome (").click();
    h.run_steps(2);
    h.get_by_label("Only what differs").click();
    h.run_steps(1);
    h.get_all_by_label("wrong value").next().expect("a wrong line").click();
    h.run_steps(2);
    h.get_by_label_contains("Crash: ").click_accesskit();
    h.run_steps(1);
    let storm = h.state().storm.as_ref().unwrap();
    assert!(storm
        .events
        .iter()
        .any(|e| e.kind == sim::recording::TraceKind::NodeCrashed && e.time_ns == storm.cursor_ns));
    h.get_by_label_contains("Re-read: ");
}

/// The Storm view's controls are the workbench's (one shown run for every model): storm word
/// count switched to acking off is recorded again — the crash now loses words where acking
/// replayed them as duplicates —, keeps that guarantee when re-run with another seed, saves to a
/// file that reopens to the same run, and exports its sink output and a trace Perfetto reads.
#[test]
fn the_storm_view_switches_to_acking_off_saves_and_exports() {
    use gui::view::ledger::Status;
    use sim::scenario::Guarantee;
    let dir = std::env::temp_dir().join(format!("streamlab-ui-storm-save-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut h = harness(ScenarioSource::File(scenario_file("storm-word-count.ron")));
    h.run_steps(1);
    let storm = h.state().storm.as_ref().expect("the Storm view");
    assert_eq!(storm.scenario.guarantee, Guarantee::AtLeastOnce, "the file acks");
    let acking = storm.ledger.outcome.clone();
    assert!(acking.lost_records.is_empty() && !acking.duplicated_records.is_empty(), "acking replays: {acking:?}");
    h.get_by_role_and_label(Role::ComboBox, "Guarantee:").click();
    h.run_steps(2);
    h.get_by_label("acking off: at-most-once").click();
    h.run_steps(2);
    let storm = h.state().storm.as_ref().expect("still the Storm view");
    assert_eq!(storm.origin.guarantee, Some(Guarantee::AtMostOnce));
    assert_eq!(storm.origin.base.guarantee, Guarantee::AtLeastOnce, "the loaded scenario is kept");
    assert_eq!((storm.scenario.guarantee, storm.run.world.config.ackers), (Guarantee::AtMostOnce, 0));
    let lost = &storm.ledger.outcome;
    assert!(!lost.lost_records.is_empty() && lost.duplicated_records.is_empty(), "acking off loses: {lost:?}");
    assert!(storm.ledger.count(Status::Missing) + storm.ledger.count(Status::Wrong) > 0);
    h.get_by_label_contains("acking off: at-most-once: no acker");
    h.get_by_label_contains(&format!("Outcome ({})", storm.ledger.counts_text()));
    h.get_by_label("no acker (acking off)");
    // Re-run with another seed: the guarantee chosen stays.
    h.state_mut().seed_text = "7".to_string();
    h.get_by_label("Re-run").click();
    h.run_steps(2);
    let storm = h.state().storm.as_ref().unwrap();
    assert_eq!((storm.seed, storm.origin.guarantee), (7, Some(Guarantee::AtMostOnce)));
    let (hash, rows) = (storm.run.trace_hash(), storm.run.visible_rows().len());
    let emits = storm.events.iter().filter(|e| e.kind == sim::recording::TraceKind::StormEmit).count();
    // Save and export, through the same panel as a Flink run.
    h.get_by_label("Save / export").click();
    h.run_steps(1);
    h.get_by_label_contains("Charts: the Charts tab exports them");
    h.state_mut().save.dir = dir.display().to_string();
    h.run_steps(1);
    h.get_by_label_contains("Save as scenario file").click();
    h.run_steps(1);
    assert!(matches!(h.state().save.status.as_slice(), [Ok(_)]), "{:?}", h.state().save.status);
    let path = dir.join("storm-word-count-at-most-once.ron");
    let saved = std::fs::read_to_string(&path).expect("the file is there");
    h.get_by_label_contains("Save as scenario file").click();
    h.run_steps(1);
    assert!(matches!(h.state().save.status.as_slice(), [Err(e)] if e.is_refused()), "not replaced unasked");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), saved);
    h.get_by_label("Export sink output (CSV + JSON)").click();
    h.run_steps(1);
    let csv = std::fs::read_to_string(dir.join("storm-word-count-at-most-once.sink.csv")).expect("csv");
    assert_eq!(csv.lines().count(), rows + 1, "a header and every visible row");
    h.get_by_label("Export trace for Perfetto").click();
    h.run_steps(1);
    assert!(matches!(h.state().save.status.as_slice(), [Ok(_)]), "{:?}", h.state().save.status);
    let text = std::fs::read_to_string(dir.join("storm-word-count-at-most-once.trace.json")).expect("trace");
    let trace: serde_json::Value = serde_json::from_str(&text).expect("the trace is JSON");
    let events = trace["traceEvents"].as_array().expect("Chrome trace format: traceEvents");
    let named = |name: &str| events.iter().filter(|e| e["name"] == name).count();
    assert_eq!(named("emit"), emits, "every spout emit, as an instant");
    assert!(events.iter().all(|e| e["cat"] != "storm-ack"), "acking off: no acker messages");
    // Open the saved file: the same run, acking off as written.
    h.state_mut().path_text = path.display().to_string();
    h.get_by_label("Open").click();
    h.run_steps(2);
    let storm = h.state().storm.as_ref().expect("a Storm file opens in the Storm view");
    assert_eq!(storm.origin.source, ScenarioSource::File(path.clone()));
    assert_eq!((storm.origin.guarantee, storm.scenario.guarantee), (None, Guarantee::AtMostOnce));
    assert_eq!(storm.run.trace_hash(), hash, "the saved run reloads to the same trace");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The tour on a fork: a crash clicked at 1 s shifts checkpoint 3 and everything after it; the
/// stops that name an event (a checkpoint, the file's crashes, the restarts) stand where it
/// happens in the fork, and playback pauses there.
#[test]
fn a_guided_tour_plays_on_a_fork() {
    let mut h = harness(ScenarioSource::File(scenario_file("crash-during-checkpoint.ron")));
    h.run_steps(1);
    h.get_by_label("Faults and outcomes").click();
    h.run_steps(1);
    h.state_mut().apply(Action::Time(Command::Seek(1_000_000_000)));
    h.run_steps(1);
    h.get_by_label("Crash tm-0").click();
    h.run_steps(2);
    let session = h.state().session.as_ref().unwrap();
    assert_eq!(session.shown, 1, "the fork is shown");
    let (stops, placed) = (session.scenario.tour.clone(), session.tour.clone());
    let run = session.run();
    let when = |e| sim::scenario::tour::event_time(e, &run.trace, &run.final_world.fault_fired_at);
    let mut moved = 0;
    for (stop, p) in stops.iter().zip(&placed) {
        if let Some(t) = stop.event.and_then(when) {
            assert_eq!(p.at_ns, t.max(p.at_ns), "{stop:?}");
            moved += usize::from(Some(p.at_ns) != stop.at_ns);
        }
    }
    assert!(moved >= 3, "the fork's events are elsewhere than the written times: {placed:?}");
    h.get_by_label("Play tour").click();
    h.run_steps(2);
    assert_eq!(h.state().time.cursor_ns, placed[0].at_ns);
    for (k, stop) in placed.iter().enumerate().skip(1) {
        play_to_next_stop(&mut h);
        assert_eq!(h.state().tour.as_ref().map(|t| t.shown), Some(k), "stop {k}");
        assert_eq!(h.state().time.cursor_ns, stop.at_ns, "playback paused at stop {k} of the fork");
    }
    assert!(h.state().tour.as_ref().unwrap().finished);
}

/// Press "Next stop" and let playback run until it pauses there. Bounded: a stop is a few
/// virtual seconds away at the suggested speed.
fn play_to_next_stop(h: &mut Harness<'static, App>) {
    h.get_by_label("Next stop").click();
    h.run_steps(1);
    for _ in 0..2_000 {
        if !h.state().time.playing {
            break;
        }
        h.run_steps(1);
    }
}

/// An app that records in slices of a few thousand events per frame (as the web build would),
/// so that a recording spans frames and its progress can be watched.
fn sliced_harness(source: ScenarioSource) -> Harness<'static, App> {
    let app = App::with_driver(source, None, gui::recording::Driver::Slices { slice: 3_000 }, false);
    Harness::builder()
        .with_size(egui::vec2(1400.0, 900.0))
        .build_ui_state(|ui, app: &mut App| app.workbench_ui(ui), app)
}

/// Step frames until no recording is under way (bounded, so that a bug cannot hang the test).
fn until_recorded(h: &mut Harness<'static, App>) -> Vec<f32> {
    let mut progress = Vec::new();
    for _ in 0..10_000 {
        match &h.state().pending {
            Some(p) => progress.push(p.recording.progress()),
            None => return progress,
        }
        h.step();
    }
    panic!("the recording did not finish");
}

#[test]
fn loading_shows_progress_then_the_recorded_run() {
    let mut h = sliced_harness(ScenarioSource::Embedded);
    h.step();
    assert!(h.state().session.is_none(), "a few thousand events do not finish the default scenario");
    assert!(h.state().pending.is_some());
    // The first frame shows what is happening, not a blank window.
    assert!(h.query_all_by_label_contains("Recording").next().is_some());
    h.get_by_label("Cancel");
    let progress = until_recorded(&mut h);
    assert!(progress.len() > 3, "the recording spanned frames");
    assert!(progress.windows(2).all(|w| w[0] <= w[1]), "progress only grows: {progress:?}");
    h.step();
    let straight = gui::scrub::RecordedRun::record(std::sync::Arc::new(sim::Scenario::default_scenario()), 42);
    let session = h.state().session.as_ref().expect("recorded");
    assert_eq!(session.run().final_world.recorder.hash(), straight.final_world.recorder.hash());
    assert_eq!(session.run().trace, straight.trace);
    assert!(h.query_by_label("Cancel").is_none(), "the progress bar is gone");
    h.get_by_label("Play");
}

#[test]
fn cancelling_a_rerun_keeps_the_run_on_screen() {
    let mut h = sliced_harness(ScenarioSource::Embedded);
    until_recorded(&mut h);
    h.step();
    let before = h.state().session.as_ref().unwrap().run().final_world.recorder.hash();
    h.state_mut().seed_text = "7".into();
    h.state_mut().apply(Action::Rerun);
    h.step();
    assert!(h.state().pending.is_some(), "the re-run is being recorded");
    // Meanwhile the old run stays interactive: playing moves its cursor.
    h.get_by_label("Play").click();
    h.run_steps(2);
    assert!(h.state().time.cursor_ns > 0);
    h.get_by_label("Cancel").click();
    h.step();
    assert!(h.state().pending.is_none(), "cancelled");
    let session = h.state().session.as_ref().unwrap();
    assert_eq!(session.seed, 42);
    assert_eq!(session.run().final_world.recorder.hash(), before, "the old run is still shown");
    h.run_steps(3);
    assert!(h.state().session.as_ref().unwrap().seed == 42, "nothing arrives after a cancel");
}

#[test]
fn the_outcome_tab_shows_progress_while_the_reference_runs() {
    let mut h = sliced_harness(ScenarioSource::Embedded);
    until_recorded(&mut h);
    h.step();
    h.get_by_label("Outcome: every row vs. the run without faults").click();
    h.step();
    assert!(h.query_by_label_contains("Running the scenario without faults").is_some(), "progress, not a blank tab");
    let mut frames_with_reference = 0;
    for _ in 0..10_000 {
        let session = h.state().session.as_ref().unwrap();
        if session.ledgers[session.shown].is_some() {
            break;
        }
        frames_with_reference += h.state().reference.is_some() as u32;
        h.step();
    }
    h.step();
    assert!(frames_with_reference > 1, "the reference run spanned frames");
    let session = h.state().session.as_ref().unwrap();
    assert!(h.state().reference.is_none());
    assert!(session.ledgers[session.shown].is_some(), "the table is built once the reference is there");
    assert!(h.query_by_label_contains("Running the scenario without faults").is_none());
}

#[test]
fn a_fork_records_on_a_worker_thread() {
    let app = App::with_driver(ScenarioSource::Embedded, None, gui::recording::Driver::Thread, false);
    let mut h = Harness::builder()
        .with_size(egui::vec2(1400.0, 900.0))
        .build_ui_state(|ui, app: &mut App| app.workbench_ui(ui), app);
    let wait = |h: &mut Harness<'static, App>| {
        // Not timed: waits as long as the worker takes (bounded against a hang).
        for _ in 0..6_000 {
            h.step();
            if h.state().pending.is_none() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        panic!("the worker did not finish");
    };
    wait(&mut h);
    let end = h.state().session.as_ref().expect("loaded").run().end_ns;
    h.state_mut().apply(Action::Time(Command::Seek(end / 3)));
    h.state_mut().apply(Action::Inject(gui::app::FaultRequest::Crash { tm: 1, restart_after_ms: Some(1_000) }));
    wait(&mut h);
    let session = h.state().session.as_ref().unwrap();
    assert_eq!((session.runs.len(), session.shown), (2, 1), "the fork is recorded and shown");
    assert_eq!(gui::scrub::trace_hash(&session.run().trace), session.run().final_world.recorder.hash());
}

#[test]
fn a_storm_scenario_records_in_slices_too() {
    let app = App::with_driver(ScenarioSource::Embedded, None, gui::recording::Driver::Slices { slice: 500 }, false);
    let mut h = Harness::builder()
        .with_size(egui::vec2(1400.0, 900.0))
        .build_ui_state(|ui, app: &mut App| app.workbench_ui(ui), app);
    until_recorded(&mut h);
    let file = scenario_file("storm-word-count.ron");
    h.state_mut().apply(Action::Load(ScenarioSource::File(file.clone())));
    let mut frames = 0;
    for _ in 0..100_000 {
        if h.state().storm_pending.is_none() {
            break;
        }
        // Meanwhile the Flink run stays on screen, with the progress bar above it.
        assert!(h.state().session.is_some());
        frames += 1;
        h.step();
    }
    h.step();
    assert!(frames > 1, "the Storm run spanned frames");
    assert!(h.state().session.is_none(), "the Storm view replaced the Flink one");
    let storm = h.state().storm.as_ref().expect("recorded");
    let scenario = std::sync::Arc::new(sim::Scenario::load(&file).expect("valid"));
    let origin = gui::view::storm::StormOrigin::new(scenario.clone(), ScenarioSource::File(file.clone()), None);
    let straight = gui::view::storm::StormSession::record(origin, scenario.seed.unwrap_or(42));
    assert_eq!(storm.events, straight.events, "the same run as recorded at once");
}

/// Kafka Streams and Spark runs are recorded as the others are, a slice per frame here (a thread
/// in the window): the window keeps drawing — the Flink run on screen and a progress bar — while
/// a Kafka Streams application runs, and its view replaces the Flink one when it is done. Before,
/// the whole run (and its judging) ran inside the frame that loaded it.
#[test]
fn kafka_streams_and_spark_scenarios_record_in_slices_too() {
    let app = App::with_driver(ScenarioSource::Embedded, None, gui::recording::Driver::Slices { slice: 200 }, false);
    let mut h = Harness::builder()
        .with_size(egui::vec2(1400.0, 900.0))
        .build_ui_state(|ui, app: &mut App| app.workbench_ui(ui), app);
    until_recorded(&mut h);
    for (file, kafka) in [("kafka-streams-failover.ron", true), ("spark-micro-batch.ron", false)] {
        h.state_mut().apply(Action::Load(ScenarioSource::File(scenario_file(file))));
        let mut frames = 0;
        for _ in 0..100_000 {
            if h.state().view_pending.is_none() {
                break;
            }
            h.step();
            if frames == 0 {
                // What was on screen stays, with the progress bar above it.
                assert!(h.state().kstreams.is_some() || h.state().session.is_some(), "{file}");
                h.get_by_label_contains("Recording");
            }
            frames += 1;
        }
        h.step();
        assert!(frames > 1, "{file}: the run spanned frames");
        assert!(h.state().session.is_none(), "{file}: its view replaced the Flink one");
        assert_eq!(h.state().kstreams.is_some(), kafka, "{file}");
        assert_eq!(h.state().spark.is_some(), !kafka, "{file}");
    }
}

/// Branching timelines: fork at the cursor with a crash, fork the fork with another, and diff the
/// second against its parent: where they part (marked on both timelines, a link moves the cursor
/// there), the sink rows, the verdicts of both against the same fault-free run, the charts overlaid.
#[test]
fn forking_twice_then_diffing_a_fork_against_its_parent() {
    use gui::view::markers::MarkerKind;
    let mut h = harness(ScenarioSource::File(scenario_file("crash-during-checkpoint.ron")));
    h.run_steps(1);
    h.get_by_label("Faults and outcomes").click();
    h.run_steps(1);
    // Under at-least-once a crash shows in the output (duplicates).
    h.get_by_role_and_label(Role::ComboBox, "Guarantee:").click();
    h.run_steps(2);
    h.get_by_label("at-least-once").click();
    h.run_steps(1);
    let end = h.state().session.as_ref().unwrap().run().end_ns;
    h.state_mut().apply(Action::Time(Command::Seek(end / 3)));
    h.run_steps(1);
    h.get_by_label("Crash tm-0").click();
    h.run_steps(2);
    h.state_mut().apply(Action::Time(Command::Seek(end * 2 / 3)));
    h.run_steps(1);
    h.get_by_label("Crash tm-1").click();
    h.run_steps(2);
    let session = h.state().session.as_ref().unwrap();
    assert_eq!((session.runs.len(), session.shown), (4, 3), "original, at-least-once, its fork, the fork's fork");
    assert_eq!(session.run().fork.as_ref().map(|f| f.parent), Some(2));
    h.get_by_label("Diff: this run vs its parent").click();
    h.run_steps(2);
    let session = h.state().session.as_ref().unwrap();
    let diff = session.diff.as_ref().expect("the tab built the diff");
    assert_eq!((diff.parent, diff.fork), (2, 3));
    let fired = session.run().injections[1].fired_ns;
    let divergence = diff.divergence.clone().expect("the second crash changed the run");
    assert_eq!(divergence.time_ns, fired, "the runs part where the second crash fired");
    // Marked on both timelines, each pointing at the other run.
    let marked = |run: usize, other: usize| {
        session.runs[run]
            .markers
            .iter()
            .any(|m| m.kind == MarkerKind::Divergence && m.diverges_from() == Some(other) && m.time_ns == fired)
    };
    assert!(marked(3, 2) && marked(2, 3));
    assert_eq!(diff.rows.len(), diff.row_counts.iter().sum::<usize>());
    let verdicts = diff.verdicts.as_ref().expect("both outcome tables against the same reference");
    let dup = |i: usize| session.ledgers[i].as_ref().unwrap().count(gui::view::ledger::Status::Duplicate);
    let (_, parent_dups, fork_dups) =
        verdicts.counts.iter().find(|(s, _, _)| *s == gui::view::ledger::Status::Duplicate).copied().unwrap();
    assert_eq!((parent_dups, fork_dups), (dup(2), dup(3)));
    assert!(!diff.rows.is_empty() || verdicts.changes.is_empty());
    assert!(diff.charts.iter().any(|c| c.series.iter().any(|s| s.name.starts_with("fork · "))));
    assert!(h.query_by_label_contains("Sink rows (visible at the end)").is_some());
    // The divergence link moves the cursor there.
    h.get_by_label_contains("First divergence: ").click_accesskit();
    h.run_steps(1);
    assert_eq!(h.state().time.cursor_ns, fired);
    // The parent, diffed against its own parent (the at-least-once run of the file's faults).
    h.get_by_label("Show the parent").click();
    h.run_steps(2);
    let session = h.state().session.as_ref().unwrap();
    assert_eq!(session.shown, 2);
    let diff = session.diff.as_ref().expect("rebuilt for the shown run");
    assert_eq!((diff.parent, diff.fork), (1, 2));
    assert!(
        diff.verdicts.as_ref().is_some_and(|v| !v.changes.is_empty()),
        "a crash under at-least-once changes verdicts"
    );
}

/// Getting results out: save a fork as a scenario file, open that file, get the same run (same
/// trace hash); export its sink output and its trace. Nothing already there is replaced unasked.
#[test]
fn a_saved_fork_reloads_to_the_same_run_and_exports_its_output() {
    let dir = std::env::temp_dir().join(format!("streamlab-ui-save-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut h = harness(ScenarioSource::File(scenario_file("crash-during-checkpoint.ron")));
    h.run_steps(1);
    assert!(!h.state().save.dir.is_empty(), "a default folder is named");
    h.get_by_label("Faults and outcomes").click();
    h.run_steps(1);
    let end = h.state().session.as_ref().unwrap().run().end_ns;
    h.state_mut().apply(Action::Time(Command::Seek(end / 3)));
    h.run_steps(1);
    h.get_by_label("Crash tm-0").click();
    h.run_steps(2);
    let hash = h.state().session.as_ref().unwrap().run().final_world.recorder.hash();
    h.get_by_label("Save / export").click();
    h.run_steps(1);
    h.state_mut().save.dir = dir.display().to_string();
    h.run_steps(1);
    h.get_by_label_contains("Save as scenario file").click();
    h.run_steps(1);
    let path = dir.join("crash-during-checkpoint-run2.ron");
    assert!(matches!(h.state().save.status.as_slice(), [Ok(_)]), "{:?}", h.state().save.status);
    let saved = std::fs::read_to_string(&path).expect("the file is there");
    // Saving again does not replace it unasked.
    h.get_by_label_contains("Save as scenario file").click();
    h.run_steps(1);
    assert!(
        matches!(h.state().save.status.as_slice(), [Err(e)] if e.is_refused() && e.to_string().contains("already exists"))
    );
    assert_eq!(std::fs::read_to_string(&path).unwrap(), saved);
    h.get_by_label("Export sink output (CSV + JSON)").click();
    h.run_steps(1);
    let csv = std::fs::read_to_string(dir.join("crash-during-checkpoint-run2.sink.csv")).expect("csv");
    let rows = h.state().session.as_ref().unwrap().run().final_world.sink_store.visible_count();
    assert_eq!(csv.lines().count(), rows + 1, "a header and every visible row");
    assert!(dir.join("crash-during-checkpoint-run2.sink.json").is_file());
    h.get_by_label("Export trace for Perfetto").click();
    h.run_steps(1);
    assert!(
        matches!(h.state().save.status.as_slice(), [Ok(m)] if m.contains("Perfetto")),
        "{:?}",
        h.state().save.status
    );
    // Open the saved file: the same run.
    h.state_mut().path_text = path.display().to_string();
    h.get_by_label("Open").click();
    h.run_steps(2);
    let session = h.state().session.as_ref().unwrap();
    assert_eq!(session.source, ScenarioSource::File(path.clone()));
    assert_eq!(session.runs.len(), 1);
    assert_eq!(session.run().final_world.recorder.hash(), hash, "the saved fork reloads to the same trace");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A guided tour plays to the end: Play tour goes to the first stop; each Next plays on until
/// the next stop, where playback pauses with its caption and highlight.
#[test]
fn a_guided_tour_plays_to_the_end() {
    let mut h = harness(ScenarioSource::File(scenario_file("crash-during-checkpoint.ron")));
    h.run_steps(1);
    let stops = h.state().session.as_ref().unwrap().scenario.tour.clone();
    assert!(stops.len() >= 5, "the scenario ships a tour");
    h.get_by_label("Play tour").click();
    h.run_steps(2);
    assert_eq!(h.state().tour.as_ref().map(|t| t.shown), Some(0));
    let placed = h.state().session.as_ref().unwrap().tour.clone();
    assert_eq!(h.state().time.cursor_ns, placed[0].at_ns);
    assert!(h.query_by_label(&stops[0].caption).is_some(), "the caption is shown");
    let clicks0 = h.state().session.as_ref().unwrap().scenario.plan.subtask_by_name("clicks[0]");
    assert_eq!(h.state().selected, clicks0, "the stop's highlight is selected");
    for (k, stop) in stops.iter().enumerate().skip(1) {
        play_to_next_stop(&mut h);
        let app = h.state();
        assert_eq!(app.tour.as_ref().map(|t| t.shown), Some(k), "stop {k}");
        assert_eq!(app.time.cursor_ns, placed[k].at_ns, "playback paused at stop {k}");
        if stop.event.is_none() {
            assert_eq!(stop.at_ns, Some(placed[k].at_ns), "a stop without an event: at its written time");
        }
        if let Some(sim::scenario::tour::Highlight::Node(n)) = stop.highlight.filter(|_| k == 1) {
            let session = app.session.as_ref().unwrap();
            let on = app.selected.map(|s| session.scenario.node_of_subtask(s));
            assert_eq!(on, Some(n), "a node's highlight selects a subtask on it");
        }
    }
    assert!(h.state().tour.as_ref().unwrap().finished);
    h.run_steps(1);
    assert!(h.query_by_label("End of the tour.").is_some());
    assert!(h.query_by_label("Next stop").is_none());
    h.get_by_label("Previous stop").click();
    h.run_steps(2);
    assert_eq!(h.state().time.cursor_ns, placed[stops.len() - 2].at_ns);
    h.get_by_label("End tour").click();
    h.run_steps(2);
    assert!(h.state().tour.is_none(), "{:?}", h.state().tour);
    assert!(h.query_by_label("Play tour").is_some());
}

/// Narration: "Next checkpoint" stops where the barrier is first visible (its first send, not the
/// job manager's trigger), and the event log says what a barrier's arrival means.
#[test]
fn next_checkpoint_stops_at_the_first_barrier_and_the_log_narrates_alignment() {
    use sim::recording::TraceKind;
    let mut h = harness(ScenarioSource::File(scenario_file("crash-during-checkpoint.ron")));
    h.run_steps(1);
    h.get_by_label("Next checkpoint").click();
    h.run_steps(2);
    let run = h.state().session.as_ref().unwrap().run();
    let first = *run.trace.iter().find(|e| e.kind == TraceKind::SendBarrier).expect("barriers");
    assert_eq!(h.state().time.cursor_ns, first.time_ns, "the first barrier is on its way");
    let trigger = run.trace.iter().find(|e| e.kind == TraceKind::CheckpointTriggered).unwrap().time_ns;
    assert!(first.time_ns > trigger);
    // The first barrier to reach counts[1]: it blocks that input until the others deliver theirs.
    let counts1 = run.scenario.plan.subtask_by_name("counts[1]").unwrap();
    let arrival = *run
        .trace
        .iter()
        .find(|e| e.kind == TraceKind::ProcessBarrier && e.subtask() == counts1)
        .expect("barrier 1 reaches counts[1]");
    h.get_by_label("Event log").click();
    h.state_mut().apply(Action::Time(Command::Seek(arrival.time_ns)));
    h.run_steps(2);
    let sim::recording::Payload::ProcessBarrier { input, checkpoint: Some(checkpoint) } = arrival.payload() else {
        panic!("a barrier's arrival names its input and checkpoint: {arrival:?}")
    };
    let text = format!("barrier {checkpoint} reached counts[1] on input {input}");
    let narration = format!(
        "{text} (from clicks[{input}]); input {input} is now blocked until barrier {checkpoint} arrives on input"
    );
    assert!(h.query_by_label_contains(&narration).is_some(), "the arrival and what it means, in one line");
    // The alignment's start and the block at the same instant say only what they add: the log
    // said "blocked until ..." three times for one barrier.
    h.get_by_label(&format!("counts[1] starts aligning checkpoint {checkpoint}"));
    assert_eq!(
        h.query_all_by_label_contains("until barrier").count(),
        h.query_all_by_label_contains("is now blocked until barrier").count()
    );
}

/// The outcome table says "Click a row": a click on any cell of a row selects it and shows its
/// provenance, not only a click on its status.
#[test]
fn a_click_on_any_cell_of_an_outcome_row_selects_it() {
    let mut h = only_what_differs("crash-during-checkpoint.ron");
    let app = h.state();
    let session = app.session.as_ref().unwrap();
    let ledger = session.ledgers[session.shown].as_ref().expect("built when the tab opened");
    let first = ledger.filtered(&app.ledger_filter)[0];
    // The "visible at" cell: a time no other cell of the table shows.
    let visible_at = gui::view::time_text(&session.scenario, ledger.rows[first].visible_ns);
    assert!(session.provenance.is_none());
    // egui's Grid sizes its columns from the frame before: the filtered table's columns settle
    // one frame after "Only what differs" (the cell moved 34 points right), and a person clicks
    // what has settled.
    h.run_steps(1);
    h.get_by_label(&visible_at).click();
    h.run_steps(2);
    let session = h.state().session.as_ref().unwrap();
    let ((_, line), _) = session.provenance.as_ref().expect("the row is selected");
    assert_eq!(*line, first);
}

/// The time of the event log's highlighted line (the last event at or before the cursor).
fn highlighted_log_line(h: &Harness<'static, App>) -> String {
    let app = h.state();
    let session = app.session.as_ref().unwrap();
    let lines =
        gui::view::events::log(&session.scenario, &session.run().trace, app.time.cursor_ns, &app.event_filter, 40, 15);
    lines.iter().find(|l| l.current).expect("a line at the cursor").time.clone()
}

/// The event log follows the cursor when the highlighted line changes, and otherwise stays
/// where the student scrolled it (it used to snap back to the highlighted line every frame).
#[test]
fn the_event_log_stays_where_the_student_scrolled_it() {
    let mut h = harness(ScenarioSource::Embedded);
    h.run_steps(1);
    h.state_mut().apply(Action::Time(Command::Seek(10_000_000_000)));
    h.get_by_label("Event log").click();
    h.run_steps(3);
    let current = highlighted_log_line(&h);
    let top = |h: &Harness<'static, App>| h.get_all_by_label(&current).next().expect("the line").rect().top();
    let followed = top(&h);
    let hint = h
        .get_by_label(
            "The highlighted line is the last event at or before the cursor. Click a line to move the cursor there.",
        )
        .rect();
    assert!(followed > hint.bottom(), "the highlighted line is in sight, below the hint: {followed} vs {hint:?}");
    // The wheel over the log, as a student scrolls up to read what came before.
    let at = egui::pos2(hint.center().x, hint.bottom() + 60.0);
    h.event(egui::Event::PointerMoved(at));
    h.run_steps(1);
    h.event(egui::Event::MouseWheel {
        unit: egui::MouseWheelUnit::Line,
        delta: egui::vec2(0.0, 3.0),
        phase: egui::TouchPhase::Move,
        source: egui::MouseWheelSource::Wheel,
        modifiers: egui::Modifiers::NONE,
    });
    h.run_steps(4);
    let scrolled = top(&h);
    assert!(scrolled > followed, "scrolling up moves the highlighted line down: {followed} -> {scrolled}");
    h.run_steps(4);
    assert_eq!(top(&h), scrolled, "the log stays where it was scrolled");
    // A move of the cursor brings the (new) highlighted line back into view.
    h.state_mut().apply(Action::Time(Command::Seek(12_000_000_000)));
    h.run_steps(3);
    let now = highlighted_log_line(&h);
    assert_ne!(now, current);
    let top_now = h.get_all_by_label(&now).next().expect("the line").rect().top();
    assert!(top_now > hint.bottom() && top_now < 900.0, "followed again: {top_now}");
}

/// The scenario bar's *Light* switches the theme, and back.
#[test]
fn light_switches_the_theme() {
    let mut h = harness(ScenarioSource::Embedded);
    h.run_steps(1);
    let dark_at_first = h.ctx.global_style().visuals.dark_mode;
    h.get_by_label("Light").click();
    h.run_steps(2);
    assert_eq!(h.ctx.global_style().visuals.dark_mode, !dark_at_first);
    h.get_by_label("Light").click();
    h.run_steps(2);
    assert_eq!(h.ctx.global_style().visuals.dark_mode, dark_at_first);
}

/// A tour belongs to the run it was started on: opening another scenario leaves it, and the bar
/// offers the new scenario's own tour (it used to show the old stop's place in the new tour
/// while the cursor stood at 0 s).
#[test]
fn opening_another_scenario_leaves_the_tour() {
    let mut h = harness(ScenarioSource::File(scenario_file("crash-during-checkpoint.ron")));
    h.run_steps(1);
    h.get_by_label("Play tour").click();
    h.run_steps(2);
    assert!(h.state().tour.is_some());
    let other = ScenarioSource::File(scenario_file("unaligned-under-backpressure.ron"));
    h.state_mut().apply(Action::Load(other.clone()));
    h.run_steps(2);
    let app = h.state();
    assert_eq!(app.session.as_ref().map(|s| &s.source), Some(&other), "the other scenario is shown");
    assert!(app.tour.is_none(), "{:?}", app.tour);
    assert_eq!(app.time.cursor_ns, 0);
    h.get_by_label("Play tour");
}

/// A setup whose fault-free reference did not finish has no verdict: Compare says "no verdict:
/// the fault-free reference stopped (…)" for it, never "yes" or "no" under "promise kept?".
#[test]
fn compare_gives_no_verdict_when_the_fault_free_reference_did_not_finish() {
    let file =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/regressions/reference-does-not-finish.ron");
    let mut h = harness(ScenarioSource::File(file));
    h.run_steps(1);
    let reports = compare_the_guarantees(&mut h);
    // The scenario's point: every setup's reference reaches max_run_ms (tests/stopping.rs).
    assert!(reports.iter().all(|r| r.reference_stop == sim::StopReason::TimeLimit), "{reports:?}");
    let setups = reports.len();
    assert_eq!(h.query_all_by_label("no verdict").count(), setups, "the result cell of each setup");
    let said = h.query_all_by_label_contains("no verdict: the fault-free reference stopped (time limit").count();
    assert_eq!(said, 1, "one line under the table for the setups' shared reference");
    assert_eq!(h.query_all_by_label("yes").count() + h.query_all_by_label("no").count(), 0, "no promise judged");
}

/// *Only what differs* was pressed on one scenario's rows: opening another scenario shows all of
/// its rows again (as its Faults tab starts at the top); another seed of the same keeps it.
#[test]
fn opening_another_scenario_resets_only_what_differs() {
    use gui::view::ledger::Status;
    let mut h = only_what_differs("crash-during-checkpoint.ron");
    assert!(!h.state().ledger_filter.shows(Status::Exact), "pressed");
    h.state_mut().seed_text = "7".into();
    h.state_mut().apply(Action::Rerun);
    h.run_steps(2);
    assert_eq!(h.state().session.as_ref().map(|s| s.seed), Some(7), "rerun with seed 7");
    assert!(!h.state().ledger_filter.shows(Status::Exact), "the same scenario keeps the filter");
    let other = ScenarioSource::File(scenario_file("unaligned-under-backpressure.ron"));
    h.state_mut().apply(Action::Load(other.clone()));
    h.run_steps(2);
    let app = h.state();
    assert_eq!(app.session.as_ref().map(|s| &s.source), Some(&other), "the other scenario is shown");
    assert!(Status::ALL.iter().all(|&s| app.ledger_filter.shows(s)), "every row shown again");
}

/// The Storm view's comparison says "no verdict" as the Flink one does: here every run stops at
/// `max_run_ms` before its input ends, the fault-free reference too.
#[test]
fn the_storm_comparison_gives_no_verdict_when_the_reference_did_not_finish() {
    let text = std::fs::read_to_string(scenario_file("storm-word-count.ron")).expect("read");
    let short = text.replacen("    duration_ms: 30_000,", "    duration_ms: 30_000,\n    max_run_ms: 20_000,", 1);
    assert_ne!(short, text, "max_run_ms added");
    let dir = std::env::temp_dir().join(format!("streamlab-ui-{}-storm-no-verdict", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let file = dir.join("storm-short.ron");
    std::fs::write(&file, short).expect("write");
    let mut h = harness(ScenarioSource::File(file));
    h.run_steps(1);
    h.get_by_label("Faults").click();
    h.run_steps(1);
    h.get_by_label("Compare the guarantees on these faults").click();
    wait_until_compared(&mut h, |app| app.storm.as_ref().unwrap().comparing.is_none());
    let reports = h.state().storm.as_ref().unwrap().comparison.clone().expect("compared");
    assert!(reports.iter().all(|r| r.reference_stop == sim::StopReason::TimeLimit), "{reports:?}");
    assert_eq!(h.query_all_by_label("no verdict").count(), reports.len(), "the result cell of each guarantee");
    h.get_by_label_contains("Every setup: no verdict: the fault-free reference stopped (time limit");
    assert_eq!(h.query_all_by_label("yes").count() + h.query_all_by_label("no").count(), 0, "no promise judged");
    let _ = std::fs::remove_dir_all(&dir);
}

/// "Crash tm-1 now", then play on from the cursor: the job graph shows tm-1 down once the crash
/// fired and its subtasks read no more records. (The cursor sits where the world made for it reads
/// a later clock; the workbench once showed the parent's world there on, crash-free.)
#[test]
fn after_crash_now_the_job_graph_shows_the_task_manager_down() {
    let mut h = crash_tm1_now_at(18_003_278_000);
    let fired = h.state().session.as_ref().unwrap().run().injections[0].fired_ns;
    // Named by when the crash fires (as the event log says it), not by the cursor.
    assert_eq!(fired, 18_004_000_000);
    assert_eq!(h.state().session.as_ref().unwrap().run().label, "crash tm-1 at 18.004 s, back after 2 s");
    let counts1 = h.state().session.as_ref().unwrap().scenario.plan.subtask_by_name("counts[1]").unwrap();
    let mut records_at_crash = None;
    for t in [fired - 1, fired, fired + 28_000, fired + 100_000_000, fired + 1_000_000_000] {
        h.state_mut().apply(Action::Time(Command::Seek(t)));
        h.run_steps(1);
        let cursor = h.state().time.cursor_ns;
        let session = h.state_mut().session.as_mut().unwrap();
        let dag = session.frame(cursor, None, true).dag.clone();
        let records = dag.subtasks[counts1.index()].records_in;
        if t < fired {
            assert!(dag.down.is_empty(), "at {t}: nothing is down before the crash");
        } else {
            assert_eq!(dag.down, vec![1], "at {t}: tm-1 is down");
            assert!(records_at_crash.is_none_or(|r| r == records), "at {t}: counts[1] reads no records");
            records_at_crash = Some(records);
        }
    }
}

/// The banner above the job graph counts job attempts as the event log and the Outcome tab's
/// attempt column do, from 1: after two restarts it is attempt 3 (it said "attempt 2").
#[test]
fn the_attempt_above_the_graph_is_the_event_logs_attempt() {
    // Both restarts are over by 15.2 s (at 7 s and 15 s).
    let mut h = crash_during_checkpoint_at(15_205_000_000);
    h.get_by_label_contains("job attempt 3 (after 2 restarts)");
    // Between the second failure's detection (14.5 s) and its restart the banner names the
    // attempt about to start, not "after 2 restarts" of a restart still to come.
    h.state_mut().apply(Action::Time(Command::Seek(14_900_000_000)));
    h.run_steps(1);
    h.get_by_label_contains("failure detected: the job is stopped; attempt 3 will restart");
    assert!(h.query_by_label_contains("(after 2 restarts)").is_none());
    h.get_by_label("Event log").click();
    h.run_steps(2);
    h.get_by_label_contains("the job restarted (attempt 3)");
}

/// One message in flight reads "1 message on the wire", not "1 messages"; the Storm view's
/// timeline line likewise says "1 crash".
#[test]
fn counts_of_one_read_in_the_singular() {
    let mut h = harness(ScenarioSource::File(scenario_file("crash-during-checkpoint.ron")));
    h.run_steps(2);
    let cursor = h.state().time.cursor_ns;
    assert_eq!(h.state_mut().session.as_mut().unwrap().frame(cursor, None, true).dag.in_flight.len(), 1);
    h.get_by_label("1 message on the wire");
    let mut h = harness(ScenarioSource::File(scenario_file("storm-word-count.ron")));
    h.run_steps(2);
    h.get_by_label_contains("0 timeouts (red), 1 crash (");
}

/// A textbook scenario (clock times: twelve idle hours, then nine minutes of data) opens framed on
/// its activity, the cursor just before its first record, at a speed that plays the nine minutes
/// in about half a minute — not at 0 with every record inside one second of playing.
#[test]
fn a_textbook_scenario_opens_where_its_records_are() {
    let mut h = harness(ScenarioSource::File(scenario_file("streaming-systems-heuristic.ron")));
    h.run_steps(1);
    let session = h.state().session.as_ref().unwrap();
    let (end, first) = (session.run().end_ns, session.run().trace[0].time_ns);
    let cursor = h.state().time.cursor_ns;
    assert!(cursor > end / 2 && cursor <= first, "the cursor at {cursor}, the first event at {first}");
    let played_in_s = (end - cursor) / h.state().time.speed_ns_per_s();
    assert!((15..=60).contains(&played_in_s), "the activity plays in {played_in_s} s");
    assert!(h.state().timeline.window.is_some(), "the timeline is zoomed on the activity");
    // The default scenario is busy from the start: it still opens at 0.
    let mut h = harness(ScenarioSource::Embedded);
    h.run_steps(1);
    assert_eq!((h.state().time.cursor_ns, h.state().timeline.window), (0, None));
}

/// Under at-least-once a subtask between a checkpoint's first and last barrier blocks nothing:
/// the job graph says so instead of "aligning 3" (the lesson is that only exactly-once aligns).
#[test]
fn the_job_graph_does_not_call_at_least_once_aligning() {
    use gui::panels::labels::{dag_labels_id, Labels};
    // At 6.28 s the sink has barrier 3 from counts[0] and counts[2], not from counts[1] (down).
    let mut h = crash_during_checkpoint_at(6_280_041_000);
    h.run_steps(1);
    let dag_texts = |h: &Harness<'static, App>| -> Vec<String> {
        Labels::last(&h.ctx, dag_labels_id()).iter().map(|l| l.text.clone()).collect()
    };
    assert!(dag_texts(&h).iter().any(|t| t == "aligning 3"), "exactly-once aligns: {:?}", dag_texts(&h));
    choose_at_least_once(&mut h);
    h.run_steps(2);
    assert_eq!(h.state().session.as_ref().unwrap().scenario.guarantee, sim::scenario::Guarantee::AtLeastOnce);
    let texts = dag_texts(&h);
    assert!(texts.iter().any(|t| t == "barrier 3, not blocking"), "{texts:?}");
    assert!(!texts.iter().any(|t| t.starts_with("aligning")), "{texts:?}");
}

/// A chart export is said in the Charts tab, not as "exported" beside *Export for slides*, and
/// its files are named by the run.
#[test]
fn a_chart_export_is_not_reported_beside_the_slides_button() {
    let mut h = harness(ScenarioSource::Embedded);
    h.run_steps(1);
    let dir = export_charts(&mut h, "charts");
    h.run_steps(1);
    assert!(h.state().slides_status.is_none());
    assert!(h.query_by_label("exported").is_none(), "nothing beside the slides' button");
    // Named by the run: the charts of another run (a fork, another scenario) go beside these
    // instead of replacing them.
    assert!(dir.join("clickstream-original-checkpoint-durations.svg").is_file());
    let _ = std::fs::remove_dir_all(&dir);
}

/// A two-phase-commit sink's transactions in the inspector name the job attempt as the event log,
/// the timeline's restart marker and the banner above the graph do, counted from 1 — not the
/// engine's attempt, which counts restores from 0.
#[test]
fn the_inspectors_transactions_name_the_event_logs_attempt() {
    use sim::recording::TraceKind;
    let mut h = harness(ScenarioSource::File(scenario_file("crash-before-commit.ron")));
    h.run_steps(1);
    let out = h.state().session.as_ref().unwrap().scenario.plan.subtask_by_name("out[0]").unwrap();
    h.state_mut().apply(Action::Select(Some(out)));
    // Before the crash (after checkpoint 3, at about 6 s) the sink writes in the first attempt's
    // transactions.
    h.state_mut().apply(Action::Time(Command::Seek(3_000_000_000)));
    h.run_steps(1);
    h.get_by_label_contains("(attempt 1)");
    assert!(h.query_by_label_contains("(attempt 0)").is_none());
    let session = h.state().session.as_ref().unwrap();
    let restart = session.run().trace.iter().find(|e| e.kind == TraceKind::JobRestarted).copied().expect("a restart");
    let marker = gui::view::markers::collect(std::slice::from_ref(&restart));
    let faults = session.scenario.faults.clone();
    assert!(
        gui::view::markers::describe(&session.scenario, &faults, &marker[0]).contains("(attempt 2)"),
        "the timeline's restart marker names attempt 2"
    );
    // After the restart the sink opens its transactions in the second attempt: the first moment
    // (in 50 ms steps) with one open.
    let open_at = (1..100u64)
        .map(|i| restart.time_ns + i * 50_000_000)
        .find(|&t| {
            let frame = h.state_mut().session.as_mut().unwrap().frame(t, Some(out), true);
            let facts = &frame.inspector.as_ref().expect("the sink inspected").facts;
            facts.iter().any(|(name, value)| *name == "open transaction" && value != "none")
        })
        .expect("a transaction opens after the restart");
    h.state_mut().apply(Action::Time(Command::Seek(open_at)));
    h.run_steps(1);
    h.get_by_label_contains("job attempt 2 (after 1 restart)");
    h.get_by_label_contains("(attempt 2)");
    assert!(h.query_by_label_contains("(attempt 1)").is_none(), "no transaction of the first attempt is left");
    h.get_by_label("Event log").click();
    h.run_steps(2);
    h.get_by_label_contains("the job restarted (attempt 2)");
}

/// At 1280x800, after two forks, the comparison table is in sight when the *Faults and outcomes*
/// tab opens: the tab is about 230 points high, and the table sat below the list of runs.
#[test]
fn at_1280x800_the_comparison_is_in_sight_after_forks() {
    let mut h = Harness::builder().with_size(egui::vec2(1280.0, 800.0)).build_ui_state(
        |ui, app: &mut App| app.workbench_ui(ui),
        App::new_headless(ScenarioSource::File(scenario_file("crash-during-checkpoint.ron")), None),
    );
    h.run_steps(1);
    h.get_by_label("Faults and outcomes").click();
    h.run_steps(1);
    let end = h.state().session.as_ref().unwrap().run().end_ns;
    for at in [end / 4, end / 2] {
        h.state_mut().apply(Action::Time(Command::Seek(at)));
        h.run_steps(1);
        h.get_by_label("Crash tm-2").click();
        h.run_steps(2);
    }
    assert_eq!(h.state().session.as_ref().unwrap().runs.len(), 3, "two forks");
    h.get_by_label("Compare at-most-once, at-least-once, exactly-once").click();
    wait_for_comparison(&mut h);
    h.run_steps(1);
    // Between the tab bar and the timeline below the tabs: the header and the last of the five
    // setups (the comparison's "two-phase-commit" comes before the cost bars' setup names).
    let tab_bar = h.get_by_label("Faults and outcomes").rect();
    let timeline = h.get_by_label("Timeline").rect();
    let header = h.get_by_label("promise kept?").rect();
    let last = h.get_all_by_label("two-phase-commit").map(|n| n.rect()).min_by(|a, b| a.top().total_cmp(&b.top()));
    let last = last.expect("the two-phase-commit setup's row");
    assert!(header.top() > tab_bar.bottom(), "the header at {header:?}");
    assert!(last.bottom() <= timeline.top(), "the last setup at {last:?}, the timeline at {timeline:?}");
}

/// A Kafka Streams scenario opens in its own view: the run at its end, with the oracle's verdict,
/// the tasks and the sink rows, and the commands that step through it — never the Flink panels;
/// opening a Flink scenario afterwards leaves it.
#[test]
fn a_kafka_streams_scenario_opens_in_its_own_view() {
    let file = scenario_file("kafka-streams-failover.ron");
    let mut h = harness(ScenarioSource::File(file.clone()));
    h.run_steps(3);
    assert!(h.state().error.is_none(), "{:?}", h.state().error.as_ref().map(|e| e.to_string()));
    let shown = h.state().kstreams.as_ref().expect("the Kafka Streams view is shown");
    assert!(shown.verdict.contains("Duplicates") && shown.verdict.contains("kept"), "{}", shown.verdict);
    // Only tm-0's tasks moved: 1_0 replayed its changelog.
    assert!(shown.summary.contains("task restores 3"), "{}", shown.summary);
    assert!(h.query_by_label_contains("Kafka Streams application: ").is_some());
    assert!(h.query_by_label("seed 42").is_some());
    assert!(h.query_by_label_contains("Duplicates").is_some());
    assert!(h.state().session.is_none(), "nothing is shown as a Flink job");
    // The scenario bar names it (it said "(none)"), and the per-task timeline is drawn.
    assert_eq!(h.state().shown_source(), Some(&ScenarioSource::File(file.clone())));
    h.get_by_label("Tasks over time");
    let moved = shown.lanes.iter().filter(|l| l.stretches.len() > 1).count();
    assert!(moved > 0 && moved < shown.lanes.len(), "only the dead instance's tasks moved: {:?}", shown.lanes);

    h.state_mut().path_text = scenario_file("crash-during-checkpoint.ron").display().to_string();
    h.get_by_label("Open").click();
    for _ in 0..600 {
        h.run_steps(1);
        if h.state().session.is_some() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(h.state().session.is_some(), "the Flink scenario was recorded");
    assert!(h.state().kstreams.is_none(), "the Kafka Streams view gave way");
}

/// The links of a provenance chain, by accesskit: every step's link with its rect.
fn provenance_links(h: &Harness<'static, App>) -> Vec<(String, egui::Rect)> {
    h.get_all_by_role(Role::Link)
        .map(|n| (egui_kittest::kittest::NodeT::accesskit_node(&n).label().unwrap_or_default().to_string(), n.rect()))
        .filter(|(label, _)| label.contains(": "))
        .collect()
}

/// The Spark view's Outcome tab: the selected duplicate's chain has six steps, each a link of
/// its own, and no two links lie on top of each other (a pointer on one clicks that one).
#[test]
fn the_provenance_links_do_not_overlap() {
    let mut h = harness(ScenarioSource::File(scenario_file("spark-micro-batch.ron")));
    h.run_steps(2);
    h.get_by_label_contains("Outcome (60 exact · 12 duplicate").click();
    h.run_steps(1);
    h.get_by_label("Only what differs").click();
    h.run_steps(1);
    h.get_all_by_label("duplicate").next().expect("a duplicate line").click();
    h.run_steps(2);
    // On the first frame the chain shows, as on every later one.
    let links = provenance_links(&h);
    assert_eq!(links.len(), 6, "{links:?}");
    for (i, (a, ra)) in links.iter().enumerate() {
        for (b, rb) in &links[i + 1..] {
            assert!(
                ra.intersect(*rb).is_negative() || ra.intersect(*rb).area() <= 0.0,
                "{a} {ra:?} overlaps {b} {rb:?}"
            );
        }
    }
    // The pointer on "Driver crash" clicks that link: the cursor goes to the crash.
    let crash = h.state().spark.as_ref().unwrap().markers().iter().find(|m| m.1 && m.2).unwrap().0;
    h.get_by_label_contains("Driver crash: ").click();
    h.run_steps(2);
    assert_eq!(h.state().spark.as_ref().unwrap().cursor_ns, crash);
}

/// Open the Kafka Streams failover and wait for its view.
fn kafka_streams_view() -> Harness<'static, App> {
    let mut h = harness(ScenarioSource::File(scenario_file("kafka-streams-failover.ron")));
    h.run_steps(3);
    assert!(h.state().kstreams.is_some(), "the Kafka Streams view is shown");
    h
}

/// The Kafka Streams view's scrubber: End, Start and +1 s move the cursor, and the table at the
/// cursor follows (at the end every row a reader sees is counted, at the start none).
#[test]
fn the_kafka_streams_scrubber_moves_the_cursor() {
    let mut h = kafka_streams_view();
    let end = h.state().kstreams.as_ref().unwrap().end_ns;
    assert_eq!(h.state().kstreams.as_ref().unwrap().cursor_ns, 0);
    h.get_by_label("End").click();
    h.run_steps(2);
    let k = h.state().kstreams.as_ref().unwrap();
    assert_eq!(k.cursor_ns, end);
    let rows = k.row_visible_ns.len();
    h.get_by_label_contains(&format!(": {rows} of {rows} at the end"));
    h.get_by_label("Start").click();
    h.run_steps(2);
    assert_eq!(h.state().kstreams.as_ref().unwrap().cursor_ns, 0);
    h.get_by_label_contains(&format!(": 0 of {rows} at the end"));
    h.get_by_label("+1 s").click();
    h.run_steps(2);
    assert_eq!(h.state().kstreams.as_ref().unwrap().cursor_ns, 1_000_000_000);
}

/// The Kafka Streams view's guarantee: choosing exactly_once_v2 records the application again
/// under it (its verdict its own); "as written" goes back.
#[test]
fn the_kafka_streams_guarantee_switch_runs_exactly_once_v2() {
    let mut h = kafka_streams_view();
    let written = h.state().kstreams.as_ref().unwrap().verdict.clone();
    h.get_by_role_and_label(Role::ComboBox, "Guarantee:").click();
    h.run_steps(2);
    h.get_by_label("exactly_once_v2").click();
    wait_for_view(&mut h);
    let k = h.state().kstreams.as_ref().expect("recorded again");
    assert_eq!(k.origin.guarantee, Some(sim::scenario::Guarantee::ExactlyOnce));
    assert_eq!(k.scenario.guarantee, sim::scenario::Guarantee::ExactlyOnce);
    assert_ne!(k.verdict, written);
    h.get_by_label_contains("exactly_once_v2: output, changelog writes and offsets in one transaction");
    h.get_by_role_and_label(Role::ComboBox, "Guarantee:").click();
    h.run_steps(2);
    h.get_by_label_contains("as written").click();
    wait_for_view(&mut h);
    let k = h.state().kstreams.as_ref().unwrap();
    assert_eq!((k.origin.guarantee, &k.verdict), (None, &written));
}

/// The Kafka Streams view's crash buttons: "Crash instance tm-1" at the cursor records the
/// application again with that crash (at the cursor, the cursor kept); "Back to the file's
/// faults" takes it away.
#[test]
fn crashing_a_kafka_streams_instance_at_the_cursor_records_it_again() {
    let mut h = kafka_streams_view();
    let at = 3_000_000_000;
    h.state_mut().kstreams.as_mut().unwrap().set_cursor(at);
    h.run_steps(1);
    let crashes = h.state().kstreams.as_ref().unwrap().nodes.iter().filter(|n| n.2).count();
    h.get_by_label("Crash instance tm-1").click();
    wait_for_view(&mut h);
    let k = h.state().kstreams.as_ref().unwrap();
    assert_eq!(k.origin.injected.len(), 1);
    assert_eq!(k.cursor_ns, at, "the moment the student was looking at");
    let tm1 = sim::scenario::NodeId::task_manager(1);
    assert!(k.nodes.contains(&(at, tm1, true)), "{:?}", k.nodes);
    assert_eq!(k.nodes.iter().filter(|n| n.2).count(), crashes + 1);
    h.get_by_label_contains("(this run: the file's faults (crash tm-0 at 12.000 s, never back), then crash tm-1");
    h.get_by_label("Back to the file's faults").click();
    wait_for_view(&mut h);
    let k = h.state().kstreams.as_ref().unwrap();
    assert!(k.origin.injected.is_empty());
    assert_eq!(k.nodes.iter().filter(|n| n.2).count(), crashes);
}

/// The Kafka Streams view saves like the others: its Save tab writes the run as a scenario file.
#[test]
fn the_kafka_streams_view_saves_its_run() {
    let mut h = kafka_streams_view();
    let dir = std::env::temp_dir().join(format!("streamlab-kstreams-save-{}", std::process::id()));
    h.state_mut().save.dir = dir.display().to_string();
    h.get_by_label("Save / export").click();
    h.run_steps(1);
    assert_eq!(h.state().kstreams.as_ref().unwrap().tab, gui::view::kstreams::KStreamsTab::Save);
    h.get_by_label_contains("Save as scenario").click();
    h.run_steps(1);
    let status = &h.state().save.status;
    assert!(
        matches!(status.as_slice(), [Ok(_)]),
        "{:?}",
        status.iter().map(|s| s.as_ref().map_err(|e| e.to_string())).collect::<Vec<_>>()
    );
    let saved = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .find(|e| e.path().extension().is_some_and(|x| x == "ron"));
    let saved = sim::Scenario::load(&saved.expect("a .ron file").path()).expect("the saved file loads");
    assert_eq!(saved.runtime(), sim::scenario::Runtime::KafkaStreams);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Run frames until no Spark or Kafka Streams recording is under way (bounded: a bug must not hang).
fn wait_for_view(h: &mut Harness<'static, App>) {
    for _ in 0..600 {
        h.run_steps(1);
        if h.state().view_pending.is_none() {
            h.run_steps(1);
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    panic!("the recording did not finish");
}

/// The Spark view's Charts tab: clicked, it shows the three charts and their export.
/// The Kafka Streams view's Charts tab opens by its label, shows its five charts and exports
/// them (a PNG and an SVG each), and "Tasks and rows" brings the tasks back.
#[test]
fn the_kafka_streams_charts_tab_shows_and_exports_its_charts() {
    let mut h = kafka_streams_view();
    assert_eq!(h.state().kstreams.as_ref().unwrap().tab, gui::view::kstreams::KStreamsTab::Tasks);
    let dir = export_charts(&mut h, "kstreams");
    let shown = h.state().kstreams.as_ref().unwrap();
    assert_eq!(shown.tab, gui::view::kstreams::KStreamsTab::Charts);
    let ids: Vec<&str> = shown.charts.iter().map(|c| c.id).collect();
    assert_eq!(
        ids,
        [
            "kstreams-records-per-task",
            "kstreams-processed-again",
            "kstreams-since-commit",
            "kstreams-restores",
            "kstreams-end-to-end-latency"
        ]
    );
    for id in ids {
        let written = std::fs::read_dir(&dir).unwrap().filter_map(|e| e.ok()).filter(|e| {
            let name = e.file_name().to_string_lossy().to_string();
            name.contains(id) && (name.ends_with(".png") || name.ends_with(".svg"))
        });
        assert_eq!(written.count(), 2, "{id} as PNG and SVG in {}", dir.display());
    }
    let _ = std::fs::remove_dir_all(&dir);
    h.get_by_label("Tasks and rows").click();
    h.run_steps(1);
    assert_eq!(h.state().kstreams.as_ref().unwrap().tab, gui::view::kstreams::KStreamsTab::Tasks);
}

#[test]
fn the_spark_charts_tab_shows_its_charts() {
    let mut h = harness(ScenarioSource::File(scenario_file("spark-micro-batch.ron")));
    h.run_steps(2);
    h.get_by_label("Charts").click();
    h.run_steps(2);
    let spark = h.state().spark.as_ref().unwrap();
    assert_eq!(spark.tab, gui::view::spark::SparkTab::Charts);
    let ids: Vec<&str> = spark.charts.iter().map(|c| c.id).collect();
    assert_eq!(ids, ["spark-records-per-batch", "spark-batch-durations", "spark-lag"]);
    h.get_by_label("Export charts (PNG + SVG)");
}

/// The Spark view's network faults: "Cut tm-1 off from the driver" at the cursor (batch 2
/// running) records the query again with that cut, and batch 2 takes the cut's length;
/// "Delay driver<->tm-0" adds a delayed link; "Back to the file's faults" takes both away.
#[test]
fn cutting_an_executor_off_from_the_driver_makes_the_spark_batch_late() {
    let mut h = harness(ScenarioSource::File(scenario_file("spark-micro-batch.ron")));
    h.run_steps(2);
    let two = h.state().spark.as_ref().unwrap().batches().iter().find(|b| b.id == 2).unwrap().clone();
    let took_before = two.committed_ns.unwrap() - two.started_ns;
    h.state_mut().faults.outage_ms = 1_500;
    h.state_mut().spark.as_mut().unwrap().set_cursor(two.started_ns + 1_000_000);
    h.run_steps(1);
    h.get_by_label("Cut tm-1 off from the driver").click();
    wait_for_view(&mut h);
    let spark = h.state().spark.as_ref().expect("recorded again");
    assert!(
        matches!(spark.origin.injected.as_slice(), [sim::faults::Fault::Partition { .. }]),
        "{:?}",
        spark.origin.injected
    );
    let two = spark.batches().iter().find(|b| b.id == 2).unwrap();
    let took = two.committed_ns.unwrap() - two.started_ns;
    assert!(took >= 1_500_000_000 - 1_000_000 && took > took_before, "{took_before} -> {took}");
    h.get_by_label_contains("then partition tm-1<->jm");
    h.get_by_label("Delay driver<->tm-0").click();
    wait_for_view(&mut h);
    let spark = h.state().spark.as_ref().unwrap();
    assert!(
        matches!(spark.origin.injected.last(), Some(sim::faults::Fault::LatencySpike { .. })),
        "{:?}",
        spark.origin.injected
    );
    assert_eq!(spark.origin.injected.len(), 2);
    h.get_by_label("Back to the file's faults").click();
    wait_for_view(&mut h);
    assert!(h.state().spark.as_ref().unwrap().origin.injected.is_empty());
}

/// The Storm view says the oracle's verdict, and under acking off it changes with the run: the
/// topology box says no acker tracks anything, and the verdict is the loss.
#[test]
fn the_storm_view_says_its_verdict_and_acking_off_has_no_acker() {
    let mut h = harness(ScenarioSource::File(scenario_file("storm-word-count.ron")));
    h.run_steps(3);
    let acking = h.state().storm.as_ref().expect("the Storm view").verdict.clone();
    h.get_by_label(&acking);
    h.state_mut().apply(Action::SetVariant(Some(sim::scenario::Guarantee::AtMostOnce), None));
    for _ in 0..600 {
        h.run_steps(1);
        if h.state().storm_pending.is_none() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    h.run_steps(1);
    let off = h.state().storm.as_ref().unwrap().verdict.clone();
    assert!(off.contains("Loss") && off != acking, "{off}");
    h.get_by_label(&off);
    h.get_by_label("no tuple is tracked or replayed");
}

/// The Kafka Streams view compares its guarantees on the run's faults, as `streamlab compare`
/// does (at_least_once counts 510 source records twice here, exactly_once_v2 none, read
/// uncommitted or committed); a setup's name records the application under it.
#[test]
fn the_kafka_streams_view_compares_its_guarantees() {
    let mut h = kafka_streams_view();
    h.get_by_label("Compare the guarantees on these faults").click();
    wait_until_compared(&mut h, |app| app.kstreams.as_ref().unwrap().comparing.is_none());
    let k = h.state().kstreams.as_ref().unwrap();
    let reports = k.comparison.as_ref().expect("compared");
    let setups: Vec<(sim::scenario::Guarantee, usize)> =
        reports.iter().map(|r| (r.guarantee, r.outcome.duplicated_records.len())).collect();
    use sim::scenario::Guarantee::{AtLeastOnce, ExactlyOnce};
    assert_eq!(setups, [(AtLeastOnce, 510), (ExactlyOnce, 0), (ExactlyOnce, 0)]);
    h.get_by_label("exactly_once_v2 · read_uncommitted reader");
    h.get_by_label("exactly_once_v2 · read_committed reader").click();
    wait_for_view(&mut h);
    assert_eq!(h.state().kstreams.as_ref().unwrap().origin.guarantee, Some(ExactlyOnce));
}

/// At 1280x800 the Outcome tab gives its table the height: clicked by its label, the job graph
/// above shrinks (its legend folds), the verdict stays on screen, and at least 7 rows show under
/// a header that stays put while the rows scroll. Back on the Watermarks tab the graph is tall
/// again.
#[test]
fn the_outcome_tab_gives_its_table_the_height_and_keeps_the_verdict_in_view() {
    let mut h = Harness::builder().with_size(egui::vec2(1280.0, 800.0)).build_ui_state(
        |ui, app: &mut App| app.workbench_ui(ui),
        App::new_headless(ScenarioSource::File(scenario_file("crash-during-checkpoint.ron")), None),
    );
    h.run_steps(1);
    let end = h.state().session.as_ref().unwrap().run().end_ns;
    h.state_mut().apply(Action::Time(Command::Seek(end)));
    h.run_steps(2);
    let tall = h.get_by_label("Job graph").rect().height();
    assert!(h.query_by_label("Legend").is_none(), "the Watermarks tab shows the legend open");
    h.get_by_label("Outcome: every row vs. the run without faults").click();
    for _ in 0..200 {
        h.run_steps(1);
        if h.query_by_label_contains("oracle vs the fault-free run").is_some() {
            break;
        }
    }
    h.run_steps(2);
    let short = h.get_by_label("Job graph").rect().height();
    assert!(short < tall - 40.0, "the graph shrinks for the table: {tall} -> {short}");
    h.get_by_label("Legend"); // folded
    let timeline_top = h.get_by_label("Timeline").rect().top();
    let verdict = h.get_by_label_contains("oracle vs the fault-free run").rect();
    assert!(verdict.bottom() < timeline_top, "the verdict is in view: {verdict:?}");
    let rows_in_view = |h: &Harness<'static, App>| {
        let top = h.get_by_label("visible at").rect().bottom();
        h.query_all_by_label("exact")
            .chain(h.query_all_by_label("duplicate"))
            .filter(|n| (top..=timeline_top).contains(&n.rect().center().y))
            .count()
    };
    let rows = rows_in_view(&h);
    assert!(rows >= 7, "only {rows} rows in view");
    // Scrolled down, the header stays where it was and other rows show under it.
    let header = h.get_by_label("visible at").rect();
    let over_rows = egui::pos2(header.left(), header.bottom() + 60.0);
    h.event(egui::Event::PointerMoved(over_rows));
    h.event(egui::Event::MouseWheel {
        unit: egui::MouseWheelUnit::Line,
        delta: egui::vec2(0.0, -10.0),
        phase: egui::TouchPhase::Move,
        source: egui::MouseWheelSource::Wheel,
        modifiers: egui::Modifiers::NONE,
    });
    h.run_steps(3);
    assert_eq!(h.get_by_label("visible at").rect(), header, "the header stays put");
    assert!(rows_in_view(&h) >= 7, "rows fill the table when scrolled");
    assert_eq!(h.state().tab, gui::app::Tab::Outcome);
    h.get_by_label("Watermarks: why has my window not fired?").click();
    h.run_steps(2);
    let again = h.get_by_label("Job graph").rect().height();
    assert!((again - tall).abs() < 1.0, "tall again: {tall} vs {again}");
}

/// Playing the default scenario (buffer timeout 100 ms) the wire is empty most of the time: the
/// status line says why (records wait in network buffers), so the graph does not look frozen;
/// with messages on the wire it only counts them.
#[test]
fn an_empty_wire_says_records_wait_for_the_buffer_timeout() {
    let mut h = harness(ScenarioSource::Embedded);
    h.run_steps(1);
    let end = h.state().session.as_ref().unwrap().run().end_ns;
    let (mut empty, mut busy) = (0, 0);
    for k in 1..40u64 {
        h.state_mut().time.cursor_ns = end * k / 80;
        h.step();
        let on_wire = h.state_mut().session.as_mut().unwrap().frame(end * k / 80, None, true).dag.in_flight.len();
        let why =
            h.query_by_label_contains("records wait in network buffers, sent when a buffer fills or every 100 ms");
        if on_wire == 0 {
            assert!(why.is_some(), "an empty wire at step {k} says why");
            empty += 1;
        } else {
            assert!(why.is_none(), "{on_wire} messages on the wire at step {k}");
            busy += 1;
        }
    }
    assert!(empty > 0 && busy > 0, "both seen: {empty} empty, {busy} busy");
}

/// The fault lengths read as every length in the workbench ("2 s", "5 s", "200 ms"; they read
/// "2000 ms" beside "back after 2 s") and take a typed length: click the outage field by its
/// value, type "1.5 s", press Enter: the outage is 1 500 ms.
#[test]
fn the_fault_length_fields_read_and_take_seconds() {
    let mut h = harness(ScenarioSource::File(scenario_file("storm-word-count.ron")));
    h.run_steps(1);
    h.get_by_label("Faults").click();
    h.run_steps(2);
    let values = |h: &Harness<'static, App>| -> Vec<String> {
        h.query_all_by_role(Role::SpinButton).filter_map(|n| n.value()).collect()
    };
    let shown = values(&h);
    for length in ["2 s", "5 s", "200 ms"] {
        assert!(shown.iter().any(|v| v == length), "{length} in {shown:?}");
    }
    assert!(!shown.iter().any(|v| v.contains("000")), "{shown:?}");
    h.query_all_by_role(Role::SpinButton).find(|n| n.value().as_deref() == Some("5 s")).expect("the outage").click();
    h.run_steps(1);
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::A);
    h.event(egui::Event::Text("1.5 s".into()));
    h.run_steps(1);
    h.key_press(egui::Key::Enter);
    h.run_steps(2);
    assert_eq!(h.state().faults.outage_ms, 1_500);
    assert!(values(&h).iter().any(|v| v == "1.5 s"), "{:?}", values(&h));
}
