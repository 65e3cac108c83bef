//! Incentive statement rows (激励明细): one per incentive paid on a trade.

use super::{mode_value, period_value, required_amount, CellError, Col, Cols, Sink};
use crate::load::schema::HeaderMap;
use crate::load::table::Table;
use crate::load::values::{parse_amount_phys, parse_rate_phys};
use crate::load::{LoadError, OptTexts, Provenance, Texts};
use crate::model::{ChargingMode, ModeCoding};
use crate::rules::RuleSet;

/// Accepted incentive rows.
#[derive(Debug, Default)]
pub struct Incentives {
    pub period: Vec<i32>,
    pub trade_id: Texts,
    pub service: Texts,
    pub customer_id: OptTexts,
    pub customer_name: OptTexts,
    pub mode: Vec<i32>,
    pub base: Vec<Option<i128>>,
    pub rate: Vec<Option<i128>>,
    pub amount: Vec<i128>,
    /// `id:<incentive_id>`, or the whole row's text when the file has no incentive_id.
    pub dup_key: Texts,
    pub prov: Provenance,
}

impl Incentives {
    pub fn len(&self) -> usize {
        self.trade_id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.trade_id.is_empty()
    }
}

/// The columns of a statement table.
pub(crate) struct IncentiveCols {
    cols: Cols,
    period: Col,
    trade_id: Col,
    service: Col,
    amount: Col,
    charging_mode: Col,
    base: Col,
    rate: Col,
    incentive_id: Col,
    customer_id: Col,
    customer_name: Col,
}

impl Sink for Incentives {
    type Ctx = IncentiveCols;

    fn reserve(&mut self, n: usize) {
        self.period.reserve(n);
        self.trade_id.reserve(n, 16);
        self.service.reserve(n, 28);
        self.customer_id.reserve(n, 32);
        self.customer_name.reserve(n, 16);
        self.mode.reserve(n);
        self.base.reserve(n);
        self.rate.reserve(n);
        self.amount.reserve(n);
        self.dup_key.reserve(n, 16);
    }

    fn append(&mut self, o: Self) {
        let mut o = o;
        self.period.append(&mut o.period);
        self.trade_id.append(&mut o.trade_id);
        self.service.append(&mut o.service);
        self.customer_id.append(&mut o.customer_id);
        self.customer_name.append(&mut o.customer_name);
        self.mode.append(&mut o.mode);
        self.base.append(&mut o.base);
        self.rate.append(&mut o.rate);
        self.amount.append(&mut o.amount);
        self.dup_key.append(&mut o.dup_key);
    }

    fn begin(&mut self, map: &HeaderMap, _table: &Table, _rules: &RuleSet) -> Result<IncentiveCols, LoadError> {
        let cols = Cols::new(map);
        Ok(IncentiveCols {
            period: cols.col("incentive_period"),
            trade_id: cols.col("trade_id"),
            service: cols.col("service_type_code"),
            amount: cols.col("incentive_amount"),
            charging_mode: cols.col("charging_mode"),
            base: cols.col("base_amount"),
            rate: cols.col("rate"),
            incentive_id: cols.col("incentive_id"),
            customer_id: cols.col("customer_id"),
            customer_name: cols.col("customer_name"),
            cols,
        })
    }

    fn push(&mut self, k: &IncentiveCols, cells: &[&str], _rules: &RuleSet) -> Result<(), CellError> {
        let c = &k.cols;
        let period = match c.parse_at(cells, k.period, period_value)? {
            Some(p) => p,
            None => return Err(CellError { column: c.header("incentive_period"), value: String::new(), reason: "incentive_period is empty".into() }),
        };
        let trade_id = c.required_at(cells, k.trade_id)?;
        let service = c.required_at(cells, k.service)?;
        let amount_text = c.required_at(cells, k.amount)?;
        let amount = required_amount(amount_text).map_err(|reason| CellError { column: c.header("incentive_amount"), value: amount_text.into(), reason })?;
        let mode = c.parse_at(cells, k.charging_mode, |v| mode_value(v, ModeCoding::Api))?.map_or(0, ChargingMode::code);
        let base = c.parse_at(cells, k.base, parse_amount_phys)?.flatten();
        let rate = c.parse_at(cells, k.rate, parse_rate_phys)?.flatten();
        // Duplicates are told apart by incentive_id; a row without one, by its whole text.
        match c.cell(cells, k.incentive_id) {
            Some(id) => self.dup_key.push_parts(&["id:", id]),
            None => self.dup_key.push_joined("row:", cells, "\u{1f}"),
        }
        self.period.push(period.0);
        self.trade_id.push(trade_id);
        self.service.push(service);
        self.customer_id.push(c.cell(cells, k.customer_id));
        self.customer_name.push(c.cell(cells, k.customer_name));
        self.mode.push(mode);
        self.base.push(base);
        self.rate.push(rate);
        self.amount.push(amount);
        Ok(())
    }
}
