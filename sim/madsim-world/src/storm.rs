//! The Storm runtime on madsim: the same [`StormCore`] the kernel's `sim::storm::StormWorld`
//! drives (every executor, the acker, spout replay, restarts, Trident), with madsim doing only
//! what a world does — carry messages, keep time, inject faults.
//!
//! | | kernel (`sim::storm::world`) | madsim (this module) |
//! |---|---|---|
//! | topology, protocol, decisions | [`StormCore`] | the same [`StormCore`] |
//! | network | the scenario's link latencies, partitions, loss; FIFO per (executor, executor) | madsim's datagrams (default 1–10 ms, reordering); per (worker, worker) ordered streams (`driver.rs`: sequence numbers and a reorder buffer) keep every connection FIFO, as Netty's TCP does; same-worker messages are handed over at once |
//! | time | the event queue | madsim's clock; one async loop per worker sleeps until its next timer or packet; madsim sleeps at least 1 ms, so timers that came due meanwhile run at their own times (per worker, never backwards), then the packets that arrived |
//! | processing cost | `busy_until` per executor (in the core) | the same (the core arms its `Run` timers) |
//! | worker crash | `Crash` faults at times (a scenario's crashes that come back become madsim kills with [`kills_of`]); the supervisor restarts, or Nimbus reassigns after the heartbeat timeout | `Handle::kill` at a time (the node's loop, inbox and streams die; the core drops the worker's executors), `Handle::restart` after the delay (the node boots, tells the core, which starts fresh executors) |
//! | not modelled here | | packet loss and partitions (no retransmission: Storm's Netty connections are TCP), slow nodes, latency spikes, Nimbus reassignment |
//!
//! The executors' state lives in the core, which both worlds share as a library: a killed node's
//! executors are emptied by [`StormCore::crash_node`], not by madsim wiping the node's memory —
//! so what is lost on a crash is decided once, for both worlds. Durable systems (Kafka's
//! committed offsets, Trident's coordinator and state store, the sink store) live in the core
//! too and survive, as in the kernel.

use engine::ms_to_ns;
use std::sync::Arc;
use std::time::Duration;

use madsim::net::NetSim;
use madsim::runtime::{Handle, NodeHandle};
use sim::external::{SinkStore, StoredRow};
use sim::faults::{Fault, Trigger};
use sim::scenario::{NodeId, Scenario};
use sim::storm::world::{Msg, Out, Timer};
use sim::storm::{StormCore, StormStats};

use super::driver::{self, on_madsim_thread, Batches, FaultAction, FaultSchedule, NodeBook, StreamNodes};
use super::{node_ip, MadsimFaults, MadsimStop};

const PORT: u16 = 7_100;
const TAG: u64 = 0x5354_4f52_4d32;
const SUPERVISOR_POLL_NS: u64 = 10_000_000;

/// The outcome of [`run_storm_on_madsim`].
#[derive(Debug)]
pub struct StormMadsimResult {
    pub seed: u64,
    pub stop: MadsimStop,
    pub store: SinkStore,
    pub stats: StormStats,
    pub finished_at_ns: Option<u64>,
    /// Datagrams handed to madsim's network.
    pub packets_sent: u64,
    /// Kills that hit a live worker.
    pub kills: u32,
    /// The core's trace (emits, acker messages, timeouts, sink writes, crashes, ...).
    pub events: Vec<sim::recording::TraceEvent>,
    /// Things that must not happen (a timer set for another worker's executor, ...).
    pub violations: Vec<String>,
    /// Source records a windowed bolt dropped as late.
    pub late_sources: std::collections::BTreeSet<engine::SourceRef>,
}

impl StormMadsimResult {
    pub fn visible_rows(&self) -> Vec<&StoredRow> {
        self.store.visible()
    }
    /// What the oracle sees of this run.
    pub fn observed(&self) -> sim::oracle::Observed<'_> {
        sim::oracle::Observed { rows: self.visible_rows(), late: &self.late_sources }
    }
}

/// The scenario's own worker crashes that come back (`Crash { at: At(t), restart_after }` on a
/// task manager) as madsim kills, so both worlds can run the same faults. Other faults
/// (partitions, loss, slow nodes, crashes at protocol points or without restart) are left out.
pub fn kills_of(faults: &[Fault]) -> MadsimFaults {
    let kills = faults
        .iter()
        .filter_map(|f| match f {
            Fault::Crash { node, at: Trigger::At(t), restart_after_ns: Some(d) } => {
                node.task_manager_index().map(|tm| (tm, t / 1_000_000, (d / 1_000_000).max(1)))
            }
            _ => None,
        })
        .collect();
    MadsimFaults { kills, network: None }
}

/// Run a Storm scenario (its `model` is `Storm(..)`) on madsim with `seed`: the kills of
/// `faults` and its network latency (packet loss and partitions are not used here). On a fresh
/// OS thread, as [`super::run_on_madsim`].
pub fn run_storm_on_madsim(scenario: Arc<Scenario>, seed: u64, faults: &MadsimFaults) -> StormMadsimResult {
    let faults = faults.clone();
    let file = scenario.file.clone();
    on_madsim_thread("storm", "Storm", file, seed, move || supervise(scenario, seed, faults))
}

/// The core and the bookkeeping of the worlds around it, shared by every node.
type Shared = driver::Shared<State>;

struct State {
    core: StormCore,
    book: NodeBook<Timer>,
    violations: Vec<String>,
}

async fn supervise(scenario: Arc<Scenario>, seed: u64, faults: MadsimFaults) -> StormMadsimResult {
    let handle = Handle::current();
    let tms = scenario.task_managers as usize;
    let max_run_ns = ms_to_ns(scenario.max_run_ms);
    let mut core = StormCore::new(scenario.clone(), seed, true, Vec::new());
    core.start();
    let mut outs = Vec::new();
    core.drain(&mut outs);
    let mut state = State { core, book: NodeBook::new(tms + 1), violations: Vec::new() };
    for out in outs {
        match out {
            Out::Timer { at, timer } => state.set_timer(at, timer, None),
            Out::Send { .. } => state.violations.push("a message before the topology started".into()),
        }
    }
    let shared = Arc::new(Shared::new(
        (0..=tms).map(|n| std::net::SocketAddr::new(node_ip(NodeId::from_index(n)), PORT)).collect(),
        state,
    ));
    if let Some(net) = &faults.network {
        let latency =
            Duration::from_millis(net.latency_ms.0)..Duration::from_millis(net.latency_ms.1.max(net.latency_ms.0 + 1));
        NetSim::current().update_config(|c| c.send_latency = latency);
    }
    // Node 0 (Nimbus) runs no executors; one node per worker.
    let mut nodes: Vec<Option<NodeHandle>> = vec![None];
    for tm in 0..tms {
        let s = shared.clone();
        nodes.push(Some(
            handle
                .create_node()
                .name(format!("worker-{tm}"))
                .ip(node_ip(NodeId::task_manager(tm as u32)))
                .init(move || driver::stream_node(s.clone(), NodeId::task_manager(tm as u32), TAG))
                .build(),
        ));
    }
    let worker_kills =
        faults.kills.iter().map(|&(tm, at_ms, back_ms)| (tm as usize + 1, ms_to_ns(at_ms), ms_to_ns(back_ms)));
    let mut kills = FaultSchedule::new(worker_kills, tms + 1);
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
                FaultAction::Kill { node, back_after_ns } => {
                    if let Some(worker) = &nodes[node] {
                        handle.kill(worker.id());
                    }
                    let mut st = shared.state();
                    st.book.lives.sessions[node] += 1;
                    st.core.crash_node(NodeId::from_index(node), Some(back_after_ns), now);
                }
                FaultAction::Restart { node } => {
                    if let Some(worker) = &nodes[node] {
                        handle.restart(worker.id()); // it boots and calls `node_back` itself
                    }
                }
                FaultAction::Cut { .. } | FaultAction::Heal { .. } => {} // none scheduled here
            }
        }
        let wake = kills.next_at().min(now + SUPERVISOR_POLL_NS);
        madsim::time::sleep_until(shared.instant(wake)).await;
    };
    let mut st = shared.state();
    StormMadsimResult {
        seed,
        stop,
        store: std::mem::take(&mut st.core.sink_store),
        stats: st.core.stats,
        late_sources: std::mem::take(&mut st.core.late_sources),
        finished_at_ns: st.core.finished_at_ns,
        packets_sent: st.book.lives.packets_sent,
        kills: kills.killed,
        events: st.core.recorder.take_events(),
        violations: std::mem::take(&mut st.violations),
    }
}

impl State {
    fn set_timer(&mut self, at: u64, timer: Timer, me: Option<NodeId>) {
        let Some(node) = self.core.node_of_timer(&timer) else { return };
        if me.is_some_and(|m| m != node) {
            // Nothing wakes another node's loop: the core only ever arms its own executors'
            // timers from where they run (a reassignment would; madsim runs none).
            self.violations.push(format!(
                "node {:?} set a timer for node {}: {timer:?}",
                me.map(NodeId::get),
                node.get()
            ));
        }
        self.book.timers.set(node, at, timer);
    }
}

/// A worker's round in the shared node loop ([`driver::stream_node`]).
impl StreamNodes for State {
    type Core = StormCore;
    /// A message for one executor of the receiving worker: (executor, its incarnation, message).
    type Item = (u32, u32, Msg);
    /// Node 0 (Nimbus) runs no loop.
    const FIRST_LOOP: usize = 1;
    fn core(&mut self) -> &mut StormCore {
        &mut self.core
    }
    fn book(&mut self) -> &mut NodeBook<Timer> {
        &mut self.book
    }
    /// Route what the core decided: timers to their node, same-node messages into the core at
    /// once, the rest into per-node batches for the network.
    fn route(&mut self, me: NodeId, now: u64, batches: &mut Batches<Self::Item>) {
        let mut outs = Vec::new();
        loop {
            self.core.drain(&mut outs);
            if outs.is_empty() {
                return;
            }
            for out in outs.drain(..) {
                match out {
                    Out::Timer { at, timer } => self.set_timer(at, timer, Some(me)),
                    Out::Send { to, incarnation, msg, .. } => match self.core.node_of(to) {
                        Some(node) if node == me => self.core.deliver(to, incarnation, msg, now),
                        Some(node) => batches.entry(node).or_default().push((to, incarnation, msg)),
                        None => {}
                    },
                }
            }
        }
    }
    fn deliver(&mut self, _me: NodeId, (to, incarnation, msg): Self::Item, now: u64) {
        self.core.deliver(to, incarnation, msg, now);
    }
    /// A dead worker's executors are gone, and the messages for them.
    fn alive(&self, node: NodeId) -> bool {
        self.core.node_state(node).is_some_and(|(alive, _)| alive)
    }
    fn end_round(&mut self, me: NodeId, now: u64) -> Option<u64> {
        self.core.check_finished(now);
        self.book.timers.next_at(me)
    }
}
