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
use std::path::{Path, PathBuf};

use crate::config::{Error, RunArgs, Status};
use crate::engine::{self, bills, Action, Counts, Globals, Outcome, PeriodReport};
use crate::load::schema::Kind;
use crate::load::{self, InputPaths, Loaded, Provenance, Spill};
use crate::model::Period;
use crate::progress::Progress;
use crate::report::{self, disputes::Dispute, Formats, ReportError, RunOptions};
use crate::rules::RuleSet;

/// Percent of a cgroup memory limit past which a streamed run hands freed memory back: at 10 M
/// rows under 512 MiB the run then finishes (29–30 s; killed otherwise), under 1 GiB it is
/// reached late in the reconcile pass, if at all (24.5–25.8 s either way); at 80 %, 512 MiB
/// was killed twice of two (BENCHMARKS.md).
const HAND_BACK_AT: u64 = 75;

/// Whether the resident memory (`rss`, read only under a limit) is past [`HAND_BACK_AT`] of
/// the memory `limit`.
fn near_limit(limit: Option<u64>, rss: impl FnOnce() -> Option<u64>) -> bool {
    limit.is_some_and(|l| rss().is_some_and(|r| r > l / 100 * HAND_BACK_AT))
}

/// Input bytes per partition when `--partitions` is not given.
const BYTES_PER_PARTITION: u64 = 16 << 20;

/// Under a memory limit (a cgroup), input bytes per partition are at most the limit divided by
/// this: two partitions are reconciled at once on two threads ([`workers`]), each using several
/// times its input bytes (10 M rows under a 1 GiB cgroup: 16 MiB partitions peaked at
/// 1.05–1.08 GB and were killed one time in two; 12 MiB ones at 0.96–0.98 GB, BENCHMARKS.md).
const LIMIT_PER_PARTITION_BYTE: u64 = 96;

/// Input bytes read and parsed at a time in the first pass.
const BLOCK: usize = 64 << 20;

/// ... under a memory limit: what the first pass held stays with the process and adds to the
/// second pass's peak (10 M rows with the partner bill under a 1 GiB cgroup: 1.00–1.04 GB with
/// 64 MiB blocks, 0.81 GB with 16 MiB ones, as fast).
const LIMITED_BLOCK: usize = 16 << 20;


/// Short reads per CSV file to sample trade ids for the partition cuts.
const SAMPLES_PER_FILE: usize = 4096;

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Report(ReportError::Io { path: path.display().to_string(), source })
}

/// A temporary file of this run that cannot be read back.
fn read_error(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::ReadBack { path: path.display().to_string(), source }
}

/// The partitions: trade id ranges cut at `cuts` (partition k holds the trade ids t with
/// `cuts[k-1] <= t < cuts[k]`).
struct Ranges {
    cuts: Vec<String>,
    /// Each cut's first 16 bytes as a number ([`prefix`]): most trade ids are told apart by it
    /// alone, without comparing text (every accepted row is routed).
    prefixes: Vec<u128>,
}

/// The first 16 bytes of `s`, zero-padded, as a big-endian number: `a < b` when
/// `prefix(a) < prefix(b)`, and `prefix(a) <= prefix(b)` when `a <= b`.
fn prefix(s: &str) -> u128 {
    let mut b = [0u8; 16];
    let n = s.len().min(16);
    b[..n].copy_from_slice(&s.as_bytes()[..n]);
    u128::from_be_bytes(b)
}

impl Ranges {
    /// Cuts at `n - 1` quantiles of the sampled trade ids (fewer when the samples repeat).
    fn from_samples(mut samples: Vec<String>, n: usize) -> Ranges {
        samples.sort_unstable();
        let mut cuts: Vec<String> = (1..n).filter_map(|k| samples.get(k * samples.len() / n).cloned()).collect();
        cuts.dedup();
        if cuts.first().is_some_and(|c| Some(c) == samples.first()) {
            cuts.remove(0);
        }
        let prefixes = cuts.iter().map(|c| prefix(c)).collect();
        Ranges { cuts, prefixes }
    }

    fn len(&self) -> usize {
        self.cuts.len() + 1
    }

    fn of(&self, trade: &str) -> usize {
        // The cuts of a smaller prefix lie below the trade id, those of a larger one above it:
        // only those of the same prefix are compared as text.
        let p = prefix(trade);
        let lo = self.prefixes.partition_point(|&c| c < p);
        if self.prefixes.get(lo) != Some(&p) {
            return lo; // (no cut shares the prefix: the usual case, one search)
        }
        let same = self.prefixes[lo..].partition_point(|&c| c == p);
        lo + self.cuts[lo..lo + same].partition_point(|c| c.as_str() <= trade)
    }
}

/// One spill file per partition for one kind, written around the page cache
/// ([`report::direct::DirectFiles`]): each is read back once, by its partition.
struct Spiller {
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
fn spill_record<S: Spill>(sink: &S, i: usize, (table, loc): (u32, u32), out: &mut Vec<u8>) {
    let start = out.len();
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&table.to_le_bytes());
    out.extend_from_slice(&loc.to_le_bytes());
    sink.encode(i, out);
    let len = (out.len() - start - 4) as u32;
    out[start..start + 4].copy_from_slice(&len.to_le_bytes());
}

/// A partition's two spill files read (consumption, incentives): buffers and lengths.
struct Spilled {
    cons: (report::direct::Aligned, usize),
    inc: (report::direct::Aligned, usize),
}

/// Reads a partition's spill files into `bufs` (read ahead of the partition, on a thread of
/// its own) and removes them.
fn read_spills(cons: &Path, inc: &Path, bufs: [report::direct::Aligned; 2]) -> Result<Spilled, Error> {
    let [a, b] = bufs;
    let cons_read = report::direct::read_into(cons, a).map_err(read_error(cons))?;
    let inc_read = report::direct::read_into(inc, b).map_err(read_error(inc))?;
    let _ = std::fs::remove_file(cons);
    let _ = std::fs::remove_file(inc);
    Ok(Spilled { cons: cons_read, inc: inc_read })
}

/// Decodes a spill file's records into a sink and its provenance rows.
fn read_back<S: Spill>(bytes: &[u8], path: &Path, sink: &mut S, prov: &mut Provenance) -> Result<(), Error> {
    // Count the records first, so that the columns are allocated once.
    let (mut n, mut at) = (0usize, 0usize);
    while let Some(len) = bytes.get(at..at + 4).and_then(|b| b.try_into().ok()).map(u32::from_le_bytes) {
        at += 4 + len as usize;
        n += 1;
    }
    sink.reserve(n);
    prov.rows.reserve(n);
    let mut input: &[u8] = bytes;
    let corrupt = || Error::Corrupt { path: path.display().to_string(), message: "a partition file of this run is damaged (was the temporary directory changed during the run?)".into() };
    while !input.is_empty() {
        let len = input.get(..4).and_then(|b| b.try_into().ok()).map(u32::from_le_bytes).ok_or_else(corrupt)? as usize;
        let mut rec = input.get(4..4 + len).ok_or_else(corrupt)?;
        input = &input[4 + len..];
        let table = rec.get(..4).and_then(|b| b.try_into().ok()).map(u32::from_le_bytes).ok_or_else(corrupt)?;
        let loc = rec.get(4..8).and_then(|b| b.try_into().ok()).map(u32::from_le_bytes).ok_or_else(corrupt)?;
        rec = &rec[8..];
        sink.decode(&mut rec).ok_or_else(corrupt)?;
        prov.rows.push((table, loc));
    }
    Ok(())
}

fn cited(prov: &Provenance) -> Provenance {
    Provenance { tables: prov.tables.iter().map(|t| t.cited()).collect(), rows: Vec::new() }
}

/// findings.csv: the BOM, the header, then for each period the findings of that period of each
/// partition in turn (`parts[k]` with the byte range of each period in it).
fn concatenate(parts: &[PartFindings], w: &mut report::FindingsCsv) -> Result<(), Error> {
    let periods: std::collections::BTreeSet<Period> = parts.iter().flat_map(|(_, r)| r.iter().map(|(p, _, _)| *p)).collect();
    let paths: Vec<PathBuf> = parts.iter().map(|(p, _)| p.clone()).collect();
    let mut ranges = Vec::new();
    for period in periods {
        for (k, (_, rs)) in parts.iter().enumerate() {
            ranges.extend(rs.iter().filter(|(p, _, _)| *p == period).map(|&(_, start, end)| (k, start, end)));
        }
    }
    let mut copied = vec![0u64; ranges.len()];
    let mut failed = None;
    let read = report::direct::read_ranges(&paths, &ranges, |r, bytes| {
        copied[r] += bytes.len() as u64;
        w.write_records(bytes).map_err(|e| {
            failed = Some(e);
            std::io::Error::other("findings.csv")
        })
    });
    if let Some(e) = failed {
        return Err(Error::Report(e));
    }
    if let Err(e) = read {
        return Err(Error::ReadBack { path: format!("the findings part files under {}", paths.first().and_then(|p| p.parent()).map_or(String::new(), |d| d.display().to_string())), source: e });
    }
    if let Some(r) = ranges.iter().zip(&copied).position(|(&(_, start, end), &n)| n != end - start) {
        return Err(Error::Corrupt { path: paths[ranges[r].0].display().to_string(), message: "a findings part of this run is cut short".into() });
    }
    for p in &paths {
        let _ = std::fs::remove_file(p);
    }
    Ok(())
}

/// The partitions reconciled so far, and how many of them have had their first-period findings
/// appended to findings.csv (`out`, absent without csv output).
struct Done {
    parts: Vec<Option<Result<Part, Error>>>,
    written: usize,
    out: Option<report::FindingsCsv>,
}

impl Done {
    /// Appends the first-period findings of the partitions that are next in order and done.
    fn write_heads(&mut self) -> Result<(), ()> {
        while let Some(Some(result)) = self.parts.get_mut(self.written) {
            let Ok(part) = result else { return Err(()) };
            let head = std::mem::take(&mut part.head);
            if let Some(out) = self.out.as_mut() {
                if let Err(e) = head.iter().try_for_each(|records| out.write_records(records)) {
                    *result = Err(Error::Report(e));
                    return Err(());
                }
            }
            self.written += 1;
        }
        Ok(())
    }
}

/// Bytes of consumption, incentive and bill input: what decides whether a run streams on its own
/// and how many partitions it gets.
pub fn input_bytes(args: &RunArgs, root: &Path) -> Result<u64, Error> {
    Ok(kind_bytes(&args.consumption, root)? + kind_bytes(&args.incentives, root)? + kind_bytes(&args.bills, root)?)
}

/// Bytes of the files one kind's paths name.
fn kind_bytes(paths: &[PathBuf], root: &Path) -> Result<u64, Error> {
    Ok(load::table::list(paths, root)?.iter().map(|(p, _, _)| std::fs::metadata(p).map_or(0, |m| m.len())).sum())
}

/// How many partitions: `--partitions`, else one per [`BYTES_PER_PARTITION`] of input, or fewer
/// bytes per partition when the process's cgroup limits its memory ([`memory_limit`]).
fn partitions(args: &RunArgs, root: &Path, limit: Option<u64>) -> Result<usize, Error> {
    if let Some(n) = args.partitions {
        return Ok(n.clamp(1, 4096));
    }
    // A bill line costs a partition more than its bytes: its text keys are grouped and joined in
    // polars, and the partition's consumption carries its texts for that. Its bytes count twice.
    let bytes = kind_bytes(&args.consumption, root)? + kind_bytes(&args.incentives, root)? + 2 * kind_bytes(&args.bills, root)?;
    Ok((bytes.div_ceil(partition_bytes(limit)) as usize).clamp(1, 4096))
}

/// How many partitions are reconciled at once, on `threads` threads: one more than the threads
/// when memory is not limited (a worker waiting on polars' or rayon's other threads, on a read
/// or on findings.csv leaves a core idle, which the third fills: 10 M rows on 2 cores, the
/// reconcile pass 12.4 s against 13.3 s on average of four alternating runs, peak memory
/// 0.96–1.11 GB against 0.87–0.92 GB); as many as the threads under a cgroup memory limit,
/// which the partitions' size assumes ([`LIMIT_PER_PARTITION_BYTE`]).
fn workers(threads: usize, limit: Option<u64>) -> usize {
    match limit {
        Some(_) => threads,
        None => threads + 1,
    }
}

/// Input bytes per partition under the memory limit `limit` (bytes), if any.
fn partition_bytes(limit: Option<u64>) -> u64 {
    match limit {
        Some(l) => (l / LIMIT_PER_PARTITION_BYTE).clamp(1 << 20, BYTES_PER_PARTITION),
        None => BYTES_PER_PARTITION,
    }
}

/// This process's cgroup memory limit, if any, and the input block size that goes with it.
fn own_limit() -> (Option<u64>, usize) {
    let limit = std::fs::read_to_string("/proc/self/cgroup").ok().and_then(|c| memory_limit(&c, Path::new("/sys/fs/cgroup")));
    (limit, if limit.is_some() { LIMITED_BLOCK } else { BLOCK })
}

/// The memory limit of the cgroup in `proc_cgroup` (the text of `/proc/self/cgroup`), read under
/// `sys` (`/sys/fs/cgroup`): v2 `memory.max` or v1 `memory/…/memory.limit_in_bytes`; `None`
/// when there is none (or it is "max", or v1's "unlimited" near 2^63).
fn memory_limit(proc_cgroup: &str, sys: &Path) -> Option<u64> {
    for line in proc_cgroup.lines() {
        let mut fields = line.splitn(3, ':');
        let (_, controllers, path) = (fields.next()?, fields.next()?, fields.next()?);
        let path = path.trim_start_matches('/');
        let file = if controllers.is_empty() {
            sys.join(path).join("memory.max")
        } else if controllers.split(',').any(|c| c == "memory") {
            sys.join("memory").join(path).join("memory.limit_in_bytes")
        } else {
            continue;
        };
        if let Some(limit) = std::fs::read_to_string(file).ok().and_then(|v| v.trim().parse::<u64>().ok()).filter(|&v| v < 1 << 60) {
            return Some(limit);
        }
    }
    None
}

/// `recon run --streaming`.
pub fn run(args: &RunArgs, out: &mut impl Write) -> Result<Status, Error> {
    let setup = crate::config::setup(args)?;
    let options = setup.options(args);
    let crate::config::Setup { root, rules, formats, periods } = setup;
    // Once the rules are valid, the run takes its --out (a lock): the outputs are written into a
    // staging directory there and moved into place at the end (see crate::outdir); the
    // partition files lie beside it.
    let dir = crate::outdir::OutDir::open(&args.out)?;
    let tmp = dir.partitions();
    let result = (|| {
        let (limit, block) = own_limit();
        let n = partitions(args, &root, limit)?;
        let workers = workers(rayon::current_num_threads(), limit).clamp(1, n);
        std::fs::create_dir_all(&tmp).map_err(io_error(&tmp))?;
        run_in(args, &rules, formats, &options, &periods, (n, workers, block, limit), &root, &tmp, dir, out)
    })()
    .map_err(Error::unwritten);
    let _ = std::fs::remove_dir_all(&tmp);
    result
}

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

/// What pass 1 reads besides the rows it routes: the inputs' summaries and rejected rows, the
/// facts every partition needs, the customers, and the provenance tables rows cite.
struct Pass1 {
    inputs: Vec<load::InputSummary>,
    rejects: Vec<load::Reject>,
    globals: Globals,
    customers: Option<std::sync::Arc<load::Customers>>,
    cons_prov: Provenance,
    inc_prov: Provenance,
    bill_prov: Provenance,
    /// Bill lines accepted.
    bill_lines: u64,
    /// The customers' associations as the consumption rows give them (for the bill check).
    assoc: bills::Associations,
}

/// Where pass 1 sends each block's accepted rows of a kind (consumption, incentives, bills, in
/// that order, each between `begin` and `end`): a streamed run spills them to its partitions
/// ([`Spilling`]), `recon explain` keeps those of one trade id or customer ([`Keep`]).
trait Route: Send {
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
fn routed(kind: Kind) -> usize {
    match kind {
        Kind::Consumption => 0,
        Kind::Incentives => 1,
        _ => 2,
    }
}

/// Pass 1's routing in a streamed run: each kind's rows to one spill file per partition.
struct Spilling<'a> {
    dir: &'a Path,
    ranges: &'a Ranges,
    /// The spill files of the kind being read (their buffers are not to coexist with the next
    /// kind's: each kind's are finished before the next is begun).
    open: Option<Spiller>,
    parts: [Vec<PathBuf>; 3],
    /// Why writing a partition file failed.
    failed: Option<std::io::Error>,
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
struct Keep<'k> {
    keep: Rows<'k>,
    rows: [Vec<u8>; 3],
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
fn read_inputs(paths: &InputPaths, rules: &RuleSet, block: usize, route: &mut impl Route) -> Result<Pass1, Error> {
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
    inputs.extend(load::stream_kind::<load::Consumption>(paths, Kind::Consumption, rules, block, &mut cons_prov, &mut rejects, &mut |sink, prov| {
        globals.cycles.extend(sink.cycle.iter().map(|&c| Period(c)));
        if with_bills {
            bills::resale_facts(&sink, customers_read.as_ref().and_then(|r| r.as_ref().ok()).map(|c| &c.0), &mut resale, &mut assoc);
        }
        route.block(Kind::Consumption, &sink, &prov)
    }).map_err(|e| route.failure().unwrap_or(e.into()))?);
    route.end(Kind::Consumption)?;
    let mut inc_prov = Provenance::default();
    route.begin(Kind::Incentives)?;
    inputs.extend(load::stream_kind::<load::Incentives>(paths, Kind::Incentives, rules, block, &mut inc_prov, &mut rejects, &mut |sink, prov| {
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
        inputs.extend(load::stream_kind::<load::Bills>(paths, Kind::Bills, rules, block, &mut bill_prov, &mut rejects, &mut |sink, prov| {
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

/// A partition's findings part file and the byte range of each period's findings in it.
type PartFindings = (PathBuf, Vec<(Period, u64, u64)>);

/// What reconciling one partition gives.
struct Part {
    periods: Vec<PeriodReport>,
    counts: Counts,
    disputes: Vec<Dispute>,
    /// Its findings of the first period in scope (no finding comes before it), as rendered
    /// batches of records, held to be appended to findings.csv directly, in partition order.
    head: Vec<Vec<u8>>,
    /// Its findings of the later periods.
    findings: PartFindings,
    /// With a partner bill: the file of its bill groups (sorted) and its other consumption per
    /// cycle (see [`engine::bills::partials`]).
    bills: Option<(PathBuf, BTreeMap<i32, (rust_decimal::Decimal, rust_decimal::Decimal)>)>,
}

/// Everything the partitions share (read-only).
struct Shared<'a> {
    rules: &'a RuleSet,
    periods: &'a [Period],
    globals: &'a Globals,
    customers: Option<&'a std::sync::Arc<load::Customers>>,
    cons_prov: &'a Provenance,
    inc_prov: &'a Provenance,
    bill_prov: &'a Provenance,
    tmp: &'a Path,
    /// The first period in scope: every finding is of it or later.
    first: Option<Period>,
}

/// A partition's rows, decoded from its spill files' bytes.
fn decode_partition(spilled: &mut Spilled, cons: &Path, inc: &Path, bills: Option<&Path>, sh: &Shared) -> Result<Loaded, Error> {
    let mut loaded = Loaded { customers: sh.customers.cloned(), ..Loaded::default() };
    loaded.consumption.counted = vec![Vec::new(); sh.rules.counted.len()];
    let mut prov = cited(sh.cons_prov);
    let (buf, len) = &mut spilled.cons;
    read_back(&buf.bytes()[..*len], cons, &mut loaded.consumption, &mut prov)?;
    loaded.consumption.prov = prov;
    let mut prov = cited(sh.inc_prov);
    let (buf, len) = &mut spilled.inc;
    read_back(&buf.bytes()[..*len], inc, &mut loaded.incentives, &mut prov)?;
    loaded.incentives.prov = prov;
    if let Some(path) = bills {
        // (a partition's bill lines are few: read through the page cache, not ahead)
        let bytes = std::fs::read(path).map_err(read_error(path))?;
        let mut b = load::Bills::default();
        let mut prov = cited(sh.bill_prov);
        read_back(&bytes, path, &mut b, &mut prov)?;
        b.prov = prov;
        loaded.bills = Some(b);
        let _ = std::fs::remove_file(path);
    }
    Ok(loaded)
}

/// Reconciles partition `p` from its decoded rows.
fn partition(p: usize, loaded: Loaded, sh: &Shared) -> Result<Part, Error> {
    let path = sh.tmp.join(format!("findings-{p:04}.csv"));
    // Written around the page cache: read back once, at the end (report::direct).
    let mut file = report::direct::DirectFile::create(&path).map_err(io_error(&path))?;
    let mut ranges: Vec<(Period, u64, u64)> = Vec::new();
    let mut offset = 0u64;
    let mut disputes = Vec::new();
    let mut head = Vec::new();
    let render = report::Render { loaded: &loaded, rules: sh.rules, csv: true, disputes: true, keep: None };
    let outcome = engine::run_part(&loaded, sh.rules, sh.periods, Some(sh.globals), &render, &mut |batches: Vec<report::Rendered>| {
        for mut b in batches {
            let (records, periods) = (&mut b.records, &b.periods);
            // The findings come sorted by period: those of the first period are a prefix.
            let n_first = periods.iter().take_while(|&&p| Some(p) == sh.first).count();
            if periods[n_first..].iter().any(|&p| Some(p) == sh.first) || (n_first > 0 && offset > 0) {
                return Err("findings of the first period came after later ones: findings.csv would be out of order".into());
            }
            let split = if n_first == 0 { 0 } else { records.ends[n_first - 1] };
            if split == records.bytes.len() {
                // (a batch wholly of the first period, as most are, is kept as it is, not copied)
                head.push(std::mem::take(&mut records.bytes));
            } else {
                if split > 0 {
                    head.push(records.bytes[..split].to_vec());
                }
                file.write_all(&records.bytes[split..]).map_err(|source| ReportError::Io { path: path.display().to_string(), source })?;
            }
            let mut start = split;
            for (&p, &end) in periods[n_first..].iter().zip(&records.ends[n_first..]) {
                let len = (end - start) as u64;
                start = end;
                match ranges.last_mut() {
                    Some(r) if r.0 == p => r.2 += len,
                    _ => ranges.push((p, offset, offset + len)),
                }
                offset += len;
            }
            disputes.extend(b.disputes);
        }
        Ok(())
    })?;
    file.finish().map_err(io_error(&path))?;
    let bills = match sh.globals.bill_grain {
        Some(_) => {
            let groups = sh.tmp.join(format!("bill-groups-{p:04}.bin"));
            write_groups(&groups, &outcome.bill_parts)?;
            Some((groups, outcome.bill_others))
        }
        None => None,
    };
    Ok(Part { periods: outcome.periods, counts: outcome.counts, disputes, head, findings: (path, ranges), bills })
}

/// Writes a partition's bill groups (sorted) to `path`, each with its length first.
fn write_groups(path: &Path, groups: &[bills::Partial]) -> Result<(), Error> {
    use load::spill::{put_opt_str, put_str};
    fn cites(out: &mut Vec<u8>, c: &[(u32, u32)]) {
        out.extend_from_slice(&(c.len() as u32).to_le_bytes());
        for (t, l) in c {
            out.extend_from_slice(&t.to_le_bytes());
            out.extend_from_slice(&l.to_le_bytes());
        }
    }
    fn name(out: &mut Vec<u8>, n: &Option<((u32, u32), String)>) {
        let (t, l) = n.as_ref().map_or((0, 0), |n| n.0);
        out.extend_from_slice(&t.to_le_bytes());
        out.extend_from_slice(&l.to_le_bytes());
        put_opt_str(out, n.as_ref().map(|n| n.1.as_str()));
    }
    fn amount(out: &mut Vec<u8>, v: Option<rust_decimal::Decimal>) {
        match v {
            None => out.push(0),
            Some(v) => {
                out.push(1);
                out.extend_from_slice(&v.serialize());
            }
        }
    }
    let mut w = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(path).map_err(io_error(path))?);
    let mut rec = Vec::new();
    for g in groups {
        rec.clear();
        rec.extend_from_slice(&g.cycle.to_le_bytes());
        put_str(&mut rec, &g.cust);
        put_str(&mut rec, &g.svc);
        rec.extend_from_slice(&g.mode.to_le_bytes());
        put_str(&mut rec, &g.trade);
        amount(&mut rec, g.cons);
        rec.extend_from_slice(&g.c_n.to_le_bytes());
        cites(&mut rec, &g.c_cites);
        name(&mut rec, &g.c_name);
        amount(&mut rec, g.bill);
        rec.extend_from_slice(&g.b_n.to_le_bytes());
        cites(&mut rec, &g.b_cites);
        name(&mut rec, &g.b_name);
        w.write_all(&(rec.len() as u32).to_le_bytes()).map_err(io_error(path))?;
        w.write_all(&rec).map_err(io_error(path))?;
    }
    w.flush().map_err(io_error(path))
}

/// Reads the next group written by [`write_groups`]; `None` at the end of the file.
fn read_group(r: &mut impl std::io::Read, path: &Path) -> Result<Option<bills::Partial>, Error> {
    use load::spill;
    let mut len = [0u8; 4];
    match r.read_exact(&mut len) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(read_error(path)(e)),
    }
    let mut rec = vec![0u8; u32::from_le_bytes(len) as usize];
    r.read_exact(&mut rec).map_err(read_error(path))?;
    let corrupt = || Error::Corrupt { path: path.display().to_string(), message: "a bill group file of this run is damaged (was the temporary directory changed during the run?)".into() };
    let mut input: &[u8] = &rec;
    fn cites(input: &mut &[u8]) -> Option<Vec<(u32, u32)>> {
        let n = spill::u32(input)? as usize;
        (0..n).map(|_| Some((spill::u32(input)?, spill::u32(input)?))).collect()
    }
    fn name(input: &mut &[u8]) -> Option<Option<((u32, u32), String)>> {
        let at = (spill::u32(input)?, spill::u32(input)?);
        Some(spill::opt_str(input)?.map(|n| (at, n.to_string())))
    }
    fn amount(input: &mut &[u8]) -> Option<Option<rust_decimal::Decimal>> {
        match spill::take(input, 1)?[0] {
            0 => Some(None),
            _ => Some(Some(rust_decimal::Decimal::deserialize(spill::take(input, 16)?.try_into().ok()?))),
        }
    }
    let g = (|| {
        Some(bills::Partial {
            cycle: spill::i32(&mut input)?,
            cust: spill::str(&mut input)?.to_string(),
            svc: spill::str(&mut input)?.to_string(),
            mode: spill::i32(&mut input)?,
            trade: spill::str(&mut input)?.to_string(),
            cons: amount(&mut input)?,
            c_n: u64::from_le_bytes(spill::take(&mut input, 8)?.try_into().ok()?),
            c_cites: cites(&mut input)?,
            c_name: name(&mut input)?,
            bill: amount(&mut input)?,
            b_n: u64::from_le_bytes(spill::take(&mut input, 8)?.try_into().ok()?),
            b_cites: cites(&mut input)?,
            b_name: name(&mut input)?,
        })
    })();
    g.map(Some).ok_or_else(corrupt)
}

/// Merged bill groups decided and rendered at a time (in parallel).
const BILL_BATCH: usize = 1 << 14;

/// Pass 3 with a partner bill: the partitions' bill groups merged in key order (each file is
/// sorted; a group compared by customer may have parts in several), each group decided as an
/// in-memory run decides it and, with csv output, its record appended to findings.csv. Returns
/// the bill cycles' reports; checks that every bill line landed in one finding.
#[allow(clippy::too_many_arguments)]
fn bill_findings(
    parts: &[(PathBuf, BTreeMap<i32, (rust_decimal::Decimal, rust_decimal::Decimal)>)],
    grain: &bills::Grain,
    whose: &(dyn Fn(&str) -> bills::Whose + Sync),
    rules: &RuleSet,
    (cons_prov, bill_prov): (&Provenance, &Provenance),
    mut out: Option<&mut report::FindingsCsv>,
    counts: &mut Counts,
    bill_lines: u64,
) -> Result<Vec<bills::BillCycle>, Error> {
    use std::cmp::Reverse;
    type Key = (i32, String, String, i32, String);
    let key = |g: &bills::Partial| -> Key { (g.cycle, g.cust.clone(), g.svc.clone(), g.mode, g.trade.clone()) };
    let mut reports = bills::new_reports(grain);
    for (_, others) in parts {
        bills::add_others(&mut reports, others);
    }
    let mut readers = Vec::with_capacity(parts.len());
    let mut heap = std::collections::BinaryHeap::new();
    let mut heads: Vec<Option<bills::Partial>> = Vec::with_capacity(parts.len());
    for (i, (path, _)) in parts.iter().enumerate() {
        let mut r = std::io::BufReader::with_capacity(64 << 10, std::fs::File::open(path).map_err(read_error(path))?);
        let g = read_group(&mut r, path)?;
        if let Some(g) = &g {
            heap.push(Reverse((key(g), i)));
        }
        heads.push(g);
        readers.push(r);
    }
    let render = out.is_some();
    let mut batch: Vec<bills::Partial> = Vec::with_capacity(BILL_BATCH);
    let mut landed = 0u64;
    // Decides and renders a batch of merged groups in parallel, then counts them and appends
    // their records in order.
    let mut flush = |batch: &mut Vec<bills::Partial>, reports: &mut BTreeMap<i32, bills::BillCycle>| -> Result<(), Error> {
        use rayon::prelude::*;
        let reports_ro: &BTreeMap<i32, bills::BillCycle> = reports;
        type Tallied = (i32, bills::Decided, Option<rust_decimal::Decimal>, Option<rust_decimal::Decimal>);
        let done: Vec<Result<(Vec<Tallied>, Vec<u8>, Counts), Error>> = batch
            .par_chunks(1024)
            .map(|chunk| {
                // Where a group's cited rows are looked up: its own few rows, cited from the
                // files' tables; row numbers 0, 1, ... stand for them (only the first are cited).
                let mut lookup = Loaded::default();
                lookup.consumption.prov = cited(cons_prov);
                lookup.bills = Some(load::Bills { prov: cited(bill_prov), ..load::Bills::default() });
                let most = chunk.iter().map(|g| g.c_n.max(g.b_n)).max().unwrap_or(0) as u32;
                let numbers: Vec<u32> = (0..most).collect();
                let (mut bytes, mut scratch, mut counts) = (Vec::with_capacity(if render { chunk.len() * 640 } else { 0 }), String::new(), Counts::default());
                let mut tallied = Vec::with_capacity(chunk.len());
                for g in chunk {
                    let k = bills::GroupKey { cycle: g.cycle, cust: &g.cust, svc: &g.svc, mode: g.mode, trade: &g.trade };
                    let cons = g.cons.filter(|_| g.c_n > 0);
                    let bill = g.bill.filter(|_| g.b_n > 0);
                    let d = bills::judge(reports_ro, &k, cons, bill, whose(&g.cust), rules)?;
                    let name = g.c_name.as_ref().or(g.b_name.as_ref()).map_or("", |n| n.1.as_str());
                    let f: engine::FindingRef = bills::finding(&k, &d, name, (cons, bill), (&numbers[..g.c_n as usize], &numbers[..g.b_n as usize]), |t| t);
                    counts.add(&f);
                    if render {
                        lookup.consumption.prov.rows.clone_from(&g.c_cites);
                        if let Some(b) = lookup.bills.as_mut() {
                            b.prov.rows.clone_from(&g.b_cites);
                        }
                        report::write_finding(&mut bytes, &f, &lookup, &mut scratch);
                    }
                    tallied.push((g.cycle, d, cons, bill));
                }
                Ok((tallied, bytes, counts))
            })
            .collect();
        for chunk in done {
            let (tallied, bytes, n) = chunk?;
            for (cycle, d, cons, bill) in &tallied {
                bills::tally(reports, *cycle, d, *cons, *bill)?;
            }
            counts.absorb(n);
            if let Some(w) = out.as_mut() {
                w.write_records(&bytes)?;
            }
        }
        batch.clear();
        Ok(())
    };
    // File `i`'s next group, its following one read into its place (and onto the heap).
    let next = |i: usize, heads: &mut Vec<Option<bills::Partial>>, readers: &mut Vec<std::io::BufReader<std::fs::File>>, heap: &mut std::collections::BinaryHeap<Reverse<(Key, usize)>>| -> Result<Option<bills::Partial>, Error> {
        let g = heads[i].take();
        heads[i] = read_group(&mut readers[i], &parts[i].0)?;
        if let Some(n) = &heads[i] {
            heap.push(Reverse((key(n), i)));
        }
        Ok(g)
    };
    while let Some(Reverse((_, i))) = heap.pop() {
        let Some(mut g) = next(i, &mut heads, &mut readers, &mut heap)? else { continue };
        while let Some(Reverse((k, j))) = heap.peek() {
            if *k != key(&g) {
                break;
            }
            let j = *j;
            heap.pop();
            if let Some(o) = next(j, &mut heads, &mut readers, &mut heap)? {
                g.merge(o);
            }
        }
        landed += g.b_n;
        batch.push(g);
        if batch.len() == BILL_BATCH {
            flush(&mut batch, &mut reports)?;
        }
    }
    flush(&mut batch, &mut reports)?;
    for (path, _) in parts {
        let _ = std::fs::remove_file(path);
    }
    if landed != bill_lines {
        return Err(engine::EngineError::Invariant(format!("{landed} of {bill_lines} bill lines landed in a bill finding")).into());
    }
    Ok(bills::finish_reports(reports)?)
}

#[allow(clippy::too_many_arguments)]
fn run_in(args: &RunArgs, rules: &RuleSet, formats: Formats, options: &RunOptions, periods: &[Period], (n, workers, block, limit): (usize, usize, usize, Option<u64>), root: &Path, tmp: &Path, dir: crate::outdir::OutDir, out: &mut impl Write) -> Result<Status, Error> {
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

    // Pass 2: reconcile the partitions, as many at a time as there are threads.
    let counter = progress.stage_of("partitions reconciled", n as u64);
    let t = std::time::Instant::now();
    let (loaded_periods, scope_periods) = engine::periods(&globals.incentive_periods, periods);
    let first = scope_periods.first().copied();
    let shared = Shared { rules, periods, globals: &globals, customers: customers.as_ref(), cons_prov: &cons_prov, inc_prov: &inc_prov, bill_prov: &bill_prov, tmp, first };
    // findings.csv is begun now: each partition's findings of the first period go straight to
    // it, in partition order, as soon as the partitions before it are done; the later periods'
    // are copied from the part files afterwards (pass 3).
    // (report.xlsx and report.html read it back: without csv output it is written among the
    // partition files, and removed with them.)
    let workbooks = formats.xlsx || formats.html;
    let findings_path = if formats.csv { staging.join("findings.csv") } else { tmp.join("findings.csv") };
    let findings_csv = if formats.csv || workbooks { Some(report::FindingsCsv::create(&findings_path)?) } else { None };
    // Plain threads, not a rayon loop: a rayon worker waiting inside a partition's own parallel
    // steps would start further partitions, and memory would hold many at once.
    let next = std::sync::atomic::AtomicUsize::new(0);
    let handed_back = std::sync::atomic::AtomicBool::new(false);
    let done: std::sync::Mutex<Done> = std::sync::Mutex::new(Done { parts: (0..n).map(|_| None).collect(), written: 0, out: findings_csv });
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                // Each worker reads its next partition's spill on a thread of its own while it
                // reconciles the current one (the reads wait on the device), into the buffers
                // the current one was read into (decoded by then).
                let claim = || Some(next.fetch_add(1, std::sync::atomic::Ordering::Relaxed)).filter(|&p| p < n);
                let read = |p: usize, bufs: [report::direct::Aligned; 2]| {
                    let (cons, inc) = (cons_parts[p].clone(), inc_parts[p].clone());
                    std::thread::spawn(move || read_spills(&cons, &inc, bufs))
                };
                let fresh = || [report::direct::Aligned::sized(0), report::direct::Aligned::sized(0)];
                let mut ahead = claim().map(|p| (p, read(p, fresh())));
                while let Some((p, reading)) = ahead.take() {
                    let spilled = reading.join().unwrap_or_else(|_| Err(Error::Internal("a thread reading partition files panicked".into())));
                    let mut spare = None;
                    let loaded = spilled.and_then(|mut s| {
                        let loaded = decode_partition(&mut s, &cons_parts[p], &inc_parts[p], bill_parts.get(p).map(PathBuf::as_path), &shared);
                        spare = Some([s.cons.0, s.inc.0]);
                        loaded
                    });
                    ahead = claim().map(|q| (q, read(q, spare.take().unwrap_or_else(fresh))));
                    let r = loaded.and_then(|l| partition(p, l, &shared));
                    counter.inc();
                    // Under a memory limit, once the resident memory passes HAND_BACK_AT of it,
                    // freed memory goes back to the kernel from then on (kept otherwise, see
                    // main.rs: handing back costs page faults when it is taken again).
                    if near_limit(limit, || crate::obs::resident_bytes()) && !handed_back.swap(true, std::sync::atomic::Ordering::Relaxed) {
                        crate::obs::release_memory();
                        crate::obs::trace("streaming: memory near the limit, handed back from now on", t);
                    }
                    let failed = match done.lock() {
                        Ok(mut d) => {
                            d.parts[p] = Some(r);
                            d.write_heads().is_err()
                        }
                        Err(_) => true,
                    };
                    if failed {
                        next.store(n, std::sync::atomic::Ordering::Relaxed);
                    }
                }
                if let Some((_, reading)) = ahead {
                    let _ = reading.join();
                }
            });
        }
    });
    let Done { parts, out: findings_csv, .. } = done.into_inner().map_err(|_| Error::Internal("a partition worker panicked".into()))?;
    let parts: Vec<Part> = parts.into_iter().flatten().collect::<Result<_, _>>()?;
    if parts.len() != n {
        return Err(Error::Internal("a partition was not reconciled".into()));
    }
    let mut reports: BTreeMap<Period, PeriodReport> = BTreeMap::new();
    let mut counts = Counts::default();
    let mut disputes: Vec<Dispute> = Vec::new();
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
        finding_parts.push(part.findings);
    }
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
            concatenate(&finding_parts, w)?;
            crate::obs::trace("streaming: findings.csv completed from the part files", t);
        }
        let list = customers.as_deref();
        let whose = |cust: &str| assoc.of(list, cust);
        bill_cycles = bill_findings(&bill_groups, grain, &whose, rules, (&cons_prov, &bill_prov), findings_csv.as_mut(), &mut counts, bill_lines)?;
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
    let complete = |findings_csv: Option<report::FindingsCsv>| -> Result<(), Error> {
        if let Some(mut findings_csv) = findings_csv {
            concatenate(&finding_parts, &mut findings_csv)?;
            findings_csv.finish()?;
            crate::obs::trace("streaming: findings.csv completed from the part files", t);
        }
        Ok(())
    };
    let followed;
    if workbooks || options.previous.is_some() {
        // report.xlsx and report.html show findings read back from the completed findings.csv,
        // and the changes since a previous report are read from it.
        complete(findings_csv)?;
        // From here on freed memory goes back to the kernel at once: the writers (report.xlsx and
        // report.html on threads of their own) are not to add to the partitions' peak. (Not
        // before: handing back memory that is taken again costs page faults and zeroing.)
        crate::obs::release_memory();
        followed = report::write_rest_with(&staging, &outcome, &summary_loaded, rules, options, formats, disputes, report::Shown::File(&findings_path))?.1;
    } else {
        // findings.csv is completed in a thread of its own (the copy mostly waits on the disk)
        // while the other outputs are written.
        std::thread::scope(|scope| -> Result<(), Error> {
            let completing = scope.spawn(move || complete(findings_csv));
            let written = report::write_others(&staging, &outcome, &summary_loaded, rules, options, formats, disputes, report::Shown::Kept(&[]));
            completing.join().unwrap_or_else(|_| Err(Error::Internal("the thread completing findings.csv panicked".into())))?;
            // (summary.json lists findings.csv's sha256: written once it is complete)
            let (written, summary, _) = written?;
            report::write_summary_last(&staging, summary, formats, written)?;
            Ok(())
        })?;
        followed = None;
    }
    dir.commit()?;
    progress.finish();
    crate::obs::trace("streaming: merge and write", t);
    report::print_summary(out, &outcome, &summary_loaded, rules, &args.out, followed.as_ref()).map_err(Error::Stdout)?;
    let needs_action = outcome.count(Action::Dispute) + outcome.count(Action::Review) > 0 || !summary_loaded.rejects.is_empty();
    Ok(if needs_action { Status::NeedsAction } else { Status::Clean })
}

#[cfg(test)]
mod tests {
    use super::{memory_limit, near_limit, partition_bytes, workers, Ranges, BYTES_PER_PARTITION, HAND_BACK_AT};

    /// The cgroup memory limit is found for v1 and v2 layouts, and sizes the partitions.
    #[test]
    fn freed_memory_is_handed_back_only_near_a_limit() {
        let gib = 1u64 << 30;
        assert!(!near_limit(None, || Some(100 * gib)), "no limit: never");
        assert!(!near_limit(Some(gib), || None), "resident size unknown");
        assert!(!near_limit(Some(gib), || Some(gib / 2)));
        assert!(!near_limit(Some(gib), || Some(gib / 100 * HAND_BACK_AT)));
        assert!(near_limit(Some(gib), || Some(gib / 100 * HAND_BACK_AT + 1)));
        let mut read = false;
        near_limit(None, || {
            read = true;
            None
        });
        assert!(!read, "without a limit the resident size is not read");
    }

    #[test]
    fn a_cgroup_memory_limit_makes_partitions_smaller() {
        let sys = tempfile::tempdir().unwrap();
        let v1 = sys.path().join("memory/recon-limit");
        std::fs::create_dir_all(&v1).unwrap();
        std::fs::write(v1.join("memory.limit_in_bytes"), "1073741824\n").unwrap();
        let v1_text = "9:name=systemd:/\n4:memory:/recon-limit\n2:cpu,cpuacct:/\n";
        assert_eq!(memory_limit(v1_text, sys.path()), Some(1 << 30));
        let v2 = sys.path().join("user.slice/run");
        std::fs::create_dir_all(&v2).unwrap();
        std::fs::write(v2.join("memory.max"), "max\n").unwrap();
        assert_eq!(memory_limit("0::/user.slice/run\n", sys.path()), None, "max is no limit");
        std::fs::write(v2.join("memory.max"), "2147483648\n").unwrap();
        assert_eq!(memory_limit("0::/user.slice/run\n", sys.path()), Some(2 << 30));
        std::fs::write(v1.join("memory.limit_in_bytes"), "9223372036854771712\n").unwrap();
        assert_eq!(memory_limit(v1_text, sys.path()), None, "v1's unlimited");
        assert_eq!(memory_limit("4:memory:/absent\n", sys.path()), None);
        assert_eq!(partition_bytes(None), BYTES_PER_PARTITION);
        assert!(partition_bytes(Some(1 << 30)) < 12 << 20);
        assert_eq!(partition_bytes(Some(8 << 30)), BYTES_PER_PARTITION);
        assert_eq!(partition_bytes(Some(1 << 20)), 1 << 20);
        // the partitions' size under a limit counts on as many at once as threads
        assert_eq!(workers(2, Some(1 << 30)), 2);
        assert_eq!(workers(2, None), 3);
    }

    /// The partition of a trade id as the plain text comparison gives it.
    fn by_text(r: &Ranges, trade: &str) -> usize {
        r.cuts.partition_point(|c| c.as_str() <= trade)
    }

    #[test]
    fn routing_by_prefix_is_routing_by_text() {
        let ids = ["CS26090000000000", "CS26090000000000a", "CS26090000000000b", "CS2609000000000", "CS26090000000000\0", "TX1", "", "é", "CS26090000000001"];
        let r = Ranges::from_samples(ids.iter().map(|s| s.to_string()).collect(), 6);
        for t in ids.iter().copied().chain(["A", "CS26090000000000\0\0", "CS26090000000000aa", "Z", "CS260900000000009"]) {
            assert_eq!(r.of(t), by_text(&r, t), "{t:?}");
        }
    }

    proptest::proptest! {
        #[test]
        fn any_trade_id_goes_where_text_order_puts_it(samples in proptest::collection::vec("[AB\\x00]{0,18}", 1..40), n in 1usize..8, trade in "[AB\\x00]{0,18}") {
            let r = Ranges::from_samples(samples, n);
            proptest::prop_assert_eq!(r.of(&trade), by_text(&r, &trade));
        }
    }
}
