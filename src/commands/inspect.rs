//! `recon inspect FILE`: how recon reads a file.

use std::io::Write;
use std::path::Path;

use crate::config::{Error, Status};
use crate::load;
use crate::rules::RuleSet;

/// `recon inspect FILE`.
pub fn run(path: &Path, rules: Option<&Path>, sheet: Option<&str>, out: &mut impl Write) -> Result<Status, Error> {
    let rules = match rules {
        Some(p) => RuleSet::load(p)?,
        None => RuleSet::from_toml("[policy]\nname = \"default\"\n", "(defaults)")?,
    };
    let root = std::env::current_dir().unwrap_or_default();
    let info = load::inspect(path, &root, &rules, sheet)?;
    let w = |e| Error::Stdout(e);
    writeln!(out, "{}  ({}, sha256 {})", info.label, info.format, info.sha256).map_err(w)?;
    for t in &info.tables {
        writeln!(out, "  part      {}", t.label).map_err(w)?;
        writeln!(out, "  encoding  {}", t.encoding).map_err(w)?;
        if let Some(s) = &t.sheet {
            writeln!(out, "  sheet     {s}").map_err(w)?;
        }
        writeln!(out, "  kind      {}", t.kind.map_or("unknown (no kind has all its required columns)", |k| k.name())).map_err(w)?;
        writeln!(out, "  rows      {}", t.rows).map_err(w)?;
        if let Some(m) = &t.map {
            writeln!(out, "  columns used:").map_err(w)?;
            for (name, i, header) in &m.used {
                writeln!(out, "    {:<28} <- {header} (column {})", name, i + 1).map_err(w)?;
                for (_, j, other) in m.fallback.iter().filter(|(n, _, _)| n == name) {
                    writeln!(out, "    {:<28} <- {other} (column {}, where the columns before are empty)", name, j + 1).map_err(w)?;
                }
            }
            if !m.ignored.is_empty() {
                writeln!(out, "  columns ignored: {}", m.ignored.join(", ")).map_err(w)?;
            }
        }
        if !t.missing.is_empty() {
            writeln!(out, "  missing required: {}", t.missing.join(", ")).map_err(w)?;
        }
        if !t.periods.is_empty() {
            let list: Vec<String> = t.periods.iter().map(|(p, n)| format!("{p} ({n} rows)")).collect();
            writeln!(out, "  periods   {}", list.join(", ")).map_err(w)?;
        }
    }
    Ok(Status::Clean)
}
