//! `recon verify DIR`: re-run a report from its summary.json and compare every output.

use std::io::Write;
use std::path::Path;

use super::{args_from_summary, sha256};
use crate::config::{Error, RunArgs, Status};
use crate::report::summary::Summary;

/// `recon verify DIR`: checks every input's sha256 against summary.json, re-runs the
/// reconciliation with the recorded options, and compares every output file's sha256.
pub fn run(dir: &Path, out: &mut impl Write) -> Result<Status, Error> {
    let (args, summary, root) = args_from_summary(dir)?;
    let w = Error::Stdout;
    let mut changed = Vec::new();
    let recorded_rules = summary.rules.sha256.as_str();
    if sha256(&args.rules).as_deref() != Some(recorded_rules) {
        changed.push(format!("rules file {} changed (recorded sha256 {recorded_rules})", args.rules.display()));
    }
    let inputs = &summary.inputs;
    for i in inputs {
        let (label, recorded) = (i.path.as_str(), i.sha256.as_str());
        match sha256(&root.join(label)) {
            None => changed.push(format!("input {label} is missing")),
            Some(now) if now != recorded => changed.push(format!("input {label} changed: recorded sha256 {recorded}, now {now}")),
            Some(_) => {}
        }
    }
    // A report made with --previous: the previous report is an input too.
    if let (Some(p), Some(dir)) = (&summary.previous, &args.previous) {
        for (name, recorded) in [("summary.json", &p.summary_sha256), ("findings.csv", &p.findings_sha256)] {
            match sha256(&dir.join(name)) {
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
    let result = crate::exec::run(&rerun, &mut Vec::new()).map_err(|e| match e {
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
                Some((_, recorded)) => match sha256(&report.join(name)) {
                    Some(now) if now == *recorded => {}
                    now => differ.push(format!("{name}: sha256 {} is not the {recorded} summary.json lists", now.unwrap_or_else(|| "(unreadable)".into()))),
                },
            }
        }
    }
    for name in names {
        match (sha256(&report.join(&name)), sha256(&rerun.join(&name))) {
            (Some(a), Some(b)) if a == b => same.push(format!("{name}  {a}")),
            (Some(a), Some(b)) => differ.push(format!("{name}: report sha256 {a}, re-run {b}")),
            (None, _) => differ.push(format!("{name}: missing from the report")),
            (_, None) => differ.push(format!("{name}: not produced by the re-run")),
        }
    }
    (same, differ)
}

