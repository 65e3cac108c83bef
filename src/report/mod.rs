//! Reports: `findings.csv`, `summary.json`, `rejected.csv`, the dispute file ([`disputes`]),
//! the Excel workbooks ([`xlsx`]), the HTML page ([`html`]) and the summary printed to stdout.
//! Every file is a pure function of the inputs, the rules and the options (no timestamps), so a
//! faithful re-run writes the same bytes and `recon verify` can compare hashes.

pub mod disputes;
pub mod explain;
pub mod html;
pub mod xlsx;

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use serde_json::{json, Map, Value};

use crate::engine::{Action, Category, Finding, Outcome};
use crate::load::{InputSummary, Loaded, Provenance, Reject};
use crate::model::{fmt_money, Period};
use crate::rules::RuleSet;

pub const ENGINE: &str = "recon";
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// At most this many source rows are cited per finding, then `+N more`.
pub const MAX_CITES: usize = 20;

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
    pub summary: &'a Value,
    pub disputes: &'a [disputes::Dispute],
}

/// Cites rows: the first [`MAX_CITES`], then `+N more`.
pub fn cite_rows(prov: &Provenance, rows: &[u32]) -> String {
    let mut parts: Vec<String> = rows.iter().take(MAX_CITES).map(|&r| prov.cite(r as usize)).collect();
    if rows.len() > MAX_CITES {
        parts.push(format!("+{} more", rows.len() - MAX_CITES));
    }
    parts.join("; ")
}

fn opt_money(v: Option<rust_decimal::Decimal>) -> String {
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

pub fn write_findings(path: &Path, outcome: &Outcome, loaded: &Loaded) -> Result<(), ReportError> {
    let mut file = BufWriter::new(File::create(path).map_err(io_err(path))?);
    file.write_all(b"\xEF\xBB\xBF").map_err(io_err(path))?;
    let mut w = csv::Writer::from_writer(file);
    w.write_record(FINDINGS_HEADER).map_err(csv_err(path))?;
    for f in &outcome.findings {
        w.write_record(finding_record(f, loaded)).map_err(csv_err(path))?;
    }
    w.flush().map_err(io_err(path))
}

pub fn write_rejected(path: &Path, rejects: &[Reject]) -> Result<(), ReportError> {
    let file = BufWriter::new(File::create(path).map_err(io_err(path))?);
    let mut w = csv::Writer::from_writer(file);
    w.write_record(["kind", "file", "location", "column", "value", "reason"]).map_err(csv_err(path))?;
    for r in rejects {
        w.write_record([r.kind.name(), &r.file, &r.location, &r.column, &r.value, &r.reason]).map_err(csv_err(path))?;
    }
    w.flush().map_err(io_err(path))
}

/// The options a run was made with, recorded in summary.json so that it can be re-run
/// (`recon verify`, `recon explain`).
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// `run` or `demo`.
    pub command: &'static str,
    pub rules: PathBuf,
    pub consumption: Vec<PathBuf>,
    pub incentives: Vec<PathBuf>,
    pub customers: Vec<PathBuf>,
    pub bills: Vec<PathBuf>,
    pub periods: Vec<Period>,
    pub sheet: Option<String>,
    pub formats: Vec<&'static str>,
}

pub fn summary_json(outcome: &Outcome, loaded: &Loaded, rules: &RuleSet, options: &RunOptions) -> Value {
    let inputs: Vec<Value> = loaded.inputs.iter().map(input_json).collect();
    let periods: Vec<Value> = outcome
        .periods
        .iter()
        .map(|p| {
            let mut wf = Map::new();
            for (name, v) in p.waterfall.steps() {
                wf.insert(name.to_string(), Value::String(fmt_money(v)));
            }
            let mut cats = Map::new();
            for (c, (count, delta)) in &p.categories {
                cats.insert(c.name().to_string(), json!({"count": count, "delta": fmt_money(*delta)}));
            }
            json!({"period": p.period.to_string(), "waterfall": wf, "categories": cats})
        })
        .collect();
    let bills: Vec<Value> = outcome
        .bills
        .iter()
        .map(|b| {
            let mut cats = Map::new();
            for (c, (count, delta)) in &b.categories {
                cats.insert(c.name().to_string(), json!({"count": count, "delta": fmt_money(*delta)}));
            }
            json!({
                "bill_cycle": b.cycle.to_string(),
                "consumption_total": fmt_money(b.consumption_total),
                "bill_total": fmt_money(b.bill_total),
                "difference": fmt_money(b.difference),
                "referral_consumption": fmt_money(b.referral_consumption),
                "unknown_association_consumption": fmt_money(b.unknown_association_consumption),
                "grain": b.grain,
                "categories": cats,
            })
        })
        .collect();
    let paths = |v: &[PathBuf]| v.iter().map(|p| p.display().to_string()).collect::<Vec<_>>();
    json!({
        "engine": {"name": ENGINE, "version": VERSION},
        "rules": {"name": rules.name, "version": rules.version, "path": rules.path, "sha256": rules.sha256},
        "inputs": inputs,
        "options": {
            "command": options.command,
            "rules": options.rules.display().to_string(),
            "consumption": paths(&options.consumption),
            "incentives": paths(&options.incentives),
            "customers": paths(&options.customers),
            "bills": paths(&options.bills),
            "periods": options.periods.iter().map(|p| p.to_string()).collect::<Vec<_>>(),
            "sheet": options.sheet,
            "formats": options.formats,
        },
        "scope": outcome.scope.iter().map(|p| p.to_string()).collect::<Vec<_>>(),
        "loaded_periods": outcome.loaded_periods.iter().map(|p| p.to_string()).collect::<Vec<_>>(),
        "periods": periods,
        "bills": bills,
        "findings": {
            "total": outcome.findings.len(),
            "none": outcome.count(Action::None),
            "dispute": outcome.count(Action::Dispute),
            "review": outcome.count(Action::Review),
        },
        "rejected": loaded.rejects.len(),
    })
}

fn input_json(i: &InputSummary) -> Value {
    json!({"path": i.path, "kind": i.kind.name(), "format": i.format, "sha256": i.sha256, "rows": i.rows, "accepted": i.accepted, "rejected": i.rejected})
}

pub fn write_summary(path: &Path, summary: &Value) -> Result<(), ReportError> {
    let mut text = serde_json::to_string_pretty(summary).unwrap_or_default();
    text.push('\n');
    std::fs::write(path, text).map_err(io_err(path))
}

/// Writes the outputs of a run into `dir`; returns the paths written.
pub fn write_all(dir: &Path, outcome: &Outcome, loaded: &Loaded, rules: &RuleSet, options: &RunOptions, formats: Formats) -> Result<Vec<PathBuf>, ReportError> {
    std::fs::create_dir_all(dir).map_err(io_err(dir))?;
    let summary = summary_json(outcome, loaded, rules, options);
    let disputes = disputes::disputes(outcome, loaded, rules);
    let ctx = ReportCtx { outcome, loaded, rules, summary: &summary, disputes: &disputes };
    let mut written = Vec::new();
    if formats.csv {
        let p = dir.join("findings.csv");
        write_findings(&p, outcome, loaded)?;
        written.push(p);
        let p = dir.join("disputes.csv");
        disputes::write_csv(&p, &disputes)?;
        written.push(p);
    }
    if formats.json {
        let p = dir.join("summary.json");
        write_summary(&p, &summary)?;
        written.push(p);
    }
    if formats.xlsx {
        let p = dir.join("disputes.xlsx");
        xlsx::write_disputes(&p, &ctx)?;
        written.push(p);
        let p = dir.join("report.xlsx");
        xlsx::write_report(&p, &ctx)?;
        written.push(p);
    }
    if formats.html {
        let p = dir.join("report.html");
        std::fs::write(&p, html::render(&ctx)).map_err(io_err(&p))?;
        written.push(p);
    }
    let p = dir.join("rejected.csv");
    write_rejected(&p, &loaded.rejects)?;
    written.push(p);
    Ok(written)
}

/// The short summary printed to stdout: inputs, each period's waterfall and categories.
pub fn print_summary(out: &mut impl Write, outcome: &Outcome, loaded: &Loaded, rules: &RuleSet, dir: &Path) -> std::io::Result<()> {
    writeln!(out, "recon {VERSION}: {} {}", rules.name, rules.version)?;
    for i in &loaded.inputs {
        let rej = if i.rejected > 0 { format!(", {} rejected", i.rejected) } else { String::new() };
        writeln!(out, "  {:<12} {} ({} rows{rej})", i.kind.name(), i.path, i.rows)?;
    }
    for p in &outcome.periods {
        writeln!(out)?;
        writeln!(out, "Statement period {}", p.period)?;
        let w = &p.waterfall;
        let rows: [(&str, &str, rust_decimal::Decimal); 10] = [
            ("  ", "consumption_total", w.consumption_total),
            ("- ", "ineligible_product", w.ineligible_product),
            ("- ", "not_attributed", w.not_attributed),
            ("- ", "excluded_payment", w.excluded_payment),
            ("- ", "rolled_out", w.rolled_out),
            ("+ ", "rolled_in", w.rolled_in),
            ("= ", "expected_base", w.expected_base),
            ("  ", "expected_incentive", w.expected_incentive),
            ("  ", "actual_incentive", w.actual_incentive),
            ("  ", "difference", w.difference),
        ];
        for (sign, name, v) in rows {
            writeln!(out, "  {sign}{name:<20}{:>16}", fmt_money(v))?;
        }
        let order: BTreeMap<Category, (usize, rust_decimal::Decimal)> = p.categories.clone();
        for (c, (n, d)) in order {
            writeln!(out, "    {:<22}{:>6}{:>16}", c.name(), n, fmt_money(d))?;
        }
    }
    for b in &outcome.bills {
        writeln!(out)?;
        writeln!(out, "Partner bill {} (grain: {})", b.cycle, b.grain.join(", "))?;
        writeln!(out, "    {:<22}{:>16}", "resale consumption", fmt_money(b.consumption_total))?;
        writeln!(out, "    {:<22}{:>16}", "bill total", fmt_money(b.bill_total))?;
        writeln!(out, "    {:<22}{:>16}", "difference", fmt_money(b.difference))?;
        writeln!(out, "    {:<22}{:>16}", "referral (not billed)", fmt_money(b.referral_consumption))?;
        for (c, (n, d)) in &b.categories {
            writeln!(out, "    {:<22}{:>6}{:>16}", c.name(), n, fmt_money(*d))?;
        }
    }
    writeln!(out)?;
    writeln!(
        out,
        "{} findings: {} dispute, {} review, {} none; {} rows rejected; written to {}",
        outcome.findings.len(),
        outcome.count(Action::Dispute),
        outcome.count(Action::Review),
        outcome.count(Action::None),
        loaded.rejects.len(),
        dir.display()
    )
}
