//! `streamlab sweep`: check many seeds, spread over worker threads (each runs whole seeds, so
//! results do not depend on the number of threads), with a progress bar and a summary.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write as _;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};

use anyhow::Context as _;
use engine::sink::SinkKind;
use sim::run::{check_seed, SeedCheck};
use sim::scenario::error::shown;
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
    let Some(written) = shard else { return Ok(Shard { seeds, first: 0, step: 1 }) };
    // As errors quote it: an argument may hold anything.
    let spec = shown(written);
    let usage = || crate::Usage(format!("--shard {spec}: write K/N with 1 <= K <= N, e.g. 2/4, or env/N"));
    let (k, n) = written.split_once('/').ok_or_else(usage)?;
    let n: u64 = n.trim().parse().map_err(|_| usage())?;
    let from_env = k.trim() == "env";
    let k: u64 = if from_env { shard_index_from_env()? } else { k.trim().parse().map_err(|_| usage())? };
    if from_env && k > n {
        return Err(
            crate::Usage(format!("--shard {spec}: the batch system gives shard {k}, beyond the {n} shards")).into()
        );
    }
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
        text.trim()
            .parse::<u64>()
            .map_err(|_| crate::Usage(format!("--shard env/N: {name}={} is not a number", shown(&text))))
    };
    // A 0-based index of u64::MAX has no 1-based shard number: it is beyond any N anyway.
    let too_large = |name: &str| crate::Usage(format!("--shard env/N: {name} is beyond any number of shards"));
    if let Some(index) = var("JOB_COMPLETION_INDEX") {
        return number("JOB_COMPLETION_INDEX", index)?
            .checked_add(1)
            .ok_or_else(|| too_large("JOB_COMPLETION_INDEX").into());
    }
    if let Some(id) = var("SLURM_ARRAY_TASK_ID") {
        let min = var("SLURM_ARRAY_TASK_MIN").map_or(Ok(0), |m| number("SLURM_ARRAY_TASK_MIN", m))?;
        let id = number("SLURM_ARRAY_TASK_ID", id)?;
        let index = id.checked_sub(min).ok_or_else(|| {
            crate::Usage(format!("--shard env/N: SLURM_ARRAY_TASK_ID={id} is below SLURM_ARRAY_TASK_MIN={min}"))
        })?;
        return index.checked_add(1).ok_or_else(|| too_large("SLURM_ARRAY_TASK_ID").into());
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
    scenario_arg: &super::ScenarioArg,
    seeds: &str,
    jobs: usize,
    force_jobs: bool,
    swarm: bool,
    shard: Option<&str>,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let jobs = worker_count(jobs, force_jobs)?;
    let spec = shown(seeds);
    let seeds = SeedSet::parse(seeds)
        .ok_or_else(|| crate::Usage(format!("--seeds {spec}: write A..B, A..=B or a list like 3,7,9")))?;
    let canonical = canonical_seeds(&seeds);
    let seeds = shard_of(seeds, shard)?;
    if seeds.len() == 0 {
        return Err(crate::Usage(format!(
            "--seeds {spec}{}: no seeds to run (A..B excludes B; A must be below B)",
            shard.map_or(String::new(), |s| format!(" --shard {}", shown(s)))
        ))
        .into());
    }
    let scenario =
        Arc::new(super::load(scenario_arg, swarm, sim::scenario::budget::Command::Sweep { jobs: jobs as u64 })?);
    let scenario_digest = match scenario_arg.path() {
        None => "default".to_string(),
        Some(path) => fnv1a64(&std::fs::read(path).with_context(|| format!("reading {}", path.display()))?),
    };
    let (seeds_named, seed_list) = named_seeds(canonical);
    let of = SweepOf {
        scenario_digest,
        swarm,
        seeds: seeds_named,
        seed_list,
        shard: format!("{}/{}", seeds.first + 1, seeds.step),
        variants: 0, // each seed's lines say how many variants it has
    };
    // A long seed list goes on the first seed's lines only: repeated on every line, a list of
    // N seeds made the output grow as N squared.
    let listed = AtomicBool::new(false);
    let total = seeds.len();
    // With --json, stdout carries only the JSON lines; the summary goes to stderr.
    let say = |line: String| super::say(json, line);
    say(format!(
        "sweep: {} ({}), {total} seeds, {jobs} worker(s){}",
        scenario.name,
        scenario.file,
        if swarm { ", swarm faults" } else { "" }
    ));
    if swarm && !scenario.expect.outcomes.is_empty() {
        say(SWARM_AND_DECLARED_OUTCOMES.to_string());
    }
    // A seed's lines, reported under the lock (so in order): on stdout with --json, and counted.
    let report = |check: SeedCheck, summary: &mut Summary| {
        let first = !listed.swap(true, Ordering::Relaxed);
        let lines = lines_of(&scenario, &check, swarm, &of, first);
        if json {
            for line in &lines {
                outln!("{}", serde_json::to_string(line).expect("a sweep line is plain data"));
            }
        }
        summary.add_seed(&lines);
    };
    let summary = check_in_order(&seeds, jobs, |seed| check_seed(&scenario, seed), report, |n| progress(n, total));
    if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        eprintln!();
    }
    let (text, failing) = summary.report();
    say(text);
    Ok(if failing == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

/// What a swarm sweep of a scenario with declared outcomes checks: each outcome is a claim about
/// the faults the scenario lists (its lesson), and the swarm's faults may change it.
pub const SWARM_AND_DECLARED_OUTCOMES: &str = "note: the scenario declares its outcomes for the faults it lists; unless it declares a swarm of its own, --swarm adds random faults, and a seed fails when its outcome differs from the declared one, whether or not the guarantee's promise is kept (`compare --swarm` on that seed shows each variant's verdict)";

/// Check every seed of `seeds` with `jobs` workers, handing each result to `report` in seed
/// order; `progress` hears how many are done.
fn check_in_order(
    seeds: &Shard,
    jobs: usize,
    check: impl Fn(u64) -> SeedCheck + Sync,
    report: impl Fn(SeedCheck, &mut Summary) + Sync + Copy,
    progress: impl Fn(u64) + Sync,
) -> Summary {
    let next = AtomicU64::new(0);
    let done = AtomicU64::new(0);
    let window = REORDER_WINDOW_PER_WORKER * jobs as u64;
    let in_order = Mutex::new(InOrder::default());
    let advanced = Condvar::new();
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            scope.spawn(|| {
                let _wake = WakeOthersOnPanic(&in_order, &advanced);
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(seed) = seeds.get(u128::from(i)) else { break };
                    let state = in_order.lock().expect("no worker panics while holding the lock");
                    // Not too far ahead of the oldest seed still running: its worker never waits.
                    let state = advanced
                        .wait_while(state, |o| i >= o.next + window && !o.abandoned)
                        .expect("no worker panics while holding the lock");
                    if state.abandoned {
                        break;
                    }
                    drop(state);
                    let result = check(seed);
                    in_order.lock().expect("no worker panics while holding the lock").accept(i, result, report);
                    advanced.notify_all();
                    progress(done.fetch_add(1, Ordering::Relaxed) + 1);
                }
            });
        }
    });
    let state = in_order.into_inner().expect("workers are done");
    debug_assert!(state.waiting.is_empty(), "every seed was reported");
    state.summary
}

/// Seeds that finish out of order wait in `waiting` until every seed before them is reported, so
/// a sweep reports (and prints its JSON lines) in seed order whatever the number of workers.
/// Workers stay within [`REORDER_WINDOW_PER_WORKER`] per worker of the oldest unreported seed, so
/// memory stays bounded however many seeds are swept.
#[derive(Default)]
struct InOrder {
    /// Position of the next seed to report.
    next: u64,
    waiting: BTreeMap<u64, SeedCheck>,
    summary: Summary,
    /// A worker panicked: its seed never comes, so the others stop instead of waiting for it.
    abandoned: bool,
}

/// Wakes the waiting workers when its worker panics (a bug in the simulator), so that the sweep
/// ends with that panic instead of hanging on the seed that never comes.
struct WakeOthersOnPanic<'a>(&'a Mutex<InOrder>, &'a Condvar);

impl Drop for WakeOthersOnPanic<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner).abandoned = true;
            self.1.notify_all();
        }
    }
}

impl InOrder {
    fn accept(&mut self, position: u64, check: SeedCheck, report: impl Fn(SeedCheck, &mut Summary)) {
        self.waiting.insert(position, check);
        while let Some(check) = self.waiting.remove(&self.next) {
            report(check, &mut self.summary);
            self.next += 1;
        }
    }
}

/// How far a worker may run ahead of the oldest seed still running, per worker: wide enough that a
/// slow seed rarely stalls the others, small enough to bound the seeds held (each a few KB).
const REORDER_WINDOW_PER_WORKER: u64 = 256;

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
    /// Which sweep and shard wrote the line, so that `sweep-merge` merges only the shards of one
    /// sweep and notices a shard missing seeds. Added after the first release of `--json`: a line
    /// without it (an older streamlab's) still parses, and `sweep-merge` refuses it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sweep: Option<SweepOf>,
}

/// The sweep a line of `sweep --json` belongs to: what must be the same in every shard of one
/// sweep, and the shard that wrote it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SweepOf {
    /// FNV-1a (64 bits, hex) of the scenario file's bytes: the same path edited between shards
    /// is a different sweep. `default` for the built-in scenario.
    pub scenario_digest: String,
    pub swarm: bool,
    /// The whole sweep's seeds, written canonically (`A..=B` or `3,7,9`), or, for a list longer
    /// than [`SEEDS_INLINE_MAX`], named by its count and digest (see [`named_seeds`]).
    pub seeds: String,
    /// The list that `seeds` names by its digest, in full: only on the lines of a shard's first
    /// seed, which a merge reads first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed_list: Option<String>,
    /// This shard, `K/N` (`1/1` without `--shard`).
    pub shard: String,
    /// Lines per seed (one per variant).
    pub variants: usize,
}

impl SweepOf {
    /// Shard K of N, as written by a sweep.
    fn shard_numbers(&self) -> Option<(u64, u64)> {
        let (k, n) = self.shard.split_once('/')?;
        let (k, n) = (k.parse().ok()?, n.parse().ok()?);
        (1..=n).contains(&k).then_some((k, n))
    }

    /// How `other` is not a shard of the same sweep as `self`, in words; None when it is.
    fn differs_from(&self, other: &SweepOf) -> Option<String> {
        let n = |s: &SweepOf| s.shard_numbers().map(|(_, n)| n);
        if self.scenario_digest != other.scenario_digest {
            Some(format!(
                "scenario digest {}, not {}: a different scenario file, or the file changed between shards",
                shown(&other.scenario_digest),
                shown(&self.scenario_digest)
            ))
        } else if self.swarm != other.swarm {
            let with = |swarm: bool| if swarm { "with --swarm" } else { "without --swarm" };
            Some(format!("swept {}, not {}", with(other.swarm), with(self.swarm)))
        } else if self.seeds != other.seeds {
            Some(format!("seeds {}, not {}", shown(&other.seeds), shown(&self.seeds)))
        } else if n(self) != n(other) {
            Some(format!("shard {}, not one of {} shards", shown(&other.shard), n(self).unwrap_or(0)))
        } else if self.variants != other.variants {
            Some(format!("{} line(s) per seed, not {}", other.variants, self.variants))
        } else {
            None
        }
    }
}

/// The longest seed set every line of `sweep --json` carries in full.
pub const SEEDS_INLINE_MAX: usize = 80;

/// A canonical seed set as a sweep's lines name it: itself when short, else its count and
/// digest, with the list itself to write once (`SweepOf::seed_list`).
fn named_seeds(canonical: String) -> (String, Option<String>) {
    if canonical.len() <= SEEDS_INLINE_MAX {
        return (canonical, None);
    }
    let count = canonical.split(',').count();
    (format!("{count} listed seeds, fnv1a {}", fnv1a64(canonical.as_bytes())), Some(canonical))
}

/// A seed set as `SeedSet::parse` reads it back, the same whichever way it was written.
fn canonical_seeds(seeds: &SeedSet) -> String {
    match seeds {
        SeedSet::Range { first, last, .. } => format!("{first}..={last}"),
        SeedSet::List(list) => list.iter().map(u64::to_string).collect::<Vec<_>>().join(","),
    }
}

/// FNV-1a: stable across builds and platforms (unlike std's hasher), and enough to tell an edited
/// scenario file from its original; not a defence against forgery.
fn fnv1a64(bytes: &[u8]) -> String {
    let hash = bytes.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3));
    format!("{hash:016x}")
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
fn lines_of(scenario: &sim::Scenario, check: &SeedCheck, swarm: bool, of: &SweepOf, first: bool) -> Vec<SweepLine> {
    let seed_list = if first { of.seed_list.clone() } else { None };
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
                sweep: Some(SweepOf { variants: check.reports.len(), seed_list: seed_list.clone(), ..of.clone() }),
            }
        })
        .collect()
}

/// The report after the header, the same for a sweep and for merged shards of it: outcomes per
/// variant, then the failing seeds with their commands. Built one seed at a time, in seed order,
/// so that it does not grow with the number of seeds: the text lists the first
/// [`LISTED_FAILURES_MAX`] failing seeds and counts the rest (`sweep --json` has every one).
#[derive(Default)]
pub struct Summary {
    tally: BTreeMap<(String, String), BTreeMap<String, usize>>,
    seeds: u64,
    failing: u64,
    listed: String,
}

/// The most failing seeds a summary lists with their commands.
pub const LISTED_FAILURES_MAX: u64 = 1_000;

/// The most failures a summary lists for one seed (a seed fails once per variant and invariant).
const FAILURES_LISTED_PER_SEED: usize = 20;

/// Characters of a replay or shrink command listed at most: the command and a path of 4 096
/// bytes (the longest Linux takes) fit.
const COMMAND_CHARS_MAX: usize = 4_400;

impl Summary {
    /// The lines of one seed, one per variant (each carries the seed's failures).
    pub fn add_seed(&mut self, lines: &[SweepLine]) {
        let Some(first) = lines.first() else { return };
        self.seeds += 1;
        for l in lines {
            *self
                .tally
                .entry((variant_label(&l.variant), l.variant.sink.clone()))
                .or_default()
                .entry(l.verdict.clone())
                .or_default() += 1;
        }
        if first.failures.is_empty() {
            return;
        }
        self.failing += 1;
        if self.failing <= LISTED_FAILURES_MAX {
            // The lines may come from files (`sweep-merge`): what is listed is printable and
            // bounded per seed, whatever the files hold.
            let mut failures: Vec<String> =
                first.failures.iter().take(FAILURES_LISTED_PER_SEED).map(|f| shown(f)).collect();
            if first.failures.len() > FAILURES_LISTED_PER_SEED {
                failures.push(format!("… and {} more", first.failures.len() - FAILURES_LISTED_PER_SEED));
            }
            let command = |c: &str| sim::scenario::error::clipped(c, COMMAND_CHARS_MAX);
            let listed = &mut self.listed;
            listed.push_str(&format!("\nseed {}: {}", first.seed, failures.join("; ")));
            listed.push_str(&format!("\n  replay: {}", command(&first.replay)));
            listed.push_str(&format!("\n  shrink: {}", command(&first.shrink)));
        }
    }

    /// The text, and how many seeds failed.
    pub fn report(&self) -> (String, u64) {
        let total = self.seeds;
        let mut out = format!("\n{:<20} {:<17} outcomes over {total} seeds", "guarantee", "sink");
        for ((g, s), counts) in &self.tally {
            let counts: Vec<String> = counts.iter().map(|(k, v)| format!("{k} {v}")).collect();
            out.push_str(&format!("\n{g:<20} {s:<17} {}", counts.join(", ")));
        }
        out.push_str(&format!("\n\n{} of {total} seeds failed", self.failing));
        out.push_str(&self.listed);
        if self.failing > LISTED_FAILURES_MAX {
            out.push_str(&format!(
                "\n... and {} more failing seeds, not listed here: each is a line of `sweep --json`",
                self.failing - LISTED_FAILURES_MAX
            ));
        }
        (out, self.failing)
    }
}

/// `streamlab sweep-merge`: the shard files of one sweep (`sweep --json --shard K/N > FILE`)
/// combined into the report a single sweep of all their seeds prints. Each file is in seed order
/// (a sweep writes it so); the files are merged line by line, holding one line per file, so that
/// shards of millions of seeds merge in constant memory.
pub fn merge(files: &[std::path::PathBuf]) -> anyhow::Result<ExitCode> {
    if files.is_empty() {
        return Err(crate::Usage("sweep-merge: name the shard files (each the output of `sweep --json`)".into()).into());
    }
    let mut shards = files.iter().map(|f| ShardReader::open(f)).collect::<anyhow::Result<Vec<_>>>()?;
    for shard in &mut shards {
        shard.advance()?;
        // Every sweep prints a line per seed and variant: an empty file is a shard that failed
        // (or never ran), and merging it as no seeds would report its seeds as passed.
        if shard.head.is_none() {
            return Err(crate::Usage(format!(
                "{}: no lines: not the output of `sweep --json` (did that shard fail?)",
                shard.name
            ))
            .into());
        }
    }
    check_one_sweep(&shards)?;
    let mut summary = Summary::default();
    let mut seed_lines: Vec<SweepLine> = Vec::new();
    let mut lines = 0u64;
    let mut first_scenario: Option<String> = None;
    // The last line taken: its seed and file, against which the next is checked.
    let mut last: Option<(u64, String)> = None;
    // By seed only: a seed's lines are all in one file, in the order its sweep wrote them (the
    // scenario's variants in declared order, which need not be sorted).
    while let Some(index) = (0..shards.len()).filter(|&i| shards[i].head.is_some()).min_by_key(|&i| shards[i].seed()) {
        let shard = &mut shards[index];
        let (number, line) = shard.head.take().expect("the chosen shard has a line");
        check_merged_line(&shard.name, number, &line, last.as_ref(), first_scenario.as_deref())?;
        first_scenario.get_or_insert_with(|| line.scenario.clone());
        if seed_lines.first().is_some_and(|f| f.seed != line.seed) {
            summary.add_seed(&seed_lines);
            seed_lines.clear();
        }
        last = Some((line.seed, shard.name.clone()));
        seed_lines.push(line);
        lines += 1;
        shard.advance()?;
    }
    summary.add_seed(&seed_lines);
    outln!("sweep-merge: {} shard file(s), {lines} lines", files.len());
    let (report, failing) = summary.report();
    outln!("{report}");
    Ok(if failing == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

/// The next line of the merge must belong to the same sweep as the lines before it, and a seed's
/// lines must all come from one file (a seed in two files: overlapping shards).
fn check_merged_line(
    name: &str,
    number: usize,
    line: &SweepLine,
    last: Option<&(u64, String)>,
    first_scenario: Option<&str>,
) -> anyhow::Result<()> {
    if let Some(first) = first_scenario.filter(|&f| f != line.scenario) {
        return Err(crate::Usage(format!(
            "{name}:{number}: a sweep of {}, but the first line swept {}: shards of different sweeps do not merge",
            shown(&line.scenario),
            shown(first)
        ))
        .into());
    }
    if let Some((_, other)) = last.filter(|(seed, file)| *seed == line.seed && file != name) {
        return Err(crate::Usage(format!(
            "{name}:{number}: seed {} is also in {other}: overlapping shards",
            line.seed
        ))
        .into());
    }
    Ok(())
}

/// A FIFO or a socket is refused before it is opened: opening a FIFO waits for a writer, which
/// for a path named by mistake never comes (`sweep-merge` hung). A device is read, line by line
/// within [`MAX_SHARD_LINE_BYTES`] (`/dev/zero` is refused at its first line).
fn refuse_fifo_or_socket(file: &std::path::Path, name: &str) -> anyhow::Result<()> {
    #[cfg(unix)]
    use std::os::unix::fs::FileTypeExt as _;
    #[cfg(not(unix))]
    let _ = (file, name);
    #[cfg(unix)]
    if std::fs::metadata(file).is_ok_and(|m| m.file_type().is_fifo() || m.file_type().is_socket()) {
        return Err(crate::Usage(format!(
            "{name}: is a FIFO or a socket, not a shard file: give the file `sweep --json` wrote"
        ))
        .into());
    }
    Ok(())
}

/// One shard file being merged: its next line (with its line number), read ahead.
struct ShardReader {
    name: String,
    reader: std::io::BufReader<std::fs::File>,
    number: usize,
    head: Option<(usize, SweepLine)>,
    /// The seed of the line before `head` and the variants of that seed read so far: a file's
    /// seeds increase, and each variant of a seed is there once.
    previous: Option<(u64, BTreeSet<VariantName>)>,
    /// The sweep and shard of the file's first line, which every line repeats.
    of: Option<SweepOf>,
    /// The seeds the shard must hold, one after the other, and how many have begun.
    expected: Option<Shard>,
    begun: u128,
    /// The seed being read and how many of its lines have been.
    current: Option<(u64, usize)>,
}

impl ShardReader {
    fn open(file: &std::path::Path) -> anyhow::Result<ShardReader> {
        let name = sim::scenario::error::printable(&file.display().to_string());
        refuse_fifo_or_socket(file, &name)?;
        let reader = std::io::BufReader::new(std::fs::File::open(file).with_context(|| format!("reading {name}"))?);
        Ok(ShardReader {
            name,
            reader,
            number: 0,
            head: None,
            previous: None,
            of: None,
            expected: None,
            begun: 0,
            current: None,
        })
    }

    /// The seed of the line read ahead (only called when there is one).
    fn seed(&self) -> u64 {
        let (_, line) = self.head.as_ref().expect("called on a shard with a line");
        line.seed
    }

    /// Read the next non-blank line into `head` (None at the end of the file).
    fn advance(&mut self) -> anyhow::Result<()> {
        let name = &self.name;
        loop {
            self.number += 1;
            let Some(text) = read_shard_line(&mut self.reader, name, self.number)? else {
                self.head = None;
                return self.check_complete();
            };
            if text.trim().is_empty() {
                continue;
            }
            let line: SweepLine = serde_json::from_str(&text).map_err(|e| {
                // A line cut short is what a killed sweep or a full disk leaves.
                let cut = if e.is_eof() { " (the file is truncated?)" } else { "" };
                crate::Usage(format!("{name}:{}:{}: not a line of `sweep --json`: {e}{cut}", self.number, e.column()))
            })?;
            self.check_values(&line)?;
            self.check_order(&line)?;
            self.check_sweep(&line)?;
            self.head = Some((self.number, line));
            return Ok(());
        }
    }

    /// A verdict the oracle gives, and a variant of a model, guarantee and sink that streamlab
    /// has: the merge's tally holds a row per variant and a count per verdict, which anything a
    /// file says there would let grow with the file.
    fn check_values(&self, line: &SweepLine) -> anyhow::Result<()> {
        let (name, number) = (&self.name, self.number);
        let one_of = |field: &str, value: &str, known: &[&str]| -> anyhow::Result<()> {
            if known.contains(&value) {
                return Ok(());
            }
            Err(crate::Usage(format!(
                "{name}:{number}: {field} {:?}: not one of {}: not as `sweep --json` writes it",
                shown(value),
                known.join(", ")
            ))
            .into())
        };
        let verdict = serde_json::Value::String(line.verdict.clone());
        if serde_json::from_value::<sim::scenario::OutcomeClass>(verdict).is_err() {
            return Err(crate::Usage(format!(
                "{name}:{number}: verdict {:?}: not an outcome the oracle gives (Exact, Duplicates, Loss, ...)",
                shown(&line.verdict)
            ))
            .into());
        }
        let runtimes: Vec<&str> = sim::runtime::MODELS.iter().map(|m| m.runtime().label()).collect();
        one_of("variant.runtime", &line.variant.runtime, &runtimes)?;
        let guarantees = sim::scenario::Guarantee::ALL.map(|g| g.label());
        one_of("variant.guarantee", &line.variant.guarantee, &guarantees)?;
        let sinks = [SinkKind::Plain, SinkKind::Idempotent, SinkKind::TwoPhaseCommit].map(SinkKind::label);
        one_of("variant.sink", &line.variant.sink, &sinks)
    }

    /// Seeds in increasing order, each variant of a seed once (in the order the sweep wrote them).
    fn check_order(&mut self, line: &SweepLine) -> anyhow::Result<()> {
        let (name, number) = (&self.name, self.number);
        let order = "a file of `sweep --json` is in seed order, each seed and variant once";
        match &mut self.previous {
            Some((seed, _)) if line.seed < *seed => {
                return Err(crate::Usage(format!(
                    "{name}:{number}: seed {} comes after seed {seed}: {order}",
                    line.seed
                ))
                .into());
            }
            Some((seed, variants)) if line.seed == *seed => {
                if !variants.insert(line.variant.clone()) {
                    let v = &line.variant;
                    return Err(crate::Usage(format!(
                        "{name}:{number}: seed {seed} has {} {} with a {} sink twice: {order}",
                        v.runtime, v.guarantee, v.sink
                    ))
                    .into());
                }
            }
            _ => self.previous = Some((line.seed, BTreeSet::from([line.variant.clone()]))),
        }
        Ok(())
    }

    /// A line must carry the sweep of the file's first line, and the seeds must be exactly the
    /// shard's, in order, each with all its variants: a shard cut short (a job killed, a disk
    /// full, a file edited) would otherwise merge as a sweep of fewer seeds that passes.
    fn check_sweep(&mut self, line: &SweepLine) -> anyhow::Result<()> {
        let (name, number) = (&self.name, self.number);
        let refuse =
            |why: String| -> anyhow::Result<()> { Err(crate::Usage(format!("{name}:{number}: {why}")).into()) };
        let Some(of) = &line.sweep else {
            return refuse(
                "no `sweep` field (which sweep and shard wrote the line): written by an older streamlab; sweep the shard again"
                    .into(),
            );
        };
        let Some(first) = &self.of else {
            let written = of.seed_list.as_deref().unwrap_or(&of.seeds);
            let seeds = SeedSet::parse(written).filter(|s| !s.is_empty());
            let (Some(seeds), Some((k, n))) = (seeds, of.shard_numbers()) else {
                let cut = if of.seed_list.is_none() && of.seeds.contains("fnv1a") {
                    ": a list named by its digest is written in full on the first seed's lines, and this file does not begin with them (cut at the front?)"
                } else {
                    ": not as `sweep --json` writes them"
                };
                return refuse(format!("sweep: seeds {:?}, shard {:?}{cut}", shown(&of.seeds), shown(&of.shard)));
            };
            if named_seeds(canonical_seeds(&seeds)).0 != of.seeds {
                return refuse(format!("sweep: the seed list is not the one its name {:?} says", shown(&of.seeds)));
            }
            self.expected = Some(Shard { seeds, first: u128::from(k - 1), step: u128::from(n) });
            self.of = Some(of.clone());
            return self.check_seed(line.seed);
        };
        if let Some(why) = first.differs_from(of) {
            return refuse(format!("not of the same sweep as the file's first line: {why}"));
        }
        if first.shard != of.shard {
            return refuse(format!(
                "shard {}, but the file's first line is of shard {}: a shard file holds one shard",
                shown(&of.shard),
                first.shard
            ));
        }
        self.check_seed(line.seed)
    }

    /// The next line is of `seed`: the seed being read, or the shard's next seed.
    fn check_seed(&mut self, seed: u64) -> anyhow::Result<()> {
        let (name, number) = (&self.name, self.number);
        let of = self.of.as_ref().expect("set from the first line");
        if let Some((current, lines)) = self.current.as_mut().filter(|(current, _)| *current == seed) {
            *lines += 1;
            if *lines > of.variants {
                return Err(crate::Usage(format!(
                    "{name}:{number}: seed {current} has more than its {} line(s), one per variant",
                    of.variants
                ))
                .into());
            }
            return Ok(());
        }
        self.check_seed_finished()?;
        let shard = self.expected.as_ref().expect("set from the first line");
        let (name, number) = (&self.name, self.number);
        match shard.get(self.begun) {
            Some(next) if next == seed => {}
            Some(next) => {
                return Err(crate::Usage(format!(
                    "{name}:{number}: seed {seed}, but the next seed of shard {} of seeds {} is {next}: seeds are missing (a truncated or edited shard file)",
                    of.shard, of.seeds
                ))
                .into())
            }
            None => {
                return Err(crate::Usage(format!(
                    "{name}:{number}: seed {seed} is beyond the seeds of shard {} of seeds {}",
                    of.shard, of.seeds
                ))
                .into())
            }
        }
        self.begun += 1;
        self.current = Some((seed, 1));
        Ok(())
    }

    /// The seed just read has all its lines.
    fn check_seed_finished(&self) -> anyhow::Result<()> {
        let (Some(of), Some((seed, lines))) = (&self.of, self.current) else { return Ok(()) };
        if lines < of.variants {
            return Err(crate::Usage(format!(
                "{}: seed {seed} has {lines} of its {} lines (one per variant): the file is truncated",
                self.name, of.variants
            ))
            .into());
        }
        Ok(())
    }

    /// At the end of the file: every seed of the shard was there.
    fn check_complete(&self) -> anyhow::Result<()> {
        self.check_seed_finished()?;
        let (Some(of), Some(shard)) = (&self.of, &self.expected) else { return Ok(()) };
        if let Some(next) = shard.get(self.begun) {
            return Err(crate::Usage(format!(
                "{}: ends after {} of the {} seeds of shard {} of seeds {} (seed {next} is next): the file is truncated, or its sweep did not finish",
                self.name,
                self.begun,
                shard.len(),
                of.shard,
                of.seeds
            ))
            .into());
        }
        Ok(())
    }
}

/// How many missing shards a merge's error names (the rest are counted).
const MISSING_SHARDS_NAMED: usize = 10;

/// The files' first lines must be of one sweep, with each of its shards in exactly one file.
fn check_one_sweep(shards: &[ShardReader]) -> anyhow::Result<()> {
    let of = |s: &ShardReader| s.of.clone().expect("every file has a first line");
    let (first, first_name) = (of(&shards[0]), &shards[0].name);
    // By shard number, not as written: `01/2` and `1/2` are one shard.
    let mut seen: BTreeMap<u64, &str> = BTreeMap::new();
    for shard in shards {
        let this = of(shard);
        if let Some(why) = first.differs_from(&this) {
            return Err(crate::Usage(format!(
                "{}: not a shard of the same sweep as {first_name}: {why}; shards of different sweeps do not merge",
                shard.name
            ))
            .into());
        }
        let (k, _) = this.shard_numbers().expect("checked on reading");
        if let Some(other) = seen.insert(k, &shard.name) {
            return Err(crate::Usage(format!(
                "{}: shard {} is also {other}: overlapping shards",
                shard.name,
                shown(&this.shard)
            ))
            .into());
        }
    }
    let (_, n) = first.shard_numbers().expect("checked on reading");
    // `n` comes from the file (`1/18446744073709551615`): count the missing shards and name the
    // first few, rather than list 1..=n.
    let missing = u128::from(n) - seen.len() as u128;
    if missing > 0 {
        let named: Vec<String> =
            (1..=n).filter(|k| !seen.contains_key(k)).take(MISSING_SHARDS_NAMED).map(|k| format!("{k}/{n}")).collect();
        let more = match missing - named.len() as u128 {
            0 => String::new(),
            rest => format!(" and {rest} more"),
        };
        return Err(crate::Usage(format!(
            "shard(s) {}{more} of the sweep missing: a merge needs every one of its {n} shards",
            named.join(", ")
        ))
        .into());
    }
    Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;

    fn line(seed: u64, guarantee: &str, verdict: &str, failures: &[&str]) -> SweepLine {
        SweepLine {
            scenario: "s.ron".into(),
            seed,
            variant: VariantName { runtime: "flink".into(), guarantee: guarantee.into(), sink: "plain".into() },
            verdict: verdict.into(),
            promise_kept: failures.is_empty(),
            seed_passes: failures.is_empty(),
            stop: "JobFinished".into(),
            counts: Counts {
                reference_rows: 1,
                rows: 1,
                missing_rows: 0,
                duplicate_rows: 0,
                wrong_rows: 0,
                unexpected_rows: 0,
                lost_records: 0,
                duplicated_records: 0,
                exact_records: 1,
                restarts: 0,
                checkpoints_completed: 0,
                checkpoints_aborted: 0,
            },
            violations: vec![],
            faults_not_injected: vec![],
            failures: failures.iter().map(|f| f.to_string()).collect(),
            replay: format!("replay {seed}"),
            shrink: format!("shrink {seed}"),
            sweep: None,
        }
    }

    /// Counts cover every seed and variant; failing seeds are listed up to the cap, and the rest
    /// are counted, not dropped.
    #[test]
    fn a_summary_counts_every_seed_and_lists_failures_up_to_its_cap() {
        let mut summary = Summary::default();
        let failing = LISTED_FAILURES_MAX + 2;
        for seed in 0..failing + 3 {
            let failures: &[&str] = if seed < failing { &["lost rows"] } else { &[] };
            let verdict = if failures.is_empty() { "Exact" } else { "Lost" };
            summary.add_seed(&[
                line(seed, "exactly-once", verdict, failures),
                line(seed, "at-least-once", "Exact", failures),
            ]);
        }
        let (text, failed) = summary.report();
        assert_eq!(failed, failing);
        assert!(text.contains(&format!("outcomes over {} seeds", failing + 3)), "{text}");
        assert!(text.contains(&format!("Exact 3, Lost {failing}")), "{text}");
        assert!(text.contains(&format!("Exact {}", failing + 3)), "{text}");
        assert_eq!(text.matches("\n  replay: ").count() as u64, LISTED_FAILURES_MAX);
        assert!(text.contains(&format!("seed {}: lost rows", LISTED_FAILURES_MAX - 1)), "{text}");
        assert!(!text.contains(&format!("seed {}: lost rows", LISTED_FAILURES_MAX)), "{text}");
        assert!(text.contains("... and 2 more failing seeds"), "{text}");
    }

    /// A worker that panics ends the sweep with its panic: the workers waiting for its seed (the
    /// window is 512 seeds here, the panic at the sixth) are woken instead of waiting for ever.
    #[test]
    fn a_panicking_seed_ends_the_sweep_instead_of_hanging_it() {
        let (sent, received) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let seeds = Shard { seeds: SeedSet::Range { first: 0, last: 5_000, empty: false }, first: 0, step: 1 };
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                check_in_order(
                    &seeds,
                    2,
                    |seed| {
                        assert_ne!(seed, 5, "a simulated bug");
                        SeedCheck { seed, reports: vec![], failures: vec![] }
                    },
                    |_, _| {},
                    |_| {},
                )
            }));
            sent.send(outcome.is_err()).unwrap();
        });
        // Generous: the 5 001 trivial seeds take milliseconds; a hang never answers.
        let panicked = received.recv_timeout(std::time::Duration::from_secs(300)).expect("the sweep hung");
        assert!(panicked);
    }

    /// Seeds finishing in any order are reported in position order, each once.
    #[test]
    fn results_out_of_order_are_reported_in_order() {
        let mut state = InOrder::default();
        let reported = std::cell::RefCell::new(Vec::new());
        let check = |seed| SeedCheck { seed, reports: vec![], failures: vec![] };
        let report = |c: SeedCheck, _: &mut Summary| reported.borrow_mut().push(c.seed);
        for (position, seed) in [(2, 12), (0, 10), (3, 13), (1, 11)] {
            state.accept(position, check(seed), report);
        }
        assert_eq!(*reported.borrow(), vec![10, 11, 12, 13]);
        assert!(state.waiting.is_empty());
        assert_eq!(state.next, 4);
    }
}
