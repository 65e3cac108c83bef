//! The rows of each input kind, read column by column: what a row sink is (how the load pipeline
//! hands it a table's cells), the column lookups every sink shares, and the values (periods,
//! charging modes, associations, amounts) a cell holds.

mod bills;
mod consumption;
mod customers;
mod incentives;

pub use bills::Bills;
pub use consumption::Consumption;
pub use customers::{Customer, Customers};
pub use incentives::Incentives;

use super::schema::HeaderMap;
use super::table::Table;
use super::values::{parse_amount_phys, parse_naive, trim};
use super::LoadError;
use crate::model::{Association, ChargingMode, ModeCoding, Period};
use crate::rules::RuleSet;

/// Receives the rows of one kind.
pub(crate) trait Sink: Default + Send {
    type Ctx: Sync;
    /// Whether parts of one table may be read into separate sinks and appended.
    const PARALLEL: bool = true;

    /// An empty sink shaped like this one (for a part read in parallel).
    fn fresh(&self) -> Self {
        Self::default()
    }

    /// Appends the rows of a part read after this one.
    fn append(&mut self, other: Self);

    /// Makes room for `n` more rows.
    fn reserve(&mut self, _n: usize) {}

    fn begin(&mut self, map: &HeaderMap, table: &Table, rules: &RuleSet) -> Result<Self::Ctx, LoadError>;
    fn push(&mut self, ctx: &Self::Ctx, cells: &[&str], rules: &RuleSet) -> Result<(), CellError>;
}

/// Why a cell rejects its row.
pub(crate) struct CellError {
    pub(super) column: String,
    pub(super) value: String,
    pub(super) reason: String,
}

/// Column positions plus the header text shown in rejections.
#[derive(Clone)]
pub(crate) struct Cols {
    idx: polars::prelude::PlHashMap<&'static str, (usize, String)>,
    /// The further columns of a column (see
    /// [`schema::FALLBACK_COLUMNS`](crate::model::schema::FALLBACK_COLUMNS)), in the order they
    /// are tried when the ones before are empty.
    alts: Vec<(&'static str, usize, String)>,
}

/// A column's position in the rows of one table (`None`: the table lacks it), looked up once per
/// table rather than by name for every cell.
#[derive(Clone, Copy)]
pub(crate) struct Col {
    name: &'static str,
    at: Option<usize>,
}

impl Cols {
    fn new(map: &HeaderMap) -> Cols {
        Cols { idx: map.used.iter().map(|(n, i, h)| (*n, (*i, h.clone()))).collect(), alts: map.fallback.clone() }
    }

    fn col(&self, name: &'static str) -> Col {
        Col { name, at: self.idx.get(name).map(|(i, _)| *i) }
    }

    /// The trimmed cell of a column, `None` when the column is absent or the cell empty (and so
    /// are its further columns, when it has some).
    fn cell<'a>(&self, cells: &[&'a str], c: Col) -> Option<&'a str> {
        let v = cells.get(c.at?).map_or("", |s| trim(s));
        if !v.is_empty() {
            return Some(v);
        }
        if self.alts.is_empty() {
            return None;
        }
        self.alts.iter().filter(|(n, _, _)| *n == c.name).find_map(|&(_, i, _)| cells.get(i).map(|s| trim(s)).filter(|v| !v.is_empty()))
    }

    fn required_at<'a>(&self, cells: &[&'a str], c: Col) -> Result<&'a str, CellError> {
        self.cell(cells, c).ok_or_else(|| {
            let others: Vec<&str> = self.alts.iter().filter(|(n, _, _)| *n == c.name).map(|(_, _, h)| h.as_str()).collect();
            let reason = match others.is_empty() {
                true => format!("{} is empty", c.name),
                false => format!("{} is empty: {} and {} are all empty", c.name, self.header(c.name), others.join(", ")),
            };
            CellError { column: self.header(c.name), value: String::new(), reason }
        })
    }

    fn parse_at<T>(&self, cells: &[&str], c: Col, f: impl FnOnce(&str) -> Result<T, String>) -> Result<Option<T>, CellError> {
        match self.cell(cells, c) {
            None => Ok(None),
            Some(v) => f(v).map(Some).map_err(|reason| CellError { column: self.header(c.name), value: v.to_string(), reason }),
        }
    }

    fn header(&self, name: &str) -> String {
        self.idx.get(name).map_or(name.to_string(), |(_, h)| h.clone())
    }

    // By name, for the small files (customers, bills): one lookup per cell is nothing there.

    fn get<'a>(&self, cells: &[&'a str], name: &'static str) -> Option<&'a str> {
        self.cell(cells, self.col(name))
    }

    fn required<'a>(&self, cells: &[&'a str], name: &'static str) -> Result<&'a str, CellError> {
        self.required_at(cells, self.col(name))
    }

    fn parse<T>(&self, cells: &[&str], name: &'static str, f: impl FnOnce(&str) -> Result<T, String>) -> Result<Option<T>, CellError> {
        self.parse_at(cells, self.col(name), f)
    }
}

pub(super) fn period_value(v: &str) -> Result<Period, String> {
    Period::parse(v)
        .or_else(|| parse_naive(v).and_then(|t| Period::new(chrono::Datelike::year(&t), chrono::Datelike::month(&t))))
        .ok_or_else(|| format!("not a period: expected 2026-10, 2026/10, 202610 or 2026年10月, got {v:?}"))
}

fn mode_value(v: &str, coding: ModeCoding) -> Result<ChargingMode, String> {
    let codes = match coding {
        ModeCoding::Api => "1, 3, 10, 11",
        ModeCoding::Bill => "0 to 6",
    };
    ChargingMode::parse(v, coding).ok_or_else(|| format!("unknown charging mode {v:?}: expected 包年/包月, 按需, 预留实例, 节省计划 or codes {codes}"))
}

fn assoc_value(v: &str) -> Result<Association, String> {
    Association::parse(v).ok_or_else(|| format!("unknown association type {v:?}: expected 代售, 顾问销售, resale, referral, 1 or 2"))
}

fn required_amount(v: &str) -> Result<i128, String> {
    parse_amount_phys(v)?.ok_or_else(|| "amount is empty".to_string())
}
