//! The job: a logical graph of operators (petgraph), and the physical plan it expands into —
//! parallel subtasks connected by FIFO channels.

use petgraph::algo::toposort;
use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::visit::EdgeRef;
use petgraph::Direction;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::partition::Partitioning;
use crate::sink::SinkKind;
use crate::transform::{FilterFn, MapFn};
use crate::watermark::WatermarkStrategy;
use crate::window::WindowSpec;

/// Index of an operator in the job graph (and in [`PhysicalPlan::operators`]).
pub type OperatorId = usize;

/// A subtask of the physical plan: its place in [`PhysicalPlan::subtasks`], dense from 0 over
/// the whole plan (operator by operator, in the plan's deterministic order). Every per-task table
/// (a world's tasks, a checkpoint's acks, storage) is keyed by it. Not a [`SubtaskIndex`], the
/// position within its operator, which starts from 0 again in every operator; only the plan
/// turns one into the other ([`PhysicalOperator::subtask`], [`SubtaskInfo::index`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SubtaskId(u32);

id_newtype!(SubtaskId(u32), index, all, display);

/// A channel of the physical plan: its place in [`PhysicalPlan::channels`], dense from 0 in the
/// plan's deterministic order. Only the plan makes them (`PhysicalPlan::expand`); everything
/// else names a channel it was given. Not an input's position at its receiver (that is
/// [`ChannelInfo::input_index`], an [`InputIndex`]) and never added to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ChannelId(u32);

id_newtype!(ChannelId(u32), index, all, display);

/// A subtask's position among its operator's parallel subtasks, `0..parallelism` (Flink's
/// subtask index, the `1` of `counts[1]`). Not a [`SubtaskId`], which numbers every subtask of
/// the plan: this one repeats from 0 in every operator. Rules that use it (which partitions a
/// source reads, where a key goes, round-robin placement) take its number with [`Self::get`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SubtaskIndex(u32);

impl SubtaskIndex {
    /// The subtasks of an operator with `parallelism`, in order.
    pub fn all(parallelism: u32) -> impl DoubleEndedIterator<Item = SubtaskIndex> + ExactSizeIterator {
        (0..parallelism).map(SubtaskIndex)
    }
}

id_newtype!(SubtaskIndex(u32), index, display);

/// One input of a subtask: its position among the subtask's input channels
/// ([`SubtaskInfo::inputs`]), dense from 0 per subtask. The gate's queues, the barrier aligner and
/// the watermark combiner keep one entry per input, indexed by [`InputIndex::index`]. Not a
/// [`ChannelId`]: channel `c` arrives at input `plan.channel(c).input_index` of its receiver.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct InputIndex(u32);

id_newtype!(InputIndex(u32), index, all, display);

/// Largest parallelism an operator may have: one key group per subtask at most.
pub const MAX_PARALLELISM: u32 = crate::partition::KEY_GROUPS;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceSpec {
    /// Partitions of the external log this source reads; partition p goes to subtask p mod parallelism.
    pub partitions: u32,
    pub watermarks: WatermarkStrategy,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum OperatorKind {
    Source(SourceSpec),
    Map(MapFn),
    Filter(FilterFn),
    Window(WindowSpec),
    /// Merges its inputs; records pass through unchanged.
    Union,
    Sink(SinkKind),
}

impl OperatorKind {
    pub fn label(&self) -> &'static str {
        match self {
            OperatorKind::Source(_) => "source",
            OperatorKind::Map(_) => "map",
            OperatorKind::Filter(_) => "filter",
            OperatorKind::Window(_) => "window",
            OperatorKind::Union => "union",
            OperatorKind::Sink(_) => "sink",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OperatorSpec {
    pub name: String,
    pub parallelism: u32,
    pub kind: OperatorKind,
}

/// Which output of the upstream operator an edge carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Stream {
    Main,
    /// A window operator's late-data side output.
    Late,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EdgeSpec {
    pub partitioning: Partitioning,
    pub stream: Stream,
}

/// An impossible job, and why.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum GraphError {
    #[error("operator '{0}': parallelism must be between 1 and {MAX_PARALLELISM}, got {1}")]
    Parallelism(String, u32),
    #[error("two operators are named '{0}'; names identify operators and must be unique")]
    DuplicateName(String),
    #[error("source '{0}' has an input; sources read the external log only")]
    SourceWithInput(String),
    #[error("operator '{0}' has no input; only sources may")]
    NoInput(String),
    #[error("operator '{0}' has no consumer; every path must end in a sink")]
    NoOutput(String),
    #[error("sink '{0}' has a consumer; sinks are the end of a path")]
    SinkWithOutput(String),
    #[error(
        "forward edge '{from}' -> '{to}' needs equal parallelism ({from_parallelism} vs {to_parallelism}); \
         use Rebalance or KeyBy to redistribute"
    )]
    ForwardParallelism { from: String, to: String, from_parallelism: u32, to_parallelism: u32 },
    #[error("window '{0}' needs keyed input: put a KeyBy before it")]
    WindowNotKeyed(String),
    #[error("only window operators have a late-data output, but '{0}' was asked for one")]
    LateFromNonWindow(String),
    #[error("source '{0}' reads 0 partitions; it needs at least one")]
    NoPartitions(String),
    #[error("the job graph has a cycle through '{0}'; streamlab runs acyclic dataflows only")]
    Cycle(String),
    #[error("the job has no source")]
    NoSource,
}

/// The logical job: operators and the edges between them.
#[derive(Clone, Debug, Default)]
pub struct JobGraph {
    pub graph: DiGraph<OperatorSpec, EdgeSpec>,
}

impl JobGraph {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn add_operator(&mut self, spec: OperatorSpec) -> NodeIndex {
        self.graph.add_node(spec)
    }
    pub fn connect(&mut self, from: NodeIndex, to: NodeIndex, edge: EdgeSpec) {
        self.graph.add_edge(from, to, edge);
    }

    /// Check the job is runnable and expand it into subtasks and channels.
    pub fn plan(&self) -> Result<PhysicalPlan, GraphError> {
        self.validate()?;
        PhysicalPlan::expand(self)
    }

    fn validate(&self) -> Result<(), GraphError> {
        let g = &self.graph;
        let mut names: Vec<&str> = g.node_weights().map(|n| n.name.as_str()).collect();
        names.sort_unstable();
        if let Some(w) = names.windows(2).find(|w| w[0] == w[1]) {
            return Err(GraphError::DuplicateName(w[0].to_string()));
        }
        if let Err(cycle) = toposort(g, None) {
            return Err(GraphError::Cycle(g[cycle.node_id()].name.clone()));
        }
        let mut sources = 0;
        for node in g.node_indices() {
            let op = &g[node];
            if op.parallelism == 0 || op.parallelism > MAX_PARALLELISM {
                return Err(GraphError::Parallelism(op.name.clone(), op.parallelism));
            }
            let inputs = g.edges_directed(node, Direction::Incoming).count();
            let outputs = g.edges_directed(node, Direction::Outgoing).count();
            match &op.kind {
                OperatorKind::Source(spec) => {
                    sources += 1;
                    if inputs > 0 {
                        return Err(GraphError::SourceWithInput(op.name.clone()));
                    }
                    if spec.partitions == 0 {
                        return Err(GraphError::NoPartitions(op.name.clone()));
                    }
                }
                _ if inputs == 0 => return Err(GraphError::NoInput(op.name.clone())),
                _ => {}
            }
            match &op.kind {
                OperatorKind::Sink(_) if outputs > 0 => return Err(GraphError::SinkWithOutput(op.name.clone())),
                OperatorKind::Sink(_) => {}
                _ if outputs == 0 => return Err(GraphError::NoOutput(op.name.clone())),
                _ => {}
            }
            if matches!(op.kind, OperatorKind::Window(_))
                && g.edges_directed(node, Direction::Incoming)
                    .any(|e| !matches!(e.weight().partitioning, Partitioning::Hash(_)))
            {
                return Err(GraphError::WindowNotKeyed(op.name.clone()));
            }
        }
        if sources == 0 {
            return Err(GraphError::NoSource);
        }
        for edge in g.edge_references() {
            let (from, to) = (&g[edge.source()], &g[edge.target()]);
            if edge.weight().stream == Stream::Late && !matches!(from.kind, OperatorKind::Window(_)) {
                return Err(GraphError::LateFromNonWindow(from.name.clone()));
            }
            if edge.weight().partitioning == Partitioning::Forward && from.parallelism != to.parallelism {
                return Err(GraphError::ForwardParallelism {
                    from: from.name.clone(),
                    to: to.name.clone(),
                    from_parallelism: from.parallelism,
                    to_parallelism: to.parallelism,
                });
            }
        }
        Ok(())
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PhysicalOperator {
    pub name: String,
    pub kind: OperatorKind,
    pub parallelism: u32,
    /// Subtasks of this operator are `first_subtask .. first_subtask + parallelism`
    /// ([`Self::subtask`], [`Self::subtasks`]).
    pub first_subtask: SubtaskId,
    /// Upstream operators, for drawing the DAG.
    pub upstream: Vec<OperatorId>,
}

impl PhysicalOperator {
    /// The plan-wide id of this operator's subtask at `index` (below its parallelism): the one
    /// place a position within an operator becomes a subtask id. An operator's subtasks are
    /// consecutive in the plan, so the id is the first one's plus the position.
    pub fn subtask(&self, index: SubtaskIndex) -> SubtaskId {
        debug_assert!(index.get() < self.parallelism, "subtask index {index} of {}", self.name);
        SubtaskId(self.first_subtask.0 + index.get())
    }

    /// This operator's subtasks, in index order.
    pub fn subtasks(&self) -> impl DoubleEndedIterator<Item = SubtaskId> + ExactSizeIterator + '_ {
        SubtaskIndex::all(self.parallelism).map(|index| self.subtask(index))
    }
}

/// Where one output of a subtask goes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutputGate {
    pub partitioning: Partitioning,
    pub stream: Stream,
    /// Channels ordered by downstream subtask index.
    pub channels: Vec<ChannelId>,
}

impl OutputGate {
    /// The channel to downstream subtask `to` of an all-to-all gate (hash, rebalance,
    /// broadcast); a forward gate holds its one channel only.
    pub fn channel_to(&self, to: SubtaskIndex) -> ChannelId {
        self.channels[to.index()]
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubtaskInfo {
    pub id: SubtaskId,
    pub operator: OperatorId,
    /// Position within the operator, 0-based.
    pub index: SubtaskIndex,
    /// Display name, Flink-style: `counts[1]`.
    pub name: String,
    /// Input channels; a message on `inputs[i]` arrives at input index i.
    pub inputs: Vec<ChannelId>,
    pub outputs: Vec<OutputGate>,
}

impl SubtaskInfo {
    /// The channel that arrives at `input`.
    pub fn input_channel(&self, input: InputIndex) -> ChannelId {
        self.inputs[input.index()]
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelInfo {
    pub id: ChannelId,
    pub from: SubtaskId,
    pub to: SubtaskId,
    /// Position of this channel among `to`'s inputs.
    pub input_index: InputIndex,
    pub stream: Stream,
    pub partitioning: Partitioning,
}

/// The job expanded into parallel subtasks and channels. Everything is indexed densely, in a
/// deterministic order (operators in graph order, channels in edge order then subtask order).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PhysicalPlan {
    pub operators: Vec<PhysicalOperator>,
    pub subtasks: Vec<SubtaskInfo>,
    pub channels: Vec<ChannelInfo>,
}

impl PhysicalPlan {
    fn expand(job: &JobGraph) -> Result<PhysicalPlan, GraphError> {
        let g = &job.graph;
        let mut operators = Vec::with_capacity(g.node_count());
        let mut subtasks = Vec::new();
        for node in g.node_indices() {
            let op = &g[node];
            let mut upstream: Vec<OperatorId> =
                g.edges_directed(node, Direction::Incoming).map(|e| e.source().index()).collect();
            upstream.sort_unstable();
            upstream.dedup();
            let first_subtask = SubtaskId(u32::try_from(subtasks.len()).expect("subtask count fits u32"));
            operators.push(PhysicalOperator {
                name: op.name.clone(),
                kind: op.kind.clone(),
                parallelism: op.parallelism,
                first_subtask,
                upstream,
            });
            let physical = operators.last().expect("just pushed");
            for index in SubtaskIndex::all(op.parallelism) {
                subtasks.push(SubtaskInfo {
                    id: physical.subtask(index),
                    operator: node.index(),
                    index,
                    name: format!("{}[{}]", op.name, index),
                    inputs: Vec::new(),
                    outputs: Vec::new(),
                });
            }
        }
        let mut channels: Vec<ChannelInfo> = Vec::new();
        // petgraph iterates edges in insertion order: deterministic.
        for edge in g.edge_references() {
            let spec = *edge.weight();
            let (from_op, to_op) = (&operators[edge.source().index()], &operators[edge.target().index()]);
            for i in SubtaskIndex::all(from_op.parallelism) {
                let from = from_op.subtask(i);
                let targets: Vec<SubtaskIndex> = match spec.partitioning {
                    Partitioning::Forward => vec![i],
                    _ => SubtaskIndex::all(to_op.parallelism).collect(),
                };
                let mut gate =
                    OutputGate { partitioning: spec.partitioning, stream: spec.stream, channels: Vec::new() };
                for j in targets {
                    let id = ChannelId(u32::try_from(channels.len()).expect("channel count fits u32"));
                    let to = to_op.subtask(j);
                    let input_index = InputIndex(subtasks[to.index()].inputs.len() as u32);
                    subtasks[to.index()].inputs.push(id);
                    channels.push(ChannelInfo {
                        id,
                        from,
                        to,
                        input_index,
                        stream: spec.stream,
                        partitioning: spec.partitioning,
                    });
                    gate.channels.push(id);
                }
                subtasks[from.index()].outputs.push(gate);
            }
        }
        Ok(PhysicalPlan { operators, subtasks, channels })
    }

    pub fn channel(&self, id: ChannelId) -> &ChannelInfo {
        &self.channels[id.index()]
    }

    pub fn operator_of(&self, subtask: SubtaskId) -> &PhysicalOperator {
        &self.operators[self.subtask(subtask).operator]
    }

    /// The subtask `id` names.
    pub fn subtask(&self, id: SubtaskId) -> &SubtaskInfo {
        &self.subtasks[id.index()]
    }

    /// Every subtask of the plan, in id order.
    pub fn subtask_ids(&self) -> impl DoubleEndedIterator<Item = SubtaskId> + ExactSizeIterator {
        SubtaskId::all(self.subtasks.len())
    }

    pub fn operator_by_name(&self, name: &str) -> Option<OperatorId> {
        self.operators.iter().position(|o| o.name == name)
    }

    pub fn subtask_by_name(&self, name: &str) -> Option<SubtaskId> {
        self.subtasks.iter().find(|s| s.name == name).map(|s| s.id)
    }

    /// Subtasks of sources (they are where checkpoints start).
    pub fn source_subtasks(&self) -> impl Iterator<Item = SubtaskId> + '_ {
        self.subtasks
            .iter()
            .filter(|s| matches!(self.operators[s.operator].kind, OperatorKind::Source(_)))
            .map(|s| s.id)
    }

    /// Partitions of the log read by source subtask `subtask` (p mod parallelism == index).
    pub fn partitions_of(&self, subtask: SubtaskId) -> Vec<u32> {
        let info = self.subtask(subtask);
        let op = &self.operators[info.operator];
        match &op.kind {
            OperatorKind::Source(spec) => {
                (0..spec.partitions).filter(|p| p % op.parallelism == info.index.get()).collect()
            }
            _ => Vec::new(),
        }
    }

    /// Does this subtask have more than one input channel (so that alignment can ever block)?
    pub fn has_multiple_inputs(&self, subtask: SubtaskId) -> bool {
        self.subtask(subtask).inputs.len() > 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transform::KeySelector;
    use crate::watermark::WatermarkStrategy;
    use crate::window::{Aggregate, WindowKind};

    fn op(name: &str, parallelism: u32, kind: OperatorKind) -> OperatorSpec {
        OperatorSpec { name: name.into(), parallelism, kind }
    }
    fn source() -> OperatorKind {
        OperatorKind::Source(SourceSpec { partitions: 4, watermarks: WatermarkStrategy::None })
    }
    fn window() -> OperatorKind {
        OperatorKind::Window(WindowSpec {
            kind: WindowKind::Tumbling { size_ms: 10, offset_ms: 0 },
            aggregate: Aggregate::Count,
            allowed_lateness_ms: 0,
            track_lineage: false,
        })
    }
    const MAIN_FORWARD: EdgeSpec = EdgeSpec { partitioning: Partitioning::Forward, stream: Stream::Main };
    const MAIN_HASH: EdgeSpec = EdgeSpec { partitioning: Partitioning::Hash(KeySelector::Key), stream: Stream::Main };

    #[test]
    fn hash_edge_connects_all_to_all_and_forward_one_to_one() {
        let mut job = JobGraph::new();
        let s = job.add_operator(op("src", 2, source()));
        let w = job.add_operator(op("win", 3, window()));
        let k = job.add_operator(op("out", 3, OperatorKind::Sink(SinkKind::Plain)));
        job.connect(s, w, MAIN_HASH);
        job.connect(w, k, MAIN_FORWARD);
        let plan = job.plan().unwrap();
        assert_eq!(plan.subtasks.len(), 8);
        assert_eq!(plan.channels.len(), 2 * 3 + 3);
        assert_eq!(plan.subtask(SubtaskId::from_raw(2)).name, "win[0]");
        assert_eq!(plan.subtask(SubtaskId::from_raw(2)).inputs.len(), 2);
        assert_eq!(plan.subtask(SubtaskId::from_raw(5)).inputs.len(), 1);
        assert_eq!(plan.partitions_of(SubtaskId::from_raw(1)), vec![1, 3]);
    }

    #[test]
    fn impossible_jobs_say_why() {
        let mut job = JobGraph::new();
        let s = job.add_operator(op("src", 2, source()));
        let k = job.add_operator(op("out", 3, OperatorKind::Sink(SinkKind::Plain)));
        job.connect(s, k, MAIN_FORWARD);
        assert!(matches!(job.plan(), Err(GraphError::ForwardParallelism { .. })));

        let mut job = JobGraph::new();
        let s = job.add_operator(op("src", 1, source()));
        let w = job.add_operator(op("win", 1, window()));
        let k = job.add_operator(op("out", 1, OperatorKind::Sink(SinkKind::Plain)));
        job.connect(s, w, MAIN_FORWARD);
        job.connect(w, k, MAIN_FORWARD);
        assert_eq!(job.plan().unwrap_err(), GraphError::WindowNotKeyed("win".into()));
    }
}
