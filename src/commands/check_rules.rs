//! `recon check-rules FILE`: check a rules file and print the policy it defines.

use std::io::Write;
use std::path::Path;

use crate::config::{Error, Status};
use crate::rules::RuleSet;

/// `recon check-rules FILE`.
pub fn run(path: &Path, out: &mut impl Write) -> Result<Status, Error> {
    let rules = RuleSet::load(path)?;
    write!(out, "{}: ok\n{rules}", path.display()).map_err(Error::Stdout)?;
    Ok(Status::Clean)
}

