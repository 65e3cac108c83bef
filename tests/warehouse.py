"""Differential driver of tests/warehouse.rs (issue 21): runs the scripts `recon sql` compiled
on the tables `recon normalize` wrote, on Spark 3.5 (local[2], ANSI mode on and off, one
session for every case) and on DuckDB, and compares their `findings` and `waterfall` with the
findings.csv and summary.json of `recon run` on the same inputs.

    python tests/warehouse.py MANIFEST.json [spark-ansi,spark,duckdb]

MANIFEST.json: {"warehouse": DIR, "cases": [{"name", "norm", "report", "spark", "duckdb",
"large": bool}]} (large cases run on Spark one at a time, the others RECON_SPARK_THREADS at a time). Exit status 0 when every engine gives recon's answers on every case, 1 on a
mismatch (each printed with both rows), 2 when Spark or DuckDB cannot be used.
"""

import csv
import json
import os
import sys
import time
from decimal import Decimal

AMOUNTS = ["expected_base", "expected_incentive", "actual_base", "actual_incentive", "delta"]
TEXTS = ["period", "category", "action", "rule_ids", "expected_period", "trade_id", "service_type_code",
         "customer_id", "customer_name", "charging_mode", "consumption_rows", "incentive_rows"]
STEPS = ["consumption_total", "ineligible_product", "not_attributed", "excluded_payment", "rolled_out",
         "rolled_in", "expected_base", "expected_incentive", "actual_incentive", "difference"]

CUSTOMERS_EMPTY = ("row_no BIGINT, source {s}, customer_id {s}, customer_name {s}, association_type {s}, "
                   "associated_at {s}, rebound_at {s}")
BILLS_EMPTY = ("row_no BIGINT, source {s}, bill_cycle {s}, customer_id {s}, customer_name {s}, "
               "service_type_code {s}, charging_mode {s}, trade_id {s}, amount DECIMAL(38,10)")


def formula_like(text):
    t = text.lstrip("'")
    return t[:1] in ("=", "+", "-", "@", "\t", "\r")


def restore(cell):
    """findings.csv neutralises text cells a spreadsheet would run (src/report/mod.rs restore)."""
    if cell.startswith("'") and formula_like(cell[1:]):
        return cell[1:]
    return cell


def dec(v):
    if v is None or v == "":
        return None
    return Decimal(str(v))


def recon_findings(report):
    with open(os.path.join(report, "findings.csv"), encoding="utf-8-sig", newline="") as f:
        rows = list(csv.DictReader(f))
    out = {}
    for r in rows:
        r = {k: restore(v) for k, v in r.items()}
        out[r["finding_id"]] = r
    return out


def recon_waterfall(report):
    with open(os.path.join(report, "summary.json"), encoding="utf-8") as f:
        s = json.load(f)
    return {p["period"]: {k: Decimal(v) for k, v in p["waterfall"].items()} for p in s["periods"]}


def statements(path, _unused=True):
    """The script's statements: one per line, comment lines (`--`) and empty lines skipped."""
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("--"):
                continue
            yield line[:-1] if line.endswith(";") else line


def compare(engine, case, rf, rw, sf, sw):
    """Prints every difference; returns how many."""
    bad = 0
    for fid in sorted(set(rf) | set(sf)):
        a, b = rf.get(fid), sf.get(fid)
        if a is None or b is None:
            bad += 1
            print(f"MISMATCH {engine} {case} {fid}: only in {'the script' if a is None else 'recon'}\n  recon:  {a}\n  script: {b}")
            continue
        diffs = [k for k in AMOUNTS if dec(a[k]) != dec(b[k])]
        diffs += [k for k in TEXTS if (a[k] or "") != (b[k] or "")]
        if diffs:
            bad += 1
            print(f"MISMATCH {engine} {case} {fid}: {', '.join(diffs)}\n  recon:  {a}\n  script: {b}")
    if set(rw) != set(sw):
        bad += 1
        print(f"MISMATCH {engine} {case} waterfall periods: recon {sorted(rw)}, script {sorted(sw)}")
    for p in sorted(set(rw) & set(sw)):
        diffs = [k for k in STEPS if rw[p][k] != dec(sw[p][k])]
        if diffs:
            bad += 1
            print(f"MISMATCH {engine} {case} waterfall {p}: {', '.join(diffs)}\n  recon:  {rw[p]}\n  script: {sw[p]}")
    return bad


def as_text(v):
    if v is None:
        return None
    if isinstance(v, Decimal):
        return v
    return str(v)


def run_duckdb(cases):
    import duckdb
    results = {}
    for c in cases:
        con = duckdb.connect()
        norm = c["norm"]
        for kind in ["consumption", "incentives", "customers", "bills"]:
            p = os.path.join(norm, kind + ".parquet")
            if os.path.exists(p):
                con.execute(f"CREATE VIEW {kind} AS SELECT * FROM read_parquet('{p}')")
            elif kind == "customers":
                con.execute("CREATE TABLE customers (" + CUSTOMERS_EMPTY.format(s="VARCHAR") + ")")
            elif kind == "bills":
                con.execute("CREATE TABLE bills (" + BILLS_EMPTY.format(s="VARCHAR") + ")")
        t = time.time()
        for st in statements(c["duckdb"], True):
            try:
                con.execute(st)
            except Exception as e:
                raise RuntimeError(f"duckdb {c['name']}: {e}\n  in: {st[:300]}")
        results[c["name"]] = (fetch(con.execute("SELECT * FROM findings")), fetch(con.execute("SELECT * FROM waterfall")), time.time() - t)
        con.close()
    return results


def fetch(cursor):
    cols = [d[0] for d in cursor.description]
    return [dict(zip(cols, [as_text(v) for v in row])) for row in cursor.fetchall()]


def spark_session(warehouse):
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    import shutil
    shutil.rmtree(os.path.join(warehouse, "spark-warehouse"), ignore_errors=True)
    from pyspark.sql import SparkSession
    s = (SparkSession.builder.master("local[2]").appName("recon-warehouse-test")
         .config("spark.driver.host", "127.0.0.1").config("spark.driver.bindAddress", "127.0.0.1")
         .config("spark.ui.enabled", "false").config("spark.sql.session.timeZone", "UTC")
         .config("spark.sql.shuffle.partitions", "4")
         .config("spark.sql.warehouse.dir", os.path.join(warehouse, "spark-warehouse"))
         .config("spark.driver.memory", os.environ.get("RECON_SPARK_MEMORY", "2g"))
         .config("spark.sql.decimalOperations.allowPrecisionLoss", "false"))
    for kv in filter(None, os.environ.get("RECON_SPARK_CONF", "").split(",")):
        k, v = kv.split("=", 1)
        s = s.config(k, v)
    s = s.getOrCreate()
    s.sparkContext.setLogLevel("ERROR")
    print(f"Spark {s.version} (local[2], Java {s.sparkContext._jvm.java.lang.System.getProperty('java.version')})", flush=True)
    want = os.environ.get("RECON_SPARK_VERSION")
    if want and not s.version.startswith(want):
        print(f"warehouse.py: Spark {s.version} is not the {want} asked for (RECON_SPARK_VERSION)", file=sys.stderr)
        sys.exit(2)
    return s


def run_spark_case(spark, i, c, ansi):
    """One case in a session of its own (its own temporary views, conf and database)."""
    s = spark.newSession()
    s.conf.set("spark.sql.ansi.enabled", "true" if ansi else "false")
    s.sql(f"CREATE DATABASE IF NOT EXISTS case{i}")
    s.sql(f"USE case{i}")
    norm = c["norm"]
    for kind in ["consumption", "incentives", "customers", "bills"]:
        p = os.path.join(norm, kind + ".parquet")
        if os.path.exists(p):
            s.read.parquet(p).createOrReplaceTempView(kind)
        elif kind == "customers":
            s.sql("CREATE OR REPLACE TEMPORARY VIEW customers AS SELECT * FROM VALUES (CAST(NULL AS BIGINT), '', '', '', '', '', '') AS t(row_no, source, customer_id, customer_name, association_type, associated_at, rebound_at) WHERE row_no IS NOT NULL")
        elif kind == "bills":
            s.sql("CREATE OR REPLACE TEMPORARY VIEW bills AS SELECT * FROM VALUES (CAST(NULL AS BIGINT), '', '', '', '', '', '', '', CAST(0 AS DECIMAL(38,10))) AS t(row_no, source, bill_cycle, customer_id, customer_name, service_type_code, charging_mode, trade_id, amount) WHERE row_no IS NOT NULL")
    t = time.time()
    for st in statements(c["spark"]):
        try:
            s.sql(st)
        except Exception as e:
            raise RuntimeError(f"spark {c['name']}: {str(e)[:2000]}\n  in: {st[:300]}")
    f = [{k: as_text(v) for k, v in r.asDict().items()} for r in s.sql("SELECT * FROM findings").collect()]
    w = [{k: as_text(v) for k, v in r.asDict().items()} for r in s.sql("SELECT * FROM waterfall").collect()]
    return c["name"], (f, w, time.time() - t)


def run_spark(spark, cases, ansi):
    """Every case, a few at a time (a small case's time is mostly the driver's planning)."""
    from concurrent.futures import ThreadPoolExecutor
    threads = int(os.environ.get("RECON_SPARK_THREADS", "2"))
    # the large cases first, alone
    big = [(i, c) for i, c in enumerate(cases) if c.get("large", True)]
    small = [(i, c) for i, c in enumerate(cases) if not c.get("large", True)]
    results = dict(run_spark_case(spark, i, c, ansi) for i, c in big)
    with ThreadPoolExecutor(max_workers=threads) as pool:
        results.update(pool.map(lambda ic: run_spark_case(spark, ic[0], ic[1], ansi), small))
    return results


def self_check():
    """The comparison itself catches a changed delta, a changed rule id and a waterfall step."""
    row = {k: "" for k in AMOUNTS + TEXTS}
    row.update({"delta": "1.00", "rule_ids": "R2"})
    other = dict(row, delta="1.01")
    w = {"2026-10": {k: Decimal("1") for k in STEPS}}
    assert compare("self-check", "-", {"F": row}, w, {"F": other}, w) == 1
    assert compare("self-check", "-", {"F": row}, w, {"F": dict(row, rule_ids="R3")}, w) == 1
    assert compare("self-check", "-", {"F": row}, w, {"F": dict(row)}, {"2026-10": dict(w["2026-10"], rolled_in=Decimal("1.001"))}) == 1
    assert compare("self-check", "-", {"F": row}, w, {"F": dict(row, delta="1.0")}, w) == 0


def main():
    import io
    import contextlib
    with contextlib.redirect_stdout(io.StringIO()):
        self_check()
    manifest = json.load(open(sys.argv[1], encoding="utf-8"))
    engines = (sys.argv[2] if len(sys.argv) > 2 else "spark-ansi,spark,duckdb").split(",")
    cases = manifest["cases"]
    bad = 0
    for engine in engines:
        t0 = time.time()
        if engine == "duckdb":
            try:
                import duckdb  # noqa: F401
            except ImportError as e:
                print(f"warehouse.py: DuckDB is not installed ({e}); pip install duckdb", file=sys.stderr)
                sys.exit(2)
            results = run_duckdb(cases)
        else:
            try:
                import pyspark  # noqa: F401
            except ImportError as e:
                print(f"warehouse.py: pyspark is not installed ({e}); pip install 'pyspark==3.5.*'", file=sys.stderr)
                sys.exit(2)
            if "spark" not in globals() or globals()["spark"] is None:
                globals()["spark"] = spark_session(manifest["warehouse"])
            results = run_spark(globals()["spark"], cases, engine == "spark-ansi")
        n = 0
        for c in cases:
            f, w, secs = results[c["name"]]
            sf = {r["finding_id"]: r for r in f}
            sw = {r["period"]: r for r in w}
            rf, rw = recon_findings(c["report"]), recon_waterfall(c["report"])
            if len(sf) != len(f):
                bad += 1
                print(f"MISMATCH {engine} {c['name']}: {len(f) - len(sf)} duplicated finding ids in the script's findings")
            b = compare(engine, c["name"], rf, rw, sf, sw)
            bad += b
            n += len(rf)
            print(f"{engine:10} {c['name']:40} {len(rf):7} findings, {len(rw)} periods: {'ok' if b == 0 else f'{b} MISMATCHES'} ({secs:.1f} s)")
        print(f"{engine}: {len(cases)} cases, {n} findings compared in {time.time() - t0:.1f} s")
    if globals().get("spark") is not None:
        globals()["spark"].stop()
    print("warehouse.py: " + ("all equal" if bad == 0 else f"{bad} mismatches"))
    sys.exit(0 if bad == 0 else 1)


spark = None

if __name__ == "__main__":
    main()
