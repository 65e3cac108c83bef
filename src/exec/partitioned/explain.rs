//! `recon explain` on inputs too large to load: pass 1's reading, keeping one finding's rows.

use std::path::Path;

use super::plan::own_limit;
use super::route::{read_inputs, Keep, Pass1};
use super::spill::{cited, read_back};
use crate::config::{Error, RunArgs};
use crate::engine::{self, Globals, Outcome};
use crate::load::{self, Loaded};
use crate::progress::Progress;
use crate::rules::RuleSet;

/// What [`explain`] found: one finding, decided from the rows of its trade id, and what
/// `report::explain` needs beside it.
pub struct Explained {
    pub finding: engine::Finding,
    pub outcome: Outcome,
    pub loaded: Loaded,
    pub rules: RuleSet,
    /// The inputs as read now (their sha256 is compared with the report's).
    pub inputs: Vec<load::InputSummary>,
}


/// Whose rows [`explain`] keeps.
pub enum Rows<'a> {
    /// Those of a trade id: for a consumption/statement finding (`F…`).
    Trade(&'a str),
    /// The consumption rows and bill lines of a customer: for a bill finding (`B…`).
    Customer(&'a str),
}

/// `recon explain` on inputs too large to load: the inputs are read a block at a time as in
/// pass 1 of a streamed run (same checks, rejections and citations, the same global facts),
/// keeping only some rows, and those are reconciled with the global facts, as a partition is.
/// Every key of a trade id lies in that trade id's rows (what partitioning rests on, see the
/// module's text), and every bill group of a customer in that customer's rows, the grain being
/// that of all the lines; so the finding is decided, row for row, as the run decided it. `None`
/// when no finding of those rows has the id (the inputs changed since the report).
pub fn explain(args: &RunArgs, id: &str, keep: Rows) -> Result<Option<Explained>, Error> {
    let crate::config::Setup { root, rules, periods, .. } = crate::config::setup(args)?;
    let with_bills = matches!(keep, Rows::Customer(_)) && !args.bills.is_empty();
    let mut paths = crate::config::input_paths(args, root.clone());
    if !with_bills {
        paths.bills.clear();
    }
    let (_, block) = own_limit();
    let mut progress = Progress::new();
    progress.stage("reading the inputs for the finding's rows");
    let t = std::time::Instant::now();
    let mut kept = Keep { keep, rows: Default::default() };
    let Pass1 { inputs, globals, customers, cons_prov, inc_prov, bill_prov, .. } = read_inputs(&paths, &rules, block, &mut kept)?;
    let globals = Globals { bill_groups_whole: true, ..globals };
    let [cons_rows, inc_rows, bill_rows] = kept.rows;
    let mut loaded = Loaded { customers, ..Loaded::default() };
    crate::obs::trace(READ_FOR_EXPLAIN, t);
    loaded.consumption.counted = vec![Vec::new(); rules.counted.len()];
    let label = Path::new("(the kept rows)");
    let mut prov = cited(&cons_prov);
    read_back(&cons_rows, label, &mut loaded.consumption, &mut prov)?;
    loaded.consumption.prov = prov;
    let mut prov = cited(&inc_prov);
    read_back(&inc_rows, label, &mut loaded.incentives, &mut prov)?;
    loaded.incentives.prov = prov;
    if with_bills {
        let (mut b, mut prov) = (load::Bills::default(), cited(&bill_prov));
        read_back(&bill_rows, label, &mut b, &mut prov)?;
        b.prov = prov;
        loaded.bills = Some(b);
    }
    progress.stage("reconciling the finding's rows");
    let mut found = None;
    let outcome = engine::run_part(&loaded, &rules, &periods, Some(&globals), &engine::Owned, &mut |batches: Vec<Vec<engine::Finding>>| {
        if found.is_none() {
            found = batches.into_iter().flatten().find(|f| f.id == id);
        }
        Ok(())
    })?;
    progress.finish();
    Ok(found.map(|finding| Explained { finding, outcome, loaded, rules, inputs }))
}

/// The trace line of [`explain`]'s reading (the tests look for it).
pub const READ_FOR_EXPLAIN: &str = "explain: the rows of the finding's trade id or customer read";
