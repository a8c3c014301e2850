//! Running a scenario from start to end, and what comes out of it.

use std::sync::Arc;

use crate::external::RowState;
use crate::scenario::Scenario;
use crate::world::{RunOptions, StopReason, World};

/// The seed used when neither the command line nor the scenario pins one.
pub const DEFAULT_SEED: u64 = 42;

/// A finished run: the world in its final state (recording included).
pub struct RunResult {
    pub world: World,
    pub stop: StopReason,
}

impl RunResult {
    pub fn trace_hash(&self) -> u64 {
        self.world.recorder.hash()
    }
    /// Records dropped as late, over all window operators.
    pub fn late_dropped(&self) -> u64 {
        self.world.tasks.iter().map(|t| t.subtask.counters().late_dropped).sum()
    }
    /// Visible rows per sink in the order they became visible.
    pub fn visible_rows(&self) -> Vec<&crate::external::StoredRow> {
        self.world.sink_store.visible()
    }
    pub fn rows_in_state(&self, state: RowState) -> usize {
        self.world.sink_store.rows.iter().filter(|r| r.state == state).count()
    }
}

/// Run `scenario` with `seed` to the end.
pub fn run_scenario(scenario: Arc<Scenario>, seed: u64, options: RunOptions) -> RunResult {
    let mut world = World::new(scenario, seed, options);
    let stop = world.run();
    RunResult { world, stop }
}
