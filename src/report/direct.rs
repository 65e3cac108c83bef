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
//! A streamed run's findings part files are written the same way and read back by
//! [`read_ranges`], several reads in flight, also with `O_DIRECT`. Buffers are pooled across
//! files, so that a run touches the same few megabytes again and again.
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

/// At most this many buffers are kept for reuse.
const POOLED: usize = 24;

/// Buffers of finished files, for the next ones (fresh memory costs more than reused).
static POOL: std::sync::Mutex<Vec<Aligned>> = std::sync::Mutex::new(Vec::new());

fn take_buffer() -> Aligned {
    POOL.lock().ok().and_then(|mut p| p.pop()).unwrap_or_else(Aligned::new)
}

fn give_back(b: Aligned) {
    if let Ok(mut p) = POOL.lock() {
        if p.len() < POOLED {
            p.push(b);
        }
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
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create(true).truncate(true);
    open_with(&o, path)
}

/// Opens `path` with `o`, and `O_DIRECT` where the system has it (whether it did: the bool).
fn open_with(o: &std::fs::OpenOptions, path: &Path) -> std::io::Result<(File, bool)> {
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::fs::OpenOptionsExt;
        if let Ok(f) = o.clone().custom_flags(libc::O_DIRECT).open(path) {
            return Ok((f, true));
        }
    }
    Ok((o.open(path)?, false))
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
            give_back(job.buf);
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
            free_tx.send(take_buffer()).expect("room for every buffer");
        }
        let writer = std::thread::Builder::new().name("recon-writer".into()).spawn(move || write_jobs(file, direct, job_rx, free_tx))?;
        Ok(DirectFile { path: path.to_path_buf(), buf: Some(take_buffer()), len: 0, jobs: Some(jobs), free, writer: Some(writer) })
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

    /// Writes what is left and waits for the writer thread: the file is complete when this
    /// returns `Ok`.
    pub fn finish(mut self) -> std::io::Result<()> {
        let buf = self.buf.take().expect("a buffer between calls");
        let sent = self.jobs.take().map(|j| j.send(Job { buf, len: self.len, last: true }));
        let joined = self.writer.take().map(|h| h.join());
        while let Ok(b) = self.free.try_recv() {
            give_back(b);
        }
        match (sent, joined) {
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

/// Reads the byte ranges `ranges` (`(file index in paths, start, end)`) of the files `paths`,
/// handing `each` the bytes of each range in order, a piece at a time (`each(range index,
/// bytes)`). The reads bypass the page cache where the system allows it and four are in
/// flight at once (one read at a time is about half as fast on the machines we measure).
pub fn read_ranges(paths: &[PathBuf], ranges: &[(usize, u64, u64)], mut each: impl FnMut(usize, &[u8]) -> std::io::Result<()>) -> std::io::Result<()> {
    // The pieces: block-aligned windows of at most one buffer, in order.
    let mut pieces: Vec<Piece> = Vec::new();
    for (r, &(file, start, end)) in ranges.iter().enumerate() {
        let mut at = start - start % ALIGN as u64;
        while at < end {
            let window = (end - at).next_multiple_of(ALIGN as u64).min(BUFFER as u64);
            let lo = start.max(at) - at;
            let hi = end.min(at + window) - at;
            pieces.push(Piece { range: r, file, at, window: window as usize, lo: lo as usize, hi: hi as usize });
            at += window;
        }
    }
    let readers = READERS.min(pieces.len());
    std::thread::scope(|scope| -> std::io::Result<()> {
        let mut channels = Vec::with_capacity(readers);
        for k in 0..readers {
            let (tx, rx) = sync_channel::<std::io::Result<(Aligned, Piece)>>(1);
            channels.push(rx);
            let pieces = &pieces;
            scope.spawn(move || {
                let mut open: Option<(usize, File, bool)> = None;
                for piece in pieces.iter().skip(k).step_by(readers) {
                    let read = read_piece(paths, piece, &mut open).map(|buf| (buf, *piece));
                    let failed = read.is_err();
                    if tx.send(read).is_err() || failed {
                        break;
                    }
                }
            });
        }
        for (i, piece) in pieces.iter().enumerate() {
            let got = channels[i % readers].recv().map_err(|_| std::io::Error::other("a file reader thread stopped"));
            let (buf, read) = got??;
            debug_assert_eq!(read.at, piece.at);
            let mut buf = buf;
            let r = each(piece.range, &buf.bytes()[piece.lo..piece.hi]);
            give_back(buf);
            r?;
        }
        Ok(())
    })
}

/// Reads at once by [`read_ranges`].
const READERS: usize = 4;

/// One read of [`read_ranges`]: `window` bytes of file `file` from `at` (block-aligned), of
/// which `lo..hi` belong to range `range`.
#[derive(Clone, Copy)]
struct Piece {
    range: usize,
    file: usize,
    at: u64,
    window: usize,
    lo: usize,
    hi: usize,
}

/// Reads one piece into a pooled buffer (`open`: the reader's open file, kept between pieces);
/// errors name the file.
fn read_piece(paths: &[PathBuf], p: &Piece, open: &mut Option<(usize, File, bool)>) -> std::io::Result<Aligned> {
    read_piece_in(paths, p, open).map_err(|e| std::io::Error::new(e.kind(), format!("cannot read {}: {e}", paths[p.file].display())))
}

fn read_piece_in(paths: &[PathBuf], p: &Piece, open: &mut Option<(usize, File, bool)>) -> std::io::Result<Aligned> {
    use std::os::unix::fs::FileExt;
    if open.as_ref().is_none_or(|(f, _, _)| *f != p.file) {
        let (file, direct) = open_with(std::fs::OpenOptions::new().read(true), &paths[p.file])?;
        *open = Some((p.file, file, direct));
    }
    let (_, file, direct) = open.as_mut().expect("opened above");
    let mut buf = take_buffer();
    let mut got = 0;
    while got < p.hi {
        match file.read_at(&mut buf.bytes()[got..p.window], p.at + got as u64) {
            Ok(0) => return Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, format!("it ends before byte {}", p.at + p.hi as u64))),
            Ok(k) => got += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) if *direct && e.raw_os_error() == Some(EINVAL) => {
                buffered(file)?;
                *direct = false;
            }
            Err(e) => return Err(e),
        }
    }
    Ok(buf)
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
            w.write_all(&rest[..k]).unwrap();
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

    /// Reads `ranges` of files with the given contents through `read_ranges`, each range's
    /// bytes joined.
    fn read_back(contents: &[Vec<u8>], ranges: &[(usize, u64, u64)]) -> std::io::Result<Vec<Vec<u8>>> {
        let dir = tempfile::tempdir().unwrap();
        let paths: Vec<PathBuf> = contents.iter().enumerate().map(|(i, c)| {
            let p = dir.path().join(format!("part-{i}"));
            let mut w = DirectFile::create(&p).unwrap();
            w.write_all(c).unwrap();
            w.finish().unwrap();
            p
        }).collect();
        let mut got = vec![Vec::new(); ranges.len()];
        let mut last = 0;
        read_ranges(&paths, ranges, |r, bytes| {
            assert!(r >= last, "ranges come in order");
            last = r;
            got[r].extend_from_slice(bytes);
            Ok(())
        })?;
        Ok(got)
    }

    #[test]
    fn ranges_are_read_whole_and_in_order_across_blocks_and_buffers() {
        let a: Vec<u8> = (0..(BUFFER + 5 * ALIGN + 3)).map(|i| (i % 241) as u8).collect();
        let b: Vec<u8> = (0..(ALIGN + 9)).map(|i| (i % 239) as u8).collect();
        let ranges = [(0, 0, 0), (0, 1, 2), (1, 0, b.len() as u64), (0, 7, a.len() as u64), (0, ALIGN as u64 - 1, ALIGN as u64 + 1), (1, ALIGN as u64, ALIGN as u64 + 9), (0, 3, BUFFER as u64 + 2 * ALIGN as u64)];
        let got = read_back(&[a.clone(), b.clone()], &ranges).unwrap();
        for (r, &(f, start, end)) in ranges.iter().enumerate() {
            let src = if f == 0 { &a } else { &b };
            assert_eq!(got[r], &src[start as usize..end as usize], "range {r}");
        }
        assert!(read_back(&[b.clone()], &[(0, 5, b.len() as u64 + 1)]).is_err(), "a range past the end of its file is an error");
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
