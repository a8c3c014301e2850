//! `streamlab sweep` and `shrink` as a user runs them: shards split a sweep without changing any
//! seed's verdict, the worker count changes nothing, and a shrunk failing seed still fails.

use std::collections::BTreeSet;
use std::process::Command;

fn streamlab(args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_streamlab"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(args)
        .output()
        .unwrap();
    (out.status.success(), String::from_utf8(out.stdout).unwrap())
}

/// The seeds a sweep reports as failing.
fn failing(stdout: &str) -> BTreeSet<u64> {
    stdout.lines().filter_map(|l| l.strip_prefix("seed ")?.split(':').next()?.parse().ok()).collect()
}

const SCENARIO: &str = "scenarios/exactly-once-plain-sink.ron";

#[test]
fn shards_partition_a_sweep_and_workers_change_nothing() {
    let (ok_all, all) = streamlab(&["sweep", SCENARIO, "--seeds", "1..9"]);
    let (_, all_two_workers) = streamlab(&["sweep", SCENARIO, "--seeds", "1..9", "--jobs", "2"]);
    let (_, first) = streamlab(&["sweep", SCENARIO, "--seeds", "1..9", "--shard", "1/2"]);
    let (_, second) = streamlab(&["sweep", SCENARIO, "--seeds", "1..9", "--shard", "2/2"]);
    let failing_all = failing(&all);
    assert!(!ok_all && !failing_all.is_empty(), "this scenario has failing seeds among 1..9:\n{all}");
    assert_eq!(failing(&all_two_workers), failing_all);
    let (a, b) = (failing(&first), failing(&second));
    assert!(a.is_disjoint(&b));
    assert_eq!(a.union(&b).copied().collect::<BTreeSet<u64>>(), failing_all);
    assert!(all.contains("replay: cargo run --release -- compare"), "{all}");
}

#[test]
fn a_shrunk_seed_still_fails_on_its_own() {
    let (_, all) = streamlab(&["sweep", SCENARIO, "--seeds", "1..9"]);
    let seed = *failing(&all).iter().next().expect("a failing seed");
    let out = std::env::temp_dir().join(format!("streamlab-shrunk-{}-{seed}.ron", std::process::id()));
    let (ok, text) = streamlab(&["shrink", SCENARIO, "--seed", &seed.to_string(), "--out", out.to_str().unwrap()]);
    assert!(ok, "{text}");
    let written = std::fs::read_to_string(&out).unwrap();
    assert!(!written.contains("swarm: Some"), "the shrunk file spells its faults out");
    // The shrunk file alone, as a one-seed sweep, fails the same check.
    let (ok, again) = streamlab(&["sweep", out.to_str().unwrap(), "--seeds", &seed.to_string()]);
    assert!(!ok && again.contains("Duplicates breaks the exactly-once promise"), "{again}");
    std::fs::remove_file(&out).unwrap();
}
