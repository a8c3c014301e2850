//! `streamlab`: the GUI by default, and the headless commands. A thin binary: it parses flags
//! and calls the libraries (`sim` for runs and reports, `gui` for the window).

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use clap::{Parser, Subcommand, ValueEnum};
use sim::run::DEFAULT_SEED;
use sim::{report, RunOptions, Scenario, ScenarioError};

mod bench;

#[derive(Parser)]
#[command(
    name = "streamlab",
    version,
    about = "A deterministic workbench for fault-tolerant stream processing"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Open the workbench window (the default), optionally on a scenario file.
    Gui { scenario: Option<PathBuf> },
    /// Run a scenario headless and print the parameters, a summary and the sink output.
    Run {
        /// A scenario file (RON); `default` for the embedded default scenario.
        scenario: String,
        /// Seed for every random choice (default: the scenario's, else 42).
        #[arg(long)]
        seed: Option<u64>,
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
        /// Run twice and compare trace hashes; exit 1 when they differ.
        #[arg(long)]
        check_determinism: bool,
    },
    /// Run the same seed and faults under at-most-once, at-least-once and exactly-once (with each
    /// sink kind) and compare each with its fault-free reference.
    Compare {
        scenario: String,
        #[arg(long)]
        seed: Option<u64>,
        /// Print the reports as JSON instead of a table.
        #[arg(long)]
        json: bool,
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
    },
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum BenchKind {
    All,
    Events,
    Checkpoints,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    Text,
    Json,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        None => gui::launch(None),
        Some(Command::Gui { scenario }) => gui::launch(scenario),
        Some(Command::Run {
            scenario,
            seed,
            format,
            check_determinism,
        }) => run(&scenario, seed, format, check_determinism),
        Some(Command::Compare {
            scenario,
            seed,
            json,
        }) => compare(&scenario, seed, json),
        Some(Command::Bench { seconds, only }) => {
            if only != BenchKind::Checkpoints {
                print!("{}", bench::run(seconds));
            }
            if only != BenchKind::Events {
                print!("{}", bench::checkpoint_overhead());
            }
            Ok(ExitCode::SUCCESS)
        }
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            // A scenario the user wrote is wrong: exit 2 (like a usage error), not 1.
            if error.downcast_ref::<ScenarioError>().is_some() {
                ExitCode::from(2)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

fn load(scenario: &str) -> anyhow::Result<Scenario> {
    if scenario == "default" {
        return Ok(Scenario::default_scenario());
    }
    Ok(Scenario::load(&PathBuf::from(scenario))?)
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
        lines.push(format!("fault: {}", f.describe(&scenario.plan)));
    }
    lines.join("\n")
}

fn replay_command(scenario: &Scenario, seed: u64) -> String {
    format!("cargo run --release -- run {} --seed {seed}", scenario.file)
}

fn compare(scenario: &str, seed: Option<u64>, json: bool) -> anyhow::Result<ExitCode> {
    let scenario = Arc::new(load(scenario)?);
    let seed = seed.or(scenario.seed).unwrap_or(DEFAULT_SEED);
    println!("{}", header(&scenario, seed));
    let reports = sim::run::compare(&scenario, seed);
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&reports).context("serialising the reports")?
        );
    } else {
        println!();
        print!("{}", report::compare_table(&reports));
    }
    let unmet = sim::run::unmet_expectations(&scenario, &reports);
    let violated: Vec<&String> = reports.iter().flat_map(|r| r.violations.iter()).collect();
    if !violated.is_empty() {
        eprintln!(
            "invariant violated with seed {seed}; replay: {}",
            replay_command(&scenario, seed)
        );
        return Ok(ExitCode::FAILURE);
    }
    if unmet.is_empty() {
        if !scenario.expect.outcomes.is_empty() {
            println!(
                "all {} declared outcomes met",
                scenario.expect.outcomes.len()
            );
        }
        Ok(ExitCode::SUCCESS)
    } else {
        for u in &unmet {
            eprintln!("expectation not met: {u}");
        }
        eprintln!(
            "replay: cargo run --release -- compare {} --seed {seed}",
            scenario.file
        );
        Ok(ExitCode::FAILURE)
    }
}

fn run(
    scenario: &str,
    seed: Option<u64>,
    format: Format,
    check_determinism: bool,
) -> anyhow::Result<ExitCode> {
    let scenario = Arc::new(load(scenario)?);
    let seed = seed.or(scenario.seed).unwrap_or(DEFAULT_SEED);
    let header = header(&scenario, seed);
    // JSON mode keeps stdout pure JSON lines; the header goes to stderr.
    match format {
        Format::Text => println!("{header}"),
        Format::Json => eprintln!("{header}"),
    }
    let options = RunOptions {
        keep_trace: false,
        ..RunOptions::default()
    };
    let result = sim::run_scenario(scenario.clone(), seed, options);
    match format {
        Format::Text => {
            println!("\n== summary ==");
            print!("{}", report::summary(&result));
            println!(
                "\n== sink output ({} visible rows) ==",
                result.visible_rows().len()
            );
            print!("{}", report::rows_text(&result));
        }
        Format::Json => {
            eprint!("{}", report::summary(&result));
            for row in result.visible_rows() {
                println!(
                    "{}",
                    serde_json::to_string(&report::row_json(&result, row))
                        .context("serialising a row")?
                );
            }
        }
    }
    if !result.world.violations.is_empty() {
        for v in &result.world.violations {
            eprintln!(
                "INVARIANT VIOLATED at {} ns in {:?}: {}",
                v.time_ns,
                v.subtask.map(|s| &scenario.plan.subtasks[s].name),
                v.message
            );
        }
        eprintln!(
            "reproduce with seed {seed}: {}",
            replay_command(&scenario, seed)
        );
        return Ok(ExitCode::FAILURE);
    }
    if check_determinism {
        let again = sim::run_scenario(scenario, seed, options);
        let (a, b) = (result.trace_hash(), again.trace_hash());
        if a != b {
            eprintln!("NOT DETERMINISTIC: seed {seed} gave trace hashes {a:#018x} and {b:#018x}");
            return Ok(ExitCode::FAILURE);
        }
        eprintln!("deterministic: two runs with seed {seed} gave trace hash {a:#018x}");
    }
    Ok(ExitCode::SUCCESS)
}
