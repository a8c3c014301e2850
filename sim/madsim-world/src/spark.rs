//! The Spark runtime on madsim: the same [`SparkCore`] the kernel's `sim::spark::SparkWorld`
//! drives (the driver's micro-batch loop, the offset and commit logs, the state store, the
//! executors' tasks, task retries and map outputs recomputed after an executor loss), with
//! madsim doing only what a world does — carry messages, keep time, kill and restart nodes.
//!
//! | | kernel (`sim::spark::world`) | madsim (this module) |
//! |---|---|---|
//! | query, batches, decisions | [`SparkCore`] | the same [`SparkCore`] |
//! | network | the scenario's link latencies, partitions, loss; FIFO per (node, node) | madsim's datagrams (default 1–10 ms, reordering); per (node, node) ordered streams (`driver.rs`: sequence numbers and a reorder buffer) keep each RPC connection FIFO |
//! | time | the event queue | madsim's clock; one async loop per node sleeps until its next timer or packet; timers that came due meanwhile run at their own times (never backwards) |
//! | crash | `Crash` faults at times; back after `restart_after` or the heartbeat timeout | `Handle::kill` at a time (the node's loop, timers, inbox and streams die; the core drops the driver's memory or the executor's tasks), `Handle::restart` after the delay (the node boots and tells the core) |
//! | executor loss at the driver | at once | the supervisor tells the core at the kill; the tasks the driver re-launches go out on the driver loop's next turn (it polls every 10 ms) |
//! | not modelled here | | packet loss and partitions, slow nodes, latency spikes, crashes without a restart |
//!
//! What a crash loses is decided by the core for both worlds ([`SparkCore::crash_node`]); the
//! checkpoint location, the log and the sink store live in the core too and survive.

use engine::ms_to_ns;
use std::sync::Arc;

use madsim::runtime::{Handle, NodeHandle};
use sim::external::{SinkStore, StoredRow};
use sim::faults::{Fault, Trigger};
use sim::scenario::{NodeId, Scenario, JOB_MANAGER};
use sim::spark::core::BatchInfo;
use sim::spark::world::{Msg, Out, Timer};
use sim::spark::{SparkCore, SparkStats};

use super::driver::{self, on_madsim_thread, Batches, FaultAction, FaultSchedule, NodeBook, StreamNodes};
use super::{node_ip, MadsimStop};

const PORT: u16 = 7_200;
const TAG: u64 = 0x5350_4152_4b31;
const SUPERVISOR_POLL_NS: u64 = 10_000_000;

/// Kills for the Spark world: `(node, kill at ms, restart after ms)`; the driver (`jm`) may be
/// one of them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SparkKills {
    pub kills: Vec<(NodeId, u64, u64)>,
}

/// The scenario's crashes at times that come back (`Crash { at: At(t), restart_after }`, the
/// driver's too) as madsim kills.
pub fn kills_of(faults: &[Fault]) -> SparkKills {
    let kills = faults
        .iter()
        .filter_map(|f| match f {
            Fault::Crash { node, at: Trigger::At(t), restart_after_ns: Some(d) } => {
                Some((*node, t / 1_000_000, (d / 1_000_000).max(1)))
            }
            _ => None,
        })
        .collect();
    SparkKills { kills }
}

/// The outcome of [`run_spark_on_madsim`].
#[derive(Debug)]
pub struct SparkMadsimResult {
    pub seed: u64,
    pub stop: MadsimStop,
    pub store: SinkStore,
    pub stats: SparkStats,
    pub batches: Vec<BatchInfo>,
    pub finished_at_ns: Option<u64>,
    pub packets_sent: u64,
    /// Kills that hit a live node.
    pub kills: u32,
    pub events: Vec<sim::recording::TraceEvent>,
    pub late_sources: std::collections::BTreeSet<engine::SourceRef>,
}

impl SparkMadsimResult {
    pub fn visible_rows(&self) -> Vec<&StoredRow> {
        self.store.visible()
    }
    /// What the oracle sees of this run.
    pub fn observed(&self) -> sim::oracle::Observed<'_> {
        sim::oracle::Observed { rows: self.visible_rows(), late: &self.late_sources }
    }
}

/// Run a Spark scenario on madsim with `seed` and `kills` (on a fresh OS thread, as
/// [`super::run_on_madsim`]).
pub fn run_spark_on_madsim(scenario: Arc<Scenario>, seed: u64, kills: &SparkKills) -> SparkMadsimResult {
    let kills = kills.clone();
    let file = scenario.file.clone();
    on_madsim_thread("spark", "Spark", file, seed, move || supervise(scenario, seed, kills))
}

/// The core and the worlds' bookkeeping, shared by every node.
type Shared = driver::Shared<State>;

struct State {
    core: SparkCore,
    book: NodeBook<Timer>,
    /// Messages the driver decided when the supervisor told the core of a lost executor (the
    /// tasks it re-launches): the driver's loop sends them on its next turn.
    driver_outbox: Vec<(NodeId, Msg)>,
}

impl State {
    fn set_timer(&mut self, at: u64, timer: Timer) {
        let node = self.core.node_of_timer(&timer);
        self.book.timers.set(node, at, timer);
    }

    /// The supervisor killed `node` at `now`: its loop and timers die with it, the core drops
    /// what it held, and the tasks the driver re-launches elsewhere wait for the driver's loop.
    fn crash(&mut self, node: NodeId, now: u64) {
        self.book.lives.sessions[node.index()] += 1;
        self.book.timers.clear(node);
        self.core.crash_node(node, now);
        let mut outs = Vec::new();
        self.core.drain(&mut outs);
        for out in outs {
            match out {
                Out::Timer { at, timer } => self.set_timer(at, timer),
                Out::Send { to, msg, .. } => self.driver_outbox.push((to, msg)),
            }
        }
    }
}

async fn supervise(scenario: Arc<Scenario>, seed: u64, kills: SparkKills) -> SparkMadsimResult {
    let handle = Handle::current();
    let nodes_n = scenario.task_managers as usize + 1;
    let max_run_ns = ms_to_ns(scenario.max_run_ms);
    let mut core = SparkCore::new(scenario.clone(), seed, true, Vec::new());
    core.start();
    let mut state = State { core, book: NodeBook::new(nodes_n), driver_outbox: Vec::new() };
    let mut outs = Vec::new();
    state.core.drain(&mut outs);
    for out in outs {
        if let Out::Timer { at, timer } = out {
            state.set_timer(at, timer);
        }
    }
    let shared = Arc::new(Shared::new(
        (0..nodes_n).map(|n| std::net::SocketAddr::new(node_ip(NodeId::from_index(n)), PORT)).collect(),
        state,
    ));
    let nodes: Vec<NodeHandle> = (0..nodes_n)
        .map(|n| {
            let s = shared.clone();
            let me = NodeId::from_index(n);
            handle
                .create_node()
                .name(me.name())
                .ip(node_ip(me))
                .init(move || driver::stream_node(s.clone(), me, TAG))
                .build()
        })
        .collect();
    let node_kills =
        kills.kills.iter().map(|&(node, at_ms, back_ms)| (node.index(), ms_to_ns(at_ms), ms_to_ns(back_ms)));
    let mut kills = FaultSchedule::new(node_kills, nodes_n);
    let stop = loop {
        let now = shared.now_ns();
        if shared.state().core.finished_at_ns.is_some() {
            break MadsimStop::JobFinished;
        }
        if now > max_run_ns {
            break MadsimStop::TimeLimit;
        }
        while let Some(action) = kills.due(now) {
            match action {
                FaultAction::Kill { node, .. } => {
                    handle.kill(nodes[node].id());
                    shared.state().crash(NodeId::from_index(node), now);
                }
                FaultAction::Restart { node } => handle.restart(nodes[node].id()), // it calls `node_back`
                FaultAction::Cut { .. } | FaultAction::Heal { .. } => {}           // none scheduled here
            }
        }
        let wake = kills.next_at().min(now + SUPERVISOR_POLL_NS);
        madsim::time::sleep_until(shared.instant(wake)).await;
    };
    let mut st = shared.state();
    SparkMadsimResult {
        seed,
        stop,
        store: std::mem::take(&mut st.core.sink_store),
        stats: st.core.stats,
        batches: std::mem::take(&mut st.core.batches),
        late_sources: std::mem::take(&mut st.core.late_sources),
        finished_at_ns: st.core.finished_at_ns,
        packets_sent: st.book.lives.packets_sent,
        kills: kills.killed,
        events: st.core.recorder.take_events(),
    }
}

/// A node's round in the shared node loop ([`driver::stream_node`]): the driver on `jm`, an
/// executor on each task manager.
impl StreamNodes for State {
    type Core = SparkCore;
    type Item = Msg;
    const FIRST_LOOP: usize = 0;
    fn core(&mut self) -> &mut SparkCore {
        &mut self.core
    }
    fn book(&mut self) -> &mut NodeBook<Timer> {
        &mut self.book
    }
    /// Route what the core decided: timers to their node, messages to this node into the core
    /// at once, the rest into per-node batches for the network.
    fn route(&mut self, me: NodeId, now: u64, batches: &mut Batches<Msg>) {
        let mut outs = Vec::new();
        loop {
            self.core.drain(&mut outs);
            if outs.is_empty() {
                return;
            }
            for out in outs.drain(..) {
                match out {
                    Out::Timer { at, timer } => self.set_timer(at, timer),
                    Out::Send { to, msg, .. } if to == me => self.core.deliver(to, msg, now),
                    Out::Send { to, msg, .. } => batches.entry(to).or_default().push(msg),
                }
            }
        }
    }
    fn deliver(&mut self, me: NodeId, msg: Msg, now: u64) {
        self.core.deliver(me, msg, now);
    }
    fn alive(&self, node: NodeId) -> bool {
        self.core.node_alive(node)
    }
    /// The driver sends what it decided when the supervisor told the core of a lost executor.
    fn before_delivery(&mut self, me: NodeId, now: u64, batches: &mut Batches<Msg>) {
        if me == JOB_MANAGER {
            for (to, msg) in std::mem::take(&mut self.driver_outbox) {
                batches.entry(to).or_default().push(msg);
            }
            self.route(me, now, batches);
        }
    }
    /// The driver polls (every 10 ms) for what the supervisor decided for it.
    fn end_round(&mut self, me: NodeId, now: u64) -> Option<u64> {
        let next_timer = self.book.timers.next_at(me);
        if me == JOB_MANAGER {
            Some(next_timer.map_or(now + SUPERVISOR_POLL_NS, |t| t.min(now + SUPERVISOR_POLL_NS)))
        } else {
            next_timer
        }
    }
}
