//! The engine: decides every consumption row (product, attribution, base, expected period) and
//! every key `(period, trade_id, service_type_code)` (the 15 ordered rules of contract §3, with
//! PERIOD_SHIFT pairing), builds the waterfall of each statement period in scope, and checks on
//! every run that the waterfall closes and that every accepted row lands in exactly one key.
//! Row-level work runs in polars ([`frames`]); the per-key decisions, which also write the
//! explanations, run in Rust ([`decide`]).

pub mod bills;
pub mod decide;
pub mod frames;
pub mod waterfall;

use std::collections::{BTreeMap, BTreeSet};

use polars::prelude::*;
use rust_decimal::Decimal;

use crate::load::{from_phys, Loaded};
use crate::model::{ChargingMode, Period, AMOUNT_SCALE};
use crate::rules::RuleSet;
pub use decide::{finding_id, Action, Category, Finding, FindingRef};
pub use waterfall::PeriodReport;

/// An engine failure: polars refused a step, the scope names an unloaded period, or an
/// internal invariant broke (a bug: the run stops rather than report numbers that do not close).
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("polars failed while {stage}")]
    Polars {
        stage: &'static str,
        #[source]
        source: PolarsError,
    },
    #[error("internal check failed, the results would not close: {0}")]
    Invariant(String),
    #[error("cannot write the findings")]
    Sink(#[source] SinkError),
}

pub(crate) trait Stage<T> {
    fn stage(self, stage: &'static str) -> Result<T, EngineError>;
}

impl<T> Stage<T> for PolarsResult<T> {
    fn stage(self, stage: &'static str) -> Result<T, EngineError> {
        self.map_err(|source| EngineError::Polars { stage, source })
    }
}

/// The expected side of a key.
#[derive(Debug, Clone)]
pub struct ExpectedSide {
    pub base: Decimal,
    pub incentive: Decimal,
    pub rows: Vec<u32>,
}

/// The actual side of a key.
#[derive(Debug, Clone)]
pub struct ActualSide {
    pub incentive: Decimal,
    pub base: Option<Decimal>,
    pub rows: Vec<u32>,
    pub duplicate: bool,
}

/// One key with whatever it has on each side (its texts borrowed from the loaded rows).
#[derive(Debug, Clone)]
pub struct Key<'a> {
    pub period: Period,
    pub trade_id: &'a str,
    pub service: &'a str,
    pub expected: Option<ExpectedSide>,
    pub actual: Option<ActualSide>,
    /// Ineligible and non-attributed consumption rows of this bill cycle, trade and service.
    pub noside_rows: Vec<u32>,
    pub n_ineligible: u32,
    pub n_not_attributed: u32,
}

/// Per consumption row: what the engine decided (kept for explanations and for `explain`).
#[derive(Debug, Clone, Default)]
pub struct RowDecisions {
    /// Product index in the rules, -1 for none.
    pub product: Vec<i32>,
    pub status: Vec<i32>,
    pub na_reason: Vec<i32>,
    pub expected: Vec<i32>,
    pub base: Vec<i128>,
    /// The row's customer's position in the customers file ([`frames::NO_CUSTOMER`] when not in
    /// it); empty without a customers file.
    pub customer: Vec<u32>,
}

/// How many findings a run wrote, by action, and each statement period's disputes (their count
/// and the sum of their deltas: what the period's verdict says).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counts {
    pub total: usize,
    pub none: usize,
    pub dispute: usize,
    pub review: usize,
    pub disputes: BTreeMap<Period, (usize, Decimal)>,
}

impl Counts {
    pub fn add(&mut self, f: &FindingRef) {
        self.total += 1;
        match f.action {
            Action::None => self.none += 1,
            Action::Dispute => {
                self.dispute += 1;
                let e = self.disputes.entry(f.period).or_default();
                e.0 += 1;
                e.1 += f.delta;
            }
            Action::Review => self.review += 1,
        }
    }

    pub fn absorb(&mut self, o: Counts) {
        self.total += o.total;
        self.none += o.none;
        self.dispute += o.dispute;
        self.review += o.review;
        for (p, (n, d)) in o.disputes {
            let e = self.disputes.entry(p).or_default();
            e.0 += n;
            e.1 += d;
        }
    }

    /// The verdict on statement period `p`: confirm it (确认账单) when none of its findings is a
    /// dispute, else file feedback (问题反馈) on its disputes.
    pub fn verdict(&self, p: Period) -> Verdict {
        match self.disputes.get(&p) {
            None | Some((0, _)) => Verdict::Confirm,
            Some(&(n, total)) => Verdict::Feedback { disputes: n, total },
        }
    }
}

/// What to do with a statement in Partner Center (contract §6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// 确认账单: no finding of the period needs a dispute.
    Confirm,
    /// 问题反馈: this many disputes, totalling the sum of their deltas.
    Feedback { disputes: usize, total: Decimal },
}

impl Verdict {
    pub fn name(self) -> &'static str {
        match self {
            Verdict::Confirm => "confirm",
            Verdict::Feedback { .. } => "feedback",
        }
    }

    /// The verdict in a sentence, Chinese and English.
    pub fn sentence(self) -> String {
        match self {
            Verdict::Confirm => "确认账单 confirm：本期没有需要问题反馈的差异 | no finding of the period needs a dispute".to_string(),
            Verdict::Feedback { disputes, total } => {
                format!("问题反馈 feedback：{disputes} 项争议，合计 {} | {disputes} dispute(s) totalling {}", crate::model::fmt_money(total), crate::model::fmt_money(total))
            }
        }
    }
}

/// The full result of one run.
#[derive(Debug)]
pub struct Outcome {
    pub loaded_periods: Vec<Period>,
    pub scope: Vec<Period>,
    pub periods: Vec<PeriodReport>,
    /// The findings kept in memory: those the caller of [`run_part`] kept from its sink (the
    /// rest were streamed to the sink and dropped).
    pub findings: Vec<Finding>,
    /// Every finding written, kept or not.
    pub counts: Counts,
    pub rows: RowDecisions,
    /// Partner bill cycles, when bills were given.
    pub bills: Vec<bills::BillCycle>,
    /// A partition of a streamed run with a partner bill: its bill groups, sorted, and its
    /// other consumption per cycle (see [`bills::partials`]).
    pub bill_parts: Vec<bills::Partial>,
    pub bill_others: std::collections::BTreeMap<i32, (Decimal, Decimal)>,
}

impl Outcome {
    pub fn count(&self, action: Action) -> usize {
        match action {
            Action::None => self.counts.none,
            Action::Dispute => self.counts.dispute,
            Action::Review => self.counts.review,
        }
    }
}

/// A failure of whatever receives the findings while they are decided (a report writer).
pub type SinkError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Keys decided (and findings handed to the sink) at a time. Bounds the memory of a run: only
/// this many keys and findings are held, whatever the size of the inputs. `RECON_CHUNK_KEYS`
/// overrides it (the outputs do not depend on it; the tests check that with tiny chunks).
pub const CHUNK_KEYS: usize = 1 << 17;

/// Keys decided by one thread in a row (a batch for [`Emit`]).
const BATCH_KEYS: usize = 1024;

/// What the engine hands each written finding to, as it is decided: `emit` runs on the deciding
/// threads, in parallel, each filling a batch of its own; the batches of a chunk of keys reach the
/// sink in finding order. A finding is borrowed for the call only: what the batch needs of it
/// must be copied or written out there.
pub trait Emit: Sync {
    type Batch: Send + Default;
    fn emit(&self, batch: &mut Self::Batch, f: &FindingRef);
}

/// Keeps every finding, owned.
pub struct Owned;

impl Emit for Owned {
    type Batch = Vec<Finding>;
    fn emit(&self, batch: &mut Vec<Finding>, f: &FindingRef) {
        batch.push(f.to_finding());
    }
}

/// What a partition of a streamed run must know about all the inputs, not just its own rows.
#[derive(Debug, Clone, Default)]
pub struct Globals {
    /// Statement periods present in any incentive row.
    pub incentive_periods: BTreeSet<Period>,
    /// Bill cycles present in any consumption row.
    pub cycles: BTreeSet<Period>,
    /// With a partner bill: the grain of each of its cycles (from every bill line and every
    /// resale consumption row); the partition then sums its groups ([`bills::partials`]) instead
    /// of deciding them.
    pub bill_grain: Option<bills::Grain>,
    /// The rows given hold every row of their customers' bill groups (`recon explain` of a bill
    /// finding): the groups are decided, with `bill_grain`, not summed into partials.
    pub bill_groups_whole: bool,
}

/// The loaded statement periods and the periods reported: loaded are those present in the
/// incentive rows plus any named with --period (a statement with no rows paid nothing); the
/// scope is the periods named, or else every loaded one. Both sorted.
pub fn periods(incentive_periods: &BTreeSet<Period>, named: &[Period]) -> (Vec<Period>, Vec<Period>) {
    let loaded: Vec<Period> = incentive_periods.iter().chain(named.iter()).copied().collect::<BTreeSet<_>>().into_iter().collect();
    let scope = if named.is_empty() { loaded.clone() } else { named.iter().copied().collect::<BTreeSet<_>>().into_iter().collect() };
    (loaded, scope)
}

/// The engine's one entry: reconciles a partition of the inputs (all of them in an in-memory
/// run; in a streamed run every key, and every (trade, service), lies wholly in one partition,
/// and the loaded periods and cycles come from `globals`), handing each finding to `emit` as it
/// is decided and the batches to `sink` in order (sorted by period, trade id and service, then
/// the partner bill's), a chunk of keys at a time; `Outcome::findings` is left empty.
pub fn run_part<E: Emit>(
    loaded: &Loaded,
    rules: &RuleSet,
    scope: &[Period],
    globals: Option<&Globals>,
    emit: &E,
    sink: &mut dyn FnMut(Vec<E::Batch>) -> Result<(), SinkError>,
) -> Result<Outcome, EngineError> {
    let cons = &loaded.consumption;
    let (loaded_periods, scope) = match globals {
        Some(g) => periods(&g.incentive_periods, scope),
        None => periods(&loaded.incentives.period.iter().map(|&p| Period(p)).collect(), scope),
    };

    // Row level, in polars.
    let t = std::time::Instant::now();
    let codes = frames::KeyCodes::new(cons, &loaded.incentives);
    let with_text = loaded.bills.is_some();
    let customer = loaded.customers.as_ref().map(|c| frames::customer_index(cons, c)).unwrap_or_default();
    let (product_keys, row_products) = frames::product_keys(cons, &codes);
    let cons_lf = frames::consumption_frame(cons, &codes, row_products, loaded.customers.as_deref().map(|c| (c, customer.as_slice())), rules, with_text).stage("building the consumption frame")?;
    let products = frames::product_frame(&product_keys, &codes, rules).stage("matching products")?;
    let cycles: Vec<i32> = cons.cycle.iter().copied().collect::<BTreeSet<_>>().into_iter().collect();
    let cutoffs = frames::cutoff_frame(&cycles, rules).stage("computing late-window cutoffs")?;
    // The joins do not keep row order. Nothing but the row decisions needs it (key row lists are
    // sorted where they are cited), and those are put in place by their row number instead of
    // sorting the frame, except for the bill check, whose row lists are read as they come.
    let decided = frames::decided_consumption(cons_lf, products, loaded.customers.is_some(), cutoffs, rules, rules.counted.len());
    let decided = if with_text { decided.sort(["row"], Default::default()) } else { decided };
    let decided = decided.collect().stage("deciding consumption rows")?;
    crate::obs::trace("engine: decide rows (polars)", t);
    let t = std::time::Instant::now();
    let order: Option<Vec<u32>> = match with_text {
        true => None,
        false => Some(frames::u32_values(&decided, "row").stage("reading row numbers")?),
    };
    let rows = RowDecisions {
        product: in_row_order(frames::i32_values(&decided, "prod").stage("reading products")?.into_iter().map(|v| v.unwrap_or(-1)).collect(), &order),
        status: in_row_order(frames::i32_values(&decided, "status").stage("reading status")?.into_iter().map(|v| v.unwrap_or(0)).collect(), &order),
        na_reason: in_row_order(frames::i32_values(&decided, "na").stage("reading attribution")?.into_iter().map(|v| v.unwrap_or(0)).collect(), &order),
        expected: in_row_order(frames::i32_values(&decided, "exp").stage("reading expected periods")?.into_iter().map(|v| v.unwrap_or(0)).collect(), &order),
        base: in_row_order(to_scale(frames::dec_values(&decided, "base").stage("reading bases")?).into_iter().map(|v| v.unwrap_or(0)).collect(), &order),
        customer,
    };
    if rows.status.len() != cons.len() {
        return Err(EngineError::Invariant(format!("{} consumption rows in, {} decided", cons.len(), rows.status.len())));
    }

    crate::obs::trace("engine: read row decisions", t);
    let t = std::time::Instant::now();
    let flows = frames::flow_sums(decided.clone().lazy()).collect().stage("summing the waterfall flows")?;
    let grain = globals.and_then(|g| g.bill_grain.as_ref());
    let (bill_findings, bill_cycles, bill_parts, bill_others) = match grain {
        Some(grain) if !globals.is_some_and(|g| g.bill_groups_whole) => {
            let (parts, others) = bills::partials(decided.clone().lazy(), loaded, grain)?;
            (Vec::new(), Vec::new(), parts, others)
        }
        _ => {
            let (findings, cycles) = bills::reconcile(decided.clone().lazy(), loaded, rules, grain)?;
            (findings, cycles, Vec::new(), Default::default())
        }
    };
    // Each row's key as one number where that fits (polars groups, joins and sorts one integer
    // column several times faster than two): a consumption row's key period is its expected
    // period when eligible, else its cycle.
    let inc = &loaded.incentives;
    let row_period = |r: usize| if rows.status[r] == frames::ELIGIBLE { rows.expected[r] } else { cons.cycle[r] };
    let packing = frames::Packing::new((0..cons.len()).map(row_period).chain(inc.period.iter().copied()), codes.trades.len(), codes.services.len());
    let mut keys_df = match &packing {
        Some(packing) => {
            let mut decided = decided;
            let pk: Vec<u64> = match &order {
                Some(order) => order.iter().map(|&r| packing.pack(row_period(r as usize), codes.consumption[r as usize])).collect(),
                None => (0..cons.len()).map(|r| packing.pack(row_period(r), codes.consumption[r])).collect(),
            };
            decided.with_column(polars::prelude::Column::new("pk".into(), pk)).stage("numbering keys")?;
            let inc_pk = inc.period.iter().zip(&codes.incentives).map(|(&p, &k)| packing.pack(p, k)).collect();
            let inc_lf = frames::incentive_frame(inc, codes.incentives.clone(), Some(inc_pk)).stage("building the incentive frame")?;
            let mut df = frames::keys_frame(decided.lazy(), inc_lf, true).collect().stage("grouping and joining keys")?;
            packing.unpack(&mut df).stage("reading keys")?;
            df
        }
        None => {
            let inc_lf = frames::incentive_frame(inc, codes.incentives.clone(), None).stage("building the incentive frame")?;
            frames::keys_frame(decided.lazy(), inc_lf, false).collect().stage("grouping and joining keys")?
        }
    };
    keys_df.rechunk_mut_par();
    let mut key_rows = KeyRows::gather(&keys_df, codes.trades.len(), &rows, &cons.cycle, &codes.consumption, &loaded.incentives.period, &codes.incentives)?;
    crate::obs::trace("engine: group and join (polars)", t);
    let t = std::time::Instant::now();

    let cycles_loaded: BTreeSet<Period> = match globals {
        Some(g) => g.cycles.clone(),
        None => cycles.iter().map(|&c| Period(c)).collect(),
    };
    let product_labels = decide::product_labels(rules);
    let ctx = decide::Context { rules, product_labels: &product_labels, loaded, rows: &rows, loaded_periods: &loaded_periods, scope: &scope, cycles_loaded: &cycles_loaded };
    let facts = facts(&keys_df, &ctx, &codes, &key_rows)?;
    crate::obs::trace("engine: pairing facts", t);
    let t = std::time::Instant::now();

    // Decide the keys a chunk at a time, in parallel within a chunk, and hand each chunk's
    // findings to the sink before reading the next.
    let mut totals = waterfall::Totals::default();
    let mut counts = Counts::default();
    let (mut cons_rows, mut inc_rows) = (0usize, 0usize);
    let chunk_keys = crate::knobs::knobs().chunk_keys.unwrap_or(CHUNK_KEYS);
    let mut start = 0;
    let mut sink_time = std::time::Duration::ZERO;
    while start < keys_df.height() {
        let len = chunk_keys.min(keys_df.height() - start);
        let keys = read_keys(&keys_df.slice(start as i64, len), rules, &codes, &mut |i| key_rows.take(start + i))?;
        for k in &keys {
            cons_rows += k.expected.as_ref().map_or(0, |e| e.rows.len()) + k.noside_rows.len();
            inc_rows += k.actual.as_ref().map_or(0, |a| a.rows.len());
            totals.add_key(k);
        }
        // Decided in parallel, a batch of keys at a time: each batch its own waterfall tallies,
        // counts and sink batch, added up in key order.
        let decided: Vec<(E::Batch, waterfall::Totals, Counts)> = {
            use rayon::prelude::*;
            keys.par_chunks(BATCH_KEYS)
                .enumerate()
                .map(|(b, part)| {
                    let (mut batch, mut tally, mut n) = (E::Batch::default(), waterfall::Totals::default(), Counts::default());
                    let mut scratch = decide::Scratch::default();
                    for (j, k) in part.iter().enumerate() {
                        decide::decide_at(start + b * BATCH_KEYS + j, k, &facts, &ctx, &mut scratch, |f, written| {
                            tally.add_finding(f);
                            if written {
                                n.add(f);
                                emit.emit(&mut batch, f);
                            }
                        });
                    }
                    (batch, tally, n)
                })
                .collect()
        };
        let mut batches = Vec::with_capacity(decided.len());
        for (batch, tally, n) in decided {
            totals.absorb(tally);
            counts.absorb(n);
            batches.push(batch);
        }
        let t_sink = std::time::Instant::now();
        sink(batches).map_err(EngineError::Sink)?;
        sink_time += t_sink.elapsed();
        start += len;
    }
    drop(keys_df);
    // Every accepted row lands in exactly one key.
    if cons_rows != cons.len() || inc_rows != loaded.incentives.len() {
        return Err(EngineError::Invariant(format!(
            "row conservation: {} of {} consumption rows and {} of {} incentive rows landed in a key",
            cons_rows,
            cons.len(),
            inc_rows,
            loaded.incentives.len()
        )));
    }
    crate::obs::trace("engine: decide keys and hand findings over", t);
    if crate::knobs::knobs().trace {
        eprintln!("[trace]   of which the findings' sink (writing what emit rendered or kept) {:.3} s", sink_time.as_secs_f64());
    }
    let t = std::time::Instant::now();
    let periods = waterfall::build(&flows, &totals, &scope).map_err(|e| match e {
        waterfall::Error::Polars(source) => EngineError::Polars { stage: "reading the waterfall flows", source },
        waterfall::Error::Open(msg) => EngineError::Invariant(msg),
    })?;
    crate::obs::trace("engine: waterfall", t);
    let mut batch = E::Batch::default();
    for f in &bill_findings {
        counts.add(&f.view());
        emit.emit(&mut batch, &f.view());
    }
    sink(vec![batch]).map_err(EngineError::Sink)?;
    Ok(Outcome { loaded_periods, scope, periods, findings: Vec::new(), counts, rows, bills: bill_cycles, bill_parts, bill_others })
}

/// `values` (one per row of a frame whose row numbers are `order`) put in row-number order; as
/// they are when the frame was already in that order (`None`).
fn in_row_order<T: Copy + Default>(values: Vec<T>, order: &Option<Vec<u32>>) -> Vec<T> {
    match order {
        None => values,
        Some(order) => {
            let mut out = vec![T::default(); values.len()];
            for (&r, v) in order.iter().zip(values) {
                out[r as usize] = v;
            }
            out
        }
    }
}

/// The facts about all keys that deciding one needs (see [`decide::Facts`]), read from the
/// columns of the key frame without materialising the keys.
fn facts<'c>(df: &DataFrame, ctx: &decide::Context, codes: &frames::KeyCodes<'c>, key_rows: &KeyRows) -> Result<decide::Facts<'c>, EngineError> {
    use polars::prelude::PlHashMap as HashMap;
    let st = "pairing keys";
    let period = df.column("period").stage(st)?.cast(&DataType::Int32).stage(st)?;
    let period = period.i32().stage(st)?;
    let key = df.column("key").stage(st)?.u64().stage(st)?;
    let count = |name: &str| -> Result<Vec<i64>, EngineError> { Ok(frames::i64_values(df, name).stage(st)?.into_iter().map(|v| v.unwrap_or(0)).collect()) };
    let (e_n, a_n, a_distinct, n_inel, n_na) = (count("e_n")?, count("a_n")?, count("a_distinct")?, count("n_inel")?, count("n_na")?);

    // PERIOD_SHIFT pairing: expected-only keys with actual-only keys of the same trade and
    // service in another loaded period, in period order (the frame is sorted by period).
    let mut exp_only: HashMap<u64, Vec<usize>> = HashMap::default();
    let mut act_only: HashMap<u64, Vec<usize>> = HashMap::default();
    for (i, (k, p)) in key.iter().zip(period.iter()).enumerate() {
        let ts = k.unwrap_or(u64::MAX);
        if e_n[i] > 0 && a_n[i] == 0 {
            exp_only.entry(ts).or_default().push(i);
        } else if e_n[i] == 0 && a_n[i] > 0 && a_distinct[i] >= a_n[i] && ctx.loaded_periods.contains(&Period(p.unwrap_or(0))) {
            act_only.entry(ts).or_default().push(i);
        }
    }
    let mut facts = decide::Facts::default();
    let mut shifted: Vec<usize> = Vec::new();
    for (ts, exps) in &exp_only {
        if let Some(acts) = act_only.get(ts) {
            for (&e, &a) in exps.iter().zip(acts.iter()) {
                facts.partner.insert(e, a);
                facts.partner.insert(a, e);
                shifted.push(e);
            }
        }
    }
    shifted.sort_unstable();
    if !shifted.is_empty() {
        let idx = IdxCa::from_vec("i".into(), shifted.iter().map(|&i| i as IdxSize).collect());
        let keys = read_keys(&df.take(&idx).stage(st)?, ctx.rules, codes, &mut |i| key_rows.copy(shifted[i]))?;
        facts.shifted = shifted.into_iter().zip(keys).collect();
    }

    // What consumption the (trade, service) of each unpaired actual-only key has, anywhere.
    let mut wanted: HashMap<u64, decide::Seen> = HashMap::default();
    for (ts, acts) in &act_only {
        if acts.iter().any(|a| !facts.partner.contains_key(a)) {
            wanted.insert(*ts, decide::Seen::default());
        }
    }
    if !wanted.is_empty() {
        for (i, k) in key.iter().enumerate() {
            if let Some(seen) = wanted.get_mut(&k.unwrap_or(u64::MAX)) {
                seen.any |= e_n[i] > 0 || n_inel[i] + n_na[i] > 0;
                seen.ineligible |= n_inel[i] > 0;
                seen.not_attributed |= n_na[i] > 0;
            }
        }
        for (ts, acts) in &act_only {
            for &a in acts {
                if !facts.partner.contains_key(&a) {
                    facts.seen.insert(a, wanted[ts]);
                }
            }
        }
    }
    Ok(facts)
}

/// Rescales physical decimals to AMOUNT_SCALE.
fn to_scale((values, scale): (Vec<Option<i128>>, usize)) -> Vec<Option<i128>> {
    let target = AMOUNT_SCALE as usize;
    values
        .into_iter()
        .map(|v| {
            v.map(|v| {
                if scale >= target {
                    v / 10i128.pow((scale - target) as u32)
                } else {
                    v * 10i128.pow((target - scale) as u32)
                }
            })
        })
        .collect()
}

/// A physical decimal at `scale` as a `Decimal`, rounding (per policy) when it must shrink.
pub fn phys_to_decimal(v: i128, scale: usize) -> Decimal {
    if scale <= 28 && v.unsigned_abs() < (1u128 << 96) {
        return Decimal::from_i128_with_scale(v, scale as u32);
    }
    let mut s = scale as u32;
    let mut v = v;
    // rust_decimal holds 28 places and a 96-bit mantissa: drop exact trailing zeros first.
    while s > 0 && v % 10 == 0 {
        v /= 10;
        s -= 1;
    }
    while s > 28 || v.unsigned_abs() >= (1u128 << 96) {
        v /= 10;
        s -= 1;
    }
    Decimal::from_i128_with_scale(v, s)
}

/// The rows behind each key of the key frame, by key index: its expected rows, actual rows and
/// no-side rows, each ascending. Gathered here, by each row's (period, key code), rather than as
/// polars list columns (see [`frames::keys_frame`]).
struct KeyRows {
    lists: Vec<[Vec<u32>; 3]>,
}

impl KeyRows {
    fn gather(df: &DataFrame, n_trades: usize, rows: &RowDecisions, cycle: &[i32], cons_keys: &[u64], inc_period: &[i32], inc_keys: &[u64]) -> Result<KeyRows, EngineError> {
        let st = "listing each key's rows";
        let period: Vec<i32> = frames::i32_values(df, "period").stage(st)?.into_iter().map(|p| p.unwrap_or(0)).collect();
        let key = frames::u64_values(df, "key").stage(st)?;
        // The frame is sorted by period and key (trade code, then service code): the keys of one
        // period and trade lie together. Where each such run starts, in a dense table by
        // (period's place, trade code), instead of hashing every row's key.
        let periods: Vec<i32> = period.iter().copied().collect::<std::collections::BTreeSet<_>>().into_iter().collect();
        let mut first = vec![u32::MAX; periods.len() * n_trades];
        for (i, (p, k)) in period.iter().zip(&key).enumerate().rev() {
            let (slot, trade) = (periods.binary_search(p).unwrap_or(0), (k >> 32) as usize);
            if trade < n_trades {
                first[slot * n_trades + trade] = i as u32;
            }
        }
        let find = |p: i32, k: u64| -> Option<usize> {
            let slot = periods.binary_search(&p).ok()?;
            let trade = (k >> 32) as usize;
            let mut i = *first.get(slot * n_trades + trade)? as usize;
            while i < key.len() && period[i] == p && key[i] >> 32 == k >> 32 {
                if key[i] == k {
                    return Some(i);
                }
                i += 1;
            }
            None
        };
        let mut lists: Vec<[Vec<u32>; 3]> = (0..df.height()).map(|_| Default::default()).collect();
        let mut lost = 0usize;
        for (r, &k) in cons_keys.iter().enumerate() {
            let (side, p) = match rows.status[r] == frames::ELIGIBLE {
                true => (0, rows.expected[r]),
                false => (2, cycle[r]),
            };
            match find(p, k) {
                Some(i) => lists[i][side].push(r as u32),
                None => lost += 1,
            }
        }
        for (r, (&p, &k)) in inc_period.iter().zip(inc_keys).enumerate() {
            match find(p, k) {
                Some(i) => lists[i][1].push(r as u32),
                None => lost += 1,
            }
        }
        if lost > 0 {
            return Err(EngineError::Invariant(format!("{lost} rows have no key in the key frame")));
        }
        Ok(KeyRows { lists })
    }

    /// The lists of key `i`, moved out.
    fn take(&mut self, i: usize) -> [Vec<u32>; 3] {
        self.lists.get_mut(i).map(std::mem::take).unwrap_or_default()
    }

    fn copy(&self, i: usize) -> [Vec<u32>; 3] {
        self.lists.get(i).cloned().unwrap_or_default()
    }
}

fn read_keys<'c>(df: &DataFrame, rules: &RuleSet, codes: &frames::KeyCodes<'c>, lists: &mut dyn FnMut(usize) -> [Vec<u32>; 3]) -> Result<Vec<Key<'c>>, EngineError> {
    let st = "reading keys";
    let period = frames::i32_values(df, "period").stage(st)?;
    let key = frames::u64_values(df, "key").stage(st)?;
    let (e_base, e_base_s) = frames::dec_values(df, "e_base").stage(st)?;
    let (e_raw, e_raw_s) = frames::dec_values(df, "e_inc_raw").stage(st)?;
    let (a_inc, a_inc_s) = frames::dec_values(df, "a_inc").stage(st)?;
    let (a_base, a_base_s) = frames::dec_values(df, "a_base").stage(st)?;
    let a_base_n = frames::i64_values(df, "a_base_n").stage(st)?;
    let a_distinct = frames::i64_values(df, "a_distinct").stage(st)?;
    let a_n = frames::i64_values(df, "a_n").stage(st)?;
    let e_n = frames::i64_values(df, "e_n").stage(st)?;
    let n_inel = frames::i64_values(df, "n_inel").stage(st)?;
    let n_na = frames::i64_values(df, "n_na").stage(st)?;
    let mut keys = Vec::with_capacity(df.height());
    for i in 0..df.height() {
        let [mut e_rows, mut a_rows, n_rows] = lists(i);
        let expected = match e_n[i] {
            Some(n) if n > 0 => {
                Some(ExpectedSide {
                    base: phys_to_decimal(e_base[i].unwrap_or(0), e_base_s),
                    incentive: round_phys(e_raw[i].unwrap_or(0), e_raw_s, rules),
                    rows: std::mem::take(&mut e_rows),
                })
            }
            _ => None,
        };
        let actual = match a_n[i] {
            Some(n) if n > 0 => Some(ActualSide {
                incentive: phys_to_decimal(a_inc[i].unwrap_or(0), a_inc_s),
                base: (a_base_n[i].unwrap_or(0) > 0).then(|| phys_to_decimal(a_base[i].unwrap_or(0), a_base_s)),
                rows: std::mem::take(&mut a_rows),
                duplicate: a_distinct[i].unwrap_or(n) < n,
            }),
            _ => None,
        };
        let (trade_id, service) = codes.text(key[i]);
        keys.push(Key {
            period: Period(period[i].unwrap_or(0)),
            trade_id,
            service,
            expected,
            actual,
            noside_rows: n_rows,
            n_ineligible: n_inel[i].unwrap_or(0) as u32,
            n_not_attributed: n_na[i].unwrap_or(0) as u32,
        });
    }
    Ok(keys)
}

/// Rounds a physical decimal at `scale` to the policy's scale with its rounding, exactly, in
/// integer arithmetic.
pub fn round_phys(v: i128, scale: usize, rules: &RuleSet) -> Decimal {
    let target = rules.scale as usize;
    if scale <= target {
        return phys_to_decimal(v, scale);
    }
    let div = 10i128.pow((scale - target) as u32);
    let (q, r) = (v / div, v % div); // truncated toward zero
    let twice = r.abs() * 2;
    let away = match rules.rounding {
        crate::model::Rounding::Down => false,
        crate::model::Rounding::HalfUp => twice >= div,
        crate::model::Rounding::HalfEven => twice > div || (twice == div && q % 2 != 0),
    };
    let q = if away { q + v.signum() } else { q };
    phys_to_decimal(q, target)
}

/// Sum of physical decimals as a `Decimal`.
pub fn sum_phys<'a>(values: impl Iterator<Item = &'a i128>) -> Decimal {
    from_phys(values.sum())
}

/// The charging mode shown for a finding: the first row that has one.
pub fn first_mode(codes: impl Iterator<Item = i32>) -> Option<ChargingMode> {
    codes.filter(|&c| c != 0).find_map(ChargingMode::from_code)
}


#[cfg(test)]
mod tests {
    use super::*;

    fn rules(rounding: &str) -> RuleSet {
        let text = format!("[policy]\nname = \"t\"\nscale = 2\nrounding = \"{rounding}\"\n");
        RuleSet::from_toml(&text, "t.toml").unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn integer_rounding_matches_decimal_rounding() {
        // values at scale 20, as base × rate arrives from polars
        let cases: [(&str, i128); 7] = [
            ("0.005", 5 * 10i128.pow(17)),
            ("0.015", 15 * 10i128.pow(17)),
            ("0.00499999999999999999", 499999999999999999),
            ("-0.005", -5 * 10i128.pow(17)),
            ("-0.025", -25 * 10i128.pow(17)),
            ("9.9999", 99999 * 10i128.pow(16)),
            ("123456789.125", 123456789125 * 10i128.pow(17)),
        ];
        for mode in ["half_up", "half_even", "down"] {
            let r = rules(mode);
            for (text, phys) in cases {
                let exact: Decimal = text.parse().unwrap_or_default();
                assert_eq!(round_phys(phys, 20, &r), r.rounding.apply(exact, 2), "{mode} {text}");
            }
        }
        assert_eq!(round_phys(5 * 10i128.pow(17), 20, &rules("half_up")).to_string(), "0.01");
        assert_eq!(round_phys(5 * 10i128.pow(17), 20, &rules("half_even")).to_string(), "0.00");
        assert_eq!(round_phys(-5 * 10i128.pow(17), 20, &rules("half_up")).to_string(), "-0.01");
        assert_eq!(round_phys(-5 * 10i128.pow(17), 20, &rules("down")).to_string(), "0.00");
    }
}
