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
pub mod tour;
pub mod units;
pub mod watermarks;

use sim::kernel::TimeNs;
use sim::World;

use crate::scrub::SendIndex;

pub use units::{duration_ms_text, duration_text, event_time_text, tick_text, time_text};

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
