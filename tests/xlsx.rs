//! The Excel outputs of the demo (`report.xlsx`, `disputes.xlsx`), read back with calamine and
//! checked cell by cell against findings.csv, disputes.csv and summary.json; plus the parts
//! calamine does not expose (frozen pane, autofilter, number format, document properties, zip
//! entry times), read from the zip itself, and the byte-identical re-run.

mod common;

use std::collections::HashMap;
use std::io::Read;
use std::path::Path;
use std::str::FromStr;

use calamine::{open_workbook_auto, Data, Reader};
use common::*;
use rust_decimal::Decimal;
use serde_json::Value;

const SHEETS: [&str; 4] = ["汇总", "差异明细", "争议", "输入"];
const DISPUTE_HEADER: [&str; 11] = ["对账期次", "问题编号", "订单号/交易号", "客户ID", "客户名称", "产品类型编码", "应得激励", "实得激励", "差额", "问题类型", "问题描述"];
const FINDINGS_HEADER: [&str; 19] = [
    "finding_id", "period", "category", "action", "customer_id", "customer_name", "trade_id", "service_type_code", "charging_mode",
    "expected_period", "expected_base", "expected_incentive", "actual_base", "actual_incentive", "delta", "rule_ids", "explanation",
    "consumption_rows", "incentive_rows",
];
const FINDING_AMOUNTS: [&str; 5] = ["expected_base", "expected_incentive", "actual_base", "actual_incentive", "delta"];

fn demo() -> Work {
    let w = Work::new();
    let o = w.recon(&["demo", "--out", "out"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    w
}

fn sheet_names(path: &Path) -> Vec<String> {
    open_workbook_auto(path).unwrap_or_else(|e| panic!("open {}: {e}", path.display())).sheet_names()
}

/// A sheet as rows of cells from A1 (absolute positions).
fn grid(path: &Path, sheet: &str) -> Vec<Vec<Data>> {
    let mut wb = open_workbook_auto(path).unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
    let range = wb.worksheet_range(sheet).unwrap_or_else(|e| panic!("sheet {sheet}: {e}"));
    assert_eq!(range.start(), Some((0, 0)), "{sheet} starts at A1");
    range.rows().map(<[Data]>::to_vec).collect()
}

fn cell(g: &[Vec<Data>], r: usize, c: usize) -> &Data {
    g.get(r).and_then(|row| row.get(c)).unwrap_or(&Data::Empty)
}

fn text(d: &Data) -> String {
    match d {
        Data::String(s) => s.clone(),
        Data::Empty => String::new(),
        other => panic!("expected text, got {other:?}"),
    }
}

/// A numeric cell as an exact decimal (the shortest representation of the double).
fn num(d: &Data) -> Decimal {
    match d {
        Data::Float(f) => Decimal::from_str(&f.to_string()).unwrap_or_else(|e| panic!("{f}: {e}")),
        Data::Int(i) => Decimal::from(*i),
        other => panic!("expected a number, got {other:?}"),
    }
}

fn dec(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap_or_else(|e| panic!("{s:?}: {e}"))
}

fn row_of(g: &[Vec<Data>], col: usize, label: &str) -> usize {
    (0..g.len()).find(|&r| matches!(cell(g, r, col), Data::String(s) if s == label)).unwrap_or_else(|| panic!("no row labelled {label:?}"))
}

fn summary(w: &Work) -> Value {
    serde_json::from_str(&w.read("out/summary.json")).expect("summary.json")
}

/// The entries of a zip file: name -> (DOS date, DOS time, uncompressed bytes), from the central
/// directory (rust_xlsxwriter streams, so the local headers carry no sizes).
fn unzip(path: &Path) -> HashMap<String, (u16, u16, Vec<u8>)> {
    let b = std::fs::read(path).expect("read zip");
    let u16_at = |i: usize| u16::from_le_bytes([b[i], b[i + 1]]);
    let u32_at = |i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]) as usize;
    let eocd = (0..=b.len() - 22).rev().find(|&i| u32_at(i) == 0x0605_4b50).expect("end of central directory");
    let entries = u16_at(eocd + 10) as usize;
    let mut at = u32_at(eocd + 16);
    let mut out = HashMap::new();
    for _ in 0..entries {
        assert_eq!(u32_at(at), 0x0201_4b50, "central directory header");
        let method = u16_at(at + 10);
        let (time, date) = (u16_at(at + 12), u16_at(at + 14));
        let csize = u32_at(at + 20);
        let (nlen, elen, clen) = (u16_at(at + 28) as usize, u16_at(at + 30) as usize, u16_at(at + 32) as usize);
        let local = u32_at(at + 42);
        let name = String::from_utf8(b[at + 46..at + 46 + nlen].to_vec()).expect("entry name");
        assert_eq!(u32_at(local), 0x0403_4b50, "local header of {name}");
        let start = local + 30 + u16_at(local + 26) as usize + u16_at(local + 28) as usize;
        let raw = &b[start..start + csize];
        let data = match method {
            0 => raw.to_vec(),
            8 => {
                let mut v = Vec::new();
                flate2::read::DeflateDecoder::new(raw).read_to_end(&mut v).expect("inflate");
                v
            }
            m => panic!("{name}: compression method {m}"),
        };
        out.insert(name, (date, time, data));
        at += 46 + nlen + elen + clen;
    }
    out
}

fn entry(zip: &HashMap<String, (u16, u16, Vec<u8>)>, name: &str) -> String {
    String::from_utf8(zip.get(name).unwrap_or_else(|| panic!("no {name} in the zip")).2.clone()).expect("utf-8")
}

#[test]
fn report_has_the_four_sheets_in_order() {
    let w = demo();
    assert_eq!(sheet_names(&w.path("out/report.xlsx")), SHEETS);
    assert_eq!(sheet_names(&w.path("out/disputes.xlsx")), ["争议"]);
}

#[test]
fn findings_sheet_matches_findings_csv_cell_by_cell() {
    let w = demo();
    let csv = read_csv(&w.path("out/findings.csv"));
    let g = grid(&w.path("out/report.xlsx"), "差异明细");
    let header: Vec<String> = g[0].iter().map(text).collect();
    assert_eq!(header, FINDINGS_HEADER);
    assert_eq!(recon::report::FINDINGS_HEADER, FINDINGS_HEADER);
    assert_eq!(g.len() - 1, csv.len(), "one row per finding");
    assert!(csv.len() >= 32, "the demo has at least its 32 statement findings");
    for (r, f) in csv.iter().enumerate() {
        for (c, name) in FINDINGS_HEADER.iter().enumerate() {
            let got = cell(&g, r + 1, c);
            let want = &f[*name];
            if FINDING_AMOUNTS.contains(name) {
                if want.is_empty() {
                    assert_eq!(got, &Data::Empty, "{} {name}", f["finding_id"]);
                } else {
                    assert!(matches!(got, Data::Float(_)), "{} {name} is a number: {got:?}", f["finding_id"]);
                    assert_eq!(num(got), dec(want), "{} {name}", f["finding_id"]);
                }
            } else {
                assert_eq!(&text(got), want, "{} {name}", f["finding_id"]);
            }
        }
    }
}

#[test]
fn a_known_finding_has_its_category_and_delta() {
    let w = demo();
    let csv = read_csv(&w.path("out/findings.csv"));
    let known = csv.iter().find(|f| f["category"] == "MISSING_INCENTIVE").expect("a MISSING_INCENTIVE finding");
    let g = grid(&w.path("out/report.xlsx"), "差异明细");
    let r = row_of(&g, 0, &known["finding_id"]);
    assert_eq!(text(cell(&g, r, 2)), "MISSING_INCENTIVE");
    assert_eq!(text(cell(&g, r, 3)), "dispute");
    assert_eq!(num(cell(&g, r, 14)), dec(&known["delta"]));
    assert_eq!(num(cell(&g, r, 14)), dec("-54.00"));
}

#[test]
fn findings_sheet_has_a_frozen_header_an_autofilter_and_money_formats() {
    let w = demo();
    let zip = unzip(&w.path("out/report.xlsx"));
    // sheet2 is 差异明细 (sheets are numbered in workbook order)
    let workbook = entry(&zip, "xl/workbook.xml");
    let pos: Vec<usize> = SHEETS.iter().map(|s| workbook.find(&format!("name=\"{s}\"")).expect("sheet in workbook.xml")).collect();
    assert!(pos.windows(2).all(|p| p[0] < p[1]));
    let sheet = entry(&zip, "xl/worksheets/sheet2.xml");
    assert!(sheet.contains(r#"<pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" state="frozen"/>"#), "frozen header row");
    let findings = read_csv(&w.path("out/findings.csv")).len();
    assert!(sheet.contains(&format!(r#"<autoFilter ref="A1:S{}"/>"#, findings + 1)), "autofilter over the header and every finding");
    let styles = entry(&zip, "xl/styles.xml");
    // the delta column (O) of the first finding uses a style with that number format
    let style_of = |cell_ref: &str| -> usize {
        let at = sheet.find(&format!("<c r=\"{cell_ref}\"")).unwrap_or_else(|| panic!("no cell {cell_ref}"));
        let tag = &sheet[at..at + sheet[at..].find('>').expect("tag end")];
        tag.split("s=\"").nth(1).and_then(|s| s.split('"').next()).and_then(|s| s.parse().ok()).unwrap_or(0)
    };
    let at = styles.find(r##"formatCode="#,##0.00"/>"##).expect("the two-decimal money format");
    let num_fmt_id = styles[..at].rsplit("numFmtId=\"").next().and_then(|s| s.split('"').next()).expect("its numFmtId");
    let xfs: Vec<&str> = styles.split("<cellXfs").nth(1).expect("cellXfs").split("<xf ").skip(1).collect();
    let xf = xfs[style_of("O2")];
    assert!(xf.contains(&format!("numFmtId=\"{num_fmt_id}\"")), "O2 is formatted #,##0.00: {xf}");
    // 争议 is frozen too
    assert!(entry(&zip, "xl/worksheets/sheet3.xml").contains(r#"state="frozen""#));
}

#[test]
fn summary_sheet_waterfall_and_categories_equal_summary_json() {
    let w = demo();
    let s = summary(&w);
    let g = grid(&w.path("out/report.xlsx"), "汇总");
    let periods = s["periods"].as_array().expect("periods");
    assert_eq!(periods.len(), 2);
    let head = row_of(&g, 1, "瀑布 waterfall");
    let steps = [
        ("consumption_total", "消费总额 consumption_total"),
        ("ineligible_product", "不参与激励的产品 ineligible_product"),
        ("not_attributed", "未归属伙伴 not_attributed"),
        ("excluded_payment", "不计入基数的金额 excluded_payment"),
        ("rolled_out", "顺延至后续期次 rolled_out"),
        ("rolled_in", "自前期顺延 rolled_in"),
        ("expected_base", "应计激励基数 expected_base"),
        ("expected_incentive", "应得激励 expected_incentive"),
        ("actual_incentive", "实得激励 actual_incentive"),
        ("difference", "差额（实得－应得） difference"),
    ];
    for (i, p) in periods.iter().enumerate() {
        let period = p["period"].as_str().expect("period");
        assert_eq!(text(cell(&g, head, 2 + i)), period);
        for (k, (name, label)) in steps.iter().enumerate() {
            let r = head + 1 + k;
            assert_eq!(text(cell(&g, r, 1)), *label, "row {r}");
            let got = cell(&g, r, 2 + i);
            assert!(matches!(got, Data::Float(_)), "{period} {name} is a number: {got:?}");
            assert_eq!(num(got), dec(p["waterfall"][name].as_str().expect("amount")), "{period} {name}");
        }
        assert_eq!(text(cell(&g, head + 1 + 4, 0)), "-");
        assert_eq!(text(cell(&g, head + 1 + 5, 0)), "+");
        assert_eq!(text(cell(&g, head + 1 + 6, 0)), "=");
    }
    // spot check against the hand-checked figures
    assert_eq!(num(cell(&g, head + 1, 2)), dec("12633.38"));
    assert_eq!(num(cell(&g, head + 10, 2)), dec("-85.01"));

    let cats = row_of(&g, 1, "类别 category");
    assert_eq!(text(cell(&g, cats, 2)), "2026-09 数量 count");
    assert_eq!(text(cell(&g, cats, 5)), "2026-10 差额 delta");
    let total = row_of(&g, 1, "合计 total");
    let mut seen = 0;
    for r in cats + 1..total {
        let label = text(cell(&g, r, 1));
        let name = label.rsplit(' ').next().expect("category name");
        for (i, p) in periods.iter().enumerate() {
            match p["categories"].get(name) {
                Some(c) => {
                    seen += 1;
                    assert_eq!(num(cell(&g, r, 2 + 2 * i)), Decimal::from(c["count"].as_u64().expect("count")), "{label} count");
                    assert_eq!(num(cell(&g, r, 3 + 2 * i)), dec(c["delta"].as_str().expect("delta")), "{label} delta");
                }
                None => {
                    assert_eq!(cell(&g, r, 2 + 2 * i), &Data::Empty, "{label}");
                    assert_eq!(cell(&g, r, 3 + 2 * i), &Data::Empty, "{label}");
                }
            }
        }
    }
    let in_json: usize = periods.iter().map(|p| p["categories"].as_object().expect("categories").len()).sum();
    assert_eq!(seen, in_json, "every category of every period is on 汇总");
    assert_eq!(text(cell(&g, row_of(&g, 1, "一致 MATCHED"), 1)), "一致 MATCHED");
    // the category deltas close to the difference
    for (i, p) in periods.iter().enumerate() {
        assert_eq!(num(cell(&g, total, 3 + 2 * i)), dec(p["waterfall"]["difference"].as_str().expect("difference")));
    }
    for (key, label) in [("total", "合计 total"), ("dispute", "争议 dispute"), ("review", "复核 review"), ("none", "无需处理 none")] {
        let r = (row_of(&g, 1, "差异 findings")..g.len()).find(|&r| text(cell(&g, r, 1)) == label).expect(label);
        assert_eq!(num(cell(&g, r, 2)), Decimal::from(s["findings"][key].as_u64().expect("count")), "{key}");
    }
}

#[test]
fn summary_sheet_shows_the_partner_bill_when_there_is_one() {
    let w = demo();
    let s = summary(&w);
    let g = grid(&w.path("out/report.xlsx"), "汇总");
    let bills = s["bills"].as_array().expect("bills");
    if bills.is_empty() {
        assert!(!g.iter().flatten().any(|c| c == &Data::String("伙伴账单 partner bill".into())));
        return;
    }
    let head = row_of(&g, 1, "伙伴账单 partner bill");
    let labels = [
        ("consumption_total", "代售客户消费 consumption_total"),
        ("bill_total", "伙伴账单合计 bill_total"),
        ("difference", "差额（账单－消费） difference"),
        ("referral_consumption", "推荐客户消费（不入账单） referral_consumption"),
        ("unknown_association_consumption", "关联类型未知的消费 unknown_association_consumption"),
    ];
    let cats = (head..g.len()).find(|&r| text(cell(&g, r, 1)) == "类别 category").expect("bill categories");
    let total = (cats..g.len()).find(|&r| text(cell(&g, r, 1)) == "合计 total").expect("bill category total");
    for (i, b) in bills.iter().enumerate() {
        assert_eq!(text(cell(&g, head, 2 + i)), b["bill_cycle"].as_str().expect("bill_cycle"));
        for (key, label) in labels {
            let Some(v) = b.get(key) else { continue };
            let r = (head..cats).find(|&r| text(cell(&g, r, 1)) == label).unwrap_or_else(|| panic!("no {label}"));
            assert_eq!(num(cell(&g, r, 2 + i)), dec(v.as_str().expect("amount")), "{key}");
        }
        let listed: Vec<String> = (cats + 1..total).map(|r| text(cell(&g, r, 1))).collect();
        let in_json = b["categories"].as_object().expect("categories");
        for (name, c) in in_json {
            let r = cats + 1 + listed.iter().position(|l| l.ends_with(&format!(" {name}"))).unwrap_or_else(|| panic!("no {name}"));
            assert_eq!(num(cell(&g, r, 2 + 2 * i)), Decimal::from(c["count"].as_u64().expect("count")), "{name}");
            assert_eq!(num(cell(&g, r, 3 + 2 * i)), dec(c["delta"].as_str().expect("delta")), "{name}");
        }
        assert_eq!(num(cell(&g, total, 3 + 2 * i)), dec(b["difference"].as_str().expect("difference")), "bill categories close to the difference");
    }
}

/// The rows of a dispute sheet against disputes.csv (total lines included).
fn check_disputes(g: &[Vec<Data>], csv: &[HashMap<String, String>]) {
    let header: Vec<String> = g[0].iter().map(text).collect();
    assert_eq!(header, DISPUTE_HEADER);
    assert_eq!(g.len() - 1, csv.len(), "same rows as disputes.csv");
    for (r, d) in csv.iter().enumerate() {
        for (c, name) in DISPUTE_HEADER.iter().enumerate() {
            let got = cell(g, r + 1, c);
            if (6..=8).contains(&c) {
                assert!(matches!(got, Data::Float(_)), "row {} {name} is a number: {got:?}", r + 1);
                assert_eq!(num(got), dec(&d[*name]), "row {} {name}", r + 1);
            } else {
                assert_eq!(&text(got), &d[*name], "row {} {name}", r + 1);
            }
        }
    }
}

#[test]
fn disputes_workbook_matches_disputes_csv_with_period_totals() {
    let w = demo();
    let csv = read_csv(&w.path("out/disputes.csv"));
    let g = grid(&w.path("out/disputes.xlsx"), "争议");
    check_disputes(&g, &csv);
    let s = summary(&w);
    let disputes = s["findings"]["dispute"].as_u64().expect("dispute count") as usize;
    let totals: Vec<usize> = (1..g.len()).filter(|&r| text(cell(&g, r, 1)).starts_with("合计")).collect();
    assert_eq!(g.len() - 1 - totals.len(), disputes, "one row per dispute finding");
    assert!(!totals.is_empty());
    // each total sums the rows of its period above it
    let mut first = 1;
    for &t in &totals {
        let period = text(cell(&g, t, 0));
        for c in 6..=8 {
            let sum: Decimal = (first..t).map(|r| num(cell(&g, r, c))).sum();
            assert_eq!(num(cell(&g, t, c)), sum, "{period} column {c}");
        }
        assert!((first..t).all(|r| text(cell(&g, r, 0)) == period));
        assert_eq!(text(cell(&g, t, 1)), format!("合计（{} 项）", t - first));
        first = t + 1;
    }
    // 争议 of report.xlsx holds the same rows
    check_disputes(&grid(&w.path("out/report.xlsx"), "争议"), &csv);
}

#[test]
fn inputs_sheet_lists_every_input_with_its_hash_then_rules_and_engine() {
    let w = demo();
    let s = summary(&w);
    let g = grid(&w.path("out/report.xlsx"), "输入");
    let header: Vec<String> = g[0].iter().map(text).collect();
    assert_eq!(header, ["文件 path", "类型 kind", "格式 format", "行数 rows", "接受 accepted", "拒收 rejected", "SHA-256 sha256"]);
    let inputs = s["inputs"].as_array().expect("inputs");
    assert!(inputs.len() >= 6);
    for (i, input) in inputs.iter().enumerate() {
        let r = i + 1;
        assert_eq!(text(cell(&g, r, 0)), input["path"].as_str().expect("path"));
        assert_eq!(text(cell(&g, r, 1)), input["kind"].as_str().expect("kind"));
        assert_eq!(text(cell(&g, r, 2)), input["format"].as_str().expect("format"));
        for (c, key) in [(3, "rows"), (4, "accepted"), (5, "rejected")] {
            assert_eq!(num(cell(&g, r, c)), Decimal::from(input[key].as_u64().expect("count")), "{key}");
        }
        assert_eq!(text(cell(&g, r, 6)), input["sha256"].as_str().expect("sha256"));
    }
    let rules = row_of(&g, 0, "激励政策 rules");
    for (k, key) in ["name", "version", "path", "sha256"].iter().enumerate() {
        assert!(text(cell(&g, rules + 1 + k, 0)).ends_with(key));
        assert_eq!(text(cell(&g, rules + 1 + k, 1)), s["rules"][key].as_str().expect("rules field"));
    }
    let engine = row_of(&g, 0, "引擎 engine");
    assert_eq!(text(cell(&g, engine + 1, 1)), "recon");
    assert_eq!(text(cell(&g, engine + 2, 1)), env!("CARGO_PKG_VERSION"));
}

#[test]
fn workbooks_are_byte_identical_across_runs() {
    let a = demo();
    // zip and core.xml times have a resolution of 2 s and 1 s: make a clock-dependent byte show
    std::thread::sleep(std::time::Duration::from_millis(2100));
    let b = demo();
    for f in ["report.xlsx", "disputes.xlsx"] {
        let x = std::fs::read(a.path(&format!("out/{f}"))).expect("read");
        let y = std::fs::read(b.path(&format!("out/{f}"))).expect("read");
        assert!(x == y, "{f} differs between two runs");
        let zip = unzip(&a.path(&format!("out/{f}")));
        for (name, (date, time, _)) in &zip {
            assert_eq!((*date, *time), (0x21, 0), "{f}: {name} is stamped 1980-01-01 00:00");
        }
        let core = entry(&zip, "docProps/core.xml");
        assert!(core.contains(">2000-01-01T00:00:00Z</dcterms:created>"), "{core}");
        assert!(core.contains("<dc:creator>recon</dc:creator>"), "{core}");
    }
    assert!(entry(&unzip(&a.path("out/report.xlsx")), "docProps/core.xml").contains("<dc:title>recon report</dc:title>"));
}

#[test]
fn verify_reproduces_the_workbooks() {
    let w = demo();
    let o = w.recon(&["verify", "out"]);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(0), "{out}{}", stderr(&o));
    for f in ["report.xlsx", "disputes.xlsx"] {
        assert!(out.lines().any(|l| l.starts_with("same") && l.contains(f)), "{f} not verified:\n{out}");
    }
}

#[test]
fn format_selects_the_workbooks() {
    let w = Work::new();
    let demo = repo().join("fixtures/demo");
    let arg = |p: &str| demo.join(p).to_str().unwrap_or_default().to_string();
    let (rules, cons, inc, cust) = (arg("rules.toml"), arg("consumption"), arg("incentives"), arg("customers.csv"));
    let run = |out: &str, format: &str| {
        let args = ["run", "--rules", &rules, "--consumption", &cons, "--incentives", &inc, "--customers", &cust, "--out", out, "--format", format];
        let o = w.recon(&args);
        assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    };
    run("csv", "csv");
    assert!(!w.path("csv/report.xlsx").exists());
    assert!(!w.path("csv/disputes.xlsx").exists());
    run("xlsx", "xlsx");
    assert_eq!(sheet_names(&w.path("xlsx/report.xlsx")), SHEETS);
    assert_eq!(sheet_names(&w.path("xlsx/disputes.xlsx")), ["争议"]);
    assert!(!w.path("xlsx/findings.csv").exists());
}

/// Contract §6: each statement period gets a verdict, the same in summary.json, stdout, the top
/// of report.html and 汇总: confirm (no dispute) or feedback with the disputes' count and total,
/// which are disputes.csv's for that period.
#[test]
fn each_statement_gets_a_verdict_everywhere() {
    let w = Work::new();
    let o = w.recon(&["demo", "--out", "out"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let s = summary(&w);
    let disputes = read_csv(&w.path("out/disputes.csv"));
    let g = grid(&w.path("out/report.xlsx"), "汇总");
    let r = row_of(&g, 1, "结论 verdict");
    let html = w.read("out/report.html");
    let out = stdout(&o);
    let verdict_lines: Vec<&str> = out.lines().filter(|l| l.trim_start().starts_with("verdict:")).collect();
    let periods = s["periods"].as_array().expect("periods");
    assert_eq!(verdict_lines.len(), periods.len(), "{out}");
    let mut kinds = std::collections::BTreeSet::new();
    for (i, p) in periods.iter().enumerate() {
        let period = p["period"].as_str().expect("period");
        let theirs: Vec<_> = disputes.iter().filter(|d| d["对账期次"] == period && !d["问题编号"].starts_with("合计")).collect();
        let total: rust_decimal::Decimal = theirs.iter().map(|d| dec(&d["差额"])).sum();
        let verdict = p["verdict"].as_str().expect("verdict");
        kinds.insert(verdict.to_string());
        assert_eq!(verdict, if theirs.is_empty() { "confirm" } else { "feedback" }, "{period}");
        assert_eq!(p["disputes"]["count"].as_u64(), Some(theirs.len() as u64), "{period}");
        assert_eq!(dec(p["disputes"]["delta"].as_str().expect("delta")), total, "{period}");
        let sheet = text(cell(&g, r, 2 + i));
        assert!(sheet.contains(if verdict == "confirm" { "确认账单" } else { "问题反馈" }), "{period}: {sheet}");
        assert!(html.contains(&format!("data-verdict=\"{verdict}\"><b>{period}</b>")), "{period} verdict not on the page");
        assert!(verdict_lines[i].contains(verdict), "{}", verdict_lines[i]);
    }
    assert_eq!(kinds.len(), 2, "the demo has a statement to confirm and one to dispute: {kinds:?}");
}
