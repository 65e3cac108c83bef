//! The commands: `run`, `demo`, `check-rules` and `inspect`. Each returns a [`Status`] or an
//! [`Error`]; only `main` turns them into an exit code.

use std::io::Write;
use std::path::{Path, PathBuf};

pub use crate::config::{input_paths, Error, RunArgs, Status};
use crate::config::{setup, Setup};
use crate::engine::{self, Action};
use crate::load;
use crate::model::Period;
use crate::progress::Progress;
use crate::report::summary::Summary;
use crate::report::{self, Formats, ReportError, RunOptions};
use crate::rules::RuleSet;

/// Consumption and incentive input from which a run that can stream (csv and json outputs, no
/// partner bill) streams without being asked: streaming is faster from about this size on (see
/// BENCHMARKS.md) and its memory stays flat.
pub const AUTO_STREAMING_BYTES: u64 = 128 << 20;

/// Whether `args` streams: asked for with --streaming, or chosen for large inputs unless
/// --in-memory says otherwise (the outputs are the same bytes either way).
fn streams(args: &RunArgs) -> bool {
    if args.streaming {
        return true;
    }
    if args.in_memory {
        return false;
    }
    let cwd = std::env::current_dir().unwrap_or_default();
    // An input that cannot be listed is not large: the run goes on in memory, and reports it
    // there after the rules are checked (nothing is read before the rules are valid).
    let Ok(bytes) = crate::stream::input_bytes(args, args.root.as_deref().unwrap_or(&cwd)) else { return false };
    // RECON_AUTO_STREAMING_BYTES moves the threshold (the tests use it on small inputs).
    let threshold = crate::knobs::knobs().auto_streaming_bytes.unwrap_or(AUTO_STREAMING_BYTES);
    bytes >= threshold
}

/// The rules and inputs of a run, loaded and validated, not yet reconciled.
struct Prepared {
    rules: RuleSet,
    loaded: load::Loaded,
    periods: Vec<Period>,
    options: RunOptions,
    formats: Formats,
}

fn prepare(args: &RunArgs) -> Result<Prepared, Error> {
    load_inputs(setup(args)?, args)
}

/// [`prepare`] once the rules are checked: reads the inputs.
fn load_inputs(setup: Setup, args: &RunArgs) -> Result<Prepared, Error> {
    let options = setup.options(args);
    let Setup { root, rules, formats, periods } = setup;
    let paths = input_paths(args, root);
    let mut progress = Progress::new();
    progress.stage("loading inputs");
    let loaded = load::load_all(&paths, &rules)?;
    progress.finish();
    Ok(Prepared { rules, loaded, periods, options, formats })
}

impl Prepared {
    /// Reconciles, handing each finding to `emit` as it is decided and the batches to `sink`.
    fn reconcile<E: engine::Emit>(&self, emit: &E, sink: &mut dyn FnMut(Vec<E::Batch>) -> Result<(), engine::SinkError>) -> Result<engine::Outcome, Error> {
        let mut progress = Progress::new();
        progress.stage("reconciling");
        let outcome = engine::run_part(&self.loaded, &self.rules, &self.periods, None, emit, sink)?;
        progress.finish();
        Ok(outcome)
    }
}

pub fn run(args: &RunArgs, out: &mut impl Write) -> Result<Status, Error> {
    if streams(args) {
        return crate::stream::run(args, out);
    }
    let setup = setup(args)?;
    // Once the rules are valid, the run takes its --out (a lock): every output is written into
    // a staging directory there and moved into place once all are written (see crate::outdir).
    let dir = crate::outdir::OutDir::open(&args.out)?;
    load_inputs(setup, args).and_then(|p| write_run(&p, dir, args, out)).map_err(Error::unwritten)
}

/// The in-memory run from its loaded inputs: reconciles, writes the outputs into `dir`'s staging
/// directory and moves them into place.
fn write_run(p: &Prepared, dir: crate::outdir::OutDir, args: &RunArgs, out: &mut impl Write) -> Result<Status, Error> {
    let staging = dir.staging().to_path_buf();
    // findings.csv is written while the keys are decided; only the findings the other outputs
    // show are kept (see report::Keep).
    let mut csv = match p.formats.csv {
        true => Some(report::FindingsCsv::create(&staging.join("findings.csv"))?),
        false => None,
    };
    let mut keep = report::Keep::new(p.formats);
    // The records are rendered as the keys are decided; owned findings are made only for those
    // the other outputs may show.
    let render = report::Render { loaded: &p.loaded, rules: &p.rules, csv: p.formats.csv, disputes: false, keep: Some(keep.keeping()) };
    let mut outcome = p.reconcile(&render, &mut |batches: Vec<report::Rendered>| {
        for b in batches {
            if let Some(w) = &mut csv {
                w.write_records(&b.records.bytes)?;
            }
            keep.take(b.kept);
        }
        Ok(())
    })?;
    if let Some(w) = csv {
        w.finish()?;
    }
    outcome.findings = keep.into_kept();
    let mut progress = Progress::new();
    progress.stage("writing reports");
    let (_, followed) = report::write_rest(&staging, &outcome, &p.loaded, &p.rules, &p.options, p.formats)?;
    dir.commit()?;
    progress.finish();
    report::print_summary(out, &outcome, &p.loaded, &p.rules, &args.out, followed.as_ref()).map_err(Error::Stdout)?;
    let needs_action = outcome.count(Action::Dispute) + outcome.count(Action::Review) > 0 || !p.loaded.rejects.is_empty();
    Ok(if needs_action { Status::NeedsAction } else { Status::Clean })
}

/// Reads a report's summary.json and rebuilds the arguments of the run that wrote it. Paths are
/// resolved from the working directory (from the source tree for `recon demo`).
fn args_from_summary(dir: &Path) -> Result<(RunArgs, Summary, PathBuf), Error> {
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

/// The sha256 of a file, read a buffer at a time (inputs can be larger than memory).
fn sha256_file(path: &Path) -> Option<String> {
    use sha2::{Digest, Sha256};
    use std::io::Read;
    let mut file = std::fs::File::open(path).ok()?;
    let (mut hasher, mut buf) = (Sha256::new(), vec![0u8; 1 << 20]);
    loop {
        match file.read(&mut buf) {
            Ok(0) => return Some(crate::model::hex(&hasher.finalize())),
            Ok(n) => hasher.update(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return None,
        }
    }
}

/// `recon verify DIR`: checks every input's sha256 against summary.json, re-runs the
/// reconciliation with the recorded options, and compares every output file's sha256.
pub fn verify(dir: &Path, out: &mut impl Write) -> Result<Status, Error> {
    let (args, summary, root) = args_from_summary(dir)?;
    let w = Error::Stdout;
    let mut changed = Vec::new();
    let recorded_rules = summary.rules.sha256.as_str();
    if sha256_file(&args.rules).as_deref() != Some(recorded_rules) {
        changed.push(format!("rules file {} changed (recorded sha256 {recorded_rules})", args.rules.display()));
    }
    let inputs = &summary.inputs;
    for i in inputs {
        let (label, recorded) = (i.path.as_str(), i.sha256.as_str());
        match sha256_file(&root.join(label)) {
            None => changed.push(format!("input {label} is missing")),
            Some(now) if now != recorded => changed.push(format!("input {label} changed: recorded sha256 {recorded}, now {now}")),
            Some(_) => {}
        }
    }
    // A report made with --previous: the previous report is an input too.
    if let (Some(p), Some(dir)) = (&summary.previous, &args.previous) {
        for (name, recorded) in [("summary.json", &p.summary_sha256), ("findings.csv", &p.findings_sha256)] {
            match sha256_file(&dir.join(name)) {
                None => changed.push(format!("previous report {} is missing", dir.join(name).display())),
                Some(now) if &now != recorded => changed.push(format!("previous report {} changed: recorded sha256 {recorded}, now {now}", dir.join(name).display())),
                Some(_) => {}
            }
        }
    }
    if !changed.is_empty() {
        for c in &changed {
            writeln!(out, "CHANGED  {c}").map_err(w)?;
        }
        writeln!(out, "verify: {} failed: the inputs are not the ones this report was made from", dir.display()).map_err(w)?;
        return Ok(Status::NeedsAction);
    }
    writeln!(out, "inputs   {} files and the rules match their recorded sha256", inputs.len()).map_err(w)?;

    let scratch = std::env::temp_dir().join(format!("recon-verify-{}-{}", std::process::id(), std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos())));
    let rerun = RunArgs { out: scratch.clone(), ..args };
    let result = run(&rerun, &mut Vec::new()).map_err(|e| match e {
        Error::Unwritten(u) => *u.error,
        e => e,
    });
    let compared = result.map(|_| compare_dirs(dir, &scratch, &summary));
    let _ = std::fs::remove_dir_all(&scratch);
    let (same, differ) = compared?;
    for name in &same {
        writeln!(out, "same     {name}").map_err(w)?;
    }
    for d in &differ {
        writeln!(out, "DIFFERS  {d}").map_err(w)?;
    }
    if differ.is_empty() {
        writeln!(out, "verify: {} reproduces exactly ({} files)", dir.display(), same.len()).map_err(w)?;
        Ok(Status::Clean)
    } else {
        writeln!(out, "verify: {} does not reproduce: {} file(s) differ", dir.display(), differ.len()).map_err(w)?;
        Ok(Status::NeedsAction)
    }
}

/// Compares the files a re-run wrote with the report's: names of identical files, and what
/// differs. A report whose summary.json lists its outputs (`outputs`, with their sha256) must
/// hold exactly those, as listed: an output of recon's in the directory that the summary does
/// not list (left by another run) differs, and so does a listed one whose sha256 is not the
/// listed one.
fn compare_dirs(report: &Path, rerun: &Path, summary: &Summary) -> (Vec<String>, Vec<String>) {
    let mut names: Vec<String> = std::fs::read_dir(rerun)
        .map(|d| d.filter_map(|e| e.ok()).map(|e| e.file_name().to_string_lossy().to_string()).filter(|n| crate::outdir::OUTPUTS.contains(&n.as_str())).collect())
        .unwrap_or_default();
    names.sort();
    let (mut same, mut differ) = (Vec::new(), Vec::new());
    // (a report written before summary.json listed its outputs lists none: nothing to check)
    if !summary.outputs.is_empty() {
        let listed: Vec<(&str, &str)> = summary.outputs.iter().map(|o| (o.path.as_str(), o.sha256.as_str())).collect();
        for name in crate::outdir::OUTPUTS.iter().filter(|&&n| n != "summary.json") {
            let there = report.join(name).exists();
            match listed.iter().find(|(p, _)| p == name) {
                None if there => differ.push(format!("{name}: in the report directory but not among summary.json's outputs (left by another run?)")),
                None => {}
                Some(_) if !there => differ.push(format!("{name}: listed in summary.json's outputs but missing from the report directory")),
                Some((_, recorded)) => match sha256_file(&report.join(name)) {
                    Some(now) if now == *recorded => {}
                    now => differ.push(format!("{name}: sha256 {} is not the {recorded} summary.json lists", now.unwrap_or_else(|| "(unreadable)".into()))),
                },
            }
        }
    }
    for name in names {
        match (sha256_file(&report.join(&name)), sha256_file(&rerun.join(&name))) {
            (Some(a), Some(b)) if a == b => same.push(format!("{name}  {a}")),
            (Some(a), Some(b)) => differ.push(format!("{name}: report sha256 {a}, re-run {b}")),
            (None, _) => differ.push(format!("{name}: missing from the report")),
            (_, None) => differ.push(format!("{name}: not produced by the re-run")),
        }
    }
    (same, differ)
}

/// `recon explain FINDING_ID --report DIR`.
///
/// On inputs large enough that a run streams them, the finding is looked up in the report's
/// findings.csv and explained from the rows of its trade id alone (a bill finding: of its
/// customer), read a block at a time ([`crate::stream::explain`]): the memory of one block, not
/// of every row. Otherwise (small inputs, a report without findings.csv) every row is loaded.
pub fn explain(id: &str, dir: &Path, out: &mut impl Write) -> Result<Status, Error> {
    let (args, summary, root) = args_from_summary(dir)?;
    let recorded = &summary.inputs;
    // (inputs are cited relative to the directory recon runs in: compared as paths from there)
    let changed = |label: &str, now: Option<&str>| {
        if recorded.iter().find(|i| root.join(&i.path) == root.join(label)).map(|i| i.sha256.as_str()) != now {
            eprintln!("warning: input {label} has changed since the report was written; explaining from the current file");
        }
    };
    let absent = || Error::Usage(format!("no finding {id} in {} (finding ids are in findings.csv)", dir.display()));
    if streams(&args) {
        match report::explain::lookup(&dir.join("findings.csv"), id) {
            report::explain::Lookup::Absent => return Err(absent()),
            report::explain::Lookup::Found { trade, customer } => {
                let (keep, whose) = match id.starts_with('B') {
                    true => (crate::stream::Rows::Customer(&customer), format!("customer {customer}")),
                    false => (crate::stream::Rows::Trade(&trade), format!("trade id {trade}")),
                };
                let e = crate::stream::explain(&args, id, keep)?;
                // (the inputs' sha256 were taken as they were read)
                let e = e.ok_or_else(|| Error::Usage(format!("finding {id} of {} is not among the findings of {whose} decided from the current inputs: have they changed since the report?", dir.display())))?;
                for i in &e.inputs {
                    changed(&i.path, Some(&i.sha256));
                }
                report::explain::explain(&e.finding, &e.outcome, &e.loaded, &e.rules, out).map_err(Error::Stdout)?;
                return Ok(Status::Clean);
            }
            report::explain::Lookup::NoFile => {}
        }
    }
    for i in recorded {
        changed(&i.path, sha256_file(&root.join(&i.path)).as_deref());
    }
    let p = prepare(&args)?;
    let mut found = None;
    let outcome = p.reconcile(&engine::Owned, &mut |batches: Vec<Vec<engine::Finding>>| {
        if found.is_none() {
            found = batches.into_iter().flatten().find(|f| f.id == id);
        }
        Ok(())
    })?;
    let f = found.ok_or_else(absent)?;
    report::explain::explain(&f, &outcome, &p.loaded, &p.rules, out).map_err(Error::Stdout)?;
    Ok(Status::Clean)
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
fn demo_root() -> PathBuf {
    demo_dir().parent().and_then(Path::parent).map(Path::to_path_buf).unwrap_or_default()
}

/// `recon demo`: the bundled fixtures, end to end.
pub fn demo(out_dir: &Path, previous: Option<&Path>, out: &mut impl Write) -> Result<Status, Error> {
    let dir = demo_dir();
    let root = demo_root();
    let args = RunArgs {
        rules: dir.join("rules.toml"),
        consumption: vec![dir.join("consumption")],
        incentives: vec![dir.join("incentives")],
        customers: vec![dir.join("customers.csv")],
        bills: vec![dir.join("bills")],
        out: out_dir.to_path_buf(),
        root: Some(root),
        // (absolute: demo paths are cited relative to the source tree, the previous report is not)
        previous: previous.map(|p| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf())),
        command: "demo",
        ..RunArgs::default()
    };
    let status = run(&args, out)?;
    // The demo's findings need action by design; the demo itself ran, which is what its exit
    // status says (a newcomer's first command should not look like a failure).
    let w = Error::Stdout;
    if status == Status::NeedsAction {
        let s = Summary::read(&out_dir.join("summary.json")).unwrap_or_default();
        let f = &s.findings;
        writeln!(
            out,
            "demo: ran; exit status 0. `recon run` on these exports would exit 1: {} findings need action ({} dispute, {} review) and {} input {} rejected.",
            f.dispute + f.review,
            f.dispute,
            f.review,
            s.rejected,
            if s.rejected == 1 { "row was" } else { "rows were" }
        )
        .map_err(w)?;
    } else {
        writeln!(out, "demo: ran; exit status 0 (nothing needs action).").map_err(w)?;
    }
    Ok(Status::Clean)
}

/// `recon gen --rows N --out DIR [--seed S]`.
pub fn gen(rows: u64, dir: &Path, seed: u64, out: &mut impl Write) -> Result<Status, Error> {
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
