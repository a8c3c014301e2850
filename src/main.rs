//! `streamlab`: the GUI by default, and the headless commands. A thin binary: it parses flags
//! and calls the libraries (`sim` for runs and reports, `gui` for the window).

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use clap::builder::TypedValueParser as _;
use clap::{Parser, Subcommand, ValueEnum};
use sim::run::DEFAULT_SEED;
use sim::scenario::budget::Command as BudgetCommand;
use sim::{report, Scenario, ScenarioError};

/// Print to stdout; when the reader has gone away (`streamlab run … | head`), stop quietly
/// instead of panicking like `println!` does.
macro_rules! out {
    ($($arg:tt)*) => { $crate::write_stdout(format_args!($($arg)*)) };
}
macro_rules! outln {
    () => { $crate::write_stdout(format_args!("\n")) };
    ($($arg:tt)*) => { $crate::write_stdout(format_args!("{}\n", format_args!($($arg)*))) };
}

fn write_stdout(args: std::fmt::Arguments) {
    use std::io::Write as _;
    if std::io::stdout().lock().write_fmt(args).is_err() {
        std::process::exit(0);
    }
}

/// A line meant for people: on stdout, unless stdout carries data for a program (`--json`,
/// `--trace -`, `shrink --out -`), whose reader must not find it there; then on stderr.
fn say(stdout_is_data: bool, line: impl std::fmt::Display) {
    if stdout_is_data {
        eprintln!("{line}");
    } else {
        outln!("{line}");
    }
}

/// Where a text output goes: a file, or stdout when the path is `-` (as for most Unix tools).
#[derive(Clone, Debug)]
enum Output {
    Stdout,
    File(PathBuf),
}

impl From<PathBuf> for Output {
    fn from(path: PathBuf) -> Output {
        if path.as_os_str() == "-" {
            Output::Stdout
        } else {
            Output::File(path)
        }
    }
}

impl Output {
    fn is_stdout(&self) -> bool {
        matches!(self, Output::Stdout)
    }
}

/// Write `fill`'s bytes to stdout. A reader that has gone away (`… --trace - | head`) ends the
/// output quietly, as [`write_stdout`] does; the command still finishes and exits with its code.
fn write_to_stdout(fill: impl FnOnce(&mut dyn std::io::Write) -> std::io::Result<()>) -> anyhow::Result<()> {
    use std::io::Write as _;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    match fill(&mut out).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e).context("writing to stdout"),
        _ => Ok(()),
    }
}

mod answers;
mod bench;
mod exercise;
mod sweep;

/// Exit codes, the same for every command (also in the book: `reference/exit-codes.md`).
mod exit {
    /// The job finished and every check passed.
    pub const OK: u8 = 0;
    /// A check failed: a guarantee's promise broken, a declared outcome not met, a failing seed
    /// in a sweep, two runs of one seed that differ, a seed that does not fail given to shrink.
    pub const CHECK_FAILED: u8 = 1;
    /// The command line or the scenario file is wrong, or an output it names is refused (clap's
    /// usage errors use 2 too).
    pub const BAD_INPUT: u8 = 2;
    /// The job did not finish: stalled, time limit (`max_run_ms`), or it failed (no restart
    /// strategy, or the restart strategy gave up).
    pub const NOT_FINISHED: u8 = 3;
    /// An invariant was violated: a bug in streamlab, please report it with the seed.
    pub const INVARIANT: u8 = 4;
    /// Anything else went wrong (a file could not be read or written, ...).
    pub const ERROR: u8 = 5;
}

const EXIT_CODES: &str = "Exit codes (every command):
  0  the job finished and every check passed
  1  a check failed: a guarantee's promise broken (or a declared outcome not met), a failing
     seed in a sweep, two runs of one seed that differ, nothing to shrink
  2  the command line or the scenario file is wrong, or an output is refused (a file that
     exists and was not named with --force, the scenario itself, a link, folder or device)
  3  the job (or its fault-free reference: no verdict) did not finish: stalled, time limit
     (max_run_ms), or it failed (no restart strategy, or it gave up)
  4  an invariant was violated: a bug in streamlab (report it with the seed)
  5  any other error (a file could not be read or written)
When several apply, the highest wins.";

/// A bad command-line argument found after clap's parsing: exits 2, as clap's own usage errors do.
#[derive(Debug)]
pub struct Usage(pub String);

impl std::fmt::Display for Usage {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Usage {}

/// `bench --seconds` at most: the benchmark generates 200 000 events per virtual second; 60 s
/// (12 M events) is what the admission budget admits for one run (`bench::tests`).
const MAX_BENCH_SECONDS: u64 = 60;

#[derive(Parser)]
#[command(
    name = "streamlab",
    version,
    about = "A deterministic workbench for fault-tolerant stream processing",
    after_help = EXIT_CODES
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// Skip the admission budget: run a scenario even when its estimated memory or time is over
    /// 1 GiB or 30 s (see the book's reference, "Limits and the admission budget").
    #[arg(long, global = true)]
    no_budget: bool,
}

/// `--no-budget`: set once, from the command line, before any scenario is loaded.
static NO_BUDGET: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Whether this command checks the admission budget (`--no-budget` turns it off), for every
/// command that loads scenarios.
fn budget() -> sim::scenario::Budget {
    if NO_BUDGET.load(std::sync::atomic::Ordering::Relaxed) {
        sim::scenario::Budget::Off
    } else {
        sim::scenario::Budget::Enforced
    }
}

/// A command's scenario: the embedded default (`default`), or a file at any path the system
/// allows, UTF-8 or not.
#[derive(Clone, Debug)]
enum ScenarioArg {
    Default,
    File(PathBuf),
}

impl ScenarioArg {
    /// The file, if the scenario is one.
    fn path(&self) -> Option<&std::path::Path> {
        match self {
            ScenarioArg::Default => None,
            ScenarioArg::File(path) => Some(path),
        }
    }
}

/// How clap reads a [`ScenarioArg`]: as the operating system's string, so that a name that is not
/// UTF-8 reaches the loader, whose errors name the file.
fn scenario_arg() -> impl clap::builder::TypedValueParser<Value = ScenarioArg> {
    clap::builder::OsStringValueParser::new().map(|arg| {
        if arg == "default" {
            ScenarioArg::Default
        } else {
            ScenarioArg::File(PathBuf::from(arg))
        }
    })
}

#[derive(Subcommand)]
enum Command {
    /// Open the workbench window (the default), optionally on a scenario file.
    Gui { scenario: Option<PathBuf> },
    /// Run a scenario headless and print the parameters, a summary and the sink output.
    Run {
        /// A scenario file (RON); `default` for the embedded default scenario.
        #[arg(value_parser = scenario_arg())]
        scenario: ScenarioArg,
        /// Seed for every random choice (default: the scenario's, else 42).
        #[arg(long)]
        seed: Option<u64>,
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
        /// Run twice and compare trace hashes; exit 1 when they differ.
        #[arg(long)]
        check_determinism: bool,
        /// Add the seed's random faults (as `sweep --swarm`) when the scenario has no swarm.
        #[arg(long)]
        swarm: bool,
    },
    /// Run the same seed and faults under at-most-once, at-least-once and exactly-once (with each
    /// sink kind) and compare each with its fault-free reference.
    Compare {
        #[arg(value_parser = scenario_arg())]
        scenario: ScenarioArg,
        #[arg(long)]
        seed: Option<u64>,
        /// Print the reports as JSON instead of a table: stdout holds only the JSON; the header
        /// and messages go to stderr.
        #[arg(long)]
        json: bool,
        /// Add the seed's random faults (as `sweep --swarm`) when the scenario has no swarm.
        #[arg(long)]
        swarm: bool,
        /// Fault-tolerance models to run the pipeline under: `flink`, `storm`, or `all` (every
        /// model that can run it), comma-separated. Default: Flink and the scenario's own model.
        #[arg(long, value_delimiter = ',')]
        model: Vec<String>,
        /// Put the barrier rule on the axis instead: the exactly-once row (the scenario's own
        /// sink) as a Flink job under `aligned`, `unaligned`, `chandy-lamport`, or `all`,
        /// comma-separated, with inputs blocked and channel state per row; exits 1 when a row
        /// breaks exactly-once.
        #[arg(long, value_delimiter = ',', conflicts_with = "model")]
        checkpoint_mode: Vec<String>,
    },
    /// Combine the shard files of one sweep (each `sweep --json --shard K/N` output) into the
    /// report one sweep of all their seeds prints.
    SweepMerge {
        /// Shard files: JSON lines as `sweep --json` writes them.
        files: Vec<std::path::PathBuf>,
    },
    /// Check many seeds: the declared outcomes (or the scenario's own guarantee), invariants,
    /// and that the job finishes. Prints every failing seed with the command that replays it.
    Sweep {
        #[arg(value_parser = scenario_arg())]
        scenario: ScenarioArg,
        /// Seeds as `A..B` (B excluded), `A..=B` or `3,7,9`.
        #[arg(long, default_value = "1..101")]
        seeds: String,
        /// Worker threads (each runs whole seeds; results do not depend on this). At most the
        /// number of cores unless --force-jobs.
        #[arg(long, default_value_t = 1)]
        jobs: usize,
        /// Start as many workers as --jobs says even beyond the number of cores.
        #[arg(long)]
        force_jobs: bool,
        /// Add random faults (crashes, partitions, spikes, slow nodes), drawn from each seed, to the
        /// faults the scenario lists, unless it declares a `swarm` of its own.
        #[arg(long)]
        swarm: bool,
        /// Run only shard K of N (`K/N`, 1-based): seeds whose position mod N is K-1. `env/N`
        /// takes K from the batch system: `JOB_COMPLETION_INDEX` (a Kubernetes indexed Job) or
        /// `SLURM_ARRAY_TASK_ID` (a Slurm job array).
        #[arg(long)]
        shard: Option<String>,
        /// Print one JSON object per line and seed and variant on stdout (seed, variant,
        /// verdict, counts, failures, replay command); the summary goes to stderr.
        #[arg(long)]
        json: bool,
    },
    /// Run one seed with its full trace: summary, the oracle's verdict, optionally a trace file
    /// (`.json`: Chrome trace format for Perfetto; anything else: JSON lines).
    Replay {
        #[arg(value_parser = scenario_arg())]
        scenario: ScenarioArg,
        #[arg(long)]
        seed: Option<u64>,
        /// Stop at this virtual time (ms).
        #[arg(long)]
        until: Option<u64>,
        /// Write the trace to this file (an existing streamlab trace is replaced; any other file is refused), or with `-` as JSON
        /// lines to stdout (the summary and verdict then go to stderr).
        #[arg(long, value_parser = clap::builder::PathBufValueParser::new().map(Output::from))]
        trace: Option<Output>,
        /// Write the run's charts (records per second, latency, watermark lag, checkpoint
        /// durations) into this folder as PNG and SVG, as the workbench's Charts tab exports them.
        #[arg(long)]
        charts: Option<PathBuf>,
        /// Add the seed's random faults (as `sweep --swarm`) when the scenario has no swarm.
        #[arg(long)]
        swarm: bool,
    },
    /// Reduce a failing seed's fault schedule and input to a small scenario that still fails the
    /// same check, and write it as a scenario file.
    Shrink {
        #[arg(value_parser = scenario_arg())]
        scenario: ScenarioArg,
        #[arg(long)]
        seed: u64,
        /// Where to write the shrunk scenario (default: next to the input, `*-seed-N-shrunk.ron`);
        /// `-` prints it on stdout (the steps then go to stderr).
        #[arg(long, value_parser = clap::builder::PathBufValueParser::new().map(Output::from))]
        out: Option<Output>,
        /// Add the seed's random faults (as `sweep --swarm`) when the scenario has no swarm.
        #[arg(long)]
        swarm: bool,
        /// Replace the --out file if it exists (it may be a scenario you wrote). The default output
        /// file, which you did not name, is never replaced.
        #[arg(long)]
        force: bool,
    },
    /// Print the admission budget's estimate of memory and time for each command on a scenario
    /// (exit 2 when `run` itself is over the budget).
    Estimate {
        #[arg(value_parser = scenario_arg())]
        scenario: ScenarioArg,
    },
    /// Benchmarks: simulated events per second against a bare event loop doing the same work,
    /// and checkpoint overhead (asynchronous barriers against stop-the-world snapshots).
    Bench {
        /// Input length of the event-rate benchmark, in virtual seconds.
        #[arg(long, default_value_t = 60)]
        seconds: u64,
        /// Which benchmark to run.
        #[arg(long, value_enum, default_value_t = BenchKind::All)]
        only: BenchKind,
        /// An older `streamlab` binary to measure beside this one (`--only seeds`, and the seeds
        /// row of `--only targets`: rounds taking turns, best of each, and the ratio).
        #[arg(long)]
        baseline: Option<PathBuf>,
    },
    /// The book's exercises, graded by running their scenarios: `list`, `show ID`,
    /// `check ID ANSWER` (exit 0 right, 1 wrong), `solve ID`.
    Exercise {
        #[command(subcommand)]
        action: exercise::Action,
        /// The repository root: chapter files are `<root>/book/exercises/*.ron`, and scenario
        /// paths in them are relative to it.
        #[arg(long, default_value = ".", global = true)]
        root: PathBuf,
    },
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum BenchKind {
    All,
    Events,
    Checkpoints,
    Seeds,
    /// Parallelism 64 against 1 on the same records.
    Parallelism,
    /// Issue 11's done-means table: each target's old and new figure, measured in one run.
    Targets,
    /// Issue 11's loading row alone: explicit events against the generator.
    Loading,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    Text,
    Json,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    NO_BUDGET.store(cli.no_budget, std::sync::atomic::Ordering::Relaxed);
    let result = match cli.command {
        None => gui::launch(None),
        Some(Command::Gui { scenario }) => {
            gui_without_display_checks(scenario.as_deref()).and_then(|()| gui::launch(scenario))
        }
        Some(Command::Run { scenario, seed, format, check_determinism, swarm }) => {
            run(&scenario, seed, format, check_determinism, swarm)
        }
        Some(Command::Compare { scenario, seed, json, swarm, checkpoint_mode, .. }) if !checkpoint_mode.is_empty() => {
            compare_modes(&scenario, seed, json, swarm, &checkpoint_mode)
        }
        Some(Command::Compare { scenario, seed, json, swarm, model, .. }) => {
            compare(&scenario, seed, json, swarm, &model)
        }
        Some(Command::Sweep { scenario, seeds, jobs, force_jobs, swarm, shard, json }) => {
            sweep::run(&scenario, &seeds, jobs, force_jobs, swarm, shard.as_deref(), json)
        }
        Some(Command::SweepMerge { files }) => sweep::merge(&files),
        Some(Command::Replay { scenario, seed, until, trace, charts, swarm }) => {
            replay(&scenario, seed, until, (trace, charts), swarm)
        }
        Some(Command::Shrink { scenario, seed, out, swarm, force }) => shrink(&scenario, seed, out, swarm, force),
        Some(Command::Exercise { action, root }) => exercise::run(&root, action),
        Some(Command::Estimate { scenario }) => estimate(&scenario),
        Some(Command::Bench { seconds, .. }) if !(1..=MAX_BENCH_SECONDS).contains(&seconds) => {
            Err(Usage(format!("--seconds {seconds}: the benchmark runs 1 ..= {MAX_BENCH_SECONDS} virtual seconds"))
                .into())
        }
        Some(Command::Bench { seconds, only, baseline }) => bench(seconds, only, baseline.as_deref()),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            // Escaped as a whole: a message may quote an argument, a variable of the environment
            // or a line of a file, none of which may move the terminal's cursor or forge a line.
            eprintln!("error: {}", sim::scenario::error::printable(&format!("{error:#}")));
            // A scenario the user wrote, or an argument, is wrong: exit 2 (like clap's usage
            // errors), not 1.
            if error.downcast_ref::<ScenarioError>().is_some() || error.downcast_ref::<Usage>().is_some() {
                ExitCode::from(exit::BAD_INPUT)
            } else {
                ExitCode::from(exit::ERROR)
            }
        }
    }
}

/// `gui FILE` where no window can open: the scenario is read and checked all the same, so that a
/// broken or missing file is an error (exit 2, located) rather than the no-display note's exit 0.
fn gui_without_display_checks(scenario: Option<&std::path::Path>) -> anyhow::Result<()> {
    if let Some(path) = scenario.filter(|_| !gui::display_available()) {
        Scenario::load_with(path, sim::scenario::Budget::Off)?;
    }
    Ok(())
}

/// `streamlab bench`: the benchmarks `only` names (all by default).
fn bench(seconds: u64, only: BenchKind, baseline: Option<&std::path::Path>) -> anyhow::Result<ExitCode> {
    if matches!(only, BenchKind::All | BenchKind::Events) {
        out!("{}", bench::run(seconds));
    }
    if matches!(only, BenchKind::All | BenchKind::Parallelism) {
        out!("{}", bench::parallelism(seconds.min(10)));
    }
    if matches!(only, BenchKind::All | BenchKind::Checkpoints) {
        out!("{}", bench::checkpoint_overhead());
    }
    if matches!(only, BenchKind::All | BenchKind::Seeds) {
        out!("{}", bench::seeds_per_minute(bench::SWEEP_SEEDS, baseline)?);
    }
    if matches!(only, BenchKind::All | BenchKind::Targets) {
        out!("{}", bench::targets(seconds.min(10), baseline)?);
    }
    if only == BenchKind::Loading {
        out!("{}", bench::loading_row());
    }
    Ok(ExitCode::SUCCESS)
}

/// The exit code of one run held to its promise: 4 for a broken invariant, 3 for a job (or its
/// fault-free reference) that did not finish, 1 for a broken promise, else 0.
fn verdict_code(judgement: &sim::run::Judgement) -> u8 {
    if judgement.violations > 0 || matches!(judgement.stop, sim::StopReason::InvariantViolated(_)) {
        exit::INVARIANT
    } else if !judgement.stop.is_finished() || !judgement.reference_stop.is_finished() {
        exit::NOT_FINISHED
    } else if !judgement.kept {
        exit::CHECK_FAILED
    } else {
        exit::OK
    }
}

fn replay(
    scenario_arg: &ScenarioArg,
    seed: Option<u64>,
    until_ms: Option<u64>,
    (trace, charts): (Option<Output>, Option<PathBuf>),
    swarm: bool,
) -> anyhow::Result<ExitCode> {
    if charts.as_ref().is_some_and(|dir| dir.as_os_str() == "-") {
        return Err(Usage("--charts -: charts are PNG and SVG files; name a folder for them".into()).into());
    }
    // Refused before the run, as any output is: a file (the scenario itself, say), FIFO or
    // device where the folder should be.
    if let Some(why) = charts.as_deref().and_then(charts_folder_refused) {
        return Err(Usage(why).into());
    }
    let scenario = Arc::new(load(scenario_arg, swarm, BudgetCommand::Replay)?);
    let seed = seed.or(scenario.seed).unwrap_or(DEFAULT_SEED);
    // The scenario's model replays it (`sim::runtime`): no per-model branch here.
    let model = sim::runtime::model(scenario.runtime());
    if let Some(Output::File(path)) = &trace {
        refuse_the_scenario_as_output(scenario_arg, path, "--trace")?;
        // A trace is the tool's own output: an existing trace is replaced, nothing else.
        refuse_output(path, sim::atomic_write::Overwrite::Replace, true)?;
        if let Some(why) = not_a_trace(path) {
            return Err(Usage(why).into());
        }
    }
    // `--trace -`: stdout is the trace alone; what people read goes to stderr.
    let stdout_is_data = trace.as_ref().is_some_and(Output::is_stdout);
    say(stdout_is_data, header(&scenario, seed));
    let until_ns = until_ms
        .map(|ms| {
            ms.checked_mul(1_000_000).ok_or_else(|| Usage(format!("--until {ms}: at most {} ms", u64::MAX / 1_000_000)))
        })
        .transpose()?;
    let replay = model.replay(&scenario, seed, until_ns);
    say(stdout_is_data, replay.text.strip_suffix('\n').unwrap_or(&replay.text));
    match trace {
        Some(Output::File(path)) => {
            let written = sim::export::write_trace_file(&scenario, &replay.trace, &path)
                .with_context(|| format!("writing the trace to {}", path.display()))?;
            say(stdout_is_data, format!("trace: {written}"));
        }
        Some(Output::Stdout) => {
            write_to_stdout(|mut out| sim::export::write_jsonl(&scenario, &replay.trace, &mut out))?;
            eprintln!("trace: {} events written to stdout", replay.trace.len());
        }
        None => {}
    }
    if let Some(dir) = charts {
        // Drawn from the world the replay kept (Flink), else read off its trace (Storm).
        let drawn = match &replay.charts_from {
            Some(world) => gui::view::plots::all(world),
            None => {
                let end_ns = replay.trace.last().map_or(0, |e| e.time_ns);
                gui::view::plots::storm(&scenario, seed, &replay.trace, end_ns)
            }
        };
        let written =
            gui::export::export_all(&drawn, &dir, "").map_err(|e| anyhow::anyhow!("writing the charts: {e}"))?;
        say(stdout_is_data, format!("charts: {written}"));
    }
    for v in &replay.violations {
        eprintln!("{v}");
    }
    let code = match replay.judgement.as_ref().map_or(exit::OK, verdict_code) {
        _ if !replay.violations.is_empty() => exit::INVARIANT,
        code => code,
    };
    if code != exit::OK {
        eprintln!("exit code {code}: see `streamlab --help` for the table");
    }
    Ok(ExitCode::from(code))
}

fn shrink(
    scenario_arg: &ScenarioArg,
    seed: u64,
    out: Option<Output>,
    swarm: bool,
    force: bool,
) -> anyhow::Result<ExitCode> {
    use sim::atomic_write::{write_bytes, Overwrite};
    let scenario = Arc::new(load(scenario_arg, swarm, BudgetCommand::Shrink)?);
    let stdout_is_data = out.as_ref().is_some_and(Output::is_stdout);
    // Settled before any time is spent on shrinking: where the scenario goes, and whether what is
    // there may be replaced. A file the user named (`--out`) is replaced only with --force; the
    // default file, which they did not name, never is.
    let target = match out {
        Some(Output::Stdout) => None,
        Some(Output::File(path)) => Some((path, true)),
        None => {
            // Next to the input, by its own path (a name that is not UTF-8 kept as it is).
            let file = scenario_arg.path().unwrap_or(std::path::Path::new(sim::scenario::DEFAULT_SCENARIO_FILE));
            let mut name = file.file_stem().unwrap_or(std::ffi::OsStr::new("scenario")).to_os_string();
            name.push(format!("-seed-{seed}-shrunk.ron"));
            Some((file.with_file_name(name), false))
        }
    };
    let policy =
        if force && target.as_ref().is_some_and(|(_, named)| *named) { Overwrite::Replace } else { Overwrite::Refuse };
    if let Some((path, named)) = &target {
        refuse_the_scenario_as_output(scenario_arg, path, "--out")?;
        refuse_output(path, policy, *named)?;
    }
    // `--out -`: stdout is the shrunk scenario alone; what people read goes to stderr.
    say(stdout_is_data, header(&scenario, seed));
    let Some(shrunk) = sim::shrink::shrink(&scenario, seed) else {
        say(stdout_is_data, format!("seed {seed} does not fail: nothing to shrink"));
        return Ok(ExitCode::from(exit::CHECK_FAILED));
    };
    for step in &shrunk.steps {
        say(stdout_is_data, format!("  {step}"));
    }
    match &target {
        Some((path, named)) => {
            // A file that appeared there while shrinking is refused as one there before.
            refuse_output(path, policy, *named)?;
            write_bytes(path, shrunk.file_text.as_bytes(), policy)
                .with_context(|| format!("writing {}", path.display()))?;
        }
        None => write_to_stdout(|w| w.write_all(shrunk.file_text.as_bytes()))?,
    }
    say(
        stdout_is_data,
        format!(
            "{} of {} faults remain; still fails: {}",
            shrunk.faults_after,
            shrunk.faults_before,
            shrunk.failures.join("; ")
        ),
    );
    match target.map(|(path, _)| path) {
        Some(out) => outln!(
            "wrote {}\nreplay: cargo run --release -- compare {} --seed {seed}",
            sim::scenario::error::printable(&out.display().to_string()),
            sim::scenario::error::shell_word(&out.display().to_string())
        ),
        None => eprintln!("wrote the shrunk scenario to stdout; saved as FILE, it replays with: cargo run --release -- compare FILE --seed {seed}"),
    }
    Ok(ExitCode::SUCCESS)
}

/// Refuse, as a usage error (exit 2), an output that is not to be written under `policy`:
/// anything but a regular file, or an existing file unless `policy` replaces it. `named`: the
/// user gave the path; a file they did not name is never replaced, and the message says so.
fn refuse_output(path: &std::path::Path, policy: sim::atomic_write::Overwrite, named: bool) -> Result<(), Usage> {
    sim::atomic_write::check_target(path, policy).map_err(|e| {
        if !named && std::fs::symlink_metadata(path).is_ok_and(|m| m.is_file()) {
            Usage(format!(
                "{}: already exists; only a file named with --out (and --force) is replaced: remove it, or name a file",
                path.display()
            ))
        } else {
            Usage(e.to_string())
        }
    })
}

/// Why `--trace FILE` may not replace the regular file at `path`: it holds something other than
/// a streamlab trace (a Perfetto trace starts `{"displayTimeUnit":"ms","traceEvents":`, JSON
/// lines are objects with `time_ns` and `kind`; an empty file loses nothing). A user's file
/// named by mistake is kept.
fn not_a_trace(path: &std::path::Path) -> Option<String> {
    use std::io::Read as _;
    let meta = std::fs::symlink_metadata(path).ok().filter(|m| m.is_file() && m.len() > 0)?;
    let mut head = Vec::with_capacity(4096);
    let read = std::fs::File::open(path).and_then(|f| f.take(4096).read_to_end(&mut head));
    let first_line = head.split(|&b| b == b'\n').next().unwrap_or_default();
    let json_line = || {
        serde_json::from_slice::<serde_json::Value>(first_line)
            .is_ok_and(|v| v.get("time_ns").is_some_and(|t| t.is_u64()) && v.get("kind").is_some_and(|k| k.is_string()))
    };
    let trace = read.is_ok() && (head.starts_with(br#"{"displayTimeUnit":"ms","traceEvents":"#) || json_line());
    (!trace).then(|| {
        format!(
            "--trace {}: the file exists ({} bytes) and is not a streamlab trace, so it is not replaced; remove it, or name another file",
            sim::scenario::error::printable(&path.display().to_string()),
            meta.len()
        )
    })
}

/// Why `--charts DIR` cannot be the charts' folder, found before the run: something other than a
/// folder is there (a file, FIFO or device, or a link to nothing or to itself), or the folder
/// would have to be made under a file.
fn charts_folder_refused(dir: &std::path::Path) -> Option<String> {
    let shown = || sim::scenario::error::printable(&dir.display().to_string());
    match (std::fs::symlink_metadata(dir), std::fs::metadata(dir)) {
        (Ok(_), Ok(meta)) if meta.is_dir() => None,
        (Ok(_), Ok(_)) => Some(format!(
            "--charts {}: not a folder (a file, FIFO or device is there); name a folder for the charts",
            shown()
        )),
        (Ok(_), Err(_)) => {
            Some(format!("--charts {}: a link to nothing (or to itself); name a folder for the charts", shown()))
        }
        // A folder that does not exist yet is made, with the folders above it.
        (Err(e), _) if e.kind() == std::io::ErrorKind::NotFound => None,
        (Err(e), _) if e.kind() == std::io::ErrorKind::NotADirectory => Some(format!(
            "--charts {}: a file is where a folder above it should be, so no folder can be made there",
            shown()
        )),
        // A name too long, a loop of links above it, …
        (Err(e), _) => Some(format!("--charts {}: {e}; name a folder for the charts", shown())),
    }
}

/// Whether two paths name one file: a hard link has a path of its own, and its content is the
/// scenario's until it is replaced.
#[cfg(unix)]
fn same_file(a: &std::path::Path, b: &std::path::Path) -> bool {
    use std::os::unix::fs::MetadataExt as _;
    match (std::fs::metadata(a), std::fs::metadata(b)) {
        (Ok(a), Ok(b)) => (a.dev(), a.ino()) == (b.dev(), b.ino()),
        _ => false,
    }
}

#[cfg(not(unix))]
fn same_file(_: &std::path::Path, _: &std::path::Path) -> bool {
    false
}

/// An output that is the scenario file itself (`replay s.ron --trace s.ron`, or another spelling
/// of its path) would replace the user's scenario with the tool's output: a usage error.
fn refuse_the_scenario_as_output(scenario: &ScenarioArg, output: &std::path::Path, flag: &str) -> anyhow::Result<()> {
    let same = match (scenario.path().map(std::fs::canonicalize), std::fs::canonicalize(output)) {
        (Some(Ok(input)), Ok(output)) => input == output || same_file(&input, &output),
        _ => false,
    };
    if same {
        return Err(Usage(format!("{flag} {}: that is the scenario file; not replacing it", output.display())).into());
    }
    Ok(())
}

/// Load a scenario (`default`: the embedded one), printing its warnings; `swarm` adds the seed's
/// random faults as `sweep --swarm` does ([`sim::run::with_swarm`]). Unless `--no-budget`, refuse
/// it when `command`'s estimated memory or time is over the admission budget.
fn load(scenario: &ScenarioArg, swarm: bool, command: BudgetCommand) -> anyhow::Result<Scenario> {
    let loaded = if let ScenarioArg::File(path) = scenario {
        let loaded = Scenario::load_with(path, sim::scenario::Budget::Off)?;
        for warning in &loaded.warnings {
            eprintln!("warning: {warning}");
        }
        loaded
    } else {
        Scenario::default_scenario()
    };
    let loaded = if swarm { sim::run::with_swarm(loaded) } else { loaded };
    if budget() == sim::scenario::Budget::Enforced {
        loaded.admit(command)?;
    }
    Ok(loaded)
}

/// `estimate`: the workload the budget counts, and each command's estimate against the budget.
fn estimate(scenario_arg: &ScenarioArg) -> anyhow::Result<ExitCode> {
    use sim::scenario::budget::{BUDGET_BYTES, BUDGET_MS};
    let scenario = match scenario_arg {
        ScenarioArg::Default => Scenario::default_scenario(),
        ScenarioArg::File(path) => Scenario::load_with(path, sim::scenario::Budget::Off)?,
    };
    let w = &scenario.admission.workload;
    outln!("{}", serde_json::to_string_pretty(w).context("serialising the workload")?);
    outln!("budget: {} MiB, {} s", BUDGET_BYTES >> 20, BUDGET_MS / 1000);
    for command in BudgetCommand::ALL {
        let e = scenario.admission.workload.estimate(command);
        let verdict = if scenario.admit(command).is_ok() { "admitted" } else { "over the budget" };
        outln!("{:<24} {:>8} MiB {:>9.1} s  {verdict}", command.name(), e.bytes >> 20, e.ms as f64 / 1000.0);
    }
    if let Err(e) = scenario.admit(BudgetCommand::Run { twice: false }) {
        eprintln!("error: {e}");
        return Ok(ExitCode::from(exit::BAD_INPUT));
    }
    Ok(ExitCode::SUCCESS)
}

/// `SEED=N`, every resolved parameter, and the fault schedule of this seed: enough to replay.
fn header(scenario: &Scenario, seed: u64) -> String {
    let mut lines = vec![format!("SEED={seed}")];
    lines.extend(scenario.describe());
    let faults = scenario.faults_for_seed(seed);
    if faults.is_empty() {
        lines.push("faults: none".into());
    }
    for f in faults {
        lines.push(format!("fault: {}", f.describe(scenario)));
    }
    lines.join("\n")
}

/// The command that reruns `command` on this scenario and seed, `--swarm` included when the
/// faults came from it.
pub(crate) fn rerun_command(command: &str, scenario: &Scenario, seed: u64, swarm: bool) -> String {
    let file = sim::scenario::error::shell_word(&scenario.file);
    format!("cargo run --release -- {command} {file} --seed {seed}{}", if swarm { " --swarm" } else { "" })
}

/// The models `compare --model` names (see its help), each checked against the pipeline.
fn compare_runtimes(scenario: &sim::Scenario, models: &[String]) -> anyhow::Result<Vec<sim::scenario::Runtime>> {
    if models.is_empty() {
        return Ok(sim::runtime::default_models(scenario));
    }
    let mut runtimes = Vec::new();
    for name in models {
        let named = match name.trim() {
            "all" => sim::runtime::capable_models(scenario),
            other => match sim::runtime::model_named(other) {
                Some(model) => vec![model.runtime()],
                None => {
                    let known: Vec<&str> = sim::runtime::MODELS.iter().map(|m| m.runtime().label()).collect();
                    return Err(Usage(format!("--model: unknown model '{other}' ({}, all)", known.join(", "))).into());
                }
            },
        };
        for runtime in named {
            if let Err(why) = sim::runtime::model(runtime).can_run(scenario) {
                return Err(Usage(format!("--model {}: this pipeline cannot run there: {why}", runtime.label())).into());
            }
            if !runtimes.contains(&runtime) {
                runtimes.push(runtime);
            }
        }
    }
    Ok(runtimes)
}

fn compare(
    scenario_arg: &ScenarioArg,
    seed: Option<u64>,
    json: bool,
    swarm: bool,
    models: &[String],
) -> anyhow::Result<ExitCode> {
    let scenario = Arc::new(load(scenario_arg, swarm, BudgetCommand::Compare)?);
    let seed = seed.or(scenario.seed).unwrap_or(DEFAULT_SEED);
    let runtimes = compare_runtimes(&scenario, models)?;
    // With --json, stdout is the JSON document alone; everything for people goes to stderr.
    let say = |line: String| say(json, line);
    say(header(&scenario, seed));
    let reports = sim::run::compare_models(&scenario, seed, &runtimes);
    if json {
        outln!("{}", serde_json::to_string_pretty(&reports).context("serialising the reports")?);
    } else {
        outln!();
        out!("{}", report::compare_table(&reports));
    }
    let unmet = sim::run::unmet_expectations(&scenario, &reports);
    let violated: Vec<&String> = reports.iter().flat_map(|r| r.violations.iter()).collect();
    if !violated.is_empty() {
        eprintln!("invariant violated with seed {seed}; replay: {}", rerun_command("replay", &scenario, seed, swarm));
        return Ok(ExitCode::from(exit::INVARIANT));
    }
    // A variant that did not finish, else one whose fault-free reference did not (no verdict).
    let unfinished = reports.iter().find(|r| !r.stop.is_finished()).map(|r| (r, "", r.stop, "")).or_else(|| {
        let r = reports.iter().find(|r| !r.reference_stop.is_finished())?;
        Some((r, "the fault-free reference of ", r.reference_stop, ": no verdict"))
    });
    if let Some((r, whose, stop, so)) = unfinished {
        eprintln!(
            "{whose}{} with {} did not finish ({stop}){so}; replay: {}",
            r.guarantee.label(),
            r.sink.a_sink(),
            rerun_command("compare", &scenario, seed, swarm)
        );
        return Ok(ExitCode::from(exit::NOT_FINISHED));
    }
    if unmet.is_empty() {
        if !scenario.expect.outcomes.is_empty() {
            say(format!("all {} declared outcomes met", scenario.expect.outcomes.len()));
        }
        Ok(ExitCode::SUCCESS)
    } else {
        for u in &unmet {
            eprintln!("expectation not met: {u}");
        }
        eprintln!("replay: {}", rerun_command("compare", &scenario, seed, swarm));
        Ok(ExitCode::from(exit::CHECK_FAILED))
    }
}

/// The barrier rules `compare --checkpoint-mode` names (see its help).
fn barrier_rules(names: &[String]) -> anyhow::Result<Vec<sim::run::BarrierRule>> {
    let mut rules = Vec::new();
    for name in names {
        let named = match name.trim() {
            "all" => sim::run::BarrierRule::ALL.to_vec(),
            other => match sim::run::BarrierRule::named(other) {
                Some(rule) => vec![rule],
                None => {
                    let known: Vec<&str> = sim::run::BarrierRule::ALL.iter().map(|r| r.label()).collect();
                    return Err(Usage(format!(
                        "--checkpoint-mode: unknown mode '{other}' ({}, all)",
                        known.join(", ")
                    ))
                    .into());
                }
            },
        };
        for rule in named {
            if !rules.contains(&rule) {
                rules.push(rule);
            }
        }
    }
    Ok(rules)
}

/// `compare --checkpoint-mode`: the exactly-once row per barrier rule. The scenario's declared
/// outcomes name guarantees and sinks, not barrier rules (plain `compare` checks them): each row
/// is held to the exactly-once promise instead, and a row that breaks it exits 1.
fn compare_modes(
    scenario_arg: &ScenarioArg,
    seed: Option<u64>,
    json: bool,
    swarm: bool,
    names: &[String],
) -> anyhow::Result<ExitCode> {
    let rules = barrier_rules(names)?;
    let scenario = Arc::new(load(scenario_arg, swarm, BudgetCommand::Compare)?);
    let seed = seed.or(scenario.seed).unwrap_or(DEFAULT_SEED);
    let say = |line: String| say(json, line);
    say(header(&scenario, seed));
    let reports = sim::run::compare_checkpoint_modes(&scenario, seed, &rules);
    if json {
        outln!("{}", serde_json::to_string_pretty(&reports).context("serialising the reports")?);
    } else {
        outln!();
        out!("{}", report::modes_table(&reports));
    }
    if reports.iter().any(|m| !m.report.violations.is_empty()) {
        eprintln!("invariant violated with seed {seed}; replay: {}", rerun_command("replay", &scenario, seed, swarm));
        return Ok(ExitCode::from(exit::INVARIANT));
    }
    if let Some(m) = reports.iter().find(|m| !m.report.stop.is_finished() || !m.report.reference_stop.is_finished()) {
        eprintln!(
            "the {} row did not finish ({}), or its fault-free reference did not ({}): no verdict",
            m.checkpoint_mode.label(),
            m.report.stop,
            m.report.reference_stop
        );
        return Ok(ExitCode::from(exit::NOT_FINISHED));
    }
    let broken: Vec<&str> = reports.iter().filter(|m| !m.report.verdict).map(|m| m.checkpoint_mode.label()).collect();
    if !broken.is_empty() {
        eprintln!(
            "exactly-once broken under {} (with {}); replay: {}",
            broken.join(", "),
            sim::run::own_sink(&scenario).a_sink(),
            rerun_command("replay", &scenario, seed, swarm)
        );
        return Ok(ExitCode::from(exit::CHECK_FAILED));
    }
    Ok(ExitCode::SUCCESS)
}

fn run(
    scenario_arg: &ScenarioArg,
    seed: Option<u64>,
    format: Format,
    check_determinism: bool,
    swarm: bool,
) -> anyhow::Result<ExitCode> {
    let scenario = Arc::new(load(scenario_arg, swarm, BudgetCommand::Run { twice: check_determinism })?);
    let seed = seed.or(scenario.seed).unwrap_or(DEFAULT_SEED);
    let header = header(&scenario, seed);
    // JSON mode keeps stdout pure JSON lines; the header goes to stderr.
    match format {
        Format::Text => outln!("{header}"),
        Format::Json => eprintln!("{header}"),
    }
    // The scenario's model runs it (`sim::runtime`): no per-model branch here.
    let model = sim::runtime::model(scenario.runtime());
    let rows_as = match format {
        Format::Text => sim::runtime::RowsAs::Text,
        Format::Json => sim::runtime::RowsAs::Json,
    };
    let run = model.run(&scenario, seed, rows_as);
    match &run.rows {
        sim::runtime::Rows::Text { table, count } => {
            outln!("\n== summary ==");
            out!("{}", run.summary);
            for note in &run.notes {
                outln!("{note}");
            }
            outln!("{}", run.oracle_line);
            outln!("\n== sink output ({count} visible rows) ==");
            out!("{table}");
        }
        sim::runtime::Rows::Json(rows) => {
            eprint!("{}", run.summary);
            eprintln!("{}", run.oracle_line);
            for row in rows {
                outln!("{}", serde_json::to_string(row).context("serialising a row")?);
            }
        }
    }
    if !run.violations.is_empty() {
        for v in &run.violations {
            eprintln!("{v}");
        }
        eprintln!("reproduce with seed {seed}: {}", rerun_command("run", &scenario, seed, swarm));
        return Ok(ExitCode::from(exit::INVARIANT));
    }
    let again_hash = check_determinism.then(|| model.trace_hash(&scenario, seed));
    Ok(finish_run(&scenario, seed, swarm, &run.judgement, run.trace_hash, again_hash, run.what))
}

/// The end of `run`: the determinism check (when a second run's hash is given) and the exit code
/// of the verdict, with what to run to reproduce it.
fn finish_run(
    scenario: &Scenario,
    seed: u64,
    swarm: bool,
    judgement: &sim::run::Judgement,
    hash: u64,
    again_hash: Option<u64>,
    what: &str,
) -> ExitCode {
    if let Some(again) = again_hash {
        if hash != again {
            eprintln!("NOT DETERMINISTIC: seed {seed} gave trace hashes {hash:#018x} and {again:#018x}");
            return ExitCode::from(exit::CHECK_FAILED.max(verdict_code(judgement)));
        }
        eprintln!("deterministic: two runs with seed {seed} gave trace hash {hash:#018x}");
    }
    let code = verdict_code(judgement);
    if code != exit::OK {
        eprintln!(
            "exit code {code}: {} (see `streamlab --help`); reproduce: {}",
            if code == exit::NOT_FINISHED && !judgement.stop.is_finished() {
                format!("the {what} did not finish ({})", judgement.stop)
            } else if code == exit::NOT_FINISHED {
                format!("its fault-free reference did not finish ({}): no verdict", judgement.reference_stop)
            } else {
                format!("the oracle found {:?}", judgement.class)
            },
            rerun_command("run", scenario, seed, swarm)
        );
    }
    ExitCode::from(code)
}
