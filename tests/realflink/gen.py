"""Random window workloads for the real-Flink comparison (see README.md in this folder).

A case is a keyed event-time window job over an explicit list of events: keys, event times with
disorder and some late records, values; a tumbling, sliding or session window; allowed lateness;
an aggregate; the window operator's parallelism; the watermark bound; optionally a second window
over the first one's results. `to_ron` writes it as a streamlab scenario, `to_flink` as lines of
the cases file RealFlinkWindows.java reads. Both list the events in the same order, which is the
order the source subtask of their partition emits them in.
"""

AGGREGATES = ["Count", "Sum", "Min", "Max", "AvgMilli"]
KINDS = ["tumbling", "sliding", "session"]


def gen_window(rng, kinds, parallelism):
    """One window step: kind and sizes, allowed lateness, aggregate, parallelism. Returns it and
    its time scale (a typical window length, which the event times are drawn around)."""
    kind = rng.choice(kinds)
    w = {"kind": kind, "size": 0, "slide": 0, "offset": 0, "gap": 0}
    if kind == "tumbling":
        w["size"] = rng.randint(1, 60)
        if rng.random() < 0.3:
            w["offset"] = rng.randint(-(w["size"] - 1), w["size"] - 1)
        scale = w["size"]
    elif kind == "sliding":
        w["size"] = rng.randint(2, 60)
        # Mostly overlapping windows; sometimes a slide longer than the size (gaps).
        w["slide"] = rng.randint(1, w["size"]) if rng.random() < 0.8 else rng.randint(w["size"] + 1, 2 * w["size"] + 5)
        if w["slide"] > 1 and rng.random() < 0.3:
            w["offset"] = rng.randint(-(w["slide"] - 1), w["slide"] - 1)
        scale = w["size"]
    else:
        w["gap"] = rng.randint(1, 30)
        scale = w["gap"] * 2
    w["lateness"] = 0 if rng.random() < 0.4 else rng.choice([rng.randint(1, scale), rng.randint(1, 4 * scale)])
    w["agg"] = rng.choice(AGGREGATES)
    w["parallelism"] = parallelism
    return w, scale


def gen_case(rng, case_id, kinds=KINDS, negative=False, max_events=40, max_keys=5, shift_ms=0, partitions=1,
             chain=False, shared_source=False, watermarks=True, idle=False):
    """One random case, drawn from `rng` alone (so a seed reproduces it).

    `shift_ms` moves every event time (epoch milliseconds, say). With `partitions` > 1 the events
    are spread over that many source partitions, one source subtask each, and no record is late
    on its own partition (see `in_bound`), so that the results do not depend on how the
    partitions' records and watermarks interleave at the window operator. With `chain` a second
    window (keyed by the same key) aggregates the first one's results; the first then has
    parallelism 1, so that each subtask of the second reads one channel and the run is
    deterministic. With `shared_source` one source subtask reads all partitions, with a watermark
    per partition (their minimum is the subtask's): every interleaving is in one place, the
    source's, so disorder and lateness need no bounds; a partition may get no events at all.
    Without `watermarks` the sources emit none (streamlab's `watermarks: None`, Flink's
    `WatermarkStrategy.noWatermarks()`): every window fires at the end of the input. With `idle`
    (and `shared_source`) the partitions have an idle timeout and the events arrival times (see
    `arrivals`), so that partitions fall silent and go idle while others go on.
    """
    first, scale = gen_window(rng, kinds, 1 if chain else rng.randint(1, 4))
    c = {"id": case_id, "windows": [first]}
    if chain:
        c["windows"].append(gen_window(rng, kinds, rng.randint(1, 4))[0])
    lateness = first["lateness"]
    c["bound"] = rng.choice([0, 0, rng.randint(1, scale), rng.randint(1, 3 * scale)])
    keys = [f"k{i}" for i in range(rng.randint(1, max_keys))]
    n = rng.randint(1, max_events)
    t = rng.randint(-3 * scale, 0) if negative else rng.randint(0, 2 * scale)
    step_max = max(1, scale // 3)
    events = []
    for _ in range(n):
        t += rng.randint(0, step_max)
        r = rng.random()
        if r < 0.6:
            ts = t - rng.randint(0, max(0, c["bound"]))  # inside the bound
        elif r < 0.85:
            ts = t - rng.randint(0, c["bound"] + scale)  # a little late
        else:
            ts = t - rng.randint(0, c["bound"] + lateness + 3 * scale)  # very late
        if not negative:
            ts = max(0, ts)
        events.append((rng.choice(keys), ts + shift_ms, rng.randint(-5, 20)))
    c["watermarks"] = watermarks
    c["shared_source"] = shared_source
    if shared_source:
        if idle:
            c["idle_timeout"] = rng.choice([1, 50, 100, 199, 200, 201, 300, 500, 1000])
            events = [e + a for e, a in zip(events, arrivals(rng, len(events), partitions))]
        else:
            events = [(k, ts, v, rng.randrange(partitions)) for k, ts, v in events]
        c["partitions"] = 1 + max(e[3] for e in events)  # streamlab's log has as many
    else:
        c["partitions"] = min(partitions, len(events))
        if c["partitions"] > 1:
            events = in_bound(rng, events, c["partitions"], c["bound"])
    c["events"] = events
    return c


CHECK_INTERVAL_MS = 200  # streamlab's idleness checks under PerRecord; RealFlinkWindows.java's too


def arrivals(rng, n, partitions):
    """Per event (partition, arrival in ms): mostly a few ms apart, sometimes tens or hundreds,
    now and then over a second; each event from one of a few partitions active at the time (a set
    redrawn now and then), so that some partitions fall silent while others go on. No arrival is
    on an idleness check (a multiple of CHECK_INTERVAL_MS), so that which comes first is never in
    question."""
    at, active, out = 0, list(range(partitions)), []
    for _ in range(n):
        r = rng.random()
        at += rng.randint(1, 5) if r < 0.6 else rng.randint(10, 300) if r < 0.9 else rng.randint(300, 1500)
        if at % CHECK_INTERVAL_MS == 0:
            at += 1
        if rng.random() < 0.15:
            active = rng.sample(range(partitions), rng.randint(1, partitions))
        out.append((rng.choice(active), at))
    return out


def in_bound(rng, events, partitions, bound_ms):
    """Deals the events to partitions, and raises each event time to at least `max_ts - bound + 1`
    of its partition so far. Then no record is late on its partition, nor (the window operator's
    watermark being the minimum over partitions) anywhere; and no session can be touched by a
    record (`ts == end`) after it fired, so the results are the same in every interleaving."""
    max_ts = {}
    dealt = []
    for i, (k, ts, v) in enumerate(events):
        p = i if i < partitions else rng.randrange(partitions)  # every partition has events
        if p in max_ts:
            ts = max(ts, max_ts[p] - bound_ms + 1)
        max_ts[p] = max(max_ts.get(p, ts), ts)
        dealt.append((k, ts, v, p))
    return dealt


def window_ron(w):
    if w["kind"] == "tumbling":
        return f"Tumbling(size_ms: {w['size']}, offset_ms: {w['offset']})"
    if w["kind"] == "sliding":
        return f"Sliding(size_ms: {w['size']}, slide_ms: {w['slide']}, offset_ms: {w['offset']})"
    return f"Session(gap_ms: {w['gap']})"


def describe(c):
    """The case's shape in one line."""
    steps = [
        f"{window_ron(w)} {w['agg']}, lateness {w['lateness']} ms, parallelism {w['parallelism']}"
        for w in c["windows"]
    ]
    sources = "1 source subtask" if c["shared_source"] else f"{c['partitions']} source subtask(s)"
    bound = f"bound {c['bound']} ms" if c["watermarks"] else "no watermarks"
    return (" then ".join(steps) + f"; {bound}, {c['partitions']} partition(s), {sources}, "
            f"{len(c['events'])} events")


def watermarks_ron(c):
    if not c["watermarks"]:
        return "None"
    idle = f", idle_timeout_ms: Some({c['idle_timeout']})" if "idle_timeout" in c else ""
    return f"BoundedOutOfOrderness(bound_ms: {c['bound']}, emit: PerRecord{idle})"


def to_ron(c):
    """The case as a streamlab scenario: one source subtask per partition, watermarks after every
    record; window step i sends records dropped as late to the side output `late<i>`."""
    events = "\n".join(
        f'        (key: "{e[0]}", value: {e[2]}, ts: {e[1]}, arrives: {e[4] if len(e) > 4 else i}'
        + (f", partition: {e[3]}" if len(e) > 3 else "")
        + "),"
        for i, e in enumerate(c["events"])
    )
    steps = "\n".join(
        f"""        KeyBy(Key),
        Window(name: "w{i + 1}", kind: {window_ron(w)}, aggregate: {w['agg']},
               allowed_lateness_ms: {w['lateness']}, late_output: "late{i + 1}", parallelism: {w['parallelism']}),"""
        for i, w in enumerate(c["windows"])
    )
    return f"""// realflink case {c['id']}: written by tests/realflink/gen.py
Scenario(
    name: "realflink case {c['id']}",
    cluster: (task_managers: 1, slots_per_task_manager: 8),
    source: Events([
{events}
    ]),
    watermarks: {watermarks_ron(c)},
    pipeline: [
        Source(name: "in", parallelism: {1 if c['shared_source'] else c['partitions']}),
{steps}
        Sink(name: "out", parallelism: 1),
    ],
)
"""


def to_flink(c):
    """The case as lines of the cases file RealFlinkWindows.java reads."""
    shared = "true" if c["shared_source"] else "false"
    watermarks = "true" if c["watermarks"] else "false"
    lines = [f"case {c['id']} bound={c['bound']} watermarks={watermarks} partitions={c['partitions']} "
             f"shared_source={shared}" + (f" idle_timeout={c['idle_timeout']}" if "idle_timeout" in c else "")]
    for w in c["windows"]:
        lines.append("window " + " ".join(
            f"{f}={w[f]}" for f in ["kind", "size", "slide", "offset", "gap", "lateness", "agg", "parallelism"]
        ))
    lines += [f"e {e[0]} {e[1]} {e[2]} {e[3] if len(e) > 3 else 0}" + (f" {e[4]}" if len(e) > 4 else "")
              for e in c["events"]]
    return "\n".join(lines) + "\n"
