//! The commands: `run`, `demo`, `check-rules` and `inspect`. Each returns a [`Status`] or an
//! [`Error`]; only `main` turns them into an exit code.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::engine::{self, Action, EngineError};
use crate::load::table::label_of;
use crate::load::{self, InputPaths, LoadError};
use crate::model::Period;
use crate::report::{self, Formats, ReportError, RunOptions};
use crate::rules::{RuleSet, RulesError};

/// How a command ended when it did not fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Nothing needs action and nothing was rejected.
    Clean,
    /// Some finding is `dispute` or `review`, or an input row was rejected.
    NeedsAction,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Rules(#[from] RulesError),
    #[error(transparent)]
    Load(#[from] LoadError),
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error(transparent)]
    Report(#[from] ReportError),
    #[error("{0}")]
    Usage(String),
    #[error("cannot write to standard output")]
    Stdout(#[source] std::io::Error),
}

/// Everything `recon run` takes.
#[derive(Debug, Clone, Default)]
pub struct RunArgs {
    pub rules: PathBuf,
    pub consumption: Vec<PathBuf>,
    pub incentives: Vec<PathBuf>,
    pub bills: Vec<PathBuf>,
    pub customers: Vec<PathBuf>,
    pub periods: Vec<String>,
    pub out: PathBuf,
    pub formats: Vec<String>,
    pub sheet: Option<String>,
    /// Outputs cite input files relative to this directory.
    pub root: Option<PathBuf>,
    /// `run` or `demo`, recorded for re-runs.
    pub command: &'static str,
}

pub fn run(args: &RunArgs, out: &mut impl Write) -> Result<Status, Error> {
    // The rules are validated before any data is read.
    let root = match &args.root {
        Some(r) => r.clone(),
        None => std::env::current_dir().unwrap_or_default(),
    };
    let mut rules = RuleSet::load(&args.rules)?;
    rules.path = label_of(&args.rules, &root);
    if !args.bills.is_empty() {
        return Err(Error::Usage("--bills: partner bill reconciliation is not built yet; run without --bills".into()));
    }
    let formats = Formats::parse(&args.formats).map_err(Error::Usage)?;
    let periods = args
        .periods
        .iter()
        .map(|s| Period::parse(s).ok_or_else(|| Error::Usage(format!("--period {s:?}: expected a period such as 2026-10"))))
        .collect::<Result<Vec<_>, _>>()?;
    let paths = InputPaths {
        consumption: args.consumption.clone(),
        incentives: args.incentives.clone(),
        customers: args.customers.clone(),
        sheet: args.sheet.clone(),
        root,
    };
    let t = std::time::Instant::now();
    let loaded = load::load_all(&paths, &rules)?;
    trace("load", t);
    let t = std::time::Instant::now();
    let outcome = engine::run(&loaded, &rules, &periods)?;
    trace("engine", t);
    let t = std::time::Instant::now();
    let label = |v: &[PathBuf]| v.iter().map(|p| PathBuf::from(label_of(p, &paths.root))).collect::<Vec<_>>();
    let options = RunOptions {
        command: args.command,
        formats: formats.names(),
        rules: PathBuf::from(label_of(&args.rules, &paths.root)),
        consumption: label(&args.consumption),
        incentives: label(&args.incentives),
        customers: label(&args.customers),
        periods,
        sheet: args.sheet.clone(),
    };
    report::write_all(&args.out, &outcome, &loaded, &rules, &options, formats)?;
    trace("write", t);
    report::print_summary(out, &outcome, &loaded, &rules, &args.out).map_err(Error::Stdout)?;
    let needs_action = outcome.count(Action::Dispute) + outcome.count(Action::Review) > 0 || !loaded.rejects.is_empty();
    Ok(if needs_action { Status::NeedsAction } else { Status::Clean })
}

/// With `RECON_TRACE` set, prints how long a stage took to stderr (for profiling).
pub fn trace(stage: &str, since: std::time::Instant) {
    if std::env::var_os("RECON_TRACE").is_some() {
        eprintln!("[trace] {stage:<28} {:>8.3} s", since.elapsed().as_secs_f64());
    }
}

/// Where the bundled demo fixtures are: `fixtures/demo` of the source tree.
pub fn demo_dir() -> PathBuf {
    let built = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/demo");
    if built.is_dir() {
        built
    } else {
        PathBuf::from("fixtures/demo")
    }
}

/// `recon demo`: the bundled fixtures, end to end.
pub fn demo(out_dir: &Path, out: &mut impl Write) -> Result<Status, Error> {
    let dir = demo_dir();
    let root = dir.parent().and_then(Path::parent).map(Path::to_path_buf).unwrap_or_default();
    let args = RunArgs {
        rules: dir.join("rules.toml"),
        consumption: vec![dir.join("consumption")],
        incentives: vec![dir.join("incentives")],
        customers: vec![dir.join("customers.csv")],
        out: out_dir.to_path_buf(),
        root: Some(root),
        command: "demo",
        ..RunArgs::default()
    };
    run(&args, out)
}

/// `recon check-rules FILE`.
pub fn check_rules(path: &Path, out: &mut impl Write) -> Result<Status, Error> {
    let rules = RuleSet::load(path)?;
    write!(out, "{}: ok\n{rules}", path.display()).map_err(Error::Stdout)?;
    Ok(Status::Clean)
}

/// `recon inspect FILE`.
pub fn inspect(path: &Path, rules: Option<&Path>, sheet: Option<&str>, out: &mut impl Write) -> Result<Status, Error> {
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
