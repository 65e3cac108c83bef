//! The spill files read back: a partition's typed rows decoded with their provenance.

use std::path::Path;

use super::read_error;
use crate::config::Error;
use crate::load::{Provenance, Spill};
use crate::report;

/// A partition's two spill files read (consumption, incentives): buffers and lengths.
pub(super) struct Spilled {
    pub(super) cons: (report::direct::Aligned, usize),
    pub(super) inc: (report::direct::Aligned, usize),
}

/// Reads a partition's spill files into `bufs` (read ahead of the partition, on a thread of
/// its own) and removes them.
pub(super) fn read_spills(cons: &Path, inc: &Path, bufs: [report::direct::Aligned; 2]) -> Result<Spilled, Error> {
    let spilled = read_spills_kept(cons, inc, bufs)?;
    let _ = std::fs::remove_file(cons);
    let _ = std::fs::remove_file(inc);
    Ok(spilled)
}

/// [`read_spills`], the files left in place (read again by a later pass: [`super::each`]).
pub(super) fn read_spills_kept(cons: &Path, inc: &Path, bufs: [report::direct::Aligned; 2]) -> Result<Spilled, Error> {
    let [a, b] = bufs;
    let cons_read = report::direct::read_into(cons, a).map_err(read_error(cons))?;
    let inc_read = report::direct::read_into(inc, b).map_err(read_error(inc))?;
    Ok(Spilled { cons: cons_read, inc: inc_read })
}

/// Decodes a spill file's records into a sink and its provenance rows.
pub(super) fn read_back<S: Spill>(bytes: &[u8], path: &Path, sink: &mut S, prov: &mut Provenance) -> Result<(), Error> {
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

pub(super) fn cited(prov: &Provenance) -> Provenance {
    Provenance { tables: prov.tables.iter().map(|t| t.cited()).collect(), rows: Vec::new() }
}
