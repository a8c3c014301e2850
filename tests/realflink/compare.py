#!/usr/bin/env python3
"""Run random window workloads through real Apache Flink and through streamlab, and compare.

See README.md in this folder for the setup. Every case is drawn from `--seed` and its index, so
`--seed S --only I` reproduces case `S-I` alone. Exit status 0 when every case matched, 1 when
one differed.
"""

import argparse
import collections
import glob
import itertools
import json
import os
import random
import subprocess
import sys
import time

import gen

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))


def default_flink_lib():
    found = glob.glob("/work/realflink-venv/lib/python3*/site-packages/pyflink/lib")
    return os.environ.get("FLINK_LIB") or (found[0] if found else None)


def default_streamlab():
    for profile in ["release", "debug"]:
        path = os.path.join(REPO, "target", profile, "streamlab")
        if os.path.exists(path):
            return path
    return None


def run_flink(cases, work, flink_lib, batch):
    """All cases in one JVM; returns {case id: [output line fields]}."""
    classes = os.path.join(work, "classes")
    os.makedirs(classes, exist_ok=True)
    cp = os.path.join(flink_lib, "*")
    subprocess.run(["javac", "-d", classes, "-cp", cp, os.path.join(HERE, "RealFlinkWindows.java")], check=True)
    cases_file = os.path.join(work, "cases.txt")
    with open(cases_file, "w") as f:
        for c in cases:
            f.write(gen.to_flink(c))
    with open(os.path.join(work, "flink.log"), "w") as log:
        out = subprocess.run(
            ["java", "-cp", f"{cp}:{classes}", "RealFlinkWindows", cases_file, str(batch)],
            check=True, stdout=subprocess.PIPE, stderr=log, text=True,
        ).stdout
    results = collections.defaultdict(list)
    results["merges"] = (0, 0)
    done = set()
    for line in out.splitlines():
        f = line.split()
        if f[0] == "done":
            done.add(f[1])
        elif f[0] == "merges":
            results["merges"] = (int(f[1]), int(f[2]))
        elif f[0] == "row":
            results[f[1]].append(("row", f[2], int(f[3]), int(f[4]), int(f[5]), f[6], int(f[7])))
        elif f[0].startswith("late"):
            results[f[1]].append((f[0], f[2], int(f[3]), int(f[4])))
    missing = [c["id"] for c in cases if c["id"] not in done]
    if missing:
        sys.exit(f"Flink did not finish cases {missing}; see {work}/flink.log")
    return results


def run_streamlab(c, work, streamlab):
    path = os.path.join(work, f"case-{c['id']}.ron")
    with open(path, "w") as f:
        f.write(gen.to_ron(c))
    p = subprocess.run([streamlab, "run", path, "--format", "json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if p.returncode != 0:
        return path, None, p.stderr
    rows = []
    for line in p.stdout.splitlines():
        r = json.loads(line)
        if r["sink"] == "out":
            rows.append(("row", r["key"], r["window_start_ms"], r["window_end_ms"], r["value"], r["firing"],
                         r["timestamp_ms"]))
        elif r["sink"].startswith("late"):
            rows.append((r["sink"], r["key"], r["timestamp_ms"], r["value"]))
        else:
            raise ValueError(f"unexpected sink in {line}")
    return path, rows, None


def per_key(rows):
    """Each key's window results, and its late records, in emission order: one key's rows all come
    from one subtask, in order. (Results and late records reach the sink by different ways, so
    their order relative to each other is not compared.)"""
    seqs = collections.defaultdict(list)
    for r in rows:
        seqs[(r[1], r[0])].append(r)
    return seqs


def compare(flink_rows, streamlab_rows):
    """Differences as text lines; empty when the runs agree."""
    diffs = []
    fm, sm = collections.Counter(flink_rows), collections.Counter(streamlab_rows)
    for r in sorted((fm - sm).elements()):
        diffs.append(f"  only in Flink:     {fmt(r)}")
    for r in sorted((sm - fm).elements()):
        diffs.append(f"  only in streamlab: {fmt(r)}")
    if not diffs:
        fk, sk = per_key(flink_rows), per_key(streamlab_rows)
        for key in sorted(fk):
            if fk[key] != sk[key]:
                what = "results" if key[1] == "row" else f"late records of {key[1]}"
                diffs.append(f"  key {key[0]}: same {what}, other order")
                diffs.append("    Flink:     " + "; ".join(map(fmt, fk[key])))
                diffs.append("    streamlab: " + "; ".join(map(fmt, sk[key])))
    return diffs


def fmt(r):
    if r[0] == "row":
        return f"{r[1]} [{r[2]}, {r[3]}) {r[4]} {r[5]} (timestamp {r[6]})"
    return f"{r[0]}: late record {r[1]} ts {r[2]} value {r[3]}"


def flink_line(r):
    """A row as the recorded `// flink:` line: the Java job's line without the case id."""
    return " ".join(str(f) for f in r)


def record(c, flink_rows, a):
    os.makedirs(a.record, exist_ok=True)
    lines = [
        "// Recorded from Apache Flink 2.3.0: RealFlinkWindows.java's output for this case (rows as",
        "// `row KEY START END VALUE FIRING TIMESTAMP`, late records as `lateN KEY TS VALUE`), in its order.",
        f"// Made by: {reproduce(a, c['id'].split('-')[-1])} --record {a.record}",
    ] + [f"// flink: {flink_line(r)}" for r in flink_rows]
    with open(os.path.join(a.record, f"{c['id']}.ron"), "w") as f:
        f.write("\n".join(lines) + "\n" + gen.to_ron(c))


def variants(c):
    """Smaller versions of a case's events: without one chunk of them (halves, quarters, ...,
    single events), smallest first. A case with one source subtask per partition keeps an event
    on every partition (Flink's collection source cannot be empty)."""
    events = c["events"]
    n = len(events)
    out = []
    size = n // 2
    while size >= 1:
        for start in range(0, n, size):
            rest = events[:start] + events[start + size:]
            separate = c["partitions"] > 1 and not c["shared_source"]
            if rest and (not separate or {e[3] for e in rest} == set(range(c["partitions"]))):
                out.append(rest)
        size //= 2
    return sorted(out, key=len)


def shrink(c, a):
    """A smaller case that still differs: greedily, the smallest variant (see `variants`) that
    still differs, until none does. Each round runs its variants through one JVM."""
    work = os.path.join(a.work, f"shrink-{c['id']}")
    os.makedirs(work, exist_ok=True)
    for rounds in itertools.count():
        candidates = []
        for j, events in enumerate(variants(c)):
            v = dict(c, id=f"{c['id']}.{rounds}.{j}", events=events)
            if v["shared_source"]:
                v["partitions"] = 1 + max(e[3] for e in events)
            candidates.append(v)
        if not candidates:
            return c, work
        flink = run_flink(candidates, work, a.flink_lib, a.batch)
        smaller = None
        for v in candidates:
            _, rows, _ = run_streamlab(v, work, a.streamlab)
            if rows is not None and compare(flink.get(v["id"], []), rows):
                smaller = v
                break
        if smaller is None:
            return c, work
        c = smaller


def report_shrunk(c, a):
    small, work = shrink(c, a)
    ron = os.path.join(work, "shrunk.ron")
    with open(ron, "w") as f:
        f.write(gen.to_ron(small))
    flink_in = os.path.join(work, "shrunk-flink.txt")
    with open(flink_in, "w") as f:
        f.write(gen.to_flink(small))
    flink = run_flink([small], work, a.flink_lib, a.batch)
    _, rows, _ = run_streamlab(small, work, a.streamlab)
    print(f"  shrunk to {len(small['events'])} of {len(c['events'])} events: streamlab {ron}, Flink's input {flink_in}")
    print("\n".join("  " + d for d in compare(flink.get(small["id"], []), rows or [])))


def reproduce(a, index):
    """The command that runs one case again, with the options that shaped it."""
    shape = [f"--seed {a.seed}", f"--only {index}", f"--kinds {a.kinds}", f"--max-events {a.max_events}",
             f"--max-keys {a.max_keys}", f"--shift-ms {a.shift_ms}", f"--partitions {a.partitions}"]
    flags = (["--negative"] if a.negative else []) + (["--chain"] if a.chain else [])
    flags += ["--shared-source"] if a.shared_source else []
    flags += ["--no-watermarks"] if a.no_watermarks else []
    flags += ["--idle"] if a.idle else []
    return " ".join(["python3", sys.argv[0]] + shape + flags)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cases", type=int, default=100, help="number of random cases (default 100)")
    ap.add_argument("--seed", type=int, default=1, help="seed of the cases (default 1)")
    ap.add_argument("--only", help="comma-separated case indexes of this seed to run alone")
    ap.add_argument("--kinds", default=",".join(gen.KINDS), help="window kinds to draw from (default all)")
    ap.add_argument("--negative", action="store_true", help="let event times be negative")
    ap.add_argument("--max-events", type=int, default=40, help="most events per case (default 40)")
    ap.add_argument("--max-keys", type=int, default=5, help="most keys per case (default 5)")
    ap.add_argument("--shift-ms", type=int, default=0, help="add this to every event time (default 0)")
    ap.add_argument("--chain", action="store_true",
                    help="a second window over the first one's results (the first then has parallelism 1)")
    ap.add_argument("--shared-source", action="store_true",
                    help="one source subtask reads all --partitions, a watermark per partition")
    ap.add_argument("--no-watermarks", action="store_true",
                    help="no watermarks (streamlab's `watermarks: None`): every window fires at the end")
    ap.add_argument("--idle", action="store_true",
                    help="with --shared-source: an idle timeout, and arrival times that leave partitions "
                         "silent (Flink's WatermarksWithIdleness on the case's clock; see gen.arrivals)")
    ap.add_argument("--partitions", type=int, default=1,
                    help="source partitions, one source subtask each (default 1); with more than 1, "
                         "no record is late on its partition (see gen.in_bound) unless --shared-source")
    ap.add_argument("--batch", type=int, default=20, help="cases per Flink job (default 20)")
    ap.add_argument("--work", default="/tmp/realflink", help="where the cases and logs go")
    ap.add_argument("--shrink", type=int, default=0, metavar="N",
                    help="shrink the first N differing cases to fewer events that still differ (default 0)")
    ap.add_argument("--record", metavar="DIR",
                    help="also write each case as DIR/<id>.ron with Flink's output in `// flink:` comments "
                         "(what tests/real_flink_recorded.rs checks)")
    ap.add_argument("--flink-lib", default=default_flink_lib(), help="pyflink/lib of apache-flink-libraries")
    ap.add_argument("--streamlab", default=default_streamlab(), help="the streamlab binary")
    a = ap.parse_args()
    if not a.flink_lib or not os.path.isdir(a.flink_lib):
        sys.exit("no Flink jars: pass --flink-lib .../site-packages/pyflink/lib (see README.md)")
    if a.idle and not a.shared_source:
        sys.exit("--idle needs --shared-source (with a source subtask per partition, idleness makes the "
                 "results depend on how the partitions' records interleave at the window operator)")
    if not a.streamlab:
        sys.exit("no streamlab binary: run `cargo build --release` first, or pass --streamlab")
    os.makedirs(a.work, exist_ok=True)
    indexes = [int(i) for i in a.only.split(",")] if a.only else range(a.cases)
    kinds = a.kinds.split(",")
    cases = [
        gen.gen_case(random.Random(f"{a.seed}-{i}"), f"{a.seed}-{i}", kinds, a.negative, a.max_events, a.max_keys,
                     a.shift_ms, a.partitions, a.chain, a.shared_source, not a.no_watermarks, a.idle)
        for i in indexes
    ]
    t0 = time.time()
    flink = run_flink(cases, a.work, a.flink_lib, a.batch)
    t1 = time.time()
    mismatched = collections.Counter()
    totals = collections.Counter()
    row_count = 0
    kinds_seen = collections.Counter()
    for c in cases:
        kind = c["windows"][0]["kind"]
        totals[kind] += 1
        path, rows, err = run_streamlab(c, a.work, a.streamlab)
        if rows is None:
            mismatched[kind] += 1
            print(f"case {c['id']}: streamlab failed on {path}:\n{err}")
            continue
        row_count += len(rows)
        if a.record:
            record(c, flink.get(c["id"], []), a)
        kinds_seen.update(r[5] if r[0] == "row" else "late record" for r in rows)
        diffs = compare(flink.get(c["id"], []), rows)
        if diffs:
            mismatched[kind] += 1
            print(f"case {c['id']} ({gen.describe(c)}) differs:")
            print("\n".join(diffs))
            print(f"  reproduce: {reproduce(a, c['id'].split('-')[-1])}")
            print(f"  streamlab scenario: {path}; Flink's input: the case {c['id']} lines of {a.work}/cases.txt")
            if sum(mismatched.values()) <= a.shrink:
                report_shrunk(c, a)
    t2 = time.time()
    for kind in gen.KINDS:
        if totals[kind]:
            print(f"{kind:9} {totals[kind]:4} cases, {mismatched[kind]:3} differ (by the kind of the first window)")
    n_bad = sum(mismatched.values())
    merges, behind = flink["merges"]
    print(f"Flink merged sessions {merges} times, {behind} of them into a session that ends behind the watermark")
    print(f"{len(cases)} cases, {row_count} streamlab rows ({kinds_seen['on-time']} on-time firings, "
          f"{kinds_seen['late']} late firings, {kinds_seen['late record']} late records dropped), {n_bad} differ; "
          f"Flink {t1 - t0:.0f} s, streamlab {t2 - t1:.0f} s")
    sys.exit(1 if n_bad else 0)


if __name__ == "__main__":
    main()
