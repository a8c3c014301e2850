//! What the madsim drivers of the models with a sans-IO core of their own share (Storm's,
//! Spark's, Kafka Streams'; `sim::model_world::ModelCore` is the kernel's side of the same
//! cores): a run on its own OS thread under a seeded madsim runtime, the state every node shares
//! with its virtual clock, and per-node timers fired in order. What a node's loop does with them
//! — which messages it sends, how it reorders streams, what a kill drops — stays in each
//! driver, as each model's rules stay in its core.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use madsim::runtime::Runtime;
use madsim::time::Instant;
use sim::scenario::NodeId;

use super::virtual_now;

/// Run `run()` to its end on a fresh OS thread (`madsim-{tag}-{seed}`) under a madsim runtime
/// seeded with `seed` (as [`super::run_on_madsim`]); a panic names the `world` ("Storm"), the
/// scenario `file` and the seed, and is passed on.
pub(crate) fn on_madsim_thread<T, F>(
    tag: &'static str,
    world: &'static str,
    file: String,
    seed: u64,
    run: impl FnOnce() -> F + Send + 'static,
) -> T
where
    T: Send + 'static,
    F: Future<Output = T>,
{
    std::thread::Builder::new()
        .name(format!("madsim-{tag}-{seed}"))
        .spawn(move || Runtime::with_seed_and_config(seed, madsim::Config::default()).block_on(run()))
        .expect("spawn the madsim thread")
        .join()
        .unwrap_or_else(|panic| {
            eprintln!("madsim {world} world panicked: scenario {file}, seed {seed}");
            std::panic::resume_unwind(panic)
        })
}

/// What every node of a driver shares: the core and the driver's bookkeeping (`state`, behind
/// a lock that is never contended — madsim runs every node on one thread), the node addresses,
/// and when the run started on madsim's clock.
pub(crate) struct Shared<S> {
    pub(crate) start: Instant,
    pub(crate) addrs: Vec<std::net::SocketAddr>,
    pub(crate) state: Mutex<S>,
}

impl<S> Shared<S> {
    pub(crate) fn new(addrs: Vec<std::net::SocketAddr>, state: S) -> Shared<S> {
        Shared { start: virtual_now(), addrs, state: Mutex::new(state) }
    }
    /// Virtual ns since the run started.
    pub(crate) fn now_ns(&self) -> u64 {
        virtual_now().duration_since(self.start).as_nanos() as u64
    }
    /// The madsim instant of virtual time `ns`.
    pub(crate) fn instant(&self, ns: u64) -> Instant {
        self.start + Duration::from_nanos(ns)
    }
    pub(crate) fn state(&self) -> MutexGuard<'_, S> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Per node its timers, in the order they fire: by time, then in the order they were set.
#[derive(Clone, Debug)]
pub(crate) struct NodeTimers<T> {
    per_node: Vec<BTreeMap<(u64, u64), T>>,
    set: u64,
}

impl<T> NodeTimers<T> {
    pub(crate) fn new(nodes: usize) -> NodeTimers<T> {
        NodeTimers { per_node: (0..nodes).map(|_| BTreeMap::new()).collect(), set: 0 }
    }
    /// Arm `timer` on `node` at `at` (a node the run has not is ignored).
    pub(crate) fn set(&mut self, node: NodeId, at: u64, timer: T) {
        self.set += 1;
        if let Some(timers) = self.per_node.get_mut(node.index()) {
            timers.insert((at, self.set), timer);
        }
    }
    /// `node`'s first timer if it is due before `before`, taken off with its time.
    pub(crate) fn pop_due(&mut self, node: NodeId, before: u64) -> Option<(u64, T)> {
        let entry = self.per_node.get_mut(node.index())?.first_entry()?;
        let at = entry.key().0;
        (at < before).then(|| (at, entry.remove()))
    }
    /// When `node`'s next timer is due.
    pub(crate) fn next_at(&self, node: NodeId) -> Option<u64> {
        self.per_node.get(node.index())?.keys().next().map(|k| k.0)
    }
    /// A killed node's timers die with its loop.
    pub(crate) fn clear(&mut self, node: NodeId) {
        if let Some(timers) = self.per_node.get_mut(node.index()) {
            timers.clear();
        }
    }
}
