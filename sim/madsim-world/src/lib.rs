//! madsim as a second, independent world: the same engine state machines run as async nodes on
//! madsim's simulated network, so that outcomes can be cross-checked against our own kernel.
//!
//! # What each world models
//!
//! Both worlds run the same [`engine::subtask::Subtask`]s and the same job rules:
//! [`sim::job::JobMaster`] (the checkpoint coordinator, trigger targets, the final checkpoint,
//! failover per pipelined region, the restore plan) and [`sim::job::task`] (deploying a subtask
//! from the restore plan, snapshot → storage → ack, sink effects, source reads, at-most-once
//! positions). They read the same [`SourceLog`] (built from the seed exactly as
//! [`sim::world::World`] builds it) and write to the same kinds of external systems
//! ([`SinkStore`], [`CheckpointStorage`]). Restart strategy, failover strategy, heartbeat interval
//! and timeout come from the scenario in both. What this module adds is transport and time:
//!
//! | | our kernel ([`sim::world`]) | madsim (this module) |
//! |---|---|---|
//! | network | per-link latency distributions from the scenario; every channel FIFO by construction | madsim's: each datagram gets its own uniform latency (default 1–10 ms), so packets reorder; optional packet loss and clogged links |
//! | channels | one event per message | per (node, node) reliable ordered streams built here: sequence numbers, reorder buffer, cumulative acks, retransmission with exponential backoff; same-node channels are direct pushes into the receiver's input gate |
//! | flow control | credit-based (`channel_capacity`) | none (unbounded) |
//! | processing | a cost per record and per snapshot (`busy_until`) | zero virtual time; tasks are real async tasks and madsim's scheduler picks among ready ones at random (seeded) |
//! | crashes | at times or at protocol points (`WhileAligning`, `AfterCheckpointComplete`, ...) | `Handle::kill` / `Handle::restart` at times: the node loses all memory, its init task starts over |
//! | failure detection | analytic: last heartbeat + timeout | real heartbeats over the lossy network; a task manager that comes back with a new session is declared failed at once |
//! | failover | [`sim::job::JobMaster::on_failure`]: the failed regions (or every task), restore latest completed checkpoint; tasks of a node that never returns move elsewhere | the same decision; `Cancel`/`Deploy` name the tasks; waits for killed task managers to come back; the job manager never fails |
//! | snapshots | asynchronous or stop-the-world, with a cost | asynchronous only, free |
//! | restore | operator state and, for unaligned checkpoints, the saved in-flight data back into the input channels | the same |
//! | invariants | the four of [`sim::invariants`]; a broken one stops the run | the same four checkers; broken ones are listed in [`MadsimResult::violations`] |
//! | sources | read one entry per record cost, earliest-appended first, when it is readable (appended, or with `fetch_latency_us` fetched: [`sim::source_cursor`]) | read every entry readable by now at each wake (madsim sleeps at least 1 ms), earliest-appended first, before a timer due when it became readable; the same fetch rule |
//! | a fetching source's start | restored: fetches at once; fresh: after a registration round trip to the JobManager drawn from the scenario's latencies ([`sim::source_cursor::ConsumerStart`]) | the same decision; the registration is a `Register` message to the job manager and its `SplitsAssigned` answer, over madsim's network |
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
//!   (`Deploy`: the [`sim::job::RestorePlan`] — attempt, tasks, checkpoint to restore — and the
//!   placement), triggers checkpoints at the sources and at finished subtasks, collects acks,
//!   notifies completion, and on a failure cancels the tasks [`sim::job::JobMaster`] names (the
//!   failed pipelined regions, or everything), then redeploys them after the restart strategy's
//!   delay.
//! - A freshly deployed source subtask that fetches (`fetch_latency_us`) sends `Register` to the
//!   job manager and reads nothing until its `SplitsAssigned` answer arrives; a restored one
//!   fetches at once ([`sim::source_cursor::ConsumerStart`], the kernel's rule).
//! - Every application message carries its subtask's attempt; stale ones are dropped, early ones
//!   (data from a peer that got its `Deploy` first) wait until the deployment arrives.
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

use engine::ms_to_ns;
use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::future::{poll_fn, Future};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::rc::Rc;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Poll, Waker};
use std::time::Duration;

use engine::checkpoint::CheckpointEvent;
use engine::graph::{ChannelId, SubtaskId};
use engine::message::Message;
use engine::subtask::{Note, Output, Subtask};
use engine::{CheckpointId, SourceRef};
use madsim::net::{Endpoint, NetSim};
use madsim::runtime::{Handle, NodeHandle, Runtime};
use madsim::time::Instant;

use sim::external::{CheckpointStorage, SinkStore, SourceLog, StoredRow};
use sim::invariants::{CommitInvariant, TaskInvariants};
use sim::job::task::{
    apply_sink_effect, checkpoint_aborted, checkpoint_completed, deploy_subtask, note_late, persist_snapshot, HighWater,
};
use sim::job::{Failover, JobMaster, RestorePlan};
use sim::kernel::{SimRng, Stream};
use sim::scenario::{NodeId, Scenario, JOB_MANAGER};

mod driver;
mod job_manager;
pub mod kstreams;
mod link;
pub mod spark;
pub mod storm;
mod task_manager;

use driver::{FaultAction, FaultSchedule};
use job_manager::job_manager;
use task_manager::task_manager;

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
            let b = NodeId::task_manager(rng.below(tms) as u32);
            let a = NodeId::from_raw(rng.below(tms + 1) as u32);
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
    /// The job failed for good (no restart strategy, or it gave up).
    JobFailed(sim::job::JobFailure),
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
    /// Completed checkpoints whose snapshots conserve records across every channel
    /// (`sim::consistency`), and those that do not.
    pub checkpoints_consistent: u32,
    pub checkpoints_inconsistent: u32,
    /// Virtual time when the job manager declared the job done.
    pub finished_at_ns: Option<u64>,
    /// Source log entries read, replays included.
    pub records_read: u64,
    /// In-flight messages of unaligned snapshots put back into input channels on restores.
    pub in_flight_restored: u64,
    /// Alignments the aligned-checkpoint timeout switched to unaligned.
    pub alignments_timed_out: u64,
    /// Datagrams handed to madsim's network, and how many of them were retransmissions.
    pub packets_sent: u64,
    pub retransmissions: u64,
    /// Things that must not happen (e.g. a checkpoint to restore that is not in storage).
    pub violations: Vec<String>,
    /// Source records a window operator dropped as late (for all or some windows), any attempt.
    pub late_sources: BTreeSet<SourceRef>,
    /// Every source read, in order: (subtask, attempt, virtual time in ns).
    pub source_reads: Vec<(SubtaskId, u32, u64)>,
    /// Every deployment of a source subtask: (subtask, attempt, virtual time in ns).
    pub source_deployments: Vec<(SubtaskId, u32, u64)>,
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
    /// The run's seed (the restart strategy's jitter derives from it, as in the kernel).
    seed: u64,
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
    checkpoints_consistent: u32,
    checkpoints_inconsistent: u32,
    records_read: u64,
    in_flight_restored: u64,
    alignments_timed_out: u64,
    packets_sent: u64,
    retransmissions: u64,
    violations: Vec<String>,
    late_sources: BTreeSet<SourceRef>,
    source_reads: Vec<(SubtaskId, u32, u64)>,
    source_deployments: Vec<(SubtaskId, u32, u64)>,
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
    IpAddr::V4(Ipv4Addr::new(10, 0, 0, node.get() as u8 + 1))
}

// ---- the supervisor: builds the cluster, injects faults, waits for the end ---------------------

async fn supervise(scenario: Arc<Scenario>, seed: u64, log: Arc<SourceLog>, faults: MadsimFaults) -> MadsimResult {
    let handle = Handle::current();
    let tms = scenario.task_managers as usize;
    let partitions = scenario.partitions as usize;
    let max_run_ns = ms_to_ns(scenario.max_run_ms);
    let commits = CommitInvariant::for_job(scenario.checkpoint_config().is_some());
    let shared = Arc::new(Shared {
        addrs: (0..=tms).map(|n| SocketAddr::new(node_ip(NodeId::from_index(n)), PORT)).collect(),
        scenario,
        seed,
        log,
        start: virtual_now(),
        ext: Mutex::new(Externals { high_water: HighWater::new(partitions as u32), commits, ..Externals::default() }),
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
    for tm in 0..tms as u32 {
        let s = shared.clone();
        nodes.push(
            handle
                .create_node()
                .name(format!("tm-{tm}"))
                .ip(node_ip(NodeId::task_manager(tm)))
                .init(move || task_manager(s.clone(), NodeId::task_manager(tm)))
                .build(),
        );
    }

    let kills = faults.kills.iter().map(|&(tm, at_ms, back_ms)| (tm as usize + 1, ms_to_ns(at_ms), ms_to_ns(back_ms)));
    let cuts = faults.network.iter().flat_map(|n| &n.partitions);
    let cuts = cuts.map(|&(a, b, from_ms, until_ms)| (a, b, ms_to_ns(from_ms), ms_to_ns(until_ms)));
    let mut schedule = FaultSchedule::with_cuts(kills, cuts, tms + 1);
    let net = NetSim::current();
    let stop = loop {
        let now = shared.now_ns();
        if let Some((stop, _)) = shared.ext().end {
            break stop;
        }
        if now > max_run_ns {
            break MadsimStop::TimeLimit;
        }
        while let Some(action) = schedule.due(now) {
            match action {
                FaultAction::Kill { node, .. } => handle.kill(nodes[node].id()),
                FaultAction::Restart { node } => handle.restart(nodes[node].id()),
                FaultAction::Cut { a, b } => {
                    net.clog_link(nodes[a.index()].id(), nodes[b.index()].id());
                    net.clog_link(nodes[b.index()].id(), nodes[a.index()].id());
                }
                FaultAction::Heal { a, b } => {
                    net.unclog_link(nodes[a.index()].id(), nodes[b.index()].id());
                    net.unclog_link(nodes[b.index()].id(), nodes[a.index()].id());
                }
            }
        }
        let wake = schedule.next_at().min(now + SUPERVISOR_POLL_NS);
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
        checkpoints_consistent: ext.checkpoints_consistent,
        checkpoints_inconsistent: ext.checkpoints_inconsistent,
        finished_at_ns: ext.end.map(|(_, at)| at),
        records_read: ext.records_read,
        in_flight_restored: ext.in_flight_restored,
        alignments_timed_out: ext.alignments_timed_out,
        packets_sent: ext.packets_sent,
        retransmissions: ext.retransmissions,
        violations: std::mem::take(&mut ext.violations),
        late_sources: std::mem::take(&mut ext.late_sources),
        source_reads: std::mem::take(&mut ext.source_reads),
        source_deployments: std::mem::take(&mut ext.source_deployments),
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
        channel: ChannelId,
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
        checkpoint_id: CheckpointId,
        /// When the coordinator triggered it: the barriers carry it (the aligned-checkpoint
        /// timeout counts from here).
        triggered_ns: u64,
        subtasks: Vec<SubtaskId>,
    },
    /// `attempt`: the job's attempt when sent; tasks deployed later do not get it.
    Notify {
        attempt: u32,
        checkpoint_id: CheckpointId,
    },
    Ack {
        attempt: u32,
        subtask: SubtaskId,
        checkpoint_id: CheckpointId,
        accepted: bool,
    },
    Finished {
        attempt: u32,
        subtask: SubtaskId,
    },
    /// Task manager to job manager: a freshly deployed source subtask's reader registers with
    /// the source coordinator (FLIP-27's `ReaderRegistrationEvent`) before it can fetch.
    Register {
        attempt: u32,
        subtask: SubtaskId,
    },
    /// Job manager to task manager: the enumerator's answer to `Register` (`AddSplitEvent`): the
    /// reader has its splits and starts fetching.
    SplitsAssigned {
        attempt: u32,
        subtask: SubtaskId,
    },
    /// The local subtasks (with their attempts) that were notified of `checkpoint_id`.
    Notified {
        checkpoint_id: CheckpointId,
        tasks: Vec<(SubtaskId, u32)>,
    },
}
