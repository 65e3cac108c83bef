//! Writing a large output file around the page cache: [`DirectFile`].
//!
//! findings.csv is most of what a large run writes (4.55 GB at 10 M consumption rows). Written
//! through the page cache, every byte is first copied into a page the kernel must find, and on
//! the machines we measure (BENCHMARKS.md) a page not touched lately costs far more system time
//! than the copy itself. `DirectFile` fills a few aligned buffers in user space, which are reused
//! and so stay warm, and a writer thread hands each full buffer to the file with `O_DIRECT`
//! (device DMA, no page cache) while the caller goes on filling the next. The last partial block
//! is written zero-padded and the file cut back to its length.
//!
//! Where the file system refuses `O_DIRECT` (tmpfs, some network file systems) or on other
//! systems than Linux, the same type writes through the page cache: the bytes are the same.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::thread::JoinHandle;

/// Bytes per buffer: a multiple of every device block size.
const BUFFER: usize = 8 << 20;
/// Buffers in all: one being filled, the others being written.
const BUFFERS: usize = 3;
/// The alignment `O_DIRECT` asks of buffers, lengths and offsets (4096 covers 512-byte and
/// 4 KiB logical blocks).
const ALIGN: usize = 4096;

/// A heap buffer of [`BUFFER`] bytes aligned to [`ALIGN`].
struct Aligned {
    ptr: std::ptr::NonNull<u8>,
}

// The buffer is plain bytes owned by whichever thread holds it.
unsafe impl Send for Aligned {}

impl Aligned {
    fn layout() -> std::alloc::Layout {
        std::alloc::Layout::from_size_align(BUFFER, ALIGN).expect("a valid layout")
    }

    fn new() -> Aligned {
        let layout = Self::layout();
        // SAFETY: the layout has a non-zero size. Zeroed, so every byte is initialised.
        let ptr = unsafe { std::alloc::alloc_zeroed(layout) };
        let ptr = std::ptr::NonNull::new(ptr).unwrap_or_else(|| std::alloc::handle_alloc_error(layout));
        Aligned { ptr }
    }

    fn bytes(&mut self) -> &mut [u8] {
        // SAFETY: `ptr` points to BUFFER initialised bytes owned by self.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), BUFFER) }
    }
}

impl Drop for Aligned {
    fn drop(&mut self) {
        // SAFETY: allocated in `new` with the same layout.
        unsafe { std::alloc::dealloc(self.ptr.as_ptr(), Self::layout()) }
    }
}

/// What the writer thread is given: a buffer and how many of its bytes to write; `last` for the
/// final one, whose length need not be a multiple of [`ALIGN`].
struct Job {
    buf: Aligned,
    len: usize,
    last: bool,
}

/// A file written from aligned buffers by a writer thread (see the module text).
pub struct DirectFile {
    path: PathBuf,
    buf: Option<Aligned>,
    len: usize,
    jobs: Option<SyncSender<Job>>,
    free: Receiver<Aligned>,
    writer: Option<JoinHandle<std::io::Result<()>>>,
}

/// Opens `path` for writing, truncated, with `O_DIRECT` where the system has it.
fn open(path: &Path) -> std::io::Result<(File, bool)> {
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::fs::OpenOptionsExt;
        if let Ok(f) = std::fs::OpenOptions::new().write(true).create(true).truncate(true).custom_flags(libc::O_DIRECT).open(path) {
            return Ok((f, true));
        }
    }
    Ok((File::create(path)?, false))
}

/// Turns `O_DIRECT` off on an open file (a write it refused is then retried through the cache).
#[cfg(target_os = "linux")]
fn buffered(f: &File) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    // SAFETY: fcntl on a descriptor we own, with flags it returned.
    unsafe {
        let flags = libc::fcntl(f.as_raw_fd(), libc::F_GETFL);
        if flags < 0 || libc::fcntl(f.as_raw_fd(), libc::F_SETFL, flags & !libc::O_DIRECT) < 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

#[cfg(not(target_os = "linux"))]
fn buffered(_: &File) -> std::io::Result<()> {
    Ok(())
}

/// The writer thread: writes each job's bytes in turn and gives its buffer back.
fn write_jobs(mut file: File, mut direct: bool, jobs: Receiver<Job>, free: SyncSender<Aligned>) -> std::io::Result<()> {
    let mut total = 0u64;
    for mut job in jobs {
        let len = job.len;
        // A direct write must be whole blocks: the last one is padded with zeros and the file
        // cut back to its length afterwards.
        let padded = if direct && job.last { len.next_multiple_of(ALIGN) } else { len };
        job.buf.bytes()[len..padded].fill(0);
        match file.write_all(&job.buf.bytes()[..padded]) {
            Ok(()) => {}
            Err(e) if direct && e.raw_os_error() == Some(EINVAL) => {
                // Refused (a file system without O_DIRECT, or an alignment it will not take):
                // the rest goes through the page cache. Whether part of the buffer was written
                // is unknown, so write it again from where this buffer begins.
                buffered(&file)?;
                direct = false;
                use std::io::Seek;
                file.seek(std::io::SeekFrom::Start(total))?;
                file.write_all(&job.buf.bytes()[..len])?;
            }
            Err(e) => return Err(e),
        }
        total += len as u64;
        if job.last {
            file.set_len(total)?;
            break;
        }
        // The owner may have stopped taking buffers back (an error on its side): fine.
        let _ = free.send(job.buf);
    }
    Ok(())
}

#[cfg(target_os = "linux")]
const EINVAL: i32 = libc::EINVAL;
#[cfg(not(target_os = "linux"))]
const EINVAL: i32 = 22;

impl DirectFile {
    pub fn create(path: &Path) -> std::io::Result<DirectFile> {
        let (file, direct) = open(path)?;
        let (jobs, job_rx) = sync_channel::<Job>(BUFFERS);
        let (free_tx, free) = sync_channel::<Aligned>(BUFFERS);
        for _ in 1..BUFFERS {
            free_tx.send(Aligned::new()).expect("room for every buffer");
        }
        let writer = std::thread::Builder::new().name("recon-writer".into()).spawn(move || write_jobs(file, direct, job_rx, free_tx))?;
        Ok(DirectFile { path: path.to_path_buf(), buf: Some(Aligned::new()), len: 0, jobs: Some(jobs), free, writer: Some(writer) })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The writer thread's error once it has stopped (it stops on its first error).
    fn writer_error(&mut self) -> std::io::Error {
        self.jobs = None;
        match self.writer.take().map(|h| h.join()) {
            Some(Ok(Err(e))) => e,
            Some(Err(_)) => std::io::Error::other("the file writer thread panicked"),
            _ => std::io::Error::other("the file writer thread stopped"),
        }
    }

    /// Hands the full buffer to the writer thread and takes a free one.
    fn send_full(&mut self) -> std::io::Result<()> {
        let buf = self.buf.take().expect("a buffer between calls");
        let sent = self.jobs.as_ref().map(|j| j.send(Job { buf, len: self.len, last: false }));
        if !matches!(sent, Some(Ok(()))) {
            return Err(self.writer_error());
        }
        self.len = 0;
        match self.free.recv() {
            Ok(b) => {
                self.buf = Some(b);
                Ok(())
            }
            Err(_) => Err(self.writer_error()),
        }
    }

    /// Appends up to `n` bytes read from `r` (fewer only at its end); returns how many.
    pub fn copy_from(&mut self, r: &mut impl std::io::Read, n: u64) -> std::io::Result<u64> {
        let mut left = n;
        while left > 0 {
            if self.len == BUFFER {
                self.send_full()?;
            }
            let room = (BUFFER - self.len).min(usize::try_from(left).unwrap_or(usize::MAX));
            let start = self.len;
            let buf = self.buf.as_mut().expect("a buffer between calls");
            let got = match r.read(&mut buf.bytes()[start..start + room]) {
                Ok(0) => break,
                Ok(k) => k,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            self.len += got;
            left -= got as u64;
        }
        Ok(n - left)
    }

    /// Writes what is left and waits for the writer thread: the file is complete when this
    /// returns `Ok`.
    pub fn finish(mut self) -> std::io::Result<()> {
        let buf = self.buf.take().expect("a buffer between calls");
        let sent = self.jobs.take().map(|j| j.send(Job { buf, len: self.len, last: true }));
        match (sent, self.writer.take().map(|h| h.join())) {
            (Some(Ok(())), Some(Ok(r))) => r,
            (_, Some(Ok(Err(e)))) => Err(e),
            (_, Some(Err(_))) => Err(std::io::Error::other("the file writer thread panicked")),
            _ => Err(std::io::Error::other("the file writer thread stopped")),
        }
    }
}

impl Write for DirectFile {
    fn write(&mut self, mut data: &[u8]) -> std::io::Result<usize> {
        let n = data.len();
        while !data.is_empty() {
            if self.len == BUFFER {
                self.send_full()?;
            }
            let k = (BUFFER - self.len).min(data.len());
            let start = self.len;
            self.buf.as_mut().expect("a buffer between calls").bytes()[start..start + k].copy_from_slice(&data[..k]);
            self.len += k;
            data = &data[k..];
        }
        Ok(n)
    }

    /// Nothing to do: bytes reach the file as buffers fill and at [`DirectFile::finish`].
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for DirectFile {
    fn drop(&mut self) {
        // Unfinished (an error elsewhere): stop the writer thread; the file is left partial.
        self.jobs = None;
        if let Some(h) = self.writer.take() {
            let _ = h.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_in_pieces(data: &[u8], pieces: &[usize]) -> Vec<u8> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.bin");
        let mut w = DirectFile::create(&path).unwrap();
        let mut rest = data;
        for &p in pieces.iter().cycle() {
            if rest.is_empty() {
                break;
            }
            let k = p.clamp(1, rest.len());
            if k % 3 == 0 {
                let got = w.copy_from(&mut &rest[..k], k as u64 + 5).unwrap();
                assert_eq!(got, k as u64);
            } else {
                w.write_all(&rest[..k]).unwrap();
            }
            rest = &rest[k..];
        }
        w.finish().unwrap();
        std::fs::read(&path).unwrap()
    }

    #[test]
    fn bytes_written_are_the_file_at_every_length_around_the_blocks() {
        let data: Vec<u8> = (0..(2 * BUFFER + 3 * ALIGN + 17)).map(|i| (i * 31 % 251) as u8).collect();
        for len in [0, 1, ALIGN - 1, ALIGN, ALIGN + 1, BUFFER - 1, BUFFER, BUFFER + 1, 2 * BUFFER, data.len()] {
            assert_eq!(write_in_pieces(&data[..len], &[1 << 20, 7, ALIGN, 3 << 20]), &data[..len], "length {len}");
        }
    }

    /// A direct write the file refuses (here: a length not a multiple of the block size) goes
    /// through the page cache instead, from the same offset, and nothing is lost or doubled.
    #[test]
    fn a_refused_direct_write_is_written_through_the_cache() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.bin");
        let (file, direct) = open(&path).unwrap();
        let (jobs, job_rx) = sync_channel::<Job>(4);
        let (free_tx, _free) = sync_channel::<Aligned>(4);
        let mut expected = Vec::new();
        for (i, len) in [ALIGN, 1000, 3 * ALIGN + 5, 7].into_iter().enumerate() {
            let mut buf = Aligned::new();
            buf.bytes()[..len].iter_mut().enumerate().for_each(|(k, b)| *b = (k + i) as u8);
            expected.extend_from_slice(&buf.bytes()[..len]);
            jobs.send(Job { buf, len, last: i == 3 }).unwrap();
        }
        drop(jobs);
        write_jobs(file, direct, job_rx, free_tx).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), expected);
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(24))]
        #[test]
        fn any_pieces_give_the_same_bytes(len in 0usize..(BUFFER + 3 * ALIGN), pieces in proptest::collection::vec(1usize..(3 * ALIGN), 1..6)) {
            let data: Vec<u8> = (0..len).map(|i| (i * 7 % 253) as u8).collect();
            proptest::prop_assert_eq!(write_in_pieces(&data, &pieces), data);
        }
    }
}
