//! The Storm runtime on madsim: the same [`StormCore`] the kernel's `sim::storm::StormWorld`
//! drives (every executor, the acker, spout replay, restarts, Trident), with madsim doing only
//! what a world does — carry messages, keep time, inject faults.
//!
//! | | kernel (`sim::storm::world`) | madsim (this module) |
//! |---|---|---|
//! | topology, protocol, decisions | [`StormCore`] | the same [`StormCore`] |
//! | network | the scenario's link latencies, partitions, loss; FIFO per (executor, executor) | madsim's datagrams (default 1–10 ms, reordering); per (worker, worker) ordered streams built here (sequence numbers and a reorder buffer) keep every connection FIFO, as Netty's TCP does; same-worker messages are handed over at once |
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
use std::cell::RefCell;
use std::collections::{BTreeMap, VecDeque};
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use madsim::net::{Endpoint, NetSim};
use madsim::runtime::{Handle, NodeHandle};
use sim::external::{SinkStore, StoredRow};
use sim::faults::{Fault, Trigger};
use sim::scenario::{NodeId, Scenario};
use sim::storm::world::{Msg, Out, Timer};
use sim::storm::{StormCore, StormStats};

use super::driver::{self, on_madsim_thread, NodeTimers};
use super::link::{idle, Signal};
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
    timers: NodeTimers<Timer>,
    /// Per node how often it was killed (its session: streams to an older one are dropped).
    sessions: Vec<u32>,
    /// Per node whether its first boot bound its endpoint (nodes wait for each other once).
    booted: Vec<bool>,
    packets_sent: u64,
    violations: Vec<String>,
}

/// One datagram: messages of one ordered stream (sender node and session → receiver session).
struct Packet {
    from: NodeId,
    from_session: u32,
    to_session: u32,
    seq: u64,
    msgs: Vec<(u32, u32, Msg)>,
}

async fn supervise(scenario: Arc<Scenario>, seed: u64, faults: MadsimFaults) -> StormMadsimResult {
    let handle = Handle::current();
    let tms = scenario.task_managers as usize;
    let max_run_ns = ms_to_ns(scenario.max_run_ms);
    let mut core = StormCore::new(scenario.clone(), seed, true, Vec::new());
    core.start();
    let mut outs = Vec::new();
    core.drain(&mut outs);
    let mut state = State {
        core,
        timers: NodeTimers::new(tms + 1),
        sessions: vec![0; tms + 1],
        booted: vec![false; tms + 1],
        packets_sent: 0,
        violations: Vec::new(),
    };
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
                .init(move || worker(s.clone(), NodeId::task_manager(tm as u32)))
                .build(),
        ));
    }
    let mut actions: Vec<(u64, bool, usize, u64)> = Vec::new();
    for &(tm, at_ms, back_after_ms) in &faults.kills {
        let node = tm as usize + 1;
        if node <= tms {
            actions.push((ms_to_ns(at_ms), true, node, ms_to_ns(back_after_ms)));
            actions.push((ms_to_ns(at_ms + back_after_ms), false, node, 0));
        }
    }
    actions.sort_by_key(|a| a.0);
    let mut down = vec![false; tms + 1];
    let mut kills = 0;
    let mut next = 0;
    let stop = loop {
        let now = shared.now_ns();
        if shared.state().core.finished_at_ns.is_some() {
            break MadsimStop::JobFinished;
        }
        if now > max_run_ns {
            break MadsimStop::TimeLimit;
        }
        while next < actions.len() && actions[next].0 <= now {
            let (_, kill, node, back_ns) = actions[next];
            let id = nodes[node].as_ref().map(|n| n.id());
            match (kill, id) {
                (true, Some(id)) if !down[node] => {
                    down[node] = true;
                    kills += 1;
                    handle.kill(id);
                    let mut st = shared.state();
                    st.sessions[node] += 1;
                    st.core.crash_node(NodeId::from_index(node), Some(back_ns), now);
                }
                (false, Some(id)) if down[node] => {
                    down[node] = false;
                    handle.restart(id); // the node boots and calls `node_back` itself
                }
                _ => {}
            }
            next += 1;
        }
        let wake = actions.get(next).map_or(u64::MAX, |a| a.0).min(now + SUPERVISOR_POLL_NS);
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
        packets_sent: st.packets_sent,
        kills,
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
        self.timers.set(node, at, timer);
    }

    /// Route what the core decided: timers to their node, same-node messages into the core at
    /// once, the rest into per-node batches for the network.
    fn route(&mut self, me: NodeId, now: u64, batches: &mut BTreeMap<NodeId, Vec<(u32, u32, Msg)>>) {
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
}

type Inbox = Rc<RefCell<VecDeque<Packet>>>;
/// Messages for one receiving worker: (executor, its incarnation, message).
type Batch = Vec<(u32, u32, Msg)>;

async fn receive(ep: Endpoint, inbox: Inbox, signal: Rc<Signal>) {
    while let Ok((payload, _from)) = ep.recv_from_raw(TAG).await {
        if let Ok(packet) = payload.downcast::<Packet>() {
            inbox.borrow_mut().push_back(*packet);
            signal.raise();
        }
    }
}

/// One worker process: receive, run due timers, send, sleep.
async fn worker(shared: Arc<Shared>, me: NodeId) {
    let ep = Endpoint::bind(shared.addrs[me.index()]).await.expect("bind the worker's endpoint");
    let inbox: Inbox = Rc::default();
    let signal = Rc::new(Signal::default());
    madsim::task::spawn_local(receive(ep.clone(), inbox.clone(), signal.clone()));
    let mut batches: BTreeMap<NodeId, Vec<(u32, u32, Msg)>> = BTreeMap::new();
    let (session, first_boot) = {
        let mut st = shared.state();
        let first_boot = !st.booted[me.index()];
        st.booted[me.index()] = true;
        if !first_boot {
            // The supervisor restarted this worker: fresh executors, told by the core.
            let now = shared.now_ns();
            st.core.node_back(me, now);
            st.route(me, now, &mut batches);
        }
        (st.sessions[me.index()], first_boot)
    };
    // At the start every worker binds its endpoint before anyone sends (a datagram to an
    // unbound port is lost, and the streams do not retransmit).
    while first_boot && !shared.state().booted.iter().skip(1).all(|&b| b) {
        madsim::time::sleep(Duration::ZERO).await;
    }
    // Outgoing: next sequence number per (receiver, its session). Incoming: per (sender, its
    // session) the next expected sequence number and what arrived early.
    let mut next_seq: BTreeMap<(NodeId, u32), u64> = BTreeMap::new();
    let mut expected: BTreeMap<(NodeId, u32), (u64, BTreeMap<u64, Batch>)> = BTreeMap::new();
    let mut spins = 0;
    // The worker's own clock: madsim sleeps at least 1 ms, far longer than a tuple's cost, so
    // timers that came due while the loop slept run at their own times (in order, never before
    // the last thing this worker did), then the packets that arrived meanwhile at madsim's now.
    let mut clock = 0u64;
    loop {
        let now = shared.now_ns();
        let packets: Vec<Packet> = inbox.borrow_mut().drain(..).collect();
        let deadline = {
            let mut st = shared.state();
            let due = |st: &mut State, clock: &mut u64, before: u64, batches: &mut BTreeMap<_, _>| {
                while let Some((at, timer)) = st.timers.pop_due(me, before) {
                    *clock = (*clock).max(at);
                    st.core.fire(timer, *clock);
                    st.route(me, *clock, batches);
                }
            };
            due(&mut st, &mut clock, now, &mut batches);
            clock = clock.max(now);
            for p in packets {
                if p.to_session != session {
                    continue; // for this worker's previous life
                }
                let (next, early) = expected.entry((p.from, p.from_session)).or_default();
                early.insert(p.seq, p.msgs);
                while let Some(msgs) = early.remove(next) {
                    *next += 1;
                    for (to, incarnation, msg) in msgs {
                        st.core.deliver(to, incarnation, msg, now);
                    }
                }
            }
            st.route(me, now, &mut batches);
            due(&mut st, &mut clock, now + 1, &mut batches);
            st.core.check_finished(now);
            st.timers.next_at(me)
        };
        for (to, msgs) in std::mem::take(&mut batches) {
            let (alive, to_session) = {
                let st = shared.state();
                (st.core.node_state(to).is_some_and(|(alive, _)| alive), st.sessions[to.index()])
            };
            if !alive {
                continue; // its executors are gone, and the messages for them
            }
            let seq = next_seq.entry((to, to_session)).or_insert(0);
            let packet = Packet { from: me, from_session: session, to_session, seq: *seq, msgs };
            *seq += 1;
            shared.state().packets_sent += 1;
            let _ = ep.send_to_raw(shared.addrs[to.index()], TAG, Box::new(packet)).await;
        }
        idle(shared.start, &signal, deadline, &mut spins).await;
    }
}
