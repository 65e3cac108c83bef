//! The dispute file for Partner Center's 问题反馈: one row per `dispute` finding, Chinese headers,
//! grouped by 对账期次 with a total per period, and a 问题描述 that is a complete sentence a Huawei
//! operator can act on (period, order, expected and actual incentive, rule and rate, difference,
//! evidence rows).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use rust_decimal::Decimal;

use super::{cite_rows, csv_err, io_err, neutral, ReportError};
use crate::engine::{Action, Category, FindingRef, Outcome};
use crate::load::Loaded;
use crate::model::{fmt_money, Period};
use crate::rules::RuleSet;

pub const HEADER: [&str; 11] = ["对账期次", "问题编号", "订单号/交易号", "客户ID", "客户名称", "产品类型编码", "应得激励", "实得激励", "差额", "问题类型", "问题描述"];

/// One line of the dispute file.
#[derive(Debug, Clone)]
pub struct Dispute {
    pub period: Period,
    pub id: String,
    pub trade_id: String,
    pub customer_id: String,
    pub customer_name: String,
    pub service: String,
    pub expected: Decimal,
    pub actual: Decimal,
    pub delta: Decimal,
    pub category: Category,
    pub description: String,
}

/// The disputes of a run, grouped by period (in period order, then by finding order).
pub fn disputes(outcome: &Outcome, loaded: &Loaded, rules: &RuleSet) -> Vec<Dispute> {
    let mut out: Vec<Dispute> = outcome.findings.iter().filter(|f| f.action == Action::Dispute).map(|f| dispute(&f.view(), loaded, rules)).collect();
    sort(&mut out);
    out
}

/// Puts disputes in the file's order: by period, then trade id and service.
pub fn sort(disputes: &mut [Dispute]) {
    disputes.sort_by(|a, b| (a.period, &a.trade_id, &a.service).cmp(&(b.period, &b.trade_id, &b.service)));
}

/// Per-period totals of expected, actual and difference.
pub fn totals(disputes: &[Dispute]) -> Vec<(Period, usize, Decimal, Decimal, Decimal)> {
    let mut out: Vec<(Period, usize, Decimal, Decimal, Decimal)> = Vec::new();
    for d in disputes {
        match out.last_mut() {
            Some(t) if t.0 == d.period => {
                t.1 += 1;
                t.2 += d.expected;
                t.3 += d.actual;
                t.4 += d.delta;
            }
            _ => out.push((d.period, 1, d.expected, d.actual, d.delta)),
        }
    }
    out
}

/// The dispute line of a `dispute` finding (its evidence cites the rows `loaded` holds).
pub fn dispute(f: &FindingRef, loaded: &Loaded, rules: &RuleSet) -> Dispute {
    let expected = f.expected_incentive.unwrap_or_default();
    let actual = f.actual_incentive.unwrap_or_default();
    let products: Vec<String> = f
        .rule_ids
        .split(';')
        .filter_map(|p| p.strip_prefix("product:"))
        .map(|id| match rules.products.iter().find(|p| p.id == id) {
            Some(p) => format!("{}（激励比例 {}%）", p.id, (p.rate * Decimal::ONE_HUNDRED).normalize()),
            None => id.to_string(),
        })
        .collect();
    let mode = f.charging_mode.map_or(String::new(), |m| format!("，计费模式 {}", m.label()));
    let customer = if f.customer_name.is_empty() { f.customer_id.to_string() } else { format!("{}（{}）", f.customer_name, f.customer_id) };
    let base = f.expected_base.map_or(String::new(), |b| format!("，激励基数 {}", fmt_money(b)));
    let why = match f.category {
        Category::MissingIncentive => "激励明细中缺少该订单的激励".to_string(),
        Category::RateMismatch => "激励明细的激励比例与激励政策不符".to_string(),
        Category::BaseMismatch => format!("激励明细的激励基数 {} 与消费明细计算的基数不符", f.actual_base.map_or("-".into(), fmt_money)),
        Category::AmountMismatch => "激励金额与按激励政策计算的金额不符".to_string(),
        Category::PeriodShift => format!("该订单应在对账期次 {} 结算，实际在 {} 发放且金额不足", f.expected_period.map_or("-".into(), |p| p.to_string()), f.period),
        other => other.label_zh().to_string(),
    };
    let mut evidence = Vec::new();
    if !f.consumption_rows.is_empty() {
        evidence.push(format!("消费明细 {}", cite_rows(&loaded.consumption.prov, &f.consumption_rows)));
    }
    if !f.incentive_rows.is_empty() {
        evidence.push(format!("激励明细 {}", cite_rows(&loaded.incentives.prov, &f.incentive_rows)));
    }
    let rule = f.rule_ids.split(';').next().unwrap_or("");
    let description = format!(
        "对账期次 {period} 订单 {trade}（客户 {customer}，产品类型 {service}{mode}）：按激励政策 {policy} {version} 的产品 {products}{base}，应得激励 {exp}，实得激励 {act}，差额 {delta}。原因：{why}（规则 {rule}）。依据：{evidence}。请核实并补发差额 {owed}。",
        period = f.period,
        trade = f.trade_id,
        service = f.service,
        policy = rules.name,
        version = rules.version,
        products = if products.is_empty() { "-".to_string() } else { products.join("、") },
        exp = fmt_money(expected),
        act = fmt_money(actual),
        delta = fmt_money(f.delta),
        evidence = if evidence.is_empty() { "-".to_string() } else { evidence.join("；") },
        owed = fmt_money(-f.delta),
    );
    Dispute {
        period: f.period,
        id: f.id.to_string(),
        trade_id: f.trade_id.to_string(),
        customer_id: f.customer_id.to_string(),
        customer_name: f.customer_name.to_string(),
        service: f.service.to_string(),
        expected,
        actual,
        delta: f.delta,
        category: f.category,
        description,
    }
}

/// `disputes.csv`: UTF-8 with BOM (Excel opens it with the Chinese intact), a total line after
/// each period. Its text columns are [`neutral`]ised against formulas; its amounts are not.
pub fn write_csv(path: &Path, disputes: &[Dispute]) -> Result<(), ReportError> {
    let mut file = BufWriter::new(File::create(path).map_err(io_err(path))?);
    file.write_all(b"\xEF\xBB\xBF").map_err(io_err(path))?;
    let mut w = csv::Writer::from_writer(file);
    w.write_record(HEADER).map_err(csv_err(path))?;
    let totals = totals(disputes);
    for (period, n, exp, act, delta) in &totals {
        for d in disputes.iter().filter(|d| d.period == *period) {
            w.write_record([
                d.period.to_string(),
                d.id.clone(),
                neutral(&d.trade_id).into_owned(),
                neutral(&d.customer_id).into_owned(),
                neutral(&d.customer_name).into_owned(),
                neutral(&d.service).into_owned(),
                fmt_money(d.expected),
                fmt_money(d.actual),
                fmt_money(d.delta),
                d.category.label_zh().to_string(),
                neutral(&d.description).into_owned(),
            ])
            .map_err(csv_err(path))?;
        }
        w.write_record([
            period.to_string(),
            format!("合计（{n} 项）"),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
            fmt_money(*exp),
            fmt_money(*act),
            fmt_money(*delta),
            String::new(),
            format!("对账期次 {period} 共 {n} 项争议，应得 {}，实得 {}，差额 {}。", fmt_money(*exp), fmt_money(*act), fmt_money(*delta)),
        ])
        .map_err(csv_err(path))?;
    }
    w.flush().map_err(io_err(path))
}
