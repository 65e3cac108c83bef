//! The in-memory executor: every input loaded, reconciled as one partition by the engine's one
//! entry, findings.csv written as the keys are decided, then the shared tail ([`super::finish`]).

use std::io::Write;

use crate::config::{input_paths, setup, Error, RunArgs, Setup};
use crate::engine;
use crate::load;
use crate::model::Period;
use crate::progress::Progress;
use crate::report::{self, Formats, RunReport};
use crate::report::summary::OptionsInfo;
use crate::rules::RuleSet;

/// The rules and inputs of a run, loaded and validated, not yet reconciled.
pub struct Prepared {
    pub rules: RuleSet,
    pub loaded: load::Loaded,
    pub periods: Vec<Period>,
    pub options: OptionsInfo,
    pub formats: Formats,
}

/// Checks the rules, then reads the inputs.
pub fn prepare(args: &RunArgs) -> Result<Prepared, Error> {
    load_inputs(setup(args)?, args)
}

/// [`prepare`] once the rules are checked: reads the inputs.
fn load_inputs(setup: Setup, args: &RunArgs) -> Result<Prepared, Error> {
    let options = setup.options(args);
    let Setup { root, rules, formats, periods, .. } = setup;
    let paths = input_paths(args, root);
    let mut progress = Progress::new();
    progress.stage("loading inputs");
    let loaded = load::load_all(&paths, &rules)?;
    progress.finish();
    Ok(Prepared { rules, loaded, periods, options, formats })
}

impl Prepared {
    /// Reconciles, handing each finding to `emit` as it is decided and the batches to `sink`.
    pub fn reconcile<E: engine::Emit>(&self, emit: &E, sink: &mut dyn FnMut(Vec<E::Batch>) -> Result<(), engine::SinkError>) -> Result<engine::Outcome, Error> {
        let mut progress = Progress::new();
        progress.stage("reconciling");
        let outcome = engine::run_part(&self.loaded, &self.rules, &self.periods, None, emit, sink)?;
        progress.finish();
        Ok(outcome)
    }

    /// Reconciles and returns the finding `id`, if any, with the outcome (`recon explain`).
    pub fn find(&self, id: &str) -> Result<(Option<engine::Finding>, engine::Outcome), Error> {
        let mut found = None;
        let outcome = self.reconcile(&engine::Owned, &mut |batches: Vec<Vec<engine::Finding>>| {
            if found.is_none() {
                found = batches.into_iter().flatten().find(|f| f.id == id);
            }
            Ok(())
        })?;
        Ok((found, outcome))
    }
}

/// `recon run` in memory.
pub fn run(args: &RunArgs, out: &mut impl Write, sum_expected: bool) -> Result<super::Ran, Error> {
    let mut setup = setup(args)?;
    // Once the rules are valid, the run takes its --out (a lock): every output is written into
    // a staging directory there and moved into place once all are written (see crate::outdir).
    let dir = crate::outdir::OutDir::open(&args.out)?;
    let previous = super::ReadingPrevious::start(setup.previous.take());
    load_inputs(setup, args).and_then(|p| write_run(&p, dir, previous, sum_expected, args, out)).map_err(Error::unwritten)
}

/// The in-memory run from its loaded inputs: reconciles, writing findings.csv as the keys are
/// decided, then the shared tail.
fn write_run(p: &Prepared, dir: crate::outdir::OutDir, previous: super::ReadingPrevious, sum_expected: bool, args: &RunArgs, out: &mut impl Write) -> Result<super::Ran, Error> {
    let staging = dir.staging().to_path_buf();
    let index = previous.join()?;
    let mut candidates = Vec::new();
    let mut expected = report::expected::ExpectedSums::default();
    // findings.csv is written while the keys are decided; only the findings the other outputs
    // show are kept (see report::Keep).
    let mut csv = match p.formats.csv {
        true => Some(report::FindingsCsv::create(&staging.join("findings.csv"))?),
        false => None,
    };
    let mut keep = report::Keep::new(p.formats);
    // The records are rendered as the keys are decided; owned findings are made only for those
    // the other outputs may show.
    let render = report::Render { loaded: &p.loaded, rules: &p.rules, csv: p.formats.csv, disputes: false, keep: Some(keep.keeping()), follow: index.as_ref(), sum_expected };
    let mut outcome = p.reconcile(&render, &mut |batches: Vec<report::Rendered>| {
        for b in batches {
            if let Some(w) = &mut csv {
                w.write_records(&b.records.bytes)?;
            }
            keep.take(b.kept);
            candidates.extend(b.follow);
            expected.merge(b.expected);
        }
        Ok(())
    })?;
    if let Some(w) = csv {
        w.finish()?;
    }
    outcome.findings = keep.into_kept();
    let mut progress = Progress::new();
    progress.stage("writing reports");
    let disputes = report::disputes::disputes(&outcome, &p.loaded, &p.rules);
    let r = RunReport { outcome: &outcome, loaded: &p.loaded, rules: &p.rules, options: &p.options, formats: p.formats, disputes, shown: report::Shown::Kept(&outcome.findings), follow: index.map(|index| report::changes::Following { index, candidates }) };
    let status = super::finish(dir, r, super::Findings { complete: || Ok(()), hand_back: false }, progress, args, out)?;
    Ok(super::Ran { status, expected })
}
