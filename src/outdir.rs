//! The `--out` directory of a run: it holds one whole report, or the one it held before.
//!
//! A run takes a lock on the directory (`.recon.lock`, an `flock` held as long as the process
//! lives, naming its pid), removes what runs that were killed left there
//! (`.recon-staging-PID/`, `.recon-partitions-PID/` of a process that is gone), and writes every
//! output into its own staging directory `.recon-staging-PID/` inside `--out` (the same file
//! system, so that moving a file into place is a rename). Only when every output is written
//! ([`OutDir::commit`]) are they flushed to the disk and moved into place: the old summary.json
//! removed first, the new outputs moved, recon's own older outputs that this run did not write
//! removed, and the new summary.json (which lists every other output with its sha256) moved
//! last. A run that fails, or is killed, before that leaves the directory's report as it was.

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// The files a run may write into `--out`, summary.json last (the order of summary.json's
/// `outputs` and of the moves).
pub const OUTPUTS: [&str; 8] = ["findings.csv", "disputes.csv", "disputes.xlsx", "report.xlsx", "report.html", "rejected.csv", "changes.csv", "summary.json"];

/// The lock file in `--out`.
pub const LOCK: &str = ".recon.lock";
/// Prefix of a run's staging directory in `--out` (then its pid).
pub const STAGING: &str = ".recon-staging-";
/// Prefix of a streamed run's partition directory in `--out` (then its pid).
pub const PARTITIONS: &str = ".recon-partitions-";

#[derive(Debug, thiserror::Error)]
pub enum OutError {
    #[error("{dir}: another recon run (pid {pid}) is writing its report there; wait for it to end, or give this run another --out")]
    Locked { dir: String, pid: String },
    #[error("cannot prepare the output directory {path}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot move {name} into {dir}: the report there is incomplete (its summary.json is removed); run again")]
    Commit {
        dir: String,
        name: String,
        #[source]
        source: std::io::Error,
    },
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> OutError + '_ {
    move |source| OutError::Io { path: path.display().to_string(), source }
}

/// A run's hold on its `--out`: the lock and the staging directory, removed when it is dropped
/// without [`OutDir::commit`] (a failed run).
pub struct OutDir {
    dir: PathBuf,
    staging: PathBuf,
    committed: bool,
    /// Whether this run created `dir` (a failed run removes it again when it is empty).
    created: bool,
    lock: Option<Lock>,
}

impl OutDir {
    /// Creates `dir` if need be, locks it, removes what stopped runs left there, and makes this
    /// run's staging directory.
    pub fn open(dir: &Path) -> Result<OutDir, OutError> {
        let created = !dir.exists();
        std::fs::create_dir_all(dir).map_err(io_err(dir))?;
        let lock = match Lock::take(dir) {
            Ok(lock) => lock,
            Err(e) => {
                if created {
                    let _ = std::fs::remove_dir(dir);
                }
                return Err(e);
            }
        };
        let staging = dir.join(format!("{STAGING}{}", std::process::id()));
        // (from here on, dropping it removes the staging directory, the lock, and `dir` if this
        // run created it and nothing else is there)
        let out = OutDir { dir: dir.to_path_buf(), staging, committed: false, created, lock: Some(lock) };
        remove_stale(dir);
        let _ = std::fs::remove_dir_all(&out.staging);
        std::fs::create_dir(&out.staging).map_err(io_err(&out.staging))?;
        Ok(out)
    }

    /// Where the run writes its outputs.
    pub fn staging(&self) -> &Path {
        &self.staging
    }

    /// Where a streamed run writes its partition files (not created here; removed with the
    /// staging directory).
    pub fn partitions(&self) -> PathBuf {
        self.dir.join(format!("{PARTITIONS}{}", std::process::id()))
    }

    /// Flushes the staged outputs to the disk and moves them into place, summary.json last;
    /// removes recon's own outputs of an earlier run that this one did not write.
    pub fn commit(mut self) -> Result<(), OutError> {
        let staged: Vec<&str> = OUTPUTS.iter().copied().filter(|n| self.staging.join(n).is_file()).collect();
        for name in &staged {
            let p = self.staging.join(name);
            File::open(&p).and_then(|f| f.sync_all()).map_err(io_err(&p))?;
        }
        let failed = |name: &str| {
            let dir = self.dir.display().to_string();
            let name = name.to_string();
            move |source| OutError::Commit { dir, name, source }
        };
        // The old summary.json goes first: a directory caught between two reports has none.
        remove_if_there(&self.dir.join("summary.json")).map_err(failed("summary.json"))?;
        for name in staged.iter().filter(|&&n| n != "summary.json") {
            std::fs::rename(self.staging.join(name), self.dir.join(name)).map_err(failed(name))?;
        }
        for name in OUTPUTS.iter().filter(|n| !staged.contains(n)) {
            remove_if_there(&self.dir.join(name)).map_err(failed(name))?;
        }
        if staged.contains(&"summary.json") {
            std::fs::rename(self.staging.join("summary.json"), self.dir.join("summary.json")).map_err(failed("summary.json"))?;
        }
        sync_dir(&self.dir);
        self.committed = true;
        let _ = std::fs::remove_dir_all(&self.staging);
        Ok(())
    }
}

impl Drop for OutDir {
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_dir_all(&self.staging);
        }
        // (a streamed run's partition files are done with by the time its outputs are moved)
        let _ = std::fs::remove_dir_all(self.partitions());
        drop(self.lock.take());
        if !self.committed && self.created {
            // (only if empty: a failed run into a new directory leaves none behind)
            let _ = std::fs::remove_dir(&self.dir);
        }
    }
}

fn remove_if_there(path: &Path) -> std::io::Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// Makes the renames in `dir` durable (where the system allows a directory to be synced).
fn sync_dir(dir: &Path) {
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

/// Removes the staging and partition directories in `dir` of runs whose process is gone (a run
/// killed, or a machine that stopped): only while this run holds the lock, and only where
/// `/proc` tells which processes live.
fn remove_stale(dir: &Path) {
    if !Path::new("/proc/self").exists() {
        return;
    }
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    let own = std::process::id();
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().to_string();
        let Some(pid) = name.strip_prefix(STAGING).or_else(|| name.strip_prefix(PARTITIONS)).and_then(|p| p.parse::<u32>().ok()) else { continue };
        // (a symbolic link of that name is not followed, nor removed)
        if !e.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        if pid == own || !Path::new(&format!("/proc/{pid}")).exists() {
            if std::fs::remove_dir_all(e.path()).is_ok() {
                eprintln!("recon: removed {name} from {}: left by a run that was stopped (process {pid} is gone)", dir.display());
            }
        }
    }
}

/// `.recon.lock` in `--out`, locked with `flock` (released by the kernel when the process ends,
/// however it ends) and holding the pid of the run; removed when the run ends.
struct Lock {
    path: PathBuf,
    _file: File,
}

impl Lock {
    #[cfg(unix)]
    fn take(dir: &Path) -> Result<Lock, OutError> {
        use std::os::fd::AsRawFd;
        use std::os::unix::fs::MetadataExt;
        let path = dir.join(LOCK);
        // A run that ends removes the file, then lets go of it: a run that opened it meanwhile
        // locks a file no longer there, and tries again on the one the path names now.
        for _ in 0..16 {
            let mut file = std::fs::OpenOptions::new().read(true).write(true).create(true).truncate(false).open(&path).map_err(io_err(&path))?;
            // SAFETY: flock on a descriptor this function owns; no memory is involved.
            if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
                let e = std::io::Error::last_os_error();
                if e.raw_os_error() != Some(libc::EWOULDBLOCK) {
                    return Err(io_err(&path)(e));
                }
                return Err(OutError::Locked { dir: dir.display().to_string(), pid: holder(&mut file) });
            }
            let held = file.metadata().map_err(io_err(&path))?;
            match std::fs::metadata(&path) {
                Ok(now) if now.ino() == held.ino() && now.dev() == held.dev() => {}
                _ => continue,
            }
            file.set_len(0).and_then(|_| writeln!(file, "{}", std::process::id())).and_then(|_| file.flush()).map_err(io_err(&path))?;
            return Ok(Lock { path, _file: file });
        }
        Err(OutError::Locked { dir: dir.display().to_string(), pid: "unknown".into() })
    }

    #[cfg(not(unix))]
    fn take(dir: &Path) -> Result<Lock, OutError> {
        let path = dir.join(LOCK);
        let file = std::fs::OpenOptions::new().write(true).create(true).truncate(true).open(&path).map_err(io_err(&path))?;
        Ok(Lock { path, _file: file })
    }
}

/// The pid written in a lock file another run holds (it may not have written it yet).
#[cfg(unix)]
fn holder(file: &mut File) -> String {
    use std::io::Seek;
    for _ in 0..20 {
        let mut text = String::new();
        if file.rewind().is_ok() && file.read_to_string(&mut text).is_ok() && !text.trim().is_empty() {
            return text.trim().to_string();
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    "unknown".to_string()
}

impl Drop for Lock {
    fn drop(&mut self) {
        // (removed while still held: see Lock::take)
        let _ = std::fs::remove_file(&self.path);
    }
}

/// The sha256 of a file, read a buffer at a time.
pub fn sha256_file(path: &Path) -> std::io::Result<String> {
    use sha2::{Digest, Sha256};
    let mut file = File::open(path)?;
    let (mut hasher, mut buf) = (Sha256::new(), vec![0u8; 1 << 20]);
    loop {
        match file.read(&mut buf) {
            Ok(0) => return Ok(hasher.finalize().iter().map(|b| format!("{b:02x}")).collect()),
            Ok(n) => hasher.update(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A second hold on a locked directory is refused naming the holder's pid; once the first
    /// is dropped the lock file is gone and the directory can be taken again.
    #[test]
    fn a_locked_directory_is_refused_with_the_holders_pid() {
        let dir = tempfile::tempdir().expect("tempdir");
        let first = OutDir::open(dir.path()).expect("first");
        assert_eq!(std::fs::read_to_string(dir.path().join(LOCK)).expect("lock").trim(), std::process::id().to_string());
        // (flock locks belong to open files: a second open in the same process conflicts too)
        match OutDir::open(dir.path()) {
            Err(OutError::Locked { pid, .. }) => assert_eq!(pid, std::process::id().to_string()),
            other => panic!("expected Locked, got {:?}", other.err()),
        }
        assert!(first.staging().is_dir());
        drop(first);
        assert!(!dir.path().join(LOCK).exists());
        assert!(std::fs::read_dir(dir.path()).expect("ls").next().is_none(), "a failed run leaves nothing");

        let again = OutDir::open(dir.path()).expect("again");
        std::fs::write(again.staging().join("summary.json"), "{}").expect("write");
        again.commit().expect("commit");
        let names: Vec<String> = std::fs::read_dir(dir.path()).expect("ls").map(|e| e.expect("entry").file_name().to_string_lossy().to_string()).collect();
        assert_eq!(names, vec!["summary.json".to_string()]);
        // a failed run into a directory it created removes it
        let other = tempfile::tempdir().expect("tempdir");
        let new = other.path().join("a/new");
        let failed = OutDir::open(&new).expect("open");
        std::fs::create_dir(failed.partitions()).expect("mkdir");
        drop(failed);
        assert!(!new.exists() && other.path().join("a").is_dir());
    }

    /// Committing moves the staged outputs, removes recon's older outputs this run did not
    /// write, and leaves other files alone.
    #[test]
    fn a_commit_leaves_exactly_this_runs_outputs() {
        let dir = tempfile::tempdir().expect("tempdir");
        for f in ["findings.csv", "report.html", "report.xlsx", "summary.json", "notes.txt"] {
            std::fs::write(dir.path().join(f), "old").expect("write");
        }
        let out = OutDir::open(dir.path()).expect("open");
        for f in ["findings.csv", "rejected.csv", "summary.json"] {
            std::fs::write(out.staging().join(f), "new").expect("write");
        }
        out.commit().expect("commit");
        let mut names: Vec<String> = std::fs::read_dir(dir.path()).expect("ls").map(|e| e.expect("entry").file_name().to_string_lossy().to_string()).collect();
        names.sort();
        assert_eq!(names, ["findings.csv", "notes.txt", "rejected.csv", "summary.json"]);
        assert_eq!(std::fs::read_to_string(dir.path().join("notes.txt")).expect("read"), "old");
        assert_eq!(std::fs::read_to_string(dir.path().join("findings.csv")).expect("read"), "new");
    }

    /// Leftovers of a process that is gone are removed; those of a live one, and other files,
    /// are not.
    #[test]
    fn leftovers_of_gone_processes_are_removed() {
        let dir = tempfile::tempdir().expect("tempdir");
        // a pid above the kernel's maximum (4,194,304) is never a live process
        for d in [".recon-partitions-4999999", ".recon-staging-4999998", ".recon-partitions-1", ".recon-staging-x"] {
            std::fs::create_dir(dir.path().join(d)).expect("mkdir");
            std::fs::write(dir.path().join(d).join("part.bin"), "x").expect("write");
        }
        let out = OutDir::open(dir.path()).expect("open");
        drop(out);
        let mut names: Vec<String> = std::fs::read_dir(dir.path()).expect("ls").map(|e| e.expect("entry").file_name().to_string_lossy().to_string()).collect();
        names.sort();
        assert_eq!(names, [".recon-partitions-1", ".recon-staging-x"], "pid 1 lives; x is no pid");
    }
}
