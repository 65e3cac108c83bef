//! Observing a run: stage timings and resident memory for `RECON_TRACE`, and the hook through
//! which the binary's allocator hands freed memory back. A leaf (it uses only the knobs leaf),
//! which every layer may use.

/// What makes the binary's allocator hand freed memory back to the kernel from then on (it keeps
/// it otherwise, see `main.rs`); set once by the binary.
static RELEASE_MEMORY: std::sync::OnceLock<fn()> = std::sync::OnceLock::new();

/// Sets what [`release_memory`] calls.
pub fn on_release_memory(release: fn()) {
    let _ = RELEASE_MEMORY.set(release);
}

/// From now on, memory the run frees goes back to the kernel at once (a streamed run calls it
/// between its reconcile pass, which peaks, and its report writers, which are not to add to
/// that peak).
pub fn release_memory() {
    if let Some(release) = RELEASE_MEMORY.get() {
        release();
    }
}

/// With `RECON_TRACE` set, prints how long a stage took and the resident memory after it to
/// stderr (for profiling).
pub fn trace(stage: &str, since: std::time::Instant) {
    if crate::knobs::knobs().trace {
        let rss_mb = resident_bytes().map_or(String::from("?"), |b| (b >> 20).to_string());
        eprintln!("[trace] {stage:<32} {:>8.3} s  rss {rss_mb:>6} MB", since.elapsed().as_secs_f64());
    }
}

/// The process's resident memory, in bytes (Linux: the second field of /proc/self/statm, in
/// 4 KiB pages); `None` elsewhere.
pub fn resident_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    statm.split_whitespace().nth(1)?.parse::<u64>().ok().map(|pages| pages * 4096)
}

