//! Reports: `findings.csv`, `summary.json`, `rejected.csv`, the dispute file ([`disputes`]),
//! the Excel workbooks ([`xlsx`]), the HTML page ([`html`]) and the summary printed to stdout.
//! Every file is a pure function of the inputs, the rules and the options (no timestamps), so a
//! faithful re-run writes the same bytes and `recon verify` can compare hashes.

pub mod direct;
pub mod disputes;
pub mod expected;
pub mod explain;
pub mod html;
pub mod changes;
pub mod summary;
pub mod xlsx;
mod findings_csv;
mod render;
mod stdout;
mod write;
pub(crate) mod scan;

pub use findings_csv::*;
pub use render::*;
pub use stdout::*;
pub use write::*;

use std::path::Path;


use crate::engine::{Finding, Outcome};
use crate::load::Loaded;
use crate::rules::RuleSet;

pub const ENGINE: &str = "recon";
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

pub use crate::model::MAX_CITES;

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("cannot write {path}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write {path}")]
    Csv {
        path: String,
        #[source]
        source: csv::Error,
    },
    #[error("cannot write the workbook {path}")]
    Xlsx {
        path: String,
        #[source]
        source: rust_xlsxwriter::XlsxError,
    },
    #[error("cannot read the findings back from {path}")]
    ReadBack {
        path: String,
        #[source]
        source: csv::Error,
    },
    #[error("a thread writing a report panicked")]
    Panicked,
    #[error("{path}: {what}; it was not written by this run")]
    NotFindings { path: String, what: &'static str },
    /// The report given to `--previous` cannot be followed.
    #[error("--previous: {path}: {message}")]
    Previous { path: String, message: String },
}

/// A text cell of a CSV recon wrote, as it was before it was written ([`restore`]).
pub(crate) fn restore_text(s: &str) -> String {
    restore(s).to_string()
}

/// A text cell as recon's CSV outputs write it ([`neutral`]).
pub(crate) fn neutral_text(s: &str) -> String {
    neutral(s).into_owned()
}

pub(crate) fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> ReportError + '_ {
    move |source| ReportError::Io { path: path.display().to_string(), source }
}

pub(crate) fn csv_err(path: &Path) -> impl FnOnce(csv::Error) -> ReportError + '_ {
    move |source| ReportError::Csv { path: path.display().to_string(), source }
}

/// Which files to write (`--format`). `rejected.csv` is always written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Formats {
    /// findings.csv, disputes.csv
    pub csv: bool,
    /// summary.json
    pub json: bool,
    /// report.xlsx, disputes.xlsx
    pub xlsx: bool,
    /// report.html
    pub html: bool,
}

impl Default for Formats {
    fn default() -> Self {
        Formats { csv: true, json: true, xlsx: true, html: true }
    }
}

impl Formats {
    pub fn parse(list: &[String]) -> Result<Formats, String> {
        if list.is_empty() {
            return Ok(Formats::default());
        }
        let mut f = Formats { csv: false, json: false, xlsx: false, html: false };
        for item in list.iter().flat_map(|s| s.split(',')) {
            match item.trim() {
                "csv" => f.csv = true,
                "json" => f.json = true,
                "xlsx" => f.xlsx = true,
                "html" => f.html = true,
                "all" => f = Formats::default(),
                other => return Err(format!("--format {other:?}: expected csv, json, xlsx or html (comma-separated)")),
            }
        }
        Ok(f)
    }

    pub fn names(self) -> Vec<&'static str> {
        [("csv", self.csv), ("json", self.json), ("xlsx", self.xlsx), ("html", self.html)].into_iter().filter(|(_, on)| *on).map(|(n, _)| n).collect()
    }
}

/// Everything a report writer reads.
pub struct ReportCtx<'a> {
    pub outcome: &'a Outcome,
    pub loaded: &'a Loaded,
    pub rules: &'a RuleSet,
    /// The content of summary.json (inputs with hashes, waterfall, categories, counts).
    pub summary: &'a summary::Summary,
    pub disputes: &'a [disputes::Dispute],
    /// The findings report.xlsx and report.html may show.
    pub shown: Shown<'a>,
    /// This run's changes.csv, when it followed a previous report.
    pub changes: Option<&'a Path>,
}

/// Where report.xlsx and report.html take the findings they show from: those an in-memory run
/// kept (see [`Keep`]), or findings.csv read back (a streamed run: its findings' source rows are
/// gone by then, their citations are in the file). Both give the same fields, so the two runs
/// write the same workbook and page.
#[derive(Debug, Clone, Copy)]
pub enum Shown<'a> {
    Kept(&'a [Finding]),
    File(&'a Path),
}

impl ReportCtx<'_> {
    /// Hands `each` the findings.csv fields of every finding [`Shown`] holds, in file order, until
    /// it returns false.
    pub fn each_record(&self, each: &mut dyn FnMut(&Record) -> Result<bool, ReportError>) -> Result<(), ReportError> {
        match self.shown {
            Shown::Kept(findings) => {
                for f in findings {
                    let rec = finding_record(f, self.loaded);
                    if !each(&Record { fields: rec.each_ref().map(String::as_bytes), file: None })? {
                        break;
                    }
                }
            }
            Shown::File(path) => return each_file_record(path, each),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{Action, Category, Finding};
    use crate::model::Period;
    use rust_decimal::Decimal;

    fn finding(i: usize, action: Action) -> Finding {
        Finding {
            id: format!("F{i:012}"),
            period: Period(2026 * 12 + 9),
            category: Category::Matched,
            action,
            rule: 2,
            customer_id: String::new(),
            customer_name: String::new(),
            trade_id: i.to_string(),
            service: String::new(),
            charging_mode: None,
            expected_period: None,
            expected_base: None,
            expected_incentive: None,
            actual_base: None,
            actual_incentive: None,
            delta: Decimal::ZERO,
            rule_ids: String::new(),
            explanation: String::new(),
            consumption_rows: Vec::new(),
            incentive_rows: Vec::new(),
            actual_in: None,
            bill_rows: Vec::new(),
        }
    }

    /// The hand-written record is the csv crate's record of the same fields, byte for byte,
    /// for fields that need quotes (commas, quotes, CR, LF) and fields that do not.
    #[test]
    fn findings_records_are_what_the_csv_crate_writes() {
        let loaded = Loaded::default();
        let mut f = finding(7, Action::Review);
        f.customer_name = "A, \"quoted\" name".into();
        f.explanation = "R2 line one\nline two\r | 中文，说明".into();
        f.rule_ids = "R2;product:ecs".into();
        f.service = "\"".into();
        f.expected_base = Some(Decimal::new(-12345, 3));
        f.actual_incentive = Some(Decimal::new(5, 0));
        for f in [finding(1, Action::None), f] {
            let mut got = Vec::new();
            write_finding(&mut got, &f.view(), &loaded, &mut String::new());
            let mut w = csv::Writer::from_writer(Vec::new());
            let mut rec = finding_record(&f, &loaded);
            for c in FINDINGS_TEXT_COLUMNS {
                rec[c] = neutral(&rec[c]).into_owned();
            }
            w.write_record(rec).unwrap();
            let want = w.into_inner().unwrap();
            assert_eq!(String::from_utf8_lossy(&got), String::from_utf8_lossy(&want));
        }
    }

    /// Text cells a spreadsheet would run get a leading apostrophe; restore gives back exactly
    /// the text, apostrophes and all; recon's amounts are not text cells.
    #[test]
    fn formulas_are_neutralised_and_restored() {
        for (text, cell) in [
            ("=HYPERLINK(\"http://x\")", "'=HYPERLINK(\"http://x\")"),
            ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
            ("-2+3", "'-2+3"),
            ("-3.20", "'-3.20"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("\t=1", "'\t=1"),
            ("\r=1", "'\r=1"),
            ("'=1", "''=1"),
            ("''-1", "'''-1"),
            ("'quoted", "'quoted"),
            ("a=1", "a=1"),
            ("", ""),
            ("'", "'"),
            ("杭州=", "杭州="),
        ] {
            assert_eq!(neutral(text), cell, "{text:?}");
            assert_eq!(restore(cell), text, "{cell:?}");
            assert_eq!(restore_bytes(cell.as_bytes()), text.as_bytes(), "{cell:?}");
        }
        let mut f = finding(3, Action::Dispute);
        f.customer_name = "=1+2".into();
        f.trade_id = "-T1".into();
        f.delta = Decimal::new(-320, 2);
        let mut got = Vec::new();
        write_finding(&mut got, &f.view(), &Loaded::default(), &mut String::new());
        let text = String::from_utf8(got).unwrap();
        assert!(text.contains(",'=1+2,'-T1,") && text.contains(",-3.20,"), "{text}");
    }

    proptest::proptest! {
        /// restore undoes neutral for any text, and what neutral gives never starts with a
        /// character a spreadsheet would run.
        #[test]
        fn restore_undoes_neutral(text in "['=+@a\t\r-]{0,6}") {
            let cell = neutral(&text);
            proptest::prop_assert_eq!(restore(&cell), text.as_str());
            proptest::prop_assert!(!cell.starts_with(['=', '+', '-', '@', '\t', '\r']));
        }
    }

    proptest::proptest! {
        /// A field with any mix of quotes, commas and line breaks is written as the csv crate
        /// writes it (quotes doubled a run at a time).
        #[test]
        fn a_field_is_written_as_the_csv_crate_writes_it(field in "[a\",\r\n中 ]{0,12}") {
            let mut got = Vec::new();
            push_field(&mut got, &field);
            let mut w = csv::Writer::from_writer(Vec::new());
            w.write_record([field.as_str(), ""]).unwrap();
            let want = w.into_inner().unwrap();
            proptest::prop_assert_eq!(String::from_utf8_lossy(&got), String::from_utf8_lossy(&want[..want.len() - 1]));
        }
    }

    /// A streamed run keeps a prefix and the actionable findings; the page's selection from what
    /// was kept must be the selection it would make from all the findings.
    #[test]
    fn kept_findings_give_the_page_the_same_selection() {
        let actions = [Action::None, Action::Dispute, Action::None, Action::Review, Action::None, Action::None, Action::Dispute, Action::None, Action::Review, Action::None];
        let all: Vec<Finding> = actions.iter().enumerate().map(|(i, &a)| finding(i, a)).collect();
        for cap in 1..=actions.len() {
            let mut keep = Keep::with_prefix(cap, true);
            for chunk in all.chunks(3) {
                keep.take(chunk.to_vec());
            }
            let kept = keep.into_kept();
            let want: Vec<String> = html::embedded(&actions, all.len(), cap).into_iter().map(|i| all[i].id.clone()).collect();
            let kept_actions: Vec<Action> = kept.iter().map(|f| f.action).collect();
            let got: Vec<String> = html::embedded(&kept_actions, all.len(), cap).into_iter().map(|i| kept[i].id.clone()).collect();
            assert_eq!(got, want, "cap {cap}");
            // every dispute is kept for the dispute files, and the prefix in order for report.xlsx
            assert_eq!(kept.iter().filter(|f| f.action == Action::Dispute).count(), 2);
            assert_eq!(kept[..cap].iter().map(|f| f.id.clone()).collect::<Vec<_>>(), all[..cap].iter().map(|f| f.id.clone()).collect::<Vec<_>>());
        }
        // csv and json only: the disputes alone
        let mut keep = Keep::new(Formats { csv: true, json: true, xlsx: false, html: false });
        keep.take(all.clone());
        assert_eq!(keep.into_kept().iter().map(|f| f.action).collect::<Vec<_>>(), vec![Action::Dispute, Action::Dispute]);
    }

    /// findings.csv read back (a streamed run's workbooks): records in order, quoted fields
    /// whole, a file that is not a findings.csv refused, a field that is not UTF-8 refused when
    /// its text is asked for.
    #[test]
    fn findings_csv_is_read_back_record_by_record() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("findings.csv");
        let mut text = b"\xEF\xBB\xBF".to_vec();
        text.extend_from_slice(FINDINGS_HEADER.join(",").as_bytes());
        text.extend_from_slice(b"\nF1,2026-10,MATCHED,none,C1,\"a, \"\"b\"\"\nc\",T1,svc,,,,,,,0.00,R2,x,f.csv:2,\nF2,2026-10,MISSING_INCENTIVE,dispute,C1,n,T2,svc,,,,,,,-6.00,R10,y,f.csv:3,\n");
        std::fs::write(&path, &text).expect("write");
        let mut seen = Vec::new();
        each_file_record(&path, &mut |r| {
            let t = r.texts()?;
            seen.push((t[0].to_string(), t[5].to_string(), r.bytes(3).to_vec()));
            Ok(true)
        })
        .expect("read");
        assert_eq!(seen, vec![("F1".into(), "a, \"b\"\nc".into(), b"none".to_vec()), ("F2".into(), "n".into(), b"dispute".to_vec())]);
        // stopping early
        let mut n = 0;
        each_file_record(&path, &mut |_| {
            n += 1;
            Ok(false)
        })
        .expect("read");
        assert_eq!(n, 1);

        std::fs::write(&path, "id,period\nF1,2026-10\n").expect("write");
        let e = each_file_record(&path, &mut |_| Ok(true)).expect_err("not findings");
        assert!(e.to_string().contains("does not start with the findings.csv header"), "{e}");

        let mut bad = FINDINGS_HEADER.join(",").into_bytes();
        bad.extend_from_slice(b"\nF1,2026-10,MATCHED,none,C1,\xFF,T1,svc,,,,,,,0.00,R2,x,f.csv:2,\n");
        std::fs::write(&path, &bad).expect("write");
        let mut actions = Vec::new();
        let e = each_file_record(&path, &mut |r| {
            actions.push(r.bytes(3).to_vec());
            r.texts().map(|_| true)
        })
        .expect_err("not UTF-8");
        assert_eq!(actions, vec![b"none".to_vec()], "one field is read without the others' encoding");
        assert!(e.to_string().contains("a record is not UTF-8"), "{e}");
    }

    proptest::proptest! {
        /// The page's selection, made a finding at a time from a streamed run's findings.csv or
        /// from what an in-memory run kept, is every actionable finding and the first others up
        /// to the cap, in file order.
        #[test]
        fn the_page_takes_every_actionable_finding_and_the_first_others(codes in proptest::collection::vec(0u8..3, 0..80), cap in 0usize..90) {
            let actions: Vec<Action> = codes.iter().map(|c| [Action::None, Action::Dispute, Action::Review][*c as usize]).collect();
            let n = actions.len();
            let actionable = actions.iter().filter(|&&a| a != Action::None).count();
            let got = html::embedded(&actions, n, cap);
            let want: Vec<usize> = if n <= cap {
                (0..n).collect()
            } else {
                let room = cap.saturating_sub(actionable);
                let firsts: Vec<usize> = (0..n).filter(|&i| actions[i] == Action::None).take(room).collect();
                (0..n).filter(|&i| actions[i] != Action::None || firsts.contains(&i)).collect()
            };
            proptest::prop_assert_eq!(&got, &want);
            // an in-memory run keeps a prefix of the cap and every actionable one: the same choice
            let all: Vec<Finding> = actions.iter().enumerate().map(|(i, &a)| finding(i, a)).collect();
            let mut keep = Keep::with_prefix(cap, true);
            keep.take(all.clone());
            let kept = keep.into_kept();
            let kept_actions: Vec<Action> = kept.iter().map(|f| f.action).collect();
            let from_kept: Vec<String> = html::embedded(&kept_actions, n, cap).into_iter().map(|i| kept[i].id.clone()).collect();
            proptest::prop_assert_eq!(from_kept, want.iter().map(|&i| all[i].id.clone()).collect::<Vec<_>>());
        }
    }

    /// An in-memory run's emitter passes on only what `Keep::keeping` asks for: the selection
    /// must be the one Keep makes from all the findings, whatever the formats.
    #[test]
    fn what_the_emitter_keeps_is_enough_for_keep() {
        let actions = [Action::None, Action::Dispute, Action::None, Action::Review, Action::None, Action::Dispute, Action::Review];
        let all: Vec<Finding> = actions.iter().enumerate().map(|(i, &a)| finding(i, a)).collect();
        for (xlsx, html) in [(false, false), (false, true), (true, false), (true, true)] {
            let formats = Formats { csv: true, json: true, xlsx, html };
            let mut from_all = Keep::new(formats);
            from_all.take(all.clone());
            let mut from_some = Keep::new(formats);
            let k = from_some.keeping();
            let passed: Vec<Finding> = all.iter().filter(|f| k.wants(f.action)).cloned().collect();
            from_some.take(passed);
            let ids = |v: Vec<Finding>| v.into_iter().map(|f| f.id).collect::<Vec<_>>();
            assert_eq!(ids(from_some.into_kept()), ids(from_all.into_kept()), "xlsx {xlsx} html {html}");
        }
    }
}

