//! The partner bill (伙伴账单) against resale (代售) consumption. For each bill cycle present in
//! the bill files, resale consumption's `payment_amount` and the bill lines are summed on the
//! finest grain both sides share (customer and service always; charging mode and trade id when
//! every line of both sides in that cycle has them), full-outer-joined in polars, and each group
//! becomes one `B` finding with `delta = bill − consumption`.

use std::collections::BTreeMap;

use polars::prelude::*;
use rust_decimal::Decimal;

use super::decide::{action_for, finding_id, Action, Category, Finding, FindingOf};
use super::frames;
use super::frames::{dec_column, dec_values, i32_values, i64_values, row_lists, str_values};
use super::{phys_to_decimal, EngineError, Stage};
use crate::load::{Bills, Consumption, Customers, Loaded};
use crate::model::{fmt_money as m, Association, ChargingMode, Period, AMOUNT_SCALE, MAX_CITES};
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

/// Per bill cycle, its bill lines: how many, how many with a charging mode, how many with a
/// trade id.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LineFacts {
    pub n: u64,
    pub with_mode: u64,
    pub with_trade: u64,
}

/// Per bill cycle, its resale customers' consumption rows: how many, how many with a charging
/// mode.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ResaleFacts {
    pub n: u64,
    pub with_mode: u64,
}

/// The grain of each bill cycle present in the bill files: (charging mode?, trade id?).
pub type Grain = BTreeMap<i32, (bool, bool)>;

/// A cycle is compared by charging mode when every line of both sides has one, and by trade id
/// when every bill line has one (consumption always has).
pub fn grain_from(lines: &BTreeMap<i32, LineFacts>, resale: &BTreeMap<i32, ResaleFacts>) -> Grain {
    lines
        .iter()
        .map(|(&cycle, l)| {
            let mode = l.with_mode == l.n && resale.get(&cycle).is_none_or(|r| r.with_mode == r.n);
            (cycle, (mode, l.with_trade == l.n))
        })
        .collect()
}

/// The bill lines' facts of [`grain_from`], in Rust (a streamed run counts them as it reads).
pub fn line_facts(b: &Bills, facts: &mut BTreeMap<i32, LineFacts>) {
    for i in 0..b.len() {
        let f = facts.entry(b.cycle[i]).or_default();
        f.n += 1;
        f.with_mode += u64::from(b.mode[i] != 0);
        f.with_trade += u64::from(!b.trade_id[i].is_empty());
    }
}

/// The consumption side of the facts of [`grain_from`], and each customer's association as the
/// rows tell it, from a set of consumption rows (a streamed run's blocks one after the other, or
/// an in-memory run's all at once). For the bill, a row's customer is resale by the customers
/// file when the file lists it, else by the row's own association type (contract §1.4: a 代售
/// customer left out of the customers file is still billed), as [`grouped`] takes it.
pub fn resale_facts(c: &Consumption, customers: Option<&Customers>, resale: &mut BTreeMap<i32, ResaleFacts>, assoc: &mut Associations) {
    let resale_code = Association::Resale.code();
    for i in 0..c.len() {
        let cust = &c.customer_id[i];
        let listed = customers.and_then(|list| list.index.get(cust).map(|&k| list.list[k].association.code()));
        let a = match listed {
            Some(a) => a,
            None => {
                let a = c.assoc[i];
                match assoc.rows.get_mut(cust) {
                    Some(m) => *m = (*m).max(a),
                    None => {
                        assoc.rows.insert(cust.to_string(), a);
                    }
                }
                a
            }
        };
        if a == resale_code {
            let f = resale.entry(c.cycle[i]).or_default();
            f.n += 1;
            f.with_mode += u64::from(c.mode[i] != 0);
        }
    }
}

/// Each customer's largest association code over its consumption rows, for the customers the
/// customers file does not list (all of them without one): what tells a bill line without
/// consumption whether its customer is a referral one.
#[derive(Debug, Default)]
pub struct Associations {
    rows: std::collections::HashMap<String, i32>,
}

/// A bill group's customer as the bill check sees it.
#[derive(Debug, Clone, Copy, Default)]
pub struct Whose {
    /// A referral (顾问销售) customer: its bill lines are BILL_NOT_RESALE.
    pub referral: bool,
    /// A customers file is given and does not list the customer: its association type comes
    /// from its consumption rows (and it earns no incentive).
    pub unlisted: bool,
}

impl Associations {
    /// How `cust` is associated: by the customers file when it lists the customer, else by its
    /// consumption rows.
    pub fn of(&self, customers: Option<&Customers>, cust: &str) -> Whose {
        match customers.and_then(|c| c.index.get(cust).map(|&i| c.list[i].association)) {
            Some(a) => Whose { referral: a == Association::Referral, unlisted: false },
            None => Whose { referral: self.rows.get(cust) == Some(&Association::Referral.code()), unlisted: customers.is_some() },
        }
    }
}

/// Both sides summed per group of the grain, full-joined and sorted by cycle, customer, service,
/// charging mode and trade id; and the other (not resale) consumption per cycle and association.
fn grouped(decided: &LazyFrame, bills_lf: LazyFrame, grain: &Grain) -> PolarsResult<(DataFrame, DataFrame)> {
    let cycles: Vec<i32> = grain.keys().copied().collect();
    let flags = DataFrame::new(
        cycles.len(),
        vec![
            Column::new("cycle".into(), cycles.clone()),
            Column::new("use_mode".into(), cycles.iter().map(|c| grain[c].0).collect::<Vec<bool>>()),
            Column::new("use_trade".into(), cycles.iter().map(|c| grain[c].1).collect::<Vec<bool>>()),
        ],
    )?
    .lazy();
    let on_cycle = |lf: LazyFrame| {
        lf.join(flags.clone(), [col("cycle")], [col("cycle")], JoinArgs::new(JoinType::Inner)).with_columns([
            when(col("use_mode")).then(col("mode")).otherwise(lit(0)).alias("g_mode"),
            when(col("use_trade")).then(col("trade")).otherwise(lit("")).alias("g_trade"),
        ])
    };
    let keys = [col("cycle"), col("cust"), col("svc"), col("g_mode"), col("g_trade")];
    // (the customers file's type when it lists the customer, else the row's own)
    let assoc = col("c_assoc").fill_null(col("assoc")).fill_null(lit(0));
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
        .collect()?;
    let others = on_cycle(decided.clone())
        .filter(assoc.clone().neq(lit(Association::Resale.code())))
        .group_by([col("cycle"), assoc.alias("a")])
        .agg([col("pay").sum().alias("pay")])
        .collect()?;
    Ok((joined, others))
}

/// The columns of [`grouped`]'s joined frame, read into Rust.
struct Joined {
    cycle: Vec<Option<i32>>,
    cust: Vec<String>,
    svc: Vec<String>,
    mode: Vec<Option<i32>>,
    trade: Vec<String>,
    c_amt: Vec<Option<i128>>,
    c_s: usize,
    b_amt: Vec<Option<i128>>,
    b_s: usize,
    c_n: Vec<Option<i64>>,
    b_n: Vec<Option<i64>>,
    c_rows: Vec<Vec<u32>>,
    b_rows: Vec<Vec<u32>>,
}

impl Joined {
    fn read(joined: &DataFrame) -> PolarsResult<Joined> {
        let (c_amt, c_s) = dec_values(joined, "c_amt")?;
        let (b_amt, b_s) = dec_values(joined, "b_amt")?;
        Ok(Joined {
            cycle: i32_values(joined, "cycle")?,
            cust: str_values(joined, "cust")?,
            svc: str_values(joined, "svc")?,
            mode: i32_values(joined, "g_mode")?,
            trade: str_values(joined, "g_trade")?,
            c_amt,
            c_s,
            b_amt,
            b_s,
            c_n: i64_values(joined, "c_n")?,
            b_n: i64_values(joined, "b_n")?,
            c_rows: row_lists(joined, "c_rows")?,
            b_rows: row_lists(joined, "b_rows")?,
        })
    }
}

/// The other consumption of each cycle, as (referral, unknown association).
fn others_of(others: &DataFrame) -> PolarsResult<BTreeMap<i32, (Decimal, Decimal)>> {
    let (cy, a) = (i32_values(others, "cycle")?, i32_values(others, "a")?);
    let (pay, s) = dec_values(others, "pay")?;
    let mut out: BTreeMap<i32, (Decimal, Decimal)> = BTreeMap::new();
    for i in 0..others.height() {
        let e = out.entry(cy[i].unwrap_or(0)).or_default();
        let v = phys_to_decimal(pay[i].unwrap_or(0), s);
        if a[i] == Some(Association::Referral.code()) {
            e.0 += v;
        } else {
            e.1 += v;
        }
    }
    Ok(out)
}

/// An empty report for each cycle of the grain.
pub fn new_reports(grain: &Grain) -> BTreeMap<i32, BillCycle> {
    grain
        .iter()
        .map(|(&c, &(use_mode, use_trade))| {
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
        .collect()
}

/// Adds other consumption (see [`others_of`]) to the reports of its cycles.
pub fn add_others(reports: &mut BTreeMap<i32, BillCycle>, others: &BTreeMap<i32, (Decimal, Decimal)>) {
    for (c, (referral, unknown)) in others {
        if let Some(r) = reports.get_mut(c) {
            r.referral_consumption += *referral;
            r.unknown_association_consumption += *unknown;
        }
    }
}

/// One group of the grain: its key (cycle, customer, service, charging mode code, trade id; the
/// last two empty when the grain has not them).
pub struct GroupKey<'a> {
    pub cycle: i32,
    pub cust: &'a str,
    pub svc: &'a str,
    pub mode: i32,
    pub trade: &'a str,
}

/// What is decided of a group, beside its rows and customer name.
pub struct Decided {
    pub id: String,
    pub category: Category,
    pub action: Action,
    pub delta: Decimal,
    pub rule_ids: String,
    pub explanation: String,
    pub charging_mode: Option<ChargingMode>,
}

/// The one place a bill finding is made: a group's key and decision, the name of its customer
/// and its two sides' sums and rows, its texts made with `text` (owned by an in-memory run,
/// borrowed by a streamed one, which writes the record straight from it).
pub fn finding<'a, S, R: Default>(
    k: &GroupKey<'a>,
    d: &'a Decided,
    customer_name: S,
    (cons, bill): (Option<Decimal>, Option<Decimal>),
    (consumption_rows, bill_rows): (R, R),
    text: impl Fn(&'a str) -> S,
) -> FindingOf<S, R> {
    FindingOf {
        id: text(&d.id),
        period: Period(k.cycle),
        category: d.category,
        action: d.action,
        rule: 0,
        customer_id: text(k.cust),
        customer_name,
        trade_id: text(k.trade),
        service: text(k.svc),
        charging_mode: d.charging_mode,
        expected_period: None,
        expected_base: cons,
        expected_incentive: None,
        actual_base: bill,
        actual_incentive: None,
        delta: d.delta,
        rule_ids: text(&d.rule_ids),
        explanation: text(&d.explanation),
        consumption_rows,
        incentive_rows: R::default(),
        actual_in: None,
        bill_rows,
    }
}

/// Decides a group from its two sums (`None`: no row on that side) and how its customer is
/// associated, and counts it in its cycle's report.
pub fn decide(reports: &mut BTreeMap<i32, BillCycle>, k: &GroupKey, cons_amt: Option<Decimal>, bill_amt: Option<Decimal>, whose: Whose, rules: &RuleSet) -> Result<Decided, EngineError> {
    let d = judge(reports, k, cons_amt, bill_amt, whose, rules)?;
    tally(reports, k.cycle, &d, cons_amt, bill_amt)?;
    Ok(d)
}

/// [`decide`] without counting the group (see [`tally`]): `reports` only gives the cycle's grain.
pub fn judge(reports: &BTreeMap<i32, BillCycle>, k: &GroupKey, cons_amt: Option<Decimal>, bill_amt: Option<Decimal>, whose: Whose, rules: &RuleSet) -> Result<Decided, EngineError> {
    let delta = bill_amt.unwrap_or_default() - cons_amt.unwrap_or_default();
    let category = match (cons_amt.is_some(), bill_amt.is_some()) {
        (true, true) if delta.is_zero() => Category::BillMatched,
        (true, true) if delta.abs() <= rules.tolerance => Category::BillRounding,
        (true, true) => Category::BillAmountMismatch,
        (true, false) => Category::BillMissingLine,
        _ if whose.referral => Category::BillNotResale,
        _ => Category::BillExtraLine,
    };
    let period = Period(k.cycle);
    let charging_mode = ChargingMode::from_code(k.mode);
    // Both sides were inner-joined on the bill cycles, so every group's cycle has a report.
    let report = reports.get(&period.0).ok_or_else(|| no_report(period))?;
    let grain = report.grain.join(",");
    let mode_label = charging_mode.map_or("", |m| m.label());
    Ok(Decided {
        id: finding_id('B', &[&period.to_string(), k.cust, k.svc, mode_label, k.trade]),
        category,
        action: action_for(category, delta, rules.tolerance),
        delta,
        rule_ids: format!("BILL;grain:{grain}"),
        explanation: explain(category, period, k, mode_label, (cons_amt, bill_amt, delta), whose, &grain, rules),
        charging_mode,
    })
}

fn no_report(period: Period) -> EngineError {
    EngineError::Invariant(format!("bill group of cycle {period} has no bill cycle"))
}

/// Counts a group [`judge`]d in its cycle's report.
pub fn tally(reports: &mut BTreeMap<i32, BillCycle>, cycle: i32, d: &Decided, cons_amt: Option<Decimal>, bill_amt: Option<Decimal>) -> Result<(), EngineError> {
    let report = reports.get_mut(&cycle).ok_or_else(|| no_report(Period(cycle)))?;
    report.consumption_total += cons_amt.unwrap_or_default();
    report.bill_total += bill_amt.unwrap_or_default();
    let e = report.categories.entry(d.category).or_default();
    e.0 += 1;
    e.1 += d.delta;
    Ok(())
}

/// The reports with their differences, checked: each cycle's categories add up to it.
pub fn finish_reports(reports: BTreeMap<i32, BillCycle>) -> Result<Vec<BillCycle>, EngineError> {
    let mut out: Vec<BillCycle> = reports.into_values().collect();
    for r in &mut out {
        r.difference = r.bill_total - r.consumption_total;
        let sum: Decimal = r.categories.values().map(|(_, d)| *d).sum();
        if sum != r.difference {
            return Err(EngineError::Invariant(format!("bill cycle {}: categories sum to {sum}, bill − consumption = {}", r.cycle, r.difference)));
        }
    }
    Ok(out)
}

pub fn reconcile(decided: LazyFrame, loaded: &Loaded, rules: &RuleSet, grain: Option<&Grain>) -> Result<(Vec<Finding>, Vec<BillCycle>), EngineError> {
    let Some(bills) = &loaded.bills else { return Ok((Vec::new(), Vec::new())) };
    let st = "reconciling the partner bill";
    let bills_lf = bill_frame(bills).stage(st)?;
    let mut lines = BTreeMap::new();
    line_facts(bills, &mut lines);
    let (mut resale, mut assoc) = (BTreeMap::new(), Associations::default());
    let customers = loaded.customers.as_deref();
    resale_facts(&loaded.consumption, customers, &mut resale, &mut assoc);
    // (a grain given is that of every row, where `loaded` holds only some customers' rows)
    let grain = grain.cloned().unwrap_or_else(|| grain_from(&lines, &resale));
    let (joined, others) = grouped(&decided, bills_lf, &grain).stage(st)?;

    let Joined { cycle, cust, svc, mode, trade, c_amt, c_s, b_amt, b_s, c_n, b_n, mut c_rows, mut b_rows } = Joined::read(&joined).stage(st)?;

    let mut reports = new_reports(&grain);
    add_others(&mut reports, &others_of(&others).stage(st)?);
    let mut findings = Vec::with_capacity(joined.height());
    for i in 0..joined.height() {
        let has_c = c_n[i].unwrap_or(0) > 0;
        let has_b = b_n[i].unwrap_or(0) > 0;
        let cons_amt = has_c.then(|| phys_to_decimal(c_amt[i].unwrap_or(0), c_s));
        let bill_amt = has_b.then(|| phys_to_decimal(b_amt[i].unwrap_or(0), b_s));
        let key = GroupKey { cycle: cycle[i].unwrap_or(0), cust: &cust[i], svc: &svc[i], mode: mode[i].unwrap_or(0), trade: &trade[i] };
        let d = decide(&mut reports, &key, cons_amt, bill_amt, assoc.of(customers, &cust[i]), rules)?;
        let consumption_rows = std::mem::take(&mut c_rows[i]);
        let bill_rows = std::mem::take(&mut b_rows[i]);
        let customer_name = consumption_rows
            .iter()
            .find_map(|&r| loaded.consumption.customer_name.get(r as usize).map(str::to_string))
            .or_else(|| bill_rows.iter().find_map(|&r| bills.customer_name[r as usize].clone()))
            .unwrap_or_default();
        findings.push(finding(&key, &d, customer_name, (cons_amt, bill_amt), (consumption_rows, bill_rows), str::to_string));
    }
    let out = finish_reports(reports)?;
    // Every bill line lands in exactly one finding.
    let landed: usize = findings.iter().map(|f| f.bill_rows.len()).sum();
    if landed != bills.len() {
        return Err(EngineError::Invariant(format!("{landed} of {} bill lines landed in a bill finding", bills.len())));
    }
    Ok((findings, out))
}

/// A group of the grain as one partition of a streamed run sees it: its sums and counts, the
/// first source rows of each side (as (table, location), the order of the files) and the first
/// customer name of each side. Groups of the same key from several partitions (a cycle compared
/// by customer, not trade id) are merged with [`Partial::merge`] into the group.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Partial {
    pub cycle: i32,
    pub cust: String,
    pub svc: String,
    pub mode: i32,
    pub trade: String,
    pub cons: Option<Decimal>,
    pub c_n: u64,
    pub c_cites: Vec<(u32, u32)>,
    pub c_name: Option<((u32, u32), String)>,
    pub bill: Option<Decimal>,
    pub b_n: u64,
    pub b_cites: Vec<(u32, u32)>,
    pub b_name: Option<((u32, u32), String)>,
}

impl Partial {
    /// The key groups are sorted by (as the in-memory check sorts its joined frame).
    pub fn key(&self) -> (i32, &str, &str, i32, &str) {
        (self.cycle, &self.cust, &self.svc, self.mode, &self.trade)
    }

    /// Adds another partition's part of the same group.
    pub fn merge(&mut self, o: Partial) {
        fn add(a: Option<Decimal>, b: Option<Decimal>) -> Option<Decimal> {
            match (a, b) {
                (Some(a), Some(b)) => Some(a + b),
                (a, b) => a.or(b),
            }
        }
        fn firsts(a: &mut Vec<(u32, u32)>, b: Vec<(u32, u32)>) {
            a.extend(b);
            a.sort_unstable();
            a.truncate(MAX_CITES);
        }
        fn first_name(a: &mut Option<((u32, u32), String)>, b: Option<((u32, u32), String)>) {
            if let Some(b) = b {
                if a.as_ref().is_none_or(|a| b.0 < a.0) {
                    *a = Some(b);
                }
            }
        }
        self.cons = add(self.cons, o.cons);
        self.c_n += o.c_n;
        firsts(&mut self.c_cites, o.c_cites);
        first_name(&mut self.c_name, o.c_name);
        self.bill = add(self.bill, o.bill);
        self.b_n += o.b_n;
        firsts(&mut self.b_cites, o.b_cites);
        first_name(&mut self.b_name, o.b_name);
    }
}

/// The groups of one partition of a streamed run (its rows: every row of a trade id is in one
/// partition, so a group compared by trade id is whole here), sorted by [`Partial::key`], with
/// the partition's other consumption per cycle (referral, unknown association).
#[allow(clippy::type_complexity)]
pub fn partials(decided: LazyFrame, loaded: &Loaded, grain: &Grain) -> Result<(Vec<Partial>, BTreeMap<i32, (Decimal, Decimal)>), EngineError> {
    let st = "grouping the partner bill";
    let empty = Bills::default();
    let bills = loaded.bills.as_ref().unwrap_or(&empty);
    let (joined, others) = grouped(&decided, bill_frame(bills).stage(st)?, grain).stage(st)?;
    let Joined { cycle, cust, svc, mode, trade, c_amt, c_s, b_amt, b_s, c_n, b_n, c_rows, b_rows } = Joined::read(&joined).stage(st)?;
    let cons_prov = &loaded.consumption.prov;
    let mut out = Vec::with_capacity(joined.height());
    for i in 0..joined.height() {
        let (cn, bn) = (c_n[i].unwrap_or(0).max(0) as u64, b_n[i].unwrap_or(0).max(0) as u64);
        let c_name = c_rows[i].iter().find_map(|&r| loaded.consumption.customer_name.get(r as usize).map(|n| (cons_prov.rows[r as usize], n.to_string())));
        let b_name = b_rows[i].iter().find_map(|&r| bills.customer_name[r as usize].clone().map(|n| (bills.prov.rows[r as usize], n)));
        out.push(Partial {
            cycle: cycle[i].unwrap_or(0),
            cust: cust[i].clone(),
            svc: svc[i].clone(),
            mode: mode[i].unwrap_or(0),
            trade: trade[i].clone(),
            cons: (cn > 0).then(|| phys_to_decimal(c_amt[i].unwrap_or(0), c_s)),
            c_n: cn,
            c_cites: c_rows[i].iter().take(MAX_CITES).map(|&r| cons_prov.rows[r as usize]).collect(),
            c_name,
            bill: (bn > 0).then(|| phys_to_decimal(b_amt[i].unwrap_or(0), b_s)),
            b_n: bn,
            b_cites: b_rows[i].iter().take(MAX_CITES).map(|&r| bills.prov.rows[r as usize]).collect(),
            b_name,
        });
    }
    Ok((out, others_of(&others).stage(st)?))
}

#[allow(clippy::too_many_arguments)]
fn explain(
    category: Category,
    cycle: Period,
    k: &GroupKey,
    mode: &str,
    (cons, bill, delta): (Option<Decimal>, Option<Decimal>, Decimal),
    whose: Whose,
    grain: &str,
    rules: &RuleSet,
) -> String {
    let (cust, svc, trade) = (k.cust, k.svc, k.trade);
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
    let (note_zh, note_en) = match whose.unlisted {
        true => ("；客户不在客户文件中，关联类型取自其消费明细（不计激励）", "; the customer is not in the customers file: its association type is taken from its consumption rows (it earns no incentive)"),
        false => ("", ""),
    };
    format!("{what_zh}：{zh}{note_zh}（比对粒度：{grain}） | {what_en}: {en}{note_en} (grain: {grain})")
}
