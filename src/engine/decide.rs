//! The per-key decision: the first of the contract's 15 ordered rules that fits, PERIOD_SHIFT
//! pairing across loaded periods, the scope, and an explanation in Chinese and English that names
//! the rule and the numbers.

use std::borrow::Cow;
use std::collections::BTreeSet;

use polars::prelude::PlHashMap as HashMap;
use std::fmt::Write as _;

use rust_decimal::Decimal;
use sha2::{Digest, Sha256};

use super::frames::{INELIGIBLE, NA_GRACE, NA_LAG, NA_NOT_IN_FILE, NA_TYPE, NOT_ATTRIBUTED};
use super::{first_mode, Key, RowDecisions};
use crate::load::{from_phys, Loaded};
use crate::model::{money_str, Association, ChargingMode, MoneyText, Period};
use crate::rules::RuleSet;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Category {
    DuplicateIncentive,
    Matched,
    Rounding,
    RateMismatch,
    BaseMismatch,
    AmountMismatch,
    PeriodShift,
    RolloverPending,
    MissingIncentive,
    UnexpectedIncentive,
    OutOfScope,
    OrphanIncentive,
    IneligibleProduct,
    NotAttributed,
    BillMatched,
    BillRounding,
    BillAmountMismatch,
    BillMissingLine,
    BillExtraLine,
    BillNotResale,
}

impl Category {
    pub const BILL: [Category; 6] = [
        Category::BillMatched,
        Category::BillRounding,
        Category::BillAmountMismatch,
        Category::BillMissingLine,
        Category::BillExtraLine,
        Category::BillNotResale,
    ];

    pub const ALL: [Category; 14] = [
        Category::DuplicateIncentive,
        Category::Matched,
        Category::Rounding,
        Category::RateMismatch,
        Category::BaseMismatch,
        Category::AmountMismatch,
        Category::PeriodShift,
        Category::RolloverPending,
        Category::MissingIncentive,
        Category::UnexpectedIncentive,
        Category::OutOfScope,
        Category::OrphanIncentive,
        Category::IneligibleProduct,
        Category::NotAttributed,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Category::DuplicateIncentive => "DUPLICATE_INCENTIVE",
            Category::Matched => "MATCHED",
            Category::Rounding => "ROUNDING",
            Category::RateMismatch => "RATE_MISMATCH",
            Category::BaseMismatch => "BASE_MISMATCH",
            Category::AmountMismatch => "AMOUNT_MISMATCH",
            Category::PeriodShift => "PERIOD_SHIFT",
            Category::RolloverPending => "ROLLOVER_PENDING",
            Category::MissingIncentive => "MISSING_INCENTIVE",
            Category::UnexpectedIncentive => "UNEXPECTED_INCENTIVE",
            Category::OutOfScope => "OUT_OF_SCOPE",
            Category::OrphanIncentive => "ORPHAN_INCENTIVE",
            Category::IneligibleProduct => "INELIGIBLE_PRODUCT",
            Category::NotAttributed => "NOT_ATTRIBUTED",
            Category::BillMatched => "BILL_MATCHED",
            Category::BillRounding => "BILL_ROUNDING",
            Category::BillAmountMismatch => "BILL_AMOUNT_MISMATCH",
            Category::BillMissingLine => "BILL_MISSING_LINE",
            Category::BillExtraLine => "BILL_EXTRA_LINE",
            Category::BillNotResale => "BILL_NOT_RESALE",
        }
    }

    /// The Chinese label used in the dispute file and reports.
    pub fn label_zh(self) -> &'static str {
        match self {
            Category::DuplicateIncentive => "重复激励",
            Category::Matched => "一致",
            Category::Rounding => "舍入差异",
            Category::RateMismatch => "激励比例不符",
            Category::BaseMismatch => "激励基数不符",
            Category::AmountMismatch => "激励金额不符",
            Category::PeriodShift => "跨期",
            Category::RolloverPending => "待下期结算",
            Category::MissingIncentive => "激励缺失",
            Category::UnexpectedIncentive => "非预期激励",
            Category::OutOfScope => "超出核对范围",
            Category::OrphanIncentive => "无对应消费的激励",
            Category::IneligibleProduct => "不参与激励的产品",
            Category::NotAttributed => "未归属伙伴",
            Category::BillMatched => "账单一致",
            Category::BillRounding => "账单舍入差异",
            Category::BillAmountMismatch => "账单金额不符",
            Category::BillMissingLine => "账单缺少消费",
            Category::BillExtraLine => "账单多出条目",
            Category::BillNotResale => "非代售客户入账",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Action {
    None,
    Dispute,
    Review,
}

impl Action {
    pub fn name(self) -> &'static str {
        match self {
            Action::None => "none",
            Action::Dispute => "dispute",
            Action::Review => "review",
        }
    }
}

/// One finding: a key and its decision, with everything the reports show. Generic over how it
/// holds its texts (`S`) and row lists (`R`): a [`Finding`] owns them (what the reports keep); a
/// [`FindingRef`] borrows them from the key, the loaded rows and the decider's buffers (the
/// findings.csv record is written straight from it; a streamed run owns nothing per key).
#[derive(Debug, Clone)]
pub struct FindingOf<S, R> {
    pub id: S,
    pub period: Period,
    pub category: Category,
    pub action: Action,
    /// The contract §3 rule number that decided it (1..=15).
    pub rule: u8,
    pub customer_id: S,
    pub customer_name: S,
    pub trade_id: S,
    pub service: S,
    pub charging_mode: Option<ChargingMode>,
    pub expected_period: Option<Period>,
    pub expected_base: Option<Decimal>,
    pub expected_incentive: Option<Decimal>,
    pub actual_base: Option<Decimal>,
    pub actual_incentive: Option<Decimal>,
    pub delta: Decimal,
    pub rule_ids: S,
    pub explanation: S,
    pub consumption_rows: R,
    pub incentive_rows: R,
    /// Where each side lies, for the waterfall's category deltas.
    pub actual_in: Option<Period>,
    /// Partner bill lines behind a bill finding (cited in the `incentive_rows` column).
    pub bill_rows: R,
}

/// A finding that owns its texts and row lists.
pub type Finding = FindingOf<String, Vec<u32>>;

/// A finding that borrows them.
pub type FindingRef<'a> = FindingOf<&'a str, &'a [u32]>;

impl<S, R> FindingOf<S, R> {
    /// The same finding with each text and row list mapped.
    fn map<'s, S2, R2>(&'s self, s: impl Fn(&'s S) -> S2, r: impl Fn(&'s R) -> R2) -> FindingOf<S2, R2> {
        FindingOf {
            id: s(&self.id),
            period: self.period,
            category: self.category,
            action: self.action,
            rule: self.rule,
            customer_id: s(&self.customer_id),
            customer_name: s(&self.customer_name),
            trade_id: s(&self.trade_id),
            service: s(&self.service),
            charging_mode: self.charging_mode,
            expected_period: self.expected_period,
            expected_base: self.expected_base,
            expected_incentive: self.expected_incentive,
            actual_base: self.actual_base,
            actual_incentive: self.actual_incentive,
            delta: self.delta,
            rule_ids: s(&self.rule_ids),
            explanation: s(&self.explanation),
            consumption_rows: r(&self.consumption_rows),
            incentive_rows: r(&self.incentive_rows),
            actual_in: self.actual_in,
            bill_rows: r(&self.bill_rows),
        }
    }
}

impl Finding {
    /// This finding, borrowed.
    pub fn view(&self) -> FindingRef<'_> {
        self.map(String::as_str, Vec::as_slice)
    }
}

impl FindingRef<'_> {
    /// This finding, owned.
    pub fn to_finding(&self) -> Finding {
        self.map(|s| s.to_string(), |r| r.to_vec())
    }
}

/// Buffers that deciding a key writes into, reused from key to key by one thread.
#[derive(Debug, Default)]
pub struct Scratch {
    rows: Vec<u32>,
    products: Vec<usize>,
    rule_ids: String,
    explanation: String,
}

pub struct Context<'a> {
    pub rules: &'a RuleSet,
    /// [`product_labels`] of the rules.
    pub product_labels: &'a [(String, String)],
    pub loaded: &'a Loaded,
    pub rows: &'a RowDecisions,
    pub loaded_periods: &'a [Period],
    pub scope: &'a [Period],
    pub cycles_loaded: &'a BTreeSet<Period>,
}

pub fn finding_id(prefix: char, parts: &[&str]) -> String {
    let mut buf = [0u8; 13];
    finding_id_in(prefix, parts, &mut buf).to_string()
}

/// [`finding_id`] written in `buf` (no String per finding).
pub fn finding_id_in<'b>(prefix: char, parts: &[&str], buf: &'b mut [u8; 13]) -> &'b str {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut h = Sha256::new();
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            h.update(b"|");
        }
        h.update(p.as_bytes());
    }
    let digest = h.finalize();
    buf[0] = if prefix.is_ascii() { prefix as u8 } else { b'?' };
    for (i, &b) in digest[..6].iter().enumerate() {
        buf[1 + 2 * i] = DIGITS[(b >> 4) as usize];
        buf[2 + 2 * i] = DIGITS[(b & 15) as usize];
    }
    std::str::from_utf8(&buf[..]).unwrap_or_default()
}

/// How each product is named in explanations (`ecs（6%）` and `ecs at 6%`), made once per run.
pub fn product_labels(rules: &RuleSet) -> Vec<(String, String)> {
    rules.products.iter().map(|p| (format!("{}（{}）", p.id, pct(p.rate)), format!("{} at {}", p.id, pct(p.rate)))).collect()
}

/// What deciding a key needs to know beyond the key itself: the PERIOD_SHIFT pairs and, for the
/// actual-only keys, what consumption their (trade, service) has in any loaded cycle. Built once
/// over all keys (see `engine::facts`), before the keys are decided chunk by chunk.
#[derive(Debug, Default)]
pub struct Facts<'a> {
    /// Key index → its PERIOD_SHIFT partner (both directions).
    pub partner: HashMap<usize, usize>,
    /// The expected-only keys that have a partner, read ahead (their finding is made at the
    /// actual's position, which may lie in another chunk).
    pub shifted: HashMap<usize, Key<'a>>,
    /// Actual-only keys without a partner → the consumption their (trade, service) has.
    pub seen: HashMap<usize, Seen>,
}

/// What consumption a (trade, service) has, over every loaded cycle.
#[derive(Debug, Clone, Copy, Default)]
pub struct Seen {
    pub any: bool,
    pub ineligible: bool,
    pub not_attributed: bool,
}

/// Decides the key at index `i` of the sorted key list and hands its finding to `emit`, with
/// whether it is in scope (written). `None` when it yields no finding here: an expected key of a
/// statement not loaded, or the expected half of a PERIOD_SHIFT pair (whose finding is made at
/// its actual partner).
pub fn decide_at<T>(i: usize, k: &Key, facts: &Facts, ctx: &Context, scratch: &mut Scratch, emit: impl FnOnce(&FindingRef, bool) -> T) -> Option<T> {
    let first_loaded = ctx.loaded_periods.first().copied();
    let last_loaded = ctx.loaded_periods.last().copied();
    let none = Seen::default();
    let (category, rule, shifted, seen) = match (&k.expected, &k.actual) {
        (_, Some(a)) if a.duplicate => (Category::DuplicateIncentive, 1, None, none),
        (Some(e), Some(a)) => {
            let delta = a.incentive - e.incentive;
            let (cat, rule) = if delta.is_zero() {
                (Category::Matched, 2)
            } else if delta.abs() <= ctx.rules.tolerance {
                (Category::Rounding, 3)
            } else if rate_differs(&k, ctx) {
                (Category::RateMismatch, 4)
            } else if a.base.is_some_and(|b| (b - e.base).abs() > ctx.rules.tolerance) {
                (Category::BaseMismatch, 5)
            } else {
                (Category::AmountMismatch, 6)
            };
            (cat, rule, None, none)
        }
        (Some(e), None) => {
            if facts.partner.contains_key(&i) {
                return None; // decided with its actual partner
            } else if last_loaded.is_none_or(|l| k.period > l) {
                (Category::RolloverPending, 8, None, none)
            } else if first_loaded.is_some_and(|f| k.period < f) {
                // Belongs to a statement that was not loaded: no finding.
                return None;
            } else if e.incentive.abs() <= ctx.rules.tolerance {
                let cat = if e.incentive.is_zero() { Category::Matched } else { Category::Rounding };
                (cat, 9, None, none)
            } else {
                (Category::MissingIncentive, 10, None, none)
            }
        }
        (None, Some(_)) => {
            if let Some(exp) = facts.partner.get(&i).and_then(|j| facts.shifted.get(j)) {
                (Category::PeriodShift, 7, Some(exp), none)
            } else {
                let seen = facts.seen.get(&i).copied().unwrap_or_default();
                if seen.ineligible || seen.not_attributed {
                    (Category::UnexpectedIncentive, 11, None, seen)
                } else if !seen.any && (0..=ctx.rules.max_shift()).any(|s| !ctx.cycles_loaded.contains(&k.period.add_months(-s))) {
                    (Category::OutOfScope, 12, None, none)
                } else {
                    (Category::OrphanIncentive, 13, None, none)
                }
            }
        }
        (None, None) => {
            if k.n_ineligible > 0 {
                (Category::IneligibleProduct, 14, None, none)
            } else {
                // (a key with no side stems from consumption that is ineligible or not attributed)
                debug_assert!(k.n_not_attributed > 0, "a key with no side and no excluded consumption");
                (Category::NotAttributed, 15, None, none)
            }
        }
    };
    Some(build(k, shifted, category, rule, seen, ctx, scratch, emit))
}

/// Does any actual rate differ from the rules' rates of the key's expected rows?
fn rate_differs(k: &Key, ctx: &Context) -> bool {
    let (Some(e), Some(a)) = (&k.expected, &k.actual) else { return false };
    let rule_rates: BTreeSet<Decimal> = e
        .rows
        .iter()
        .filter_map(|&r| usize::try_from(ctx.rows.product[r as usize]).ok())
        .map(|p| ctx.rules.products[p].rate.normalize())
        .collect();
    a.rows
        .iter()
        .filter_map(|&r| ctx.loaded.incentives.rate[r as usize])
        .any(|rate| !rule_rates.contains(&from_phys(rate)))
}

pub fn action_for(cat: Category, delta: Decimal, tolerance: Decimal) -> Action {
    match cat {
        Category::Matched | Category::Rounding | Category::RolloverPending | Category::OutOfScope => Action::None,
        Category::IneligibleProduct | Category::NotAttributed => Action::None,
        Category::BillMatched | Category::BillRounding => Action::None,
        Category::BillAmountMismatch | Category::BillMissingLine | Category::BillExtraLine | Category::BillNotResale => Action::Review,
        Category::DuplicateIncentive | Category::UnexpectedIncentive | Category::OrphanIncentive => Action::Review,
        Category::MissingIncentive => Action::Dispute,
        Category::RateMismatch | Category::BaseMismatch | Category::AmountMismatch => {
            if delta < Decimal::ZERO {
                Action::Dispute
            } else {
                Action::Review
            }
        }
        Category::PeriodShift => {
            if delta.abs() <= tolerance {
                Action::None
            } else if delta < Decimal::ZERO {
                Action::Dispute
            } else {
                Action::Review
            }
        }
    }
}

/// Builds the finding of `k` (the actual's key for a PERIOD_SHIFT, with its expected partner),
/// knowing what consumption the key's trade and service have (rule 11 says it), and hands it to
/// `emit`. Its texts are borrowed from the key and the loaded rows; its row list, rule ids and
/// explanation are written in `scratch`.
#[allow(clippy::too_many_arguments)]
fn build<T>(k: &Key, shifted: Option<&Key>, category: Category, rule: u8, seen: Seen, ctx: &Context, scratch: &mut Scratch, emit: impl FnOnce(&FindingRef, bool) -> T) -> T {
    let exp_key = shifted.unwrap_or(k);
    let e = exp_key.expected.as_ref();
    let a = k.actual.as_ref();
    let expected = e.map_or(Decimal::ZERO, |e| e.incentive);
    let actual = a.map_or(Decimal::ZERO, |a| a.incentive);
    let delta = match category {
        Category::IneligibleProduct | Category::NotAttributed => Decimal::ZERO,
        _ => actual - expected,
    };
    let action = action_for(category, delta, ctx.rules.tolerance);
    let Scratch { rows, products, rule_ids, explanation } = scratch;
    rows.clear();
    rows.extend_from_slice(e.map_or(&[][..], |e| &e.rows));
    rows.extend_from_slice(&exp_key.noside_rows);
    if shifted.is_some() {
        rows.extend_from_slice(&k.noside_rows);
    }
    if !rows.is_sorted() {
        rows.sort_unstable();
    }
    let consumption_rows: &[u32] = rows;
    let incentive_rows: &[u32] = a.map_or(&[][..], |a| &a.rows);

    let cons = &ctx.loaded.consumption;
    let inc = &ctx.loaded.incentives;
    let customer_id: &str = consumption_rows
        .first()
        .map(|&r| &cons.customer_id[r as usize])
        .or_else(|| incentive_rows.iter().find_map(|&r| inc.customer_id.get(r as usize)))
        .unwrap_or_default();
    let customer_name: &str = consumption_rows
        .iter()
        .find_map(|&r| cons.customer_name.get(r as usize))
        .or_else(|| customer_at(ctx, consumption_rows, customer_id).and_then(|i| ctx.loaded.customers.as_deref()?.names.get(i)))
        .or_else(|| incentive_rows.iter().find_map(|&r| inc.customer_name.get(r as usize)))
        .unwrap_or_default();
    let charging_mode = first_mode(consumption_rows.iter().map(|&r| cons.mode[r as usize]).chain(incentive_rows.iter().map(|&r| inc.mode[r as usize])));

    // The distinct products, ascending (a key's rows are nearly always of one product).
    products.clear();
    for &r in consumption_rows {
        if let Ok(p) = usize::try_from(ctx.rows.product[r as usize]) {
            if !products.contains(&p) {
                products.push(p);
            }
        }
    }
    products.sort_unstable();
    rule_ids.clear();
    let _ = write!(rule_ids, "R{rule}");
    for &p in products.iter() {
        rule_ids.push_str(";product:");
        rule_ids.push_str(&ctx.rules.products[p].id);
    }
    let na: BTreeSet<i32> = consumption_rows
        .iter()
        .filter(|&&r| ctx.rows.status[r as usize] == NOT_ATTRIBUTED)
        .map(|&r| ctx.rows.na_reason[r as usize])
        .collect();
    for code in &na {
        rule_ids.push_str(";attribution:");
        rule_ids.push_str(na_key(*code));
    }
    let (late, lagged) = shift_reasons(exp_key, ctx);
    if late {
        rule_ids.push_str(";rollover:late_window_hours");
    }
    if lagged {
        rule_ids.push_str(";rollover:lag_months");
    }

    let period = k.period;
    let written = ctx.scope.contains(&period)
        || (category == Category::RolloverPending && consumption_rows.iter().any(|&r| ctx.scope.contains(&Period(cons.cycle[r as usize]))));
    let (mut id_buf, mut period_buf) = ([0u8; 13], [0u8; 16]);
    let id = finding_id_in('F', &[period.text(&mut period_buf), k.trade_id, k.service], &mut id_buf);
    let (expected_period, expected_base, expected_incentive) = (e.map(|_| exp_key.period), e.map(|e| e.base), e.map(|e| e.incentive));
    let (actual_base, actual_incentive, actual_in) = (a.and_then(|a| a.base), a.map(|a| a.incentive), a.map(|_| k.period));
    let mut f = FindingRef {
        id,
        period,
        category,
        action,
        rule,
        customer_id,
        customer_name,
        trade_id: k.trade_id,
        service: k.service,
        charging_mode,
        expected_period,
        expected_base,
        expected_incentive,
        actual_base,
        actual_incentive,
        delta,
        rule_ids,
        explanation: "",
        consumption_rows,
        incentive_rows,
        actual_in,
        bill_rows: &[],
    };
    explanation.clear();
    explain(&f, seen, ctx, products, &na, late, lagged, explanation);
    f.explanation = explanation.as_str();
    emit(&f, written)
}

/// The customers-file entry of a finding's customer (`customer_id`, the customer of its first
/// consumption row when it has one): through that row's position, found once per row, else
/// looked up by id.
fn customer_of<'a>(ctx: &Context<'a>, consumption_rows: &[u32], customer_id: &str) -> Option<&'a crate::load::Customer> {
    ctx.loaded.customers.as_deref()?.list.get(customer_at(ctx, consumption_rows, customer_id)?)
}

/// The position of the key's customer in the customers file's list (by its first consumption
/// row, else by `customer_id`).
fn customer_at(ctx: &Context, consumption_rows: &[u32], customer_id: &str) -> Option<usize> {
    let customers = ctx.loaded.customers.as_deref()?;
    match consumption_rows.first().and_then(|&r| ctx.rows.customer.get(r as usize)) {
        Some(&i) if i == super::frames::NO_CUSTOMER => None,
        Some(&i) => Some(i as usize),
        None => customers.index.get(customer_id).copied(),
    }
}

/// Did the expected rows of this key roll over through the late window, or a lag?
fn shift_reasons(k: &Key, ctx: &Context) -> (bool, bool) {
    let Some(e) = &k.expected else { return (false, false) };
    let mut late = false;
    let mut lagged = false;
    for &r in &e.rows {
        let r = r as usize;
        let cycle = ctx.loaded.consumption.cycle[r];
        let lag = usize::try_from(ctx.rows.product[r]).map_or(0, |p| ctx.rules.products[p].lag_months);
        lagged |= lag > 0;
        late |= ctx.rows.expected[r] > cycle + lag;
    }
    (late, lagged)
}

fn na_key(code: i32) -> &'static str {
    match code {
        NA_TYPE => "association_types",
        NA_NOT_IN_FILE => "customers_file",
        NA_LAG => "association_lag_days",
        NA_GRACE => "rebind_grace_months",
        _ => "none",
    }
}

/// Money for an explanation (formatted where it is written, without a String of its own).
fn m(v: Decimal) -> MoneyText {
    MoneyText(v)
}

fn pct(rate: Decimal) -> String {
    format!("{}%", (rate * Decimal::ONE_HUNDRED).normalize())
}

/// The explanation, appended to `out`: Chinese, then ` | `, then English; both name the rule and
/// the numbers.
#[allow(clippy::too_many_arguments)]
fn explain(f: &FindingRef, seen: Seen, ctx: &Context, products: &[usize], na: &BTreeSet<i32>, late: bool, lagged: bool, out: &mut String) {
    let rules = ctx.rules;
    let r = f.rule;
    let p = f.period;
    let e_inc = m(f.expected_incentive.unwrap_or_default());
    let a_inc = m(f.actual_incentive.unwrap_or_default());
    let e_base = m(f.expected_base.unwrap_or_default());
    let d = m(f.delta);
    let (prod_zh, prod_en): (Cow<str>, Cow<str>) = match products.len() {
        1 => {
            let (zh, en) = &ctx.product_labels[products[0]];
            (Cow::Borrowed(zh), Cow::Borrowed(en))
        }
        _ => (
            Cow::Owned(products.iter().map(|&i| ctx.product_labels[i].0.as_str()).collect::<Vec<_>>().join("、")),
            Cow::Owned(products.iter().map(|&i| ctx.product_labels[i].1.as_str()).collect::<Vec<_>>().join(", ")),
        ),
    };
    if f.category == Category::Matched && r == 2 {
        // Most keys match: their text is pieced together directly, each amount printed once
        // (the same words as the general case).
        let (mut ba, mut be, mut bb) = ([0u8; 48], [0u8; 48], [0u8; 48]);
        let a = money_str(f.actual_incentive.unwrap_or_default(), &mut ba);
        let e = money_str(f.expected_incentive.unwrap_or_default(), &mut be);
        let b = money_str(f.expected_base.unwrap_or_default(), &mut bb);
        push_all(out, &["R2 实得激励 ", a, " 等于应得激励 ", e, "（激励基数 ", b, " × 产品 ", &prod_zh, "） | "]);
        push_all(out, &["R2 actual incentive ", a, " equals expected ", e, " (base ", b, " × product ", &prod_en, ")"]);
        return;
    }
    // Made only by the categories that mention them (INELIGIBLE_PRODUCT and NOT_ATTRIBUTED, a
    // sixth of a large run's findings, do not).
    let basis_zh = || format!("激励基数 {e_base} × 产品 {prod_zh}");
    let basis_en = || format!("base {e_base} × product {prod_en}");
    // Only the categories that mention a rollover need these.
    let shift_zh = || match (late, lagged) {
        (true, true) => "（月结产品顺延且在账期末窗口内交易，顺延至下月）".to_string(),
        (true, false) => format!("（账期最后 {} 小时内的消费，顺延至下月）", rules.late_window_hours),
        (false, true) => "（月结产品，次月计入）".to_string(),
        _ => String::new(),
    };
    let shift_en = || match (late, lagged) {
        (true, true) => " (monthly-settled and traded in the late window: paid later)".to_string(),
        (true, false) => format!(" (traded in the last {} hours of its bill cycle: paid next month)", rules.late_window_hours),
        (false, true) => " (monthly-settled product: paid a month later)".to_string(),
        _ => String::new(),
    };
    let exp_p = || f.expected_period.map_or(String::new(), |p| p.to_string());
    let (zh, en) = match f.category {
        Category::DuplicateIncentive => {
            let n = f.incentive_rows.len();
            (
                format!("R1 对账期次 {p} 的激励明细中同一激励数据重复出现（{n} 行，合计 {a_inc}），应得 {e_inc}，差额 {d}"),
                format!("R1 statement {p} holds the same incentive item more than once ({n} rows totalling {a_inc}); expected {e_inc}, difference {d}"),
            )
        }
        Category::Rounding if r == 3 => (
            format!("R3 实得 {a_inc} 与应得 {e_inc} 相差 {d}，在容差 {} 内（{basis_zh}）", rules.tolerance, basis_zh = basis_zh()),
            format!("R3 actual {a_inc} differs from expected {e_inc} by {d}, within tolerance {} ({basis_en})", rules.tolerance, basis_en = basis_en()),
        ),
        Category::RateMismatch => {
            let rates: BTreeSet<String> = f.incentive_rows.iter().filter_map(|&i| ctx.loaded.incentives.rate[i as usize]).map(|v| pct(from_phys(v))).collect();
            let rates = rates.into_iter().collect::<Vec<_>>().join("/");
            (
                format!("R4 激励明细的激励比例 {rates} 与政策比例不符（{basis_zh}）：应得 {e_inc}，实得 {a_inc}，差额 {d}", basis_zh = basis_zh()),
                format!("R4 the statement's rate {rates} differs from the policy ({basis_en}): expected {e_inc}, actual {a_inc}, difference {d}", basis_en = basis_en()),
            )
        }
        Category::BaseMismatch => {
            let ab = m(f.actual_base.unwrap_or_default());
            (
                format!("R5 激励基数不符：明细基数 {ab}，按消费计算 {e_base}（产品 {prod_zh}）；应得 {e_inc}，实得 {a_inc}，差额 {d}"),
                format!("R5 base differs: statement base {ab}, consumption base {e_base} (product {prod_en}); expected {e_inc}, actual {a_inc}, difference {d}"),
            )
        }
        Category::AmountMismatch => (
            format!("R6 激励金额不符：应得 {e_inc}（{basis_zh}），实得 {a_inc}，差额 {d}", basis_zh = basis_zh()),
            format!("R6 amount differs: expected {e_inc} ({basis_en}), actual {a_inc}, difference {d}", basis_en = basis_en()),
        ),
        Category::PeriodShift => (
            format!("R7 应在对账期次 {exp_p} 结算的激励 {e_inc}{}（{basis_zh}）出现在 {p}，实得 {a_inc}，差额 {d}", shift_zh(), basis_zh = basis_zh(), exp_p = exp_p()),
            format!("R7 incentive {e_inc} expected in period {exp_p}{} ({basis_en}) was paid in {p}: actual {a_inc}, difference {d}", shift_en(), basis_en = basis_en(), exp_p = exp_p()),
        ),
        Category::RolloverPending => (
            format!("R8 激励 {e_inc}（{basis_zh}）应在对账期次 {exp_p} 结算{}，该期尚未加载", shift_zh(), basis_zh = basis_zh(), exp_p = exp_p()),
            format!("R8 incentive {e_inc} ({basis_en}) falls due in period {exp_p}{}, which is not loaded yet", shift_en(), basis_en = basis_en(), exp_p = exp_p()),
        ),
        // (R2's MATCHED returned above.)
        Category::Matched | Category::Rounding => (
            format!("R9 应得激励 {e_inc}（{basis_zh}）在容差内，激励明细中无此项", basis_zh = basis_zh()),
            format!("R9 expected incentive {e_inc} ({basis_en}) is within tolerance; the statement has no line for it", basis_en = basis_en()),
        ),
        Category::MissingIncentive => (
            format!("R10 对账期次 {p} 的激励明细缺少该订单：应得 {e_inc}（{basis_zh}{}），实得 0，差额 {d}", shift_zh(), basis_zh = basis_zh()),
            format!("R10 statement {p} has no incentive for this order: expected {e_inc} ({basis_en}{}), actual 0, difference {d}", shift_en(), basis_en = basis_en()),
        ),
        Category::UnexpectedIncentive => {
            let (zh, en) = if seen.ineligible {
                ("该订单的消费属于不参与激励的产品", "its consumption is of a product that earns nothing")
            } else {
                ("该订单的消费未归属本伙伴", "its consumption is not attributed to the partner")
            };
            (format!("R11 对账期次 {p} 发放了激励 {a_inc}，但{zh}，应得 0"), format!("R11 statement {p} pays {a_inc}, but {en}: expected 0"))
        }
        Category::OutOfScope => (
            format!("R12 对账期次 {p} 的激励 {a_inc} 可能来自未加载的账期（{}–{}），无法核对", p.add_months(-rules.max_shift()), p),
            format!("R12 incentive {a_inc} of period {p} may stem from a bill cycle not loaded ({}..{}); it cannot be checked", p.add_months(-rules.max_shift()), p),
        ),
        Category::OrphanIncentive => (
            format!("R13 对账期次 {p} 发放了激励 {a_inc}，但已加载的消费中没有该订单和产品"),
            format!("R13 statement {p} pays {a_inc}, but the loaded consumption has no such order and service"),
        ),
        Category::IneligibleProduct => {
            ineligible_into(f, ctx, out);
            return;
        }
        Category::NotAttributed => {
            let (zh, en) = na_reason(f, ctx, na);
            (format!("R15 {zh}，不产生激励"), format!("R15 {en}: it earns no incentive"))
        }
        // Bill findings are explained by engine::bills.
        Category::BillMatched
        | Category::BillRounding
        | Category::BillAmountMismatch
        | Category::BillMissingLine
        | Category::BillExtraLine
        | Category::BillNotResale => (String::new(), String::new()),
    };
    let _ = write!(out, "{zh} | {en}");
}

/// R14's explanation, appended to `out` piece by piece (a large run has about one such finding
/// in nine: no `format!`, each amount printed once).
fn ineligible_into(f: &FindingRef, ctx: &Context, out: &mut String) {
    let cons = &ctx.loaded.consumption;
    let mut money = [0u8; 48];
    let total = money_str(super::sum_phys(f.consumption_rows.iter().map(|&r| &cons.payment[r as usize])), &mut money);
    // The product of rate 0 that made a row ineligible (the first in the rules), if any.
    let zero_rate = f
        .consumption_rows
        .iter()
        .filter(|&&r| ctx.rows.status[r as usize] == INELIGIBLE)
        .filter_map(|&r| usize::try_from(ctx.rows.product[r as usize]).ok())
        .min();
    match zero_rate {
        Some(p) => {
            let prod = &ctx.rules.products[p];
            let mut line = itoa::Buffer::new();
            let line = line.format(prod.line);
            let (zh_open, en_open, en_close) = match prod.reason.is_empty() {
                true => ("", "", ""),
                false => ("：", " (", ")"),
            };
            let reason = prod.reason.as_str();
            push_all(out, &["R14 消费 ", total, " 属于产品 ", &prod.id, "，其激励比例为 0（规则第 ", line, " 行）", zh_open, reason, "，不产生激励 | "]);
            push_all(out, &["R14 consumption ", total, " is of product ", &prod.id, " whose rate is 0 (rules line ", line, ")", en_open, reason, en_close, ": it earns no incentive"]);
        }
        None => {
            let mode = f.charging_mode.map_or("-", |m| m.label());
            push_all(out, &["R14 消费 ", total, " 的产品 ", f.service, "（", mode, "）不在激励政策的任何 [[product]] 中，不产生激励 | "]);
            push_all(out, &["R14 consumption ", total, " of ", f.service, " (", mode, ") matches no [[product]] of the policy: it earns no incentive"]);
        }
    }
}

fn push_all(out: &mut String, pieces: &[&str]) {
    for piece in pieces {
        out.push_str(piece);
    }
}

fn na_reason(f: &FindingRef, ctx: &Context, na: &BTreeSet<i32>) -> (String, String) {
    let rules = ctx.rules;
    let cons = &ctx.loaded.consumption;
    let total = super::sum_phys(f.consumption_rows.iter().map(|&r| &cons.payment[r as usize]));
    let customer = customer_of(ctx, f.consumption_rows, f.customer_id);
    let first_ts = f.consumption_rows.iter().map(|&r| cons.ts[r as usize]).min().unwrap_or(0);
    let when = rules.tz.format(first_ts);
    let mut zh = Vec::new();
    let mut en = Vec::new();
    for &code in na {
        match code {
            NA_NOT_IN_FILE => {
                zh.push(format!("客户 {} 不在客户文件中", f.customer_id));
                en.push(format!("customer {} is not in the customers file", f.customer_id));
            }
            NA_TYPE => {
                let t = customer.map(|c| c.association).or_else(|| f.consumption_rows.first().and_then(|&r| Association::from_code(cons.assoc[r as usize])));
                let listed: Vec<&str> = rules.association_types.iter().map(|a| a.key()).collect();
                match t {
                    Some(t) => {
                        zh.push(format!("客户关联类型为{}（{}），政策只计 {}", t.label(), t.key(), listed.join("、")));
                        en.push(format!("the customer's association type is {} ({}), the policy counts {} only", t.key(), t.label(), listed.join(", ")));
                    }
                    None => {
                        zh.push("客户关联类型未知（请提供客户文件或关联类型列）".to_string());
                        en.push("the customer's association type is unknown (give --customers or an association_type column)".to_string());
                    }
                }
            }
            NA_LAG => {
                let at = customer.and_then(|c| c.associated_at).unwrap_or(0);
                let from = at + rules.association_lag_days * 86_400;
                zh.push(format!("交易时间 {when} 早于关联时间 {} + {} 天 = {}", rules.tz.format(at), rules.association_lag_days, rules.tz.format(from)));
                en.push(format!("traded at {when}, before associated_at {} + {} days = {}", rules.tz.format(at), rules.association_lag_days, rules.tz.format(from)));
            }
            NA_GRACE => {
                let at = customer.and_then(|c| c.rebound_at).unwrap_or(0);
                let from = super::frames::add_months_local(at, rules.rebind_grace_months, rules);
                zh.push(format!("交易时间 {when} 在换绑保护期内（换绑 {} + {} 个月 = {}）", rules.tz.format(at), rules.rebind_grace_months, rules.tz.format(from)));
                en.push(format!("traded at {when}, within the rebind grace (rebound {} + {} months = {})", rules.tz.format(at), rules.rebind_grace_months, rules.tz.format(from)));
            }
            _ => {}
        }
    }
    (format!("消费 {}：{}", m(total), zh.join("；")), format!("consumption {}: {}", m(total), en.join("; ")))
}
