//! The expected side of a run's findings summed per statement period and product (`estimate`,
//! `whatif`; contract §7): one accumulator fed either by the renderer as the engine decides the
//! findings ([`ExpectedSums::add_finding`]) or from a findings.csv read back
//! ([`ExpectedSums::add`], `policy::expected::read`), with one key.
//!
//! The engine rounds once per key `(period, trade_id, service_type_code)`. A key's rounded
//! expected incentive is counted whole under its product; the rare key whose rows match several
//! products (rows of one order under different charging modes, or on both sides of a
//! `valid_from`) is counted under their ids joined by `+`. Bill findings and findings without an
//! expected side are left out.

use std::collections::BTreeMap;

use polars::prelude::PlHashMap;
use rust_decimal::Decimal;

use crate::engine::FindingRef;

/// `(expected period, product_id, service_type_code, charging_mode)`.
pub type Line = (String, String, String, String);

/// What the keys of one [`Line`] add up to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Sums {
    pub base: Decimal,
    pub incentive: Decimal,
    pub rows: u64,
    pub keys: u64,
}

/// Sums per [`Line`], held under the line's bytes (period, product ids, service, mode,
/// 0-separated): no String per finding.
#[derive(Debug, Default)]
pub struct ExpectedSums {
    sums: PlHashMap<Vec<u8>, Sums>,
    key: Vec<u8>,
}

impl ExpectedSums {
    /// Adds one finding's expected side, its fields as findings.csv holds them (texts restored):
    /// `rule_ids` is searched for its `product:` ids.
    #[allow(clippy::too_many_arguments)]
    pub fn add(&mut self, expected_period: &[u8], rule_ids: &[u8], service: &[u8], mode: &[u8], base: Decimal, incentive: Decimal, rows: u64) {
        let key = &mut self.key;
        key.clear();
        key.extend_from_slice(expected_period);
        key.push(0);
        let mut n = 0;
        for p in rule_ids.split(|&b| b == b';').filter_map(|p| p.strip_prefix(b"product:")) {
            if n > 0 {
                key.push(b'+');
            }
            key.extend_from_slice(p);
            n += 1;
        }
        if n == 0 {
            key.extend_from_slice(b"(none)");
        }
        key.push(0);
        key.extend_from_slice(service);
        key.push(0);
        key.extend_from_slice(mode);
        let e = match self.sums.get_mut(key.as_slice()) {
            Some(e) => e,
            None => self.sums.entry(key.clone()).or_default(),
        };
        e.base += base;
        e.incentive += incentive;
        e.rows += rows;
        e.keys += 1;
    }

    /// Adds a finding as the engine decided it (the same as [`ExpectedSums::add`] of its
    /// findings.csv record).
    pub fn add_finding(&mut self, f: &FindingRef) {
        let Some(incentive) = f.expected_incentive else { return };
        if !f.id.starts_with('F') {
            return;
        }
        let mut buf = [0u8; 16];
        let period = f.expected_period.map_or("", |p| p.text(&mut buf));
        let mode = f.charging_mode.map_or("", |m| m.label());
        self.add(period.as_bytes(), f.rule_ids.as_bytes(), f.service.as_bytes(), mode.as_bytes(), f.expected_base.unwrap_or_default(), incentive, f.consumption_rows.len() as u64);
    }

    /// Adds another accumulator's sums.
    pub fn merge(&mut self, other: ExpectedSums) {
        if self.sums.is_empty() {
            self.sums = other.sums;
            return;
        }
        for (k, v) in other.sums {
            let e = self.sums.entry(k).or_default();
            e.base += v.base;
            e.incentive += v.incentive;
            e.rows += v.rows;
            e.keys += v.keys;
        }
    }

    /// The sums per line, in order; an error when a line is not UTF-8 text.
    pub fn into_lines(self) -> Result<BTreeMap<Line, Sums>, &'static str> {
        let text = |b: &[u8]| String::from_utf8(b.to_vec()).map_err(|_| "a cell is not UTF-8");
        let mut out = BTreeMap::new();
        for (k, v) in self.sums {
            let mut parts = k.split(|&b| b == 0);
            let mut next = || text(parts.next().unwrap_or(b""));
            out.insert((next()?, next()?, next()?, next()?), v);
        }
        Ok(out)
    }
}
