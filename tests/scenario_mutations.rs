//! Hostile bytes, in process: every file in `scenarios/` mutated (byte flips, truncations,
//! duplicated blocks, numbers far out of range, deep nesting, very long strings, NUL and other
//! control bytes, line-ending and encoding changes) and taken through what every command does
//! before it runs — read the bytes as UTF-8, parse, validate, estimate each command against the
//! admission budget (with and without `--swarm`) — and then, when `run` is admitted, one run of
//! the scenario's own model under a watchdog. It must never panic; every error must render as
//! `file:line:column: field: message`, with the position inside the file and nothing a terminal
//! would act on; a budget refusal must name its field; an admitted run must end, without an
//! invariant violation, well within the watchdog's limit.
//!
//! `tests/scenario_fuzz.rs` replaces spans of four files with fragments; this one works on the
//! bytes of every shipped file.

use std::path::{Path, PathBuf};
use std::sync::{mpsc, Arc, OnceLock};
use std::time::Duration;

use proptest::prelude::*;
use sim::scenario::budget::{Command, BUDGET_MS};
use sim::scenario::{parse, Budget};
use sim::{Scenario, ScenarioError};

const FILE: &str = "mutated.ron";

/// Cases per `cargo test` (and so per CI run), split over the two tests below so both cores
/// work: 150 each, about 3 s in a debug build. A longer hunt:
/// `STREAMLAB_FUZZ_CASES=20000 cargo test --release --test scenario_mutations`. A failing case is
/// written to `tests/scenario_mutations.proptest-regressions` (commit it: every later run replays
/// it first).
fn cases() -> u32 {
    std::env::var("STREAMLAB_FUZZ_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(300)
}

/// A run is made only when the budget estimates `run` at most this long (release build): the
/// shipped scenarios are at most 2.1 s, a mutation that makes one larger is still parsed and
/// estimated, not run, so that the test stays short.
const RUN_ESTIMATE_MS_MAX: u64 = 2_500;

/// The watchdog on one admitted run: a hang detector, not a measure of speed. The debug test
/// build runs the simulator at opt-level 1: the shipped files take 0.01 to 0.4 s each, and a
/// mutation that sets off a Storm timeout storm until the work limit stops it about 7 s (the
/// burst of `storm-timeout-storm.ron` made to last to the end of the input, estimated 2.1 s).
const RUN_WALL_LIMIT: Duration = Duration::from_secs(60);

/// The shipped scenarios, in name order, read once.
fn shipped() -> &'static [(PathBuf, Vec<u8>)] {
    static FILES: OnceLock<Vec<(PathBuf, Vec<u8>)>> = OnceLock::new();
    FILES.get_or_init(|| {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
        let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
            .expect("scenarios/")
            .map(|e| e.expect("entry").path())
            .filter(|p| p.extension().is_some_and(|e| e == "ron"))
            .collect();
        paths.sort();
        assert!(paths.len() >= 20, "{} scenarios in {}", paths.len(), dir.display());
        paths.into_iter().map(|p| (p.clone(), std::fs::read(&p).expect("read"))).collect()
    })
}

/// Numbers that are out of every field's range, of the wrong kind, or at a type's edge.
const NUMBERS: [&str; 20] = [
    "0",
    "-1",
    "-0",
    "1.5",
    "4294967296",
    "9007199254740993",
    "9223372036854775807",
    "-9223372036854775808",
    "18446744073709551615",
    "18446744073709551616",
    "340282366920938463463374607431768211456",
    "99999999999999999999999999999999999999999999",
    "1e308",
    "-1e400",
    "NaN",
    "inf",
    "0x7fffffffffffffff",
    "0b1111111111111111111111111111111111111111111111111111111111111111",
    "1_000_000_000_000",
    "00000000000000000000000000000000000000007",
];

/// Bytes dropped in at a position: control bytes, a stray quote or bracket, an unclosed comment,
/// multi-byte characters and a lone continuation byte.
const FRAGMENTS: [&[u8]; 14] = [
    b"\0",
    b"\0\0\0\0",
    b"\x1b[2J",
    b"\r",
    b"\"",
    b"(",
    b")",
    b"]",
    b"/*",
    b"r#\"",
    "\u{202e}".as_bytes(),
    "é".as_bytes(),
    b"\x80",
    b"\xef\xbb\xbf",
];

/// One change to a file's bytes; offsets and lengths are taken modulo the bytes' length.
#[derive(Clone, Debug)]
enum Mutation {
    /// XOR one byte with a non-zero mask.
    FlipByte { at: usize, mask: u8 },
    /// Keep only the first `at` bytes.
    Truncate { at: usize },
    /// Copy `len` bytes from `from` and insert them again at `to`.
    DuplicateBlock { from: usize, len: usize, to: usize },
    /// Replace the `nth` number of the file with one of [`NUMBERS`].
    Number { nth: usize, with: usize },
    /// Wrap the `nth` number in `depth` levels of `Some(…)`, `(…)` or `[…]`.
    Nest { nth: usize, depth: usize, kind: usize },
    /// Replace the `nth` string literal's content with `len` copies of a character.
    LongString { nth: usize, len: usize, wide: bool },
    /// Insert one of [`FRAGMENTS`].
    Insert { at: usize, fragment: usize },
    /// Every `\n` as `\r\n`.
    Crlf,
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), 1u8..=255).prop_map(|(at, mask)| Mutation::FlipByte { at, mask }),
        any::<usize>().prop_map(|at| Mutation::Truncate { at }),
        (any::<usize>(), 1usize..400, any::<usize>()).prop_map(|(from, len, to)| Mutation::DuplicateBlock {
            from,
            len,
            to
        }),
        (any::<usize>(), 0..NUMBERS.len()).prop_map(|(nth, with)| Mutation::Number { nth, with }),
        (any::<usize>(), prop_oneof![Just(63usize), Just(64), Just(65), Just(300), Just(20_000)], 0usize..3)
            .prop_map(|(nth, depth, kind)| Mutation::Nest { nth, depth, kind }),
        (any::<usize>(), prop_oneof![Just(0usize), Just(300), Just(70_000), Just(1 << 20)], any::<bool>())
            .prop_map(|(nth, len, wide)| Mutation::LongString { nth, len, wide }),
        (any::<usize>(), 0..FRAGMENTS.len()).prop_map(|(at, fragment)| Mutation::Insert { at, fragment }),
        Just(Mutation::Crlf),
    ]
}

/// Byte ranges of the file's numbers (a digit run with an optional sign, not inside a word).
fn numbers(bytes: &[u8]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let starts =
            bytes[i].is_ascii_digit() && (i == 0 || !(bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'_'));
        if starts {
            let start = if i > 0 && bytes[i - 1] == b'-' { i - 1 } else { i };
            while i < bytes.len() && (bytes[i].is_ascii_digit() || bytes[i] == b'_') {
                i += 1;
            }
            out.push((start, i));
        } else {
            i += 1;
        }
    }
    out
}

/// Byte ranges of the contents of the file's `"…"` strings (outside comments, roughly).
fn strings(bytes: &[u8]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            b'"' => {
                let start = i + 1;
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
                out.push((start, i.min(bytes.len())));
                i += 1;
            }
            _ => i += 1,
        }
    }
    out
}

fn splice(bytes: &mut Vec<u8>, (start, end): (usize, usize), with: &[u8]) {
    bytes.splice(start..end, with.iter().copied());
}

fn apply(bytes: &mut Vec<u8>, m: &Mutation) {
    let len = bytes.len().max(1);
    match *m {
        Mutation::FlipByte { at, mask } => {
            if let Some(b) = bytes.get_mut(at % len) {
                *b ^= mask;
            }
        }
        Mutation::Truncate { at } => bytes.truncate(at % len),
        Mutation::DuplicateBlock { from, len: n, to } => {
            let from = from % len;
            let block: Vec<u8> = bytes.iter().skip(from).take(n).copied().collect();
            let to = to % (bytes.len() + 1);
            splice(bytes, (to, to), &block);
        }
        Mutation::Number { nth, with } => {
            let all = numbers(bytes);
            if !all.is_empty() {
                splice(bytes, all[nth % all.len()], NUMBERS[with].as_bytes());
            }
        }
        Mutation::Nest { nth, depth, kind } => {
            let all = numbers(bytes);
            if !all.is_empty() {
                let (start, end) = all[nth % all.len()];
                let (open, close): (&[u8], &[u8]) = [(&b"Some("[..], &b")"[..]), (b"(", b")"), (b"[", b"]")][kind];
                let number = bytes[start..end].to_vec();
                let mut nested = open.repeat(depth);
                nested.extend_from_slice(&number);
                nested.extend(close.repeat(depth));
                splice(bytes, (start, end), &nested);
            }
        }
        Mutation::LongString { nth, len: n, wide } => {
            let all = strings(bytes);
            if !all.is_empty() {
                let filler = if wide { "界".repeat(n) } else { "x".repeat(n) };
                splice(bytes, all[nth % all.len()], filler.as_bytes());
            }
        }
        Mutation::Insert { at, fragment } => {
            let at = at % (bytes.len() + 1);
            splice(bytes, (at, at), FRAGMENTS[fragment]);
        }
        Mutation::Crlf => {
            let crlf: Vec<u8> =
                bytes.iter().flat_map(|&b| if b == b'\n' { vec![b'\r', b'\n'] } else { vec![b] }).collect();
            *bytes = crlf;
        }
    }
}

/// An error as a command prints it: `file:line:column: field: message`, a position inside the
/// file (a line that exists, a column at most one past its end), and no control characters.
fn check_error(e: &ScenarioError, text_lines: &[usize]) -> Result<(), TestCaseError> {
    let ScenarioError::Invalid { file, line, column, field, message } = e else {
        return Err(TestCaseError::fail(format!("an in-memory parse gave a file-level error: {e}")));
    };
    let shown = e.to_string();
    prop_assert_eq!(file.as_str(), FILE);
    prop_assert!(shown.starts_with(&format!("{FILE}:{line}:{column}: {field}: ")), "{}", shown);
    prop_assert!(!field.is_empty() && !message.is_empty(), "{}", shown);
    prop_assert!(!shown.chars().any(char::is_control), "control characters: {:?}", shown);
    let Some(&chars) = text_lines.get(line - 1) else {
        return Err(TestCaseError::fail(format!("line {line} of {}: {shown}", text_lines.len())));
    };
    prop_assert!(*column >= 1 && *column <= chars + 1, "column {} of a {}-character line: {}", column, chars, shown);
    Ok(())
}

/// Characters per line of `text`, as errors count them (a line ends at `\n`).
fn line_lengths(text: &str) -> Vec<usize> {
    text.split('\n').map(|l| l.chars().count()).collect()
}

/// One run of the scenario's own model on another thread; Err when it is still running after
/// [`RUN_WALL_LIMIT`] (the thread is left behind: the test fails anyway).
fn run_with_watchdog(scenario: Arc<Scenario>) -> Result<Vec<String>, String> {
    let (done, result) = mpsc::channel();
    std::thread::spawn(move || {
        let model = sim::runtime::model(scenario.runtime());
        let report = model.run(&scenario, 1, sim::runtime::RowsAs::Json);
        let _ = done.send(report.violations);
    });
    match result.recv_timeout(RUN_WALL_LIMIT) {
        Ok(violations) => Ok(violations),
        Err(mpsc::RecvTimeoutError::Timeout) => Err(format!("still running after {RUN_WALL_LIMIT:?}")),
        Err(mpsc::RecvTimeoutError::Disconnected) => Err("the run panicked".into()),
    }
}

/// The check on one mutated file.
fn check(file: usize, mutations: &[Mutation]) -> Result<(), TestCaseError> {
    let (path, original) = &shipped()[file];
    let mut bytes = original.clone();
    for m in mutations {
        apply(&mut bytes, m);
    }
    let lossy = String::from_utf8_lossy(&bytes).into_owned();
    let lines = line_lengths(lossy.strip_prefix('\u{feff}').unwrap_or(&lossy));
    let text = match parse::text_of(bytes, FILE) {
        Ok(text) => text,
        Err(e) => return check_error(&e, &lines),
    };
    let lines = line_lengths(&text);
    let scenario = match Scenario::parse_with(&text, FILE, Budget::Off) {
        Ok(s) => s,
        Err(e) => return check_error(&e, &lines),
    };
    // Every command's estimate, as `estimate` prints them, and the refusal `run` and the rest
    // give; again with the seed's random faults added, as `--swarm` does.
    let swarmed = sim::run::with_swarm(scenario.clone());
    for s in [&scenario, &swarmed] {
        for command in Command::ALL {
            let _ = s.admission.workload.estimate(command);
            if let Err(e) = s.admit(command) {
                check_error(&e, &lines)?;
                prop_assert!(e.to_string().contains("--no-budget"), "{} from {}", e, path.display());
            }
        }
    }
    // What `shrink` writes back (its faults spelled out, no swarm) loads again: a file that did
    // not would make shrink say the seed does not fail.
    let scenario = Arc::new(scenario);
    let faults = sim::run::fault_schedule_in_time(&scenario, 1);
    let rendered = sim::shrink::render(&scenario.raw, &scenario, &faults, 1, "rendered");
    if let Err(e) = Scenario::parse_with(&rendered, "rendered.ron", Budget::Off) {
        return Err(TestCaseError::fail(format!(
            "{} mutated by {mutations:?} renders a file that fails: {e}\n{rendered:.3000}",
            path.display()
        )));
    }
    let admitted = scenario.admit(Command::Run { twice: false }).ok();
    if let Some(estimate) = admitted.filter(|e| e.ms <= RUN_ESTIMATE_MS_MAX.min(BUDGET_MS)) {
        let violations = run_with_watchdog(scenario.clone()).map_err(|why| {
            TestCaseError::fail(format!(
                "{why}: {} mutated by {mutations:?} (estimated {} ms)",
                path.display(),
                estimate.ms
            ))
        })?;
        prop_assert!(violations.is_empty(), "{:?}: {} mutated by {:?}", violations, path.display(), mutations);
    }
    Ok(())
}

/// A shipped file and one to three mutations of it.
fn case() -> impl Strategy<Value = (usize, Vec<Mutation>)> {
    (any::<usize>(), prop::collection::vec(mutation(), 1..=3))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases() / 2, ..ProptestConfig::default() })]

    /// Half the cases: those on a file of even index (so both tests together cover every file).
    #[test]
    fn mutated_files_of_even_index_load_or_are_located((file, mutations) in case()) {
        check(file % shipped().len().div_ceil(2) * 2, &mutations)?;
    }

    #[test]
    fn mutated_files_of_odd_index_load_or_are_located((file, mutations) in case()) {
        check(file % (shipped().len() / 2) * 2 + 1, &mutations)?;
    }
}

/// Each mutation does what it says on a small text (the fuzzer's own check).
#[test]
fn the_mutations_change_what_they_name() {
    let text = b"Scenario(name: \"ab\", rate: -12, x: 3_000)".to_vec();
    assert_eq!(numbers(&text).len(), 2);
    let mut t = text.clone();
    apply(&mut t, &Mutation::Number { nth: 1, with: 8 });
    assert_eq!(t, b"Scenario(name: \"ab\", rate: -12, x: 18446744073709551615)");
    let mut t = text.clone();
    apply(&mut t, &Mutation::Nest { nth: 0, depth: 2, kind: 0 });
    assert_eq!(t, b"Scenario(name: \"ab\", rate: Some(Some(-12)), x: 3_000)");
    let mut t = text.clone();
    apply(&mut t, &Mutation::LongString { nth: 0, len: 3, wide: false });
    assert_eq!(t, b"Scenario(name: \"xxx\", rate: -12, x: 3_000)");
    let mut t = text.clone();
    apply(&mut t, &Mutation::DuplicateBlock { from: 0, len: 9, to: 0 });
    assert!(t.starts_with(b"Scenario(Scenario("));
    let mut t = text;
    apply(&mut t, &Mutation::Truncate { at: 9 });
    assert_eq!(t, b"Scenario(");
}
