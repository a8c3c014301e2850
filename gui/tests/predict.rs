//! The predict window: open it on a scenario with exercises, pick one, answer, check; the answer
//! is revealed from a run with why and the command that shows it.

use egui_kittest::kittest::Queryable as _;
use egui_kittest::Harness;
use gui::app::{App, ScenarioSource};
use gui::view::predict::Reveal;

/// The workbench on `scenario` (a file under `scenarios/`), its first frame drawn.
fn workbench_on(scenario: &str) -> Harness<'static, App> {
    workbench_sized(scenario, egui::vec2(1400.0, 900.0))
}

fn workbench_sized(scenario: &str, size: egui::Vec2) -> Harness<'static, App> {
    let file = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios").join(scenario);
    let mut h = Harness::builder()
        .with_size(size)
        .build_ui_state(|ui, app: &mut App| app.workbench_ui(ui), App::new_headless(ScenarioSource::File(file), None));
    h.run_steps(1);
    h
}

/// Pick exercise `id` in the open Predict window, answer `answer`, press Check and wait for the
/// reveal. The run happens on a worker thread: step until it arrived (bounded, not a timed
/// assertion).
fn answer_and_check(h: &mut Harness<'static, App>, id: &str, answer: &str) -> Reveal {
    h.get_by_label_contains(&format!("{id}:")).click();
    h.run_steps(1);
    h.state_mut().predict.answer = answer.into();
    h.run_steps(1);
    h.get_by_label("Check").click();
    h.run_steps(1);
    for _ in 0..600 {
        if h.state().predict.pending.is_none() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
        h.run_steps(1);
    }
    h.run_steps(1);
    h.state().predict.revealed.clone().expect("the answer is revealed")
}

#[test]
fn predict_then_reveal_on_the_perfect_watermark_scenario() {
    let mut h = workbench_on("streaming-systems-perfect.ron");
    // The window is closed until the scenario bar's Predict button opens it (it would cover
    // the panels).
    assert!(h.query_by_label_contains("exercises on this scenario").is_none());
    h.get_by_label("Predict").click();
    h.run_steps(2);
    h.get_by_label_contains("Predict (1 exercises on this scenario)");
    let revealed = answer_and_check(&mut h, "et-1", "12:06:00");
    assert!(!revealed.right);
    assert_eq!(revealed.actual, "12:08:39");
    h.get_by_label_contains("the run shows 12:08:39");
    h.get_by_label_contains("Why:");
    // Where to look at the workbench, not only in the command's output.
    h.get_by_label_contains("In the workbench: the Sink output tab: the window's first row");
    // The reveal grows the window upwards: its last line stays on the screen.
    let command = h.get_by_label(&revealed.command).rect();
    assert!(command.bottom() <= 900.0, "the command's line ends at {} of 900", command.bottom());
}

/// A Storm scenario's exercises in the Storm view: the Predict button is there, the exercises
/// are listed, and the reveal names where the Storm view shows the answer (its Faults tab's
/// comparison), not a Flink panel.
#[test]
fn predict_on_a_storm_scenario_points_into_the_storm_view() {
    let mut h = workbench_on("storm-word-count.ron");
    assert!(h.state().session.is_none() && h.state().storm.is_some(), "the Storm view is shown");
    h.get_by_label("Predict").click();
    h.run_steps(2);
    h.get_by_label_contains("exercises on this scenario)");
    let revealed = answer_and_check(&mut h, "st-3", "0");
    assert_eq!(revealed.id, "st-3");
    h.get_by_label_contains(
        "In the workbench: the Faults tab: Compare the guarantees on these faults, column \"twice\"",
    );
}

/// At 1280x800 a scenario with twelve exercises fills the window with the list: picking one
/// scrolls its answer field into view, and Check scrolls to what it revealed (both were drawn
/// below the window's visible part, so nothing seemed to happen).
#[test]
fn at_1280x800_the_answer_field_and_the_reveal_scroll_into_view() {
    let mut h = workbench_sized("crash-during-checkpoint.ron", egui::vec2(1280.0, 800.0));
    h.get_by_label("Predict").click();
    h.run_steps(2);
    // Inside the window (its node spans it), below its title bar.
    let visible = |h: &Harness<'static, App>, r: egui::Rect| {
        let window = h.get_by_label_contains("exercises on this scenario)").rect();
        r.top() >= window.top() + 30.0 && r.bottom() <= window.bottom()
    };
    h.get_by_label_contains("wb-1:").click();
    h.run_steps(3);
    let field = h.get_by_label("Check").rect();
    assert!(visible(&h, field), "the answer row at {field:?}");
    let revealed = answer_and_check(&mut h, "wb-1", "5");
    h.run_steps(2);
    let command = h.get_by_label(&revealed.command).rect();
    assert!(visible(&h, command), "the command's line at {command:?}");
}

/// At 1280x800 with the timeline zoomed in, its lanes make the bottom panel taller: the Predict
/// window opens above the timeline all the same, not over its top lanes.
#[test]
fn at_1280x800_the_window_leaves_the_zoomed_timeline_clear() {
    let mut h = workbench_sized("crash-during-checkpoint.ron", egui::vec2(1280.0, 800.0));
    let before = h.get_by_label("Timeline").rect();
    for _ in 0..3 {
        h.get_by_label("Zoom in").click();
        // One frame applies the click, one grows the panel for the lanes, one lays it out again.
        h.run_steps(3);
    }
    let timeline = h.get_by_label("Timeline").rect();
    assert!(timeline.top() < before.top() - 40.0, "the lanes grew the timeline: {before:?} to {timeline:?}");
    h.get_by_label("Predict").click();
    h.run_steps(3);
    let window = h.get_by_label_contains("exercises on this scenario)").rect();
    assert!(window.bottom() <= timeline.top(), "the window at {window:?}, the timeline at {timeline:?}");
}

/// The Spark and Kafka Streams views have the Predict button too (weeks 11 and 12 of the course
/// were out of reach from the workbench), and a Kafka Streams reveal points into its view: the
/// answer to ks-3 is the sum of *After the crash*'s "processed again".
#[test]
fn predict_opens_in_the_spark_and_kafka_streams_views() {
    let mut spark = workbench_on("spark-micro-batch.ron");
    assert!(spark.state().spark.is_some(), "the Spark view is shown");
    spark.get_by_label("Predict").click();
    spark.run_steps(2);
    assert!(spark.state().predict.open);
    spark.get_by_label_contains("exercises on this scenario)");
    let mut h = workbench_on("kafka-streams-failover.ron");
    for _ in 0..3 {
        h.run_steps(1);
    }
    assert!(h.state().kstreams.is_some(), "the Kafka Streams view is shown");
    h.get_by_label("Predict").click();
    h.run_steps(2);
    h.get_by_label_contains("exercises on this scenario)");
    let revealed = answer_and_check(&mut h, "ks-3", "0");
    assert!(!revealed.right);
    h.get_by_label_contains("In the workbench: the Kafka Streams view's After the crash");
    // The view says the same number: the records each moved task processes again, summed.
    let shown = h.state().kstreams.as_ref().unwrap();
    let crash = shown.nodes.iter().find(|n| n.2).expect("a crash").0;
    let at = shown.at(crash);
    let moved = shown
        .lanes
        .iter()
        .enumerate()
        .filter(|(_, l)| l.stretches.iter().any(|s| s.activity == gui::view::kstreams::TaskActivity::Unowned));
    let again: u64 = moved.map(|(t, _)| at.tasks[t].since_commit).sum();
    assert_eq!(revealed.actual, again.to_string());
}
