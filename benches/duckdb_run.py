#!/usr/bin/env python3
"""Run benches/duckdb_recon.sql against a `recon gen` directory.

    duckdb_run.py DATA_DIR OUT_DIR [--threads 2] [--memory-limit 20GB] [--temp DIR] [--trace]

Substitutes {{DATA}} and {{OUT}} in the SQL, sets threads, memory limit and the spill directory,
and runs the statements one after another in one in-memory database. With --trace, prints each
statement's time to stderr (the first line of the statement names it).
"""

import argparse
import os
import sys
import time
from pathlib import Path

import duckdb


def sql_path(p: str) -> str:
    return str(Path(p).resolve()).replace("'", "''")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("data")
    ap.add_argument("out")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--memory-limit", default="20GB")
    ap.add_argument("--temp", default=None, help="spill directory (default OUT/duckdb_tmp)")
    ap.add_argument("--sql", default=str(Path(__file__).with_name("duckdb_recon.sql")))
    ap.add_argument("--trace", action="store_true")
    a = ap.parse_args()

    os.makedirs(a.out, exist_ok=True)
    temp = a.temp or os.path.join(a.out, "duckdb_tmp")
    os.makedirs(temp, exist_ok=True)
    text = Path(a.sql).read_text(encoding="utf-8")
    text = text.replace("{{DATA}}", sql_path(a.data)).replace("{{OUT}}", sql_path(a.out))

    t0 = time.perf_counter()
    con = duckdb.connect(":memory:")
    con.execute(f"PRAGMA threads={a.threads}")
    con.execute(f"SET memory_limit='{a.memory_limit}'")
    con.execute(f"SET temp_directory='{sql_path(temp)}'")
    con.execute("SET preserve_insertion_order=false")  # no statement relies on it: outputs are ORDER BY'd
    for stmt in con.extract_statements(text):
        t = time.perf_counter()
        con.execute(stmt)
        if a.trace:
            first = next((l.strip() for l in stmt.query.splitlines() if l.strip() and not l.strip().startswith("--")), "")
            print(f"[duckdb] {time.perf_counter() - t:8.3f} s  {first[:70]}", file=sys.stderr)
    con.close()
    if a.trace:
        print(f"[duckdb] {time.perf_counter() - t0:8.3f} s  total", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
