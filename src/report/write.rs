//! The outputs other than findings.csv, written from one [`RunReport`] by either executor;
//! summary.json last, listing the others with their sha256.

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

use super::*;
use crate::engine::Outcome;
use crate::load::{Loaded, Reject};
use crate::model::Period;
use crate::rules::RuleSet;

pub fn write_rejected(path: &Path, rejects: &[Reject]) -> Result<(), ReportError> {
    let file = BufWriter::new(File::create(path).map_err(io_err(path))?);
    let mut w = csv::Writer::from_writer(file);
    w.write_record(["kind", "file", "location", "column", "value", "reason"]).map_err(csv_err(path))?;
    for r in rejects {
        // (every column is text: the value as the input held it, a number or not, is neutralised too)
        w.write_record([r.kind.name(), &r.file, &r.location, &r.column, &r.value, &r.reason].map(|t| neutral(t).into_owned())).map_err(csv_err(path))?;
    }
    w.flush().map_err(io_err(path))
}

/// What a run's outputs other than findings.csv are written from, by either executor.
pub struct RunReport<'a> {
    pub outcome: &'a Outcome,
    /// The inputs' summaries, rejected rows and customers (a partitioned run's rows are gone).
    pub loaded: &'a Loaded,
    pub rules: &'a RuleSet,
    /// How the run was made, as summary.json records it (paths as cited).
    pub options: &'a summary::OptionsInfo,
    pub formats: Formats,
    /// The dispute lines, in file order: an in-memory run makes them from its findings
    /// ([`disputes::disputes`]), a partitioned one in each partition, whose rows their evidence
    /// cites.
    pub disputes: Vec<disputes::Dispute>,
    /// The findings report.xlsx and report.html show.
    pub shown: Shown<'a>,
    /// With `--previous`: the previous report and this run's findings that following needs.
    pub follow: Option<changes::Following>,
}

/// Writes every output but findings.csv (complete by now), summary.json last; returns the
/// paths written and, with `--previous`, what was followed.
pub fn write_rest(dir: &Path, r: RunReport) -> Result<(Vec<PathBuf>, Option<changes::Followed>), ReportError> {
    let formats = r.formats;
    let (written, summary, followed) = write_others(dir, r)?;
    Ok((write_summary_last(dir, summary, formats, written)?, followed))
}

/// [`write_rest`] but summary.json, whose content it returns (see [`write_summary_last`]):
/// a partitioned run completes findings.csv meanwhile.
pub fn write_others(dir: &Path, r: RunReport) -> Result<(Vec<PathBuf>, summary::Summary, Option<changes::Followed>), ReportError> {
    let RunReport { outcome, loaded, rules, options, formats, disputes, shown, follow } = r;
    std::fs::create_dir_all(dir).map_err(io_err(dir))?;
    let mut summary = summary::Summary::of(outcome, loaded, rules, options);
    // The monthly cycle: follow the previous report's actionable findings into this run's
    // (checked as they were rendered), write changes.csv, and carry open disputes' numbers and
    // age into this disputes file.
    let mut disputes = disputes;
    let mut changes_written = None;
    let followed = match follow {
        None => None,
        Some(following) => {
            let previous = &following.index.previous;
            let latest = outcome.loaded_periods.iter().max().copied().unwrap_or(Period(0));
            let path = dir.join("changes.csv");
            let t = std::time::Instant::now();
            let mut followed = changes::write(&following, latest, &path)?;
            crate::obs::trace("follow the previous report, write changes.csv", t);
            changes_written = Some(path);
            followed.differences = previous.differences(&summary);
            for d in &mut disputes {
                if let Some(c) = followed.carried.get(&d.id) {
                    d.description.push_str(&format!(
                        "本问题自对账期次 {} 起已提出（问题编号 {}），至本次对账已持续 {} 个期次仍未解决，请优先处理。",
                        c.open_since, c.problem_id, c.periods_open
                    ));
                    d.id = c.problem_id.clone();
                }
            }
            summary.previous = Some(summary::PreviousInfo {
                path: previous.path.clone(),
                summary_sha256: previous.summary_sha256.clone(),
                findings_sha256: followed.findings_sha256.clone(),
                differences: followed.differences.clone(),
            });
            summary.changes = Some(followed.categories());
            Some(followed)
        }
    };
    let ctx = ReportCtx { outcome, loaded, rules, summary: &summary, disputes: &disputes, shown, changes: changes_written.as_deref() };
    // report.xlsx and report.html take the longest (a million rows of Excel; the page may read
    // all of findings.csv back): each is written on a thread of its own, the rest here.
    let traced = |name: &'static str, write: &dyn Fn(&Path) -> Result<(), ReportError>| -> Result<PathBuf, ReportError> {
        let t = std::time::Instant::now();
        let p = dir.join(name);
        write(&p)?;
        crate::obs::trace(&format!("write {name}"), t);
        Ok(p)
    };
    let (report, page, mut written) = std::thread::scope(|scope| -> Result<_, ReportError> {
        let report = formats.xlsx.then(|| scope.spawn(|| traced("report.xlsx", &|p| xlsx::write_report(p, &ctx))));
        let page = formats.html.then(|| scope.spawn(|| traced("report.html", &|p| html::write(p, &ctx))));
        let mut written = Vec::new();
        if formats.csv {
            written.push(traced("disputes.csv", &|p| disputes::write_csv(p, &disputes))?);
        }
        if formats.xlsx {
            written.push(traced("disputes.xlsx", &|p| xlsx::write_disputes(p, &ctx))?);
        }
        let joined = |h: Option<std::thread::ScopedJoinHandle<'_, Result<PathBuf, ReportError>>>| -> Result<Option<PathBuf>, ReportError> {
            h.map(|h| h.join().unwrap_or_else(|_| Err(ReportError::Panicked))).transpose()
        };
        Ok((joined(report)?, joined(page)?, written))
    })?;
    written.extend(report.into_iter().chain(page));
    let p = dir.join("rejected.csv");
    write_rejected(&p, &loaded.rejects)?;
    written.push(p);
    written.extend(changes_written);
    Ok((written, summary, followed))
}

/// Writes summary.json (with `json` output) once every other output is complete, listing them
/// (findings.csv among them when `csv`) with their sha256; returns every path written.
pub fn write_summary_last(dir: &Path, mut summary: summary::Summary, formats: Formats, mut written: Vec<PathBuf>) -> Result<Vec<PathBuf>, ReportError> {
    if formats.json {
        summary.outputs = outputs_list(dir, formats.csv, &written)?;
        let p = dir.join("summary.json");
        summary.write(&p)?;
        written.push(p);
    }
    Ok(written)
}

/// summary.json's `outputs`: the run's other output files in `dir` (findings.csv when `csv`,
/// and `written`), in [`crate::outdir::OUTPUTS`] order, each with its sha256 (hashed in
/// parallel: findings.csv can be gigabytes).
pub(crate) fn outputs_list(dir: &Path, csv: bool, written: &[PathBuf]) -> Result<Vec<summary::OutputInfo>, ReportError> {
    use rayon::prelude::*;
    let names: Vec<&str> = crate::outdir::OUTPUTS
        .iter()
        .copied()
        .filter(|&n| n != "summary.json" && ((csv && n == "findings.csv") || written.iter().any(|p| p.file_name().is_some_and(|f| f == n))))
        .collect();
    names
        .par_iter()
        .map(|&n| {
            let p = dir.join(n);
            output_sha256(&p).map(|sha256| summary::OutputInfo { path: n.to_string(), sha256 }).map_err(io_err(&p))
        })
        .collect()
}
