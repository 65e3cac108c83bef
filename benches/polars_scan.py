#!/usr/bin/env python3
"""The floor of a CSV-fed run: polars' typed scan of the `recon gen` CSVs.

    polars_scan.py DATA_DIR [--engine streaming|in-memory]

Reads only the columns recon needs from consumption.csv, incentives.csv and customers.csv,
parses amounts to Decimal(38,10) (in the CSV reader), times to Datetime, periods to Date and
rates to Decimal, and sums them; string columns are summed as byte lengths so that the reader
cannot skip them. Nothing else: no joins, no grouping, no output. Prints the sums as JSON (the
benchmark checks them against the DuckDB and recon totals, so the scan cannot skip rows either).
"""

import argparse
import json
import sys
from pathlib import Path

import polars as pl

D = pl.Decimal(38, 10)
TS_FORMAT = "%Y-%m-%d %H:%M:%S GMT%:z"

CONSUMPTION_AMOUNTS = ["应付金额", "现金支付金额", "信用额度支付金额", "代金券支付金额", "储值卡支付金额", "欠费金额"]
CONSUMPTION_TEXT = ["客户ID", "关联类型", "产品类型编码", "计费模式", "订单号/交易号"]
INCENTIVE_AMOUNTS = ["激励基数", "激励金额"]
INCENTIVE_TEXT = ["激励数据ID", "订单号/交易号", "客户ID", "产品类型编码", "计费模式"]


def period(name: str) -> pl.Expr:
    return (pl.col(name) + "-01").str.strptime(pl.Date, "%Y-%m-%d").dt.epoch("d").cast(pl.Int64).sum().alias(name)


def text_len(names: list[str]) -> list[pl.Expr]:
    return [pl.col(n).str.len_bytes().cast(pl.Int64).sum().alias(n) for n in names]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("data")
    ap.add_argument("--engine", default="streaming", choices=["streaming", "in-memory"])
    a = ap.parse_args()
    d = Path(a.data)

    cons = pl.scan_csv(
        d / "consumption.csv",
        schema_overrides={**{c: D for c in CONSUMPTION_AMOUNTS}, **{c: pl.String for c in CONSUMPTION_TEXT + ["账期", "客户交易时间"]}},
    ).select(
        pl.len().alias("rows"),
        period("账期"),
        pl.col("客户交易时间").str.strptime(pl.Datetime("us"), TS_FORMAT).dt.epoch("s").sum().alias("客户交易时间"),
        *[pl.col(c).sum() for c in CONSUMPTION_AMOUNTS],
        *text_len(CONSUMPTION_TEXT),
    )
    inc = pl.scan_csv(
        d / "incentives.csv",
        schema_overrides={**{c: D for c in INCENTIVE_AMOUNTS}, **{c: pl.String for c in INCENTIVE_TEXT + ["对账期次", "激励比例"]}},
    ).select(
        pl.len().alias("rows"),
        period("对账期次"),
        pl.col("激励比例").str.strip_suffix("%").cast(D).sum().alias("激励比例"),
        *[pl.col(c).sum() for c in INCENTIVE_AMOUNTS],
        *text_len(INCENTIVE_TEXT),
    )
    cust = pl.scan_csv(d / "customers.csv", infer_schema=False).select(
        pl.len().alias("rows"),
        pl.col("关联时间").str.strptime(pl.Datetime("us"), "%Y-%m-%d %H:%M:%S").dt.epoch("s").sum(),
        pl.col("换绑时间").str.strptime(pl.Datetime("us"), "%Y-%m-%d %H:%M:%S").dt.epoch("s").sum(),
        *text_len(["客户ID", "关联类型"]),
    )
    out = {}
    for name, lf in (("consumption", cons), ("incentives", inc), ("customers", cust)):
        df = lf.collect(engine=a.engine)
        out[name] = {k: str(v) for k, v in df.row(0, named=True).items()}
    json.dump(out, sys.stdout, ensure_ascii=False, indent=1)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
