//! Loading and header mapping: every input file becomes typed columns plus the provenance of each
//! row. A cell that cannot be read rejects its row (to `rejected.csv`, with file, location,
//! column, value and reason) and the run goes on; a file that cannot be used at all (missing
//! column, no header, undecodable bytes) stops the run with an error naming it.

pub use crate::model::schema;
pub mod table;
pub mod texts;
pub mod values;

pub use texts::{OptTexts, Texts};

use std::path::{Path, PathBuf};


use rust_decimal::Decimal;

use crate::model::{Association, ChargingMode, Component, ModeCoding, Period, PolicyTz, AMOUNT_SCALE};
use crate::rules::RuleSet;
use schema::{aliases_for, map_headers, HeaderMap, Kind};
use table::{read_tables, CiteStyle, InputFile, Table};
use values::{parse_amount_phys, parse_naive, parse_rate_phys, parse_time, trim};

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

/// Why a cell rejects its row.
pub(crate) struct CellError {
    column: String,
    value: String,
    reason: String,
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

/// Reads one kind's files `block` bytes at a time, handing each block's accepted rows (a sink
/// and each row's provenance) to `route` instead of keeping them: the first pass of a streamed
/// run. Provenance tables (what citing needs) are kept in `prov`; rejected rows go to `rejects`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn stream_kind<S: Sink>(
    inputs: &InputPaths,
    kind: Kind,
    rules: &RuleSet,
    block: usize,
    prov: &mut Provenance,
    rejects: &mut Vec<Reject>,
    route: &mut (dyn FnMut(S, Vec<(u32, u32)>) -> std::io::Result<()> + Send),
) -> Result<Vec<InputSummary>, LoadError> {
    let (root, sheet) = (inputs.root.as_path(), inputs.sheet.as_deref());
    let paths = match kind {
        Kind::Consumption => &inputs.consumption,
        Kind::Incentives => &inputs.incentives,
        Kind::Customers => &inputs.customers,
        Kind::Bills => &inputs.bills,
    };
    // RECON_BLOCK_BYTES overrides the block size (the tests use tiny blocks).
    let block = crate::knobs::knobs().block_bytes.unwrap_or(block);
    let mut summaries = Vec::new();
    let mut proto = S::default();
    let start = std::time::Instant::now();
    for (path, label, format) in table::list(paths, root)? {
        let mut summary = InputSummary { path: label.clone(), kind, format: format.name(), sha256: String::new(), rows: 0, accepted: 0, rejected: 0 };
        let io = |source| LoadError::Io { path: label.clone(), source };
        if format == table::Format::Csv {
            // A pipeline of three: one thread reads and cuts blocks, this one parses them (in
            // parallel parts), one spills the parsed rows; each waits for at most one block.
            let table_idx = prov.tables.len() as u32;
            let mut first = true;
            let (summary_ref, rejects_ref) = (&mut summary, &mut *rejects);
            let route_ref = &mut *route;
            let sha = std::thread::scope(|sc| -> Result<String, LoadError> {
                let (blocks_tx, blocks_rx) = std::sync::mpsc::sync_channel::<Table>(1);
                let (label_r, path_r) = (label.clone(), path.clone());
                let reader = sc.spawn(move || {
                    table::csv_blocks(&path_r, &label_r, block, |t| {
                        blocks_tx.send(t).map_err(|_| LoadError::Io { path: label_r.clone(), source: std::io::Error::other("stopped") })
                    })
                });
                let (parsed_tx, parsed_rx) = std::sync::mpsc::sync_channel::<Vec<Read<S>>>(1);
                let spiller = sc.spawn(move || -> Result<(), LoadError> {
                    for reads in parsed_rx {
                        for r in reads {
                            let (sink, prov_rows) = summary_ref.add(r, rejects_ref);
                            route_ref(sink, prov_rows).map_err(io)?;
                        }
                    }
                    Ok(())
                });
                let mut parsed = Ok(());
                for t in blocks_rx {
                    if first {
                        prov.tables.push(t.cited());
                        first = false;
                    }
                    match read_table(t, kind, rules, &mut proto, table_idx) {
                        Ok(reads) => {
                            if parsed_tx.send(reads).is_err() {
                                break; // the spiller failed: its error is reported below
                            }
                        }
                        Err(e) => {
                            parsed = Err(e);
                            break;
                        }
                    }
                }
                drop(parsed_tx);
                let spilled = spiller.join().unwrap_or_else(|_| Err(LoadError::Io { path: label.clone(), source: std::io::Error::other("the spilling thread panicked") }));
                let read = reader.join().unwrap_or_else(|_| Err(LoadError::Io { path: label.clone(), source: std::io::Error::other("the reading thread panicked") }));
                // The first failure in pipeline order: parsing, then spilling, then reading (a
                // reader stopped by a failure downstream reports only that it was stopped).
                parsed?;
                spilled?;
                read
            })?;
            summary.sha256 = sha;
        } else {
            // Read on a thread of its own, as the CSV pipeline's are: the memory it frees is then
            // the allocator's to reuse or hand back in other threads once the thread ends.
            let (summary_ref, prov_ref, proto_ref, rejects_ref, route_ref) = (&mut summary, &mut *prov, &mut proto, &mut *rejects, &mut *route);
            let read = std::thread::scope(|sc| {
                sc.spawn(move || -> Result<(), LoadError> {
                    let mut file = table::read_one(&path, root)?;
                    summary_ref.sha256 = file.sha256.clone();
                    let route_table = |t: Table| -> Result<(), LoadError> {
                        let table_idx = prov_ref.tables.len() as u32;
                        prov_ref.tables.push(t.cited());
                        for r in read_table(t, kind, rules, proto_ref, table_idx)? {
                            let (sink, prov_rows) = summary_ref.add(r, rejects_ref);
                            route_ref(sink, prov_rows).map_err(io)?;
                        }
                        Ok(())
                    };
                    // A .tar.gz delivery a part at a time (its parts decoded one by one),
                    // anything else whole.
                    match file.format {
                        table::Format::TarGz => table::each_tar_gz_part(&file.bytes, &file.label, route_table),
                        _ => read_tables(&mut file, sheet)?.into_iter().try_for_each(route_table),
                    }
                })
                .join()
            });
            read.unwrap_or_else(|_| Err(LoadError::Io { path: label.clone(), source: std::io::Error::other("the reading thread panicked") }))?;
        }
        summaries.push(summary);
    }
    crate::obs::trace(&format!("  read {}", kind.name()), start);
    Ok(summaries)
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

/// Receives the rows of one kind.
pub(crate) trait Sink: Default + Send {
    type Ctx: Sync;
    /// Whether parts of one table may be read into separate sinks and appended.
    const PARALLEL: bool = true;

    /// An empty sink shaped like this one (for a part read in parallel).
    fn fresh(&self) -> Self {
        Self::default()
    }

    /// Appends the rows of a part read after this one.
    fn append(&mut self, other: Self);

    /// Makes room for `n` more rows.
    fn reserve(&mut self, _n: usize) {}

    fn begin(&mut self, map: &HeaderMap, table: &Table, rules: &RuleSet) -> Result<Self::Ctx, LoadError>;
    fn push(&mut self, ctx: &Self::Ctx, cells: &[&str], rules: &RuleSet) -> Result<(), CellError>;
}

/// Column positions plus the header text shown in rejections.
#[derive(Clone)]
pub(crate) struct Cols {
    idx: polars::prelude::PlHashMap<&'static str, (usize, String)>,
    /// The further columns of a column (see [`schema::FALLBACK_COLUMNS`]), in the order they are
    /// tried when the ones before are empty.
    alts: Vec<(&'static str, usize, String)>,
}

/// A column's position in the rows of one table (`None`: the table lacks it), looked up once per
/// table rather than by name for every cell.
#[derive(Clone, Copy)]
pub(crate) struct Col {
    name: &'static str,
    at: Option<usize>,
}

impl Cols {
    fn new(map: &HeaderMap) -> Cols {
        Cols { idx: map.used.iter().map(|(n, i, h)| (*n, (*i, h.clone()))).collect(), alts: map.fallback.clone() }
    }

    fn col(&self, name: &'static str) -> Col {
        Col { name, at: self.idx.get(name).map(|(i, _)| *i) }
    }

    /// The trimmed cell of a column, `None` when the column is absent or the cell empty (and so
    /// are its further columns, when it has some).
    fn cell<'a>(&self, cells: &[&'a str], c: Col) -> Option<&'a str> {
        let v = cells.get(c.at?).map_or("", |s| trim(s));
        if !v.is_empty() {
            return Some(v);
        }
        if self.alts.is_empty() {
            return None;
        }
        self.alts.iter().filter(|(n, _, _)| *n == c.name).find_map(|&(_, i, _)| cells.get(i).map(|s| trim(s)).filter(|v| !v.is_empty()))
    }

    fn required_at<'a>(&self, cells: &[&'a str], c: Col) -> Result<&'a str, CellError> {
        self.cell(cells, c).ok_or_else(|| {
            let others: Vec<&str> = self.alts.iter().filter(|(n, _, _)| *n == c.name).map(|(_, _, h)| h.as_str()).collect();
            let reason = match others.is_empty() {
                true => format!("{} is empty", c.name),
                false => format!("{} is empty: {} and {} are all empty", c.name, self.header(c.name), others.join(", ")),
            };
            CellError { column: self.header(c.name), value: String::new(), reason }
        })
    }

    fn parse_at<T>(&self, cells: &[&str], c: Col, f: impl FnOnce(&str) -> Result<T, String>) -> Result<Option<T>, CellError> {
        match self.cell(cells, c) {
            None => Ok(None),
            Some(v) => f(v).map(Some).map_err(|reason| CellError { column: self.header(c.name), value: v.to_string(), reason }),
        }
    }

    fn header(&self, name: &str) -> String {
        self.idx.get(name).map_or(name.to_string(), |(_, h)| h.clone())
    }

    // By name, for the small files (customers, bills): one lookup per cell is nothing there.

    fn get<'a>(&self, cells: &[&'a str], name: &'static str) -> Option<&'a str> {
        self.cell(cells, self.col(name))
    }

    fn required<'a>(&self, cells: &[&'a str], name: &'static str) -> Result<&'a str, CellError> {
        self.required_at(cells, self.col(name))
    }

    fn parse<T>(&self, cells: &[&str], name: &'static str, f: impl FnOnce(&str) -> Result<T, String>) -> Result<Option<T>, CellError> {
        self.parse_at(cells, self.col(name), f)
    }
}

fn period_value(v: &str) -> Result<Period, String> {
    Period::parse(v)
        .or_else(|| parse_naive(v).and_then(|t| Period::new(chrono::Datelike::year(&t), chrono::Datelike::month(&t))))
        .ok_or_else(|| format!("not a period: expected 2026-10, 2026/10, 202610 or 2026年10月, got {v:?}"))
}

fn mode_value(v: &str, coding: ModeCoding) -> Result<ChargingMode, String> {
    let codes = match coding {
        ModeCoding::Api => "1, 3, 10, 11",
        ModeCoding::Bill => "0 to 6",
    };
    ChargingMode::parse(v, coding).ok_or_else(|| format!("unknown charging mode {v:?}: expected 包年/包月, 按需, 预留实例, 节省计划 or codes {codes}"))
}

fn assoc_value(v: &str) -> Result<Association, String> {
    Association::parse(v).ok_or_else(|| format!("unknown association type {v:?}: expected 代售, 顾问销售, resale, referral, 1 or 2"))
}

fn required_amount(v: &str) -> Result<i128, String> {
    parse_amount_phys(v)?.ok_or_else(|| "amount is empty".to_string())
}

/// A decimal as the physical `i128` of polars' `Decimal(38, AMOUNT_SCALE)`.
pub fn to_phys(d: Decimal) -> i128 {
    let mut d = d;
    d.rescale(AMOUNT_SCALE);
    d.mantissa()
}

pub fn from_phys(v: i128) -> Decimal {
    Decimal::from_i128_with_scale(v, AMOUNT_SCALE).normalize()
}

/// Accepted consumption rows, column by column.
#[derive(Debug, Default)]
pub struct Consumption {
    pub cycle: Vec<i32>,
    pub customer_id: Texts,
    pub customer_name: OptTexts,
    /// 0 unknown, 1 referral, 2 resale.
    pub assoc: Vec<i32>,
    pub service: Texts,
    /// 0 not given, else [`ChargingMode::code`].
    pub mode: Vec<i32>,
    pub trade_id: Texts,
    /// UTC epoch seconds.
    pub ts: Vec<i64>,
    /// Local trade date, days since 1970-01-01.
    pub day: Vec<i32>,
    /// payment_amount, physical decimal.
    pub payment: Vec<i128>,
    /// The counted components, in the rules' order.
    pub counted: Vec<Vec<i128>>,
    pub prov: Provenance,
}

impl Consumption {
    pub fn len(&self) -> usize {
        self.trade_id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.trade_id.is_empty()
    }
}

/// The columns of a consumption table.
pub(crate) struct ConsumptionCols {
    cols: Cols,
    customer_id: Col,
    service: Col,
    trade_id: Col,
    trade_time: Col,
    bill_cycle: Col,
    association_type: Col,
    charging_mode: Col,
    payment_amount: Col,
    components: [(Component, Col); Component::ALL.len()],
    customer_name: Col,
}

impl ConsumptionCols {
    fn new(map: &HeaderMap) -> ConsumptionCols {
        let cols = Cols::new(map);
        ConsumptionCols {
            customer_id: cols.col("customer_id"),
            service: cols.col("service_type_code"),
            trade_id: cols.col("trade_id"),
            trade_time: cols.col("trade_time"),
            bill_cycle: cols.col("bill_cycle"),
            association_type: cols.col("association_type"),
            charging_mode: cols.col("charging_mode"),
            payment_amount: cols.col("payment_amount"),
            components: Component::ALL.map(|comp| (comp, cols.col(comp.name()))),
            customer_name: cols.col("customer_name"),
            cols,
        }
    }
}

impl Sink for Consumption {
    type Ctx = ConsumptionCols;

    fn fresh(&self) -> Self {
        Consumption { counted: vec![Vec::new(); self.counted.len()], ..Consumption::default() }
    }

    fn reserve(&mut self, n: usize) {
        self.cycle.reserve(n);
        self.customer_id.reserve(n, 32);
        self.customer_name.reserve(n, 16);
        self.assoc.reserve(n);
        self.service.reserve(n, 28);
        self.mode.reserve(n);
        self.trade_id.reserve(n, 16);
        self.ts.reserve(n);
        self.day.reserve(n);
        self.payment.reserve(n);
        for c in &mut self.counted {
            c.reserve(n);
        }
    }

    fn append(&mut self, o: Self) {
        let mut o = o;
        self.cycle.append(&mut o.cycle);
        self.customer_id.append(&mut o.customer_id);
        self.customer_name.append(&mut o.customer_name);
        self.assoc.append(&mut o.assoc);
        self.service.append(&mut o.service);
        self.mode.append(&mut o.mode);
        self.trade_id.append(&mut o.trade_id);
        self.ts.append(&mut o.ts);
        self.day.append(&mut o.day);
        self.payment.append(&mut o.payment);
        if self.counted.len() < o.counted.len() {
            self.counted.resize(o.counted.len(), Vec::new());
        }
        for (a, b) in self.counted.iter_mut().zip(o.counted.iter_mut()) {
            a.append(b);
        }
    }

    fn begin(&mut self, map: &HeaderMap, table: &Table, rules: &RuleSet) -> Result<ConsumptionCols, LoadError> {
        if self.counted.len() != rules.counted.len() {
            self.counted = vec![Vec::new(); rules.counted.len()];
        }
        for c in &rules.counted {
            if !map.has(c.name()) {
                let column = Kind::Consumption.column(c.name()).map(|col| aliases_for(Kind::Consumption, col, &rules.columns)).unwrap_or_default();
                return Err(missing_column(
                    table,
                    Kind::Consumption,
                    c.name(),
                    &column,
                    "; the rules count this payment component as 业绩 ([base] counted)",
                ));
            }
        }
        Ok(ConsumptionCols::new(map))
    }

    fn push(&mut self, k: &ConsumptionCols, cells: &[&str], rules: &RuleSet) -> Result<(), CellError> {
        let (tz, c) = (rules.tz, &k.cols);
        let customer_id = c.required_at(cells, k.customer_id)?;
        let service = c.required_at(cells, k.service)?;
        let trade_id = c.required_at(cells, k.trade_id)?;
        let time_text = c.required_at(cells, k.trade_time)?;
        let ts = parse_time(time_text, tz).map_err(|reason| CellError { column: c.header("trade_time"), value: time_text.into(), reason })?;
        let cycle = c.parse_at(cells, k.bill_cycle, period_value)?.unwrap_or_else(|| tz.period_of(ts));
        let assoc = c.parse_at(cells, k.association_type, assoc_value)?.map_or(0, Association::code);
        let mode = c.parse_at(cells, k.charging_mode, |v| mode_value(v, ModeCoding::Api))?.map_or(0, ChargingMode::code);
        // Amounts as physical values at AMOUNT_SCALE: sums of them are exact.
        let given_payment = c.parse_at(cells, k.payment_amount, parse_amount_phys)?.flatten();
        let mut components: [(Component, Option<i128>); Component::ALL.len()] = Component::ALL.map(|comp| (comp, None));
        for ((_, v), &(_, col)) in components.iter_mut().zip(&k.components) {
            *v = c.parse_at(cells, col, parse_amount_phys)?.flatten();
        }
        let payment = match given_payment {
            Some(p) => p,
            None => components.iter().filter_map(|(_, v)| *v).sum(),
        };
        for (i, comp) in rules.counted.iter().enumerate() {
            let v = components.iter().find(|(c, _)| c == comp).and_then(|(_, v)| *v).unwrap_or(0);
            self.counted[i].push(v);
        }
        self.cycle.push(cycle.0);
        self.customer_id.push(customer_id);
        self.customer_name.push(c.cell(cells, k.customer_name));
        self.assoc.push(assoc);
        self.service.push(service);
        self.mode.push(mode);
        self.trade_id.push(trade_id);
        self.ts.push(ts);
        self.day.push(tz.local_day(ts));
        self.payment.push(payment);
        Ok(())
    }
}

/// Accepted incentive rows.
#[derive(Debug, Default)]
pub struct Incentives {
    pub period: Vec<i32>,
    pub trade_id: Texts,
    pub service: Texts,
    pub customer_id: OptTexts,
    pub customer_name: OptTexts,
    pub mode: Vec<i32>,
    pub base: Vec<Option<i128>>,
    pub rate: Vec<Option<i128>>,
    pub amount: Vec<i128>,
    /// `id:<incentive_id>`, or the whole row's text when the file has no incentive_id.
    pub dup_key: Texts,
    pub prov: Provenance,
}

impl Incentives {
    pub fn len(&self) -> usize {
        self.trade_id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.trade_id.is_empty()
    }
}

/// The columns of a statement table.
pub(crate) struct IncentiveCols {
    cols: Cols,
    period: Col,
    trade_id: Col,
    service: Col,
    amount: Col,
    charging_mode: Col,
    base: Col,
    rate: Col,
    incentive_id: Col,
    customer_id: Col,
    customer_name: Col,
}

impl Sink for Incentives {
    type Ctx = IncentiveCols;

    fn reserve(&mut self, n: usize) {
        self.period.reserve(n);
        self.trade_id.reserve(n, 16);
        self.service.reserve(n, 28);
        self.customer_id.reserve(n, 32);
        self.customer_name.reserve(n, 16);
        self.mode.reserve(n);
        self.base.reserve(n);
        self.rate.reserve(n);
        self.amount.reserve(n);
        self.dup_key.reserve(n, 16);
    }

    fn append(&mut self, o: Self) {
        let mut o = o;
        self.period.append(&mut o.period);
        self.trade_id.append(&mut o.trade_id);
        self.service.append(&mut o.service);
        self.customer_id.append(&mut o.customer_id);
        self.customer_name.append(&mut o.customer_name);
        self.mode.append(&mut o.mode);
        self.base.append(&mut o.base);
        self.rate.append(&mut o.rate);
        self.amount.append(&mut o.amount);
        self.dup_key.append(&mut o.dup_key);
    }

    fn begin(&mut self, map: &HeaderMap, _table: &Table, _rules: &RuleSet) -> Result<IncentiveCols, LoadError> {
        let cols = Cols::new(map);
        Ok(IncentiveCols {
            period: cols.col("incentive_period"),
            trade_id: cols.col("trade_id"),
            service: cols.col("service_type_code"),
            amount: cols.col("incentive_amount"),
            charging_mode: cols.col("charging_mode"),
            base: cols.col("base_amount"),
            rate: cols.col("rate"),
            incentive_id: cols.col("incentive_id"),
            customer_id: cols.col("customer_id"),
            customer_name: cols.col("customer_name"),
            cols,
        })
    }

    fn push(&mut self, k: &IncentiveCols, cells: &[&str], _rules: &RuleSet) -> Result<(), CellError> {
        let c = &k.cols;
        let period = match c.parse_at(cells, k.period, period_value)? {
            Some(p) => p,
            None => return Err(CellError { column: c.header("incentive_period"), value: String::new(), reason: "incentive_period is empty".into() }),
        };
        let trade_id = c.required_at(cells, k.trade_id)?;
        let service = c.required_at(cells, k.service)?;
        let amount_text = c.required_at(cells, k.amount)?;
        let amount = required_amount(amount_text).map_err(|reason| CellError { column: c.header("incentive_amount"), value: amount_text.into(), reason })?;
        let mode = c.parse_at(cells, k.charging_mode, |v| mode_value(v, ModeCoding::Api))?.map_or(0, ChargingMode::code);
        let base = c.parse_at(cells, k.base, parse_amount_phys)?.flatten();
        let rate = c.parse_at(cells, k.rate, parse_rate_phys)?.flatten();
        // Duplicates are told apart by incentive_id; a row without one, by its whole text.
        match c.cell(cells, k.incentive_id) {
            Some(id) => self.dup_key.push_parts(&["id:", id]),
            None => self.dup_key.push_joined("row:", cells, "\u{1f}"),
        }
        self.period.push(period.0);
        self.trade_id.push(trade_id);
        self.service.push(service);
        self.customer_id.push(c.cell(cells, k.customer_id));
        self.customer_name.push(c.cell(cells, k.customer_name));
        self.mode.push(mode);
        self.base.push(base);
        self.rate.push(rate);
        self.amount.push(amount);
        Ok(())
    }
}

/// One customer of the customers file.
#[derive(Debug, Clone)]
pub struct Customer {
    pub customer_id: String,
    pub association: Association,
    pub associated_at: Option<i64>,
    pub rebound_at: Option<i64>,
}

#[derive(Debug, Default)]
pub struct Customers {
    pub list: Vec<Customer>,
    /// Customer id → position in `list` (a fast hash: a large run looks up every consumption
    /// row's customer, and most findings' names).
    pub index: polars::prelude::PlHashMap<String, usize>,
    /// Each customer's name, by position in `list`: kept apart, in one buffer, because most
    /// findings read a name, and reading it from the scattered `Customer`s missed the cache
    /// (perf: the name's read was most of deciding a key's time).
    pub names: OptTexts,
    pub prov: Provenance,
}

impl Sink for Customers {
    type Ctx = Cols;
    /// A customer listed twice is told by the first row: read in file order, in one part.
    const PARALLEL: bool = false;

    fn append(&mut self, mut o: Self) {
        // Only ever appended to an empty sink (one part, see PARALLEL).
        if self.list.is_empty() {
            *self = o;
        } else {
            for c in o.list {
                self.index.insert(c.customer_id.clone(), self.list.len());
                self.list.push(c);
            }
            self.names.append(&mut o.names);
        }
    }

    fn begin(&mut self, map: &HeaderMap, _table: &Table, _rules: &RuleSet) -> Result<Cols, LoadError> {
        Ok(Cols::new(map))
    }

    fn push(&mut self, c: &Cols, cells: &[&str], rules: &RuleSet) -> Result<(), CellError> {
        let customer_id = c.required(cells, "customer_id")?;
        if self.index.contains_key(customer_id) {
            return Err(CellError {
                column: c.header("customer_id"),
                value: customer_id.into(),
                reason: "customer listed twice in the customers files; the first row is used".into(),
            });
        }
        let association = match c.parse(cells, "association_type", assoc_value)? {
            Some(a) => a,
            None => return Err(CellError { column: c.header("association_type"), value: String::new(), reason: "association_type is empty".into() }),
        };
        let tz: PolicyTz = rules.tz;
        let associated_at = c.parse(cells, "associated_at", |v| parse_time(v, tz))?;
        let rebound_at = c.parse(cells, "rebound_at", |v| parse_time(v, tz))?;
        self.index.insert(customer_id.to_string(), self.list.len());
        self.names.push(c.get(cells, "customer_name"));
        self.list.push(Customer {
            customer_id: customer_id.to_string(),
            association,
            associated_at,
            rebound_at,
        });
        Ok(())
    }
}

/// Accepted partner bill lines (伙伴账单).
#[derive(Debug, Default)]
pub struct Bills {
    pub cycle: Vec<i32>,
    pub customer_id: Vec<String>,
    pub customer_name: Vec<Option<String>>,
    pub service: Vec<String>,
    pub amount: Vec<i128>,
    /// Empty when the line has no 订单号/交易号.
    pub trade_id: Vec<String>,
    /// 0 not given, else [`ChargingMode::code`] (read with the customerBill coding).
    pub mode: Vec<i32>,
    pub prov: Provenance,
}

impl Bills {
    pub fn len(&self) -> usize {
        self.cycle.len()
    }

    pub fn is_empty(&self) -> bool {
        self.cycle.is_empty()
    }
}

/// The columns of a bill table, how its charging modes are coded, and the cycle its file name
/// gives its rows when it has no bill_cycle column (an API body).
pub(crate) struct BillCols {
    cols: Cols,
    coding: ModeCoding,
    cycle: Option<Period>,
}

impl Sink for Bills {
    type Ctx = BillCols;

    fn append(&mut self, o: Self) {
        let mut o = o;
        self.cycle.append(&mut o.cycle);
        self.customer_id.append(&mut o.customer_id);
        self.customer_name.append(&mut o.customer_name);
        self.service.append(&mut o.service);
        self.amount.append(&mut o.amount);
        self.trade_id.append(&mut o.trade_id);
        self.mode.append(&mut o.mode);
    }

    fn begin(&mut self, map: &HeaderMap, table: &Table, rules: &RuleSet) -> Result<BillCols, LoadError> {
        // A JSON body is the API's (ListSubcustomerMonthlyBills), coded as the API codes; a CSV
        // or workbook is the customerBill export, coded its own way.
        let coding = match table.cite {
            CiteStyle::Record(_) => ModeCoding::Api,
            _ => ModeCoding::Bill,
        };
        let cycle = match map.has("bill_cycle") {
            true => None,
            false => match cycle_in_name(&table.label) {
                Some(p) => Some(p),
                None => {
                    let column = Kind::Bills.column("bill_cycle").map(|col| aliases_for(Kind::Bills, col, &rules.columns)).unwrap_or_default();
                    return Err(missing_column(
                        table,
                        Kind::Bills,
                        "bill_cycle",
                        &column,
                        "; without that column the bill cycle is taken from the file name, which holds none: name the file with its cycle, as bills_2026-10.json or customerBill_202610.json",
                    ));
                }
            },
        };
        Ok(BillCols { cols: Cols::new(map), coding, cycle })
    }

    fn push(&mut self, k: &BillCols, cells: &[&str], _rules: &RuleSet) -> Result<(), CellError> {
        let c = &k.cols;
        let cycle = match k.cycle {
            Some(p) => p,
            None => match c.parse(cells, "bill_cycle", period_value)? {
                Some(p) => p,
                None => return Err(CellError { column: c.header("bill_cycle"), value: String::new(), reason: "bill_cycle is empty".into() }),
            },
        };
        let customer_id = c.required(cells, "customer_id")?;
        let service = c.required(cells, "service_type_code")?;
        let amount_text = c.required(cells, "amount")?;
        let amount = required_amount(amount_text).map_err(|reason| CellError { column: c.header("amount"), value: amount_text.into(), reason })?;
        let mode = c.parse(cells, "charging_mode", |v| mode_value(v, k.coding))?.map_or(0, ChargingMode::code);
        self.cycle.push(cycle.0);
        self.customer_id.push(customer_id.to_string());
        self.customer_name.push(c.get(cells, "customer_name").map(str::to_string));
        self.service.push(service.to_string());
        self.amount.push(amount);
        self.trade_id.push(c.get(cells, "trade_id").map_or(String::new(), str::to_string));
        self.mode.push(mode);
        Ok(())
    }
}

/// The bill cycle a file's name holds: the first `YYYYMM` or `YYYY-MM` in it that is not part of
/// a longer number (`customerBill_202610.json`, `bills_2026-10.json`). For a part of an archive
/// (`customerBill_202610.tar.gz/part_0001.csv`), the part's name, else the archive's.
pub fn cycle_in_name(label: &str) -> Option<Period> {
    let mut names: Vec<&str> = label.rsplit('/').collect();
    names.truncate(2);
    if !label.contains(".tar.gz/") {
        names.truncate(1);
    }
    names.into_iter().find_map(cycle_in)
}

fn cycle_in(name: &str) -> Option<Period> {
    let b = name.as_bytes();
    let digit = |i: usize| b.get(i).is_some_and(u8::is_ascii_digit);
    let num = |r: std::ops::Range<usize>| std::str::from_utf8(&b[r]).ok()?.parse::<u32>().ok();
    for i in 0..b.len() {
        if !digit(i) || (i > 0 && digit(i - 1)) {
            continue;
        }
        let month_at = if (i..i + 6).all(digit) && !digit(i + 6) {
            i + 4
        } else if (i..i + 4).all(digit) && b.get(i + 4) == Some(&b'-') && (i + 5..i + 7).all(digit) && !digit(i + 7) {
            i + 5
        } else {
            continue;
        };
        if let (Some(y), Some(m)) = (num(i..i + 4), num(month_at..month_at + 2)) {
            if let Some(p) = Period::new(y as i32, m) {
                return Some(p);
            }
        }
    }
    None
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

impl InputPaths {
    /// What the input directories hold that is not read, kind by kind in the order of a run.
    pub fn skipped(&self) -> Vec<table::Skipped> {
        [&self.consumption, &self.incentives, &self.customers, &self.bills].into_iter().flat_map(|p| table::skipped(p, &self.root)).collect()
    }
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

/// What `recon inspect` reports about one file.
#[derive(Debug)]
pub struct Inspection {
    pub label: String,
    pub format: &'static str,
    pub sha256: String,
    pub tables: Vec<TableInspection>,
}

#[derive(Debug)]
pub struct TableInspection {
    pub label: String,
    pub encoding: &'static str,
    pub sheet: Option<String>,
    pub kind: Option<Kind>,
    pub map: Option<HeaderMap>,
    pub missing: Vec<String>,
    pub rows: usize,
    pub periods: Vec<(String, usize)>,
}

pub fn inspect(path: &Path, root: &Path, rules: &RuleSet, sheet: Option<&str>) -> Result<Inspection, LoadError> {
    let files = table::expand(&[path.to_path_buf()], root)?;
    let mut tables = Vec::new();
    let first = files.first();
    for f in &files {
        let mut f = f.clone();
        for t in read_tables(&mut f, sheet)? {
            let kind = schema::detect_kind(&t.headers, &rules.columns);
            let (map, missing) = match kind {
                Some(k) => {
                    let (m, miss) = map_headers(k, &t.headers, &rules.columns);
                    (Some(m), miss.iter().map(|c| c.name.to_string()).collect())
                }
                None => (None, Vec::new()),
            };
            let mut periods: std::collections::BTreeMap<String, usize> = Default::default();
            let col = map.as_ref().and_then(|m| ["incentive_period", "bill_cycle"].iter().find_map(|c| m.index(c)));
            let time_col = map.as_ref().and_then(|m| m.index("trade_time"));
            let mut rows = 0;
            let mut t = t;
            t.for_each_row(|_, cells| {
                rows += 1;
                if map.is_none() {
                    return;
                }
                let p = col
                    .and_then(|i| cells.get(i))
                    .and_then(|v| period_value(v.trim()).ok())
                    .or_else(|| time_col.and_then(|i| cells.get(i)).and_then(|v| parse_time(v, rules.tz).ok()).map(|ts| rules.tz.period_of(ts)));
                let key = p.map_or("(unreadable)".to_string(), |p| p.to_string());
                *periods.entry(key).or_default() += 1;
            })?;
            tables.push(TableInspection {
                label: t.label.clone(),
                encoding: t.encoding,
                sheet: t.sheet.clone(),
                kind,
                map,
                missing,
                rows,
                periods: periods.into_iter().collect(),
            });
        }
    }
    Ok(Inspection {
        label: first.map_or(path.display().to_string(), |f| f.label.clone()),
        format: first.map_or("", |f| f.format.name()),
        sha256: first.map_or(String::new(), |f| f.sha256.clone()),
        tables,
    })
}

/// Rows that a streamed run spills to partition files between its two passes: each row's typed
/// values and provenance, written and read back exactly (no text is parsed twice, so nothing can
/// be rejected in the second pass).
pub(crate) trait Spill: Sink {
    /// The trade id and service type of row `i`: what decides its partition.
    fn partition_key(&self, i: usize) -> (&str, &str);
    /// Row `i`'s customer id (`None` when the row has none).
    fn customer(&self, i: usize) -> Option<&str>;
    fn rows(&self) -> usize;
    fn encode(&self, i: usize, out: &mut Vec<u8>);
    /// Reads one row written by `encode`; `None` at the end of `input` or on a short record.
    fn decode(&mut self, input: &mut &[u8]) -> Option<()>;
}

pub(crate) mod spill {
    pub fn put_str(out: &mut Vec<u8>, s: &str) {
        out.extend_from_slice(&(s.len() as u32).to_le_bytes());
        out.extend_from_slice(s.as_bytes());
    }

    pub fn put_opt_str(out: &mut Vec<u8>, s: Option<&str>) {
        match s {
            None => out.extend_from_slice(&u32::MAX.to_le_bytes()),
            Some(s) => put_str(out, s),
        }
    }

    pub fn put_opt_i128(out: &mut Vec<u8>, v: Option<i128>) {
        match v {
            None => out.push(0),
            Some(v) => {
                out.push(1);
                out.extend_from_slice(&v.to_le_bytes());
            }
        }
    }

    pub fn take<'a>(input: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
        if input.len() < n {
            return None;
        }
        let (head, rest) = input.split_at(n);
        *input = rest;
        Some(head)
    }

    pub fn u32(input: &mut &[u8]) -> Option<u32> {
        Some(u32::from_le_bytes(take(input, 4)?.try_into().ok()?))
    }

    pub fn i32(input: &mut &[u8]) -> Option<i32> {
        Some(i32::from_le_bytes(take(input, 4)?.try_into().ok()?))
    }

    pub fn i64(input: &mut &[u8]) -> Option<i64> {
        Some(i64::from_le_bytes(take(input, 8)?.try_into().ok()?))
    }

    pub fn i128(input: &mut &[u8]) -> Option<i128> {
        Some(i128::from_le_bytes(take(input, 16)?.try_into().ok()?))
    }

    pub fn opt_i128(input: &mut &[u8]) -> Option<Option<i128>> {
        match take(input, 1)?[0] {
            0 => Some(None),
            _ => Some(Some(i128(input)?)),
        }
    }

    pub fn str<'a>(input: &mut &'a [u8]) -> Option<&'a str> {
        let n = u32(input)? as usize;
        std::str::from_utf8(take(input, n)?).ok()
    }

    pub fn opt_str<'a>(input: &mut &'a [u8]) -> Option<Option<&'a str>> {
        let n = u32(input)?;
        if n == u32::MAX {
            return Some(None);
        }
        std::str::from_utf8(take(input, n as usize)?).ok().map(Some)
    }
}

impl Spill for Consumption {
    fn partition_key(&self, i: usize) -> (&str, &str) {
        (&self.trade_id[i], &self.service[i])
    }

    fn customer(&self, i: usize) -> Option<&str> {
        Some(&self.customer_id[i])
    }

    fn rows(&self) -> usize {
        self.len()
    }

    fn encode(&self, i: usize, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.cycle[i].to_le_bytes());
        spill::put_str(out, &self.customer_id[i]);
        spill::put_opt_str(out, self.customer_name.get(i));
        out.extend_from_slice(&self.assoc[i].to_le_bytes());
        spill::put_str(out, &self.service[i]);
        out.extend_from_slice(&self.mode[i].to_le_bytes());
        spill::put_str(out, &self.trade_id[i]);
        out.extend_from_slice(&self.ts[i].to_le_bytes());
        out.extend_from_slice(&self.day[i].to_le_bytes());
        out.extend_from_slice(&self.payment[i].to_le_bytes());
        out.extend_from_slice(&(self.counted.len() as u32).to_le_bytes());
        for c in &self.counted {
            out.extend_from_slice(&c[i].to_le_bytes());
        }
    }

    fn decode(&mut self, input: &mut &[u8]) -> Option<()> {
        let cycle = spill::i32(input)?;
        let customer_id = spill::str(input)?;
        let customer_name = spill::opt_str(input)?;
        let assoc = spill::i32(input)?;
        let service = spill::str(input)?;
        let mode = spill::i32(input)?;
        let trade_id = spill::str(input)?;
        let ts = spill::i64(input)?;
        let day = spill::i32(input)?;
        let payment = spill::i128(input)?;
        let n = spill::u32(input)? as usize;
        if self.counted.len() < n {
            self.counted.resize(n, Vec::new());
        }
        for c in self.counted.iter_mut().take(n) {
            c.push(spill::i128(input)?);
        }
        self.cycle.push(cycle);
        self.customer_id.push(customer_id);
        self.customer_name.push(customer_name);
        self.assoc.push(assoc);
        self.service.push(service);
        self.mode.push(mode);
        self.trade_id.push(trade_id);
        self.ts.push(ts);
        self.day.push(day);
        self.payment.push(payment);
        Some(())
    }
}

impl Spill for Incentives {
    fn partition_key(&self, i: usize) -> (&str, &str) {
        (&self.trade_id[i], &self.service[i])
    }

    fn customer(&self, i: usize) -> Option<&str> {
        self.customer_id.get(i)
    }

    fn rows(&self) -> usize {
        self.len()
    }

    fn encode(&self, i: usize, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.period[i].to_le_bytes());
        spill::put_str(out, &self.trade_id[i]);
        spill::put_str(out, &self.service[i]);
        spill::put_opt_str(out, self.customer_id.get(i));
        spill::put_opt_str(out, self.customer_name.get(i));
        out.extend_from_slice(&self.mode[i].to_le_bytes());
        spill::put_opt_i128(out, self.base[i]);
        spill::put_opt_i128(out, self.rate[i]);
        out.extend_from_slice(&self.amount[i].to_le_bytes());
        spill::put_str(out, &self.dup_key[i]);
    }

    fn decode(&mut self, input: &mut &[u8]) -> Option<()> {
        let period = spill::i32(input)?;
        let trade_id = spill::str(input)?;
        let service = spill::str(input)?;
        let customer_id = spill::opt_str(input)?;
        let customer_name = spill::opt_str(input)?;
        let mode = spill::i32(input)?;
        let base = spill::opt_i128(input)?;
        let rate = spill::opt_i128(input)?;
        let amount = spill::i128(input)?;
        let dup_key = spill::str(input)?;
        self.period.push(period);
        self.trade_id.push(trade_id);
        self.service.push(service);
        self.customer_id.push(customer_id);
        self.customer_name.push(customer_name);
        self.mode.push(mode);
        self.base.push(base);
        self.rate.push(rate);
        self.amount.push(amount);
        self.dup_key.push(dup_key);
        Some(())
    }
}

impl Spill for Bills {
    /// (A line without a trade id goes to the first partition: its cycle is compared by
    /// customer, whose groups a streamed run merges across partitions.)
    fn partition_key(&self, i: usize) -> (&str, &str) {
        (&self.trade_id[i], &self.service[i])
    }

    fn customer(&self, i: usize) -> Option<&str> {
        Some(&self.customer_id[i])
    }

    fn rows(&self) -> usize {
        self.len()
    }

    fn encode(&self, i: usize, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.cycle[i].to_le_bytes());
        spill::put_str(out, &self.customer_id[i]);
        spill::put_opt_str(out, self.customer_name[i].as_deref());
        spill::put_str(out, &self.service[i]);
        out.extend_from_slice(&self.amount[i].to_le_bytes());
        spill::put_str(out, &self.trade_id[i]);
        out.extend_from_slice(&self.mode[i].to_le_bytes());
    }

    fn decode(&mut self, input: &mut &[u8]) -> Option<()> {
        let cycle = spill::i32(input)?;
        let customer_id = spill::str(input)?;
        let customer_name = spill::opt_str(input)?;
        let service = spill::str(input)?;
        let amount = spill::i128(input)?;
        let trade_id = spill::str(input)?;
        let mode = spill::i32(input)?;
        self.cycle.push(cycle);
        self.customer_id.push(customer_id.to_string());
        self.customer_name.push(customer_name.map(str::to_string));
        self.service.push(service.to_string());
        self.amount.push(amount);
        self.trade_id.push(trade_id.to_string());
        self.mode.push(mode);
        Some(())
    }
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

/// Trade ids sampled from the CSV files of one kind without reading them whole: `per_file`
/// short reads at evenly spaced offsets, each giving the first whole line after the offset. A
/// streamed run cuts its partitions at quantiles of these, so each partition is a range of trade
/// ids. The samples only balance the partitions: a line misread here (a cut inside a quoted
/// cell) changes no result. Files in other formats are not sampled.
pub(crate) fn sample_trade_ids(paths: &[PathBuf], root: &Path, kind: Kind, rules: &RuleSet, per_file: usize) -> Result<Vec<String>, LoadError> {
    use std::io::{Read as _, Seek, SeekFrom};
    let mut out = Vec::new();
    for (path, label, format) in table::list(paths, root)? {
        if format != table::Format::Csv {
            continue;
        }
        let io = |source| LoadError::Io { path: label.clone(), source };
        let mut file = std::fs::File::open(&path).map_err(io)?;
        let len = file.metadata().map_err(io)?.len();
        let mut head = vec![0u8; (64 << 10).min(len as usize)];
        file.read_exact(&mut head).map_err(io)?;
        let text = |bytes: &[u8]| -> String {
            let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
            match std::str::from_utf8(bytes) {
                Ok(s) => s.to_string(),
                Err(e) if e.error_len().is_none() => String::from_utf8_lossy(&bytes[..e.valid_up_to()]).into_owned(),
                Err(_) => encoding_rs::GB18030.decode_without_bom_handling(bytes).0.into_owned(),
            }
        };
        let first_record = |s: &str| -> Option<Vec<String>> {
            let mut r = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(s.as_bytes());
            let mut rec = csv::StringRecord::new();
            r.read_record(&mut rec).ok()?.then(|| rec.iter().map(|c| c.trim_start_matches('\u{feff}').to_string()).collect())
        };
        let Some(headers) = first_record(&text(&head)) else { continue };
        let (map, _) = map_headers(kind, &headers, &rules.columns);
        let Some(col) = map.index("trade_id") else { continue };
        let mut buf = vec![0u8; 4096];
        for i in 1..=per_file as u64 {
            let at = len * i / (per_file as u64 + 1);
            file.seek(SeekFrom::Start(at)).map_err(io)?;
            let n = file.read(&mut buf).map_err(io)?;
            let window = &buf[..n];
            let Some(nl) = window.iter().position(|&c| c == b'\n') else { continue };
            let line = &window[nl + 1..];
            let Some(end) = line.iter().position(|&c| c == b'\n') else { continue };
            if let Some(v) = first_record(&text(&line[..end])).and_then(|r| r.get(col).map(|v| v.trim().to_string())) {
                if !v.is_empty() {
                    out.push(v);
                }
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    proptest::proptest! {
        #[test]
        fn the_quick_trim_is_trim(s in "[ \t\r\n\u{b}\u{c}\u{3000}\u{a0}a1,]{0,8}") {
            proptest::prop_assert_eq!(super::trim(&s), s.trim());
        }
    }
}
