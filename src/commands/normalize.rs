//! `recon normalize` (contract §8): the accepted rows of every input, read by the loaders a run
//! uses, written in canonical columns (the names of §1; charging modes and association types in
//! their canonical words; times in UTC; amounts as exact decimals) with each row's `source`
//! citation and its place in load order (`row_no`), as Parquet (polars' writer) and CSV:
//! `consumption`, `incentives`, `customers`, `bills` (a kind not given is not written), and
//! `rejected.csv` as a run writes it. These are the tables the script of `recon sql` reads.

use std::io::Write;
use std::path::{Path, PathBuf};

use polars::prelude::*;
use polars_io::parquet::write::{BatchedWriter, ParquetCompression, ParquetWriter};

use crate::config::{input_paths, setup, Error, RunArgs, Status};
use crate::load::schema::Kind;
use crate::load::table::Table;
use crate::load::{self, InputPaths, Provenance};
use crate::model::{Association, ChargingMode, Period, PolicyTz, AMOUNT_SCALE};
use crate::rules::RuleSet;

/// One column of a normalized table.
enum Col {
    Text(&'static str, Vec<Option<String>>),
    Int(&'static str, Vec<i64>),
    /// Physical decimals at AMOUNT_SCALE (`None`: empty).
    Dec(&'static str, Vec<Option<i128>>),
}

impl Col {
    fn name(&self) -> &str {
        match self {
            Col::Text(n, _) | Col::Int(n, _) | Col::Dec(n, _) => n,
        }
    }

    fn column(&self) -> PolarsResult<Column> {
        Ok(match self {
            Col::Text(n, v) => Column::new((*n).into(), v.iter().map(|s| s.as_deref()).collect::<Vec<Option<&str>>>()),
            Col::Int(n, v) => Column::new((*n).into(), v.clone()),
            Col::Dec(n, v) => {
                let ca: Int128Chunked = v.iter().copied().collect();
                ca.with_name((*n).into()).into_decimal(38, AMOUNT_SCALE as usize)?.into_series().into_column()
            }
        })
    }

    /// The CSV text of row `i` (a decimal as written: exact, trailing zeros dropped).
    fn text(&self, i: usize) -> String {
        match self {
            Col::Text(_, v) => v[i].clone().unwrap_or_default(),
            Col::Int(_, v) => v[i].to_string(),
            Col::Dec(_, v) => v[i].map(|x| load::from_phys(x).to_string()).unwrap_or_default(),
        }
    }
}

fn period_text(p: i32) -> String {
    Period(p).to_string()
}

fn mode_text(code: i32) -> Option<String> {
    ChargingMode::from_code(code).map(|m| m.label().to_string())
}

fn assoc_text(code: i32) -> Option<String> {
    Association::from_code(code).map(|a| a.key().to_string())
}

/// An instant as UTC `YYYY-MM-DD HH:MM:SS`.
fn utc_text(ts: i64) -> String {
    PolicyTz { offset_secs: 0 }.utc_to_local(ts).format("%Y-%m-%d %H:%M:%S").to_string()
}

fn sources(prov: &Provenance, n: usize) -> Vec<Option<String>> {
    (0..n).map(|r| Some(prov.cite(r))).collect()
}

/// The citations of a block's rows, all of one table.
fn block_sources(table: &Table, rows: &[(u32, u32)]) -> Vec<Option<String>> {
    rows.iter().map(|&(_, loc)| Some(table.cite(loc))).collect()
}

/// Row numbers in load order, from `first`.
fn row_numbers(first: i64, n: usize) -> Vec<i64> {
    (first..first + n as i64).collect()
}

fn consumption(c: &load::Consumption, rules: &RuleSet, source: Vec<Option<String>>, first: i64) -> Vec<Col> {
    let n = c.len();
    let mut cols = vec![
        Col::Int("row_no", row_numbers(first, n)),
        Col::Text("source", source),
        Col::Text("bill_cycle", c.cycle.iter().map(|&p| Some(period_text(p))).collect()),
        Col::Text("customer_id", c.customer_id.iter().map(|s| Some(s.to_string())).collect()),
        Col::Text("customer_name", c.customer_name.iter().map(|s| s.map(str::to_string)).collect()),
        Col::Text("association_type", c.assoc.iter().map(|&a| assoc_text(a)).collect()),
        Col::Text("service_type_code", c.service.iter().map(|s| Some(s.to_string())).collect()),
        Col::Text("charging_mode", c.mode.iter().map(|&m| mode_text(m)).collect()),
        Col::Text("trade_id", c.trade_id.iter().map(|s| Some(s.to_string())).collect()),
        Col::Text("trade_time", c.ts.iter().map(|&t| Some(utc_text(t))).collect()),
        Col::Dec("payment_amount", c.payment.iter().map(|&v| Some(v)).collect()),
    ];
    for (i, comp) in rules.counted.iter().enumerate() {
        let values = c.counted.get(i).map(|v| v.iter().map(|&x| Some(x)).collect()).unwrap_or_else(|| vec![Some(0); n]);
        cols.push(Col::Dec(comp.name(), values));
    }
    cols
}

fn incentives(i: &load::Incentives, source: Vec<Option<String>>, first: i64) -> Vec<Col> {
    let n = i.len();
    vec![
        Col::Int("row_no", row_numbers(first, n)),
        Col::Text("source", source),
        Col::Text("incentive_period", i.period.iter().map(|&p| Some(period_text(p))).collect()),
        Col::Text("trade_id", i.trade_id.iter().map(|s| Some(s.to_string())).collect()),
        Col::Text("service_type_code", i.service.iter().map(|s| Some(s.to_string())).collect()),
        Col::Text("customer_id", i.customer_id.iter().map(|s| s.map(str::to_string)).collect()),
        Col::Text("customer_name", i.customer_name.iter().map(|s| s.map(str::to_string)).collect()),
        Col::Text("charging_mode", i.mode.iter().map(|&m| mode_text(m)).collect()),
        Col::Dec("base_amount", i.base.clone()),
        Col::Dec("rate", i.rate.clone()),
        Col::Dec("incentive_amount", i.amount.iter().map(|&v| Some(v)).collect()),
        // `id:<incentive_id>`, or the row's whole text when the file has no incentive_id: two
        // rows of a key with the same dup_key are a DUPLICATE_INCENTIVE.
        Col::Text("dup_key", i.dup_key.iter().map(|s| Some(s.to_string())).collect()),
    ]
}

fn customers(c: &load::Customers) -> Vec<Col> {
    let n = c.list.len();
    vec![
        Col::Int("row_no", row_numbers(0, n)),
        Col::Text("source", sources(&c.prov, n)),
        Col::Text("customer_id", c.list.iter().map(|x| Some(x.customer_id.clone())).collect()),
        Col::Text("customer_name", c.names.iter().map(|s| s.map(str::to_string)).collect()),
        Col::Text("association_type", c.list.iter().map(|x| Some(x.association.key().to_string())).collect()),
        Col::Text("associated_at", c.list.iter().map(|x| x.associated_at.map(utc_text)).collect()),
        Col::Text("rebound_at", c.list.iter().map(|x| x.rebound_at.map(utc_text)).collect()),
    ]
}

fn bills(b: &load::Bills, source: Vec<Option<String>>, first: i64) -> Vec<Col> {
    let n = b.len();
    vec![
        Col::Int("row_no", row_numbers(first, n)),
        Col::Text("source", source),
        Col::Text("bill_cycle", b.cycle.iter().map(|&p| Some(period_text(p))).collect()),
        Col::Text("customer_id", b.customer_id.iter().map(|s| Some(s.clone())).collect()),
        Col::Text("customer_name", b.customer_name.clone()),
        Col::Text("service_type_code", b.service.iter().map(|s| Some(s.clone())).collect()),
        Col::Text("charging_mode", b.mode.iter().map(|&m| mode_text(m)).collect()),
        Col::Text("trade_id", b.trade_id.iter().map(|s| (!s.is_empty()).then(|| s.clone())).collect()),
        Col::Dec("amount", b.amount.iter().map(|&v| Some(v)).collect()),
    ]
}

fn failed(path: &Path, message: impl std::fmt::Display) -> Error {
    Error::Normalize { path: path.display().to_string(), message: message.to_string() }
}

/// One table being written, a block at a time: `NAME.parquet` (a row group per block) and
/// `NAME.csv` (UTF-8, no BOM: a warehouse loads it), in the staging directory.
struct TableOut {
    parquet: PathBuf,
    csv_path: PathBuf,
    batched: Option<BatchedWriter<std::io::BufWriter<std::fs::File>>>,
    csv: csv::Writer<std::io::BufWriter<std::fs::File>>,
    rows: i64,
}

impl TableOut {
    fn create(dir: &Path, name: &str) -> Result<TableOut, Error> {
        let parquet = dir.join(format!("{name}.parquet"));
        let csv_path = dir.join(format!("{name}.csv"));
        let file = std::fs::File::create(&csv_path).map_err(|e| failed(&csv_path, e))?;
        let csv = csv::Writer::from_writer(std::io::BufWriter::with_capacity(1 << 20, file));
        Ok(TableOut { parquet, csv_path, batched: None, csv, rows: 0 })
    }

    /// Appends a block's rows (the first block also writes the CSV header and fixes the Parquet
    /// schema).
    fn write(&mut self, cols: &[Col]) -> Result<(), Error> {
        let n = match cols.first() {
            Some(Col::Int(_, v)) => v.len(),
            _ => 0,
        };
        let columns = cols.iter().map(Col::column).collect::<PolarsResult<Vec<Column>>>().map_err(|e| failed(&self.parquet, e))?;
        let df = DataFrame::new(n, columns).map_err(|e| failed(&self.parquet, e))?;
        if self.batched.is_none() {
            let file = std::fs::File::create(&self.parquet).map_err(|e| failed(&self.parquet, e))?;
            let w = ParquetWriter::new(std::io::BufWriter::with_capacity(1 << 20, file)).with_compression(ParquetCompression::Snappy).batched(df.schema()).map_err(|e| failed(&self.parquet, e))?;
            self.batched = Some(w);
            self.csv.write_record(cols.iter().map(Col::name)).map_err(|e| failed(&self.csv_path, e))?;
        }
        if n > 0 {
            if let Some(w) = self.batched.as_mut() {
                w.write_batch(&df).map_err(|e| failed(&self.parquet, e))?;
            }
        }
        let mut record: Vec<String> = Vec::with_capacity(cols.len());
        for i in 0..n {
            record.clear();
            record.extend(cols.iter().map(|c| c.text(i)));
            self.csv.write_record(&record).map_err(|e| failed(&self.csv_path, e))?;
        }
        self.rows += n as i64;
        Ok(())
    }

    /// Completes both files; `empty` gives the columns of a table no row reached.
    fn finish(mut self, empty: impl FnOnce() -> Vec<Col>, written: &mut Vec<PathBuf>) -> Result<(), Error> {
        if self.batched.is_none() {
            self.write(&empty())?;
        }
        if let Some(w) = self.batched.take() {
            w.finish().map_err(|e| failed(&self.parquet, e))?;
        }
        self.csv.flush().map_err(|e| failed(&self.csv_path, e))?;
        written.push(self.parquet);
        written.push(self.csv_path);
        Ok(())
    }
}

/// Streams one kind's files into its table a block at a time (the blocks of a streamed run).
fn stream_table<S: load::Sink>(
    paths: &InputPaths,
    kind: Kind,
    rules: &RuleSet,
    stage: &Path,
    rejects: &mut Vec<load::Reject>,
    cols: &(dyn Fn(&S, Vec<Option<String>>, i64) -> Vec<Col> + Sync),
    written: &mut Vec<PathBuf>,
) -> Result<Vec<load::InputSummary>, Error> {
    let mut t = TableOut::create(stage, kind.name())?;
    let mut failure: Option<Error> = None;
    let mut prov = Provenance::default();
    let block = crate::exec::partitioned::block_bytes();
    let read = load::stream_kind::<S>(paths, kind, rules, block, &mut prov, rejects, &mut |sink, rows, table| {
        let first = t.rows;
        match t.write(&cols(&sink, block_sources(table, &rows), first)) {
            Ok(()) => Ok(()),
            Err(e) => {
                failure = Some(e);
                Err(std::io::Error::other("cannot write the normalized table"))
            }
        }
    });
    if let Some(e) = failure {
        return Err(e);
    }
    let summaries = read?;
    t.finish(|| cols(&S::default(), Vec::new(), 0), written)?;
    Ok(summaries)
}

/// Runs `recon normalize` with the input flags of `recon run` (`args.out` is the directory the
/// tables go to; periods and formats are not used). The inputs are read a block at a time, as a
/// streamed run reads them, and each block's rows appended to their tables: memory is that of a
/// block, however large the exports. The tables are written into a staging directory inside
/// `--out` and moved into place once every input is read: a failed run leaves no table.
pub fn run(args: &RunArgs, out: &mut impl Write) -> Result<Status, Error> {
    let setup = setup(args)?;
    let paths = input_paths(args, setup.root.clone());
    let rules = &setup.rules;
    let dir = &args.out;
    std::fs::create_dir_all(dir).map_err(|e| failed(dir, e))?;
    let stage = dir.join(format!(".recon-normalize-{}", std::process::id()));
    std::fs::create_dir_all(&stage).map_err(|e| failed(&stage, e))?;
    let result = normalize_into(&paths, rules, &stage);
    let result = result.and_then(|(inputs, rejects, written)| {
        let mut moved = Vec::new();
        for p in &written {
            let to = dir.join(p.file_name().unwrap_or_default());
            std::fs::rename(p, &to).map_err(|e| failed(&to, e))?;
            moved.push(to);
        }
        crate::report::write_rejected(&dir.join("rejected.csv"), &rejects)?;
        Ok((inputs, rejects, moved))
    });
    let _ = std::fs::remove_dir_all(&stage);
    let (inputs, rejects, written) = result?;
    for i in &inputs {
        let rej = if i.rejected > 0 { format!(", {} rejected", i.rejected) } else { String::new() };
        writeln!(out, "{} {}: {} rows, {} accepted{rej}", i.kind.name(), i.path, i.rows, i.accepted).map_err(Error::Stdout)?;
    }
    for p in &written {
        writeln!(out, "wrote {}", p.display()).map_err(Error::Stdout)?;
    }
    writeln!(out, "wrote {}", dir.join("rejected.csv").display()).map_err(Error::Stdout)?;
    Ok(if rejects.is_empty() { Status::Clean } else { Status::NeedsAction })
}

type Normalized = (Vec<load::InputSummary>, Vec<load::Reject>, Vec<PathBuf>);

/// The tables of every kind given, in the order a run loads them (so rejected.csv is a run's).
fn normalize_into(paths: &InputPaths, rules: &RuleSet, stage: &Path) -> Result<Normalized, Error> {
    let (mut inputs, mut rejects, mut written) = (Vec::new(), Vec::new(), Vec::new());
    inputs.extend(stream_table::<load::Consumption>(paths, Kind::Consumption, rules, stage, &mut rejects, &|c, src, first| consumption(c, rules, src, first), &mut written)?);
    inputs.extend(stream_table::<load::Incentives>(paths, Kind::Incentives, rules, stage, &mut rejects, &|i, src, first| incentives(i, src, first), &mut written)?);
    if !paths.customers.is_empty() {
        let (c, summaries) = load::load_customers(paths, rules, &mut rejects)?;
        inputs.extend(summaries);
        let mut t = TableOut::create(stage, Kind::Customers.name())?;
        t.write(&customers(&c))?;
        t.finish(Vec::new, &mut written)?;
    }
    if !paths.bills.is_empty() {
        inputs.extend(stream_table::<load::Bills>(paths, Kind::Bills, rules, stage, &mut rejects, &|b, src, first| bills(b, src, first), &mut written)?);
    }
    Ok((inputs, rejects, written))
}
