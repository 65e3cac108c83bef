//! A findings.csv read back a record at a time, fast: the file is read in large buffers (and
//! hashed as it is read), each record split into its fields in place with RFC 4180 quoting (a
//! quoted field may hold commas, doubled quotes and line breaks), the fields handed over as
//! byte slices. A previous report's findings.csv can be gigabytes; the csv crate's reader,
//! which decodes every field of every record, took most of the time of following one.

use std::io::Read;

use sha2::{Digest, Sha256};

/// Bytes read at a time.
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
/// (the hash then covers what was read).
pub fn scan(mut r: impl Read, mut each: impl FnMut(&[&[u8]], u64) -> Result<bool, ScanError>) -> Result<String, ScanError> {
    let mut hasher = Sha256::new();
    let mut buf: Vec<u8> = Vec::with_capacity(CHUNK);
    let mut start = 0usize;
    let mut eof = false;
    let mut line = 1u64;
    // The fields of a record: ranges into `buf`, or into `unquoted` for a field whose quotes had
    // to be removed (doubled quotes inside).
    let mut fields: Vec<(bool, usize, usize)> = Vec::with_capacity(32);
    let mut unquoted: Vec<u8> = Vec::new();
    loop {
        // Parse every complete record in buf[start..].
        loop {
            if start >= buf.len() {
                break;
            }
            fields.clear();
            unquoted.clear();
            match record(&buf, start, eof, &mut fields, &mut unquoted).map_err(|what| ScanError::Malformed { line, what })? {
                None => break, // (incomplete: read more)
                Some((end, lines)) => {
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
                    let empty = slices.len() == 1 && slices[0].is_empty() && buf.get(start) != Some(&b'"');
                    let go_on = empty || each(slices, line)?;
                    line += lines;
                    start = end;
                    if !go_on {
                        return Ok(crate::model::hex(&hasher.finalize()));
                    }
                }
            }
        }
        if eof {
            return Ok(crate::model::hex(&hasher.finalize()));
        }
        // Keep the incomplete record, read more behind it.
        buf.drain(..start);
        start = 0;
        let have = buf.len();
        buf.resize(have + CHUNK.max(have), 0);
        let mut filled = have;
        while filled < buf.len() {
            match r.read(&mut buf[filled..]) {
                Ok(0) => {
                    eof = true;
                    break;
                }
                Ok(n) => filled += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(ScanError::Io(e)),
            }
        }
        hasher.update(&buf[have..filled]);
        buf.truncate(filled);
    }
}

/// Splits the record at `buf[at..]`: its fields into `fields` (with `unquoted` holding the
/// fields whose doubled quotes were undone), and returns where the next record starts and how
/// many line breaks the record spans; `None` when the record is not complete in `buf` and more
/// may come (`eof` false). At the end of the input a last record without a line break ends
/// there.
fn record(buf: &[u8], at: usize, eof: bool, fields: &mut Vec<(bool, usize, usize)>, unquoted: &mut Vec<u8>) -> Result<Option<(usize, u64)>, &'static str> {
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

    proptest::proptest! {
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
