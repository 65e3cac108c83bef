//! The waterfall of each statement period in scope, from consumption to incentive, and the two
//! equalities that must hold to the cent:
//! `consumption_total − ineligible − not_attributed − excluded − rolled_out + rolled_in = expected_base`
//! and `actual − expected = Σ category deltas`. A run whose figures do not close is a bug and
//! stops with an error instead of a report.

use std::collections::BTreeMap;

use polars::prelude::*;
use rust_decimal::Decimal;

use super::decide::{Category, FindingRef};
use super::frames::{self, ELIGIBLE, INELIGIBLE, NOT_ATTRIBUTED};
use super::{phys_to_decimal, Key};
use crate::model::Period;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Waterfall {
    pub consumption_total: Decimal,
    pub ineligible_product: Decimal,
    pub not_attributed: Decimal,
    pub excluded_payment: Decimal,
    pub rolled_out: Decimal,
    pub rolled_in: Decimal,
    pub expected_base: Decimal,
    pub expected_incentive: Decimal,
    pub actual_incentive: Decimal,
    pub difference: Decimal,
}

impl Waterfall {
    /// The steps in contract order, with their names.
    pub fn steps(&self) -> [(&'static str, Decimal); 10] {
        [
            ("consumption_total", self.consumption_total),
            ("ineligible_product", self.ineligible_product),
            ("not_attributed", self.not_attributed),
            ("excluded_payment", self.excluded_payment),
            ("rolled_out", self.rolled_out),
            ("rolled_in", self.rolled_in),
            ("expected_base", self.expected_base),
            ("expected_incentive", self.expected_incentive),
            ("actual_incentive", self.actual_incentive),
            ("difference", self.difference),
        ]
    }
}

#[derive(Debug, Clone)]
pub struct PeriodReport {
    pub period: Period,
    pub waterfall: Waterfall,
    /// Count of findings at this period and the sum of the deltas of the sides lying in it.
    pub categories: BTreeMap<Category, (usize, Decimal)>,
}

impl PeriodReport {
    /// Adds the figures of the same period from another partition of the inputs: every
    /// waterfall step and every category is a sum over keys.
    pub fn absorb(&mut self, other: &PeriodReport) {
        let (w, o) = (&mut self.waterfall, &other.waterfall);
        w.consumption_total += o.consumption_total;
        w.ineligible_product += o.ineligible_product;
        w.not_attributed += o.not_attributed;
        w.excluded_payment += o.excluded_payment;
        w.rolled_out += o.rolled_out;
        w.rolled_in += o.rolled_in;
        w.expected_base += o.expected_base;
        w.expected_incentive += o.expected_incentive;
        w.actual_incentive += o.actual_incentive;
        w.difference += o.difference;
        for (c, (n, d)) in &other.categories {
            let e = self.categories.entry(*c).or_default();
            e.0 += n;
            e.1 += d;
        }
    }
}

pub enum Error {
    Polars(PolarsError),
    Open(String),
}

impl From<PolarsError> for Error {
    fn from(e: PolarsError) -> Self {
        Error::Polars(e)
    }
}

/// What the keys and findings contribute to the waterfall and its categories, accumulated
/// while the keys are decided chunk by chunk (so no key or finding has to be held for it).
#[derive(Debug, Default)]
pub struct Totals {
    /// Per key period: Σ expected base, Σ expected incentive, Σ actual incentive.
    keys: BTreeMap<Period, (Decimal, Decimal, Decimal)>,
    /// Per period and category: findings counted at the period, deltas of the sides lying in it.
    categories: BTreeMap<Period, BTreeMap<Category, (usize, Decimal)>>,
}

impl Totals {
    pub fn add_key(&mut self, k: &Key) {
        let t = self.keys.entry(k.period).or_default();
        if let Some(e) = &k.expected {
            t.0 += e.base;
            t.1 += e.incentive;
        }
        if let Some(a) = &k.actual {
            t.2 += a.incentive;
        }
    }

    /// Adds the tallies of another run of keys.
    pub fn absorb(&mut self, o: Totals) {
        for (p, (a, b, c)) in o.keys {
            let t = self.keys.entry(p).or_default();
            t.0 += a;
            t.1 += b;
            t.2 += c;
        }
        for (p, cats) in o.categories {
            let into = self.categories.entry(p).or_default();
            for (cat, (n, d)) in cats {
                let t = into.entry(cat).or_default();
                t.0 += n;
                t.1 += d;
            }
        }
    }

    /// Every decided key, in scope or not (a side may lie in a period in scope either way).
    pub fn add_finding(&mut self, f: &FindingRef) {
        self.categories.entry(f.period).or_default().entry(f.category).or_default().0 += 1;
        if matches!(f.category, Category::IneligibleProduct | Category::NotAttributed) {
            return;
        }
        if let Some(p) = f.actual_in {
            self.categories.entry(p).or_default().entry(f.category).or_default().1 += f.actual_incentive.unwrap_or_default();
        }
        if let Some(p) = f.expected_period {
            self.categories.entry(p).or_default().entry(f.category).or_default().1 -= f.expected_incentive.unwrap_or_default();
        }
    }
}

pub fn build(flows: &DataFrame, totals: &Totals, scope: &[Period]) -> Result<Vec<PeriodReport>, Error> {
    let cycle = frames::i32_values(flows, "cycle")?;
    let exp = frames::i32_values(flows, "exp")?;
    let status = frames::i32_values(flows, "status")?;
    let (pay, pay_s) = frames::dec_values(flows, "pay")?;
    let (base, base_s) = frames::dec_values(flows, "base")?;
    let (excl, excl_s) = frames::dec_values(flows, "excluded")?;
    let mut out = Vec::new();
    for &p in scope {
        let mut w = Waterfall::default();
        for i in 0..flows.height() {
            let (c, e, s) = (cycle[i].unwrap_or(0), exp[i].unwrap_or(0), status[i].unwrap_or(0));
            let pay = phys_to_decimal(pay[i].unwrap_or(0), pay_s);
            let base = phys_to_decimal(base[i].unwrap_or(0), base_s);
            let excl = phys_to_decimal(excl[i].unwrap_or(0), excl_s);
            if c == p.0 {
                w.consumption_total += pay;
                match s {
                    INELIGIBLE => w.ineligible_product += pay,
                    NOT_ATTRIBUTED => w.not_attributed += pay,
                    ELIGIBLE => {
                        w.excluded_payment += excl;
                        if e > p.0 {
                            w.rolled_out += base;
                        }
                    }
                    _ => {}
                }
            } else if s == ELIGIBLE && c < p.0 && e == p.0 {
                w.rolled_in += base;
            }
        }
        if let Some(&(base, expected, actual)) = totals.keys.get(&p) {
            w.expected_base += base;
            w.expected_incentive += expected;
            w.actual_incentive += actual;
        }
        w.difference = w.actual_incentive - w.expected_incentive;
        let derived = w.consumption_total - w.ineligible_product - w.not_attributed - w.excluded_payment - w.rolled_out + w.rolled_in;
        if derived != w.expected_base {
            return Err(Error::Open(format!(
                "period {p}: consumption {} - ineligible {} - not attributed {} - excluded {} - rolled out {} + rolled in {} = {derived}, but the expected keys sum to {}",
                w.consumption_total, w.ineligible_product, w.not_attributed, w.excluded_payment, w.rolled_out, w.rolled_in, w.expected_base
            )));
        }

        // A category with no finding at this period and no delta here is not listed.
        let categories: BTreeMap<Category, (usize, Decimal)> = totals.categories.get(&p).cloned().unwrap_or_default();
        let sum: Decimal = categories.values().map(|(_, d)| *d).sum();
        if sum != w.difference {
            return Err(Error::Open(format!("period {p}: the category deltas sum to {sum}, but actual - expected = {}", w.difference)));
        }
        out.push(PeriodReport { period: p, waterfall: w, categories });
    }
    Ok(out)
}
