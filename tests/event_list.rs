//! The explicit event list's byte scanner (`sim::scenario::event_list`) against serde on the same
//! text: a file parses to the same scenario, or fails with the same error, whichever reader takes
//! the list. Generated lists mix the spellings the scanner reads with ones it must leave to serde
//! (escapes, block comments, `+5`, `0x10`, `1.0`, struct names, duplicated or unknown fields,
//! truncation).

use proptest::prelude::*;
use sim::scenario::event_list;
use sim::scenario::parse::{parse_file, parse_file_with_serde};
use sim::scenario::SourceData;
use sim::{Scenario, ScenarioError};

const FILE: &str = "events.ron";

fn scenario_with(list: &str) -> String {
    format!("Scenario(\n  name: \"d\",\n  source: Events([{list}]),\n  pipeline: [Source(name: \"in\"), Sink(name: \"out\")],\n)")
}

/// Both readers on `text`: the same parsed file, or the same error.
fn same_as_serde(text: &str) -> Result<(), TestCaseError> {
    let fast = parse_file(text, FILE);
    let serde = parse_file_with_serde(text, FILE);
    match (&fast, &serde) {
        (Ok(a), Ok(b)) => {
            let (a, b) = (serde_json::to_value(a).expect("json"), serde_json::to_value(b).expect("json"));
            prop_assert_eq!(a, b, "{}", text);
        }
        (Err(a), Err(b)) => prop_assert_eq!(a.to_string(), b.to_string(), "{}", text),
        _ => prop_assert!(false, "fast {:?} vs serde {:?} on\n{}", fast.is_ok(), serde.is_ok(), text),
    }
    Ok(())
}

/// Separators, including what the scanner declines (block comments, other whitespace).
fn gap() -> impl Strategy<Value = &'static str> {
    prop_oneof![
        6 => Just(""),
        6 => Just(" "),
        2 => Just("\n"),
        1 => Just("\t"),
        1 => Just("\r\n"),
        1 => Just(" // note, with ) and ]\n"),
        1 => Just("/* c */"),
        1 => Just("/* /* nested */ */"),
        1 => Just("\u{a0}"),
        1 => Just("\u{c}"),
    ]
}

/// Integer spellings: plain, with `_`, and ones only serde may judge.
fn integer() -> impl Strategy<Value = String> {
    prop_oneof![
        8 => (-1_000i64..100_000).prop_map(|n| n.to_string()),
        // Every length up to 19 digits: read eight digits at a time up to 15, byte by byte beyond.
        2 => any::<i64>().prop_map(|n| n.to_string()),
        1 => (0u32..20).prop_map(|digits| "9".repeat(digits as usize + 1)),
        2 => (0u64..10_000_000).prop_map(|n| {
            let digits = n.to_string();
            let (a, b) = digits.split_at(digits.len() / 2);
            format!("{a}_{b}")
        }),
        6 => prop::sample::select(vec![
            "0", "-0", "007", "0_0", "00", "+5", "0x10", "0b1", "0o7", "1.0", "1e3", "5i64", "1_", "1__0", "_1",
            "-_1", "- 1", "9223372036854775807", "9223372036854775808", "-9223372036854775808",
            "-9223372036854775809", "4294967295", "4294967296", "18446744073709551615", "18446744073709551616",
            "99999999999999999999999999", "1_000_000", "-1", "None", "Some(1)", "\"5\"", "'5'",
        ])
        .prop_map(str::to_string),
    ]
}

/// A time: an integer or a clock string.
fn time() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => integer(),
        1 => prop::sample::select(vec!["\"12:04:59\"", "\"12:04:59.123\"", "\"99:99:99\"", "\"1:2:3\"", "\"\"", "r\"12:00:00\""])
            .prop_map(str::to_string),
    ]
}

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        8 => (0u32..6).prop_map(|k| format!("\"k{k}\"")),
        3 => prop::sample::select(vec![
            "\"\"", "\"é ü\"", "\"a\\\"b\"", "\"a\\nb\"", "\"tab\there\"", "\"line\nbreak\"", "r\"k1\"", "r#\"k1\"#",
            "'c'", "k1", "\"\\u{41}\"", "\"k0", "5", "\"k)\"", "\"k]\"",
            // Interned by length: up to 15 bytes packed into an integer, longer ones as strings.
            "\"fifteen_bytes_k\"", "\"sixteen_bytes_ke\"", "\"a key longer than sixteen bytes\"", "\"k0\\u{0}\"",
        ])
        .prop_map(str::to_string),
    ]
}

/// A field as written: its name (mostly the real ones) and a value.
fn field() -> impl Strategy<Value = (String, String)> {
    let name = prop_oneof![
        20 => prop::sample::select(vec!["key", "value", "ts", "arrives", "partition"]),
        1 => prop::sample::select(vec!["keys", "Key", "r#key", "time", "partition_"]),
    ];
    (name, key(), integer(), time()).prop_map(|(name, key, integer, time)| {
        let value = match name {
            "key" => key,
            "ts" | "arrives" => time,
            _ => integer,
        };
        (name.to_string(), value)
    })
}

/// An event: usually the four required fields (and maybe `partition`) in some order, sometimes
/// fields missing, repeated or unknown.
fn event() -> impl Strategy<Value = String> {
    let usual = (key(), integer(), time(), time(), prop::option::of(integer()), any::<prop::sample::Index>()).prop_map(
        |(k, v, ts, arrives, partition, order)| {
            let mut fields = vec![
                ("key".to_string(), k),
                ("value".to_string(), v),
                ("ts".to_string(), ts),
                ("arrives".to_string(), arrives),
            ];
            if let Some(p) = partition {
                fields.push(("partition".to_string(), p));
            }
            let n = fields.len();
            fields.rotate_left(order.index(n));
            fields
        },
    );
    let fields = prop_oneof![8 => usual, 2 => prop::collection::vec(field(), 0..7)];
    (fields, gap(), gap(), any::<bool>(), prop::sample::select(vec!["", "", "", "", "ExplicitEvent", "Event"]))
        .prop_map(|(fields, a, b, trailing, name)| {
            let body: Vec<String> = fields.iter().map(|(n, v)| format!("{a}{n}{b}:{a}{v}{b}")).collect();
            let comma = if trailing && !body.is_empty() { "," } else { "" };
            format!("{name}({}{comma}{a})", body.join(","))
        })
}

fn list() -> impl Strategy<Value = String> {
    (prop::collection::vec((event(), gap()), 0..6), any::<bool>(), prop::sample::select(vec![",", ",", ",", ",,", ";"]))
        .prop_map(|(events, trailing, separator)| {
            let items: Vec<String> = events.iter().map(|(e, g)| format!("{g}{e}{g}")).collect();
            let comma = if trailing && !items.is_empty() { "," } else { "" };
            format!("{}{comma}", items.join(separator))
        })
}

/// Events spelled alike (the same gaps, field order and trailing comma; what a tool writes),
/// their values drawn from every spelling, and now and then one event spelled otherwise: the
/// scanner reads an event against the spelling of the one before.
fn spelled_alike() -> impl Strategy<Value = String> {
    let spelling = (gap(), gap(), any::<prop::sample::Index>(), any::<bool>(), any::<bool>());
    let values = (key(), integer(), time(), time(), integer(), prop::option::weighted(0.1, (gap(), any::<bool>())));
    (spelling, prop::collection::vec(values, 1..12), gap()).prop_map(
        |((a, b, order, partition, trailing), events, between)| {
            let written: Vec<String> = events
                .iter()
                .map(|(k, v, ts, arrives, p, otherwise)| {
                    let mut fields = vec![("key", k), ("value", v), ("ts", ts), ("arrives", arrives)];
                    if partition {
                        fields.push(("partition", p));
                    }
                    let n = fields.len();
                    fields.rotate_left(order.index(n));
                    let (a, b, trailing) = match otherwise {
                        Some((other, flip)) => (*other, b, trailing ^ flip),
                        None => (a, b, trailing),
                    };
                    let body: Vec<String> = fields.iter().map(|(n, v)| format!("{a}{n}{b}:{a}{v}{b}")).collect();
                    format!("({}{}{a})", body.join(","), if trailing { "," } else { "" })
                })
                .collect();
            written.join(&format!(",{between}"))
        },
    )
}

/// Trivia the scanner reads.
fn plain_gap() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec!["", "", " ", " ", "\n", "\t", "\r\n", " // note, with ) and ]\n"])
}

/// Times the scanner reads: integers of every length, clock strings.
fn plain_time() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => any::<i64>().prop_map(|n| n.to_string()),
        4 => (-1_000i64..100_000).prop_map(|n| n.to_string()),
        1 => (0u32..24, 0u32..60, 0u32..60).prop_map(|(h, m, s)| format!("\"{h:02}:{m:02}:{s:02}\"")),
    ]
}

/// The scanner reads `list` (serde is not asked), to the events serde reads.
fn scanner_reads_as_serde(list: &str) -> Result<(), TestCaseError> {
    let text = scenario_with(list);
    let (scanned, _) = event_list::read(&text).expect("the scanner reads a plain list");
    let raw = parse_file_with_serde(&text, FILE).expect("serde reads it");
    let SourceData::Events(expected) = &raw.source else { panic!("events") };
    prop_assert_eq!(&scanned, expected);
    same_as_serde(&text)
}

/// `text`, truncated at `cut` (on a character boundary) if there is one.
fn cut_short(mut text: String, cut: Option<prop::sample::Index>) -> String {
    if let Some(cut) = cut {
        let mut at = cut.index(text.len());
        while !text.is_char_boundary(at) {
            at -= 1;
        }
        text.truncate(at);
    }
    text
}

fn cases() -> u32 {
    std::env::var("STREAMLAB_FUZZ_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(1_000)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    #[test]
    fn generated_lists_read_the_same_as_serde(list in list(), cut in prop::option::weighted(0.1, any::<prop::sample::Index>())) {
        same_as_serde(&cut_short(scenario_with(&list), cut))?;
    }

    #[test]
    fn lists_spelled_alike_read_the_same_as_serde(list in spelled_alike(), cut in prop::option::weighted(0.1, any::<prop::sample::Index>())) {
        same_as_serde(&cut_short(scenario_with(&list), cut))?;
    }

    /// Lists spelled alike in what the scanner reads, now and then an event spelled otherwise:
    /// the scanner reads them all (most events against the one before's spelling), as serde does.
    #[test]
    fn plain_lists_spelled_alike_are_read_by_the_scanner(
        spelling in (plain_gap(), plain_gap(), any::<prop::sample::Index>(), any::<bool>()),
        events in prop::collection::vec(
            (0u32..50, any::<i64>(), plain_time(), plain_time(), 0u32..4, prop::option::weighted(0.15, plain_gap())),
            1..40,
        ),
    ) {
        let (a, b, order, trailing) = spelling;
        let written: Vec<String> = events
            .iter()
            .map(|(k, v, ts, arrives, p, otherwise)| {
                let (k, v, p) = (format!("\"k{k}\""), v.to_string(), p.to_string());
                let mut fields = [("key", &k), ("value", &v), ("ts", ts), ("arrives", arrives), ("partition", &p)];
                fields.rotate_left(order.index(5));
                let a = otherwise.unwrap_or(a);
                let body: Vec<String> = fields.iter().map(|(n, v)| format!("{a}{n}{b}:{a}{v}{b}")).collect();
                format!("({}{}{a})", body.join(","), if trailing { "," } else { "" })
            })
            .collect();
        scanner_reads_as_serde(&written.join(",\n"))?;
    }

    /// The fused reader's cases: keys and integers of every length, times as integers or clock
    /// strings, compact and one-field-a-line spellings, and now and then a value spelled so
    /// that only serde reads it (an escape, `_`, a leading zero, a suffix): the scanner reads the
    /// plain lists as serde does, and any list gives what serde gives.
    #[test]
    fn keys_and_integers_of_every_length_read_as_serde_does(
        pretty in any::<bool>(),
        order in any::<prop::sample::Index>(),
        events in prop::collection::vec(
            (plain_key(), plain_integer(), plain_time(), plain_integer(), 0u32..3,
             prop::option::weighted(0.05, prop::sample::select(vec![
                 "\"a\\nb\"", "1_000", "007", "5i64", "-0", "1.5", "\"k\\\"\"", "0x1f", "\"12:00\"",
             ]))),
            1..30,
        ),
    ) {
        let mut plain = true;
        let written: Vec<String> = events
            .iter()
            .map(|(k, v, ts, arrives, p, odd)| {
                let (mut k, mut v) = (k.clone(), v.to_string());
                if let Some(odd) = odd {
                    plain = false;
                    if odd.starts_with('"') { k = odd.to_string() } else { v = odd.to_string() }
                }
                let arrives = arrives.checked_abs().unwrap_or(0).to_string();
                let mut fields =
                    [("key", k), ("value", v), ("ts", ts.clone()), ("arrives", arrives), ("partition", p.to_string())];
                fields.rotate_left(order.index(5));
                written(pretty, &fields)
            })
            .collect();
        let list = written.join(if pretty { ",\n    " } else { "," });
        if plain {
            scanner_reads_as_serde(&list)?;
        } else {
            same_as_serde(&scenario_with(&list))?;
        }
    }

    /// Events longer than the stretch the fused reader loads without checks (keys of hundreds of
    /// bytes, among short ones and one-field-a-line spellings): read as serde reads them.
    #[test]
    fn events_longer_than_the_fused_readers_window_read_as_serde_does(
        pretty in any::<bool>(),
        events in prop::collection::vec((0usize..600, 0u32..1_000, 0i64..100_000, 0u32..3), 1..12),
    ) {
        let written: Vec<String> = events
            .iter()
            .map(|(length, v, t, p)| {
                let key = format!("\"{}\"", "k".repeat(*length));
                let fields = [("key", key), ("value", v.to_string()), ("ts", t.to_string()), ("arrives", t.to_string()), ("partition", p.to_string())];
                written(pretty, &fields)
            })
            .collect();
        scanner_reads_as_serde(&written.join(if pretty { ",\n    " } else { "," }))?;
    }

    /// Lists in the scanner's own spelling: it reads them (serde is not asked), to the same events.
    #[test]
    fn plain_lists_are_read_by_the_scanner(
        events in prop::collection::vec((0u32..50, any::<i64>(), -1_000_000i64..1_000_000, 0i64..1_000_000, 0u32..4), 1..40),
    ) {
        let written: Vec<String> = events
            .iter()
            .map(|(k, v, ts, arrives, p)| format!("(key: \"k{k}\", value: {v}, ts: {ts}, arrives: {arrives}, partition: {p})"))
            .collect();
        scanner_reads_as_serde(&written.join(",\n"))?;
    }
}

/// Keys of every length around the scanner's packed forms (up to 7 bytes in one 64-bit word, up
/// to 15 in two, longer ones as text), in ASCII and multi-byte characters.
fn plain_key() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => "[a-z0-9_]{0,18}",
        2 => "[a-zé€ü ]{0,9}",
        1 => (0usize..20).prop_map(|n| "k".repeat(n)),
    ]
    .prop_map(|k| format!("\"{k}\""))
}

/// Integers of every number of digits (one word holds up to 7).
fn plain_integer() -> impl Strategy<Value = i64> {
    prop_oneof![
        4 => (0u32..19).prop_flat_map(|digits| 0..10i64.pow(digits)),
        1 => any::<i64>(),
    ]
}

/// An event spelled compactly (every literal within a word) or one field a line (literals longer
/// than a word), as tools write them.
fn written(pretty: bool, fields: &[(&str, String)]) -> String {
    let (open, between, close) = if pretty { ("(\n        ", ",\n        ", ",\n    )") } else { ("(", ",", ")") };
    let body: Vec<String> =
        fields.iter().map(|(n, v)| if pretty { format!("{n}: {v}") } else { format!("{n}:{v}") }).collect();
    format!("{open}{}{close}", body.join(between))
}

#[test]
fn a_list_the_scanner_reads_has_its_keys_interned_in_order_of_first_appearance() {
    let text = scenario_with(
        r#"(key: "b", value: 1, ts: 1, arrives: 1), (ts: "00:00:02", arrives: 2, value: -2, key: "a", partition: 1,),
        // a comment
        (key: "b", value: 1_000, ts: -3, arrives: 3),"#,
    );
    let (events, _) = event_list::read(&text).expect("plain list");
    assert_eq!(events.key_names, ["b", "a"]);
    let events: Vec<_> = events.events().collect();
    let keys: Vec<u32> = events.iter().map(|e| e.key).collect();
    assert_eq!(keys, [0, 1, 0]);
    assert_eq!(events[1].ts_ms, 2_000);
    assert_eq!(events[1].partition, 1);
    assert_eq!(events[2].value, 1_000);
    assert_eq!(events[2].ts_ms, -3);
}

/// The log is each partition's events in order of arrival, equal arrivals in file order: a file
/// listed in that order keeps it, one listed otherwise is sorted (resolve notes the order while
/// building the log and sorts only then).
#[test]
fn the_log_is_in_order_of_arrival_equal_arrivals_in_file_order() {
    let log_of = |list: &str| -> Vec<Vec<(u64, i64)>> {
        let scenario = Scenario::parse(&scenario_with(list), FILE).expect("valid");
        let sim::scenario::LogData::Events(partitions) = &scenario.log else { panic!("explicit events") };
        partitions.iter().map(|p| p.iter().map(|e| (e.append_ns / 1_000_000, e.value)).collect()).collect()
    };
    // Partition 0 in order, partition 1's second event arriving before its first.
    let two_partitions = r#"(key: "a", value: 1, ts: 0, arrives: 1), (key: "a", value: 2, ts: 0, arrives: 1, partition: 1),
        (key: "a", value: 3, ts: 0, arrives: 2), (key: "a", value: 4, ts: 0, arrives: 0, partition: 1),"#;
    assert_eq!(log_of(two_partitions), [vec![(1, 1), (2, 3)], vec![(0, 4), (1, 2)]]);
    let shuffled = r#"(key: "a", value: 1, ts: 0, arrives: 5), (key: "a", value: 2, ts: 0, arrives: 3),
        (key: "a", value: 3, ts: 0, arrives: 5), (key: "a", value: 4, ts: 0, arrives: 3), (key: "a", value: 5, ts: 0, arrives: 9),"#;
    assert_eq!(log_of(shuffled), [vec![(3, 2), (3, 4), (5, 1), (5, 3), (9, 5)]]);
    let sorted = r#"(key: "a", value: 1, ts: 0, arrives: 1), (key: "a", value: 2, ts: 0, arrives: 1), (key: "a", value: 3, ts: 0, arrives: 4),"#;
    assert_eq!(log_of(sorted), [vec![(1, 1), (1, 2), (4, 3)]]);
}

/// A key long enough that the event's next field lies beyond the fused reader's window, holding
/// at the window's length before that field a copy of the rest of the event with other values:
/// loads there must come from the text, not wrap around the window into the key.
#[test]
fn a_field_beyond_the_fused_readers_window_is_read_from_the_text() {
    let event = |key: &str, n: u32| format!("(key:\"{key}\",value:{n}{n}{n},ts:{n},arrives:{n},partition:{})", n % 3);
    // The window starts after the event's `(`: the key's text at 5, its closing quote at 5 + 300,
    // `,value:` at 306, which is 256 (the window's reach) after the key's byte 45.
    let decoy = format!("{},(", &event("", 9)[7..]);
    let key = format!("{}{decoy}{}", "x".repeat(45), "x".repeat(300 - 45 - decoy.len()));
    let list = [event("a", 1), event(&key, 2), event("b", 3), event(&key, 4), event("c", 5)].join(",");
    scanner_reads_as_serde(&list).expect("the scanner reads the list as serde does");
    let (events, _) = event_list::read(&scenario_with(&list)).expect("plain list");
    let values: Vec<i64> = events.events().map(|e| e.value).collect();
    assert_eq!(values[1], 222);
    assert_eq!(values[3], 444);
}

#[test]
fn the_list_is_found_by_structure_not_by_text() {
    // `Events([` in a string before the real list, and a source that is a generator.
    let decoy = r#"Scenario(name: "source: Events([(key: \"x\")])", source: Events([(key: "a", value: 1, ts: 1, arrives: 1)]), pipeline: [Source(name: "in"), Sink(name: "out")])"#;
    let (events, _) = event_list::read(decoy).expect("read");
    assert_eq!(events.key_names, ["a"]);
    same_as_serde(decoy).expect("same");
    let generator = r#"Scenario(name: "Events([", source: Generator((rate_per_s: 10)), pipeline: [Source(name: "in"), Sink(name: "out")])"#;
    assert!(event_list::read(generator).is_none());
    same_as_serde(generator).expect("same");
}

/// A broken list (an event after [`GOOD`]) is reported at `file:line:column` with the field, whichever reader saw it.
fn check_error(list: &str, field: &str, token: &str, message_contains: &str) {
    let text = scenario_with(list);
    let error = Scenario::parse(&text, FILE).expect_err("broken");
    let ScenarioError::Invalid { file, line, column, field: got_field, message } = &error else {
        panic!("expected Invalid, got {error:?}");
    };
    assert_eq!(file, FILE);
    assert_eq!(got_field, field, "{error}");
    assert!(message.contains(message_contains), "`{message_contains}` not in: {error}");
    // The broken event follows a good one: look for the token after it.
    let after = text.find(GOOD).map_or(0, |at| at + GOOD.len());
    let offset = after + text[after..].find(token).unwrap_or_else(|| panic!("`{token}` not in the text"));
    let before = &text[..offset];
    assert_eq!(*line, before.matches('\n').count() + 1, "{error}");
    let token_column = offset - before.rfind('\n').map_or(0, |n| n + 1) + 1;
    assert!(
        (token_column..=token_column + token.len()).contains(column),
        "column {column} vs `{token}` at {token_column}: {error}"
    );
}

const GOOD: &str = r#"(key: "a", value: 1, ts: 5, arrives: 10), "#;

#[test]
fn a_truncated_list_is_an_error_at_the_end_of_the_file() {
    let text = format!("Scenario(\n  name: \"d\",\n  source: Events([{GOOD}(key: \"b\", val");
    let error = Scenario::parse(&text, FILE).expect_err("truncated");
    let ScenarioError::Invalid { line, .. } = &error else { panic!("{error:?}") };
    assert_eq!(*line, 3, "{error}");
    assert!(error.to_string().starts_with(&format!("{FILE}:3:")), "{error}");
}

#[test]
fn a_bad_key_string_names_the_key() {
    check_error(
        &format!("{GOOD}(key: 5, value: 1, ts: 5, arrives: 10)"),
        "source.Events[1].key",
        "5, value: 1, ts: 5, arrives: 10)",
        "string",
    );
    check_error(
        &format!("{GOOD}(key: \"a\\nb\", value: 1, ts: 5, arrives: 10)"),
        "source.Events[1].key",
        "\"a\\nb\"",
        "control",
    );
}

#[test]
fn a_wrong_field_name_lists_the_fields() {
    check_error(
        &format!("{GOOD}(key: \"a\", valu: 1, ts: 5, arrives: 10)"),
        "source.Events[1].valu",
        "valu",
        "expected one of `key`, `value`",
    );
}

#[test]
fn a_value_out_of_range_names_its_field() {
    check_error(
        &format!("{GOOD}(key: \"a\", value: 1, ts: 5, arrives: 10, partition: 4294967296)"),
        "source.Events[1].partition",
        "4294967296",
        "",
    );
    check_error(
        &format!("{GOOD}(key: \"a\", value: 9223372036854775808, ts: 5, arrives: 10)"),
        "source.Events[1].value",
        "9223372036854775808",
        "",
    );
    check_error(
        &format!("{GOOD}(key: \"a\", value: 1, ts: 5, arrives: -10)"),
        "source.Events[1].arrives",
        "-10",
        "arrival",
    );
    check_error(
        &format!("{GOOD}(key: \"a\", value: 1, ts: 9007199254740993, arrives: 10)"),
        "source.Events[1].ts",
        "9007199254740993",
        "event time",
    );
    check_error(
        &format!("{GOOD}(key: \"a\", value: 1, ts: 5, arrives: 10, partition: 10000)"),
        "source.Events[1].partition",
        "10000",
        "partition",
    );
}

#[test]
fn a_missing_field_is_named() {
    check_error(
        &format!("{GOOD}(key: \"a\", value: 1, arrives: 10)"),
        "source.Events[1]",
        ")",
        "missing field named `ts`",
    );
}

#[test]
fn a_duplicated_field_is_named() {
    check_error(
        &format!("{GOOD}(key: \"a\", value: 1, value: 2, ts: 5, arrives: 10)"),
        "source.Events[1].value",
        "value: 2",
        "duplicate",
    );
}
