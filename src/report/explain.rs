//! `recon explain`: every source row behind one finding (all of them), each rule step that
//! decided it (product, attribution, base, expected period, category rule) and the arithmetic.

use std::io::{self, Write};

use rust_decimal::Decimal;

use crate::engine::frames::{ELIGIBLE, INELIGIBLE, NA_GRACE, NA_LAG, NA_NOT_IN_FILE, NA_TYPE};
use crate::engine::{Finding, Outcome};
use crate::load::{from_phys, Loaded};
use crate::model::{fmt_money as m, Association, ChargingMode, Period};
use crate::rules::RuleSet;

pub fn explain(f: &Finding, outcome: &Outcome, loaded: &Loaded, rules: &RuleSet, out: &mut impl Write) -> io::Result<()> {
    let cons = &loaded.consumption;
    let inc = &loaded.incentives;
    let rows = &outcome.rows;
    writeln!(out, "{}  {}  {} ({})  action {}", f.id, f.period, f.category.name(), f.category.label_zh(), f.action.name())?;
    writeln!(out, "  order {}  service {}  customer {} {}", f.trade_id, f.service, f.customer_id, f.customer_name)?;
    writeln!(out, "  policy {} {} (rules sha256 {})", rules.name, rules.version, rules.sha256)?;
    writeln!(out)?;

    // Consumption side, row by row.
    writeln!(out, "Consumption rows ({}):", f.consumption_rows.len())?;
    let mut raw_total = Decimal::ZERO;
    let mut base_total = Decimal::ZERO;
    let mut periods: Vec<Period> = Vec::new();
    for &r in &f.consumption_rows {
        let r = r as usize;
        let cycle = Period(cons.cycle[r]);
        let mode = ChargingMode::from_code(cons.mode[r]).map_or("-", |m| m.label());
        let pay = from_phys(cons.payment[r]);
        let base = from_phys(rows.base[r]);
        writeln!(out, "  {}", cons.prov.cite(r))?;
        writeln!(
            out,
            "    bill cycle {cycle}, traded {}, {} {mode}, payment {}, counted base {} (excluded {})",
            rules.tz.format(cons.ts[r]),
            &cons.service[r],
            m(pay),
            m(base),
            m(pay - base)
        )?;
        let product = usize::try_from(rows.product[r]).ok().map(|p| &rules.products[p]);
        match product {
            Some(p) => writeln!(out, "    product: {} (rules line {}), rate {}{}", p.id, p.line, p.rate, if p.lag_months > 0 { format!(", lag {} month(s)", p.lag_months) } else { String::new() })?,
            None => writeln!(out, "    product: none of the {} [[product]] entries matches {} / {mode} on {}", rules.products.len(), &cons.service[r], rules.tz.utc_to_local(cons.ts[r]).date())?,
        }
        let status = rows.status[r];
        match status {
            ELIGIBLE => {
                let exp = Period(rows.expected[r]);
                let lag = product.map_or(0, |p| p.lag_months);
                let late = rows.expected[r] > cons.cycle[r] + lag;
                let cutoff = if rules.late_window_hours > 0 { rules.tz.format(cycle.end_ts(rules.tz) - rules.late_window_hours * 3600) } else { "-".into() };
                writeln!(
                    out,
                    "    attribution: attributed; expected period = {cycle} + lag {lag}{} = {exp}",
                    if late { format!(" + 1 (traded at or after the late-window cutoff {cutoff})") } else { String::new() }
                )?;
                if let Some(p) = product {
                    let raw = base * p.rate;
                    raw_total += raw;
                    base_total += base;
                    writeln!(out, "    base × rate = {} × {} = {}", m(base), p.rate, raw.normalize())?;
                }
                if !periods.contains(&exp) {
                    periods.push(exp);
                }
            }
            INELIGIBLE => writeln!(out, "    ineligible product: earns nothing{}", product.filter(|p| !p.reason.is_empty()).map_or(String::new(), |p| format!(" ({})", p.reason)))?,
            _ => writeln!(out, "    not attributed: {}", na_text(rows.na_reason[r], r, loaded, rules))?,
        }
    }
    if !f.consumption_rows.is_empty() && f.expected_incentive.is_some() {
        writeln!(
            out,
            "  expected: Σ base = {}; Σ base × rate = {} → {} ({} to {} places) = {} in period {}",
            m(base_total),
            raw_total.normalize(),
            m(f.expected_incentive.unwrap_or_default()),
            rules.rounding.name(),
            rules.scale,
            m(f.expected_incentive.unwrap_or_default()),
            f.expected_period.map_or("-".to_string(), |p| p.to_string())
        )?;
    }
    // A bill finding sums the resale rows' payment (contract §3, partner bill).
    let bill_finding = f.id.starts_with('B');
    if bill_finding {
        writeln!(out, "  consumption: Σ payment_amount = {} in bill cycle {}", m(f.consumption_rows.iter().map(|&r| from_phys(cons.payment[r as usize])).sum()), f.period)?;
    }
    writeln!(out)?;

    if let (Some(bills), false) = (&loaded.bills, f.bill_rows.is_empty()) {
        writeln!(out, "Partner bill lines ({}):", f.bill_rows.len())?;
        let mut total = Decimal::ZERO;
        for &r in &f.bill_rows {
            let r = r as usize;
            let amount = from_phys(bills.amount[r]);
            total += amount;
            let mode = ChargingMode::from_code(bills.mode[r]).map_or("-", |m| m.label());
            writeln!(out, "  {}", bills.prov.cite(r))?;
            writeln!(out, "    bill cycle {}, {} {mode}, order {}, amount {}", Period(bills.cycle[r]), bills.service[r], bills.trade_id[r], m(amount))?;
        }
        writeln!(out, "  bill: Σ amount = {}", m(total))?;
        writeln!(out)?;
    }
    if bill_finding {
        let (c, b) = (f.expected_base.unwrap_or_default(), f.actual_base.unwrap_or_default());
        writeln!(out, "Decision (partner bill check of contract §3, grouped by {}):", f.rule_ids.strip_prefix("BILL;grain:").unwrap_or(&f.rule_ids))?;
        writeln!(out, "  delta = bill - consumption = {} - {} = {}; tolerance {}", m(b), m(c), m(f.delta), rules.tolerance)?;
        writeln!(out, "  {}", f.explanation)?;
        writeln!(out, "  rule ids: {}", f.rule_ids)?;
        return Ok(());
    }

    // Incentive side.
    writeln!(out, "Incentive rows ({}):", f.incentive_rows.len())?;
    let mut actual = Decimal::ZERO;
    for &r in &f.incentive_rows {
        let r = r as usize;
        let amount = from_phys(inc.amount[r]);
        actual += amount;
        let base = inc.base[r].map_or("-".to_string(), |b| m(from_phys(b)));
        let rate = inc.rate[r].map_or("-".to_string(), |v| from_phys(v).to_string());
        let id = inc.dup_key[r].strip_prefix("id:").unwrap_or("(no incentive_id)");
        writeln!(out, "  {}", inc.prov.cite(r))?;
        writeln!(out, "    statement {}, incentive id {id}, base {base}, rate {rate}, amount {}", Period(inc.period[r]), m(amount))?;
    }
    if !f.incentive_rows.is_empty() {
        writeln!(out, "  actual: Σ incentive_amount = {} in period {}", m(actual), f.actual_in.map_or("-".to_string(), |p| p.to_string()))?;
    }
    writeln!(out)?;

    // The decision.
    let e = f.expected_incentive.unwrap_or_default();
    let a = f.actual_incentive.unwrap_or_default();
    writeln!(out, "Decision (rule R{} of contract §3):", f.rule)?;
    writeln!(out, "  delta = actual - expected = {} - {} = {}; tolerance {}", m(a), m(e), m(f.delta), rules.tolerance)?;
    if let (Some(pe), Some(pa)) = (f.expected_period, f.actual_in) {
        if pe != pa {
            writeln!(out, "  expected in {pe}, paid in {pa}: the expected side counts in {pe}'s waterfall, the actual side in {pa}'s")?;
        }
    }
    writeln!(out, "  {}", f.explanation)?;
    writeln!(out, "  rule ids: {}", f.rule_ids)?;
    Ok(())
}

fn na_text(code: i32, r: usize, loaded: &Loaded, rules: &RuleSet) -> String {
    let cons = &loaded.consumption;
    let customer = loaded.customers.as_ref().and_then(|c| c.index.get(&cons.customer_id[r]).map(|&i| &c.list[i]));
    match code {
        NA_NOT_IN_FILE => format!("customer {} is not in the customers file", &cons.customer_id[r]),
        NA_TYPE => {
            let t = customer.map(|c| c.association).or_else(|| Association::from_code(cons.assoc[r]));
            let listed: Vec<&str> = rules.association_types.iter().map(|a| a.key()).collect();
            format!("association type {} is not in association_types [{}]", t.map_or("unknown", |t| t.key()), listed.join(", "))
        }
        NA_LAG => {
            let at = customer.and_then(|c| c.associated_at).unwrap_or(0);
            format!(
                "traded before associated_at {} + {} days = {}",
                rules.tz.format(at),
                rules.association_lag_days,
                rules.tz.format(at + rules.association_lag_days * 86_400)
            )
        }
        NA_GRACE => {
            let at = customer.and_then(|c| c.rebound_at).unwrap_or(0);
            format!(
                "traded within the rebind grace: rebound_at {} + {} months = {}",
                rules.tz.format(at),
                rules.rebind_grace_months,
                rules.tz.format(crate::engine::frames::add_months_local(at, rules.rebind_grace_months, rules))
            )
        }
        _ => "-".into(),
    }
}

/// What a report's findings.csv says of one finding id.
#[derive(Debug, PartialEq, Eq)]
pub enum Lookup {
    /// No findings.csv to look in (the run wrote other formats), or not one recon wrote.
    NoFile,
    /// findings.csv has no such finding.
    Absent,
    /// The finding's trade id and customer id.
    Found { trade: String, customer: String },
}

/// Finds finding `id` in the findings.csv at `path`. An id begins its line, so the file is
/// searched, a few MiB at a time, for the id between a line break and a comma, without parsing
/// the (large) file; only the matching record is parsed.
pub fn lookup(path: &std::path::Path, id: &str) -> Lookup {
    use std::io::{BufReader, Read, Seek, SeekFrom};
    let Ok(mut file) = std::fs::File::open(path) else { return Lookup::NoFile };
    let mut record_at = |at: u64| -> Option<csv::StringRecord> {
        file.seek(SeekFrom::Start(at)).ok()?;
        let mut r = csv::ReaderBuilder::new().has_headers(false).from_reader(BufReader::new(&mut file));
        let mut rec = csv::StringRecord::new();
        r.read_record(&mut rec).ok().filter(|&more| more).map(|_| rec)
    };
    let Some(mut header) = record_at(0) else { return Lookup::NoFile };
    if let Some(first) = header.get(0).and_then(|h| h.strip_prefix('\u{feff}')) {
        let mut fields: Vec<String> = header.iter().map(str::to_string).collect();
        fields[0] = first.to_string();
        header = csv::StringRecord::from(fields);
    }
    let col = |name: &str| header.iter().position(|h| h == name);
    let (Some(0), Some(trade_col), Some(customer_col)) = (col("finding_id"), col("trade_id"), col("customer_id")) else { return Lookup::NoFile };
    if id.is_empty() || id.bytes().any(|b| matches!(b, b',' | b'"' | b'\n' | b'\r')) {
        return Lookup::Absent;
    }
    let needle = [b"\n", id.as_bytes(), b","].concat();
    let finder = memchr::memmem::Finder::new(&needle);
    let Ok(mut reader) = std::fs::File::open(path) else { return Lookup::NoFile };
    // `buf` holds the file from offset `base`; matches are searched for from `from` on. What
    // could begin a match not yet whole (the last needle-length bytes) is kept for the next read.
    let (mut buf, mut base, mut from) = (Vec::with_capacity(8 << 20), 0u64, 0usize);
    loop {
        while let Some(at) = finder.find(&buf[from..]) {
            let pos = from + at;
            // (a line break inside a quoted field could precede the id's text: the record read
            // from there must have the id as its first field and a full row's fields)
            if let Some(rec) = record_at(base + pos as u64 + 1).filter(|r| r.len() == header.len() && r.get(0) == Some(id)) {
                // (findings.csv neutralised them against formulas: the text as the inputs hold it)
                let field = |c: usize| super::restore(rec.get(c).unwrap_or_default()).to_string();
                return Lookup::Found { trade: field(trade_col), customer: field(customer_col) };
            }
            from = pos + 1;
        }
        let done = buf.len() - buf.len().min(needle.len() - 1);
        buf.drain(..done);
        base += done as u64;
        from = 0;
        let have = buf.len();
        buf.resize(have + (8 << 20), 0);
        let n = match reader.read(&mut buf[have..]) {
            Ok(n) => n,
            Err(_) => return Lookup::NoFile,
        };
        buf.truncate(have + n);
        if n == 0 {
            return Lookup::Absent;
        }
    }
}
