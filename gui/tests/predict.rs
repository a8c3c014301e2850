//! The predict panel: open it on a scenario with exercises, pick one, answer, check; the answer
//! is revealed from a run with why and the command that shows it. It is docked beside the view
//! (in the Flink view at the top of the inspector's column), so it covers nothing it asks about.

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
    // The panel is closed until the scenario bar's Predict button opens it (it takes room).
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
    // Check scrolls the panel to the reveal: its last line is on the screen.
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

/// At 1280x800 a scenario with twelve exercises fills the panel with the list: picking one
/// scrolls its answer field into view, and Check scrolls to what it revealed (both were drawn
/// below the panel's visible part, so nothing seemed to happen).
#[test]
fn at_1280x800_the_answer_field_and_the_reveal_scroll_into_view() {
    let mut h = workbench_sized("crash-during-checkpoint.ron", egui::vec2(1280.0, 800.0));
    h.get_by_label("Predict").click();
    h.run_steps(2);
    // Below the panel's heading, above the inspector that shares its column.
    let visible = |h: &Harness<'static, App>, r: egui::Rect| {
        let heading = h.get_by_label_contains("exercises on this scenario)").rect();
        let inspector = h.get_by_label("Inspector").rect();
        r.top() >= heading.bottom() && r.bottom() <= inspector.top()
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

/// Predict covers nothing a question asks about: in the Flink view it docks at the top of the
/// inspector's column, clear of the job graph, the tabs and the (zoomed, taller) timeline; in the
/// Kafka Streams view it docks at the right, clear of the task timeline and the rows. Its
/// *Close* button, clicked by its label, closes it.
#[test]
fn at_1280x800_the_predict_panel_covers_nothing_it_asks_about() {
    let mut h = workbench_sized("crash-during-checkpoint.ron", egui::vec2(1280.0, 800.0));
    for _ in 0..3 {
        h.get_by_label("Zoom in").click();
        h.run_steps(3);
    }
    h.get_by_label("Predict").click();
    h.run_steps(3);
    let heading = h.get_by_label_contains("exercises on this scenario)").rect();
    let (graph, timeline) = (h.get_by_label("Job graph").rect(), h.get_by_label("Timeline").rect());
    assert!(graph.right() < heading.left(), "the graph at {graph:?}, the panel from {heading:?}");
    let inspector = h.get_by_label("Inspector").rect();
    assert!(inspector.top() > heading.bottom(), "the inspector stays below it: {inspector:?}");
    assert!(inspector.bottom() < timeline.top(), "and the timeline below both: {timeline:?}");
    h.get_by_label("Close").click();
    h.run_steps(2);
    assert!(!h.state().predict.open, "Close closes it");
    assert!(h.query_by_label_contains("exercises on this scenario)").is_none());

    let mut h = workbench_sized("kafka-streams-failover.ron", egui::vec2(1280.0, 800.0));
    for _ in 0..3 {
        h.run_steps(1);
    }
    assert!(h.state().kstreams.is_some(), "the Kafka Streams view is shown");
    h.get_by_label("Predict").click();
    h.run_steps(3);
    h.get_by_label_contains("ks-1:").click();
    h.run_steps(2);
    let panel_left = h.get_by_label_contains("exercises on this scenario)").rect().left();
    for asked_about in ["Tasks over time", "Crash instance tm-2", "At 0.000 s"] {
        let r = h.get_by_label(asked_about).rect();
        assert!(r.right() < panel_left, "{asked_about} at {r:?} runs under the panel from x = {panel_left}");
    }
    // The Outcome tab beside the panel: its table, wider than its column, scrolls sideways in
    // its column instead of running under the provenance (ks-8 asks about both): a sideways
    // wheel over it brings its last column, which started right of the provenance's edge, in.
    h.get_by_label_contains("Outcome (").click();
    h.run_steps(3);
    let provenance = h.get_by_label("Provenance").rect();
    let status = h.get_by_label("status").rect();
    assert!(status.right() < provenance.left() && provenance.right() < panel_left, "{status:?} {provenance:?}");
    let last = h.get_by_label("visible at").rect();
    assert!(last.right() > provenance.left(), "the table is wider than its column here: {last:?}");
    h.hover_at(status.center());
    h.event(egui::Event::MouseWheel {
        unit: egui::MouseWheelUnit::Point,
        delta: egui::vec2(-400.0, 0.0),
        phase: egui::TouchPhase::Move,
        source: egui::MouseWheelSource::Unknown,
        modifiers: egui::Modifiers::default(),
    });
    h.run_steps(3);
    let scrolled = h.get_by_label("visible at").rect();
    assert!(scrolled.right() <= provenance.left() + 1.0, "{scrolled:?} against the provenance at {provenance:?}");
    h.get_by_label("Close").click();
    h.run_steps(2);
    assert!(!h.state().predict.open, "Close closes it");
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
