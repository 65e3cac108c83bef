//! Bad inputs, end to end through the real binary: every file that cannot be used stops the run
//! with exit status 2 and a message naming the file (and line, column or key) and what was
//! expected; every cell that cannot be read rejects its row to `rejected.csv` and the run goes on
//! (exit status 1); invalid rules files are located to the line with a caret under the value.
//!
//! The workbooks under `tests/fixtures/` were written once with python3 + openpyxl:
//! `empty.xlsx` is a workbook whose only sheet (`Sheet1`) has no cells, `header_only.xlsx` holds
//! the consumption header row (the columns of `CONSUMPTION_HEADER`) and nothing else.
//!
//! ```python
//! import openpyxl
//! wb = openpyxl.Workbook(); wb.active.title = "Sheet1"; wb.save("tests/fixtures/empty.xlsx")
//! wb = openpyxl.Workbook(); ws = wb.active; ws.title = "Sheet1"
//! ws.append("bill_cycle,customer_id,association_type,service_type_code,charging_mode,"
//!           "trade_id,trade_time,payment_amount,cash_amount,coupon_amount".split(","))
//! wb.save("tests/fixtures/header_only.xlsx")
//! ```

mod common;

use std::collections::HashMap;
use std::process::Output;

use common::{read_csv, repo, rules, stderr, stdout, Work, CONSUMPTION_HEADER, INCENTIVE_HEADER};

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// A consumption row of trade T1 that the policy of `rules("")` pays 6.00 on.
const CONS_T1: &str = "2026-10,C1,代售,hws.service.type.ec2,包年/包月,T1,2026-10-05 10:00:00,100.00,100.00,0\n";
/// The incentive row that pays it exactly.
const INC_T1: &str = "2026-10,I1,T1,hws.service.type.ec2,100.00,0.06,6.00\n";

fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or_else(|| panic!("recon was killed by a signal\n{}", show(o)))
}

fn show(o: &Output) -> String {
    format!("--- status {:?}\n--- stdout\n{}\n--- stderr\n{}", o.status.code(), stdout(o), stderr(o))
}

fn assert_code(o: &Output, want: i32) {
    assert_eq!(code(o), want, "unexpected exit status\n{}", show(o));
}

/// The first line of stderr, which must be the `error: ...` line.
fn error_line(o: &Output) -> String {
    let err = stderr(o);
    let first = err.lines().next().unwrap_or("").to_string();
    assert!(first.starts_with("error: "), "stderr does not start with `error: `\n{}", show(o));
    first
}

fn assert_contains(haystack: &str, needle: &str, o: &Output) {
    assert!(haystack.contains(needle), "expected {needle:?} in {haystack:?}\n{}", show(o));
}

/// Writes the rules, consumption and incentives, and runs `recon run` with `extra` arguments.
fn run_with(work: &Work, rules_text: &str, cons: (&str, &[u8]), inc: (&str, &[u8]), extra: &[&str]) -> Output {
    work.write("rules.toml", rules_text);
    work.write(cons.0, cons.1);
    work.write(inc.0, inc.1);
    let mut args = vec!["run", "--rules", "rules.toml", "--consumption", cons.0, "--incentives", inc.0, "--out", "out"];
    args.extend_from_slice(extra);
    work.recon(&args)
}

fn run_csv(work: &Work, cons: &str, inc: &str) -> Output {
    run_with(work, &rules(""), ("cons.csv", cons.as_bytes()), ("inc.csv", inc.as_bytes()), &[])
}

fn summary(work: &Work) -> serde_json::Value {
    serde_json::from_str(&work.read("out/summary.json")).expect("summary.json is JSON")
}

/// `(rows, accepted, rejected)` of one input as summary.json lists it.
fn input_counts(work: &Work, path: &str, kind: &str) -> (u64, u64, u64) {
    let s = summary(work);
    let inputs = s["inputs"].as_array().expect("inputs array");
    let i = inputs
        .iter()
        .find(|i| i["path"] == path)
        .unwrap_or_else(|| panic!("summary.json does not list {path}: {inputs:#?}"));
    assert_eq!(i["kind"], kind, "kind of {path}");
    let n = |k: &str| i[k].as_u64().unwrap_or_else(|| panic!("{path}: {k} is not a number: {i}"));
    let (rows, accepted, rejected) = (n("rows"), n("accepted"), n("rejected"));
    assert_eq!(rows, accepted + rejected, "{path}: rows = accepted + rejected");
    (rows, accepted, rejected)
}

fn findings(work: &Work) -> Vec<HashMap<String, String>> {
    read_csv(&work.path("out/findings.csv"))
}

fn rejected(work: &Work) -> Vec<HashMap<String, String>> {
    read_csv(&work.path("out/rejected.csv"))
}

fn finding<'a>(rows: &'a [HashMap<String, String>], trade_id: &str) -> &'a HashMap<String, String> {
    rows.iter().find(|r| r["trade_id"] == trade_id).unwrap_or_else(|| panic!("no finding for {trade_id}: {rows:#?}"))
}

/// Checks the one rejected row: kind, file, location, column, value, and words of the reason.
fn assert_reject(r: &HashMap<String, String>, kind: &str, file: &str, location: &str, column: &str, value: &str, reason: &[&str]) {
    assert_eq!(r["kind"], kind, "{r:?}");
    assert_eq!(r["file"], file, "{r:?}");
    assert_eq!(r["location"], location, "{r:?}");
    assert_eq!(r["column"], column, "{r:?}");
    assert_eq!(r["value"], value, "{r:?}");
    for w in reason {
        assert!(r["reason"].contains(w), "reason {:?} lacks {w:?}", r["reason"]);
    }
}

/// Runs `recon check-rules rules.toml` on `text` and checks that the error points at `line`, at
/// the column where `needle` starts on that line, shows that line with a caret under it, and
/// says each of `message`.
fn assert_rules_error(text: &str, line: usize, needle: &str, message: &[&str]) -> Output {
    let line_text = text.lines().nth(line - 1).unwrap_or_else(|| panic!("test bug: the rules text has no line {line}"));
    let at = line_text.find(needle).unwrap_or_else(|| panic!("test bug: line {line} {line_text:?} lacks {needle:?}"));
    let column = line_text[..at].chars().count() + 1;

    let work = Work::new();
    work.write("rules.toml", text);
    let o = work.recon(&["check-rules", "rules.toml"]);
    assert_code(&o, 2);
    assert_eq!(stdout(&o), "", "nothing on stdout for an invalid rules file");
    let first = error_line(&o);
    let prefix = format!("error: rules.toml:{line}:{column}: ");
    assert!(first.starts_with(&prefix), "expected {prefix:?} at the start of {first:?}\n{}", show(&o));
    let err = stderr(&o);
    for m in message {
        assert_contains(&err, m, &o);
    }
    // The snippet: the line as written, then a caret under the offending value.
    let lines: Vec<&str> = err.lines().collect();
    let shown = format!("{line:>5} | {line_text}");
    let i = lines.iter().position(|l| *l == shown).unwrap_or_else(|| panic!("stderr does not show {shown:?}\n{}", show(&o)));
    let caret = lines.get(i + 1).copied().unwrap_or("");
    let pad: String = line_text.chars().take(column - 1).map(|c| if c == '\t' { '\t' } else { ' ' }).collect();
    let want = format!("      | {pad}^");
    assert!(caret.starts_with(&want), "caret line {caret:?} should start with {want:?}\n{}", show(&o));
    assert!(caret[want.len()..].chars().all(|c| c == '^'), "caret line {caret:?} holds more than carets");
    o
}

// ---------------------------------------------------------------------------------------------
// Missing columns
// ---------------------------------------------------------------------------------------------

#[test]
fn missing_required_column_names_file_column_aliases_and_headers_found() {
    let work = Work::new();
    let header = CONSUMPTION_HEADER.replace("trade_id", "order_no");
    let o = run_csv(&work, &format!("{header}{CONS_T1}"), &format!("{INCENTIVE_HEADER}{INC_T1}"));
    assert_code(&o, 2);
    let e = error_line(&o);
    assert!(e.starts_with("error: cons.csv: "), "the file is named first: {e}");
    assert_contains(&e, "consumption", &o);
    assert_contains(&e, "no column trade_id", &o);
    assert_contains(&e, "trade_id, order_id, 订单号/交易号, 订单号, 交易号", &o);
    assert_contains(
        &e,
        "bill_cycle, customer_id, association_type, service_type_code, charging_mode, order_no, trade_time, payment_amount, cash_amount, coupon_amount",
        &o,
    );
    assert!(!work.path("out/findings.csv").exists(), "no report after an error");
}

#[test]
fn missing_counted_payment_component_is_an_error() {
    let work = Work::new();
    // rules("") counts cash_amount; this export has the other components but not that one.
    let header = CONSUMPTION_HEADER.replace(",cash_amount", "");
    let row = "2026-10,C1,代售,hws.service.type.ec2,包年/包月,T1,2026-10-05 10:00:00,100.00,0\n";
    let o = run_csv(&work, &format!("{header}{row}"), &format!("{INCENTIVE_HEADER}{INC_T1}"));
    assert_code(&o, 2);
    let e = error_line(&o);
    assert!(e.starts_with("error: cons.csv: "), "the file is named first: {e}");
    assert_contains(&e, "no column cash_amount", &o);
    assert_contains(&e, "cash_amount, 现金支付金额", &o);
    assert_contains(&e, "[base] counted", &o);
    assert_contains(&e, "headers found: bill_cycle, customer_id", &o);
}

// ---------------------------------------------------------------------------------------------
// Unreadable cells reject their row; the run goes on
// ---------------------------------------------------------------------------------------------

#[test]
fn unreadable_amount_rejects_the_row_at_its_physical_line() {
    let work = Work::new();
    // The header spells the column its own way; a blank line and a quoted cell spanning two
    // lines come before the bad row, which therefore starts on physical line 6.
    let header = CONSUMPTION_HEADER.replace("cash_amount", " Cash_Amount ");
    let cons = format!(
        "{header}{CONS_T1}\n\
         2026-10,\"C2\nsecond line\",代售,hws.service.type.ec2,包年/包月,T2,2026-10-05 10:00:00,50.00,50.00,0\n\
         2026-10,C3,代售,hws.service.type.ec2,包年/包月,T3,2026-10-06 10:00:00,100.00,1O0.00,0\n"
    );
    let inc = format!("{INCENTIVE_HEADER}{INC_T1}2026-10,I2,T2,hws.service.type.ec2,50.00,0.06,3.00\n");
    let o = run_csv(&work, &cons, &inc);
    assert_code(&o, 1);

    let rej = rejected(&work);
    assert_eq!(rej.len(), 1, "{rej:#?}");
    assert_reject(&rej[0], "consumption", "cons.csv", "6", "Cash_Amount", "1O0.00", &["not an amount", "1,234.50"]);

    let f = findings(&work);
    assert_eq!(finding(&f, "T1")["category"], "MATCHED");
    assert_eq!(finding(&f, "T1")["consumption_rows"], "cons.csv:2");
    assert_eq!(finding(&f, "T2")["category"], "MATCHED");
    assert_eq!(finding(&f, "T2")["consumption_rows"], "cons.csv:4", "the multi-line row starts on line 4");
    assert!(f.iter().all(|r| r["trade_id"] != "T3"), "the rejected row is not reconciled: {f:#?}");
    assert_eq!(input_counts(&work, "cons.csv", "consumption"), (3, 2, 1));
    assert_eq!(input_counts(&work, "inc.csv", "incentives"), (2, 2, 0));
    assert_eq!(summary(&work)["rejected"], 1);
}

#[test]
fn unreadable_trade_time_rejects_the_row() {
    let work = Work::new();
    // Chinese header for the time; CRLF line ends.
    let header = CONSUMPTION_HEADER.replace("trade_time", "交易时间").replace('\n', "\r\n");
    let cons = format!(
        "{header}{}2026-10,C2,代售,hws.service.type.ec2,包年/包月,T2,2026-10-32 10:00:00,100.00,100.00,0\r\n",
        CONS_T1.replace('\n', "\r\n")
    );
    let o = run_csv(&work, &cons, &format!("{INCENTIVE_HEADER}{INC_T1}"));
    assert_code(&o, 1);
    let rej = rejected(&work);
    assert_eq!(rej.len(), 1, "{rej:#?}");
    assert_reject(&rej[0], "consumption", "cons.csv", "3", "交易时间", "2026-10-32 10:00:00", &["not a time", "2026-10-31 23:30:00"]);
    let f = findings(&work);
    assert_eq!(finding(&f, "T1")["category"], "MATCHED");
    assert!(f.iter().all(|r| r["trade_id"] != "T2"), "{f:#?}");
    assert_eq!(input_counts(&work, "cons.csv", "consumption"), (2, 1, 1));
}

#[test]
fn unreadable_incentive_period_rejects_the_row() {
    let work = Work::new();
    let header = INCENTIVE_HEADER.replace("incentive_period", "对账期次");
    let inc = format!("{header}{INC_T1}2026-13,I9,T9,hws.service.type.ec2,100.00,0.06,6.00\n");
    let o = run_csv(&work, &format!("{CONSUMPTION_HEADER}{CONS_T1}"), &inc);
    assert_code(&o, 1);
    let rej = rejected(&work);
    assert_eq!(rej.len(), 1, "{rej:#?}");
    assert_reject(&rej[0], "incentives", "inc.csv", "3", "对账期次", "2026-13", &["not a period", "2026-10"]);
    let f = findings(&work);
    assert_eq!(finding(&f, "T1")["category"], "MATCHED");
    assert!(f.iter().all(|r| r["trade_id"] != "T9"), "{f:#?}");
    assert_eq!(input_counts(&work, "inc.csv", "incentives"), (2, 1, 1));
    assert_eq!(input_counts(&work, "cons.csv", "consumption"), (1, 1, 0));
}

#[test]
fn unknown_charging_mode_rejects_the_row() {
    let work = Work::new();
    let header = CONSUMPTION_HEADER.replace("charging_mode", "计费模式");
    let cons = format!("{header}{CONS_T1}2026-10,C2,代售,hws.service.type.ec2,月付,T2,2026-10-05 10:00:00,100.00,100.00,0\n");
    let o = run_csv(&work, &cons, &format!("{INCENTIVE_HEADER}{INC_T1}"));
    assert_code(&o, 1);
    let rej = rejected(&work);
    assert_eq!(rej.len(), 1, "{rej:#?}");
    assert_reject(&rej[0], "consumption", "cons.csv", "3", "计费模式", "月付", &["unknown charging mode", "包年/包月"]);
    let f = findings(&work);
    assert_eq!(finding(&f, "T1")["category"], "MATCHED");
    assert!(f.iter().all(|r| r["trade_id"] != "T2"), "{f:#?}");
    assert_eq!(input_counts(&work, "cons.csv", "consumption"), (2, 1, 1));
}

// ---------------------------------------------------------------------------------------------
// Empty and header-only files
// ---------------------------------------------------------------------------------------------

#[test]
fn empty_consumption_file_is_an_error() {
    let work = Work::new();
    let o = run_csv(&work, "", &format!("{INCENTIVE_HEADER}{INC_T1}"));
    assert_code(&o, 2);
    let e = error_line(&o);
    assert!(e.starts_with("error: cons.csv: "), "{e}");
    assert_contains(&e, "the file is empty", &o);
    assert_contains(&e, "header row", &o);
}

#[test]
fn header_only_incentives_file_is_accepted() {
    let work = Work::new();
    let o = run_csv(&work, &format!("{CONSUMPTION_HEADER}{CONS_T1}"), INCENTIVE_HEADER);
    assert_ne!(code(&o), 2, "a header-only file is not an error\n{}", show(&o));
    assert!(work.path("out/findings.csv").exists());
    assert_eq!(input_counts(&work, "inc.csv", "incentives"), (0, 0, 0));
    assert_eq!(input_counts(&work, "cons.csv", "consumption"), (1, 1, 0));
    assert!(rejected(&work).is_empty());
}

#[test]
fn empty_workbook_is_an_error() {
    let work = Work::new();
    let book = std::fs::read(repo().join("tests/fixtures/empty.xlsx")).expect("tests/fixtures/empty.xlsx");
    let o = run_with(&work, &rules(""), ("cons.xlsx", &book), ("inc.csv", format!("{INCENTIVE_HEADER}{INC_T1}").as_bytes()), &[]);
    assert_code(&o, 2);
    let e = error_line(&o);
    assert!(e.starts_with("error: cons.xlsx"), "{e}");
    assert_contains(&e, "Sheet1", &o);
    assert_contains(&e, "empty", &o);
}

#[test]
fn header_only_workbook_is_accepted() {
    let work = Work::new();
    let book = std::fs::read(repo().join("tests/fixtures/header_only.xlsx")).expect("tests/fixtures/header_only.xlsx");
    let o = run_with(&work, &rules(""), ("cons.xlsx", &book), ("inc.csv", format!("{INCENTIVE_HEADER}{INC_T1}").as_bytes()), &[]);
    assert_ne!(code(&o), 2, "a header-only workbook is not an error\n{}", show(&o));
    assert_eq!(input_counts(&work, "cons.xlsx", "consumption"), (0, 0, 0));
    assert_eq!(input_counts(&work, "inc.csv", "incentives"), (1, 1, 0));
    // The incentive row is still decided.
    assert_eq!(finding(&findings(&work), "T1")["incentive_rows"], "inc.csv:2");
}

// ---------------------------------------------------------------------------------------------
// Encodings
// ---------------------------------------------------------------------------------------------

#[test]
fn undecodable_bytes_name_the_file_and_line() {
    // 0xFF is never a lead byte in GB18030, and never valid in UTF-8. (0x80 would not do: the
    // WHATWG GB18030 decoder reads it as U+20AC.)
    let bad: Vec<u8> = b"C2\xff\xff".to_vec();
    assert!(std::str::from_utf8(&bad).is_err());
    assert!(encoding_rs::GB18030.decode_without_bom_handling_and_without_replacement(&bad).is_none());
    assert_eq!(encoding_rs::GB18030.decode_without_bom_handling_and_without_replacement(b"\x80").as_deref(), Some("\u{20ac}"));

    let work = Work::new();
    let mut cons = format!("{CONSUMPTION_HEADER}{CONS_T1}").into_bytes();
    cons.extend_from_slice(b"2026-10,");
    cons.extend_from_slice(&bad);
    cons.extend_from_slice(b",\xe4\xbb\xa3\xe5\x94\xae,hws.service.type.ec2,x,T2,2026-10-05 10:00:00,1,1,0\n");
    let inc = format!("{INCENTIVE_HEADER}{INC_T1}");
    let o = run_with(&work, &rules(""), ("cons.csv", &cons), ("inc.csv", inc.as_bytes()), &[]);
    assert_code(&o, 2);
    let e = error_line(&o);
    assert!(e.starts_with("error: cons.csv:3: "), "{e}");
    assert_contains(&e, "UTF-8 or GBK", &o);
}

/// A UTF-8 export (Chinese headers) with one corrupt byte on line 3: the header is valid UTF-8,
/// the bad byte is on line 3, so line 3 should be named. The loader looks for the first line that
/// GB18030 cannot decode, and UTF-8 Chinese text is often not valid GB18030, so it names line 1.
#[test]
fn undecodable_byte_in_a_utf8_file_names_its_line() {
    let work = Work::new();
    let mut cons = "账期,客户ID,产品类型编码,订单号,交易时间,现金支付金额\n\
                    2026-10,C1,hws.service.type.ec2,T1,2026-10-05 10:00:00,100\n"
        .as_bytes()
        .to_vec();
    cons.extend_from_slice(b"2026-10,C2\xff,hws.service.type.ec2,T2,2026-10-05 10:00:00,100\n");
    let inc = format!("{INCENTIVE_HEADER}{INC_T1}");
    let o = run_with(&work, &rules(""), ("cons.csv", &cons), ("inc.csv", inc.as_bytes()), &[]);
    assert_code(&o, 2);
    let e = error_line(&o);
    assert!(e.starts_with("error: cons.csv:3: "), "{e}");
}

fn gbk(text: &str) -> Vec<u8> {
    let (bytes, _, had_errors) = encoding_rs::GBK.encode(text);
    assert!(!had_errors, "test bug: {text:?} is not encodable in GBK");
    assert!(std::str::from_utf8(&bytes).is_err(), "test bug: the GBK bytes must not be valid UTF-8");
    bytes.into_owned()
}

const GBK_CONSUMPTION: &str = "账期,客户ID,客户名称,关联类型,产品类型编码,计费模式,订单号/交易号,客户交易时间,应付金额,现金支付金额,代金券支付金额,区域\n\
    2026年10月,C1,杭州云帆科技有限公司,代售,hws.service.type.ec2,包年/包月,T1,2026-10-05 10:00:00 GMT+08:00,100.00,100.00,0,cn-north-4\n\
    2026年10月,C2,苏州启明软件有限公司,顾问销售,hws.service.type.ec2,包年/包月,T2,2026-10-06 10:00:00 GMT+08:00,\"1,000.00\",\"1,000.00\",0,cn-north-4\n\
    2026年09月,C2,苏州启明软件有限公司,顾问销售,hws.service.type.ec2,包年/包月,T3,2026-09-06 10:00:00 GMT+08:00,50.00,50.00,0,cn-north-4\n";

#[test]
fn gbk_csv_with_chinese_headers_is_read() {
    let work = Work::new();
    let cons = gbk(GBK_CONSUMPTION);
    let inc = gbk("对账期次,激励数据ID,订单号/交易号,产品类型编码,激励金额\n2026年10月,I1,T1,hws.service.type.ec2,6.00\n");
    let o = run_with(&work, &rules(""), ("cons.csv", &cons), ("inc.csv", &inc), &[]);
    assert_ne!(code(&o), 2, "{}", show(&o));
    assert!(rejected(&work).is_empty(), "{:#?}", rejected(&work));
    assert_eq!(input_counts(&work, "cons.csv", "consumption"), (3, 3, 0));
    let f = findings(&work);
    let t1 = finding(&f, "T1");
    assert_eq!(t1["category"], "MATCHED");
    assert_eq!(t1["customer_name"], "杭州云帆科技有限公司");
    assert_eq!(t1["actual_incentive"], "6.00");
    let t2 = finding(&f, "T2");
    assert_eq!(t2["customer_name"], "苏州启明软件有限公司");
    assert_eq!(t2["expected_base"], "1000.00");
    assert_eq!(t2["expected_incentive"], "60.00");
}

#[test]
fn inspect_gbk_csv_shows_encoding_kind_mapping_rows_and_periods() {
    let work = Work::new();
    work.write("cons.csv", gbk(GBK_CONSUMPTION));
    let o = work.recon(&["inspect", "cons.csv"]);
    assert_code(&o, 0);
    let out = stdout(&o);
    let lines: Vec<String> = out.lines().map(|l| l.split_whitespace().collect::<Vec<_>>().join(" ")).collect();
    let has = |want: &str| assert!(lines.iter().any(|l| l == want), "inspect lacks the line {want:?}:\n{out}");
    assert!(lines[0].starts_with("cons.csv (csv, sha256 "), "{out}");
    has("encoding GBK");
    has("kind consumption");
    has("rows 3");
    has("bill_cycle <- 账期 (column 1)");
    has("customer_id <- 客户ID (column 2)");
    has("customer_name <- 客户名称 (column 3)");
    has("association_type <- 关联类型 (column 4)");
    has("service_type_code <- 产品类型编码 (column 5)");
    has("charging_mode <- 计费模式 (column 6)");
    has("trade_id <- 订单号/交易号 (column 7)");
    has("trade_time <- 客户交易时间 (column 8)");
    has("payment_amount <- 应付金额 (column 9)");
    has("cash_amount <- 现金支付金额 (column 10)");
    has("coupon_amount <- 代金券支付金额 (column 11)");
    has("columns ignored: 区域");
    has("periods 2026-09 (1 rows), 2026-10 (2 rows)");
    assert!(!out.contains("missing required"), "{out}");
}

// ---------------------------------------------------------------------------------------------
// JSON, extensions, directories
// ---------------------------------------------------------------------------------------------

#[test]
fn json_body_without_records_is_an_error() {
    let work = Work::new();
    let body = br#"{"error_code": "CBC.0000", "total_count": 0, "currency": "CNY"}"#;
    let inc = format!("{INCENTIVE_HEADER}{INC_T1}");
    let o = run_with(&work, &rules(""), ("cons.json", body), ("inc.csv", inc.as_bytes()), &[]);
    assert_code(&o, 2);
    let e = error_line(&o);
    assert!(e.starts_with("error: cons.json: "), "{e}");
    assert_contains(&e, "fee_records", &o);
    assert_contains(&e, "bill_sums", &o);
    assert_contains(&e, "top-level array", &o);
}

#[test]
fn malformed_json_names_line_and_column() {
    let work = Work::new();
    // The trailing comma's closing brace is on line 3, column 13.
    let body = b"{\n  \"fee_records\": [\n    {\"a\": 1,}\n  ]\n}\n";
    let inc = format!("{INCENTIVE_HEADER}{INC_T1}");
    let o = run_with(&work, &rules(""), ("cons.json", body), ("inc.csv", inc.as_bytes()), &[]);
    assert_code(&o, 2);
    let e = error_line(&o);
    assert!(e.starts_with("error: cons.json:3:13: "), "{e}");
    assert_contains(&e, "not valid JSON", &o);
}

#[test]
fn a_file_named_on_the_command_line_is_read_whatever_its_extension() {
    let work = Work::new();
    let cons = format!("{CONSUMPTION_HEADER}{CONS_T1}");
    let inc = format!("{INCENTIVE_HEADER}{INC_T1}");
    // Contract §1: named on the command line, a file is read as CSV unless it is a workbook,
    // JSON or .tar.gz, whatever its name says.
    let o = run_with(&work, &rules(""), ("cons.pdf", cons.as_bytes()), ("inc.csv", inc.as_bytes()), &[]);
    assert_ne!(code(&o), 2, "{}", show(&o));
    assert_eq!(input_counts(&work, "cons.pdf", "consumption"), (1, 1, 0));
    // A real PDF so named is not an export: the run stops naming it and what it expected.
    let o = run_with(&work, &rules(""), ("policy.pdf", b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n"), ("inc.csv", inc.as_bytes()), &[]);
    assert_code(&o, 2);
    let e = error_line(&o);
    assert!(e.starts_with("error: policy.pdf"), "{e}");

    // The same bytes named .txt are read as CSV.
    let o = run_with(&work, &rules(""), ("cons.txt", cons.as_bytes()), ("inc.csv", inc.as_bytes()), &[]);
    assert_ne!(code(&o), 2, "{}", show(&o));
    assert_eq!(input_counts(&work, "cons.txt", "consumption"), (1, 1, 0));
}

#[test]
fn directory_without_supported_files_is_an_error() {
    let work = Work::new();
    work.write("exports/readme.md", "notes");
    work.write("exports/statement.pdf", "%PDF-1.4");
    let inc = format!("{INCENTIVE_HEADER}{INC_T1}");
    work.write("inc.csv", &inc);
    work.write("rules.toml", rules(""));
    let o = work.recon(&["run", "--rules", "rules.toml", "--consumption", "exports", "--incentives", "inc.csv", "--out", "out"]);
    assert_code(&o, 2);
    let e = error_line(&o);
    assert!(e.starts_with("error: exports: "), "{e}");
    assert_contains(&e, "holds no .csv, .xlsx, .xls, .json or .tar.gz file", &o);
}

// ---------------------------------------------------------------------------------------------
// Rules files
// ---------------------------------------------------------------------------------------------

// `rules(extra)` is 22 lines; `extra` starts on line 23. Its policy lines: timezone 4, rounding
// 6, counted 10; the `ecs` product's id is on line 20.

#[test]
fn rules_unknown_key() {
    let text = rules("\n[[product]]\nid = \"evs\"\nservice_type = \"hws.service.type.ebs\"\nrat = \"0.05\"\n");
    assert_rules_error(&text, 27, "rat", &["unknown field `rat`", "`rate`"]);
}

#[test]
fn rules_rate_outside_zero_one() {
    let text = rules("\n[[product]]\nid = \"evs\"\nservice_type = \"hws.service.type.ebs\"\nrate = \"1.5\"\n");
    assert_rules_error(&text, 27, "\"1.5\"", &["rate must lie between 0 and 1", "1.5"]);
}

#[test]
fn rules_rate_as_bare_number() {
    let text = rules("").replace("rate = \"0.06\"", "rate = 0.06");
    assert_rules_error(&text, 22, "0.06", &["0.06", "expected a string"]);
}

#[test]
fn rules_duplicate_product_id_mentions_the_first() {
    let text = rules("\n[[product]]\nid = \"ecs\"\nservice_type = \"hws.service.type.ebs\"\nrate = \"0.05\"\n");
    assert_rules_error(&text, 25, "\"ecs\"", &["\"ecs\" is used twice", "first at line 20"]);
}

#[test]
fn rules_unknown_counted_component() {
    let text = rules("").replace("counted = [\"cash_amount\"]", "counted = [\"cash_amount\", \"voucher_amount\"]");
    assert_rules_error(&text, 10, "\"voucher_amount\"", &["unknown payment component \"voucher_amount\"", "stored_value_card_amount"]);
}

#[test]
fn rules_valid_to_before_valid_from() {
    let text = rules("valid_from = \"2026-06-01\"\nvalid_to = \"2026-05-31\"\n");
    assert_rules_error(&text, 24, "\"2026-05-31\"", &["valid_to 2026-05-31 is before valid_from 2026-06-01"]);
}

#[test]
fn rules_bad_timezone() {
    let text = rules("").replace("timezone = \"+08:00\"", "timezone = \"Asia/Shanghai\"");
    assert_rules_error(&text, 4, "\"Asia/Shanghai\"", &["policy.timezone", "+08:00", "Asia/Shanghai"]);
}

#[test]
fn rules_unknown_rounding() {
    let text = rules("").replace("rounding = \"half_up\"", "rounding = \"nearest\"");
    assert_rules_error(&text, 6, "\"nearest\"", &["policy.rounding", "half_up, half_even, down", "nearest"]);
}

#[test]
fn rules_invalid_toml_syntax() {
    let text = rules("\n[[product]]\nid = \"evs\"\nservice_type = hws.service.type.ebs\nrate = \"0.05\"\n");
    assert_rules_error(&text, 26, "hws.service.type.ebs", &["invalid string"]);
}

#[test]
fn rules_unknown_columns_kind() {
    let text = rules("\n[columns.invoices]\ntrade_id = [\"单号\"]\n");
    assert_rules_error(&text, 24, "invoices", &["unknown input kind [columns.invoices]", "consumption, incentives, bills or customers"]);
}

#[test]
fn rules_unknown_column_name() {
    let text = rules("\n[columns.consumption]\norder_number = [\"单号\"]\n");
    assert_rules_error(&text, 25, "order_number", &["consumption has no column \"order_number\"", "trade_id"]);
}

#[test]
fn invalid_rules_stop_a_run_before_any_data_is_read() {
    let work = Work::new();
    work.write("rules.toml", rules("").replace("rounding = \"half_up\"", "rounding = \"nearest\""));
    // (whatever the formats: deciding whether to stream lists the inputs, which must not fail first)
    for formats in [&[][..], &["--format", "csv,json"], &["--format", "csv,json,xlsx,html"]] {
        let o = work.recon(&[&["run", "--rules", "rules.toml", "--consumption", "missing.csv", "--incentives", "missing2.csv", "--out", "out"][..], formats].concat());
        assert_code(&o, 2);
        let e = error_line(&o);
        assert!(e.starts_with("error: rules.toml:6:12: "), "{formats:?}: {e}");
    }
}

#[test]
fn valid_rules_are_printed() {
    let work = Work::new();
    let text = rules(
        "charging_modes = [\"包年/包月\"]\n\n\
         [[product]]\nid = \"rds-2026h2\"\nservice_type = \"hws.service.type.rds\"\nrate = \"0.08\"\n\
         valid_from = \"2026-07-01\"\nvalid_to = \"2026-12-31\"\nlag_months = 1\n",
    );
    work.write("rules.toml", &text);
    let o = work.recon(&["check-rules", "rules.toml"]);
    assert_code(&o, 0);
    assert_eq!(stderr(&o), "");
    let out = stdout(&o);
    let lines: Vec<String> = out.lines().map(|l| l.split_whitespace().collect::<Vec<_>>().join(" ")).collect();
    assert_eq!(lines[0], "rules.toml: ok", "{out}");
    assert!(lines[1].starts_with("test policy t1 (2 products, time zone +08:00, scale 2, half_up, tolerance 0.01)"), "{out}");
    assert!(lines.iter().any(|l| l == "counted as 业绩: cash_amount"), "{out}");
    assert!(lines.iter().any(|l| l == "ecs hws.service.type.ec2 包年/包月 rate 0.06 lag 0"), "{out}");
    assert!(lines.iter().any(|l| l == "rds-2026h2 hws.service.type.rds any rate 0.08 2026-07-01..2026-12-31 lag 1"), "{out}");
}

#[test]
fn user_column_alias_lets_a_file_load() {
    let header = CONSUMPTION_HEADER.replace("trade_id", "单号");
    let cons = format!("{header}{CONS_T1}");
    let inc = format!("{INCENTIVE_HEADER}{INC_T1}");

    // Without the alias the file lacks trade_id.
    let work = Work::new();
    let o = run_with(&work, &rules(""), ("cons.csv", cons.as_bytes()), ("inc.csv", inc.as_bytes()), &[]);
    assert_code(&o, 2);
    assert_contains(&error_line(&o), "no column trade_id", &o);

    // With it, the file loads and the trade is reconciled.
    let work = Work::new();
    let with_alias = rules("\n[columns.consumption]\ntrade_id = [\"单号\"]\n");
    let o = run_with(&work, &with_alias, ("cons.csv", cons.as_bytes()), ("inc.csv", inc.as_bytes()), &[]);
    assert_ne!(code(&o), 2, "{}", show(&o));
    assert_eq!(finding(&findings(&work), "T1")["category"], "MATCHED");

    // A file with neither header lists the user's alias first among the accepted ones.
    let work = Work::new();
    let other = format!("{}{CONS_T1}", CONSUMPTION_HEADER.replace("trade_id", "order_no"));
    let o = run_with(&work, &with_alias, ("cons.csv", other.as_bytes()), ("inc.csv", inc.as_bytes()), &[]);
    assert_code(&o, 2);
    assert_contains(&error_line(&o), "(accepted headers: 单号, trade_id, order_id, 订单号/交易号, 订单号, 交易号)", &o);
}

// ---------------------------------------------------------------------------------------------
// Scope and exit status
// ---------------------------------------------------------------------------------------------

#[test]
fn period_without_statement_rows_counts_as_loaded() {
    // Naming a period declares its statement loaded even when it has no rows (a statement that
    // paid nothing): its expected keys are MISSING_INCENTIVE, not silently absent.
    let work = Work::new();
    let cons = format!("{CONSUMPTION_HEADER}{CONS_T1}2026-11,C2,代售,hws.service.type.ec2,包年/包月,T2,2026-11-06 10:00:00,100.00,100.00,0\n");
    let inc = format!("{INCENTIVE_HEADER}{INC_T1}");
    let o = run_with(&work, &rules(""), ("cons.csv", cons.as_bytes()), ("inc.csv", inc.as_bytes()), &["--period", "2026-11"]);
    assert_code(&o, 1);
    let all = findings(&work);
    let t2 = finding(&all, "T2");
    assert_eq!((t2["category"].as_str(), t2["period"].as_str(), t2["action"].as_str()), ("MISSING_INCENTIVE", "2026-11", "dispute"));
    assert!(findings(&work).iter().all(|f| f["trade_id"] != "T1"), "2026-10 is out of scope");
}

#[test]
fn exit_zero_turns_needs_action_into_zero() {
    // T2 earns 6.00 that the statement does not pay: a dispute.
    let cons = format!("{CONSUMPTION_HEADER}{CONS_T1}2026-10,C2,代售,hws.service.type.ec2,包年/包月,T2,2026-10-06 10:00:00,100.00,100.00,0\n");
    let inc = format!("{INCENTIVE_HEADER}{INC_T1}");

    let work = Work::new();
    let o = run_with(&work, &rules(""), ("cons.csv", cons.as_bytes()), ("inc.csv", inc.as_bytes()), &[]);
    assert_code(&o, 1);
    assert_eq!(finding(&findings(&work), "T2")["action"], "dispute");

    let work = Work::new();
    let o = run_with(&work, &rules(""), ("cons.csv", cons.as_bytes()), ("inc.csv", inc.as_bytes()), &["--exit-zero"]);
    assert_code(&o, 0);
    assert_eq!(finding(&findings(&work), "T2")["action"], "dispute", "the findings are the same");

    // An error stays an error.
    let work = Work::new();
    let o = run_with(&work, &rules(""), ("cons.csv", cons.as_bytes()), ("inc.csv", inc.as_bytes()), &["--exit-zero", "--period", "2025-13"]);
    assert_code(&o, 2);
}
