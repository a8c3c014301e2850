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

/// A seed list is a set: duplicates run once, in seed order, so `--seeds 8,2,8` reports what
/// `--seeds 2,8` does. With --json the lines come out in seed order whatever the workers do.
#[test]
fn a_seed_list_runs_each_seed_once_in_order() {
    let (ok_listed, listed) = streamlab(&["sweep", SCENARIO, "--seeds", "8,2,8,2", "--jobs", "2"]);
    let (ok_set, set) = streamlab(&["sweep", SCENARIO, "--seeds", "2,8"]);
    assert!(listed.contains("outcomes over 2 seeds"), "{listed}");
    let after_header = |s: &str| s.lines().skip(1).collect::<Vec<_>>().join("\n");
    assert_eq!(after_header(&listed), after_header(&set));
    assert_eq!(ok_listed, ok_set);
    let (_, json) = streamlab(&["sweep", SCENARIO, "--seeds", "1..9", "--json", "--jobs", "2"]);
    let seeds: Vec<u64> =
        json.lines().map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["seed"].as_u64().unwrap()).collect();
    assert!(!seeds.is_empty() && seeds.windows(2).all(|w| w[0] <= w[1]), "{seeds:?}");
    assert_eq!(seeds.iter().collect::<BTreeSet<_>>().len(), 8);
}

/// Issue 11: shards run as separate processes (as a Kubernetes indexed Job or a Slurm job array
/// would run them, the index from the environment), merged by `sweep-merge`, report exactly what
/// one sweep of the same seeds reports; overlapping or foreign shard files are refused.
#[test]
fn merged_shards_report_what_one_sweep_reports() {
    let (ok_all, all) = streamlab(&["sweep", SCENARIO, "--seeds", "1..9"]);
    let dir = std::env::temp_dir().join(format!("streamlab-shards-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut files = Vec::new();
    for index in 0..3 {
        let out = Command::new(env!("CARGO_BIN_EXE_streamlab"))
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .args(["sweep", SCENARIO, "--seeds", "1..9", "--json", "--shard", "env/3"])
            .env("JOB_COMPLETION_INDEX", index.to_string())
            .output()
            .unwrap();
        let file = dir.join(format!("shard-{index}.jsonl"));
        std::fs::write(&file, &out.stdout).unwrap();
        files.push(file.to_str().unwrap().to_string());
    }
    let mut args = vec!["sweep-merge"];
    args.extend(files.iter().map(String::as_str));
    let (ok_merged, merged) = streamlab(&args);
    let after_header = |s: &str| s.lines().skip(1).collect::<Vec<_>>().join("\n");
    assert_eq!(after_header(&merged), after_header(&all), "merged:\n{merged}\nsingle:\n{all}");
    assert_eq!(ok_merged, ok_all);
    assert!(merged.contains("outcomes over 8 seeds"), "{merged}");
    // The same shard twice overlaps.
    let (ok, _) = streamlab(&["sweep-merge", &files[0], &files[0]]);
    assert!(!ok);
    let out = Command::new(env!("CARGO_BIN_EXE_streamlab"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["sweep-merge", &files[0], &files[0]])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("overlapping shards"), "{stderr}");
    // A file out of seed order is not a shard file (the merge reads each file front to back).
    let shuffled = dir.join("shuffled.jsonl");
    let text = std::fs::read_to_string(&files[0]).unwrap();
    std::fs::write(&shuffled, text.lines().rev().map(|l| format!("{l}\n")).collect::<String>()).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_streamlab"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["sweep-merge", shuffled.to_str().unwrap()])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    // Its first line is the shard's last seed: the seeds before it are missing.
    assert!(stderr.contains("shuffled.jsonl:1: seed 7, but the next seed of shard 1/3"), "{stderr}");
    std::fs::remove_dir_all(&dir).unwrap();
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

/// A swarm sweep of a scenario that declares outcomes for its own faults says what a failing
/// seed then means; a sweep without `--swarm`, or of a scenario that declares none, does not.
#[test]
fn a_swarm_sweep_of_declared_outcomes_says_what_they_claim() {
    let note = "note: the scenario declares its outcomes for the faults it lists";
    let (_, swarm) = streamlab(&["sweep", "scenarios/transaction-timeout.ron", "--seeds", "1..3", "--swarm"]);
    assert!(swarm.contains(note), "{swarm}");
    let (_, own) = streamlab(&["sweep", "scenarios/transaction-timeout.ron", "--seeds", "1..3"]);
    assert!(own.contains("outcomes over 2 seeds") && !own.contains(note), "{own}");
    let (_, undeclared) = streamlab(&["sweep", SCENARIO, "--seeds", "1..3", "--swarm"]);
    assert!(undeclared.contains("outcomes over 2 seeds") && !undeclared.contains(note), "{undeclared}");
}

/// A seed whose added faults kept the scenario's own fault from happening says so beside its
/// unmet expectation: transaction-timeout.ron's lesson needs its crash after checkpoint 3, and
/// swarm seed 40001 (a job manager crash at 3.2 s, a 20x slow tm-0) never completes checkpoint 3.
#[test]
fn a_declared_outcome_missed_because_its_fault_never_happened_says_so() {
    let (ok, out) = streamlab(&["sweep", "scenarios/transaction-timeout.ron", "--seeds", "40001", "--swarm"]);
    assert!(!ok, "{out}");
    let line = out.lines().find(|l| l.starts_with("seed 40001:")).expect("seed 40001 fails");
    assert!(
        line.contains("expected Loss, got Exact; the scenario's own fault was not injected: crash tm-0 after checkpoint 3 completed"),
        "{line}"
    );
    let (_, own) = streamlab(&["sweep", "scenarios/transaction-timeout.ron", "--seeds", "1..3"]);
    assert!(!own.contains("not injected"), "{own}");
}

/// A scenario's own crash that met its node already down did nothing, and the clause says so:
/// regional-failover.ron declares Duplicates for its crash of tm-1 at 5.5 s; swarm seed 50062
/// crashes tm-1 at 4155 ms for 2184 ms first (and slows it 18x before), so the file's crash
/// finds tm-1 down and the lane replays nothing new (hostile re-run, session 18).
#[test]
fn a_declared_outcome_missed_because_its_crash_met_the_node_down_says_so() {
    let (ok, out) = streamlab(&["sweep", "scenarios/regional-failover.ron", "--seeds", "50062", "--swarm"]);
    assert!(!ok, "{out}");
    let line = out.lines().find(|l| l.starts_with("seed 50062:")).expect("seed 50062 fails");
    assert!(
        line.contains(
            "expected Duplicates, got Exact; the scenario's own fault was not injected: crash tm-1 at 5.500 s, back \
             after 1 s: not injected, tm-1 was already down (crash tm-1 at 4.155 s, back after 2.184 s)"
        ),
        "{line}"
    );
}

/// `sweep --json` with `args` after the scenario, written to `dir/name`; the file's path.
fn shard_file(dir: &std::path::Path, name: &str, scenario: &str, args: &[&str]) -> String {
    let mut all = vec!["sweep", scenario, "--json"];
    all.extend(args);
    let (_, out) = streamlab(&all);
    let file = dir.join(name);
    std::fs::write(&file, out).unwrap();
    file.to_str().unwrap().to_string()
}

/// `sweep-merge` of `files`: its exit code and stderr.
fn merge(files: &[&str]) -> (Option<i32>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_streamlab"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .arg("sweep-merge")
        .args(files)
        .output()
        .unwrap();
    (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
}

/// A merge takes the shards of one sweep, all of them, each whole: shards of a sweep with
/// --swarm and one without, of another scenario or of the same file edited between shards, of
/// other seeds or another number of shards, a missing shard, and a shard file cut short or with
/// a seed taken out are each refused (exit 2) with the file and the reason.
#[test]
fn sweep_merge_refuses_anything_but_the_whole_shards_of_one_sweep() {
    let dir = std::env::temp_dir().join(format!("streamlab-foreign-shards-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let shard = |name: &str, scenario: &str, args: &[&str]| shard_file(&dir, name, scenario, args);
    let one = shard("one.jsonl", SCENARIO, &["--seeds", "1..9", "--shard", "1/2"]);
    let two = shard("two.jsonl", SCENARIO, &["--seeds", "1..9", "--shard", "2/2"]);
    let (code, stderr) = merge(&[&one, &two]);
    assert_eq!(code, Some(1), "the good merge (with failing seeds): {stderr}");

    let refused = |files: &[&str], file: &str, why: &str| {
        let (code, stderr) = merge(files);
        assert_eq!(code, Some(2), "{stderr}");
        assert!(stderr.contains(file) && stderr.contains(why), "wanted {file} and {why:?}:\n{stderr}");
    };
    let swarm = shard("swarm.jsonl", SCENARIO, &["--seeds", "1..9", "--shard", "2/2", "--swarm"]);
    refused(&[&one, &swarm], &swarm, "swept with --swarm, not without --swarm");
    let other = shard("other.jsonl", "scenarios/transaction-timeout.ron", &["--seeds", "1..9", "--shard", "2/2"]);
    refused(&[&one, &other], &other, "a different scenario file");
    let seeds = shard("seeds.jsonl", SCENARIO, &["--seeds", "1..11", "--shard", "2/2"]);
    refused(&[&one, &seeds], &seeds, "seeds 1..=10, not 1..=8");
    let thirds = shard("thirds.jsonl", SCENARIO, &["--seeds", "1..9", "--shard", "2/3"]);
    refused(&[&one, &thirds], &thirds, "shard 2/3, not one of 2 shards");
    refused(&[&one], "", "shard(s) 2/2 of the sweep missing");

    // The same path, edited between the shards.
    let copy = dir.join("copy.ron");
    std::fs::copy(SCENARIO, &copy).unwrap();
    let copy = copy.to_str().unwrap();
    let before = shard("before.jsonl", copy, &["--seeds", "1..9", "--shard", "1/2"]);
    let text = std::fs::read_to_string(copy).unwrap();
    std::fs::write(copy, format!("{text}\n// edited\n")).unwrap();
    let after = shard("after.jsonl", copy, &["--seeds", "1..9", "--shard", "2/2"]);
    refused(&[&before, &after], &after, "or the file changed between shards");

    // Shard 2/2 (seeds 2, 4, 6, 8; one line each) cut short or missing a seed.
    let text = std::fs::read_to_string(&two).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 4, "{text}");
    let write = |name: &str, text: String| {
        let file = dir.join(name);
        std::fs::write(&file, text).unwrap();
        file.to_str().unwrap().to_string()
    };
    let short = write("short.jsonl", lines[..3].iter().map(|l| format!("{l}\n")).collect());
    refused(&[&one, &short], &short, "ends after 3 of the 4 seeds of shard 2/2 of seeds 1..=8 (seed 8 is next)");
    let cut = write("cut.jsonl", text[..text.len() - 100].to_string());
    refused(&[&one, &cut], &format!("{cut}:4:"), "(the file is truncated?)");
    let gap = write("gap.jsonl", [lines[0], lines[2], lines[3]].iter().map(|l| format!("{l}\n")).collect());
    refused(&[&one, &gap], &format!("{gap}:2:"), "seed 6, but the next seed of shard 2/2 of seeds 1..=8 is 4");
    // A line of an older streamlab does not say which sweep it is of.
    let mut old: serde_json::Value = serde_json::from_str(lines[0]).unwrap();
    old.as_object_mut().unwrap().remove("sweep");
    let old = write("old.jsonl", format!("{old}\n"));
    refused(&[&one, &old], &format!("{old}:1:"), "no `sweep` field");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A long seed list is written in full once, on the lines of a shard's first seed; every line
/// after names it by its count and digest (written on every line, a list of N seeds made the
/// output grow as N squared). The shards of such a sweep still merge into what one sweep of the
/// list reports, and a shard file that lost its first seed's lines is refused.
#[test]
fn a_long_seed_list_is_written_once_and_its_shards_merge() {
    let list: Vec<String> = (0..10).map(|i| (1_000_000_001u64 + 2 * i).to_string()).collect();
    let list = list.join(",");
    assert!(list.len() > 80, "longer than a line carries in full");
    let (ok_all, all) = streamlab(&["sweep", SCENARIO, "--seeds", &list]);
    let dir = std::env::temp_dir().join(format!("streamlab-long-list-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let one = shard_file(&dir, "one.jsonl", SCENARIO, &["--seeds", &list, "--shard", "1/2"]);
    let two = shard_file(&dir, "two.jsonl", SCENARIO, &["--seeds", &list, "--shard", "2/2"]);
    for file in [&one, &two] {
        let text = std::fs::read_to_string(file).unwrap();
        let seed = |line: &str| serde_json::from_str::<serde_json::Value>(line).unwrap()["seed"].as_u64().unwrap();
        let first = seed(text.lines().next().unwrap());
        for line in text.lines() {
            assert_eq!(line.contains(&list), seed(line) == first, "{file}: {line}");
            assert!(line.contains("\"seeds\":\"10 listed seeds, fnv1a "), "{line}");
        }
    }
    let (code, stderr) = merge(&[&one, &two]);
    let merged = streamlab(&["sweep-merge", &one, &two]).1;
    let after_header = |s: &str| s.lines().skip(1).collect::<Vec<_>>().join("\n");
    assert_eq!(after_header(&merged), after_header(&all), "merged:\n{merged}\n{stderr}\nsingle:\n{all}");
    assert_eq!(code == Some(0), ok_all, "{stderr}");
    assert!(merged.contains("outcomes over 10 seeds"), "{merged}");

    let text = std::fs::read_to_string(&two).unwrap();
    let headless = dir.join("headless.jsonl");
    std::fs::write(&headless, text.lines().skip(1).map(|l| format!("{l}\n")).collect::<String>()).unwrap();
    let headless = headless.to_str().unwrap();
    let (code, stderr) = merge(&[&one, headless]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains(headless) && stderr.contains("cut at the front?"), "{stderr}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A sweep writes a seed's lines in the scenario's declared order of variants, which need not
/// sort by name (spark-micro-batch.ron: at-most-once, then at-least-once): `sweep-merge` refused
/// every genuine shard of such a sweep ("seed 1 comes after seed 1", session 16). It takes a
/// seed's lines in the order written and still refuses a variant twice.
#[test]
fn shards_of_variants_declared_out_of_name_order_merge() {
    let scenario = "scenarios/spark-micro-batch.ron";
    let dir = std::env::temp_dir().join(format!("streamlab-unsorted-variants-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let first = shard_file(&dir, "1.jsonl", scenario, &["--seeds", "1..4", "--shard", "1/2"]);
    let second = shard_file(&dir, "2.jsonl", scenario, &["--seeds", "1..4", "--shard", "2/2"]);
    let text = std::fs::read_to_string(&first).unwrap();
    let amo = text.find("\"guarantee\":\"at-most-once\"").expect("an at-most-once line");
    let alo = text.find("\"guarantee\":\"at-least-once\"").expect("an at-least-once line");
    assert!(amo < alo, "the declared order, not sorted by name:\n{text}");
    let (_, all) = streamlab(&["sweep", scenario, "--seeds", "1..4"]);
    let (ok, merged) = streamlab(&["sweep-merge", &first, &second]);
    assert!(ok, "{}", merge(&[&first, &second]).1);
    let after_header = |s: &str| s.lines().skip(1).collect::<Vec<_>>().join("\n");
    assert_eq!(after_header(&merged), after_header(&all), "merged:\n{merged}\nsingle:\n{all}");
    // A seed's variant written twice is still refused.
    let twice = dir.join("twice.jsonl");
    let first_line = text.lines().next().unwrap();
    std::fs::write(&twice, format!("{first_line}\n{text}")).unwrap();
    let (code, stderr) = merge(&[twice.to_str().unwrap(), &second]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("twice.jsonl:2: seed 1 has spark at-most-once with a plain sink twice"), "{stderr}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// What a merge prints comes from the files: a forged shard's failures with a terminal escape and
/// a megabyte of text, and a thousand failures, print escaped and cut to a bounded length; a
/// verdict or variant that no sweep writes (which would give the tally a row per line) is
/// refused, naming the file, line and field.
#[test]
fn sweep_merge_prints_what_a_forged_shard_says_escaped_and_bounded() {
    let dir = std::env::temp_dir().join(format!("streamlab-forged-shard-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // Seed 11 fails (the book's example): its lines carry failures and commands.
    let real = shard_file(&dir, "real.jsonl", SCENARIO, &["--seeds", "11..12"]);
    let text = std::fs::read_to_string(&real).unwrap();
    let forge = |name: &str, edit: &dyn Fn(&mut serde_json::Value)| -> String {
        let lines: Vec<String> = text
            .lines()
            .map(|l| {
                let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
                edit(&mut v);
                v.to_string()
            })
            .collect();
        let file = dir.join(name);
        std::fs::write(&file, lines.join("\n") + "\n").unwrap();
        file.to_str().unwrap().to_string()
    };
    let loud = forge("loud.jsonl", &|v| {
        v["failures"] = serde_json::json!([format!("\u{1b}[2J{}", "x".repeat(1 << 20))]);
        v["replay"] = serde_json::json!(format!("cargo run\u{1b}[31m {}", "y".repeat(1 << 20)));
    });
    let many = forge("many.jsonl", &|v| v["failures"] = serde_json::json!(vec!["a failure"; 1_000]));
    for file in [&loud, &many] {
        let out = Command::new(env!("CARGO_BIN_EXE_streamlab")).args(["sweep-merge", file]).output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(1), "seed 11 fails: {stdout:.2000}");
        assert!(!stdout.contains('\u{1b}'), "an escape printed: {stdout:.2000}");
        assert!(stdout.len() < 20_000, "{} bytes printed for one seed", stdout.len());
    }
    let verdict = forge("verdict.jsonl", &|v| v["verdict"] = serde_json::json!("Exact\u{1b}[2J"));
    let (code, stderr) = merge(&[&verdict]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("verdict.jsonl:1: verdict \"Exact\\\\u{1b}[2J\": not an outcome"), "{stderr}");
    let sink = forge("sink.jsonl", &|v| v["variant"]["sink"] = serde_json::json!("s".repeat(1 << 20)));
    let (code, stderr) = merge(&[&sink]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("sink.jsonl:1: variant.sink \"sssss") && stderr.len() < 2_000, "{stderr:.2000}");
    let _ = std::fs::remove_dir_all(&dir);
}
