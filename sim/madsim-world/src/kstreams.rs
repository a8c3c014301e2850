//! The Kafka Streams runtime on madsim: the same [`KStreamsCore`] the kernel's
//! `sim::kstreams::KStreamsWorld` drives (tasks, commits, transactions, rebalances, restores),
//! with madsim doing only what a world does — keep time and kill nodes.
//!
//! | | kernel (`sim::kstreams::world`) | madsim (this module) |
//! |---|---|---|
//! | application, decisions | [`KStreamsCore`] | the same [`KStreamsCore`] |
//! | time | the event queue | madsim's clock: one async loop per instance runs its tasks' timers and its commits; one on node 0 (the brokers: the group's session timeouts, the transaction coordinator's aborts); madsim sleeps at least 1 ms, so timers that came due meanwhile run at their own times (per node, never backwards) |
//! | topics | in the core (the brokers are outside the network) | the same |
//! | instance crash | `Crash` faults at times | `Handle::kill` at a time (the node's loop and timers die; the core drops its tasks' state), `Handle::restart` after the delay (the node boots and tells the core) |
//! | not modelled here | network faults | network faults, slow nodes |

use engine::ms_to_ns;
use std::sync::Arc;

use madsim::runtime::{Handle, NodeHandle};
use sim::external::{SinkStore, StoredRow};
use sim::kstreams::world::{Out, Timer};
use sim::kstreams::{KStreamsCore, KStreamsStats};
use sim::scenario::{NodeId, Scenario, JOB_MANAGER};

use super::driver::{self, on_madsim_thread, FaultAction, FaultSchedule, NodeTimers};
use super::{node_ip, MadsimFaults, MadsimStop};

/// How often a node's loop looks for timers another node set for it (madsim's own sleeps take
/// at least 1 ms).
const POLL_NS: u64 = 1_000_000;

/// The outcome of [`run_kstreams_on_madsim`].
#[derive(Debug)]
pub struct KStreamsMadsimResult {
    pub seed: u64,
    pub stop: MadsimStop,
    pub store: SinkStore,
    pub stats: KStreamsStats,
    pub finished_at_ns: Option<u64>,
    /// Kills that hit a live instance.
    pub kills: u32,
    pub events: Vec<sim::recording::TraceEvent>,
    pub late_sources: std::collections::BTreeSet<engine::SourceRef>,
}

impl KStreamsMadsimResult {
    pub fn visible_rows(&self) -> Vec<&StoredRow> {
        self.store.visible()
    }
    /// What the oracle sees of this run.
    pub fn observed(&self) -> sim::oracle::Observed<'_> {
        sim::oracle::Observed { rows: self.visible_rows(), late: &self.late_sources }
    }
}

/// Run a Kafka Streams scenario on madsim with `seed` and the kills of `faults` (its network
/// settings are not used: the tasks exchange records through the core's topics). On a fresh OS
/// thread, as [`super::run_on_madsim`].
pub fn run_kstreams_on_madsim(scenario: Arc<Scenario>, seed: u64, faults: &MadsimFaults) -> KStreamsMadsimResult {
    let faults = faults.clone();
    let file = scenario.file.clone();
    on_madsim_thread("kstreams", "Kafka Streams", file, seed, move || supervise(scenario, seed, faults))
}

type Shared = driver::Shared<State>;

struct State {
    core: KStreamsCore,
    timers: NodeTimers<Timer>,
    /// Per node whether its first boot happened (a later boot is a restart).
    booted: Vec<bool>,
}

impl State {
    /// Put the core's new timers on the nodes that run them.
    fn route(&mut self) {
        let mut outs = Vec::new();
        self.core.drain(&mut outs);
        for Out::Timer { at, timer } in outs {
            let node = self.core.node_of_timer(&timer);
            self.timers.set(node, at, timer);
        }
    }

    /// Fire `node`'s timers due before `before`, each at its own time (never before `clock`).
    fn fire_due(&mut self, node: NodeId, clock: &mut u64, before: u64) {
        while let Some((at, timer)) = self.timers.pop_due(node, before) {
            *clock = (*clock).max(at);
            self.core.fire(timer, *clock);
            self.route();
            self.core.check_finished(*clock);
        }
    }
}

async fn supervise(scenario: Arc<Scenario>, seed: u64, faults: MadsimFaults) -> KStreamsMadsimResult {
    let handle = Handle::current();
    let tms = scenario.task_managers as usize;
    let max_run_ns = ms_to_ns(scenario.max_run_ms);
    let mut core = KStreamsCore::new(scenario.clone(), seed, true, Vec::new());
    core.start();
    let mut state = State { core, timers: NodeTimers::new(tms + 1), booted: vec![false; tms + 1] };
    state.route();
    let shared = Arc::new(Shared::new(Vec::new(), state));
    let mut nodes: Vec<Option<NodeHandle>> = vec![None];
    for tm in 0..tms {
        let s = shared.clone();
        let me = NodeId::task_manager(tm as u32);
        nodes.push(Some(
            handle
                .create_node()
                .name(format!("instance-{tm}"))
                .ip(node_ip(me))
                .init(move || instance(s.clone(), me))
                .build(),
        ));
    }
    let instance_kills =
        faults.kills.iter().map(|&(tm, at_ms, back_ms)| (tm as usize + 1, ms_to_ns(at_ms), ms_to_ns(back_ms)));
    let mut kills = FaultSchedule::new(instance_kills, tms + 1);
    // The brokers' own clock (session timeouts, transaction aborts).
    let mut clock = 0u64;
    let stop = loop {
        let now = shared.now_ns();
        {
            let mut st = shared.state();
            st.fire_due(JOB_MANAGER, &mut clock, now + 1);
            if st.core.finished_at_ns.is_some() {
                break MadsimStop::JobFinished;
            }
        }
        if now > max_run_ns {
            break MadsimStop::TimeLimit;
        }
        while let Some(action) = kills.due(now) {
            match action {
                FaultAction::Kill { node, back_after_ns } => {
                    if let Some(instance) = &nodes[node] {
                        handle.kill(instance.id());
                    }
                    let mut st = shared.state();
                    st.timers.clear(NodeId::from_index(node));
                    st.core.crash_instance(NodeId::from_index(node), Some(back_after_ns), now);
                    st.route();
                }
                FaultAction::Restart { node } => {
                    if let Some(instance) = &nodes[node] {
                        handle.restart(instance.id()); // it boots and calls `instance_back` itself
                    }
                }
                FaultAction::Cut { .. } | FaultAction::Heal { .. } => {} // none scheduled here
            }
        }
        let own = shared.state().timers.next_at(JOB_MANAGER).unwrap_or(u64::MAX);
        let wake = kills.next_at().min(own).min(now + POLL_NS).max(now + 1);
        madsim::time::sleep_until(shared.instant(wake)).await;
    };
    let mut st = shared.state();
    KStreamsMadsimResult {
        seed,
        stop,
        store: std::mem::take(&mut st.core.sink_store),
        stats: st.core.stats,
        late_sources: std::mem::take(&mut st.core.late_sources),
        finished_at_ns: st.core.finished_at_ns,
        kills: kills.killed,
        events: st.core.recorder.take_events(),
    }
}

/// One application instance: run its tasks' timers and its commits as they come due.
async fn instance(shared: Arc<Shared>, me: NodeId) {
    {
        let mut st = shared.state();
        if st.booted[me.index()] {
            // The supervisor restarted this instance: it rejoins the group, empty.
            let now = shared.now_ns();
            st.core.instance_back(me, now);
            st.route();
        }
        st.booted[me.index()] = true;
    }
    let mut clock = shared.now_ns();
    loop {
        let now = shared.now_ns();
        let next = {
            let mut st = shared.state();
            st.fire_due(me, &mut clock, now + 1);
            st.timers.next_at(me)
        };
        let wake = next.unwrap_or(u64::MAX).min(now + POLL_NS).max(now + 1);
        madsim::time::sleep_until(shared.instant(wake)).await;
    }
}
