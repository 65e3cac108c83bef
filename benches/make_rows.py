#!/usr/bin/env python3
"""Writes N consumption rows (UTF-8 CSV, Chinese headers, two bill cycles) and a matching
incentive statement with a few faults, for end-to-end timing of `recon run`.
Usage: make_rows.py N OUTDIR [SEED]. Deterministic for a given seed."""
import os
import random
import sys

n = int(sys.argv[1])
out = sys.argv[2]
rng = random.Random(int(sys.argv[3]) if len(sys.argv) > 3 else 7)
os.makedirs(out, exist_ok=True)
services = [("hws.service.type.ec2", "包年/包月", "0.06"), ("hws.service.type.ec2", "按需", "0.03"),
            ("hws.service.type.ebs", "按需", "0.05"), ("hws.service.type.obs", "按需", "0.04"),
            ("hws.service.type.vpc", "按需", None), ("hws.service.type.marketplace", "包年/包月", None)]
customers = [f"{i:032x}" for i in range(2000)]
expected = {}
with open(os.path.join(out, "consumption.csv"), "w", encoding="utf-8") as f:
    f.write("账期,客户ID,关联类型,产品类型编码,计费模式,订单号/交易号,客户交易时间,应付金额,现金支付金额,代金券支付金额,信用额度支付金额,储值卡支付金额,欠费金额\n")
    for i in range(n):
        cycle = 9 + (i % 2)
        day = rng.randint(1, 29)
        svc, mode, rate = services[rng.randrange(len(services))]
        trade = f"CS26{cycle:02d}{i // 3:09d}"
        cash = rng.randint(1, 500000)
        coupon = rng.randint(0, 2000) if rng.random() < 0.1 else 0
        f.write(f"2026-{cycle:02d},{customers[i % 2000]},代售,{svc},{mode},{trade},2026-{cycle:02d}-{day:02d} 10:00:00,"
                f"{(cash + coupon) / 100:.2f},{cash / 100:.2f},{coupon / 100:.2f},0,0,0\n")
        if rate:
            key = (cycle, trade, svc)
            expected[key] = expected.get(key, 0) + cash * int(rate[2:]) 
with open(os.path.join(out, "incentives.csv"), "w", encoding="utf-8") as f:
    f.write("对账期次,激励数据ID,订单号/交易号,产品类型编码,激励金额\n")
    for j, ((cycle, trade, svc), v) in enumerate(expected.items()):
        # v is cents * rate-percent; the amount in cents is v / 100, rounded half up
        amount = (v + 50) // 100
        r = rng.random()
        if r < 0.01:
            continue  # missing
        if r < 0.02:
            amount -= 100  # underpaid by 1.00
        f.write(f"2026-{cycle:02d},IN{j},{trade},{svc},{amount // 100}.{amount % 100:02d}\n")
