//! Consumption rows (消费明细): one per trade, with its time, mode and payment components.

use super::{assoc_value, mode_value, period_value, CellError, Col, Cols, Sink};
use crate::load::schema::{aliases_for, HeaderMap, Kind};
use crate::load::table::Table;
use crate::load::values::{parse_amount_phys, parse_time};
use crate::load::{missing_column, LoadError, OptTexts, Provenance, Texts};
use crate::model::{Association, ChargingMode, Component, ModeCoding};
use crate::rules::RuleSet;

/// Accepted consumption rows, column by column.
#[derive(Debug, Default)]
pub struct Consumption {
    pub cycle: Vec<i32>,
    pub customer_id: Texts,
    pub customer_name: OptTexts,
    /// 0 unknown, 1 referral, 2 resale.
    pub assoc: Vec<i32>,
    pub service: Texts,
    /// 0 not given, else [`ChargingMode::code`].
    pub mode: Vec<i32>,
    pub trade_id: Texts,
    /// UTC epoch seconds.
    pub ts: Vec<i64>,
    /// Local trade date, days since 1970-01-01.
    pub day: Vec<i32>,
    /// payment_amount, physical decimal.
    pub payment: Vec<i128>,
    /// The counted components, in the rules' order.
    pub counted: Vec<Vec<i128>>,
    pub prov: Provenance,
}

impl Consumption {
    pub fn len(&self) -> usize {
        self.trade_id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.trade_id.is_empty()
    }
}

/// The columns of a consumption table.
pub(crate) struct ConsumptionCols {
    cols: Cols,
    customer_id: Col,
    service: Col,
    trade_id: Col,
    trade_time: Col,
    bill_cycle: Col,
    association_type: Col,
    charging_mode: Col,
    payment_amount: Col,
    components: [(Component, Col); Component::ALL.len()],
    customer_name: Col,
}

impl ConsumptionCols {
    fn new(map: &HeaderMap) -> ConsumptionCols {
        let cols = Cols::new(map);
        ConsumptionCols {
            customer_id: cols.col("customer_id"),
            service: cols.col("service_type_code"),
            trade_id: cols.col("trade_id"),
            trade_time: cols.col("trade_time"),
            bill_cycle: cols.col("bill_cycle"),
            association_type: cols.col("association_type"),
            charging_mode: cols.col("charging_mode"),
            payment_amount: cols.col("payment_amount"),
            components: Component::ALL.map(|comp| (comp, cols.col(comp.name()))),
            customer_name: cols.col("customer_name"),
            cols,
        }
    }
}

impl Sink for Consumption {
    type Ctx = ConsumptionCols;

    fn fresh(&self) -> Self {
        Consumption { counted: vec![Vec::new(); self.counted.len()], ..Consumption::default() }
    }

    fn reserve(&mut self, n: usize) {
        self.cycle.reserve(n);
        self.customer_id.reserve(n, 32);
        self.customer_name.reserve(n, 16);
        self.assoc.reserve(n);
        self.service.reserve(n, 28);
        self.mode.reserve(n);
        self.trade_id.reserve(n, 16);
        self.ts.reserve(n);
        self.day.reserve(n);
        self.payment.reserve(n);
        for c in &mut self.counted {
            c.reserve(n);
        }
    }

    fn append(&mut self, o: Self) {
        let mut o = o;
        self.cycle.append(&mut o.cycle);
        self.customer_id.append(&mut o.customer_id);
        self.customer_name.append(&mut o.customer_name);
        self.assoc.append(&mut o.assoc);
        self.service.append(&mut o.service);
        self.mode.append(&mut o.mode);
        self.trade_id.append(&mut o.trade_id);
        self.ts.append(&mut o.ts);
        self.day.append(&mut o.day);
        self.payment.append(&mut o.payment);
        if self.counted.len() < o.counted.len() {
            self.counted.resize(o.counted.len(), Vec::new());
        }
        for (a, b) in self.counted.iter_mut().zip(o.counted.iter_mut()) {
            a.append(b);
        }
    }

    fn begin(&mut self, map: &HeaderMap, table: &Table, rules: &RuleSet) -> Result<ConsumptionCols, LoadError> {
        if self.counted.len() != rules.counted.len() {
            self.counted = vec![Vec::new(); rules.counted.len()];
        }
        for c in &rules.counted {
            if !map.has(c.name()) {
                let column = Kind::Consumption.column(c.name()).map(|col| aliases_for(Kind::Consumption, col, &rules.columns)).unwrap_or_default();
                return Err(missing_column(
                    table,
                    Kind::Consumption,
                    c.name(),
                    &column,
                    "; the rules count this payment component as 业绩 ([base] counted)",
                ));
            }
        }
        Ok(ConsumptionCols::new(map))
    }

    fn push(&mut self, k: &ConsumptionCols, cells: &[&str], rules: &RuleSet) -> Result<(), CellError> {
        let (tz, c) = (rules.tz, &k.cols);
        let customer_id = c.required_at(cells, k.customer_id)?;
        let service = c.required_at(cells, k.service)?;
        let trade_id = c.required_at(cells, k.trade_id)?;
        let time_text = c.required_at(cells, k.trade_time)?;
        let ts = parse_time(time_text, tz).map_err(|reason| CellError { column: c.header("trade_time"), value: time_text.into(), reason })?;
        let cycle = c.parse_at(cells, k.bill_cycle, period_value)?.unwrap_or_else(|| tz.period_of(ts));
        let assoc = c.parse_at(cells, k.association_type, assoc_value)?.map_or(0, Association::code);
        let mode = c.parse_at(cells, k.charging_mode, |v| mode_value(v, ModeCoding::Api))?.map_or(0, ChargingMode::code);
        // Amounts as physical values at AMOUNT_SCALE: sums of them are exact.
        let given_payment = c.parse_at(cells, k.payment_amount, parse_amount_phys)?.flatten();
        let mut components: [(Component, Option<i128>); Component::ALL.len()] = Component::ALL.map(|comp| (comp, None));
        for ((_, v), &(_, col)) in components.iter_mut().zip(&k.components) {
            *v = c.parse_at(cells, col, parse_amount_phys)?.flatten();
        }
        let payment = match given_payment {
            Some(p) => p,
            None => components.iter().filter_map(|(_, v)| *v).sum(),
        };
        for (i, comp) in rules.counted.iter().enumerate() {
            let v = components.iter().find(|(c, _)| c == comp).and_then(|(_, v)| *v).unwrap_or(0);
            self.counted[i].push(v);
        }
        self.cycle.push(cycle.0);
        self.customer_id.push(customer_id);
        self.customer_name.push(c.cell(cells, k.customer_name));
        self.assoc.push(assoc);
        self.service.push(service);
        self.mode.push(mode);
        self.trade_id.push(trade_id);
        self.ts.push(ts);
        self.day.push(tz.local_day(ts));
        self.payment.push(payment);
        Ok(())
    }
}
