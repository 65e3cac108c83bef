//! From bytes to a table of text cells: finding the files behind a path (directories,
//! `.tar.gz` deliveries read in memory), detecting the text encoding of a CSV (UTF-8, UTF-8 with
//! BOM, GBK/GB18030), reading the first (or named) sheet of a workbook, and taking the records of
//! a Huawei API JSON body. Every row keeps where it came from, so a finding or a rejection can
//! cite it as `file:line`, `file!sheet:row` or `file:fee_records[i]`.

use std::io::{Cursor, Read};
use std::sync::Arc;
use std::path::{Path, PathBuf};

use calamine::{Data, Reader};
use sha2::{Digest, Sha256};

use super::LoadError;
use crate::model::hex;

/// A file format recon reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    Xlsx,
    Json,
    TarGz,
}

impl Format {
    /// The format a file's name says: `.csv`, `.xlsx`/`.xls`, `.json`, `.tar.gz` (what a
    /// directory contributes); `None` for any other name.
    pub fn of(path: &Path) -> Option<Format> {
        let name = path.file_name()?.to_string_lossy().to_lowercase();
        if name.ends_with(".tar.gz") {
            Some(Format::TarGz)
        } else if name.ends_with(".csv") {
            Some(Format::Csv)
        } else if name.ends_with(".xlsx") || name.ends_with(".xls") {
            Some(Format::Xlsx)
        } else if name.ends_with(".json") {
            Some(Format::Json)
        } else {
            None
        }
    }

    /// The format of a file named on the command line: by its name when that says one, else by
    /// its first bytes (a zip or OLE workbook, a gzip archive, a JSON object or array), else CSV.
    pub fn named(path: &Path) -> Format {
        if let Some(f) = Format::of(path) {
            return f;
        }
        let mut head = [0u8; 64];
        let n = std::fs::File::open(path).and_then(|mut f| f.read(&mut head)).unwrap_or(0);
        let head = &head[..n];
        if head.starts_with(b"PK\x03\x04") || head.starts_with(&[0xD0, 0xCF, 0x11, 0xE0]) {
            Format::Xlsx
        } else if head.starts_with(&[0x1F, 0x8B]) {
            Format::TarGz
        } else {
            let text = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
            match text.iter().find(|b| !b.is_ascii_whitespace()) {
                Some(b'{') | Some(b'[') => Format::Json,
                _ => Format::Csv,
            }
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Xlsx => "xlsx",
            Format::Json => "json",
            Format::TarGz => "tar.gz",
        }
    }
}

/// One file named on the command line (or found in a directory named there): the unit that
/// `summary.json` lists with its sha256.
#[derive(Debug, Clone)]
pub struct InputFile {
    pub path: PathBuf,
    /// How the file is named in outputs: relative to the working directory when under it.
    pub label: String,
    pub format: Format,
    pub bytes: Vec<u8>,
    pub sha256: String,
}

/// Expands the paths given for one input kind into files: a directory gives every supported
/// file in it, in name order.
pub fn expand(paths: &[PathBuf], root: &Path) -> Result<Vec<InputFile>, LoadError> {
    list(paths, root)?.into_iter().map(|(p, _, f)| read_file(&p, root).map(|file| InputFile { format: f, ..file })).collect()
}

/// The files behind the paths given for one input kind, without reading them (for a streamed
/// run, which reads large CSV files a block at a time). A directory gives its `.csv`, `.xlsx`,
/// `.xls`, `.json` and `.tar.gz` files in name order (see [`skipped`] for the rest); a file named
/// itself is read whatever its name ([`Format::named`]).
pub fn list(paths: &[PathBuf], root: &Path) -> Result<Vec<(PathBuf, String, Format)>, LoadError> {
    let mut out = Vec::new();
    for p in paths {
        let meta = std::fs::metadata(p).map_err(|source| LoadError::Io { path: p.display().to_string(), source })?;
        if meta.is_dir() {
            let entries = dir_entries(p)?;
            let files: Vec<_> = entries.into_iter().filter_map(|(e, why)| why.is_none().then_some(e)).collect();
            if files.is_empty() {
                return Err(LoadError::EmptyDirectory { path: p.display().to_string() });
            }
            for e in files {
                let format = Format::of(&e).unwrap_or(Format::Csv);
                out.push((e.clone(), label_of(&e, root), format));
            }
        } else {
            out.push((p.clone(), label_of(p, root), Format::named(p)));
        }
    }
    Ok(out)
}

/// A file in an input directory that recon did not read, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    pub path: String,
    pub reason: String,
}

/// What the directories among `paths` hold besides the files [`list`] gives: notes, PDFs, hidden
/// files, Excel's lock files, symbolic links and subdirectories, each with the reason it was not
/// read.
pub fn skipped(paths: &[PathBuf], root: &Path) -> Vec<Skipped> {
    let mut out = Vec::new();
    for p in paths {
        if !std::fs::metadata(p).is_ok_and(|m| m.is_dir()) {
            continue;
        }
        for (e, why) in dir_entries(p).unwrap_or_default() {
            if let Some(reason) = why {
                out.push(Skipped { path: label_of(&e, root), reason: reason.to_string() });
            }
        }
    }
    out
}

/// The entries of an input directory in name order, each with why it is not read (`None`: read).
fn dir_entries(dir: &Path) -> Result<Vec<(PathBuf, Option<&'static str>)>, LoadError> {
    let io = |source| LoadError::Io { path: dir.display().to_string(), source };
    let mut entries = Vec::new();
    for e in std::fs::read_dir(dir).map_err(io)? {
        let e = e.map_err(io)?;
        let path = e.path();
        let name = e.file_name().to_string_lossy().to_string();
        // (the entry's own type: a symbolic link is not followed)
        let ty = e.file_type().map_err(io)?;
        let why = if ty.is_symlink() {
            Some("a symbolic link: links inside an input directory are not followed (name the file itself on the command line to read it)")
        } else if ty.is_dir() {
            Some("a directory: recon reads the files of an input directory, not its subdirectories")
        } else if !ty.is_file() {
            Some("not a regular file")
        } else if name.starts_with('.') {
            Some("a hidden file (such as .DS_Store or a ._ copy made by macOS)")
        } else if name.starts_with("~$") {
            Some("an Excel lock file (the workbook it belongs to is open in Excel)")
        } else if Format::of(&path).is_none() {
            Some("not an export recon reads (.csv, .xlsx, .xls, .json, .tar.gz)")
        } else {
            None
        };
        entries.push((path, why));
    }
    entries.sort();
    Ok(entries)
}

/// Reads one file whole (any format).
pub fn read_one(path: &Path, root: &Path) -> Result<InputFile, LoadError> {
    read_file(path, root)
}

/// Reads a CSV file a block of about `block` bytes at a time, each block cut after a line
/// break outside quotes, and calls `f` with each block as a table (the first holds the header;
/// every block cites the file's own lines). The file is never held whole: a first pass computes
/// its sha256 and whether it is UTF-8; GBK blocks are decoded one by one. Returns the sha256.
pub fn csv_blocks(path: &Path, label: &str, block: usize, mut f: impl FnMut(Table) -> Result<(), LoadError>) -> Result<String, LoadError> {
    let io = |source| LoadError::Io { path: label.to_string(), source };
    // First pass: whether the whole file is UTF-8 (the sha256 is taken in the second), checked
    // in parallel on memory maps of it (no copy through a buffer), a window at a time (so that
    // the mapped pages, which count as the process's memory, stay few).
    let file = std::fs::File::open(path).map_err(io)?;
    let before = Stamp::of(&file.metadata().map_err(io)?);
    let len = before.len as usize;
    // (windows and pieces of a few blocks at most: tiny blocks in the tests cut characters at
    // both everywhere)
    let window = block.saturating_mul(4).clamp(4, 64 << 20);
    let (mut head, mut checked, mut at) = (Vec::new(), Ok(()), 0usize);
    // (read into a buffer, not mapped: a mapped file cut short while it is read kills the
    // process with SIGBUS)
    let mut map = Vec::new();
    while at < len && checked.is_ok() {
        map.resize((len - at).min(window + 3), 0);
        {
            use std::os::unix::fs::FileExt;
            file.read_exact_at(&mut map, at as u64).map_err(|e| match e.kind() {
                std::io::ErrorKind::UnexpectedEof => LoadError::Changed { path: label.to_string() },
                _ => io(e),
            })?;
        }
        if at == 0 {
            head = map[..map.len().min(3)].to_vec();
        }
        // The window ends before the first byte of a character.
        let end = char_start(&map, map.len().min(window));
        checked = utf8_check(&map[..end], block.clamp(1, 8 << 20)).map_err(|bad| at + bad);
        at += end;
    }
    let (utf8, bad_at) = match checked {
        Ok(()) => (true, 0),
        Err(at) => (false, at),
    };
    let bom = head.starts_with(b"\xEF\xBB\xBF");
    if bom && !utf8 {
        return Err(LoadError::Undecodable { path: label.to_string(), line: line_at(path, label, bad_at)?, expected: "UTF-8 (the file starts with a UTF-8 byte order mark)".into() });
    }
    let encoding = match (bom, utf8) {
        (true, _) => "UTF-8 with BOM",
        (false, true) => "UTF-8",
        (false, false) => "GBK",
    };

    drop(map);
    pause_for_tests(label);

    // Second pass: blocks cut at record boundaries.
    drop(file);
    let mut file = std::fs::File::open(path).map_err(io)?;
    if Stamp::of(&file.metadata().map_err(io)?) != before {
        return Err(LoadError::Changed { path: label.to_string() });
    }
    let mut read_bytes = 0u64;
    let mut hasher = Sha256::new();
    let mut pending = spare_buffer();
    pending.reserve(block.saturating_add(1 << 16));
    let mut lines_before = 0u32;
    // (where the next block starts in the file)
    let mut bytes_before = 0usize;
    let mut headers: Option<Vec<String>> = None;
    let mut eof = false;
    let mut first = true;
    while !eof || !pending.is_empty() {
        while !eof && pending.len() < block {
            let want = block - pending.len();
            let start = pending.len();
            // (read_to_end fills spare capacity without zeroing it first)
            let n = Read::by_ref(&mut file).take(want.max(1 << 16) as u64).read_to_end(&mut pending).map_err(io)?;
            hasher.update(&pending[start..start + n]);
            read_bytes += n as u64;
            eof = n == 0;
        }
        // The last line break outside quotes ends the block (the rest waits for more bytes).
        let cut = if eof {
            pending.len()
        } else {
            let last = if pending.contains(&b'"') {
                let (mut quoted, mut last) = (false, None);
                for (i, &c) in pending.iter().enumerate() {
                    match c {
                        b'"' => quoted = !quoted,
                        b'\n' if !quoted => last = Some(i + 1),
                        _ => {}
                    }
                }
                last
            } else {
                // no quote: the last line break ends the last whole record
                pending.iter().rposition(|&c| c == b'\n').map(|i| i + 1)
            };
            match last {
                Some(c) => c,
                None => {
                    // one record longer than a block: read on
                    let start = pending.len();
                    let n = Read::by_ref(&mut file).take(block as u64).read_to_end(&mut pending).map_err(io)?;
                    hasher.update(&pending[start..start + n]);
                    read_bytes += n as u64;
                    eof = n == 0;
                    continue;
                }
            }
        };
        let mut rest = spare_buffer();
        rest.reserve(block.saturating_add(1 << 16));
        rest.extend_from_slice(&pending[cut..]);
        pending.truncate(cut);
        let mut raw = std::mem::replace(&mut pending, rest);
        let newlines = newlines(&raw) as u32;
        let block_start = bytes_before;
        bytes_before += raw.len();
        if first && bom {
            raw.drain(..3);
        }
        first = false;
        let text = if utf8 {
            raw
        } else {
            let (text, had_errors) = encoding_rs::GB18030.decode_without_bom_handling(&raw);
            if had_errors {
                // The line an in-memory read names (see `decode`): the first that GBK cannot
                // decode or the first that is not UTF-8, whichever comes later.
                let offset = (block_start + first_gbk_error_line(&raw)).max(bad_at);
                return Err(LoadError::Undecodable { path: label.to_string(), line: line_at(path, label, offset)?, expected: "UTF-8 or GBK".into() });
            }
            text.into_owned().into_bytes()
        };
        let table = match &headers {
            None => {
                let mut t = read_csv(text, label)?;
                t.encoding = encoding;
                headers = Some(t.headers.clone());
                t
            }
            Some(h) => {
                let end = text.len();
                let body = CsvBody { reader: csv_reader(Shared { data: Arc::new(Block(text)), start: 0, end }), seen_byte: 0, seen_line: lines_before + 1, next: 0 };
                Table { label: label.to_string(), encoding, sheet: None, headers: h.clone(), body: Body::Csv(Box::new(body)), cite: CiteStyle::Line, rows_hint: 0 }
            }
        };
        lines_before += newlines;
        f(table)?;
    }
    unchanged(path, label, &file, &before, read_bytes)?;
    if headers.is_none() {
        return Err(LoadError::NoHeader { path: label.to_string() });
    }
    Ok(hex(&hasher.finalize()))
}

/// How many line breaks (`\n`) `bytes` hold.
fn newlines(bytes: &[u8]) -> usize {
    memchr::memchr_iter(b'\n', bytes).count()
}

/// `at`, moved past the continuation bytes there to the first byte of a character (or the end).
/// A character is at most 4 bytes: past 3 continuation bytes the text is not UTF-8, and a check
/// that starts there fails.
fn char_start(bytes: &[u8], at: usize) -> usize {
    let mut c = at;
    while c < bytes.len() && c < at + 3 && bytes[c] & 0xC0 == 0x80 {
        c += 1;
    }
    c
}

/// `bytes` as text, or `Err(offset)` of its first byte that is not UTF-8. simdutf8's vector
/// check (several times std's speed on this mix of ASCII and Chinese); std's own only to name
/// the offset once a check has failed.
pub(crate) fn utf8(bytes: &[u8]) -> Result<&str, usize> {
    match simdutf8::basic::from_utf8(bytes) {
        Ok(text) => Ok(text),
        Err(_) => Err(std::str::from_utf8(bytes).map_or_else(|e| e.valid_up_to(), |t| t.len())),
    }
}

/// `Err(offset)` of the first byte that is not UTF-8 in `bytes`, checked in parallel pieces of
/// about `piece` bytes, each cut before the first byte of a character.
fn utf8_check(bytes: &[u8], piece: usize) -> Result<(), usize> {
    use rayon::prelude::*;
    let mut cuts = vec![0];
    let mut at = piece.max(1);
    while at < bytes.len() {
        let c = char_start(bytes, at);
        cuts.push(c);
        at = c + piece.max(1);
    }
    cuts.push(bytes.len());
    cuts.dedup();
    let bad = cuts.par_windows(2).filter_map(|w| utf8(&bytes[w[0]..w[1]]).err().map(|bad| w[0] + bad)).min();
    bad.map_or(Ok(()), Err)
}

/// The line (1-based) of the byte at `offset` in the file, its lines counted a buffer at a time.
fn line_at(path: &Path, label: &str, offset: usize) -> Result<usize, LoadError> {
    let io = |source| LoadError::Io { path: label.to_string(), source };
    let mut file = std::fs::File::open(path).map_err(io)?.take(offset as u64);
    let mut buf = vec![0u8; 1 << 20];
    let mut lines = 1;
    loop {
        let n = file.read(&mut buf).map_err(io)?;
        if n == 0 {
            return Ok(lines);
        }
        lines += newlines(&buf[..n]);
    }
}

/// Where the first line of `bytes` that GB18030 cannot decode starts (`bytes.len()` and past
/// when every line decodes).
fn first_gbk_error_line(bytes: &[u8]) -> usize {
    let mut offset = 0;
    for line in bytes.split(|&b| b == b'\n') {
        if encoding_rs::GB18030.decode_without_bom_handling_and_without_replacement(line).is_none() {
            break;
        }
        offset += line.len() + 1;
    }
    offset
}

fn read_file(path: &Path, root: &Path) -> Result<InputFile, LoadError> {
    let format = Format::named(path);
    let label = label_of(path, root);
    let io = |source| LoadError::Io { path: path.display().to_string(), source };
    let mut file = std::fs::File::open(path).map_err(io)?;
    let before = Stamp::of(&file.metadata().map_err(io)?);
    let mut bytes = Vec::new();
    if before.regular {
        // (no more than the file held when it was opened, and one byte to tell that it grew)
        Read::by_ref(&mut file).take(before.len.saturating_add(1)).read_to_end(&mut bytes).map_err(io)?;
        pause_for_tests(&label);
        unchanged(path, &label, &file, &before, bytes.len() as u64)?;
    } else {
        // a pipe (`--consumption <(zcat …)`): read to its end; nothing tells its size
        file.read_to_end(&mut bytes).map_err(io)?;
    }
    let sha256 = hex(&Sha256::digest(&bytes));
    Ok(InputFile { path: path.to_path_buf(), label, format, bytes, sha256 })
}

/// What says that a file is still the one whose reading began: its size, modification and
/// status-change times, and which file it is.
#[derive(Debug, PartialEq, Eq)]
struct Stamp {
    len: u64,
    modified: Option<std::time::SystemTime>,
    changed: (i64, i64),
    file: (u64, u64),
    regular: bool,
}

impl Stamp {
    fn of(m: &std::fs::Metadata) -> Stamp {
        use std::os::unix::fs::MetadataExt;
        Stamp { len: m.len(), modified: m.modified().ok(), changed: (m.ctime(), m.ctime_nsec()), file: (m.dev(), m.ino()), regular: m.is_file() }
    }
}

/// An error unless `file` (open, `read` bytes read from it) and the file now at `path` are both
/// as `before` says, every byte of it read: an input truncated, grown, rewritten or replaced
/// while it was read gives a report of neither version.
fn unchanged(path: &Path, label: &str, file: &std::fs::File, before: &Stamp, read: u64) -> Result<(), LoadError> {
    let io = |source| LoadError::Io { path: label.to_string(), source };
    let open = Stamp::of(&file.metadata().map_err(io)?);
    let named = std::fs::metadata(path).map(|m| Stamp::of(&m));
    if read != before.len || open != *before || named.as_ref().ok() != Some(before) {
        return Err(LoadError::Changed { path: label.to_string() });
    }
    Ok(())
}

/// For the tests of inputs changed while they are read: with RECON_TEST_PAUSE_READING set to a
/// directory, a read writes `reading` there (holding the input's label) once it has read the
/// input (a streamed CSV: once its first pass has), and goes on when the file is removed (or
/// after 30 s).
fn pause_for_tests(label: &str) {
    let Some(dir) = crate::knobs::knobs().test_pause_reading.as_ref() else { return };
    let marker = Path::new(&dir).join("reading");
    // (written whole, then renamed: a test polling for it never reads it half-written)
    let partial = Path::new(&dir).join("reading.part");
    if std::fs::write(&partial, label).is_err() || std::fs::rename(&partial, &marker).is_err() {
        return;
    }
    let start = std::time::Instant::now();
    while marker.exists() && start.elapsed() < std::time::Duration::from_secs(30) {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

/// A path as outputs cite it: relative to `root` when under it, with `/` separators (an empty
/// `root` cites every path as given).
pub fn label_of(path: &Path, root: &Path) -> String {
    let abs = if path.is_absolute() { path.to_path_buf() } else { root.join(path) };
    let shown = abs.strip_prefix(root).map(Path::to_path_buf).unwrap_or_else(|_| path.to_path_buf());
    shown.to_string_lossy().replace('\\', "/")
}

/// A table of text cells with its provenance. CSV rows are streamed from the decoded text, so a
/// large export never sits in memory as millions of cell strings.
pub struct Table {
    /// The file (or `archive.tar.gz/part.csv`) the rows come from.
    pub label: String,
    pub encoding: &'static str,
    pub sheet: Option<String>,
    pub headers: Vec<String>,
    body: Body,
    /// How this table's rows are cited: a line, a sheet row, or a JSON record.
    pub cite: CiteStyle,
    /// At least as many lines as the table has rows, when known (0 when not): what a reader
    /// reserves, so that its columns do not grow (and move) row by row.
    pub rows_hint: usize,
}

enum Body {
    Rows(Vec<Row>),
    /// Rows of this many cells, each holding only its cells that have something.
    Sparse(usize, Vec<SparseRow>),
    Csv(Box<CsvBody>),
}

struct CsvBody {
    reader: csv::Reader<Cursor<Shared>>,
    /// The line (`seen_line`) of the byte at `seen_byte`: where lines are counted from.
    seen_byte: usize,
    seen_line: u32,
    /// Where the next record starts (see [`plain_line`]).
    next: usize,
}

/// A byte range of a decoded text shared between the parts of a table read in parallel.
#[derive(Clone)]
struct Shared {
    data: Arc<Block>,
    start: usize,
    end: usize,
}

/// A text buffer that goes back to [`SPARE`] when its last reader is done, so that the blocks of
/// a streamed read reuse a few buffers instead of taking (and the kernel zeroing) fresh memory
/// for every block: that zeroing was a tenth of a streamed run's time (perf).
struct Block(Vec<u8>);

/// Buffers for [`csv_blocks`]: at most [`SPARE_BUFFERS`], each of at most [`SPARE_BYTES`] (a
/// whole file read in memory is not kept).
static SPARE: std::sync::Mutex<Vec<Vec<u8>>> = std::sync::Mutex::new(Vec::new());
const SPARE_BUFFERS: usize = 4;
const SPARE_BYTES: usize = 256 << 20;

impl Drop for Block {
    fn drop(&mut self) {
        let buf = std::mem::take(&mut self.0);
        if buf.capacity() <= SPARE_BYTES {
            if let Ok(mut spare) = SPARE.lock() {
                if spare.len() < SPARE_BUFFERS {
                    spare.push(buf);
                }
            }
        }
    }
}

impl std::ops::Deref for Block {
    type Target = Vec<u8>;
    fn deref(&self) -> &Vec<u8> {
        &self.0
    }
}

/// Frees the spare buffers (a streamed run calls it once its first pass has read every file, so
/// that they do not add to the memory of the second).
pub fn release_spare_buffers() {
    if let Ok(mut spare) = SPARE.lock() {
        spare.clear();
        spare.shrink_to_fit();
    }
}

/// An empty buffer, a spare one when there is one.
fn spare_buffer() -> Vec<u8> {
    let mut buf = SPARE.lock().ok().and_then(|mut s| s.pop()).unwrap_or_default();
    buf.clear();
    buf
}

impl AsRef<[u8]> for Shared {
    fn as_ref(&self) -> &[u8] {
        &self.data[self.start..self.end]
    }
}

fn csv_reader(text: Shared) -> csv::Reader<Cursor<Shared>> {
    csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(Cursor::new(text))
}

impl std::fmt::Debug for Table {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Table").field("label", &self.label).field("encoding", &self.encoding).field("sheet", &self.sheet).field("headers", &self.headers).finish()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CiteStyle {
    Line,
    Sheet(String),
    Record(&'static str),
}

impl Table {
    /// Whether this is a JSON body whose row list is empty (`"fee_records": []`): no rows, and
    /// no headers to check.
    pub fn is_empty_page(&self) -> bool {
        matches!(self.cite, CiteStyle::Record(_)) && self.headers.is_empty() && self.rows_hint == 0
    }

    /// Calls `f(location, cells)` for each non-blank row, in order, then frees the rows.
    pub fn for_each_row(&mut self, f: impl FnMut(u32, &[&str])) -> Result<(), LoadError> {
        self.rows(true, f)
    }

    /// [`Table::for_each_row`]; with `plain_lines` false every CSV record goes through the csv
    /// crate (the tests check that the plain-line path reads the same).
    fn rows(&mut self, plain_lines: bool, mut f: impl FnMut(u32, &[&str])) -> Result<(), LoadError> {
        let body = std::mem::replace(&mut self.body, Body::Rows(Vec::new()));
        match body {
            Body::Rows(rows) => {
                let mut cells: Vec<&str> = Vec::new();
                for r in &rows {
                    cells.clear();
                    cells.extend(r.cells.iter().map(String::as_str));
                    f(r.loc, &cells);
                }
            }
            Body::Sparse(width, rows) => {
                // One row of cells, reused: a row costs the cells it holds, not its width.
                let mut cells: Vec<&str> = vec![""; width];
                for r in &rows {
                    for (c, v) in &r.cells {
                        cells[*c as usize] = v;
                    }
                    f(r.loc, &cells);
                    for (c, _) in &r.cells {
                        cells[*c as usize] = "";
                    }
                }
            }
            Body::Csv(mut b) => {
                let mut rec = csv::StringRecord::new();
                // The cells of a record are handed over from the stack (no allocation per row)
                // unless the record is unusually wide.
                const ON_STACK: usize = 48;
                // (blank records are skipped)
                fn hand_over<'r>(cells: impl Iterator<Item = &'r str> + Clone, loc: u32, f: &mut impl FnMut(u32, &[&str])) {
                    let mut on_stack = [""; ON_STACK];
                    let mut n = 0;
                    for v in cells.clone() {
                        if n == ON_STACK {
                            let all: Vec<&str> = cells.collect();
                            if !all.iter().all(|c| c.trim().is_empty()) {
                                f(loc, &all);
                            }
                            return;
                        }
                        on_stack[n] = v;
                        n += 1;
                    }
                    if !on_stack[..n].iter().all(|c| c.trim().is_empty()) {
                        f(loc, &on_stack[..n]);
                    }
                }
                // Most lines are plain (no quote, no CR inside): they are split on commas here;
                // any other record is read by the csv crate (see `plain_line`).
                // (the text is UTF-8, checked once here: else the csv reader reads it all and
                // names the record that is not)
                let shared = b.reader.get_ref().get_ref().clone();
                let text = utf8(shared.as_ref()).ok();
                let mut plain = plain_lines && text.is_some();
                loop {
                    if let (true, Some(text)) = (plain, text) {
                        match plain_line(&mut b, text) {
                            Plain::Line(loc, line) => {
                                hand_over(Commas { text: line, at: Some(0) }, loc, &mut f);
                                continue;
                            }
                            Plain::End => break,
                            Plain::Quoted => {}
                            Plain::OtherBreaks => plain = false,
                        }
                    }
                    let Some(loc) = next_csv_record(&mut b, &mut rec, &self.label)? else { break };
                    hand_over(rec.iter(), loc, &mut f);
                }
            }
        }
        Ok(())
    }

    /// This table without its rows: what citing its rows needs.
    pub fn cited(&self) -> Table {
        Table {
            label: self.label.clone(),
            encoding: self.encoding,
            sheet: self.sheet.clone(),
            headers: self.headers.clone(),
            body: Body::Rows(Vec::new()),
            cite: self.cite.clone(),
            rows_hint: 0,
        }
    }

    /// Splits the rows of a CSV table into up to `parts` tables of consecutive rows that can be
    /// read in parallel, each citing the same file and lines as the whole. Only a text without
    /// any `"` is split (every line break then ends a record), and only a large one; any other
    /// table comes back whole.
    pub fn split(mut self, parts: usize) -> Vec<Table> {
        const MIN_PART: usize = 1 << 20;
        let Body::Csv(b) = &self.body else { return vec![self] };
        let whole = b.reader.get_ref().get_ref().clone();
        let data = whole.as_ref();
        let from = b.reader.position().byte() as usize;
        let rest = &data[from.min(data.len())..];
        if parts < 2 || rest.len() < 2 * MIN_PART || rest.contains(&b'"') {
            return vec![self];
        }
        let parts = parts.min(rest.len() / MIN_PART);
        let mut cuts = vec![from];
        for i in 1..parts {
            let at = from + rest.len() * i / parts;
            // cut after the next line break
            match memchr::memchr(b'\n', &data[at..]) {
                Some(nl) if at + nl + 1 > *cuts.last().unwrap_or(&0) && at + nl + 1 < data.len() => cuts.push(at + nl + 1),
                _ => {}
            }
        }
        cuts.push(data.len());
        let (seen_byte, seen_line) = (b.seen_byte, b.seen_line);
        let mut line = seen_line + newlines(&data[seen_byte.min(from)..from]) as u32;
        let mut out = Vec::with_capacity(cuts.len() - 1);
        for w in cuts.windows(2) {
            let (start, end) = (w[0], w[1]);
            let shared = Shared { data: whole.data.clone(), start: whole.start + start, end: whole.start + end };
            // The first record of a part starts on the line after the previous part's last break.
            let body = CsvBody { reader: csv_reader(shared), seen_byte: 0, seen_line: line, next: 0 };
            let lines = newlines(&data[start..end]);
            line += lines as u32;
            out.push(Table {
                label: self.label.clone(),
                encoding: self.encoding,
                sheet: self.sheet.clone(),
                headers: self.headers.clone(),
                body: Body::Csv(Box::new(body)),
                cite: self.cite.clone(),
                rows_hint: lines + 1,
            });
        }
        self.body = Body::Rows(Vec::new());
        out
    }

    /// [`Table::cite`] appended to `out`.
    pub fn cite_into(&self, loc: u32, out: &mut String) {
        let mut n = itoa::Buffer::new();
        let loc = n.format(loc);
        out.push_str(&self.label);
        match &self.cite {
            CiteStyle::Line => {
                out.push(':');
                out.push_str(loc);
            }
            CiteStyle::Sheet(s) => {
                out.push('!');
                out.push_str(s);
                out.push(':');
                out.push_str(loc);
            }
            CiteStyle::Record(key) => {
                out.push(':');
                out.push_str(key);
                out.push('[');
                out.push_str(loc);
                out.push(']');
            }
        }
    }

    /// `file:12`, `book.xlsx!明细:12`, `body.json:fee_records[3]`.
    pub fn cite(&self, loc: u32) -> String {
        let mut s = String::new();
        self.cite_into(loc, &mut s);
        s
    }
}

/// A row that holds only its cells that have something: (column, text).
#[derive(Debug, Clone)]
struct SparseRow {
    loc: u32,
    cells: Vec<(u32, String)>,
}

#[derive(Debug, Clone)]
pub struct Row {
    /// Line number (CSV), sheet row (workbook, 1-based as Excel shows it) or record index (JSON).
    pub loc: u32,
    pub cells: Vec<String>,
}

/// Reads an input file into one or more tables (a `.tar.gz` holds several CSV parts). The file's
/// bytes are taken (a CSV's text is read in place).
pub fn read_tables(file: &mut InputFile, sheet: Option<&str>) -> Result<Vec<Table>, LoadError> {
    match file.format {
        Format::Csv => Ok(vec![read_csv(std::mem::take(&mut file.bytes), &file.label)?]),
        Format::Xlsx => Ok(vec![read_xlsx(&file.bytes, &file.label, sheet)?]),
        Format::Json => Ok(vec![read_json(&file.bytes, &file.label)?]),
        Format::TarGz => read_tar_gz(&file.bytes, &file.label),
    }
}

/// Decodes CSV bytes: UTF-8 (BOM stripped) when valid, else GB18030 (a superset of GBK). Valid
/// UTF-8 is used in place; returns the text and where it starts in it (after a BOM).
pub fn decode(bytes: Vec<u8>, label: &str) -> Result<(Vec<u8>, usize, &'static str), LoadError> {
    if let Some(rest) = bytes.strip_prefix(b"\xEF\xBB\xBF") {
        return match utf8(rest) {
            Ok(_) => Ok((bytes, 3, "UTF-8 with BOM")),
            Err(bad) => Err(undecodable(rest, bad, label, "UTF-8 (the file starts with a UTF-8 byte order mark)")),
        };
    }
    let utf8_valid_up_to = match utf8(&bytes) {
        Ok(_) => return Ok((bytes, 0, "UTF-8")),
        Err(bad) => bad,
    };
    let (text, had_errors) = encoding_rs::GB18030.decode_without_bom_handling(&bytes);
    if !had_errors {
        return Ok((text.into_owned().into_bytes(), 0, "GBK"));
    }
    // Find the first line GB18030 cannot decode, to name it.
    let offset = first_gbk_error_line(&bytes);
    // Name the line that defeats the more plausible reading: a UTF-8 file with one bad byte
    // decodes as UTF-8 further than as GBK, and the other way round.
    Err(undecodable(&bytes, offset.max(utf8_valid_up_to), label, "UTF-8 or GBK"))
}

fn undecodable(bytes: &[u8], offset: usize, label: &str, expected: &str) -> LoadError {
    let line = bytes[..offset.min(bytes.len())].iter().filter(|&&b| b == b'\n').count() + 1;
    LoadError::Undecodable { path: label.to_string(), line, expected: expected.to_string() }
}

pub fn read_csv(bytes: Vec<u8>, label: &str) -> Result<Table, LoadError> {
    let (text, start, encoding) = decode(bytes, label)?;
    let end = text.len();
    let reader = csv_reader(Shared { data: Arc::new(Block(text)), start, end });
    let mut body = Box::new(CsvBody { reader, seen_byte: 0, seen_line: 1, next: 0 });
    let mut rec = csv::StringRecord::new();
    if next_csv_record(&mut body, &mut rec, label)?.is_none() {
        return Err(LoadError::NoHeader { path: label.to_string() });
    }
    let headers = rec.iter().map(|c| c.trim_start_matches('\u{feff}').to_string()).collect();
    Ok(Table { label: label.to_string(), encoding, sheet: None, headers, body: Body::Csv(body), cite: CiteStyle::Line, rows_hint: 0 })
}

/// The cells of a plain line: `text.split(',')`, with the commas found eight bytes at a time.
#[derive(Clone)]
struct Commas<'a> {
    text: &'a str,
    /// Where the next cell starts (`None` after the last).
    at: Option<usize>,
}

impl<'a> Iterator for Commas<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        let start = self.at?;
        let b = self.text.as_bytes();
        let end = next_comma(b, start);
        self.at = end.map(|e| e + 1);
        // (a comma is ASCII: both ends are character boundaries)
        self.text.get(start..end.unwrap_or(b.len()))
    }
}

/// The first comma in `b` at or after `from`: eight bytes at a time (a byte equal to the comma
/// becomes a zero byte, found with the has-zero-byte test, whose lowest hit is exact).
fn next_comma(b: &[u8], from: usize) -> Option<usize> {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    let mut i = from;
    while let Some(chunk) = b.get(i..i + 8) {
        let Ok(word) = <[u8; 8]>::try_from(chunk) else { break };
        let w = u64::from_le_bytes(word) ^ (LO * u64::from(b','));
        let hits = w.wrapping_sub(LO) & !w & HI;
        if hits != 0 {
            return Some(i + (hits.trailing_zeros() / 8) as usize);
        }
        i += 8;
    }
    b.get(i..)?.iter().position(|&c| c == b',').map(|p| i + p)
}

/// What [`plain_line`] found.
enum Plain<'a> {
    /// A line with neither quote nor CR inside (blank or not), and the line it is.
    Line(u32, &'a str),
    /// The end of the text.
    End,
    /// A line with a quote: the csv reader, positioned at it, reads the record.
    Quoted,
    /// A CR inside a line (CR-only line breaks?): the csv reader reads the rest of the table.
    OtherBreaks,
}

/// Takes the next line of `text` (the text of `b`) when it reads as the csv crate would read it,
/// split on commas: no quote in it, no CR but one before its LF. Otherwise the csv reader is put
/// at the line and reads on from there.
fn plain_line<'t>(b: &mut CsvBody, text: &'t str) -> Plain<'t> {
    let pos = b.next;
    let data = text.as_bytes();
    if pos >= data.len() {
        return Plain::End;
    }
    let rest = &data[pos..];
    let (mut end, next) = match memchr::memchr(b'\n', rest) {
        Some(i) => (pos + i, pos + i + 1),
        None => (data.len(), data.len()),
    };
    if end > pos && data[end - 1] == b'\r' {
        end -= 1;
    }
    let line_no = b.seen_line + newlines(&data[b.seen_byte.min(pos)..pos]) as u32;
    if let Some(i) = memchr::memchr2(b'"', b'\r', &data[pos..end]) {
        // The csv reader takes over at this line (its line count as ours, for its messages).
        let mut at = csv::Position::new();
        at.set_byte(pos as u64).set_line(u64::from(line_no));
        if b.reader.seek(at).is_err() || data[pos + i] == b'\r' {
            return Plain::OtherBreaks;
        }
        return Plain::Quoted;
    }
    // (LF and CR are ASCII: the line's ends are character boundaries)
    let line = &text[pos..end];
    b.seen_byte = next;
    b.seen_line = line_no + u32::from(data[next - 1] == b'\n');
    b.next = next;
    Plain::Line(line_no, line)
}

/// Reads the next non-blank record; returns the physical line where it starts (counted from
/// the record's byte offset, whatever the line terminator; the header is line 1).
fn next_csv_record(b: &mut CsvBody, rec: &mut csv::StringRecord, label: &str) -> Result<Option<u32>, LoadError> {
    loop {
        let mut start = b.reader.position().byte() as usize;
        let read = b.reader.read_record(rec).map_err(|e| csv_error(label, e))?;
        b.next = b.reader.position().byte() as usize;
        if !read {
            return Ok(None);
        }
        if rec.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        let data = b.reader.get_ref().get_ref().as_ref();
        start = start.min(data.len());
        while start < data.len() && matches!(data[start], b'\r' | b'\n') {
            start += 1;
        }
        let start = start.max(b.seen_byte);
        b.seen_line += newlines(&data[b.seen_byte..start]) as u32;
        b.seen_byte = start;
        return Ok(Some(b.seen_line));
    }
}

fn csv_error(label: &str, e: csv::Error) -> LoadError {
    let line = e.position().map_or(0, |p| p.line() as usize);
    LoadError::Csv { path: label.to_string(), line, message: e.to_string() }
}

/// A workbook's first (or named) sheet. An `.xlsx` (a zip) is checked part by part first (every
/// part's CRC-32 and size, and the number of shared strings it declares against the bytes that
/// hold them: calamine reserves room for as many as declared), then its cells are read as a
/// stream and kept sparse, so that one stray cell at XFD1048576 costs one cell, not the grid.
/// Any other workbook (`.xls`) is read whole by calamine.
pub fn read_xlsx(bytes: &[u8], label: &str, sheet: Option<&str>) -> Result<Table, LoadError> {
    if bytes.starts_with(b"PK\x03\x04") {
        check_zip(bytes, label)?;
        if let Ok(book) = calamine::Xlsx::new(Cursor::new(bytes)) {
            return read_xlsx_cells(book, label, sheet);
        }
    }
    read_workbook_range(bytes, label, sheet)
}

/// The part of a zip whose name ends (case aside) with `sharedStrings.xml`.
fn is_shared_strings(name: &str) -> bool {
    name.to_ascii_lowercase().ends_with("sharedstrings.xml")
}

/// Reads every part of a zip to its end, which checks its CRC-32 and its declared size, and
/// checks the shared strings' declared count against their real size (each takes at least
/// `<si/>`, 5 bytes).
fn check_zip(bytes: &[u8], label: &str) -> Result<(), LoadError> {
    let bad = |message: String| LoadError::Workbook { path: label.to_string(), message };
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes)).map_err(|e| bad(e.to_string()))?;
    for i in 0..zip.len() {
        let mut part = zip.by_index(i).map_err(|e| bad(e.to_string()))?;
        let name = part.name().map_or_else(|_| format!("part {i}"), |n| n.to_string());
        let mut scan = CountScan { bytes: 0, declared: 0, tail: Vec::new(), look: is_shared_strings(&name) };
        std::io::copy(&mut part, &mut scan).map_err(|e| bad(format!("the part {name} is damaged: {e}")))?;
        if scan.look && scan.declared > (scan.bytes / 5).saturating_add(1) as u128 {
            return Err(bad(format!("{name} declares {} shared strings but holds {} bytes, room for at most {}", scan.declared, scan.bytes, scan.bytes / 5 + 1)));
        }
    }
    Ok(())
}

/// A sink that counts the bytes written to it and, when `look`, takes the largest number given
/// as a `uniqueCount` attribute in them.
struct CountScan {
    bytes: u64,
    declared: u128,
    /// The end of the previous write (an attribute cut between writes).
    tail: Vec<u8>,
    look: bool,
}

impl std::io::Write for CountScan {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.bytes += buf.len() as u64;
        if self.look {
            const KEY: &[u8] = b"uniqueCount";
            const KEEP: usize = 64;
            // (the tail is read again: a number cut at the end of a write is read whole with the
            // next, and one read twice changes no maximum)
            let mut text = std::mem::take(&mut self.tail);
            text.extend_from_slice(buf);
            for at in memchr::memmem::find_iter(&text, KEY) {
                let rest = &text[at + KEY.len()..];
                let rest = rest.iter().skip_while(|c| c.is_ascii_whitespace() || matches!(c, b'=' | b'"' | b'\'')).copied();
                let mut n: u128 = 0;
                for c in rest.take_while(u8::is_ascii_digit) {
                    n = n.saturating_mul(10).saturating_add(u128::from(c - b'0'));
                }
                self.declared = self.declared.max(n);
            }
            let keep = text.len().saturating_sub(KEEP);
            self.tail = text[keep..].to_vec();
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The first (or named) sheet of an `.xlsx`, its cells read one at a time and kept only where
/// they hold something.
fn read_xlsx_cells(mut book: calamine::Xlsx<Cursor<&[u8]>>, label: &str, sheet: Option<&str>) -> Result<Table, LoadError> {
    let name = sheet_name(book.sheet_names(), label, sheet)?;
    let werr = |e: calamine::XlsxError| LoadError::Workbook { path: label.to_string(), message: e.to_string() };
    let mut cells: Vec<((u32, u32), String)> = Vec::new();
    {
        let mut reader = match book.worksheet_cells_reader(&name) {
            Ok(r) => Some(r),
            // (a chart sheet: no cells, as calamine's range reads it)
            Err(calamine::XlsxError::NotAWorksheet(_)) => None,
            Err(e) => return Err(werr(e)),
        };
        while let Some(r) = reader.as_mut() {
            match r.next_cell().map_err(werr)? {
                Some(c) => {
                    if !matches!(c.get_value(), calamine::DataRef::Empty) {
                        let pos = c.get_position();
                        cells.push((pos, cell_text(&Data::from(c.get_value().clone()))));
                    }
                }
                None => break,
            }
        }
    }
    // As calamine's range has them: by row then column, a cell given twice the last one, and
    // columns counted from the leftmost column that holds a cell.
    cells.sort_by_key(|c| c.0);
    cells.dedup_by(|later, earlier| {
        let same = later.0 == earlier.0;
        if same {
            std::mem::swap(later, earlier);
        }
        same
    });
    let first_col = cells.iter().map(|c| c.0 .1).min().unwrap_or(0);
    let mut headers: Option<Vec<String>> = None;
    let mut rows: Vec<SparseRow> = Vec::new();
    let mut at = 0;
    while at < cells.len() {
        let row = cells[at].0 .0;
        let end = at + cells[at..].iter().take_while(|c| c.0 .0 == row).count();
        let group = &mut cells[at..end];
        at = end;
        if group.iter().all(|c| c.1.trim().is_empty()) {
            continue;
        }
        match &headers {
            None => {
                let width = group.last().map_or(0, |c| (c.0 .1 - first_col) as usize + 1);
                let mut h = vec![String::new(); width];
                for c in group.iter_mut() {
                    h[(c.0 .1 - first_col) as usize] = std::mem::take(&mut c.1);
                }
                headers = Some(h);
            }
            Some(h) => {
                // (cells past the last header are never read: no header names them)
                let width = h.len() as u32;
                let kept = group.iter_mut().filter(|c| c.0 .1 - first_col < width).map(|c| (c.0 .1 - first_col, std::mem::take(&mut c.1))).collect();
                rows.push(SparseRow { loc: row.saturating_add(1), cells: kept });
            }
        }
    }
    drop(cells);
    let headers = headers.ok_or_else(|| LoadError::NoHeader { path: format!("{label}!{name}") })?;
    Ok(Table { label: label.to_string(), encoding: "xlsx", sheet: Some(name.clone()), rows_hint: rows.len(), body: Body::Sparse(headers.len(), rows), headers, cite: CiteStyle::Sheet(name) })
}

fn sheet_name(names: Vec<String>, label: &str, sheet: Option<&str>) -> Result<String, LoadError> {
    match sheet {
        Some(s) => names
            .iter()
            .find(|n| n.as_str() == s)
            .cloned()
            .ok_or_else(|| LoadError::NoSuchSheet { path: label.to_string(), sheet: s.to_string(), available: names.join(", ") }),
        None => names.first().cloned().ok_or_else(|| LoadError::NoHeader { path: label.to_string() }),
    }
}

/// A workbook read by calamine as a range (`.xls`, and what is not an `.xlsx`).
fn read_workbook_range(bytes: &[u8], label: &str, sheet: Option<&str>) -> Result<Table, LoadError> {
    let mut book = calamine::open_workbook_auto_from_rs(Cursor::new(bytes))
        .map_err(|e| LoadError::Workbook { path: label.to_string(), message: e.to_string() })?;
    let name = sheet_name(book.sheet_names(), label, sheet)?;
    let range = book
        .worksheet_range(&name)
        .map_err(|e| LoadError::Workbook { path: label.to_string(), message: e.to_string() })?;
    let first_row = range.start().map_or(0, |(r, _)| r);
    let mut headers = None;
    let mut rows = Vec::new();
    for (i, r) in range.rows().enumerate() {
        let cells: Vec<String> = r.iter().map(cell_text).collect();
        if cells.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        if headers.is_none() {
            headers = Some(cells);
            continue;
        }
        rows.push(Row { loc: first_row + i as u32 + 1, cells });
    }
    let headers = headers.ok_or_else(|| LoadError::NoHeader { path: format!("{label}!{name}") })?;
    Ok(Table { label: label.to_string(), encoding: "xlsx", sheet: Some(name.clone()), headers, rows_hint: rows.len(), body: Body::Rows(rows), cite: CiteStyle::Sheet(name) })
}

/// A workbook cell as text. Numbers go through their shortest round-trip text, so a cell showing
/// 0.123456 reads as exactly `0.123456`; date-time cells become naive local times.
fn cell_text(d: &Data) -> String {
    match d {
        Data::Empty => String::new(),
        Data::String(s) => s.clone(),
        Data::Int(i) => i.to_string(),
        // Display of a binary float is its shortest round-trip decimal text; the decimal is
        // parsed from that text, never from the float.
        Data::Float(f) => f.to_string(),
        Data::Bool(b) => b.to_string(),
        Data::DateTime(dt) => match dt.as_datetime() {
            Some(t) => t.format("%Y-%m-%d %H:%M:%S").to_string(),
            None => dt.to_string(),
        },
        Data::DateTimeIso(s) | Data::DurationIso(s) => s.clone(),
        Data::Error(e) => format!("#ERROR {e}"),
    }
}

pub fn read_json(bytes: &[u8], label: &str) -> Result<Table, LoadError> {
    let text = std::str::from_utf8(bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes))
        .map_err(|e| undecodable(bytes, e.valid_up_to(), label, "UTF-8 JSON"))?;
    let value: serde_json::Value = serde_json::from_str(text)
        .map_err(|e| LoadError::Json { path: label.to_string(), line: e.line(), column: e.column(), message: e.to_string() })?;
    let (key, records) = match value {
        serde_json::Value::Array(a) => ("", a),
        serde_json::Value::Object(mut o) => match ["fee_records", "bill_sums", "records"].iter().find(|k| o.get(**k).is_some_and(|v| v.is_array())) {
            Some(k) => match o.remove(*k) {
                Some(serde_json::Value::Array(a)) => (*k, a),
                _ => (*k, Vec::new()),
            },
            None => {
                return Err(LoadError::JsonShape {
                    path: label.to_string(),
                    message: "expected a Huawei API response body with a fee_records or bill_sums array, or a top-level array".into(),
                })
            }
        },
        _ => return Err(LoadError::JsonShape { path: label.to_string(), message: "expected a JSON object or array".into() }),
    };
    // Every key of any record is a header, in the order first seen; each row keeps only the keys
    // it has (records that each carry a key of their own cost one cell each, not one per header).
    let mut headers: Vec<String> = Vec::new();
    let mut column: std::collections::HashMap<String, u32> = std::collections::HashMap::new();
    let mut rows = Vec::with_capacity(records.len());
    for (i, r) in records.into_iter().enumerate() {
        let serde_json::Value::Object(o) = r else {
            return Err(LoadError::JsonShape { path: label.to_string(), message: format!("record {i} is not an object") });
        };
        let mut cells = Vec::with_capacity(o.len());
        for (k, v) in o {
            let c = match column.get(&k) {
                Some(&c) => c,
                None => {
                    let c = headers.len() as u32;
                    headers.push(k.clone());
                    column.insert(k, c);
                    c
                }
            };
            cells.push((c, json_text(v)));
        }
        rows.push(SparseRow { loc: i as u32, cells });
    }
    let cite_key: &'static str = if key.is_empty() { "" } else { key };
    Ok(Table { label: label.to_string(), encoding: "UTF-8 JSON", sheet: None, rows_hint: rows.len(), body: Body::Sparse(headers.len(), rows), headers, cite: CiteStyle::Record(cite_key) })
}

fn json_text(v: serde_json::Value) -> String {
    match v {
        serde_json::Value::Null => String::new(),
        serde_json::Value::String(s) => s,
        // With arbitrary_precision, a number keeps its exact source text.
        serde_json::Value::Number(n) => n.to_string(),
        serde_json::Value::Bool(b) => b.to_string(),
        other => other.to_string(),
    }
}

/// The CSV parts of a `customerBill_YYYYMM.tar.gz`, read in memory, in name order.
pub fn read_tar_gz(bytes: &[u8], label: &str) -> Result<Vec<Table>, LoadError> {
    let mut parts: Vec<(String, Vec<u8>)> = Vec::new();
    csv_entries(bytes, label, true, |name, buf| {
        parts.push((name, buf));
        Ok(())
    })?;
    if parts.is_empty() {
        return Err(no_csv_part(label));
    }
    parts.sort_by(|a, b| a.0.cmp(&b.0));
    parts.into_iter().map(|(name, b)| read_csv(b, &format!("{label}/{name}"))).collect()
}

/// The CSV parts of a `.tar.gz` as [`read_tar_gz`] gives them, handed to `each` one at a time,
/// so that at most one part's text is held (a delivery's parts are 100,000 rows each): the
/// archive is decompressed once to list its parts, then once more, part by part. An archive
/// whose parts are not stored in name order is read whole instead.
pub fn each_tar_gz_part(bytes: &[u8], label: &str, mut each: impl FnMut(Table) -> Result<(), LoadError>) -> Result<(), LoadError> {
    let mut names = Vec::new();
    csv_entries(bytes, label, false, |name, _| {
        names.push(name);
        Ok(())
    })?;
    if names.is_empty() {
        return Err(no_csv_part(label));
    }
    if !names.windows(2).all(|w| w[0] <= w[1]) {
        return read_tar_gz(bytes, label)?.into_iter().try_for_each(each);
    }
    csv_entries(bytes, label, true, |name, buf| each(read_csv(buf, &format!("{label}/{name}"))?))
}

fn no_csv_part(label: &str) -> LoadError {
    LoadError::Archive { path: label.to_string(), message: "the archive holds no .csv part".into() }
}

/// Hands `f` the name of each `.csv` file in a `.tar.gz`, in the order stored, with its bytes
/// when `read` (else empty; the entry is skipped).
fn csv_entries(bytes: &[u8], label: &str, read: bool, mut f: impl FnMut(String, Vec<u8>) -> Result<(), LoadError>) -> Result<(), LoadError> {
    let tar_err = |e: std::io::Error| LoadError::Archive {
        path: label.to_string(),
        message: format!("{e} (the archive is cut short, damaged, or followed by bytes that are not part of it)"),
    };
    // Every gzip member (a concatenated gzip, as `cat a.gz b.gz`, some archivers and parallel
    // compressors make, is one stream of several members), and every tar archive in it: the
    // zero blocks that end one do not end the read. The stream is then read to its end, so
    // that an archive cut short or followed by bytes that are not gzip is an error, not parts
    // that silently vanish.
    let mut archive = tar::Archive::new(flate2::read::MultiGzDecoder::new(bytes));
    archive.set_ignore_zeros(true);
    for entry in archive.entries().map_err(tar_err)? {
        let mut entry = entry.map_err(tar_err)?;
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let name = entry.path().map_err(tar_err)?.to_string_lossy().to_string();
        if Format::of(Path::new(&name)) != Some(Format::Csv) {
            continue;
        }
        let mut buf = Vec::new();
        if read {
            entry.read_to_end(&mut buf).map_err(tar_err)?;
        }
        f(name, buf)?;
    }
    let mut rest = archive.into_inner();
    let left = std::io::copy(&mut rest, &mut std::io::sink()).map_err(tar_err)?;
    if left != 0 {
        return Err(LoadError::Archive { path: label.to_string(), message: format!("{left} bytes after the end of the tar archive that are not tar entries") });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{label_of, read_csv, utf8, utf8_check};

    #[test]
    fn a_path_is_cited_relative_to_the_root_under_it_and_as_given_under_an_empty_root() {
        use std::path::Path;
        let root = Path::new("/work/oct");
        assert_eq!(label_of(Path::new("/work/oct/data/c.csv"), root), "data/c.csv");
        assert_eq!(label_of(Path::new("data/c.csv"), root), "data/c.csv");
        assert_eq!(label_of(Path::new("/elsewhere/c.csv"), root), "/elsewhere/c.csv");
        let none = Path::new("");
        assert_eq!(label_of(Path::new("/work/oct/data/c.csv"), none), "/work/oct/data/c.csv");
        assert_eq!(label_of(Path::new("data/c.csv"), none), "data/c.csv");
    }

    /// Every row of a CSV text as the table hands it over, read with and without plain lines.
    fn both_ways(text: &str) -> (Vec<(u32, Vec<String>)>, Vec<(u32, Vec<String>)>) {
        let read = |plain: bool| {
            let mut out = Vec::new();
            if let Ok(mut t) = read_csv(text.as_bytes().to_vec(), "t.csv") {
                out.push((0, t.headers.clone()));
                let _ = t.rows(plain, |loc, cells| out.push((loc, cells.iter().map(|c| c.to_string()).collect())));
            }
            out
        };
        (read(true), read(false))
    }

    #[test]
    fn plain_lines_read_as_the_csv_crate_reads_them() {
        for text in [
            "a,b\n1,2\n",
            "a,b\r\n1,2\r\n\r\n3,4",
            "a,b\n1,\"x\ny\"\n2,\"q\"\"q\"\n3,4\n",
            "a,b\r1,2\r3,4\r",
            "a,b\n\n , \n1,2,3,4,5\n,\n",
            "a\n1,2\r\n3\r4\n5\n",
            "a,b\n1,\"2\n",
            &format!("a\n{}\n", vec!["x"; 60].join(",")),
        ] {
            let (plain, csv) = both_ways(text);
            assert_eq!(plain, csv, "{text:?}");
        }
    }

    proptest::proptest! {
        #[test]
        fn cells_split_eight_bytes_at_a_time_are_split_on_commas(text in "[a,元\\x00\\x7f\\u{80}-\\u{ff}]{0,40}") {
            let got: Vec<&str> = super::Commas { text: &text, at: Some(0) }.collect();
            let want: Vec<&str> = text.split(',').collect();
            proptest::prop_assert_eq!(got, want);
        }

        #[test]
        fn any_text_reads_the_same_with_plain_lines(text in "[ab,\"\r\n 元]{0,60}") {
            let (plain, csv) = both_ways(&text);
            proptest::prop_assert_eq!(plain, csv);
        }
    }

    fn whole(bytes: &[u8]) -> Result<(), usize> {
        std::str::from_utf8(bytes).map(|_| ()).map_err(|e| e.valid_up_to())
    }

    #[test]
    fn pieces_cut_inside_characters_still_read_as_utf8() {
        let text = "账期,客户ID\n2026-10,é😀x\n".repeat(5);
        for piece in 1..12 {
            assert_eq!(utf8_check(text.as_bytes(), piece), Ok(()), "piece {piece}");
        }
        let mut gbk = text.into_bytes();
        gbk[40] = 0xB9; // a lone lead byte of GBK
        for piece in 1..12 {
            assert_eq!(utf8_check(&gbk, piece), whole(&gbk), "piece {piece}");
        }
    }

    proptest::proptest! {
        #[test]
        fn the_parallel_check_agrees_with_one_over_the_whole(bytes in proptest::collection::vec(proptest::prop_oneof![0x20u8..0x7f, 0x80u8..0xc0, 0xc2u8..0xf5, proptest::strategy::Just(0xffu8)], 0..64), piece in 1usize..20) {
            proptest::prop_assert_eq!(utf8_check(&bytes, piece).is_ok(), whole(&bytes).is_ok());
        }

        #[test]
        fn the_vector_check_names_the_offset_std_names(bytes in proptest::collection::vec(proptest::prop_oneof![0x20u8..0x7f, 0x80u8..0xc0, 0xc2u8..0xf5, proptest::strategy::Just(0xffu8)], 0..200)) {
            proptest::prop_assert_eq!(utf8(&bytes).map(|_| ()), whole(&bytes));
        }

        #[test]
        fn valid_text_is_utf8_in_any_pieces(text in "\\PC{0,40}", piece in 1usize..20) {
            proptest::prop_assert_eq!(utf8_check(text.as_bytes(), piece), Ok(()));
        }
    }
}
