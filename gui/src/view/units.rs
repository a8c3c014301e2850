//! Every time a person reads, by one rule. An instant reads in the scenario's clock as
//! `streamlab run` and `replay` print it (`sim::report::format_virtual`): seconds from the start
//! of the run with millisecond precision ("3.013 s"), or, for textbook scenarios whose records
//! carry clock times (`Scenario::clock_times`), the time of day (HH:MM:SS). Virtual (processing)
//! time in nanoseconds and event time in milliseconds are the same clock, so a watermark and the
//! cursor read alike. A length of time reads in the largest unit that keeps it whole ("2 s",
//! "1 min", "250 ms"). Panels, tooltips, fault texts, the event log, the inspector and the
//! charts' axes all format through here; nothing shows raw `_ns` or `_ms`.

use engine::EventTimeMs;
use sim::faults::Fault;
use sim::kernel::TimeNs;
use sim::Scenario;

/// Virtual time for display, exactly as `streamlab run`/`replay` print it (a row's "visible at",
/// where the job stopped): a clock time for textbook scenarios, else seconds to the millisecond
/// (a network hop takes a millisecond or two, so it still shows).
pub fn time_text(scenario: &Scenario, ns: TimeNs) -> String {
    sim::report::format_virtual(scenario, ns)
}

/// The cursor's instant on the transport, where *Step* moves it from one event to the next: as
/// [`time_text`], and the microseconds past that millisecond when there are any ("4.502 s +318
/// µs"), so that a step inside one millisecond (a local hop takes 10 µs) still moves the readout.
pub fn cursor_text(scenario: &Scenario, ns: TimeNs) -> String {
    let within_ms_us = ns % 1_000_000 / 1_000;
    match scenario.clock_times || within_ms_us == 0 {
        true => time_text(scenario, ns),
        false => format!("{} +{within_ms_us} µs", time_text(scenario, ns)),
    }
}

/// A shorter time for axis ticks: whole seconds when round, else milliseconds' precision with
/// trailing zeros dropped; clock times to the second.
pub fn tick_text(scenario: &Scenario, ns: TimeNs) -> String {
    if scenario.clock_times {
        return sim::scenario::format_clock((ns / 1_000_000_000 * 1_000) as i64);
    }
    seconds_text((ns / 1_000_000) as i64)
}

/// Event time (a record's timestamp, a watermark, a window's bounds) in the scenario's clock:
/// "12:01:59.999" for clock-time scenarios, else seconds ("59.999 s"); the two ends of time as
/// "-inf" and "+inf".
pub fn event_time_text(scenario: &Scenario, ms: EventTimeMs) -> String {
    scenario.format_time_ms(ms)
}

/// An event-time window in the scenario's clock: "[20.000 s, 25.000 s)".
pub fn window_text(scenario: &Scenario, window: &engine::window::Window) -> String {
    format!("[{}, {})", event_time_text(scenario, window.start_ms), event_time_text(scenario, window.end_ms))
}

/// Where a sink row sits in event time: its window, or the record's own time ("event time
/// 3.250 s") for a row that is not a window's result. Every sink table in every view reads it so.
pub fn row_window_text(scenario: &Scenario, row: &engine::sink::SinkRow) -> String {
    match &row.window {
        Some(w) => window_text(scenario, w),
        None => format!("event time {}", event_time_text(scenario, row.timestamp_ms)),
    }
}

/// A fault in words, its instants in the scenario's clock (as above) and its lengths by
/// `sim::faults::duration_text`: "crash tm-1 at 3.013 s, back after 2 s". The one wording is
/// `Fault::describe_with`, which `streamlab run` echoes too.
pub fn fault_text(scenario: &Scenario, fault: &Fault) -> String {
    fault.describe_with(&scenario.plan, &|ns| time_text(scenario, ns))
}

/// Faults in words, joined in the order they were clicked ("crash tm-0 at 7.500 s, back after
/// 2 s, then ..."); None when there are none.
pub fn faults_text(scenario: &Scenario, faults: &[Fault]) -> Option<String> {
    let each: Vec<String> = faults.iter().map(|f| fault_text(scenario, f)).collect();
    (!each.is_empty()).then(|| each.join(", then "))
}

/// Milliseconds as seconds, trailing zeros dropped: "5 s", "2.5 s", "-0.25 s".
fn seconds_text(ms: i64) -> String {
    let sign = if ms < 0 { "-" } else { "" };
    let abs = ms.unsigned_abs();
    if abs % 1000 == 0 {
        format!("{sign}{} s", abs / 1000)
    } else {
        let text = format!("{}.{:03}", abs / 1000, abs % 1000);
        format!("{sign}{} s", text.trim_end_matches('0'))
    }
}

/// "1 message", "3 messages": a count with its noun in the number it takes.
pub fn count_text(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// A length of time in milliseconds: "1 min", "2 s", "1.5 s", "250 ms" (`sim::faults::duration_text`).
pub fn duration_ms_text(ms: i64) -> String {
    let text = duration_text(ms.unsigned_abs().saturating_mul(1_000_000));
    if ms < 0 {
        format!("-{text}")
    } else {
        text
    }
}

/// A length of virtual time, by the rule `streamlab run` uses for a fault's lengths
/// (`sim::faults::duration_text`): as `duration_ms_text`, or microseconds below a millisecond.
pub fn duration_text(ns: TimeNs) -> String {
    sim::faults::duration_text(ns)
}

/// A chart's x value (virtual time in seconds) as an axis label in the scenario's clock.
pub fn axis_seconds_text(clock_times: bool, seconds: f64) -> String {
    if !seconds.is_finite() {
        return String::new();
    }
    let ms = (seconds * 1000.0).round() as i64;
    if clock_times && ms >= 0 {
        sim::scenario::format_clock(ms / 1000 * 1000)
    } else if seconds.abs() >= 100.0 || (seconds - seconds.round()).abs() < 1e-9 {
        format!("{:.0} s", seconds)
    } else {
        format!("{:.1} s", seconds)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scenarios() -> (Scenario, Scenario) {
        let s = Scenario::default_scenario();
        let mut clock = s.clone();
        clock.clock_times = true;
        (s, clock)
    }

    #[test]
    fn times_read_as_seconds_or_clock() {
        let (s, clock) = scenarios();
        assert_eq!(time_text(&s, 4_201_337_000), "4.201 s");
        assert_eq!(time_text(&s, 21_009_050_000), "21.009 s", "as `streamlab run` says where a job stopped");
        assert_eq!(time_text(&clock, 43_499_000_000_000), "12:04:59");
        assert_eq!(cursor_text(&s, 4_502_318_900), "4.502 s +318 µs");
        assert_eq!(cursor_text(&s, 4_502_000_900), "4.502 s", "below a microsecond: nothing to add");
        assert_eq!(cursor_text(&clock, 43_499_000_318_000), "12:04:59");
        assert_eq!(tick_text(&s, 5_000_000_000), "5 s");
        assert_eq!(tick_text(&s, 2_500_000_000), "2.5 s");
        assert_eq!(tick_text(&s, 2_501_999_999), "2.501 s");
        assert_eq!(tick_text(&clock, 43_499_250_000_000), "12:04:59");
    }

    #[test]
    fn event_times_read_in_the_same_clock() {
        let (s, clock) = scenarios();
        assert_eq!(event_time_text(&s, 59_999), "59.999 s");
        assert_eq!(event_time_text(&s, 60_000), "60.000 s");
        assert_eq!(event_time_text(&s, -250), "-0.250 s");
        assert_eq!(event_time_text(&s, 0), "0.000 s");
        assert_eq!(event_time_text(&clock, 43_319_999), "12:01:59.999");
        assert_eq!(event_time_text(&clock, i64::MIN), "-inf");
        assert_eq!(event_time_text(&s, i64::MAX), "+inf");
        assert_eq!(event_time_text(&s, i64::MIN + 1), "-9223372036854775.807 s");
    }

    #[test]
    fn a_fault_reads_its_times_like_the_cursor() {
        use sim::faults::Trigger;
        use sim::scenario::NodeId;
        let (s, _) = scenarios();
        let tm1 = NodeId::task_manager(1);
        let crash = Fault::Crash { node: tm1, at: Trigger::At(3_013_841_000), restart_after_ns: Some(2_000_000_000) };
        assert_eq!(fault_text(&s, &crash), format!("crash tm-1 at {}, back after 2 s", time_text(&s, 3_013_841_000)));
        assert_eq!(fault_text(&s, &crash), "crash tm-1 at 3.013 s, back after 2 s");
        let cut =
            Fault::Partition { a: tm1, b: sim::scenario::JOB_MANAGER, from_ns: 5_000_000_000, until_ns: 6_500_000_000 };
        assert_eq!(fault_text(&s, &cut), "partition tm-1<->jm from 5.000 s until 6.500 s");
        let both = faults_text(&s, &[crash, cut]).unwrap();
        assert!(both.contains("back after 2 s, then partition"), "{both}");
        assert_eq!(faults_text(&s, &[]), None);
    }

    #[test]
    fn durations_read_in_whole_units() {
        assert_eq!(duration_ms_text(120_000), "2 min");
        assert_eq!(duration_ms_text(2_000), "2 s");
        assert_eq!(duration_ms_text(1_500), "1.5 s");
        assert_eq!(duration_ms_text(250), "250 ms");
        assert_eq!(duration_ms_text(0), "0 ms");
        assert_eq!(duration_text(200_000_000), "200 ms");
        assert_eq!(duration_text(3_000_000_000), "3 s");
        assert_eq!(duration_text(5_000), "5 µs");
        assert_eq!(duration_text(u64::MAX), "18446744073.709 s");
    }

    #[test]
    fn chart_axes_read_in_the_scenario_clock() {
        assert_eq!(axis_seconds_text(false, 2.5), "2.5 s");
        assert_eq!(axis_seconds_text(false, 12.0), "12 s");
        assert_eq!(axis_seconds_text(true, 43_320.4), "12:02:00");
        assert_eq!(axis_seconds_text(true, f64::NAN), "");
    }
}
