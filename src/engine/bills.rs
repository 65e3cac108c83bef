//! The partner bill (伙伴账单) against resale (代售) consumption. For each bill cycle present in
//! the bill files, resale consumption's `payment_amount` and the bill lines are summed on the
//! finest grain both sides share (customer and service always; charging mode and trade id when
//! every line of both sides in that cycle has them), full-outer-joined in polars, and each group
//! becomes one `B` finding with `delta = bill − consumption`.

use std::collections::BTreeMap;

use polars::prelude::*;
use rust_decimal::Decimal;

use super::decide::{action_for, finding_id, Category, Finding};
use super::frames;
use super::frames::{dec_column, dec_values, i32_values, i64_values, row_lists, str_values};
use super::{phys_to_decimal, EngineError, Stage};
use crate::load::{Bills, Loaded};
use crate::model::{fmt_money as m, Association, ChargingMode, Period, AMOUNT_SCALE};
use crate::rules::RuleSet;

/// One bill cycle's totals, as summary.json reports them.
#[derive(Debug, Clone)]
pub struct BillCycle {
    pub cycle: Period,
    /// Σ payment_amount of resale customers' consumption.
    pub consumption_total: Decimal,
    pub bill_total: Decimal,
    /// bill − consumption.
    pub difference: Decimal,
    /// Referral customers' consumption of the cycle: not part of any partner bill.
    pub referral_consumption: Decimal,
    /// Consumption whose customer's association type is unknown: compared with nothing.
    pub unknown_association_consumption: Decimal,
    pub grain: Vec<&'static str>,
    pub categories: BTreeMap<Category, (usize, Decimal)>,
}

fn bill_frame(b: &Bills) -> PolarsResult<LazyFrame> {
    let n = b.len();
    Ok(DataFrame::new(
        n,
        vec![
            Column::new("brow".into(), (0..n as u32).collect::<Vec<u32>>()),
            frames::num_column::<Int32Type>("cycle", &b.cycle),
            frames::str_column("cust", b.customer_id.iter().map(String::as_str)),
            frames::str_column("svc", b.service.iter().map(String::as_str)),
            frames::num_column::<Int32Type>("mode", &b.mode),
            frames::str_column("trade", b.trade_id.iter().map(String::as_str)),
            dec_column("amount", b.amount.clone(), AMOUNT_SCALE as usize)?,
        ],
    )?
    .lazy())
}

/// Grain of each bill cycle: does it use charging mode and trade id?
fn grains(decided: &LazyFrame, bills: &LazyFrame) -> PolarsResult<BTreeMap<i32, (bool, bool)>> {
    let b = bills
        .clone()
        .group_by([col("cycle")])
        .agg([len().alias("n"), col("mode").neq(lit(0)).sum().alias("with_mode"), col("trade").neq(lit("")).sum().alias("with_trade")])
        .collect()?;
    let c = decided
        .clone()
        .filter(col("c_assoc").fill_null(lit(0)).eq(lit(Association::Resale.code())))
        .group_by([col("cycle")])
        .agg([len().alias("n"), col("mode").neq(lit(0)).sum().alias("with_mode")])
        .collect()?;
    let cons_modes: BTreeMap<i32, bool> = {
        let (cy, n, wm) = (i32_values(&c, "cycle")?, i64_values(&c, "n")?, i64_values(&c, "with_mode")?);
        (0..c.height()).map(|i| (cy[i].unwrap_or(0), wm[i] == n[i])).collect()
    };
    let (cy, n, wm, wt) = (i32_values(&b, "cycle")?, i64_values(&b, "n")?, i64_values(&b, "with_mode")?, i64_values(&b, "with_trade")?);
    Ok((0..b.height())
        .map(|i| {
            let cycle = cy[i].unwrap_or(0);
            let mode = wm[i] == n[i] && cons_modes.get(&cycle).copied().unwrap_or(true);
            (cycle, (mode, wt[i] == n[i]))
        })
        .collect())
}

pub fn reconcile(decided: LazyFrame, loaded: &Loaded, rules: &RuleSet) -> Result<(Vec<Finding>, Vec<BillCycle>), EngineError> {
    let Some(bills) = &loaded.bills else { return Ok((Vec::new(), Vec::new())) };
    let st = "reconciling the partner bill";
    let bills_lf = bill_frame(bills).stage(st)?;
    let grain = grains(&decided, &bills_lf).stage(st)?;
    let cycles: Vec<i32> = grain.keys().copied().collect();
    let flags = DataFrame::new(
        cycles.len(),
        vec![
            Column::new("cycle".into(), cycles.clone()),
            Column::new("use_mode".into(), cycles.iter().map(|c| grain[c].0).collect::<Vec<bool>>()),
            Column::new("use_trade".into(), cycles.iter().map(|c| grain[c].1).collect::<Vec<bool>>()),
        ],
    )
    .stage(st)?
    .lazy();
    let on_cycle = |lf: LazyFrame| {
        lf.join(flags.clone(), [col("cycle")], [col("cycle")], JoinArgs::new(JoinType::Inner)).with_columns([
            when(col("use_mode")).then(col("mode")).otherwise(lit(0)).alias("g_mode"),
            when(col("use_trade")).then(col("trade")).otherwise(lit("")).alias("g_trade"),
        ])
    };
    let keys = [col("cycle"), col("cust"), col("svc"), col("g_mode"), col("g_trade")];
    let assoc = col("c_assoc").fill_null(lit(0));
    let cons = on_cycle(decided.clone())
        .filter(assoc.clone().eq(lit(Association::Resale.code())))
        .group_by(keys.clone())
        .agg([col("pay").sum().alias("c_amt"), col("row").implode(true).alias("c_rows"), len().alias("c_n")]);
    let bill = on_cycle(bills_lf)
        .group_by(keys.clone())
        .agg([col("amount").sum().alias("b_amt"), col("brow").implode(true).alias("b_rows"), len().alias("b_n")]);
    let joined = cons
        .join(bill, keys.clone(), keys, JoinArgs::new(JoinType::Full).with_coalesce(JoinCoalesce::CoalesceColumns))
        .sort(["cycle", "cust", "svc", "g_mode", "g_trade"], Default::default())
        .collect()
        .stage(st)?;
    let others = on_cycle(decided.clone())
        .filter(assoc.clone().neq(lit(Association::Resale.code())))
        .group_by([col("cycle"), assoc.clone().alias("a")])
        .agg([col("pay").sum().alias("pay")])
        .collect()
        .stage(st)?;
    // Association of each customer, for bill lines without consumption.
    let customer_assoc: BTreeMap<String, i32> = match &loaded.customers {
        Some(c) => c.list.iter().map(|c| (c.customer_id.clone(), c.association.code())).collect(),
        None => {
            let df = decided.group_by([col("cust")]).agg([col("c_assoc").fill_null(lit(0)).max().alias("a")]).collect().stage(st)?;
            let (cust, a) = (str_values(&df, "cust").stage(st)?, i32_values(&df, "a").stage(st)?);
            cust.into_iter().zip(a).map(|(c, a)| (c, a.unwrap_or(0))).collect()
        }
    };

    let cycle = i32_values(&joined, "cycle").stage(st)?;
    let cust = str_values(&joined, "cust").stage(st)?;
    let svc = str_values(&joined, "svc").stage(st)?;
    let mode = i32_values(&joined, "g_mode").stage(st)?;
    let trade = str_values(&joined, "g_trade").stage(st)?;
    let (c_amt, c_s) = dec_values(&joined, "c_amt").stage(st)?;
    let (b_amt, b_s) = dec_values(&joined, "b_amt").stage(st)?;
    let c_n = i64_values(&joined, "c_n").stage(st)?;
    let b_n = i64_values(&joined, "b_n").stage(st)?;
    let mut c_rows = row_lists(&joined, "c_rows").stage(st)?;
    let mut b_rows = row_lists(&joined, "b_rows").stage(st)?;

    let mut reports: BTreeMap<i32, BillCycle> = cycles
        .iter()
        .map(|&c| {
            let (use_mode, use_trade) = grain[&c];
            let mut g = vec!["customer_id", "service_type_code"];
            if use_mode {
                g.push("charging_mode");
            }
            if use_trade {
                g.push("trade_id");
            }
            let r = BillCycle {
                cycle: Period(c),
                consumption_total: Decimal::ZERO,
                bill_total: Decimal::ZERO,
                difference: Decimal::ZERO,
                referral_consumption: Decimal::ZERO,
                unknown_association_consumption: Decimal::ZERO,
                grain: g,
                categories: BTreeMap::new(),
            };
            (c, r)
        })
        .collect();
    {
        let (cy, a) = (i32_values(&others, "cycle").stage(st)?, i32_values(&others, "a").stage(st)?);
        let (pay, s) = dec_values(&others, "pay").stage(st)?;
        for i in 0..others.height() {
            if let Some(r) = reports.get_mut(&cy[i].unwrap_or(0)) {
                let v = phys_to_decimal(pay[i].unwrap_or(0), s);
                if a[i] == Some(Association::Referral.code()) {
                    r.referral_consumption += v;
                } else {
                    r.unknown_association_consumption += v;
                }
            }
        }
    }

    let mut findings = Vec::with_capacity(joined.height());
    for i in 0..joined.height() {
        let has_c = c_n[i].unwrap_or(0) > 0;
        let has_b = b_n[i].unwrap_or(0) > 0;
        let cons_amt = has_c.then(|| phys_to_decimal(c_amt[i].unwrap_or(0), c_s));
        let bill_amt = has_b.then(|| phys_to_decimal(b_amt[i].unwrap_or(0), b_s));
        let delta = bill_amt.unwrap_or_default() - cons_amt.unwrap_or_default();
        let category = match (has_c, has_b) {
            (true, true) if delta.is_zero() => Category::BillMatched,
            (true, true) if delta.abs() <= rules.tolerance => Category::BillRounding,
            (true, true) => Category::BillAmountMismatch,
            (true, false) => Category::BillMissingLine,
            _ if customer_assoc.get(&cust[i]) == Some(&Association::Referral.code()) => Category::BillNotResale,
            _ => Category::BillExtraLine,
        };
        let period = Period(cycle[i].unwrap_or(0));
        let charging_mode = ChargingMode::from_code(mode[i].unwrap_or(0));
        // Both sides were inner-joined on the bill cycles, so every group's cycle has a report.
        let report = reports
            .get_mut(&period.0)
            .ok_or_else(|| EngineError::Invariant(format!("bill group of cycle {period} has no bill cycle")))?;
        report.consumption_total += cons_amt.unwrap_or_default();
        report.bill_total += bill_amt.unwrap_or_default();
        let e = report.categories.entry(category).or_default();
        e.0 += 1;
        e.1 += delta;
        let grain = report.grain.join(",");
        let consumption_rows = std::mem::take(&mut c_rows[i]);
        let bill_rows = std::mem::take(&mut b_rows[i]);
        let customer_name = consumption_rows
            .iter()
            .find_map(|&r| loaded.consumption.customer_name.get(r as usize).map(str::to_string))
            .or_else(|| bill_rows.iter().find_map(|&r| bills.customer_name[r as usize].clone()))
            .unwrap_or_default();
        let mode_label = charging_mode.map_or("", |m| m.label());
        let id = finding_id('B', &[&period.to_string(), &cust[i], &svc[i], mode_label, &trade[i]]);
        let explanation = explain(category, period, &cust[i], &svc[i], mode_label, &trade[i], cons_amt, bill_amt, delta, &grain, rules);
        findings.push(Finding {
            id,
            period,
            category,
            action: action_for(category, delta, rules.tolerance),
            rule: 0,
            customer_id: cust[i].clone(),
            customer_name,
            trade_id: trade[i].clone(),
            service: svc[i].clone(),
            charging_mode,
            expected_period: None,
            expected_base: cons_amt,
            expected_incentive: None,
            actual_base: bill_amt,
            actual_incentive: None,
            delta,
            rule_ids: format!("BILL;grain:{grain}"),
            explanation,
            consumption_rows,
            incentive_rows: Vec::new(),
            actual_in: None,
            bill_rows,
        });
    }
    let mut out: Vec<BillCycle> = reports.into_values().collect();
    for r in &mut out {
        r.difference = r.bill_total - r.consumption_total;
        let sum: Decimal = r.categories.values().map(|(_, d)| *d).sum();
        if sum != r.difference {
            return Err(EngineError::Invariant(format!("bill cycle {}: categories sum to {sum}, bill − consumption = {}", r.cycle, r.difference)));
        }
    }
    // Every bill line lands in exactly one finding.
    let landed: usize = findings.iter().map(|f| f.bill_rows.len()).sum();
    if landed != bills.len() {
        return Err(EngineError::Invariant(format!("{landed} of {} bill lines landed in a bill finding", bills.len())));
    }
    Ok((findings, out))
}

#[allow(clippy::too_many_arguments)]
fn explain(
    category: Category,
    cycle: Period,
    cust: &str,
    svc: &str,
    mode: &str,
    trade: &str,
    cons: Option<Decimal>,
    bill: Option<Decimal>,
    delta: Decimal,
    grain: &str,
    rules: &RuleSet,
) -> String {
    let mut what_zh = format!("账期 {cycle} 客户 {cust} 产品类型 {svc}");
    let mut what_en = format!("bill cycle {cycle}, customer {cust}, service {svc}");
    if !mode.is_empty() {
        what_zh.push_str(&format!("（{mode}）"));
        what_en.push_str(&format!(" ({mode})"));
    }
    if !trade.is_empty() {
        what_zh.push_str(&format!(" 订单 {trade}"));
        what_en.push_str(&format!(", order {trade}"));
    }
    let c = cons.map_or("0.00".to_string(), m);
    let b = bill.map_or("0.00".to_string(), m);
    let d = m(delta);
    let (zh, en) = match category {
        Category::BillMatched => (format!("伙伴账单 {b} 与代售消费 {c} 一致"), format!("partner bill {b} equals resale consumption {c}")),
        Category::BillRounding => (
            format!("伙伴账单 {b} 与代售消费 {c} 相差 {d}，在容差 {} 内", rules.tolerance),
            format!("partner bill {b} differs from resale consumption {c} by {d}, within tolerance {}", rules.tolerance),
        ),
        Category::BillAmountMismatch => (format!("伙伴账单 {b} 与代售消费 {c} 不符，差额 {d}"), format!("partner bill {b} differs from resale consumption {c}: difference {d}")),
        Category::BillMissingLine => (format!("有代售消费 {c}，伙伴账单中没有对应条目，差额 {d}"), format!("resale consumption {c} has no partner bill line: difference {d}")),
        Category::BillExtraLine => (format!("伙伴账单条目 {b} 没有对应的代售消费，差额 {d}"), format!("partner bill line {b} has no resale consumption: difference {d}")),
        Category::BillNotResale => (
            format!("伙伴账单条目 {b} 属于顾问销售（推荐）客户，其消费不应进入伙伴账单，差额 {d}"),
            format!("partner bill line {b} is for a referral customer, whose consumption is not part of the partner bill: difference {d}"),
        ),
        _ => (String::new(), String::new()),
    };
    format!("{what_zh}：{zh}（比对粒度：{grain}） | {what_en}: {en} (grain: {grain})")
}
