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
use crate::engine::{finding_id, Action, FindingRef};
use crate::model::{fmt_money, Period};
use polars::prelude::{PlHashMap, PlRandomState};

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

/// The columns of a findings.csv record that following needs, as held: finding_id, period,
/// category, action, trade_id, service_type_code and delta, in one allocation (the actionable
/// findings of both reports are held: a hundred thousand and more at 10 M rows).
#[derive(Debug, Clone, Default)]
struct Row {
    text: Box<str>,
    /// Where each field but the last ends in `text`.
    ends: [u32; 6],
}

impl Row {
    fn new(fields: [&str; 7]) -> Row {
        let mut text = String::with_capacity(fields.iter().map(|f| f.len()).sum());
        let mut ends = [0u32; 6];
        for (i, f) in fields.iter().enumerate() {
            text.push_str(f);
            if i < 6 {
                // (a field of more than 4 GiB is no findings.csv field: cut to what fits)
                ends[i] = u32::try_from(text.len()).unwrap_or(u32::MAX);
            }
        }
        Row { text: text.into_boxed_str(), ends }
    }

    fn field(&self, k: usize) -> &str {
        let start = if k == 0 { 0 } else { self.ends[k - 1] as usize };
        let end = if k == 6 { self.text.len() } else { self.ends[k] as usize };
        self.text.get(start..end).unwrap_or("")
    }

    fn id(&self) -> &str {
        self.field(0)
    }
    fn period(&self) -> &str {
        self.field(1)
    }
    fn category(&self) -> &str {
        self.field(2)
    }
    fn action(&self) -> &str {
        self.field(3)
    }
    fn trade(&self) -> &str {
        self.field(4)
    }
    fn service(&self) -> &str {
        self.field(5)
    }
    fn delta(&self) -> &str {
        self.field(6)
    }

    fn actionable(&self) -> bool {
        matches!(self.action(), "dispute" | "review")
    }
}

/// Reads a previous report's findings.csv a record at a time ([`super::scan`]), handing the
/// columns following needs of each actionable one (`dispute`, `review`) to `each`; the error
/// names the file and line. Of the others (most) only the action is read: the file is checked
/// whole against the sha256 its summary.json lists by the caller. Returns the number of
/// records and the file's sha256 (taken as it was read).
fn each_actionable(path: &Path, mut each: impl FnMut(Row) -> Result<(), ReportError>) -> Result<(u64, String), ReportError> {
    use super::scan::ScanError;
    const NAMES: [&str; 7] = ["finding_id", "period", "category", "action", "trade_id", "service_type_code", "delta"];
    // (the action column is among the first of a findings.csv of recon: each record is split
    // up to it, the rest passed over)
    const WANT: usize = 4;
    let mut cols: Option<([usize; 7], usize)> = None;
    let mut n = 0u64;
    let mut failed: Option<ReportError> = None;
    let mut each_record = |fields: &[&[u8]], line: u64, raw: &[u8]| {
        fn utf8(b: &[u8], line: u64) -> Result<&str, ScanError> {
            std::str::from_utf8(b).map_err(|_| ScanError::Malformed { line, what: "not UTF-8 text" })
        }
        let Some((cols, width)) = cols else {
            let mut headers = Vec::with_capacity(fields.len());
            for f in fields {
                headers.push(utf8(f, line)?.trim_start_matches('\u{feff}'));
            }
            let mut at = [0usize; 7];
            for (k, name) in NAMES.iter().enumerate() {
                match headers.iter().position(|h| h == name) {
                    Some(i) => at[k] = i,
                    None => {
                        failed = Some(bad(path, format!("not a findings.csv of recon: no column {name}")));
                        return Ok(false);
                    }
                }
            }
            if at[3] >= WANT {
                failed = Some(bad(path, format!("not a findings.csv of recon: its column action is column {} (recon writes it as column {})", at[3] + 1, 4)));
                return Ok(false);
            }
            cols = Some((at, fields.len()));
            return Ok(true);
        };
        let fail = |failed: &mut Option<ReportError>, message: String| {
            *failed = Some(bad(path, format!("line {line}: {message}")));
            Ok(false)
        };
        match fields.get(cols[3]).copied() {
            Some(b"none") => {
                n += 1;
                return Ok(true);
            }
            Some(b"dispute" | b"review") => {}
            Some(_) if fields.len() > cols[3] => return fail(&mut failed, format!("not a finding record (action {:?})", String::from_utf8_lossy(fields[cols[3]]))),
            _ => return fail(&mut failed, format!("{} fields where the header has {width} (is the file cut short?)", fields.len())),
        }
        let all = super::scan::split(raw).map_err(|what| ScanError::Malformed { line, what })?;
        if all.len() != width {
            return fail(&mut failed, format!("{} fields where the header has {width} (is the file cut short?)", all.len()));
        }
        let mut got = [""; 7];
        for (k, g) in got.iter_mut().enumerate() {
            *g = super::restore(utf8(&all[cols[k]], line)?);
        }
        if got[0].is_empty() || Period::parse(got[1]).is_none() {
            return fail(&mut failed, format!("not a finding record (finding_id {:?}, period {:?})", got[0], got[1]));
        }
        n += 1;
        match each(Row::new(got)) {
            Ok(()) => Ok(true),
            Err(e) => {
                failed = Some(e);
                Ok(false)
            }
        }
    };
    let scanned = super::scan::scan_file_prefix(path, WANT, &mut each_record);
    let sha256 = match scanned {
        Ok(sha) => sha,
        Err(ScanError::Io(e)) => return Err(bad(path, format!("cannot read it: {e}"))),
        Err(ScanError::Malformed { line, what }) => return Err(bad(path, format!("line {line}: {what}"))),
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

/// The previous report read ahead of the run: its actionable findings indexed by id and (an
/// expected-only one) by its key, its aging (its changes.csv) and its disputes' numbers (its
/// disputes.csv). Read while this run loads its inputs; the run's findings are checked against
/// it as they are rendered ([`Index::candidate`]), so this run's findings.csv is never read back.
#[derive(Debug)]
pub struct Index {
    pub previous: Previous,
    prev: Vec<Row>,
    by_id: PlHashMap<Box<str>, u32>,
    /// The expected-only ones by [`Index::key_hash`] of their key; `collided` holds those
    /// whose hash an earlier one had (almost never any).
    by_key: PlHashMap<u64, u32>,
    collided: Vec<u32>,
    hasher: PlRandomState,
    /// Per previous finding: since when it has been open (from the previous changes.csv), and
    /// its 问题编号 where that is not its own id (a dispute carried from an earlier report).
    open_since: Vec<Option<Period>>,
    problem: HashMap<u32, Box<str>>,
    /// The sha256 of the previous report's findings.csv, as it was read.
    findings_sha256: String,
}

impl Index {
    /// Reads the previous report's findings.csv (a record at a time; only its actionable
    /// findings are held), then its changes.csv and disputes.csv for those.
    pub fn read(previous: Previous) -> Result<Index, ReportError> {
        let pdir = previous.dir.clone();
        let prev_findings = pdir.join("findings.csv");
        let mut prev: Vec<Row> = Vec::new();
        let (total, findings_sha256) = each_actionable(&prev_findings, |row| {
            prev.push(row);
            Ok(())
        })?;
        prev.shrink_to_fit();
        if total != previous.summary.findings.total {
            return Err(bad(&prev_findings, format!("holds {total} findings where its summary.json counts {}: is it cut short or from another run?", previous.summary.findings.total)));
        }
        // The file is the one its run wrote, byte for byte, or it is not followed (only the
        // actionable records were read whole).
        if let Some(listed) = previous.summary.outputs.iter().find(|o| o.path == "findings.csv") {
            if listed.sha256 != findings_sha256 {
                return Err(bad(&prev_findings, format!("is not the file its summary.json lists (sha256 {}, listed {}): it was changed or cut short after its run; follow that report as it was written, or run that month again", short(&findings_sha256), short(&listed.sha256))));
            }
        }
        let hasher = PlRandomState::default();
        let mut by_id: PlHashMap<Box<str>, u32> = PlHashMap::with_capacity_and_hasher(prev.len(), Default::default());
        let mut by_key: PlHashMap<u64, u32> = PlHashMap::default();
        let mut collided = Vec::new();
        for (i, r) in prev.iter().enumerate() {
            // (the first of two findings with one id or key is followed first, as in file order)
            by_id.entry(r.id().into()).or_insert(i as u32);
            if matches!(r.category(), "MISSING_INCENTIVE" | "ROLLOVER_PENDING") {
                let Some(period) = Period::parse(r.period()) else { continue };
                let h = Index::key_hash(&hasher, period, r.trade(), r.service());
                match by_key.contains_key(&h) {
                    true => collided.push(i as u32),
                    false => {
                        by_key.insert(h, i as u32);
                    }
                }
            }
        }
        // Their aging, from the previous report's changes.csv.
        let mut open_since: Vec<Option<Period>> = vec![None; prev.len()];
        let changes_path = pdir.join("changes.csv");
        if changes_path.is_file() {
            let mut r = csv::Reader::from_path(&changes_path).map_err(|e| bad(&changes_path, e.to_string()))?;
            let headers: Vec<String> = r.headers().map_err(|e| bad(&changes_path, e.to_string()))?.iter().map(|h| h.trim_start_matches('\u{feff}').to_string()).collect();
            let (Some(fi), Some(oi)) = (headers.iter().position(|h| h == "finding_id"), headers.iter().position(|h| h == "open_since")) else {
                return Err(bad(&changes_path, "not a changes.csv of recon: no finding_id or open_since column"));
            };
            for rec in r.records() {
                let rec = rec.map_err(|e| bad(&changes_path, e.to_string()))?;
                if let (Some(&i), Some(p)) = (rec.get(fi).and_then(|id| by_id.get(id)), rec.get(oi).and_then(Period::parse)) {
                    open_since[i as usize] = Some(p);
                }
            }
        }
        // Their 问题编号, from its disputes.csv: a dispute's own id unless it was carried.
        let mut problem: HashMap<u32, Box<str>> = HashMap::new();
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
                let id = finding_id('F', &[&period, &trade, &service]);
                if let Some(&i) = by_id.get(id.as_str()).filter(|_| number != id) {
                    problem.insert(i, number.into());
                }
            }
        }
        Ok(Index { previous, prev, by_id, by_key, collided, hasher, open_since, problem, findings_sha256 })
    }

    /// The hash of a key by which an expected-only finding is followed to the finding that
    /// holds its expected side.
    fn key_hash(hasher: &PlRandomState, period: Period, trade: &str, service: &str) -> u64 {
        std::hash::BuildHasher::hash_one(hasher, (period.0, trade, service))
    }

    /// The previous expected-only finding of key (`period`, `trade`, `service`), if any.
    fn by_key(&self, period: Period, trade: &str, service: &str) -> Option<u32> {
        let is = |i: &u32| {
            let r = &self.prev[*i as usize];
            r.trade() == trade && r.service() == service && Period::parse(r.period()) == Some(period)
        };
        match self.by_key.get(&Index::key_hash(&self.hasher, period, trade, service)).copied().filter(is) {
            Some(i) => Some(i),
            None => self.collided.iter().copied().find(is),
        }
    }

    /// What following needs of a finding of this run, as it is rendered: nothing (`None`) when
    /// it is neither actionable nor a follower of a previous actionable finding (most findings).
    pub fn candidate(&self, f: &FindingRef) -> Option<Candidate> {
        let by_id = self.by_id.get(f.id).copied();
        let by_key = match f.expected_period {
            Some(p) if !self.by_key.is_empty() => self.by_key(p, f.trade_id, f.service),
            _ => None,
        };
        let mut pbuf = [0u8; 16];
        let actionable = matches!(f.action, Action::Dispute | Action::Review);
        if by_id.is_none() && by_key.is_none() && !actionable {
            return None;
        }
        let mut money = [0u8; 48];
        let row = Row::new([f.id, f.period.text(&mut pbuf), f.category.name(), f.action.name(), f.trade_id, f.service, crate::model::money_str(f.delta, &mut money)]);
        Some(Candidate { period: f.period, row, by_id, by_key })
    }
}

/// A finding of this run that following needs (see [`Index::candidate`]): actionable, or the
/// follower (by id or by key) of a previous actionable finding, which the first such finding in
/// findings.csv's order claims.
#[derive(Debug, Clone)]
pub struct Candidate {
    /// Its period (a streamed run puts its partitions' candidates in file order by it).
    pub period: Period,
    row: Row,
    by_id: Option<u32>,
    by_key: Option<u32>,
}

/// A run's following: the previous report's index and this run's candidates in findings.csv
/// order.
#[derive(Debug)]
pub struct Following {
    pub index: Index,
    pub candidates: Vec<Candidate>,
}

/// Writes `changes.csv` to `out` from `following` (see [`Following`]); `latest` is the latest
/// statement period of this run.
pub fn write(following: &Following, latest: Period, out: &Path) -> Result<Followed, ReportError> {
    let Index { prev, open_since, problem, findings_sha256, .. } = &following.index;
    let mut followed = vec![false; prev.len()];
    let file = std::fs::File::create(out).map_err(io_err(out))?;
    let mut buf = std::io::BufWriter::with_capacity(1 << 20, file);
    buf.write_all(b"\xEF\xBB\xBF").map_err(io_err(out))?;
    let mut w = csv::Writer::from_writer(buf);
    w.write_record(HEADER).map_err(super::csv_err(out))?;
    let mut result = Followed { findings_sha256: findings_sha256.clone(), ..Followed::default() };
    let since_of = |i: usize| open_since[i].or_else(|| Period::parse(prev[i].period())).unwrap_or(latest);
    let empty = Row::default();
    // (`p`: the previous finding, by its index)
    let mut write = |cur: Option<&Row>, p: Option<usize>, change: Change, result: &mut Followed| -> Result<(), ReportError> {
        let since = match (p, cur) {
            (Some(i), _) => since_of(i),
            (None, Some(c)) => Period::parse(c.period()).unwrap_or(latest),
            (None, None) => latest,
        };
        let (pi, p) = (p, p.map(|i| &prev[i]));
        let open = months_between(since, latest);
        let delta = match (change, cur, p) {
            (Change::Dropped, _, Some(p)) => dec(p.delta()),
            (_, Some(c), _) => dec(c.delta()),
            _ => Decimal::ZERO,
        };
        let e = result.counts.entry(change).or_default();
        e.0 += 1;
        e.1 += delta;
        let (c, pr) = (cur.unwrap_or(&empty), p.unwrap_or(&empty));
        let base = if cur.is_some() { c } else { pr };
        w.write_record([
            c.id(),
            pr.id(),
            base.period(),
            base.trade(),
            base.service(),
            change.name(),
            pr.category(),
            pr.action(),
            pr.delta(),
            c.category(),
            c.action(),
            c.delta(),
            &since.to_string(),
            &open.to_string(),
        ]
        .into_iter()
        .enumerate()
        // (trade_id and service_type_code are text from the inputs: neutralised against
        // formulas; the rest are recon's own ids, names and amounts)
        .map(|(i, s)| if matches!(i, 3 | 4) { super::neutral_text(s) } else { s.to_string() }))
        .map_err(super::csv_err(out))?;
        if let (Some(c), Some(p), Some(i)) = (cur, p, pi) {
            if c.action() == "dispute" && matches!(change, Change::Open | Change::Changed) {
                let problem_id = problem.get(&(i as u32)).map_or_else(|| p.id().to_string(), |n| n.to_string());
                result.carried.insert(c.id().to_string(), Carried { problem_id, open_since: since, periods_open: open });
            }
        }
        Ok(())
    };
    for c in &following.candidates {
        let free = |i: &u32| !followed[*i as usize];
        let hit = c.by_id.filter(free).or(c.by_key.filter(free)).map(|i| i as usize);
        let cur = &c.row;
        match hit {
            Some(i) => {
                followed[i] = true;
                let p = &prev[i];
                let change = match cur.actionable() {
                    false => Change::Resolved,
                    true if cur.category() == p.category() && dec(cur.delta()) == dec(p.delta()) => Change::Open,
                    true => Change::Changed,
                };
                write(Some(cur), Some(i), change, &mut result)?;
            }
            None if cur.actionable() => write(Some(cur), None, Change::New, &mut result)?,
            None => {}
        }
    }
    for (i, done) in followed.iter().enumerate() {
        if !done {
            write(None, Some(i), Change::Dropped, &mut result)?;
        }
    }
    drop(write);
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
