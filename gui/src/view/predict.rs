//! The predict panel's model: the course's exercises on the loaded scenario, the student's
//! answer, and once graded, the reveal — right or what the run shows, why, where to look and the
//! command that shows it (`sim::exercise`; the answer is computed from a run, never stored).
//! Plain data, tested without egui.

use std::path::{Path, PathBuf};
use std::sync::mpsc::Receiver;

use sim::exercise::{Course, Exercise, Metric, Query, Solution};
use sim::scenario::Runtime;

use crate::error::PredictError;

/// What the predict panel remembers between frames.
#[derive(Default)]
pub struct PredictState {
    /// The course, loaded on first use (an error is shown instead of the list).
    pub course: Option<Result<Course, PredictError>>,
    /// The window is open (the scenario bar's *Predict* button toggles it; closed, it covers
    /// nothing).
    pub open: bool,
    /// The chosen exercise's id.
    pub selected: Option<String>,
    pub answer: String,
    /// A grading on a worker thread: the exercise id, the answer, where the solution arrives.
    pub pending: Option<(String, String, Receiver<Solution>)>,
    pub revealed: Option<Reveal>,
    /// Why the last answer could not be read (not graded).
    pub error: Option<PredictError>,
    /// Scroll the window to the end of the chosen exercise (its answer field, or what Check
    /// said) on the next frame: at 1280x800 the list fills the window, and a reveal or an answer
    /// field drawn below it went unseen.
    pub scroll_to_answer: bool,
}

/// The answer revealed after a prediction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reveal {
    pub id: String,
    pub answer: String,
    pub right: bool,
    /// What the run shows, in the answer's notation.
    pub actual: String,
    /// Why the run shows it.
    pub why: String,
    /// Where to look (in the command's output).
    pub look: String,
    pub command: String,
}

/// Where the course is: `book/exercises` under the working directory (the repository root when
/// run with `cargo run`), else next to the `gui` crate's sources.
pub fn course_root() -> PathBuf {
    let here = PathBuf::from(".");
    if here.join("book/exercises").is_dir() {
        here
    } else {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
    }
}

pub fn load_course(root: &Path) -> Result<Course, PredictError> {
    let dir = root.join("book/exercises");
    Course::load(&dir, root).map_err(|source| PredictError::Course { dir, source })
}

/// The exercises whose scenario is the loaded one (matched by file name: the workbench may have
/// opened it by another path).
pub fn exercises_for<'a>(course: &'a Course, scenario_file: &str) -> Vec<&'a Exercise> {
    let name = Path::new(scenario_file).file_name();
    course.exercises().filter(|e| name.is_some() && Path::new(&e.spec.scenario).file_name() == name).collect()
}

/// Grade `answer` against a solution: the reveal, or why the answer cannot be read.
pub fn reveal(e: &Exercise, solution: &Solution, answer: &str) -> Result<Reveal, PredictError> {
    let grade = e.grade(solution, answer).map_err(|b| PredictError::unreadable(e, b))?;
    Ok(Reveal {
        id: e.spec.id.clone(),
        answer: answer.trim().to_string(),
        right: grade.right,
        actual: grade.actual,
        why: grade.why,
        look: grade.look,
        command: grade.command,
    })
}

/// Where the workbench shows what exercise `e` asks (the reveal's "look at" names the command's
/// output, which a student at the workbench does not see): a tab, a column, a mark — in the
/// Flink panels or, for a Storm scenario, the Storm view.
pub fn workbench_place(e: &Exercise) -> &'static str {
    match e.scenario.runtime() {
        Runtime::Flink => flink_place(&e.spec.query),
        Runtime::Storm => storm_place(&e.spec.query),
        Runtime::Spark => spark_place(&e.spec.query),
        Runtime::KafkaStreams => kstreams_place(&e.spec.query),
    }
}

/// Where the Kafka Streams view shows what `query` asks: its verdict line, the task timeline,
/// the "So far" counters at the cursor (press End for the run's), *After the crash* and the
/// Charts tab.
fn kstreams_place(query: &Query) -> &'static str {
    const NOT_SHOWN: &str = "not in the Kafka Streams view: the command below prints it";
    match query {
        Query::Count(m) => match m {
            Metric::DuplicateRows => "the Kafka Streams view's verdict line: \"duplicate\" of its rows",
            Metric::MissingRows => "the Kafka Streams view's verdict line: \"missing\" of its rows",
            Metric::WrongRows => "the Kafka Streams view's verdict line: \"wrong\" of its rows",
            Metric::UnexpectedRows => "the Kafka Streams view's verdict line: \"unexpected\" of its rows",
            Metric::LostRecords => "the Kafka Streams view's verdict line: \"source records lost\"",
            Metric::DuplicatedRecords => "the Kafka Streams view's verdict line: \"duplicated\" source records",
            Metric::VisibleRows => "the Kafka Streams view: \"Sink rows a reader sees\" at the end (press End)",
            Metric::Restarts => "the Kafka Streams view's task timeline: one red stretch (no owner) per moved task, and at the end (press End) \"So far: … restores\"",
            Metric::KStreamsRestoredRecords => "the Kafka Streams view at the end (press End): \"So far: … changelog records replayed\", and After the crash, per task",
            Metric::KStreamsReprocessedRecords => "the Kafka Streams view's After the crash (cursor past the crash): \"those N records are processed again\" per moved task, and the Charts tab's \"Records processed again\"",
            Metric::KStreamsAbortedTransactions => "the Kafka Streams view at the end (press End): \"So far: … aborted transactions\"",
            Metric::InputsBlocked
            | Metric::ChannelStateRecords
            | Metric::SparkBatches
            | Metric::SparkBatchesRerun
            | Metric::SparkTaskRetries
            | Metric::SparkRecordsSkipped
            | Metric::LateDropped
            | Metric::SourceRecords
            | Metric::SourceReads
            | Metric::CheckpointsCompleted
            | Metric::CheckpointsAborted
            | Metric::StormTimeouts
            | Metric::StormReplays => NOT_SHOWN,
        },
        Query::Outcome => "the Kafka Streams view's verdict line (its first word)",
        Query::Variants(_) => "the Kafka Streams view's Compare the guarantees on these faults",
        Query::LateWindows { .. } | Query::FireTime { .. } => "the Kafka Streams view's sink rows (press End): window and visible at",
        Query::FindSeed { .. } => "the Kafka Streams view's verdict line after Re-run with each seed",
    }
}

/// Where the Storm view shows what `query` asks. Its tabs: Topology (the counters at the
/// cursor), Outcome (the sink rows against the run without faults), Faults (its comparison of
/// Storm's guarantees).
fn storm_place(query: &Query) -> &'static str {
    const NOT_SHOWN: &str = "not in the Storm view: the command below prints it";
    match query {
        Query::Count(m) => match m {
            Metric::DuplicateRows => "the Outcome tab's count \"duplicate\" (under the exercise's guarantee: pick it by its name in the Faults tab's comparison)",
            Metric::MissingRows => "the Outcome tab's count \"missing\": the grey ghost rows",
            Metric::WrongRows => "the Outcome tab's count \"wrong value\"",
            Metric::UnexpectedRows => "the Outcome tab's count \"unexpected\"",
            Metric::LostRecords => "the Faults tab: Compare the guarantees on these faults, column \"lost\" of the exercise's guarantee",
            Metric::DuplicatedRecords => "the Faults tab: Compare the guarantees on these faults, column \"twice\" of the exercise's guarantee",
            Metric::StormTimeouts => "the Topology tab's counter \"timed out\" with the cursor at the end (each timeout is a red tick on the timeline)",
            Metric::StormReplays => "the Faults tab: Compare the guarantees on these faults, column \"replays\" of the exercise's guarantee (the Topology tab counts them up to the cursor: \"replayed\", under Trident \"replayed batches\")",
            Metric::SourceReads => "the Topology tab's counter \"spout tuples emitted\" with the cursor at the end",
            Metric::VisibleRows
            | Metric::LateDropped
            | Metric::SourceRecords
            | Metric::Restarts
            | Metric::CheckpointsCompleted
            | Metric::CheckpointsAborted => NOT_SHOWN,
            // Other models' counters: loading refuses them on a Storm scenario.
            _ => NOT_SHOWN,
        },
        Query::Outcome => "the Outcome tab's counts",
        Query::Variants(_) => "the Faults tab: Compare the guarantees on these faults, columns \"result\" and \"promise kept?\" (Storm's guarantees; the command below prints Flink's beside them)",
        Query::LateWindows { .. } | Query::FireTime { .. } => "the Outcome tab's rows",
        Query::FindSeed { .. } => "the Outcome tab's counts after Re-run with each seed",
    }
}

/// Where the Spark view shows what `query` asks: its verdict line (the oracle's counts, in
/// `streamlab run`'s words), the rows a reader sees, the driver's restarts on its timeline.
fn spark_place(query: &Query) -> &'static str {
    const NOT_SHOWN: &str = "not in the Spark view: the command below prints it";
    match query {
        Query::Count(m) => match m {
            Metric::DuplicateRows => "the Spark view's verdict line: \"duplicate\" of its rows (after choosing the exercise's guarantee)",
            Metric::MissingRows => "the Spark view's verdict line: \"missing\" of its rows",
            Metric::WrongRows => "the Spark view's verdict line: \"wrong\" of its rows",
            Metric::UnexpectedRows => "the Spark view's verdict line: \"unexpected\" of its rows",
            Metric::LostRecords => "the Spark view's verdict line: \"source records lost\"",
            Metric::DuplicatedRecords => "the Spark view's verdict line: \"duplicated\" source records",
            Metric::VisibleRows => "the Spark view: \"Sink rows a reader sees at the end\"",
            Metric::Restarts => "the Spark view's timeline: the driver's restarts (green lines), and the query run column of the batches",
            Metric::SparkBatches => "the Spark view's batches: one row per batch run, each committed one ending in commits/N",
            Metric::SparkBatchesRerun => "the Spark view's batches marked \"(re-run)\" (orange on the timeline): Show the re-run batch",
            Metric::SparkTaskRetries => "the Spark view's executor lanes: a task cut short (red) when its executor was lost, then launched again",
            Metric::SparkRecordsSkipped => "the Spark view's restart panel: without a checkpoint location it counts the records never read",
            Metric::InputsBlocked
            | Metric::ChannelStateRecords
            | Metric::KStreamsRestoredRecords
            | Metric::KStreamsAbortedTransactions
            | Metric::KStreamsReprocessedRecords => NOT_SHOWN,
            Metric::LateDropped
            | Metric::SourceRecords
            | Metric::SourceReads
            | Metric::CheckpointsCompleted
            | Metric::CheckpointsAborted
            | Metric::StormTimeouts
            | Metric::StormReplays => NOT_SHOWN,
        },
        Query::Outcome => "the Spark view's verdict line (its first word)",
        Query::Variants(_) => "the Spark view's Guarantee: choice — the verdict line under each (the command below puts them side by side)",
        Query::LateWindows { .. } | Query::FireTime { .. } => NOT_SHOWN,
        Query::FindSeed { .. } => "the Spark view's verdict line after Re-run with each seed",
    }
}

/// Where the Flink panels show what `query` asks.
fn flink_place(query: &Query) -> &'static str {
    match query {
        Query::Count(m) => match m {
            Metric::DuplicateRows => "the Outcome tab's count \"duplicate\" (after switching to the exercise's guarantee and sink)",
            Metric::MissingRows => "the Outcome tab's count \"missing\": the grey ghost rows",
            Metric::WrongRows => "the Outcome tab's count \"wrong value\"",
            Metric::UnexpectedRows => "the Outcome tab's count \"unexpected\"",
            Metric::LostRecords => "Faults and outcomes: Compare …, column \"lost\" of the exercise's row",
            Metric::DuplicatedRecords => "Faults and outcomes: Compare …, column \"twice\" of the exercise's row",
            Metric::VisibleRows => "the Sink output tab at the end of the run (End), with \"Only rows a reader sees\": its count of rows",
            Metric::LateDropped => "the inspector's \"late records dropped\" of each window subtask, and the orange ticks on the timeline",
            Metric::SourceRecords | Metric::SourceReads => "the source subtasks' counts (job graph, inspector) at the end of the run; the command below prints the total",
            Metric::Restarts => "the Event log (faults and recovery): each \"the job restarted (attempt N)\"",
            Metric::CheckpointsCompleted => "the timeline's green bars (Bookmarks lists every completed checkpoint)",
            Metric::CheckpointsAborted => "the timeline's red bars (Bookmarks lists every aborted checkpoint)",
            Metric::StormTimeouts | Metric::StormReplays => "the Storm view's counters",
            Metric::InputsBlocked | Metric::ChannelStateRecords => {
                "not in the workbench: `compare --checkpoint-mode`, the command below, prints it per barrier rule"
            }
            // Other models' counters: loading refuses them on a Flink scenario.
            _ => "not in the workbench: the command below prints it",
        },
        Query::Outcome => "the Outcome tab's counts, and the run's line in Faults and outcomes (\"vs the original\")",
        Query::Variants(_) => "Faults and outcomes: Compare …, the table's \"result\" and \"promise kept?\" columns",
        Query::LateWindows { .. } => "the Sink output tab: the rows of late firings",
        Query::FireTime { .. } => "the Sink output tab: the window's first row, and when it became visible",
        Query::FindSeed { .. } => "the Outcome tab's counts after Re-run with each seed",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every exercise on a Storm scenario is pointed into the Storm view (its tabs: Topology,
    /// Outcome, Faults), never at a Flink panel it does not have; and a Flink one the other way.
    #[test]
    fn each_exercise_is_pointed_into_the_view_its_scenario_opens_in() {
        let course = load_course(&course_root()).expect("the course loads");
        let flink_only = ["Faults and outcomes", "Sink output", "Event log", "inspector", "job graph", "Bookmarks"];
        let mut storm_exercises = 0;
        for e in course.exercises() {
            let place = workbench_place(e);
            match e.scenario.runtime() {
                Runtime::Storm => {
                    storm_exercises += 1;
                    assert!(!flink_only.iter().any(|f| place.contains(f)), "{}: {place}", e.spec.id);
                    assert!(
                        ["Topology tab", "Outcome tab", "Faults tab", "not in the Storm view"]
                            .iter()
                            .any(|t| place.contains(t)),
                        "{}: {place}",
                        e.spec.id
                    );
                }
                Runtime::KafkaStreams => {
                    assert!(!flink_only.iter().any(|f| place.contains(f)), "{}: {place}", e.spec.id);
                    assert!(place.contains("Kafka Streams view"), "{}: {place}", e.spec.id);
                    assert!(!place.starts_with("not in"), "week 12's exercises are all shown: {}: {place}", e.spec.id);
                }
                Runtime::Flink => assert!(
                    !place.contains("Storm view") || place.contains("Storm view's counters"),
                    "{}: {place}",
                    e.spec.id
                ),
                Runtime::Spark => {
                    assert!(!flink_only.iter().any(|f| place.contains(f)), "{}: {place}", e.spec.id);
                    assert!(place.contains("Spark view"), "{}: {place}", e.spec.id);
                }
            }
        }
        assert!(storm_exercises >= 5, "the course has exercises on Storm scenarios: {storm_exercises}");
    }

    #[test]
    fn the_exercises_of_a_scenario_are_found_and_graded_with_their_reason() {
        let course = load_course(&course_root()).expect("the course loads");
        let found = exercises_for(&course, "scenarios/streaming-systems-perfect.ron");
        let e = found.iter().find(|e| e.spec.id == "et-1").expect("et-1 is on the perfect-watermark scenario");
        assert!(exercises_for(&course, "no-such.ron").is_empty());
        let solution = e.solve();
        let right = reveal(e, &solution, "12:08:39").expect("readable");
        assert!(right.right, "{right:?}");
        let wrong = reveal(e, &solution, "12:06:00").expect("readable");
        assert!(!wrong.right);
        assert_eq!(wrong.actual, "12:08:39");
        assert!(wrong.command.contains("streaming-systems-perfect.ron") && !wrong.why.is_empty());
        let unreadable = reveal(e, &solution, "soon").expect_err("an unreadable answer is not graded");
        assert!(matches!(&unreadable, PredictError::Unreadable { id, .. } if id == "et-1"), "{unreadable:?}");
        let missing = load_course(Path::new("/no/such/folder")).expect_err("no course there");
        assert!(missing.to_string().contains("/no/such/folder/book/exercises"), "{missing}");
    }
}
