//! Streamed runs (`recon run --streaming`): inputs larger than memory reconcile in bounded memory
//! by partitioning them on disk.
//!
//! Every decision of the engine depends on the rows of one `(trade id, service)` only (a key is
//! `(period, trade id, service)`; PERIOD_SHIFT pairs and the facts of rules 11 to 13 look across
//! the periods of one trade and service), plus two global facts: which statement periods and
//! which bill cycles are loaded. So:
//!
//! 1. the consumption and incentive files are read a block at a time; each block is parsed and
//!    validated by the same code as an in-memory run (same rejections, same citations), and its
//!    accepted rows are spilled, typed, to one of N partition files by trade id: partition k
//!    holds a range of trade ids, cut at quantiles of trade ids sampled from the files with a
//!    few short reads; customers are loaded whole (every partition needs them);
//! 2. the partitions are reconciled, one more at a time than there are threads (as many as the
//!    threads under a memory limit), by the ordinary engine with the global facts; each writes
//!    its findings (sorted by period, trade id, service) to a part file and notes where each
//!    period's findings start, makes its dispute lines while its rows are at hand, and returns
//!    its waterfall figures, which are added up;
//! 3. findings.csv is the concatenation, period by period, of each partition's findings of that
//!    period in partition order: the partitions are trade id ranges, so that is sorted order.
//!    The first period in scope (no finding comes before it) is appended while pass 2 runs, each
//!    partition's as soon as those before it are done; only the later periods are copied from
//!    the part files at the end. findings.csv, the part files and the spill are written, and
//!    read back, around the page cache ([`report::direct`]): on the machines we measure, fresh
//!    page-cache pages cost more than the device (BENCHMARKS.md). Each worker reads its next
//!    partition's spill while it reconciles the current one.
//!
//! The partner bill's lines are spilled by trade id too. A bill group is (cycle, customer,
//! service[, charging mode][, trade id]), its grain fixed per cycle by facts about every line
//! and every resale consumption row, which pass 1 counts. Each partition sums its groups
//! ([`engine::bills::partials`]) into a sorted file; pass 3 merges those files in key order (a
//! group compared by customer only may have parts in several partitions), decides each group as
//! an in-memory run does and appends it to findings.csv after the incentive findings.
//! report.xlsx and report.html read their findings back from the completed findings.csv.
//!
//! The outputs are byte-identical to an in-memory run on the same inputs (tested). Peak memory is
//! that of one block plus one partition.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use crate::config::{Error, RunArgs};
use crate::engine::{self, Counts, Outcome, PeriodReport};
use crate::load::schema::Kind;
use crate::load::{self, Loaded};
use crate::model::Period;
use crate::progress::Progress;
use crate::report::{self, disputes::Dispute, Formats, ReportError, RunReport};
use crate::report::summary::OptionsInfo;
use crate::rules::RuleSet;

mod bills;
pub mod each;
mod explain;
mod plan;
mod pool;
mod route;
mod spill;

pub use explain::{explain, Explained, Rows, READ_FOR_EXPLAIN};
pub use plan::input_bytes;

/// The block a streamed read parses at a time (smaller under a cgroup memory limit).
pub fn block_bytes() -> usize {
    own_limit().1
}
use plan::{own_limit, partitions, workers, Plan, Ranges, SAMPLES_PER_FILE};
use pool::Shared;
use route::{read_inputs, Pass1, Spilling};

pub(super) fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Report(ReportError::Io { path: path.display().to_string(), source })
}

/// A temporary file of this run that cannot be read back.
pub(super) fn read_error(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::ReadBack { path: path.display().to_string(), source }
}

/// `recon run --streaming`.
pub fn run(args: &RunArgs, out: &mut impl Write, sum_expected: bool) -> Result<super::Ran, Error> {
    let setup = crate::config::setup(args)?;
    let options = setup.options(args);
    let crate::config::Setup { root, rules, formats, periods, previous } = setup;
    // Once the rules are valid, the run takes its --out (a lock): the outputs are written into a
    // staging directory there and moved into place at the end (see crate::outdir); the
    // partition files lie beside it.
    let dir = crate::outdir::OutDir::open(&args.out)?;
    let previous = super::ReadingPrevious::start(previous);
    let tmp = dir.partitions();
    let result = (|| {
        let (limit, block) = own_limit();
        let n = partitions(args, &root, limit)?;
        let plan = Plan { n, workers: workers(rayon::current_num_threads(), limit).clamp(1, n), block, limit };
        std::fs::create_dir_all(&tmp).map_err(io_error(&tmp))?;
        run_in(args, (&rules, formats, &options, &periods), (previous, sum_expected), plan, &root, &tmp, dir, out)
    })()
    .map_err(Error::unwritten);
    let _ = std::fs::remove_dir_all(&tmp);
    result
}


/// The three passes of a partitioned run, its partition files under `tmp`, then the tail every
/// run shares ([`super::finish`]).
#[allow(clippy::too_many_arguments)]
fn run_in(
    args: &RunArgs,
    (rules, formats, options, periods): (&RuleSet, Formats, &OptionsInfo, &[Period]),
    (previous, sum_expected): (super::ReadingPrevious, bool),
    plan: Plan,
    root: &Path,
    tmp: &Path,
    dir: crate::outdir::OutDir,
    out: &mut impl Write,
) -> Result<super::Ran, Error> {
    let Plan { n, workers, block, limit } = plan;
    let staging = dir.staging().to_path_buf();
    let paths = crate::config::input_paths(args, root.to_path_buf());
    let mut progress = Progress::new();

    // Pass 1: read, validate and spill, to trade id ranges cut at sampled quantiles.
    progress.stage("reading and partitioning inputs");
    let t = std::time::Instant::now();
    let samples = load::sample_trade_ids(&paths.consumption, root, Kind::Consumption, rules, SAMPLES_PER_FILE)?;
    let ranges = Ranges::from_samples(samples, n);
    crate::obs::trace("streaming: trade ids sampled, partitions cut", t);
    let n = ranges.len();
    let mut spill = Spilling { dir: tmp, ranges: &ranges, open: None, parts: Default::default(), failed: None };
    let Pass1 { inputs, rejects, globals, customers, cons_prov, inc_prov, bill_prov, bill_lines, assoc } = read_inputs(&paths, rules, block, &mut spill)?;
    let [cons_parts, inc_parts, bill_parts] = spill.parts;
    crate::obs::trace("streaming: read and partition", t);

    // With --previous, the previous report (read meanwhile) is needed from now on: each
    // partition checks its findings against it as they are rendered.
    let t = std::time::Instant::now();
    let index = previous.join()?;
    if index.is_some() {
        crate::obs::trace("streaming: the previous report read (waited for)", t);
    }

    // Pass 2: reconcile the partitions, as many at a time as there are threads.
    let counter = progress.stage_of("partitions reconciled", n as u64);
    let t = std::time::Instant::now();
    let (loaded_periods, scope_periods) = engine::periods(&globals.incentive_periods, periods);
    let first = scope_periods.first().copied();
    let shared = Shared { rules, periods, globals: &globals, customers: customers.as_ref(), cons_prov: &cons_prov, inc_prov: &inc_prov, bill_prov: &bill_prov, tmp, first, follow: index.as_ref(), sum_expected };
    // findings.csv is begun now: each partition's findings of the first period go straight to
    // it, in partition order, as soon as the partitions before it are done; the later periods'
    // are copied from the part files afterwards (pass 3).
    // (report.xlsx and report.html read it back: without csv output it is written among the
    // partition files, and removed with them.)
    let workbooks = formats.xlsx || formats.html;
    let findings_path = if formats.csv { staging.join("findings.csv") } else { tmp.join("findings.csv") };
    let findings_csv = if formats.csv || workbooks { Some(report::FindingsCsv::create(&findings_path)?) } else { None };
    let (parts, findings_csv) = pool::reconcile(n, workers, limit, [&cons_parts, &inc_parts, &bill_parts], &shared, findings_csv, &counter, t)?;
    if parts.len() != n {
        return Err(Error::Internal("a partition was not reconciled".into()));
    }
    let mut reports: BTreeMap<Period, PeriodReport> = BTreeMap::new();
    let mut counts = Counts::default();
    let mut disputes: Vec<Dispute> = Vec::new();
    let mut candidates = Vec::new();
    let mut expected = report::expected::ExpectedSums::default();
    let mut finding_parts = Vec::with_capacity(n);
    let mut bill_groups = Vec::new();
    for part in parts {
        counts.absorb(part.counts);
        bill_groups.extend(part.bills);
        for r in part.periods {
            match reports.get_mut(&r.period) {
                Some(acc) => acc.absorb(&r),
                None => {
                    reports.insert(r.period, r);
                }
            }
        }
        disputes.extend(part.disputes);
        candidates.extend(part.follow);
        expected.merge(part.expected);
        finding_parts.push(part.findings);
    }
    // findings.csv's order: period by period, each partition's in partition order (a stable
    // sort of the partitions' candidates, each partition's sorted by period already).
    candidates.sort_by_key(|c: &report::changes::Candidate| c.period);
    crate::obs::trace(&format!("streaming: reconcile {n} partitions"), t);

    // Pass 3: concatenate and write.
    progress.stage("writing reports");
    let t = std::time::Instant::now();
    report::disputes::sort(&mut disputes);
    let mut findings_csv = findings_csv;
    let mut bill_cycles = Vec::new();
    if let Some(grain) = &globals.bill_grain {
        // The bill findings come after every incentive finding, and their totals go into
        // summary.json: findings.csv is completed first, then they are appended.
        if let Some(w) = findings_csv.as_mut() {
            pool::concatenate(&finding_parts, w)?;
            crate::obs::trace("streaming: findings.csv completed from the part files", t);
        }
        let list = customers.as_deref();
        let whose = |cust: &str| assoc.of(list, cust);
        bill_cycles = bills::bill_findings(&bill_groups, grain, &whose, rules, (&cons_prov, &bill_prov), findings_csv.as_mut(), &mut counts, bill_lines, (index.as_ref(), &mut candidates))?;
        if let Some(w) = findings_csv.take() {
            w.finish()?;
            crate::obs::trace("streaming: findings.csv completed with the bill findings", t);
        }
    }
    let outcome = Outcome {
        loaded_periods,
        scope: scope_periods.clone(),
        periods: scope_periods.iter().filter_map(|p| reports.remove(p)).collect(),
        findings: Vec::new(),
        counts,
        rows: Default::default(),
        bills: bill_cycles,
        bill_parts: Vec::new(),
        bill_others: BTreeMap::new(),
    };
    let summary_loaded = Loaded { inputs, rejects, customers, skipped: paths.skipped(), ..Loaded::default() };
    let complete = move || -> Result<(), Error> {
        if let Some(mut findings_csv) = findings_csv {
            pool::concatenate(&finding_parts, &mut findings_csv)?;
            findings_csv.finish()?;
            crate::obs::trace("streaming: findings.csv completed from the part files", t);
        }
        Ok(())
    };
    // report.xlsx and report.html show findings read back from the completed findings.csv (the
    // partitions' rows are gone by then; their citations are in the file).
    let shown = match workbooks {
        true => report::Shown::File(&findings_path),
        false => report::Shown::Kept(&[]),
    };
    let follow = index.map(|index| report::changes::Following { index, candidates });
    let r = RunReport { outcome: &outcome, loaded: &summary_loaded, rules, options, formats, disputes, shown, follow };
    let status = super::finish(dir, r, super::Findings { complete, hand_back: true }, progress, args, out);
    crate::obs::trace("streaming: merge and write", t);
    Ok(super::Ran { status: status?, expected })
}
