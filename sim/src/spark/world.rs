//! The kernel's Spark world: [`SparkCore`] (the driver, the executors and every decision)
//! driven by the kernel's event queue, the shared network rules (`crate::network`: latency,
//! partitions, loss, FIFO per connection) for the driver's and executors' messages, and the
//! fault schedule: crashes at times; a node comes back after `restart_after` — or, without
//! one, after the heartbeat timeout (the cluster manager relaunches a supervised driver, or
//! gives the application a replacement executor).

use engine::ms_to_ns;
use std::collections::BTreeMap;
use std::ops::{Deref, DerefMut};
use std::sync::Arc;

use crate::faults::Fault;
use crate::kernel::{EventQueue, SimRng, Stream, TimeNs};
use crate::network::transit_arrival;
use crate::recording::{About, Payload};
use crate::scenario::{NodeId, Scenario};
use crate::stepped::SteppedWorld;
use crate::world::StopReason;

pub use super::core::{Msg, Out, SparkCore, Timer};

#[derive(Clone, Debug)]
enum Ev {
    Deliver { to: NodeId, msg: Msg },
    Core(Timer),
    FaultStart { fault: u32 },
    NodeBack { node: NodeId },
}

/// A Spark run on the kernel. Derefs to its [`SparkCore`] (stats, sink store, recorder, ...).
#[derive(Clone)]
pub struct SparkWorld {
    pub core: SparkCore,
    queue: EventQueue<Ev>,
    net_rng: SimRng,
    /// Per (sender, receiver) the last arrival: RPC connections are FIFO.
    fifo: BTreeMap<(NodeId, NodeId), TimeNs>,
    pub fault_fired_at: Vec<Option<TimeNs>>,
    pub events_processed: u64,
    work_limit: crate::scenario::WorkLimit,
    stop: Option<StopReason>,
    out: Vec<Out>,
}

impl SteppedWorld for SparkWorld {
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
        self.next_step()
    }
}

impl Deref for SparkWorld {
    type Target = SparkCore;
    fn deref(&self) -> &SparkCore {
        &self.core
    }
}

impl DerefMut for SparkWorld {
    fn deref_mut(&mut self) -> &mut SparkCore {
        &mut self.core
    }
}

impl SparkWorld {
    pub fn new(scenario: Arc<Scenario>, seed: u64, keep_trace: bool) -> SparkWorld {
        let faults = scenario.faults_for_seed(seed);
        SparkWorld::with_faults(scenario, seed, keep_trace, faults)
    }

    pub fn with_faults(scenario: Arc<Scenario>, seed: u64, keep_trace: bool, faults: Vec<Fault>) -> SparkWorld {
        let mut world = SparkWorld {
            fault_fired_at: vec![None; faults.len()],
            work_limit: scenario.work_limit(),
            core: SparkCore::new(scenario, seed, keep_trace, faults),
            queue: EventQueue::default(),
            net_rng: SimRng::for_stream(seed, Stream::Network),
            fifo: BTreeMap::new(),
            events_processed: 0,
            stop: None,
            out: Vec::new(),
        };
        for (i, fault) in world.core.faults.iter().enumerate() {
            if let Some(t) = fault.start_ns() {
                world.queue.schedule(t, Ev::FaultStart { fault: i as u32 });
            }
        }
        world.core.start();
        world.flush(0);
        world
    }

    /// [`SteppedWorld::step`]: take the next event.
    fn next_step(&mut self) -> bool {
        if self.stop.is_some() {
            return false;
        }
        if self.core.finished_at_ns.is_some() {
            self.stop = Some(StopReason::JobFinished);
            return false;
        }
        let Some((now, ev)) = self.queue.pop() else {
            self.stop = Some(StopReason::Stalled);
            return false;
        };
        if now > ms_to_ns(self.core.scenario.max_run_ms) {
            self.stop = Some(StopReason::TimeLimit);
            return false;
        }
        let done = crate::scenario::WorkDone {
            kernel_events: self.events_processed,
            sink_lineage: self.core.sink_store.lineage_entries(),
            held_messages: self.queue.len() as u64,
        };
        if self.work_limit.reached(done) {
            self.stop = Some(StopReason::WorkLimit);
            return false;
        }
        self.events_processed += 1;
        match ev {
            Ev::Deliver { to, msg } => self.core.deliver(to, msg, now),
            Ev::Core(timer) => self.core.fire(timer, now),
            Ev::FaultStart { fault } => self.start_fault(fault as usize, now),
            Ev::NodeBack { node } => self.core.node_back(node, now),
        }
        self.flush(now);
        true
    }

    /// Put what the core decided on the queue: messages through the network rules (FIFO per
    /// sender and receiver; a message to a dead node is dropped when it arrives), timers as
    /// they are.
    fn flush(&mut self, now: TimeNs) {
        self.core.drain(&mut self.out);
        for out in std::mem::take(&mut self.out) {
            match out {
                Out::Send { from, to, msg } => {
                    let arrival = transit_arrival(
                        &self.core.scenario,
                        &self.core.network_faults,
                        &mut self.net_rng,
                        from,
                        to,
                        now,
                    );
                    let last = self.fifo.entry((from, to)).or_insert(0);
                    let arrival = arrival.max(*last);
                    *last = arrival;
                    self.queue.schedule(arrival, Ev::Deliver { to, msg });
                }
                Out::Timer { at, timer } => self.queue.schedule(at, Ev::Core(timer)),
            }
        }
    }

    fn start_fault(&mut self, index: usize, now: TimeNs) {
        if self.fault_fired_at[index].is_some() {
            return;
        }
        self.fault_fired_at[index] = Some(now);
        match self.core.faults[index].clone() {
            Fault::Crash { node, restart_after_ns, .. } => self.crash_node(node, restart_after_ns, now),
            spec => {
                if let Some(fault) = Payload::of_fault(index as u32, &spec, false) {
                    self.core.recorder.record_payload(now, About::Job, None, fault)
                }
            }
        }
    }

    /// A node dies; it comes back after `restart_after_ns`, or after the heartbeat timeout.
    pub fn crash_node(&mut self, node: NodeId, restart_after_ns: Option<TimeNs>, now: TimeNs) {
        if !self.core.node_alive(node) {
            return;
        }
        self.core.crash_node(node, now);
        let back_after =
            restart_after_ns.unwrap_or_else(|| ms_to_ns(self.core.scenario.failure_detection.heartbeat_timeout_ms));
        self.queue.schedule(now.saturating_add(back_after), Ev::NodeBack { node });
    }
}
