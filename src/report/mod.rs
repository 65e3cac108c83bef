//! Reports: `findings.csv`, `summary.json`, `rejected.csv`, the dispute file ([`disputes`]),
//! the Excel workbooks ([`xlsx`]), the HTML page ([`html`]) and the summary printed to stdout.
//! Every file is a pure function of the inputs, the rules and the options (no timestamps), so a
//! faithful re-run writes the same bytes and `recon verify` can compare hashes.

pub mod direct;
pub mod disputes;
pub mod explain;
pub mod html;
pub mod changes;
pub mod summary;
pub mod xlsx;

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::engine::{Action, Category, Emit, Finding, FindingRef, Outcome};
use crate::load::{Loaded, Provenance, Reject};
use crate::model::{fmt_money, Period};
use crate::rules::RuleSet;

pub const ENGINE: &str = "recon";
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

pub use crate::model::MAX_CITES;

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("cannot write {path}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write {path}")]
    Csv {
        path: String,
        #[source]
        source: csv::Error,
    },
    #[error("cannot write the workbook {path}")]
    Xlsx {
        path: String,
        #[source]
        source: rust_xlsxwriter::XlsxError,
    },
    #[error("cannot read the findings back from {path}")]
    ReadBack {
        path: String,
        #[source]
        source: csv::Error,
    },
    #[error("a thread writing a report panicked")]
    Panicked,
    #[error("{path}: {what}; it was not written by this run")]
    NotFindings { path: String, what: &'static str },
    /// The report given to `--previous` cannot be followed.
    #[error("--previous: {path}: {message}")]
    Previous { path: String, message: String },
}

/// A text cell of a CSV recon wrote, as it was before it was written ([`restore`]).
pub(crate) fn restore_text(s: &str) -> String {
    restore(s).to_string()
}

/// A text cell as recon's CSV outputs write it ([`neutral`]).
pub(crate) fn neutral_text(s: &str) -> String {
    neutral(s).into_owned()
}

pub(crate) fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> ReportError + '_ {
    move |source| ReportError::Io { path: path.display().to_string(), source }
}

pub(crate) fn csv_err(path: &Path) -> impl FnOnce(csv::Error) -> ReportError + '_ {
    move |source| ReportError::Csv { path: path.display().to_string(), source }
}

/// Which files to write (`--format`). `rejected.csv` is always written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Formats {
    /// findings.csv, disputes.csv
    pub csv: bool,
    /// summary.json
    pub json: bool,
    /// report.xlsx, disputes.xlsx
    pub xlsx: bool,
    /// report.html
    pub html: bool,
}

impl Default for Formats {
    fn default() -> Self {
        Formats { csv: true, json: true, xlsx: true, html: true }
    }
}

impl Formats {
    pub fn parse(list: &[String]) -> Result<Formats, String> {
        if list.is_empty() {
            return Ok(Formats::default());
        }
        let mut f = Formats { csv: false, json: false, xlsx: false, html: false };
        for item in list.iter().flat_map(|s| s.split(',')) {
            match item.trim() {
                "csv" => f.csv = true,
                "json" => f.json = true,
                "xlsx" => f.xlsx = true,
                "html" => f.html = true,
                "all" => f = Formats::default(),
                other => return Err(format!("--format {other:?}: expected csv, json, xlsx or html (comma-separated)")),
            }
        }
        Ok(f)
    }

    pub fn names(self) -> Vec<&'static str> {
        [("csv", self.csv), ("json", self.json), ("xlsx", self.xlsx), ("html", self.html)].into_iter().filter(|(_, on)| *on).map(|(n, _)| n).collect()
    }
}

/// Everything a report writer reads.
pub struct ReportCtx<'a> {
    pub outcome: &'a Outcome,
    pub loaded: &'a Loaded,
    pub rules: &'a RuleSet,
    /// The content of summary.json (inputs with hashes, waterfall, categories, counts).
    pub summary: &'a Value,
    pub disputes: &'a [disputes::Dispute],
    /// The findings report.xlsx and report.html may show.
    pub shown: Shown<'a>,
    /// This run's changes.csv, when it followed a previous report.
    pub changes: Option<&'a Path>,
}

/// Where report.xlsx and report.html take the findings they show from: those an in-memory run
/// kept (see [`Keep`]), or findings.csv read back (a streamed run: its findings' source rows are
/// gone by then, their citations are in the file). Both give the same fields, so the two runs
/// write the same workbook and page.
#[derive(Debug, Clone, Copy)]
pub enum Shown<'a> {
    Kept(&'a [Finding]),
    File(&'a Path),
}

impl ReportCtx<'_> {
    /// Hands `each` the findings.csv fields of every finding [`Shown`] holds, in file order, until
    /// it returns false.
    pub fn each_record(&self, each: &mut dyn FnMut(&Record) -> Result<bool, ReportError>) -> Result<(), ReportError> {
        match self.shown {
            Shown::Kept(findings) => {
                for f in findings {
                    let rec = finding_record(f, self.loaded);
                    if !each(&Record { fields: rec.each_ref().map(String::as_bytes), file: None })? {
                        break;
                    }
                }
            }
            Shown::File(path) => return each_file_record(path, each),
        }
        Ok(())
    }
}

/// [`ReportCtx::each_record`] from a findings.csv file.
fn each_file_record(path: &Path, each: &mut dyn FnMut(&Record) -> Result<bool, ReportError>) -> Result<(), ReportError> {
    let read_err = |source| ReportError::ReadBack { path: path.display().to_string(), source };
    let mut r = csv::ReaderBuilder::new().buffer_capacity(1 << 20).from_path(path).map_err(read_err)?;
    if r.byte_headers().map_err(read_err)?.iter().ne(FINDINGS_HEADER.iter().map(|h| h.as_bytes())) {
        return Err(ReportError::NotFindings { path: path.display().to_string(), what: "it does not start with the findings.csv header" });
    }
    // (bytes, not text: most records are only looked at for one field)
    let mut rec = csv::ByteRecord::new();
    while r.read_byte_record(&mut rec).map_err(read_err)? {
        let mut fields: [&[u8]; 19] = [b""; 19];
        for (slot, v) in fields.iter_mut().zip(rec.iter()) {
            *slot = v;
        }
        // (the text columns as they were before findings.csv neutralised them: the workbooks
        // show the same text whether a run kept its findings or reads them back)
        for c in FINDINGS_TEXT_COLUMNS {
            fields[c] = restore_bytes(fields[c]);
        }
        if !each(&Record { fields, file: Some(path) })? {
            break;
        }
    }
    Ok(())
}

/// One finding's findings.csv fields, as [`ReportCtx::each_record`] hands them over.
pub struct Record<'r> {
    fields: [&'r [u8]; 19],
    /// The findings.csv read back, if the record comes from one.
    file: Option<&'r Path>,
}

impl<'r> Record<'r> {
    /// Field `i` (see [`FINDINGS_HEADER`]) as bytes: enough to test one field without checking
    /// the whole record's encoding.
    pub fn bytes(&self, i: usize) -> &'r [u8] {
        self.fields[i]
    }

    /// Every field as text.
    pub fn texts(&self) -> Result<[&'r str; 19], ReportError> {
        let mut out = [""; 19];
        for (slot, &f) in out.iter_mut().zip(&self.fields) {
            *slot = simdutf8::basic::from_utf8(f).map_err(|_| ReportError::NotFindings {
                path: self.file.map_or_else(|| "findings".to_string(), |p| p.display().to_string()),
                what: "a record is not UTF-8",
            })?;
        }
        Ok(out)
    }
}

/// Cites rows: the first [`MAX_CITES`], then `+N more`.
pub fn cite_rows(prov: &Provenance, rows: &[u32]) -> String {
    let mut s = String::new();
    cite_rows_into(prov, rows, &mut s);
    s
}

fn opt_money(v: Option<rust_decimal::Decimal>) -> String {
    v.map(fmt_money).unwrap_or_default()
}

pub const FINDINGS_HEADER: [&str; 19] = [
    "finding_id",
    "period",
    "category",
    "action",
    "customer_id",
    "customer_name",
    "trade_id",
    "service_type_code",
    "charging_mode",
    "expected_period",
    "expected_base",
    "expected_incentive",
    "actual_base",
    "actual_incentive",
    "delta",
    "rule_ids",
    "explanation",
    "consumption_rows",
    "incentive_rows",
];

pub fn finding_record(f: &Finding, loaded: &Loaded) -> [String; 19] {
    [
        f.id.clone(),
        f.period.to_string(),
        f.category.name().to_string(),
        f.action.name().to_string(),
        f.customer_id.clone(),
        f.customer_name.clone(),
        f.trade_id.clone(),
        f.service.clone(),
        f.charging_mode.map_or(String::new(), |m| m.label().to_string()),
        f.expected_period.map_or(String::new(), |p| p.to_string()),
        opt_money(f.expected_base),
        opt_money(f.expected_incentive),
        opt_money(f.actual_base),
        opt_money(f.actual_incentive),
        fmt_money(f.delta),
        f.rule_ids.clone(),
        f.explanation.clone(),
        cite_rows(&loaded.consumption.prov, &f.consumption_rows),
        match (&loaded.bills, f.bill_rows.is_empty()) {
            (Some(b), false) => cite_rows(&b.prov, &f.bill_rows),
            _ => cite_rows(&loaded.incentives.prov, &f.incentive_rows),
        },
    ]
}

/// findings.csv, appended to as the engine decides the findings: records rendered by [`Render`]
/// on the deciding threads (see [`write_finding`]), in order.
pub struct FindingsCsv {
    file: direct::DirectFile,
}

impl FindingsCsv {
    pub fn create(path: &Path) -> Result<FindingsCsv, ReportError> {
        let mut file = direct::DirectFile::create_hashed(path).map_err(io_err(path))?;
        file.write_all(b"\xEF\xBB\xBF").map_err(io_err(path))?;
        let mut w = csv::Writer::from_writer(Vec::new());
        w.write_record(FINDINGS_HEADER).map_err(csv_err(path))?;
        file.write_all(&w.into_inner().map_err(|e| io_err(path)(e.into_error()))?).map_err(io_err(path))?;
        Ok(FindingsCsv { file })
    }

    /// Appends records already formatted (see [`write_finding`]).
    pub fn write_records(&mut self, bytes: &[u8]) -> Result<(), ReportError> {
        let path = self.file.path().to_path_buf();
        self.file.write_all(bytes).map_err(io_err(&path))
    }

    pub fn finish(self) -> Result<(), ReportError> {
        let path = self.file.path().to_path_buf();
        let digest = self.file.digest();
        self.file.finish().map_err(io_err(&path))?;
        if let (Some(sha), Ok(meta)) = (digest.as_ref().and_then(|d| d.get()), std::fs::metadata(&path)) {
            let mut known = WRITTEN_DIGESTS.lock().unwrap_or_else(|e| e.into_inner());
            known.insert(path, (meta.len(), sha.clone()));
        }
        Ok(())
    }
}

/// The sha256 of the findings.csv files this process wrote, taken as their bytes were written
/// (path → (length, sha256)), so that summary.json's `outputs` does not read gigabytes back.
static WRITTEN_DIGESTS: std::sync::Mutex<std::collections::BTreeMap<PathBuf, (u64, String)>> = std::sync::Mutex::new(std::collections::BTreeMap::new());

/// The sha256 of an output file: as taken while this process wrote it when it did (and the file
/// still has the length written), else read from the file.
fn output_sha256(path: &Path) -> std::io::Result<String> {
    let known = WRITTEN_DIGESTS.lock().unwrap_or_else(|e| e.into_inner()).get(path).cloned();
    match known {
        Some((len, sha)) if std::fs::metadata(path).is_ok_and(|m| m.len() == len) => Ok(sha),
        _ => crate::outdir::sha256_file(path),
    }
}

/// Appends one finding's findings.csv record (the fields of [`finding_record`], without building
/// them as separate strings, the text columns [`neutral`]) to `out`, as the csv crate writes it
/// (see [`push_field`]).
pub fn write_finding(out: &mut Vec<u8>, f: &FindingRef, loaded: &Loaded, scratch: &mut String) {
    // The fields recon itself writes (ids, periods, names of categories, actions and charging
    // modes, amounts) never need quotes: only the texts from the inputs and rules are checked.
    let mut buf = [0u8; 16];
    push_plain(out, f.id);
    push_plain(out, f.period.text(&mut buf));
    push_plain(out, f.category.name());
    push_plain(out, f.action.name());
    push_text(out, f.customer_id);
    push_text(out, f.customer_name);
    push_text(out, f.trade_id);
    push_text(out, f.service);
    push_plain(out, f.charging_mode.map_or("", |m| m.label()));
    push_plain(out, f.expected_period.map_or("", |p| p.text(&mut buf)));
    for v in [f.expected_base, f.expected_incentive, f.actual_base, f.actual_incentive, Some(f.delta)] {
        let mut money = [0u8; 48];
        push_plain(out, v.map_or("", |v| crate::model::money_str(v, &mut money)));
    }
    push_text(out, f.rule_ids);
    push_text(out, f.explanation);
    scratch.clear();
    cite_rows_into(&loaded.consumption.prov, f.consumption_rows, scratch);
    push_text(out, scratch);
    scratch.clear();
    match (&loaded.bills, f.bill_rows.is_empty()) {
        (Some(b), false) => cite_rows_into(&b.prov, f.bill_rows, scratch),
        _ => cite_rows_into(&loaded.incentives.prov, f.incentive_rows, scratch),
    }
    push_text(out, scratch);
    // push_field put a comma after each field: the last one ends the record instead.
    if let Some(last) = out.last_mut() {
        *last = b'\n';
    }
}

/// The findings.csv columns that hold text from the inputs and rules (see [`FINDINGS_HEADER`]):
/// neutralised against formulas ([`neutral`]). The others are recon's own ids, periods, names
/// and amounts, never neutralised.
pub const FINDINGS_TEXT_COLUMNS: [usize; 8] = [4, 5, 6, 7, 15, 16, 17, 18];

/// Whether a text cell would be run by a spreadsheet as a formula: it starts with `=`, `+`, `-`,
/// `@`, a tab or a CR, after any apostrophes (which [`neutral`] itself puts there).
fn formula_like(text: &[u8]) -> bool {
    let start = text.iter().position(|&b| b != b'\'').unwrap_or(text.len());
    matches!(text.get(start), Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r'))
}

/// A text cell of a CSV output, neutralised against formula injection (OWASP): a text that a
/// spreadsheet would run as a formula gets a leading `'`. A text that starts with apostrophes
/// followed by such a character gets one more, so that [`restore`] undoes exactly this.
pub fn neutral(text: &str) -> std::borrow::Cow<'_, str> {
    if formula_like(text.as_bytes()) {
        std::borrow::Cow::Owned(format!("'{text}"))
    } else {
        std::borrow::Cow::Borrowed(text)
    }
}

/// The text [`neutral`] was given, from what it returned.
pub fn restore(cell: &str) -> &str {
    match cell.strip_prefix('\'') {
        Some(rest) if formula_like(rest.as_bytes()) => rest,
        _ => cell,
    }
}

/// [`restore`] on bytes.
fn restore_bytes(cell: &[u8]) -> &[u8] {
    match cell.split_first() {
        Some((b'\'', rest)) if formula_like(rest) => rest,
        _ => cell,
    }
}

/// A text field of a record from the inputs or rules: [`neutral`], then [`push_field`].
fn push_text(out: &mut Vec<u8>, field: &str) {
    push_field(out, &neutral(field));
}

/// Appends `field` and a comma as the csv crate's writer does by default (quote only when
/// needed): in quotes, with quotes doubled, when it holds a comma, a quote, CR or LF.
fn push_field(out: &mut Vec<u8>, field: &str) {
    let bytes = field.as_bytes();
    // (SIMD searches: a record is about 470 bytes, most of them the explanation)
    let special = memchr::memchr3(b',', b'"', b'\n', bytes).is_some() || memchr::memchr(b'\r', bytes).is_some();
    if special {
        out.push(b'"');
        let mut rest = bytes;
        while let Some(q) = memchr::memchr(b'"', rest) {
            out.extend_from_slice(&rest[..=q]);
            out.push(b'"');
            rest = &rest[q + 1..];
        }
        out.extend_from_slice(rest);
        out.push(b'"');
    } else {
        out.extend_from_slice(bytes);
    }
    out.push(b',');
}

/// A field known to need no quotes, and a comma (see [`push_field`]).
fn push_plain(out: &mut Vec<u8>, field: &str) {
    debug_assert!(!field.contains([',', '"', '\r', '\n']), "{field:?} needs quotes");
    out.extend_from_slice(field.as_bytes());
    out.push(b',');
}

/// [`cite_rows`] appended to `out`.
fn cite_rows_into(prov: &Provenance, rows: &[u32], out: &mut String) {
    use std::fmt::Write as _;
    for (i, &r) in rows.iter().take(MAX_CITES).enumerate() {
        if i > 0 {
            out.push_str("; ");
        }
        let (t, loc) = prov.rows[r as usize];
        prov.tables[t as usize].cite_into(loc, out);
    }
    if rows.len() > MAX_CITES {
        let _ = write!(out, "; +{} more", rows.len() - MAX_CITES);
    }
}

/// The findings.csv records of a chunk of findings: their bytes, one after the other, and where
/// each ends.
#[derive(Debug, Default)]
pub struct Records {
    pub bytes: Vec<u8>,
    pub ends: Vec<usize>,
}

/// Findings rendered as they are decided: their findings.csv records (when csv is written) with
/// the period of each, the dispute lines of the `dispute` ones (a streamed run), and the findings
/// the other outputs may show, owned (an in-memory run; see [`Keep::keeping`]).
#[derive(Debug, Default)]
pub struct Rendered {
    pub records: Records,
    pub periods: Vec<crate::model::Period>,
    pub disputes: Vec<disputes::Dispute>,
    pub kept: Vec<Finding>,
    scratch: String,
}

/// The [`Emit`] that renders findings (see [`Rendered`]).
pub struct Render<'a> {
    pub loaded: &'a Loaded,
    pub rules: &'a RuleSet,
    /// Whether findings.csv is written.
    pub csv: bool,
    /// Whether dispute lines are made here.
    pub disputes: bool,
    /// Which findings are kept, owned (none when `None`).
    pub keep: Option<Keeping>,
}

impl Emit for Render<'_> {
    type Batch = Rendered;
    fn emit(&self, b: &mut Rendered, f: &FindingRef) {
        if self.csv {
            if b.records.bytes.capacity() == 0 {
                // about a batch of records (see engine::BATCH_KEYS), without growing it on the way
                b.records.bytes.reserve(1 << 19);
            }
            write_finding(&mut b.records.bytes, f, self.loaded, &mut b.scratch);
            b.records.ends.push(b.records.bytes.len());
            b.periods.push(f.period);
        }
        if self.disputes && f.action == Action::Dispute {
            b.disputes.push(disputes::dispute(f, self.loaded, self.rules));
        }
        if self.keep.is_some_and(|k| k.wants(f.action)) {
            b.kept.push(f.to_finding());
        }
    }
}


/// What an emitter keeps for [`Keep`] (see [`Keep::keeping`]): every finding (`all`), else the
/// `dispute` ones and, with `review`, the `review` ones.
#[derive(Debug, Clone, Copy)]
pub struct Keeping {
    pub all: bool,
    pub review: bool,
}

impl Keeping {
    pub fn wants(self, action: Action) -> bool {
        self.all || action == Action::Dispute || (self.review && action == Action::Review)
    }
}

/// Which findings a run keeps in memory for the outputs other than findings.csv: every
/// `dispute` (the dispute files), every `review` too when report.html is written (it embeds all
/// actionable findings), and the first findings that report.xlsx (up to its row limit) or
/// report.html (up to [`html::MAX_EMBEDDED`]) shows. The rest are dropped once written.
pub struct Keep {
    prefix: usize,
    review: bool,
    seen: usize,
    kept: Vec<Finding>,
}

impl Keep {
    pub fn new(formats: Formats) -> Keep {
        let prefix = match (formats.xlsx, formats.html) {
            (true, _) => xlsx::max_finding_rows().max(if formats.html { html::max_embedded() } else { 0 }),
            (false, true) => html::max_embedded(),
            (false, false) => 0,
        };
        Keep::with_prefix(prefix, formats.html)
    }

    fn with_prefix(prefix: usize, review: bool) -> Keep {
        Keep { prefix, review, seen: 0, kept: Vec::new() }
    }

    /// Which findings must reach [`Keep::take`] for it to choose as it would from all of them:
    /// all when it keeps a first few, else only the actionable ones it keeps.
    pub fn keeping(&self) -> Keeping {
        Keeping { all: self.prefix > 0, review: self.review }
    }

    pub fn take(&mut self, chunk: Vec<Finding>) {
        for f in chunk {
            let keep = self.seen < self.prefix || Keeping { all: false, review: self.review }.wants(f.action);
            self.seen += 1;
            if keep {
                self.kept.push(f);
            }
        }
    }

    pub fn into_kept(self) -> Vec<Finding> {
        self.kept
    }
}

pub fn write_rejected(path: &Path, rejects: &[Reject]) -> Result<(), ReportError> {
    let file = BufWriter::new(File::create(path).map_err(io_err(path))?);
    let mut w = csv::Writer::from_writer(file);
    w.write_record(["kind", "file", "location", "column", "value", "reason"]).map_err(csv_err(path))?;
    for r in rejects {
        // (every column is text: the value as the input held it, a number or not, is neutralised too)
        w.write_record([r.kind.name(), &r.file, &r.location, &r.column, &r.value, &r.reason].map(|t| neutral(t).into_owned())).map_err(csv_err(path))?;
    }
    w.flush().map_err(io_err(path))
}

/// The options a run was made with, recorded in summary.json so that it can be re-run
/// (`recon verify`, `recon explain`).
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// `run` or `demo`.
    pub command: &'static str,
    pub rules: PathBuf,
    pub consumption: Vec<PathBuf>,
    pub incentives: Vec<PathBuf>,
    pub customers: Vec<PathBuf>,
    pub bills: Vec<PathBuf>,
    pub periods: Vec<Period>,
    pub sheet: Option<String>,
    pub formats: Vec<&'static str>,
    /// The earlier report followed (`--previous`), as cited.
    pub previous: Option<PathBuf>,
}

/// What a run's outputs other than findings.csv are written from, by either executor.
pub struct RunReport<'a> {
    pub outcome: &'a Outcome,
    /// The inputs' summaries, rejected rows and customers (a partitioned run's rows are gone).
    pub loaded: &'a Loaded,
    pub rules: &'a RuleSet,
    pub options: &'a RunOptions,
    pub formats: Formats,
    /// The dispute lines, in file order: an in-memory run makes them from its findings
    /// ([`disputes::disputes`]), a partitioned one in each partition, whose rows their evidence
    /// cites.
    pub disputes: Vec<disputes::Dispute>,
    /// The findings report.xlsx and report.html show.
    pub shown: Shown<'a>,
}

/// Writes every output but findings.csv (complete by now), summary.json last; returns the
/// paths written and, with `--previous`, what was followed.
pub fn write_rest(dir: &Path, r: RunReport) -> Result<(Vec<PathBuf>, Option<changes::Followed>), ReportError> {
    let formats = r.formats;
    let (written, summary, followed) = write_others(dir, r)?;
    Ok((write_summary_last(dir, summary, formats, written)?, followed))
}

/// [`write_rest`] but summary.json, whose content it returns (see [`write_summary_last`]):
/// a partitioned run completes findings.csv meanwhile.
pub fn write_others(dir: &Path, r: RunReport) -> Result<(Vec<PathBuf>, summary::Summary, Option<changes::Followed>), ReportError> {
    let RunReport { outcome, loaded, rules, options, formats, disputes, shown } = r;
    std::fs::create_dir_all(dir).map_err(io_err(dir))?;
    let mut summary = summary::Summary::of(outcome, loaded, rules, options);
    // The monthly cycle: follow the previous report into this one's findings.csv (complete by
    // now), write changes.csv, and carry open disputes' numbers and age into this disputes file.
    let mut disputes = disputes;
    let mut changes_written = None;
    let followed = match &options.previous {
        None => None,
        Some(prev_dir) => {
            let previous = changes::Previous::open(prev_dir, prev_dir.display().to_string())?;
            let latest = outcome.loaded_periods.iter().max().copied().unwrap_or(Period(0));
            let path = dir.join("changes.csv");
            let mut followed = changes::follow(&previous, &dir.join("findings.csv"), latest, &path)?;
            changes_written = Some(path);
            followed.differences = previous.differences(&summary);
            for d in &mut disputes {
                if let Some(c) = followed.carried.get(&d.id) {
                    d.description.push_str(&format!(
                        "本问题自对账期次 {} 起已提出（问题编号 {}），至本次对账已持续 {} 个期次仍未解决，请优先处理。",
                        c.open_since, c.problem_id, c.periods_open
                    ));
                    d.id = c.problem_id.clone();
                }
            }
            summary.previous = Some(summary::PreviousInfo {
                path: previous.path.clone(),
                summary_sha256: previous.summary_sha256.clone(),
                findings_sha256: previous.findings_sha256.clone(),
                differences: followed.differences.clone(),
            });
            summary.changes = Some(followed.categories());
            Some(followed)
        }
    };
    let summary_value = summary.to_value();
    let ctx = ReportCtx { outcome, loaded, rules, summary: &summary_value, disputes: &disputes, shown, changes: changes_written.as_deref() };
    // report.xlsx and report.html take the longest (a million rows of Excel; the page may read
    // all of findings.csv back): each is written on a thread of its own, the rest here.
    let traced = |name: &'static str, write: &dyn Fn(&Path) -> Result<(), ReportError>| -> Result<PathBuf, ReportError> {
        let t = std::time::Instant::now();
        let p = dir.join(name);
        write(&p)?;
        crate::obs::trace(&format!("write {name}"), t);
        Ok(p)
    };
    let (report, page, mut written) = std::thread::scope(|scope| -> Result<_, ReportError> {
        let report = formats.xlsx.then(|| scope.spawn(|| traced("report.xlsx", &|p| xlsx::write_report(p, &ctx))));
        let page = formats.html.then(|| scope.spawn(|| traced("report.html", &|p| html::write(p, &ctx))));
        let mut written = Vec::new();
        if formats.csv {
            written.push(traced("disputes.csv", &|p| disputes::write_csv(p, &disputes))?);
        }
        if formats.xlsx {
            written.push(traced("disputes.xlsx", &|p| xlsx::write_disputes(p, &ctx))?);
        }
        let joined = |h: Option<std::thread::ScopedJoinHandle<'_, Result<PathBuf, ReportError>>>| -> Result<Option<PathBuf>, ReportError> {
            h.map(|h| h.join().unwrap_or_else(|_| Err(ReportError::Panicked))).transpose()
        };
        Ok((joined(report)?, joined(page)?, written))
    })?;
    written.extend(report.into_iter().chain(page));
    let p = dir.join("rejected.csv");
    write_rejected(&p, &loaded.rejects)?;
    written.push(p);
    written.extend(changes_written);
    Ok((written, summary, followed))
}

/// Writes summary.json (with `json` output) once every other output is complete, listing them
/// (findings.csv among them when `csv`) with their sha256; returns every path written.
pub fn write_summary_last(dir: &Path, mut summary: summary::Summary, formats: Formats, mut written: Vec<PathBuf>) -> Result<Vec<PathBuf>, ReportError> {
    if formats.json {
        summary.outputs = outputs_list(dir, formats.csv, &written)?;
        let p = dir.join("summary.json");
        summary.write(&p)?;
        written.push(p);
    }
    Ok(written)
}

/// summary.json's `outputs`: the run's other output files in `dir` (findings.csv when `csv`,
/// and `written`), in [`crate::outdir::OUTPUTS`] order, each with its sha256 (hashed in
/// parallel: findings.csv can be gigabytes).
fn outputs_list(dir: &Path, csv: bool, written: &[PathBuf]) -> Result<Vec<summary::OutputInfo>, ReportError> {
    use rayon::prelude::*;
    let names: Vec<&str> = crate::outdir::OUTPUTS
        .iter()
        .copied()
        .filter(|&n| n != "summary.json" && ((csv && n == "findings.csv") || written.iter().any(|p| p.file_name().is_some_and(|f| f == n))))
        .collect();
    names
        .par_iter()
        .map(|&n| {
            let p = dir.join(n);
            output_sha256(&p).map(|sha256| summary::OutputInfo { path: n.to_string(), sha256 }).map_err(io_err(&p))
        })
        .collect()
}

/// The short summary printed to stdout: inputs, each period's waterfall and categories.
pub fn print_summary(out: &mut impl Write, outcome: &Outcome, loaded: &Loaded, rules: &RuleSet, dir: &Path, followed: Option<&changes::Followed>) -> std::io::Result<()> {
    writeln!(out, "recon {VERSION}: {} {}", rules.name, rules.version)?;
    for i in &loaded.inputs {
        let rej = if i.rejected > 0 { format!(", {} rejected", i.rejected) } else { String::new() };
        writeln!(out, "  {:<12} {} ({} rows{rej})", i.kind.name(), i.path, i.rows)?;
    }
    for s in &loaded.skipped {
        writeln!(out, "  {:<12} {} ({})", "skipped", s.path, s.reason)?;
    }
    for p in &outcome.periods {
        writeln!(out)?;
        writeln!(out, "Statement period {}", p.period)?;
        let w = &p.waterfall;
        let rows: [(&str, &str, rust_decimal::Decimal); 10] = [
            ("  ", "consumption_total", w.consumption_total),
            ("- ", "ineligible_product", w.ineligible_product),
            ("- ", "not_attributed", w.not_attributed),
            ("- ", "excluded_payment", w.excluded_payment),
            ("- ", "rolled_out", w.rolled_out),
            ("+ ", "rolled_in", w.rolled_in),
            ("= ", "expected_base", w.expected_base),
            ("  ", "expected_incentive", w.expected_incentive),
            ("  ", "actual_incentive", w.actual_incentive),
            ("  ", "difference", w.difference),
        ];
        for (sign, name, v) in rows {
            writeln!(out, "  {sign}{name:<20}{:>16}", fmt_money(v))?;
        }
        let order: BTreeMap<Category, (usize, rust_decimal::Decimal)> = p.categories.clone();
        for (c, (n, d)) in order {
            writeln!(out, "    {:<22}{:>6}{:>16}", c.name(), n, fmt_money(d))?;
        }
        writeln!(out, "  verdict: {}", outcome.counts.verdict(p.period).sentence())?;
    }
    for b in &outcome.bills {
        writeln!(out)?;
        writeln!(out, "Partner bill {} (grain: {})", b.cycle, b.grain.join(", "))?;
        writeln!(out, "    {:<22}{:>16}", "resale consumption", fmt_money(b.consumption_total))?;
        writeln!(out, "    {:<22}{:>16}", "bill total", fmt_money(b.bill_total))?;
        writeln!(out, "    {:<22}{:>16}", "difference", fmt_money(b.difference))?;
        writeln!(out, "    {:<22}{:>16}", "referral (not billed)", fmt_money(b.referral_consumption))?;
        for (c, (n, d)) in &b.categories {
            writeln!(out, "    {:<22}{:>6}{:>16}", c.name(), n, fmt_money(*d))?;
        }
    }
    if let Some(f) = followed {
        writeln!(out)?;
        writeln!(out, "Since the previous report (changes.csv)")?;
        for d in &f.differences {
            writeln!(out, "  note: {d}")?;
        }
        for c in changes::Change::ALL {
            let (n, d) = f.counts.get(&c).copied().unwrap_or_default();
            writeln!(out, "    {:<22}{:>6}{:>16}  {}", c.name(), n, fmt_money(d), c.label_zh())?;
        }
    }
    writeln!(out)?;
    writeln!(
        out,
        "{} findings: {} dispute, {} review, {} none; {} rows rejected; written to {}",
        outcome.counts.total,
        outcome.count(Action::Dispute),
        outcome.count(Action::Review),
        outcome.count(Action::None),
        loaded.rejects.len(),
        dir.display()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Category;
    use rust_decimal::Decimal;

    fn finding(i: usize, action: Action) -> Finding {
        Finding {
            id: format!("F{i:012}"),
            period: Period(2026 * 12 + 9),
            category: Category::Matched,
            action,
            rule: 2,
            customer_id: String::new(),
            customer_name: String::new(),
            trade_id: i.to_string(),
            service: String::new(),
            charging_mode: None,
            expected_period: None,
            expected_base: None,
            expected_incentive: None,
            actual_base: None,
            actual_incentive: None,
            delta: Decimal::ZERO,
            rule_ids: String::new(),
            explanation: String::new(),
            consumption_rows: Vec::new(),
            incentive_rows: Vec::new(),
            actual_in: None,
            bill_rows: Vec::new(),
        }
    }

    /// The hand-written record is the csv crate's record of the same fields, byte for byte,
    /// for fields that need quotes (commas, quotes, CR, LF) and fields that do not.
    #[test]
    fn findings_records_are_what_the_csv_crate_writes() {
        let loaded = Loaded::default();
        let mut f = finding(7, Action::Review);
        f.customer_name = "A, \"quoted\" name".into();
        f.explanation = "R2 line one\nline two\r | 中文，说明".into();
        f.rule_ids = "R2;product:ecs".into();
        f.service = "\"".into();
        f.expected_base = Some(Decimal::new(-12345, 3));
        f.actual_incentive = Some(Decimal::new(5, 0));
        for f in [finding(1, Action::None), f] {
            let mut got = Vec::new();
            write_finding(&mut got, &f.view(), &loaded, &mut String::new());
            let mut w = csv::Writer::from_writer(Vec::new());
            let mut rec = finding_record(&f, &loaded);
            for c in FINDINGS_TEXT_COLUMNS {
                rec[c] = neutral(&rec[c]).into_owned();
            }
            w.write_record(rec).unwrap();
            let want = w.into_inner().unwrap();
            assert_eq!(String::from_utf8_lossy(&got), String::from_utf8_lossy(&want));
        }
    }

    /// Text cells a spreadsheet would run get a leading apostrophe; restore gives back exactly
    /// the text, apostrophes and all; recon's amounts are not text cells.
    #[test]
    fn formulas_are_neutralised_and_restored() {
        for (text, cell) in [
            ("=HYPERLINK(\"http://x\")", "'=HYPERLINK(\"http://x\")"),
            ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
            ("-2+3", "'-2+3"),
            ("-3.20", "'-3.20"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("\t=1", "'\t=1"),
            ("\r=1", "'\r=1"),
            ("'=1", "''=1"),
            ("''-1", "'''-1"),
            ("'quoted", "'quoted"),
            ("a=1", "a=1"),
            ("", ""),
            ("'", "'"),
            ("杭州=", "杭州="),
        ] {
            assert_eq!(neutral(text), cell, "{text:?}");
            assert_eq!(restore(cell), text, "{cell:?}");
            assert_eq!(restore_bytes(cell.as_bytes()), text.as_bytes(), "{cell:?}");
        }
        let mut f = finding(3, Action::Dispute);
        f.customer_name = "=1+2".into();
        f.trade_id = "-T1".into();
        f.delta = Decimal::new(-320, 2);
        let mut got = Vec::new();
        write_finding(&mut got, &f.view(), &Loaded::default(), &mut String::new());
        let text = String::from_utf8(got).unwrap();
        assert!(text.contains(",'=1+2,'-T1,") && text.contains(",-3.20,"), "{text}");
    }

    proptest::proptest! {
        /// restore undoes neutral for any text, and what neutral gives never starts with a
        /// character a spreadsheet would run.
        #[test]
        fn restore_undoes_neutral(text in "['=+@a\t\r-]{0,6}") {
            let cell = neutral(&text);
            proptest::prop_assert_eq!(restore(&cell), text.as_str());
            proptest::prop_assert!(!cell.starts_with(['=', '+', '-', '@', '\t', '\r']));
        }
    }

    proptest::proptest! {
        /// A field with any mix of quotes, commas and line breaks is written as the csv crate
        /// writes it (quotes doubled a run at a time).
        #[test]
        fn a_field_is_written_as_the_csv_crate_writes_it(field in "[a\",\r\n中 ]{0,12}") {
            let mut got = Vec::new();
            push_field(&mut got, &field);
            let mut w = csv::Writer::from_writer(Vec::new());
            w.write_record([field.as_str(), ""]).unwrap();
            let want = w.into_inner().unwrap();
            proptest::prop_assert_eq!(String::from_utf8_lossy(&got), String::from_utf8_lossy(&want[..want.len() - 1]));
        }
    }

    /// A streamed run keeps a prefix and the actionable findings; the page's selection from what
    /// was kept must be the selection it would make from all the findings.
    #[test]
    fn kept_findings_give_the_page_the_same_selection() {
        let actions = [Action::None, Action::Dispute, Action::None, Action::Review, Action::None, Action::None, Action::Dispute, Action::None, Action::Review, Action::None];
        let all: Vec<Finding> = actions.iter().enumerate().map(|(i, &a)| finding(i, a)).collect();
        for cap in 1..=actions.len() {
            let mut keep = Keep::with_prefix(cap, true);
            for chunk in all.chunks(3) {
                keep.take(chunk.to_vec());
            }
            let kept = keep.into_kept();
            let want: Vec<String> = html::embedded(&actions, all.len(), cap).into_iter().map(|i| all[i].id.clone()).collect();
            let kept_actions: Vec<Action> = kept.iter().map(|f| f.action).collect();
            let got: Vec<String> = html::embedded(&kept_actions, all.len(), cap).into_iter().map(|i| kept[i].id.clone()).collect();
            assert_eq!(got, want, "cap {cap}");
            // every dispute is kept for the dispute files, and the prefix in order for report.xlsx
            assert_eq!(kept.iter().filter(|f| f.action == Action::Dispute).count(), 2);
            assert_eq!(kept[..cap].iter().map(|f| f.id.clone()).collect::<Vec<_>>(), all[..cap].iter().map(|f| f.id.clone()).collect::<Vec<_>>());
        }
        // csv and json only: the disputes alone
        let mut keep = Keep::new(Formats { csv: true, json: true, xlsx: false, html: false });
        keep.take(all.clone());
        assert_eq!(keep.into_kept().iter().map(|f| f.action).collect::<Vec<_>>(), vec![Action::Dispute, Action::Dispute]);
    }

    /// findings.csv read back (a streamed run's workbooks): records in order, quoted fields
    /// whole, a file that is not a findings.csv refused, a field that is not UTF-8 refused when
    /// its text is asked for.
    #[test]
    fn findings_csv_is_read_back_record_by_record() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("findings.csv");
        let mut text = b"\xEF\xBB\xBF".to_vec();
        text.extend_from_slice(FINDINGS_HEADER.join(",").as_bytes());
        text.extend_from_slice(b"\nF1,2026-10,MATCHED,none,C1,\"a, \"\"b\"\"\nc\",T1,svc,,,,,,,0.00,R2,x,f.csv:2,\nF2,2026-10,MISSING_INCENTIVE,dispute,C1,n,T2,svc,,,,,,,-6.00,R10,y,f.csv:3,\n");
        std::fs::write(&path, &text).expect("write");
        let mut seen = Vec::new();
        each_file_record(&path, &mut |r| {
            let t = r.texts()?;
            seen.push((t[0].to_string(), t[5].to_string(), r.bytes(3).to_vec()));
            Ok(true)
        })
        .expect("read");
        assert_eq!(seen, vec![("F1".into(), "a, \"b\"\nc".into(), b"none".to_vec()), ("F2".into(), "n".into(), b"dispute".to_vec())]);
        // stopping early
        let mut n = 0;
        each_file_record(&path, &mut |_| {
            n += 1;
            Ok(false)
        })
        .expect("read");
        assert_eq!(n, 1);

        std::fs::write(&path, "id,period\nF1,2026-10\n").expect("write");
        let e = each_file_record(&path, &mut |_| Ok(true)).expect_err("not findings");
        assert!(e.to_string().contains("does not start with the findings.csv header"), "{e}");

        let mut bad = FINDINGS_HEADER.join(",").into_bytes();
        bad.extend_from_slice(b"\nF1,2026-10,MATCHED,none,C1,\xFF,T1,svc,,,,,,,0.00,R2,x,f.csv:2,\n");
        std::fs::write(&path, &bad).expect("write");
        let mut actions = Vec::new();
        let e = each_file_record(&path, &mut |r| {
            actions.push(r.bytes(3).to_vec());
            r.texts().map(|_| true)
        })
        .expect_err("not UTF-8");
        assert_eq!(actions, vec![b"none".to_vec()], "one field is read without the others' encoding");
        assert!(e.to_string().contains("a record is not UTF-8"), "{e}");
    }

    proptest::proptest! {
        /// The page's selection, made a finding at a time from a streamed run's findings.csv or
        /// from what an in-memory run kept, is every actionable finding and the first others up
        /// to the cap, in file order.
        #[test]
        fn the_page_takes_every_actionable_finding_and_the_first_others(codes in proptest::collection::vec(0u8..3, 0..80), cap in 0usize..90) {
            let actions: Vec<Action> = codes.iter().map(|c| [Action::None, Action::Dispute, Action::Review][*c as usize]).collect();
            let n = actions.len();
            let actionable = actions.iter().filter(|&&a| a != Action::None).count();
            let got = html::embedded(&actions, n, cap);
            let want: Vec<usize> = if n <= cap {
                (0..n).collect()
            } else {
                let room = cap.saturating_sub(actionable);
                let firsts: Vec<usize> = (0..n).filter(|&i| actions[i] == Action::None).take(room).collect();
                (0..n).filter(|&i| actions[i] != Action::None || firsts.contains(&i)).collect()
            };
            proptest::prop_assert_eq!(&got, &want);
            // an in-memory run keeps a prefix of the cap and every actionable one: the same choice
            let all: Vec<Finding> = actions.iter().enumerate().map(|(i, &a)| finding(i, a)).collect();
            let mut keep = Keep::with_prefix(cap, true);
            keep.take(all.clone());
            let kept = keep.into_kept();
            let kept_actions: Vec<Action> = kept.iter().map(|f| f.action).collect();
            let from_kept: Vec<String> = html::embedded(&kept_actions, n, cap).into_iter().map(|i| kept[i].id.clone()).collect();
            proptest::prop_assert_eq!(from_kept, want.iter().map(|&i| all[i].id.clone()).collect::<Vec<_>>());
        }
    }

    /// An in-memory run's emitter passes on only what `Keep::keeping` asks for: the selection
    /// must be the one Keep makes from all the findings, whatever the formats.
    #[test]
    fn what_the_emitter_keeps_is_enough_for_keep() {
        let actions = [Action::None, Action::Dispute, Action::None, Action::Review, Action::None, Action::Dispute, Action::Review];
        let all: Vec<Finding> = actions.iter().enumerate().map(|(i, &a)| finding(i, a)).collect();
        for (xlsx, html) in [(false, false), (false, true), (true, false), (true, true)] {
            let formats = Formats { csv: true, json: true, xlsx, html };
            let mut from_all = Keep::new(formats);
            from_all.take(all.clone());
            let mut from_some = Keep::new(formats);
            let k = from_some.keeping();
            let passed: Vec<Finding> = all.iter().filter(|f| k.wants(f.action)).cloned().collect();
            from_some.take(passed);
            let ids = |v: Vec<Finding>| v.into_iter().map(|f| f.id).collect::<Vec<_>>();
            assert_eq!(ids(from_some.into_kept()), ids(from_all.into_kept()), "xlsx {xlsx} html {html}");
        }
    }
}
