#!/usr/bin/env bash
# What following a previous report costs (issue 20): `recon run` on the same `recon gen` files,
# plain and with `--previous` (the report of the same run, made once first: ≈ 10 M findings at
# 10 M rows, 1.6 % of them actionable), alternating plain / previous for ROUNDS rounds so that the
# machine's drift falls on both alike. Each run writes csv,json into a fresh directory, after the
# last run's outputs are removed and written back (sync). Prints one line per run (wall s, peak
# RSS KB, user s, sys s) and the means, and the overhead of --previous in %.
#
#   benches/follow.sh [N]        (default 10000000 rows; the data is about 6 GB at 10 M)
#
# Environment (defaults): BENCH_DIR=/tmp/recon-follow  ROUNDS=5  RECON=$CARGO_TARGET_DIR/release/recon
#   EXTRA=""  more run options (e.g. --in-memory)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
N=${1:-10000000}
BENCH_DIR=${BENCH_DIR:-/tmp/recon-follow}
ROUNDS=${ROUNDS:-5}
RECON=${RECON:-${CARGO_TARGET_DIR:-$(dirname "$here")/target}/release/recon}
G=$BENCH_DIR/g$N
mkdir -p "$BENCH_DIR"
cp "$RECON" "$BENCH_DIR/recon"
[ -f "$G/incentives.csv" ] || "$BENCH_DIR/recon" gen --rows "$N" --out "$G" > /dev/null
A=(--rules "$G/rules.toml" --consumption "$G/consumption.csv" --incentives "$G/incentives.csv" --customers "$G/customers.csv" --format csv,json --exit-zero ${EXTRA:-})
rm -rf "$G/prev"
"$BENCH_DIR/recon" run "${A[@]}" --out "$G/prev" > /dev/null
echo "mode wall_s peak_kb user_s sys_s"
for round in $(seq 1 "$ROUNDS"); do
  for mode in plain previous; do
    extra=(); [ $mode = previous ] && extra=(--previous "$G/prev")
    rm -rf "$BENCH_DIR/out"; sync; sleep 2
    /usr/bin/time -f "%e %M %U %S" -o "$BENCH_DIR/time" "$BENCH_DIR/recon" run "${A[@]}" "${extra[@]}" --out "$BENCH_DIR/out" > /dev/null
    echo "$mode $(cat "$BENCH_DIR/time")"
  done
done | tee "$BENCH_DIR/runs.txt"
rm -rf "$BENCH_DIR/out"
awk '$1 != "mode" { n[$1]++; w[$1] += $2; m[$1] += $3 }
  END { for (k in n) printf "%s: mean %.2f s, mean peak %.0f MB over %d runs\n", k, w[k]/n[k], m[k]/n[k]/1024, n[k];
        printf "--previous adds %.1f %% wall time, %.1f %% peak memory\n", 100*(w["previous"]/n["previous"]/(w["plain"]/n["plain"])-1), 100*(m["previous"]/n["previous"]/(m["plain"]/n["plain"])-1) }' "$BENCH_DIR/runs.txt"
