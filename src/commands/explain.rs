//! `recon explain FINDING_ID --report DIR`: every source row, rule step and the arithmetic
//! behind one finding.

use std::io::Write;
use std::path::Path;

use super::{args_from_summary, sha256};
use crate::config::{Error, Status};
use crate::report;

/// `recon explain FINDING_ID --report DIR`.
///
/// On inputs large enough that a run streams them, the finding is looked up in the report's
/// findings.csv and explained from the rows of its trade id alone (a bill finding: of its
/// customer), read a block at a time ([`crate::exec::partitioned::explain`]): the memory of one block, not
/// of every row. Otherwise (small inputs, a report without findings.csv) every row is loaded.
pub fn run(id: &str, dir: &Path, out: &mut impl Write) -> Result<Status, Error> {
    let (args, summary, root) = args_from_summary(dir)?;
    let recorded = &summary.inputs;
    // (inputs are cited relative to the directory recon runs in: compared as paths from there)
    let changed = |label: &str, now: Option<&str>| {
        if recorded.iter().find(|i| root.join(&i.path) == root.join(label)).map(|i| i.sha256.as_str()) != now {
            eprintln!("warning: input {label} has changed since the report was written; explaining from the current file");
        }
    };
    let absent = || Error::Usage(format!("no finding {id} in {} (finding ids are in findings.csv)", dir.display()));
    if crate::exec::streams(&args) {
        match report::explain::lookup(&dir.join("findings.csv"), id) {
            report::explain::Lookup::Absent => return Err(absent()),
            report::explain::Lookup::Found { trade, customer } => {
                let (keep, whose) = match id.starts_with('B') {
                    true => (crate::exec::partitioned::Rows::Customer(&customer), format!("customer {customer}")),
                    false => (crate::exec::partitioned::Rows::Trade(&trade), format!("trade id {trade}")),
                };
                let e = crate::exec::partitioned::explain(&args, id, keep)?;
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
        changed(&i.path, sha256(&root.join(&i.path)).as_deref());
    }
    let p = crate::exec::in_memory::prepare(&args)?;
    let (found, outcome) = p.find(id)?;
    let f = found.ok_or_else(absent)?;
    report::explain::explain(&f, &outcome, &p.loaded, &p.rules, out).map_err(Error::Stdout)?;
    Ok(Status::Clean)
}

