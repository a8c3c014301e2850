//! What the madsim drivers of the models with a sans-IO core of their own share (Storm's,
//! Spark's, Kafka Streams'; `sim::model_world::ModelCore` is the kernel's side of the same
//! cores): a run on its own OS thread under a seeded madsim runtime, the state every node shares
//! with its virtual clock, per-node timers fired in order, the supervisor's schedule of kills and
//! restarts, and — for the models whose nodes talk over the network (Storm, Spark) — one node
//! loop with ordered streams between node lives ([`stream_node`]). Which messages a node sends
//! and what a kill drops stays in each driver's [`StreamNodes`] and in its core, as each model's
//! rules stay in its core.

use std::cell::RefCell;
use std::collections::{BTreeMap, VecDeque};
use std::future::Future;
use std::rc::Rc;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use madsim::net::Endpoint;
use madsim::runtime::Runtime;
use madsim::time::Instant;
use sim::model_world::ModelCore;
use sim::scenario::NodeId;

use super::link::{idle, Signal};
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

/// The supervisor's faults in time order: each kill `(node index, at_ns, back_after_ns)` kills
/// the node at `at_ns` and restarts it `back_after_ns` later; each cut `(a, b, from_ns,
/// until_ns)` clogs the link between two nodes both ways until it heals. Equal times keep the
/// order given (kills before cuts). A kill while the node is down is passed over (its restart
/// still happens); overlapping cuts of one link last until the last of them heals.
#[derive(Clone, Debug)]
pub(crate) struct FaultSchedule {
    /// `(at_ns, action)`, sorted by time.
    actions: Vec<(u64, FaultAction)>,
    next: usize,
    down: Vec<bool>,
    /// Per link (lower node first), the cuts holding it clogged.
    cuts: BTreeMap<(NodeId, NodeId), u32>,
    /// Kills that hit a live node.
    pub(crate) killed: u32,
}

/// What the supervisor does now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FaultAction {
    /// Kill the live node `node`; it comes back after `back_after_ns`.
    Kill { node: usize, back_after_ns: u64 },
    /// Restart the dead node `node` (it boots and tells the core itself).
    Restart { node: usize },
    /// Clog the link between `a` and `b`, both ways.
    Cut { a: NodeId, b: NodeId },
    /// Unclog it.
    Heal { a: NodeId, b: NodeId },
}

impl FaultSchedule {
    /// The schedule of `kills` on a run of `nodes` nodes (kills of nodes it has not are left
    /// out), without link cuts.
    pub(crate) fn new(kills: impl IntoIterator<Item = (usize, u64, u64)>, nodes: usize) -> FaultSchedule {
        FaultSchedule::with_cuts(kills, [], nodes)
    }

    /// The schedule of `kills` and of link `cuts` `(a, b, from_ns, until_ns)` between two
    /// different nodes of the run.
    pub(crate) fn with_cuts(
        kills: impl IntoIterator<Item = (usize, u64, u64)>,
        cuts: impl IntoIterator<Item = (NodeId, NodeId, u64, u64)>,
        nodes: usize,
    ) -> FaultSchedule {
        let mut actions = Vec::new();
        for (node, at_ns, back_after_ns) in kills {
            if node < nodes {
                actions.push((at_ns, FaultAction::Kill { node, back_after_ns }));
                actions.push((at_ns + back_after_ns, FaultAction::Restart { node }));
            }
        }
        for (a, b, from_ns, until_ns) in cuts {
            if a.index() < nodes && b.index() < nodes && a != b {
                actions.push((from_ns, FaultAction::Cut { a, b }));
                actions.push((until_ns, FaultAction::Heal { a, b }));
            }
        }
        actions.sort_by_key(|a| a.0); // stable: equal times keep the given order
        FaultSchedule { actions, next: 0, down: vec![false; nodes], cuts: BTreeMap::new(), killed: 0 }
    }

    /// The next action due at `now` that changes something: a kill of a live node, a restart of
    /// a dead one, a link's first cut, its last heal (the others are passed over).
    pub(crate) fn due(&mut self, now: u64) -> Option<FaultAction> {
        while let Some(&(at, action)) = self.actions.get(self.next) {
            if at > now {
                return None;
            }
            self.next += 1;
            if self.changes_something(action) {
                return Some(action);
            }
        }
        None
    }

    /// Book `action` in; whether it changes what the network or a node does.
    fn changes_something(&mut self, action: FaultAction) -> bool {
        match action {
            FaultAction::Kill { node, .. } if !self.down[node] => {
                self.down[node] = true;
                self.killed += 1;
                true
            }
            FaultAction::Restart { node } if self.down[node] => {
                self.down[node] = false;
                true
            }
            FaultAction::Cut { a, b } => {
                let cuts = self.cuts.entry((a.min(b), a.max(b))).or_insert(0);
                *cuts += 1;
                *cuts == 1
            }
            FaultAction::Heal { a, b } => {
                let cuts = self.cuts.entry((a.min(b), a.max(b))).or_insert(1);
                *cuts -= 1;
                *cuts == 0
            }
            _ => false,
        }
    }

    /// When the next action is due (`u64::MAX`: none is left).
    pub(crate) fn next_at(&self) -> u64 {
        self.actions.get(self.next).map_or(u64::MAX, |a| a.0)
    }
}

/// Each node's life, for the ordered streams between nodes: how often it was killed (its
/// session: a stream to an older life is dropped), whether its first boot happened, and the
/// datagrams sent.
#[derive(Clone, Debug)]
pub(crate) struct Lives {
    pub(crate) sessions: Vec<u32>,
    pub(crate) booted: Vec<bool>,
    pub(crate) packets_sent: u64,
}

impl Lives {
    pub(crate) fn new(nodes: usize) -> Lives {
        Lives { sessions: vec![0; nodes], booted: vec![false; nodes], packets_sent: 0 }
    }
}

/// Per receiving node, the messages a round sends it.
pub(crate) type Batches<I> = BTreeMap<NodeId, Vec<I>>;

/// What a driver of [`stream_node`] keeps per node beside its core: the timers and the lives.
#[derive(Clone, Debug)]
pub(crate) struct NodeBook<T> {
    pub(crate) timers: NodeTimers<T>,
    pub(crate) lives: Lives,
}

impl<T> NodeBook<T> {
    pub(crate) fn new(nodes: usize) -> NodeBook<T> {
        NodeBook { timers: NodeTimers::new(nodes), lives: Lives::new(nodes) }
    }
}

/// What [`stream_node`] needs of a driver's shared state: its core (which fires the timers and
/// starts a restarted node afresh, as in the kernel world) and its core's side of a node's round.
pub(crate) trait StreamNodes {
    type Core: ModelCore;
    /// One message of a packet.
    type Item: Send + Sync + 'static;
    /// The first node with a loop of its own (the nodes before it, such as Storm's Nimbus, run
    /// none); a first boot waits until every node from here on has bound its endpoint.
    const FIRST_LOOP: usize;
    fn core(&mut self) -> &mut Self::Core;
    fn book(&mut self) -> &mut NodeBook<<Self::Core as ModelCore>::Timer>;
    /// What the core decided: timers to their nodes, `me`'s own messages into the core at once,
    /// the rest into `batches`.
    fn route(&mut self, me: NodeId, now: u64, batches: &mut Batches<Self::Item>);
    fn deliver(&mut self, me: NodeId, item: Self::Item, now: u64);
    /// Whether anyone listens on `node` now.
    fn alive(&self, node: NodeId) -> bool;
    /// Before the round's packets are delivered: what else `me` has to send (Spark's driver:
    /// the tasks the supervisor's kill made it re-launch).
    fn before_delivery(&mut self, _me: NodeId, _now: u64, _batches: &mut Batches<Self::Item>) {}
    /// The end of `me`'s round at `now`: until when it may sleep (None: until a packet comes).
    fn end_round(&mut self, me: NodeId, now: u64) -> Option<u64>;
}

/// One datagram: the messages of one ordered stream (sender and its session → receiver's).
struct Packet<I> {
    from: NodeId,
    from_session: u32,
    to_session: u32,
    seq: u64,
    msgs: Vec<I>,
}

type Inbox<I> = Rc<RefCell<VecDeque<Packet<I>>>>;
/// An incoming stream's next sequence number expected, and the packets' messages that came early.
type Reorder<I> = (u64, BTreeMap<u64, Vec<I>>);

async fn receive<I: 'static>(ep: Endpoint, tag: u64, inbox: Inbox<I>, signal: Rc<Signal>) {
    while let Ok((payload, _from)) = ep.recv_from_raw(tag).await {
        if let Ok(packet) = payload.downcast::<Packet<I>>() {
            inbox.borrow_mut().push_back(*packet);
            signal.raise();
        }
    }
}

/// One node's loop: receive, run due timers, send, sleep. madsim's datagrams reorder; per
/// (sender, its session) → (receiver, its session) the packets carry sequence numbers and a
/// reorder buffer hands them over in order, so every connection is FIFO, as TCP is. madsim
/// sleeps at least 1 ms, far longer than a message's cost, so timers that came due while the
/// loop slept run at their own times (in order, never before the last thing this node did),
/// then the packets that arrived meanwhile at madsim's now.
pub(crate) async fn stream_node<S: StreamNodes>(shared: Arc<Shared<S>>, me: NodeId, tag: u64) {
    let ep = Endpoint::bind(shared.addrs[me.index()]).await.expect("bind the node's endpoint");
    let inbox: Inbox<S::Item> = Rc::default();
    let signal = Rc::new(Signal::default());
    madsim::task::spawn_local(receive(ep.clone(), tag, inbox.clone(), signal.clone()));
    let mut batches: Batches<S::Item> = BTreeMap::new();
    let (session, first_boot) = {
        let mut st = shared.state();
        let first_boot = !st.book().lives.booted[me.index()];
        st.book().lives.booted[me.index()] = true;
        if !first_boot {
            // The supervisor restarted this node: the core starts it afresh.
            let now = shared.now_ns();
            st.core().node_back(me, now);
            st.route(me, now, &mut batches);
        }
        (st.book().lives.sessions[me.index()], first_boot)
    };
    // At the start every node binds its endpoint before anyone sends (a datagram to an unbound
    // port is lost, and the streams do not retransmit).
    while first_boot && !shared.state().book().lives.booted.iter().skip(S::FIRST_LOOP).all(|&b| b) {
        madsim::time::sleep(Duration::ZERO).await;
    }
    // Outgoing: the next sequence number per (receiver, its session). Incoming: per (sender, its
    // session) the next one expected and what arrived early.
    let mut next_seq: BTreeMap<(NodeId, u32), u64> = BTreeMap::new();
    let mut expected: BTreeMap<(NodeId, u32), Reorder<S::Item>> = BTreeMap::new();
    let mut spins = 0;
    let mut clock = 0u64;
    loop {
        let now = shared.now_ns();
        let packets: Vec<Packet<S::Item>> = inbox.borrow_mut().drain(..).collect();
        let deadline = {
            let mut st = shared.state();
            let st = &mut *st;
            fire_due(st, me, &mut clock, now, &mut batches);
            clock = clock.max(now);
            st.before_delivery(me, now, &mut batches);
            for p in packets {
                if p.to_session != session {
                    continue; // for this node's previous life
                }
                let (next, early) = expected.entry((p.from, p.from_session)).or_default();
                early.insert(p.seq, p.msgs);
                while let Some(items) = early.remove(next) {
                    *next += 1;
                    for item in items {
                        st.deliver(me, item, now);
                    }
                }
            }
            st.route(me, now, &mut batches);
            fire_due(st, me, &mut clock, now + 1, &mut batches);
            st.end_round(me, now)
        };
        for (to, msgs) in std::mem::take(&mut batches) {
            let (alive, to_session) = {
                let mut st = shared.state();
                (st.alive(to), st.book().lives.sessions[to.index()])
            };
            if !alive {
                continue; // nobody listens there now
            }
            let seq = next_seq.entry((to, to_session)).or_insert(0);
            let packet = Packet { from: me, from_session: session, to_session, seq: *seq, msgs };
            *seq += 1;
            shared.state().book().lives.packets_sent += 1;
            let _ = ep.send_to_raw(shared.addrs[to.index()], tag, Box::new(packet)).await;
        }
        idle(shared.start, &signal, deadline, &mut spins).await;
    }
}

/// Fire `me`'s timers due before `before`, each at its own time (never before `clock`).
fn fire_due<S: StreamNodes>(st: &mut S, me: NodeId, clock: &mut u64, before: u64, batches: &mut Batches<S::Item>) {
    while let Some((at, timer)) = st.book().timers.pop_due(me, before) {
        *clock = (*clock).max(at);
        st.core().fire(timer, *clock);
        st.route(me, *clock, batches);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all_due(schedule: &mut FaultSchedule, now: u64) -> Vec<FaultAction> {
        std::iter::from_fn(|| schedule.due(now)).collect()
    }

    #[test]
    fn a_kill_of_a_dead_node_is_passed_over_and_its_restart_still_happens() {
        // Node 1 killed at 10 (back at 30) and again at 20 (back at 25): the second kill finds it
        // down; the first restart due (25) brings it back, the one at 30 finds it up.
        let mut schedule = FaultSchedule::new([(1, 10, 20), (1, 20, 5), (7, 1, 1)], 3);
        assert_eq!(schedule.next_at(), 10, "a kill of a node the run has not is left out");
        assert_eq!(all_due(&mut schedule, 9), vec![]);
        assert_eq!(all_due(&mut schedule, 20), vec![FaultAction::Kill { node: 1, back_after_ns: 20 }]);
        assert_eq!(all_due(&mut schedule, 29), vec![FaultAction::Restart { node: 1 }]);
        assert_eq!(all_due(&mut schedule, 30), vec![]);
        assert_eq!(schedule.killed, 1);
        assert_eq!(schedule.next_at(), u64::MAX);
    }

    #[test]
    fn overlapping_cuts_of_a_link_last_until_the_last_heals() {
        let (a, b, c) = (NodeId::from_index(0), NodeId::from_index(1), NodeId::from_index(2));
        let cuts = [(a, b, 10, 30), (b, a, 20, 40), (c, c, 5, 50), (a, c, 30, 35)];
        let mut schedule = FaultSchedule::with_cuts([(2, 30, 1)], cuts, 3);
        assert_eq!(all_due(&mut schedule, 25), vec![FaultAction::Cut { a, b }], "a self-cut is left out");
        // At 30 the kill comes first (kills before cuts at equal times), the first heal of a-b
        // changes nothing, a-c is cut.
        assert_eq!(
            all_due(&mut schedule, 30),
            vec![FaultAction::Kill { node: 2, back_after_ns: 1 }, FaultAction::Cut { a, b: c }]
        );
        assert_eq!(
            all_due(&mut schedule, 40),
            vec![FaultAction::Restart { node: 2 }, FaultAction::Heal { a, b: c }, FaultAction::Heal { a: b, b: a }]
        );
    }
}
