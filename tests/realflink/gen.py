"""Random window workloads for the real-Flink comparison (see README.md in this folder).

A case is a keyed event-time window job over an explicit list of events: keys, event times with
disorder and some late records, values; a tumbling, sliding or session window; allowed lateness;
an aggregate; the window operator's parallelism; the watermark bound. `to_ron` writes it as a
streamlab scenario, `to_flink` as lines of the cases file RealFlinkWindows.java reads. Both list
the events in the same order, which is the order the one source subtask emits them in.
"""

import random

AGGREGATES = ["Count", "Sum", "Min", "Max", "AvgMilli"]
KINDS = ["tumbling", "sliding", "session"]


def gen_case(rng, case_id, kinds=KINDS, negative=False, max_events=40, max_keys=5, shift_ms=0, partitions=1):
    """One random case, drawn from `rng` alone (so a seed reproduces it).

    `shift_ms` moves every event time (epoch milliseconds, say). With `partitions` > 1 the events
    are spread over that many source partitions, one source subtask each, and no record is late
    on its own partition (see `in_bound`), so that the results do not depend on how the
    partitions' records and watermarks interleave at the window operator.
    """
    kind = rng.choice(kinds)
    c = {"id": case_id, "kind": kind, "size": 0, "slide": 0, "offset": 0, "gap": 0}
    if kind == "tumbling":
        c["size"] = rng.randint(1, 60)
        if rng.random() < 0.3:
            c["offset"] = rng.randint(-(c["size"] - 1), c["size"] - 1)
        scale = c["size"]
    elif kind == "sliding":
        c["size"] = rng.randint(2, 60)
        # Mostly overlapping windows; sometimes a slide longer than the size (gaps).
        c["slide"] = rng.randint(1, c["size"]) if rng.random() < 0.8 else rng.randint(c["size"] + 1, 2 * c["size"] + 5)
        if c["slide"] > 1 and rng.random() < 0.3:
            c["offset"] = rng.randint(-(c["slide"] - 1), c["slide"] - 1)
        scale = c["size"]
    else:
        c["gap"] = rng.randint(1, 30)
        scale = c["gap"] * 2
    c["bound"] = rng.choice([0, 0, rng.randint(1, scale), rng.randint(1, 3 * scale)])
    c["lateness"] = 0 if rng.random() < 0.4 else rng.choice([rng.randint(1, scale), rng.randint(1, 4 * scale)])
    c["agg"] = rng.choice(AGGREGATES)
    c["parallelism"] = rng.randint(1, 4)
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
            ts = t - rng.randint(0, c["bound"] + c["lateness"] + 3 * scale)  # very late
        if not negative:
            ts = max(0, ts)
        events.append((rng.choice(keys), ts + shift_ms, rng.randint(-5, 20)))
    c["partitions"] = min(partitions, len(events))
    if c["partitions"] > 1:
        events = in_bound(rng, events, c["partitions"], c["bound"])
    c["events"] = events
    return c


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


def window_ron(c):
    if c["kind"] == "tumbling":
        return f"Tumbling(size_ms: {c['size']}, offset_ms: {c['offset']})"
    if c["kind"] == "sliding":
        return f"Sliding(size_ms: {c['size']}, slide_ms: {c['slide']}, offset_ms: {c['offset']})"
    return f"Session(gap_ms: {c['gap']})"


def to_ron(c):
    """The case as a streamlab scenario: one source subtask, watermarks after every record."""
    events = "\n".join(
        f'        (key: "{e[0]}", value: {e[2]}, ts: {e[1]}, arrives: {i}'
        + (f", partition: {e[3]}" if len(e) > 3 else "")
        + "),"
        for i, e in enumerate(c["events"])
    )
    return f"""// realflink case {c['id']}: written by tests/realflink/gen.py
Scenario(
    name: "realflink case {c['id']}",
    cluster: (task_managers: 1, slots_per_task_manager: 8),
    source: Events([
{events}
    ]),
    watermarks: BoundedOutOfOrderness(bound_ms: {c['bound']}, emit: PerRecord),
    pipeline: [
        Source(name: "in", parallelism: {c['partitions']}),
        KeyBy(Key),
        Window(name: "w", kind: {window_ron(c)}, aggregate: {c['agg']},
               allowed_lateness_ms: {c['lateness']}, late_output: "late", parallelism: {c['parallelism']}),
        Sink(name: "out", parallelism: 1),
    ],
)
"""


def to_flink(c):
    """The case as lines of the cases file RealFlinkWindows.java reads."""
    head = " ".join(
        f"{f}={c[f]}"
        for f in ["kind", "size", "slide", "offset", "gap", "lateness", "bound", "agg", "parallelism", "partitions"]
    )
    lines = [f"case {c['id']} {head}"] + [f"e {e[0]} {e[1]} {e[2]} {e[3] if len(e) > 3 else 0}" for e in c["events"]]
    return "\n".join(lines) + "\n"
