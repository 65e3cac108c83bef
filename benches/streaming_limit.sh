#!/usr/bin/env bash
# Larger than memory: recon reconciles inputs bigger than the memory it is allowed.
#
#   benches/streaming_limit.sh [N] [LIMIT_MB]      (defaults: 10000000 rows, 1024 MB)
#
# Puts recon in a memory cgroup limited to LIMIT_MB (cgroup v2 when /sys/fs/cgroup has a memory
# controller, else cgroup v1 under /sys/fs/cgroup/memory; needs root), with `recon gen` data of N
# rows whose consumption and incentive files together are larger than the limit, and runs:
#   1. recon --in-memory under the limit: expected to be killed (out of memory);
#   2. recon under the limit (it streams: the inputs pass 128 MiB): must finish, and write the
#      same bytes as a run without a limit (made first, in memory, if BENCH_DIR/gN/ has none);
#   3. recon explain under the limit of the first PERIOD_SHIFT finding of that run (and with
#      BILLS=1 of its first BILL_AMOUNT_MISMATCH): must print what explain prints without a limit
#      loading every row (RECON_AUTO_STREAMING_BYTES moved above the inputs; about 10 GB at 10 M
#      rows, 21 GB for the bill finding).
# Wall time and peak RSS come from /usr/bin/time -v; the cgroup's own peak (which also counts the
# page cache of the files the run reads and writes) from the controller. Output: a table on stdout.
#
# Environment: BENCH_DIR=/tmp/recon-bench  RECON=$CARGO_TARGET_DIR/release/recon  SEED=1
#   FORMATS=csv,json   the outputs (e.g. csv,json,xlsx,html: report.xlsx and report.html too)
#   BILLS=0            1: check the generated partner bill too (--bills); its in-memory reference
#                      run needs about 21 GB at 10 M rows
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
N=${1:-10000000}
LIMIT_MB=${2:-1024}
BENCH_DIR=${BENCH_DIR:-/tmp/recon-bench}
SEED=${SEED:-1}
TARGET=${CARGO_TARGET_DIR:-$HOME/.cache/recon-target}
RECON=${RECON:-$TARGET/release/recon}
log() { echo "[limit] $*" >&2; }

[ "$(id -u)" -eq 0 ] || { log "needs root to make a cgroup"; exit 2; }
[ -x "$RECON" ] || (cd "$root" && CARGO_TARGET_DIR=$TARGET cargo build --release)
mkdir -p "$BENCH_DIR"
R=$BENCH_DIR/recon-limit
cp "$RECON" "$R"

d=$BENCH_DIR/g$N
stamp="rows=$N seed=$SEED gen.rs=$(sha256sum "$root/src/gen.rs" | cut -c1-16)"
if [ ! -f "$d/.stamp" ] || [ "$(cat "$d/.stamp")" != "$stamp" ]; then
    log "generating $N rows into $d"
    rm -rf "$d"
    "$R" gen --rows "$N" --out "$d" --seed "$SEED" > /dev/null
    echo "$stamp" > "$d/.stamp"
fi
input_bytes=$(($(stat -c %s "$d/consumption.csv") + $(stat -c %s "$d/incentives.csv")))
limit_bytes=$((LIMIT_MB * 1024 * 1024))
[ "$input_bytes" -gt "$limit_bytes" ] || { log "the inputs ($input_bytes bytes) are not larger than the limit; use more rows"; exit 2; }

# --- the cgroup ------------------------------------------------------------------------------
if [ -f /sys/fs/cgroup/cgroup.controllers ] && grep -qw memory /sys/fs/cgroup/cgroup.controllers; then
    cg=/sys/fs/cgroup/recon-limit-$$
    mkdir "$cg"
    echo "$limit_bytes" > "$cg/memory.max"
    echo 0 > "$cg/memory.swap.max" 2>/dev/null || true
    peak_file=$cg/memory.peak
    kind="cgroup v2 memory.max"
elif [ -d /sys/fs/cgroup/memory ]; then
    cg=/sys/fs/cgroup/memory/recon-limit-$$
    mkdir "$cg"
    echo "$limit_bytes" > "$cg/memory.limit_in_bytes"
    peak_file=$cg/memory.max_usage_in_bytes
    kind="cgroup v1 memory.limit_in_bytes"
else
    log "no memory cgroup controller on this machine"
    exit 2
fi
cleanup() { rmdir "$cg" 2>/dev/null || true; }
trap cleanup EXIT

FORMATS=${FORMATS:-csv,json}
BILLS=${BILLS:-0}
args=(run --rules "$d/rules.toml" --consumption "$d/consumption.csv" --incentives "$d/incentives.csv"
    --customers "$d/customers.csv" --format "$FORMATS" --exit-zero)
if [ "$BILLS" = 1 ]; then
    args+=(--bills "$d"/customerBill_*.csv)
fi

# limited NAME ARGS...: runs recon ARGS inside the cgroup under /usr/bin/time -v
limited() {
    local name=$1
    shift
    [ -f "$peak_file" ] && { echo 0 > "$peak_file" 2>/dev/null || true; }
    set +e
    /usr/bin/time -v -o "$d/$name.time" bash -c 'echo $$ > "$1/cgroup.procs"; shift; exec "$@"' _ "$cg" "$R" "$@" \
        > "$d/$name.stdout" 2> "$d/$name.stderr"
    RC=$?
    set -e
    WALL=$(awk -F': ' '/Elapsed \(wall clock\)/ {n = split($2, p, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + p[i]; printf "%.1f", s}' "$d/$name.time")
    RSS=$(awk -F': ' '/Maximum resident set size/ {printf "%.2f", $2 / 1e6}' "$d/$name.time")
    CGPEAK=$(awk '{printf "%.2f", $1 / 1e9}' "$peak_file" 2>/dev/null || echo "?")
    SIG=$(grep -o 'terminated by signal [0-9]*' "$d/$name.time" || true)
}

# A reference run without a limit (the e2e harness's, when it is there and the options match).
ref=$d/recon-mem-out
if [ "$FORMATS" != csv,json ] || [ "$BILLS" = 1 ]; then
    ref=$d/ref-${FORMATS//,/-}$(if [ "$BILLS" = 1 ]; then echo -bills; fi)
fi
if [ ! -f "$ref/findings.csv" ]; then
    log "reference run (in memory, no limit)"
    "$R" "${args[@]}" --out "$ref" --in-memory > /dev/null
fi

log "recon --in-memory under $LIMIT_MB MB"
rm -rf "$d/limit-mem-out"
limited limit-mem "${args[@]}" --out "$d/limit-mem-out" --in-memory
mem=("$WALL" "$RSS" "$CGPEAK" "exit $RC${SIG:+ ($SIG)}")

log "recon (streaming) under $LIMIT_MB MB"
rm -rf "$d/limit-out"
limited limit "${args[@]}" --out "$d/limit-out"
same=yes
for f in $(ls "$ref"); do
    cmp -s "$ref/$f" "$d/limit-out/$f" || same="no ($f differs)"
done
str=("$WALL" "$RSS" "$CGPEAK" "exit $RC${SIG:+ ($SIG)}")

# explain under the limit, against explain loading every row without one
# (only after a streamed run that finished: its findings.csv names the findings)
explained=()
for cat in $([ "${str[3]}" = "exit 0" ] && echo PERIOD_SHIFT) $([ "${str[3]}" = "exit 0" ] && [ "$BILLS" = 1 ] && echo BILL_AMOUNT_MISMATCH); do
    id=$(grep -m1 ",$cat," "$d/limit-out/findings.csv" | cut -d, -f1)
    log "recon explain $id ($cat) under $LIMIT_MB MB"
    limited "explain-$cat" explain "$id" --report "$d/limit-out"
    row=("$WALL" "$RSS" "$CGPEAK" "exit $RC${SIG:+ ($SIG)}")
    [ "$RC" -eq 0 ] || { explained+=("| recon explain $id ($cat, streams) | ${row[0]} s | ${row[1]} GB | ${row[2]} GB | ${row[3]} | - |"); continue; }
    log "recon explain $id loading every row, no limit"
    RECON_AUTO_STREAMING_BYTES=$((1 << 60)) /usr/bin/time -f "%e %M" -o "$d/explain-$cat-ref.time" "$R" explain "$id" --report "$d/limit-out" > "$d/explain-$cat-ref.stdout" 2> "$d/explain-$cat-ref.stderr"
    ref_t=$(awk '{printf "%.1f s / %.2f GB", $1, $2 / 1e6}' "$d/explain-$cat-ref.time")
    same_text=$(cmp -s "$d/explain-$cat.stdout" "$d/explain-$cat-ref.stdout" && echo "yes (loading every row: $ref_t)" || echo "NO")
    explained+=("| recon explain $id ($cat, streams) | ${row[0]} s | ${row[1]} GB | ${row[2]} GB | ${row[3]} | $same_text |")
done

echo "Machine: $(lscpu | awk -F': *' '/^Model name/ {print $2; exit}'), $(nproc) cores, $(awk '/MemTotal/ {printf "%.1f", $2 / 1048576}' /proc/meminfo) GiB RAM; $(date -u '+%Y-%m-%d %H:%M UTC'); recon $(git -C "$root" rev-parse --short HEAD)."
echo "Limit: $kind = $LIMIT_MB MiB; inputs: $N consumption rows, consumption.csv + incentives.csv = $((input_bytes / 1000000)) MB$([ "$BILLS" = 1 ] && echo ", with the partner bill"); --format $FORMATS."
echo
echo "| run under the limit | wall | peak RSS | cgroup peak (incl. page cache) | result | outputs = unlimited run |"
echo "|---|---:|---:|---:|---|---|"
echo "| recon --in-memory | ${mem[0]} s | ${mem[1]} GB | ${mem[2]} GB | ${mem[3]} | - |"
echo "| recon (streams) | ${str[0]} s | ${str[1]} GB | ${str[2]} GB | ${str[3]} | $same |"
for line in "${explained[@]}"; do
    echo "$line"
done
[ "${str[3]}" = "exit 0" ] && [ "$same" = yes ] && ! printf '%s\n' "${explained[@]}" | grep -q -e 'NO$' -e 'exit [1-9]' -e signal
