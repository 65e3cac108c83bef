//! The monthly cycle (contract §6): a run with `--previous DIR` follows every finding that needed
//! action in an earlier report and writes `changes.csv`, one row per previous and per current
//! actionable finding, each once. Both reports' findings.csv are read a record at a time; only
//! the previous report's actionable findings (and its changes.csv's aging, its disputes'
//! numbers) are held.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::{Path, PathBuf};

use rust_decimal::Decimal;

use super::summary::{Categories, CountDelta, Summary};
use super::{io_err, ReportError};
use crate::engine::finding_id;
use crate::model::{fmt_money, Period};

pub const HEADER: [&str; 14] = [
    "finding_id",
    "previous_finding_id",
    "period",
    "trade_id",
    "service_type_code",
    "change",
    "previous_category",
    "previous_action",
    "previous_delta",
    "category",
    "action",
    "delta",
    "open_since",
    "periods_open",
];

/// What became of a finding since the previous report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Change {
    /// Actionable now, not before.
    New,
    /// Actionable in both, same category and delta.
    Open,
    /// Actionable in both, category or delta differs.
    Changed,
    /// Actionable before, no action now (paid later, corrected, matched).
    Resolved,
    /// Actionable before, and no current finding follows it (outside this run's inputs).
    Dropped,
}

impl Change {
    pub const ALL: [Change; 5] = [Change::Resolved, Change::Open, Change::Changed, Change::New, Change::Dropped];

    pub fn name(self) -> &'static str {
        match self {
            Change::New => "NEW",
            Change::Open => "OPEN",
            Change::Changed => "CHANGED",
            Change::Resolved => "RESOLVED",
            Change::Dropped => "DROPPED",
        }
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            Change::New => "新增",
            Change::Open => "仍未解决",
            Change::Changed => "有变化",
            Change::Resolved => "已解决",
            Change::Dropped => "不在本次范围",
        }
    }
}

/// The previous report, as the run follows it.
#[derive(Debug)]
pub struct Previous {
    /// As given (`--previous`), for summary.json.
    pub path: String,
    pub dir: PathBuf,
    pub summary: Summary,
    pub summary_sha256: String,
}

/// A report error naming a file of the previous report.
fn bad(path: &Path, message: impl Into<String>) -> ReportError {
    ReportError::Previous { path: path.display().to_string(), message: message.into() }
}

impl Previous {
    /// Opens an earlier report: its summary.json must parse as a recon summary and its
    /// findings.csv must be there.
    pub fn open(dir: &Path, label: String) -> Result<Previous, ReportError> {
        let summary_path = dir.join("summary.json");
        if !dir.is_dir() {
            return Err(bad(dir, "not a directory: --previous takes the directory of an earlier recon report"));
        }
        if !summary_path.is_file() {
            return Err(bad(&summary_path, "missing: --previous takes the directory of an earlier recon report (with summary.json and findings.csv)"));
        }
        let summary = Summary::read(&summary_path).map_err(|m| bad(&summary_path, m))?;
        if summary.engine.name != "recon" {
            return Err(bad(&summary_path, format!("written by {:?}, not by recon", summary.engine.name)));
        }
        let findings = dir.join("findings.csv");
        if !findings.is_file() {
            return Err(bad(&findings, "missing: the previous report was written without csv output (--format), which --previous needs"));
        }
        // (findings.csv, which may be gigabytes, is hashed as it is followed: read once)
        let summary_sha256 = crate::outdir::sha256_file(&summary_path).map_err(|e| bad(&summary_path, format!("cannot read it: {e}")))?;
        Ok(Previous { path: label, dir: dir.to_path_buf(), summary, summary_sha256 })
    }

    /// What differs between the previous report's run and this one (rules, inputs), in words.
    pub fn differences(&self, current: &Summary) -> Vec<String> {
        let mut out = Vec::new();
        if self.summary.rules.sha256 != current.rules.sha256 {
            out.push(format!("the rules differ (previous {} {}, sha256 {}; now {} {}, sha256 {})", self.summary.rules.name, self.summary.rules.version, short(&self.summary.rules.sha256), current.rules.name, current.rules.version, short(&current.rules.sha256)));
        }
        let prev: HashMap<&str, &str> = self.summary.inputs.iter().map(|i| (i.path.as_str(), i.sha256.as_str())).collect();
        let now: HashMap<&str, &str> = current.inputs.iter().map(|i| (i.path.as_str(), i.sha256.as_str())).collect();
        for i in &current.inputs {
            match prev.get(i.path.as_str()) {
                None => out.push(format!("input added: {}", i.path)),
                Some(s) if *s != i.sha256 => out.push(format!("input changed: {}", i.path)),
                Some(_) => {}
            }
        }
        for i in &self.summary.inputs {
            if !now.contains_key(i.path.as_str()) {
                out.push(format!("input removed: {}", i.path));
            }
        }
        out
    }
}

fn short(sha: &str) -> &str {
    sha.get(..12).unwrap_or(sha)
}

/// The columns of a findings.csv record that following needs, as held (owned).
#[derive(Debug, Clone, Default)]
struct Row {
    id: String,
    period: String,
    category: String,
    action: String,
    trade: String,
    service: String,
    delta: String,
}

impl Row {
    fn actionable(&self) -> bool {
        self.action == "dispute" || self.action == "review"
    }
}

/// The same columns of a record as read, borrowed from the reader's buffer.
struct Rec<'a> {
    id: &'a str,
    period: &'a str,
    category: &'a str,
    action: &'a str,
    trade: &'a str,
    service: &'a str,
    expected_period: &'a str,
    delta: &'a str,
}

impl Rec<'_> {
    fn actionable(&self) -> bool {
        self.action == "dispute" || self.action == "review"
    }

    fn to_row(&self) -> Row {
        Row {
            id: self.id.to_string(),
            period: self.period.to_string(),
            category: self.category.to_string(),
            action: self.action.to_string(),
            trade: self.trade.to_string(),
            service: self.service.to_string(),
            delta: self.delta.to_string(),
        }
    }
}

/// Reads a findings.csv a record at a time ([`super::scan`]), handing each to `each`; the error
/// names the file and line. Returns the number of records and the file's sha256 (taken as it
/// was read).
fn each_finding(path: &Path, mut each: impl FnMut(&Rec) -> Result<(), ReportError>) -> Result<(u64, String), ReportError> {
    const NAMES: [&str; 8] = ["finding_id", "period", "category", "action", "trade_id", "service_type_code", "expected_period", "delta"];
    let mut cols: Option<([usize; 8], usize)> = None;
    let mut n = 0u64;
    let mut failed: Option<ReportError> = None;
    let mut each_record = |fields: &[&[u8]], line: u64| {
        fn utf8(b: &[u8], line: u64) -> Result<&str, super::scan::ScanError> {
            std::str::from_utf8(b).map_err(|_| super::scan::ScanError::Malformed { line, what: "not UTF-8 text" })
        }
        let text = |b| utf8(b, line);
        let Some((cols, width)) = cols else {
            let mut headers = Vec::with_capacity(fields.len());
            for f in fields {
                headers.push(text(f)?.trim_start_matches('\u{feff}'));
            }
            let mut at = [0usize; 8];
            for (k, name) in NAMES.iter().enumerate() {
                match headers.iter().position(|h| h == name) {
                    Some(i) => at[k] = i,
                    None => {
                        failed = Some(bad(path, format!("not a findings.csv of recon: no column {name}")));
                        return Ok(false);
                    }
                }
            }
            cols = Some((at, fields.len()));
            return Ok(true);
        };
        if fields.len() != width {
            failed = Some(bad(path, format!("line {line}: {} fields where the header has {width} (is the file cut short?)", fields.len())));
            return Ok(false);
        }
        let get = |k: usize| utf8(fields[cols[k]], line).map(super::restore);
        let rec = Rec { id: get(0)?, period: get(1)?, category: get(2)?, action: get(3)?, trade: get(4)?, service: get(5)?, expected_period: get(6)?, delta: get(7)? };
        if rec.id.is_empty() || Period::parse(rec.period).is_none() {
            failed = Some(bad(path, format!("line {line}: not a finding record (finding_id {:?}, period {:?})", rec.id, rec.period)));
            return Ok(false);
        }
        n += 1;
        match each(&rec) {
            Ok(()) => Ok(true),
            Err(e) => {
                failed = Some(e);
                Ok(false)
            }
        }
    };
    let scanned = super::scan::scan_file(path, &mut each_record);
    let sha256 = match scanned {
        Ok(sha) => sha,
        Err(super::scan::ScanError::Io(e)) => return Err(bad(path, format!("cannot read it: {e}"))),
        Err(super::scan::ScanError::Malformed { line, what }) => return Err(bad(path, format!("line {line}: {what}"))),
    };
    if let Some(e) = failed {
        return Err(e);
    }
    if cols.is_none() {
        return Err(bad(path, "not a findings.csv: it is empty"));
    }
    Ok((n, sha256))
}

/// What a dispute that is still open carries into this run's disputes file.
#[derive(Debug, Clone)]
pub struct Carried {
    /// The 问题编号 of the report where it was first raised.
    pub problem_id: String,
    pub open_since: Period,
    pub periods_open: u32,
}

/// The outcome of following a previous report.
#[derive(Debug, Default)]
pub struct Followed {
    /// Per change, how many rows and the sum of their deltas (the current delta; a DROPPED
    /// row's previous delta).
    pub counts: BTreeMap<Change, (u64, Decimal)>,
    /// Current dispute finding id → what it carries from earlier reports.
    pub carried: HashMap<String, Carried>,
    /// What differs between the two runs (rules, inputs).
    pub differences: Vec<String>,
    /// The sha256 of the previous report's findings.csv, as it was followed.
    pub findings_sha256: String,
}

impl Followed {
    /// The counts as summary.json's `changes` map (every change, in [`Change::ALL`] order).
    pub fn categories(&self) -> Categories {
        Categories(
            Change::ALL
                .iter()
                .map(|c| {
                    let (n, d) = self.counts.get(c).copied().unwrap_or_default();
                    (c.name().to_string(), CountDelta { count: n, delta: fmt_money(d) })
                })
                .collect(),
        )
    }
}

fn months_between(from: Period, to: Period) -> u32 {
    (to.0 - from.0 + 1).max(1) as u32
}

fn dec(s: &str) -> Decimal {
    s.parse::<Decimal>().unwrap_or_default()
}

/// Follows `previous`'s actionable findings into this run's `findings` (a complete findings.csv)
/// and writes `changes.csv` to `out`. `latest` is the latest statement period of this run.
pub fn follow(previous: &Previous, findings: &Path, latest: Period, out: &Path) -> Result<Followed, ReportError> {
    let pdir = &previous.dir;
    // The previous report's aging (its changes.csv) and dispute numbers (its disputes.csv).
    let mut open_since: HashMap<String, Period> = HashMap::new();
    let changes_path = pdir.join("changes.csv");
    if changes_path.is_file() {
        let mut r = csv::Reader::from_path(&changes_path).map_err(|e| bad(&changes_path, e.to_string()))?;
        let headers: Vec<String> = r.headers().map_err(|e| bad(&changes_path, e.to_string()))?.iter().map(|h| h.trim_start_matches('\u{feff}').to_string()).collect();
        let (Some(fi), Some(oi)) = (headers.iter().position(|h| h == "finding_id"), headers.iter().position(|h| h == "open_since")) else {
            return Err(bad(&changes_path, "not a changes.csv of recon: no finding_id or open_since column"));
        };
        for rec in r.records() {
            let rec = rec.map_err(|e| bad(&changes_path, e.to_string()))?;
            if let (Some(id), Some(p)) = (rec.get(fi).filter(|s| !s.is_empty()), rec.get(oi).and_then(Period::parse)) {
                open_since.insert(id.to_string(), p);
            }
        }
    }
    let mut problem: HashMap<String, String> = HashMap::new();
    let disputes_path = pdir.join("disputes.csv");
    if disputes_path.is_file() {
        let mut r = csv::Reader::from_path(&disputes_path).map_err(|e| bad(&disputes_path, e.to_string()))?;
        for rec in r.records() {
            let rec = rec.map_err(|e| bad(&disputes_path, e.to_string()))?;
            let get = |i: usize| rec.get(i).map(super::restore_text).unwrap_or_default();
            let (period, number, trade, service) = (get(0).trim_start_matches('\u{feff}').to_string(), get(1), get(2), get(5));
            if number.is_empty() || number.starts_with("合计") {
                continue;
            }
            problem.insert(finding_id('F', &[&period, &trade, &service]), number);
        }
    }

    // The previous actionable findings, by id and (for an expected-only one) by its key.
    let prev_findings = pdir.join("findings.csv");
    let mut prev: Vec<Row> = Vec::new();
    let (total, findings_sha256) = each_finding(&prev_findings, |rec| {
        if rec.actionable() {
            prev.push(rec.to_row());
        }
        Ok(())
    })?;
    if total != previous.summary.findings.total {
        return Err(bad(&prev_findings, format!("holds {total} findings where its summary.json counts {}: is it cut short or from another run?", previous.summary.findings.total)));
    }
    let by_id: HashMap<&str, usize> = prev.iter().enumerate().map(|(i, r)| (r.id.as_str(), i)).collect();
    let expected_only = |r: &Row| matches!(r.category.as_str(), "MISSING_INCENTIVE" | "ROLLOVER_PENDING");
    let by_key: HashMap<(&str, &str, &str), usize> = prev.iter().enumerate().filter(|(_, r)| expected_only(r)).map(|(i, r)| ((r.period.as_str(), r.trade.as_str(), r.service.as_str()), i)).collect();
    let mut followed = vec![false; prev.len()];

    let file = std::fs::File::create(out).map_err(io_err(out))?;
    let mut buf = std::io::BufWriter::with_capacity(1 << 20, file);
    buf.write_all(b"\xEF\xBB\xBF").map_err(io_err(out))?;
    let mut w = csv::Writer::from_writer(buf);
    w.write_record(HEADER).map_err(super::csv_err(out))?;
    let mut result = Followed { findings_sha256, ..Followed::default() };
    let since_of = |p: &Row| open_since.get(&p.id).copied().or_else(|| Period::parse(&p.period)).unwrap_or(latest);
    let write = |w: &mut csv::Writer<std::io::BufWriter<std::fs::File>>, cur: Option<&Row>, p: Option<&Row>, change: Change, since: Period, result: &mut Followed| -> Result<(), ReportError> {
        let open = months_between(since, latest);
        let delta = match (change, cur, p) {
            (Change::Dropped, _, Some(p)) => dec(&p.delta),
            (_, Some(c), _) => dec(&c.delta),
            _ => Decimal::ZERO,
        };
        let e = result.counts.entry(change).or_default();
        e.0 += 1;
        e.1 += delta;
        let (c, pr) = (cur.cloned().unwrap_or_default(), p.cloned().unwrap_or_default());
        let base = if cur.is_some() { &c } else { &pr };
        w.write_record([
            c.id.as_str(),
            pr.id.as_str(),
            base.period.as_str(),
            base.trade.as_str(),
            base.service.as_str(),
            change.name(),
            pr.category.as_str(),
            pr.action.as_str(),
            pr.delta.as_str(),
            c.category.as_str(),
            c.action.as_str(),
            c.delta.as_str(),
            &since.to_string(),
            &open.to_string(),
        ]
        .into_iter()
        .enumerate()
        // (trade_id and service_type_code are text from the inputs: neutralised against
        // formulas; the rest are recon's own ids, names and amounts)
        .map(|(i, s)| if matches!(i, 3 | 4) { super::neutral_text(s) } else { s.to_string() }))
        .map_err(super::csv_err(out))?;
        if let (Some(c), Some(p)) = (cur, p) {
            if c.action == "dispute" && matches!(change, Change::Open | Change::Changed) {
                let problem_id = problem.get(&p.id).cloned().unwrap_or_else(|| p.id.clone());
                result.carried.insert(c.id.clone(), Carried { problem_id, open_since: since, periods_open: open });
            }
        }
        Ok(())
    };
    each_finding(findings, |rec| {
        let hit = by_id.get(rec.id).copied().filter(|&i| !followed[i]).or_else(|| {
            (!rec.expected_period.is_empty()).then(|| by_key.get(&(rec.expected_period, rec.trade, rec.service)).copied()).flatten().filter(|&i| !followed[i])
        });
        if hit.is_none() && !rec.actionable() {
            return Ok(()); // (most findings: neither followed nor actionable, nothing is held)
        }
        let cur = rec.to_row();
        match hit {
            Some(i) => {
                followed[i] = true;
                let p = &prev[i];
                let change = match cur.actionable() {
                    false => Change::Resolved,
                    true if cur.category == p.category && dec(&cur.delta) == dec(&p.delta) => Change::Open,
                    true => Change::Changed,
                };
                write(&mut w, Some(&cur), Some(p), change, since_of(p), &mut result)
            }
            None if cur.actionable() => {
                let since = Period::parse(&cur.period).unwrap_or(latest);
                write(&mut w, Some(&cur), None, Change::New, since, &mut result)
            }
            None => Ok(()),
        }
    })?;
    for (i, p) in prev.iter().enumerate() {
        if !followed[i] {
            write(&mut w, None, Some(p), Change::Dropped, since_of(p), &mut result)?;
        }
    }
    w.flush().map_err(io_err(out))?;
    Ok(result)
}

/// Rows of changes.csv as the workbook and the page show them: resolved disputes first, then
/// the other resolved, then open ones by age (oldest first), then new, then dropped; within a
/// group in file order. At most `cap` rows; returns them and how many the file holds.
pub fn shown_rows(path: &Path, cap: usize) -> Result<(Vec<Vec<String>>, usize), ReportError> {
    let mut r = csv::Reader::from_path(path).map_err(|e| bad(path, e.to_string()))?;
    let mut rows: Vec<(u8, i64, usize, Vec<String>)> = Vec::new();
    for (i, rec) in r.records().enumerate() {
        let rec = rec.map_err(|e| bad(path, e.to_string()))?;
        let cells: Vec<String> = rec.iter().map(super::restore_text).collect();
        let get = |k: usize| cells.get(k).map_or("", String::as_str);
        let group = match get(5) {
            "RESOLVED" if get(7) == "dispute" => 0,
            "RESOLVED" => 1,
            "OPEN" | "CHANGED" => 2,
            "NEW" => 3,
            _ => 4,
        };
        let age = get(13).parse::<i64>().unwrap_or(0);
        rows.push((group, -age, i, cells));
    }
    rows.sort_by(|a, b| (a.0, a.1, a.2).cmp(&(b.0, b.1, b.2)));
    let total = rows.len();
    rows.truncate(cap);
    Ok((rows.into_iter().map(|r| r.3).collect(), total))
}
