//! The block pipeline of a streamed run's first pass: each input of one kind read a block at a
//! time (a CSV by three threads: reading, parsing, routing), its accepted rows handed on block by
//! block instead of kept.

use super::schema::Kind;
use super::table::{self, read_tables, Table};
use super::{read_table, InputPaths, InputSummary, LoadError, Provenance, Read, Reject, Sink};
use crate::rules::RuleSet;

/// Reads one kind's files `block` bytes at a time, handing each block's accepted rows (a sink
/// and each row's provenance) to `route` instead of keeping them: the first pass of a streamed
/// run. Provenance tables (what citing needs) are kept in `prov`; rejected rows go to `rejects`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn stream_kind<S: Sink>(
    inputs: &InputPaths,
    kind: Kind,
    rules: &RuleSet,
    block: usize,
    prov: &mut Provenance,
    rejects: &mut Vec<Reject>,
    route: &mut (dyn FnMut(S, Vec<(u32, u32)>, &Table) -> std::io::Result<()> + Send),
) -> Result<Vec<InputSummary>, LoadError> {
    let (root, sheet) = (inputs.root.as_path(), inputs.sheet.as_deref());
    let paths = match kind {
        Kind::Consumption => &inputs.consumption,
        Kind::Incentives => &inputs.incentives,
        Kind::Customers => &inputs.customers,
        Kind::Bills => &inputs.bills,
    };
    // RECON_BLOCK_BYTES overrides the block size (the tests use tiny blocks).
    let block = crate::knobs::knobs().block_bytes.unwrap_or(block);
    let mut summaries = Vec::new();
    let mut proto = S::default();
    let start = std::time::Instant::now();
    for (path, label, format) in table::list(paths, root)? {
        let mut summary = InputSummary { path: label.clone(), kind, format: format.name(), sha256: String::new(), rows: 0, accepted: 0, rejected: 0 };
        let io = |source| LoadError::Io { path: label.clone(), source };
        if format == table::Format::Csv {
            // A pipeline of three: one thread reads and cuts blocks, this one parses them (in
            // parallel parts), one spills the parsed rows; each waits for at most one block.
            let table_idx = prov.tables.len() as u32;
            let mut first = true;
            let (summary_ref, rejects_ref) = (&mut summary, &mut *rejects);
            let route_ref = &mut *route;
            let sha = std::thread::scope(|sc| -> Result<String, LoadError> {
                let (blocks_tx, blocks_rx) = std::sync::mpsc::sync_channel::<Table>(1);
                let (label_r, path_r) = (label.clone(), path.clone());
                let reader = sc.spawn(move || {
                    table::csv_blocks(&path_r, &label_r, block, |t| {
                        blocks_tx.send(t).map_err(|_| LoadError::Io { path: label_r.clone(), source: std::io::Error::other("stopped") })
                    })
                });
                // (the first parsed block brings its table, as rows cite it, for the router)
                let (parsed_tx, parsed_rx) = std::sync::mpsc::sync_channel::<(Vec<Read<S>>, Option<Table>)>(1);
                let spiller = sc.spawn(move || -> Result<(), LoadError> {
                    let mut table: Option<Table> = None;
                    for (reads, t) in parsed_rx {
                        if t.is_some() {
                            table = t;
                        }
                        let Some(cited) = table.as_ref() else { return Err(io(std::io::Error::other("rows came before their table"))) };
                        for r in reads {
                            let (sink, prov_rows) = summary_ref.add(r, rejects_ref);
                            route_ref(sink, prov_rows, cited).map_err(io)?;
                        }
                    }
                    Ok(())
                });
                let mut parsed = Ok(());
                for t in blocks_rx {
                    let mut cited = None;
                    if first {
                        prov.tables.push(t.cited());
                        cited = Some(t.cited());
                        first = false;
                    }
                    match read_table(t, kind, rules, &mut proto, table_idx) {
                        Ok(reads) => {
                            if parsed_tx.send((reads, cited)).is_err() {
                                break; // the spiller failed: its error is reported below
                            }
                        }
                        Err(e) => {
                            parsed = Err(e);
                            break;
                        }
                    }
                }
                drop(parsed_tx);
                let spilled = spiller.join().unwrap_or_else(|_| Err(LoadError::Io { path: label.clone(), source: std::io::Error::other("the spilling thread panicked") }));
                let read = reader.join().unwrap_or_else(|_| Err(LoadError::Io { path: label.clone(), source: std::io::Error::other("the reading thread panicked") }));
                // The first failure in pipeline order: parsing, then spilling, then reading (a
                // reader stopped by a failure downstream reports only that it was stopped).
                parsed?;
                spilled?;
                read
            })?;
            summary.sha256 = sha;
        } else {
            // Read on a thread of its own, as the CSV pipeline's are: the memory it frees is then
            // the allocator's to reuse or hand back in other threads once the thread ends.
            let (summary_ref, prov_ref, proto_ref, rejects_ref, route_ref) = (&mut summary, &mut *prov, &mut proto, &mut *rejects, &mut *route);
            let read = std::thread::scope(|sc| {
                sc.spawn(move || -> Result<(), LoadError> {
                    let mut file = table::read_one(&path, root)?;
                    summary_ref.sha256 = file.sha256.clone();
                    let route_table = |t: Table| -> Result<(), LoadError> {
                        let table_idx = prov_ref.tables.len() as u32;
                        prov_ref.tables.push(t.cited());
                        let cited = t.cited();
                        for r in read_table(t, kind, rules, proto_ref, table_idx)? {
                            let (sink, prov_rows) = summary_ref.add(r, rejects_ref);
                            route_ref(sink, prov_rows, &cited).map_err(io)?;
                        }
                        Ok(())
                    };
                    // A .tar.gz delivery a part at a time (its parts decoded one by one),
                    // anything else whole.
                    match file.format {
                        table::Format::TarGz => table::each_tar_gz_part(&file.bytes, &file.label, route_table),
                        _ => read_tables(&mut file, sheet)?.into_iter().try_for_each(route_table),
                    }
                })
                .join()
            });
            read.unwrap_or_else(|_| Err(LoadError::Io { path: label.clone(), source: std::io::Error::other("the reading thread panicked") }))?;
        }
        summaries.push(summary);
    }
    crate::obs::trace(&format!("  read {}", kind.name()), start);
    Ok(summaries)
}
