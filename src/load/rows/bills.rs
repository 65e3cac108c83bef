//! Partner bill lines (伙伴账单), and the bill cycle a file's name gives them when they carry none.

use super::{mode_value, period_value, required_amount, CellError, Cols, Sink};
use crate::load::schema::{aliases_for, HeaderMap, Kind};
use crate::load::table::{CiteStyle, Table};
use crate::load::{missing_column, LoadError, Provenance};
use crate::model::{ChargingMode, ModeCoding, Period};
use crate::rules::RuleSet;

/// Accepted partner bill lines (伙伴账单).
#[derive(Debug, Default)]
pub struct Bills {
    pub cycle: Vec<i32>,
    pub customer_id: Vec<String>,
    pub customer_name: Vec<Option<String>>,
    pub service: Vec<String>,
    pub amount: Vec<i128>,
    /// Empty when the line has no 订单号/交易号.
    pub trade_id: Vec<String>,
    /// 0 not given, else [`ChargingMode::code`] (read with the customerBill coding).
    pub mode: Vec<i32>,
    pub prov: Provenance,
}

impl Bills {
    pub fn len(&self) -> usize {
        self.cycle.len()
    }

    pub fn is_empty(&self) -> bool {
        self.cycle.is_empty()
    }
}

/// The columns of a bill table, how its charging modes are coded, and the cycle its file name
/// gives its rows when it has no bill_cycle column (an API body).
pub(crate) struct BillCols {
    cols: Cols,
    coding: ModeCoding,
    cycle: Option<Period>,
}

impl Sink for Bills {
    type Ctx = BillCols;

    fn append(&mut self, o: Self) {
        let mut o = o;
        self.cycle.append(&mut o.cycle);
        self.customer_id.append(&mut o.customer_id);
        self.customer_name.append(&mut o.customer_name);
        self.service.append(&mut o.service);
        self.amount.append(&mut o.amount);
        self.trade_id.append(&mut o.trade_id);
        self.mode.append(&mut o.mode);
    }

    fn begin(&mut self, map: &HeaderMap, table: &Table, rules: &RuleSet) -> Result<BillCols, LoadError> {
        // A JSON body is the API's (ListSubcustomerMonthlyBills), coded as the API codes; a CSV
        // or workbook is the customerBill export, coded its own way.
        let coding = match table.cite {
            CiteStyle::Record(_) => ModeCoding::Api,
            _ => ModeCoding::Bill,
        };
        let cycle = match map.has("bill_cycle") {
            true => None,
            false => match cycle_in_name(&table.label) {
                Some(p) => Some(p),
                None => {
                    let column = Kind::Bills.column("bill_cycle").map(|col| aliases_for(Kind::Bills, col, &rules.columns)).unwrap_or_default();
                    return Err(missing_column(
                        table,
                        Kind::Bills,
                        "bill_cycle",
                        &column,
                        "; without that column the bill cycle is taken from the file name, which holds none: name the file with its cycle, as bills_2026-10.json or customerBill_202610.json",
                    ));
                }
            },
        };
        Ok(BillCols { cols: Cols::new(map), coding, cycle })
    }

    fn push(&mut self, k: &BillCols, cells: &[&str], _rules: &RuleSet) -> Result<(), CellError> {
        let c = &k.cols;
        let cycle = match k.cycle {
            Some(p) => p,
            None => match c.parse(cells, "bill_cycle", period_value)? {
                Some(p) => p,
                None => return Err(CellError { column: c.header("bill_cycle"), value: String::new(), reason: "bill_cycle is empty".into() }),
            },
        };
        let customer_id = c.required(cells, "customer_id")?;
        let service = c.required(cells, "service_type_code")?;
        let amount_text = c.required(cells, "amount")?;
        let amount = required_amount(amount_text).map_err(|reason| CellError { column: c.header("amount"), value: amount_text.into(), reason })?;
        let mode = c.parse(cells, "charging_mode", |v| mode_value(v, k.coding))?.map_or(0, ChargingMode::code);
        self.cycle.push(cycle.0);
        self.customer_id.push(customer_id.to_string());
        self.customer_name.push(c.get(cells, "customer_name").map(str::to_string));
        self.service.push(service.to_string());
        self.amount.push(amount);
        self.trade_id.push(c.get(cells, "trade_id").map_or(String::new(), str::to_string));
        self.mode.push(mode);
        Ok(())
    }
}

/// The bill cycle a file's name holds: the first `YYYYMM` or `YYYY-MM` in it that is not part of
/// a longer number (`customerBill_202610.json`, `bills_2026-10.json`). For a part of an archive
/// (`customerBill_202610.tar.gz/part_0001.csv`), the part's name, else the archive's.
fn cycle_in_name(label: &str) -> Option<Period> {
    let mut names: Vec<&str> = label.rsplit('/').collect();
    names.truncate(2);
    if !label.contains(".tar.gz/") {
        names.truncate(1);
    }
    names.into_iter().find_map(cycle_in)
}

fn cycle_in(name: &str) -> Option<Period> {
    let b = name.as_bytes();
    let digit = |i: usize| b.get(i).is_some_and(u8::is_ascii_digit);
    let num = |r: std::ops::Range<usize>| std::str::from_utf8(&b[r]).ok()?.parse::<u32>().ok();
    for i in 0..b.len() {
        if !digit(i) || (i > 0 && digit(i - 1)) {
            continue;
        }
        let month_at = if (i..i + 6).all(digit) && !digit(i + 6) {
            i + 4
        } else if (i..i + 4).all(digit) && b.get(i + 4) == Some(&b'-') && (i + 5..i + 7).all(digit) && !digit(i + 7) {
            i + 5
        } else {
            continue;
        };
        if let (Some(y), Some(m)) = (num(i..i + 4), num(month_at..month_at + 2)) {
            if let Some(p) = Period::new(y as i32, m) {
                return Some(p);
            }
        }
    }
    None
}
