//! Limits on every number in a file, so that a run fits in memory and time and no arithmetic on
//! input-derived values can overflow. Each limit is checked where the value is read, and the
//! message names the allowed range.
//!
//! Why these bounds make the engine's arithmetic safe:
//! - processing times, durations and intervals are at most [`MAX_TIME_MS`] (1e11 ms, about three
//!   years), so in virtual nanoseconds they are at most 1e17, and sums of up to 90 of them fit in
//!   an `i64`/`u64`;
//! - per-record costs are at most [`MAX_COST_US`] (1 s) and slowdown factors at most
//!   [`MAX_FACTOR`], so `cost × factor` is at most 1e15 ns;
//! - event times (explicit events' `ts`, watermark values, expected windows) may be any time
//!   within ±[`MAX_EVENT_TIME_MS`] (2^53 ms, ±285 000 years, so epoch milliseconds load): they are
//!   only compared and offset by durations (≤ 1e11), which stays far inside `i64`, and every
//!   one is exactly representable as an `f64` (JSON output, charts, Perfetto traces);
//! - counts (keys, partitions, task managers, slots, parallelism, channels, events, faults) are
//!   bounded so that arithmetic on them cannot overflow and what is allocated for them up front
//!   (key names, channels, plans) stays within [`MEMORY_BUDGET_BYTES`]. What a run then needs
//!   (the log, window state, result rows, lineage, timers, the runs a command makes) is
//!   estimated by the admission budget ([`super::budget`]), which `--no-budget` skips.

use super::error::{Locator, ScenarioError};
use super::format::ScenarioFile;

/// The largest scenario file read, in bytes.
pub const MAX_FILE_BYTES: u64 = 64 << 20;
/// The deepest nesting the parser follows (`Not(Not(...))`); real scenarios need about 8.
pub const MAX_NESTING: usize = 64;
/// The memory budget: the admission budget's ([`super::budget::BUDGET_BYTES`]).
pub const MEMORY_BUDGET_BYTES: u64 = super::budget::BUDGET_BYTES;
/// Bytes the in-memory source log takes per event (an upper estimate).
pub const LOG_BYTES_PER_EVENT: u64 = 64;
/// Generated events at most, even with `--no-budget`: the log is built up front, in memory (the
/// admission budget, [`super::budget`], admits about 12 M with a simple pipeline).
pub const MAX_GENERATED_EVENTS: u64 = 100_000_000;
/// Explicit events at most (they are also parsed, and kept as written for `shrink`).
pub const MAX_EXPLICIT_EVENTS: u64 = 1_000_000;
pub const MAX_PARTITIONS: u32 = 10_000;
/// Distinct keys at most (generated keys `k0 ..`, or distinct names in explicit events).
pub const MAX_KEYS: u32 = 1_000_000;
pub const MAX_TASK_MANAGERS: u32 = 1_000;
pub const MAX_SLOTS_PER_TASK_MANAGER: u32 = 1_000;
/// Parallelism of one operator at most.
pub const MAX_PARALLELISM: u32 = 1_000;
/// Pipeline steps at most.
pub const MAX_PIPELINE_STEPS: usize = 1_000;
/// Channels between subtasks at most (an all-to-all edge has `p1 × p2` of them).
pub const MAX_CHANNELS: u64 = 1_000_000;
/// Characters of a name at most (an operator, a sink, a side output, an explicit event's key):
/// names are printed on every row and trace event that is about them, so a name of a megabyte
/// would make a table of a thousand rows a gigabyte.
pub const MAX_NAME_CHARS: usize = 200;
/// Faults listed in the file, and swarm faults of each kind, at most.
pub const MAX_FAULTS: u64 = 10_000;
pub const MAX_WINDOWS_PER_RECORD: i64 = 1_000;
/// Storm's `max_spout_pending` at most.
pub const MAX_SPOUT_PENDING: u64 = 12_000_000;
/// Any processing time, duration, interval or latency in a file, in its unit (ms or µs): about
/// three years in ms.
pub const MAX_TIME_MS: u64 = 100_000_000_000;
/// Any per-record cost (`cost_us`), in µs: one second.
pub const MAX_COST_US: u64 = 1_000_000;
/// A source's one-way fetch latency (`fetch_latency_us`), in µs: one second, far beyond any
/// network between a consumer and its broker.
pub const MAX_FETCH_LATENCY_US: u64 = 1_000_000;
/// Event times (`ts`, `watermark`) lie within ±2^53 ms.
pub const MAX_EVENT_TIME_MS: u64 = 1 << 53;
/// Any multiplier (`factor`, `rate_multiplier`, `*_milli`).
pub const MAX_FACTOR: u64 = 1_000_000;

/// The limit on a numeric field, by its name, and what to call it in a message.
fn limit_of(key: &str) -> Option<(u64, &'static str)> {
    match key {
        "ts" | "watermark" => Some((MAX_EVENT_TIME_MS, "an event time")),
        "cost_us" => Some((MAX_COST_US, "a per-record cost in µs")),
        "fetch_latency_us" => Some((MAX_FETCH_LATENCY_US, "a one-way fetch latency in µs")),
        "factor" | "rate_multiplier" => Some((MAX_FACTOR, "a factor")),
        k if k.ends_with("_milli") => Some((MAX_FACTOR, "a factor")),
        k if k.ends_with("_ppm") => Some((1_000_000, "a probability in parts per million")),
        k if k.ends_with("_mb_per_s") => Some((1_000_000_000, "a rate in MB/s")),
        "ms" | "arrives" | "at" | "At" => Some((MAX_TIME_MS, "a time")),
        "AtNs" => Some((MAX_TIME_MS * 1_000_000, "a time in nanoseconds")),
        k if k.ends_with("_ms") || k.ends_with("_us") => Some((MAX_TIME_MS, "a time or duration")),
        "keys" => Some((MAX_KEYS as u64, "a number of keys")),
        "partitions" | "partition" => Some((MAX_PARTITIONS as u64, "a partition count or index")),
        "task_managers" => Some((MAX_TASK_MANAGERS as u64, "a number of task managers")),
        "slots_per_task_manager" => Some((MAX_SLOTS_PER_TASK_MANAGER as u64, "a number of slots")),
        "parallelism" | "ackers" => Some((MAX_PARALLELISM as u64, "a parallelism")),
        "max_spout_pending" => Some((MAX_SPOUT_PENDING, "a number of tuples in flight")),
        "crashes" | "latency_spikes" | "slow_nodes" => Some((MAX_FAULTS, "a number of faults")),
        _ => None,
    }
}

/// The limit on the field at `path` (`cluster.task_managers`, `pipeline[2].Window.parallelism`),
/// found by its last key.
fn limit_at(path: &str) -> Option<(u64, &'static str)> {
    let (parent, key) = path.rsplit_once('.').unwrap_or(("", path));
    // `partitions` is a count in a generator but also a kind of swarm fault.
    match (key, parent.ends_with("swarm")) {
        ("partitions", true) => Some((MAX_FAULTS, "a number of faults")),
        (key, _) => limit_of(key),
    }
}

/// "an X of N is outside the allowed A ..= B": the one wording for a number beyond its limit.
fn outside(what: &str, written: impl std::fmt::Display, max: u64, signed_range: bool) -> String {
    let range = if signed_range { format!("-{max} ..= {max}") } else { format!("0 ..= {max}") };
    format!("{what} of {written} is outside the allowed {range}")
}

/// The value of an integer literal as RON spells it (sign, `0x`/`0o`/`0b`, `_`), if an i128 holds it.
fn integer_value(written: &str) -> Option<i128> {
    let (sign, unsigned) = match written.strip_prefix('-') {
        Some(rest) => (-1, rest),
        None => (1, written.strip_prefix('+').unwrap_or(written)),
    };
    let (radix, digits) = [("0x", 16), ("0o", 8), ("0b", 2)]
        .into_iter()
        .find_map(|(prefix, radix)| unsigned.strip_prefix(prefix).map(|d| (radix, d)))
        .unwrap_or((10, unsigned));
    i128::from_str_radix(&digits.replace('_', ""), radix).ok().map(|n| sign * n)
}

/// The message for an integer the parser could not store in its field's type (ron's "Integer is
/// out of bounds": `task_managers: 4294967296`, `duration_ms: -1`): the field's limit and allowed
/// range when it has one, as [`check_magnitudes`] words it, else the range of the field's type.
/// `written` is the number as the file spells it.
pub fn out_of_bounds(field: &str, written: &str) -> String {
    let negative = written.starts_with('-');
    // A negative number an i64 holds failed in an unsigned field; only a number beyond i64 can
    // have failed in a signed one.
    let fits_i64 = integer_value(written).is_some_and(|n| i64::try_from(n).is_ok());
    match limit_at(field) {
        Some((max, what)) => outside(what, written, max, negative && !fits_i64),
        // The file's integers are u32, u64 and i64: a non-negative number an i64 holds failed
        // in a u32.
        None if !negative && fits_i64 => format!("{written} is outside the allowed 0 ..= {}", u32::MAX),
        None if negative && fits_i64 => format!("{written} is negative; this field holds 0 or more"),
        // The fields without a limit are counts (u32) and record values (i64).
        None => format!(
            "{written} is outside the allowed 0 ..= {} for a count, {} ..= {} for a value",
            u32::MAX,
            i64::MIN,
            i64::MAX
        ),
    }
}

/// One mechanism for every number with a limit: fields are found by name (`*_ms`, `*_us`, `ts`,
/// `keys`, …, see `limit_of`) in the parsed file, and the error names the field's path and the
/// allowed range. Explicit events are checked where they are resolved (they can be a million).
/// A number too large for its field's type never gets here: the parser refuses it, with the same
/// message ([`out_of_bounds`]).
pub fn check_magnitudes(raw: &ScenarioFile, loc: &Locator) -> Result<(), ScenarioError> {
    fn walk(v: &serde_json::Value, path: &str, loc: &Locator) -> Result<(), ScenarioError> {
        match v {
            serde_json::Value::Object(map) => {
                for (k, child) in map {
                    let child_path = if path.is_empty() { k.clone() } else { format!("{path}.{k}") };
                    let number = child.as_i64().map(i128::from).or_else(|| child.as_u64().map(i128::from));
                    if let (Some((max, what)), Some(n)) = (limit_at(&child_path), number) {
                        if n.unsigned_abs() > u128::from(max) {
                            return Err(loc.error(child_path, outside(what, n, max, n < 0)));
                        }
                    }
                    walk(child, &child_path, loc)?;
                }
            }
            serde_json::Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    walk(item, &format!("{path}[{i}]"), loc)?;
                }
            }
            _ => {}
        }
        Ok(())
    }
    let value = serde_json::to_value(raw).map_err(|e| loc.error("(top level)", e.to_string()))?;
    walk(&value, "", loc)
}
