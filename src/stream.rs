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
//!    accepted rows are spilled, typed, to one of N partition files by a hash of trade id and
//!    service; customers are loaded whole (every partition needs them);
//! 2. each partition is reconciled by the ordinary engine with the global facts, its findings
//!    written (sorted) to a part file, its dispute lines made while its rows are at hand, and its
//!    waterfall figures added up;
//! 3. the parts are merged by (period, trade id, service) into findings.csv.
//!
//! The outputs are byte-identical to an in-memory run on the same inputs (tested). Peak memory is
//! that of one block plus one partition. The partner bill check and the workbook and HTML
//! reports are not available in this mode yet: they are refused with a message, not skipped.

use std::collections::{BTreeMap, BinaryHeap};
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use crate::app::{Error, RunArgs, Status};
use crate::engine::{self, Action, Counts, Finding, Globals, Outcome, PeriodReport};
use crate::load::table::label_of;
use crate::load::schema::Kind;
use crate::load::{self, InputPaths, Loaded, Provenance, Spill};
use crate::model::Period;
use crate::progress::Progress;
use crate::report::{self, disputes::Dispute, Formats, ReportError, RunOptions};
use crate::rules::RuleSet;

/// Input bytes per partition when `--partitions` is not given.
const BYTES_PER_PARTITION: u64 = 96 << 20;

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Report(ReportError::Io { path: path.display().to_string(), source })
}

/// FNV-1a of trade id and service: the partition of a row, stable across runs and machines.
fn partition_of(trade: &str, service: &str, n: usize) -> usize {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in trade.bytes().chain(std::iter::once(0xff)).chain(service.bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    (h % n as u64) as usize
}

/// One spill file per partition for one kind.
struct Spiller {
    paths: Vec<PathBuf>,
    files: Vec<BufWriter<File>>,
    buf: Vec<u8>,
}

impl Spiller {
    fn create(dir: &Path, kind: &str, n: usize) -> std::io::Result<Spiller> {
        let paths: Vec<PathBuf> = (0..n).map(|i| dir.join(format!("{kind}-{i:04}.bin"))).collect();
        let files = paths.iter().map(|p| File::create(p).map(|f| BufWriter::with_capacity(256 << 10, f))).collect::<Result<_, _>>()?;
        Ok(Spiller { paths, files, buf: Vec::new() })
    }

    /// Writes each row of `sink` to its partition: provenance, then the typed row.
    fn route<S: Spill>(&mut self, sink: &S, prov: &[(u32, u32)]) -> std::io::Result<()> {
        let n = self.files.len();
        for (i, (table, loc)) in prov.iter().enumerate().take(sink.rows()) {
            let (trade, service) = sink.partition_key(i);
            self.buf.clear();
            self.buf.extend_from_slice(&table.to_le_bytes());
            self.buf.extend_from_slice(&loc.to_le_bytes());
            sink.encode(i, &mut self.buf);
            let f = &mut self.files[partition_of(trade, service, n)];
            f.write_all(&(self.buf.len() as u32).to_le_bytes())?;
            f.write_all(&self.buf)?;
        }
        Ok(())
    }

    fn finish(self) -> std::io::Result<Vec<PathBuf>> {
        for mut f in self.files {
            f.flush()?;
        }
        Ok(self.paths)
    }
}

/// Reads a spill file back into a sink and its provenance rows.
fn read_back<S: Spill>(path: &Path, sink: &mut S, prov: &mut Provenance) -> Result<(), Error> {
    let mut bytes = Vec::new();
    File::open(path).and_then(|mut f| f.read_to_end(&mut bytes)).map_err(io_error(path))?;
    let _ = std::fs::remove_file(path);
    let mut input: &[u8] = &bytes;
    let corrupt = || Error::Usage(format!("{}: a partition file of this run is damaged (was the temporary directory changed during the run?)", path.display()));
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

/// The sort key of a finding in findings.csv: period, trade id, service (bytes compare as the
/// tuple does: the period is big-endian and the trade id ends with a 0 byte, which no text holds).
fn sort_key(f: &Finding) -> Vec<u8> {
    let mut k = Vec::with_capacity(4 + f.trade_id.len() + 1 + f.service.len());
    k.extend_from_slice(&((f.period.0 as u32) ^ 0x8000_0000).to_be_bytes());
    k.extend_from_slice(f.trade_id.as_bytes());
    k.push(0);
    k.extend_from_slice(f.service.as_bytes());
    k
}

fn put_chunk(w: &mut impl Write, bytes: &[u8]) -> std::io::Result<()> {
    w.write_all(&(bytes.len() as u32).to_le_bytes())?;
    w.write_all(bytes)
}

fn get_chunk(r: &mut impl Read) -> std::io::Result<Option<Vec<u8>>> {
    let mut len = [0u8; 4];
    match r.read_exact(&mut len) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let mut buf = vec![0u8; u32::from_le_bytes(len) as usize];
    r.read_exact(&mut buf)?;
    Ok(Some(buf))
}

/// Merges the sorted part files into findings.csv.
fn merge(parts: &[PathBuf], out: &Path) -> Result<(), Error> {
    let mut readers = Vec::with_capacity(parts.len());
    for p in parts {
        readers.push(BufReader::with_capacity(256 << 10, File::open(p).map_err(io_error(p))?));
    }
    let mut w = BufWriter::with_capacity(1 << 20, File::create(out).map_err(io_error(out))?);
    w.write_all(b"\xEF\xBB\xBF").map_err(io_error(out))?;
    let mut header = csv::Writer::from_writer(Vec::new());
    header.write_record(report::FINDINGS_HEADER).map_err(|source| ReportError::Csv { path: out.display().to_string(), source })?;
    let header = header.into_inner().map_err(|e| io_error(out)(e.into_error()))?;
    w.write_all(&header).map_err(io_error(out))?;
    let mut heap = BinaryHeap::new();
    let next = |r: &mut BufReader<File>, p: &Path| -> Result<Option<(Vec<u8>, Vec<u8>)>, Error> {
        let Some(key) = get_chunk(r).map_err(io_error(p))? else { return Ok(None) };
        let rec = get_chunk(r).map_err(io_error(p))?.ok_or_else(|| Error::Usage(format!("{}: a findings part of this run is cut short", p.display())))?;
        Ok(Some((key, rec)))
    };
    for (i, r) in readers.iter_mut().enumerate() {
        if let Some((key, rec)) = next(r, &parts[i])? {
            heap.push(std::cmp::Reverse((key, i, rec)));
        }
    }
    while let Some(std::cmp::Reverse((_, i, rec))) = heap.pop() {
        w.write_all(&rec).map_err(io_error(out))?;
        if let Some((key, rec)) = next(&mut readers[i], &parts[i])? {
            heap.push(std::cmp::Reverse((key, i, rec)));
        }
    }
    w.flush().map_err(io_error(out))?;
    for p in parts {
        let _ = std::fs::remove_file(p);
    }
    Ok(())
}

/// How many partitions: `--partitions`, else one per [`BYTES_PER_PARTITION`] of input.
fn partitions(args: &RunArgs, root: &Path) -> Result<usize, Error> {
    if let Some(n) = args.partitions {
        return Ok(n.clamp(1, 4096));
    }
    let mut bytes = 0u64;
    for kind in [&args.consumption, &args.incentives] {
        for (p, _, _) in load::table::list(kind, root)? {
            bytes += std::fs::metadata(&p).map(|m| m.len()).unwrap_or(0);
        }
    }
    Ok((bytes.div_ceil(BYTES_PER_PARTITION) as usize).clamp(1, 4096))
}

/// `recon run --streaming`.
pub fn run(args: &RunArgs, out: &mut impl Write) -> Result<Status, Error> {
    let root = match &args.root {
        Some(r) => r.clone(),
        None => std::env::current_dir().unwrap_or_default(),
    };
    let mut rules = RuleSet::load(&args.rules)?;
    rules.path = label_of(&args.rules, &root);
    let formats = Formats::parse(&args.formats).map_err(Error::Usage)?;
    if formats.xlsx || formats.html {
        return Err(Error::Usage("--streaming writes csv and json outputs only: add --format csv,json (report.xlsx and report.html need every finding in memory)".into()));
    }
    if !args.bills.is_empty() {
        return Err(Error::Usage("--streaming does not check the partner bill yet: run the bill check (--bills) without --streaming".into()));
    }
    let periods = args
        .periods
        .iter()
        .map(|s| Period::parse(s).ok_or_else(|| Error::Usage(format!("--period {s:?}: expected a period such as 2026-10"))))
        .collect::<Result<Vec<_>, _>>()?;
    let n = partitions(args, &root)?;
    std::fs::create_dir_all(&args.out).map_err(io_error(&args.out))?;
    let tmp = args.out.join(format!(".recon-partitions-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).map_err(io_error(&tmp))?;
    let result = run_in(args, &rules, formats, &periods, n, &root, &tmp, out);
    let _ = std::fs::remove_dir_all(&tmp);
    result
}

#[allow(clippy::too_many_arguments)]
fn run_in(args: &RunArgs, rules: &RuleSet, formats: Formats, periods: &[Period], n: usize, root: &Path, tmp: &Path, out: &mut impl Write) -> Result<Status, Error> {
    let paths = InputPaths {
        consumption: args.consumption.clone(),
        incentives: args.incentives.clone(),
        customers: args.customers.clone(),
        bills: Vec::new(),
        sheet: args.sheet.clone(),
        root: root.to_path_buf(),
    };
    let sheet = args.sheet.as_deref();
    let mut progress = Progress::new();

    // Pass 1: read, validate and spill.
    progress.stage("reading and partitioning inputs");
    let t = std::time::Instant::now();
    let mut rejects = Vec::new();
    let mut inputs = Vec::new();
    let mut globals = Globals::default();
    let mut cons_prov = Provenance::default();
    let mut spill = Spiller::create(tmp, "consumption", n).map_err(io_error(tmp))?;
    inputs.extend(load::stream_kind::<load::Consumption>(&paths.consumption, root, Kind::Consumption, rules, sheet, &mut cons_prov, &mut rejects, &mut |sink, prov| {
        globals.cycles.extend(sink.cycle.iter().map(|&c| Period(c)));
        spill.route(&sink, &prov)
    })?);
    let cons_parts = spill.finish().map_err(io_error(tmp))?;
    let mut inc_prov = Provenance::default();
    let mut spill = Spiller::create(tmp, "incentives", n).map_err(io_error(tmp))?;
    inputs.extend(load::stream_kind::<load::Incentives>(&paths.incentives, root, Kind::Incentives, rules, sheet, &mut inc_prov, &mut rejects, &mut |sink, prov| {
        globals.incentive_periods.extend(sink.period.iter().map(|&p| Period(p)));
        spill.route(&sink, &prov)
    })?);
    let inc_parts = spill.finish().map_err(io_error(tmp))?;
    let mut customers = None;
    if !paths.customers.is_empty() {
        let (c, summaries) = load::load_customers(&paths, rules, &mut rejects)?;
        inputs.extend(summaries);
        customers = Some(c);
    }
    crate::app::trace("streaming: read and partition", t);

    // Pass 2: reconcile each partition.
    let scope_periods: Vec<Period> = if periods.is_empty() {
        globals.incentive_periods.iter().copied().collect()
    } else {
        periods.iter().copied().collect::<std::collections::BTreeSet<_>>().into_iter().collect()
    };
    let loaded_periods: Vec<Period> = globals.incentive_periods.iter().chain(periods.iter()).copied().collect::<std::collections::BTreeSet<_>>().into_iter().collect();
    let mut reports: BTreeMap<Period, PeriodReport> = BTreeMap::new();
    let mut counts = Counts::default();
    let mut disputes: Vec<Dispute> = Vec::new();
    let mut finding_parts = Vec::with_capacity(n);
    for p in 0..n {
        progress.stage(&format!("reconciling partition {} of {n}", p + 1));
        let t = std::time::Instant::now();
        let mut loaded = Loaded { customers: customers.take(), ..Loaded::default() };
        loaded.consumption.counted = vec![Vec::new(); rules.counted.len()];
        loaded.consumption.prov = cited(&cons_prov);
        loaded.incentives.prov = cited(&inc_prov);
        let mut prov = std::mem::take(&mut loaded.consumption.prov);
        read_back(&cons_parts[p], &mut loaded.consumption, &mut prov)?;
        loaded.consumption.prov = prov;
        let mut prov = std::mem::take(&mut loaded.incentives.prov);
        read_back(&inc_parts[p], &mut loaded.incentives, &mut prov)?;
        loaded.incentives.prov = prov;
        let part_path = tmp.join(format!("findings-{p:04}.bin"));
        let mut part = BufWriter::with_capacity(1 << 20, File::create(&part_path).map_err(io_error(&part_path))?);
        let outcome = {
            let loaded = &loaded;
            let part_path = &part_path;
            let part = &mut part;
            let disputes = &mut disputes;
            engine::run_part(loaded, rules, periods, Some(&globals), &mut |chunk: Vec<Finding>| {
                let records = report::finding_records(&chunk, loaded)?;
                for (f, rec) in chunk.iter().zip(records) {
                    put_chunk(part, &sort_key(f)).and_then(|()| put_chunk(part, &rec)).map_err(|source| ReportError::Io { path: part_path.display().to_string(), source })?;
                    if f.action == Action::Dispute {
                        disputes.push(report::disputes::dispute(f, loaded, rules));
                    }
                }
                Ok(())
            })?
        };
        part.flush().map_err(io_error(&part_path))?;
        finding_parts.push(part_path);
        counts.total += outcome.counts.total;
        counts.none += outcome.counts.none;
        counts.dispute += outcome.counts.dispute;
        counts.review += outcome.counts.review;
        for r in outcome.periods {
            match reports.get_mut(&r.period) {
                Some(acc) => acc.absorb(&r),
                None => {
                    reports.insert(r.period, r);
                }
            }
        }
        customers = loaded.customers.take();
        crate::app::trace("streaming: partition", t);
    }

    // Pass 3: merge and write.
    progress.stage("writing reports");
    let t = std::time::Instant::now();
    if formats.csv {
        merge(&finding_parts, &args.out.join("findings.csv"))?;
    }
    report::disputes::sort(&mut disputes);
    let outcome = Outcome {
        loaded_periods,
        scope: scope_periods.clone(),
        periods: scope_periods.iter().filter_map(|p| reports.remove(p)).collect(),
        findings: Vec::new(),
        counts,
        rows: Default::default(),
        bills: Vec::new(),
    };
    let label = |v: &[PathBuf]| v.iter().map(|p| PathBuf::from(label_of(p, root))).collect::<Vec<_>>();
    let options = RunOptions {
        command: args.command,
        formats: formats.names(),
        rules: PathBuf::from(label_of(&args.rules, root)),
        consumption: label(&args.consumption),
        incentives: label(&args.incentives),
        customers: label(&args.customers),
        bills: Vec::new(),
        periods: periods.to_vec(),
        sheet: args.sheet.clone(),
    };
    let summary_loaded = Loaded { inputs, rejects, customers, ..Loaded::default() };
    report::write_rest_with(&args.out, &outcome, &summary_loaded, rules, &options, formats, disputes)?;
    progress.finish();
    crate::app::trace("streaming: merge and write", t);
    report::print_summary(out, &outcome, &summary_loaded, rules, &args.out).map_err(Error::Stdout)?;
    let needs_action = outcome.count(Action::Dispute) + outcome.count(Action::Review) > 0 || !summary_loaded.rejects.is_empty();
    Ok(if needs_action { Status::NeedsAction } else { Status::Clean })
}
