//! `recon estimate` (预估): the incentive due from consumption alone, for periods whose statement
//! is not out yet. The consumption is reconciled by the run's own executors (in memory or
//! partitioned, as `recon run` would) against no statement, with the periods asked for as the
//! loaded statement periods; the expected side of every key is then summed per period and
//! product ([`crate::policy::expected`]).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use rust_decimal::Decimal;

use crate::config::{Error, RunArgs, Status};
use crate::model::{fmt_money, Period};
use crate::policy::expected;
use crate::report::summary::Summary;
use crate::rules::RuleSet;

/// What `recon estimate` takes.
#[derive(Debug, Clone, Default)]
pub struct EstimateArgs {
    pub rules: PathBuf,
    pub consumption: Vec<PathBuf>,
    pub customers: Vec<PathBuf>,
    pub periods: Vec<String>,
    pub out: PathBuf,
    pub sheet: Option<String>,
    pub streaming: bool,
    pub in_memory: bool,
    pub partitions: Option<usize>,
}

pub const ESTIMATE_HEADER: [&str; 8] = ["period", "product_id", "service_type_code", "charging_mode", "base", "rate", "expected_incentive", "rows"];

/// A scratch directory inside `dir` for a run whose outputs are read back, removed when dropped.
pub(crate) struct Scratch(pub PathBuf);

impl Scratch {
    pub(crate) fn new(dir: &Path, what: &str) -> Result<Scratch, Error> {
        std::fs::create_dir_all(dir).map_err(|source| Error::Report(crate::report::ReportError::Io { path: dir.display().to_string(), source }))?;
        Ok(Scratch(dir.join(format!(".recon-{what}-{}", std::process::id()))))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A file removed when dropped.
pub(crate) struct ScratchFile(pub PathBuf);

impl Drop for ScratchFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// The rules an estimate runs with: the user's, with `policy.tolerance` raised past any amount.
/// Without statements every key is expected-only, and a run would make each a
/// MISSING_INCENTIVE dispute (10 M keys: 13 GB of dispute lines held for disputes.csv); within
/// tolerance it is a ROUNDING finding with no action instead. Tolerance decides categories only:
/// products, attribution, base, expected period and each key's rounded expected incentive are
/// decided exactly as under the user's rules.
fn write_estimating_rules(rules: &Path, to: &Path) -> Result<(), Error> {
    let text = std::fs::read_to_string(rules).map_err(|source| Error::Rules(crate::rules::RulesError::Io { path: rules.display().to_string(), source }))?;
    let mut table: toml::Table = toml::from_str(&text).map_err(|e| Error::Internal(format!("{}: checked, yet not TOML: {e}", rules.display())))?;
    if let Some(toml::Value::Table(policy)) = table.get_mut("policy") {
        policy.insert("tolerance".into(), toml::Value::String("100000000000000000000".into()));
    }
    let text = toml::to_string(&table).map_err(|e| Error::Internal(e.to_string()))?;
    std::fs::write(to, text).map_err(|source| Error::Report(crate::report::ReportError::Io { path: to.display().to_string(), source }))?;
    RuleSet::load(to)?;
    Ok(())
}

/// Runs `args` through the run's executors into `out` (json, and csv with `csv`), summing its
/// findings' expected side per product as they are rendered; returns its summary and those
/// sums. An error is the run's own.
pub(crate) fn run_into(args: RunArgs, out: &Path, csv: bool) -> Result<(Summary, BTreeMap<expected::Line, expected::Sums>), Error> {
    let formats = if csv { vec!["csv".into(), "json".into()] } else { vec!["json".into()] };
    let args = RunArgs { out: out.to_path_buf(), formats, previous: None, ..args };
    let ran = crate::exec::run_summed(&args, &mut Vec::new()).map_err(|e| match e {
        Error::Unwritten(u) => *u.error,
        e => e,
    })?;
    let path = out.join("summary.json");
    let summary = Summary::read(&path).map_err(|message| Error::Summary { path: path.display().to_string(), message })?;
    let lines = ran.expected.into_lines().map_err(|m| Error::Internal(format!("the expected side of {}: {m}", out.display())))?;
    Ok((summary, lines))
}

/// The statement periods an estimate covers when none is named: from the first bill cycle of
/// the consumption to the last plus the largest shift (lag and late window), so that every
/// key's expected period is among them.
fn periods_of(args: &EstimateArgs, rules: &RuleSet) -> Result<Vec<String>, Error> {
    let root = std::env::current_dir().unwrap_or_default();
    let mut cycles: Vec<Period> = Vec::new();
    for p in &args.consumption {
        let info = crate::load::inspect(p, &root, rules, args.sheet.as_deref())?;
        for t in &info.tables {
            cycles.extend(t.periods.iter().filter_map(|(p, _)| Period::parse(p)));
        }
    }
    let (Some(&first), Some(&last)) = (cycles.iter().min(), cycles.iter().max()) else { return Ok(Vec::new()) };
    let last = last.add_months(rules.max_shift());
    Ok((first.0..=last.0).map(|p| Period(p).to_string()).collect())
}

pub fn run(args: &EstimateArgs, out: &mut impl Write) -> Result<Status, Error> {
    let w = Error::Stdout;
    let rules = RuleSet::load(&args.rules)?;
    for p in &args.periods {
        Period::parse(p).ok_or_else(|| Error::Usage(format!("--period {p:?}: expected a period such as 2026-10")))?;
    }
    if args.out.join("summary.json").exists() {
        return Err(Error::Usage(format!("--out {}: holds a report (summary.json); give estimate a folder of its own", args.out.display())));
    }
    let periods = if args.periods.is_empty() { periods_of(args, &rules)? } else { args.periods.clone() };
    let scratch = Scratch::new(&args.out, "estimate")?;
    let scratch_rules = ScratchFile(args.out.join(format!(".recon-estimate-{}.toml", std::process::id())));
    write_estimating_rules(&args.rules, &scratch_rules.0)?;
    let run_args = RunArgs {
        rules: scratch_rules.0.clone(),
        consumption: args.consumption.clone(),
        customers: args.customers.clone(),
        periods: periods.clone(),
        sheet: args.sheet.clone(),
        command: "run",
        streaming: args.streaming,
        in_memory: args.in_memory,
        partitions: args.partitions,
        ..RunArgs::default()
    };
    // (its findings are summed as they are decided: no findings.csv is written)
    let (summary, lines) = run_into(run_args, &scratch.0, false)?;
    let totals = expected::waterfall_expected(&summary, &scratch.0.join("summary.json"))?;
    expected::check_totals(&lines, &totals)?;

    let rate_of = |ids: &str| -> String {
        let rates: Vec<Decimal> = ids.split('+').filter_map(|id| rules.products.iter().find(|p| p.id == id).map(|p| p.rate)).collect();
        match rates.first() {
            Some(r) if rates.iter().all(|x| x == r) => r.normalize().to_string(),
            _ => String::new(),
        }
    };
    let path = args.out.join("estimate.csv");
    let io = |path: &Path| {
        let path = path.display().to_string();
        move |source| Error::Report(crate::report::ReportError::Io { path, source })
    };
    let mut text = String::from("\u{feff}");
    text.push_str(&ESTIMATE_HEADER.join(","));
    text.push('\n');
    {
        let mut wtr = csv::WriterBuilder::new().has_headers(false).from_writer(Vec::new());
        for ((period, product, service, mode), s) in lines.iter().filter(|(l, _)| totals.contains_key(&l.0)) {
            let cells = [period.clone(), product.clone(), service.clone(), mode.clone(), fmt_money(s.base), rate_of(product), fmt_money(s.incentive), s.rows.to_string()];
            wtr.write_record(cells.iter().enumerate().map(|(i, c)| if i < 4 { crate::report::neutral(c).into_owned() } else { c.clone() })).map_err(|e| Error::Internal(e.to_string()))?;
        }
        text.push_str(&String::from_utf8_lossy(&wtr.into_inner().map_err(|e| Error::Internal(e.to_string()))?));
    }
    std::fs::write(&path, text).map_err(io(&path))?;
    let rejected_from = scratch.0.join("rejected.csv");
    let rejected_to = args.out.join("rejected.csv");
    std::fs::copy(&rejected_from, &rejected_to).map_err(io(&rejected_to))?;

    writeln!(out, "estimate under {} ({} {}), from consumption alone:", args.rules.display(), rules.name, rules.version).map_err(w)?;
    let mut later: BTreeMap<&str, Decimal> = BTreeMap::new();
    for (l, s) in &lines {
        if !totals.contains_key(&l.0) {
            *later.entry(l.0.as_str()).or_default() += s.incentive;
        }
    }
    for (period, total) in &totals {
        let (base, rows, products): (Decimal, u64, usize) = lines.iter().filter(|(l, _)| &l.0 == period).fold((Decimal::ZERO, 0, 0), |(b, r, n), (_, s)| (b + s.base, r + s.rows, n + 1));
        if rows == 0 && args.periods.is_empty() {
            continue;
        }
        writeln!(out, "  {period}  expected incentive {:>14}  (base {}, {rows} consumption rows, {products} product lines)", fmt_money(*total), fmt_money(base)).map_err(w)?;
    }
    for (period, v) in &later {
        writeln!(out, "  {period}  {:>14} more falls due (rollover past the periods estimated: add --period {period})", fmt_money(*v)).map_err(w)?;
    }
    let rejected = summary.rejected;
    if rejected > 0 {
        writeln!(out, "{rejected} input rows rejected: see {}", rejected_to.display()).map_err(w)?;
    }
    writeln!(out, "written to {}", path.display()).map_err(w)?;
    Ok(if rejected > 0 { Status::NeedsAction } else { Status::Clean })
}
