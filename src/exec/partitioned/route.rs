//! Pass 1 of a partitioned run: every input read a block at a time, with the checks, rejections
//! and citations of an in-memory run, and each block's accepted rows routed: spilled to the
//! partitions' files ([`Spilling`]) or, for `recon explain`, kept when they are a finding's
//! ([`Keep`]).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::explain::Rows;
use super::io_error;
use super::plan::Ranges;
use crate::config::Error;
use crate::engine::{bills, Globals};
use crate::load::schema::Kind;
use crate::load::{self, InputPaths, Provenance, Spill};
use crate::model::Period;
use crate::report;
use crate::rules::RuleSet;

/// One spill file per partition for one kind, written around the page cache
/// ([`report::direct::DirectFiles`]): each is read back once, by its partition.
pub(super) struct Spiller {
    paths: Vec<PathBuf>,
    files: report::direct::DirectFiles,
    buf: Vec<u8>,
}

impl Spiller {
    fn create(dir: &Path, kind: &str, n: usize) -> std::io::Result<Spiller> {
        let paths: Vec<PathBuf> = (0..n).map(|i| dir.join(format!("{kind}-{i:04}.bin"))).collect();
        let files = report::direct::DirectFiles::create(&paths)?;
        Ok(Spiller { paths, files, buf: Vec::new() })
    }

    /// Writes each row of `sink` to its partition: its length, provenance, then the typed row.
    fn route<S: Spill>(&mut self, sink: &S, prov: &[(u32, u32)], ranges: &Ranges) -> std::io::Result<()> {
        for (i, &at) in prov.iter().enumerate().take(sink.rows()) {
            let (trade, _) = sink.partition_key(i);
            self.buf.clear();
            spill_record(sink, i, at, &mut self.buf);
            self.files.write(ranges.of(trade), &self.buf)?;
        }
        Ok(())
    }

    fn finish(self) -> std::io::Result<Vec<PathBuf>> {
        self.files.finish()?;
        Ok(self.paths)
    }
}

/// Appends row `i` of `sink` to `out` as a spill file holds it: its length, provenance
/// (`at`: table index and location), then the typed row (what [`read_back`] reads).
pub(super) fn spill_record<S: Spill>(sink: &S, i: usize, (table, loc): (u32, u32), out: &mut Vec<u8>) {
    let start = out.len();
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&table.to_le_bytes());
    out.extend_from_slice(&loc.to_le_bytes());
    sink.encode(i, out);
    let len = (out.len() - start - 4) as u32;
    out[start..start + 4].copy_from_slice(&len.to_le_bytes());
}


/// What pass 1 reads besides the rows it routes: the inputs' summaries and rejected rows, the
/// facts every partition needs, the customers, and the provenance tables rows cite.
pub(super) struct Pass1 {
    pub(super) inputs: Vec<load::InputSummary>,
    pub(super) rejects: Vec<load::Reject>,
    pub(super) globals: Globals,
    pub(super) customers: Option<std::sync::Arc<load::Customers>>,
    pub(super) cons_prov: Provenance,
    pub(super) inc_prov: Provenance,
    pub(super) bill_prov: Provenance,
    /// Bill lines accepted.
    pub(super) bill_lines: u64,
    /// The customers' associations as the consumption rows give them (for the bill check).
    pub(super) assoc: bills::Associations,
}

/// Where pass 1 sends each block's accepted rows of a kind (consumption, incentives, bills, in
/// that order, each between `begin` and `end`): a streamed run spills them to its partitions
/// ([`Spilling`]), `recon explain` keeps those of one trade id or customer ([`Keep`]).
pub(super) trait Route: Send {
    fn begin(&mut self, _kind: Kind) -> Result<(), Error> {
        Ok(())
    }
    fn block<S: Spill>(&mut self, kind: Kind, sink: &S, prov: &[(u32, u32)]) -> std::io::Result<()>;
    fn end(&mut self, _kind: Kind) -> Result<(), Error> {
        Ok(())
    }
    /// Why `block` failed, if it did: its own error (the loader reports any as reading the input
    /// it was reading).
    fn failure(&mut self) -> Option<Error> {
        None
    }
}

/// The place of a routed kind in `[consumption, incentives, bills]`.
pub(super) fn routed(kind: Kind) -> usize {
    match kind {
        Kind::Consumption => 0,
        Kind::Incentives => 1,
        _ => 2,
    }
}

/// Pass 1's routing in a streamed run: each kind's rows to one spill file per partition.
pub(super) struct Spilling<'a> {
    pub(super) dir: &'a Path,
    pub(super) ranges: &'a Ranges,
    /// The spill files of the kind being read (their buffers are not to coexist with the next
    /// kind's: each kind's are finished before the next is begun).
    pub(super) open: Option<Spiller>,
    pub(super) parts: [Vec<PathBuf>; 3],
    /// Why writing a partition file failed.
    pub(super) failed: Option<std::io::Error>,
}

impl Route for Spilling<'_> {
    fn begin(&mut self, kind: Kind) -> Result<(), Error> {
        self.open = Some(Spiller::create(self.dir, ["consumption", "incentives", "bills"][routed(kind)], self.ranges.len()).map_err(io_error(self.dir))?);
        Ok(())
    }

    fn block<S: Spill>(&mut self, _: Kind, sink: &S, prov: &[(u32, u32)]) -> std::io::Result<()> {
        let routed = match self.open.as_mut() {
            Some(spill) => spill.route(sink, prov, self.ranges),
            None => Err(std::io::Error::other("rows routed before their spill files were created")),
        };
        // (a full disk while writing the partition files is a write error of those, not a read
        // error of the input being read)
        routed.map_err(|e| {
            let kind = e.kind();
            self.failed = Some(e);
            std::io::Error::new(kind, "cannot write the partition files")
        })
    }

    fn failure(&mut self) -> Option<Error> {
        self.failed.take().map(io_error(self.dir))
    }

    fn end(&mut self, kind: Kind) -> Result<(), Error> {
        if let Some(spill) = self.open.take() {
            self.parts[routed(kind)] = spill.finish().map_err(io_error(self.dir))?;
        }
        Ok(())
    }
}

/// Pass 1's routing in [`explain`]: the rows of a trade id (consumption and statements) or of a
/// customer (consumption and bill lines), as spill files hold them, to be read back as a
/// partition's are.
pub(super) struct Keep<'k> {
    pub(super) keep: Rows<'k>,
    pub(super) rows: [Vec<u8>; 3],
}

impl Route for Keep<'_> {
    fn block<S: Spill>(&mut self, kind: Kind, sink: &S, prov: &[(u32, u32)]) -> std::io::Result<()> {
        let out = &mut self.rows[routed(kind)];
        for (i, &at) in prov.iter().enumerate().take(sink.rows()) {
            let wanted = match (&self.keep, kind) {
                (Rows::Trade(t), Kind::Consumption | Kind::Incentives) => sink.partition_key(i).0 == *t,
                (Rows::Customer(c), Kind::Consumption | Kind::Bills) => sink.customer(i) == Some(*c),
                _ => false,
            };
            if wanted {
                spill_record(sink, i, at, out);
            }
        }
        Ok(())
    }
}

/// Pass 1: reads the consumption, the statements and (when `paths` has any) the partner bill a
/// block at a time, with the same checks, rejections and citations as a run that loads them,
/// hands each block's accepted rows to `route`, and gathers the facts every partition needs.
/// The customers are loaded after the statements, as in memory (their rows and rejections are
/// listed in that order, and a bad statement file is reported before a bad customers file), but
/// read first when the bill check needs them: its grain counts the resale customers'
/// consumption rows as they are read.
pub(super) fn read_inputs(paths: &InputPaths, rules: &RuleSet, block: usize, route: &mut impl Route) -> Result<Pass1, Error> {
    let with_bills = !paths.bills.is_empty();
    let (mut rejects, mut inputs) = (Vec::new(), Vec::new());
    let mut globals = Globals::default();
    let mut customers_read = None;
    if with_bills && !paths.customers.is_empty() {
        let mut cust_rejects = Vec::new();
        customers_read = Some(load::load_customers(paths, rules, &mut cust_rejects).map(|(c, summaries)| (c, summaries, cust_rejects)));
    }
    let (mut resale, mut assoc) = (BTreeMap::new(), bills::Associations::default());
    let mut cons_prov = Provenance::default();
    route.begin(Kind::Consumption)?;
    inputs.extend(load::stream_kind::<load::Consumption>(paths, Kind::Consumption, rules, block, &mut cons_prov, &mut rejects, &mut |sink, prov, _| {
        globals.cycles.extend(sink.cycle.iter().map(|&c| Period(c)));
        if with_bills {
            bills::resale_facts(&sink, customers_read.as_ref().and_then(|r| r.as_ref().ok()).map(|c| &c.0), &mut resale, &mut assoc);
        }
        route.block(Kind::Consumption, &sink, &prov)
    }).map_err(|e| route.failure().unwrap_or(e.into()))?);
    route.end(Kind::Consumption)?;
    let mut inc_prov = Provenance::default();
    route.begin(Kind::Incentives)?;
    inputs.extend(load::stream_kind::<load::Incentives>(paths, Kind::Incentives, rules, block, &mut inc_prov, &mut rejects, &mut |sink, prov, _| {
        globals.incentive_periods.extend(sink.period.iter().map(|&p| Period(p)));
        route.block(Kind::Incentives, &sink, &prov)
    }).map_err(|e| route.failure().unwrap_or(e.into()))?);
    route.end(Kind::Incentives)?;
    let mut customers = None;
    if let Some(read) = customers_read {
        let (c, summaries, cust_rejects) = read?;
        inputs.extend(summaries);
        rejects.extend(cust_rejects);
        customers = Some(std::sync::Arc::new(c));
    } else if !paths.customers.is_empty() {
        let (c, summaries) = load::load_customers(paths, rules, &mut rejects)?;
        inputs.extend(summaries);
        customers = Some(std::sync::Arc::new(c));
    }
    // The partner bill's lines are routed like the rest; its grain is known once they and the
    // consumption are read.
    let mut bill_prov = Provenance::default();
    let mut bill_lines = 0u64;
    if with_bills {
        let mut lines: BTreeMap<i32, bills::LineFacts> = BTreeMap::new();
        route.begin(Kind::Bills)?;
        inputs.extend(load::stream_kind::<load::Bills>(paths, Kind::Bills, rules, block, &mut bill_prov, &mut rejects, &mut |sink, prov, _| {
            bills::line_facts(&sink, &mut lines);
            route.block(Kind::Bills, &sink, &prov)
        }).map_err(|e| route.failure().unwrap_or(e.into()))?);
        route.end(Kind::Bills)?;
        bill_lines = lines.values().map(|l| l.n).sum();
        globals.bill_grain = Some(bills::grain_from(&lines, &resale));
    }
    load::table::release_spare_buffers();
    Ok(Pass1 { inputs, rejects, globals, customers, cons_prov, inc_prov, bill_prov, bill_lines, assoc })
}
