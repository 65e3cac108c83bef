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
//! [`read_ranges`], several reads in flight, also with `O_DIRECT`; its spill (one file per
//! partition, appended to a row at a time) by [`DirectFiles`], small buffers per file and one
//! writer thread, and read back whole by [`read_into`]. Buffers are reused across files, so that
//! a run touches the same few megabytes again and again.
//!
//! Where the file system refuses `O_DIRECT` (tmpfs, some network file systems) or on other
//! systems than Linux, the same type writes through the page cache: the bytes are the same.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::thread::JoinHandle;

/// Bytes per buffer: a multiple of every device block size.
const BUFFER: usize = 4 << 20;
/// Buffers in all: one being filled, the others being written.
const BUFFERS: usize = 3;
/// The alignment `O_DIRECT` asks of buffers, lengths and offsets (4096 covers 512-byte and
/// 4 KiB logical blocks).
const ALIGN: usize = 4096;

/// A zeroed heap buffer aligned to 4096 bytes (4 MiB unless made with `sized`).
pub struct Aligned {
    ptr: std::ptr::NonNull<u8>,
    len: usize,
}

// The buffer is plain bytes owned by whichever thread holds it.
unsafe impl Send for Aligned {}

impl Aligned {
    fn layout(len: usize) -> std::alloc::Layout {
        std::alloc::Layout::from_size_align(len.max(ALIGN), ALIGN).expect("a valid layout")
    }

    fn new() -> Aligned {
        Aligned::sized(BUFFER)
    }

    /// A buffer of `len` bytes (at least one block).
    pub fn sized(len: usize) -> Aligned {
        let layout = Self::layout(len);
        // SAFETY: the layout has a non-zero size. Zeroed, so every byte is initialised.
        let ptr = unsafe { std::alloc::alloc_zeroed(layout) };
        let ptr = std::ptr::NonNull::new(ptr).unwrap_or_else(|| std::alloc::handle_alloc_error(layout));
        Aligned { ptr, len: layout.size() }
    }

    pub fn bytes(&mut self) -> &mut [u8] {
        // SAFETY: `ptr` points to `len` initialised bytes owned by self.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) }
    }
}

impl Drop for Aligned {
    fn drop(&mut self) {
        // SAFETY: allocated in `sized` with the same layout.
        unsafe { std::alloc::dealloc(self.ptr.as_ptr(), Self::layout(self.len)) }
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
    if b.len != BUFFER {
        return;
    }
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

/// A writer thread and the channel of its jobs; it stops at its first error, which `send` and
/// `finish` then return. Dropped unfinished (an error elsewhere), it stops the thread.
struct Writer<T> {
    jobs: Option<SyncSender<T>>,
    thread: Option<JoinHandle<std::io::Result<()>>>,
}

impl<T: Send + 'static> Writer<T> {
    fn spawn(name: &str, capacity: usize, work: impl FnOnce(Receiver<T>) -> std::io::Result<()> + Send + 'static) -> std::io::Result<Writer<T>> {
        let (jobs, rx) = sync_channel::<T>(capacity);
        let thread = std::thread::Builder::new().name(name.into()).spawn(move || work(rx))?;
        Ok(Writer { jobs: Some(jobs), thread: Some(thread) })
    }

    fn send(&mut self, job: T) -> std::io::Result<()> {
        match self.jobs.as_ref().map(|j| j.send(job)) {
            Some(Ok(())) => Ok(()),
            _ => Err(self.finish().err().unwrap_or_else(|| std::io::Error::other("the file writer thread stopped"))),
        }
    }

    /// Closes the channel and waits for the thread: its result.
    fn finish(&mut self) -> std::io::Result<()> {
        self.jobs = None;
        match self.thread.take().map(|h| h.join()) {
            Some(Ok(r)) => r,
            Some(Err(_)) => Err(std::io::Error::other("the file writer thread panicked")),
            None => Err(std::io::Error::other("the file writer thread stopped")),
        }
    }
}

impl<T> Drop for Writer<T> {
    fn drop(&mut self) {
        self.jobs = None;
        if let Some(h) = self.thread.take() {
            let _ = h.join();
        }
    }
}

/// A file written from aligned buffers by a writer thread (see the module text).
pub struct DirectFile {
    path: PathBuf,
    buf: Option<Aligned>,
    len: usize,
    writer: Writer<Job>,
    free: Receiver<Aligned>,
    /// With [`DirectFile::create_hashed`]: the sha256 of every byte written, set by the writer
    /// thread once the file is complete.
    digest: Option<std::sync::Arc<std::sync::OnceLock<String>>>,
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

/// One file being written by a writer thread: whole blocks with `O_DIRECT` while it lasts.
struct Out {
    file: File,
    direct: bool,
    written: u64,
}

impl Out {
    /// Appends `buf[..len]`; `last`: the file's final bytes (then cut to its length).
    fn write(&mut self, buf: &mut Aligned, len: usize, last: bool) -> std::io::Result<()> {
        // A direct write must be whole blocks: the last one is padded with zeros and the file
        // cut back to its length afterwards.
        let padded = if self.direct && last { len.next_multiple_of(ALIGN) } else { len };
        buf.bytes()[len..padded].fill(0);
        match self.file.write_all(&buf.bytes()[..padded]) {
            Ok(()) => {}
            Err(e) if self.direct && e.raw_os_error() == Some(EINVAL) => {
                // Refused (a file system without O_DIRECT, or an alignment it will not take):
                // the rest goes through the page cache. Whether part of the buffer was written
                // is unknown, so write it again from where this buffer begins.
                buffered(&self.file)?;
                self.direct = false;
                use std::io::Seek;
                self.file.seek(std::io::SeekFrom::Start(self.written))?;
                self.file.write_all(&buf.bytes()[..len])?;
            }
            Err(e) => return Err(e),
        }
        self.written += len as u64;
        if last {
            self.file.set_len(self.written)?;
        }
        Ok(())
    }
}

/// The writer thread: writes each job's bytes in turn and gives its buffer back.
fn write_jobs(file: File, direct: bool, jobs: Receiver<Job>, free: SyncSender<Aligned>, digest: Option<std::sync::Arc<std::sync::OnceLock<String>>>) -> std::io::Result<()> {
    use sha2::Digest;
    let mut out = Out { file, direct, written: 0 };
    let mut hasher = digest.as_ref().map(|_| sha2::Sha256::new());
    for mut job in jobs {
        // (hashed here, on the thread that mostly waits for the disk, before the padding)
        if let Some(h) = hasher.as_mut() {
            h.update(&job.buf.bytes()[..job.len]);
        }
        out.write(&mut job.buf, job.len, job.last)?;
        if job.last {
            if let (Some(h), Some(d)) = (hasher.take(), digest.as_ref()) {
                let _ = d.set(crate::model::hex(&h.finalize()));
            }
            give_back(job.buf);
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
        DirectFile::open_with_digest(path, None)
    }

    /// [`DirectFile::create`], taking the sha256 of what is written as it is written (see
    /// [`DirectFile::digest`]): a file of gigabytes is not read back to be hashed.
    pub fn create_hashed(path: &Path) -> std::io::Result<DirectFile> {
        DirectFile::open_with_digest(path, Some(Default::default()))
    }

    fn open_with_digest(path: &Path, digest: Option<std::sync::Arc<std::sync::OnceLock<String>>>) -> std::io::Result<DirectFile> {
        let (file, direct) = open(path)?;
        let (free_tx, free) = sync_channel::<Aligned>(BUFFERS);
        for _ in 1..BUFFERS {
            free_tx.send(take_buffer()).expect("room for every buffer");
        }
        let d = digest.clone();
        let writer = Writer::spawn("recon-writer", BUFFERS, move |jobs| write_jobs(file, direct, jobs, free_tx, d))?;
        Ok(DirectFile { path: path.to_path_buf(), buf: Some(take_buffer()), len: 0, writer, free, digest })
    }

    /// A handle on the sha256 of the file's bytes, set when [`DirectFile::finish`] has
    /// completed the file (with [`DirectFile::create_hashed`]).
    pub fn digest(&self) -> Option<std::sync::Arc<std::sync::OnceLock<String>>> {
        self.digest.clone()
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Hands the full buffer to the writer thread and takes a free one.
    fn send_full(&mut self) -> std::io::Result<()> {
        let buf = self.buf.take().expect("a buffer between calls");
        self.writer.send(Job { buf, len: self.len, last: false })?;
        self.len = 0;
        match self.free.recv() {
            Ok(b) => {
                self.buf = Some(b);
                Ok(())
            }
            Err(_) => Err(self.writer.finish().err().unwrap_or_else(|| std::io::Error::other("the file writer thread stopped"))),
        }
    }

    /// Writes what is left and waits for the writer thread: the file is complete when this
    /// returns `Ok`.
    pub fn finish(mut self) -> std::io::Result<()> {
        let buf = self.buf.take().expect("a buffer between calls");
        let written = self.writer.send(Job { buf, len: self.len, last: true }).and_then(|()| self.writer.finish());
        while let Ok(b) = self.free.try_recv() {
            give_back(b);
        }
        written
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

/// Bytes per file buffer of [`DirectFiles`].
const SMALL: usize = 256 << 10;
/// Buffers of a [`DirectFiles`] beyond one per file: those on their way to the disk.
const SPARE: usize = 16;

/// A file's index, a full buffer, how many of its bytes to write, and whether they end it.
type FilesJob = (usize, Aligned, usize, bool);

/// Many files appended to a little at a time (a streamed run's spill: one file per partition),
/// written like [`DirectFile`]: each file fills a small aligned buffer, full buffers go to one
/// writer thread.
pub struct DirectFiles {
    bufs: Vec<Option<Aligned>>,
    lens: Vec<usize>,
    made: usize,
    writer: Writer<FilesJob>,
    free: Receiver<Aligned>,
}

impl DirectFiles {
    pub fn create(paths: &[PathBuf]) -> std::io::Result<DirectFiles> {
        let mut outs = Vec::with_capacity(paths.len());
        for p in paths {
            let (file, direct) = open(p)?;
            outs.push(Out { file, direct, written: 0 });
        }
        let (free_tx, free) = sync_channel::<Aligned>(SPARE + paths.len());
        let writer = Writer::spawn("recon-spill-writer", SPARE, move |jobs: Receiver<FilesJob>| {
            for (k, mut buf, len, last) in jobs {
                outs[k].write(&mut buf, len, last)?;
                let _ = free_tx.send(buf);
            }
            Ok(())
        })?;
        Ok(DirectFiles { bufs: (0..paths.len()).map(|_| None).collect(), lens: vec![0; paths.len()], made: 0, writer, free })
    }

    /// A free buffer: one back from the writer, else a new one while there are fewer than one
    /// per file plus [`SPARE`], else the next one back.
    fn take(&mut self) -> std::io::Result<Aligned> {
        if let Ok(b) = self.free.try_recv() {
            return Ok(b);
        }
        if self.made < self.bufs.len() + SPARE {
            self.made += 1;
            return Ok(Aligned::sized(SMALL));
        }
        self.free.recv().map_err(|_| self.writer.finish().err().unwrap_or_else(|| std::io::Error::other("the spill writer thread stopped")))
    }

    /// Appends `data` to file `k`.
    pub fn write(&mut self, k: usize, mut data: &[u8]) -> std::io::Result<()> {
        while !data.is_empty() {
            if self.bufs[k].is_none() {
                self.bufs[k] = Some(self.take()?);
                self.lens[k] = 0;
            }
            let len = self.lens[k];
            let n = (SMALL - len).min(data.len());
            self.bufs[k].as_mut().expect("taken above").bytes()[len..len + n].copy_from_slice(&data[..n]);
            self.lens[k] += n;
            data = &data[n..];
            if self.lens[k] == SMALL {
                let buf = self.bufs[k].take().expect("taken above");
                self.writer.send((k, buf, SMALL, false))?;
            }
        }
        Ok(())
    }

    /// Writes what each file has left and waits for the writer thread.
    pub fn finish(mut self) -> std::io::Result<()> {
        for k in 0..self.bufs.len() {
            if let Some(buf) = self.bufs[k].take() {
                let len = self.lens[k];
                self.writer.send((k, buf, len, true))?;
            }
        }
        self.writer.finish()
    }
}

/// Reads the whole of `path` into `buf` (replaced by a larger one when too small), around the
/// page cache where the system allows it; returns the buffer and the file's length.
pub fn read_into(path: &Path, mut buf: Aligned) -> std::io::Result<(Aligned, usize)> {
    let mut file = In::open(path)?;
    let len = file.file.metadata()?.len() as usize;
    let need = len.next_multiple_of(ALIGN);
    if buf.len < need {
        drop(buf);
        buf = Aligned::sized(need + need / 16);
    }
    file.read_at_least(&mut buf.bytes()[..need], 0, len).map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
    Ok((buf, len))
}

/// A file open for reading, with `O_DIRECT` while the system takes it.
struct In {
    file: File,
    direct: bool,
}

impl In {
    fn open(path: &Path) -> std::io::Result<In> {
        let (file, direct) = open_with(std::fs::OpenOptions::new().read(true), path)?;
        Ok(In { file, direct })
    }

    /// Reads into `buf` (whole blocks, for a direct read) from `offset` until at least `need`
    /// bytes are in; a direct read the system refuses is retried through the page cache.
    fn read_at_least(&mut self, buf: &mut [u8], offset: u64, need: usize) -> std::io::Result<()> {
        use std::os::unix::fs::FileExt;
        let mut got = 0;
        while got < need {
            match self.file.read_at(&mut buf[got..], offset + got as u64) {
                Ok(0) => return Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, format!("it ends before byte {}", offset + need as u64))),
                Ok(k) => got += k,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) if self.direct && e.raw_os_error() == Some(EINVAL) => {
                    buffered(&self.file)?;
                    self.direct = false;
                }
                Err(e) => return Err(e),
            }
        }
        Ok(())
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
                let mut open: Option<(usize, In)> = None;
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
fn read_piece(paths: &[PathBuf], p: &Piece, open: &mut Option<(usize, In)>) -> std::io::Result<Aligned> {
    read_piece_in(paths, p, open).map_err(|e| std::io::Error::new(e.kind(), format!("cannot read {}: {e}", paths[p.file].display())))
}

fn read_piece_in(paths: &[PathBuf], p: &Piece, open: &mut Option<(usize, In)>) -> std::io::Result<Aligned> {
    if open.as_ref().is_none_or(|(f, _)| *f != p.file) {
        *open = Some((p.file, In::open(&paths[p.file])?));
    }
    let (_, file) = open.as_mut().expect("opened above");
    let mut buf = take_buffer();
    file.read_at_least(&mut buf.bytes()[..p.window], p.at, p.hi)?;
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
        write_jobs(file, direct, job_rx, free_tx, None).unwrap();
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

    /// Many files appended to in turn hold exactly what each was given, across buffers, and
    /// read back whole through a buffer too small at first.
    #[test]
    fn many_files_written_in_turns_read_back_whole() {
        let dir = tempfile::tempdir().unwrap();
        let paths: Vec<PathBuf> = (0..5).map(|i| dir.path().join(format!("spill-{i}"))).collect();
        let mut expected = vec![Vec::new(); paths.len()];
        let mut w = DirectFiles::create(&paths).unwrap();
        for round in 0..2000usize {
            let k = (round * 7) % 4; // file 4 gets nothing: it stays empty
            let piece: Vec<u8> = (0..(round * 37 % 3000 + 1)).map(|i| (i + round) as u8).collect();
            w.write(k, &piece).unwrap();
            expected[k].extend_from_slice(&piece);
        }
        w.finish().unwrap();
        assert!(expected[0].len() > 2 * SMALL, "the test crosses buffers");
        let mut buf = Aligned::sized(0);
        for (p, want) in paths.iter().zip(&expected) {
            let (b, len) = read_into(p, buf).unwrap();
            buf = b;
            assert_eq!(&buf.bytes()[..len], want.as_slice(), "{}", p.display());
        }
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
