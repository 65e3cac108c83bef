//! `recon normalize` (contract §8): the accepted rows of every input, read by the loaders a run
//! uses, written in canonical columns (the names of §1; charging modes and association types in
//! their canonical words; times in UTC; amounts as exact decimals) with each row's `source`
//! citation and its place in load order (`row_no`), as Parquet (polars' writer) and CSV:
//! `consumption`, `incentives`, `customers`, `bills` (a kind not given is not written), and
//! `rejected.csv` as a run writes it. These are the tables the script of `recon sql` reads.

use std::io::Write;
use std::path::{Path, PathBuf};

use polars::prelude::*;
use polars_io::parquet::write::{ParquetCompression, ParquetWriter};

use crate::config::{input_paths, setup, Error, RunArgs, Status};
use crate::load::{self, Loaded, Provenance};
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

fn row_numbers(n: usize) -> Vec<i64> {
    (0..n as i64).collect()
}

fn consumption(loaded: &Loaded, rules: &RuleSet) -> Vec<Col> {
    let c = &loaded.consumption;
    let n = c.len();
    let mut cols = vec![
        Col::Int("row_no", row_numbers(n)),
        Col::Text("source", sources(&c.prov, n)),
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

fn incentives(loaded: &Loaded) -> Vec<Col> {
    let i = &loaded.incentives;
    let n = i.len();
    vec![
        Col::Int("row_no", row_numbers(n)),
        Col::Text("source", sources(&i.prov, n)),
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
        Col::Int("row_no", row_numbers(n)),
        Col::Text("source", sources(&c.prov, n)),
        Col::Text("customer_id", c.list.iter().map(|x| Some(x.customer_id.clone())).collect()),
        Col::Text("customer_name", c.names.iter().map(|s| s.map(str::to_string)).collect()),
        Col::Text("association_type", c.list.iter().map(|x| Some(x.association.key().to_string())).collect()),
        Col::Text("associated_at", c.list.iter().map(|x| x.associated_at.map(utc_text)).collect()),
        Col::Text("rebound_at", c.list.iter().map(|x| x.rebound_at.map(utc_text)).collect()),
    ]
}

fn bills(b: &load::Bills) -> Vec<Col> {
    let n = b.len();
    vec![
        Col::Int("row_no", row_numbers(n)),
        Col::Text("source", sources(&b.prov, n)),
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

/// Writes `DIR/NAME.parquet` and `DIR/NAME.csv` (UTF-8, no BOM: a warehouse loads it).
fn write_table(dir: &Path, name: &str, cols: &[Col], written: &mut Vec<PathBuf>) -> Result<(), Error> {
    let n = match cols.first() {
        Some(Col::Int(_, v)) => v.len(),
        _ => 0,
    };
    let parquet = dir.join(format!("{name}.parquet"));
    let columns = cols.iter().map(Col::column).collect::<PolarsResult<Vec<Column>>>().map_err(|e| failed(&parquet, e))?;
    let mut df = DataFrame::new(n, columns).map_err(|e| failed(&parquet, e))?;
    let file = std::fs::File::create(&parquet).map_err(|e| failed(&parquet, e))?;
    ParquetWriter::new(std::io::BufWriter::new(file))
        .with_compression(ParquetCompression::Snappy)
        .finish(&mut df)
        .map_err(|e| failed(&parquet, e))?;
    written.push(parquet);

    let csv_path = dir.join(format!("{name}.csv"));
    let mut w = csv::Writer::from_path(&csv_path).map_err(|e| failed(&csv_path, e))?;
    w.write_record(cols.iter().map(Col::name)).map_err(|e| failed(&csv_path, e))?;
    let mut record: Vec<String> = Vec::with_capacity(cols.len());
    for i in 0..n {
        record.clear();
        record.extend(cols.iter().map(|c| c.text(i)));
        w.write_record(&record).map_err(|e| failed(&csv_path, e))?;
    }
    w.flush().map_err(|e| failed(&csv_path, e))?;
    written.push(csv_path);
    Ok(())
}

/// Runs `recon normalize` with the input flags of `recon run` (`args.out` is the directory the
/// tables go to; periods and formats are not used).
pub fn run(args: &RunArgs, out: &mut impl Write) -> Result<Status, Error> {
    let setup = setup(args)?;
    let paths = input_paths(args, setup.root.clone());
    let loaded = load::load_all(&paths, &setup.rules)?;
    let dir = &args.out;
    std::fs::create_dir_all(dir).map_err(|e| failed(dir, e))?;
    let mut written = Vec::new();
    write_table(dir, "consumption", &consumption(&loaded, &setup.rules), &mut written)?;
    write_table(dir, "incentives", &incentives(&loaded), &mut written)?;
    if let Some(c) = &loaded.customers {
        write_table(dir, "customers", &customers(c), &mut written)?;
    }
    if let Some(b) = &loaded.bills {
        write_table(dir, "bills", &bills(b), &mut written)?;
    }
    crate::report::write_rejected(&dir.join("rejected.csv"), &loaded.rejects)?;
    for i in &loaded.inputs {
        let rej = if i.rejected > 0 { format!(", {} rejected", i.rejected) } else { String::new() };
        writeln!(out, "{} {}: {} rows, {} accepted{rej}", i.kind.name(), i.path, i.rows, i.accepted).map_err(Error::Stdout)?;
    }
    for p in &written {
        writeln!(out, "wrote {}", p.display()).map_err(Error::Stdout)?;
    }
    writeln!(out, "wrote {}", dir.join("rejected.csv").display()).map_err(Error::Stdout)?;
    Ok(if loaded.rejects.is_empty() { Status::Clean } else { Status::NeedsAction })
}
