//! The link layer: reliable, ordered streams between node pairs over madsim's datagrams, and
//! a node loop's sleep.

use crate::*;

/// One datagram. `src` is the sender's session, `dst` the receiver's as the sender knows it.
pub(crate) struct Packet {
    from: NodeId,
    src: u64,
    dst: u64,
    body: Body,
}

pub(crate) enum Body {
    Data {
        seq: u64,
        batch: Arc<Vec<Envelope>>,
    },
    /// Everything before `next` arrived.
    Ack {
        next: u64,
    },
    /// "I have something for you; what is your session?"
    Hello,
    /// "This is my session."
    Welcome,
    /// Task manager to job manager, unreliable.
    Heartbeat,
}

// ---- the link layer: reliable, ordered streams over madsim's datagrams -------------------------

pub(crate) const RTO_NS: u64 = 40_000_000;
pub(crate) const RTO_MAX_NS: u64 = 640_000_000;
/// Batches resent per retransmission timeout.
pub(crate) const RETRANSMIT_BURST: usize = 16;

pub(crate) struct OutLink {
    /// The receiver's session, once known.
    peer: Option<u64>,
    next_seq: u64,
    /// Messages not yet put into a batch.
    queued: Vec<Envelope>,
    unacked: VecDeque<(u64, Arc<Vec<Envelope>>)>,
    rto_ns: u64,
    retransmit_at: Option<u64>,
    hello_at: u64,
}

impl Default for OutLink {
    fn default() -> Self {
        OutLink {
            peer: None,
            next_seq: 0,
            queued: Vec::new(),
            unacked: VecDeque::new(),
            rto_ns: RTO_NS,
            retransmit_at: None,
            hello_at: 0,
        }
    }
}

pub(crate) struct InLink {
    /// The sender's session this stream belongs to.
    peer: u64,
    expected: u64,
    buffer: BTreeMap<u64, Arc<Vec<Envelope>>>,
}

pub(crate) struct Link {
    shared: Arc<Shared>,
    me: NodeId,
    session: u64,
    ep: Endpoint,
    /// The newest session seen per peer.
    known: BTreeMap<NodeId, u64>,
    out: BTreeMap<NodeId, OutLink>,
    inn: BTreeMap<NodeId, InLink>,
    acks_due: BTreeSet<NodeId>,
    welcomes_due: BTreeSet<NodeId>,
    pub(crate) heartbeats_due: BTreeSet<NodeId>,
}

/// Packets received by a node's receiver task, and the signal that wakes its main loop.
pub(crate) type Inbox = Rc<RefCell<VecDeque<Packet>>>;

impl Link {
    /// Bind this node's endpoint and start its receiver task.
    pub(crate) async fn open(shared: Arc<Shared>, me: NodeId) -> (Link, Inbox, Rc<Signal>) {
        let session = shared.now_ns() + 1;
        let ep = Endpoint::bind(shared.addrs[me.index()]).await.expect("bind the node's endpoint");
        let inbox: Inbox = Rc::default();
        let signal = Rc::new(Signal::default());
        madsim::task::spawn_local(receive(ep.clone(), inbox.clone(), signal.clone()));
        let link = Link {
            shared,
            me,
            session,
            ep,
            known: BTreeMap::new(),
            out: BTreeMap::new(),
            inn: BTreeMap::new(),
            acks_due: BTreeSet::new(),
            welcomes_due: BTreeSet::new(),
            heartbeats_due: BTreeSet::new(),
        };
        (link, inbox, signal)
    }

    pub(crate) fn queue(&mut self, to: NodeId, envelope: Envelope) {
        self.out.entry(to).or_default().queued.push(envelope);
    }

    /// Take every packet the receiver task queued and handle it (both node loops start so).
    pub(crate) fn receive_all(
        &mut self,
        inbox: &Inbox,
        now: u64,
        delivered: &mut Vec<(NodeId, Envelope)>,
        heartbeats: &mut Vec<(NodeId, u64)>,
    ) {
        let packets: Vec<Packet> = inbox.borrow_mut().drain(..).collect();
        for p in packets {
            self.on_packet(p, now, delivered, heartbeats);
        }
    }

    pub(crate) fn on_packet(
        &mut self,
        p: Packet,
        now: u64,
        delivered: &mut Vec<(NodeId, Envelope)>,
        heartbeats: &mut Vec<(NodeId, u64)>,
    ) {
        let from = p.from;
        let known = self.known.get(&from).copied();
        if known.is_some_and(|k| p.src < k) {
            return; // from an earlier incarnation of the peer
        }
        if known != Some(p.src) {
            self.known.insert(from, p.src);
            let out = self.out.entry(from).or_default();
            if out.peer.is_some() {
                // The peer restarted: start a new stream to the new incarnation, carrying over
                // what the old one did not acknowledge, in order. (Dropping it would lose
                // messages of the current job attempt sent before we learned of the restart;
                // messages of earlier attempts are dropped by the receiver anyway.)
                let mut carried: Vec<Envelope> =
                    out.unacked.drain(..).flat_map(|(_, batch)| batch.iter().cloned().collect::<Vec<_>>()).collect();
                carried.append(&mut out.queued);
                out.queued = carried;
                out.next_seq = 0;
                out.retransmit_at = None;
                out.rto_ns = RTO_NS;
            }
            out.peer = Some(p.src);
        }
        match p.body {
            Body::Heartbeat => heartbeats.push((from, p.src)),
            Body::Hello => {
                self.welcomes_due.insert(from);
            }
            Body::Welcome => {}
            Body::Ack { next } => {
                if p.dst != self.session {
                    return;
                }
                let out = self.out.entry(from).or_default();
                let before = out.unacked.len();
                while out.unacked.front().is_some_and(|(seq, _)| *seq < next) {
                    out.unacked.pop_front();
                }
                if out.unacked.len() < before {
                    out.rto_ns = RTO_NS;
                    out.retransmit_at = (!out.unacked.is_empty()).then_some(now + RTO_NS);
                }
            }
            Body::Data { seq, batch } => {
                if p.dst != self.session {
                    // Meant for an earlier incarnation of this node: tell the sender who we are.
                    self.welcomes_due.insert(from);
                    return;
                }
                let inn = self.inn.entry(from).or_insert(InLink { peer: p.src, expected: 0, buffer: BTreeMap::new() });
                if inn.peer != p.src {
                    *inn = InLink { peer: p.src, expected: 0, buffer: BTreeMap::new() };
                }
                self.acks_due.insert(from);
                if seq < inn.expected {
                    return; // a duplicate
                }
                inn.buffer.insert(seq, batch);
                while let Some(batch) = inn.buffer.remove(&inn.expected) {
                    inn.expected += 1;
                    delivered.extend(batch.iter().cloned().map(|e| (from, e)));
                }
            }
        }
    }

    /// When the link next needs [`Link::flush`] for its own sake (retransmission, hello).
    pub(crate) fn next_deadline(&self) -> Option<u64> {
        self.out
            .values()
            .filter_map(|o| match o.peer {
                Some(_) => o.retransmit_at,
                None => (!o.queued.is_empty()).then_some(o.hello_at),
            })
            .min()
    }

    /// Send everything due: welcomes, acks, new batches, retransmissions, hellos, heartbeats.
    pub(crate) async fn flush(&mut self, now: u64) {
        let mut packets: Vec<(NodeId, u64, Body)> = Vec::new();
        let mut retransmitted = 0;
        for to in std::mem::take(&mut self.welcomes_due) {
            if let Some(&session) = self.known.get(&to) {
                packets.push((to, session, Body::Welcome));
            }
        }
        for to in std::mem::take(&mut self.acks_due) {
            if let Some(inn) = self.inn.get(&to) {
                packets.push((to, inn.peer, Body::Ack { next: inn.expected }));
            }
        }
        for (&to, out) in &mut self.out {
            let Some(peer) = out.peer else {
                if !out.queued.is_empty() && out.hello_at <= now {
                    packets.push((to, 0, Body::Hello));
                    out.hello_at = now + RTO_NS;
                }
                continue;
            };
            if out.retransmit_at.is_some_and(|t| t <= now) {
                for (seq, batch) in out.unacked.iter().take(RETRANSMIT_BURST) {
                    let batch = batch.clone();
                    packets.push((to, peer, Body::Data { seq: *seq, batch }));
                    retransmitted += 1;
                }
                out.rto_ns = (out.rto_ns * 2).min(RTO_MAX_NS);
                out.retransmit_at = (!out.unacked.is_empty()).then_some(now + out.rto_ns);
            }
            if !out.queued.is_empty() {
                let batch = Arc::new(std::mem::take(&mut out.queued));
                let seq = out.next_seq;
                out.next_seq += 1;
                out.unacked.push_back((seq, batch.clone()));
                if out.retransmit_at.is_none() {
                    out.retransmit_at = Some(now + out.rto_ns);
                }
                packets.push((to, peer, Body::Data { seq, batch }));
            }
        }
        for to in std::mem::take(&mut self.heartbeats_due) {
            let session = self.known.get(&to).copied().unwrap_or(0);
            packets.push((to, session, Body::Heartbeat));
        }
        if packets.is_empty() {
            return;
        }
        {
            let mut ext = self.shared.ext();
            ext.packets_sent += packets.len() as u64;
            ext.retransmissions += retransmitted;
        }
        for (to, dst, body) in packets {
            let packet = Packet { from: self.me, src: self.session, dst, body };
            // Errors mean the network dropped it; the stream retransmits.
            let _ = self.ep.send_to_raw(self.shared.addrs[to.index()], TAG, Box::new(packet)).await;
        }
    }
}

pub(crate) async fn receive(ep: Endpoint, inbox: Inbox, signal: Rc<Signal>) {
    while let Ok((payload, _from)) = ep.recv_from_raw(TAG).await {
        if let Ok(packet) = payload.downcast::<Packet>() {
            inbox.borrow_mut().push_back(*packet);
            signal.raise();
        }
    }
}

/// Wakes a node's main loop when a packet arrived.
#[derive(Default)]
pub(crate) struct Signal {
    pub(crate) raised: Cell<bool>,
    pub(crate) waker: RefCell<Option<Waker>>,
}

impl Signal {
    pub(crate) fn raise(&self) {
        self.raised.set(true);
        if let Some(waker) = self.waker.borrow_mut().take() {
            waker.wake();
        }
    }
}

/// Sleep until `deadline_ns` (None: no deadline) or until a packet arrives. A node loop that
/// keeps finding its deadline already past without ever sleeping would stop virtual time (no
/// other task runs): `spins` counts such rounds and turns a livelock into a panic. `start` is the
/// world's virtual time zero (deadlines count from it). The Flink nodes and the Storm and Spark
/// nodes (`driver::stream_node`) wait here.
pub(crate) async fn idle(start: Instant, signal: &Signal, deadline_ns: Option<u64>, spins: &mut u32) {
    let now_ns = || virtual_now().duration_since(start).as_nanos() as u64;
    if deadline_ns.is_some_and(|d| d <= now_ns()) {
        *spins += 1;
        assert!(
            *spins < 100_000,
            "madsim world livelock at {} ns: deadline {deadline_ns:?} stays in the past",
            now_ns()
        );
        return;
    }
    *spins = 0;
    let mut sleep = deadline_ns.map(|d| Box::pin(madsim::time::sleep_until(start + Duration::from_nanos(d))));
    poll_fn(|cx| {
        if signal.raised.replace(false) {
            return Poll::Ready(());
        }
        if let Some(sleep) = sleep.as_mut() {
            if sleep.as_mut().poll(cx).is_ready() {
                return Poll::Ready(());
            }
        }
        *signal.waker.borrow_mut() = Some(cx.waker().clone());
        Poll::Pending
    })
    .await
}

pub(crate) fn earliest(a: Option<u64>, b: Option<u64>) -> Option<u64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}
