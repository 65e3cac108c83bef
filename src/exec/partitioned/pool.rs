//! Pass 2 of a partitioned run: the worker pool that reconciles the partitions through the
//! engine's one entry, each writing its findings to a part file, and the assembly of
//! findings.csv from those files in period and partition order.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use super::bills::write_groups;
use super::plan::near_limit;
use super::spill::{cited, read_back, read_spills, Spilled};
use super::{io_error, read_error};
use crate::config::Error;
use crate::engine::{self, Counts, Globals, PeriodReport};
use crate::load::{self, Loaded, Provenance};
use crate::model::Period;
use crate::report::{self, disputes::Dispute, ReportError};
use crate::rules::RuleSet;

/// Pass 2: reconciles the `n` partitions (spill files `cons_parts`, `inc_parts`, `bill_parts`),
/// `workers` at a time, appending each one's first-period findings to `findings_csv` in
/// partition order as soon as those before it are done; returns the partitions in order.
#[allow(clippy::too_many_arguments)]
pub(super) fn reconcile(
    n: usize,
    workers: usize,
    limit: Option<u64>,
    [cons_parts, inc_parts, bill_parts]: [&[PathBuf]; 3],
    shared: &Shared,
    findings_csv: Option<report::FindingsCsv>,
    counter: &crate::progress::Counter,
    t: std::time::Instant,
) -> Result<(Vec<Part>, Option<report::FindingsCsv>), Error> {
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
                        let loaded = decode_partition(&mut s, &cons_parts[p], &inc_parts[p], bill_parts.get(p).map(PathBuf::as_path), &shared.decoding());
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
    let Done { parts, out, .. } = done.into_inner().map_err(|_| Error::Internal("a partition worker panicked".into()))?;
    Ok((parts.into_iter().flatten().collect::<Result<_, _>>()?, out))
}

/// findings.csv: the BOM, the header, then for each period the findings of that period of each
/// partition in turn (`parts[k]` with the byte range of each period in it).
pub(super) fn concatenate(parts: &[PartFindings], w: &mut report::FindingsCsv) -> Result<(), Error> {
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
pub(super) struct Done {
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


/// A partition's findings part file and the byte range of each period's findings in it.
pub(super) type PartFindings = (PathBuf, Vec<(Period, u64, u64)>);

/// What reconciling one partition gives.
pub(super) struct Part {
    pub(super) periods: Vec<PeriodReport>,
    pub(super) counts: Counts,
    pub(super) disputes: Vec<Dispute>,
    /// Its findings of the first period in scope (no finding comes before it), as rendered
    /// batches of records, held to be appended to findings.csv directly, in partition order.
    pub(super) head: Vec<Vec<u8>>,
    /// Its findings of the later periods.
    pub(super) findings: PartFindings,
    /// With `--previous`: its findings that following needs, in its order (by period).
    pub(super) follow: Vec<report::changes::Candidate>,
    /// Its findings' expected side per product, when summed.
    pub(super) expected: report::expected::ExpectedSums,
    /// With a partner bill: the file of its bill groups (sorted) and its other consumption per
    /// cycle (see [`engine::bills::partials`]).
    pub(super) bills: Option<(PathBuf, BTreeMap<i32, (rust_decimal::Decimal, rust_decimal::Decimal)>)>,
}

/// Everything the partitions share (read-only).
pub(super) struct Shared<'a> {
    pub(super) rules: &'a RuleSet,
    pub(super) periods: &'a [Period],
    pub(super) globals: &'a Globals,
    pub(super) customers: Option<&'a std::sync::Arc<load::Customers>>,
    pub(super) cons_prov: &'a Provenance,
    pub(super) inc_prov: &'a Provenance,
    pub(super) bill_prov: &'a Provenance,
    pub(super) tmp: &'a Path,
    /// The first period in scope: every finding is of it or later.
    pub(super) first: Option<Period>,
    /// With `--previous`: the previous report, which each finding is checked against.
    pub(super) follow: Option<&'a report::changes::Index>,
    /// Whether the findings' expected side is summed per product (`estimate`, `whatif`).
    pub(super) sum_expected: bool,
}

impl Shared<'_> {
    pub(super) fn decoding(&self) -> Decoding<'_> {
        Decoding { rules: self.rules, customers: self.customers, cons_prov: self.cons_prov, inc_prov: self.inc_prov, bill_prov: self.bill_prov }
    }
}

/// What decoding a partition's spill files needs.
pub(super) struct Decoding<'a> {
    pub(super) rules: &'a RuleSet,
    pub(super) customers: Option<&'a std::sync::Arc<load::Customers>>,
    pub(super) cons_prov: &'a Provenance,
    pub(super) inc_prov: &'a Provenance,
    pub(super) bill_prov: &'a Provenance,
}

/// A partition's rows, decoded from its spill files' bytes.
pub(super) fn decode_partition(spilled: &mut Spilled, cons: &Path, inc: &Path, bills: Option<&Path>, sh: &Decoding) -> Result<Loaded, Error> {
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
pub(super) fn partition(p: usize, loaded: Loaded, sh: &Shared) -> Result<Part, Error> {
    let path = sh.tmp.join(format!("findings-{p:04}.csv"));
    // Written around the page cache: read back once, at the end (report::direct).
    let mut file = report::direct::DirectFile::create(&path).map_err(io_error(&path))?;
    let mut ranges: Vec<(Period, u64, u64)> = Vec::new();
    let mut offset = 0u64;
    let mut disputes = Vec::new();
    let mut head = Vec::new();
    let mut follow = Vec::new();
    let mut expected = report::expected::ExpectedSums::default();
    let render = report::Render { loaded: &loaded, rules: sh.rules, csv: true, disputes: true, keep: None, follow: sh.follow, sum_expected: sh.sum_expected };
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
            follow.extend(b.follow);
            expected.merge(b.expected);
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
    Ok(Part { periods: outcome.periods, counts: outcome.counts, disputes, head, findings: (path, ranges), follow, expected, bills })
}

