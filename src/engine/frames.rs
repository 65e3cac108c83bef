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

/// The distinct texts in sort order, and each text's place among them: one hash lookup per text
/// (first-seen numbers, then renumbered by a sort of the distinct texts).
fn ranked<'a>(texts: impl Iterator<Item = &'a str>, n: usize) -> (Vec<&'a str>, Vec<u32>) {
    use rayon::prelude::*;
    let mut seen: polars::prelude::PlHashMap<&'a str, u32> = polars::prelude::PlHashMap::default();
    let mut distinct: Vec<&'a str> = Vec::new();
    let mut first_seen = Vec::with_capacity(n);
    for t in texts {
        let next = distinct.len() as u32;
        let code = *seen.entry(t).or_insert_with(|| {
            distinct.push(t);
            next
        });
        first_seen.push(code);
    }
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

/// The consumption frame: one row per accepted consumption row. The service is carried as its
/// code (`svcc`, see [`KeyCodes`]); the customer's attributes from the customers file are looked
/// up here, in Rust (`c_assoc`, null when the customer is not in the file, `lag_from`,
/// `grace_from`). The texts (`cust`, `svc`, `trade`) are copied into the frame only when
/// `with_text` (the bill check groups by them): polars then joins and groups on integers alone.
pub fn consumption_frame(c: &Consumption, codes: &KeyCodes, customers: Option<(&Customers, &[u32])>, rules: &RuleSet, with_text: bool) -> PolarsResult<LazyFrame> {
    let n = c.len();
    let keys = codes.consumption.clone();
    let svcc: Vec<u32> = keys.iter().map(|&k| (k & 0xffff_ffff) as u32).collect();
    let mut cols = vec![
        Column::new("row".into(), (0..n as u32).collect::<Vec<u32>>()),
        Column::new("key".into(), keys),
        Column::new("svcc".into(), svcc),
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
pub fn product_frame(keys: &DataFrame, codes: &KeyCodes, rules: &RuleSet) -> PolarsResult<LazyFrame> {
    let svc = keys.column("svcc")?.u32()?;
    let mode = keys.column("mode")?.i32()?;
    let day = keys.column("day")?.i32()?;
    let epoch = chrono::NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default();
    let n = keys.height();
    let (mut prod, mut lag, mut rate) = (Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n));
    for i in 0..n {
        let s = svc.get(i).and_then(|c| codes.services.get(c as usize).copied()).unwrap_or("");
        let m = mode.get(i).and_then(crate::model::ChargingMode::from_code);
        let d = epoch + chrono::Duration::days(day.get(i).unwrap_or(0) as i64);
        debug_assert_eq!(epoch_day(d), day.get(i).unwrap_or(0));
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
            keys.column("svcc")?.clone(),
            keys.column("mode")?.clone(),
            keys.column("day")?.clone(),
            Column::new("prod".into(), prod),
            Column::new("lag".into(), lag),
            dec_column("rate", rate, S)?,
        ],
    )?;
    Ok(df.lazy())
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
    let keys = [col("svcc"), col("mode"), col("day")];
    let mut lf = cons.join(products, keys.clone(), keys, JoinArgs::new(JoinType::Left));
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
pub fn keys_frame(decided: LazyFrame, incentives: LazyFrame) -> LazyFrame {
    let expected = decided
        .clone()
        .filter(col("status").eq(lit(ELIGIBLE)))
        .with_columns([(col("base").cast(dec_type(WIDE)) * col("rate").cast(dec_type(WIDE))).alias("inc_raw")])
        .group_by([col("exp").alias("period"), col("key")])
        .agg([
            col("base").sum().alias("e_base"),
            col("inc_raw").sum().alias("e_inc_raw"),
            len().alias("e_n"),
        ]);
    let noside = decided
        .filter(col("status").neq(lit(ELIGIBLE)))
        .group_by([col("cycle").alias("period"), col("key")])
        .agg([
            col("status").eq(lit(INELIGIBLE)).sum().alias("n_inel"),
            col("status").eq(lit(NOT_ATTRIBUTED)).sum().alias("n_na"),
        ]);
    let actual = incentives
        .group_by([col("period"), col("key")])
        .agg([
            col("amount").sum().alias("a_inc"),
            col("base").sum().alias("a_base"),
            col("base").count().alias("a_base_n"),
            col("dup").n_unique().alias("a_distinct"),
            len().alias("a_n"),
        ]);
    let on = [col("period"), col("key")];
    let full = JoinArgs::new(JoinType::Full).with_coalesce(JoinCoalesce::CoalesceColumns);
    expected
        .join(actual, on.clone(), on.clone(), full.clone())
        .join(noside, on.clone(), on, full)
        .sort(["period", "key"], Default::default())
}

/// The incentive frame: one row per accepted incentive row.
/// `keys` are the rows' key codes ([`KeyCodes::codes`]).
pub fn incentive_frame(inc: &Incentives, keys: Vec<u64>) -> PolarsResult<LazyFrame> {
    let n = inc.len();
    let df = DataFrame::new(
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
    Ok(df.lazy())
}

/// Each incentive row's duplicate key as a number, equal exactly when the texts are equal
/// (counting distinct numbers per key is counting distinct texts, without strings in polars).
fn dup_codes(keys: &Texts) -> Vec<u32> {
    let mut seen: polars::prelude::PlHashMap<&str, u32> = polars::prelude::PlHashMap::with_capacity(keys.len());
    keys.iter()
        .map(|k| {
            let next = seen.len() as u32;
            *seen.entry(k).or_insert(next)
        })
        .collect()
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
