//! `recon init`: drafts a rules file from the exports (contract §7; the inference is in
//! [`crate::policy::init`]).

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::config::{Error, Status};
use crate::load::{self, InputPaths};
use crate::exec::partitioned;
use crate::model::schema::Kind;
use crate::policy::init::{draft, loading_rules, present_components, Rows};
use crate::progress::Progress;
use crate::rules::RuleSet;

/// What `recon init` takes.
#[derive(Debug, Clone, Default)]
pub struct InitArgs {
    pub consumption: Vec<PathBuf>,
    pub incentives: Vec<PathBuf>,
    pub customers: Vec<PathBuf>,
    pub out: PathBuf,
    pub force: bool,
    pub sheet: Option<String>,
    /// Partition the inputs on disk (beside `out`); chosen by itself for large inputs unless
    /// `in_memory`.
    pub streaming: bool,
    pub in_memory: bool,
    pub partitions: Option<usize>,
}

/// Where the rows a draft's load rejected are written: `rules.toml` → `rules.rejected.csv`.
pub fn rejected_path(out: &Path) -> PathBuf {
    let stem = out.file_stem().map_or_else(|| "rules".to_string(), |s| s.to_string_lossy().to_string());
    out.with_file_name(format!("{stem}.rejected.csv"))
}

pub fn init(args: &InitArgs, out: &mut impl Write) -> Result<Status, Error> {
    let w = Error::Stdout;
    let rejected = rejected_path(&args.out);
    for p in [&args.out, &rejected] {
        if p.exists() && !args.force {
            return Err(Error::Usage(format!("{}: the file exists; recon init never overwrites a file: pass --force to replace it, or give another --out", p.display())));
        }
    }
    if args.out.is_dir() {
        return Err(Error::Usage(format!("{}: is a directory; --out names the rules file to write, such as {}/rules.toml", args.out.display(), args.out.display())));
    }
    let root = std::env::current_dir().unwrap_or_default();
    let paths = InputPaths {
        consumption: args.consumption.clone(),
        incentives: args.incentives.clone(),
        customers: args.customers.clone(),
        bills: Vec::new(),
        sheet: args.sheet.clone(),
        root,
    };
    let mut progress = Progress::new();
    progress.stage("loading inputs");
    let (components, partly) = present_components(&paths)?;
    let rules = RuleSet::from_toml(&loading_rules(&components), "(recon init)")?;
    let streams = args.streaming || (!args.in_memory && partitioned::each::input_bytes(&paths).is_ok_and(crate::exec::large));
    // Streamed, the rows are spilled to partitions in a directory beside --out (removed after).
    let (loaded, parts);
    let (rejects, statement_lines) = if streams {
        let dir = args.out.with_file_name(format!(".{}.recon-init-{}.partitions", args.out.file_name().map_or_else(|| "rules.toml".into(), |n| n.to_string_lossy().to_string()), std::process::id()));
        parts = Some(partitioned::each::partition(&paths, &rules, &dir, args.partitions)?);
        loaded = None;
        let p = parts.as_ref().map_or(&[][..], |p| &p.rejects[..]);
        (p, parts.as_ref().map_or(0, |p| p.accepted(Kind::Incentives)))
    } else {
        loaded = Some(load::load_all(&paths, &rules)?);
        parts = None;
        let l = loaded.as_ref().map_or(&[][..], |l| &l.rejects[..]);
        (l, loaded.as_ref().map_or(0, |l| l.incentives.len()))
    };
    progress.finish();
    if statement_lines == 0 {
        let files: Vec<String> = args.incentives.iter().map(|p| p.display().to_string()).collect();
        return Err(Error::Usage(format!(
            "{}: no statement line was read{}; a draft needs at least one statement (激励明细) to infer the policy from",
            files.join(", "),
            if rejects.iter().any(|r| r.kind == Kind::Incentives) { " (every one was rejected)" } else { "" }
        )));
    }
    let mut progress = Progress::new();
    progress.stage("inferring the policy");
    let rows = match (&loaded, &parts) {
        (Some(l), _) => Rows::Loaded(l),
        (None, Some(p)) => Rows::Partitioned(p),
        (None, None) => return Err(Error::Internal("recon init: no rows to draft from".into())),
    };
    let d = draft(rows, &rules, &components, &partly)?;
    progress.finish();
    let label = args.out.display().to_string();
    // The draft must pass check-rules: anything else is a bug of init.
    RuleSet::from_toml(&d.toml, &label).map_err(|e| Error::Internal(format!("the drafted rules do not pass check-rules: {e}")))?;
    let io = |path: &Path| {
        let path = path.display().to_string();
        move |source| Error::Report(crate::report::ReportError::Io { path, source })
    };
    if let Some(dir) = args.out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(io(dir))?;
    }
    // Written beside, then renamed over: never a half-written rules file.
    let tmp = args.out.with_file_name(format!(".{}.recon-init-{}", args.out.file_name().map_or_else(|| "rules.toml".into(), |n| n.to_string_lossy().to_string()), std::process::id()));
    std::fs::write(&tmp, d.toml.as_bytes()).map_err(io(&tmp))?;
    std::fs::rename(&tmp, &args.out).map_err(io(&args.out))?;
    for line in &d.report {
        writeln!(out, "{line}").map_err(w)?;
    }
    if !rejects.is_empty() {
        crate::report::write_rejected(&rejected, rejects)?;
        writeln!(out, "{} input rows rejected: written to {}", rejects.len(), rejected.display()).map_err(w)?;
    }
    writeln!(out, "wrote {label}: review it (CONFLICT and \"not inferred\" lines first), then").map_err(w)?;
    writeln!(out, "  recon check-rules {label}").map_err(w)?;
    writeln!(out, "  recon run --rules {label} --consumption ... --incentives ... --out reports/").map_err(w)?;
    Ok(if rejects.is_empty() { Status::Clean } else { Status::NeedsAction })
}
