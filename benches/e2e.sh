#!/usr/bin/env bash
# End-to-end benchmark of `recon run` against two comparison points on the same `recon gen` files:
#   duckdb  benches/duckdb_recon.sql run by benches/duckdb_run.py: the core reconciliation in SQL
#           (product rates, counted base, lag and late window, grouping, full outer join, the main
#           categories, the waterfall, findings to CSV)
#   polars  benches/polars_scan.py: polars' typed scan of the columns recon needs, parsed to
#           decimals and timestamps and summed; nothing else. The floor of a CSV-fed run.
# recon runs as a user would run it (with these outputs and inputs it streams: the inputs pass
# 128 MiB), and once more with --in-memory, whose outputs must be the same bytes.
#
#   benches/e2e.sh [N ...]          (default: 1000000 10000000)
#
# For each N: generate (or reuse) the data, then run recon, DuckDB and the scan one after another,
# never in parallel, each under /usr/bin/time -v (wall time, peak RSS), with the input files warm
# in the page cache, after earlier runs' outputs are written back (sync) and after waiting for the
# machine to be idle. recon runs with
# `--customers` (the rebind grace needs it) and `--format csv,json`, without `--bills` (the SQL
# does not reconcile the partner bill), inside `ulimit -v` so that it aborts instead of taking the
# machine down. Before the timed runs, all three run on CHECK_ROWS rows and benches/compare.py
# checks that DuckDB's waterfall equals recon's exactly and the findings agree; after each timed N
# the same check runs on the timed outputs (waterfall and categories), so a wrong SQL cannot
# produce a flattering number.
#
# Environment (defaults):
#   BENCH_DIR=/tmp/recon-bench   data and outputs (gN/ per size, reused when N, seed and gen.rs match)
#   SEED=1  CHECK_ROWS=20000  RECON=$CARGO_TARGET_DIR/release/recon (copied into BENCH_DIR first)
#   RECON_VLIMIT_KB=22000000     recon's address-space limit
#   DUCKDB_MEMORY=20GB DUCKDB_THREADS=2   (DuckDB spills to gN/duck/duckdb_tmp)
#   VENV=$HOME/.cache/recon-bench-venv   DUCKDB_VERSION=2.0.0 POLARS_VERSION=2.1.0
#   IDLE_BUSY_PCT=15 IDLE_MAX_WAIT=1800  wait until the CPU is at most this busy (s at most)
#   TIMEOUT=3600                  per contender run
# Output: a table on stdout and in BENCH_DIR/results.md, one line per run and contender appended to
# BENCH_DIR/results.tsv, logs in BENCH_DIR/gN/ (recon.stderr holds recon's RECON_TRACE stage times).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
BENCH_DIR=${BENCH_DIR:-/tmp/recon-bench}
SEED=${SEED:-1}
CHECK_ROWS=${CHECK_ROWS:-20000}
TARGET=${CARGO_TARGET_DIR:-$HOME/.cache/recon-target}
RECON=${RECON:-$TARGET/release/recon}
RECON_VLIMIT_KB=${RECON_VLIMIT_KB:-22000000}
DUCKDB_MEMORY=${DUCKDB_MEMORY:-20GB}
DUCKDB_THREADS=${DUCKDB_THREADS:-2}
VENV=${VENV:-$HOME/.cache/recon-bench-venv}
DUCKDB_VERSION=${DUCKDB_VERSION:-2.0.0}
POLARS_VERSION=${POLARS_VERSION:-2.1.0}
IDLE_BUSY_PCT=${IDLE_BUSY_PCT:-15}
IDLE_MAX_WAIT=${IDLE_MAX_WAIT:-1800}
TIMEOUT=${TIMEOUT:-3600}
sizes=("$@")
[ ${#sizes[@]} -eq 0 ] && sizes=(1000000 10000000)

log() { echo "[e2e] $*" >&2; }

# --- Python dependencies, in a venv kept between runs ---------------------------------------
if [ ! -x "$VENV/bin/python" ]; then
    log "creating $VENV"
    python3 -m venv "$VENV"
fi
PY=$VENV/bin/python
if ! "$PY" -c "import duckdb, polars, sys; sys.exit(duckdb.__version__ != '$DUCKDB_VERSION' or polars.__version__ != '$POLARS_VERSION')" 2>/dev/null; then
    log "installing duckdb==$DUCKDB_VERSION polars==$POLARS_VERSION"
    "$VENV/bin/pip" install --quiet "duckdb==$DUCKDB_VERSION" "polars==$POLARS_VERSION"
fi

# --- The recon binary, frozen for the whole run (others may rebuild the target dir) -----------
mkdir -p "$BENCH_DIR"
if [ ! -x "$RECON" ]; then
    log "building recon"
    (cd "$root" && CARGO_TARGET_DIR=$TARGET cargo build --release)
fi
R=$BENCH_DIR/recon
cp "$RECON" "$R"

# --- Helpers -------------------------------------------------------------------------------------

# Percent of all CPU time busy over 3 s.
cpu_busy() {
    local a b
    read -r -a a < /proc/stat
    sleep 3
    read -r -a b < /proc/stat
    local t1=0 t2=0 i
    for i in 1 2 3 4 5 6 7 8; do t1=$((t1 + a[i])); t2=$((t2 + b[i])); done
    local idle=$(((b[4] + b[5]) - (a[4] + a[5]))) total=$((t2 - t1))
    echo $((100 * (total - idle) / (total > 0 ? total : 1)))
}

# Waits until the machine is idle (nothing else heavy running); prints the busy % it measured.
wait_idle() {
    local waited=0 busy
    while busy=$(cpu_busy); [ "$busy" -gt "$IDLE_BUSY_PCT" ]; do
        if [ "$waited" -ge "$IDLE_MAX_WAIT" ]; then
            log "WARNING: still ${busy}% busy after ${waited}s; measuring anyway (figures suspect)"
            break
        fi
        log "machine ${busy}% busy ($(cut -d' ' -f1-3 /proc/loadavg)); waiting"
        sleep 27
        waited=$((waited + 30))
    done
    echo "$busy"
}

# gen N: the data directory for N rows, generated unless an identical one exists.
gen() {
    local n=$1 d=$BENCH_DIR/g$1
    local stamp
    stamp="rows=$n seed=$SEED gen.rs=$(sha256sum "$root/src/gen.rs" | cut -c1-16)"
    if [ -f "$d/.stamp" ] && [ "$(cat "$d/.stamp")" = "$stamp" ]; then
        log "reusing $d"
    else
        log "generating $n rows into $d"
        rm -rf "$d"
        "$R" gen --rows "$n" --out "$d" --seed "$SEED" >/dev/null
        echo "$stamp" > "$d/.stamp"
    fi
}

warm() { cat "$1/consumption.csv" "$1/incentives.csv" "$1/customers.csv" > /dev/null; }

# settle: writes back what earlier runs left dirty in the page cache (GBs of findings) before the
# next contender starts; otherwise that writeback competes with it for the two cores, and a
# 5 GB write measured here took 2.0 s into a clean page cache and 12.9 s behind another's dirty
# pages.
settle() { sync; }

# recon_args DATA OUT: sets RA to the arguments of recon's run.
recon_args() {
    RA=(run --rules "$1/rules.toml" --consumption "$1/consumption.csv" --incentives "$1/incentives.csv"
        --customers "$1/customers.csv" --out "$2" --format csv,json --exit-zero)
}

# timed NAME LOGPREFIX CMD...: runs CMD under /usr/bin/time -v; sets WALL (s), RSS_KB, STATUS.
timed() {
    local prefix=$2
    shift 2
    set +e
    timeout "$TIMEOUT" /usr/bin/time -v -o "$prefix.time" "$@" > "$prefix.stdout" 2> "$prefix.stderr"
    local rc=$?
    set -e
    WALL=$(awk -F': ' '/Elapsed \(wall clock\)/ {n = split($2, p, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + p[i]; printf "%.2f", s}' "$prefix.time")
    RSS_KB=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$prefix.time")
    local sig
    sig=$(grep -o 'terminated by signal [0-9]*' "$prefix.time" || true)
    if [ "$rc" -eq 0 ]; then
        STATUS=ok
    elif [ "$rc" -eq 124 ]; then
        STATUS="timeout after ${TIMEOUT}s"
    else
        STATUS="exit $rc${sig:+ ($sig)}"
    fi
}

gb() { awk -v k="$1" 'BEGIN {printf "%.2f", k / 1e6}'; }   # kB (as time -v reports) → GB, 10^6 kB
mb() { awk -v b="$1" 'BEGIN {printf "%.0f", b / 1e6}'; }

run_three() { # data dir, label; sets R_*, D_*, P_*
    local d=$1
    rm -rf "$d/recon-out" "$d/recon-mem-out" "$d/duck"
    mkdir -p "$d/duck"

    settle; BUSY_R=$(wait_idle); warm "$d"
    log "recon  $(basename "$d")"
    recon_args "$d" "$d/recon-out"
    # the limit applies to recon alone (bash execs it); RECON_TRACE=1 logs its stage times
    timed recon "$d/recon" env RECON_TRACE=1 bash -c 'ulimit -v "$1"; shift; exec "$@"' _ "$RECON_VLIMIT_KB" "$R" "${RA[@]}"
    R_WALL=$WALL R_RSS=$RSS_KB R_STATUS=$STATUS
    if [ "$R_STATUS" != ok ]; then
        # the first line that is not a stage time: the panic or allocation failure
        R_STATUS="$R_STATUS: $(grep -v '^\[trace\]' "$d/recon.stderr" | head -1 | cut -c1-120)"
    fi

    settle; BUSY_M=$(wait_idle); warm "$d"
    log "recon --in-memory $(basename "$d")"
    recon_args "$d" "$d/recon-mem-out"
    timed recon-mem "$d/recon-mem" env RECON_TRACE=1 bash -c 'ulimit -v "$1"; shift; exec "$@"' _ "$RECON_VLIMIT_KB" "$R" "${RA[@]}" --in-memory
    M_WALL=$WALL M_RSS=$RSS_KB M_STATUS=$STATUS
    if [ "$M_STATUS" != ok ]; then
        M_STATUS="$M_STATUS: $(grep -v '^\[trace\]' "$d/recon-mem.stderr" | head -1 | cut -c1-120)"
    elif [ "$R_STATUS" = ok ]; then
        for f in findings.csv summary.json disputes.csv rejected.csv; do
            cmp -s "$d/recon-out/$f" "$d/recon-mem-out/$f" || M_STATUS="outputs differ from the streamed run ($f)"
        done
    fi

    settle; BUSY_D=$(wait_idle); warm "$d"
    log "duckdb $(basename "$d")"
    timed duckdb "$d/duck/run" "$PY" "$here/duckdb_run.py" "$d" "$d/duck" --threads "$DUCKDB_THREADS" \
        --memory-limit "$DUCKDB_MEMORY" --temp "$d/duck/duckdb_tmp" --trace
    D_WALL=$WALL D_RSS=$RSS_KB D_STATUS=$STATUS

    settle; BUSY_P=$(wait_idle); warm "$d"
    log "polars $(basename "$d")"
    timed polars "$d/scan" "$PY" "$here/polars_scan.py" "$d"
    P_WALL=$WALL P_RSS=$RSS_KB P_STATUS=$STATUS
    cp "$d/scan.stdout" "$d/scan.json"
}

# --- Machine and versions --------------------------------------------------------------------
model=$(lscpu | awk -F': *' '/^Model name/ {print $2; exit}')
cores=$(nproc)
mem_gib=$(awk '/MemTotal/ {printf "%.1f", $2 / 1048576}' /proc/meminfo)
rev=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)
git -C "$root" diff --quiet HEAD -- src Cargo.toml 2>/dev/null || rev="$rev+dirty"
versions=$("$PY" -c 'import duckdb, polars, sys; print(f"duckdb {duckdb.__version__}, polars {polars.__version__}, Python {sys.version.split()[0]}")')
started=$(date -u '+%Y-%m-%d %H:%M UTC')
log "$model, $cores cores, $mem_gib GiB; recon $rev; $versions"

# --- Correctness at small N ----------------------------------------------------------------------
gen "$CHECK_ROWS"
c=$BENCH_DIR/g$CHECK_ROWS
rm -rf "$c/recon-out" "$c/duck"
recon_args "$c" "$c/recon-out"
"$R" "${RA[@]}" > "$c/recon.stdout" 2> "$c/recon.stderr"
"$PY" "$here/duckdb_run.py" "$c" "$c/duck" --threads "$DUCKDB_THREADS" --memory-limit "$DUCKDB_MEMORY" 2> "$c/duck.stderr"
"$PY" "$here/polars_scan.py" "$c" > "$c/scan.json"
if ! "$PY" "$here/compare.py" --recon "$c/recon-out" --duck "$c/duck" --polars "$c/scan.json" --findings > "$c/compare.txt"; then
    cat "$c/compare.txt"
    log "correctness check at $CHECK_ROWS rows FAILED: no timings taken"
    exit 1
fi
log "correctness check at $CHECK_ROWS rows: $(tail -1 "$c/compare.txt") (details: $c/compare.txt)"

# Python start-up and imports, included in the DuckDB and polars wall times.
imp_d=$( { /usr/bin/time -f %e "$PY" -c 'import duckdb' ; } 2>&1 | tail -1)
imp_p=$( { /usr/bin/time -f %e "$PY" -c 'import polars' ; } 2>&1 | tail -1)

# --- Timed runs ----------------------------------------------------------------------------------
tsv=$BENCH_DIR/results.tsv
md=$BENCH_DIR/results.md
[ -f "$tsv" ] || printf 'date\trows\tcontender\twall_s\tpeak_rss_kb\tstatus\tcpu_busy_before_pct\n' > "$tsv"
declare -A RW RS RST MW MS MST DW DS PW PS CHK
for n in "${sizes[@]}"; do
    gen "$n"
    d=$BENCH_DIR/g$n
    run_three "$d"
    RW[$n]=$R_WALL RS[$n]=$R_RSS RST[$n]=$R_STATUS MW[$n]=$M_WALL MS[$n]=$M_RSS MST[$n]=$M_STATUS DW[$n]=$D_WALL DS[$n]=$D_RSS PW[$n]=$P_WALL PS[$n]=$P_RSS
    printf '%s\t%s\trecon\t%s\t%s\t%s\t%s\n' "$started" "$n" "$R_WALL" "$R_RSS" "$R_STATUS" "$BUSY_R" >> "$tsv"
    printf '%s\t%s\trecon-in-memory\t%s\t%s\t%s\t%s\n' "$started" "$n" "$M_WALL" "$M_RSS" "$M_STATUS" "$BUSY_M" >> "$tsv"
    printf '%s\t%s\tduckdb\t%s\t%s\t%s\t%s\n' "$started" "$n" "$D_WALL" "$D_RSS" "$D_STATUS" "$BUSY_D" >> "$tsv"
    printf '%s\t%s\tpolars\t%s\t%s\t%s\t%s\n' "$started" "$n" "$P_WALL" "$P_RSS" "$P_STATUS" "$BUSY_P" >> "$tsv"
    # sanity check of the timed outputs
    args=(--duck "$d/duck" --polars "$d/scan.json")
    [ "$R_STATUS" = ok ] && args+=(--recon "$d/recon-out")
    if [ "$D_STATUS" = ok ] && [ "$P_STATUS" = ok ] && "$PY" "$here/compare.py" "${args[@]}" > "$d/compare.txt"; then
        CHK[$n]="ok"
        [ "$R_STATUS" = ok ] || CHK[$n]="ok (DuckDB and scan only)"
    else
        CHK[$n]="FAILED (see $d/compare.txt)"
    fi
    log "$n rows: recon ${R_WALL}s $(gb "$R_RSS") GB [$R_STATUS], in memory ${M_WALL}s $(gb "$M_RSS") GB [$M_STATUS], duckdb ${D_WALL}s $(gb "$D_RSS") GB [$D_STATUS], polars ${P_WALL}s $(gb "$P_RSS") GB [$P_STATUS]; check ${CHK[$n]}"
done

# --- Report ------------------------------------------------------------------------------------
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; }
verdict() { awk -v r="$1" -v t="$2" 'BEGIN {print (r <= t) ? "met" : "missed"}'; }
{
    echo "Machine: $model, $cores cores, $mem_gib GiB RAM; $(uname -sr)."
    echo "Date: $started. recon $rev (binary sha256 $(sha256sum "$R" | cut -c1-12)); $versions."
    echo "Python start-up and import (inside the DuckDB and polars figures): duckdb ${imp_d} s, polars ${imp_p} s."
    echo "recon: \`--customers\`, \`--format csv,json\`, no \`--bills\`, \`ulimit -v $RECON_VLIMIT_KB\`. DuckDB: threads=$DUCKDB_THREADS, memory_limit=$DUCKDB_MEMORY, spill to disk."
    echo "Correctness at $CHECK_ROWS rows: $(tail -1 "$c/compare.txt")."
    echo
    echo "| rows | consumption.csv | incentives.csv (rows) | contender | wall | peak RSS | status | check |"
    echo "|---:|---:|---:|---|---:|---:|---|---|"
    for n in "${sizes[@]}"; do
        d=$BENCH_DIR/g$n
        cs=$(mb "$(stat -c %s "$d/consumption.csv")")
        is=$(mb "$(stat -c %s "$d/incentives.csv")")
        ir=$(($(wc -l < "$d/incentives.csv") - 1))
        rs=${RST[$n]}
        if [ "$rs" != ok ]; then rs="did not finish ($rs), peak $(gb "${RS[$n]}") GB when it stopped"; fi
        echo "| $n | $cs MB | $is MB ($ir) | recon | ${RW[$n]} s | $(gb "${RS[$n]}") GB | $rs | ${CHK[$n]} |"
        echo "| $n | | | recon --in-memory | ${MW[$n]} s | $(gb "${MS[$n]}") GB | ${MST[$n]} | |"
        echo "| $n | | | DuckDB SQL | ${DW[$n]} s | $(gb "${DS[$n]}") GB | ok | |"
        echo "| $n | | | polars typed scan | ${PW[$n]} s | $(gb "${PS[$n]}") GB | ok | |"
    done
    echo
    echo "| rows | recon / DuckDB wall (target ≤ 0.5) | recon / scan wall (target ≤ 2.5) | recon / DuckDB peak RSS (target ≤ 1) |"
    echo "|---:|---:|---:|---:|"
    for n in "${sizes[@]}"; do
        if [ "${RST[$n]}" = ok ]; then
            a=$(ratio "${RW[$n]}" "${DW[$n]}"); b=$(ratio "${RW[$n]}" "${PW[$n]}"); m=$(ratio "${RS[$n]}" "${DS[$n]}")
            echo "| $n | $a ($(verdict "$a" 0.5)) | $b ($(verdict "$b" 2.5)) | $m ($(verdict "$m" 1)) |"
        else
            echo "| $n | missed (did not finish) | missed (did not finish) | missed (did not finish; $(ratio "${RS[$n]}" "${DS[$n]}") when it stopped) |"
        fi
    done
    if [ -n "${RW[1000000]:-}" ] && [ -n "${RW[10000000]:-}" ]; then
        echo
        if [ "${RST[1000000]}" = ok ] && [ "${RST[10000000]}" = ok ]; then
            s=$(ratio "${RW[10000000]}" "${RW[1000000]}")
            echo "recon 10 M / 1 M wall: $s (target ≤ 11: $(verdict "$s" 11)). DuckDB: $(ratio "${DW[10000000]}" "${DW[1000000]}"), scan: $(ratio "${PW[10000000]}" "${PW[1000000]}")."
        else
            echo "recon 10 M / 1 M wall: n/a, recon did not finish at 10 M (target ≤ 11: missed). DuckDB: $(ratio "${DW[10000000]}" "${DW[1000000]}"), scan: $(ratio "${PW[10000000]}" "${PW[1000000]}")."
        fi
    fi
} | tee "$md"

for n in "${sizes[@]}"; do
    case ${CHK[$n]} in ok*) ;; *) log "sanity check failed at $n rows"; exit 1 ;; esac
done
