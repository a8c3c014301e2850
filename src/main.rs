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
#[command(name = "streamlab", version, about = "A deterministic workbench for fault-tolerant stream processing")]
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
    /// Measure simulated events per second against a bare event loop doing the same work.
    Bench {
        /// Input length of the benchmark scenario, in virtual seconds.
        #[arg(long, default_value_t = 60)]
        seconds: u64,
    },
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
        Some(Command::Run { scenario, seed, format, check_determinism }) => run(&scenario, seed, format, check_determinism),
        Some(Command::Bench { seconds }) => {
            print!("{}", bench::run(seconds));
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

fn run(scenario: &str, seed: Option<u64>, format: Format, check_determinism: bool) -> anyhow::Result<ExitCode> {
    let scenario = Arc::new(load(scenario)?);
    let seed = seed.or(scenario.seed).unwrap_or(DEFAULT_SEED);
    let mut header = vec![format!("SEED={seed}")];
    header.extend(scenario.describe());
    let header = header.join("\n");
    // JSON mode keeps stdout pure JSON lines; the header goes to stderr.
    match format {
        Format::Text => println!("{header}"),
        Format::Json => eprintln!("{header}"),
    }
    let options = RunOptions { keep_trace: false, ..RunOptions::default() };
    let result = sim::run_scenario(scenario.clone(), seed, options);
    match format {
        Format::Text => {
            println!("\n== summary ==");
            print!("{}", report::summary(&result));
            println!("\n== sink output ({} visible rows) ==", result.visible_rows().len());
            print!("{}", report::rows_text(&result));
        }
        Format::Json => {
            eprint!("{}", report::summary(&result));
            for row in result.visible_rows() {
                println!("{}", serde_json::to_string(&report::row_json(&result, row)).context("serialising a row")?);
            }
        }
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
