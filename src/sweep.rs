//! `streamlab sweep`: check many seeds, spread over worker threads (each runs whole seeds, so
//! results do not depend on the number of threads), with a progress bar and a summary.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use anyhow::Context as _;
use sim::run::{check_seed, SeedCheck};
use sim::testing::SeedSet;

/// The seeds of shard K of N (`K/N`, 1-based): positions K-1, K-1+N, ... of `seeds`, without
/// collecting them.
struct Shard {
    seeds: SeedSet,
    first: u128,
    step: u128,
}

impl Shard {
    fn len(&self) -> u128 {
        self.seeds.len().saturating_sub(self.first).div_ceil(self.step)
    }
    fn get(&self, i: u128) -> Option<u64> {
        self.seeds.get(self.first.checked_add(i.checked_mul(self.step)?)?)
    }
}

fn shard_of(seeds: SeedSet, shard: Option<&str>) -> anyhow::Result<Shard> {
    let Some(spec) = shard else { return Ok(Shard { seeds, first: 0, step: 1 }) };
    let usage = || crate::Usage(format!("--shard {spec}: write K/N with 1 <= K <= N, e.g. 2/4, or env/N"));
    let (k, n) = spec.split_once('/').ok_or_else(usage)?;
    let n: u64 = n.trim().parse().map_err(|_| usage())?;
    let k: u64 = if k.trim() == "env" { shard_index_from_env()? } else { k.trim().parse().map_err(|_| usage())? };
    if n == 0 || k == 0 || k > n {
        return Err(usage().into());
    }
    Ok(Shard { seeds, first: u128::from(k - 1), step: u128::from(n) })
}

/// The 1-based shard number a batch system gives this process: a Kubernetes indexed Job sets
/// `JOB_COMPLETION_INDEX` (0-based); a Slurm job array sets `SLURM_ARRAY_TASK_ID` (counted from
/// `SLURM_ARRAY_TASK_MIN`, 0 when unset).
fn shard_index_from_env() -> anyhow::Result<u64> {
    let var = |name: &str| std::env::var(name).ok();
    let number = |name: &str, text: String| {
        text.trim().parse::<u64>().map_err(|_| crate::Usage(format!("--shard env/N: {name}={text} is not a number")))
    };
    if let Some(index) = var("JOB_COMPLETION_INDEX") {
        return Ok(number("JOB_COMPLETION_INDEX", index)? + 1);
    }
    if let Some(id) = var("SLURM_ARRAY_TASK_ID") {
        let min = var("SLURM_ARRAY_TASK_MIN").map_or(Ok(0), |m| number("SLURM_ARRAY_TASK_MIN", m))?;
        let id = number("SLURM_ARRAY_TASK_ID", id)?;
        return id.checked_sub(min).map(|i| i + 1).ok_or_else(|| {
            crate::Usage(format!("--shard env/N: SLURM_ARRAY_TASK_ID={id} is below SLURM_ARRAY_TASK_MIN={min}")).into()
        });
    }
    Err(crate::Usage(
        "--shard env/N: neither JOB_COMPLETION_INDEX (Kubernetes indexed Job) nor SLURM_ARRAY_TASK_ID (Slurm job array) is set"
            .into(),
    )
    .into())
}

/// Worker threads: at least 1, and at most the number of cores unless `force`d.
pub fn worker_count(jobs: usize, force: bool) -> anyhow::Result<usize> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    if jobs == 0 {
        return Err(crate::Usage("--jobs 0: at least one worker is needed".into()).into());
    }
    if jobs > cores && !force {
        eprintln!("note: --jobs {jobs} is more than the {cores} cores; using {cores} (add --force-jobs to insist)");
        return Ok(cores);
    }
    Ok(jobs.min(MAX_JOBS))
}

/// Threads at most, even when forced.
const MAX_JOBS: usize = 1024;

pub fn run(
    scenario_arg: &str,
    seeds: &str,
    jobs: usize,
    force_jobs: bool,
    swarm: bool,
    shard: Option<&str>,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let jobs = worker_count(jobs, force_jobs)?;
    let spec = seeds;
    let seeds = SeedSet::parse(seeds)
        .ok_or_else(|| crate::Usage(format!("--seeds {spec}: write A..B, A..=B or a list like 3,7,9")))?;
    let seeds = shard_of(seeds, shard)?;
    if seeds.len() == 0 {
        return Err(crate::Usage(format!(
            "--seeds {spec}{}: no seeds to run (A..B excludes B; A must be below B)",
            shard.map_or(String::new(), |s| format!(" --shard {s}"))
        ))
        .into());
    }
    let scenario =
        Arc::new(super::load(scenario_arg, swarm, sim::scenario::budget::Command::Sweep { jobs: jobs as u64 })?);
    let total = seeds.len();
    // With --json, stdout carries only the JSON lines; the summary goes to stderr.
    let say = |line: String| if json { eprintln!("{line}") } else { outln!("{line}") };
    say(format!(
        "sweep: {} ({}), {total} seeds, {jobs} worker(s){}",
        scenario.name,
        scenario.file,
        if swarm { ", swarm faults" } else { "" }
    ));
    let next = AtomicU64::new(0);
    let done = AtomicU64::new(0);
    let results: Mutex<Vec<SeedCheck>> = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(seed) = seeds.get(u128::from(i)) else { break };
                let check = check_seed(&scenario, seed);
                results.lock().expect("no worker panics while holding the lock").push(check);
                let n = done.fetch_add(1, Ordering::Relaxed) + 1;
                progress(n, total);
            });
        }
    });
    if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        eprintln!();
    }
    let mut results = results.into_inner().expect("workers are done");
    results.sort_by_key(|c| c.seed);
    let lines: Vec<SweepLine> = results.iter().flat_map(|check| lines_of(&scenario, check, swarm)).collect();
    if json {
        for line in &lines {
            outln!("{}", serde_json::to_string(line).context("serialising a sweep result")?);
        }
    }
    let (report, failing) = summary(&lines);
    say(report);
    Ok(if failing == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

/// One line of `sweep --json`: one variant of one seed. `sweep-merge` reads them back.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SweepLine {
    /// The scenario file, so that shards of different sweeps are not merged.
    pub scenario: String,
    pub seed: u64,
    pub variant: VariantName,
    pub verdict: String,
    pub promise_kept: bool,
    pub seed_passes: bool,
    pub stop: String,
    pub counts: Counts,
    pub violations: Vec<String>,
    pub faults_not_injected: Vec<String>,
    /// Why the seed fails (every variant of a seed carries the seed's list); empty when it passes.
    pub failures: Vec<String>,
    pub replay: String,
    pub shrink: String,
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VariantName {
    pub runtime: String,
    pub guarantee: String,
    pub sink: String,
}

#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Counts {
    pub reference_rows: usize,
    pub rows: usize,
    pub missing_rows: usize,
    pub duplicate_rows: usize,
    pub wrong_rows: usize,
    pub unexpected_rows: usize,
    pub lost_records: usize,
    pub duplicated_records: usize,
    pub exact_records: usize,
    pub restarts: u32,
    pub checkpoints_completed: usize,
    pub checkpoints_aborted: usize,
}

/// One [`SweepLine`] per variant of a seed.
fn lines_of(scenario: &sim::Scenario, check: &SeedCheck, swarm: bool) -> Vec<SweepLine> {
    check
        .reports
        .iter()
        .map(|r| {
            let o = &r.outcome;
            SweepLine {
                scenario: scenario.file.clone(),
                seed: check.seed,
                variant: VariantName {
                    runtime: r.runtime.label().to_string(),
                    guarantee: r.guarantee.label().to_string(),
                    sink: r.sink.label().to_string(),
                },
                verdict: format!("{:?}", r.class),
                promise_kept: r.verdict,
                seed_passes: check.failures.is_empty(),
                stop: format!("{:?}", r.stop),
                counts: Counts {
                    reference_rows: o.reference_rows,
                    rows: o.rows,
                    missing_rows: o.missing_rows.len(),
                    duplicate_rows: o.duplicate_rows.len(),
                    wrong_rows: o.wrong_rows.len(),
                    unexpected_rows: o.unexpected_rows.len(),
                    lost_records: o.lost_records.len(),
                    duplicated_records: o.duplicated_records.len(),
                    exact_records: o.exact_records,
                    restarts: r.restarts,
                    checkpoints_completed: r.checkpoints_completed,
                    checkpoints_aborted: r.checkpoints_aborted,
                },
                violations: r.violations.clone(),
                faults_not_injected: r.faults_not_injected.clone(),
                failures: check.failures.clone(),
                replay: super::rerun_command("compare", scenario, check.seed, swarm),
                shrink: super::rerun_command("shrink", scenario, check.seed, swarm),
            }
        })
        .collect()
}

/// The report after the header, the same for a sweep and for merged shards of it: outcomes per
/// variant, then every failing seed with its commands. Also: how many seeds failed.
pub fn summary(lines: &[SweepLine]) -> (String, usize) {
    let seeds: BTreeMap<u64, &SweepLine> = lines.iter().map(|l| (l.seed, l)).collect();
    let mut tally: BTreeMap<(String, String), BTreeMap<String, usize>> = BTreeMap::new();
    for l in lines {
        *tally
            .entry((variant_label(&l.variant), l.variant.sink.clone()))
            .or_default()
            .entry(l.verdict.clone())
            .or_default() += 1;
    }
    let total = seeds.len();
    let mut out = format!("\n{:<20} {:<17} outcomes over {total} seeds", "guarantee", "sink");
    for ((g, s), counts) in &tally {
        let counts: Vec<String> = counts.iter().map(|(k, v)| format!("{k} {v}")).collect();
        out.push_str(&format!("\n{g:<20} {s:<17} {}", counts.join(", ")));
    }
    let failing: Vec<&&SweepLine> = seeds.values().filter(|l| !l.failures.is_empty()).collect();
    out.push_str(&format!("\n\n{} of {total} seeds failed", failing.len()));
    for l in &failing {
        out.push_str(&format!("\nseed {}: {}", l.seed, l.failures.join("; ")));
        out.push_str(&format!("\n  replay: {}", l.replay));
        out.push_str(&format!("\n  shrink: {}", l.shrink));
    }
    (out, failing.len())
}

/// `streamlab sweep-merge`: the shard files of one sweep (`sweep --json --shard K/N > FILE`)
/// combined into the report a single sweep of all their seeds prints.
pub fn merge(files: &[std::path::PathBuf]) -> anyhow::Result<ExitCode> {
    if files.is_empty() {
        return Err(crate::Usage("sweep-merge: name the shard files (each the output of `sweep --json`)".into()).into());
    }
    let mut lines: Vec<SweepLine> = Vec::new();
    let mut seen: BTreeMap<(u64, VariantName), String> = BTreeMap::new();
    for file in files {
        let name = file.display().to_string();
        let mut reader = std::io::BufReader::new(std::fs::File::open(file).with_context(|| format!("reading {name}"))?);
        for number in 0.. {
            let Some(line) = read_shard_line(&mut reader, &name, number + 1)? else { break };
            if line.trim().is_empty() {
                continue;
            }
            let line: SweepLine = serde_json::from_str(&line).map_err(|e| {
                crate::Usage(format!("{name}:{}:{}: not a line of `sweep --json`: {e}", number + 1, e.column()))
            })?;
            if let Some(first) = lines.first().filter(|f| f.scenario != line.scenario) {
                return Err(crate::Usage(format!(
                    "{name}:{}: a sweep of {}, but the first file swept {}: shards of different sweeps do not merge",
                    number + 1,
                    line.scenario,
                    first.scenario
                ))
                .into());
            }
            if let Some(other) = seen.insert((line.seed, line.variant.clone()), name.clone()) {
                return Err(crate::Usage(format!(
                    "{name}:{}: seed {} ({} {} sink) is also in {other}: overlapping shards",
                    number + 1,
                    line.seed,
                    line.variant.guarantee,
                    line.variant.sink
                ))
                .into());
            }
            lines.push(line);
        }
    }
    lines.sort_by(|a, b| (a.seed, &a.variant).cmp(&(b.seed, &b.variant)));
    outln!("sweep-merge: {} shard file(s), {} lines", files.len(), lines.len());
    let (report, failing) = summary(&lines);
    outln!("{report}");
    Ok(if failing == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

/// A line of `sweep --json` is about a kilobyte; a seed's failures make it longer, never this
/// long. A longer line (`sweep-merge /dev/zero`) is refused instead of filling memory.
const MAX_SHARD_LINE_BYTES: u64 = 16 << 20;

/// Line `number` of shard file `name`, or None at its end.
fn read_shard_line(reader: &mut impl std::io::BufRead, name: &str, number: usize) -> anyhow::Result<Option<String>> {
    use std::io::{BufRead as _, Read as _};
    let mut bytes = Vec::new();
    reader
        .take(MAX_SHARD_LINE_BYTES + 1)
        .read_until(b'\n', &mut bytes)
        .with_context(|| format!("reading {name}, line {number}"))?;
    if bytes.is_empty() {
        return Ok(None);
    }
    if bytes.len() as u64 > MAX_SHARD_LINE_BYTES {
        return Err(crate::Usage(format!(
            "{name}:{number}: longer than {} MiB: not a line of `sweep --json`",
            MAX_SHARD_LINE_BYTES >> 20
        ))
        .into());
    }
    String::from_utf8(bytes)
        .map(Some)
        .map_err(|e| crate::Usage(format!("{name}:{number}: not UTF-8 (byte {})", e.utf8_error().valid_up_to())).into())
}

/// A variant's guarantee as the sweep's summary names it: Storm's rows carry the runtime.
fn variant_label(v: &VariantName) -> String {
    if v.runtime == sim::scenario::Runtime::Flink.label() {
        v.guarantee.clone()
    } else {
        format!("{} {}", v.runtime, v.guarantee)
    }
}

/// A progress bar on a terminal; nothing when stderr is a file or a pipe (a log would fill with
/// carriage returns).
fn progress(done: u64, total: u128) {
    use std::io::IsTerminal as _;
    if !std::io::stderr().is_terminal() {
        return;
    }
    let width = 40;
    let filled = (u128::from(done) * width as u128 / total.max(1)).min(width as u128) as usize;
    eprint!("\r[{}{}] {done}/{total}", "=".repeat(filled), " ".repeat(width - filled));
    let _ = std::io::stderr().flush();
}
