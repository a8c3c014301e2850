//! View models: plain data derived from the world at the cursor and from the recording, built
//! without egui and tested on their own. Panels only draw them.
//!
//! Rules: no wall clock, no randomness, no hash-map order in anything shown.

pub mod alignment;
pub mod dag;
pub mod diff;
pub mod events;
pub mod inspector;
pub mod ledger;
pub mod markers;
pub mod outcomes;
pub mod plots;
pub mod predict;
pub mod storm;
pub mod timeline;
pub mod watermarks;

use sim::kernel::TimeNs;
use sim::{Scenario, World};

use crate::scrub::SendIndex;

/// Virtual time for display: a clock time for textbook scenarios, else seconds with microsecond
/// precision (a network hop takes a millisecond or two; seconds alone would hide it).
pub fn time_text(scenario: &Scenario, ns: TimeNs) -> String {
    if scenario.clock_times {
        sim::scenario::format_clock((ns / 1_000_000) as i64)
    } else {
        format!("{}.{:06} s", ns / 1_000_000_000, ns / 1_000 % 1_000_000)
    }
}

/// A shorter time for axis ticks: whole seconds when round, else milliseconds' precision with
/// trailing zeros dropped; clock times to the second.
pub fn tick_text(scenario: &Scenario, ns: TimeNs) -> String {
    if scenario.clock_times {
        return sim::scenario::format_clock((ns / 1_000_000_000 * 1_000) as i64);
    }
    let ms = ns / 1_000_000;
    if ms % 1000 == 0 {
        format!("{} s", ms / 1000)
    } else {
        let text = format!("{}.{:03}", ms / 1000, ms % 1000);
        format!("{} s", text.trim_end_matches('0'))
    }
}

/// Everything the panels show about one moment, built once per cursor position.
#[derive(Clone, Debug, PartialEq)]
pub struct Frame {
    pub cursor_ns: TimeNs,
    pub dag: dag::DagState,
    pub alignment: alignment::AlignmentView,
    pub watermarks: watermarks::WatermarkView,
    /// The selected subtask's details.
    pub inspector: Option<inspector::Inspector>,
    /// Sink store rows to list (indices into `world.sink_store.rows`).
    pub sink_rows: Vec<u32>,
    pub events_processed: u64,
}

impl Frame {
    pub fn build(
        world: &World,
        sends: &SendIndex,
        cursor_ns: TimeNs,
        selected: Option<usize>,
        visible_only: bool,
    ) -> Frame {
        Frame {
            cursor_ns,
            dag: dag::DagState::build(world, sends, cursor_ns),
            alignment: alignment::AlignmentView::build(world),
            watermarks: watermarks::WatermarkView::build(world),
            inspector: selected.map(|s| inspector::Inspector::build(world, s)),
            sink_rows: inspector::sink_row_indices(world, visible_only),
            events_processed: world.events_processed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_read_as_seconds_or_clock() {
        let s = Scenario::default_scenario();
        assert_eq!(time_text(&s, 4_201_337_000), "4.201337 s");
        let mut clock = s.clone();
        clock.clock_times = true;
        assert_eq!(time_text(&clock, 43_499_000_000_000), "12:04:59");
        assert_eq!(tick_text(&s, 5_000_000_000), "5 s");
        assert_eq!(tick_text(&s, 2_500_000_000), "2.5 s");
        assert_eq!(tick_text(&s, 2_501_999_999), "2.501 s");
        assert_eq!(tick_text(&clock, 43_499_250_000_000), "12:04:59");
    }
}
