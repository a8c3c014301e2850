//! The kernel's Kafka Streams world: [`KStreamsCore`] driven by the shared kernel world
//! ([`ModelWorld`]: the event queue and the fault schedule). Crashes of task managers
//! (instances) at times, with or without a return, are the faults Kafka Streams' recovery
//! answers; a slow node slows its instance's processing. The tasks talk only through topics on
//! the brokers, which this model keeps outside the network: the core sends no messages, so
//! partitions, latency spikes and message loss between nodes are recorded but change nothing
//! (`faults_not_modelled` names them), and a crash of `jm` (no job manager in Kafka Streams) is
//! not injected.

use std::convert::Infallible;

use crate::faults::Fault;
use crate::kernel::TimeNs;
use crate::model_world::{Command, ModelCore, ModelWorld, Return};
use crate::scenario::NodeId;
use crate::stepped::SteppedWorld;

pub use super::core::{KStreamsCore, Out, Timer};

/// A Kafka Streams run on the kernel. Derefs to its [`KStreamsCore`].
pub type KStreamsWorld = ModelWorld<KStreamsCore>;

impl ModelCore for KStreamsCore {
    /// No messages: the tasks exchange records through the brokers' topics.
    type End = Infallible;
    type To = Infallible;
    type Msg = Infallible;
    type Timer = Timer;
    type Out = Out;

    crate::model_world::model_core_fields!(KStreamsCore);
    fn command(&self, out: Out) -> Command<KStreamsCore> {
        match out {
            Out::Timer { at, timer } => Command::Timer { at, timer },
        }
    }
    fn deliver(&mut self, to: Infallible, _msg: Infallible, _now: TimeNs) {
        match to {}
    }
    fn fire(&mut self, timer: Timer, now: TimeNs) {
        KStreamsCore::fire(self, timer, now)
    }
    /// An instance dies (a crash of a node that is down already, or of `jm`, does nothing); it
    /// comes back only after `restart_after_ns` (else its tasks move after the session timeout,
    /// the core's own timer).
    fn crash(&mut self, node: NodeId, restart_after_ns: Option<TimeNs>, now: TimeNs) -> Option<Return> {
        if !self.crash_instance(node, restart_after_ns, now) {
            return None;
        }
        restart_after_ns.map(Return::After)
    }
    fn node_back(&mut self, node: NodeId, now: TimeNs) {
        self.instance_back(node, now)
    }
    fn after_event(&mut self, now: TimeNs) {
        self.check_finished(now)
    }
}

impl KStreamsWorld {
    /// The faults of the schedule that did not act on this run, each with why: crashes that
    /// never fired (the run ended first, the node was down already, `jm`), and network faults,
    /// which this model's tasks (talking only through the brokers' topics) do not feel.
    pub fn faults_not_modelled(&self) -> Vec<String> {
        let scenario = &self.core.scenario;
        let at = |ns| crate::report::format_virtual(scenario, ns);
        let end = match self.core.finished_at_ns {
            Some(t) => format!("the application finished first (at {})", at(t)),
            None => format!("the run ended first (at {})", at(self.now_ns())),
        };
        let already_down = crate::faults::crashes_on_a_node_already_down(&self.core.faults, &self.fault_fired_at);
        self.core
            .faults
            .iter()
            .zip(&self.fault_fired_at)
            .zip(already_down)
            .filter_map(|((fault, fired), already_down)| {
                let why = match fault {
                    Fault::Crash { node, .. } if node.task_manager_index().is_none() => {
                        "Kafka Streams has no job manager (its brokers are not crashed here)".to_string()
                    }
                    Fault::Crash { .. } if fired.is_none() => end.clone(),
                    Fault::Partition { .. } | Fault::LatencySpike { .. } | Fault::MessageLoss { .. } => {
                        "not modelled: tasks exchange records through the brokers, kept outside the network here"
                            .to_string()
                    }
                    Fault::Crash { .. } => crate::run::already_down_clause(&self.core.faults, already_down, scenario)?,
                    Fault::SlowNode { .. } => return None,
                    _ if fired.is_none() => end.clone(),
                    _ => return None,
                };
                Some(format!("{}: not injected, {why}", fault.describe(scenario)))
            })
            .collect()
    }
}
