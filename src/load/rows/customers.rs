//! The customers file: each customer's association and when it was associated or rebound.

use super::{assoc_value, CellError, Cols, Sink};
use crate::load::schema::HeaderMap;
use crate::load::table::Table;
use crate::load::values::parse_time;
use crate::load::{LoadError, OptTexts, Provenance};
use crate::model::{Association, PolicyTz};
use crate::rules::RuleSet;

/// One customer of the customers file.
#[derive(Debug, Clone)]
pub struct Customer {
    pub customer_id: String,
    pub association: Association,
    pub associated_at: Option<i64>,
    pub rebound_at: Option<i64>,
}

#[derive(Debug, Default)]
pub struct Customers {
    pub list: Vec<Customer>,
    /// Customer id → position in `list` (a fast hash: a large run looks up every consumption
    /// row's customer, and most findings' names).
    pub index: polars::prelude::PlHashMap<String, usize>,
    /// Each customer's name, by position in `list`: kept apart, in one buffer, because most
    /// findings read a name, and reading it from the scattered `Customer`s missed the cache
    /// (perf: the name's read was most of deciding a key's time).
    pub names: OptTexts,
    pub prov: Provenance,
}

impl Sink for Customers {
    type Ctx = Cols;
    /// A customer listed twice is told by the first row: read in file order, in one part.
    const PARALLEL: bool = false;

    fn append(&mut self, mut o: Self) {
        // Only ever appended to an empty sink (one part, see PARALLEL).
        if self.list.is_empty() {
            *self = o;
        } else {
            for c in o.list {
                self.index.insert(c.customer_id.clone(), self.list.len());
                self.list.push(c);
            }
            self.names.append(&mut o.names);
        }
    }

    fn begin(&mut self, map: &HeaderMap, _table: &Table, _rules: &RuleSet) -> Result<Cols, LoadError> {
        Ok(Cols::new(map))
    }

    fn push(&mut self, c: &Cols, cells: &[&str], rules: &RuleSet) -> Result<(), CellError> {
        let customer_id = c.required(cells, "customer_id")?;
        if self.index.contains_key(customer_id) {
            return Err(CellError {
                column: c.header("customer_id"),
                value: customer_id.into(),
                reason: "customer listed twice in the customers files; the first row is used".into(),
            });
        }
        let association = match c.parse(cells, "association_type", assoc_value)? {
            Some(a) => a,
            None => return Err(CellError { column: c.header("association_type"), value: String::new(), reason: "association_type is empty".into() }),
        };
        let tz: PolicyTz = rules.tz;
        let associated_at = c.parse(cells, "associated_at", |v| parse_time(v, tz))?;
        let rebound_at = c.parse(cells, "rebound_at", |v| parse_time(v, tz))?;
        self.index.insert(customer_id.to_string(), self.list.len());
        self.names.push(c.get(cells, "customer_name"));
        self.list.push(Customer {
            customer_id: customer_id.to_string(),
            association,
            associated_at,
            rebound_at,
        });
        Ok(())
    }
}
