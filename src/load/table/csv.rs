//! CSV text to rows: a whole file read in place, a large file a block at a time (each block cut
//! at a record boundary), plain lines split on commas directly and any other record read by
//! the csv crate, and a large table split into parts read in parallel.

use std::io::{Cursor, Read};
use std::path::Path;
use std::sync::Arc;

use sha2::{Digest, Sha256};

use super::encoding::{char_start, decode, first_gbk_error_line, utf8, utf8_check};
use super::files::{pause_for_tests, unchanged, Stamp};
use super::pool::{spare_buffer, Block};
use super::{Body, CiteStyle, Table};
use crate::load::LoadError;
use crate::model::hex;

pub(super) fn read_csv(bytes: Vec<u8>, label: &str) -> Result<Table, LoadError> {
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

pub(super) struct CsvBody {
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

impl AsRef<[u8]> for Shared {
    fn as_ref(&self) -> &[u8] {
        &self.data[self.start..self.end]
    }
}

fn csv_reader(text: Shared) -> csv::Reader<Cursor<Shared>> {
    csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(Cursor::new(text))
}

/// The records of a CSV table, each handed to `f` with its line ([`Table::for_each_row`] for
/// a CSV body; with `plain_lines` false every record goes through the csv crate).
pub(super) fn each_record(mut b: Box<CsvBody>, label: &str, plain_lines: bool, mut f: impl FnMut(u32, &[&str])) -> Result<(), LoadError> {
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
        let Some(loc) = next_csv_record(&mut b, &mut rec, label)? else { break };
        hand_over(rec.iter(), loc, &mut f);
    }
    Ok(())
}

impl Table {
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

#[cfg(test)]
mod tests {
    use super::read_csv;

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
}
