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
    lag: i32,
    lag_inferred: bool,
    paid_keys: usize,
    unpaid_keys: usize,
    rate: i128,
    zero: bool,
}

/// Drafts the rules from loaded exports. `components` are those loaded (each consumption
/// table has them), in the order of `loaded.consumption.counted`; `partly` those some tables lack.
pub fn draft(loaded: &Loaded, rules: &RuleSet, components: &[Component], partly: &[(Component, String)]) -> Draft {
    let cons = &loaded.consumption;
    let inc = &loaded.incentives;
    let tz = rules.tz;
    let mut report = Vec::new();

    // Keys (trade id, service type) numbered in first-seen order: consumption first.
    let mut ids: polars::prelude::PlHashMap<(&str, &str), u32> = Default::default();
    let mut cons_key = Vec::with_capacity(cons.len());
    for (t, s) in cons.trade_id.iter().zip(cons.service.iter()) {
        let next = ids.len() as u32;
        cons_key.push(*ids.entry((t, s)).or_insert(next));
    }
    let n_cons_keys = ids.len();
    let inc_key: Vec<Option<u32>> = inc.trade_id.iter().zip(inc.service.iter()).map(|k| ids.get(&k).copied()).collect();
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
    let (c_start, c_rows) = csr(&mut cons_key.iter().map(|&k| Some(k)), n_cons_keys);
    let (i_start, i_rows) = csr(&mut inc_key.iter().copied(), n_cons_keys);
    let rows_of = |k: usize| &c_rows[c_start[k] as usize..c_start[k + 1] as usize];
    let lines_of = |k: usize| &i_rows[i_start[k] as usize..i_start[k + 1] as usize];
    let loaded_periods: BTreeSet<i32> = inc.period.iter().copied().collect();
    let without_consumption = inc_key.iter().filter(|k| k.is_none()).count();

    // Groups (service type, charging mode), by each key's first row.
    let mut group_ids: polars::prelude::PlHashMap<(&str, i32), usize> = Default::default();
    let mut key_group = vec![0usize; n_cons_keys];
    let mut groups: Vec<Group> = Vec::new();
    for k in 0..n_cons_keys {
        let r = rows_of(k)[0] as usize;
        let gk = (cons.service.get(r), cons.mode[r]);
        let g = *group_ids.entry(gk).or_insert_with(|| {
            groups.push(Group { service: gk.0.to_string(), mode: gk.1, ..Group::default() });
            groups.len() - 1
        });
        key_group[k] = g;
        groups[g].keys += 1;
        groups[g].rows += rows_of(k).len();
    }

    // Rates paid: every statement line with consumption.
    for (r, k) in inc_key.iter().enumerate() {
        let Some(k) = k else { continue };
        let g = &mut groups[key_group[*k as usize]];
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

    // Pairs.
    struct Pair {
        key: usize,
        cycle: i32,
        shift: i32,
        min_ts: i64,
        max_ts: i64,
    }
    let mut pairs: Vec<Pair> = Vec::new();
    for k in 0..n_cons_keys {
        let (rows, lines) = (rows_of(k), lines_of(k));
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

    // [base] counted: the components whose sums reproduce the statement bases.
    let n_comp = components.len();
    let mut score = vec![0usize; 1 << n_comp];
    let mut nonzero = vec![false; n_comp];
    let mut compared = 0usize;
    for p in pairs.iter().take(BASE_SAMPLE) {
        let lines = lines_of(p.key);
        if lines.iter().any(|&l| inc.base[l as usize].is_none()) {
            continue;
        }
        let target: i128 = lines.iter().map(|&l| inc.base[l as usize].unwrap_or(0)).sum();
        let mut sums = vec![0i128; n_comp];
        for &r in rows_of(p.key) {
            for (c, s) in sums.iter_mut().enumerate() {
                *s += cons.counted[c][r as usize];
            }
        }
        for (c, nz) in nonzero.iter_mut().enumerate() {
            *nz |= rows_of(p.key).iter().any(|&r| cons.counted[c][r as usize] != 0);
        }
        compared += 1;
        for (mask, sc) in score.iter_mut().enumerate() {
            let total: i128 = (0..n_comp).filter(|c| mask >> c & 1 == 1).map(|c| sums[c]).sum();
            if total == target {
                *sc += 1;
            }
        }
    }
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
    let base: Vec<i128> = (0..cons.len()).map(|r| (0..n_comp).filter(|c| mask >> c & 1 == 1).map(|c| cons.counted[c][r]).sum()).collect();

    // Lag per group: the shift of consumption well before its month's end (7 days).
    for p in &pairs {
        let g = &mut groups[key_group[p.key]];
        *g.shifts_all.entry(p.shift).or_default() += 1;
        if Period(p.cycle).end_ts(tz) - p.max_ts > 7 * DAY {
            *g.shifts_mid.entry(p.shift).or_default() += 1;
        }
    }
    for g in &mut groups {
        let hist = if g.shifts_mid.is_empty() { &g.shifts_all } else { &g.shifts_mid };
        if let Some((&lag, _)) = hist.iter().max_by_key(|(s, n)| (**n, -**s)) {
            g.lag = lag.min(12);
            g.lag_inferred = true;
        }
    }

    // The late window: consumption paid one period after its product's lag, against the
    // consumption paid on time, in hours before the end of the bill cycle.
    let (mut late, mut on_time) = (Vec::new(), Vec::new());
    for p in &pairs {
        let lag = groups[key_group[p.key]].lag;
        let end = Period(p.cycle).end_ts(tz);
        if p.shift == lag + 1 {
            late.push(end - p.min_ts);
        } else if p.shift == lag {
            on_time.push(end - p.max_ts);
        }
    }
    late.sort_unstable();
    on_time.sort_unstable();
    let score_w = |w: i64| -> usize { late.partition_point(|&s| s <= w * 3600) + (on_time.len() - on_time.partition_point(|&s| s <= w * 3600)) };
    let late_hours: i64;
    let late_comment: String;
    if late.is_empty() {
        let close = on_time.partition_point(|&s| s <= DEFAULT_LATE_HOURS * 3600);
        if close > 0 {
            late_hours = 0;
            late_comment = format!("# inferred: no consumption is paid a month late; {close} orders of the last {DEFAULT_LATE_HOURS} hours of a month are paid in their own month");
        } else {
            late_hours = DEFAULT_LATE_HOURS;
            late_comment = "# not inferred: no statement pays consumption of a month's last days either way; the usual 24 hours".into();
        }
        report.push(format!("late window {late_hours} h ({})", if close > 0 { "inferred: nothing paid late" } else { "not inferred: no evidence, the default" }));
    } else {
        let mut candidates: Vec<i64> = late.iter().map(|&s| ((s + 3599) / 3600).clamp(0, 24 * 28)).collect();
        candidates.sort_unstable();
        candidates.dedup();
        let best = candidates.iter().map(|&w| score_w(w)).max().unwrap_or(0);
        let tol = (late.len() / 100).max(1);
        let w = candidates.iter().copied().find(|&w| score_w(w) + tol >= best).unwrap_or(DEFAULT_LATE_HOURS);
        late_hours = w;
        let late_in = late.partition_point(|&s| s <= w * 3600);
        let on_time_out = on_time.len() - on_time.partition_point(|&s| s <= w * 3600);
        late_comment = format!(
            "# inferred: {late_in} of {} orders paid one month after their product's lag lie in the last {w} hours of their month; {on_time_out} of {} paid on time lie before them",
            late.len(),
            on_time.len()
        );
        report.push(format!("late window {w} h: {late_in} of {} orders paid a month late lie in it, {on_time_out} of {} paid on time lie before it ({})", late.len(), on_time.len(), pct(late_in + on_time_out, late.len() + on_time.len())));
    }

    // Expected period of each row under what is inferred so far, and whether it is in a
    // loaded statement.
    let cutoffs: BTreeMap<i32, i64> = cons.cycle.iter().copied().collect::<BTreeSet<i32>>().into_iter().map(|c| (c, if late_hours > 0 { Period(c).end_ts(tz) - late_hours * 3600 } else { i64::MAX })).collect();
    let cutoff = |cycle: i32| cutoffs.get(&cycle).copied().unwrap_or(i64::MAX);
    let row_group = |r: usize| key_group[cons_key[r] as usize];
    let lags: Vec<i32> = groups.iter().map(|g| g.lag).collect();
    let in_reach = |r: usize| -> bool {
        let e = cons.cycle[r] + lags[row_group(r)] + i32::from(cons.ts[r] >= cutoff(cons.cycle[r]));
        loaded_periods.contains(&e)
    };
    let paid_key = |k: usize| !lines_of(k).is_empty();
    let customers = loaded.customers.as_deref();
    // (each row's customer looked up once)
    let customer_index: Vec<u32> = match customers {
        Some(c) => crate::engine::frames::customer_index(cons, c),
        None => Vec::new(),
    };
    let customer_of = |r: usize| customers.and_then(|c| c.list.get(*customer_index.get(r)? as usize));
    // The association type of a row: the customers file's, when given (None: not in it).
    let assoc_of = |r: usize| -> Option<Association> {
        match customers {
            Some(_) => customer_of(r).map(|c| c.association),
            None => Association::from_code(cons.assoc[r]),
        }
    };
    // Evidence of attribution: rows of paid products, expected in a loaded statement.
    let evidence: Vec<usize> = (0..cons.len()).filter(|&r| !groups[row_group(r)].rates.is_empty() && in_reach(r)).collect();
    let paid_types: BTreeSet<i32> = evidence.iter().filter(|&&r| paid_key(cons_key[r] as usize)).filter_map(|&r| assoc_of(r).map(Association::code)).collect();

    // Rebind grace.
    let mut grace_rows: Vec<(i32, bool)> = Vec::new(); // (full months since rebinding, paid)
    for &r in &evidence {
        let Some(c) = customer_of(r) else { continue };
        let Some(rebound) = c.rebound_at else { continue };
        if !paid_types.contains(&c.association.code()) || cons.ts[r] < rebound {
            continue;
        }
        let mut m = 0;
        while m < 25 && crate::engine::frames::add_months_local(rebound, m + 1, rules) <= cons.ts[r] {
            m += 1;
        }
        grace_rows.push((m, paid_key(cons_key[r] as usize)));
    }
    let grace_comment;
    let grace = if grace_rows.is_empty() {
        grace_comment = format!("# not inferred: no rebound customer's consumption falls in a loaded statement; the documented default since 2026-01-01 ({DEFAULT_GRACE_MONTHS} months)");
        report.push(format!("rebind grace {DEFAULT_GRACE_MONTHS} months: not inferred (no rebound customer's consumption in the statements' reach), the default"));
        DEFAULT_GRACE_MONTHS
    } else {
        let sc = |g: i32| grace_rows.iter().filter(|(m, paid)| (*m < g) != *paid).count();
        let best = (0..=24).map(sc).max().unwrap_or(0);
        let fit: Vec<i32> = (0..=24).filter(|&g| sc(g) == best).collect();
        let g = if fit.contains(&DEFAULT_GRACE_MONTHS) { DEFAULT_GRACE_MONTHS } else { fit[0] };
        let (lo, hi) = (fit[0], *fit.last().unwrap_or(&24));
        let range = if hi >= 24 { format!("{lo} months or more") } else if lo == hi { format!("exactly {lo} months") } else { format!("{lo} to {hi} months") };
        grace_comment = format!("# inferred: {} of {} rows of rebound customers are explained by a grace of {range}{}", best, grace_rows.len(), if g == DEFAULT_GRACE_MONTHS && lo != hi { format!("; the documented {DEFAULT_GRACE_MONTHS} kept") } else { String::new() });
        report.push(format!("rebind grace {g} months: consistent with {range} ({} of {} rows of rebound customers, {})", best, grace_rows.len(), pct(best, grace_rows.len())));
        g
    };
    let in_grace = |r: usize| -> bool {
        customer_of(r).and_then(|c| c.rebound_at).is_some_and(|t| cons.ts[r] < crate::engine::frames::add_months_local(t, grace, rules))
    };

    // Association lag (days after associated_at).
    let (mut lag_paid, mut lag_unpaid) = (Vec::new(), Vec::new());
    for &r in &evidence {
        let Some(c) = customer_of(r) else { continue };
        let Some(at) = c.associated_at else { continue };
        if !paid_types.contains(&c.association.code()) || in_grace(r) {
            continue;
        }
        let d = cons.ts[r] - at;
        if paid_key(cons_key[r] as usize) {
            lag_paid.push(d);
        } else {
            lag_unpaid.push(d);
        }
    }
    lag_paid.sort_unstable();
    lag_unpaid.sort_unstable();
    let lag_score = |l: i64| lag_unpaid.partition_point(|&d| d < l * DAY) + (lag_paid.len() - lag_paid.partition_point(|&d| d < l * DAY));
    let assoc_lag = (0..=90).max_by_key(|&l| (lag_score(l), -l)).unwrap_or(0);
    let before = lag_unpaid.partition_point(|&d| d < 0);
    let lag_comment = if lag_paid.is_empty() && lag_unpaid.is_empty() {
        report.push("association lag 0 days: not inferred (no association times in the statements' reach)".into());
        "# not inferred: no customer's association time is known for consumption the statements cover".to_string()
    } else {
        let within = lag_unpaid.partition_point(|&d| d < assoc_lag * DAY) - before;
        report.push(format!("association lag {assoc_lag} days: {} of {} rows of associated customers explained ({} unpaid before association{})", lag_score(assoc_lag), lag_paid.len() + lag_unpaid.len(), before, if assoc_lag > 0 { format!(", {within} within the lag") } else { String::new() }));
        format!("# inferred: {} of {} rows of associated customers explained; {} unpaid rows lie before associated_at", lag_score(assoc_lag), lag_paid.len() + lag_unpaid.len(), before)
    };
    let before_lag = |r: usize| customer_of(r).and_then(|c| c.associated_at).is_some_and(|t| cons.ts[r] < t + assoc_lag * DAY);

    // Association types.
    let mut by_type: BTreeMap<i32, (usize, usize)> = BTreeMap::new();
    for &r in &evidence {
        if in_grace(r) || before_lag(r) {
            continue;
        }
        let Some(a) = assoc_of(r) else { continue };
        let e = by_type.entry(a.code()).or_default();
        if paid_key(cons_key[r] as usize) {
            e.0 += 1;
        } else {
            e.1 += 1;
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
    let attributed = |r: usize| -> bool {
        if customers.is_some() && customer_of(r).is_none() {
            return false;
        }
        let type_ok = match assoc_of(r) {
            Some(a) => types.contains(&a),
            None => types.len() == 2,
        };
        type_ok && !before_lag(r) && !in_grace(r)
    };

    // Products: the most frequent rate, or 0 when the statements do not pay the consumption.
    for k in 0..n_cons_keys {
        let g = key_group[k];
        if paid_key(k) {
            groups[g].paid_keys += 1;
        } else if rows_of(k).iter().any(|&r| attributed(r as usize) && in_reach(r as usize)) {
            groups[g].unpaid_keys += 1;
        }
    }
    for g in &mut groups {
        let top = g.rates.iter().max_by_key(|(r, n)| (**n, -**r)).map(|(r, _)| *r);
        match top {
            Some(rate) if g.paid_keys > g.unpaid_keys && rate > 0 => g.rate = rate,
            _ => {
                g.rate = 0;
                g.zero = true;
            }
        }
    }

    // Rounding and scale: the statement amounts against Σ base × rate of the pairs.
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
    let scale = places.clamp(2, 8);
    let modes = [crate::model::Rounding::HalfUp, crate::model::Rounding::HalfEven, crate::model::Rounding::Down];
    let mut round_hits = [0usize; 3];
    let mut round_n = 0usize;
    for p in &pairs {
        let g = &groups[key_group[p.key]];
        if g.zero {
            continue;
        }
        let raw: i128 = rows_of(p.key).iter().map(|&r| base[r as usize] * g.rate).sum();
        let paid: i128 = lines_of(p.key).iter().map(|&l| inc.amount[l as usize]).sum();
        let exact = Decimal::from_i128_with_scale(raw, 2 * AMOUNT_SCALE);
        let paid = Decimal::from_i128_with_scale(paid, AMOUNT_SCALE);
        round_n += 1;
        for (i, m) in modes.iter().enumerate() {
            if m.apply(exact, scale) == paid {
                round_hits[i] += 1;
            }
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
    let _ = writeln!(out, "# Drafted by `recon init` from the exports: {} consumption rows, {} statement lines (periods {}).", cons.len(), inc.len(), periods.join(", "));
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
    report.insert(0, format!("inferred from {} consumption rows, {} statement lines ({} orders compared line for line){}", cons.len(), inc.len(), pairs.len(), if without_consumption > 0 { format!("; {without_consumption} statement lines have no consumption and say nothing of the policy") } else { String::new() }));
    report.push(format!("{n_products} products, {n_zero} at rate 0, {n_conflict} with conflicting evidence (marked CONFLICT in the file)"));
    report.push("not inferred (defaults, marked in the file): policy name, version, currency, timezone, tolerance; valid_from/valid_to of products".into());
    let _ = writeln!(out);
    let _ = writeln!(out, "# Not inferred: products' valid_from / valid_to (a rate that changed mid-period shows as a CONFLICT above).");
    Draft { toml: out, report }
}
