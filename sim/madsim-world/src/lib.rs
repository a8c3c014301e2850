//! madsim as a second, independent world: the same engine state machines run as async nodes on
//! madsim's simulated network, so that outcomes can be cross-checked against our own kernel.
//!
//! # What each world models
//!
//! Both worlds run the same [`engine::subtask::Subtask`]s and the same
//! [`engine::checkpoint::CheckpointCoordinator`], read the same [`SourceLog`] (built from the seed
//! exactly as [`sim::world::World`] builds it) and write to the same kinds of external systems
//! ([`SinkStore`], [`CheckpointStorage`]). Restart strategy, heartbeat interval and timeout come
//! from the scenario in both. Everything else is modelled independently:
//!
//! | | our kernel ([`sim::world`]) | madsim (this module) |
//! |---|---|---|
//! | network | per-link latency distributions from the scenario; every channel FIFO by construction | madsim's: each datagram gets its own uniform latency (default 1–10 ms), so packets reorder; optional packet loss and clogged links |
//! | channels | one event per message | per (node, node) reliable ordered streams built here: sequence numbers, reorder buffer, cumulative acks, retransmission with exponential backoff; same-node channels are direct pushes into the receiver's input gate |
//! | flow control | credit-based (`channel_capacity`) | none (unbounded) |
//! | processing | a cost per record and per snapshot (`busy_until`) | zero virtual time; tasks are real async tasks and madsim's scheduler picks among ready ones at random (seeded) |
//! | crashes | at times or at protocol points (`WhileAligning`, `AfterCheckpointComplete`, ...) | `Handle::kill` / `Handle::restart` at times: the node loses all memory, its init task starts over |
//! | failure detection | analytic: last heartbeat + timeout | real heartbeats over the lossy network; a task manager that comes back with a new session is declared failed at once |
//! | failover | global, restore latest completed checkpoint; tasks of a node that never returns move elsewhere | global, same restore; waits for killed task managers to come back; the job manager never fails |
//! | snapshots | asynchronous or stop-the-world, with a cost | asynchronous only, free |
//! | restore | operator state and, for unaligned checkpoints, the saved in-flight data back into the input channels | the same |
//! | invariants | the four of [`sim::invariants`]; a broken one stops the run | the same four checkers; broken ones are listed in [`MadsimResult::violations`] |
//! | sources | read one entry per record cost, earliest-appended first | read every entry appended by now at each wake (madsim sleeps at least 1 ms), earliest-appended first, before a timer due at the same time |
//! | partitions | heal-time arithmetic on messages in flight | clogged links drop packets; the streams retransmit; a cut-off task manager keeps running its cancelled tasks (a zombie) until the `Cancel` gets through |
//! | at-most-once | restart from the highest offsets read | the same, kept in the shared log state |
//! | end of job | the first checkpoint *triggered* after every task finished has completed and every task was notified | the same, confirmed by every task manager |
//! | observability | full trace, pause, inspect, fork | final sink store and counters |
//!
//! The Storm runtime runs here too: [`storm`] drives the same `sim::storm::StormCore` as the
//! kernel's Storm world, with its own table of what differs.
//!
//! Where the outcomes may legitimately differ: whether a record is late depends on when it
//! arrives relative to the watermark, which is timing. Scenarios whose disorder can exceed the
//! watermark bound (late firings, late side outputs, drops) give different sink contents in the
//! two worlds even without faults; the cross-check uses scenarios without late data. Zombies are
//! harmless to exactly-once here: their messages carry an old attempt and are dropped, and a
//! zombie two-phase-commit sink only commits transactions of checkpoints that completed, which
//! must be committed anyway (commits are idempotent in the store).
//!
//! # Nodes and protocol
//!
//! One madsim node per task manager (`tm-i`, node index `i + 1`, IP `10.0.0.{i + 2}`) and one for the
//! job manager (`jm`, node index 0, IP `10.0.0.1`), matching [`sim::scenario::NodeId`]. Each node
//! binds one [`Endpoint`], runs a receiver task that moves packets into an inbox, and one loop
//! that handles what arrived, drives its subtasks until nothing is runnable, flushes the network
//! and sleeps until the next deadline (a log entry becoming readable, a source timer, a
//! retransmission, a heartbeat) or the next packet.
//!
//! - Task managers heartbeat the job manager; the job manager deploys a job attempt
//!   (`Deploy`: attempt, checkpoint to restore, placement), triggers checkpoints at the sources and
//!   at finished subtasks, collects acks, notifies completion, and cancels everything on a failure
//!   (global failover), then redeploys after the restart strategy's delay.
//! - Every application message carries its job attempt; stale ones are dropped, early ones (data
//!   from a peer that got its `Deploy` first) wait until the deployment arrives.
//! - Snapshots go straight to the shared [`CheckpointStorage`]; sink effects straight to the shared
//!   [`SinkStore`]. Both live outside the nodes (`Arc<Mutex<_>>`) and survive kills, like a DFS and
//!   a Kafka cluster would. A restored two-phase-commit sink issues `SinkEffect::Recover`.
//! - The job is done once every subtask finished and a checkpoint *triggered after that* completed
//!   and every task manager confirmed its `notifyCheckpointComplete` (so transactional sinks
//!   committed everything); without checkpoints, once every subtask finished.
//!
//! # Per-channel FIFO
//!
//! madsim's datagrams reorder (independent latencies; its mailbox hands out messages out of order
//! too) and may be lost. Every node pair therefore gets one ordered, reliable stream per direction,
//! identified by the two nodes' sessions (their boot times): packets carry a sequence number and
//! a batch of messages; the receiver delivers batches strictly in sequence order and acks
//! cumulatively; the sender retransmits unacknowledged batches. A node that restarts has a new
//! session: its peers start a new stream to it, carrying over what the old incarnation did not
//! acknowledge, and discard the old incarnation's half-received stream. (Every message carries its
//! job attempt, and a restarted node only ever runs later attempts, so nothing is applied twice.)
//! All channels between two nodes share the stream, which keeps each channel FIFO.

#![cfg(madsim)]

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::future::{poll_fn, Future};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::rc::Rc;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Poll, Waker};
use std::time::Duration;

use engine::checkpoint::CheckpointEvent;
use engine::graph::SubtaskId;
use engine::message::Message;
use engine::subtask::{Note, Output, Subtask};
use engine::SourceRef;
use madsim::net::{Endpoint, NetSim};
use madsim::runtime::{Handle, NodeHandle, Runtime};
use madsim::time::Instant;

use sim::external::{CheckpointStorage, SinkStore, SourceLog, StoredRow};
use sim::invariants::{CommitInvariant, TaskInvariants};
use sim::job::task::{
    apply_sink_effect, checkpoint_completed, deploy_subtask, next_source_read, note_late, persist_snapshot, HighWater,
};
use sim::job::{Failover, JobMaster, RestorePlan};
use sim::kernel::{SimRng, Stream};
use sim::scenario::{NodeId, Scenario, JOB_MANAGER};

pub mod storm;

// ---- public API ------------------------------------------------------------------------------

/// Faults for a madsim run. Node indices as in [`sim::scenario::NodeId`]: 0 is the job
/// manager, `i + 1` is task manager `i`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MadsimFaults {
    /// `(task manager index, kill at ms, restart after ms)`: `Handle::kill`, then
    /// `Handle::restart` (the node comes back empty and registers again).
    pub kills: Vec<(u32, u64, u64)>,
    /// madsim's network configuration and clogged links; None keeps madsim's defaults
    /// (latency uniform in 1..10 ms, no loss).
    pub network: Option<NetworkFaults>,
}

/// What `NetSim` does to packets.
#[derive(Clone, Debug, PartialEq)]
pub struct NetworkFaults {
    /// Per-packet send latency, uniform in `[min, max)` milliseconds (`max > min`).
    pub latency_ms: (u64, u64),
    /// Probability that a packet is lost, for the whole run.
    pub packet_loss_rate: f64,
    /// Links cut in both directions (`NetSim::clog_link`): `(node a, node b, from ms, until ms)`.
    pub partitions: Vec<(NodeId, NodeId, u64, u64)>,
}

impl MadsimFaults {
    /// No faults, madsim's default network.
    pub fn none() -> Self {
        MadsimFaults::default()
    }

    /// A fault schedule drawn from `seed` for a cluster of `task_managers`, with faults starting
    /// between `from_ms` and `until_ms`: one or two task manager kills (back after 0.2–3 s),
    /// latency 1..(2–15) ms, packet loss 0–5 %, and in half the schedules one partition of
    /// 0.3–3 s between the job manager or a task manager and another task manager.
    pub fn random(seed: u64, task_managers: u32, from_ms: u64, until_ms: u64) -> Self {
        let mut rng = SimRng::new(seed ^ 0x6d61_6473_696d_0001);
        let tms = task_managers.max(1) as u64;
        let kills = (0..1 + rng.below(2))
            .map(|_| (rng.below(tms) as u32, rng.between(from_ms, until_ms), rng.between(200, 3_000)))
            .collect();
        let latency_ms = (1, rng.between(2, 15));
        let packet_loss_rate = rng.below(51) as f64 / 1_000.0;
        let mut partitions = Vec::new();
        if rng.below(2) == 0 {
            let b = 1 + rng.below(tms) as usize;
            let a = rng.below(tms + 1) as usize;
            if a != b {
                let from = rng.between(from_ms, until_ms);
                partitions.push((a, b, from, from + rng.between(300, 3_000)));
            }
        }
        MadsimFaults { kills, network: Some(NetworkFaults { latency_ms, packet_loss_rate, partitions }) }
    }
}

/// Why a madsim run stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MadsimStop {
    /// Every subtask finished and (with checkpoints) a final checkpoint committed everything.
    JobFinished,
    /// The restart strategy gave up.
    JobFailed,
    /// Reached the scenario's `max_run_ms`.
    TimeLimit,
}

/// The outcome of [`run_on_madsim`].
#[derive(Debug)]
pub struct MadsimResult {
    pub seed: u64,
    pub stop: MadsimStop,
    /// The external sink store: `store.visible()` is what readers see.
    pub store: SinkStore,
    /// Global failovers.
    pub restarts: u32,
    pub checkpoints_completed: u32,
    pub checkpoints_aborted: u32,
    /// Virtual time when the job manager declared the job done.
    pub finished_at_ns: Option<u64>,
    /// Source log entries read, replays included.
    pub records_read: u64,
    /// In-flight messages of unaligned snapshots put back into input channels on restores.
    pub in_flight_restored: u64,
    /// Datagrams handed to madsim's network, and how many of them were retransmissions.
    pub packets_sent: u64,
    pub retransmissions: u64,
    /// Things that must not happen (e.g. a checkpoint to restore that is not in storage).
    pub violations: Vec<String>,
    /// Source records a window operator dropped as late (for all or some windows), any attempt.
    pub late_sources: BTreeSet<SourceRef>,
}

impl MadsimResult {
    /// Rows a reader sees at the end, in the order they became visible.
    pub fn visible_rows(&self) -> Vec<&StoredRow> {
        self.store.visible()
    }
    /// What the oracle sees of this run.
    pub fn observed(&self) -> sim::oracle::Observed<'_> {
        sim::oracle::Observed { rows: self.visible_rows(), late: &self.late_sources }
    }
}

/// Run `scenario` on madsim with `seed` and `faults`, on a fresh OS thread (std's hash maps are
/// seeded per thread, and madsim seeds them only on a thread it starts on). Panics inside the
/// simulation are re-raised after printing the seed.
pub fn run_on_madsim(scenario: Arc<Scenario>, seed: u64, faults: &MadsimFaults) -> MadsimResult {
    let faults = faults.clone();
    let file = scenario.file.clone();
    std::thread::Builder::new()
        .name(format!("madsim-seed-{seed}"))
        .spawn(move || run_in_thread(scenario, seed, faults))
        .expect("spawn the madsim thread")
        .join()
        .unwrap_or_else(|panic| {
            eprintln!("madsim world panicked: scenario {file}, seed {seed}");
            std::panic::resume_unwind(panic)
        })
}

fn run_in_thread(scenario: Arc<Scenario>, seed: u64, faults: MadsimFaults) -> MadsimResult {
    let log = Arc::new(SourceLog::build(
        &scenario.log,
        scenario.partitions,
        scenario.duration_ms,
        &mut SimRng::for_stream(seed, Stream::Generator),
    ));
    let runtime = Runtime::with_seed_and_config(seed, madsim::Config::default());
    runtime.block_on(supervise(scenario, seed, log, faults))
}

// ---- shared state: the external systems --------------------------------------------------------

/// What lives outside the nodes and survives their deaths.
struct Shared {
    scenario: Arc<Scenario>,
    log: Arc<SourceLog>,
    /// Virtual time zero for the engine.
    start: Instant,
    addrs: Vec<SocketAddr>,
    ext: Mutex<Externals>,
}

#[derive(Default)]
struct Externals {
    store: SinkStore,
    storage: CheckpointStorage,
    /// Per partition, one past the highest offset any source read (at-most-once restarts here).
    high_water: HighWater,
    end: Option<(MadsimStop, u64)>,
    restarts: u32,
    checkpoints_completed: u32,
    checkpoints_aborted: u32,
    records_read: u64,
    in_flight_restored: u64,
    packets_sent: u64,
    retransmissions: u64,
    violations: Vec<String>,
    late_sources: BTreeSet<SourceRef>,
    /// Invariant 4 of [`sim::invariants`]: commits only what a completed checkpoint covers.
    commits: CommitInvariant,
}

/// madsim's clock: inside a simulation, `madsim::time::Instant::now` is the *virtual* time of the
/// run (madsim drives it), not the machine's clock — the one place in `sim` that may call it.
#[allow(clippy::disallowed_methods)]
fn virtual_now() -> Instant {
    Instant::now()
}

impl Shared {
    fn now_ns(&self) -> u64 {
        virtual_now().duration_since(self.start).as_nanos() as u64
    }
    fn instant(&self, ns: u64) -> Instant {
        self.start + Duration::from_nanos(ns)
    }
    fn ext(&self) -> MutexGuard<'_, Externals> {
        self.ext.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
    fn task_managers(&self) -> usize {
        self.scenario.task_managers as usize
    }
}

const PORT: u16 = 7_000;
const TAG: u64 = 0x5354_524d;
/// How often the supervisor checks whether the job is over.
const SUPERVISOR_POLL_NS: u64 = 10_000_000;

fn node_ip(node: NodeId) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(10, 0, 0, node as u8 + 1))
}

// ---- the supervisor: builds the cluster, injects faults, waits for the end ---------------------

enum Action {
    Kill(usize),
    Restart(usize),
    Clog(NodeId, NodeId),
    Unclog(NodeId, NodeId),
}

async fn supervise(scenario: Arc<Scenario>, seed: u64, log: Arc<SourceLog>, faults: MadsimFaults) -> MadsimResult {
    let handle = Handle::current();
    let tms = scenario.task_managers as usize;
    let partitions = scenario.partitions as usize;
    let max_run_ns = scenario.max_run_ms.saturating_mul(1_000_000);
    let shared = Arc::new(Shared {
        addrs: (0..=tms).map(|n| SocketAddr::new(node_ip(n), PORT)).collect(),
        scenario,
        log,
        start: virtual_now(),
        ext: Mutex::new(Externals { high_water: HighWater::new(partitions as u32), ..Externals::default() }),
    });
    if let Some(net) = &faults.network {
        let latency =
            Duration::from_millis(net.latency_ms.0)..Duration::from_millis(net.latency_ms.1.max(net.latency_ms.0 + 1));
        let loss = net.packet_loss_rate;
        NetSim::current().update_config(|c| {
            c.send_latency = latency;
            c.packet_loss_rate = loss;
        });
    }
    let mut nodes: Vec<NodeHandle> = Vec::with_capacity(tms + 1);
    let s = shared.clone();
    nodes.push(handle.create_node().name("jm").ip(node_ip(JOB_MANAGER)).init(move || job_manager(s.clone())).build());
    for tm in 0..tms {
        let s = shared.clone();
        nodes.push(
            handle
                .create_node()
                .name(format!("tm-{tm}"))
                .ip(node_ip(tm + 1))
                .init(move || task_manager(s.clone(), tm + 1))
                .build(),
        );
    }

    let mut actions: Vec<(u64, Action)> = Vec::new();
    for &(tm, at_ms, back_after_ms) in &faults.kills {
        let node = tm as usize + 1;
        if node <= tms {
            actions.push((at_ms * 1_000_000, Action::Kill(node)));
            actions.push(((at_ms + back_after_ms) * 1_000_000, Action::Restart(node)));
        }
    }
    for &(a, b, from_ms, until_ms) in faults.network.iter().flat_map(|n| &n.partitions) {
        if a <= tms && b <= tms && a != b {
            actions.push((from_ms * 1_000_000, Action::Clog(a, b)));
            actions.push((until_ms * 1_000_000, Action::Unclog(a, b)));
        }
    }
    actions.sort_by_key(|(t, _)| *t); // stable: same-time actions keep their order
                                      // A kill while the node is down is ignored (its restart still happens); overlapping cuts of
                                      // one link last until the last of them heals.
    let mut down = vec![false; tms + 1];
    let mut clogged: BTreeMap<(NodeId, NodeId), u32> = BTreeMap::new();
    let mut next = 0;
    let net = NetSim::current();
    let stop = loop {
        let now = shared.now_ns();
        if let Some((stop, _)) = shared.ext().end {
            break stop;
        }
        if now > max_run_ns {
            break MadsimStop::TimeLimit;
        }
        while next < actions.len() && actions[next].0 <= now {
            match actions[next].1 {
                Action::Kill(node) if !down[node] => {
                    down[node] = true;
                    handle.kill(nodes[node].id());
                }
                Action::Restart(node) if down[node] => {
                    down[node] = false;
                    handle.restart(nodes[node].id());
                }
                Action::Clog(a, b) => {
                    let cuts = clogged.entry((a.min(b), a.max(b))).or_insert(0);
                    *cuts += 1;
                    if *cuts == 1 {
                        net.clog_link(nodes[a].id(), nodes[b].id());
                        net.clog_link(nodes[b].id(), nodes[a].id());
                    }
                }
                Action::Unclog(a, b) => {
                    let cuts = clogged.entry((a.min(b), a.max(b))).or_insert(1);
                    *cuts -= 1;
                    if *cuts == 0 {
                        net.unclog_link(nodes[a].id(), nodes[b].id());
                        net.unclog_link(nodes[b].id(), nodes[a].id());
                    }
                }
                _ => {}
            }
            next += 1;
        }
        let wake = actions.get(next).map_or(u64::MAX, |(t, _)| *t).min(now + SUPERVISOR_POLL_NS);
        madsim::time::sleep_until(shared.instant(wake)).await;
    };
    let mut ext = shared.ext();
    MadsimResult {
        seed,
        stop,
        store: std::mem::take(&mut ext.store),
        restarts: ext.restarts,
        checkpoints_completed: ext.checkpoints_completed,
        checkpoints_aborted: ext.checkpoints_aborted,
        finished_at_ns: ext.end.map(|(_, at)| at),
        records_read: ext.records_read,
        in_flight_restored: ext.in_flight_restored,
        packets_sent: ext.packets_sent,
        retransmissions: ext.retransmissions,
        violations: std::mem::take(&mut ext.violations),
        late_sources: std::mem::take(&mut ext.late_sources),
    }
}

// ---- messages ----------------------------------------------------------------------------------

/// What the job manager tells task managers to run.
#[derive(Debug)]
struct Deployment {
    /// The attempt, the subtasks to (re)deploy and what they start from (`sim::job`).
    plan: RestorePlan,
    /// Node of every subtask.
    placement: Vec<NodeId>,
}

/// Application messages, carried in order by the link layer. `attempt` is the sending (or
/// addressed) subtask's attempt, except where noted.
#[derive(Clone, Debug)]
enum Envelope {
    /// Task manager to task manager: a message on a channel.
    Data {
        attempt: u32,
        channel: u32,
        message: Message,
    },
    Deploy(Arc<Deployment>),
    /// Cancel `tasks`: from now on they run in `attempt` (failover).
    Cancel {
        attempt: u32,
        tasks: Arc<Vec<SubtaskId>>,
    },
    Trigger {
        attempt: u32,
        checkpoint_id: u64,
        subtasks: Vec<SubtaskId>,
    },
    /// `attempt`: the job's attempt when sent; tasks deployed later do not get it.
    Notify {
        attempt: u32,
        checkpoint_id: u64,
    },
    Ack {
        attempt: u32,
        subtask: SubtaskId,
        checkpoint_id: u64,
        accepted: bool,
    },
    Finished {
        attempt: u32,
        subtask: SubtaskId,
    },
    /// The local subtasks (with their attempts) that were notified of `checkpoint_id`.
    Notified {
        checkpoint_id: u64,
        tasks: Vec<(SubtaskId, u32)>,
    },
}

/// One datagram. `src` is the sender's session, `dst` the receiver's as the sender knows it.
struct Packet {
    from: NodeId,
    src: u64,
    dst: u64,
    body: Body,
}

enum Body {
    Data {
        seq: u64,
        batch: Arc<Vec<Envelope>>,
    },
    /// Everything before `next` arrived.
    Ack {
        next: u64,
    },
    /// "I have something for you; what is your session?"
    Hello,
    /// "This is my session."
    Welcome,
    /// Task manager to job manager, unreliable.
    Heartbeat,
}

// ---- the link layer: reliable, ordered streams over madsim's datagrams -------------------------

const RTO_NS: u64 = 40_000_000;
const RTO_MAX_NS: u64 = 640_000_000;
/// Batches resent per retransmission timeout.
const RETRANSMIT_BURST: usize = 16;

struct OutLink {
    /// The receiver's session, once known.
    peer: Option<u64>,
    next_seq: u64,
    /// Messages not yet put into a batch.
    queued: Vec<Envelope>,
    unacked: VecDeque<(u64, Arc<Vec<Envelope>>)>,
    rto_ns: u64,
    retransmit_at: Option<u64>,
    hello_at: u64,
}

impl Default for OutLink {
    fn default() -> Self {
        OutLink {
            peer: None,
            next_seq: 0,
            queued: Vec::new(),
            unacked: VecDeque::new(),
            rto_ns: RTO_NS,
            retransmit_at: None,
            hello_at: 0,
        }
    }
}

struct InLink {
    /// The sender's session this stream belongs to.
    peer: u64,
    expected: u64,
    buffer: BTreeMap<u64, Arc<Vec<Envelope>>>,
}

struct Link {
    shared: Arc<Shared>,
    me: NodeId,
    session: u64,
    ep: Endpoint,
    /// The newest session seen per peer.
    known: BTreeMap<NodeId, u64>,
    out: BTreeMap<NodeId, OutLink>,
    inn: BTreeMap<NodeId, InLink>,
    acks_due: BTreeSet<NodeId>,
    welcomes_due: BTreeSet<NodeId>,
    heartbeats_due: BTreeSet<NodeId>,
}

/// Packets received by a node's receiver task, and the signal that wakes its main loop.
type Inbox = Rc<RefCell<VecDeque<Packet>>>;

impl Link {
    /// Bind this node's endpoint and start its receiver task.
    async fn open(shared: Arc<Shared>, me: NodeId) -> (Link, Inbox, Rc<Signal>) {
        let session = shared.now_ns() + 1;
        let ep = Endpoint::bind(shared.addrs[me]).await.expect("bind the node's endpoint");
        let inbox: Inbox = Rc::default();
        let signal = Rc::new(Signal::default());
        madsim::task::spawn_local(receive(ep.clone(), inbox.clone(), signal.clone()));
        let link = Link {
            shared,
            me,
            session,
            ep,
            known: BTreeMap::new(),
            out: BTreeMap::new(),
            inn: BTreeMap::new(),
            acks_due: BTreeSet::new(),
            welcomes_due: BTreeSet::new(),
            heartbeats_due: BTreeSet::new(),
        };
        (link, inbox, signal)
    }

    fn queue(&mut self, to: NodeId, envelope: Envelope) {
        self.out.entry(to).or_default().queued.push(envelope);
    }

    /// Take every packet the receiver task queued and handle it (both node loops start so).
    fn receive_all(
        &mut self,
        inbox: &Inbox,
        now: u64,
        delivered: &mut Vec<(NodeId, Envelope)>,
        heartbeats: &mut Vec<(NodeId, u64)>,
    ) {
        let packets: Vec<Packet> = inbox.borrow_mut().drain(..).collect();
        for p in packets {
            self.on_packet(p, now, delivered, heartbeats);
        }
    }

    fn on_packet(
        &mut self,
        p: Packet,
        now: u64,
        delivered: &mut Vec<(NodeId, Envelope)>,
        heartbeats: &mut Vec<(NodeId, u64)>,
    ) {
        let from = p.from;
        let known = self.known.get(&from).copied();
        if known.is_some_and(|k| p.src < k) {
            return; // from an earlier incarnation of the peer
        }
        if known != Some(p.src) {
            self.known.insert(from, p.src);
            let out = self.out.entry(from).or_default();
            if out.peer.is_some() {
                // The peer restarted: start a new stream to the new incarnation, carrying over
                // what the old one did not acknowledge, in order. (Dropping it would lose
                // messages of the current job attempt sent before we learned of the restart;
                // messages of earlier attempts are dropped by the receiver anyway.)
                let mut carried: Vec<Envelope> =
                    out.unacked.drain(..).flat_map(|(_, batch)| batch.iter().cloned().collect::<Vec<_>>()).collect();
                carried.append(&mut out.queued);
                out.queued = carried;
                out.next_seq = 0;
                out.retransmit_at = None;
                out.rto_ns = RTO_NS;
            }
            out.peer = Some(p.src);
        }
        match p.body {
            Body::Heartbeat => heartbeats.push((from, p.src)),
            Body::Hello => {
                self.welcomes_due.insert(from);
            }
            Body::Welcome => {}
            Body::Ack { next } => {
                if p.dst != self.session {
                    return;
                }
                let out = self.out.entry(from).or_default();
                let before = out.unacked.len();
                while out.unacked.front().is_some_and(|(seq, _)| *seq < next) {
                    out.unacked.pop_front();
                }
                if out.unacked.len() < before {
                    out.rto_ns = RTO_NS;
                    out.retransmit_at = (!out.unacked.is_empty()).then_some(now + RTO_NS);
                }
            }
            Body::Data { seq, batch } => {
                if p.dst != self.session {
                    // Meant for an earlier incarnation of this node: tell the sender who we are.
                    self.welcomes_due.insert(from);
                    return;
                }
                let inn = self.inn.entry(from).or_insert(InLink { peer: p.src, expected: 0, buffer: BTreeMap::new() });
                if inn.peer != p.src {
                    *inn = InLink { peer: p.src, expected: 0, buffer: BTreeMap::new() };
                }
                self.acks_due.insert(from);
                if seq < inn.expected {
                    return; // a duplicate
                }
                inn.buffer.insert(seq, batch);
                while let Some(batch) = inn.buffer.remove(&inn.expected) {
                    inn.expected += 1;
                    delivered.extend(batch.iter().cloned().map(|e| (from, e)));
                }
            }
        }
    }

    /// When the link next needs [`Link::flush`] for its own sake (retransmission, hello).
    fn next_deadline(&self) -> Option<u64> {
        self.out
            .values()
            .filter_map(|o| match o.peer {
                Some(_) => o.retransmit_at,
                None => (!o.queued.is_empty()).then_some(o.hello_at),
            })
            .min()
    }

    /// Send everything due: welcomes, acks, new batches, retransmissions, hellos, heartbeats.
    async fn flush(&mut self, now: u64) {
        let mut packets: Vec<(NodeId, u64, Body)> = Vec::new();
        let mut retransmitted = 0;
        for to in std::mem::take(&mut self.welcomes_due) {
            if let Some(&session) = self.known.get(&to) {
                packets.push((to, session, Body::Welcome));
            }
        }
        for to in std::mem::take(&mut self.acks_due) {
            if let Some(inn) = self.inn.get(&to) {
                packets.push((to, inn.peer, Body::Ack { next: inn.expected }));
            }
        }
        for (&to, out) in &mut self.out {
            let Some(peer) = out.peer else {
                if !out.queued.is_empty() && out.hello_at <= now {
                    packets.push((to, 0, Body::Hello));
                    out.hello_at = now + RTO_NS;
                }
                continue;
            };
            if out.retransmit_at.is_some_and(|t| t <= now) {
                for (seq, batch) in out.unacked.iter().take(RETRANSMIT_BURST) {
                    let batch = batch.clone();
                    packets.push((to, peer, Body::Data { seq: *seq, batch }));
                    retransmitted += 1;
                }
                out.rto_ns = (out.rto_ns * 2).min(RTO_MAX_NS);
                out.retransmit_at = (!out.unacked.is_empty()).then_some(now + out.rto_ns);
            }
            if !out.queued.is_empty() {
                let batch = Arc::new(std::mem::take(&mut out.queued));
                let seq = out.next_seq;
                out.next_seq += 1;
                out.unacked.push_back((seq, batch.clone()));
                if out.retransmit_at.is_none() {
                    out.retransmit_at = Some(now + out.rto_ns);
                }
                packets.push((to, peer, Body::Data { seq, batch }));
            }
        }
        for to in std::mem::take(&mut self.heartbeats_due) {
            let session = self.known.get(&to).copied().unwrap_or(0);
            packets.push((to, session, Body::Heartbeat));
        }
        if packets.is_empty() {
            return;
        }
        {
            let mut ext = self.shared.ext();
            ext.packets_sent += packets.len() as u64;
            ext.retransmissions += retransmitted;
        }
        for (to, dst, body) in packets {
            let packet = Packet { from: self.me, src: self.session, dst, body };
            // Errors mean the network dropped it; the stream retransmits.
            let _ = self.ep.send_to_raw(self.shared.addrs[to], TAG, Box::new(packet)).await;
        }
    }
}

async fn receive(ep: Endpoint, inbox: Inbox, signal: Rc<Signal>) {
    while let Ok((payload, _from)) = ep.recv_from_raw(TAG).await {
        if let Ok(packet) = payload.downcast::<Packet>() {
            inbox.borrow_mut().push_back(*packet);
            signal.raise();
        }
    }
}

/// Wakes a node's main loop when a packet arrived.
#[derive(Default)]
struct Signal {
    raised: Cell<bool>,
    waker: RefCell<Option<Waker>>,
}

impl Signal {
    fn raise(&self) {
        self.raised.set(true);
        if let Some(waker) = self.waker.borrow_mut().take() {
            waker.wake();
        }
    }
}

/// Sleep until `deadline_ns` (None: no deadline) or until a packet arrives. A node loop that
/// keeps finding its deadline already past without ever sleeping would stop virtual time (no
/// other task runs): `spins` counts such rounds and turns a livelock into a panic.
async fn idle(shared: &Shared, signal: &Signal, deadline_ns: Option<u64>, spins: &mut u32) {
    if deadline_ns.is_some_and(|d| d <= shared.now_ns()) {
        *spins += 1;
        assert!(
            *spins < 100_000,
            "madsim world livelock at {} ns: deadline {deadline_ns:?} stays in the past",
            shared.now_ns()
        );
        return;
    }
    *spins = 0;
    let mut sleep = deadline_ns.map(|d| Box::pin(madsim::time::sleep_until(shared.instant(d))));
    poll_fn(|cx| {
        if signal.raised.replace(false) {
            return Poll::Ready(());
        }
        if let Some(sleep) = sleep.as_mut() {
            if sleep.as_mut().poll(cx).is_ready() {
                return Poll::Ready(());
            }
        }
        *signal.waker.borrow_mut() = Some(cx.waker().clone());
        Poll::Pending
    })
    .await
}

fn earliest(a: Option<u64>, b: Option<u64>) -> Option<u64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

// ---- the job manager ---------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Waiting for every task manager to register before the first deployment.
    Starting,
    Running,
    /// A failover happened; redeploy the cancelled tasks at this time (once their task
    /// managers are up).
    Restarting {
        at_ns: u64,
    },
    Over,
}

/// The job manager's process: registration, heartbeats and messages around the shared
/// [`JobMaster`], which makes every decision about the job.
struct JobManager {
    shared: Arc<Shared>,
    phase: Phase,
    /// Per task manager (index = node - 1): its registered session, last heartbeat, and
    /// whether its heartbeats timed out since.
    registered: Vec<Option<u64>>,
    last_heartbeat_ns: Vec<u64>,
    suspected: Vec<bool>,
    placement: Vec<NodeId>,
    /// Created at the first deployment.
    job: Option<JobMaster>,
    next_check_ns: u64,
}

async fn job_manager(shared: Arc<Shared>) {
    let (mut link, inbox, signal) = Link::open(shared.clone(), JOB_MANAGER).await;
    let tms = shared.task_managers();
    let plan = &shared.scenario.plan;
    let mut jm = JobManager {
        phase: Phase::Starting,
        registered: vec![None; tms],
        last_heartbeat_ns: vec![0; tms],
        suspected: vec![false; tms],
        placement: (0..plan.subtasks.len()).map(|s| shared.scenario.node_of_subtask(s)).collect(),
        job: None,
        next_check_ns: 0,
        shared: shared.clone(),
    };
    let mut delivered = Vec::new();
    let mut heartbeats = Vec::new();
    let mut spins = 0;
    loop {
        let now = shared.now_ns();
        link.receive_all(&inbox, now, &mut delivered, &mut heartbeats);
        for (node, session) in heartbeats.drain(..) {
            jm.on_heartbeat(node, session, now, &mut link);
        }
        for (_, envelope) in delivered.drain(..) {
            jm.on_envelope(envelope, now, &mut link);
        }
        jm.tick(now, &mut link);
        link.flush(now).await;
        if jm.phase == Phase::Over {
            return;
        }
        let deadline = earliest(jm.next_deadline(now), link.next_deadline());
        idle(&shared, &signal, deadline, &mut spins).await;
    }
}

impl JobManager {
    fn task_manager_nodes(&self) -> impl Iterator<Item = NodeId> {
        1..=self.registered.len()
    }

    /// Nodes that run at least one subtask.
    fn hosting_nodes(&self) -> BTreeSet<NodeId> {
        self.placement.iter().copied().collect()
    }

    fn usable(&self, node: NodeId, now: u64) -> bool {
        let tm = node - 1;
        let timeout = self.shared.scenario.failure_detection.heartbeat_timeout_ms * 1_000_000;
        self.registered[tm].is_some() && !self.suspected[tm] && now <= self.last_heartbeat_ns[tm] + timeout
    }

    fn on_heartbeat(&mut self, node: NodeId, session: u64, now: u64, link: &mut Link) {
        if node == JOB_MANAGER || node > self.registered.len() {
            return;
        }
        let tm = node - 1;
        match self.registered[tm] {
            Some(s) if session < s => return,
            Some(s) if session > s => {
                // A new incarnation registers: the old one and its tasks are gone.
                self.registered[tm] = Some(session);
                self.last_heartbeat_ns[tm] = now;
                self.suspected[tm] = false;
                self.on_failure(node, now, link);
                return;
            }
            Some(_) => {}
            None => self.registered[tm] = Some(session),
        }
        self.last_heartbeat_ns[tm] = now;
        // Heard from again after a timeout (a healed partition): usable for the next attempt.
        self.suspected[tm] = false;
    }

    /// Is a message from `subtask` in `attempt` current (not from a cancelled attempt)?
    fn current(&self, subtask: SubtaskId, attempt: u32) -> bool {
        self.job.as_ref().is_some_and(|j| subtask < self.placement.len() && j.task_attempt(subtask) == attempt)
    }

    fn on_envelope(&mut self, envelope: Envelope, now: u64, link: &mut Link) {
        if self.phase == Phase::Starting || self.phase == Phase::Over {
            return;
        }
        match envelope {
            Envelope::Ack { attempt, subtask, checkpoint_id, accepted } if self.current(subtask, attempt) => {
                let Some(job) = self.job.as_mut() else { return };
                if let Some(event) = job.on_ack(subtask, checkpoint_id, accepted, now) {
                    self.on_checkpoint_event(event, link);
                }
            }
            Envelope::Finished { attempt, subtask } if self.current(subtask, attempt) => {
                let Some(job) = self.job.as_mut() else { return };
                let reaction = job.on_task_finished(subtask);
                if let Some(checkpoint_id) = reaction.trigger {
                    link.queue(
                        self.placement[subtask],
                        Envelope::Trigger { attempt, checkpoint_id, subtasks: vec![subtask] },
                    );
                }
                if reaction.job_finished {
                    self.end(MadsimStop::JobFinished, now);
                }
            }
            Envelope::Notified { checkpoint_id, tasks } => {
                for (subtask, attempt) in tasks {
                    if !self.current(subtask, attempt) {
                        continue;
                    }
                    if self.job.as_mut().is_some_and(|j| j.on_notified(subtask, checkpoint_id)) {
                        self.end(MadsimStop::JobFinished, now);
                        return;
                    }
                }
            }
            _ => {}
        }
    }

    fn on_checkpoint_event(&mut self, event: CheckpointEvent, link: &mut Link) {
        let Some(job) = self.job.as_mut() else { return };
        let reaction = job.on_checkpoint_event(&event);
        match event {
            CheckpointEvent::Triggered { id } => {
                let mut targets: BTreeMap<(NodeId, u32), Vec<SubtaskId>> = BTreeMap::new();
                for s in reaction.trigger {
                    targets.entry((self.placement[s], job.task_attempt(s))).or_default().push(s);
                }
                for ((node, attempt), subtasks) in targets {
                    link.queue(node, Envelope::Trigger { attempt, checkpoint_id: id, subtasks });
                }
            }
            CheckpointEvent::Completed { id } => {
                {
                    let mut ext = self.shared.ext();
                    let ext = &mut *ext;
                    ext.checkpoints_completed += 1;
                    checkpoint_completed(&mut ext.commits, &mut ext.storage, id);
                }
                if reaction.notify {
                    let attempt = job.attempt();
                    for node in self.hosting_nodes() {
                        link.queue(node, Envelope::Notify { attempt, checkpoint_id: id });
                    }
                }
            }
            CheckpointEvent::Aborted { .. } => self.shared.ext().checkpoints_aborted += 1,
        }
    }

    fn tick(&mut self, now: u64, link: &mut Link) {
        if now >= self.next_check_ns {
            let fd = self.shared.scenario.failure_detection;
            self.next_check_ns = now + fd.heartbeat_interval_ms.max(1) * 1_000_000;
            let timeout = fd.heartbeat_timeout_ms * 1_000_000;
            for tm in 0..self.registered.len() {
                if self.registered[tm].is_some() && !self.suspected[tm] && now > self.last_heartbeat_ns[tm] + timeout {
                    self.suspected[tm] = true;
                    self.on_failure(tm + 1, now, link);
                }
            }
        }
        match self.phase {
            Phase::Starting => {
                if self.task_manager_nodes().all(|n| self.usable(n, now)) {
                    let job = JobMaster::new(&self.shared.scenario, now, false);
                    let plan = job.first_deployment();
                    self.job = Some(job);
                    self.deploy(plan, link);
                }
            }
            Phase::Restarting { at_ns } => {
                let Some(job) = self.job.as_ref() else { return };
                let needed: BTreeSet<NodeId> = job.pending_restart().map(|s| self.placement[s]).collect();
                if now >= at_ns && needed.iter().all(|&n| self.usable(n, now)) {
                    let high_water = self.shared.ext().high_water.clone();
                    let Some(job) = self.job.as_mut() else { return };
                    let plan = job.restart(now, &high_water);
                    self.deploy(plan, link);
                }
            }
            Phase::Running => {
                let event = self
                    .job
                    .as_mut()
                    .filter(|j| j.next_deadline_ns().is_some_and(|d| now >= d))
                    .and_then(|j| j.on_tick(now));
                if let Some(event) = event {
                    self.on_checkpoint_event(event, link);
                }
            }
            Phase::Over => {}
        }
    }

    fn next_deadline(&self, now: u64) -> Option<u64> {
        let phase = match self.phase {
            Phase::Running => self.job.as_ref().and_then(|j| j.next_deadline_ns()),
            // Once due, the restart waits for task managers: heartbeats and checks wake us.
            Phase::Restarting { at_ns } if at_ns > now => Some(at_ns),
            _ => None,
        };
        earliest(Some(self.next_check_ns), phase)
    }

    fn deploy(&mut self, plan: RestorePlan, link: &mut Link) {
        self.phase = Phase::Running;
        let deployment = Arc::new(Deployment { plan, placement: self.placement.clone() });
        for node in self.task_manager_nodes() {
            link.queue(node, Envelope::Deploy(deployment.clone()));
        }
    }

    /// Task manager `node` failed: failover as the job master says (its regions, or every task).
    fn on_failure(&mut self, node: NodeId, now: u64, link: &mut Link) {
        if self.phase == Phase::Starting || self.phase == Phase::Over {
            return; // not deployed yet, or over
        }
        let Some(job) = self.job.as_mut() else { return };
        let (tasks, attempt, aborted, restart_after_ns, failed) = match job.on_failure(node, &self.placement, now) {
            Failover::Ignored => return,
            Failover::Restart { tasks, attempt, restart_after_ns, aborted } => {
                (tasks, attempt, aborted, restart_after_ns, false)
            }
            Failover::Failed { tasks, attempt, aborted } => (tasks, attempt, aborted, None, true),
        };
        self.shared.ext().restarts = job.restarts();
        let tasks = Arc::new(tasks);
        for node in self.task_manager_nodes() {
            link.queue(node, Envelope::Cancel { attempt, tasks: tasks.clone() });
        }
        if aborted.is_some() {
            self.shared.ext().checkpoints_aborted += 1;
        }
        if failed {
            self.end(MadsimStop::JobFailed, now);
        } else if let Some(delay_ns) = restart_after_ns {
            self.phase = Phase::Restarting { at_ns: now + delay_ns };
        }
    }

    fn end(&mut self, stop: MadsimStop, now: u64) {
        self.phase = Phase::Over;
        if let Some(job) = self.job.as_mut() {
            job.end();
        }
        self.shared.ext().end = Some((stop, now));
    }
}

// ---- the task managers -------------------------------------------------------------------------

struct LocalTask {
    subtask: Subtask,
    /// The attempt it was deployed in.
    attempt: u32,
    last_snapshot_id: u64,
    /// Invariants 1–3 of [`sim::invariants`], for this attempt (as the kernel checks them).
    checks: TaskInvariants,
}

struct Job {
    placement: Vec<NodeId>,
    /// Indexed by subtask id; Some for the subtasks deployed on this node.
    tasks: Vec<Option<LocalTask>>,
}

impl Job {
    /// The subtasks running here, in plan order.
    fn local(&self) -> Vec<SubtaskId> {
        (0..self.tasks.len()).filter(|&id| self.tasks[id].is_some()).collect()
    }
}

/// Is a message of `attempt` for a subtask current, early (its deployment has not arrived) or
/// stale (its attempt was cancelled)?
enum Fresh {
    Current,
    Early,
    Stale,
}

struct TaskManager {
    shared: Arc<Shared>,
    me: NodeId,
    job: Option<Job>,
    /// Per subtask: messages of lower attempts are stale (raised by `Cancel` and `Deploy`).
    min_attempt: Vec<u32>,
    /// Messages for an attempt not deployed here yet.
    early: Vec<Envelope>,
    next_heartbeat_ns: u64,
}

async fn task_manager(shared: Arc<Shared>, me: NodeId) {
    let (mut link, inbox, signal) = Link::open(shared.clone(), me).await;
    let mut tm = TaskManager {
        shared: shared.clone(),
        me,
        job: None,
        min_attempt: vec![0; shared.scenario.plan.subtasks.len()],
        early: Vec::new(),
        next_heartbeat_ns: 0,
    };
    let interval_ns = shared.scenario.failure_detection.heartbeat_interval_ms.max(1) * 1_000_000;
    let mut delivered = Vec::new();
    let mut heartbeats = Vec::new();
    let mut spins = 0;
    loop {
        let now = shared.now_ns();
        link.receive_all(&inbox, now, &mut delivered, &mut heartbeats);
        heartbeats.clear();
        for (_, envelope) in delivered.drain(..) {
            tm.on_envelope(envelope, now, &mut link);
        }
        tm.run(now, &mut link);
        if now >= tm.next_heartbeat_ns {
            link.heartbeats_due.insert(JOB_MANAGER);
            tm.next_heartbeat_ns = now + interval_ns;
        }
        link.flush(now).await;
        let deadline = earliest(earliest(tm.next_wake(now), Some(tm.next_heartbeat_ns)), link.next_deadline());
        idle(&shared, &signal, deadline, &mut spins).await;
    }
}

impl TaskManager {
    fn fresh(&self, subtask: SubtaskId, attempt: u32) -> Fresh {
        if attempt < self.min_attempt.get(subtask).copied().unwrap_or(0) {
            return Fresh::Stale;
        }
        match self.job.as_ref().and_then(|j| j.tasks.get(subtask)).and_then(Option::as_ref) {
            Some(task) if task.attempt == attempt => Fresh::Current,
            Some(task) if task.attempt > attempt => Fresh::Stale,
            _ => Fresh::Early,
        }
    }

    fn on_envelope(&mut self, envelope: Envelope, now: u64, link: &mut Link) {
        match envelope {
            Envelope::Deploy(d) => {
                self.deploy(&d, now, link);
                let early = std::mem::take(&mut self.early);
                for e in early {
                    self.on_envelope(e, now, link);
                }
            }
            Envelope::Cancel { attempt, tasks } => {
                for &id in tasks.iter() {
                    if let Some(min) = self.min_attempt.get_mut(id) {
                        *min = (*min).max(attempt);
                    }
                    if let Some(slot) = self.job.as_mut().and_then(|j| j.tasks.get_mut(id)) {
                        if slot.as_ref().is_some_and(|t| t.attempt < attempt) {
                            *slot = None; // the task is cancelled, buffers and all
                        }
                    }
                }
                let early = std::mem::take(&mut self.early);
                for e in early {
                    self.on_envelope(e, now, link); // stale ones are dropped now
                }
            }
            Envelope::Data { attempt, channel, message } => {
                let info = self.shared.scenario.plan.channels[channel as usize];
                match self.fresh(info.to, attempt) {
                    Fresh::Current => {
                        if let Some(task) = self.task_mut(info.to) {
                            task.subtask.push_input(info.input_index, message);
                        }
                    }
                    Fresh::Early => self.early.push(Envelope::Data { attempt, channel, message }),
                    Fresh::Stale => {}
                }
            }
            Envelope::Trigger { attempt, checkpoint_id, subtasks } => {
                for id in subtasks {
                    match self.fresh(id, attempt) {
                        Fresh::Current => {
                            let Some(task) = self.task_mut(id) else {
                                continue;
                            };
                            if task.last_snapshot_id < checkpoint_id {
                                task.subtask.trigger_checkpoint(checkpoint_id, now);
                                self.drain(id, now, link);
                            }
                        }
                        Fresh::Early => {
                            self.early.push(Envelope::Trigger { attempt, checkpoint_id, subtasks: vec![id] })
                        }
                        Fresh::Stale => {}
                    }
                }
            }
            Envelope::Notify { attempt, checkpoint_id } => {
                let local = self.job.as_ref().map(Job::local).unwrap_or_default();
                let mut notified = Vec::new();
                for id in local {
                    let Some(task) = self.task_mut(id) else {
                        continue;
                    };
                    if task.attempt > attempt {
                        continue; // deployed after the notification was sent
                    }
                    task.subtask.notify_checkpoint_complete(checkpoint_id);
                    notified.push((id, task.attempt));
                    self.drain(id, now, link);
                }
                link.queue(JOB_MANAGER, Envelope::Notified { checkpoint_id, tasks: notified });
            }
            _ => {}
        }
    }

    fn deploy(&mut self, d: &Deployment, now: u64, link: &mut Link) {
        let scenario = self.shared.scenario.clone();
        let plan = &d.plan;
        let job = self.job.get_or_insert_with(|| Job {
            placement: d.placement.clone(),
            tasks: (0..scenario.plan.subtasks.len()).map(|_| None).collect(),
        });
        let mut deployed = Vec::new();
        {
            let mut ext = self.shared.ext();
            for &id in &plan.tasks {
                if d.placement[id] != self.me
                    || plan.attempt < self.min_attempt[id]
                    || job.tasks[id].as_ref().is_some_and(|t| t.attempt >= plan.attempt)
                {
                    continue;
                }
                let fresh = deploy_subtask(&scenario, &ext.storage, id, plan, now);
                if let Some(cp) = fresh.missing_state {
                    ext.violations
                        .push(format!("attempt {}: no state of subtask {id} in checkpoint {cp}", plan.attempt));
                }
                ext.in_flight_restored += fresh.restored_in_flight.iter().map(|&n| n as u64).sum::<u64>();
                self.min_attempt[id] = plan.attempt;
                job.tasks[id] = Some(LocalTask {
                    subtask: fresh.subtask,
                    attempt: plan.attempt,
                    last_snapshot_id: 0,
                    checks: TaskInvariants::default(),
                });
                deployed.push(id);
            }
        }
        // Fresh or restored subtasks may have something to say already (a restored
        // two-phase-commit sink's Recover, an idle source's announcement).
        for id in deployed {
            self.drain(id, now, link);
        }
    }

    fn task_mut(&mut self, id: SubtaskId) -> Option<&mut LocalTask> {
        self.job.as_mut().and_then(|j| j.tasks[id].as_mut())
    }

    /// Drive the local subtasks until none can make progress at `now`.
    fn run(&mut self, now: u64, link: &mut Link) {
        loop {
            let Some(job) = self.job.as_ref() else {
                return;
            };
            let mut progressed = false;
            for id in job.local() {
                let is_source =
                    self.job.as_ref().and_then(|j| j.tasks[id].as_ref()).is_some_and(|t| t.subtask.is_source());
                if is_source {
                    progressed |= self.run_source(id, now, link);
                } else {
                    let inputs = self.shared.scenario.plan.subtasks[id].inputs.len();
                    let aligned = self
                        .shared
                        .scenario
                        .checkpoint_config()
                        .is_some_and(|c| c.mode == engine::checkpoint::CheckpointMode::ExactlyOnce);
                    while let Some(task) = self.job.as_mut().and_then(|j| j.tasks[id].as_mut()) {
                        let Some(step) = task.subtask.step(now) else {
                            break;
                        };
                        if let Err(message) = task.checks.on_step(&step, inputs, aligned) {
                            self.shared.ext().violations.push(format!("subtask {id}: {message}"));
                        }
                        self.drain(id, now, link);
                        progressed = true;
                    }
                }
            }
            if !progressed {
                return;
            }
        }
    }

    /// A source reads every log entry appended by `now` and fires its due timers, in time order.
    fn run_source(&mut self, id: SubtaskId, now: u64, link: &mut Link) -> bool {
        let log = self.shared.log.clone();
        let mut progressed = false;
        loop {
            let Some(task) = self.job.as_mut().and_then(|j| j.tasks[id].as_mut()) else {
                return progressed;
            };
            if task.subtask.is_finished() {
                return progressed;
            }
            let read = next_source_read(&task.subtask, &log, now);
            let (next, any_left) = (read.next, !read.exhausted);
            let timer = task.subtask.next_timer_ns().filter(|t| *t <= now);
            // Records appended by a timer's time are read before the timer fires.
            let record = next.filter(|(append_ns, _, _)| timer.is_none_or(|t| *append_ns <= t));
            if let Some((_, partition, offset)) = record {
                let Some(event) = log.event(SourceRef { partition, offset }) else {
                    return progressed; // next_source_read only names entries that exist
                };
                task.subtask.handle_source_record(partition, offset, event, now);
                let mut ext = self.shared.ext();
                ext.records_read += 1;
                ext.high_water.on_read(partition, offset);
            } else if timer.is_some() {
                task.subtask.handle_timer(now);
            } else {
                if !any_left {
                    task.subtask.handle_source_exhausted();
                    let finished = task.subtask.is_finished();
                    self.drain(id, now, link);
                    progressed |= finished;
                }
                return progressed;
            }
            self.drain(id, now, link);
            progressed = true;
        }
    }

    /// When a local source next needs to run: its next log entry becomes readable, or a timer.
    fn next_wake(&self, now: u64) -> Option<u64> {
        let job = self.job.as_ref()?;
        let mut wake: Option<u64> = None;
        for task in job.tasks.iter().flatten() {
            if !task.subtask.is_source() || task.subtask.is_finished() {
                continue;
            }
            wake = earliest(wake, task.subtask.next_timer_ns());
            for (partition, offset) in task.subtask.source_positions() {
                if let Some(entry) = self.shared.log.entry(SourceRef { partition, offset }) {
                    wake = earliest(wake, Some(entry.append_ns.max(now)));
                }
            }
        }
        wake
    }

    /// Carry out everything subtask `id` asked for.
    fn drain(&mut self, id: SubtaskId, now: u64, link: &mut Link) {
        let TaskManager { shared, job, me, .. } = self;
        let Some(job) = job.as_mut() else {
            return;
        };
        let scenario = &shared.scenario;
        let plan = &scenario.plan;
        loop {
            let Some(task) = job.tasks[id].as_mut() else {
                return;
            };
            let Some(output) = task.subtask.poll_output() else {
                return;
            };
            match output {
                Output::Send { channel, message } => {
                    if let Err(message) = task.checks.on_send(channel, &message) {
                        shared.ext().violations.push(format!("subtask {id}: {message}"));
                    }
                    let info = plan.channels[channel];
                    let node = job.placement[info.to];
                    if node == *me {
                        if let Some(receiver) = job.tasks[info.to].as_mut() {
                            receiver.subtask.push_input(info.input_index, message);
                        }
                    } else {
                        link.queue(node, Envelope::Data { attempt: task.attempt, channel: channel as u32, message });
                    }
                }
                Output::Snapshot(report) => {
                    let checkpoint_id = report.checkpoint_id;
                    task.last_snapshot_id = task.last_snapshot_id.max(checkpoint_id);
                    let mut ext = shared.ext();
                    if let Err(message) = task.checks.on_snapshot(checkpoint_id) {
                        ext.violations.push(format!("subtask {id}: {message}"));
                    }
                    let accepted = persist_snapshot(&mut ext.storage, id, *report);
                    drop(ext);
                    link.queue(
                        JOB_MANAGER,
                        Envelope::Ack { attempt: task.attempt, subtask: id, checkpoint_id, accepted },
                    );
                }
                Output::Sink(effect) => {
                    let mut ext = shared.ext();
                    let ext = &mut *ext;
                    for message in apply_sink_effect(scenario, &mut ext.store, &mut ext.commits, id, effect, now) {
                        ext.violations.push(format!("subtask {id}: {message}"));
                    }
                }
                Output::Note(Note::Finished) => {
                    link.queue(JOB_MANAGER, Envelope::Finished { attempt: task.attempt, subtask: id })
                }
                Output::Note(note) => {
                    note_late(&note, &mut shared.ext().late_sources);
                }
            }
        }
    }
}
