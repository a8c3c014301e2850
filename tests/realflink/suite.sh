#!/bin/sh
# The comparison the book reports (book/src/reference/real-flink.md): 3 100 random cases in
# fourteen runs, then the AvgMilli check; about 20 minutes on two cores. Stops at the first run that
# finds a difference (its output says which case differs and how to rerun it alone).
set -e
cd "$(dirname "$0")"
run() { echo "== compare.py $*"; python3 compare.py "$@"; }
run --cases 500 --seed 2
run --cases 300 --seed 3 --negative
run --cases 300 --seed 4 --max-events 200 --max-keys 20 --shift-ms 1700000000000
run --cases 200 --seed 11 --kinds session --max-keys 2 --max-events 150
run --cases 200 --seed 12 --kinds sliding --max-keys 3 --max-events 150
run --cases 200 --seed 6 --chain
run --cases 200 --seed 7 --partitions 3 --shared-source
run --cases 200 --seed 5 --partitions 3 --max-events 80
run --cases 100 --seed 14 --shift-ms 9007199254730000
run --cases 100 --seed 15 --negative --shift-ms -9007199254730000
run --cases 200 --seed 16 --no-watermarks
run --cases 200 --seed 17 --partitions 3 --shared-source --idle --max-events 60
run --cases 200 --seed 18 --partitions 4 --shared-source --idle --max-events 120 --max-keys 3
run --cases 200 --seed 19 --partitions 2 --shared-source --idle --chain --negative
echo "== avg_check.py"
python3 avg_check.py
