//! `streamlab sweep`: check many seeds, spread over worker threads (each runs whole seeds, so
//! results do not depend on the number of threads), with a progress bar and a summary.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use anyhow::{bail, Context as _};
use sim::run::{check_seed, SeedCheck};
use sim::scenario::Swarm;
use sim::testing::parse_seeds;

/// The faults `--swarm` adds to a scenario that has none: two crashes, a partition, a latency
/// spike and a slow node somewhere in the run.
fn default_swarm(duration_ms: u64) -> Swarm {
    Swarm {
        crashes: 2,
        partitions: 1,
        latency_spikes: 1,
        slow_nodes: 1,
        from_ms: duration_ms / 10,
        until_ms: (duration_ms * 9 / 10).max(duration_ms / 10 + 1),
        max_outage_ms: 3_000,
        include_job_manager: true,
    }
}

fn shard_of(seeds: Vec<u64>, shard: Option<&str>) -> anyhow::Result<Vec<u64>> {
    let Some(spec) = shard else { return Ok(seeds) };
    let (k, n) = spec.split_once('/').context("--shard takes K/N, e.g. 2/4")?;
    let (k, n): (usize, usize) = (k.trim().parse().context("shard K")?, n.trim().parse().context("shard N")?);
    if n == 0 || k == 0 || k > n {
        bail!("--shard {spec}: need 1 <= K <= N");
    }
    Ok(seeds.into_iter().enumerate().filter(|(i, _)| i % n == k - 1).map(|(_, s)| s).collect())
}

pub fn run(scenario_arg: &str, seeds: &str, jobs: usize, swarm: bool, shard: Option<&str>) -> anyhow::Result<ExitCode> {
    let mut scenario = super::load(scenario_arg)?;
    if swarm && scenario.swarm.is_none() {
        scenario.swarm = Some(default_swarm(scenario.duration_ms));
    }
    let scenario = Arc::new(scenario);
    let seeds =
        parse_seeds(seeds).with_context(|| format!("--seeds {seeds}: write A..B, A..=B or a list like 3,7,9"))?;
    let seeds = shard_of(seeds, shard)?;
    let total = seeds.len();
    outln!(
        "sweep: {} ({}), {total} seeds, {jobs} worker(s){}",
        scenario.name,
        scenario.file,
        if swarm { ", swarm faults" } else { "" }
    );
    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    let results: Mutex<Vec<SeedCheck>> = Mutex::new(Vec::with_capacity(total));
    std::thread::scope(|scope| {
        for _ in 0..jobs.max(1) {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(&seed) = seeds.get(i) else { break };
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

    // Outcomes per guarantee and sink.
    let mut tally: BTreeMap<(String, String), BTreeMap<String, usize>> = BTreeMap::new();
    for check in &results {
        for r in &check.reports {
            *tally
                .entry((r.guarantee.label().to_string(), r.sink.label().to_string()))
                .or_default()
                .entry(format!("{:?}", r.class))
                .or_default() += 1;
        }
    }
    outln!("\n{:<14} {:<17} outcomes over {total} seeds", "guarantee", "sink");
    for ((g, s), counts) in &tally {
        let counts: Vec<String> = counts.iter().map(|(k, v)| format!("{k} {v}")).collect();
        outln!("{g:<14} {s:<17} {}", counts.join(", "));
    }
    let failing: Vec<&SeedCheck> = results.iter().filter(|c| !c.failures.is_empty()).collect();
    outln!("\n{} of {total} seeds failed", failing.len());
    for check in &failing {
        outln!("seed {}: {}", check.seed, check.failures.join("; "));
        outln!("  replay: cargo run --release -- compare {} --seed {}", scenario.file, check.seed);
        outln!("  shrink: cargo run --release -- shrink {} --seed {}", scenario.file, check.seed);
    }
    Ok(if failing.is_empty() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

fn progress(done: usize, total: usize) {
    let width = 40;
    let filled = done * width / total.max(1);
    eprint!("\r[{}{}] {done}/{total}", "=".repeat(filled), " ".repeat(width - filled));
    let _ = std::io::stderr().flush();
}
