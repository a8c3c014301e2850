#!/usr/bin/env bash
# The admission budget's border files in a release build: each `budget-under-*` file must run
# within 1 GiB and 30 s, each `budget-over-*` file is refused (exit 2). Not part of `cargo test`
# (a debug build is ten times slower); run by hand after changing the budget's constants:
#   tests/hostile/measure-budget.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
cargo build --release --bin streamlab
bin=target/release/streamlab
for f in tests/hostile/hand/budget-under-*.ron; do
    /usr/bin/time -f "$f: exit %x, %U+%S s CPU, %e s wall, %M KB max RSS" \
        prlimit --as=$((2 << 30)) -- "$bin" run "$f" >/dev/null
done
for f in tests/hostile/hand/budget-over-*.ron; do
    if "$bin" run "$f" >/dev/null 2>&1; then echo "$f: admitted, expected a refusal"; exit 1; fi
    echo "$f: refused"
done
