//! Exercises graded by the replay: a question about a scenario whose answer is *computed from a
//! run* (never stored as text), so an exercise stays right when the engine changes.
//!
//! Exercises are data: one RON file per chapter (`book/exercises/*.ron`, format in
//! `book/src/reference/exercises.md`). Each names a scenario file, optional variant overrides
//! (guarantee, sink, barrier rule, seed, the `--swarm` faults), a question and a typed [`Query`]:
//! a number ([`Query::Count`]), a choice ([`Query::Outcome`]), a set ([`Query::Variants`],
//! [`Query::LateWindows`]), a time ([`Query::FireTime`]) or a bounded seed search
//! ([`Query::FindSeed`]). [`Exercise::solve`] runs the scenario and computes the [`Truth`];
//! [`Exercise::grade`] holds a student's answer against it and says what the run shows, why, and
//! the command that shows it. Every run is the scenario's own model's ([`observe::Observe`]:
//! a Spark scenario runs as a Spark query, never as a Flink job of the same pipeline). Bad files get located errors (`file:line:column: field: message`),
//! as scenario files do.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use engine::sink::SinkKind;
use engine::Firing;
use serde::Deserialize;

use crate::external::StoredRow;
use crate::oracle::Outcome;
use crate::run::{self, BarrierRule, DEFAULT_SEED};
use crate::scenario::error::{Locator, ScenarioError};
use crate::scenario::{Budget, Guarantee, OutcomeClass, Runtime, Scenario, TimeMs};
use crate::world::StopReason;

/// What each model reads off one run ([`observe::Observe`]).
pub mod observe;

/// At most this many seeds in one [`Query::FindSeed`] search (each seed is two runs).
pub const MAX_SEARCH_SEEDS: u64 = 50;
/// Exercise files larger than this are refused (they are a page of questions).
pub const MAX_EXERCISE_FILE_BYTES: u64 = 256 * 1024;

/// One chapter's exercise file.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, rename = "Chapter")]
pub struct ChapterFile {
    /// The course week this chapter is taught in (chapters are listed in this order).
    pub week: u32,
    pub title: String,
    /// The chapter's page in the book (`guarantees.md`), for `show`.
    pub page: String,
    pub exercises: Vec<ExerciseSpec>,
}

/// One exercise as written in a chapter file.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExerciseSpec {
    /// Unique over the course (`guarantees-1`).
    pub id: String,
    /// A scenario file, relative to the repository root (`scenarios/crash-during-checkpoint.ron`).
    pub scenario: String,
    /// Run under this guarantee instead of the scenario's (Storm: acking off / acking / Trident).
    #[serde(default)]
    pub guarantee: Option<Guarantee>,
    /// Make every sink of this kind.
    #[serde(default)]
    pub sink: Option<SinkKind>,
    /// Run the Flink job exactly-once under this barrier rule (`Aligned`, `Unaligned`,
    /// `ChandyLamport`): the row of `compare --checkpoint-mode`.
    #[serde(default)]
    pub checkpoint_mode: Option<BarrierRule>,
    /// The seed (default: the scenario's, else 42).
    #[serde(default)]
    pub seed: Option<u64>,
    #[serde(default)]
    pub faults: Faults,
    pub question: String,
    pub query: Query,
    /// Why the run shows what it shows: printed with the answer, right or wrong.
    pub why: String,
}

/// Which faults the run suffers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
pub enum Faults {
    /// The faults written in the scenario (and its own swarm's, drawn from the seed).
    #[default]
    AsWritten,
    /// Plus the seed's random faults, as `--swarm` adds them to a scenario without a swarm.
    Swarm,
}

/// What the student predicts.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub enum Query {
    /// A number the run produces.
    Count(Metric),
    /// The oracle's class of the run: Exact, Duplicates, Loss, LossAndDuplicates, WrongValues.
    Outcome,
    /// Which rows of `compare` (guarantee and sink variants) have this property: a set of codes
    /// such as `amo`, `alo`, `eo`, `eo+idempotent`, `eo+2pc`, `storm-alo`.
    Variants(Property),
    /// Which windows (by start, optionally of one key) fired late: a set of window starts.
    LateWindows { key: Option<String> },
    /// When (virtual time) the window starting at `start` first became visible in the sink, for
    /// `key`: a time in ms or a clock time.
    FireTime { key: String, start: TimeMs },
    /// A seed in `from..to` (at most [`MAX_SEARCH_SEEDS`]) whose run has this outcome.
    FindSeed { from: u64, to: u64, outcome: OutcomeClass },
}

/// A number read off a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
pub enum Metric {
    /// Rows the same result shown again (the oracle's *duplicate rows*).
    DuplicateRows,
    /// Reference rows that never became visible.
    MissingRows,
    /// Rows with the right identity and a wrong value.
    WrongRows,
    /// Rows whose identity the reference does not show.
    UnexpectedRows,
    /// Source records whose effect is missing.
    LostRecords,
    /// Source records whose effect was counted more than once.
    DuplicatedRecords,
    /// Rows readers can see at the end.
    VisibleRows,
    /// Records dropped as too late for their window.
    LateDropped,
    /// Records in the source log (what the sources offer, by partition and offset).
    SourceRecords,
    /// Records the sources read, over every job attempt: more than the log when a restart
    /// rewinds to a checkpoint's offsets and reads again (Storm: tuples the spouts emitted,
    /// replays and re-reads included).
    SourceReads,
    /// Job restarts (Storm: worker restarts; Spark: driver restarts; Kafka Streams: task
    /// restores, one per task that failed over).
    Restarts,
    /// Flink: completed checkpoints.
    CheckpointsCompleted,
    /// Flink: aborted checkpoints.
    CheckpointsAborted,
    /// Flink, with a `checkpoint_mode`: times an input was blocked by barrier alignment.
    InputsBlocked,
    /// Flink, with a `checkpoint_mode`: records recorded as channel state, summed over the
    /// completed checkpoints.
    ChannelStateRecords,
    /// Storm: tuple trees that timed out.
    StormTimeouts,
    /// Storm: tuples emitted again (timeouts, fails, re-reads) and replayed Trident batches.
    StormReplays,
    /// Spark: batches committed (re-runs and batches without data included).
    SparkBatches,
    /// Spark: batches run again after a restart (in the offset log without a commit).
    SparkBatchesRerun,
    /// Spark: tasks launched again after their executor was lost.
    SparkTaskRetries,
    /// Spark: records a query restarted without a checkpoint location skipped (it starts from
    /// the latest offsets).
    SparkRecordsSkipped,
    /// Kafka Streams: changelog records replayed by restores.
    KStreamsRestoredRecords,
    /// Kafka Streams: transactions aborted (exactly_once_v2).
    KStreamsAbortedTransactions,
    /// Kafka Streams: records processed again after a failover (read again from the last
    /// committed offset, of the source topic or of the repartition topic).
    KStreamsReprocessedRecords,
}

impl Metric {
    /// The model whose own counter this is (None: every model's run has it).
    pub fn owner(self) -> Option<Runtime> {
        use Metric::*;
        match self {
            DuplicateRows | MissingRows | WrongRows | UnexpectedRows | LostRecords | DuplicatedRecords
            | VisibleRows | LateDropped | SourceRecords | SourceReads | Restarts => None,
            CheckpointsCompleted | CheckpointsAborted | InputsBlocked | ChannelStateRecords => Some(Runtime::Flink),
            StormTimeouts | StormReplays => Some(Runtime::Storm),
            SparkBatches | SparkBatchesRerun | SparkTaskRetries | SparkRecordsSkipped => Some(Runtime::Spark),
            KStreamsRestoredRecords | KStreamsAbortedTransactions | KStreamsReprocessedRecords => {
                Some(Runtime::KafkaStreams)
            }
        }
    }

    /// Why a run of `runtime` cannot answer this (None: it can).
    pub fn refused_by(self, runtime: Runtime) -> Option<String> {
        match self.owner() {
            Some(owner) if owner != runtime => {
                Some(format!("a {} metric needs a scenario whose model is {}", model_name(owner), model_name(owner)))
            }
            // Kafka Streams counts records taken in from the source and repartition topics
            // together: no figure is the sources' reads alone.
            None if self == Metric::SourceReads && runtime == Runtime::KafkaStreams => {
                Some("Kafka Streams counts no source reads apart from repartition reads".into())
            }
            _ => None,
        }
    }
}

/// The metric a `Count` query asks for.
fn metric_of(query: &Query) -> Option<Metric> {
    match query {
        Query::Count(m) => Some(*m),
        _ => None,
    }
}

/// A model's name in a sentence.
fn model_name(runtime: Runtime) -> &'static str {
    match runtime {
        Runtime::Flink => "Flink",
        Runtime::Storm => "Storm",
        Runtime::Spark => "Spark",
        Runtime::KafkaStreams => "Kafka Streams",
    }
}

/// A property of a compared variant.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
pub enum Property {
    /// Loses data: missing rows or lost records.
    Loss,
    /// Duplicates data: duplicate rows or duplicated records.
    Duplicates,
    /// Output exactly the reference's.
    Exact,
    /// Breaks its own guarantee's promise (`compare`'s FAIL).
    Broken,
}

/// A chapter with its exercises.
#[derive(Clone, Debug)]
pub struct Chapter {
    /// The file's stem (`guarantees`).
    pub name: String,
    pub file: String,
    pub week: u32,
    pub title: String,
    pub page: String,
    pub exercises: Vec<Exercise>,
}

/// A loaded exercise: its spec and its scenario.
#[derive(Clone, Debug)]
pub struct Exercise {
    pub spec: ExerciseSpec,
    pub chapter: String,
    pub scenario: Arc<Scenario>,
}

/// Every chapter, in week order.
#[derive(Clone, Debug)]
pub struct Course {
    pub chapters: Vec<Chapter>,
}

impl Course {
    /// Load every `*.ron` in `dir`; scenario paths are resolved against `root`. Each exercise is
    /// admitted by the budget ([`Course::load_with`] to skip it).
    pub fn load(dir: &Path, root: &Path) -> Result<Course, ScenarioError> {
        Course::load_with(dir, root, Budget::Enforced)
    }

    /// [`Course::load`], with the admission budget enforced for what solving each exercise runs,
    /// or not checked at all (`--no-budget`).
    pub fn load_with(dir: &Path, root: &Path, budget: Budget) -> Result<Course, ScenarioError> {
        let io = |file: &Path, message: String| ScenarioError::Io { file: file.display().to_string(), message };
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(|e| io(dir, e.to_string()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "ron"))
            .collect();
        files.sort();
        let mut chapters = Vec::new();
        let mut ids: BTreeSet<String> = BTreeSet::new();
        for path in files {
            let file = path.display().to_string();
            let meta = std::fs::metadata(&path).map_err(|e| io(&path, e.to_string()))?;
            if !meta.is_file() || meta.len() > MAX_EXERCISE_FILE_BYTES {
                return Err(io(&path, format!("not a regular file of at most {MAX_EXERCISE_FILE_BYTES} bytes")));
            }
            let bytes = std::fs::read(&path).map_err(|e| io(&path, e.to_string()))?;
            let text = crate::scenario::parse::text_of(bytes, &file)?;
            let name = path.file_stem().and_then(|s| s.to_str()).unwrap_or("chapter").to_string();
            let chapter = parse_chapter_with(&text, &file, &name, root, &mut ids, budget)?;
            chapters.push(chapter);
        }
        chapters.sort_by(|a, b| (a.week, &a.name).cmp(&(b.week, &b.name)));
        Ok(Course { chapters })
    }

    pub fn exercises(&self) -> impl Iterator<Item = &Exercise> {
        self.chapters.iter().flat_map(|c| c.exercises.iter())
    }

    pub fn find(&self, id: &str) -> Option<&Exercise> {
        self.exercises().find(|e| e.spec.id == id)
    }
}

/// Parse one chapter file's text and check what parsing cannot (ids, scenarios, queries), each
/// exercise admitted by the budget.
pub fn parse_chapter(
    text: &str,
    file: &str,
    name: &str,
    root: &Path,
    ids: &mut BTreeSet<String>,
) -> Result<Chapter, ScenarioError> {
    parse_chapter_with(text, file, name, root, ids, Budget::Enforced)
}

/// [`parse_chapter`], with the admission budget enforced or not checked at all (`--no-budget`).
pub fn parse_chapter_with(
    text: &str,
    file: &str,
    name: &str,
    root: &Path,
    ids: &mut BTreeSet<String>,
    budget: Budget,
) -> Result<Chapter, ScenarioError> {
    let raw: ChapterFile = parse_ron(text, file)?;
    let at = Locator::new(file, text);
    // The course prints its texts as they are written: a control character in one would move
    // the terminal's cursor or forge a line of `list` or `show`.
    let printable = |field: String, text: &str| {
        if text.chars().any(crate::scenario::error::is_unprintable) {
            return Err(at.error(
                field,
                "text cannot contain control characters (newlines, tabs, escapes) or bidirectional controls (U+202E …)",
            ));
        }
        Ok(())
    };
    printable("title".into(), &raw.title)?;
    printable("page".into(), &raw.page)?;
    let mut exercises = Vec::new();
    for (i, spec) in raw.exercises.into_iter().enumerate() {
        let field = |f: &str| format!("exercises[{i}].{f}");
        printable(field("question"), &spec.question)?;
        printable(field("why"), &spec.why)?;
        printable(field("scenario"), &spec.scenario)?;
        if spec.id.is_empty() || !spec.id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
            return Err(at.error(field("id"), "an id is letters, digits, '-' and '_'"));
        }
        if !ids.insert(spec.id.clone()) {
            return Err(at.error(field("id"), format!("`{}` is already the id of another exercise", spec.id)));
        }
        let path = root.join(&spec.scenario);
        let mut scenario = Scenario::load_with(&path, budget).map_err(|e| at.error(field("scenario"), e))?;
        // Paths in messages and commands as the exercise spells them (relative to the root).
        scenario.file = spec.scenario.clone();
        let runtime = scenario.runtime();
        let storm = runtime == Runtime::Storm;
        check_model_variant(&spec, &scenario).map_err(|(f, message)| at.error(field(f), message))?;
        if let Some(why) = metric_of(&spec.query).and_then(|m| m.refused_by(runtime)) {
            return Err(at.error(field("query"), why));
        }
        match &spec.query {
            Query::LateWindows { .. } | Query::FireTime { .. } if spec.guarantee.is_some() || spec.sink.is_some() => {
                return Err(at.error(
                    field("query"),
                    "a question about windows reads the rows `streamlab run` prints: it cannot change the guarantee or sink",
                ));
            }
            Query::FireTime { key, .. } | Query::LateWindows { key: Some(key) }
                if !scenario.key_names.contains(key) =>
            {
                return Err(at.error(field("query"), format!("the scenario has no key `{key}`")));
            }
            Query::FindSeed { from, to, .. } if to <= from || to - from > MAX_SEARCH_SEEDS => {
                return Err(
                    at.error(field("query"), format!("a seed range is from..to with 1 ..= {MAX_SEARCH_SEEDS} seeds"))
                );
            }
            Query::Count(Metric::VisibleRows | Metric::LateDropped | Metric::SourceRecords | Metric::SourceReads)
                if spec.guarantee.is_some() || spec.sink.is_some() =>
            {
                return Err(at.error(
                    field("query"),
                    "`compare` does not show this number, and `run` cannot change the guarantee or sink: \
                     use a scenario file written with the variant you ask about",
                ));
            }
            Query::Count(m)
                if matches!(m.owner(), Some(Runtime::Spark | Runtime::KafkaStreams)) && spec.guarantee.is_some() =>
            {
                return Err(at.error(
                    field("query"),
                    "`compare` does not show this counter, and `run` cannot change the guarantee or sink: \
                     use a scenario file written with the variant you ask about",
                ));
            }
            Query::Count(Metric::InputsBlocked | Metric::ChannelStateRecords) if spec.checkpoint_mode.is_none() => {
                return Err(at.error(
                    field("query"),
                    "only `compare --checkpoint-mode` shows this figure: give the exercise a checkpoint_mode",
                ));
            }
            Query::Variants(_)
            | Query::LateWindows { .. }
            | Query::FireTime { .. }
            | Query::Count(Metric::VisibleRows | Metric::LateDropped | Metric::SourceRecords | Metric::SourceReads)
                if spec.checkpoint_mode.is_some() =>
            {
                return Err(at.error(
                    field("query"),
                    "`compare --checkpoint-mode` does not show this: ask it of a scenario file written in that mode",
                ));
            }
            _ => {}
        }
        if storm && spec.sink.is_some() {
            return Err(at.error(field("sink"), "a Storm exercise runs the scenario's own sink"));
        }
        let exercise = Exercise { spec, chapter: name.to_string(), scenario: Arc::new(scenario) };
        // Loading admitted the scenario's `run`; the query may run more (every variant, a seed
        // search) and the exercise may add a swarm: admit what solving it runs.
        if budget == Budget::Enforced {
            exercise
                .scenario_with_faults()
                .admit(exercise.budget_command())
                .map_err(|e| at.error(field("query"), e))?;
        }
        exercises.push(exercise);
    }
    Ok(Chapter {
        name: name.to_string(),
        file: file.to_string(),
        week: raw.week,
        title: raw.title,
        page: raw.page,
        exercises,
    })
}

/// Whether `scenario`'s model runs the exercise's variant (guarantee, sink, checkpoint mode) as a
/// row `compare` shows; if not, the field and why.
fn check_model_variant(spec: &ExerciseSpec, scenario: &Scenario) -> Result<(), (&'static str, String)> {
    let runtime = scenario.runtime();
    let name = model_name(runtime);
    if spec.checkpoint_mode.is_some() {
        if runtime != Runtime::Flink {
            return Err((
                "checkpoint_mode",
                format!("a checkpoint mode is a Flink job's barrier rule: this scenario's model is {name}"),
            ));
        }
        if spec.guarantee.is_some() || spec.sink.is_some() {
            return Err((
                "checkpoint_mode",
                "a checkpoint mode runs exactly-once with the scenario's own sink, as `compare --checkpoint-mode` does: leave out guarantee and sink".into(),
            ));
        }
    }
    if !matches!(runtime, Runtime::Spark | Runtime::KafkaStreams) {
        return Ok(());
    }
    let model = crate::runtime::model(runtime);
    let rows = model.compared_variants(scenario);
    let row_names = || rows.iter().map(|&(g, k)| variant_code(runtime, g, k)).collect::<Vec<_>>().join(", ");
    match (spec.guarantee, spec.sink) {
        (None, None) => Ok(()),
        (None, Some(_)) => {
            Err(("sink", format!("{name}: name the guarantee with the sink (its `compare` rows: {})", row_names())))
        }
        (Some(g), sink) => {
            let sink = sink.unwrap_or_else(|| run::own_sink(scenario));
            if rows.contains(&(g, sink)) {
                Ok(())
            } else {
                Err((
                    "guarantee",
                    format!(
                        "{name} has no `compare` row {} with {}: its rows are {}",
                        g.label(),
                        sink.a_sink(),
                        row_names()
                    ),
                ))
            }
        }
    }
}

/// RON with spans (a syntax or type error names its line, column and field path).
fn parse_ron<T: serde::de::DeserializeOwned>(text: &str, file: &str) -> Result<T, ScenarioError> {
    let options = ron::Options::default()
        .with_default_extension(ron::extensions::Extensions::IMPLICIT_SOME)
        .with_recursion_limit(crate::scenario::MAX_NESTING);
    let located = |e: ron::error::SpannedError, field: &str| {
        let offset = offset_of(text, e.span.start.line, e.span.start.col);
        ScenarioError::at_offset(file, text, offset, field, &e.code.to_string())
    };
    let mut de = ron::Deserializer::from_str_with_options(text, &options).map_err(|e| located(e, "(file)"))?;
    match serde_path_to_error::deserialize::<_, T>(&mut de) {
        Ok(value) => {
            de.end().map_err(|e| located(de.span_error(e), "(end of file)"))?;
            Ok(value)
        }
        Err(e) => {
            let path = e.path().to_string();
            let spanned = de.span_error(e.into_inner());
            let offset = offset_of(text, spanned.span.start.line, spanned.span.start.col);
            let field = crate::scenario::positions::field_of_parse_error(text, offset, &path);
            Err(located(spanned, &field))
        }
    }
}

/// Byte offset of a 1-based (line, column).
fn offset_of(text: &str, line: usize, column: usize) -> usize {
    let start: usize = text.split_inclusive('\n').take(line.saturating_sub(1)).map(str::len).sum();
    let rest = text.get(start..).unwrap_or("");
    start + rest.chars().take(column.saturating_sub(1)).map(char::len_utf8).sum::<usize>()
}

/// What a run showed: enough to answer every [`Query`] about it.
#[derive(Clone, Debug)]
pub struct Observed {
    pub outcome: Outcome,
    pub rows: Vec<StoredRow>,
    pub late_dropped: u64,
    pub source_records: u64,
    pub source_reads: u64,
    pub restarts: u64,
    /// The model's own counters.
    pub counters: ModelCounters,
    pub stop: StopReason,
    pub violations: usize,
}

/// What only one model counts ([`Metric::owner`]).
#[derive(Clone, Debug)]
pub enum ModelCounters {
    Flink { checkpoints_completed: u64, checkpoints_aborted: u64, modes: run::ModeFigures },
    Storm(crate::storm::StormStats),
    Spark(crate::spark::SparkStats),
    KafkaStreams(crate::kstreams::KStreamsStats),
}

/// The answer the run gives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Truth {
    Number(u64),
    Choice(OutcomeClass),
    Set(BTreeSet<String>),
    /// Virtual ms; None when the window never became visible.
    Time(Option<i64>),
    /// Every seed of the range with the outcome (the smallest is the reference answer).
    Seeds(BTreeSet<u64>),
}

/// A solved exercise: what the run shows, and whether the run itself was sound.
#[derive(Clone, Debug)]
pub struct Solution {
    pub truth: Truth,
    pub seed: u64,
    /// A run that did not finish (the exercise is broken, or the engine is): `check` exits 3.
    pub unfinished: Option<String>,
    /// Invariant violations in the runs: `check` exits 4.
    pub violations: usize,
}

/// A student's answer held against a [`Solution`].
#[derive(Clone, Debug)]
pub struct Grade {
    pub right: bool,
    /// What the run shows, in the answer's own notation.
    pub actual: String,
    pub why: String,
    /// The command that shows it.
    pub command: String,
    /// Where to look in that command's output.
    pub look: String,
}

/// An answer that cannot be read as the query's kind (a usage error, not a wrong answer).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BadAnswer(pub String);

impl std::fmt::Display for BadAnswer {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BadAnswer {}

/// The short code of a compared variant: `amo`, `alo`, `eo`, `eo+idempotent`, `eo+2pc`, and
/// `storm-…`, `spark-…`, `kstreams-…` for the other models' rows.
pub fn variant_code(runtime: Runtime, guarantee: Guarantee, sink: SinkKind) -> String {
    let base = match guarantee {
        Guarantee::AtMostOnce => "amo",
        Guarantee::AtLeastOnce => "alo",
        Guarantee::ExactlyOnce => "eo",
    };
    let sink = match sink {
        SinkKind::Plain => "",
        SinkKind::Idempotent => "+idempotent",
        SinkKind::TwoPhaseCommit => "+2pc",
    };
    let runtime = match runtime {
        Runtime::Flink => "",
        Runtime::Storm => "storm-",
        Runtime::Spark => "spark-",
        Runtime::KafkaStreams => "kstreams-",
    };
    format!("{runtime}{base}{sink}")
}

const OUTCOMES: [OutcomeClass; 5] = [
    OutcomeClass::Exact,
    OutcomeClass::Duplicates,
    OutcomeClass::Loss,
    OutcomeClass::LossAndDuplicates,
    OutcomeClass::WrongValues,
];

impl Exercise {
    pub fn seed(&self) -> u64 {
        self.spec.seed.or(self.scenario.seed).unwrap_or(DEFAULT_SEED)
    }

    /// What solving the exercise runs, for the admission budget: `compare`'s variants, a seed
    /// search's checks (per seed, as `sweep` is admitted), or one run against its reference.
    fn budget_command(&self) -> crate::scenario::budget::Command {
        use crate::scenario::budget::Command;
        match self.spec.query {
            Query::Variants(_) => Command::Compare,
            Query::FindSeed { .. } => Command::Sweep { jobs: 1 },
            _ => Command::Run { twice: false },
        }
    }

    /// The scenario with the exercise's faults (and barrier rule).
    fn scenario_with_faults(&self) -> Arc<Scenario> {
        let scenario = match self.spec.checkpoint_mode {
            Some(rule) => run::with_barrier_rule(&self.scenario, rule),
            None => (*self.scenario).clone(),
        };
        Arc::new(match self.spec.faults {
            Faults::AsWritten => scenario,
            Faults::Swarm => run::with_swarm(scenario),
        })
    }

    fn swarm_flag(&self) -> &'static str {
        if self.spec.faults == Faults::Swarm {
            " --swarm"
        } else {
            ""
        }
    }

    /// What the student answers, and how to write it.
    pub fn answer_format(&self) -> String {
        match &self.spec.query {
            Query::Count(_) => "a whole number".into(),
            Query::Outcome => "one of Exact, Duplicates, Loss, LossAndDuplicates, WrongValues".into(),
            Query::Variants(_) => format!(
                "a comma-separated set of compare rows ({}), or `none`",
                self.variant_codes().into_iter().collect::<Vec<_>>().join(", ")
            ),
            Query::LateWindows { .. } => {
                format!(
                    "a comma-separated set of window starts (as the sink output prints them, e.g. {}), or `none`",
                    { self.scenario.format_time_ms(0) }
                )
            }
            Query::FireTime { .. } => format!(
                "a virtual time as the sink output's `visible at` prints it ({}), or `never`",
                if self.scenario.clock_times { "hh:mm:ss or hh:mm:ss.mmm" } else { "seconds, e.g. 31.301 s" }
            ),
            Query::FindSeed { from, to, .. } => format!("a seed in {from}..{to}"),
        }
    }

    /// The codes of `compare`'s rows: every model `compare` runs by default, each with its
    /// compared variants and the ones the scenario declares outcomes for.
    fn variant_codes(&self) -> Vec<String> {
        let s = &self.scenario;
        let mut codes: Vec<String> = Vec::new();
        for runtime in crate::runtime::default_models(s) {
            let mut rows = crate::runtime::model(runtime).compared_variants(s);
            rows.extend(s.expect.outcomes.iter().filter(|e| e.runtime == runtime).map(|e| (e.guarantee, e.sink)));
            for (g, k) in rows {
                let code = variant_code(runtime, g, k);
                if !codes.contains(&code) {
                    codes.push(code);
                }
            }
        }
        codes
    }

    /// Run the scenario (as the exercise varies it) under its own model against that model's
    /// fault-free reference.
    pub fn observe(&self, seed: u64) -> Observed {
        let scenario = self.scenario_with_faults();
        let faults = run::fault_schedule_in_time(&scenario, seed);
        let variant = match (self.spec.guarantee, self.spec.sink) {
            (None, None) => None,
            (g, sink) => Some((g.unwrap_or(scenario.guarantee), sink)),
        };
        crate::runtime::model(scenario.runtime()).observe(&scenario, seed, variant, faults)
    }

    /// Run what the query needs and compute the answer.
    pub fn solve(&self) -> Solution {
        let seed = self.seed();
        let unfinished = |stop: StopReason, what: String| {
            (stop != StopReason::JobFinished).then(|| format!("{what} stopped: {stop}"))
        };
        match &self.spec.query {
            Query::Variants(property) => {
                let reports = run::compare(&self.scenario_with_faults(), seed);
                let truth: BTreeSet<String> = reports
                    .iter()
                    .filter(|r| match property {
                        Property::Loss => r.outcome.has_loss(),
                        Property::Duplicates => r.outcome.has_duplicates(),
                        Property::Exact => r.class == OutcomeClass::Exact,
                        Property::Broken => !r.verdict,
                    })
                    .map(|r| variant_code(r.runtime, r.guarantee, r.sink))
                    .collect();
                let unfinished = reports.iter().find_map(|r| {
                    unfinished(r.stop, format!("the {} row", variant_code(r.runtime, r.guarantee, r.sink)))
                });
                let violations = reports.iter().map(|r| r.violations.len()).sum();
                Solution { truth: Truth::Set(truth), seed, unfinished, violations }
            }
            Query::FindSeed { from, to, outcome } => {
                let mut seeds = BTreeSet::new();
                let mut violations = 0;
                let mut not_finished = None;
                for s in *from..*to {
                    let o = self.observe(s);
                    violations += o.violations;
                    not_finished = not_finished.or(unfinished(o.stop, format!("seed {s}")));
                    if o.outcome.class() == *outcome {
                        seeds.insert(s);
                    }
                }
                Solution { truth: Truth::Seeds(seeds), seed, unfinished: not_finished, violations }
            }
            _ => self.solve_from(&self.observe(seed)),
        }
    }

    /// What identifies the one run a single-run query reads (queries about `compare`'s rows or
    /// a seed search have none): exercises with the same key can share an [`Observed`].
    pub fn run_key(&self) -> Option<String> {
        match self.spec.query {
            Query::Variants(_) | Query::FindSeed { .. } => None,
            _ => Some(format!(
                "{} {:?} {:?} {:?} {} {:?}",
                self.spec.scenario,
                self.spec.guarantee,
                self.spec.sink,
                self.spec.checkpoint_mode,
                self.seed(),
                self.spec.faults
            )),
        }
    }

    /// [`Exercise::solve`] for a single-run query from its run ([`Exercise::observe`] with
    /// [`Exercise::seed`]; see [`Exercise::run_key`]).
    pub fn solve_from(&self, o: &Observed) -> Solution {
        let truth = match &self.spec.query {
            Query::Count(m) => Truth::Number(self.metric(o, *m)),
            Query::Outcome => Truth::Choice(o.outcome.class()),
            Query::LateWindows { key } => Truth::Set(
                o.rows
                    .iter()
                    .filter(|r| r.row.firing == Firing::Late)
                    .filter(|r| key.as_ref().is_none_or(|k| self.scenario.key_name(r.row.key) == *k))
                    .filter_map(|r| r.row.window.map(|w| self.scenario.format_time_ms(w.start_ms)))
                    .collect(),
            ),
            Query::FireTime { key, start } => Truth::Time(
                o.rows
                    .iter()
                    .filter(|r| self.scenario.key_name(r.row.key) == *key)
                    .filter(|r| r.row.window.is_some_and(|w| w.start_ms == start.0))
                    .map(|r| (r.visible_ns.unwrap_or(r.written_ns) / 1_000_000) as i64)
                    .min(),
            ),
            // Not single-run queries: `solve` runs what they need.
            Query::Variants(_) | Query::FindSeed { .. } => return self.solve(),
        };
        let unfinished = (o.stop != StopReason::JobFinished).then(|| format!("the run stopped: {}", o.stop));
        Solution { truth, seed: self.seed(), unfinished, violations: o.violations }
    }

    fn metric(&self, o: &Observed, m: Metric) -> u64 {
        let counted = |n: usize| n as u64;
        match (m, &o.counters) {
            (Metric::DuplicateRows, _) => counted(o.outcome.duplicate_rows.len()),
            (Metric::MissingRows, _) => counted(o.outcome.missing_rows.len()),
            (Metric::WrongRows, _) => counted(o.outcome.wrong_rows.len()),
            (Metric::UnexpectedRows, _) => counted(o.outcome.unexpected_rows.len()),
            (Metric::LostRecords, _) => counted(o.outcome.lost_records.len()),
            (Metric::DuplicatedRecords, _) => counted(o.outcome.duplicated_records.len()),
            (Metric::VisibleRows, _) => counted(o.rows.len()),
            (Metric::LateDropped, _) => o.late_dropped,
            (Metric::SourceRecords, _) => o.source_records,
            (Metric::SourceReads, _) => o.source_reads,
            (Metric::Restarts, _) => o.restarts,
            (Metric::CheckpointsCompleted, ModelCounters::Flink { checkpoints_completed, .. }) => {
                *checkpoints_completed
            }
            (Metric::CheckpointsAborted, ModelCounters::Flink { checkpoints_aborted, .. }) => *checkpoints_aborted,
            (Metric::InputsBlocked, ModelCounters::Flink { modes, .. }) => modes.inputs_blocked,
            (Metric::ChannelStateRecords, ModelCounters::Flink { modes, .. }) => modes.channel_state_records,
            (Metric::StormTimeouts, ModelCounters::Storm(s)) => s.timeouts,
            (Metric::StormReplays, ModelCounters::Storm(s)) => s.replays + s.rereads + s.trident_replays,
            (Metric::SparkBatches, ModelCounters::Spark(s)) => s.batches,
            (Metric::SparkBatchesRerun, ModelCounters::Spark(s)) => s.reruns,
            (Metric::SparkTaskRetries, ModelCounters::Spark(s)) => s.task_retries,
            (Metric::SparkRecordsSkipped, ModelCounters::Spark(s)) => s.skipped_at_restart,
            (Metric::KStreamsRestoredRecords, ModelCounters::KafkaStreams(s)) => s.restored_records,
            (Metric::KStreamsAbortedTransactions, ModelCounters::KafkaStreams(s)) => s.aborted_txns,
            (Metric::KStreamsReprocessedRecords, ModelCounters::KafkaStreams(s)) => s.reprocessed,
            // Loading refused the exercise (`Metric::refused_by`): another model's counter.
            _ => 0,
        }
    }

    /// The truth in the answer's notation (what `check` accepts as right).
    /// A virtual time of `ms` milliseconds as the sink output's `visible at` column prints it
    /// (`report::format_virtual`: a clock time in a textbook scenario, else seconds).
    fn visible_at_text(&self, ms: i64) -> String {
        crate::report::format_virtual(&self.scenario, u64::try_from(ms).unwrap_or(0).saturating_mul(1_000_000))
    }

    pub fn render(&self, truth: &Truth) -> String {
        match truth {
            Truth::Number(n) => n.to_string(),
            Truth::Choice(c) => format!("{c:?}"),
            Truth::Set(s) if s.is_empty() => "none".into(),
            Truth::Set(s) => s.iter().cloned().collect::<Vec<_>>().join(","),
            Truth::Time(None) => "never".into(),
            Truth::Time(Some(ms)) => self.visible_at_text(*ms),
            Truth::Seeds(s) => match s.first() {
                Some(seed) => seed.to_string(),
                None => "none in the range".into(),
            },
        }
    }

    /// An answer `check` must call right: the smallest matching seed for a search.
    pub fn reference_answer(&self, solution: &Solution) -> String {
        self.render(&solution.truth)
    }

    /// An answer `check` must call wrong (for the tests): off by one, another choice, one window
    /// or row more or less, a seed that does not match.
    pub fn wrong_answer(&self, solution: &Solution) -> String {
        match &solution.truth {
            Truth::Number(n) => (n + 1).to_string(),
            Truth::Choice(c) => format!("{:?}", OUTCOMES.iter().find(|o| *o != c).unwrap_or(&OutcomeClass::Exact)),
            Truth::Set(s) => {
                let mut other = s.clone();
                match &self.spec.query {
                    Query::Variants(_) => {
                        let code = self.variant_codes().into_iter().next().unwrap_or_else(|| "amo".into());
                        if !other.remove(&code) {
                            other.insert(code);
                        }
                    }
                    _ => {
                        let start = self.scenario.format_time_ms(-1);
                        if !other.remove(&start) {
                            other.insert(start);
                        }
                    }
                }
                self.render(&Truth::Set(other))
            }
            Truth::Time(Some(ms)) => self.visible_at_text(ms + 1),
            Truth::Time(None) => self.visible_at_text(0),
            Truth::Seeds(s) => match &self.spec.query {
                Query::FindSeed { from, to, .. } => {
                    (*from..*to).find(|x| !s.contains(x)).unwrap_or(to.saturating_add(1)).to_string()
                }
                _ => "0".into(),
            },
        }
    }

    /// Read a student's answer as the query's kind.
    pub fn parse_answer(&self, answer: &str) -> Result<Truth, BadAnswer> {
        let a = answer.trim();
        let bad = |what: String| BadAnswer(format!("`{a}`: {what}; answer {}", self.answer_format()));
        match &self.spec.query {
            Query::Count(_) => a.replace('_', "").parse().map(Truth::Number).map_err(|_| bad("not a number".into())),
            Query::Outcome => {
                let norm = |s: &str| s.to_ascii_lowercase().replace(['-', '_', ' '], "");
                OUTCOMES
                    .iter()
                    .find(|o| norm(&format!("{o:?}")) == norm(a))
                    .map(|o| Truth::Choice(*o))
                    .ok_or_else(|| bad("not an outcome".into()))
            }
            Query::Variants(_) => {
                let codes = self.variant_codes();
                let set = set_items(a)
                    .into_iter()
                    .map(|item| {
                        let item = item.to_ascii_lowercase();
                        codes
                            .contains(&item)
                            .then_some(item.clone())
                            .ok_or_else(|| bad(format!("`{item}` is not a row")))
                    })
                    .collect::<Result<_, _>>()?;
                Ok(Truth::Set(set))
            }
            Query::LateWindows { .. } => Ok(Truth::Set(
                set_items(a)
                    .into_iter()
                    .map(|item| {
                        parse_visible_at(&item)
                            .map(|ms| self.scenario.format_time_ms(ms))
                            .ok_or_else(|| bad(format!("`{item}` is not a time")))
                    })
                    .collect::<Result<_, _>>()?,
            )),
            Query::FireTime { .. } if a.eq_ignore_ascii_case("never") => Ok(Truth::Time(None)),
            Query::FireTime { .. } => {
                parse_visible_at(a).map(|t| Truth::Time(Some(t))).ok_or_else(|| bad("not a time".into()))
            }
            Query::FindSeed { .. } => a.parse().map(|s| Truth::Seeds([s].into())).map_err(|_| bad("not a seed".into())),
        }
    }

    /// Grade `answer` against the run's `solution`.
    pub fn grade(&self, solution: &Solution, answer: &str) -> Result<Grade, BadAnswer> {
        let given = self.parse_answer(answer)?;
        let right = match (&given, &solution.truth) {
            (Truth::Seeds(g), Truth::Seeds(t)) => g.iter().all(|s| t.contains(s)),
            (g, t) => g == t,
        };
        let actual = match &solution.truth {
            Truth::Seeds(_) if right => {
                given_seed(&given).map_or_else(|| self.render(&solution.truth), |s| s.to_string())
            }
            Truth::Seeds(t) => match (given_seed(&given), &self.spec.query) {
                (Some(s), Query::FindSeed { from, to, outcome }) => format!(
                    "{} ({} seeds of {from}..{to} give {outcome:?}, e.g. {})",
                    if (*from..*to).contains(&s) {
                        format!("another outcome for seed {s}")
                    } else {
                        format!("nothing for seed {s}: it is outside the range")
                    },
                    t.len(),
                    self.render(&solution.truth)
                ),
                _ => self.render(&solution.truth),
            },
            t => self.render(t),
        };
        let seed = match (&self.spec.query, &given) {
            (Query::FindSeed { .. }, given) => given_seed(given).unwrap_or(solution.seed),
            _ => solution.seed,
        };
        Ok(Grade {
            right,
            actual,
            why: self.spec.why.trim().to_string(),
            command: self.command(seed),
            look: self.look(),
        })
    }

    /// The command that shows the answer.
    pub fn command(&self, seed: u64) -> String {
        let compare = self.spec.guarantee.is_some()
            || self.spec.sink.is_some()
            || matches!(self.spec.query, Query::Variants(_) | Query::FindSeed { .. });
        let (command, axis) = match self.spec.checkpoint_mode {
            Some(_) => ("compare", " --checkpoint-mode all"),
            None if compare => ("compare", ""),
            None => ("run", ""),
        };
        let scenario = crate::scenario::error::shell_word(&self.spec.scenario);
        format!("cargo run --release -- {command} {scenario}{axis} --seed {seed}{}", self.swarm_flag())
    }

    /// Where the answer is in the command's output ([`Exercise::command`]).
    pub fn look(&self) -> String {
        let runtime = self.scenario.runtime();
        let row = match (self.spec.checkpoint_mode, self.spec.guarantee, self.spec.sink) {
            (Some(rule), _, _) => Some(format!("the row `{}`", rule.label())),
            (None, None, None) => None,
            (None, g, k) => {
                let g = g.unwrap_or(self.scenario.guarantee);
                // Named as `compare` prints it (runtime, guarantee, sink columns), not by its
                // answer code.
                let sink = k.unwrap_or_else(|| run::own_sink(&self.scenario));
                let (model, guarantee) = crate::report::compare_row_names(runtime, g);
                Some(format!("the row `{model} {guarantee} {}`", sink.label()))
            }
        };
        // (compare's column, where `run` prints it)
        let (column, in_run) = match &self.spec.query {
            Query::Count(m) => metric_place(*m, runtime),
            Query::Outcome => ("output", format!("{ORACLE_LINE}: its first word")),
            Query::Variants(_) => return "the table's `output` column, one row per variant".into(),
            Query::FindSeed { .. } => return "the `output` column of the exercise's row".into(),
            Query::LateWindows { .. } => return "the sink output: rows marked `late`".into(),
            Query::FireTime { .. } => return "the sink output: the window's first row, column `visible at`".into(),
        };
        match row {
            Some(row) => format!("{row}, column `{column}`"),
            None => in_run,
        }
    }
}

/// How `run` names its verdict line, whatever the model.
const ORACLE_LINE: &str = "the line `oracle vs the …fault-free …`";

/// Where `m` is shown for a scenario of `runtime`: `compare`'s column (empty: not there) and the
/// place in `run`'s output.
fn metric_place(m: Metric, runtime: Runtime) -> (&'static str, String) {
    let summary = |what: &str| format!("the summary's {what}");
    let (storm, spark, kstreams) =
        (runtime == Runtime::Storm, runtime == Runtime::Spark, runtime == Runtime::KafkaStreams);
    match m {
        Metric::DuplicateRows => {
            ("rows missing/dup/wrong/unexp (the 2nd number)", format!("{ORACLE_LINE}: `duplicate N`"))
        }
        Metric::MissingRows => ("rows missing/dup/wrong/unexp (the 1st number)", format!("{ORACLE_LINE}: `rows missing N`")),
        Metric::WrongRows => ("rows missing/dup/wrong/unexp (the 3rd number)", format!("{ORACLE_LINE}: `wrong N`")),
        Metric::UnexpectedRows => {
            ("rows missing/dup/wrong/unexp (the 4th number)", format!("{ORACLE_LINE}: `unexpected N`"))
        }
        Metric::LostRecords => ("records lost/dup (the 1st number)", format!("{ORACLE_LINE}: `source records lost N`")),
        Metric::DuplicatedRecords => ("records lost/dup (the 2nd number)", format!("{ORACLE_LINE}: `duplicated N`")),
        Metric::VisibleRows => ("", "the heading `== sink output (N visible rows) ==`".into()),
        Metric::LateDropped if storm => ("", summary("`late tuples dropped (acked) by windowed bolts: N`")),
        Metric::LateDropped if spark => ("", summary("`late: … groups dropped (N records)`")),
        Metric::LateDropped if kstreams => ("", summary("`late records dropped N`")),
        Metric::LateDropped => ("", summary("`late records dropped: N`")),
        Metric::SourceRecords => ("", summary("`source log N records`")),
        Metric::SourceReads if storm => ("", summary("`spout: N emitted`")),
        Metric::SourceReads if spark => ("", summary("`records read N (re-reads included)`")),
        Metric::SourceReads => {
            ("", summary("`records in` of the source operator (totals over all job attempts)"))
        }
        Metric::Restarts if storm => ("restarts", summary("`executor restarts: N`")),
        Metric::Restarts if spark => ("restarts", summary("`driver restarts N`")),
        Metric::Restarts if kstreams => ("restarts", summary("`task restores N`")),
        Metric::Restarts => (
            "restarts",
            summary("`counts are totals over all N job attempts`: N - 1 restarts (no such line: none)"),
        ),
        Metric::CheckpointsCompleted => ("checkpoints (N ok)", summary("`checkpoints: N completed`")),
        Metric::CheckpointsAborted => ("checkpoints (N ab)", summary("`checkpoints: … M aborted`")),
        Metric::InputsBlocked => ("inputs blocked", String::new()),
        Metric::ChannelStateRecords => ("channel state recs", String::new()),
        Metric::StormTimeouts => ("t/o", summary("`spout: … N timed out`")),
        Metric::StormReplays => (
            "replays",
            summary("`spout: … (N replays after a timeout or fail, M re-read …)` and, under Trident, `trident: … (K replays)`: N + M + K"),
        ),
        Metric::SparkBatches => ("", summary("`N batches committed`")),
        Metric::SparkBatchesRerun => ("", summary("`… batches committed (N re-run after a restart, …)`")),
        Metric::SparkTaskRetries => ("", summary("`tasks: … N retried after an executor loss`")),
        Metric::SparkRecordsSkipped => ("", summary("`records skipped by a restart from the latest offsets: N`")),
        Metric::KStreamsRestoredRecords => ("", summary("`task restores … (N changelog records replayed in …)`")),
        Metric::KStreamsAbortedTransactions => ("", summary("`aborted transactions N`")),
        Metric::KStreamsReprocessedRecords => ("", summary("`processed … records (N reprocessed after a crash)`")),
    }
}

fn given_seed(t: &Truth) -> Option<u64> {
    match t {
        Truth::Seeds(s) => s.first().copied(),
        _ => None,
    }
}

/// `a, b ,c` → items; `none`, `{}` or nothing → no items.
fn set_items(a: &str) -> Vec<String> {
    let a = a.trim().trim_start_matches('{').trim_end_matches('}').trim();
    if a.is_empty() || a.eq_ignore_ascii_case("none") {
        return Vec::new();
    }
    a.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect()
}

/// A virtual time as `visible at` prints it: seconds with up to three decimals (`31.301 s`,
/// `31.301`), or milliseconds (`31301 ms`, `31301`), or a clock time `hh:mm:ss[.mmm]`.
fn parse_visible_at(a: &str) -> Option<i64> {
    let a = a.trim();
    if let Some(ms) = a.strip_suffix("ms").map(str::trim) {
        return ms.replace('_', "").parse::<i64>().ok();
    }
    let seconds = a.strip_suffix('s').map(str::trim);
    match seconds.or_else(|| a.contains('.').then_some(a)) {
        Some(s) if !s.contains(':') => seconds_to_ms(s),
        _ => parse_time(a),
    }
}

/// `s` seconds (a whole number with up to three decimals, maybe negative) in milliseconds.
fn seconds_to_ms(s: &str) -> Option<i64> {
    let (negative, s) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    let (whole, frac) = s.split_once('.').unwrap_or((s, ""));
    let digits = |t: &str| t.chars().all(|c| c.is_ascii_digit());
    if frac.len() > 3 || !digits(frac) || whole.is_empty() || !digits(whole) {
        return None;
    }
    let ms = whole.parse::<i64>().ok()?.checked_mul(1000)?.checked_add(format!("{frac:0<3}").parse().ok()?)?;
    Some(if negative { -ms } else { ms })
}

/// Milliseconds, or a clock time `hh:mm:ss[.mmm]` (the scenario format's times).
fn parse_time(a: &str) -> Option<i64> {
    let a = a.trim();
    if let Ok(ms) = a.replace('_', "").parse::<i64>() {
        return Some(ms);
    }
    ron::from_str::<TimeMs>(&format!("\"{}\"", a.replace(['"', '\\'], ""))).ok().map(|t| t.0)
}

#[cfg(test)]
mod tests {
    use super::parse_visible_at;

    /// A fire time is answered as `visible at` prints it (seconds, or a clock time), and in
    /// milliseconds as before; nothing else reads as a time.
    #[test]
    fn a_visible_at_time_reads_in_seconds_milliseconds_or_a_clock() {
        let cases = [
            ("31.301 s", Some(31_301)),
            ("31.301s", Some(31_301)),
            ("31.301", Some(31_301)),
            ("31.3 s", Some(31_300)),
            ("31 s", Some(31_000)),
            ("31301 ms", Some(31_301)),
            ("31301", Some(31_301)),
            ("31_301", Some(31_301)),
            ("12:08:39", Some(43_719_000)),
            ("12:08:39.500", Some(43_719_500)),
            ("31.3011 s", None),
            ("31.x s", None),
            (".5 s", None),
            ("s", None),
            ("NaN", None),
            ("1e308", None),
            ("99999999999999999 s", None),
            ("-0.001 s", Some(-1)),
            ("-5.000 s", Some(-5_000)),
            ("--5 s", None),
            ("+5 s", None),
        ];
        for (answer, want) in cases {
            assert_eq!(parse_visible_at(answer), want, "{answer:?}");
        }
    }
}
