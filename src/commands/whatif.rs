//! `recon whatif --report DIR --rules OTHER.toml`: a report's inputs (from its summary.json,
//! sha256-checked as `recon verify` checks them) reconciled under other rules by the run's own
//! executors, and the difference priced per period and product. The report is read, never
//! written: the other rules' run goes to `--out DIR/after`.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};

use rust_decimal::Decimal;

use super::args_from_summary;
use super::estimate::{run_into, Scratch};
use super::verify::changed_inputs;
use crate::config::{Error, RunArgs, Status};
use crate::model::fmt_money;
use crate::policy::expected;
use crate::report::summary::Summary;

/// What `recon whatif` takes.
#[derive(Debug, Clone, Default)]
pub struct WhatifArgs {
    pub report: PathBuf,
    pub rules: PathBuf,
    pub out: Option<PathBuf>,
    pub streaming: bool,
    pub in_memory: bool,
}

pub const WHATIF_HEADER: [&str; 7] = ["period", "product_id", "service_type_code", "charging_mode", "expected_incentive_before", "expected_incentive_after", "change"];

/// Where a whatif goes without --out: beside the report, `reports/2026-10` → `reports/2026-10.whatif-OTHER`.
pub fn default_out(report: &Path, rules: &Path) -> PathBuf {
    let name = report.file_name().map_or_else(|| "report".to_string(), |n| n.to_string_lossy().to_string());
    let stem = rules.file_stem().map_or_else(|| "rules".to_string(), |n| n.to_string_lossy().to_string());
    report.with_file_name(format!("{name}.whatif-{stem}"))
}

fn money(s: &str, what: &str) -> Result<Decimal, Error> {
    Decimal::from_str_exact(s).map_err(|_| Error::Corrupt { path: what.to_string(), message: format!("not an amount: {s:?}") })
}

pub fn run(args: &WhatifArgs, out: &mut impl Write) -> Result<Status, Error> {
    let w = Error::Stdout;
    let (report_args, summary, root) = args_from_summary(&args.report)?;
    crate::rules::RuleSet::load(&args.rules)?;
    let changed: Vec<String> = changed_inputs(&report_args, &summary, &root).into_iter().filter(|c| !c.starts_with("previous report")).collect();
    if !changed.is_empty() {
        return Err(Error::Usage(format!(
            "{}: the inputs are not the ones this report was made from, so it cannot be priced against other rules:\n  {}",
            args.report.display(),
            changed.join("\n  ")
        )));
    }
    let dir = args.out.clone().unwrap_or_else(|| default_out(&args.report, &args.rules));
    if std::fs::canonicalize(&dir).ok().zip(std::fs::canonicalize(&args.report).ok()).is_some_and(|(a, b)| a == b || a.starts_with(&b)) {
        return Err(Error::Usage(format!("--out {}: inside the report; whatif never writes into the report it prices", dir.display())));
    }
    let base = RunArgs { streaming: args.streaming, in_memory: args.in_memory, ..report_args };

    // Before: the report's own findings.csv when it is there as its summary lists it (its sha256
    // taken as it is read, while the other rules' run goes on), else a re-run.
    let listed = summary.outputs.iter().find(|o| o.path == "findings.csv").map(|o| o.sha256.clone());
    let report_findings = args.report.join("findings.csv");
    let scratch = Scratch::new(&dir, "whatif-before")?;
    let after_dir = dir.join("after");
    let (read, after_run) = std::thread::scope(|scope| {
        let reading = scope.spawn(|| match &listed {
            Some(_) if report_findings.exists() => expected::read(&report_findings).map(Some),
            _ => Ok(None),
        });
        let after_run = run_into(RunArgs { rules: args.rules.clone(), ..base.clone() }, &after_dir, true);
        (reading.join().unwrap_or_else(|_| Err(Error::Internal("the thread reading the report's findings panicked".into()))), after_run)
    });
    let (after_summary, after) = after_run?;
    // (a findings.csv that does not read back is not the report's: the report's run is redone)
    let (before_summary, before) = match (read.ok().flatten(), &listed) {
        (Some((lines, sha)), Some(recorded)) if &sha == recorded => (summary.clone(), lines),
        _ => {
            run_into(base.clone(), &scratch.0, false)?
        }
    };
    let before_totals = expected::waterfall_expected(&before_summary, &args.report.join("summary.json"))?;
    expected::check_totals(&before, &before_totals)?;

    // After: the same inputs and options under the other rules, kept in DIR/after (its expected
    // side summed as its findings were decided).
    let after_totals = expected::waterfall_expected(&after_summary, &after_dir.join("summary.json"))?;
    expected::check_totals(&after, &after_totals)?;

    let periods: BTreeSet<&String> = before_totals.keys().chain(after_totals.keys()).collect();
    let lines: BTreeSet<&expected::Line> = before.keys().chain(after.keys()).filter(|l| periods.contains(&l.0)).collect();
    let mut text = String::from("\u{feff}");
    text.push_str(&WHATIF_HEADER.join(","));
    text.push('\n');
    let mut wtr = csv::WriterBuilder::new().has_headers(false).from_writer(Vec::new());
    let mut change_of: BTreeMap<&str, Decimal> = BTreeMap::new();
    for l in &lines {
        let b = before.get(*l).map_or(Decimal::ZERO, |s| s.incentive);
        let a = after.get(*l).map_or(Decimal::ZERO, |s| s.incentive);
        *change_of.entry(l.0.as_str()).or_default() += a - b;
        let cells = [l.0.clone(), l.1.clone(), l.2.clone(), l.3.clone(), fmt_money(b), fmt_money(a), fmt_money(a - b)];
        wtr.write_record(cells.iter().enumerate().map(|(i, c)| if i < 4 { crate::report::neutral(c).into_owned() } else { c.clone() })).map_err(|e| Error::Internal(e.to_string()))?;
    }
    text.push_str(&String::from_utf8_lossy(&wtr.into_inner().map_err(|e| Error::Internal(e.to_string()))?));
    let path = dir.join("whatif.csv");
    std::fs::write(&path, text).map_err(|source| Error::Report(crate::report::ReportError::Io { path: path.display().to_string(), source }))?;

    writeln!(out, "whatif: {} under {} instead of {}", args.report.display(), args.rules.display(), report_args_rules(&summary)).map_err(w)?;
    let cats = |s: &Summary, p: &str| -> BTreeMap<String, (u64, String)> {
        s.periods.iter().find(|x| x.period == p).map(|x| x.categories.0.iter().map(|(k, v)| (k.clone(), (v.count, v.delta.clone()))).collect()).unwrap_or_default()
    };
    for p in &periods {
        let (b, a) = (before_totals.get(*p).copied().unwrap_or_default(), after_totals.get(*p).copied().unwrap_or_default());
        let change = change_of.get(p.as_str()).copied().unwrap_or_default();
        if change != a - b {
            return Err(Error::Internal(format!("the changes of {p} sum to {change}, the two runs differ by {}", a - b)));
        }
        writeln!(out, "  {p}  expected incentive {} -> {}  change {}", fmt_money(b), fmt_money(a), fmt_money(a - b)).map_err(w)?;
        let (cb, ca) = (cats(&before_summary, p), cats(&after_summary, p));
        let names: BTreeSet<&String> = cb.keys().chain(ca.keys()).collect();
        for name in names {
            let (nb, db) = cb.get(name).cloned().unwrap_or((0, "0".into()));
            let (na, da) = ca.get(name).cloned().unwrap_or((0, "0".into()));
            let (db, da) = (money(&db, "summary.json")?, money(&da, "summary.json")?);
            if nb == na && db == da {
                continue;
            }
            writeln!(out, "    {name:<22} count {nb} -> {na} ({:+})  delta {} -> {} ({})", na as i64 - nb as i64, fmt_money(db), fmt_money(da), fmt_money(da - db)).map_err(w)?;
        }
    }
    writeln!(out, "written to {} (the other rules' report: {})", path.display(), after_dir.display()).map_err(w)?;
    Ok(Status::Clean)
}

fn report_args_rules(s: &Summary) -> String {
    s.options.rules.clone().unwrap_or_else(|| s.rules.path.clone())
}
