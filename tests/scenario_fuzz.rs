//! Bad input gets an error, never a panic: mutated scenario files must either load and run to an
//! end, or be rejected with a located error.

use proptest::prelude::*;
use sim::{RunOptions, Scenario, ScenarioError};

const BASES: [&str; 4] = [
    include_str!("../scenarios/crash-during-checkpoint.ron"),
    include_str!("../scenarios/streaming-systems-lateness.ron"),
    include_str!("../scenarios/cluster-union.ron"),
    include_str!("../scenarios/swarm.ron"),
];

/// Replace a span of a shipped file with a fragment that often breaks it in interesting ways.
fn mutate(base: usize, start: usize, len: usize, fragment: &str) -> String {
    let text = BASES[base % BASES.len()];
    let mut start = start % text.len();
    let mut end = (start + len).min(text.len());
    while !text.is_char_boundary(start) {
        start -= 1;
    }
    while !text.is_char_boundary(end) {
        end += 1;
    }
    format!("{}{}{}", &text[..start], fragment, &text[end..])
}

/// Cases per `cargo test` (and so per CI run, `.ci/run`): 200, a few seconds, split over the two
/// tests below so that both cores work. A longer hunt:
/// `STREAMLAB_FUZZ_CASES=20000 cargo test --release --test scenario_fuzz`. A failing case is
/// written to `tests/scenario_fuzz.proptest-regressions` (committed: every later run replays it
/// first, in both tests: each takes the mutations that start at an even or an odd byte, so
/// both halves hold every shipped file and every fragment).
fn cases() -> u32 {
    std::env::var("STREAMLAB_FUZZ_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(200)
}

/// The check: a mutated file loads and runs to an end without breaking an invariant, or is
/// rejected with an error that names its line, column and field.
fn loads_and_runs_or_is_located(text: &str) -> Result<(), TestCaseError> {
    match Scenario::parse(text, "mutated.ron") {
        Ok(scenario) => {
            // Keep it short: a mutated file may ask for a long run.
            let mut scenario = scenario;
            scenario.max_run_ms = scenario.max_run_ms.min(30_000);
            let result = sim::run_scenario(
                std::sync::Arc::new(scenario),
                1,
                RunOptions { keep_trace: false, ..RunOptions::default() },
            );
            prop_assert!(result.world.violations.is_empty(), "{:?}", result.world.violations);
        }
        Err(ScenarioError::Invalid { line, column, field, message, .. }) => {
            prop_assert!(line >= 1 && column >= 1 && !field.is_empty() && !message.is_empty());
        }
        Err(e) => prop_assert!(false, "unexpected error kind: {e}"),
    }
    Ok(())
}

/// The mutations: a shipped file, a span of it, and what replaces the span.
fn mutation() -> impl Strategy<Value = (usize, usize, usize, &'static str)> {
    (
        0usize..BASES.len(),
        0usize..4_000,
        0usize..12,
        prop_oneof![
            Just(""),
            Just("0"),
            Just("-1"),
            Just("99999999999"),
            Just("("),
            Just(")"),
            Just(","),
            Just("\""),
            Just("x"),
            Just("None"),
            Just("Some(0)"),
            Just("parallelism: 0"),
            Just("[]"),
            Just("12:00:00"),
            Just("\"99:99:99\""),
            Just("18446744073709551615"),
            Just("-9223372036854775808"),
            // Toward the admission budget and the arithmetic bounds.
            Just("100_000_000_000"),
            Just("Sliding(size_ms: 60_000, slide_ms: 1)"),
            Just("keys: 1_000_000"),
            Just("rate_per_s: 1_000_000"),
            Just("\u{feff}"),
            Just("\r\n"),
        ],
    )
}

proptest! {
    // Each test rejects the other half's cases (about as many as it runs) before running any.
    #![proptest_config(ProptestConfig { cases: cases() / 2, max_global_rejects: cases(), ..ProptestConfig::default() })]

    #[test]
    fn mutated_scenarios_are_rejected_or_run_even_starts((base, start, len, fragment) in mutation()) {
        prop_assume!(start % 2 == 0);
        loads_and_runs_or_is_located(&mutate(base, start, len, fragment))?;
    }

    #[test]
    fn mutated_scenarios_are_rejected_or_run_odd_starts((base, start, len, fragment) in mutation()) {
        prop_assume!(start % 2 == 1);
        loads_and_runs_or_is_located(&mutate(base, start, len, fragment))?;
    }
}
