#!/usr/bin/env python3
"""Sanity checks of the end-to-end benchmark: a contender that computes the wrong thing must not
produce a flattering number.

    compare.py --duck DUCK_OUT [--recon RECON_OUT] [--polars SCAN.json] [--findings]

- DuckDB's waterfall must close in every period (its own `closes` column).
- With --recon: every waterfall figure of every period must equal recon's summary.json exactly
  (decimal equality), and each period's category counts and deltas are compared; differences are
  listed, and more than 0.1 % of the findings differing fails.
- With --findings (small N only): findings.csv of both are compared by finding_id (period,
  category, action, expected and actual incentive); more than 0.1 % differing fails.
- With --polars: the typed scan's row counts and amount sums must equal the totals DuckDB (and
  recon) report, so the floor cannot have skipped rows.

Exit status 0 when everything holds, 1 otherwise.
"""

import argparse
import csv
import json
import sys
from decimal import Decimal
from pathlib import Path

WATERFALL = ["consumption_total", "ineligible_product", "not_attributed", "excluded_payment", "rolled_out",
             "rolled_in", "expected_base", "expected_incentive", "actual_incentive", "difference"]


def dec(s: str) -> Decimal:
    return Decimal(s) if s not in ("", None) else Decimal(0)


def fmt(d: Decimal) -> str:
    q = d.quantize(Decimal("0.01"))
    return str(q) if q == d else str(d.normalize())


def read_csv(path: Path) -> list[dict]:
    with open(path, encoding="utf-8-sig", newline="") as f:
        return list(csv.DictReader(f))


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--duck", required=True)
    ap.add_argument("--recon")
    ap.add_argument("--polars")
    ap.add_argument("--findings", action="store_true")
    a = ap.parse_args()
    duck = Path(a.duck)
    failures: list[str] = []

    wf = {r["period"]: r for r in read_csv(duck / "waterfall.csv")}
    for p, r in wf.items():
        if r["closes"] != "true":
            failures.append(f"DuckDB waterfall of {p} does not close")
    cats: dict[tuple[str, str], tuple[int, Decimal]] = {
        (r["period"], r["category"]): (int(r["count"]), dec(r["delta"])) for r in read_csv(duck / "categories.csv")
    }
    n_duck_findings = None

    if a.recon:
        summary = json.loads((Path(a.recon) / "summary.json").read_text(encoding="utf-8"))
        periods = {p["period"]: p for p in summary["periods"]}
        if sorted(periods) != sorted(wf):
            failures.append(f"periods differ: recon {sorted(periods)}, DuckDB {sorted(wf)}")
        print("waterfall (recon = DuckDB, exact):")
        for p in sorted(set(periods) & set(wf)):
            for k in WATERFALL:
                rv, dv = dec(periods[p]["waterfall"][k]), dec(wf[p][k])
                ok = rv == dv
                print(f"  {p} {k:<20} {fmt(rv):>18} {fmt(dv):>18} {'ok' if ok else 'DIFFERS'}")
                if not ok:
                    failures.append(f"{p} {k}: recon {rv}, DuckDB {dv}")
        # categories
        rc = {(p, c): (v["count"], dec(v["delta"])) for p, per in periods.items() for c, v in per["categories"].items()}
        keys = sorted(set(rc) | set(cats))
        diff_count = 0
        print("categories (count, delta) recon | DuckDB:")
        for k in keys:
            r, d = rc.get(k, (0, Decimal(0))), cats.get(k, (0, Decimal(0)))
            same = r[0] == d[0] and r[1] == d[1]
            diff_count += abs(r[0] - d[0])
            print(f"  {k[0]} {k[1]:<22} {r[0]:>9} {fmt(r[1]):>14} | {d[0]:>9} {fmt(d[1]):>14} {'' if same else '  <- differs'}")
        total = summary["findings"]["total"]
        print(f"findings: recon {total}")
        if diff_count > max(1, total // 1000):
            failures.append(f"category counts differ by {diff_count} findings (> 0.1 % of {total})")

        if a.findings:
            rf = {r["finding_id"]: r for r in read_csv(Path(a.recon) / "findings.csv") if r["finding_id"].startswith("F")}
            df = {r["finding_id"]: r for r in read_csv(duck / "findings.csv")}
            n_duck_findings = len(df)
            only_r, only_d = set(rf) - set(df), set(df) - set(rf)
            differ = []
            for fid in set(rf) & set(df):
                x, y = rf[fid], df[fid]
                for col in ("period", "category", "action", "expected_period", "trade_id", "service_type_code", "customer_id", "charging_mode"):
                    if x[col] != y[col]:
                        differ.append((fid, col, x[col], y[col]))
                for col in ("expected_incentive", "actual_incentive", "delta", "expected_base"):
                    if dec(x[col]) != dec(y[col]):
                        differ.append((fid, col, x[col], y[col]))
            print(f"findings by id: recon {len(rf)}, DuckDB {len(df)}, only recon {len(only_r)}, only DuckDB {len(only_d)}, fields differing {len(differ)}")
            for d in differ[:20]:
                print("  ", *d)
            for fid in sorted(only_r)[:10]:
                print("   only recon:", fid, rf[fid]["period"], rf[fid]["category"], rf[fid]["trade_id"])
            for fid in sorted(only_d)[:10]:
                print("   only DuckDB:", fid, df[fid]["period"], df[fid]["category"], df[fid]["trade_id"])
            bad = len(only_r) + len(only_d) + len({d[0] for d in differ})
            if bad > max(1, len(rf) // 1000):
                failures.append(f"{bad} findings differ by id (> 0.1 % of {len(rf)})")

    if a.polars:
        scan = json.loads(Path(a.polars).read_text(encoding="utf-8"))
        pay = dec(scan["consumption"]["应付金额"])
        paid = dec(scan["incentives"]["激励金额"])
        d_pay = sum((dec(r["consumption_total"]) for r in wf.values()), Decimal(0))
        d_paid = sum((dec(r["actual_incentive"]) for r in wf.values()), Decimal(0))
        ok = pay == d_pay and paid == d_paid
        print(f"polars scan: consumption {pay} (DuckDB {d_pay}), incentives {paid} (DuckDB {d_paid}), "
              f"rows {scan['consumption']['rows']} + {scan['incentives']['rows']} {'ok' if ok else 'DIFFERS'}")
        if not ok:
            failures.append("polars scan sums differ from the DuckDB totals")
        if a.recon:
            summary = json.loads((Path(a.recon) / "summary.json").read_text(encoding="utf-8"))
            rows = {i["kind"]: i["rows"] for i in summary["inputs"]}
            for kind in ("consumption", "incentives"):
                if str(rows.get(kind)) != scan[kind]["rows"]:
                    failures.append(f"{kind} rows: recon {rows.get(kind)}, polars {scan[kind]['rows']}")

    for f in failures:
        print("FAIL:", f)
    print("compare:", "ok" if not failures else f"{len(failures)} failure(s)")
    return 0 if not failures else 1


if __name__ == "__main__":
    sys.exit(main())
