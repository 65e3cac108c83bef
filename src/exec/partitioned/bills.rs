//! The partner bill in a partitioned run: each partition's bill groups written sorted to a file
//! of their own, then merged in key order and decided as an in-memory run decides them
//! ([`engine::bills::judge`], [`engine::bills::finding`]).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use super::spill::cited;
use super::{io_error, read_error};
use crate::config::Error;
use crate::engine::{self, bills, Counts};
use crate::load::{self, Loaded, Provenance};
use crate::report;
use crate::rules::RuleSet;

/// Writes a partition's bill groups (sorted) to `path`, each with its length first.
pub(super) fn write_groups(path: &Path, groups: &[bills::Partial]) -> Result<(), Error> {
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
pub(super) fn read_group(r: &mut impl std::io::Read, path: &Path) -> Result<Option<bills::Partial>, Error> {
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
pub(super) const BILL_BATCH: usize = 1 << 14;

/// Pass 3 with a partner bill: the partitions' bill groups merged in key order (each file is
/// sorted; a group compared by customer may have parts in several), each group decided as an
/// in-memory run decides it and, with csv output, its record appended to findings.csv. Returns
/// the bill cycles' reports; checks that every bill line landed in one finding.
#[allow(clippy::too_many_arguments)]
pub(super) fn bill_findings(
    parts: &[(PathBuf, BTreeMap<i32, (rust_decimal::Decimal, rust_decimal::Decimal)>)],
    grain: &bills::Grain,
    whose: &(dyn Fn(&str) -> bills::Whose + Sync),
    rules: &RuleSet,
    (cons_prov, bill_prov): (&Provenance, &Provenance),
    mut out: Option<&mut report::FindingsCsv>,
    counts: &mut Counts,
    bill_lines: u64,
    (follow, candidates): (Option<&report::changes::Index>, &mut Vec<report::changes::Candidate>),
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
        type Done = (Vec<Tallied>, Vec<u8>, Counts, Vec<report::changes::Candidate>);
        let done: Vec<Result<Done, Error>> = batch
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
                let mut followed = Vec::new();
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
                    if let Some(c) = follow.and_then(|index| index.candidate(&f)) {
                        followed.push(c);
                    }
                    tallied.push((g.cycle, d, cons, bill));
                }
                Ok((tallied, bytes, counts, followed))
            })
            .collect();
        for chunk in done {
            let (tallied, bytes, n, followed) = chunk?;
            candidates.extend(followed);
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

