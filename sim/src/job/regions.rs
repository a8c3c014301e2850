//! Pipelined regions: which subtasks fail over together.
//!
//! Flink restarts, after a task failure, only the *pipelined region* the failed task belongs to
//! (`jobmanager.execution.failover-strategy: region`, the default). A region is a connected
//! component of the subtask graph: a forward edge connects one subtask to one, while a hash,
//! rebalance or broadcast edge connects every upstream subtask to every downstream one (in the
//! physical plan it *is* a channel between each pair), so one key-by puts the whole job into one
//! region. streamlab's channels are all pipelined (no blocking exchanges), so regions are exactly
//! the connected components over the plan's channels.

use engine::graph::{PhysicalPlan, SubtaskId};
use serde::{Deserialize, Serialize};

/// What a failure restarts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
pub enum FailoverStrategy {
    /// Only the pipelined regions with a task on the failed node (Flink's default).
    #[default]
    Region,
    /// Every task of the job (Flink's `full` strategy).
    Full,
}

/// The region of every subtask, numbered in plan order (region 0 holds subtask 0).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Regions {
    of: Vec<usize>,
    count: usize,
}

impl Regions {
    /// The connected components of `plan`'s subtask graph.
    pub fn of(plan: &PhysicalPlan) -> Regions {
        let n = plan.subtasks.len();
        let mut parent: Vec<usize> = (0..n).collect();
        fn find(parent: &mut [usize], mut x: usize) -> usize {
            while parent[x] != x {
                parent[x] = parent[parent[x]];
                x = parent[x];
            }
            x
        }
        for c in &plan.channels {
            let (a, b) = (find(&mut parent, c.from.index()), find(&mut parent, c.to.index()));
            if a != b {
                // The smaller root wins: region numbers do not depend on channel order.
                parent[a.max(b)] = a.min(b);
            }
        }
        let mut number = vec![usize::MAX; n];
        let mut of = Vec::with_capacity(n);
        let mut count = 0;
        for s in 0..n {
            let root = find(&mut parent, s);
            if number[root] == usize::MAX {
                number[root] = count;
                count += 1;
            }
            of.push(number[root]);
        }
        Regions { of, count }
    }

    /// How many regions the job has.
    pub fn count(&self) -> usize {
        self.count
    }

    /// The region of `subtask`.
    pub fn region_of(&self, subtask: SubtaskId) -> usize {
        self.of[subtask.index()]
    }

    /// Every subtask in a region that contains one of `subtasks`, in plan order.
    pub fn closure(&self, subtasks: impl IntoIterator<Item = SubtaskId>) -> Vec<SubtaskId> {
        let mut hit = vec![false; self.count];
        for s in subtasks {
            if let Some(&r) = self.of.get(s.index()) {
                hit[r] = true;
            }
        }
        SubtaskId::all(self.of.len()).filter(|s| hit[self.of[s.index()]]).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::Scenario;

    fn regions(pipeline: &str) -> (Scenario, Regions) {
        let text = format!(
            r#"Scenario(
                name: "regions",
                duration_ms: 1_000,
                source: Generator((partitions: 2, rate_per_s: 10)),
                pipeline: [{pipeline}],
            )"#
        );
        let scenario = Scenario::parse(&text, "test").unwrap();
        let regions = Regions::of(&scenario.plan);
        (scenario, regions)
    }

    #[test]
    fn forward_only_parallel_pipelines_are_one_region_per_lane() {
        let (s, r) = regions(
            r#"Source(name: "s", parallelism: 2), Map(name: "m", f: MultiplyValue(1), parallelism: 2), Sink(name: "k", parallelism: 2)"#,
        );
        assert_eq!(r.count(), 2);
        let lane = |name: &str| r.region_of(s.plan.subtask_by_name(name).unwrap());
        assert_eq!(lane("s[0]"), lane("m[0]"));
        assert_eq!(lane("m[0]"), lane("k[0]"));
        assert_eq!(lane("s[1]"), lane("k[1]"));
        assert_ne!(lane("s[0]"), lane("s[1]"));
        let k0 = s.plan.subtask_by_name("k[0]").unwrap();
        let lane0: Vec<_> = ["s[0]", "m[0]", "k[0]"].iter().map(|n| s.plan.subtask_by_name(n).unwrap()).collect();
        assert_eq!(r.closure([k0]), lane0);
    }

    #[test]
    fn a_key_by_makes_one_region() {
        let (s, r) = regions(
            r#"Source(name: "s", parallelism: 2), KeyBy(Key), Window(name: "w", parallelism: 2, kind: Tumbling(size_ms: 100), aggregate: Count), Sink(name: "k", parallelism: 2)"#,
        );
        assert_eq!(r.count(), 1);
        assert_eq!(r.closure([SubtaskId::from_raw(0)]), s.plan.subtask_ids().collect::<Vec<_>>());
    }
}
