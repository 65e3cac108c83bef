//! The two executors of a run and the tail they share.
//!
//! [`in_memory`] loads every input and hands it to the engine's one entry
//! ([`crate::engine::run_part`]) as a single partition; [`partitioned`] spills the inputs to
//! trade id ranges on disk and hands the engine one range at a time, with the global facts.
//! Both render findings with the same encoder ([`crate::report::Render`]) and end in [`finish`]:
//! the other outputs written by the same writers, moved into place, the summary printed, the
//! exit status decided.

use std::io::Write;

use crate::config::{Error, RunArgs, Status};
use crate::engine::Action;
use crate::outdir::OutDir;
use crate::progress::Progress;
use crate::report::{self, changes, RunReport};

pub mod in_memory;
pub mod partitioned;

/// Consumption and incentive input from which a run streams without being asked: streaming is
/// faster from about this size on (see BENCHMARKS.md) and its memory stays flat.
pub const AUTO_STREAMING_BYTES: u64 = 128 << 20;

/// Whether `args` streams: asked for with --streaming, or chosen for large inputs unless
/// --in-memory says otherwise (the outputs are the same bytes either way).
pub fn streams(args: &RunArgs) -> bool {
    if args.streaming {
        return true;
    }
    if args.in_memory {
        return false;
    }
    let cwd = std::env::current_dir().unwrap_or_default();
    // An input that cannot be listed is not large: the run goes on in memory, and reports it
    // there after the rules are checked (nothing is read before the rules are valid).
    let Ok(bytes) = partitioned::input_bytes(args, args.root.as_deref().unwrap_or(&cwd)) else { return false };
    large(bytes)
}

/// Whether `bytes` of input stream by themselves (unless --in-memory).
pub fn large(bytes: u64) -> bool {
    // RECON_AUTO_STREAMING_BYTES moves the threshold (the tests use it on small inputs).
    let threshold = crate::knobs::knobs().auto_streaming_bytes.unwrap_or(AUTO_STREAMING_BYTES);
    bytes >= threshold
}

/// `recon run`: in memory or partitioned, as [`streams`] decides.
pub fn run(args: &RunArgs, out: &mut impl Write) -> Result<Status, Error> {
    run_with(args, out, false).map(|r| r.status)
}

/// What a run gives its caller: the exit status and, from [`run_summed`], its findings'
/// expected side summed per product.
pub struct Ran {
    pub status: Status,
    pub expected: report::expected::ExpectedSums,
}

/// [`run`], summing the findings' expected side per product as they are rendered (`estimate`,
/// `whatif`: no findings.csv is read back for it).
pub fn run_summed(args: &RunArgs, out: &mut impl Write) -> Result<Ran, Error> {
    run_with(args, out, true)
}

fn run_with(args: &RunArgs, out: &mut impl Write, sum_expected: bool) -> Result<Ran, Error> {
    match streams(args) {
        true => partitioned::run(args, out, sum_expected),
        false => in_memory::run(args, out, sum_expected),
    }
}

/// How findings.csv stands when the run's tail begins.
pub(crate) struct Findings<F> {
    /// Completes it (a partitioned run copies its later periods from the part files; an
    /// in-memory run's is complete: nothing to do).
    pub complete: F,
    /// Hand freed memory back to the kernel once it is complete, before the workbooks are
    /// written (a partitioned run: they are not to add to the partitions' peak).
    pub hand_back: bool,
}

/// With `--previous`, the previous report is read on a thread of its own while the run reads its
/// inputs ([`changes::Index::read`]); the run takes it before its findings are decided.
pub(crate) struct ReadingPrevious(Option<std::thread::JoinHandle<Result<changes::Index, report::ReportError>>>);

impl ReadingPrevious {
    pub fn start(previous: Option<changes::Previous>) -> ReadingPrevious {
        ReadingPrevious(previous.map(|p| std::thread::spawn(move || changes::Index::read(p))))
    }

    /// The index, once read; an error names the previous report's file.
    pub fn join(self) -> Result<Option<changes::Index>, Error> {
        match self.0 {
            None => Ok(None),
            Some(h) => match h.join() {
                Ok(index) => Ok(Some(index?)),
                Err(_) => Err(Error::Internal("the thread reading the previous report panicked".into())),
            },
        }
    }
}

/// The tail of every run: the outputs other than findings.csv, written into `dir`'s staging
/// directory (with findings.csv completed first when report.xlsx or report.html read it back,
/// else meanwhile on a thread of its own), moved into place, the summary printed on `out`, and
/// the exit status.
pub(crate) fn finish<F>(dir: OutDir, r: RunReport, findings: Findings<F>, progress: Progress, args: &RunArgs, out: &mut impl Write) -> Result<Status, Error>
where
    F: FnOnce() -> Result<(), Error> + Send,
{
    let staging = dir.staging().to_path_buf();
    let (outcome, loaded, rules) = (r.outcome, r.loaded, r.rules);
    let formats = r.formats;
    let followed = if formats.xlsx || formats.html {
        (findings.complete)()?;
        if findings.hand_back {
            // (not before: handing back memory that is taken again costs page faults and zeroing)
            crate::obs::release_memory();
        }
        report::write_rest(&staging, r)?.1
    } else {
        // (summary.json lists findings.csv's sha256: written once it is complete)
        std::thread::scope(|scope| -> Result<(), Error> {
            let completing = scope.spawn(findings.complete);
            let written = report::write_others(&staging, r);
            completing.join().unwrap_or_else(|_| Err(Error::Internal("the thread completing findings.csv panicked".into())))?;
            let (written, summary, _) = written?;
            report::write_summary_last(&staging, summary, formats, written)?;
            Ok(())
        })?;
        None
    };
    dir.commit()?;
    progress.finish();
    report::print_summary(out, outcome, loaded, rules, &args.out, followed.as_ref()).map_err(Error::Stdout)?;
    let needs_action = outcome.count(Action::Dispute) + outcome.count(Action::Review) > 0 || !loaded.rejects.is_empty();
    Ok(if needs_action { Status::NeedsAction } else { Status::Clean })
}
