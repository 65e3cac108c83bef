//! findings.csv: its one encoder (records rendered on the deciding threads), the file written
//! as the findings are decided, its sha256 taken on the way, and the records read back.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::*;
use crate::engine::{Finding, FindingRef};
use crate::load::{Loaded, Provenance};
use crate::model::fmt_money;

/// [`ReportCtx::each_record`] from a findings.csv file.
pub(crate) fn each_file_record(path: &Path, each: &mut dyn FnMut(&Record) -> Result<bool, ReportError>) -> Result<(), ReportError> {
    let read_err = |source| ReportError::ReadBack { path: path.display().to_string(), source };
    let mut r = csv::ReaderBuilder::new().buffer_capacity(1 << 20).from_path(path).map_err(read_err)?;
    if r.byte_headers().map_err(read_err)?.iter().ne(FINDINGS_HEADER.iter().map(|h| h.as_bytes())) {
        return Err(ReportError::NotFindings { path: path.display().to_string(), what: "it does not start with the findings.csv header" });
    }
    // (bytes, not text: most records are only looked at for one field)
    let mut rec = csv::ByteRecord::new();
    while r.read_byte_record(&mut rec).map_err(read_err)? {
        let mut fields: [&[u8]; 19] = [b""; 19];
        for (slot, v) in fields.iter_mut().zip(rec.iter()) {
            *slot = v;
        }
        // (the text columns as they were before findings.csv neutralised them: the workbooks
        // show the same text whether a run kept its findings or reads them back)
        for c in FINDINGS_TEXT_COLUMNS {
            fields[c] = restore_bytes(fields[c]);
        }
        if !each(&Record { fields, file: Some(path) })? {
            break;
        }
    }
    Ok(())
}

/// One finding's findings.csv fields, as [`ReportCtx::each_record`] hands them over.
pub struct Record<'r> {
    pub(crate) fields: [&'r [u8]; 19],
    /// The findings.csv read back, if the record comes from one.
    pub(crate) file: Option<&'r Path>,
}

impl<'r> Record<'r> {
    /// Field `i` (see [`FINDINGS_HEADER`]) as bytes: enough to test one field without checking
    /// the whole record's encoding.
    pub fn bytes(&self, i: usize) -> &'r [u8] {
        self.fields[i]
    }

    /// Every field as text.
    pub fn texts(&self) -> Result<[&'r str; 19], ReportError> {
        let mut out = [""; 19];
        for (slot, &f) in out.iter_mut().zip(&self.fields) {
            *slot = simdutf8::basic::from_utf8(f).map_err(|_| ReportError::NotFindings {
                path: self.file.map_or_else(|| "findings".to_string(), |p| p.display().to_string()),
                what: "a record is not UTF-8",
            })?;
        }
        Ok(out)
    }
}

/// Cites rows: the first [`MAX_CITES`], then `+N more`.
pub fn cite_rows(prov: &Provenance, rows: &[u32]) -> String {
    let mut s = String::new();
    cite_rows_into(prov, rows, &mut s);
    s
}

pub(crate) fn opt_money(v: Option<rust_decimal::Decimal>) -> String {
    v.map(fmt_money).unwrap_or_default()
}

pub const FINDINGS_HEADER: [&str; 19] = [
    "finding_id",
    "period",
    "category",
    "action",
    "customer_id",
    "customer_name",
    "trade_id",
    "service_type_code",
    "charging_mode",
    "expected_period",
    "expected_base",
    "expected_incentive",
    "actual_base",
    "actual_incentive",
    "delta",
    "rule_ids",
    "explanation",
    "consumption_rows",
    "incentive_rows",
];

pub fn finding_record(f: &Finding, loaded: &Loaded) -> [String; 19] {
    [
        f.id.clone(),
        f.period.to_string(),
        f.category.name().to_string(),
        f.action.name().to_string(),
        f.customer_id.clone(),
        f.customer_name.clone(),
        f.trade_id.clone(),
        f.service.clone(),
        f.charging_mode.map_or(String::new(), |m| m.label().to_string()),
        f.expected_period.map_or(String::new(), |p| p.to_string()),
        opt_money(f.expected_base),
        opt_money(f.expected_incentive),
        opt_money(f.actual_base),
        opt_money(f.actual_incentive),
        fmt_money(f.delta),
        f.rule_ids.clone(),
        f.explanation.clone(),
        cite_rows(&loaded.consumption.prov, &f.consumption_rows),
        match (&loaded.bills, f.bill_rows.is_empty()) {
            (Some(b), false) => cite_rows(&b.prov, &f.bill_rows),
            _ => cite_rows(&loaded.incentives.prov, &f.incentive_rows),
        },
    ]
}

/// findings.csv, appended to as the engine decides the findings: records rendered by [`Render`]
/// on the deciding threads (see [`write_finding`]), in order.
pub struct FindingsCsv {
    file: direct::DirectFile,
}

impl FindingsCsv {
    pub fn create(path: &Path) -> Result<FindingsCsv, ReportError> {
        let mut file = direct::DirectFile::create_hashed(path).map_err(io_err(path))?;
        file.write_all(b"\xEF\xBB\xBF").map_err(io_err(path))?;
        let mut w = csv::Writer::from_writer(Vec::new());
        w.write_record(FINDINGS_HEADER).map_err(csv_err(path))?;
        file.write_all(&w.into_inner().map_err(|e| io_err(path)(e.into_error()))?).map_err(io_err(path))?;
        Ok(FindingsCsv { file })
    }

    /// Appends records already formatted (see [`write_finding`]).
    pub fn write_records(&mut self, bytes: &[u8]) -> Result<(), ReportError> {
        let path = self.file.path().to_path_buf();
        self.file.write_all(bytes).map_err(io_err(&path))
    }

    pub fn finish(self) -> Result<(), ReportError> {
        let path = self.file.path().to_path_buf();
        let digest = self.file.digest();
        self.file.finish().map_err(io_err(&path))?;
        if let (Some(sha), Ok(meta)) = (digest.as_ref().and_then(|d| d.get()), std::fs::metadata(&path)) {
            let mut known = WRITTEN_DIGESTS.lock().unwrap_or_else(|e| e.into_inner());
            known.insert(path, (meta.len(), sha.clone()));
        }
        Ok(())
    }
}

/// The sha256 of the findings.csv files this process wrote, taken as their bytes were written
/// (path → (length, sha256)), so that summary.json's `outputs` does not read gigabytes back.
pub(crate) static WRITTEN_DIGESTS: std::sync::Mutex<std::collections::BTreeMap<PathBuf, (u64, String)>> = std::sync::Mutex::new(std::collections::BTreeMap::new());

/// The sha256 of an output file: as taken while this process wrote it when it did (and the file
/// still has the length written), else read from the file.
pub(crate) fn output_sha256(path: &Path) -> std::io::Result<String> {
    let known = WRITTEN_DIGESTS.lock().unwrap_or_else(|e| e.into_inner()).get(path).cloned();
    match known {
        Some((len, sha)) if std::fs::metadata(path).is_ok_and(|m| m.len() == len) => Ok(sha),
        _ => crate::outdir::sha256_file(path),
    }
}

/// Appends one finding's findings.csv record (the fields of [`finding_record`], without building
/// them as separate strings, the text columns [`neutral`]) to `out`, as the csv crate writes it
/// (see [`push_field`]).
pub fn write_finding(out: &mut Vec<u8>, f: &FindingRef, loaded: &Loaded, scratch: &mut String) {
    // The fields recon itself writes (ids, periods, names of categories, actions and charging
    // modes, amounts) never need quotes: only the texts from the inputs and rules are checked.
    let mut buf = [0u8; 16];
    push_plain(out, f.id);
    push_plain(out, f.period.text(&mut buf));
    push_plain(out, f.category.name());
    push_plain(out, f.action.name());
    push_text(out, f.customer_id);
    push_text(out, f.customer_name);
    push_text(out, f.trade_id);
    push_text(out, f.service);
    push_plain(out, f.charging_mode.map_or("", |m| m.label()));
    push_plain(out, f.expected_period.map_or("", |p| p.text(&mut buf)));
    for v in [f.expected_base, f.expected_incentive, f.actual_base, f.actual_incentive, Some(f.delta)] {
        let mut money = [0u8; 48];
        push_plain(out, v.map_or("", |v| crate::model::money_str(v, &mut money)));
    }
    push_text(out, f.rule_ids);
    push_text(out, f.explanation);
    scratch.clear();
    cite_rows_into(&loaded.consumption.prov, f.consumption_rows, scratch);
    push_text(out, scratch);
    scratch.clear();
    match (&loaded.bills, f.bill_rows.is_empty()) {
        (Some(b), false) => cite_rows_into(&b.prov, f.bill_rows, scratch),
        _ => cite_rows_into(&loaded.incentives.prov, f.incentive_rows, scratch),
    }
    push_text(out, scratch);
    // push_field put a comma after each field: the last one ends the record instead.
    if let Some(last) = out.last_mut() {
        *last = b'\n';
    }
}

/// The findings.csv columns that hold text from the inputs and rules (see [`FINDINGS_HEADER`]):
/// neutralised against formulas ([`neutral`]). The others are recon's own ids, periods, names
/// and amounts, never neutralised.
pub const FINDINGS_TEXT_COLUMNS: [usize; 8] = [4, 5, 6, 7, 15, 16, 17, 18];

/// Whether a text cell would be run by a spreadsheet as a formula: it starts with `=`, `+`, `-`,
/// `@`, a tab or a CR, after any apostrophes (which [`neutral`] itself puts there).
pub(crate) fn formula_like(text: &[u8]) -> bool {
    let start = text.iter().position(|&b| b != b'\'').unwrap_or(text.len());
    matches!(text.get(start), Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r'))
}

/// A text cell of a CSV output, neutralised against formula injection (OWASP): a text that a
/// spreadsheet would run as a formula gets a leading `'`. A text that starts with apostrophes
/// followed by such a character gets one more, so that [`restore`] undoes exactly this.
pub fn neutral(text: &str) -> std::borrow::Cow<'_, str> {
    if formula_like(text.as_bytes()) {
        std::borrow::Cow::Owned(format!("'{text}"))
    } else {
        std::borrow::Cow::Borrowed(text)
    }
}

/// The text [`neutral`] was given, from what it returned.
pub fn restore(cell: &str) -> &str {
    match cell.strip_prefix('\'') {
        Some(rest) if formula_like(rest.as_bytes()) => rest,
        _ => cell,
    }
}

/// [`restore`] on bytes.
pub(crate) fn restore_bytes(cell: &[u8]) -> &[u8] {
    match cell.split_first() {
        Some((b'\'', rest)) if formula_like(rest) => rest,
        _ => cell,
    }
}

/// A text field of a record from the inputs or rules: [`neutral`], then [`push_field`].
pub(crate) fn push_text(out: &mut Vec<u8>, field: &str) {
    push_field(out, &neutral(field));
}

/// Appends `field` and a comma as the csv crate's writer does by default (quote only when
/// needed): in quotes, with quotes doubled, when it holds a comma, a quote, CR or LF.
pub(crate) fn push_field(out: &mut Vec<u8>, field: &str) {
    let bytes = field.as_bytes();
    // (SIMD searches: a record is about 470 bytes, most of them the explanation)
    let special = memchr::memchr3(b',', b'"', b'\n', bytes).is_some() || memchr::memchr(b'\r', bytes).is_some();
    if special {
        out.push(b'"');
        let mut rest = bytes;
        while let Some(q) = memchr::memchr(b'"', rest) {
            out.extend_from_slice(&rest[..=q]);
            out.push(b'"');
            rest = &rest[q + 1..];
        }
        out.extend_from_slice(rest);
        out.push(b'"');
    } else {
        out.extend_from_slice(bytes);
    }
    out.push(b',');
}

/// A field known to need no quotes, and a comma (see [`push_field`]).
pub(crate) fn push_plain(out: &mut Vec<u8>, field: &str) {
    debug_assert!(!field.contains([',', '"', '\r', '\n']), "{field:?} needs quotes");
    out.extend_from_slice(field.as_bytes());
    out.push(b',');
}

/// [`cite_rows`] appended to `out`.
pub(crate) fn cite_rows_into(prov: &Provenance, rows: &[u32], out: &mut String) {
    use std::fmt::Write as _;
    for (i, &r) in rows.iter().take(MAX_CITES).enumerate() {
        if i > 0 {
            out.push_str("; ");
        }
        let (t, loc) = prov.rows[r as usize];
        prov.tables[t as usize].cite_into(loc, out);
    }
    if rows.len() > MAX_CITES {
        let _ = write!(out, "; +{} more", rows.len() - MAX_CITES);
    }
}
