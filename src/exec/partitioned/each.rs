//! Inputs partitioned for a command that is not a run but looks at one trade id range at a time
//! (`recon init`): pass 1 of a streamed run (the same reads, checks, rejections and citations,
//! the rows spilled to trade id ranges), then the partitions decoded one at a time, as many
//! times as the command needs, each handed to the command's function. Memory stays that of one
//! block while reading, then of a partition per worker.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use super::io_error;
use super::plan::{kind_bytes, own_limit, partition_bytes, Ranges, SAMPLES_PER_FILE};
use super::pool::{decode_partition, Decoding};
use super::route::{read_inputs, Pass1, Spilling};
use super::spill::read_spills_kept;
use crate::config::Error;
use crate::load::schema::Kind;
use crate::load::{self, InputPaths, Loaded, Provenance};
use crate::model::Period;
use crate::report;
use crate::rules::RuleSet;

/// The inputs, read and spilled to partitions under a directory of their own (removed when this
/// is dropped).
pub struct Partitioned {
    dir: PathBuf,
    cons: Vec<PathBuf>,
    inc: Vec<PathBuf>,
    cons_prov: Provenance,
    inc_prov: Provenance,
    no_bills: Provenance,
    workers: usize,
    /// The inputs read, as a run lists them.
    pub inputs: Vec<load::InputSummary>,
    /// Every rejected row, as a run writes them to rejected.csv.
    pub rejects: Vec<load::Reject>,
    pub customers: Option<std::sync::Arc<load::Customers>>,
    /// Statement periods of any accepted statement line.
    pub incentive_periods: BTreeSet<Period>,
}

/// Reads the consumption, statements and customers of `paths` (no partner bill) into `n`
/// partitions (by default one per 16 MiB of input, as a run) under `dir` (created; removed with
/// the result, or at once on an error).
pub fn partition(paths: &InputPaths, rules: &RuleSet, dir: &Path, n: Option<usize>) -> Result<Partitioned, Error> {
    let (limit, block) = own_limit();
    let bytes = input_bytes(paths)?;
    let n = n.unwrap_or_else(|| bytes.div_ceil(partition_bytes(limit)) as usize).clamp(1, 4096);
    std::fs::create_dir_all(dir).map_err(io_error(dir))?;
    let mut out = Partitioned {
        dir: dir.to_path_buf(),
        cons: Vec::new(),
        inc: Vec::new(),
        cons_prov: Provenance::default(),
        inc_prov: Provenance::default(),
        no_bills: Provenance::default(),
        // (as many as the threads: each worker's partition is decoded and looked at, nothing
        // waits on a writer)
        workers: rayon::current_num_threads().max(1),
        inputs: Vec::new(),
        rejects: Vec::new(),
        customers: None,
        incentive_periods: BTreeSet::new(),
    };
    let paths = InputPaths { bills: Vec::new(), ..paths.clone() };
    let samples = load::sample_trade_ids(&paths.consumption, &paths.root, Kind::Consumption, rules, SAMPLES_PER_FILE)?;
    let ranges = Ranges::from_samples(samples, n);
    let mut spill = Spilling { dir, ranges: &ranges, open: None, parts: Default::default(), failed: None };
    let Pass1 { inputs, rejects, globals, customers, cons_prov, inc_prov, .. } = read_inputs(&paths, rules, block, &mut spill)?;
    let [cons, inc, _] = spill.parts;
    out.workers = out.workers.min(cons.len()).max(1);
    (out.cons, out.inc, out.cons_prov, out.inc_prov) = (cons, inc, cons_prov, inc_prov);
    (out.inputs, out.rejects, out.customers, out.incentive_periods) = (inputs, rejects, customers, globals.incentive_periods);
    Ok(out)
}

/// Bytes of consumption and statements `paths` name (what decides whether to partition them).
pub fn input_bytes(paths: &InputPaths) -> Result<u64, Error> {
    Ok(kind_bytes(&paths.consumption, &paths.root)? + kind_bytes(&paths.incentives, &paths.root)?)
}

impl Partitioned {
    /// Accepted rows of a kind.
    pub fn accepted(&self, kind: Kind) -> usize {
        self.inputs.iter().filter(|i| i.kind == kind).map(|i| i.accepted).sum()
    }

    /// `f` of every partition's rows (consumption, statements and the customers), in partition
    /// order; the partitions are decoded from their files again at each call.
    pub fn map<T: Send>(&self, rules: &RuleSet, f: impl Fn(&Loaded) -> T + Sync) -> Result<Vec<T>, Error> {
        let n = self.cons.len();
        let decoding = Decoding { rules, customers: self.customers.as_ref(), cons_prov: &self.cons_prov, inc_prov: &self.inc_prov, bill_prov: &self.no_bills };
        let next = std::sync::atomic::AtomicUsize::new(0);
        let results: std::sync::Mutex<Vec<Option<Result<T, Error>>>> = std::sync::Mutex::new((0..n).map(|_| None).collect());
        std::thread::scope(|scope| {
            for _ in 0..self.workers {
                scope.spawn(|| {
                    let mut bufs = Some([report::direct::Aligned::sized(0), report::direct::Aligned::sized(0)]);
                    loop {
                        let p = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        if p >= n {
                            break;
                        }
                        let r = read_spills_kept(&self.cons[p], &self.inc[p], bufs.take().unwrap_or_else(|| [report::direct::Aligned::sized(0), report::direct::Aligned::sized(0)])).and_then(|mut s| {
                            let loaded = decode_partition(&mut s, &self.cons[p], &self.inc[p], None, &decoding);
                            bufs = Some([s.cons.0, s.inc.0]);
                            loaded
                        });
                        let r = r.map(|loaded| f(&loaded));
                        let failed = r.is_err();
                        match results.lock() {
                            Ok(mut v) => v[p] = Some(r),
                            Err(_) => break,
                        }
                        if failed {
                            next.store(n, std::sync::atomic::Ordering::Relaxed);
                        }
                    }
                });
            }
        });
        let results = results.into_inner().map_err(|_| Error::Internal("a partition worker panicked".into()))?;
        let mut out = Vec::with_capacity(n);
        for r in results {
            match r {
                Some(r) => out.push(r?),
                None => return Err(Error::Internal("a partition was not looked at".into())),
            }
        }
        Ok(out)
    }
}

impl Drop for Partitioned {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
