//! Loading and header mapping: every input file becomes typed columns plus the provenance of each
//! row. A cell that cannot be read rejects its row (to `rejected.csv`, with file, location,
//! column, value and reason) and the run goes on; a file that cannot be used at all (missing
//! column, no header, undecodable bytes) stops the run with an error naming it.
//!
//! Here: the public types and the pipeline that ties the parts (`load_all`, `load_customers`,
//! each table read into a row sink). The parts: `rows` (the row types of each kind and their
//! parsers), `blocks` (a streamed run's block pipeline), `spill` (the spill codec), `sample`
//! (trade ids sampled for partitioning), `inspect` (what `recon inspect` reports), [`table`]
//! (bytes to tables of text cells, one file per format), [`values`] (cell values, money) and
//! [`texts`] (text columns).

mod blocks;
mod inspect;
mod rows;
mod sample;
pub(crate) mod spill;
pub mod table;
pub mod texts;
pub mod values;

pub use crate::model::schema;
pub use inspect::{inspect, Inspection, TableInspection};
pub use rows::{Bills, Consumption, Customer, Customers, Incentives};
pub use texts::{OptTexts, Texts};
pub use values::{from_phys, to_phys};

pub(crate) use blocks::stream_kind;
pub(crate) use rows::Sink;
pub(crate) use sample::sample_trade_ids;
pub(crate) use spill::Spill;

use std::path::PathBuf;

use crate::rules::RuleSet;
use schema::{aliases_for, map_headers, Kind};
use table::{read_tables, CiteStyle, InputFile, Table};

/// An input that cannot be used at all. Each names the file and says what was expected.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read {path}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: the directory holds no .csv, .xlsx, .xls, .json or .tar.gz file")]
    EmptyDirectory { path: String },
    #[error("{path}: the file is empty: expected a header row followed by data rows")]
    NoHeader { path: String },
    #[error("{path}:{line}: bytes that are not valid {expected}; save the export as UTF-8 or GBK CSV")]
    Undecodable { path: String, line: usize, expected: String },
    #[error("{path}:{line}: malformed CSV: {message}")]
    Csv { path: String, line: usize, message: String },
    #[error("{path}: cannot open the workbook: {message}")]
    Workbook { path: String, message: String },
    #[error("{path}: no sheet named {sheet:?}; the workbook has: {available}")]
    NoSuchSheet { path: String, sheet: String, available: String },
    #[error("{path}:{line}:{column}: not valid JSON: {message}")]
    Json { path: String, line: usize, column: usize, message: String },
    #[error("{path}: {message}")]
    JsonShape { path: String, message: String },
    #[error("{path}: cannot read the archive: {message}")]
    Archive { path: String, message: String },
    #[error("{path}: the file changed while being read (its size or modification time is not what it was when reading began: it is being written, copied or replaced); run again once it is complete")]
    Changed { path: String },
    #[error("{path}: the {kind} file has no column {column} (accepted headers: {accepted}); headers found: {found}{hint}")]
    MissingColumn { path: String, kind: Kind, column: String, accepted: String, found: String, hint: String },
}

/// A row that could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reject {
    pub kind: Kind,
    pub file: String,
    /// `12`, `明细:12` or `fee_records[3]`.
    pub location: String,
    pub column: String,
    pub value: String,
    pub reason: String,
}

/// One input file as `summary.json` lists it.
#[derive(Debug, Clone)]
pub struct InputSummary {
    pub path: String,
    pub kind: Kind,
    pub format: &'static str,
    pub sha256: String,
    pub rows: usize,
    pub accepted: usize,
    pub rejected: usize,
}

/// Where each accepted row of one kind came from: `(table index, location)`.
#[derive(Debug, Default)]
pub struct Provenance {
    pub tables: Vec<Table>,
    pub rows: Vec<(u32, u32)>,
}

impl Provenance {
    pub fn cite(&self, row: usize) -> String {
        let (t, loc) = self.rows[row];
        self.tables[t as usize].cite(loc)
    }
}

/// The paths given for each kind of input.
#[derive(Debug, Clone, Default)]
pub struct InputPaths {
    pub consumption: Vec<PathBuf>,
    pub incentives: Vec<PathBuf>,
    pub customers: Vec<PathBuf>,
    pub bills: Vec<PathBuf>,
    pub sheet: Option<String>,
    /// Outputs cite files relative to this directory.
    pub root: PathBuf,
}

impl InputPaths {
    /// What the input directories hold that is not read, kind by kind in the order of a run.
    pub fn skipped(&self) -> Vec<table::Skipped> {
        [&self.consumption, &self.incentives, &self.customers, &self.bills].into_iter().flat_map(|p| table::skipped(p, &self.root)).collect()
    }
}

/// Everything loaded for one run.
#[derive(Debug, Default)]
pub struct Loaded {
    pub consumption: Consumption,
    pub incentives: Incentives,
    /// Shared: each partition of a streamed run reads the same one.
    pub customers: Option<std::sync::Arc<Customers>>,
    /// Partner bill lines, when `--bills` was given.
    pub bills: Option<Bills>,
    pub inputs: Vec<InputSummary>,
    pub rejects: Vec<Reject>,
    /// Files in the input directories that were not read (notes, PDFs, hidden files, links).
    pub skipped: Vec<table::Skipped>,
}

pub fn load_all(paths: &InputPaths, rules: &RuleSet) -> Result<Loaded, LoadError> {
    let sheet = paths.sheet.as_deref();
    let mut out = Loaded { skipped: paths.skipped(), ..Loaded::default() };
    let files = table::expand(&paths.consumption, &paths.root)?;
    let mut prov = Provenance::default();
    out.inputs.extend(load_kind(files, Kind::Consumption, rules, sheet, &mut out.consumption, &mut prov, &mut out.rejects)?);
    out.consumption.prov = prov;
    if out.consumption.counted.len() != rules.counted.len() {
        out.consumption.counted = vec![Vec::new(); rules.counted.len()];
    }

    let files = table::expand(&paths.incentives, &paths.root)?;
    let mut prov = Provenance::default();
    out.inputs.extend(load_kind(files, Kind::Incentives, rules, sheet, &mut out.incentives, &mut prov, &mut out.rejects)?);
    out.incentives.prov = prov;

    if !paths.customers.is_empty() {
        let (customers, summaries) = load_customers(paths, rules, &mut out.rejects)?;
        out.inputs.extend(summaries);
        out.customers = Some(std::sync::Arc::new(customers));
    }

    if !paths.bills.is_empty() {
        let files = table::expand(&paths.bills, &paths.root)?;
        let mut bills = Bills::default();
        let mut prov = Provenance::default();
        out.inputs.extend(load_kind(files, Kind::Bills, rules, sheet, &mut bills, &mut prov, &mut out.rejects)?);
        bills.prov = prov;
        out.bills = Some(bills);
    }
    Ok(out)
}

/// Loads the customers files in full (a streamed run also needs them in every partition).
pub fn load_customers(paths: &InputPaths, rules: &RuleSet, rejects: &mut Vec<Reject>) -> Result<(Customers, Vec<InputSummary>), LoadError> {
    let files = table::expand(&paths.customers, &paths.root)?;
    let mut customers = Customers::default();
    let mut prov = Provenance::default();
    let summaries = load_kind(files, Kind::Customers, rules, paths.sheet.as_deref(), &mut customers, &mut prov, rejects)?;
    customers.prov = prov;
    Ok((customers, summaries))
}

/// Reads one kind's files into `sink`, returning the per-file summaries and the rejects. A large
/// CSV table is read in parallel parts (see [`Table::split`]) whose rows are appended in order.
fn load_kind<S: Sink>(
    files: Vec<InputFile>,
    kind: Kind,
    rules: &RuleSet,
    sheet: Option<&str>,
    sink: &mut S,
    prov: &mut Provenance,
    rejects: &mut Vec<Reject>,
) -> Result<Vec<InputSummary>, LoadError> {
    let mut summaries = Vec::new();
    for mut file in files {
        let tables = read_tables(&mut file, sheet)?;
        let mut summary = InputSummary {
            path: file.label.clone(),
            kind,
            format: file.format.name(),
            sha256: file.sha256.clone(),
            rows: 0,
            accepted: 0,
            rejected: 0,
        };
        for t in tables {
            let table_idx = prov.tables.len() as u32;
            prov.tables.push(t.cited());
            for r in read_table(t, kind, rules, sink, table_idx)? {
                let (part, prov_rows) = summary.add(r, rejects);
                prov.rows.extend(prov_rows);
                sink.append(part);
            }
        }
        summaries.push(summary);
    }
    Ok(summaries)
}

/// What reading the rows of one table (or part of one) gave.
struct Read<S> {
    sink: S,
    prov_rows: Vec<(u32, u32)>,
    rejects: Vec<Reject>,
    rows: usize,
    accepted: usize,
}

/// Reads the rows of `t` into a fresh sink.
fn read_rows<S: Sink>(mut t: Table, kind: Kind, ctx: &S::Ctx, rules: &RuleSet, table_idx: u32, sink: S) -> Result<Read<S>, LoadError> {
    let mut out = Read { sink, prov_rows: Vec::with_capacity(t.rows_hint), rejects: Vec::new(), rows: 0, accepted: 0 };
    out.sink.reserve(t.rows_hint);
    let (label, cite) = (t.label.clone(), t.cite.clone());
    t.for_each_row(|loc, cells| {
        out.rows += 1;
        match out.sink.push(ctx, cells, rules) {
            Ok(()) => {
                out.accepted += 1;
                out.prov_rows.push((table_idx, loc));
            }
            Err(e) => {
                let location = match &cite {
                    CiteStyle::Line => loc.to_string(),
                    CiteStyle::Sheet(s) => format!("{s}:{loc}"),
                    CiteStyle::Record(k) => format!("{k}[{loc}]"),
                };
                out.rejects.push(Reject { kind, file: label.clone(), location, column: e.column, value: e.value, reason: e.reason });
            }
        }
    })?;
    Ok(out)
}

/// Reads the rows of one table into sinks shaped like `sink` (after checking its header): one
/// sink per part, in order (see [`Table::split`]).
fn read_table<S: Sink>(t: Table, kind: Kind, rules: &RuleSet, sink: &mut S, table_idx: u32) -> Result<Vec<Read<S>>, LoadError> {
    if t.is_empty_page() {
        // An API page with an empty list (past the last page, a customer without charges): a
        // file with no rows, whose columns nothing tells.
        return Ok(Vec::new());
    }
    let (map, missing) = map_headers(kind, &t.headers, &rules.columns);
    if let Some(col) = missing.first() {
        return Err(missing_column(&t, kind, col.name, &aliases_for(kind, col, &rules.columns), ""));
    }
    let ctx = sink.begin(&map, &t, rules)?;
    let parts = if S::PARALLEL { t.split(rayon::current_num_threads()) } else { vec![t] };
    if parts.len() > 1 {
        use rayon::prelude::*;
        let fresh: Vec<S> = parts.iter().map(|_| sink.fresh()).collect();
        parts.into_par_iter().zip(fresh).map(|(p, f)| read_rows(p, kind, &ctx, rules, table_idx, f)).collect()
    } else {
        parts.into_iter().map(|p| read_rows(p, kind, &ctx, rules, table_idx, std::mem::take(sink))).collect()
    }
}

impl InputSummary {
    /// Counts a read part's rows into this file's summary and moves its rejects out; returns
    /// its rows and their provenance.
    fn add<S>(&mut self, r: Read<S>, rejects: &mut Vec<Reject>) -> (S, Vec<(u32, u32)>) {
        self.rows += r.rows;
        self.accepted += r.accepted;
        self.rejected += r.rejects.len();
        rejects.extend(r.rejects);
        (r.sink, r.prov_rows)
    }
}

fn missing_column(t: &Table, kind: Kind, column: &str, accepted: &[String], hint: &str) -> LoadError {
    let found: Vec<String> = t.headers.iter().filter(|h| !h.trim().is_empty()).map(|h| h.trim().to_string()).collect();
    let path = match &t.sheet {
        Some(s) => format!("{}!{s}", t.label),
        None => t.label.clone(),
    };
    LoadError::MissingColumn {
        path,
        kind,
        column: column.to_string(),
        accepted: accepted.join(", "),
        found: if found.is_empty() { "(none)".into() } else { found.join(", ") },
        hint: hint.to_string(),
    }
}
