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

use engine::checkpoint::{CheckpointCoordinator, CheckpointEvent};
use engine::graph::SubtaskId;
use engine::message::Message;
use engine::subtask::{Note, Output, Subtask};
use engine::SourceRef;
use madsim::net::{Endpoint, NetSim};
use madsim::runtime::{Handle, NodeHandle, Runtime};
use madsim::time::Instant;

use sim::external::{CheckpointStorage, SinkStore, SourceLog, StoredRow};
use sim::invariants::{CommitInvariant, TaskInvariants};
use sim::kernel::{SimRng, Stream};
use sim::scenario::{Guarantee, NodeId, Scenario, JOB_MANAGER};

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
    high_water: Vec<u64>,
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
        ext: Mutex::new(Externals { high_water: vec![0; partitions], ..Externals::default() }),
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
    attempt: u32,
    /// The completed checkpoint to restore (None: fresh state).
    restore_from: Option<u64>,
    /// Node of every subtask.
    placement: Vec<NodeId>,
    /// At-most-once: where sources start reading instead ("the latest positions").
    positions: Option<Vec<(u32, u64)>>,
}

/// Application messages, carried in order by the link layer.
#[derive(Clone, Debug)]
enum Envelope {
    /// Task manager to task manager: a message on a channel.
    Data {
        attempt: u32,
        channel: u32,
        message: Message,
    },
    Deploy(Arc<Deployment>),
    Cancel {
        attempt: u32,
    },
    Trigger {
        attempt: u32,
        checkpoint_id: u64,
        subtasks: Vec<SubtaskId>,
    },
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
    Notified {
        attempt: u32,
        checkpoint_id: u64,
    },
}

impl Envelope {
    fn attempt(&self) -> u32 {
        match self {
            Envelope::Deploy(d) => d.attempt,
            Envelope::Data { attempt, .. }
            | Envelope::Cancel { attempt }
            | Envelope::Trigger { attempt, .. }
            | Envelope::Notify { attempt, .. }
            | Envelope::Ack { attempt, .. }
            | Envelope::Finished { attempt, .. }
            | Envelope::Notified { attempt, .. } => *attempt,
        }
    }
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
    /// A failover happened; redeploy at this time (once every task manager is up).
    Restarting {
        at_ns: u64,
    },
    Over,
}

struct JobManager {
    shared: Arc<Shared>,
    attempt: u32,
    restarts: u32,
    phase: Phase,
    /// Per task manager (index = node - 1): its registered session, last heartbeat, and
    /// whether its heartbeats timed out since.
    registered: Vec<Option<u64>>,
    last_heartbeat_ns: Vec<u64>,
    suspected: Vec<bool>,
    placement: Vec<NodeId>,
    coordinator: Option<CheckpointCoordinator>,
    /// Highest checkpoint id triggered so far.
    last_triggered: u64,
    finished: BTreeSet<SubtaskId>,
    /// Every subtask finished once checkpoints up to this id had been triggered: the next
    /// checkpoint to complete is the final one.
    final_after: Option<u64>,
    final_checkpoint: Option<u64>,
    notified: BTreeSet<NodeId>,
    next_check_ns: u64,
}

async fn job_manager(shared: Arc<Shared>) {
    let (mut link, inbox, signal) = Link::open(shared.clone(), JOB_MANAGER).await;
    let tms = shared.task_managers();
    let plan = &shared.scenario.plan;
    let mut jm = JobManager {
        attempt: 0,
        restarts: 0,
        phase: Phase::Starting,
        registered: vec![None; tms],
        last_heartbeat_ns: vec![0; tms],
        suspected: vec![false; tms],
        placement: (0..plan.subtasks.len()).map(|s| shared.scenario.node_of_subtask(s)).collect(),
        coordinator: None,
        last_triggered: 0,
        finished: BTreeSet::new(),
        final_after: None,
        final_checkpoint: None,
        notified: BTreeSet::new(),
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
        for (from, envelope) in delivered.drain(..) {
            jm.on_envelope(from, envelope, now, &mut link);
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
                self.on_failure(now, link);
                return;
            }
            Some(_) => {}
            None => self.registered[tm] = Some(session),
        }
        self.last_heartbeat_ns[tm] = now;
        // Heard from again after a timeout (a healed partition): usable for the next attempt.
        self.suspected[tm] = false;
    }

    fn on_envelope(&mut self, from: NodeId, envelope: Envelope, now: u64, link: &mut Link) {
        if envelope.attempt() != self.attempt || self.phase != Phase::Running {
            return;
        }
        match envelope {
            Envelope::Ack { subtask, checkpoint_id, accepted, .. } => {
                let Some(c) = self.coordinator.as_mut() else {
                    return;
                };
                let event =
                    if accepted { c.on_ack(subtask, checkpoint_id, now) } else { c.on_decline(checkpoint_id, now) };
                if let Some(event) = event {
                    self.on_checkpoint_event(event, link);
                }
            }
            Envelope::Finished { subtask, .. } => {
                if !self.finished.insert(subtask) {
                    return;
                }
                // A finished subtask never sees a barrier again: trigger it directly.
                if let Some(pending) = self.coordinator.as_ref().and_then(|c| c.pending()) {
                    link.queue(
                        self.placement[subtask],
                        Envelope::Trigger { attempt: self.attempt, checkpoint_id: pending.id, subtasks: vec![subtask] },
                    );
                }
                if self.finished.len() == self.placement.len() {
                    if self.coordinator.is_none() {
                        self.end(MadsimStop::JobFinished, now);
                    } else {
                        self.final_after = Some(self.last_triggered);
                    }
                }
            }
            Envelope::Notified { checkpoint_id, .. } if self.final_checkpoint == Some(checkpoint_id) => {
                self.notified.insert(from);
                if self.hosting_nodes().is_subset(&self.notified) {
                    self.end(MadsimStop::JobFinished, now);
                }
            }
            _ => {}
        }
    }

    fn on_checkpoint_event(&mut self, event: CheckpointEvent, link: &mut Link) {
        match event {
            CheckpointEvent::Triggered { id } => {
                self.last_triggered = id;
                let plan = &self.shared.scenario.plan;
                let mut targets: BTreeMap<NodeId, Vec<SubtaskId>> = BTreeMap::new();
                for s in 0..plan.subtasks.len() {
                    let is_source = plan.source_subtasks().any(|x| x == s);
                    if is_source || self.finished.contains(&s) {
                        targets.entry(self.placement[s]).or_default().push(s);
                    }
                }
                for (node, subtasks) in targets {
                    link.queue(node, Envelope::Trigger { attempt: self.attempt, checkpoint_id: id, subtasks });
                }
            }
            CheckpointEvent::Completed { id } => {
                {
                    let mut ext = self.shared.ext();
                    ext.checkpoints_completed += 1;
                    ext.commits.on_checkpoint_completed(id);
                    ext.storage.discard_before(id);
                }
                for node in self.hosting_nodes() {
                    link.queue(node, Envelope::Notify { attempt: self.attempt, checkpoint_id: id });
                }
                if self.final_after.is_some_and(|after| id > after) {
                    self.final_checkpoint = Some(id);
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
                    self.on_failure(now, link);
                }
            }
        }
        match self.phase {
            Phase::Starting => {
                if self.task_manager_nodes().all(|n| self.usable(n, now)) {
                    self.coordinator = self
                        .shared
                        .scenario
                        .checkpoint_config()
                        .map(|c| CheckpointCoordinator::new(c, self.placement.len(), now));
                    self.deploy(link);
                }
            }
            Phase::Restarting { at_ns } => {
                if now >= at_ns && self.hosting_nodes().iter().all(|&n| self.usable(n, now)) {
                    if let Some(c) = self.coordinator.as_mut() {
                        c.on_job_restart(now);
                    }
                    self.deploy(link);
                }
            }
            Phase::Running => {
                if self.final_checkpoint.is_none() {
                    let event =
                        self.coordinator.as_mut().filter(|c| now >= c.next_deadline_ns()).and_then(|c| c.on_tick(now));
                    if let Some(event) = event {
                        self.on_checkpoint_event(event, link);
                    }
                }
            }
            Phase::Over => {}
        }
    }

    fn next_deadline(&self, now: u64) -> Option<u64> {
        let phase = match self.phase {
            Phase::Running if self.final_checkpoint.is_none() => {
                self.coordinator.as_ref().map(|c| c.next_deadline_ns())
            }
            // Once due, the restart waits for task managers: heartbeats and checks wake us.
            Phase::Restarting { at_ns } if at_ns > now => Some(at_ns),
            _ => None,
        };
        earliest(Some(self.next_check_ns), phase)
    }

    fn deploy(&mut self, link: &mut Link) {
        self.phase = Phase::Running;
        self.finished.clear();
        self.final_after = None;
        self.final_checkpoint = None;
        self.notified.clear();
        let scenario = &self.shared.scenario;
        let at_most_once = scenario.guarantee == Guarantee::AtMostOnce;
        let restore_from =
            if at_most_once { None } else { self.coordinator.as_ref().and_then(|c| c.latest_completed()) };
        let positions = (at_most_once && self.attempt > 0).then(|| {
            let ext = self.shared.ext();
            ext.high_water.iter().enumerate().map(|(p, o)| (p as u32, *o)).collect()
        });
        let deployment =
            Arc::new(Deployment { attempt: self.attempt, restore_from, placement: self.placement.clone(), positions });
        for node in self.task_manager_nodes() {
            link.queue(node, Envelope::Deploy(deployment.clone()));
        }
    }

    /// A task manager failed: global failover.
    fn on_failure(&mut self, now: u64, link: &mut Link) {
        if self.phase != Phase::Running {
            return; // not deployed yet, already restarting, or over
        }
        self.attempt += 1;
        self.restarts += 1;
        self.shared.ext().restarts += 1;
        for node in self.task_manager_nodes() {
            link.queue(node, Envelope::Cancel { attempt: self.attempt });
        }
        if let Some(CheckpointEvent::Aborted { .. }) = self.coordinator.as_mut().and_then(|c| c.on_job_restart(now)) {
            self.shared.ext().checkpoints_aborted += 1;
        }
        match self.shared.scenario.restart.delay_ms(self.restarts) {
            Some(delay_ms) => self.phase = Phase::Restarting { at_ns: now + delay_ms * 1_000_000 },
            None => self.end(MadsimStop::JobFailed, now),
        }
    }

    fn end(&mut self, stop: MadsimStop, now: u64) {
        self.phase = Phase::Over;
        self.shared.ext().end = Some((stop, now));
    }
}

// ---- the task managers -------------------------------------------------------------------------

struct LocalTask {
    subtask: Subtask,
    last_snapshot_id: u64,
    /// Invariants 1–3 of [`sim::invariants`], for this attempt (as the kernel checks them).
    checks: TaskInvariants,
}

struct Job {
    attempt: u32,
    placement: Vec<NodeId>,
    /// Indexed by subtask id; Some for the subtasks on this node.
    tasks: Vec<Option<LocalTask>>,
    local: Vec<SubtaskId>,
}

struct TaskManager {
    shared: Arc<Shared>,
    me: NodeId,
    job: Option<Job>,
    /// Messages of attempts lower than this are stale.
    min_attempt: u32,
    /// Messages for an attempt not deployed here yet.
    early: Vec<Envelope>,
    next_heartbeat_ns: u64,
}

async fn task_manager(shared: Arc<Shared>, me: NodeId) {
    let (mut link, inbox, signal) = Link::open(shared.clone(), me).await;
    let mut tm =
        TaskManager { shared: shared.clone(), me, job: None, min_attempt: 0, early: Vec::new(), next_heartbeat_ns: 0 };
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
    fn on_envelope(&mut self, envelope: Envelope, now: u64, link: &mut Link) {
        let attempt = envelope.attempt();
        match envelope {
            Envelope::Deploy(d) => {
                if attempt < self.min_attempt || self.job.as_ref().is_some_and(|j| j.attempt >= attempt) {
                    return;
                }
                self.min_attempt = attempt;
                self.deploy(&d, now, link);
                let early = std::mem::take(&mut self.early);
                for e in early {
                    if e.attempt() >= attempt {
                        self.on_envelope(e, now, link);
                    }
                }
            }
            Envelope::Cancel { attempt } => {
                self.min_attempt = self.min_attempt.max(attempt);
                if self.job.as_ref().is_some_and(|j| j.attempt < attempt) {
                    self.job = None; // the process's tasks are cancelled, buffers and all
                }
                self.early.retain(|e| e.attempt() >= attempt);
            }
            other => {
                let current = self.job.as_ref().map(|j| j.attempt);
                if current == Some(attempt) {
                    self.handle(other, now, link);
                } else if attempt >= self.min_attempt && current.is_none_or(|c| attempt > c) {
                    self.early.push(other);
                }
            }
        }
    }

    fn deploy(&mut self, d: &Deployment, now: u64, link: &mut Link) {
        let scenario = self.shared.scenario.clone();
        let plan = &scenario.plan;
        let mode = scenario.checkpoint_config().map(|c| c.mode);
        let mut tasks: Vec<Option<LocalTask>> = (0..plan.subtasks.len()).map(|_| None).collect();
        let mut local = Vec::new();
        {
            let mut ext = self.shared.ext();
            for (id, slot) in tasks.iter_mut().enumerate() {
                if d.placement[id] != self.me {
                    continue;
                }
                let state =
                    d.restore_from.and_then(|cp| ext.storage.get(cp)).and_then(|snapshots| snapshots.get(&id).cloned());
                if let (Some(cp), None) = (d.restore_from, &state) {
                    ext.violations.push(format!("attempt {}: no state of subtask {id} in checkpoint {cp}", d.attempt));
                }
                // Operator state and, for unaligned checkpoints, the in-flight data the snapshot
                // saved: it goes back into the input channels before anything new is read.
                let mut subtask = match (d.restore_from, state) {
                    (Some(cp), Some(state)) => {
                        let channel_state = ext.storage.channel_state(cp, id);
                        ext.in_flight_restored += channel_state.iter().map(|c| c.len() as u64).sum::<u64>();
                        Subtask::restored_with_channel_state(plan, id, mode, d.attempt, now, state, channel_state)
                    }
                    _ => Subtask::new(plan, id, mode, d.attempt, now),
                };
                if let Some(positions) = &d.positions {
                    subtask.set_source_positions(positions);
                }
                *slot = Some(LocalTask { subtask, last_snapshot_id: 0, checks: TaskInvariants::default() });
                local.push(id);
            }
        }
        self.job = Some(Job { attempt: d.attempt, placement: d.placement.clone(), tasks, local: local.clone() });
        // Fresh or restored subtasks may have something to say already (a restored
        // two-phase-commit sink's Recover, an idle source's announcement).
        for id in local {
            self.drain(id, now, link);
        }
    }

    /// A message for the current attempt.
    fn handle(&mut self, envelope: Envelope, now: u64, link: &mut Link) {
        match envelope {
            Envelope::Data { channel, message, .. } => {
                let info = self.shared.scenario.plan.channels[channel as usize];
                if let Some(task) = self.task_mut(info.to) {
                    task.subtask.push_input(info.input_index, message);
                }
            }
            Envelope::Trigger { checkpoint_id, subtasks, .. } => {
                for id in subtasks {
                    let Some(task) = self.task_mut(id) else {
                        continue;
                    };
                    if task.last_snapshot_id < checkpoint_id {
                        task.subtask.trigger_checkpoint(checkpoint_id, now);
                        self.drain(id, now, link);
                    }
                }
            }
            Envelope::Notify { attempt, checkpoint_id } => {
                let local = self.job.as_ref().map(|j| j.local.clone()).unwrap_or_default();
                for id in local {
                    if let Some(task) = self.task_mut(id) {
                        task.subtask.notify_checkpoint_complete(checkpoint_id);
                    }
                    self.drain(id, now, link);
                }
                link.queue(JOB_MANAGER, Envelope::Notified { attempt, checkpoint_id });
            }
            _ => {}
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
            for id in job.local.clone() {
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
            let mut next: Option<(u64, u32, u64)> = None;
            let mut any_left = false;
            for (partition, offset) in task.subtask.source_positions() {
                let Some(entry) = log.entry(SourceRef { partition, offset }) else {
                    continue;
                };
                any_left = true;
                if entry.append_ns <= now && next.is_none_or(|(t, p, _)| (entry.append_ns, partition) < (t, p)) {
                    next = Some((entry.append_ns, partition, offset));
                }
            }
            let timer = task.subtask.next_timer_ns().filter(|t| *t <= now);
            // Records appended by a timer's time are read before the timer fires.
            let record = next.filter(|(append_ns, _, _)| timer.is_none_or(|t| *append_ns <= t));
            if let Some((_, partition, offset)) = record {
                let at = SourceRef { partition, offset };
                let event = log.event(at).expect("entry exists");
                task.subtask.handle_source_record(partition, offset, event, now);
                let mut ext = self.shared.ext();
                ext.records_read += 1;
                let high = &mut ext.high_water[partition as usize];
                *high = (*high).max(offset + 1);
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
                        link.queue(node, Envelope::Data { attempt: job.attempt, channel: channel as u32, message });
                    }
                }
                Output::Snapshot(report) => {
                    let checkpoint_id = report.checkpoint_id;
                    task.last_snapshot_id = task.last_snapshot_id.max(checkpoint_id);
                    let mut ext = shared.ext();
                    if let Err(message) = task.checks.on_snapshot(checkpoint_id) {
                        ext.violations.push(format!("subtask {id}: {message}"));
                    }
                    let accepted = ext.storage.write(checkpoint_id, id, report.state);
                    if accepted {
                        ext.storage.write_channel_state(checkpoint_id, id, report.channel_state);
                    }
                    drop(ext);
                    link.queue(
                        JOB_MANAGER,
                        Envelope::Ack { attempt: job.attempt, subtask: id, checkpoint_id, accepted },
                    );
                }
                Output::Sink(effect) => {
                    let mut ext = shared.ext();
                    for message in ext.commits.on_sink_effect(&effect) {
                        ext.violations.push(format!("subtask {id}: {message}"));
                    }
                    if let Some(timeout) = scenario.transaction_timeout_ns {
                        ext.store.expire_transactions(now, timeout);
                    }
                    ext.store.apply(plan.subtasks[id].operator, id, effect, now);
                }
                Output::Note(Note::Finished) => {
                    link.queue(JOB_MANAGER, Envelope::Finished { attempt: job.attempt, subtask: id })
                }
                Output::Note(Note::LateDropped { source, .. } | Note::LateForSomeWindows { source }) => {
                    shared.ext().late_sources.insert(source);
                }
                Output::Note(_) => {}
            }
        }
    }
}
