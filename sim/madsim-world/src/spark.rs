//! The Spark runtime on madsim: the same [`SparkCore`] the kernel's `sim::spark::SparkWorld`
//! drives (the driver's micro-batch loop, the offset and commit logs, the state store, the
//! executors' tasks, task retries and map outputs recomputed after an executor loss), with
//! madsim doing only what a world does — carry messages, keep time, kill and restart nodes.
//!
//! | | kernel (`sim::spark::world`) | madsim (this module) |
//! |---|---|---|
//! | query, batches, decisions | [`SparkCore`] | the same [`SparkCore`] |
//! | network | the scenario's link latencies, partitions, loss; FIFO per (node, node) | madsim's datagrams (default 1–10 ms, reordering); per (node, node) ordered streams built here (sequence numbers and a reorder buffer) keep each RPC connection FIFO |
//! | time | the event queue | madsim's clock; one async loop per node sleeps until its next timer or packet; timers that came due meanwhile run at their own times (never backwards) |
//! | crash | `Crash` faults at times; back after `restart_after` or the heartbeat timeout | `Handle::kill` at a time (the node's loop, timers, inbox and streams die; the core drops the driver's memory or the executor's tasks), `Handle::restart` after the delay (the node boots and tells the core) |
//! | executor loss at the driver | at once | the supervisor tells the core at the kill; the tasks the driver re-launches go out on the driver loop's next turn (it polls every 10 ms) |
//! | not modelled here | | packet loss and partitions, slow nodes, latency spikes, crashes without a restart |
//!
//! What a crash loses is decided by the core for both worlds ([`SparkCore::crash_node`]); the
//! checkpoint location, the log and the sink store live in the core too and survive.

use engine::ms_to_ns;
use std::cell::RefCell;
use std::collections::{BTreeMap, VecDeque};
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use madsim::net::Endpoint;
use madsim::runtime::{Handle, NodeHandle};
use sim::external::{SinkStore, StoredRow};
use sim::faults::{Fault, Trigger};
use sim::scenario::{NodeId, Scenario, JOB_MANAGER};
use sim::spark::core::BatchInfo;
use sim::spark::world::{Msg, Out, Timer};
use sim::spark::{SparkCore, SparkStats};

use super::driver::{self, on_madsim_thread, NodeTimers};
use super::link::{idle, Signal};
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
    timers: NodeTimers<Timer>,
    /// Per node how often it was killed (streams to an older life are dropped).
    sessions: Vec<u32>,
    booted: Vec<bool>,
    packets_sent: u64,
    /// Messages the driver decided when the supervisor told the core of a lost executor (the
    /// tasks it re-launches): the driver's loop sends them on its next turn.
    driver_outbox: Vec<(NodeId, Msg)>,
}

/// One datagram: the messages of one ordered stream (sender and its session → receiver's).
struct Packet {
    from: NodeId,
    from_session: u32,
    to_session: u32,
    seq: u64,
    msgs: Vec<Msg>,
}

impl State {
    fn set_timer(&mut self, at: u64, timer: Timer) {
        let node = self.core.node_of_timer(&timer);
        self.timers.set(node, at, timer);
    }

    /// Route what the core decided: timers to their node, messages to this node into the core
    /// at once, the rest into per-node batches for the network.
    fn route(&mut self, me: NodeId, now: u64, batches: &mut BTreeMap<NodeId, Vec<Msg>>) {
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
}

async fn supervise(scenario: Arc<Scenario>, seed: u64, kills: SparkKills) -> SparkMadsimResult {
    let handle = Handle::current();
    let nodes_n = scenario.task_managers as usize + 1;
    let max_run_ns = ms_to_ns(scenario.max_run_ms);
    let mut core = SparkCore::new(scenario.clone(), seed, true, Vec::new());
    core.start();
    let mut state = State {
        core,
        timers: NodeTimers::new(nodes_n),
        sessions: vec![0; nodes_n],
        booted: vec![false; nodes_n],
        packets_sent: 0,
        driver_outbox: Vec::new(),
    };
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
            handle.create_node().name(me.name()).ip(node_ip(me)).init(move || node(s.clone(), me)).build()
        })
        .collect();
    let mut actions: Vec<(u64, bool, usize)> = Vec::new();
    for &(node, at_ms, back_after_ms) in &kills.kills {
        if node.index() < nodes_n {
            actions.push((ms_to_ns(at_ms), true, node.index()));
            actions.push((ms_to_ns(at_ms + back_after_ms), false, node.index()));
        }
    }
    actions.sort_by_key(|a| a.0);
    let mut down = vec![false; nodes_n];
    let mut killed = 0;
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
            let (_, kill, n) = actions[next];
            let id = nodes[n].id();
            if kill && !down[n] {
                down[n] = true;
                killed += 1;
                handle.kill(id);
                let mut st = shared.state();
                st.sessions[n] += 1;
                st.timers.clear(NodeId::from_index(n)); // the node's loop and its timers die with it
                st.core.crash_node(NodeId::from_index(n), now);
                let mut outs = Vec::new();
                st.core.drain(&mut outs);
                for out in outs {
                    match out {
                        Out::Timer { at, timer } => st.set_timer(at, timer),
                        // Tasks re-launched elsewhere: the driver's loop sends them.
                        Out::Send { to, msg, .. } => st.driver_outbox.push((to, msg)),
                    }
                }
            } else if !kill && down[n] {
                down[n] = false;
                handle.restart(id); // the node boots and calls `node_back` itself
            }
            next += 1;
        }
        let wake = actions.get(next).map_or(u64::MAX, |a| a.0).min(now + SUPERVISOR_POLL_NS);
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
        packets_sent: st.packets_sent,
        kills: killed,
        events: st.core.recorder.take_events(),
    }
}

type Inbox = Rc<RefCell<VecDeque<Packet>>>;
/// Per (sender, its session): the next sequence number expected and the packets that came early.
type Streams = BTreeMap<(NodeId, u32), (u64, BTreeMap<u64, Vec<Msg>>)>;

async fn receive(ep: Endpoint, inbox: Inbox, signal: Rc<Signal>) {
    while let Ok((payload, _from)) = ep.recv_from_raw(TAG).await {
        if let Ok(packet) = payload.downcast::<Packet>() {
            inbox.borrow_mut().push_back(*packet);
            signal.raise();
        }
    }
}

/// One node (the driver on `jm`, an executor on each task manager): receive, run due timers,
/// send, sleep.
async fn node(shared: Arc<Shared>, me: NodeId) {
    let ep = Endpoint::bind(shared.addrs[me.index()]).await.expect("bind the node's endpoint");
    let inbox: Inbox = Rc::default();
    let signal = Rc::new(Signal::default());
    madsim::task::spawn_local(receive(ep.clone(), inbox.clone(), signal.clone()));
    let mut batches: BTreeMap<NodeId, Vec<Msg>> = BTreeMap::new();
    let (session, first_boot) = {
        let mut st = shared.state();
        let first_boot = !st.booted[me.index()];
        st.booted[me.index()] = true;
        if !first_boot {
            let now = shared.now_ns();
            st.core.node_back(me, now);
            st.route(me, now, &mut batches);
        }
        (st.sessions[me.index()], first_boot)
    };
    while first_boot && !shared.state().booted.iter().all(|&b| b) {
        madsim::time::sleep(Duration::ZERO).await;
    }
    let mut next_seq: BTreeMap<(NodeId, u32), u64> = BTreeMap::new();
    let mut expected: Streams = BTreeMap::new();
    let mut spins = 0;
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
            if me == JOB_MANAGER {
                for (to, msg) in std::mem::take(&mut st.driver_outbox) {
                    batches.entry(to).or_default().push(msg);
                }
                st.route(me, now, &mut batches);
            }
            for p in packets {
                if p.to_session != session {
                    continue; // for this node's previous life
                }
                let (next, early) = expected.entry((p.from, p.from_session)).or_default();
                early.insert(p.seq, p.msgs);
                while let Some(msgs) = early.remove(next) {
                    *next += 1;
                    for msg in msgs {
                        st.core.deliver(me, msg, now);
                    }
                }
            }
            st.route(me, now, &mut batches);
            due(&mut st, &mut clock, now + 1, &mut batches);
            let next_timer = st.timers.next_at(me);
            // The driver polls (every 10 ms) for what the supervisor decided for it.
            if me == JOB_MANAGER {
                Some(next_timer.map_or(now + SUPERVISOR_POLL_NS, |t| t.min(now + SUPERVISOR_POLL_NS)))
            } else {
                next_timer
            }
        };
        for (to, msgs) in std::mem::take(&mut batches) {
            let (alive, to_session) = {
                let st = shared.state();
                (st.core.node_alive(to), st.sessions[to.index()])
            };
            if !alive {
                continue; // nobody listens there now
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
