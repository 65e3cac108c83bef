//! `recon demo`: the bundled fixtures, end to end.

use std::io::Write;
use std::path::Path;

use super::{demo_dir, demo_root};
use crate::config::{Error, RunArgs, Status};
use crate::report::summary::Summary;

/// `recon demo`: the bundled fixtures, end to end.
pub fn run(out_dir: &Path, previous: Option<&Path>, out: &mut impl Write) -> Result<Status, Error> {
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
    let status = crate::exec::run(&args, out)?;
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

