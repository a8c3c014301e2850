//! The scenario's source checked and resolved: a generator's parameters, or explicit events
//! checked one by one and built into the source log every run shares. Every error names the field
//! path (`source.Events[3].arrives`) and points at it in the file.

use super::error::{Locator, ScenarioError};
use super::explicit::{arrival_in_range, event_time_in_range, partition_in_range};
use super::format::*;
use super::limits::*;
use super::pipeline::check_name;
use super::LogData;

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
            check_events(events, loc)?;
            let log = events.log();
            let partitions = log.len() as u32;
            Ok((partitions, LogData::Events(log), events.key_names.clone()))
        }
    }
}

/// The checks of explicit events, each naming the event and field it fails at: the first event
/// in file order that fails one fails the file. An event fails with its times or partition out
/// of range (tested when it was read; see [`ExplicitEvents::first_out_of_range`]), or with the key
/// it brings first: one too many, or a name that is not valid.
fn check_events(events: &ExplicitEvents, loc: &Locator) -> Result<(), ScenarioError> {
    let first_out_of_range = events.first_out_of_range();
    // The key checks come after an event's range checks: a key first appearing at the event out
    // of range, or after it, is not checked.
    let keys_before = first_out_of_range.map_or(events.len(), |(i, _)| i);
    for (key, (&first, name)) in events.key_first_events.iter().zip(&events.key_names).enumerate() {
        let i = first as usize;
        if i >= keys_before {
            break;
        }
        check_key(key, name, i, loc)?;
    }
    match first_out_of_range {
        Some((i, event)) => check_range(i, &event, loc),
        None => Ok(()),
    }
}

/// Explicit event `i`'s times and partition in range.
fn check_range(i: usize, e: &ExplicitEvent, loc: &Locator) -> Result<(), ScenarioError> {
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
    Ok(())
}

/// Key number `key`, named `name`, first appearing at explicit event `i`: within the limit and a
/// valid name.
fn check_key(key: usize, name: &str, i: usize, loc: &Locator) -> Result<(), ScenarioError> {
    let at = || format!("source.Events[{i}].key");
    if key as u64 >= u64::from(MAX_KEYS) {
        return Err(loc.error(at(), format!("more than {MAX_KEYS} distinct keys")));
    }
    // The field's path is written only for a name that fails (a file may have a million keys).
    if check_name(name, "", loc).is_err() {
        check_name(name, &at(), loc)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::explicit::EventsBuilder;

    /// The field of the first failing event, in file order, for events pushed as `(key, arrives)`.
    fn first_failure(events: &[(&str, i64)]) -> Option<String> {
        let mut builder = EventsBuilder::default();
        for &(key, arrives_ms) in events {
            builder.push(key, 1, 0, arrives_ms, 0);
        }
        let loc = Locator::new("events.ron", "");
        match check_events(&builder.finish(), &loc) {
            Ok(()) => None,
            Err(ScenarioError::Invalid { field, .. }) => Some(field),
            Err(e) => panic!("{e}"),
        }
    }

    /// A key's name is checked at the event it first appears at, and ranges at each event: the
    /// earlier failure is reported, the range first within one event.
    #[test]
    fn the_first_failing_event_is_reported_whichever_check_fails() {
        assert_eq!(first_failure(&[("a", 1), ("b", 2), ("a", 3)]), None);
        assert_eq!(first_failure(&[("a", 1), ("", 2), ("b", -1)]).as_deref(), Some("source.Events[1].key"));
        assert_eq!(first_failure(&[("a", 1), ("b", -1), ("", 2)]).as_deref(), Some("source.Events[1].arrives"));
        assert_eq!(first_failure(&[("a", 1), ("", -1)]).as_deref(), Some("source.Events[1].arrives"));
        assert_eq!(first_failure(&[("a", -1), ("a", 1), ("", 2)]).as_deref(), Some("source.Events[0].arrives"));
    }
}
