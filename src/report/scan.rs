//! A findings.csv read back a record at a time, fast: the file is read in large buffers (and
//! hashed as it is read), each record split into its fields in place with RFC 4180 quoting (a
//! quoted field may hold commas, doubled quotes and line breaks), the fields handed over as
//! byte slices. A previous report's findings.csv can be gigabytes; the csv crate's reader,
//! which decodes every field of every record, took most of the time of following one.

use sha2::{Digest, Sha256};

/// Bytes read at a time by [`scan`].
#[cfg(test)]
const CHUNK: usize = 4 << 20;

/// Why a file is not read as CSV.
#[derive(Debug)]
pub enum ScanError {
    Io(std::io::Error),
    /// The file ends inside a quoted field, or a quote is followed by something other than a
    /// comma or the end of the line.
    Malformed { line: u64, what: &'static str },
}

/// Reads `r` record by record, handing each record's fields (unquoted) and its first line's
/// number to `each`; returns the sha256 of every byte read. `each` returns false to stop early
/// (the hash then covers what was read). (Tests: runs read with [`Scanner`] fed by
/// [`super::direct::read_ranges`].)
#[cfg(test)]
pub fn scan(mut r: impl std::io::Read, mut each: impl FnMut(&[&[u8]], u64) -> Result<bool, ScanError>) -> Result<String, ScanError> {
    let mut scanner = Scanner::new();
    let mut each = |f: &[&[u8]], line: u64, _: &[u8]| each(f, line);
    let mut buf = vec![0u8; CHUNK];
    loop {
        let n = match r.read(&mut buf) {
            Ok(0) => return scanner.finish(&mut each),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(ScanError::Io(e)),
        };
        if !scanner.feed(&buf[..n], &mut each)? {
            return Ok(scanner.digest());
        }
    }
}

/// Reads the file at `path` with [`Scanner`], around the page cache with several reads in
/// flight ([`super::direct::read_ranges`]: a findings.csv a run wrote that way is not in the
/// page cache, and may be gigabytes); returns the file's sha256. Of each record after the first
/// (the header, split whole) only the first `want` fields are split (the rest is passed over,
/// quotes respected, not checked): `each` gets them, the line, and the record's bytes as the
/// file holds them (see [`split`]). For a reader that needs few columns, or the whole of few
/// records.
pub fn scan_file_prefix(path: &std::path::Path, want: usize, mut each: impl FnMut(&[&[u8]], u64, &[u8]) -> Result<bool, ScanError>) -> Result<String, ScanError> {
    let len = std::fs::metadata(path).map_err(ScanError::Io)?.len();
    let mut scanner = Scanner::new();
    scanner.later = want;
    let mut failed = None;
    let read = super::direct::read_ranges(&[path.to_path_buf()], &[(0, 0, len)], |_, bytes| match scanner.feed(bytes, &mut each) {
        Ok(_) => Ok(()),
        Err(e) => {
            failed = Some(e);
            Err(std::io::Error::other("scan"))
        }
    });
    match (failed, read) {
        (Some(e), _) => Err(e),
        (None, Err(e)) => Err(ScanError::Io(e)),
        (None, Ok(())) => scanner.finish(&mut each),
    }
}

/// The push side of [`scan`]: the input handed over a piece at a time ([`Scanner::feed`]), as
/// [`super::direct::read_ranges`] reads it; records are split in place in each piece, only a
/// record that spans two pieces is copied.
pub struct Scanner {
    hasher: Sha256,
    /// The start of a record the last piece ended inside.
    tail: Vec<u8>,
    line: u64,
    stopped: bool,
    // The fields of a record: ranges into the piece, or into `unquoted` for a field whose
    // doubled quotes had to be undone.
    fields: Vec<(bool, usize, usize)>,
    unquoted: Vec<u8>,
    /// The fields split of each record after the first (see [`scan_file_prefix`]).
    later: usize,
}

impl Default for Scanner {
    fn default() -> Self {
        Scanner::new()
    }
}

impl Scanner {
    pub fn new() -> Scanner {
        Scanner { hasher: Sha256::new(), tail: Vec::new(), line: 1, stopped: false, fields: Vec::with_capacity(32), unquoted: Vec::new(), later: usize::MAX }
    }

    /// Takes the next piece of the input; false once `each` has asked to stop.
    pub fn feed(&mut self, piece: &[u8], each: &mut impl FnMut(&[&[u8]], u64, &[u8]) -> Result<bool, ScanError>) -> Result<bool, ScanError> {
        if self.stopped {
            return Ok(false);
        }
        self.hasher.update(piece);
        let mut data = piece;
        if !self.tail.is_empty() {
            // Complete the record begun in the last piece, a little of this one at a time.
            let mut taken = 0usize;
            loop {
                let more = (data.len() - taken).min(64 << 10);
                self.tail.extend_from_slice(&data[taken..taken + more]);
                taken += more;
                let last = taken == data.len();
                let tail = std::mem::take(&mut self.tail);
                let done = self.one(&tail, 0, false, each)?;
                match done {
                    Some(end) => {
                        // (what of the tail lies after the record came from this piece)
                        data = &data[taken - (tail.len() - end)..];
                        break;
                    }
                    None if last => {
                        self.tail = tail;
                        return Ok(!self.stopped);
                    }
                    None => self.tail = tail,
                }
            }
            if self.stopped {
                return Ok(false);
            }
        }
        let mut at = 0usize;
        while at < data.len() {
            match self.one(data, at, false, each)? {
                Some(end) => at = end,
                None => {
                    self.tail.extend_from_slice(&data[at..]);
                    break;
                }
            }
            if self.stopped {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// The end of the input: a last record without a line break; returns the sha256.
    pub fn finish(mut self, each: &mut impl FnMut(&[&[u8]], u64, &[u8]) -> Result<bool, ScanError>) -> Result<String, ScanError> {
        let tail = std::mem::take(&mut self.tail);
        let mut at = 0usize;
        while at < tail.len() && !self.stopped {
            match self.one(&tail, at, true, each)? {
                Some(end) => at = end,
                None => break,
            }
        }
        Ok(self.digest())
    }

    /// The sha256 of what was fed.
    pub fn digest(self) -> String {
        crate::model::hex(&self.hasher.finalize())
    }

    /// Splits the record at `buf[at..]` and hands it to `each`; where the next record starts,
    /// or `None` when it is not complete in `buf` (and `eof` is false).
    fn one(&mut self, buf: &[u8], at: usize, eof: bool, each: &mut impl FnMut(&[&[u8]], u64, &[u8]) -> Result<bool, ScanError>) -> Result<Option<usize>, ScanError> {
        self.fields.clear();
        self.unquoted.clear();
        let line = self.line;
        let want = if line == 1 { usize::MAX } else { self.later };
        let Some((end, lines)) = record(buf, at, eof, want, &mut self.fields, &mut self.unquoted).map_err(|what| ScanError::Malformed { line, what })? else {
            return Ok(None);
        };
        let (fields, unquoted) = (&self.fields, &self.unquoted);
        // (the fields on the stack: no allocation per record)
        let field = |&(q, a, b): &(bool, usize, usize)| -> &[u8] { if q { &unquoted[a..b] } else { &buf[a..b] } };
        let mut small: [&[u8]; 24] = [&[]; 24];
        let many: Vec<&[u8]>;
        let slices: &[&[u8]] = if fields.len() <= small.len() {
            for (s, f) in small.iter_mut().zip(fields.iter()) {
                *s = field(f);
            }
            &small[..fields.len()]
        } else {
            many = fields.iter().map(field).collect();
            &many
        };
        // (an empty line is no record, as for the csv crate)
        let empty = buf[at..end].iter().all(|&b| b == b'\n' || b == b'\r');
        if !empty && !each(slices, line, &buf[at..end])? {
            self.stopped = true;
        }
        self.line += lines;
        Ok(Some(end))
    }
}

/// Splits the record at `buf[at..]`: its fields into `fields` (with `unquoted` holding the
/// fields whose doubled quotes were undone), and returns where the next record starts and how
/// many line breaks the record spans; `None` when the record is not complete in `buf` and more
/// may come (`eof` false). At the end of the input a last record without a line break ends
/// there. Past `want` fields the rest of the record is passed over ([`pass_over`]).
fn record(buf: &[u8], at: usize, eof: bool, want: usize, fields: &mut Vec<(bool, usize, usize)>, unquoted: &mut Vec<u8>) -> Result<Option<(usize, u64)>, &'static str> {
    let mut p = at;
    let mut lines = 1u64;
    loop {
        if buf.get(p) == Some(&b'"') {
            // A quoted field: up to the quote not followed by another.
            let (begin, mut q) = (unquoted.len(), p + 1);
            let mut simple = true;
            let content_start = q;
            loop {
                let Some(off) = memchr::memchr(b'"', &buf[q..]) else {
                    return if eof { Err("the file ends inside a quoted field (is it cut short?)") } else { Ok(None) };
                };
                let close = q + off;
                lines += buf[q..close].iter().filter(|&&b| b == b'\n').count() as u64;
                if buf.get(close + 1) == Some(&b'"') {
                    simple = false;
                    unquoted.extend_from_slice(&buf[q..=close]);
                    q = close + 2;
                    continue;
                }
                if close + 1 >= buf.len() && !eof {
                    return Ok(None); // (the next byte decides)
                }
                if simple {
                    fields.push((false, content_start, close));
                } else {
                    unquoted.extend_from_slice(&buf[q..close]);
                    fields.push((true, begin, unquoted.len()));
                }
                p = close + 1;
                break;
            }
        } else {
            let Some(off) = memchr::memchr3(b',', b'\n', b'\r', &buf[p..]) else {
                if !eof {
                    return Ok(None);
                }
                fields.push((false, p, buf.len()));
                return Ok(Some((buf.len(), lines)));
            };
            fields.push((false, p, p + off));
            p += off;
        }
        match buf.get(p) {
            Some(b',') if fields.len() >= want => {
                return Ok(pass_over(buf, p + 1, eof)?.map(|(end, more)| (end, lines + more)));
            }
            Some(b',') => p += 1,
            Some(b'\n') => return Ok(Some((p + 1, lines))),
            Some(b'\r') => match buf.get(p + 1) {
                Some(b'\n') => return Ok(Some((p + 2, lines))),
                None if !eof => return Ok(None),
                _ => return Ok(Some((p + 1, lines))),
            },
            None if eof => return Ok(Some((p, lines))),
            None => return Ok(None),
            Some(_) => return Err("a quoted field is followed by text before the next comma"),
        }
    }
}

/// The end of the record whose remaining fields begin at `buf[p..]`, passed over without
/// splitting them (a quote opens or closes a quoted field, a doubled one does both), and the
/// line breaks inside its quotes; `None` when it is not complete in `buf` (and `eof` is false).
fn pass_over(buf: &[u8], mut p: usize, eof: bool) -> Result<Option<(usize, u64)>, &'static str> {
    let mut lines = 0u64;
    loop {
        match memchr::memchr2(b'"', b'\n', &buf[p..]) {
            None if eof => return Ok(Some((buf.len(), lines))),
            None => return Ok(None),
            Some(off) if buf[p + off] == b'\n' => return Ok(Some((p + off + 1, lines))),
            Some(off) => {
                let open = p + off + 1;
                let Some(close) = memchr::memchr(b'"', &buf[open..]) else {
                    return if eof { Err("the file ends inside a quoted field (is it cut short?)") } else { Ok(None) };
                };
                lines += memchr::memchr_iter(b'\n', &buf[open..open + close]).count() as u64;
                p = open + close + 1;
            }
        }
    }
}

/// The fields of one record's bytes (as [`scan_file_prefix`] hands them over), unquoted, owned.
pub fn split(raw: &[u8]) -> Result<Vec<Vec<u8>>, &'static str> {
    let (mut fields, mut unquoted) = (Vec::new(), Vec::new());
    record(raw, 0, true, usize::MAX, &mut fields, &mut unquoted)?;
    Ok(fields.iter().map(|&(q, a, b)| if q { unquoted[a..b].to_vec() } else { raw[a..b].to_vec() }).collect())
}

#[cfg(test)]
mod tests {
    use super::scan;

    fn records(text: &[u8], chunked: bool) -> Vec<Vec<String>> {
        let mut out = Vec::new();
        let reader: Box<dyn std::io::Read> = if chunked { Box::new(OneByte(text, 0)) } else { Box::new(text) };
        scan(reader, |f, _| {
            out.push(f.iter().map(|b| String::from_utf8_lossy(b).to_string()).collect());
            Ok(true)
        })
        .expect("scan");
        out
    }

    /// A reader handing over one byte at a time (every record crosses a buffer boundary).
    struct OneByte<'a>(&'a [u8], usize);
    impl std::io::Read for OneByte<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            match self.0.get(self.1) {
                Some(&b) if !buf.is_empty() => {
                    buf[0] = b;
                    self.1 += 1;
                    Ok(1)
                }
                _ => Ok(0),
            }
        }
    }

    /// The fields are the csv crate's, for quoting, doubled quotes, line breaks inside quotes,
    /// CRLF, empty fields and a last record without a line break.
    #[test]
    fn fields_are_the_csv_crates() {
        let text = b"a,b,c\n1,\"x, y\",\"he said \"\"hi\"\"\"\n,,\r\n\"multi\nline\",2,\"\"\nlast,\"q\",end";
        let mut want = Vec::new();
        let mut r = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(&text[..]);
        for rec in r.records() {
            want.push(rec.expect("csv").iter().map(String::from).collect::<Vec<_>>());
        }
        assert_eq!(records(text, false), want);
        assert_eq!(records(text, true), want);
    }

    #[test]
    fn a_file_cut_inside_quotes_is_an_error() {
        assert!(scan(&b"a,\"open\nb"[..], |_, _| Ok(true)).is_err());
        assert!(scan(&b"a,\"x\"y,b\n"[..], |_, _| Ok(true)).is_err());
    }

    /// The records of `text` read with only their first `want` fields split (after the first
    /// record), fed `piece` bytes at a time: (fields, line, the record's bytes).
    fn prefixes(text: &[u8], want: usize, piece: usize) -> Vec<(Vec<Vec<u8>>, u64, Vec<u8>)> {
        let mut out = Vec::new();
        let mut scanner = super::Scanner::new();
        scanner.later = want;
        let mut each = |f: &[&[u8]], line: u64, raw: &[u8]| {
            out.push((f.iter().map(|b| b.to_vec()).collect(), line, raw.to_vec()));
            Ok(true)
        };
        for chunk in text.chunks(piece.max(1)) {
            scanner.feed(chunk, &mut each).expect("feed");
        }
        scanner.finish(&mut each).expect("finish");
        out
    }

    proptest::proptest! {
        /// Split up to `want` fields, a record gives the first `want` of its fields, the line it
        /// begins on and its bytes as written, which [`super::split`] splits whole; in any
        /// buffer size.
        #[test]
        fn a_prefix_and_the_record_bytes_are_the_csv_crates(rows in proptest::collection::vec(proptest::collection::vec("[a,\"\r\n中 ]{0,6}", 1..6), 1..8), want in 1usize..4, piece in 1usize..40) {
            let mut w = csv::WriterBuilder::new().flexible(true).from_writer(Vec::new());
            for r in &rows {
                w.write_record(r).expect("write");
            }
            let bytes = w.into_inner().expect("bytes");
            let got = prefixes(&bytes, want, piece);
            proptest::prop_assert_eq!(got.len(), rows.len());
            let mut line = 1u64;
            let mut at = 0usize;
            for (k, ((fields, l, raw), row)) in got.iter().zip(&rows).enumerate() {
                let n = if k == 0 { row.len() } else { want.min(row.len()) };
                let want_fields: Vec<Vec<u8>> = row[..n].iter().map(|f| f.as_bytes().to_vec()).collect();
                proptest::prop_assert_eq!(fields, &want_fields);
                proptest::prop_assert_eq!(*l, line);
                proptest::prop_assert_eq!(&bytes[at..at + raw.len()], &raw[..]);
                let whole: Vec<Vec<u8>> = row.iter().map(|f| f.as_bytes().to_vec()).collect();
                proptest::prop_assert_eq!(super::split(raw).expect("split"), whole);
                at += raw.len();
                line += raw.iter().filter(|&&b| b == b'\n').count() as u64;
            }
            proptest::prop_assert_eq!(at, bytes.len());
        }

        /// Any records the csv crate writes are read back as written, in any buffer size.
        #[test]
        fn what_the_csv_crate_writes_is_read_back(rows in proptest::collection::vec(proptest::collection::vec("[a,\"\r\n中 ]{0,6}", 1..5), 1..8), chunked: bool) {
            let mut w = csv::WriterBuilder::new().flexible(true).from_writer(Vec::new());
            for r in &rows {
                w.write_record(r).expect("write");
            }
            let bytes = w.into_inner().expect("bytes");
            // (a record of one empty field is written as `""`, read back as one empty field)
            let got = records(&bytes, chunked);
            let want = rows;
            proptest::prop_assert_eq!(got, want);
        }
    }
}
