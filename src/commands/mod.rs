//! The commands, one file each. Each takes its parsed arguments, returns a [`Status`] or an
//! [`Error`] and writes what it prints to `out`; only `main` turns them into an exit status.

use std::path::{Path, PathBuf};

use crate::config::{Error, RunArgs};
use crate::report::summary::Summary;

pub mod check_rules;
pub mod demo;
pub mod explain;
pub mod estimate;
pub mod gen;
pub mod init;
pub mod inspect;
pub mod normalize;
pub mod run;
pub mod sql;
pub mod verify;
pub mod whatif;

/// Reads a report's summary.json and rebuilds the arguments of the run that wrote it. Paths are
/// resolved from the working directory (from the source tree for `recon demo`).
pub(crate) fn args_from_summary(dir: &Path) -> Result<(RunArgs, Summary, PathBuf), Error> {
    let path = dir.join("summary.json");
    let bad = |message: String| Error::Summary { path: path.display().to_string(), message };
    let summary = Summary::read(&path).map_err(bad)?;
    let o = &summary.options;
    let command = match o.command.as_deref() {
        Some("demo") => "demo",
        Some("run") => "run",
        _ => return Err(bad("options.command is missing: the report predates re-runs".into())),
    };
    let root = if command == "demo" { demo_root() } else { std::env::current_dir().unwrap_or_default() };
    // The re-run must cite every input as the report did. A demo's paths are relative to the
    // source tree: joined to it, and cited relative to it again. A run's are cited as recorded
    // (relative to the directory it was made in, which verify must run in, or absolute): given as
    // they are, under an empty citation root, which cites every path as given; with the current
    // directory as the root instead, an absolute path under it would be cited relative to it.
    let cite_root = if command == "demo" { root.clone() } else { PathBuf::new() };
    let list = |v: &[String]| -> Vec<PathBuf> { v.iter().map(|s| cite_root.join(s)).collect() };
    let rules = o.rules.as_deref().map(|s| cite_root.join(s)).ok_or_else(|| bad("options.rules is missing".into()))?;
    let args = RunArgs {
        rules,
        consumption: list(&o.consumption),
        incentives: list(&o.incentives),
        customers: list(&o.customers),
        bills: list(&o.bills),
        periods: o.periods.clone(),
        formats: o.formats.clone(),
        sheet: o.sheet.clone(),
        previous: o.previous.as_deref().map(|s| cite_root.join(s)),
        root: Some(cite_root),
        command,
        ..RunArgs::default()
    };
    Ok((args, summary, root))
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

/// The directory demo paths are relative to: the source tree.
pub(crate) fn demo_root() -> PathBuf {
    demo_dir().parent().and_then(Path::parent).map(Path::to_path_buf).unwrap_or_default()
}

/// The sha256 of a file, or `None` when it cannot be read (a missing or unreadable input is
/// reported as such by verify and explain).
pub(crate) fn sha256(path: &Path) -> Option<String> {
    crate::outdir::sha256_file(path).ok()
}
