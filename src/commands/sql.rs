//! `recon sql` (contract §8): the validated rules compiled into one SQL script for Spark SQL or
//! DuckDB (see [`crate::sql`]), written to `--out` or to standard output.

use std::io::Write;
use std::path::Path;

use crate::config::{Error, Status};
use crate::rules::RuleSet;
use crate::sql::{compile, Dialect};

pub fn run(rules: &Path, dialect: &str, out_file: Option<&Path>, out: &mut impl Write) -> Result<Status, Error> {
    let dialect = Dialect::parse(dialect).ok_or_else(|| Error::Usage(format!("--dialect {dialect:?}: expected spark or duckdb")))?;
    let rules = RuleSet::load(rules)?;
    let script = compile(&rules, dialect);
    match out_file {
        Some(p) => {
            std::fs::write(p, script.as_bytes()).map_err(|e| Error::Normalize { path: p.display().to_string(), message: e.to_string() })?;
            writeln!(out, "wrote {} ({} statements, {})", p.display(), script.lines().filter(|l| l.ends_with(';')).count(), dialect.name()).map_err(Error::Stdout)?;
        }
        None => out.write_all(script.as_bytes()).map_err(Error::Stdout)?,
    }
    Ok(Status::Clean)
}
