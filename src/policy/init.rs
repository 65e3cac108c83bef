//! `recon init`: a rules file drafted from the exports themselves (contract §7).
//!
//! The statements are the evidence. Every statement key `(trade_id, service_type_code)` whose
//! consumption lies in one bill cycle and whose lines lie in one statement period, without a
//! duplicated line, is a *pair*: its consumption rows against its statement lines. From the pairs
//! come the payment components that reproduce the statement bases, each product's lag and the
//! late window; from every statement line with consumption, the rates paid per service type and
//! charging mode; from the consumption that no statement pays, the attribution (association
//! types, association lag, rebind grace) and the products that earn nothing. What the exports
//! cannot show keeps its documented default, with a comment saying it was not inferred.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use rust_decimal::Decimal;

use crate::config::Error;
use crate::load::{from_phys, table, InputPaths, LoadError, Loaded};
use crate::model::schema::{map_headers, ExtraAliases, Kind};
use crate::model::{Association, ChargingMode, Component, Period, AMOUNT_SCALE};
use crate::rules::RuleSet;

/// The payment components every consumption table has a column for (those a draft may count),
/// and those only some tables have (named with a table that lacks them).
pub fn present_components(paths: &InputPaths) -> Result<(Vec<Component>, Vec<(Component, String)>), LoadError> {
    let extra = ExtraAliases::default();
    let mut everywhere: Vec<Component> = Component::ALL.to_vec();
    let mut partly: Vec<(Component, String)> = Vec::new();
    let mut seen: BTreeSet<Component> = BTreeSet::new();
    for (path, label, format) in table::list(&paths.consumption, &paths.root)? {
        let headers: Vec<(String, Vec<String>)> = match format {
            table::Format::Csv => {
                // The header line alone: the rows are read once, by the load.
                use std::io::Read;
                let mut f = std::fs::File::open(&path).map_err(|source| LoadError::Io { path: label.clone(), source })?;
                let mut buf = vec![0u8; 1 << 20];
                let mut n = 0;
                loop {
                    match f.read(&mut buf[n..]) {
                        Ok(0) => break,
                        Ok(k) => {
                            n += k;
                            if buf[..n].contains(&b'\n') || n == buf.len() {
                                break;
                            }
                        }
                        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                        Err(source) => return Err(LoadError::Io { path: label.clone(), source }),
                    }
                }
                let end = buf[..n].iter().position(|&b| b == b'\n').map_or(n, |i| i + 1);
                buf.truncate(end);
                let mut header = table::InputFile { path: path.clone(), label: label.clone(), format, bytes: buf, sha256: String::new() };
                table::read_tables(&mut header, None)?.into_iter().map(|t| (t.label.clone(), t.headers.clone())).collect()
            }
            _ => {
                let mut file = table::read_one(&path, &paths.root)?;
                file.format = format;
                table::read_tables(&mut file, paths.sheet.as_deref())?.into_iter().map(|t| (t.label.clone(), t.headers.clone())).collect()
            }
        };
        for (label, h) in headers {
            let (map, _) = map_headers(Kind::Consumption, &h, &extra);
            for c in Component::ALL {
                if map.has(c.name()) {
                    seen.insert(c);
                }
                if !map.has(c.name()) && everywhere.contains(&c) {
                    everywhere.retain(|x| *x != c);
                    partly.push((c, label.clone()));
                }
            }
        }
    }
    // (a component no table has is not "partly" present)
    partly.retain(|(c, _)| seen.contains(c));
    Ok((everywhere, partly))
}

/// The rules the exports are loaded with: every component present counted (so that each is read),
/// defaults otherwise.
pub fn loading_rules(components: &[Component]) -> String {
    let mut s = String::from("[policy]\nname = \"recon init\"\n");
    if !components.is_empty() {
        let names: Vec<String> = components.iter().map(|c| format!("\"{}\"", c.name())).collect();
        let _ = writeln!(s, "[base]\ncounted = [{}]", names.join(", "));
    }
    s
}

/// A drafted rules file and what was inferred, line by line, for stdout.
pub struct Draft {
    pub toml: String,
    pub report: Vec<String>,
}

const DAY: i64 = 86_400;
/// Default late window, association lag and rebind grace (contract §2, domain notes 9).
const DEFAULT_LATE_HOURS: i64 = 24;
const DEFAULT_GRACE_MONTHS: i32 = 6;
/// The documented default of `[base] counted`.
const DEFAULT_COUNTED: [Component; 4] = [Component::Cash, Component::Credit, Component::StoredValueCard, Component::Debt];
/// At most this many pairs are tried against each combination of components.
const BASE_SAMPLE: usize = 200_000;

fn pct(n: usize, of: usize) -> String {
    if of == 0 {
        return "-".into();
    }
    let p = n as f64 * 100.0 / of as f64; // (a share for people to read, not an amount)
    if n == of {
        "100 %".into()
    } else if p >= 99.95 {
        "99.9 %".into()
    } else {
        format!("{p:.1} %")
    }
}

fn q(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

fn rate_text(phys: i128) -> String {
    from_phys(phys).normalize().to_string()
}

fn mode_label(code: i32) -> &'static str {
    ChargingMode::from_code(code).map_or("(no charging mode)", ChargingMode::label)
}

fn mode_slug(code: i32) -> &'static str {
    match ChargingMode::from_code(code) {
        Some(ChargingMode::Subscription) => "subscription",
        Some(ChargingMode::OnDemand) => "on-demand",
        Some(ChargingMode::Reserved) => "reserved",
        Some(ChargingMode::SavingsPlan) => "savings-plan",
        None => "other",
    }
}

/// A service type and charging mode (of each key's first consumption row).
type GroupKey = (String, i32);

/// What is known of one service type and charging mode.
#[derive(Default)]
struct Group {
    service: String,
    mode: i32,
    rows: usize,
    keys: usize,
    /// Statement lines per rate paid (physical decimal).
    rates: BTreeMap<i128, usize>,
    lines: usize,
    /// Pairs per shift (statement period − bill cycle): of consumption well before month end, and of all.
    shifts_mid: BTreeMap<i32, usize>,
    shifts_all: BTreeMap<i32, usize>,
    /// Pairs per shift, by [`hours`] from their first row to the end of their bill cycle, and
    /// from their last row.
    ends: BTreeMap<i32, (BTreeMap<i64, usize>, BTreeMap<i64, usize>)>,
    lag: i32,
    lag_inferred: bool,
    paid_keys: usize,
    unpaid_keys: usize,
    /// Pairs compared at this group's most frequent rate, and how many each rounding reproduces.
    round_n: usize,
    round_hits: [usize; 3],
    rate: i128,
    zero: bool,
}

impl Group {
    fn absorb(&mut self, o: Group) {
        self.rows += o.rows;
        self.keys += o.keys;
        self.lines += o.lines;
        add_counts(&mut self.rates, o.rates);
        add_counts(&mut self.shifts_mid, o.shifts_mid);
        add_counts(&mut self.shifts_all, o.shifts_all);
        for (shift, (first, last)) in o.ends {
            let e = self.ends.entry(shift).or_default();
            add_counts(&mut e.0, first);
            add_counts(&mut e.1, last);
        }
        self.paid_keys += o.paid_keys;
        self.unpaid_keys += o.unpaid_keys;
        self.round_n += o.round_n;
        for (a, b) in self.round_hits.iter_mut().zip(o.round_hits) {
            *a += b;
        }
    }

    /// The rate its statement lines pay most often.
    fn top_rate(&self) -> Option<i128> {
        self.rates.iter().max_by_key(|(r, n)| (**n, -**r)).map(|(r, _)| *r)
    }
}

fn add_counts<K: Ord>(to: &mut BTreeMap<K, usize>, from: BTreeMap<K, usize>) {
    for (k, n) in from {
        *to.entry(k).or_default() += n;
    }
}

/// Whole hours (rounded up) of `seconds`, from 0 to 673 (673: more than four weeks): for a whole
/// number of hours `w` up to 672, `seconds <= w h` exactly when `hours(seconds) <= w`.
fn hours(seconds: i64) -> i64 {
    ((seconds + 3599) / 3600).clamp(0, 24 * 28 + 1)
}

/// A stable hash of a key's text, to sample the same keys whatever the partitioning (FNV-1a).
fn key_hash(trade: &str, service: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in trade.bytes().chain([0u8]).chain(service.bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// A statement key whose consumption lies in one bill cycle and whose lines lie in one statement
/// period, without a duplicated line.
struct Pair {
    key: usize,
    cycle: i32,
    shift: i32,
    min_ts: i64,
    max_ts: i64,
}

/// One partition's rows indexed by key (an in-memory load is one partition).
struct Keys<'a> {
    loaded: &'a Loaded,
    cons_key: Vec<u32>,
    n: usize,
    c_start: Vec<u32>,
    c_rows: Vec<u32>,
    i_start: Vec<u32>,
    i_rows: Vec<u32>,
    inc_key: Vec<Option<u32>>,
    /// Each key's group, numbered in this partition (`names`).
    key_group: Vec<u32>,
    names: Vec<(&'a str, i32)>,
    customer_index: Vec<u32>,
    pairs: Vec<Pair>,
}

impl<'a> Keys<'a> {
    fn new(loaded: &'a Loaded) -> Keys<'a> {
        let (cons, inc) = (&loaded.consumption, &loaded.incentives);
        // Keys (trade id, service type) numbered in first-seen order: consumption first.
        let mut ids: polars::prelude::PlHashMap<(&str, &str), u32> = Default::default();
        let mut cons_key = Vec::with_capacity(cons.len());
        for (t, s) in cons.trade_id.iter().zip(cons.service.iter()) {
            let next = ids.len() as u32;
            cons_key.push(*ids.entry((t, s)).or_insert(next));
        }
        let n = ids.len();
        let inc_key: Vec<Option<u32>> = inc.trade_id.iter().zip(inc.service.iter()).map(|k| ids.get(&k).copied()).collect();
        drop(ids);
        let csr = |keys: &mut dyn Iterator<Item = Option<u32>>, n: usize| -> (Vec<u32>, Vec<u32>) {
            let keys: Vec<Option<u32>> = keys.collect();
            let mut start = vec![0u32; n + 1];
            for k in keys.iter().flatten() {
                start[*k as usize + 1] += 1;
            }
            for i in 0..n {
                start[i + 1] += start[i];
            }
            let mut fill = start.clone();
            let mut rows = vec![0u32; start[n] as usize];
            for (r, k) in keys.iter().enumerate() {
                if let Some(k) = k {
                    rows[fill[*k as usize] as usize] = r as u32;
                    fill[*k as usize] += 1;
                }
            }
            (start, rows)
        };
        let (c_start, c_rows) = csr(&mut cons_key.iter().map(|&k| Some(k)), n);
        let (i_start, i_rows) = csr(&mut inc_key.iter().copied(), n);
        let customer_index = match loaded.customers.as_deref() {
            Some(c) => crate::engine::frames::customer_index(cons, c),
            None => Vec::new(),
        };
        let mut k = Keys { loaded, cons_key, n, c_start, c_rows, i_start, i_rows, inc_key, key_group: Vec::new(), names: Vec::new(), customer_index, pairs: Vec::new() };
        // Groups (service type, charging mode), by each key's first row.
        let mut group_ids: polars::prelude::PlHashMap<(&str, i32), u32> = Default::default();
        let mut key_group = Vec::with_capacity(n);
        let mut names = Vec::new();
        for key in 0..n {
            let r = k.rows_of(key)[0] as usize;
            let gk = (cons.service.get(r), cons.mode[r]);
            key_group.push(*group_ids.entry(gk).or_insert_with(|| {
                names.push(gk);
                names.len() as u32 - 1
            }));
        }
        (k.key_group, k.names) = (key_group, names);
        k.pairs = k.find_pairs();
        k
    }

    fn rows_of(&self, k: usize) -> &[u32] {
        &self.c_rows[self.c_start[k] as usize..self.c_start[k + 1] as usize]
    }

    fn lines_of(&self, k: usize) -> &[u32] {
        &self.i_rows[self.i_start[k] as usize..self.i_start[k + 1] as usize]
    }

    fn paid_key(&self, k: usize) -> bool {
        !self.lines_of(k).is_empty()
    }

    fn customer_of(&self, r: usize) -> Option<&'a crate::load::Customer> {
        self.loaded.customers.as_deref().and_then(|c| c.list.get(*self.customer_index.get(r)? as usize))
    }

    /// The association type of a row: the customers file's, when given (None: not in it).
    fn assoc_of(&self, r: usize) -> Option<Association> {
        match self.loaded.customers {
            Some(_) => self.customer_of(r).map(|c| c.association),
            None => Association::from_code(self.loaded.consumption.assoc[r]),
        }
    }

    /// Row `r`'s customer, its full months since rebinding (-1 before it, -2 not rebound or no
    /// customer; at most 25) and whole days since association (-1 before it, -2 unknown; at most
    /// 91): for a grace `g` up to 24 months, the row is in it exactly when `months` is not -2
    /// and below `g`; for an association lag `l` up to 90 days, before it exactly when `days` is
    /// not -2 and below `l` ([`Attribution`]).
    fn since(&self, r: usize, rules: &RuleSet) -> (Option<&'a crate::load::Customer>, i8, i16) {
        let c = self.customer_of(r);
        let ts = self.loaded.consumption.ts[r];
        let months = match c.and_then(|c| c.rebound_at) {
            None => -2,
            Some(rebound) if ts < rebound => -1,
            Some(rebound) => {
                let mut m = 0;
                while m < 25 && crate::engine::frames::add_months_local(rebound, m + 1, rules) <= ts {
                    m += 1;
                }
                m as i8
            }
        };
        let days = match c.and_then(|c| c.associated_at) {
            None => -2,
            Some(at) if ts < at => -1,
            Some(at) => ((ts - at) / DAY).min(91) as i16,
        };
        (c, months, days)
    }

    /// The position of each of this partition's groups among `all`'s.
    fn global(&self, all: &BTreeMap<GroupKey, usize>) -> Vec<usize> {
        self.names.iter().map(|&(s, m)| all.get(&(s.to_string(), m)).copied().unwrap_or(usize::MAX)).collect()
    }

    fn find_pairs(&self) -> Vec<Pair> {
        let (cons, inc) = (&self.loaded.consumption, &self.loaded.incentives);
        let mut pairs = Vec::new();
        for k in 0..self.n {
            let (rows, lines) = (self.rows_of(k), self.lines_of(k));
            if lines.is_empty() {
                continue;
            }
            let r0 = rows[0] as usize;
            let p0 = inc.period[lines[0] as usize];
            if rows.iter().any(|&r| cons.cycle[r as usize] != cons.cycle[r0] || cons.mode[r as usize] != cons.mode[r0]) || lines.iter().any(|&l| inc.period[l as usize] != p0) {
                continue;
            }
            let mut dup: Vec<&str> = lines.iter().map(|&l| inc.dup_key.get(l as usize)).collect();
            dup.sort_unstable();
            if dup.windows(2).any(|w| w[0] == w[1]) {
                continue;
            }
            let shift = p0 - cons.cycle[r0];
            if !(0..=3).contains(&shift) {
                continue;
            }
            let min_ts = rows.iter().map(|&r| cons.ts[r as usize]).min().unwrap_or(0);
            let max_ts = rows.iter().map(|&r| cons.ts[r as usize]).max().unwrap_or(0);
            pairs.push(Pair { key: k, cycle: cons.cycle[r0], shift, min_ts, max_ts });
        }
        pairs
    }
}

/// What the whole input is known to hold before the stages: the components loaded, the
/// statement periods, the rows.
struct Context<'a> {
    rules: &'a RuleSet,
    components: &'a [Component],
    loaded_periods: BTreeSet<i32>,
    cons_rows: usize,
}

/// Stage 1, of one partition: its groups, the rates its statement lines pay, its pairs' shifts
/// and ends, and how often each combination of components reproduces a statement base.
#[derive(Default)]
struct Seen {
    groups: BTreeMap<GroupKey, Group>,
    score: Vec<usize>,
    nonzero: Vec<bool>,
    compared: usize,
    places: u32,
    pairs: usize,
    cons_rows: usize,
    inc_lines: usize,
    without_consumption: usize,
}

impl Seen {
    fn absorb(&mut self, o: Seen) {
        for (k, g) in o.groups {
            match self.groups.get_mut(&k) {
                Some(acc) => acc.absorb(g),
                None => {
                    self.groups.insert(k, g);
                }
            }
        }
        if self.score.len() < o.score.len() {
            self.score.resize(o.score.len(), 0);
            self.nonzero.resize(o.nonzero.len(), false);
        }
        for (a, b) in self.score.iter_mut().zip(o.score) {
            *a += b;
        }
        for (a, b) in self.nonzero.iter_mut().zip(o.nonzero) {
            *a |= b;
        }
        self.compared += o.compared;
        self.places = self.places.max(o.places);
        self.pairs += o.pairs;
        self.cons_rows += o.cons_rows;
        self.inc_lines += o.inc_lines;
        self.without_consumption += o.without_consumption;
    }
}

fn seen(keys: &Keys, cx: &Context) -> Seen {
    let (cons, inc) = (&keys.loaded.consumption, &keys.loaded.incentives);
    let tz = cx.rules.tz;
    let mut groups: Vec<Group> = keys.names.iter().map(|&(s, m)| Group { service: s.to_string(), mode: m, ..Group::default() }).collect();
    for k in 0..keys.n {
        let g = &mut groups[keys.key_group[k] as usize];
        g.keys += 1;
        g.rows += keys.rows_of(k).len();
    }
    // Rates paid: every statement line with consumption.
    for (r, k) in keys.inc_key.iter().enumerate() {
        let Some(k) = k else { continue };
        let g = &mut groups[keys.key_group[*k as usize] as usize];
        g.lines += 1;
        let rate = match (inc.rate[r], inc.base[r]) {
            (Some(rate), _) => Some(rate),
            (None, Some(base)) if base != 0 => {
                let eff = (Decimal::from_i128_with_scale(inc.amount[r], AMOUNT_SCALE) / Decimal::from_i128_with_scale(base, AMOUNT_SCALE)).round_dp(4);
                Some(crate::load::to_phys(eff))
            }
            _ => None,
        };
        if let Some(rate) = rate {
            *g.rates.entry(rate).or_default() += 1;
        }
    }
    // [base] counted: how many sampled pairs each combination of components reproduces.
    let n_comp = cx.components.len();
    let mut score = vec![0usize; 1 << n_comp];
    let mut nonzero = vec![false; n_comp];
    let mut compared = 0usize;
    let sampled = |k: usize| -> bool {
        cx.cons_rows <= BASE_SAMPLE || {
            let r = keys.rows_of(k)[0] as usize;
            key_hash(cons.trade_id.get(r), cons.service.get(r)) % (cx.cons_rows as u64) < (BASE_SAMPLE as u64)
        }
    };
    let mut totals = vec![0i128; 1 << n_comp];
    for p in keys.pairs.iter().filter(|p| sampled(p.key)) {
        let lines = keys.lines_of(p.key);
        if lines.iter().any(|&l| inc.base[l as usize].is_none()) {
            continue;
        }
        let target: i128 = lines.iter().map(|&l| inc.base[l as usize].unwrap_or(0)).sum();
        let mut sums = vec![0i128; n_comp];
        for &r in keys.rows_of(p.key) {
            for (c, s) in sums.iter_mut().enumerate() {
                *s += cons.counted[c][r as usize];
            }
        }
        for (c, nz) in nonzero.iter_mut().enumerate() {
            *nz |= keys.rows_of(p.key).iter().any(|&r| cons.counted[c][r as usize] != 0);
        }
        compared += 1;
        // (each combination's total from one with a component fewer)
        for mask in 1..totals.len() {
            let low = mask.trailing_zeros() as usize;
            totals[mask] = totals[mask & (mask - 1)] + sums[low];
            if totals[mask] == target {
                score[mask] += 1;
            }
        }
    }
    // Shifts and ends of the pairs.
    for p in &keys.pairs {
        let g = &mut groups[keys.key_group[p.key] as usize];
        *g.shifts_all.entry(p.shift).or_default() += 1;
        let end = Period(p.cycle).end_ts(tz);
        if end - p.max_ts > 7 * DAY {
            *g.shifts_mid.entry(p.shift).or_default() += 1;
        }
        let e = g.ends.entry(p.shift).or_default();
        *e.0.entry(hours(end - p.min_ts)).or_default() += 1;
        *e.1.entry(hours(end - p.max_ts)).or_default() += 1;
    }
    let mut places = 0u32;
    for &a in &inc.amount {
        let mut v = a;
        let mut p = AMOUNT_SCALE;
        while p > 0 && v % 10 == 0 {
            v /= 10;
            p -= 1;
        }
        places = places.max(if a == 0 { 0 } else { p });
    }
    let mut out = Seen {
        score,
        nonzero,
        compared,
        places,
        pairs: keys.pairs.len(),
        cons_rows: cons.len(),
        inc_lines: inc.len(),
        without_consumption: keys.inc_key.iter().filter(|k| k.is_none()).count(),
        ..Seen::default()
    };
    for g in groups {
        out.groups.insert((g.service.clone(), g.mode), g);
    }
    out
}

/// What stage 1 decided, that the later stages need.
struct Decided {
    /// Groups by key, their positions in `lag`, `rated`, `top`.
    index: BTreeMap<GroupKey, usize>,
    lag: Vec<i32>,
    /// Whether any statement line pays the group (at any rate).
    rated: Vec<bool>,
    top: Vec<Option<i128>>,
    mask: usize,
    late_hours: i64,
    /// Decimal places of the statement amounts (at least 2).
    scale: u32,
}

impl Decided {
    fn cutoff(&self, cycle: i32, tz: crate::model::PolicyTz) -> i64 {
        if self.late_hours > 0 {
            Period(cycle).end_ts(tz) - self.late_hours * 3600
        } else {
            i64::MAX
        }
    }

    /// Whether row `r` (of group `g`, global) is expected in a loaded statement.
    fn in_reach(&self, keys: &Keys, cx: &Context, g: usize, r: usize) -> bool {
        let cons = &keys.loaded.consumption;
        let lag = self.lag.get(g).copied().unwrap_or(0);
        let e = cons.cycle[r] + lag + i32::from(cons.ts[r] >= self.cutoff(cons.cycle[r], cx.rules.tz));
        cx.loaded_periods.contains(&e)
    }
}

/// A consumption row in the statements' reach, as attribution sees it: (association type,
/// whether its customer is in the customers file, full months since rebinding (-1 before it,
/// -2 not rebound or no customer), whole days since association (-1 before it, -2 unknown; at
/// most 91), whether its key is paid).
type Evidence = (Option<i32>, bool, i8, i16, bool);

/// Stage 2, of one partition: its evidence rows counted by what attribution looks at.
fn evidence(keys: &Keys, cx: &Context, d: &Decided) -> BTreeMap<Evidence, usize> {
    let cons = &keys.loaded.consumption;
    let global = keys.global(&d.index);
    let mut out: BTreeMap<Evidence, usize> = BTreeMap::new();
    for r in 0..cons.len() {
        let k = keys.cons_key[r] as usize;
        let g = global[keys.key_group[k] as usize];
        if !d.rated.get(g).copied().unwrap_or(false) || !d.in_reach(keys, cx, g, r) {
            continue;
        }
        let (c, months, days) = keys.since(r, cx.rules);
        *out.entry((keys.assoc_of(r).map(Association::code), c.is_some(), months, days, keys.paid_key(k))).or_default() += 1;
    }
    out
}

/// What the attribution stage decided.
struct Attribution {
    types: Vec<Association>,
    assoc_lag: i64,
    grace: i32,
}

impl Attribution {
    fn in_grace(months: i8, grace: i32) -> bool {
        months != -2 && i32::from(months) < grace
    }

    fn before_lag(days: i16, lag: i64) -> bool {
        days != -2 && i64::from(days) < lag
    }
}

/// Stage 3, of one partition: per group, its paid keys, its unpaid keys with attributed
/// consumption in the statements' reach, and how each rounding reproduces its pairs' amounts at
/// its most frequent rate.
fn products(keys: &Keys, cx: &Context, d: &Decided, a: &Attribution) -> Vec<(usize, usize, usize, usize, [usize; 3])> {
    let (cons, inc) = (&keys.loaded.consumption, &keys.loaded.incentives);
    let global = keys.global(&d.index);
    let customers = keys.loaded.customers.is_some();
    let attributed = |r: usize| -> bool {
        let (c, months, days) = keys.since(r, cx.rules);
        if customers && c.is_none() {
            return false;
        }
        let type_ok = match keys.assoc_of(r) {
            Some(t) => a.types.contains(&t),
            None => a.types.len() == 2,
        };
        type_ok && !Attribution::before_lag(days, a.assoc_lag) && !Attribution::in_grace(months, a.grace)
    };
    let mut out: Vec<(usize, usize, usize, usize, [usize; 3])> = vec![(0, 0, 0, 0, [0; 3]); keys.names.len()];
    for k in 0..keys.n {
        let lg = keys.key_group[k] as usize;
        out[lg].0 = global[lg];
        if keys.paid_key(k) {
            out[lg].1 += 1;
        } else if keys.rows_of(k).iter().any(|&r| attributed(r as usize) && d.in_reach(keys, cx, global[lg], r as usize)) {
            out[lg].2 += 1;
        }
    }
    // Rounding: the statement amounts against Σ base × rate of the pairs.
    let n_comp = cx.components.len();
    let modes = [crate::model::Rounding::HalfUp, crate::model::Rounding::HalfEven, crate::model::Rounding::Down];
    for p in &keys.pairs {
        let lg = keys.key_group[p.key] as usize;
        let Some(rate) = d.top.get(global[lg]).copied().flatten().filter(|&r| r > 0) else { continue };
        let raw: i128 = keys.rows_of(p.key).iter().map(|&r| (0..n_comp).filter(|c| d.mask >> c & 1 == 1).map(|c| cons.counted[c][r as usize]).sum::<i128>() * rate).sum();
        let paid: i128 = keys.lines_of(p.key).iter().map(|&l| inc.amount[l as usize]).sum();
        let exact = Decimal::from_i128_with_scale(raw, 2 * AMOUNT_SCALE);
        let paid = Decimal::from_i128_with_scale(paid, AMOUNT_SCALE);
        out[lg].3 += 1;
        for (i, m) in modes.iter().enumerate() {
            if m.apply(exact, d.scale) == paid {
                out[lg].4[i] += 1;
            }
        }
    }
    out
}

/// Where a draft's rows are: loaded whole, or spilled to trade id partitions (a streamed load).
pub enum Rows<'a> {
    Loaded(&'a Loaded),
    Partitioned(&'a crate::exec::partitioned::each::Partitioned),
}

enum Source<'a> {
    One(Keys<'a>),
    Parts(&'a crate::exec::partitioned::each::Partitioned),
}

/// `f` of every partition's keys (one, in memory; each partition decoded again, streamed).
fn each<T: Send>(src: &Source, rules: &RuleSet, f: impl Fn(&Keys) -> T + Sync) -> Result<Vec<T>, Error> {
    match src {
        Source::One(k) => Ok(vec![f(k)]),
        Source::Parts(p) => p.map(rules, |loaded| f(&Keys::new(loaded))),
    }
}

/// Drafts the rules from the exports' rows. `components` are those loaded (each consumption
/// table has them), in the order of the consumption's `counted`; `partly` those some tables lack.
///
/// Three stages, each over every partition (a key's rows lie in one), their results added up
/// between them: (1) the groups, rates, pairs and bases, which decide `[base]`, each product's
/// lag and the late window; (2) the consumption in the statements' reach, counted by
/// association type, months since rebinding and days since association, which decides the
/// attribution; (3) the keys paid and unpaid per product and the roundings, which decide the
/// rates and `rounding`. In memory the one partition is indexed once.
pub fn draft(rows: Rows, rules: &RuleSet, components: &[Component], partly: &[(Component, String)]) -> Result<Draft, Error> {
    let mut report = Vec::new();
    let (src, loaded_periods, cons_rows) = match rows {
        Rows::Loaded(l) => (Source::One(Keys::new(l)), l.incentives.period.iter().copied().collect(), l.consumption.len()),
        Rows::Partitioned(p) => (Source::Parts(p), p.incentive_periods.iter().map(|p| p.0).collect(), p.accepted(Kind::Consumption)),
    };
    let cx = Context { rules, components, loaded_periods, cons_rows };
    let loaded_periods = &cx.loaded_periods;

    // Stage 1.
    let mut all = Seen::default();
    for s in each(&src, rules, |k| seen(k, &cx))? {
        all.absorb(s);
    }
    let n_comp = components.len();
    all.score.resize(1 << n_comp, 0);
    all.nonzero.resize(n_comp, false);
    let Seen { groups, score, nonzero, compared, places, pairs: n_pairs, cons_rows: n_cons, inc_lines: n_inc, without_consumption } = all;
    let mut groups: Vec<Group> = groups.into_values().collect();

    // [base] counted: the components whose sums reproduce the statement bases.
    let default_mask: usize = (0..n_comp).filter(|&c| DEFAULT_COUNTED.contains(&components[c])).map(|c| 1 << c).sum();
    let closeness = |mask: usize| -> i64 { (0..n_comp).map(|c| if mask >> c & 1 == 1 { if default_mask >> c & 1 == 1 { 1 } else { -1 } } else { 0 }).sum() };
    let names = |mask: usize| -> Vec<&'static str> { (0..n_comp).filter(|c| mask >> c & 1 == 1).map(|c| components[c].name()).collect() };
    let best = (1..(1usize << n_comp)).max_by_key(|&m| (score[m], closeness(m), usize::MAX - m));
    let mut base_comment = Vec::new();
    let mask = match best {
        Some(m) if compared > 0 && score[m] > 0 => {
            let fits: Vec<usize> = (1..(1usize << n_comp)).filter(|&o| o != m && score[o] == score[m]).collect();
            report.push(format!("base       counted = {}: reproduces {} of {} statement bases compared ({})", names(m).join(", "), score[m], compared, pct(score[m], compared)));
            base_comment.push(format!("# inferred: these components' sums reproduce the statement base on {} of {} orders compared ({}).", score[m], compared, pct(score[m], compared)));
            let idle: Vec<&str> = (0..n_comp).filter(|&c| !nonzero[c]).map(|c| components[c].name()).collect();
            if !fits.is_empty() {
                let list: Vec<String> = fits.iter().take(4).map(|&o| format!("[{}]", names(o).join(", "))).collect();
                let more = if fits.len() > 4 { format!(" and {} more", fits.len() - 4) } else { String::new() };
                base_comment.push(format!("# also fit as well: {}{more}", list.join(", ")));
                if !idle.is_empty() {
                    base_comment.push(format!("# (they differ only in {}, which are zero wherever the statements pay: the exports cannot tell)", idle.join(", ")));
                }
                report.push(format!("           {} other combinations fit as well (they differ in components that are always zero: {})", fits.len(), if idle.is_empty() { "-".into() } else { idle.join(", ") }));
            }
            m
        }
        _ => {
            base_comment.push("# not inferred: no statement line carries a base to compare; the documented default (those of its components the exports have).".into());
            report.push("base       not inferred (no statement base to compare): the default components".into());
            if default_mask != 0 {
                default_mask
            } else {
                1
            }
        }
    };
    let excluded: Vec<&str> = (0..n_comp).filter(|c| mask >> c & 1 == 0).map(|c| components[c].name()).collect();
    if !excluded.is_empty() {
        base_comment.push(format!("# not counted: {} (the difference shows as excluded_payment)", excluded.join(", ")));
    }
    for (c, label) in partly {
        base_comment.push(format!("# {} is not a column of every consumption export ({} lacks it): it cannot be counted", c.name(), label));
    }

    // Lag per group: the shift of consumption well before its month's end (7 days).
    for g in &mut groups {
        let hist = if g.shifts_mid.is_empty() { &g.shifts_all } else { &g.shifts_mid };
        if let Some((&lag, _)) = hist.iter().max_by_key(|(s, n)| (**n, -**s)) {
            g.lag = lag.min(12);
            g.lag_inferred = true;
        }
    }

    // The late window: consumption paid one period after its product's lag, against the
    // consumption paid on time, in hours before the end of the bill cycle.
    let (mut late, mut on_time): (BTreeMap<i64, usize>, BTreeMap<i64, usize>) = Default::default();
    for g in &groups {
        if let Some((first, _)) = g.ends.get(&(g.lag + 1)) {
            add_counts(&mut late, first.clone());
        }
        if let Some((_, last)) = g.ends.get(&g.lag) {
            add_counts(&mut on_time, last.clone());
        }
    }
    let at_most = |h: &BTreeMap<i64, usize>, w: i64| -> usize { h.range(..=w).map(|(_, n)| n).sum() };
    let (n_late, n_on_time): (usize, usize) = (late.values().sum(), on_time.values().sum());
    let score_w = |w: i64| -> usize { at_most(&late, w) + (n_on_time - at_most(&on_time, w)) };
    let late_hours: i64;
    let late_comment: String;
    if n_late == 0 {
        let close = at_most(&on_time, DEFAULT_LATE_HOURS);
        if close > 0 {
            late_hours = 0;
            late_comment = format!("# inferred: no consumption is paid a month late; {close} orders of the last {DEFAULT_LATE_HOURS} hours of a month are paid in their own month");
        } else {
            late_hours = DEFAULT_LATE_HOURS;
            late_comment = "# not inferred: no statement pays consumption of a month's last days either way; the usual 24 hours".into();
        }
        report.push(format!("late window {late_hours} h ({})", if close > 0 { "inferred: nothing paid late" } else { "not inferred: no evidence, the default" }));
    } else {
        let candidates: Vec<i64> = late.keys().map(|&h| h.min(24 * 28)).collect::<BTreeSet<i64>>().into_iter().collect();
        let best = candidates.iter().map(|&w| score_w(w)).max().unwrap_or(0);
        let tol = (n_late / 100).max(1);
        let w = candidates.iter().copied().find(|&w| score_w(w) + tol >= best).unwrap_or(DEFAULT_LATE_HOURS);
        late_hours = w;
        let late_in = at_most(&late, w);
        let on_time_out = n_on_time - at_most(&on_time, w);
        late_comment = format!("# inferred: {late_in} of {n_late} orders paid one month after their product's lag lie in the last {w} hours of their month; {on_time_out} of {n_on_time} paid on time lie before them");
        report.push(format!("late window {w} h: {late_in} of {n_late} orders paid a month late lie in it, {on_time_out} of {n_on_time} paid on time lie before it ({})", pct(late_in + on_time_out, n_late + n_on_time)));
    }
    let scale = places.clamp(2, 8);
    let decided = Decided {
        index: groups.iter().enumerate().map(|(i, g)| ((g.service.clone(), g.mode), i)).collect(),
        lag: groups.iter().map(|g| g.lag).collect(),
        rated: groups.iter().map(|g| !g.rates.is_empty()).collect(),
        top: groups.iter().map(Group::top_rate).collect(),
        mask,
        late_hours,
        scale,
    };

    // Stage 2: attribution, from the consumption of paid products in a loaded statement's reach.
    let mut ev: BTreeMap<Evidence, usize> = BTreeMap::new();
    for e in each(&src, rules, |k| evidence(k, &cx, &decided))? {
        add_counts(&mut ev, e);
    }
    let paid_types: BTreeSet<i32> = ev.iter().filter(|((a, _, _, _, paid), n)| *paid && **n > 0 && a.is_some()).filter_map(|((a, ..), _)| *a).collect();
    let of_paid_type = |a: &Option<i32>| a.is_some_and(|a| paid_types.contains(&a));

    // Rebind grace: (full months since rebinding, paid) of rebound customers' rows.
    let grace_rows: Vec<(i32, bool, usize)> = ev.iter().filter(|((a, cust, m, _, _), _)| *cust && *m >= 0 && of_paid_type(a)).map(|((_, _, m, _, paid), n)| (i32::from(*m), *paid, *n)).collect();
    let n_grace: usize = grace_rows.iter().map(|r| r.2).sum();
    let grace_comment;
    let grace = if n_grace == 0 {
        grace_comment = format!("# not inferred: no rebound customer's consumption falls in a loaded statement; the documented default since 2026-01-01 ({DEFAULT_GRACE_MONTHS} months)");
        report.push(format!("rebind grace {DEFAULT_GRACE_MONTHS} months: not inferred (no rebound customer's consumption in the statements' reach), the default"));
        DEFAULT_GRACE_MONTHS
    } else {
        let sc = |g: i32| -> usize { grace_rows.iter().filter(|(m, paid, _)| (*m < g) != *paid).map(|r| r.2).sum() };
        let best = (0..=24).map(sc).max().unwrap_or(0);
        let fit: Vec<i32> = (0..=24).filter(|&g| sc(g) == best).collect();
        let g = if fit.contains(&DEFAULT_GRACE_MONTHS) { DEFAULT_GRACE_MONTHS } else { fit[0] };
        let (lo, hi) = (fit[0], *fit.last().unwrap_or(&24));
        let range = if hi >= 24 { format!("{lo} months or more") } else if lo == hi { format!("exactly {lo} months") } else { format!("{lo} to {hi} months") };
        grace_comment = format!("# inferred: {} of {} rows of rebound customers are explained by a grace of {range}{}", best, n_grace, if g == DEFAULT_GRACE_MONTHS && lo != hi { format!("; the documented {DEFAULT_GRACE_MONTHS} kept") } else { String::new() });
        report.push(format!("rebind grace {g} months: consistent with {range} ({} of {} rows of rebound customers, {})", best, n_grace, pct(best, n_grace)));
        g
    };

    // Association lag (days after associated_at): (days, paid) of associated customers' rows out of grace.
    let lag_rows: Vec<(i16, bool, usize)> = ev.iter().filter(|((a, cust, m, d, _), _)| *cust && *d != -2 && of_paid_type(a) && !Attribution::in_grace(*m, grace)).map(|((_, _, _, d, paid), n)| (*d, *paid, *n)).collect();
    let n_lag: usize = lag_rows.iter().map(|r| r.2).sum();
    let unpaid_before = |l: i64| -> usize { lag_rows.iter().filter(|(d, paid, _)| !*paid && i64::from(*d) < l).map(|r| r.2).sum() };
    let lag_score = |l: i64| -> usize { unpaid_before(l) + lag_rows.iter().filter(|(d, paid, _)| *paid && i64::from(*d) >= l).map(|r| r.2).sum::<usize>() };
    let assoc_lag = (0..=90).max_by_key(|&l| (lag_score(l), -l)).unwrap_or(0);
    let before = unpaid_before(0);
    let lag_comment = if n_lag == 0 {
        report.push("association lag 0 days: not inferred (no association times in the statements' reach)".into());
        "# not inferred: no customer's association time is known for consumption the statements cover".to_string()
    } else {
        let within = unpaid_before(assoc_lag) - before;
        report.push(format!("association lag {assoc_lag} days: {} of {} rows of associated customers explained ({} unpaid before association{})", lag_score(assoc_lag), n_lag, before, if assoc_lag > 0 { format!(", {within} within the lag") } else { String::new() }));
        format!("# inferred: {} of {} rows of associated customers explained; {} unpaid rows lie before associated_at", lag_score(assoc_lag), n_lag, before)
    };

    // Association types.
    let mut by_type: BTreeMap<i32, (usize, usize)> = BTreeMap::new();
    for ((a, _, m, d, paid), n) in &ev {
        let Some(a) = a else { continue };
        if Attribution::in_grace(*m, grace) || Attribution::before_lag(*d, assoc_lag) {
            continue;
        }
        let e = by_type.entry(*a).or_default();
        if *paid {
            e.0 += n;
        } else {
            e.1 += n;
        }
    }
    let mut types = Vec::new();
    let mut type_comments = Vec::new();
    for a in [Association::Resale, Association::Referral] {
        match by_type.get(&a.code()) {
            None => {
                types.push(a);
                type_comments.push(format!("# {} ({}): not inferred, no consumption of theirs the statements cover; listed by default", a.key(), a.label()));
                report.push(format!("attribution {}: listed (not inferred: no evidence)", a.key()));
            }
            Some(&(paid, unpaid)) => {
                let listed = paid >= unpaid && paid > 0;
                if listed {
                    types.push(a);
                }
                type_comments.push(format!("# {} ({}): {} of {} rows in the statements' reach are paid: {}", a.key(), a.label(), paid, paid + unpaid, if listed { "listed" } else { "not listed" }));
                report.push(format!("attribution {}: {} ({} of {} rows paid, {})", a.key(), if listed { "listed" } else { "NOT listed" }, paid, paid + unpaid, pct(paid, paid + unpaid)));
            }
        }
    }
    if types.is_empty() {
        // (the exports say no customer earns anything: list both, and say so)
        types = vec![Association::Resale, Association::Referral];
        type_comments.push("# CONFLICT: no association type is paid more often than not; both listed for a person to decide".into());
    }
    let attribution = Attribution { types, assoc_lag, grace };

    // Stage 3. Products: the most frequent rate, or 0 when the statements do not pay the consumption.
    for part in each(&src, rules, |k| products(k, &cx, &decided, &attribution))? {
        for (g, paid, unpaid, round_n, hits) in part {
            let Some(g) = groups.get_mut(g) else { return Err(Error::Internal("recon init: a partition's product is not among the products seen".into())) };
            g.paid_keys += paid;
            g.unpaid_keys += unpaid;
            g.round_n += round_n;
            for (a, b) in g.round_hits.iter_mut().zip(hits) {
                *a += b;
            }
        }
    }
    for g in &mut groups {
        match g.top_rate() {
            Some(rate) if g.paid_keys > g.unpaid_keys && rate > 0 => g.rate = rate,
            _ => {
                g.rate = 0;
                g.zero = true;
            }
        }
    }
    let Attribution { types, assoc_lag, grace } = attribution;

    // Rounding and scale: the statement amounts against Σ base × rate of the pairs.
    let modes = [crate::model::Rounding::HalfUp, crate::model::Rounding::HalfEven, crate::model::Rounding::Down];
    let mut round_hits = [0usize; 3];
    let mut round_n = 0usize;
    for g in groups.iter().filter(|g| !g.zero) {
        round_n += g.round_n;
        for (a, b) in round_hits.iter_mut().zip(g.round_hits) {
            *a += b;
        }
    }
    // half_up (the default) unless another rounding reproduces clearly more amounts
    let best_ri = (0..3).max_by_key(|&i| (round_hits[i], 3 - i)).unwrap_or(0);
    let ri = if round_hits[best_ri] > round_hits[0] + (round_n / 100).max(1) { best_ri } else { 0 };
    let rounding = modes[ri];
    let rounding_comment = if round_hits[ri] == 0 {
        report.push("rounding   half_up: not inferred (no statement amount is reproduced by any rounding)".into());
        "not inferred: no statement amount is reproduced; the default".to_string()
    } else {
        let others: Vec<String> = (0..3).filter(|&i| i != ri && round_hits[i] + (round_n / 100).max(1) >= round_hits[ri]).map(|i| format!("{} {}", modes[i].name(), round_hits[i])).collect();
        report.push(format!("rounding   {}: reproduces {} of {} order amounts ({}){}", rounding.name(), round_hits[ri], round_n, pct(round_hits[ri], round_n), if others.is_empty() { String::new() } else { format!("; about as many: {}", others.join(", ")) }));
        format!("inferred: reproduces {} of {} order amounts{}", round_hits[ri], round_n, if others.is_empty() { String::new() } else { format!(" (about as many: {})", others.join(", ")) })
    };

    // Charging modes merged where the statements pay them alike.
    let mut services: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, g) in groups.iter().enumerate() {
        services.entry(g.service.as_str()).or_default().push(i);
    }
    for gs in services.values_mut() {
        gs.sort_by_key(|&g| groups[g].mode);
    }
    let mut out = String::new();
    let periods: Vec<String> = loaded_periods.iter().map(|&p| Period(p).to_string()).collect();
    let _ = writeln!(out, "# Drafted by `recon init` from the exports: {} consumption rows, {} statement lines (periods {}).", n_cons, n_inc, periods.join(", "));
    let _ = writeln!(out, "# Review every line marked CONFLICT or \"not inferred\", compare with the policy PDF, then:");
    let _ = writeln!(out, "#   recon check-rules THIS_FILE");
    let _ = writeln!(out);
    let _ = writeln!(out, "[policy]");
    let _ = writeln!(out, "name = \"Draft policy (recon init)\"     # not inferred: name it after the policy PDF");
    let _ = writeln!(out, "version = \"draft\"                     # not inferred");
    let _ = writeln!(out, "currency = \"CNY\"                      # not inferred");
    let _ = writeln!(out, "timezone = \"+08:00\"                   # not inferred: Beijing time, Huawei's base time");
    let _ = writeln!(out, "{:<38}# inferred: statement amounts have at most {places} decimal places", format!("scale = {scale}"));
    let _ = writeln!(out, "{:<38}# {rounding_comment}", format!("rounding = \"{}\"", rounding.name()));
    let _ = writeln!(out, "tolerance = \"0.01\"                    # not inferred: the documented default");
    let _ = writeln!(out);
    let _ = writeln!(out, "[base]");
    for c in &base_comment {
        let _ = writeln!(out, "{c}");
    }
    let counted: Vec<String> = names(mask).iter().map(|n| q(n)).collect();
    let _ = writeln!(out, "counted = [{}]", counted.join(", "));
    let _ = writeln!(out);
    let _ = writeln!(out, "[attribution]");
    for c in &type_comments {
        let _ = writeln!(out, "{c}");
    }
    let type_names: Vec<String> = types.iter().map(|a| q(a.key())).collect();
    let _ = writeln!(out, "association_types = [{}]", type_names.join(", "));
    let _ = writeln!(out, "{lag_comment}");
    let _ = writeln!(out, "association_lag_days = {assoc_lag}");
    let _ = writeln!(out, "{grace_comment}");
    let _ = writeln!(out, "rebind_grace_months = {grace}");
    let _ = writeln!(out);
    let _ = writeln!(out, "[rollover]");
    let _ = writeln!(out, "{late_comment}");
    let _ = writeln!(out, "late_window_hours = {late_hours}");

    let mut used_ids: BTreeSet<String> = BTreeSet::new();
    let mut n_products = 0;
    let (mut n_zero, mut n_conflict) = (0, 0);
    report.push("products:".into());
    for (service, gs) in &services {
        // classes of groups paid alike: (rate, lag), zero-rate ones together
        let mut classes: Vec<((i128, i32), Vec<usize>)> = Vec::new();
        for &g in gs {
            let k = if groups[g].zero { (0, 0) } else { (groups[g].rate, groups[g].lag) };
            match classes.iter_mut().find(|(c, _)| *c == k) {
                Some((_, v)) => v.push(g),
                None => classes.push((k, vec![g])),
            }
        }
        let short: String = service.rsplit('.').next().unwrap_or(service).chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' }).collect();
        let short = if short.is_empty() { "product".to_string() } else { short };
        let single = classes.len() == 1;
        // mode-specific products first, a catch-all for rows without a charging mode last
        let mut emit: Vec<(Vec<usize>, Option<Vec<i32>>)> = Vec::new();
        let mut catch_all: Vec<(Vec<usize>, Option<Vec<i32>>)> = Vec::new();
        for (_, members) in &classes {
            if single {
                emit.push((members.clone(), None));
                continue;
            }
            let modes: Vec<i32> = members.iter().map(|&g| groups[g].mode).filter(|&m| m != 0).collect();
            if !modes.is_empty() {
                emit.push((members.iter().copied().filter(|&g| groups[g].mode != 0).collect(), Some(modes)));
            }
            if members.iter().any(|&g| groups[g].mode == 0) {
                catch_all.push((members.iter().copied().filter(|&g| groups[g].mode == 0).collect(), None));
            }
        }
        emit.extend(catch_all);
        for (members, modes) in emit {
            let first = &groups[members[0]];
            let mut id = match &modes {
                None if single => short.clone(),
                None => format!("{short}-other"),
                Some(m) => format!("{short}-{}", m.iter().map(|&c| mode_slug(c)).collect::<Vec<_>>().join("-")),
            };
            if used_ids.contains(&id) {
                let mut n = 2;
                while used_ids.contains(&format!("{id}-{n}")) {
                    n += 1;
                }
                id = format!("{id}-{n}");
            }
            used_ids.insert(id.clone());
            n_products += 1;
            let rows: usize = members.iter().map(|&g| groups[g].rows).sum();
            let keys: usize = members.iter().map(|&g| groups[g].keys).sum();
            let lines: usize = members.iter().map(|&g| groups[g].lines).sum();
            let mut hist: BTreeMap<i128, usize> = BTreeMap::new();
            for &g in &members {
                for (r, n) in &groups[g].rates {
                    *hist.entry(*r).or_default() += n;
                }
            }
            let (paid_keys, unpaid_keys): (usize, usize) = members.iter().fold((0, 0), |(a, b), &g| (a + groups[g].paid_keys, b + groups[g].unpaid_keys));
            let seen_modes: Vec<&str> = members.iter().map(|&g| mode_label(groups[g].mode)).collect();
            let _ = writeln!(out);
            let _ = writeln!(out, "# {service} {}: {rows} consumption rows in {keys} orders; {lines} statement lines", seen_modes.join(", "));
            let rates_seen: Vec<String> = hist.iter().rev().map(|(r, n)| format!("{n} at {}", rate_text(*r))).collect();
            let conflict = hist.len() > 1 || (first.zero && paid_keys > 0);
            if !rates_seen.is_empty() {
                let _ = writeln!(out, "# lines per rate paid: {}{}", rates_seen.join(", "), if hist.len() > 1 { "  <- CONFLICT: the statements pay this product at several rates; a person must decide" } else { "" });
            }
            if conflict {
                n_conflict += 1;
            }
            let _ = writeln!(out, "[[product]]");
            let _ = writeln!(out, "id = {}", q(&id));
            let _ = writeln!(out, "service_type = {}", q(service));
            if let Some(m) = &modes {
                let labels: Vec<String> = m.iter().map(|&c| q(mode_label(c))).collect();
                let _ = writeln!(out, "charging_modes = [{}]", labels.join(", "));
            }
            let line_share = |rate: i128| hist.get(&rate).copied().unwrap_or(0);
            if first.zero {
                n_zero += 1;
                let reason = if paid_keys == 0 {
                    format!("no statement line pays it ({unpaid_keys} attributed orders in the loaded statements' months, none paid)")
                } else {
                    format!("paid on only {paid_keys} of {} attributed orders: a person must decide", paid_keys + unpaid_keys)
                };
                let _ = writeln!(out, "rate = \"0\"{}", if paid_keys > 0 { "   # CONFLICT: some statement lines pay it" } else { "" });
                let _ = writeln!(out, "reason = {}", q(&reason));
                report.push(format!("  {id:<28} {service} {}  rate 0 ({reason})", seen_modes.join("/")));
            } else {
                let share = line_share(first.rate);
                let rated: usize = hist.values().sum();
                let _ = writeln!(out, "rate = {}   # paid on {share} of {rated} lines ({}); {paid_keys} of {} attributed orders paid", q(&rate_text(first.rate)), pct(share, rated), paid_keys + unpaid_keys);
                let lag_line = if first.lag_inferred {
                    let mid: usize = members.iter().map(|&g| groups[g].shifts_mid.get(&first.lag).copied().unwrap_or(0)).sum();
                    let mid_all: usize = members.iter().map(|&g| groups[g].shifts_mid.values().sum::<usize>()).sum();
                    format!("# inferred: {mid} of {mid_all} orders billed before their month's last week are paid {} month{} after", first.lag, if first.lag == 1 { "" } else { "s" })
                } else {
                    "# not inferred: no order of it lies in one bill cycle and one statement".to_string()
                };
                let _ = writeln!(out, "lag_months = {}   {lag_line}", first.lag);
                report.push(format!(
                    "  {id:<28} {service} {}  rate {} on {share} of {rated} lines ({}){}{}",
                    seen_modes.join("/"),
                    rate_text(first.rate),
                    pct(share, rated),
                    if first.lag > 0 { format!(", lag {} month", first.lag) } else { String::new() },
                    if hist.len() > 1 { "  CONFLICT" } else { "" }
                ));
            }
        }
    }
    report.insert(0, format!("inferred from {} consumption rows, {} statement lines ({} orders compared line for line){}", n_cons, n_inc, n_pairs, if without_consumption > 0 { format!("; {without_consumption} statement lines have no consumption and say nothing of the policy") } else { String::new() }));
    report.push(format!("{n_products} products, {n_zero} at rate 0, {n_conflict} with conflicting evidence (marked CONFLICT in the file)"));
    report.push("not inferred (defaults, marked in the file): policy name, version, currency, timezone, tolerance; valid_from/valid_to of products".into());
    let _ = writeln!(out);
    let _ = writeln!(out, "# Not inferred: products' valid_from / valid_to (a rate that changed mid-period shows as a CONFLICT above).");
    Ok(Draft { toml: out, report })
}
