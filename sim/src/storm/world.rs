//! The kernel's Storm world: [`StormCore`] (the topology and every decision of the runtime)
//! driven by the kernel's event queue, the shared network rules (`crate::network`: latency,
//! partitions, loss, FIFO per connection as Netty's TCP gives it), and the fault schedule
//! (crashes at times; a worker comes back after `restart_after`, or Nimbus reassigns its
//! executors after the heartbeat timeout). The madsim world (`sim/madsim-world`) drives the same
//! core on madsim's network instead.

use engine::ms_to_ns;
use std::collections::BTreeMap;
use std::ops::{Deref, DerefMut};
use std::sync::Arc;

use crate::faults::Fault;
use crate::kernel::{EventQueue, SimRng, Stream, TimeNs};
use crate::network::transit_arrival;
use crate::recording::{About, Payload};
use crate::scenario::{Model, NodeId, Scenario, JOB_MANAGER};
use crate::stepped::SteppedWorld;
use crate::world::StopReason;

pub use super::core::{Msg, Out, Partial, StormCore, StormStats, Timer};

#[derive(Clone, Debug)]
enum Ev {
    Deliver {
        task: u32,
        incarnation: u32,
        msg: Msg,
    },
    Core(Timer),
    FaultStart {
        fault: u32,
    },
    NodeBack {
        node: NodeId,
    },
    /// Nimbus notices a dead worker that never came back and reassigns its executors.
    Reassign {
        node: NodeId,
        incarnation: u32,
    },
}

/// A Storm run on the kernel. Derefs to its [`StormCore`] (stats, sink store, recorder, ...).
#[derive(Clone)]
pub struct StormWorld {
    pub core: StormCore,
    queue: EventQueue<Ev>,
    net_rng: SimRng,
    /// Per (sender, receiver) the last arrival: Netty connections are FIFO.
    fifo: BTreeMap<(u32, u32), TimeNs>,
    pub fault_fired_at: Vec<Option<TimeNs>>,
    pub events_processed: u64,
    /// [`Scenario::work_limit`], read once: past it the run stops ([`StopReason::WorkLimit`]).
    work_limit: crate::scenario::WorkLimit,
    stop: Option<StopReason>,
    out: Vec<Out>,
}

impl StormWorld {
    /// Messages waiting: queued events and the executors' inboxes (what the work limit bounds).
    pub fn held_messages(&self) -> u64 {
        self.queue.len() as u64 + self.core.inboxed_messages()
    }
}

impl SteppedWorld for StormWorld {
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

impl Deref for StormWorld {
    type Target = StormCore;
    fn deref(&self) -> &StormCore {
        &self.core
    }
}

impl DerefMut for StormWorld {
    fn deref_mut(&mut self) -> &mut StormCore {
        &mut self.core
    }
}

impl StormWorld {
    pub fn new(scenario: Arc<Scenario>, seed: u64, keep_trace: bool) -> StormWorld {
        let faults = scenario.faults_for_seed(seed);
        StormWorld::with_faults(scenario, seed, keep_trace, faults)
    }

    pub fn with_faults(scenario: Arc<Scenario>, seed: u64, keep_trace: bool, faults: Vec<Fault>) -> StormWorld {
        let mut world = StormWorld {
            fault_fired_at: vec![None; faults.len()],
            work_limit: scenario.work_limit(),
            core: StormCore::new(scenario, seed, keep_trace, faults),
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
            held_messages: self.held_messages(),
        };
        if self.work_limit.reached(done) {
            self.stop = Some(StopReason::WorkLimit);
            return false;
        }
        self.events_processed += 1;
        self.handle(now, ev);
        self.flush(now);
        self.core.check_finished(now);
        true
    }

    fn handle(&mut self, now: TimeNs, ev: Ev) {
        match ev {
            Ev::Deliver { task, incarnation, msg } => self.core.deliver(task, incarnation, msg, now),
            Ev::Core(timer) => self.core.fire(timer, now),
            Ev::FaultStart { fault } => self.start_fault(fault as usize, now),
            Ev::NodeBack { node } => self.core.node_back(node, now),
            Ev::Reassign { node, incarnation } => self.core.reassign(node, incarnation, now),
        }
    }

    /// Put what the core decided on the queue: messages through the network rules (FIFO per
    /// sender and receiver), timers as they are.
    fn flush(&mut self, now: TimeNs) {
        self.core.drain(&mut self.out);
        for out in std::mem::take(&mut self.out) {
            match out {
                Out::Send { from, to, incarnation, msg } => {
                    let (Some(fnode), Some(tnode)) = (self.core.node_of(from), self.core.node_of(to)) else {
                        continue;
                    };
                    let arrival = transit_arrival(
                        &self.core.scenario,
                        &self.core.network_faults,
                        &mut self.net_rng,
                        fnode,
                        tnode,
                        now,
                    );
                    let last = self.fifo.entry((from, to)).or_insert(0);
                    let arrival = arrival.max(*last);
                    *last = arrival;
                    self.queue.schedule(arrival, Ev::Deliver { task: to, incarnation, msg });
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

    /// A worker dies; the supervisor restarts it after `restart_after_ns`, or else Nimbus
    /// reassigns its executors after the heartbeat timeout.
    pub fn crash_node(&mut self, node: NodeId, restart_after_ns: Option<TimeNs>, now: TimeNs) {
        if !self.core.crash_node(node, restart_after_ns, now) {
            return;
        }
        if node == JOB_MANAGER {
            if let Some(d) = restart_after_ns {
                self.queue.schedule(now + d, Ev::NodeBack { node });
            }
            return;
        }
        match restart_after_ns {
            Some(d) => self.queue.schedule(now + d, Ev::NodeBack { node }),
            None => {
                let at = now + ms_to_ns(self.core.scenario.failure_detection.heartbeat_timeout_ms);
                let incarnation = self.core.node_state(node).map_or(0, |(_, i)| i);
                self.queue.schedule(at, Ev::Reassign { node, incarnation });
            }
        }
    }

    /// Does `scenario` run on the Storm runtime (its `model` is `Storm(..)`)?
    pub fn is_storm(scenario: &Scenario) -> bool {
        matches!(scenario.model, Model::Storm(_))
    }
}
