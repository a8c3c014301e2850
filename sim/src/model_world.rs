//! One kernel world for every model with a sans-IO core of its own (Storm, Spark, Kafka
//! Streams): [`ModelWorld`] drives a [`ModelCore`] with the kernel's event queue, the shared
//! network rules (`crate::network`: latency, partitions, loss, FIFO per connection) and the fault
//! schedule. What differs between the models — what a message is and where it goes, what a
//! crash does and when the node returns — is the core's to say; the world only carries messages,
//! keeps time and fires faults. (Flink's world, `crate::world::World`, has its own: network
//! credits, checkpoint storage and time use are Flink's alone.)
//!
//! [`ModelRun`] is a finished run of such a world: what the oracle, `run` and `compare` read.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::ops::{Deref, DerefMut};
use std::sync::Arc;

use engine::ms_to_ns;

use crate::external::{SinkStore, StoredRow};
use crate::faults::Fault;
use crate::kernel::{EventQueue, SimRng, Stream, TimeNs};
use crate::network::transit_arrival;
use crate::recording::{About, Payload, Recorder};
use crate::scenario::{NodeId, Scenario, WorkDone, WorkLimit};
use crate::stepped::SteppedWorld;
use crate::world::StopReason;

/// What a core asks its world to do ([`ModelCore::command`]).
pub enum Command<C: ModelCore> {
    /// Carry `msg` to `to` over the connection `link` (FIFO per link) between nodes `nodes`
    /// (None: an end has no node any more, so the message is dropped at once).
    Send { link: (C::End, C::End), nodes: Option<(NodeId, NodeId)>, to: C::To, msg: C::Msg },
    /// Call [`ModelCore::fire`] with `timer` at virtual time `at`.
    Timer { at: TimeNs, timer: C::Timer },
}

/// When a crashed node returns ([`ModelCore::crash`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Return {
    /// The node restarts after this long ([`ModelCore::node_back`]).
    After(TimeNs),
    /// Nobody restarts it; after this long its work moves elsewhere ([`ModelCore::reassign`],
    /// told the node's incarnation at the crash).
    ReassignAfter(TimeNs, u32),
}

/// A model's sans-IO core as a kernel world drives it: time and events in, [`Command`]s out.
/// The same core runs in the madsim world (`sim/madsim-world`).
pub trait ModelCore: Clone {
    /// One end of a FIFO connection (a Storm executor, a Spark node).
    type End: Copy + Ord + Debug;
    /// Where a message is delivered (a Storm executor and its incarnation, a Spark node).
    type To: Clone + Debug;
    type Msg: Clone + Debug;
    type Timer: Clone + Debug;
    /// What the core drains: its own command type, turned into a [`Command`] by
    /// [`ModelCore::command`].
    type Out;

    fn new(scenario: Arc<Scenario>, seed: u64, keep_trace: bool, faults: Vec<Fault>) -> Self;
    fn scenario(&self) -> &Arc<Scenario>;
    fn faults(&self) -> &[Fault];
    fn network_faults(&self) -> &crate::network::NetworkFaults;
    fn sink_store(&self) -> &SinkStore;
    fn recorder(&self) -> &Recorder;
    fn recorder_mut(&mut self) -> &mut Recorder;
    fn late_sources(&self) -> &std::collections::BTreeSet<engine::SourceRef>;
    fn finished_at_ns(&self) -> Option<TimeNs>;
    /// Records in the source log.
    fn source_records(&self) -> usize;
    /// The source log the run reads (what a row's latency counts from: `run::row_latency_ns`).
    fn log(&self) -> &crate::external::SourceLog;
    /// Messages the core holds itself (Storm's executor inboxes): the work limit counts them.
    fn inboxed_messages(&self) -> u64 {
        0
    }

    /// The first commands (sources start, the first timers).
    fn start(&mut self);
    fn drain(&mut self, into: &mut Vec<Self::Out>);
    fn command(&self, out: Self::Out) -> Command<Self>;
    fn deliver(&mut self, to: Self::To, msg: Self::Msg, now: TimeNs);
    fn fire(&mut self, timer: Self::Timer, now: TimeNs);
    /// Node `node` crashes; when (and whether) it returns. None: nothing to crash (down
    /// already, or a node this model has no use for).
    fn crash(&mut self, node: NodeId, restart_after_ns: Option<TimeNs>, now: TimeNs) -> Option<Return>;
    fn node_back(&mut self, node: NodeId, now: TimeNs);
    /// A node that never returned is given up on ([`Return::ReassignAfter`]).
    fn reassign(&mut self, _node: NodeId, _incarnation: u32, _now: TimeNs) {}
    /// After each event and its commands: notice the end of the run.
    fn after_event(&mut self, _now: TimeNs) {}
}

/// The [`ModelCore`] methods every core answers from fields of the same names (`scenario`,
/// `faults`, `network_faults`, `sink_store`, `recorder`, `late_sources`, `finished_at_ns`,
/// `log`) and its inherent `new`, `start` and `drain`: written once, used in each core's impl.
macro_rules! model_core_fields {
    ($core:ident) => {
        fn new(
            scenario: std::sync::Arc<$crate::scenario::Scenario>,
            seed: u64,
            keep_trace: bool,
            faults: Vec<$crate::faults::Fault>,
        ) -> $core {
            $core::new(scenario, seed, keep_trace, faults)
        }
        fn scenario(&self) -> &std::sync::Arc<$crate::scenario::Scenario> {
            &self.scenario
        }
        fn faults(&self) -> &[$crate::faults::Fault] {
            &self.faults
        }
        fn network_faults(&self) -> &$crate::network::NetworkFaults {
            &self.network_faults
        }
        fn sink_store(&self) -> &$crate::external::SinkStore {
            &self.sink_store
        }
        fn recorder(&self) -> &$crate::recording::Recorder {
            &self.recorder
        }
        fn recorder_mut(&mut self) -> &mut $crate::recording::Recorder {
            &mut self.recorder
        }
        fn late_sources(&self) -> &std::collections::BTreeSet<engine::SourceRef> {
            &self.late_sources
        }
        fn finished_at_ns(&self) -> Option<$crate::kernel::TimeNs> {
            self.finished_at_ns
        }
        fn source_records(&self) -> usize {
            self.log.len()
        }
        fn log(&self) -> &$crate::external::SourceLog {
            &self.log
        }
        fn start(&mut self) {
            $core::start(self)
        }
        fn drain(&mut self, into: &mut Vec<Self::Out>) {
            $core::drain(self, into)
        }
    };
}
pub(crate) use model_core_fields;

#[derive(Clone, Debug)]
enum Ev<C: ModelCore> {
    Deliver { to: C::To, msg: C::Msg },
    Core(C::Timer),
    FaultStart { fault: u32 },
    NodeBack { node: NodeId },
    Reassign { node: NodeId, incarnation: u32 },
}

/// A run of a [`ModelCore`] on the kernel. Derefs to its core (stats, sink store, recorder...).
#[derive(Clone)]
pub struct ModelWorld<C: ModelCore> {
    pub core: C,
    queue: EventQueue<Ev<C>>,
    net_rng: SimRng,
    /// Per connection the last arrival: connections are FIFO (Netty's TCP, Spark's RPC).
    fifo: BTreeMap<(C::End, C::End), TimeNs>,
    pub fault_fired_at: Vec<Option<TimeNs>>,
    pub events_processed: u64,
    /// [`Scenario::work_limit`], read once: past it the run stops ([`StopReason::WorkLimit`]).
    work_limit: WorkLimit,
    stop: Option<StopReason>,
    out: Vec<C::Out>,
}

impl<C: ModelCore> Deref for ModelWorld<C> {
    type Target = C;
    fn deref(&self) -> &C {
        &self.core
    }
}

impl<C: ModelCore> DerefMut for ModelWorld<C> {
    fn deref_mut(&mut self) -> &mut C {
        &mut self.core
    }
}

impl<C: ModelCore> SteppedWorld for ModelWorld<C> {
    fn now_ns(&self) -> TimeNs {
        self.queue.now_ns()
    }
    fn next_event_ns(&self) -> Option<TimeNs> {
        self.queue.peek_time_ns()
    }
    fn stop_reason(&self) -> Option<StopReason> {
        self.stop
    }
    fn step(&mut self) -> bool {
        let Some((now, ev)) = self.next_event() else { return false };
        self.events_processed += 1;
        self.handle(now, ev);
        self.flush(now);
        self.core.after_event(now);
        true
    }
}

impl<C: ModelCore> ModelWorld<C> {
    /// A world for `scenario` with `seed`'s faults (its own plus the seed's swarm).
    pub fn new(scenario: Arc<Scenario>, seed: u64, keep_trace: bool) -> ModelWorld<C> {
        let faults = scenario.faults_for_seed(seed);
        ModelWorld::with_faults(scenario, seed, keep_trace, faults)
    }

    pub fn with_faults(scenario: Arc<Scenario>, seed: u64, keep_trace: bool, faults: Vec<Fault>) -> ModelWorld<C> {
        let mut world = ModelWorld {
            fault_fired_at: vec![None; faults.len()],
            work_limit: scenario.work_limit(),
            core: C::new(scenario, seed, keep_trace, faults),
            queue: EventQueue::default(),
            net_rng: SimRng::for_stream(seed, Stream::Network),
            fifo: BTreeMap::new(),
            events_processed: 0,
            stop: None,
            out: Vec::new(),
        };
        for (i, fault) in world.core.faults().iter().enumerate() {
            if let Some(t) = fault.start_ns() {
                world.queue.schedule(t, Ev::FaultStart { fault: i as u32 });
            }
        }
        world.core.start();
        world.flush(0);
        world
    }

    /// Messages waiting: queued events and what the core holds (what the work limit bounds).
    pub fn held_messages(&self) -> u64 {
        self.queue.len() as u64 + self.core.inboxed_messages()
    }

    /// The next event, unless the run stops here: it was stopped, the core finished, nothing is
    /// queued, the event is past `max_run_ms`, or the work limit is reached.
    fn next_event(&mut self) -> Option<(TimeNs, Ev<C>)> {
        if self.stop.is_some() {
            return None;
        }
        if self.core.finished_at_ns().is_some() {
            self.stop = Some(StopReason::JobFinished);
            return None;
        }
        let Some((now, ev)) = self.queue.pop() else {
            self.stop = Some(StopReason::Stalled);
            return None;
        };
        if now > ms_to_ns(self.core.scenario().max_run_ms) {
            self.stop = Some(StopReason::TimeLimit);
            return None;
        }
        let done = WorkDone {
            kernel_events: self.events_processed,
            sink_lineage: self.core.sink_store().lineage_entries(),
            held_messages: self.held_messages(),
        };
        if self.work_limit.reached(done) {
            self.stop = Some(StopReason::WorkLimit);
            return None;
        }
        Some((now, ev))
    }

    fn handle(&mut self, now: TimeNs, ev: Ev<C>) {
        match ev {
            Ev::Deliver { to, msg } => self.core.deliver(to, msg, now),
            Ev::Core(timer) => self.core.fire(timer, now),
            Ev::FaultStart { fault } => self.start_fault(fault as usize, now),
            Ev::NodeBack { node } => self.core.node_back(node, now),
            Ev::Reassign { node, incarnation } => self.core.reassign(node, incarnation, now),
        }
    }

    /// Put what the core decided on the queue: messages through the network rules (FIFO per
    /// connection), timers as they are.
    fn flush(&mut self, now: TimeNs) {
        self.core.drain(&mut self.out);
        for out in std::mem::take(&mut self.out) {
            match self.core.command(out) {
                Command::Send { link, nodes, to, msg } => {
                    let Some((from_node, to_node)) = nodes else { continue };
                    let arrival = transit_arrival(
                        self.core.scenario(),
                        self.core.network_faults(),
                        &mut self.net_rng,
                        from_node,
                        to_node,
                        now,
                    );
                    let last = self.fifo.entry(link).or_insert(0);
                    let arrival = arrival.max(*last);
                    *last = arrival;
                    self.queue.schedule(arrival, Ev::Deliver { to, msg });
                }
                Command::Timer { at, timer } => self.queue.schedule(at, Ev::Core(timer)),
            }
        }
    }

    /// Fault `index` starts (once): a crash is the core's to carry out; the other faults act
    /// through the network rules and the core's reading of them, so they are only recorded.
    fn start_fault(&mut self, index: usize, now: TimeNs) {
        if self.fault_fired_at[index].is_some() {
            return;
        }
        // A crash of a node that is down already fired too.
        self.fault_fired_at[index] = Some(now);
        match self.core.faults()[index].clone() {
            Fault::Crash { node, restart_after_ns, .. } => self.crash_node(node, restart_after_ns, now),
            spec => {
                if let Some(fault) = Payload::of_fault(index as u32, &spec, false) {
                    self.core.recorder_mut().record_payload(now, About::Job, None, fault)
                }
            }
        }
    }

    /// Node `node` crashes; its return (or the reassignment of its work) is queued as the core
    /// says.
    pub fn crash_node(&mut self, node: NodeId, restart_after_ns: Option<TimeNs>, now: TimeNs) {
        match self.core.crash(node, restart_after_ns, now) {
            Some(Return::After(d)) => self.queue.schedule(now.saturating_add(d), Ev::NodeBack { node }),
            Some(Return::ReassignAfter(d, incarnation)) => {
                self.queue.schedule(now.saturating_add(d), Ev::Reassign { node, incarnation })
            }
            None => {}
        }
    }
}

/// A finished run of a [`ModelWorld`].
pub struct ModelRun<C: ModelCore> {
    pub world: ModelWorld<C>,
    pub stop: StopReason,
}

impl<C: ModelCore> ModelRun<C> {
    /// Run `scenario` with `seed` and `faults` to the end.
    pub fn with_faults(scenario: Arc<Scenario>, seed: u64, keep_trace: bool, faults: Vec<Fault>) -> ModelRun<C> {
        let mut world = ModelWorld::<C>::with_faults(scenario, seed, keep_trace, faults);
        let stop = world.run();
        ModelRun { world, stop }
    }

    /// Run `scenario` with `seed` (its own faults plus the seed's swarm) to the end.
    pub fn of_seed(scenario: Arc<Scenario>, seed: u64, keep_trace: bool) -> ModelRun<C> {
        let faults = scenario.faults_for_seed(seed);
        ModelRun::with_faults(scenario, seed, keep_trace, faults)
    }

    pub fn trace_hash(&self) -> u64 {
        self.world.core.recorder().hash()
    }
    pub fn visible_rows(&self) -> Vec<&StoredRow> {
        self.world.core.sink_store().visible()
    }
    /// What the oracle sees of this run.
    pub fn observed(&self) -> crate::oracle::Observed<'_> {
        crate::oracle::Observed { rows: self.visible_rows(), late: self.world.core.late_sources() }
    }
}
