//! A run's options, resolved once: the arguments of `recon run` (or of a re-run from a report's
//! summary.json), the rules validated before any data is read, the output formats, the periods
//! asked for and the directory paths are cited from; and the error and status every command
//! returns. Below the executors, which take a resolved [`Setup`], and the commands.

use std::path::PathBuf;

use crate::engine::EngineError;
use crate::load::table::label_of;
use crate::load::{InputPaths, LoadError};
use crate::model::Period;
use crate::report::summary::OptionsInfo;
use crate::report::{Formats, ReportError};
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
    /// A file this run wrote itself (a partition, a findings part) does not read back as written.
    #[error("{path}: {message}")]
    Corrupt { path: String, message: String },
    /// A file this run wrote itself cannot be read back.
    #[error("cannot read {path} (a temporary file of this run)")]
    ReadBack {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// What cannot happen unless recon has a bug (a thread that panicked, a partition lost).
    #[error("internal error: {0} (a bug in recon; please report it with the command that was run)")]
    Internal(String),
    #[error("{path}: {message}")]
    Summary { path: String, message: String },
    #[error("cannot write to standard output")]
    Stdout(#[source] std::io::Error),
    #[error(transparent)]
    Out(#[from] crate::outdir::OutError),
    #[error(transparent)]
    Unwritten(Unwritten),
    /// A table or script of `recon normalize` / `recon sql` cannot be written.
    #[error("cannot write {path}: {message}")]
    Normalize { path: String, message: String },
}

/// The error of a run that failed after it took its --out and before it moved its outputs into
/// place: nothing of it was written there (see [`crate::outdir`]).
#[derive(Debug)]
pub struct Unwritten {
    pub error: Box<Error>,
}

impl std::fmt::Display for Unwritten {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.error.fmt(f)
    }
}

impl std::error::Error for Unwritten {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.error.source()
    }
}

impl Error {
    /// This error, marked as one after which --out was left as it was: every error but one while
    /// moving the outputs into place, or writing to stdout after.
    pub(crate) fn unwritten(self) -> Error {
        match self {
            Error::Out(crate::outdir::OutError::Commit { .. }) | Error::Stdout(_) | Error::Unwritten(_) => self,
            error => Error::Unwritten(Unwritten { error: Box::new(error) }),
        }
    }

    /// What to say after the error: that the run left its --out as it was.
    pub fn note(&self) -> Option<String> {
        match self {
            Error::Unwritten(_) => Some("recon: nothing of this run was written: the report in --out, if any, is as it was".to_string()),
            _ => None,
        }
    }
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
    /// Outputs cite input files relative to this directory (the current one when `None`; an
    /// empty path cites them as given, see `args_from_summary`).
    pub root: Option<PathBuf>,
    /// `run` or `demo`, recorded for re-runs.
    pub command: &'static str,
    /// Partition the inputs on disk and reconcile a partition at a time (see [`crate::stream`]).
    pub streaming: bool,
    /// Partitions of a streamed run (default: one per 16 MiB of input).
    pub partitions: Option<usize>,
    /// Never stream, however large the inputs (`--in-memory`).
    pub in_memory: bool,
    /// An earlier report to follow (`--previous`, contract §6).
    pub previous: Option<PathBuf>,
}

/// What every run checks before reading data: the rules (validated before any data is read),
/// the output formats, the periods asked for, and the directory paths are cited from.
pub(crate) struct Setup {
    pub root: PathBuf,
    pub rules: RuleSet,
    pub formats: Formats,
    pub periods: Vec<Period>,
    /// The earlier report to follow (`--previous`), opened: its summary.json read and checked.
    pub previous: Option<crate::report::changes::Previous>,
}

pub(crate) fn setup(args: &RunArgs) -> Result<Setup, Error> {
    let root = match &args.root {
        Some(r) => r.clone(),
        None => std::env::current_dir().unwrap_or_default(),
    };
    let mut rules = RuleSet::load(&args.rules)?;
    rules.path = label_of(&args.rules, &root);
    let mut formats = Formats::parse(&args.formats).map_err(Error::Usage)?;
    let previous = match &args.previous {
        // Checked before any data is read. This run's findings.csv is always written: the
        // next month's run follows it.
        Some(p) => {
            formats.csv = true;
            Some(crate::report::changes::Previous::open(p, p.display().to_string())?)
        }
        None => None,
    };
    let periods = args
        .periods
        .iter()
        .map(|s| Period::parse(s).ok_or_else(|| Error::Usage(format!("--period {s:?}: expected a period such as 2026-10"))))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Setup { root, rules, formats, periods, previous })
}

impl Setup {
    /// The options recorded in summary.json for re-runs (paths as cited from the root).
    pub(crate) fn options(&self, args: &RunArgs) -> OptionsInfo {
        let label = |p: &PathBuf| label_of(p, &self.root);
        OptionsInfo {
            command: Some(args.command.to_string()),
            rules: Some(label(&args.rules)),
            consumption: args.consumption.iter().map(label).collect(),
            incentives: args.incentives.iter().map(label).collect(),
            customers: args.customers.iter().map(label).collect(),
            bills: args.bills.iter().map(label).collect(),
            periods: self.periods.iter().map(|p| p.to_string()).collect(),
            sheet: args.sheet.clone(),
            formats: self.formats.names().into_iter().map(String::from).collect(),
            previous: args.previous.as_ref().map(label),
        }
    }
}

/// The input files a run names, relative to `root`.
pub fn input_paths(args: &RunArgs, root: PathBuf) -> InputPaths {
    InputPaths {
        consumption: args.consumption.clone(),
        incentives: args.incentives.clone(),
        customers: args.customers.clone(),
        bills: args.bills.clone(),
        sheet: args.sheet.clone(),
        root,
    }
}

