//! Property: with a perfect watermark, the streaming result equals a naive batch computation of
//! the same windows, however disordered the input arrives.
//!
//! Each case writes a scenario *as text* (the RON format users write) with an explicit list of
//! random events (keys, values, event times, arrival times), one of three watermark set-ups that
//! are perfect by construction, a random window kind and aggregate, and a random window
//! parallelism; it runs the scenario and compares the sink rows with windows computed here the
//! slow, obvious way.

use std::collections::BTreeMap;
use std::sync::Arc;

use engine::Firing;
use proptest::prelude::*;
use sim::{RunOptions, Scenario, StopReason};

#[derive(Clone, Debug)]
struct Event {
    key: &'static str,
    value: i64,
    ts: i64,
    /// Arrival in multiples of 10 ms (so that explicit watermarks fit between arrivals).
    arrives: i64,
}

#[derive(Clone, Copy, Debug)]
enum Kind {
    Tumbling { size: i64 },
    Sliding { size: i64, slide: i64 },
    Session { gap: i64 },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Agg {
    Count,
    Sum,
    Min,
    Max,
    AvgMilli,
}

#[derive(Clone, Copy, Debug)]
enum Marks {
    /// No watermarks: every window fires at end of input.
    None,
    /// An explicit schedule: between arrivals, the watermark is just below the smallest event
    /// time still to come.
    Explicit,
    /// Bounded out-of-orderness with a bound no record exceeds, emitted after every record.
    Bounded,
}

fn event() -> impl Strategy<Value = Event> {
    (prop::sample::select(vec!["a", "b", "c"]), -5i64..20, -1_000i64..2_000, 0i64..60)
        .prop_map(|(key, value, ts, slot)| Event { key, value, ts, arrives: slot * 10 })
}

fn kind() -> impl Strategy<Value = Kind> {
    prop_oneof![
        (1i64..500).prop_map(|size| Kind::Tumbling { size }),
        // At most 10 windows per record: keeps the cases small.
        (2i64..500, 1i64..=10).prop_map(|(size, per)| Kind::Sliding { size, slide: (size / per).max(1) }),
        (1i64..300).prop_map(|gap| Kind::Session { gap }),
    ]
}

fn agg() -> impl Strategy<Value = Agg> {
    prop::sample::select(vec![Agg::Count, Agg::Sum, Agg::Min, Agg::Max, Agg::AvgMilli])
}

fn marks() -> impl Strategy<Value = Marks> {
    prop::sample::select(vec![Marks::None, Marks::Explicit, Marks::Bounded])
}

/// Events in the order the source reads them: by arrival, file order among equal arrivals.
fn read_order(events: &[Event]) -> Vec<Event> {
    let mut sorted = events.to_vec();
    sorted.sort_by_key(|e| e.arrives);
    sorted
}

/// How far a watermark must stay behind the next event time. Fixed windows only need the
/// watermark below it (`ts > W`). A session that fired at W may still be *touched* by a record at
/// `W + 1` (Flink's `intersects` counts touching windows as overlapping), which batch would merge
/// but the stream would not (the fired session is already cleaned up with allowed lateness 0),
/// so for sessions the watermark stays one more millisecond behind.
fn margin(kind: Kind) -> i64 {
    match kind {
        Kind::Session { .. } => 2,
        _ => 1,
    }
}

fn watermarks_text(marks: Marks, kind: Kind, events: &[Event]) -> String {
    let ordered = read_order(events);
    match marks {
        Marks::None => "None".to_string(),
        Marks::Explicit => {
            let mut entries = Vec::new();
            let mut arrivals: Vec<i64> = ordered.iter().map(|e| e.arrives).collect();
            arrivals.dedup();
            for at in arrivals {
                // Everything arriving after `at` has an event time of at least `lowest`.
                let Some(lowest) = ordered.iter().filter(|e| e.arrives > at).map(|e| e.ts).min() else {
                    continue;
                };
                entries.push(format!("(at: {}, watermark: {})", at + 5, lowest - margin(kind)));
            }
            format!("Explicit([{}])", entries.join(", "))
        }
        Marks::Bounded => {
            // W = max_ts - bound - 1 must stay below every later record's ts (minus the margin).
            let mut max_seen = i64::MIN;
            let mut bound = 0;
            for e in &ordered {
                if max_seen != i64::MIN {
                    bound = bound.max(max_seen - e.ts + margin(kind) - 1);
                }
                max_seen = max_seen.max(e.ts);
            }
            format!("BoundedOutOfOrderness(bound_ms: {bound}, emit: PerRecord)")
        }
    }
}

fn scenario_text(events: &[Event], kind: Kind, agg: Agg, marks: Marks, parallelism: u32) -> String {
    let events_text: Vec<String> = events
        .iter()
        .map(|e| format!("(key: {:?}, value: {}, ts: {}, arrives: {})", e.key, e.value, e.ts, e.arrives))
        .collect();
    let kind_text = match kind {
        Kind::Tumbling { size } => format!("Tumbling(size_ms: {size})"),
        Kind::Sliding { size, slide } => format!("Sliding(size_ms: {size}, slide_ms: {slide})"),
        Kind::Session { gap } => format!("Session(gap_ms: {gap})"),
    };
    format!(
        r#"Scenario(
    name: "property: windows equal batch",
    source: Events([
        {events}
    ]),
    watermarks: {watermarks},
    pipeline: [
        Source(name: "in"),
        KeyBy(Key),
        Window(name: "w", kind: {kind_text}, aggregate: {agg:?}, parallelism: {parallelism}),
        Sink(name: "out"),
    ],
)"#,
        events = events_text.join(",\n        "),
        watermarks = watermarks_text(marks, kind, events),
    )
}

/// (key, window start, window end) -> values, computed naively.
fn batch_windows(events: &[Event], kind: Kind) -> BTreeMap<(String, i64, i64), Vec<i64>> {
    let mut windows: BTreeMap<(String, i64, i64), Vec<i64>> = BTreeMap::new();
    match kind {
        Kind::Tumbling { size } => {
            for e in events {
                let start = e.ts.div_euclid(size) * size;
                windows.entry((e.key.to_string(), start, start + size)).or_default().push(e.value);
            }
        }
        Kind::Sliding { size, slide } => {
            for e in events {
                // Every multiple of `slide` in (ts - size, ts].
                let lowest = e.ts - size + 1;
                let mut start = lowest.div_euclid(slide) * slide;
                if start < lowest {
                    start += slide;
                }
                while start <= e.ts {
                    windows.entry((e.key.to_string(), start, start + size)).or_default().push(e.value);
                    start += slide;
                }
            }
        }
        Kind::Session { gap } => {
            let mut per_key: BTreeMap<&str, Vec<&Event>> = BTreeMap::new();
            for e in events {
                per_key.entry(e.key).or_default().push(e);
            }
            for (key, mut list) in per_key {
                list.sort_by_key(|e| e.ts);
                let mut current: Option<(i64, i64, Vec<i64>)> = None;
                for e in list {
                    current = Some(match current {
                        // [start, end) and [ts, ts + gap) intersect (touching counts).
                        Some((start, end, mut values)) if e.ts <= end => {
                            values.push(e.value);
                            (start, end.max(e.ts + gap), values)
                        }
                        other => {
                            if let Some((start, end, values)) = other {
                                windows.insert((key.to_string(), start, end), values);
                            }
                            (e.ts, e.ts + gap, vec![e.value])
                        }
                    });
                }
                if let Some((start, end, values)) = current {
                    windows.insert((key.to_string(), start, end), values);
                }
            }
        }
    }
    windows
}

fn aggregate(values: &[i64], agg: Agg) -> i64 {
    let n = values.len() as i64;
    let sum: i64 = values.iter().sum();
    match agg {
        Agg::Count => n,
        Agg::Sum => sum,
        Agg::Min => *values.iter().min().expect("a window has a value"),
        Agg::Max => *values.iter().max().expect("a window has a value"),
        // Thousandths, truncated towards zero like Rust's integer division.
        Agg::AvgMilli => sum * 1000 / n,
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn windows_under_a_perfect_watermark_equal_the_batch_result(
        events in prop::collection::vec(event(), 1..=40),
        kind in kind(),
        agg in agg(),
        marks in marks(),
        parallelism in 1u32..=3,
        seed in any::<u64>(),
    ) {
        let text = scenario_text(&events, kind, agg, marks, parallelism);
        let scenario = Scenario::parse(&text, "(property test)")
            .unwrap_or_else(|e| panic!("generated scenario does not parse: {e}\n{text}"));
        let scenario = Arc::new(scenario);
        let options = RunOptions { keep_trace: false, ..Default::default() };
        let result = sim::run_scenario(scenario.clone(), seed, options);
        prop_assert_eq!(result.stop, StopReason::JobFinished, "{}", text);
        prop_assert_eq!(result.late_dropped(), 0, "a perfect watermark drops nothing\n{}", text);

        let mut got: Vec<(String, i64, i64, i64, Firing)> = result
            .visible_rows()
            .into_iter()
            .map(|r| {
                let w = r.row.window.expect("window results only");
                (scenario.key_name(r.row.key), w.start_ms, w.end_ms, r.row.value, r.row.firing)
            })
            .collect();
        got.sort();
        let mut want: Vec<(String, i64, i64, i64, Firing)> = batch_windows(&events, kind)
            .into_iter()
            .map(|((key, start, end), values)| (key, start, end, aggregate(&values, agg), Firing::OnTime))
            .collect();
        want.sort();
        prop_assert_eq!(got, want, "{}", text);
    }
}
