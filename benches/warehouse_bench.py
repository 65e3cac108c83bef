"""Times the script of `recon sql` on the tables of `recon normalize` (BENCHMARKS.md, issue 21).

    python benches/warehouse_bench.py DIR duckdb|spark [RUNS]

DIR holds norm/ (recon normalize --out DIR/norm), duckdb.sql and spark.sql (recon sql), and
report/ (recon run --out DIR/report) to check the answers against. Prints the wall time of the
script (tables read from Parquet, findings and waterfall created) per run, and for Spark the
session start apart. Spark: local[2], bound to 127.0.0.1, UI off, RECON_SPARK_MEMORY (default 6g).
"""

import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))
import warehouse as w  # noqa: E402


def summary(rows):
    """Per (category, action): count and the sums of delta and of expected_incentive."""
    from decimal import Decimal
    out = {}
    for r in rows:
        k = (r["category"], r["action"])
        n, d, e = out.get(k, (0, Decimal(0), Decimal(0)))
        out[k] = (n + 1, d + (w.dec(r["delta"]) or 0), e + (w.dec(r["expected_incentive"]) or 0))
    return out


def recon_totals(path):
    """Per (category, action) of recon's findings.csv: count and the exact sums of delta and of
    expected_incentive (the file read as text by DuckDB, each amount cast to DECIMAL(38,10))."""
    import duckdb
    con = duckdb.connect()
    q = ("SELECT category, action, count(*), sum(CAST(delta AS DECIMAL(38,10))), "
         "coalesce(sum(CAST(NULLIF(expected_incentive, '') AS DECIMAL(38,10))), 0) "
         f"FROM read_csv('{path}', all_varchar=true, header=true) GROUP BY category, action")
    return {(a, b): (n, w.dec(d), w.dec(e)) for a, b, n, d, e in con.execute(q).fetchall()}


SUMS = "SELECT category, action, count(*) AS n, sum(delta) AS d, coalesce(sum(expected_incentive), 0) AS e FROM findings GROUP BY category, action"


def duckdb_run(case, full):
    import duckdb
    con = duckdb.connect()
    for kind in ["consumption", "incentives", "customers", "bills"]:
        con.execute(f"CREATE VIEW {kind} AS SELECT * FROM read_parquet('{os.path.join(case['norm'], kind + '.parquet')}')")
    t = time.time()
    for st in w.statements(case["duckdb"], True):
        con.execute(st)
    secs = time.time() - t
    f = w.fetch(con.execute("SELECT * FROM findings")) if full else {(a, b): (n, w.dec(d), w.dec(e)) for a, b, n, d, e in con.execute(SUMS).fetchall()}
    return secs, f, w.fetch(con.execute("SELECT * FROM waterfall"))


def spark_run(spark, case, ansi, full):
    s = spark.newSession()
    s.conf.set("spark.sql.ansi.enabled", "true" if ansi else "false")
    for kind in ["consumption", "incentives", "customers", "bills"]:
        s.read.parquet(os.path.join(case["norm"], kind + ".parquet")).createOrReplaceTempView(kind)
    t = time.time()
    for st in w.statements(case["spark"], True):
        s.sql(st)
    secs = time.time() - t
    if full:
        f = [{k: w.as_text(v) for k, v in r.asDict().items()} for r in s.sql("SELECT * FROM findings").collect()]
    else:
        f = {(r["category"], r["action"]): (r["n"], w.dec(r["d"]), w.dec(r["e"])) for r in s.sql(SUMS).collect()}
    wf = [{k: w.as_text(v) for k, v in r.asDict().items()} for r in s.sql("SELECT * FROM waterfall").collect()]
    return secs, f, wf


def main():
    d, engine = sys.argv[1], sys.argv[2]
    runs = int(sys.argv[3]) if len(sys.argv) > 3 else 1
    case = {"name": os.path.basename(d.rstrip("/")), "norm": os.path.join(d, "norm"), "report": os.path.join(d, "report"),
            "spark": os.path.join(d, "spark.sql"), "duckdb": os.path.join(d, "duckdb.sql")}
    full = os.environ.get("RECON_BENCH_FULL") is not None
    rw = w.recon_waterfall(case["report"])
    if full:
        rf = w.recon_findings(case["report"])
        totals = summary(rf.values())
    else:
        # (recon's findings.csv summed without holding it: at 10 M rows it has 13.5 M findings;
        # DuckDB reads the text, the decimals are cast exactly)
        rf = {}
        totals = recon_totals(os.path.join(case["report"], "findings.csv"))
    spark = None
    if engine == "spark":
        os.environ.setdefault("RECON_SPARK_MEMORY", "6g")
        t = time.time()
        spark = w.spark_session(os.path.join(d, "wh"))
        print(f"spark session start: {time.time() - t:.1f} s")
    for r in range(runs):
        t = time.time()
        if engine == "duckdb":
            secs, f, wf = duckdb_run(case, full)
        else:
            secs, f, wf = spark_run(spark, case, r % 2 == 0, full)
        if full:
            bad = w.compare(engine, case["name"], rf, rw, {x["finding_id"]: x for x in f}, {x["period"]: x for x in wf})
        else:
            # (1 M findings read back through py4j take longer than the script: compared here by
            # count and sums per category and action, the waterfall in full)
            bad = w.compare(engine, case["name"], {}, rw, {}, {x["period"]: x for x in wf}) + (f != totals)
            if f != totals:
                print("sums differ:", f, totals)
        print(f"{engine} run {r + 1}{' (ANSI on)' if engine == 'spark' and r % 2 == 0 else ''}: script {secs:.1f} s, with reading back {time.time() - t:.1f} s; {bad} mismatches")
    if spark is not None:
        spark.stop()


if __name__ == "__main__":
    main()
