//! Planning a partitioned run: how many partitions, how many at once, the block size, and the
//! trade id ranges they hold; sized from the input bytes and the cgroup memory limit.

use std::path::{Path, PathBuf};

use crate::config::{Error, RunArgs};
use crate::load;

/// The shape of a partitioned run.
#[derive(Debug, Clone, Copy)]
pub(super) struct Plan {
    /// Partitions (trade id ranges).
    pub n: usize,
    /// Partitions reconciled at once.
    pub workers: usize,
    /// Input bytes read and parsed at a time in the first pass.
    pub block: usize,
    /// The cgroup memory limit, if any.
    pub limit: Option<u64>,
}

/// Percent of a cgroup memory limit past which a streamed run hands freed memory back: at 10 M
/// rows under 512 MiB the run then finishes (29–30 s; killed otherwise), under 1 GiB it is
/// reached late in the reconcile pass, if at all (24.5–25.8 s either way); at 80 %, 512 MiB
/// was killed twice of two (BENCHMARKS.md).
pub(super) const HAND_BACK_AT: u64 = 75;

/// Whether the resident memory (`rss`, read only under a limit) is past [`HAND_BACK_AT`] of
/// the memory `limit`.
pub(super) fn near_limit(limit: Option<u64>, rss: impl FnOnce() -> Option<u64>) -> bool {
    limit.is_some_and(|l| rss().is_some_and(|r| r > l / 100 * HAND_BACK_AT))
}

/// Input bytes per partition when `--partitions` is not given.
pub(super) const BYTES_PER_PARTITION: u64 = 16 << 20;

/// Under a memory limit (a cgroup), input bytes per partition are at most the limit divided by
/// this: two partitions are reconciled at once on two threads ([`workers`]), each using several
/// times its input bytes (10 M rows under a 1 GiB cgroup: 16 MiB partitions peaked at
/// 1.05–1.08 GB and were killed one time in two; 12 MiB ones at 0.96–0.98 GB, BENCHMARKS.md).
pub(super) const LIMIT_PER_PARTITION_BYTE: u64 = 96;

/// Input bytes read and parsed at a time in the first pass.
pub(super) const BLOCK: usize = 64 << 20;

/// ... under a memory limit: what the first pass held stays with the process and adds to the
/// second pass's peak (10 M rows with the partner bill under a 1 GiB cgroup: 1.00–1.04 GB with
/// 64 MiB blocks, 0.81 GB with 16 MiB ones, as fast).
pub(super) const LIMITED_BLOCK: usize = 16 << 20;


/// Short reads per CSV file to sample trade ids for the partition cuts.
pub(super) const SAMPLES_PER_FILE: usize = 4096;

/// The partitions: trade id ranges cut at `cuts` (partition k holds the trade ids t with
/// `cuts[k-1] <= t < cuts[k]`).
pub(super) struct Ranges {
    pub(super) cuts: Vec<String>,
    /// Each cut's first 16 bytes as a number ([`prefix`]): most trade ids are told apart by it
    /// alone, without comparing text (every accepted row is routed).
    prefixes: Vec<u128>,
}

/// The first 16 bytes of `s`, zero-padded, as a big-endian number: `a < b` when
/// `prefix(a) < prefix(b)`, and `prefix(a) <= prefix(b)` when `a <= b`.
pub(super) fn prefix(s: &str) -> u128 {
    let mut b = [0u8; 16];
    let n = s.len().min(16);
    b[..n].copy_from_slice(&s.as_bytes()[..n]);
    u128::from_be_bytes(b)
}

impl Ranges {
    /// Cuts at `n - 1` quantiles of the sampled trade ids (fewer when the samples repeat).
    pub(super) fn from_samples(mut samples: Vec<String>, n: usize) -> Ranges {
        samples.sort_unstable();
        let mut cuts: Vec<String> = (1..n).filter_map(|k| samples.get(k * samples.len() / n).cloned()).collect();
        cuts.dedup();
        if cuts.first().is_some_and(|c| Some(c) == samples.first()) {
            cuts.remove(0);
        }
        let prefixes = cuts.iter().map(|c| prefix(c)).collect();
        Ranges { cuts, prefixes }
    }

    pub(super) fn len(&self) -> usize {
        self.cuts.len() + 1
    }

    pub(super) fn of(&self, trade: &str) -> usize {
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


/// Bytes of consumption, incentive and bill input: what decides whether a run streams on its own
/// and how many partitions it gets.
pub fn input_bytes(args: &RunArgs, root: &Path) -> Result<u64, Error> {
    Ok(kind_bytes(&args.consumption, root)? + kind_bytes(&args.incentives, root)? + kind_bytes(&args.bills, root)?)
}

/// Bytes of the files one kind's paths name.
pub(super) fn kind_bytes(paths: &[PathBuf], root: &Path) -> Result<u64, Error> {
    Ok(load::table::list(paths, root)?.iter().map(|(p, _, _)| std::fs::metadata(p).map_or(0, |m| m.len())).sum())
}

/// How many partitions: `--partitions`, else one per [`BYTES_PER_PARTITION`] of input, or fewer
/// bytes per partition when the process's cgroup limits its memory ([`memory_limit`]).
pub(super) fn partitions(args: &RunArgs, root: &Path, limit: Option<u64>) -> Result<usize, Error> {
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
pub(super) fn workers(threads: usize, limit: Option<u64>) -> usize {
    match limit {
        Some(_) => threads,
        None => threads + 1,
    }
}

/// Input bytes per partition under the memory limit `limit` (bytes), if any.
pub(super) fn partition_bytes(limit: Option<u64>) -> u64 {
    match limit {
        Some(l) => (l / LIMIT_PER_PARTITION_BYTE).clamp(1 << 20, BYTES_PER_PARTITION),
        None => BYTES_PER_PARTITION,
    }
}

/// This process's cgroup memory limit, if any, and the input block size that goes with it.
pub(super) fn own_limit() -> (Option<u64>, usize) {
    let limit = std::fs::read_to_string("/proc/self/cgroup").ok().and_then(|c| memory_limit(&c, Path::new("/sys/fs/cgroup")));
    (limit, if limit.is_some() { LIMITED_BLOCK } else { BLOCK })
}

/// The memory limit of the cgroup in `proc_cgroup` (the text of `/proc/self/cgroup`), read under
/// `sys` (`/sys/fs/cgroup`): v2 `memory.max` or v1 `memory/…/memory.limit_in_bytes`; `None`
/// when there is none (or it is "max", or v1's "unlimited" near 2^63).
pub(super) fn memory_limit(proc_cgroup: &str, sys: &Path) -> Option<u64> {
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

