//! `recon gen`: deterministic synthetic exports for benchmarks and tests.

use std::io::Write;
use std::path::Path;

use crate::config::{Error, Status};
use crate::report::ReportError;

/// `recon gen --rows N --out DIR [--seed S]`.
pub fn run(rows: u64, dir: &Path, seed: u64, out: &mut impl Write) -> Result<Status, Error> {
    let t = std::time::Instant::now();
    let s = crate::gen::generate(rows, dir, seed).map_err(|source| Error::Report(ReportError::Io { path: dir.display().to_string(), source }))?;
    let w = Error::Stdout;
    writeln!(out, "generated {} consumption rows, {} incentive lines, {} bill lines, {} customers in {:.1} s:", s.consumption_rows, s.incentive_rows, s.bill_rows, s.customers, t.elapsed().as_secs_f32()).map_err(w)?;
    for f in &s.files {
        writeln!(out, "  {}", f.display()).map_err(w)?;
    }
    let d = dir.display();
    writeln!(out, "run: recon run --rules {d}/rules.toml --consumption {d}/consumption.csv --incentives {d}/incentives.csv --customers {d}/customers.csv --bills {d}/customerBill_202610.csv --out {d}/report").map_err(w)?;
    Ok(Status::Clean)
}

