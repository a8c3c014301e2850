//! The scenario's source checked and resolved: a generator's parameters, or explicit events
//! checked one by one and built into the source log every run shares. Every error names the field
//! path (`source.Events[3].arrives`) and points at it in the file.

use std::sync::Arc;

use engine::ms_to_ns;

use super::error::{Locator, ScenarioError};
use super::format::*;
use super::limits::*;
use super::pipeline::check_name;
use super::LogData;
use crate::external::LogEntry;

/// The source, checked: its partitions, the log (built here from explicit events) and key names.
pub fn resolve(raw: &ScenarioFile, loc: &Locator) -> Result<(u32, LogData, Vec<String>), ScenarioError> {
    match &raw.source {
        SourceData::Generator(g) => {
            let at = |f: &str| format!("source.Generator.{f}");
            if g.partitions == 0 {
                return Err(loc.error(at("partitions"), "the log needs at least one partition"));
            }
            if raw.duration_ms == 0 {
                return Err(loc.error("duration_ms", "a generator needs duration_ms >= 1"));
            }
            if g.rate_per_s == 0 {
                return Err(loc.error(at("rate_per_s"), "rate_per_s must be at least 1"));
            }
            // The log is built up front, in memory: an absolute limit on the number of events
            // (the admission budget, `budget`, usually refuses far fewer).
            let burst = g.bursts.iter().map(|b| b.rate_multiplier).max().unwrap_or(1).max(1);
            let events = u128::from(g.rate_per_s) * u128::from(raw.duration_ms) / 1000 * u128::from(burst);
            if events > u128::from(MAX_GENERATED_EVENTS) {
                return Err(loc.error(
                    at("rate_per_s"),
                    format!(
                        "{} events/s for {} ms (bursts up to x{burst}) could generate {events} events; the limit is {MAX_GENERATED_EVENTS} (about {} MiB of log), even with --no-budget",
                        g.rate_per_s,
                        raw.duration_ms,
                        (MAX_GENERATED_EVENTS * LOG_BYTES_PER_EVENT) >> 20
                    ),
                ));
            }
            if g.keys == 0 {
                return Err(loc.error(at("keys"), "keys must be at least 1"));
            }
            if let KeySkew::Hot { keys, share_ppm } = g.key_skew {
                if keys == 0 || keys > g.keys || share_ppm > 1_000_000 {
                    return Err(loc.error(
                        at("key_skew.Hot"),
                        format!("Hot needs 1 <= keys <= {} and share_ppm <= 1000000", g.keys),
                    ));
                }
            }
            if let ValueDist::Uniform { min, max } = g.value {
                if min > max {
                    return Err(loc.error(at("value.Uniform"), format!("min ({min}) is larger than max ({max})")));
                }
            }
            g.disorder.delay.check().map_err(|m| loc.error(at("disorder.delay"), m))?;
            if g.disorder.very_late_ppm > 1_000_000 {
                return Err(loc.error(at("disorder.very_late_ppm"), "a probability in ppm is at most 1000000"));
            }
            for (i, idle) in g.idle_partitions.iter().enumerate() {
                if idle.partition >= g.partitions {
                    return Err(loc.error(
                        format!("source.Generator.idle_partitions[{i}].partition"),
                        format!("no partition {}; they are 0 .. {}", idle.partition, g.partitions - 1),
                    ));
                }
                if idle.from_ms > idle.until_ms {
                    return Err(loc.error(
                        format!("source.Generator.idle_partitions[{i}].until_ms"),
                        "needs from_ms <= until_ms",
                    ));
                }
            }
            for (i, b) in g.bursts.iter().enumerate() {
                if b.rate_multiplier == 0 {
                    return Err(loc
                        .error(format!("source.Generator.bursts[{i}].rate_multiplier"), "needs rate_multiplier >= 1"));
                }
                if b.from_ms > b.until_ms {
                    return Err(
                        loc.error(format!("source.Generator.bursts[{i}].until_ms"), "needs from_ms <= until_ms")
                    );
                }
            }
            let key_names = (0..g.keys).map(|k| format!("k{k}")).collect();
            Ok((g.partitions, LogData::Generator(g.clone()), key_names))
        }
        SourceData::Events(events) => {
            if events.is_empty() {
                return Err(loc.error("source.Events", "an explicit event list needs at least one event"));
            }
            if events.len() as u64 > MAX_EXPLICIT_EVENTS {
                return Err(loc.error(
                    "source.Events",
                    format!(
                        "{} explicit events; at most {MAX_EXPLICIT_EVENTS} (use a Generator for more)",
                        events.len()
                    ),
                ));
            }
            let log = explicit_log(events, loc)?;
            let partitions = log.len() as u32;
            Ok((partitions, LogData::Events(Arc::new(log)), events.key_names.clone()))
        }
    }
}

/// The source log of explicit events, built here once (every run shares it), each event checked
/// on the way: each partition's events in order of arrival, equal arrivals in file order.
fn explicit_log(events: &ExplicitEvents, loc: &Locator) -> Result<Vec<Vec<LogEntry>>, ScenarioError> {
    // Each partition allocated at its size (a partition out of range is reported below).
    let mut log: Vec<Vec<LogEntry>> = events.partition_sizes.iter().map(|&n| Vec::with_capacity(n)).collect();
    // Keys were interned while parsing, in order of first appearance: an event whose key number
    // is the next one brings a new key, checked at that event.
    let mut keys_seen: usize = 0;
    // Files usually list events in order of arrival, and then each partition is in order too:
    // noting it (one comparison per event) spares a pass over the log and the sort's buffer.
    let (mut in_arrival_order, mut last_arrival_ms) = (true, 0);
    for (i, e) in events.events.iter().enumerate() {
        // Most events are in range and bring no new key: one test, and the checks that name the
        // field only for the rest.
        let in_range =
            arrival_in_range(e.arrives_ms) && event_time_in_range(e.ts_ms) && partition_in_range(e.partition);
        if !in_range || e.key as usize == keys_seen {
            check_event(events, i, &mut keys_seen, loc)?;
        }
        in_arrival_order &= last_arrival_ms <= e.arrives_ms;
        last_arrival_ms = e.arrives_ms;
        // In range (checked). The parser counted it in `partition_sizes`; a list built some other
        // way may not have, so a partition beyond them is added here (cold, bounded by the check).
        let partition = e.partition as usize;
        if partition >= log.len() {
            log.resize_with(partition + 1, Vec::new);
        }
        log[partition].push(LogEntry {
            append_ns: ms_to_ns(e.arrives_ms as u64),
            key: u64::from(e.key),
            value: e.value,
            timestamp_ms: e.ts_ms,
        });
    }
    // Stable: events with equal arrival keep file order.
    if !in_arrival_order {
        for entries in &mut log {
            if !entries.is_sorted_by_key(|e| e.append_ns) {
                entries.sort_by_key(|e| e.append_ns);
            }
        }
    }
    Ok(log)
}

/// An explicit event's arrival (processing time) is within 0 ..= [`MAX_TIME_MS`].
#[inline(always)]
fn arrival_in_range(arrives_ms: i64) -> bool {
    // A negative time is above the limit as a `u64`.
    arrives_ms as u64 <= MAX_TIME_MS
}

/// An explicit event's event time is within ±[`MAX_EVENT_TIME_MS`].
#[inline(always)]
fn event_time_in_range(ts_ms: i64) -> bool {
    ts_ms.unsigned_abs() <= MAX_EVENT_TIME_MS
}

#[inline(always)]
fn partition_in_range(partition: u32) -> bool {
    partition < MAX_PARTITIONS
}

/// The checks of explicit event `i` that name its field: its times and partition in range, and
/// a key it brings first (the next after `keys_seen`, which it counts) within the limit and a
/// valid name.
#[inline(never)]
fn check_event(events: &ExplicitEvents, i: usize, keys_seen: &mut usize, loc: &Locator) -> Result<(), ScenarioError> {
    let e = &events.events[i];
    let at = |f: &str| format!("source.Events[{i}].{f}");
    if !arrival_in_range(e.arrives_ms) {
        return Err(
            loc.error(at("arrives"), format!("an arrival time (processing time) is within 0 ..= {MAX_TIME_MS} ms"))
        );
    }
    if !event_time_in_range(e.ts_ms) {
        return Err(loc.error(
            at("ts"),
            format!("an event time is within -{MAX_EVENT_TIME_MS} ..= {MAX_EVENT_TIME_MS} ms (2^53)"),
        ));
    }
    if !partition_in_range(e.partition) {
        return Err(loc.error(
            at("partition"),
            format!("partition {} is outside the allowed 0 ..= {}", e.partition, MAX_PARTITIONS - 1),
        ));
    }
    if e.key as usize == *keys_seen {
        if *keys_seen as u64 >= u64::from(MAX_KEYS) {
            return Err(loc.error(at("key"), format!("more than {MAX_KEYS} distinct keys")));
        }
        check_name(events.key_name(e), &at("key"), loc)?;
        *keys_seen += 1;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::explicit::EventsBuilder;

    #[test]
    fn a_list_without_the_parsers_partition_counts_builds_the_same_log() {
        let mut builder = EventsBuilder::default();
        builder.push("a", 1, 10, 20, 2);
        builder.push("b", 2, 11, 5, 0);
        builder.push("a", 3, 12, 21, 2);
        let counted = builder.finish();
        assert_eq!(counted.partition_sizes, vec![1, 0, 2]);
        let mut uncounted = counted.clone();
        uncounted.partition_sizes.clear();
        let loc = Locator::new("events.ron", "");
        let log = explicit_log(&counted, &loc).unwrap();
        assert_eq!(log.iter().map(Vec::len).collect::<Vec<_>>(), vec![1, 0, 2]);
        assert_eq!(explicit_log(&uncounted, &loc).unwrap(), log);
    }
}
