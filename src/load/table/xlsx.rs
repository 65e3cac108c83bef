//! Workbooks: an `.xlsx` checked part by part and read as a stream of cells kept sparse; any
//! other workbook (`.xls`) read whole by calamine.

use std::io::Cursor;

use calamine::{Data, Reader};

use super::{Body, CiteStyle, Row, SparseRow, Table};
use crate::load::LoadError;

/// A workbook's first (or named) sheet. An `.xlsx` (a zip) is checked part by part first (every
/// part's CRC-32 and size, and the number of shared strings it declares against the bytes that
/// hold them: calamine reserves room for as many as declared), then its cells are read as a
/// stream and kept sparse, so that one stray cell at XFD1048576 costs one cell, not the grid.
/// Any other workbook (`.xls`) is read whole by calamine.
pub(super) fn read_xlsx(bytes: &[u8], label: &str, sheet: Option<&str>) -> Result<Table, LoadError> {
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
