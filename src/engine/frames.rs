//! The polars side of the engine: loaded columns become lazy frames with `Decimal` money, and
//! the row-level work (product join, attribution from the customer attributes looked up per row
//! in Rust, status, base, expected period, grouping into
//! keys, the full outer join of expected, actual and no-side groups, the waterfall sums) runs
//! there. What comes back to Rust is one row per key and one row per (cycle, period, status).

use polars::prelude::*;
use rust_decimal::Decimal;

use crate::load::{to_phys, Consumption, Customers, Incentives, Texts};
use crate::model::{epoch_day, AMOUNT_SCALE};
use crate::rules::RuleSet;

const PREC: usize = 38;
const S: usize = AMOUNT_SCALE as usize;
/// Scale for base × rate before rounding: exact for any base and rate of AMOUNT_SCALE places.
pub const WIDE: usize = 2 * S;

/// Status of a consumption row.
pub const ELIGIBLE: i32 = 0;
pub const INELIGIBLE: i32 = 1;
pub const NOT_ATTRIBUTED: i32 = 2;

/// Why a row is not attributed (column `na`).
pub const NA_NONE: i32 = 0;
pub const NA_TYPE: i32 = 1;
pub const NA_NOT_IN_FILE: i32 = 2;
pub const NA_LAG: i32 = 3;
pub const NA_GRACE: i32 = 4;

/// A string column made from borrowed text: one copy into polars, no `String` per row.
pub fn str_column<'a>(name: &str, values: impl Iterator<Item = &'a str>) -> Column {
    StringChunked::from_iter_values(name.into(), values).into_series().into_column()
}

/// A numeric column copied from a slice (no intermediate `Vec`).
pub fn num_column<T: polars::prelude::PolarsNumericType>(name: &str, values: &[T::Native]) -> Column {
    ChunkedArray::<T>::from_slice(name.into(), values).into_series().into_column()
}

pub fn dec_column(name: &str, values: Vec<i128>, scale: usize) -> PolarsResult<Column> {
    Ok(Int128Chunked::from_vec(name.into(), values).into_decimal(PREC, scale)?.into_series().into_column())
}

fn opt_dec_column(name: &str, values: &[Option<i128>]) -> PolarsResult<Column> {
    let ca: Int128Chunked = values.iter().copied().collect();
    Ok(ca.with_name(name.into()).into_decimal(PREC, S)?.into_series().into_column())
}

fn dec_type(scale: usize) -> DataType {
    DataType::Decimal(PREC, scale)
}

/// Trade ids and service types coded as integers in their sort order, so that grouping, joining
/// and sorting keys in polars work on one `u64` (`trade << 32 | service`) instead of two strings,
/// and ordering by the code is ordering by the text. Each row's key code is found once, here.
pub struct KeyCodes<'a> {
    pub trades: Vec<&'a str>,
    pub services: Vec<&'a str>,
    /// Each consumption row's key code.
    pub consumption: Vec<u64>,
    /// Each incentive row's key code.
    pub incentives: Vec<u64>,
}

/// The distinct values in first-seen order, and each value's number among them (one hash lookup
/// per value; `n`: how many values to expect).
fn first_seen<K: std::hash::Hash + Eq + Copy>(values: impl Iterator<Item = K>, n: usize) -> (Vec<K>, Vec<u32>) {
    let mut seen: polars::prelude::PlHashMap<K, u32> = polars::prelude::PlHashMap::default();
    let mut distinct: Vec<K> = Vec::new();
    let mut numbers = Vec::with_capacity(n);
    for v in values {
        let next = distinct.len() as u32;
        numbers.push(*seen.entry(v).or_insert_with(|| {
            distinct.push(v);
            next
        }));
    }
    (distinct, numbers)
}

/// The distinct texts in sort order, and each text's place among them: one hash lookup per text
/// (first-seen numbers, then renumbered by a sort of the distinct texts).
fn ranked<'a>(texts: impl Iterator<Item = &'a str>, n: usize) -> (Vec<&'a str>, Vec<u32>) {
    use rayon::prelude::*;
    let (distinct, first_seen) = first_seen(texts, n);
    let mut order: Vec<u32> = (0..distinct.len() as u32).collect();
    order.par_sort_unstable_by_key(|&i| distinct[i as usize]);
    let mut rank = vec![0u32; distinct.len()];
    for (r, &i) in order.iter().enumerate() {
        rank[i as usize] = r as u32;
    }
    let sorted = order.iter().map(|&i| distinct[i as usize]).collect();
    (sorted, first_seen.into_iter().map(|c| rank[c as usize]).collect())
}

impl<'a> KeyCodes<'a> {
    pub fn new(c: &'a Consumption, inc: &'a Incentives) -> KeyCodes<'a> {
        let n = c.len() + inc.len();
        let ((trades, trade), (services, service)) = rayon::join(
            || ranked(c.trade_id.iter().chain(inc.trade_id.iter()), n),
            || ranked(c.service.iter().chain(inc.service.iter()), n),
        );
        let mut keys = trade.iter().zip(&service).map(|(&t, &s)| (u64::from(t) << 32) | u64::from(s));
        let consumption = keys.by_ref().take(c.len()).collect();
        let incentives = keys.collect();
        KeyCodes { trades, services, consumption, incentives }
    }

    /// The trade id and service type of a key code.
    pub fn text(&self, key: u64) -> (&'a str, &'a str) {
        let (t, s) = ((key >> 32) as usize, (key & 0xffff_ffff) as usize);
        (self.trades.get(t).copied().unwrap_or(""), self.services.get(s).copied().unwrap_or(""))
    }
}

/// The consumption frame: one row per accepted consumption row. The key is carried as its code
/// (see [`KeyCodes`]) and what decides the product as its place among the distinct ones
/// (`prodk`, see [`product_keys`]); the customer's attributes from the customers file are looked
/// up here, in Rust (`c_assoc`, null when the customer is not in the file, `lag_from`,
/// `grace_from`). The texts (`cust`, `svc`, `trade`) are copied into the frame only when
/// `with_text` (the bill check groups by them): polars then joins and groups on integers alone.
pub fn consumption_frame(c: &Consumption, codes: &KeyCodes, products: Vec<u32>, customers: Option<(&Customers, &[u32])>, rules: &RuleSet, with_text: bool) -> PolarsResult<LazyFrame> {
    let n = c.len();
    let keys = codes.consumption.clone();
    let mut cols = vec![
        Column::new("row".into(), (0..n as u32).collect::<Vec<u32>>()),
        Column::new("key".into(), keys),
        Column::new("prodk".into(), products),
        num_column::<Int32Type>("cycle", &c.cycle),
        num_column::<Int32Type>("assoc", &c.assoc),
        num_column::<Int32Type>("mode", &c.mode),
        num_column::<Int64Type>("ts", &c.ts),
        num_column::<Int32Type>("day", &c.day),
        dec_column("pay", c.payment.clone(), S)?,
    ];
    if with_text {
        cols.push(str_column("cust", c.customer_id.iter()));
        cols.push(str_column("svc", c.service.iter()));
        cols.push(str_column("trade", c.trade_id.iter()));
    }
    if let Some((customers, index)) = customers {
        cols.extend(customer_columns(customers, index, rules));
    }
    for (i, v) in c.counted.iter().enumerate() {
        cols.push(dec_column(&format!("c{i}"), v.clone(), S)?);
    }
    Ok(DataFrame::new(n, cols)?.lazy())
}

/// Per consumption row, its customer's position in the customers file ([`NO_CUSTOMER`] when not
/// in it).
pub fn customer_index(c: &Consumption, customers: &Customers) -> Vec<u32> {
    use rayon::prelude::*;
    (0..c.len()).into_par_iter().map(|r| customers.index.get(&c.customer_id[r]).map_or(NO_CUSTOMER, |&i| i as u32)).collect()
}

/// A consumption row whose customer is not in the customers file (see [`customer_index`]).
pub const NO_CUSTOMER: u32 = u32::MAX;

/// Per consumption row (its customer's position, [`customer_index`]), its customer's association
/// type (null when not in the customers file) and the instants before which its consumption is
/// not attributed.
fn customer_columns(customers: &Customers, index: &[u32], rules: &RuleSet) -> [Column; 3] {
    let per_customer: Vec<(i32, i64, i64)> = customers
        .list
        .iter()
        .map(|c| {
            (
                c.association.code(),
                c.associated_at.map_or(i64::MIN, |t| t + rules.association_lag_days * 86_400),
                c.rebound_at.map_or(i64::MIN, |t| add_months_local(t, rules.rebind_grace_months, rules)),
            )
        })
        .collect();
    let found: Vec<Option<&(i32, i64, i64)>> = index.iter().map(|&i| per_customer.get(i as usize)).collect();
    [
        Column::new("c_assoc".into(), found.iter().map(|f| f.map(|f| f.0)).collect::<Int32Chunked>().into_series()),
        Column::new("lag_from".into(), found.iter().map(|f| f.map(|f| f.1)).collect::<Int64Chunked>().into_series()),
        Column::new("grace_from".into(), found.iter().map(|f| f.map(|f| f.2)).collect::<Int64Chunked>().into_series()),
    ]
}

/// The product decided for each distinct (service type, charging mode, local date).
pub fn product_frame(keys: &[(u32, i32, i32)], codes: &KeyCodes, rules: &RuleSet) -> PolarsResult<LazyFrame> {
    let epoch = chrono::NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default();
    let n = keys.len();
    let (mut prod, mut lag, mut rate) = (Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n));
    for &(svc, mode, day) in keys {
        let s = codes.services.get(svc as usize).copied().unwrap_or("");
        let m = crate::model::ChargingMode::from_code(mode);
        let d = epoch + chrono::Duration::days(day as i64);
        debug_assert_eq!(epoch_day(d), day);
        match rules.product_for(s, m, d) {
            Some(p) => {
                prod.push(p as i32);
                lag.push(rules.products[p].lag_months);
                rate.push(to_phys(rules.products[p].rate));
            }
            None => {
                prod.push(-1);
                lag.push(0);
                rate.push(0);
            }
        }
    }
    let df = DataFrame::new(
        n,
        vec![
            Column::new("prodk".into(), (0..n as u32).collect::<Vec<u32>>()),
            Column::new("prod".into(), prod),
            Column::new("lag".into(), lag),
            dec_column("rate", rate, S)?,
        ],
    )?;
    Ok(df.lazy())
}

/// The distinct `(service code, charging mode code, day)` of the consumption rows, which decide
/// a row's product, and each row's place among them (the `prodk` that [`product_frame`] and
/// [`consumption_frame`] are joined on).
pub fn product_keys(c: &Consumption, codes: &KeyCodes) -> (Vec<(u32, i32, i32)>, Vec<u32>) {
    first_seen((0..c.len()).map(|r| ((codes.consumption[r] & 0xffff_ffff) as u32, c.mode[r], c.day[r])), c.len())
}

/// `t + n months` on the local calendar; a day past the target month's end clamps to its last day
/// (rebound 2026-08-31 + 6 months = 2027-02-28, same time of day).
pub fn add_months_local(t: i64, n: i32, rules: &RuleSet) -> i64 {
    use chrono::{Datelike, NaiveDate};
    let local = rules.tz.utc_to_local(t);
    let total = local.year() * 12 + local.month0() as i32 + n;
    let (y, m) = (total.div_euclid(12), total.rem_euclid(12) as u32 + 1);
    let mut day = local.day();
    let date = loop {
        if let Some(d) = NaiveDate::from_ymd_opt(y, m, day) {
            break d;
        }
        day -= 1;
    };
    rules.tz.local_to_utc(date.and_time(local.time()))
}

/// The late-window cutoff of each bill cycle present: consumption at or after it rolls over.
pub fn cutoff_frame(cycles: &[i32], rules: &RuleSet) -> PolarsResult<LazyFrame> {
    let cutoff: Vec<i64> = cycles
        .iter()
        .map(|&c| {
            if rules.late_window_hours > 0 {
                crate::model::Period(c).end_ts(rules.tz) - rules.late_window_hours * 3600
            } else {
                i64::MAX
            }
        })
        .collect();
    let df = DataFrame::new(cycles.len(), vec![Column::new("cycle".into(), cycles.to_vec()), Column::new("cutoff".into(), cutoff)])?;
    Ok(df.lazy())
}

/// Consumption with product, attribution, status, base and expected period decided.
pub fn decided_consumption(
    cons: LazyFrame,
    products: LazyFrame,
    has_file: bool,
    cutoffs: LazyFrame,
    rules: &RuleSet,
    n_counted: usize,
) -> LazyFrame {
    let mut lf = cons.join(products, [col("prodk")], [col("prodk")], JoinArgs::new(JoinType::Left));
    let all_listed = rules.association_types.len() == 2;
    let referral = rules.lists(crate::model::Association::Referral);
    let resale = rules.lists(crate::model::Association::Resale);
    // With a customers file the consumption frame carries c_assoc, lag_from and grace_from.
    lf = match has_file {
        true => lf,
        false => lf.with_columns([
            col("assoc").alias("c_assoc"),
            lit(i64::MIN).alias("lag_from"),
            lit(i64::MIN).alias("grace_from"),
        ]),
    };
    let eff = col("c_assoc").fill_null(lit(0));
    let type_ok = (eff.clone().eq(lit(1)).and(lit(referral)))
        .or(eff.clone().eq(lit(2)).and(lit(resale)))
        .or(eff.eq(lit(0)).and(lit(all_listed)));
    let in_file = if has_file { col("c_assoc").is_not_null() } else { lit(true) };
    let na = when(in_file.not())
        .then(lit(NA_NOT_IN_FILE))
        .when(type_ok.not())
        .then(lit(NA_TYPE))
        .when(col("ts").lt(col("lag_from").fill_null(lit(i64::MIN))))
        .then(lit(NA_LAG))
        .when(col("ts").lt(col("grace_from").fill_null(lit(i64::MIN))))
        .then(lit(NA_GRACE))
        .otherwise(lit(NA_NONE));
    let zero_rate = Decimal::ZERO;
    let status = when(col("prod").lt(lit(0)).or(col("rate").eq(lit_dec(zero_rate))))
        .then(lit(INELIGIBLE))
        .when(col("na").neq(lit(NA_NONE)))
        .then(lit(NOT_ATTRIBUTED))
        .otherwise(lit(ELIGIBLE));
    let mut base = lit_dec(Decimal::ZERO);
    for i in 0..n_counted {
        base = base + col(format!("c{i}"));
    }
    lf = lf.with_columns([na.alias("na")]).with_columns([status.alias("status"), base.cast(dec_type(S)).alias("base")]);
    let late = col("ts").gt_eq(col("cutoff"));
    let exp = when(col("status").eq(lit(ELIGIBLE)))
        .then(col("cycle") + col("lag") + when(late).then(lit(1)).otherwise(lit(0)))
        .otherwise(col("cycle"));
    lf.join(cutoffs, [col("cycle")], [col("cycle")], JoinArgs::new(JoinType::Left))
        .with_columns([exp.alias("exp"), (col("pay") - col("base")).cast(dec_type(S)).alias("excluded")])
}

pub fn lit_dec(d: Decimal) -> Expr {
    lit(Scalar::new(dec_type(S), AnyValue::Decimal(to_phys(d), PREC, S)))
}

/// Sums per (cycle, expected period, status), for the waterfall.
pub fn flow_sums(decided: LazyFrame) -> LazyFrame {
    decided
        .group_by([col("cycle"), col("exp"), col("status")])
        .agg([col("pay").sum().alias("pay"), col("base").sum().alias("base"), col("excluded").sum().alias("excluded"), len().alias("n")])
        .sort(["cycle", "exp", "status"], Default::default())
}

/// One row per key `(period, trade, svc)` (trade and service as one code, see [`KeyCodes`]),
/// sorted by period, trade id and service: the expected side (`e_`), the actual side (`a_`) and
/// the no-side consumption (`n_`), full-outer-joined. The rows behind each key are not listed
/// here: list columns are copied a row at a time by each join and the sort (about a fifth of
/// the polars samples of a streamed 1 M run), so the engine gathers them by key in Rust.
/// With `packed`, both frames carry each row's key as one number (`pk`, see [`Packing`]) and
/// the sides are grouped, joined and sorted on it alone: the frame then has `pk` instead of
/// `period` and `key` ([`Packing::unpack`] puts them back).
pub fn keys_frame(decided: LazyFrame, incentives: LazyFrame, packed: bool) -> LazyFrame {
    let (e_on, n_on, a_on, on, sort) = match packed {
        true => (vec![col("pk")], vec![col("pk")], vec![col("pk")], vec![col("pk")], vec!["pk"]),
        false => (
            vec![col("exp").alias("period"), col("key")],
            vec![col("cycle").alias("period"), col("key")],
            vec![col("period"), col("key")],
            vec![col("period"), col("key")],
            vec!["period", "key"],
        ),
    };
    let expected = decided
        .clone()
        .filter(col("status").eq(lit(ELIGIBLE)))
        .with_columns([(col("base").cast(dec_type(WIDE)) * col("rate").cast(dec_type(WIDE))).alias("inc_raw")])
        .group_by(e_on)
        .agg([
            col("base").sum().alias("e_base"),
            col("inc_raw").sum().alias("e_inc_raw"),
            len().alias("e_n"),
        ]);
    let noside = decided
        .filter(col("status").neq(lit(ELIGIBLE)))
        .group_by(n_on)
        .agg([
            col("status").eq(lit(INELIGIBLE)).sum().alias("n_inel"),
            col("status").eq(lit(NOT_ATTRIBUTED)).sum().alias("n_na"),
        ]);
    let actual = incentives
        .group_by(a_on)
        .agg([
            col("amount").sum().alias("a_inc"),
            col("base").sum().alias("a_base"),
            col("base").count().alias("a_base_n"),
            col("dup").n_unique().alias("a_distinct"),
            len().alias("a_n"),
        ]);
    let full = JoinArgs::new(JoinType::Full).with_coalesce(JoinCoalesce::CoalesceColumns);
    expected
        .join(actual, on.clone(), on.clone(), full.clone())
        .join(noside, on.clone(), on, full)
        .sort(sort, Default::default())
}

/// Keys `(period, trade code, service code)` as one `u64`, ordered as the triples are:
/// `(period's place * trades + trade) * services + service`, over the periods a partition's rows
/// fall in. `None` from [`Packing::new`] when that does not fit in 64 bits.
pub struct Packing {
    periods: Vec<i32>,
    trades: u64,
    services: u64,
}

impl Packing {
    pub fn new(periods: impl Iterator<Item = i32>, trades: usize, services: usize) -> Option<Packing> {
        let periods: Vec<i32> = periods.collect::<std::collections::BTreeSet<_>>().into_iter().collect();
        let (trades, services) = (trades.max(1) as u64, services.max(1) as u64);
        (periods.len().max(1) as u64).checked_mul(trades)?.checked_mul(services)?;
        Some(Packing { periods, trades, services })
    }

    /// The number of `(period, key)`; `period` must be one of those given to [`Packing::new`].
    pub fn pack(&self, period: i32, key: u64) -> u64 {
        let p = self.periods.binary_search(&period).unwrap_or(0) as u64;
        (p * self.trades + (key >> 32)) * self.services + (key & 0xffff_ffff)
    }

    /// Adds the `period` and `key` columns that the number in `pk` stands for.
    pub fn unpack(&self, df: &mut DataFrame) -> PolarsResult<()> {
        let pk = u64_values(df, "pk")?;
        let (mut period, mut key) = (Vec::with_capacity(pk.len()), Vec::with_capacity(pk.len()));
        for v in pk {
            let (rest, s) = (v / self.services, v % self.services);
            let (p, t) = (rest / self.trades, rest % self.trades);
            period.push(self.periods.get(p as usize).copied().unwrap_or(0));
            key.push((t << 32) | s);
        }
        df.with_column(Column::new("period".into(), period))?;
        df.with_column(Column::new("key".into(), key))?;
        Ok(())
    }
}

/// The incentive frame: one row per accepted incentive row.
/// `keys` are the rows' key codes ([`KeyCodes::incentives`]), `packed` their [`Packing`] numbers.
pub fn incentive_frame(inc: &Incentives, keys: Vec<u64>, packed: Option<Vec<u64>>) -> PolarsResult<LazyFrame> {
    let n = inc.len();
    let mut df = DataFrame::new(
        n,
        vec![
            Column::new("row".into(), (0..n as u32).collect::<Vec<u32>>()),
            num_column::<Int32Type>("period", &inc.period),
            Column::new("key".into(), keys),
            dec_column("amount", inc.amount.clone(), S)?,
            opt_dec_column("base", &inc.base)?,
            Column::new("dup".into(), dup_codes(&inc.dup_key)),
        ],
    )?;
    if let Some(pk) = packed {
        df.with_column(Column::new("pk".into(), pk))?;
    }
    Ok(df.lazy())
}

/// Each incentive row's duplicate key as a number, equal exactly when the texts are equal
/// (counting distinct numbers per key is counting distinct texts, without strings in polars).
fn dup_codes(keys: &Texts) -> Vec<u32> {
    first_seen(keys.iter(), keys.len()).1
}

/// Reads a decimal column as physical values at `scale` (nulls stay `None`).
pub fn dec_values(df: &DataFrame, name: &str) -> PolarsResult<(Vec<Option<i128>>, usize)> {
    let ca = df.column(name)?.decimal()?;
    let scale = ca.scale();
    Ok((opt_values(ca.physical()), scale))
}

/// The values of a numeric column, null or not, read chunk by chunk from its buffers (not an
/// element at a time through a boxed iterator: the engine reads a dozen columns of every key).
fn opt_values<T: PolarsNumericType>(ca: &ChunkedArray<T>) -> Vec<Option<T::Native>> {
    let mut out = Vec::with_capacity(ca.len());
    for arr in ca.downcast_iter() {
        let values = arr.values().as_slice();
        match arr.validity() {
            Some(valid) if valid.unset_bits() > 0 => out.extend(values.iter().zip(valid.iter()).map(|(&v, ok)| ok.then_some(v))),
            _ => out.extend(values.iter().map(|&v| Some(v))),
        }
    }
    out
}

/// Reads a list-of-u32 column (row indices) through its offsets, without a Series per row.
pub fn row_lists(df: &DataFrame, name: &str) -> PolarsResult<Vec<Vec<u32>>> {
    let ca = df.column(name)?.list()?.rechunk();
    let inner = ca.get_inner();
    let values = inner.u32()?.rechunk();
    let values = values.cont_slice()?;
    let mut out = Vec::with_capacity(ca.len());
    for arr in ca.downcast_iter() {
        let offsets = arr.offsets().as_slice();
        for i in 0..arr.len() {
            if arr.validity().is_some_and(|v| !v.get_bit(i)) {
                out.push(Vec::new());
            } else {
                out.push(values[offsets[i] as usize..offsets[i + 1] as usize].to_vec());
            }
        }
    }
    Ok(out)
}

pub fn i32_values(df: &DataFrame, name: &str) -> PolarsResult<Vec<Option<i32>>> {
    let c = df.column(name)?;
    match c.dtype() {
        DataType::Int32 => Ok(opt_values(c.i32()?)),
        _ => Ok(opt_values(c.cast(&DataType::Int32)?.i32()?)),
    }
}

pub fn u64_values(df: &DataFrame, name: &str) -> PolarsResult<Vec<u64>> {
    Ok(opt_values(df.column(name)?.u64()?).into_iter().map(|v| v.unwrap_or(u64::MAX)).collect())
}

pub fn u32_values(df: &DataFrame, name: &str) -> PolarsResult<Vec<u32>> {
    Ok(opt_values(df.column(name)?.u32()?).into_iter().map(|v| v.unwrap_or(0)).collect())
}

pub fn i64_values(df: &DataFrame, name: &str) -> PolarsResult<Vec<Option<i64>>> {
    let c = df.column(name)?;
    // (counts come as u32)
    match c.dtype() {
        DataType::UInt32 => Ok(opt_values(c.u32()?).into_iter().map(|v| v.map(i64::from)).collect()),
        DataType::Int64 => Ok(opt_values(c.i64()?)),
        _ => Ok(opt_values(c.cast(&DataType::Int64)?.i64()?)),
    }
}

pub fn str_values(df: &DataFrame, name: &str) -> PolarsResult<Vec<String>> {
    Ok(df.column(name)?.str()?.iter().map(|s| s.unwrap_or("").to_string()).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The key frame built on packed numbers, unpacked, is the frame built on (period, key).
    fn packed_is_unpacked(cons: &[(i32, i32, i32, u64, i64, i64)], inc: &[(i32, u64, i64, Option<i64>, u32)]) {
        let key = |k: u64| ((k / 3) << 32) | (k % 3);
        let decided = DataFrame::new(
            cons.len(),
            vec![
                Column::new("status".into(), cons.iter().map(|c| c.0).collect::<Vec<i32>>()),
                Column::new("exp".into(), cons.iter().map(|c| c.1).collect::<Vec<i32>>()),
                Column::new("cycle".into(), cons.iter().map(|c| c.2).collect::<Vec<i32>>()),
                Column::new("key".into(), cons.iter().map(|c| key(c.3)).collect::<Vec<u64>>()),
                dec_column("base", cons.iter().map(|c| i128::from(c.4)).collect(), S).unwrap(),
                dec_column("rate", cons.iter().map(|c| i128::from(c.5)).collect(), S).unwrap(),
            ],
        )
        .unwrap();
        let incentives = DataFrame::new(
            inc.len(),
            vec![
                Column::new("period".into(), inc.iter().map(|i| i.0).collect::<Vec<i32>>()),
                Column::new("key".into(), inc.iter().map(|i| key(i.1)).collect::<Vec<u64>>()),
                dec_column("amount", inc.iter().map(|i| i128::from(i.2)).collect(), S).unwrap(),
                opt_dec_column("base", &inc.iter().map(|i| i.3.map(i128::from)).collect::<Vec<_>>()).unwrap(),
                Column::new("dup".into(), inc.iter().map(|i| i.4).collect::<Vec<u32>>()),
            ],
        )
        .unwrap();
        let row_period = |c: &(i32, i32, i32, u64, i64, i64)| if c.0 == ELIGIBLE { c.1 } else { c.2 };
        let packing = Packing::new(cons.iter().map(row_period).chain(inc.iter().map(|i| i.0)), 7, 3).unwrap();
        let mut d = decided.clone();
        d.with_column(Column::new("pk".into(), cons.iter().map(|c| packing.pack(row_period(c), key(c.3))).collect::<Vec<u64>>())).unwrap();
        let mut i = incentives.clone();
        i.with_column(Column::new("pk".into(), inc.iter().map(|r| packing.pack(r.0, key(r.1))).collect::<Vec<u64>>())).unwrap();
        let mut packed = keys_frame(d.lazy(), i.lazy(), true).collect().unwrap();
        packing.unpack(&mut packed).unwrap();
        let plain = keys_frame(decided.lazy(), incentives.lazy(), false).collect().unwrap();
        let cols = ["period", "key", "e_base", "e_inc_raw", "e_n", "a_inc", "a_base", "a_base_n", "a_distinct", "a_n", "n_inel", "n_na"];
        let packed = packed.select(cols).unwrap();
        let plain = plain.select(cols).unwrap();
        assert!(packed.equals_missing(&plain), "packed:\n{packed}\nplain:\n{plain}");
    }

    #[test]
    fn packed_keys_group_as_period_and_key_do() {
        let cons = [(0, 24310, 24309, 4, 100, 5), (1, 0, 24309, 4, 7, 0), (0, 24310, 24310, 4, 1, 5), (2, 24311, 24311, 20, 3, 0), (0, 24309, 24309, 0, 9, 1)];
        let inc = [(24310, 4, 50, Some(1), 0), (24310, 4, 50, None, 0), (24312, 13, 8, Some(8), 1), (24309, 0, 1, None, 2)];
        packed_is_unpacked(&cons, &inc);
        packed_is_unpacked(&[], &inc);
        packed_is_unpacked(&cons, &[]);
    }

    #[test]
    fn packing_refuses_what_does_not_fit_in_64_bits() {
        assert!(Packing::new([1, 2, 3].into_iter(), 1 << 32, 1 << 32).is_none());
        assert!(Packing::new([1, 2, 3].into_iter(), 1 << 31, 1 << 31).is_some());
        let p = Packing::new([24309, 24311].into_iter(), 5, 4).unwrap();
        assert!(p.pack(24309, (4 << 32) | 3) < p.pack(24311, 0), "period first");
        assert!(p.pack(24309, (1 << 32) | 3) < p.pack(24309, 2 << 32), "then trade, then service");
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(32))]
        #[test]
        fn packed_keys_group_as_period_and_key_do_for_any_rows(
            cons in proptest::collection::vec((0i32..3, 24309i32..24312, 24308i32..24311, 0u64..21, -50i64..50, 0i64..20), 0..30),
            inc in proptest::collection::vec((24309i32..24313, 0u64..21, -50i64..50, proptest::option::of(-50i64..50), 0u32..3), 0..30),
        ) {
            packed_is_unpacked(&cons, &inc);
        }
    }

    proptest::proptest! {
        /// Key codes order as the texts do, and equal codes are equal texts.
        #[test]
        fn ranked_codes_are_the_texts_sort_order(texts in proptest::collection::vec("[ab\\x00é]{0,4}", 0..60)) {
            let (sorted, codes) = super::ranked(texts.iter().map(String::as_str), texts.len());
            let mut expected: Vec<&str> = texts.iter().map(String::as_str).collect();
            expected.sort_unstable();
            expected.dedup();
            proptest::prop_assert_eq!(&sorted, &expected);
            proptest::prop_assert_eq!(codes.len(), texts.len());
            for (t, &c) in texts.iter().zip(&codes) {
                proptest::prop_assert_eq!(sorted[c as usize], t.as_str());
            }
        }
    }
}
