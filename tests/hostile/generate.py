#!/usr/bin/env python3
"""Writes the generated part of the hostile-input corpus: tests/hostile/generated/*.ron and
tests/hostile/generated.tsv (file, class, field, line). Deterministic: rerun after changing it and
commit the result. Run from the repository root: python3 tests/hostile/generate.py

Classes: ok (loads and runs), syntax (RON), type (a value of the wrong type), limit (a number
outside its allowed range), semantic (a rule of the format), encoding (not UTF-8).
field '-' means any; line 0 means any line (the line must still be within the file)."""
import os
import random

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "generated")

BASE = """Scenario(
    name: "hostile base",
    duration_ms: 2_000,
    cluster: (task_managers: 2, slots_per_task_manager: 2),
    network: (latency: Uniform(min_ms: 1, max_ms: 2), local_latency_us: 10, channel_capacity: 100),
    source: Generator((partitions: 2, rate_per_s: 100, keys: 5, value: Uniform(min: 1, max: 9))),
    watermarks: BoundedOutOfOrderness(bound_ms: 10, emit: Periodic(interval_ms: 100)),
    pipeline: [
        Source(name: "in"),
        Map(name: "m", f: AddToValue(1)),
        Filter(name: "f", f: ValueAtLeast(0)),
        KeyBy(Key),
        Window(name: "w", kind: Tumbling(size_ms: 100), aggregate: Sum),
        Sink(name: "out"),
    ],
    checkpoints: (interval_ms: 500),
    restart: FixedDelay(delay_ms: 100, max_attempts: 3),
    faults: [Crash(node: "tm-0", at: At(700), restart_after_ms: 200)],
)
"""

EVENTS = """Scenario(
    name: "hostile events",
    source: Events([
        (key: "a", value: 1, ts: 5, arrives: 10),
        (key: "b", value: 2, ts: 7, arrives: 12),
        (key: "a", value: 3, ts: 9, arrives: 14),
    ]),
    watermarks: Explicit([(at: 11, watermark: 6), (at: 20, watermark: 100)]),
    pipeline: [
        Source(name: "in"),
        KeyBy(Key),
        Window(name: "w", kind: Tumbling(size_ms: 10), aggregate: Sum),
        Sink(name: "out"),
    ],
)
"""

U64 = "18446744073709551615"
I64MIN = "-9223372036854775808"
I64MAX = "9223372036854775807"

cases = []  # (name, bytes, class, field, line-marker or None)


def case(name, text, cls, field="-", marker=None, base=BASE):
    if isinstance(text, tuple):  # (old, new): a replacement in the base
        old, new = text
        assert old in base, old
        text = base.replace(old, new, 1)
        if marker is None and cls != "ok":
            marker = new
    if marker == "":
        marker = None
    cases.append((name, text, cls, field, marker))


# Numbers out of range, or of the wrong sign or type, field by field.
numeric = [
    ("duration_ms: 2_000", "duration_ms", [("0", "semantic"), (U64, "limit"), ("-1", "type"), ("1e400", "type")]),
    ("task_managers: 2", "cluster.task_managers", [("0", "semantic"), ("1000000000", "limit"), ("4294967295", "limit"), ("4294967296", "type"), ("-3", "type")]),
    ("slots_per_task_manager: 2", "cluster.slots_per_task_manager", [("0", "semantic"), ("65536", "limit"), ("4294967295", "limit")]),
    ("local_latency_us: 10", "network.local_latency_us", [(U64, "limit"), ("100000000001", "limit")]),
    ("channel_capacity: 100", "network.channel_capacity", [("0", "semantic"), ("-1", "type")]),
    ("min_ms: 1, max_ms: 2", "network.latency", [("min_ms: 5, max_ms: 2", "semantic")]),
    ("partitions: 2", "source.Generator.partitions", [("0", "semantic"), ("4294967295", "limit"), ("100000", "limit")]),
    ("rate_per_s: 100", "source.Generator.rate_per_s", [("0", "semantic"), (U64, "semantic"), ("100000000", "semantic")]),
    ("keys: 5", "source.Generator.keys", [("0", "semantic"), ("1000000000", "limit"), ("4294967295", "limit")]),
    ("min: 1, max: 9", "source.Generator.value.Uniform", [("min: 9, max: 1", "semantic"), (f"min: {I64MIN}, max: {I64MAX}", "ok"), (f"min: {I64MAX}, max: {I64MAX}", "ok")]),
    ("bound_ms: 10", "watermarks.BoundedOutOfOrderness.bound_ms", [("-1", "semantic"), (I64MAX, "limit"), (I64MIN, "limit")]),
    ("interval_ms: 100)", "watermarks.BoundedOutOfOrderness.emit.Periodic.interval_ms", [("0)", "semantic"), (U64 + ")", "limit")]),
    ("interval_ms: 500", "checkpoints.interval_ms", [("0", "semantic"), (U64, "limit"), ("100000000001", "limit")]),
    ("size_ms: 100", "pipeline[4].Window.kind", [("0", "semantic"), ("-5", "semantic")]),
    ("size_ms: 100", "pipeline[4].Window.kind.Tumbling.size_ms", [(I64MAX, "limit")]),
    ("delay_ms: 100", "restart.FixedDelay.delay_ms", [(U64, "limit")]),
    ("max_attempts: 3", "restart.FixedDelay.max_attempts", [("-1", "type"), ("4294967296", "type")]),
    ("restart_after_ms: 200", "faults[0].Crash.restart_after_ms", [(U64, "limit")]),
]
for old, field, values in numeric:
    key = old.split(":")[0].strip()
    for value, cls in values:
        new = value if ":" in value else f"{key}: {value}"
        if old.endswith(")") and not new.endswith(")"):
            new += ")"
        f = field if cls != "type" else "-"
        if cls == "semantic" and field.endswith("Uniform"):
            f = field
        if cls == "semantic" and field == "network.latency":
            f = field
        if field in ("watermarks.BoundedOutOfOrderness.emit.Periodic.interval_ms",) and cls == "semantic":
            f = field
        if field == "source.Generator.rate_per_s":
            f = field
        name = f"num-{field}-{value}".replace(" ", "").replace("[", "").replace("]", "").replace(":", "").replace(",", "-").replace(")", "")
        case(name, (old, new), cls, f if cls != "ok" else "-")

# Functions that divide, and arithmetic at the edges of i64.
case("map-modulo-zero", ("AddToValue(1)", "ValueModulo(0)"), "semantic", "pipeline[1].Map.f")
case("map-modulo-minus-one", ("AddToValue(1)", "ValueModulo(-1)"), "ok")
case("map-modulo-min", ("AddToValue(1)", f"ValueModulo({I64MIN})"), "ok")
case("map-multiply-min", ("AddToValue(1)", f"MultiplyValue({I64MIN})"), "ok")
case("map-add-max", ("AddToValue(1)", f"AddToValue({I64MAX})"), "ok")
case("filter-divisible-zero", ("ValueAtLeast(0)", "ValueDivisibleBy(0)"), "semantic", "pipeline[2].Filter.f")
case("filter-divisible-minus-one", ("ValueAtLeast(0)", "ValueDivisibleBy(-1)"), "ok")
case("filter-keyin-unknown", ("ValueAtLeast(0)", 'KeyIn(["nope"])'), "semantic", "pipeline[2].Filter.f")
case("filter-keyin-known", ("ValueAtLeast(0)", 'KeyIn(["k1", "k4"])'), "ok")
case("filter-keyin-k01", ("ValueAtLeast(0)", 'KeyIn(["k01"])'), "semantic", "pipeline[2].Filter.f")
for depth in (10, 60, 64, 100, 1000):
    f = "Not(" * depth + "ValueAtLeast(0)" + ")" * depth
    cls = "ok" if depth <= 58 else "syntax"
    case(f"filter-not-{depth}", ("ValueAtLeast(0)", f), cls, "-", "Not(" if cls != "ok" else None)
case("uniform-min-max", ("min: 1, max: 9", f"min: {I64MIN}, max: {I64MAX}"), "ok")

# Names.
case("name-duplicate", ('Map(name: "m"', 'Map(name: "in"'), "semantic", "pipeline[1].Map.name")
case("name-duplicate-sink", ('Sink(name: "out"', 'Sink(name: "w"'), "semantic", "pipeline[5].Sink.name")
case("name-newline", ('Map(name: "m"', 'Map(name: "m\\nSEED=1"'), "semantic", "pipeline[1].Map.name")
case("name-escape", ('Map(name: "m"', 'Map(name: "\\u{1b}[2J"'), "semantic", "pipeline[1].Map.name")
case("name-empty", ('Map(name: "m"', 'Map(name: ""'), "semantic", "pipeline[1].Map.name")
case("scenario-name-newline", ('name: "hostile base"', 'name: "x\\nSEED=7"'), "ok")
case("name-very-long", ('Map(name: "m"', 'Map(name: "' + "m" * 100000 + '"'), "limit", "pipeline[1].Map.name")

# Structure.
case("union-empty", ('Filter(name: "f", f: ValueAtLeast(0)),', 'Union(name: "u", inputs: []),'), "semantic", "pipeline[2].Union.inputs")
case("union-self", ('Filter(name: "f", f: ValueAtLeast(0)),', 'Union(name: "u", inputs: ["u"]),'), "semantic", "pipeline[2].Union.inputs[0]")
case("union-unknown", ('Filter(name: "f", f: ValueAtLeast(0)),', 'Union(name: "u", inputs: ["zz"]),'), "semantic", "pipeline[2].Union.inputs[0]")
case("link-self", ("channel_capacity: 100)", 'channel_capacity: 100, links: [(between: ("tm-0", "tm-0"), latency: Zero)])'), "semantic", "network.links[0].between", "links")
case("link-unknown", ("channel_capacity: 100)", 'channel_capacity: 100, links: [(between: ("tm-0", "tm-7"), latency: Zero)])'), "semantic", "network.links[0].between[1]", "links")
case("keyby-last", ('        Sink(name: "out"),\n', '        Sink(name: "out"),\n        KeyBy(Key),\n'), "semantic", "pipeline[6]", "KeyBy(Key),\n    ]")
case("window-unkeyed", ("        KeyBy(Key),\n", ""), "semantic", "pipeline[3].Window", "Window(")
case("source-with-inputs", ('Source(name: "in")', 'Source(name: "in", inputs: ["m"])'), "type", "-")
case("no-source", ('        Source(name: "in"),\n', ""), "semantic", "pipeline[0].Map", "Map(")
case("parallelism-zero", ('Map(name: "m", f: AddToValue(1))', 'Map(name: "m", f: AddToValue(1), parallelism: 0)'), "semantic", "pipeline[1].Map.parallelism")
case("parallelism-huge", ('Map(name: "m", f: AddToValue(1))', 'Map(name: "m", f: AddToValue(1), parallelism: 4294967295)'), "limit", "pipeline[1].Map.parallelism", "4294967295")
case("parallelism-over-slots", ('Map(name: "m", f: AddToValue(1))', 'Map(name: "m", f: AddToValue(1), parallelism: 5)'), "semantic", "cluster", "(task_managers")
case("parallelism-channels", ("cluster: (task_managers: 2, slots_per_task_manager: 2)", "cluster: (task_managers: 1000, slots_per_task_manager: 1000)"), "ok")
case("cost-huge", ('Map(name: "m", f: AddToValue(1))', f'Map(name: "m", f: AddToValue(1), cost_us: {U64})'), "limit", "pipeline[1].Map.cost_us", U64)
case("cost-over-limit", ('Map(name: "m", f: AddToValue(1))', 'Map(name: "m", f: AddToValue(1), cost_us: 1000001)'), "limit", "pipeline[1].Map.cost_us", "1000001")
case("sliding-too-many", ("Tumbling(size_ms: 100)", "Sliding(size_ms: 100000, slide_ms: 1)"), "semantic", "pipeline[4].Window.kind")
case("sliding-offset", ("Tumbling(size_ms: 100)", "Sliding(size_ms: 100, slide_ms: 10, offset_ms: 10)"), "semantic", "pipeline[4].Window.kind")
case("tumbling-offset-min", ("Tumbling(size_ms: 100)", f"Tumbling(size_ms: 100, offset_ms: {I64MIN})"), "limit", "pipeline[4].Window.kind.Tumbling.offset_ms", I64MIN)
case("lateness-negative", ("aggregate: Sum", "aggregate: Sum, allowed_lateness_ms: -1"), "semantic", "pipeline[4].Window.allowed_lateness_ms")
case("late-output-clash", ("aggregate: Sum", 'aggregate: Sum, late_output: "in"'), "semantic", "pipeline[4].Window.late_output")
case("placement-unknown-subtask", ("    checkpoints:", '    placement: {"nope#0": "tm-1"},\n    checkpoints:'), "semantic", 'placement.nope#0', '"tm-1"')
case("placement-unknown-tm", ("    checkpoints:", '    placement: {"in#0": "tm-9"},\n    checkpoints:'), "semantic", 'placement.in#0', '"tm-9"')

# Checkpoints and recovery.
case("checkpoint-timeout-zero", ("interval_ms: 500", "interval_ms: 500, timeout_ms: 0"), "semantic", "checkpoints.timeout_ms")
case("checkpoint-unaligned-alo", ("interval_ms: 500", "interval_ms: 500, mode: AtLeastOnce, unaligned: true"), "semantic", "checkpoints.unaligned")
case("restart-multiplier", ("FixedDelay(delay_ms: 100, max_attempts: 3)", "ExponentialDelay(initial_delay_ms: 1, max_delay_ms: 10, multiplier_milli: 999, max_attempts: 3)"), "semantic", "restart.ExponentialDelay.multiplier_milli")
case("restart-multiplier-huge", ("FixedDelay(delay_ms: 100, max_attempts: 3)", f"ExponentialDelay(initial_delay_ms: 1, max_delay_ms: 10, multiplier_milli: {U64}, max_attempts: 3)"), "limit", "restart.ExponentialDelay.multiplier_milli", U64)
case("heartbeat-zero", ("    checkpoints:", "    failure_detection: (heartbeat_interval_ms: 0),\n    checkpoints:"), "semantic", "failure_detection.heartbeat_interval_ms")
case("heartbeat-timeout-short", ("    checkpoints:", "    failure_detection: (heartbeat_interval_ms: 500, heartbeat_timeout_ms: 10),\n    checkpoints:"), "semantic", "failure_detection.heartbeat_timeout_ms")

# Faults.
FAULT = 'Crash(node: "tm-0", at: At(700), restart_after_ms: 200)'
fault_cases = [
    ("crash-unknown-node", 'Crash(node: "tm-9", at: At(700))', "semantic", "faults[0]", None),
    ("crash-node-wrap", 'Crash(node: "tm-4294967296", at: At(700))', "semantic", "faults[0]", None),
    ("crash-negative", 'Crash(node: "tm-0", at: At(-5))', "semantic", "faults[0]", None),
    ("crash-huge-time", f'Crash(node: "tm-0", at: At({I64MAX}))', "limit", "faults[0].Crash.at.At", I64MAX),
    ("crash-after-run", 'Crash(node: "tm-0", at: At(99000000))', "semantic", "faults[0].Crash.at.At", "99000000"),
    ("crash-checkpoint-huge", 'Crash(node: "tm-0", at: OnCheckpointTrigger(1000000000))', "semantic", "faults[0].Crash.at.OnCheckpointTrigger", "1000000000"),
    ("crash-checkpoint-zero", 'Crash(node: "jm", at: AfterPreCommit(0))', "semantic", "faults[0].Crash.at.AfterPreCommit", None),
    ("storage-checkpoint-zero", "CheckpointStorageFailure(checkpoint: 0)", "semantic", "faults[0].CheckpointStorageFailure.checkpoint", None),
    ("storage-checkpoint-u64", f"CheckpointStorageFailure(checkpoint: {U64})", "semantic", "faults[0].CheckpointStorageFailure.checkpoint", U64),
    ("partition-backwards", 'Partition(between: ("tm-0", "tm-1"), from_ms: 500, until_ms: 100)', "semantic", "faults[0]", None),
    ("partition-self", 'Partition(between: ("tm-0", "tm-0"), from_ms: 100, until_ms: 500)', "semantic", "faults[0]", None),
    ("partition-huge", f'Partition(between: ("tm-0", "tm-1"), from_ms: 100, until_ms: {U64})', "limit", "faults[0].Partition.until_ms", U64),
    ("slow-factor-zero", 'SlowNode(node: "tm-0", from_ms: 100, until_ms: 500, factor: 0)', "semantic", "faults[0]", None),
    ("slow-factor-huge", f'SlowNode(node: "tm-0", from_ms: 100, until_ms: 500, factor: {U64})', "limit", "faults[0].SlowNode.factor", U64),
    ("slow-factor-max", 'SlowNode(node: "tm-0", from_ms: 100, until_ms: 500, factor: 1000000)', "ok", "-", None),
    ("loss-ppm-huge", 'MessageLoss(from_ms: 100, until_ms: 500, loss_ppm: 4000000000, retransmit_ms: 5)', "limit", "faults[0].MessageLoss.loss_ppm", "4000000000"),
    ("spike-huge", f'LatencySpike(from_ms: 100, until_ms: 500, extra_ms: {U64})', "limit", "faults[0].LatencySpike.extra_ms", U64),
    ("aligning-unknown", 'Crash(node: "tm-0", at: WhileAligning(checkpoint: 1, subtask: "zz#0"))', "semantic", "faults[0]", None),
]
for name, new, cls, field, marker in fault_cases:
    case(name, (FAULT, new), cls, field, marker if marker else new)
case("swarm-huge", ("    faults:", f"    swarm: (crashes: 1000000000, from_ms: 100, until_ms: 500),\n    faults:"), "limit", "swarm.crashes", "1000000000")
case("swarm-backwards", ("    faults:", "    swarm: (crashes: 1, from_ms: 500, until_ms: 100),\n    faults:"), "semantic", "swarm.until_ms", "until_ms: 100")
case("swarm-after-run", ("    faults:", "    swarm: (crashes: 1, from_ms: 90000000, until_ms: 90000001),\n    faults:"), "semantic", "swarm.from_ms", "90000000")
case("swarm-partitions-huge", ("    faults:", "    swarm: (partitions: 4294967295, from_ms: 100, until_ms: 500),\n    faults:"), "limit", "swarm.partitions", "4294967295")

# Explicit events.
ev = lambda name, old, new, cls, field="-", marker=None: case(name, (old, new), cls, field, marker, base=EVENTS)
ev("events-partition-max", "ts: 5, arrives: 10)", "ts: 5, arrives: 10, partition: 4294967295)", "limit", "source.Events[0].partition", "4294967295")
ev("events-partition-big", "ts: 5, arrives: 10)", "ts: 5, arrives: 10, partition: 10000)", "semantic", "source.Events[0].partition", "10000")
ev("events-epoch-ms", "ts: 5, arrives: 10)", "ts: 1700000000000, arrives: 10)", "ok")
ev("events-epoch-all", 'watermarks: Explicit([(at: 11, watermark: 6), (at: 20, watermark: 100)])', 'watermarks: Explicit([(at: 11, watermark: 1700000000000)])', "ok")
ev("events-ts-huge", "ts: 5, arrives: 10)", "ts: 9007199254740993, arrives: 10)", "semantic", "source.Events[0].ts", "9007199254740993")
ev("events-ts-min", "ts: 5, arrives: 10)", f"ts: {I64MIN}, arrives: 10)", "semantic", "source.Events[0].ts", I64MIN)
ev("events-arrives-negative", "ts: 5, arrives: 10)", "ts: 5, arrives: -1)", "semantic", "source.Events[0].arrives", "-1)")
ev("events-arrives-huge", "ts: 5, arrives: 10)", f"ts: 5, arrives: {I64MAX})", "semantic", "source.Events[0].arrives", I64MAX)
ev("events-arrives-u64", "ts: 5, arrives: 10)", f"ts: 5, arrives: {U64})", "type", "source.Events[0].arrives", U64)
ev("events-empty", """Events([
        (key: "a", value: 1, ts: 5, arrives: 10),
        (key: "b", value: 2, ts: 7, arrives: 12),
        (key: "a", value: 3, ts: 9, arrives: 14),
    ])""", "Events([])", "semantic", "source.Events", "Events([])")
ev("events-key-newline", 'key: "b"', 'key: "b\\nSEED=3"', "semantic", "source.Events[1].key", "SEED=3")
ev("events-clock", "ts: 5, arrives: 10)", 'ts: "12:00:00", arrives: "12:00:01")', "ok")
ev("events-clock-bad", "ts: 5, arrives: 10)", 'ts: "25:00:00", arrives: 10)', "type", "source.Events[0].ts", '"25:00:00"')
ev("watermark-backwards", "(at: 20, watermark: 100)", "(at: 20, watermark: 1)", "semantic", "watermarks.Explicit[1].watermark", "watermark: 1)")
ev("watermark-at-backwards", "(at: 20, watermark: 100)", "(at: 2, watermark: 100)", "semantic", "watermarks.Explicit[1].at", "at: 2,")
ev("watermark-huge", "(at: 20, watermark: 100)", f"(at: 20, watermark: {I64MAX})", "limit", "watermarks.Explicit[1].watermark", I64MAX)
ev("watermark-at-huge", "(at: 20, watermark: 100)", f"(at: {I64MAX}, watermark: 100)", "limit", "watermarks.Explicit[1].at", I64MAX)
ev("events-fault-after-input", "    pipeline:", '    faults: [Crash(node: "tm-0", at: At(5000))],\n    pipeline:', "ok")
ev("events-fault-never", "    pipeline:", '    max_run_ms: 1000,\n    faults: [Crash(node: "tm-0", at: At(5000))],\n    pipeline:', "semantic", "faults[0].Crash.at.At", "5000")

# Syntax: truncations, deletions, garbage.
rng = random.Random(15)
for i, cut in enumerate(sorted(rng.sample(range(1, len(BASE) - 2), 40))):
    text = BASE[:cut]
    case(f"truncated-{i:02}", text, "syntax", "-", None)
for i in range(30):
    pos = rng.randrange(len(BASE))
    ch = BASE[pos]
    if ch in " \n":
        continue
    text = BASE[:pos] + BASE[pos + 1:]
    cases.append((f"deleted-{i:02}", text, "any", "-", None))
for i in range(20):
    pos = rng.randrange(len(BASE))
    text = BASE[:pos] + rng.choice(["(", ")", "[", "]", ",", ":", '"', "{", "}", "#", "-", "0x", "/*"]) + BASE[pos:]
    cases.append((f"inserted-{i:02}", text, "any", "-", None))
case("empty", "", "syntax")
case("only-parens", "()", "syntax")
case("only-comment", "// nothing\n", "syntax")
case("wrong-struct", "Cluster(task_managers: 1)", "syntax")
case("unknown-field", ("    duration_ms: 2_000,", "    duration_ms: 2_000,\n    colour: 3,"), "syntax", "colour", "colour")
case("unknown-variant", ("aggregate: Sum", "aggregate: Median"), "syntax", "pipeline[4].Window.aggregate", "Median")
case("deep-lists", ("    faults:", "    description: " + "[" * 5000 + "]" * 5000 + ",\n    faults:"), "syntax", "-", "[[[")
case("deep-parens", "(" * 100000, "syntax", "-", None)
case("trailing-garbage", BASE + "Scenario()", "syntax", "(end of file)", "Scenario()")
case("huge-string", ("name: \"hostile base\"", 'name: "' + "x" * 200000 + '"'), "ok")
case("unterminated-string", ('name: "hostile base",', 'name: "hostile base,'), "syntax", "-", "")
case("unterminated-comment", ("    pipeline:", "    /* no end\n    pipeline:"), "syntax")
case("raw-string-name", ('name: "hostile base"', 'name: r#"raw "name""#'), "ok")
case("bom", "\ufeff" + BASE, "any")
case("crlf", BASE.replace("\n", "\r\n"), "ok")
case("tabs", BASE.replace("    ", "\t"), "ok")
case("float-where-int", ("keys: 5", "keys: 5.5"), "type", "source.Generator.keys", "5.5")
case("string-where-int", ("keys: 5", 'keys: "five"'), "type", "source.Generator.keys", '"five"')
case("hex-huge", ("keys: 5", "keys: 0xFFFFFFFFFFFFFFFFFF"), "type", "-", None)

# Encoding: invalid UTF-8 at known places.
for i, (where, byte) in enumerate([(0, b"\xff"), (20, b"\xc3"), (200, b"\x80"), (len(BASE.encode()) - 3, b"\xfe\xfe")]):
    data = BASE.encode()
    data = data[:where] + byte + data[where:]
    line = data[:where].count(b"\n") + 1
    cases.append((f"utf8-{i}", data, "encoding", "(file)", line))


def main():
    os.makedirs(OUT, exist_ok=True)
    for f in os.listdir(OUT):
        os.remove(os.path.join(OUT, f))
    rows = []
    names = set()
    for name, text, cls, field, marker in cases:
        assert name not in names, name
        names.add(name)
        data = text if isinstance(text, bytes) else text.encode()
        if isinstance(marker, int):
            line = marker
        elif marker:
            offset = data.find(marker.encode())
            assert offset >= 0, (name, marker)
            line = data[:offset].count(b"\n") + 1
        else:
            line = 0
        with open(os.path.join(OUT, name + ".ron"), "wb") as f:
            f.write(data)
        rows.append(f"generated/{name}.ron\t{cls}\t{field}\t{line}")
    with open(os.path.join(ROOT, "generated.tsv"), "w") as f:
        f.write("# file\tclass\tfield\tline (written by generate.py)\n")
        f.write("\n".join(rows) + "\n")
    print(f"{len(rows)} files")


main()
