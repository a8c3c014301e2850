//! The workbench application: state apart from UI (rerun's model). `App` holds the loaded
//! scenario, its recorded runs, the time control and what is selected; panels draw from it and
//! report what the user asked for as [`Action`]s, applied after the frame is drawn.

use engine::graph::SubtaskId;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use engine::sink::SinkKind;
use sim::faults::{Fault, Trigger};
use sim::kernel::TimeNs;
use sim::oracle::Outcome;
use sim::oracle::Seen;
use sim::run::{VariantReport, DEFAULT_SEED};
use sim::scenario::{Guarantee, NodeId, JOB_MANAGER};
use sim::{Scenario, ScenarioError};

use crate::panels;
use crate::recording::{Driver, KStreamsRecorder, Poll, Recording, ReferenceRecorder, SparkRecorder, StormRecorder};
use crate::scrub::{RecordedRun, RunRecorder};
use crate::shown_run::ShownRun;
use crate::time_control::{Command, TimeControl};
use crate::view::dag::DagLayout;
use crate::view::diff::first_divergence;
use crate::view::diff::{RunDiff, Side};
use crate::view::ledger::{Ledger, LedgerFilter, Provenance};
use crate::view::plots::Chart;
use crate::view::storm::StormOrigin;
use crate::view::{markers, outcomes, plots, Frame};

/// Where a scenario comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ScenarioSource {
    /// `sim::scenario::DEFAULT_SCENARIO`, compiled into the binary.
    Embedded,
    File(PathBuf),
}

impl ScenarioSource {
    pub fn load(&self) -> Result<Scenario, ScenarioError> {
        match self {
            ScenarioSource::Embedded => Ok(Scenario::default_scenario()),
            ScenarioSource::File(path) => Scenario::load(path),
        }
    }
}

/// One entry of the scenario picker.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScenarioEntry {
    pub label: String,
    pub source: ScenarioSource,
}

pub const EMBEDDED_LABEL: &str = "clickstream (built-in default)";

/// The embedded default, then every `*.ron` in the first scenarios folder found: `./scenarios`
/// (running from the repository), else the one next to the sources (running tests).
pub fn shipped_scenarios() -> Vec<ScenarioEntry> {
    let mut entries = vec![ScenarioEntry { label: EMBEDDED_LABEL.to_string(), source: ScenarioSource::Embedded }];
    let candidates = [PathBuf::from("scenarios"), Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios")];
    if let Some(dir) = candidates.iter().find(|d| d.is_dir()) {
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
            .map(|rd| {
                rd.filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| p.extension().is_some_and(|x| x == "ron"))
                    .collect()
            })
            .unwrap_or_default();
        // Directory order is the file system's: sort so the list is the same everywhere.
        files.sort();
        for path in files {
            let label =
                path.file_name().map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned());
            entries.push(ScenarioEntry { label, source: ScenarioSource::File(path) });
        }
    }
    entries
}

/// The lower half of the central panel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tab {
    Watermarks,
    Alignment,
    Events,
    SinkOutput,
    Outcome,
    Plots,
    Outcomes,
    Diff,
    Save,
}

impl Tab {
    pub const ALL: [Tab; 9] = [
        Tab::Watermarks,
        Tab::Alignment,
        Tab::Events,
        Tab::SinkOutput,
        Tab::Outcome,
        Tab::Plots,
        Tab::Outcomes,
        Tab::Diff,
        Tab::Save,
    ];
    pub fn label(self) -> &'static str {
        match self {
            Tab::Outcome => "Outcome: every row vs. the run without faults",
            Tab::Events => "Event log",
            Tab::Watermarks => "Watermarks: why has my window not fired?",
            Tab::Alignment => "Barrier alignment",
            Tab::SinkOutput => "Sink output",
            Tab::Plots => "Charts",
            Tab::Outcomes => "Faults and outcomes",
            Tab::Diff => "Diff: this run vs its parent",
            Tab::Save => "Save / export",
        }
    }

    /// Whether the tab reads the job graph (it explains what the graph shows at the cursor) rather
    /// than a table or charts of its own, which need the height: those start with a shorter graph.
    pub fn reads_the_graph(self) -> bool {
        matches!(self, Tab::Watermarks | Tab::Alignment)
    }
}

/// What the user asked for during a frame.
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    Time(Command),
    Select(Option<SubtaskId>),
    Load(ScenarioSource),
    /// Run the loaded scenario again with the seed in the seed field.
    Rerun,
    ShowRun(usize),
    ExportCharts,
    /// Export the job graph at the cursor or the timeline as shown, for slides.
    ExportSlide(crate::slides::SlideKind),
    /// Fork the shown run at the cursor with this fault (the Storm view records the topology
    /// again with the fault added to the ones it had).
    Inject(FaultRequest),
    /// The Storm and Spark views: record the run again with only the file's faults.
    ClearInjectedFaults,
    /// The Spark view: crash the driver at the cursor (back after the fault settings' delay) and
    /// record the query again with it.
    CrashDriver,
    /// Run the scenario under another guarantee and/or sink kind (None: as written). In the
    /// Storm view the guarantee is the topology's acking (Storm has no sink choice).
    SetVariant(Option<Guarantee>, Option<SinkKind>),
    /// Compare the guarantees under the shown run's faults.
    Compare,
    /// Select a line of the outcome table (its provenance is shown).
    SelectLine(Option<usize>),
    ShowTab(Tab),
    /// Stop the recording in progress (what is on screen stays).
    CancelRecording,
    /// Save the shown run as a scenario file (its guarantee, sinks and faults; the seed pinned).
    SaveScenario,
    /// Export the shown run's visible sink output as CSV and JSON.
    ExportSinkOutput,
    /// Export the shown run's trace for Perfetto.
    ExportTrace,
    /// Start the scenario's guided tour at its first stop.
    TourStart,
    /// Play on to the tour's next stop.
    TourNext,
    /// Go straight to stop k of the tour.
    TourJump(usize),
    /// Leave the tour.
    TourEnd,
}

/// What a recording in progress is for: applied when it is done.
pub enum Purpose {
    /// A scenario loaded (or run again with another seed), then shown under `then_variant`.
    Load { base: Arc<Scenario>, seed: u64, source: ScenarioSource, then_variant: (Option<Guarantee>, Option<SinkKind>) },
    /// A fork of run `parent` with a clicked fault.
    Fork { parent: usize, schedule: String },
    /// The shown run's fault schedule under another guarantee or sink kind.
    Variant { variant: (Option<Guarantee>, Option<SinkKind>), schedule: String },
}

/// A run being recorded (off the UI thread, or in slices between frames).
pub struct Pending {
    pub recording: Recording<RunRecorder>,
    pub purpose: Purpose,
}

/// A Storm scenario's run being recorded (its origin travels with the recorder).
pub struct StormPending {
    pub recording: Recording<StormRecorder>,
}

/// A Spark or Kafka Streams run being recorded: its view shows it when it is done.
pub enum ViewPending {
    Spark(Recording<SparkRecorder>),
    KStreams(Recording<KStreamsRecorder>),
}

impl ViewPending {
    fn what(&self) -> &str {
        match self {
            ViewPending::Spark(r) => &r.what,
            ViewPending::KStreams(r) => &r.what,
        }
    }
    fn progress(&self) -> f32 {
        match self {
            ViewPending::Spark(r) => r.progress(),
            ViewPending::KStreams(r) => r.progress(),
        }
    }
    fn cancel(&self) {
        match self {
            ViewPending::Spark(r) => r.cancel(),
            ViewPending::KStreams(r) => r.cancel(),
        }
    }
}

/// A fault the user asks for, at the cursor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultRequest {
    /// Crash task manager `tm` (0-based), back after this long (None: never).
    Crash { tm: u32, restart_after_ms: Option<u64> },
    /// Cut task manager `tm` off from the job manager for this long.
    Isolate { tm: u32, duration_ms: u64 },
    /// Partition the link between task managers `a` and `b` for this long (messages wait).
    Partition { a: u32, b: u32, duration_ms: u64 },
    /// Add `extra_ms` of latency to the link between `a` and `b` for this long.
    Delay { a: u32, b: u32, extra_ms: u64, duration_ms: u64 },
    /// Add `extra_ms` of latency to the link between task manager `tm` and the job manager (a
    /// Spark executor and its driver) for this long.
    DelayJobManager { tm: u32, extra_ms: u64, duration_ms: u64 },
}

impl FaultRequest {
    /// The fault, with absolute times from `now_ns` (the moment it happens).
    pub fn fault(self, now_ns: TimeNs) -> Fault {
        match self {
            FaultRequest::Crash { tm, restart_after_ms } => Fault::Crash {
                node: NodeId::task_manager(tm),
                at: Trigger::At(now_ns),
                restart_after_ns: restart_after_ms.map(|ms| ms * 1_000_000),
            },
            FaultRequest::Isolate { tm, duration_ms } => Fault::Partition {
                a: NodeId::task_manager(tm),
                b: JOB_MANAGER,
                from_ns: now_ns,
                until_ns: now_ns + duration_ms * 1_000_000,
            },
            FaultRequest::Partition { a, b, duration_ms } => Fault::Partition {
                a: NodeId::task_manager(a),
                b: NodeId::task_manager(b),
                from_ns: now_ns,
                until_ns: now_ns + duration_ms * 1_000_000,
            },
            FaultRequest::Delay { a, b, extra_ms, duration_ms } => Fault::LatencySpike {
                link: Some((NodeId::task_manager(a), NodeId::task_manager(b))),
                from_ns: now_ns,
                until_ns: now_ns + duration_ms * 1_000_000,
                extra_ns: extra_ms * 1_000_000,
            },
            FaultRequest::DelayJobManager { tm, extra_ms, duration_ms } => Fault::LatencySpike {
                link: Some((NodeId::task_manager(tm), JOB_MANAGER)),
                from_ns: now_ns,
                until_ns: now_ns + duration_ms * 1_000_000,
                extra_ns: extra_ms * 1_000_000,
            },
        }
    }

    pub fn describe(self) -> String {
        let d = |ms: u64| crate::view::duration_ms_text(ms.min(i64::MAX as u64) as i64);
        match self {
            FaultRequest::Crash { tm, restart_after_ms: Some(ms) } => format!("crash tm-{tm}, back after {}", d(ms)),
            FaultRequest::Crash { tm, restart_after_ms: None } => format!("crash tm-{tm}, never back"),
            FaultRequest::Isolate { tm, duration_ms } => {
                format!("cut tm-{tm} off from the job manager for {}", d(duration_ms))
            }
            FaultRequest::Partition { a, b, duration_ms } => {
                format!("partition tm-{a} <-> tm-{b} for {}", d(duration_ms))
            }
            FaultRequest::Delay { a, b, extra_ms, duration_ms } => {
                format!("delay tm-{a} <-> tm-{b} by {} for {}", d(extra_ms), d(duration_ms))
            }
            FaultRequest::DelayJobManager { tm, extra_ms, duration_ms } => {
                format!("delay tm-{tm} <-> the job manager by {} for {}", d(extra_ms), d(duration_ms))
            }
        }
    }
}

/// A loaded scenario with its recorded runs: the original and any forks.
pub struct Session {
    /// The scenario as loaded.
    pub base: Arc<Scenario>,
    /// Guarantee and sink kind chosen in the workbench (None: as written).
    pub variant: (Option<Guarantee>, Option<SinkKind>),
    /// What runs: `base` with the variant applied.
    pub scenario: Arc<Scenario>,
    pub seed: u64,
    pub source: ScenarioSource,
    /// Per run: its visible output compared with the original run's (None for the original).
    pub versus_original: Vec<Option<Outcome>>,
    /// The last guarantee comparison, and the run whose faults it used.
    pub comparison: Option<(usize, Vec<VariantReport>)>,
    /// A comparison being computed on a worker thread (the window stays responsive): the run
    /// whose faults it uses, and where the reports will arrive.
    pub comparing: Option<(usize, std::sync::mpsc::Receiver<Vec<VariantReport>>)>,
    pub runs: Vec<RecordedRun>,
    /// Per run: the guarantee and sink kind it runs with (None: as written).
    pub variants: Vec<(Option<Guarantee>, Option<SinkKind>)>,
    /// Per run: what its fault schedule is ("faults from the file", a fork's label).
    pub schedule_labels: Vec<String>,
    /// Per run: its rows against the fault-free reference (built when first shown).
    /// The scenario's tour stops placed in the shown run (an event's stop where it happened
    /// there).
    pub tour: Vec<sim::scenario::tour::Placed>,
    pub ledgers: Vec<Option<Ledger>>,
    /// Fault-free reference rows, per scenario variant (shared by the runs of that variant).
    references: Vec<(Arc<Scenario>, Arc<Seen>)>,
    /// The shown fork against its parent (built when the Diff tab shows it).
    pub diff: Option<RunDiff>,
    /// The provenance of the selected outcome line: (run, line).
    pub provenance: Option<((usize, usize), Option<Provenance>)>,
    /// Index of the run on screen.
    pub shown: usize,
    pub layout: DagLayout,
    /// Per run, its charts (whole-run data: built once).
    pub charts: Vec<Vec<Chart>>,
    /// The frame for the last (run, cursor, selection) asked for.
    frame: Option<(FrameKey, Frame)>,
    pub frames_built: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct FrameKey {
    run: usize,
    cursor_ns: TimeNs,
    selected: Option<SubtaskId>,
    visible_only: bool,
}

impl Session {
    pub fn new(
        base: Arc<Scenario>,
        variant: (Option<Guarantee>, Option<SinkKind>),
        seed: u64,
        source: ScenarioSource,
    ) -> Session {
        let scenario = match variant {
            (None, None) => base.clone(),
            (g, sink) => Arc::new(base.with_variant(g.unwrap_or(base.guarantee), sink)),
        };
        Session::from_run(base, variant, seed, source, RecordedRun::record(scenario, seed))
    }

    /// A session whose first run is `run` (recorded from `base` under `variant`).
    pub fn from_run(
        base: Arc<Scenario>,
        variant: (Option<Guarantee>, Option<SinkKind>),
        seed: u64,
        source: ScenarioSource,
        run: RecordedRun,
    ) -> Session {
        let scenario = run.scenario.clone();
        let charts = vec![plots::all(&run.final_world)];
        let tour = crate::view::tour::place(&scenario, &run);
        Session {
            tour,
            layout: DagLayout::build(&scenario),
            base,
            variant,
            scenario,
            seed,
            source,
            versus_original: vec![None],
            comparison: None,
            comparing: None,
            runs: vec![run],
            variants: vec![variant],
            schedule_labels: vec!["faults from the file".to_string()],
            ledgers: vec![None],
            references: Vec::new(),
            diff: None,
            provenance: None,
            shown: 0,
            charts,
            frame: None,
            frames_built: 0,
        }
    }

    pub fn run(&self) -> &RecordedRun {
        &self.runs[self.shown]
    }

    pub fn add_run(
        &mut self,
        run: RecordedRun,
        variant: (Option<Guarantee>, Option<SinkKind>),
        schedule_label: String,
    ) -> usize {
        self.charts.push(plots::all(&run.final_world));
        self.versus_original.push(Some(outcomes::versus_original(&self.runs[0], &run)));
        let mut run = run;
        let index = self.runs.len();
        // A fork and its parent both mark where they first differ.
        if let Some(fork) = run.fork.clone() {
            if let Some(parent) = self.runs.get_mut(fork.parent) {
                let shared = parent.trace_until(fork.at_ns).len();
                if let Some(d) = first_divergence(&parent.scenario, &parent.trace, &run.trace, shared) {
                    markers::mark_divergence(&mut parent.markers, d.time_ns, index, true);
                    markers::mark_divergence(&mut run.markers, d.time_ns, fork.parent, false);
                }
            }
        }
        self.runs.push(run);
        self.variants.push(variant);
        self.schedule_labels.push(schedule_label);
        self.ledgers.push(None);
        self.runs.len() - 1
    }

    /// Put run `i` on screen (its guarantee and sink kind become the session's).
    pub fn show(&mut self, i: usize) {
        if i < self.runs.len() {
            self.shown = i;
            self.scenario = self.runs[i].scenario.clone();
            self.variant = self.variants[i];
            self.frame = None;
            self.tour = crate::view::tour::place(&self.scenario, &self.runs[i]);
        }
    }

    /// Fork the shown run at `at_ns` with `request`, show the fork, return its index.
    pub fn fork_shown(&mut self, at_ns: TimeNs, request: FaultRequest) -> usize {
        let (recorder, purpose) = self.fork_recorder(at_ns, request);
        match purpose {
            Purpose::Fork { parent, schedule } => self.add_fork(recorder.finish(), parent, schedule),
            _ => self.shown,
        }
    }

    /// The recording of a fork of the shown run at `at_ns` (the world at the fork point is made
    /// here; the rest is recorded by whoever drives the recorder), and what to do with it.
    pub fn fork_recorder(&mut self, at_ns: TimeNs, request: FaultRequest) -> (RunRecorder, Purpose) {
        let parent = self.shown;
        let recorder = self.runs[parent].fork_recorder(parent, at_ns, String::new(), |now| request.fault(now));
        // Named by when the fault fires, as the event log and a saved file say it, not by the
        // cursor it was clicked at.
        let fired_ns = recorder.fired_ns().unwrap_or(at_ns);
        let label = crate::view::fault_text(&self.scenario, &request.fault(fired_ns));
        let recorder = recorder.labelled(label.clone());
        let schedule = match parent {
            0 => label,
            _ => format!("{}, then {label}", self.schedule_labels[parent]),
        };
        (recorder, Purpose::Fork { parent, schedule })
    }

    /// Add a recorded fork of `parent` and show it.
    pub fn add_fork(&mut self, fork: RecordedRun, parent: usize, schedule: String) -> usize {
        let variant = self.variants.get(parent).copied().unwrap_or((None, None));
        let i = self.add_run(fork, variant, schedule);
        self.show(i);
        self.shown
    }

    /// Run `i`'s fault schedule in time, when it is not simply the scenario's own: the file's
    /// faults (protocol-point crashes resolved to when they fired) and the clicked ones.
    pub fn schedule_of(&self, i: usize) -> Option<Vec<sim::faults::Fault>> {
        let run = self.runs.get(i)?;
        if run.faults.is_none() && run.injections.is_empty() {
            return None;
        }
        let mut faults = match &run.faults {
            Some(f) => f.clone(),
            None => sim::run::fault_schedule_in_time(&self.base, self.seed),
        };
        faults.extend(run.injections.iter().map(|i| i.fault.clone()));
        Some(faults)
    }

    /// Show the shown run's fault schedule under another guarantee and/or sink kind: the run of
    /// that (schedule, variant) if there is one, else a new run of it.
    pub fn show_variant(&mut self, guarantee: Option<Guarantee>, sink: Option<SinkKind>) -> usize {
        match self.variant_recorder(guarantee, sink) {
            Ok(i) => i,
            Err(pending) => match *pending {
                (recorder, Purpose::Variant { variant, schedule }) => {
                    let i = self.add_run(recorder.finish(), variant, schedule);
                    self.show(i);
                    i
                }
                _ => self.shown,
            },
        }
    }

    /// As [`Session::show_variant`]: Ok when the run exists (it is shown), else the recording
    /// to make and what to do with it.
    pub fn variant_recorder(
        &mut self,
        guarantee: Option<Guarantee>,
        sink: Option<SinkKind>,
    ) -> Result<usize, Box<(RunRecorder, Purpose)>> {
        let effective = |(g, k): (Option<Guarantee>, Option<SinkKind>)| (g.unwrap_or(self.base.guarantee), k);
        let want = effective((guarantee, sink));
        let schedule = self.schedule_of(self.shown);
        let label = self.schedule_labels[self.shown].clone();
        let existing = (0..self.runs.len()).find(|&i| {
            effective(self.variants[i]) == want && self.schedule_labels[i] == label && self.schedule_of(i) == schedule
        });
        if let Some(i) = existing {
            self.show(i);
            return Ok(i);
        }
        let scenario = match (guarantee, sink) {
            (None, None) => self.base.clone(),
            (g, k) => Arc::new(self.base.with_variant(g.unwrap_or(self.base.guarantee), k)),
        };
        let name =
            format!("{} · {} sinks · {label}", scenario.guarantee.label(), sink.map_or("as-written", |k| k.label()));
        let recorder = match schedule {
            None => RunRecorder::original(scenario, self.seed).labelled(name),
            Some(faults) => RunRecorder::with_faults(scenario, self.seed, faults, name),
        };
        Err(Box::new((recorder, Purpose::Variant { variant: (guarantee, sink), schedule: label })))
    }

    /// The scenario whose fault-free reference run `i`'s outcome table still needs (None: it is
    /// there, or `i` is no run).
    pub fn missing_reference(&self, i: usize) -> Option<Arc<Scenario>> {
        let scenario = &self.runs.get(i)?.scenario;
        let missing = self.ledgers.get(i)?.is_none() && !self.references.iter().any(|(s, _)| Arc::ptr_eq(s, scenario));
        missing.then(|| scenario.clone())
    }

    /// The fault-free reference run of `scenario` (recorded elsewhere).
    pub fn add_reference(&mut self, scenario: Arc<Scenario>, world: &sim::World) {
        if !self.references.iter().any(|(s, _)| Arc::ptr_eq(s, &scenario)) {
            self.references.push((scenario, Arc::new(Seen::of(&world.observed()))));
        }
    }

    /// Run `i`'s rows against the fault-free reference of its scenario and seed (one reference
    /// run per variant, computed the first time it is asked for).
    pub fn ledger(&mut self, i: usize) -> Option<&Ledger> {
        if self.ledgers.get(i)?.is_none() {
            let scenario = self.runs[i].scenario.clone();
            let reference = match self.references.iter().find(|(s, _)| Arc::ptr_eq(s, &scenario)) {
                Some((_, r)) => r.clone(),
                None => {
                    let r = sim::run::reference_run(&scenario, self.seed);
                    let seen = Arc::new(Seen::of(&r.world.observed()));
                    self.references.push((scenario.clone(), seen.clone()));
                    seen
                }
            };
            let run = &self.runs[i];
            let own = Seen::of(&run.final_world.observed());
            self.ledgers[i] = Some(Ledger::build(&scenario, &run.trace, (*reference).clone(), own));
        }
        self.ledgers[i].as_ref()
    }

    /// Run `fork` against its parent (None: it is no fork), built once per pair, and again when
    /// the verdicts become available (both outcome tables, which need the fault-free run).
    pub fn diff_with_parent(&mut self, fork: usize) -> Option<&RunDiff> {
        let info = self.runs.get(fork)?.fork.clone()?;
        let parent = info.parent;
        let have_verdicts = self.ledgers.get(parent)?.is_some() && self.ledgers.get(fork)?.is_some();
        let fresh = self
            .diff
            .as_ref()
            .is_some_and(|d| d.fork == fork && d.parent == parent && (d.verdicts.is_some() || !have_verdicts));
        if !fresh {
            let (p, f) = (&self.runs[parent], &self.runs[fork]);
            let (charts, ledgers) = (&self.charts, &self.ledgers);
            let side = |index: usize| Side {
                index,
                trace: &self.runs[index].trace,
                visible: self.runs[index].final_world.sink_store.visible(),
                charts: &charts[index],
                ledger: ledgers[index].as_ref(),
            };
            let shared = p.trace_until(info.at_ns).len();
            let diff = RunDiff::build(&f.scenario, side(parent), side(fork), shared);
            self.diff = Some(diff);
        }
        self.diff.as_ref()
    }

    /// Run `i` as a scenario file: the loaded file under the run's guarantee and sink kind, with
    /// the run's whole fault schedule (the file's, then the clicked ones) and the seed pinned.
    /// Loaded again, it records the same trace.
    pub fn run_file_text(&self, i: usize) -> String {
        let run = &self.runs[i];
        let note = format!(
            "saved from the streamlab workbench: \"{}\" of {} (seed {}): {}",
            run.label, self.base.name, self.seed, self.schedule_labels[i]
        );
        crate::save::scenario_text(
            &self.base.raw,
            &run.scenario,
            self.variants[i].1,
            &run.final_world.faults,
            self.seed,
            &note,
        )
    }

    /// The provenance of `line` of the shown run's outcome table (built once per selection).
    pub fn select_line(&mut self, line: Option<usize>) {
        let Some(line) = line else {
            self.provenance = None;
            return;
        };
        let i = self.shown;
        if self.provenance.as_ref().is_some_and(|(k, _)| *k == (i, line)) {
            return;
        }
        self.ledger(i);
        let p = self.ledgers[i]
            .as_ref()
            .and_then(|ledger| Provenance::build(&self.runs[i].scenario, &self.runs[i].trace, ledger, line));
        self.provenance = Some(((i, line), p));
    }

    /// The view model at `cursor_ns`, built only when something it depends on changed: while
    /// paused, frames cost nothing but drawing.
    pub fn frame(&mut self, cursor_ns: TimeNs, selected: Option<SubtaskId>, visible_only: bool) -> &Frame {
        let key = FrameKey { run: self.shown, cursor_ns, selected, visible_only };
        if self.frame.as_ref().is_none_or(|(k, _)| *k != key) {
            let run = &mut self.runs[self.shown];
            let sends = std::mem::take(&mut run.sends);
            let world = run.world_at(cursor_ns);
            let frame = Frame::build(world, &sends, cursor_ns, selected, visible_only);
            run.sends = sends;
            self.frame = Some((key, frame));
            self.frames_built += 1;
        }
        &self.frame.as_ref().expect("set above").1
    }
}

pub struct App {
    pub scenarios: Vec<ScenarioEntry>,
    /// The path typed into the "open file" field.
    pub path_text: String,
    pub seed_text: String,
    /// The last scenario or seed error, shown until the next successful load.
    pub error: Option<crate::error::LoadError>,
    pub session: Option<Session>,
    pub time: TimeControl,
    pub selected: Option<SubtaskId>,
    pub tab: Tab,
    /// Sink output: only rows a reader sees (committed / not overwritten).
    pub visible_only: bool,
    pub export_dir: String,
    /// The size of slide exports (pixels).
    pub export_size: (u32, u32),
    /// The outcome of the last chart export (the Charts tab says it).
    pub export_status: Option<Result<String, crate::error::WriteError>>,
    /// The outcome of the last slide export (the *Export for slides* row says it): kept apart, so
    /// that a chart export does not read "exported" beside the slides' button, nor a slide's
    /// files beside the charts' one.
    pub slides_status: Option<Result<String, crate::error::WriteError>>,
    /// The "Save / export" form, shared by every model's view.
    pub save: SaveForm,
    /// The knobs of the fault buttons.
    pub faults: FaultSettings,
    /// Which lines of the outcome table to show.
    pub ledger_filter: LedgerFilter,
    /// Which events the event log lists.
    pub event_filter: crate::view::events::EventFilter,
    /// The predict window: exercises on the loaded scenario, graded by a run.
    pub predict: crate::view::predict::PredictState,
    /// The guided tour being played, if any.
    pub tour: Option<crate::view::tour::TourState>,
    /// Where recordings run: a worker thread in the window, at once in `new_headless`.
    pub driver: Driver,
    /// The run being recorded, if any (what is on screen stays interactive meanwhile).
    pub pending: Option<Pending>,
    /// A Storm scenario's run being recorded (shown in the Storm view when it is done).
    pub storm_pending: Option<StormPending>,
    /// The fault-free reference run being recorded for the Outcome tab, and its scenario.
    pub reference: Option<(Arc<Scenario>, Recording<ReferenceRecorder>)>,
    /// Start playing when the first recording is shown (the window's first load).
    autoplay: bool,
    /// Presenter mode: everything larger (the job graph's text too) and high contrast.
    pub presenter: bool,
    /// A Storm scenario's run, drawn by `panels::storm` instead of the Flink panels.
    pub storm: Option<crate::view::storm::StormSession>,
    /// A Kafka Streams scenario's run, shown at its end by `view::kstreams`.
    pub kstreams: Option<crate::view::kstreams::KStreamsShown>,
    /// A Spark query's run, drawn by `panels::spark`.
    pub spark: Option<crate::view::spark::SparkSession>,
    /// A Spark or Kafka Streams run being recorded (shown in its view when it is done).
    pub view_pending: Option<ViewPending>,
    /// The timeline's zoom (the whole run until zoomed), reset when a scenario is loaded.
    pub timeline: crate::view::timeline::TimelineState,
}

/// How much presenter mode enlarges the whole workbench at the smallest projector resolution
/// (1280×800); larger windows are enlarged more, up to `PRESENTER_ZOOM_MAX`, so that the layout
/// keeps about the same room (a 1920×1080 projector: about 1.55). 1.25 left the tabs' content no
/// room under the guided tour's bar at 1280×800 (checked by screenshots).
pub const PRESENTER_ZOOM: f32 = 1.15;
pub const PRESENTER_ZOOM_MAX: f32 = 2.0;

/// Presenter mode's zoom for a window of `size` points at zoom 1.
pub fn presenter_zoom(size: egui::Vec2) -> f32 {
    let fit = (size.x / 1280.0).min(size.y / 800.0);
    (PRESENTER_ZOOM * fit).clamp(PRESENTER_ZOOM, PRESENTER_ZOOM_MAX)
}

/// The "Save / export" form: where it writes (named in the UI), the files' name stem (empty:
/// one made from the scenario and the run), whether files already there may be replaced, and
/// how the last save or export went.
#[derive(Debug)]
pub struct SaveForm {
    pub dir: String,
    pub name: String,
    pub replace: bool,
    pub status: Vec<Result<String, crate::error::WriteError>>,
}

impl Default for SaveForm {
    fn default() -> Self {
        SaveForm {
            dir: crate::save::default_folder().display().to_string(),
            name: String::new(),
            replace: false,
            status: Vec::new(),
        }
    }
}

/// How the fault buttons inject: how long a crashed task manager stays down (None: for good),
/// how long a cut-off, partition or delay lasts, and how much a delayed link adds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FaultSettings {
    pub restart_after_ms: Option<u64>,
    pub outage_ms: u64,
    pub link_delay_ms: u64,
}

impl Default for FaultSettings {
    fn default() -> Self {
        FaultSettings { restart_after_ms: Some(2_000), outage_ms: 5_000, link_delay_ms: 200 }
    }
}

impl App {
    /// The window's constructor (eframe calls it).
    pub fn new(_cc: &eframe::CreationContext<'_>, path: Option<PathBuf>) -> Self {
        let source = path.map_or(ScenarioSource::Embedded, ScenarioSource::File);
        // Someone who just opened the window should see the job move: play once it is recorded.
        let mut app = App::with_driver(source, None, Driver::native(), true);
        app.time.playing = app.session.is_some();
        app
    }

    /// Everything but the window: tests and benchmarks build the app this way. Recordings are
    /// made at once (the app is never without its session after a load).
    pub fn new_headless(source: ScenarioSource, seed: Option<u64>) -> Self {
        App::with_driver(source, seed, Driver::Blocking, false)
    }

    /// The app with recordings driven by `driver` (tests of the progress bar use slices).
    pub fn with_driver(source: ScenarioSource, seed: Option<u64>, driver: Driver, autoplay: bool) -> Self {
        let mut app = App {
            scenarios: shipped_scenarios(),
            path_text: String::new(),
            seed_text: String::new(),
            error: None,
            session: None,
            time: TimeControl::default(),
            selected: None,
            tab: Tab::Watermarks,
            visible_only: true,
            export_dir: crate::slides::default_export_dir().display().to_string(),
            export_size: (1920, 1080),
            export_status: None,
            slides_status: None,
            save: SaveForm::default(),
            faults: FaultSettings::default(),
            ledger_filter: LedgerFilter::default(),
            event_filter: Default::default(),
            predict: Default::default(),
            tour: None,
            driver,
            pending: None,
            reference: None,
            storm_pending: None,
            autoplay,
            presenter: false,
            storm: None,
            kstreams: None,
            spark: None,
            view_pending: None,
            timeline: Default::default(),
        };
        if let ScenarioSource::File(p) = &source {
            app.path_text = p.display().to_string();
        }
        app.load(source, seed);
        app
    }

    /// Select what the tour's current stop highlights (a stop without a highlight keeps the
    /// selection).
    fn highlight_tour_stop(&mut self) {
        let (Some(session), Some(tour)) = (&self.session, &self.tour) else {
            return;
        };
        if let Some(h) = session.scenario.tour.get(tour.shown).and_then(|s| s.highlight) {
            self.selected = crate::view::tour::selected_subtask(&session.scenario, h);
        }
    }

    /// Playback moved the cursor: the tour shows the stops passed and stops at a pausing one.
    fn follow_tour(&mut self) {
        let (Some(session), Some(tour)) = (&self.session, &mut self.tour) else {
            return;
        };
        let before = tour.shown;
        if let Some(at) = tour.advance(&session.tour, self.time.cursor_ns) {
            self.time.cursor_ns = at;
            self.time.playing = false;
        }
        if tour.shown != before {
            self.highlight_tour_stop();
        }
    }

    /// The name stem "Save / export" uses: the one typed, else the scenario's and the run's.
    pub fn save_stem(&self) -> String {
        if !self.save.name.trim().is_empty() {
            return crate::save::file_stem(&self.save.name);
        }
        match self.shown_run() {
            Some(shown) => {
                let scenario = match shown.source() {
                    ScenarioSource::File(p) => {
                        p.file_stem().map_or_else(|| "scenario".to_string(), |s| s.to_string_lossy().into_owned())
                    }
                    ScenarioSource::Embedded => "clickstream".to_string(),
                };
                crate::save::file_stem(&format!("{scenario}-{}", shown.stem_suffix()))
            }
            None => "run".to_string(),
        }
    }

    /// `<folder>/<stem>.<extension>`.
    pub fn save_path(&self, extension: &str) -> PathBuf {
        Path::new(self.save.dir.trim()).join(format!("{}.{extension}", self.save_stem()))
    }

    /// The run on screen, whichever model's view shows it: the Storm, Spark or Kafka Streams
    /// view's, else the session's.
    pub fn shown_run(&self) -> Option<&dyn ShownRun> {
        if let Some(storm) = &self.storm {
            return Some(storm);
        }
        if let Some(spark) = &self.spark {
            return Some(spark);
        }
        if let Some(kstreams) = &self.kstreams {
            return Some(kstreams);
        }
        self.session.as_ref().map(|s| s as &dyn ShownRun)
    }

    /// Where the scenario on screen came from.
    pub fn shown_source(&self) -> Option<&ScenarioSource> {
        self.shown_run().map(|shown| shown.source())
    }

    /// Load and run a scenario. On error the previous session stays on screen with the error
    /// above it: a typo in a file should not take the workbench away.
    /// The picker's entry for `source` when it names a listed file by another path (absolute,
    /// `./scenarios/...`), so that the picker shows the entry's name rather than the path.
    fn as_listed(&self, source: ScenarioSource) -> ScenarioSource {
        let ScenarioSource::File(path) = &source else { return source };
        let Ok(wanted) = std::fs::canonicalize(path) else { return source };
        let same_file = |e: &&ScenarioEntry| match &e.source {
            ScenarioSource::File(p) => std::fs::canonicalize(p).is_ok_and(|p| p == wanted),
            ScenarioSource::Embedded => false,
        };
        self.scenarios.iter().find(same_file).map_or(source, |e| e.source.clone())
    }

    pub fn load(&mut self, source: ScenarioSource, seed: Option<u64>) {
        self.load_then(source, seed, (None, None));
    }

    /// Load, then show the run under this guarantee and sink kind (None: as written).
    fn load_then(
        &mut self,
        source: ScenarioSource,
        seed: Option<u64>,
        then_variant: (Option<Guarantee>, Option<SinkKind>),
    ) {
        let source = self.as_listed(source);
        // The last save's outcome was about the run leaving the screen.
        self.save.status.clear();
        match source.load() {
            // A Storm scenario gets its own view (the acker, tuple trees, timeouts).
            Ok(scenario) if sim::storm::StormWorld::is_storm(&scenario) => {
                let seed = seed.or(scenario.seed).unwrap_or(DEFAULT_SEED);
                self.seed_text = seed.to_string();
                self.error = None;
                let origin = StormOrigin::new(Arc::new(scenario), source, then_variant.0);
                self.start_storm(origin, seed);
            }
            // A Spark query gets its own view (its batches, tasks, driver and executors).
            Ok(scenario) if scenario.runtime() == sim::scenario::Runtime::Spark => {
                let seed = seed.or(scenario.seed).unwrap_or(DEFAULT_SEED);
                self.seed_text = seed.to_string();
                self.error = None;
                let mut origin = crate::view::spark::SparkOrigin::new(Arc::new(scenario), source);
                origin.variant = then_variant;
                self.start_spark(origin, seed);
            }
            // A Kafka Streams application gets its own view (its run at the end), never the
            // Flink panels; it is recorded off the UI thread.
            Ok(scenario) if scenario.runtime() == sim::scenario::Runtime::KafkaStreams => {
                let seed = seed.or(scenario.seed).unwrap_or(DEFAULT_SEED);
                self.seed_text = seed.to_string();
                self.error = None;
                let mut origin = crate::view::kstreams::KStreamsOrigin::new(Arc::new(scenario), source);
                origin.guarantee = then_variant.0;
                self.start_kstreams(origin, seed);
            }
            Ok(scenario) => {
                let seed = seed.or(scenario.seed).unwrap_or(DEFAULT_SEED);
                let base = Arc::new(scenario);
                let recorder = RunRecorder::original(base.clone(), seed);
                let what = format!("Recording {} (seed {seed})", base.name);
                self.seed_text = seed.to_string();
                self.storm_pending = None;
                self.view_pending = None;
                self.error = None;
                let purpose = Purpose::Load { base, seed, source, then_variant };
                self.start(what, recorder, purpose);
            }
            Err(e) => self.error = Some(e.into()),
        }
    }

    /// Record a Spark run of `origin` (a newer request replaces one under way).
    fn start_spark(&mut self, origin: crate::view::spark::SparkOrigin, seed: u64) {
        // A recording of another model still under way would replace the Spark view when it lands.
        self.pending = None;
        self.storm_pending = None;
        let what = match origin.variant.0 {
            None => format!("Recording {} (seed {seed}, Spark)", origin.base.name),
            Some(g) => format!("Recording {} (seed {seed}, Spark, {})", origin.base.name, g.label()),
        };
        let recording = Recording::start(what, crate::recording::spark_recorder(origin, seed), self.driver);
        self.view_pending = Some(ViewPending::Spark(recording));
        self.poll_views();
    }

    /// Record a Kafka Streams run of `origin` (a newer request replaces one under way).
    fn start_kstreams(&mut self, origin: crate::view::kstreams::KStreamsOrigin, seed: u64) {
        // A recording of another model still under way would replace this view when it lands.
        self.pending = None;
        self.storm_pending = None;
        let mut what = match origin.guarantee {
            None => format!("Recording {} (seed {seed}, Kafka Streams)", origin.base.name),
            Some(g) => format!("Recording {} (seed {seed}, Kafka Streams, {})", origin.base.name, g.label()),
        };
        if let Some(faults) = origin.injected_text() {
            what.push_str(&format!(" with {faults}"));
        }
        let recording = Recording::start(what, crate::recording::kstreams_recorder(origin, seed), self.driver);
        self.view_pending = Some(ViewPending::KStreams(recording));
        self.poll_views();
    }

    /// Advance or collect a Spark or Kafka Streams recording under way; once done it replaces
    /// what is shown (the same query again, under another guarantee: on the tab and at the
    /// moment the student was looking at).
    fn poll_views(&mut self) {
        let Some(pending) = &mut self.view_pending else {
            return;
        };
        let done = match pending {
            ViewPending::Spark(r) => match r.poll() {
                Poll::Running { .. } => return,
                Poll::Cancelled => None,
                Poll::Done(mut spark) => {
                    if let Some(before) = &self.spark {
                        spark.tab = before.tab;
                        if Arc::ptr_eq(&before.origin.base, &spark.origin.base) {
                            spark.set_cursor(before.cursor_ns);
                        }
                    }
                    self.spark = Some(spark);
                    self.kstreams = None;
                    Some(())
                }
            },
            ViewPending::KStreams(r) => match r.poll() {
                Poll::Running { .. } => return,
                Poll::Cancelled => None,
                Poll::Done(mut shown) => {
                    if let Some(before) = &self.kstreams {
                        shown.tab = before.tab;
                        if Arc::ptr_eq(&before.origin.base, &shown.origin.base) {
                            shown.set_cursor(before.cursor_ns);
                        }
                    }
                    self.kstreams = Some(shown);
                    self.spark = None;
                    Some(())
                }
            },
        };
        if done.is_some() {
            self.storm = None;
            self.session = None;
        }
        self.view_pending = None;
    }

    /// Record a Storm run of `origin` (a newer request replaces one under way).
    fn start_storm(&mut self, origin: StormOrigin, seed: u64) {
        // A Flink recording still under way would replace the Storm view when it lands.
        self.pending = None;
        self.view_pending = None;
        let mut what = match origin.guarantee {
            None => format!("Recording {} (seed {seed}, Storm)", origin.base.name),
            Some(g) => format!("Recording {} (seed {seed}, Storm, {})", origin.base.name, g.label()),
        };
        if let Some(faults) = origin.injected_text() {
            what.push_str(&format!(" with {faults}"));
        }
        let recording = Recording::start(what, StormRecorder::new(origin, seed), self.driver);
        self.storm_pending = Some(StormPending { recording });
        self.poll_storm();
    }

    /// Advance or collect a Storm recording under way; once done it replaces what is shown (on
    /// the tab that was open).
    fn poll_storm(&mut self) {
        let Some(pending) = &mut self.storm_pending else {
            return;
        };
        match pending.recording.poll() {
            Poll::Running { .. } => {}
            Poll::Done(mut storm) => {
                // The same topology recorded again (another guarantee, a clicked fault): keep the
                // tab and the moment the student was looking at.
                if let Some(before) = &self.storm {
                    storm.tab = before.tab;
                    if Arc::ptr_eq(&before.origin.base, &storm.origin.base) {
                        storm.set_cursor(before.cursor_ns);
                    }
                }
                self.storm = Some(storm);
                self.kstreams = None;
                self.spark = None;
                self.session = None;
                self.storm_pending = None;
            }
            Poll::Cancelled => self.storm_pending = None,
        }
    }

    /// Start recording (a recording already under way is cancelled: the newer request wins).
    fn start(&mut self, what: String, recorder: RunRecorder, purpose: Purpose) {
        self.pending = Some(Pending { recording: Recording::start(what, recorder, self.driver), purpose });
        self.poll_pending();
    }

    /// Advance or collect the recording under way; true while one is.
    pub fn poll_pending(&mut self) -> bool {
        let Some(pending) = &mut self.pending else {
            return false;
        };
        match pending.recording.poll() {
            Poll::Running { .. } => true,
            Poll::Cancelled => {
                self.pending = None;
                false
            }
            Poll::Done(run) => {
                if let Some(pending) = self.pending.take() {
                    self.finish_recording(run, pending.purpose);
                }
                self.pending.is_some()
            }
        }
    }

    fn finish_recording(&mut self, run: RecordedRun, purpose: Purpose) {
        match purpose {
            Purpose::Load { base, seed, source, then_variant } => {
                let session = Session::from_run(base, (None, None), seed, source, run);
                let (end, min_span) = (session.run().end_ns, crate::view::timeline::min_span(&session.scenario));
                let activity = crate::view::timeline::activity(&session.run().trace, end, min_span);
                self.timeline = Default::default();
                // A textbook scenario's records carry clock times: twelve idle hours, then nine
                // minutes of data. Played from 0 at a speed for the whole run, a student watched
                // a minute of nothing and then every record in one second. Such a run (idle for
                // more than half of it) opens framed on its activity, the cursor where it starts,
                // at a speed for that stretch.
                if activity.start_ns > end / 2 {
                    self.time = TimeControl::new(TimeControl::suggested_speed(activity.span()));
                    self.time.cursor_ns = activity.start_ns;
                    self.timeline.set(activity, end);
                } else {
                    self.time = TimeControl::new(TimeControl::suggested_speed(end));
                }
                self.time.playing = std::mem::take(&mut self.autoplay);
                self.selected = None;
                // A tour belongs to the run it was started on: the new one starts at 0 s, so
                // the bar offers its own tour again rather than show a stop the cursor is not at.
                self.tour = None;
                // The outcome table's filter ("Only what differs", a key) was about the rows of
                // the scenario on screen: another scenario starts unfiltered, as its Faults tab
                // starts at the top. The same scenario again (another seed) keeps it.
                if self.session.as_ref().map(|s| &s.source) != Some(&session.source) {
                    self.ledger_filter = LedgerFilter::default();
                }
                self.session = Some(session);
                // A Storm or Kafka Streams view on screen until now gives way to the Flink run.
                self.storm = None;
                self.kstreams = None;
                self.spark = None;
                self.reference = None;
                if then_variant != (None, None) {
                    self.apply(Action::SetVariant(then_variant.0, then_variant.1));
                }
            }
            Purpose::Fork { parent, schedule } => {
                if let Some(session) = &mut self.session {
                    session.add_fork(run, parent, schedule);
                }
            }
            Purpose::Variant { variant, schedule } => {
                if let Some(session) = &mut self.session {
                    let i = session.add_run(run, variant, schedule);
                    session.show(i);
                    session.provenance = None;
                    self.time.cursor_ns = self.time.cursor_ns.min(session.run().end_ns);
                    self.time.playing = false;
                }
            }
        }
    }

    /// Advance or collect the reference run the Outcome tab waits for, starting it if needed;
    /// its progress while it runs.
    fn poll_reference(&mut self) -> Option<f32> {
        let session = self.session.as_mut()?;
        let missing = session.missing_reference(session.shown)?;
        if self.reference.as_ref().is_none_or(|(s, _)| !Arc::ptr_eq(s, &missing)) {
            let recorder = ReferenceRecorder::new(&missing, session.seed);
            let what = "Running the scenario without faults to compare with".to_string();
            self.reference = Some((missing.clone(), Recording::start(what, recorder, self.driver)));
        }
        let (scenario, recording) = self.reference.as_mut()?;
        match recording.poll() {
            Poll::Running { progress } => Some(progress),
            Poll::Done(world) => {
                session.add_reference(scenario.clone(), &world);
                self.reference = None;
                None
            }
            Poll::Cancelled => {
                self.reference = None;
                None
            }
        }
    }

    pub fn apply(&mut self, action: Action) {
        match action {
            Action::Time(command) => {
                if let Some(session) = &self.session {
                    self.time.apply(command, session.run());
                }
            }
            Action::Select(s) => self.selected = s,
            Action::Load(source) => self.load(source, None),
            Action::Rerun => {
                let Some(source) = self.shown_source().cloned() else {
                    return;
                };
                match self.seed_text.trim().parse::<u64>() {
                    Ok(seed) => {
                        // Keep the guarantee and sink chosen in the workbench.
                        let variant = self.shown_run().map_or((None, None), |s| s.choice());
                        // Shown once the new run is recorded (see `finish_recording`).
                        self.load_then(source, Some(seed), variant);
                    }
                    Err(_) => self.error = Some(crate::error::LoadError::Seed { text: self.seed_text.clone() }),
                }
            }
            Action::ShowRun(i) => {
                if let Some(session) = &mut self.session {
                    if i < session.runs.len() {
                        session.show(i);
                        session.provenance = None;
                        self.time.cursor_ns = self.time.cursor_ns.min(session.run().end_ns);
                    }
                }
            }
            Action::ShowTab(tab) => self.tab = tab,
            Action::SelectLine(line) => {
                if let Some(session) = &mut self.session {
                    session.select_line(line);
                }
            }
            Action::Inject(request) if self.storm.is_some() => {
                if let Some(storm) = &self.storm {
                    let mut origin = storm.origin.clone();
                    origin.injected.push((storm.cursor_ns, request));
                    let seed = storm.seed;
                    self.start_storm(origin, seed);
                }
            }
            Action::Inject(request) if self.spark.is_some() => {
                // Spark's executors crash, or their links to the driver are cut or delayed (the
                // executors talk only to the driver: links between them carry nothing).
                let to_driver = matches!(
                    request,
                    FaultRequest::Crash { .. } | FaultRequest::Isolate { .. } | FaultRequest::DelayJobManager { .. }
                );
                if let (Some(spark), true) = (&self.spark, to_driver) {
                    let mut origin = spark.origin.clone();
                    origin.injected.push(request.fault(spark.cursor_ns));
                    let seed = spark.seed;
                    self.start_spark(origin, seed);
                }
            }
            Action::Inject(request) if self.kstreams.is_some() => {
                // Kafka Streams' instances crash (its tasks talk through the brokers' topics,
                // which the model keeps outside the network: no cut or delayed link).
                if let (Some(k), FaultRequest::Crash { .. }) = (&self.kstreams, request) {
                    let mut origin = k.origin.clone();
                    origin.injected.push(request.fault(k.cursor_ns));
                    let seed = k.seed;
                    self.start_kstreams(origin, seed);
                }
            }
            Action::CrashDriver => {
                if let Some(spark) = &self.spark {
                    let mut origin = spark.origin.clone();
                    origin.injected.push(Fault::Crash {
                        node: JOB_MANAGER,
                        at: Trigger::At(spark.cursor_ns),
                        restart_after_ns: self.faults.restart_after_ms.map(|ms| ms.saturating_mul(1_000_000)),
                    });
                    let seed = spark.seed;
                    self.start_spark(origin, seed);
                }
            }
            Action::ClearInjectedFaults if self.kstreams.is_some() => {
                if let Some(k) = &self.kstreams {
                    let origin = crate::view::kstreams::KStreamsOrigin { injected: Vec::new(), ..k.origin.clone() };
                    let seed = k.seed;
                    self.start_kstreams(origin, seed);
                }
            }
            Action::ClearInjectedFaults if self.spark.is_some() => {
                if let Some(spark) = &self.spark {
                    let origin = crate::view::spark::SparkOrigin { injected: Vec::new(), ..spark.origin.clone() };
                    let seed = spark.seed;
                    self.start_spark(origin, seed);
                }
            }
            Action::ClearInjectedFaults => {
                if let Some(storm) = &self.storm {
                    let origin = StormOrigin { injected: Vec::new(), ..storm.origin.clone() };
                    let seed = storm.seed;
                    self.start_storm(origin, seed);
                }
            }
            Action::Inject(request) => {
                if let Some(session) = &mut self.session {
                    let (recorder, purpose) = session.fork_recorder(self.time.cursor_ns, request);
                    let what = format!("Recording {}", recorder.label());
                    self.start(what, recorder, purpose);
                }
            }
            Action::CancelRecording => {
                if let Some(pending) = &self.pending {
                    pending.recording.cancel();
                }
                if let Some(storm) = &self.storm_pending {
                    storm.recording.cancel();
                }
                if let Some(view) = &self.view_pending {
                    view.cancel();
                }
                self.poll_pending();
                self.poll_storm();
                self.poll_views();
            }
            Action::SetVariant(guarantee, _) if self.storm.is_some() => {
                // Storm's guarantee is its acking: the loaded topology recorded again under it.
                if let Some(storm) = &self.storm {
                    let origin = StormOrigin { guarantee, ..storm.origin.clone() };
                    let seed = storm.seed;
                    self.start_storm(origin, seed);
                }
            }
            Action::SetVariant(guarantee, _) if self.kstreams.is_some() => {
                // Kafka Streams' guarantee is its `processing.guarantee`: the application run
                // again under it (the sink as written).
                if let Some(k) = &self.kstreams {
                    let origin = crate::view::kstreams::KStreamsOrigin { guarantee, ..k.origin.clone() };
                    let seed = k.seed;
                    self.start_kstreams(origin, seed);
                }
            }
            Action::SetVariant(guarantee, sink) if self.spark.is_some() => {
                // Spark's guarantee is its checkpoint location and sink: the query run again.
                if let Some(spark) = &self.spark {
                    let origin = crate::view::spark::SparkOrigin { variant: (guarantee, sink), ..spark.origin.clone() };
                    let seed = spark.seed;
                    self.start_spark(origin, seed);
                }
            }
            Action::SetVariant(guarantee, sink) => {
                // The same fault schedule (the file's and the clicked faults) under the other
                // guarantee or sink: a run of the session, next to the others.
                if let Some(session) = &mut self.session {
                    match session.variant_recorder(guarantee, sink) {
                        Ok(_) => {
                            session.provenance = None;
                            self.time.cursor_ns = self.time.cursor_ns.min(session.run().end_ns);
                            self.time.playing = false;
                        }
                        Err(pending) => {
                            let (recorder, purpose) = *pending;
                            let what = format!("Recording {}", recorder.label());
                            self.start(what, recorder, purpose);
                        }
                    }
                }
            }
            Action::Compare if self.kstreams.is_some() => {
                if let Some(k) = &mut self.kstreams {
                    // Three runs and their references: off the UI thread, as the other views'.
                    let (origin, seed) = (k.origin.clone(), k.seed);
                    let (sender, receiver) = std::sync::mpsc::channel();
                    std::thread::spawn(move || {
                        let _ = sender.send(origin.compare(seed));
                    });
                    k.comparing = Some(receiver);
                }
            }
            Action::Compare if self.storm.is_some() => {
                if let Some(storm) = &mut self.storm {
                    // Three runs and their reference: off the UI thread, as the Flink comparison.
                    let (origin, seed) = (storm.origin.clone(), storm.seed);
                    let (sender, receiver) = std::sync::mpsc::channel();
                    std::thread::spawn(move || {
                        let _ = sender.send(origin.compare(seed));
                    });
                    storm.comparing = Some(receiver);
                }
            }
            Action::Compare => {
                if let Some(session) = &mut self.session {
                    // Five setups, each with its reference run: seconds for big scenarios, so off
                    // the UI thread. Deterministic all the same: the result depends only on inputs.
                    let faults = session
                        .schedule_of(session.shown)
                        .unwrap_or_else(|| outcomes::fault_schedule(&session.base, session.run()));
                    let (base, seed) = (session.base.clone(), session.seed);
                    let (sender, receiver) = std::sync::mpsc::channel();
                    std::thread::spawn(move || {
                        // The window may have moved on (receiver dropped): nothing to do then.
                        let _ = sender.send(outcomes::compare(&base, seed, &faults));
                    });
                    session.comparing = Some((session.shown, receiver));
                }
            }
            Action::SaveScenario => {
                if let Some(shown) = self.shown_run() {
                    let path = self.save_path("ron");
                    self.save.status = vec![crate::save::write(&path, &shown.scenario_file_text(), self.save.replace)];
                }
            }
            Action::ExportSinkOutput => {
                if let Some(shown) = self.shown_run() {
                    let rows = shown.visible_rows();
                    let csv = crate::save::sink_csv(shown.scenario(), &rows);
                    let json = crate::save::sink_json(shown.scenario(), &rows);
                    self.save.status = vec![
                        crate::save::write(&self.save_path("sink.csv"), &csv, self.save.replace),
                        crate::save::write(&self.save_path("sink.json"), &json, self.save.replace),
                    ];
                }
            }
            Action::ExportTrace => {
                if let Some(shown) = self.shown_run() {
                    let path = self.save_path("trace.json");
                    self.save.status =
                        vec![crate::save::write_trace(shown.scenario(), shown.trace(), &path, self.save.replace)];
                }
            }
            Action::TourStart => {
                if let Some(session) = &self.session {
                    if let Some((state, at)) = crate::view::tour::TourState::start(&session.tour) {
                        self.tour = Some(state);
                        self.time.playing = false;
                        self.time.apply(Command::Seek(at), session.run());
                        self.highlight_tour_stop();
                    }
                }
            }
            Action::TourNext => {
                let next = self.session.as_ref().zip(self.tour.as_ref()).and_then(|(s, t)| t.next_at(&s.tour));
                if next.is_some() {
                    self.time.playing = true;
                }
            }
            Action::TourJump(k) => {
                if let (Some(session), Some(tour)) = (&self.session, &mut self.tour) {
                    if let Some(at) = tour.jump(&session.tour, k) {
                        self.time.playing = false;
                        self.time.apply(Command::Seek(at), session.run());
                        self.highlight_tour_stop();
                    }
                }
            }
            Action::TourEnd => self.tour = None,
            Action::ExportSlide(kind) => {
                let cursor = self.time.cursor_ns;
                let (selected, visible_only, dir, size) =
                    (self.selected, self.visible_only, self.export_dir.clone(), self.export_size);
                if let Some(session) = &mut self.session {
                    let min_span = crate::view::timeline::min_span(&session.scenario);
                    let window = self.timeline.window(session.run().end_ns, min_span);
                    let dag = session.frame(cursor, selected, visible_only).dag.clone();
                    let run = session.run();
                    let slide = match kind {
                        crate::slides::SlideKind::JobGraph => crate::slides::Slide::JobGraph {
                            layout: &session.layout,
                            dag: &dag,
                            run,
                            cursor_ns: cursor,
                        },
                        crate::slides::SlideKind::Timeline => {
                            crate::slides::Slide::Timeline { run, window, cursor_ns: cursor }
                        }
                    };
                    self.slides_status = Some(crate::slides::export(&slide, size, Path::new(&dir)));
                }
            }
            Action::ExportCharts => {
                let prefix = format!("{}-", self.save_stem());
                if let Some(Ok(charts)) = self.shown_run().map(|shown| shown.charts()) {
                    self.export_status = Some(crate::export::export_all(charts, Path::new(&self.export_dir), &prefix));
                }
            }
        }
    }

    /// The whole workbench, drawn into `ui`.
    pub fn workbench_ui(&mut self, ui: &mut egui::Ui) {
        let mut actions = Vec::new();
        apply_presenter_mode(ui.ctx(), self.presenter);
        panels::keys_ui(ui, &mut actions);
        self.poll_pending();
        self.poll_storm();
        self.poll_views();
        egui::Panel::top("scenario_bar").show(ui, |ui| {
            panels::scenario_bar::scenario_bar_ui(ui, self, &mut actions);
        });
        // What is being recorded, if anything, and how far it is.
        let under_way: Option<(String, f32)> = match (&self.pending, &self.storm_pending, &self.view_pending) {
            (Some(p), _, _) => Some((p.recording.what.clone(), p.recording.progress())),
            (None, Some(r), _) => Some((r.recording.what.clone(), r.recording.progress())),
            (None, None, Some(v)) => Some((v.what().to_string(), v.progress())),
            (None, None, None) => None,
        };
        if let Some((what, progress)) = &under_way {
            egui::Panel::top("recording").show(ui, |ui| {
                panels::progress_ui(ui, what, *progress, &mut actions);
            });
        }
        let save_stem = self.save_stem();
        if let Some(storm) = &mut self.storm {
            panels::predict::predict_dock_ui(ui, &storm.origin.base.file, &mut self.predict);
            egui::CentralPanel::default().show(ui, |ui| {
                // Solid scroll bars: a floating one lay over the text at the panel's right edge (the
                // Spark view's batch steps, the Kafka Streams rows' "visible at").
                ui.spacing_mut().scroll = egui::style::ScrollStyle::solid();
                // The outcome tab scrolls its own table; the topology tab scrolls as a whole.
                let height = ui.available_height();
                egui::ScrollArea::vertical().show(ui, |ui| {
                    let shared = panels::storm::Shared {
                        faults: &mut self.faults,
                        export_dir: &mut self.export_dir,
                        export_status: &self.export_status,
                    };
                    panels::storm::storm_ui(ui, storm, height, shared, &mut actions);
                    if storm.tab == crate::view::storm::StormTab::Save {
                        panels::save::save_ui(ui, &*storm, &save_stem, &mut self.save, &mut actions);
                    }
                });
            });
            self.finish_frame(actions, ui);
            return;
        }
        if let Some(spark) = &mut self.spark {
            panels::predict::predict_dock_ui(ui, &spark.origin.base.file, &mut self.predict);
            egui::CentralPanel::default().show(ui, |ui| {
                ui.spacing_mut().scroll = egui::style::ScrollStyle::solid();
                egui::ScrollArea::vertical().show(ui, |ui| {
                    let shared = panels::Shared {
                        faults: &mut self.faults,
                        export_dir: &mut self.export_dir,
                        export_status: &self.export_status,
                    };
                    panels::spark::spark_ui(ui, spark, shared, &mut actions);
                    if spark.tab == crate::view::spark::SparkTab::Save {
                        panels::save::save_ui(ui, &*spark, &save_stem, &mut self.save, &mut actions);
                    }
                });
            });
            self.finish_frame(actions, ui);
            return;
        }
        if let Some(shown) = &mut self.kstreams {
            panels::predict::predict_dock_ui(ui, &shown.origin.base.file, &mut self.predict);
            egui::CentralPanel::default().show(ui, |ui| {
                ui.spacing_mut().scroll = egui::style::ScrollStyle::solid();
                egui::ScrollArea::vertical().show(ui, |ui| {
                    let shared = panels::Shared {
                        faults: &mut self.faults,
                        export_dir: &mut self.export_dir,
                        export_status: &self.export_status,
                    };
                    panels::kstreams::kstreams_ui(ui, shown, shared, &mut actions);
                    if shown.tab == crate::view::kstreams::KStreamsTab::Save {
                        panels::save::save_ui(ui, &*shown, &save_stem, &mut self.save, &mut actions);
                    }
                });
            });
            self.finish_frame(actions, ui);
            return;
        }
        if self.session.is_none() {
            egui::CentralPanel::default().show(ui, |ui| match &under_way {
                Some((what, progress)) => {
                    ui.heading(what);
                    ui.add(egui::ProgressBar::new(*progress).show_percentage());
                }
                None => {
                    ui.label("No scenario loaded. Pick one above, or type a file path and press Open.");
                }
            });
            self.finish_frame(actions, ui);
            return;
        }
        // Advance playback before building the frame, so what is drawn is where the cursor is.
        let dt = ui.input(|i| i.stable_dt);
        let end_ns = self.session.as_ref().map_or(0, |s| s.run().end_ns);
        if self.time.tick(dt, end_ns) {
            self.follow_tour();
        }
        let session = self.session.as_mut().expect("checked above");
        let cursor = self.time.cursor_ns;
        session.frame(cursor, self.selected, self.visible_only);
        // The outcome table needs the fault-free run: recorded like a run, off this thread.
        let wants_ledger = matches!(self.tab, Tab::Outcome | Tab::Diff);
        let reference_progress = if wants_ledger { self.poll_reference() } else { None };
        let session = self.session.as_mut().expect("checked above");
        if wants_ledger && reference_progress.is_none() && session.missing_reference(session.shown).is_none() {
            session.ledger(session.shown);
            if self.tab == Tab::Diff {
                // The parent shares the fork's scenario, hence its reference run.
                if let Some(parent) = session.run().fork.as_ref().map(|f| f.parent) {
                    session.ledger(parent);
                }
            }
        }
        if self.tab == Tab::Diff {
            session.diff_with_parent(session.shown);
        }
        let session = self.session.as_ref().expect("checked above");
        let frame = &session.frame.as_ref().expect("built above").1;
        egui::Panel::top("transport").show(ui, |ui| {
            panels::transport::transport_ui(ui, session, &self.time, &mut actions);
        });
        if !session.scenario.tour.is_empty() {
            egui::Panel::top("tour").show(ui, |ui| {
                panels::tour::tour_ui(ui, session, self.tour.as_ref(), &mut actions);
            });
        }
        egui::Panel::bottom("timeline").resizable(false).show(ui, |ui| {
            let (end, min_span) = (session.run().end_ns, crate::view::timeline::min_span(&session.scenario));
            self.timeline.follow(cursor, end, min_span);
            let (export_dir, export_size, slides_status) =
                (&mut self.export_dir, &mut self.export_size, &self.slides_status);
            let export = |ui: &mut egui::Ui, actions: &mut Vec<Action>| {
                panels::slides::export_menu_ui(ui, export_dir, export_size, slides_status, actions)
            };
            panels::timeline::timeline_ui(ui, session.run(), cursor, &mut self.timeline, export, &mut actions);
        });
        // Predict docks at the top of the inspector's column, which widens for it: it covers
        // nothing in the graph, the tabs or the timeline that a question asks about.
        let (inspector, width) = if self.predict.open { ("inspector_predict", 420.0) } else { ("inspector", 340.0) };
        egui::Panel::right(inspector).default_size(width).show(ui, |ui| {
            if self.predict.open {
                let height = ui.available_height();
                egui::Panel::top("predict_in_inspector")
                    .resizable(true)
                    .default_size(height * 0.6)
                    .size_range((height * 0.25)..=(height - 60.0).max(height * 0.25))
                    .show(ui, |ui| {
                        panels::predict::predict_ui(ui, &session.base.file, &mut self.predict);
                    });
            }
            panels::inspector::inspector_ui(ui, session, frame, &mut actions);
        });
        egui::CentralPanel::default().show(ui, |ui| {
            let height = ui.available_height();
            // The job graph above the tabs, in a split that can be dragged. A tab with a table or
            // charts of its own starts with a shorter graph (its legend folded) so that the table
            // has the room; each kind keeps its own split.
            let (split, share, fold_legend) = match self.tab.reads_the_graph() {
                true => ("job_graph_split", 0.47, self.presenter),
                false => ("job_graph_split_short", 0.36, true),
            };
            // The task managers' row, the status line and a graph of 120 points (`dag_ui`'s least).
            let graph_min = 200.0_f32.min(height * 0.5);
            egui::Panel::top(split)
                .frame(egui::Frame::NONE)
                .resizable(true)
                .default_size((height * share).max(graph_min))
                .size_range(graph_min..=(height * 0.8).max(graph_min))
                .show(ui, |ui| {
                    panels::dag::dag_ui(
                        ui,
                        session,
                        frame,
                        self.selected,
                        self.faults.restart_after_ms,
                        panels::dag::GraphLook { presenter: self.presenter, fold_legend },
                        &mut actions,
                    );
                });
            let reads_the_graph = self.tab.reads_the_graph();
            ui.horizontal_wrapped(|ui| {
                for tab in Tab::ALL {
                    ui.selectable_value(&mut self.tab, tab, tab.label());
                }
            });
            if self.tab.reads_the_graph() != reads_the_graph {
                // The graph above was drawn at the old tab's height: draw the frame again, so
                // that nothing is shown (or clicked) where it stood for one frame.
                ui.ctx().request_discard("the tab changed the job graph's height");
            }
            ui.separator();
            match self.tab {
                Tab::Watermarks => panels::watermarks::watermarks_ui(ui, session, frame, self.selected, &mut actions),
                Tab::Alignment => panels::alignment::alignment_ui(ui, session, frame, &mut actions),
                Tab::SinkOutput => {
                    panels::sinks::sinks_ui(ui, session, frame, &mut self.visible_only);
                }
                Tab::Outcome => {
                    panels::ledger::ledger_ui(ui, session, reference_progress, &mut self.ledger_filter, &mut actions)
                }
                Tab::Events => {
                    panels::events::events_ui(ui, session, cursor, self.selected, &mut self.event_filter, &mut actions)
                }
                Tab::Plots => panels::plots::plots_ui(
                    ui,
                    &session.charts[session.shown],
                    cursor,
                    &mut self.export_dir,
                    &self.export_status,
                    &mut actions,
                ),
                Tab::Outcomes => panels::outcomes::outcomes_ui(ui, session, cursor, &mut self.faults, &mut actions),
                Tab::Diff => panels::diff::diff_ui(ui, session, cursor, reference_progress, &mut actions),
                Tab::Save => panels::save::save_ui(ui, session, &save_stem, &mut self.save, &mut actions),
            }
        });
        self.finish_frame(actions, ui);
    }

    fn finish_frame(&mut self, actions: Vec<Action>, ui: &egui::Ui) {
        for action in actions {
            self.apply(action);
        }
        if let Some(session) = &mut self.session {
            if let Some((run, receiver)) = &session.comparing {
                if let Some(arrived) = arrived(receiver, ui.ctx()) {
                    if let Some(reports) = arrived {
                        session.comparison = Some((*run, reports));
                    }
                    session.comparing = None;
                }
            }
        }
        if let Some(k) = &mut self.kstreams {
            if let Some(receiver) = &k.comparing {
                if let Some(arrived) = arrived(receiver, ui.ctx()) {
                    if arrived.is_some() {
                        k.comparison = arrived;
                    }
                    k.comparing = None;
                }
            }
        }
        if let Some(storm) = &mut self.storm {
            if let Some(receiver) = &storm.comparing {
                if let Some(arrived) = arrived(receiver, ui.ctx()) {
                    if arrived.is_some() {
                        storm.comparison = arrived;
                    }
                    storm.comparing = None;
                }
            }
        }
        if self.time.playing {
            ui.ctx().request_repaint();
        }
        if self.pending.is_some()
            || self.reference.is_some()
            || self.storm_pending.is_some()
            || self.view_pending.is_some()
        {
            // Progress to show (a thread reports between frames; slices run in frames).
            match self.driver {
                Driver::Thread => ui.ctx().request_repaint_after(std::time::Duration::from_millis(30)),
                _ => ui.ctx().request_repaint(),
            }
        }
    }
}

impl eframe::App for App {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        self.workbench_ui(ui);
    }
}

/// Presenter mode's zoom and contrast on the whole context (only written when it changes).
fn apply_presenter_mode(ctx: &egui::Context, presenter: bool) {
    // The window's size at zoom 1 (what it is in points now, times the zoom in force).
    let unzoomed = ctx.content_rect().size() * ctx.zoom_factor();
    let zoom = if presenter { presenter_zoom(unzoomed) } else { 1.0 };
    if (ctx.zoom_factor() - zoom).abs() > 0.01 {
        ctx.set_zoom_factor(zoom);
    }
    let strong = if ctx.global_style().visuals.dark_mode { egui::Color32::WHITE } else { egui::Color32::BLACK };
    let want = presenter.then_some(strong);
    if ctx.global_style().visuals.override_text_color != want {
        ctx.global_style_mut(|s| s.visuals.override_text_color = want);
    }
}

/// What a comparison thread sent, once it is over: `Some(Some(reports))` when they arrived,
/// `Some(None)` when the thread ended without (the window moved on); `None` while it runs (a
/// repaint is asked for, to look again).
fn arrived<T>(receiver: &std::sync::mpsc::Receiver<T>, ctx: &egui::Context) -> Option<Option<T>> {
    match receiver.try_recv() {
        Ok(value) => Some(Some(value)),
        Err(std::sync::mpsc::TryRecvError::Empty) => {
            ctx.request_repaint_after(std::time::Duration::from_millis(50));
            None
        }
        Err(std::sync::mpsc::TryRecvError::Disconnected) => Some(None),
    }
}
