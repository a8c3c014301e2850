#!/usr/bin/env python3
"""streamlab's AvgMilli against Flink SQL's AVG(value * 1000) over BIGINT, on random groups.

Flink's DataStream API has no average; its SQL AVG of a BIGINT is a BIGINT. This runs random
groups of small values (negative means included, where truncation and flooring differ) through
Flink SQL (SqlAvg.java) and, one key per group in one tumbling window, through streamlab's
AvgMilli, and compares. See README.md in this folder. Exit status 0 when all groups agree.
"""

import argparse
import json
import os
import random
import subprocess
import sys

from compare import HERE, default_flink_lib, default_streamlab


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--groups", type=int, default=300)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--work", default="/tmp/realflink-avg")
    ap.add_argument("--flink-lib", default=default_flink_lib())
    ap.add_argument("--streamlab", default=default_streamlab())
    a = ap.parse_args()
    os.makedirs(a.work, exist_ok=True)
    rng = random.Random(a.seed)
    groups = {g: [rng.randint(-20, 20) for _ in range(rng.randint(1, 7))] for g in range(a.groups)}

    values_file = os.path.join(a.work, "values.txt")
    with open(values_file, "w") as f:
        for g, vs in groups.items():
            f.writelines(f"{g} {v}\n" for v in vs)
    classes = os.path.join(a.work, "classes")
    os.makedirs(classes, exist_ok=True)
    cp = os.path.join(a.flink_lib, "*")
    subprocess.run(["javac", "-d", classes, "-cp", cp, os.path.join(HERE, "SqlAvg.java")], check=True)
    with open(os.path.join(a.work, "flink.log"), "w") as log:
        out = subprocess.run(["java", "-cp", f"{cp}:{classes}", "SqlAvg", values_file], check=True,
                             stdout=subprocess.PIPE, stderr=log, text=True).stdout
    flink = {int(f[1]): int(f[2]) for f in (line.split() for line in out.splitlines()) if f[0] == "avg"}

    events = "\n".join(
        f'        (key: "g{g}", value: {v}, ts: 0, arrives: 0),' for g, vs in groups.items() for v in vs
    )
    ron = os.path.join(a.work, "avg.ron")
    with open(ron, "w") as f:
        f.write(f"""Scenario(
    name: "AvgMilli against Flink SQL AVG",
    source: Events([
{events}
    ]),
    pipeline: [
        Source(name: "in"),
        KeyBy(Key),
        Window(name: "w", kind: Tumbling(size_ms: 1_000), aggregate: AvgMilli),
        Sink(name: "out"),
    ],
)
""")
    p = subprocess.run([a.streamlab, "run", ron, "--format", "json"], check=True, stdout=subprocess.PIPE,
                       stderr=subprocess.DEVNULL, text=True)
    streamlab = {int(r["key"][1:]): r["value"] for r in map(json.loads, p.stdout.splitlines())}

    differ = [g for g in groups if flink.get(g) != streamlab.get(g)]
    floor_differs = sum(1 for g, vs in groups.items() if flink.get(g) != (sum(vs) * 1000) // len(vs))
    for g in differ:
        print(f"group {g} values {groups[g]}: Flink SQL {flink.get(g)}, streamlab {streamlab.get(g)}")
    print(f"{len(groups)} groups, {len(differ)} differ; Flink SQL's AVG differs from the floored mean in "
          f"{floor_differs} groups (it truncates towards zero)")
    sys.exit(1 if differ else 0)


if __name__ == "__main__":
    main()
