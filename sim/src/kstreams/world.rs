//! The kernel's Kafka Streams world: [`KStreamsCore`] driven by the kernel's event queue and the
//! fault schedule. Crashes of task managers (instances) at times, with or without a return, are
//! the faults Kafka Streams' recovery answers; a slow node slows its instance's processing. The
//! tasks talk only through topics on the brokers, which this model keeps outside the network:
//! partitions, latency spikes and message loss between nodes are recorded but change nothing
//! (`faults_not_modelled` names them), and a crash of `jm` (no job manager in Kafka Streams)
//! is not injected.

use std::ops::{Deref, DerefMut};
use std::sync::Arc;

use crate::faults::Fault;
use crate::kernel::{EventQueue, TimeNs};
use crate::recording::{About, Payload};
use crate::scenario::{NodeId, Scenario};
use crate::stepped::SteppedWorld;
use crate::world::StopReason;

pub use super::core::{KStreamsCore, Out, Timer};

#[derive(Clone, Debug)]
enum Ev {
    Core(Timer),
    FaultStart { fault: u32 },
    InstanceBack { node: NodeId },
}

/// A Kafka Streams run on the kernel. Derefs to its [`KStreamsCore`].
#[derive(Clone)]
pub struct KStreamsWorld {
    pub core: KStreamsCore,
    queue: EventQueue<Ev>,
    pub fault_fired_at: Vec<Option<TimeNs>>,
    pub events_processed: u64,
    work_limit: crate::scenario::WorkLimit,
    stop: Option<StopReason>,
    out: Vec<Out>,
}

impl SteppedWorld for KStreamsWorld {
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

impl Deref for KStreamsWorld {
    type Target = KStreamsCore;
    fn deref(&self) -> &KStreamsCore {
        &self.core
    }
}

impl DerefMut for KStreamsWorld {
    fn deref_mut(&mut self) -> &mut KStreamsCore {
        &mut self.core
    }
}

impl KStreamsWorld {
    pub fn new(scenario: Arc<Scenario>, seed: u64, keep_trace: bool) -> KStreamsWorld {
        let faults = scenario.faults_for_seed(seed);
        KStreamsWorld::with_faults(scenario, seed, keep_trace, faults)
    }

    pub fn with_faults(scenario: Arc<Scenario>, seed: u64, keep_trace: bool, faults: Vec<Fault>) -> KStreamsWorld {
        let mut world = KStreamsWorld {
            fault_fired_at: vec![None; faults.len()],
            work_limit: scenario.work_limit(),
            core: KStreamsCore::new(scenario, seed, keep_trace, faults),
            queue: EventQueue::default(),
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
        world.flush();
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
        if now > engine::ms_to_ns(self.core.scenario.max_run_ms) {
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
            Ev::Core(timer) => self.core.fire(timer, now),
            Ev::FaultStart { fault } => self.start_fault(fault as usize, now),
            Ev::InstanceBack { node } => self.core.instance_back(node, now),
        }
        self.flush();
        self.core.check_finished(now);
        true
    }

    fn flush(&mut self) {
        self.core.drain(&mut self.out);
        for out in std::mem::take(&mut self.out) {
            match out {
                Out::Timer { at, timer } => self.queue.schedule(at, Ev::Core(timer)),
            }
        }
    }

    fn start_fault(&mut self, index: usize, now: TimeNs) {
        if self.fault_fired_at[index].is_some() {
            return;
        }
        match self.core.faults[index].clone() {
            Fault::Crash { node, restart_after_ns, .. } => {
                // A crash of a node that is down already fired too (as in the Storm world).
                self.fault_fired_at[index] = Some(now);
                if self.core.crash_instance(node, restart_after_ns, now) {
                    if let Some(d) = restart_after_ns {
                        self.queue.schedule(now.saturating_add(d), Ev::InstanceBack { node });
                    }
                }
            }
            spec => {
                self.fault_fired_at[index] = Some(now);
                if let Some(fault) = Payload::of_fault(index as u32, &spec, false) {
                    self.core.recorder.record_payload(now, About::Job, None, fault)
                }
            }
        }
    }

    /// The faults of the schedule that did not act on this run, each with why: crashes that
    /// never fired (the run ended first, the node was down already, `jm`), and network faults,
    /// which this model's tasks (talking only through the brokers' topics) do not feel.
    pub fn faults_not_modelled(&self) -> Vec<String> {
        let plan = &self.core.scenario.plan;
        let end = match self.core.finished_at_ns {
            Some(t) => format!("the application finished first (at {} ms)", t / 1_000_000),
            None => format!("the run ended first (at {} ms)", self.now_ns() / 1_000_000),
        };
        self.core
            .faults
            .iter()
            .zip(&self.fault_fired_at)
            .filter_map(|(fault, fired)| {
                let why = match fault {
                    Fault::Crash { node, .. } if node.task_manager_index().is_none() => {
                        "Kafka Streams has no job manager (its brokers are not crashed here)".to_string()
                    }
                    Fault::Crash { .. } if fired.is_none() => end.clone(),
                    Fault::Partition { .. } | Fault::LatencySpike { .. } | Fault::MessageLoss { .. } => {
                        "not modelled: tasks exchange records through the brokers, kept outside the network here"
                            .to_string()
                    }
                    Fault::SlowNode { .. } | Fault::Crash { .. } => return None,
                    _ if fired.is_none() => end.clone(),
                    _ => return None,
                };
                Some(format!("{}: not injected, {why}", fault.describe(plan)))
            })
            .collect()
    }
}
