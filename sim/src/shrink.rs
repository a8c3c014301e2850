//! Shrinking a failing seed: reduce its fault schedule (drop faults, shorten outages) and its
//! input (shorter run, lower rate, fewer keys) while the same check keeps failing, then write a
//! scenario file with the remaining faults spelled out, so it fails without the swarm's draws.

use std::sync::Arc;

use crate::faults::{to_spec, Fault};
use crate::run::{check_with_faults, fault_schedule_in_time};
use crate::scenario::{Scenario, ScenarioFile, SourceData};

/// One way to make the input smaller; false when it cannot.
type InputStep = fn(&mut ScenarioFile) -> bool;

/// What shrinking found.
#[derive(Clone, Debug)]
pub struct Shrunk {
    /// The failures of the shrunk scenario: the original's first failure's check, and none that
    /// the original passed.
    pub failures: Vec<String>,
    pub faults_before: usize,
    pub faults_after: usize,
    /// Each accepted reduction, in order.
    pub steps: Vec<String>,
    /// The shrunk scenario as a file, checked to fail when parsed back.
    pub file_text: String,
}

/// The part of a failure message that names the check: the variant and what failed it (its
/// first two `:`-separated fields: "exactly-once with a plain sink: Duplicates breaks the
/// exactly-once promise", "…: run stopped", "…: invariant violated"), so shrinking keeps failing
/// the same check rather than any check of the same variant (a case of duplicates must not
/// shrink into one that stops at the time limit).
fn signature(failure: &str) -> &str {
    match failure.match_indices(':').nth(1) {
        Some((end, _)) => &failure[..end],
        None => failure,
    }
}

/// What a reduction must keep: the check it shrinks (the first failure's [`signature`]) failing,
/// and no check failing that did not fail before (with several variants declared, dropping the
/// fault that one variant's outcome needs would fail that outcome too: the file would then fail
/// checks the original passes).
struct Target {
    check: String,
    failing_before: std::collections::BTreeSet<String>,
}

impl Target {
    fn of(failures: &[String]) -> Option<Target> {
        Some(Target {
            check: signature(failures.first()?).to_string(),
            failing_before: failures.iter().map(|f| signature(f).to_string()).collect(),
        })
    }

    fn failed_by(&self, failures: &[String]) -> bool {
        failures.iter().any(|f| signature(f) == self.check)
            && failures.iter().all(|f| self.failing_before.contains(signature(f)))
    }
}

fn fails_same(scenario: &Arc<Scenario>, seed: u64, faults: &[Fault], target: &Target) -> Option<Vec<String>> {
    let check = check_with_faults(scenario, seed, faults.to_vec());
    target.failed_by(&check.failures).then_some(check.failures)
}

/// Render a scenario file: the raw file with `faults` spelled out, no swarm, the seed pinned.
pub fn render(raw: &ScenarioFile, scenario: &Scenario, faults: &[Fault], seed: u64, note: &str) -> String {
    let mut file = raw.clone();
    file.faults = faults.iter().map(|f| to_spec(f, &scenario.plan)).collect();
    file.swarm = None;
    file.seed = Some(seed);
    let config = ron::ser::PrettyConfig::new().struct_names(true).depth_limit(4);
    let body = ron::ser::to_string_pretty(&file, config).expect("a scenario always serialises");
    format!("// {note}\n{body}\n")
}

fn reparse(text: &str, name: &str) -> Option<Arc<Scenario>> {
    Scenario::parse(text, name).ok().map(Arc::new)
}

/// Shrink seed `seed` of `scenario`, which must fail [`crate::run::check_seed`]. `None` when it
/// does not fail. A reduction is kept when the first failure's check still fails and no other
/// check fails that passed before. Every candidate is rendered to text and parsed back, so the file written is
/// exactly what was checked.
pub fn shrink(scenario: &Arc<Scenario>, seed: u64) -> Option<Shrunk> {
    let mut faults = fault_schedule_in_time(scenario, seed);
    let faults_before = faults.len();
    let first = check_with_faults(scenario, seed, faults.clone());
    let target = Target::of(&first.failures)?;
    let mut failures = first.failures.clone();
    let mut steps = Vec::new();
    let mut raw = scenario.raw.clone();
    let name = format!("{} (shrunk)", scenario.file);
    // From here on every candidate is the rendered file (schedule spelled out, no swarm).
    let current = reparse(&render(&raw, scenario, &faults, seed, ""), &name)?;

    // 1. Drop faults one at a time, as long as one can go.
    let mut i = 0;
    while i < faults.len() {
        let mut candidate = faults.clone();
        let removed = candidate.remove(i);
        if let Some(f) = fails_same(&current, seed, &candidate, &target) {
            steps.push(format!("dropped: {}", removed.describe(scenario)));
            faults = candidate;
            failures = f;
        } else {
            i += 1;
        }
    }
    // 2. Shorten what remains: outages and windows halve while the failure holds.
    for i in 0..faults.len() {
        for _ in 0..12 {
            let Some(shorter) = halve(&faults[i]) else {
                break;
            };
            let mut candidate = faults.clone();
            candidate[i] = shorter;
            match fails_same(&current, seed, &candidate, &target) {
                Some(f) => {
                    steps.push(format!("shortened: {}", candidate[i].describe(scenario)));
                    faults = candidate;
                    failures = f;
                }
                None => break,
            }
        }
    }
    // 3. Shrink the input: a shorter run, a lower rate, fewer keys.
    let input_steps: [(&str, InputStep); 3] = [
        ("halved duration_ms", |f| {
            let ok = f.duration_ms >= 2_000;
            f.duration_ms /= 2;
            ok
        }),
        ("halved rate_per_s", |f| match &mut f.source {
            SourceData::Generator(g) if g.rate_per_s >= 20 => {
                g.rate_per_s /= 2;
                true
            }
            _ => false,
        }),
        ("halved keys", |f| match &mut f.source {
            SourceData::Generator(g) if g.keys >= 2 => {
                g.keys /= 2;
                if let crate::scenario::KeySkew::Hot { keys, .. } = &mut g.key_skew {
                    *keys = (*keys).min(g.keys).max(1);
                }
                true
            }
            _ => false,
        }),
    ];
    for (label, step) in input_steps {
        for _ in 0..8 {
            let mut candidate = raw.clone();
            if !step(&mut candidate) {
                break;
            }
            let Some(parsed) = reparse(&render(&candidate, scenario, &faults, seed, ""), &name) else {
                break;
            };
            match fails_same(&parsed, seed, &faults, &target) {
                Some(f) => {
                    steps.push(label.to_string());
                    raw = candidate;
                    failures = f;
                }
                None => break,
            }
        }
    }
    let note = format!(
        "Shrunk by `streamlab shrink {} --seed {seed}`: {} of {faults_before} faults remain. Fails: {}",
        scenario.file,
        faults.len(),
        failures.first().map(String::as_str).unwrap_or("")
    );
    let file_text = render(&raw, scenario, &faults, seed, &note);
    // The file must fail on its own, with its faults spelled out and no swarm.
    let written = reparse(&file_text, &name)?;
    let check = crate::run::check_seed(&written, seed);
    if !target.failed_by(&check.failures) {
        return None;
    }
    Some(Shrunk { failures: check.failures, faults_before, faults_after: faults.len(), steps, file_text })
}

/// The fault with its outage halved, or None when it cannot get shorter.
fn halve(fault: &Fault) -> Option<Fault> {
    const MS: u64 = 1_000_000;
    let half = |from: u64, until: u64| -> Option<u64> {
        let len = (until - from) / MS;
        (len >= 2).then(|| from + len / 2 * MS)
    };
    Some(match fault.clone() {
        Fault::Crash { node, at, restart_after_ns: Some(d) } if d >= 2 * MS => {
            Fault::Crash { node, at, restart_after_ns: Some(d / MS / 2 * MS) }
        }
        Fault::Partition { a, b, from_ns, until_ns } => {
            Fault::Partition { a, b, from_ns, until_ns: half(from_ns, until_ns)? }
        }
        Fault::LatencySpike { link, from_ns, until_ns, extra_ns } => {
            Fault::LatencySpike { link, from_ns, until_ns: half(from_ns, until_ns)?, extra_ns }
        }
        Fault::MessageLoss { link, from_ns, until_ns, loss_ppm, retransmit_ns } => {
            Fault::MessageLoss { link, from_ns, until_ns: half(from_ns, until_ns)?, loss_ppm, retransmit_ns }
        }
        Fault::SlowNode { node, from_ns, until_ns, factor } => {
            Fault::SlowNode { node, from_ns, until_ns: half(from_ns, until_ns)?, factor }
        }
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::signature;

    #[test]
    fn a_signature_names_the_variant_and_what_failed_it() {
        let duplicates = "exactly-once with a plain sink: Duplicates breaks the exactly-once promise";
        let stopped = "exactly-once with a plain sink: run stopped: time limit (max_run_ms) at 63.500 s";
        let stopped_later = "exactly-once with a plain sink: run stopped: time limit (max_run_ms) at 70.000 s";
        let violated = "exactly-once with a plain sink: invariant violated: 4 (commit of an unknown transaction)";
        assert_eq!(signature(duplicates), duplicates);
        assert_ne!(signature(duplicates), signature(stopped));
        assert_ne!(signature(stopped), signature(violated));
        assert_eq!(signature(stopped), signature(stopped_later));
        assert_eq!(signature(stopped), "exactly-once with a plain sink: run stopped");
    }
}
