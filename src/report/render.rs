//! The emitter that renders findings as the engine decides them, and what a run keeps of them
//! for the outputs other than findings.csv.


use super::*;
use crate::engine::{Action, Emit, Finding, FindingRef};
use crate::load::Loaded;
use crate::rules::RuleSet;

/// The findings.csv records of a chunk of findings: their bytes, one after the other, and where
/// each ends.
#[derive(Debug, Default)]
pub struct Records {
    pub bytes: Vec<u8>,
    pub ends: Vec<usize>,
}

/// Findings rendered as they are decided: their findings.csv records (when csv is written) with
/// the period of each, the dispute lines of the `dispute` ones (a streamed run), and the findings
/// the other outputs may show, owned (an in-memory run; see [`Keep::keeping`]).
#[derive(Debug, Default)]
pub struct Rendered {
    pub records: Records,
    pub periods: Vec<crate::model::Period>,
    pub disputes: Vec<disputes::Dispute>,
    pub kept: Vec<Finding>,
    /// With `--previous`: the findings that following needs ([`changes::Index::candidate`]).
    pub follow: Vec<changes::Candidate>,
    /// With `sum_expected`: the findings' expected side per product ([`expected`]).
    pub expected: expected::ExpectedSums,
    scratch: String,
}

/// The [`Emit`] that renders findings (see [`Rendered`]).
pub struct Render<'a> {
    pub loaded: &'a Loaded,
    pub rules: &'a RuleSet,
    /// Whether findings.csv is written.
    pub csv: bool,
    /// Whether dispute lines are made here.
    pub disputes: bool,
    /// Which findings are kept, owned (none when `None`).
    pub keep: Option<Keeping>,
    /// With `--previous`: the previous report, which each finding is checked against.
    pub follow: Option<&'a changes::Index>,
    /// Whether the expected side is summed per product (`estimate`, `whatif`).
    pub sum_expected: bool,
}

impl Emit for Render<'_> {
    type Batch = Rendered;
    fn emit(&self, b: &mut Rendered, f: &FindingRef) {
        if self.csv {
            if b.records.bytes.capacity() == 0 {
                // about a batch of records (see engine::BATCH_KEYS), without growing it on the way
                b.records.bytes.reserve(1 << 19);
            }
            write_finding(&mut b.records.bytes, f, self.loaded, &mut b.scratch);
            b.records.ends.push(b.records.bytes.len());
            b.periods.push(f.period);
        }
        if self.disputes && f.action == Action::Dispute {
            b.disputes.push(disputes::dispute(f, self.loaded, self.rules));
        }
        if self.keep.is_some_and(|k| k.wants(f.action)) {
            b.kept.push(f.to_finding());
        }
        if let Some(c) = self.follow.and_then(|index| index.candidate(f)) {
            b.follow.push(c);
        }
        if self.sum_expected {
            b.expected.add_finding(f);
        }
    }
}


/// What an emitter keeps for [`Keep`] (see [`Keep::keeping`]): every finding (`all`), else the
/// `dispute` ones and, with `review`, the `review` ones.
#[derive(Debug, Clone, Copy)]
pub struct Keeping {
    pub all: bool,
    pub review: bool,
}

impl Keeping {
    pub fn wants(self, action: Action) -> bool {
        self.all || action == Action::Dispute || (self.review && action == Action::Review)
    }
}

/// Which findings a run keeps in memory for the outputs other than findings.csv: every
/// `dispute` (the dispute files), every `review` too when report.html is written (it embeds all
/// actionable findings), and the first findings that report.xlsx (up to its row limit) or
/// report.html (up to [`html::MAX_EMBEDDED`]) shows. The rest are dropped once written.
pub struct Keep {
    prefix: usize,
    review: bool,
    seen: usize,
    kept: Vec<Finding>,
}

impl Keep {
    pub fn new(formats: Formats) -> Keep {
        let prefix = match (formats.xlsx, formats.html) {
            (true, _) => xlsx::max_finding_rows().max(if formats.html { html::max_embedded() } else { 0 }),
            (false, true) => html::max_embedded(),
            (false, false) => 0,
        };
        Keep::with_prefix(prefix, formats.html)
    }

    pub(crate) fn with_prefix(prefix: usize, review: bool) -> Keep {
        Keep { prefix, review, seen: 0, kept: Vec::new() }
    }

    /// Which findings must reach [`Keep::take`] for it to choose as it would from all of them:
    /// all when it keeps a first few, else only the actionable ones it keeps.
    pub fn keeping(&self) -> Keeping {
        Keeping { all: self.prefix > 0, review: self.review }
    }

    pub fn take(&mut self, chunk: Vec<Finding>) {
        for f in chunk {
            let keep = self.seen < self.prefix || Keeping { all: false, review: self.review }.wants(f.action);
            self.seen += 1;
            if keep {
                self.kept.push(f);
            }
        }
    }

    pub fn into_kept(self) -> Vec<Finding> {
        self.kept
    }
}
