//! `recon run`: reconcile exports under a rules file and write the reports.

use std::io::Write;

use crate::config::{Error, RunArgs, Status};

/// `recon run`, in memory or partitioned (see [`crate::exec::streams`]).
pub fn run(args: &RunArgs, out: &mut impl Write) -> Result<Status, Error> {
    crate::exec::run(args, out)
}
