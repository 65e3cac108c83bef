//! From bytes to a table of text cells: finding the files behind a path (directories,
//! `.tar.gz` deliveries read in memory), detecting the text encoding of a CSV (UTF-8, UTF-8 with
//! BOM, GBK/GB18030), reading the first (or named) sheet of a workbook, and taking the records of
//! a Huawei API JSON body. Every row keeps where it came from, so a finding or a rejection can
//! cite it as `file:line`, `file!sheet:row` or `file:fee_records[i]`.

mod csv;
mod encoding;
mod files;
mod json;
mod pool;
mod targz;
mod xlsx;

pub use self::csv::csv_blocks;
pub use files::{expand, label_of, list, read_one, skipped, Format, InputFile, Skipped};
pub use pool::release_spare_buffers;
pub use targz::each_tar_gz_part;

use self::csv::{read_csv, CsvBody};
use super::LoadError;
use json::read_json;
use targz::read_tar_gz;
use xlsx::read_xlsx;

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
            Body::Csv(b) => self::csv::each_record(b, &self.label, plain_lines, f)?,
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
