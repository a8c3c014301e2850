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
    let usage = || crate::Usage(format!("--shard {spec}: write K/N with 1 <= K <= N, e.g. 2/4"));
    let (k, n) = spec.split_once('/').ok_or_else(usage)?;
    let (k, n): (u64, u64) = (k.trim().parse().map_err(|_| usage())?, n.trim().parse().map_err(|_| usage())?);
    if n == 0 || k == 0 || k > n {
        return Err(usage().into());
    }
    Ok(Shard { seeds, first: u128::from(k - 1), step: u128::from(n) })
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
    eprintln!();
    let mut results = results.into_inner().expect("workers are done");
    results.sort_by_key(|c| c.seed);
    if json {
        for check in &results {
            for line in json_lines(&scenario, check, swarm) {
                outln!("{}", serde_json::to_string(&line).context("serialising a sweep result")?);
            }
        }
    }

    // Outcomes per guarantee and sink.
    let mut tally: BTreeMap<(String, String), BTreeMap<String, usize>> = BTreeMap::new();
    for check in &results {
        for r in &check.reports {
            *tally
                .entry((variant_label(r), r.sink.label().to_string()))
                .or_default()
                .entry(format!("{:?}", r.class))
                .or_default() += 1;
        }
    }
    say(format!("\n{:<20} {:<17} outcomes over {total} seeds", "guarantee", "sink"));
    for ((g, s), counts) in &tally {
        let counts: Vec<String> = counts.iter().map(|(k, v)| format!("{k} {v}")).collect();
        say(format!("{g:<20} {s:<17} {}", counts.join(", ")));
    }
    let failing: Vec<&SeedCheck> = results.iter().filter(|c| !c.failures.is_empty()).collect();
    say(format!("\n{} of {total} seeds failed", failing.len()));
    for check in &failing {
        say(format!("seed {}: {}", check.seed, check.failures.join("; ")));
        say(format!("  replay: {}", super::rerun_command("compare", &scenario, check.seed, swarm)));
        say(format!("  shrink: {}", super::rerun_command("shrink", &scenario, check.seed, swarm)));
    }
    Ok(if failing.is_empty() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

/// One JSON object per variant of a seed: what `sweep --json` prints, a line each.
fn json_lines(scenario: &sim::Scenario, check: &SeedCheck, swarm: bool) -> Vec<serde_json::Value> {
    check
        .reports
        .iter()
        .map(|r| {
            let o = &r.outcome;
            serde_json::json!({
                "seed": check.seed,
                "variant": { "runtime": r.runtime.label(), "guarantee": r.guarantee.label(), "sink": r.sink.label() },
                "verdict": format!("{:?}", r.class),
                "promise_kept": r.verdict,
                "seed_passes": check.failures.is_empty(),
                "stop": format!("{:?}", r.stop),
                "counts": {
                    "reference_rows": o.reference_rows,
                    "rows": o.rows,
                    "missing_rows": o.missing_rows.len(),
                    "duplicate_rows": o.duplicate_rows.len(),
                    "wrong_rows": o.wrong_rows.len(),
                    "unexpected_rows": o.unexpected_rows.len(),
                    "lost_records": o.lost_records.len(),
                    "duplicated_records": o.duplicated_records.len(),
                    "exact_records": o.exact_records,
                    "restarts": r.restarts,
                    "checkpoints_completed": r.checkpoints_completed,
                    "checkpoints_aborted": r.checkpoints_aborted,
                },
                "violations": r.violations,
                "faults_not_injected": r.faults_not_injected,
                "failures": check.failures,
                "replay": super::rerun_command("compare", scenario, check.seed, swarm),
                "shrink": super::rerun_command("shrink", scenario, check.seed, swarm),
            })
        })
        .collect()
}

fn progress(done: u64, total: u128) {
    let width = 40;
    let filled = (u128::from(done) * width as u128 / total.max(1)).min(width as u128) as usize;
    eprint!("\r[{}{}] {done}/{total}", "=".repeat(filled), " ".repeat(width - filled));
    let _ = std::io::stderr().flush();
}

/// A variant's guarantee as the sweep's summary names it: Storm's rows carry the runtime.
fn variant_label(r: &sim::run::VariantReport) -> String {
    match r.runtime {
        sim::scenario::Runtime::Flink => r.guarantee.label().to_string(),
        sim::scenario::Runtime::Storm => format!("storm {}", r.guarantee.label()),
    }
}
