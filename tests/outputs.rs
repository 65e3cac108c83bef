//! Issue 18, the outputs: rules errors that say what is wrong, values too long for a workbook
//! cell, CSV cells that Excel would run as formulas, and an --out directory that always holds one
//! whole report (staged, moved into place at the end, locked, cleaned of leftovers).

mod common;

use common::*;

/// Every rules error says what is wrong and what was expected, from the command line: a value
/// missing at the end of the file, a control character in a comment, a file that is not UTF-8.
#[test]
fn check_rules_says_what_is_wrong() {
    let w = Work::new();
    let cases: [(&[u8], &str, &str); 4] = [
        (b"[policy]\nname =", "r.toml:2:7: the value of \"name\" is missing after `=`; expected a value", "    2 | name ="),
        (b"[policy]\nname = \"x\"\n# bad \x01 comment\n", "r.toml:3:7: control character U+0001 is not allowed", "# bad \u{2401} comment"),
        (b"[policy]\nname = \"\xB2\xE2\"\n", "r.toml:2:9: byte 0xB2 is not UTF-8; a rules file must be saved as UTF-8 text (it looks like GBK)", "    2 | name = "),
        (b"[policy]\nname = \"x\n", "r.toml:2:10: invalid basic string: it is not closed", "    2 | name = \"x"),
    ];
    for (text, message, line) in cases {
        w.write("r.toml", text);
        let o = w.recon(&["check-rules", "r.toml"]);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{err}");
        assert!(err.contains(message), "{err}");
        assert!(err.contains(line) && err.contains('^'), "{err}");
        // every error line has words after the location
        let first = err.lines().next().unwrap_or_default();
        assert!(first.split(": ").nth(1).is_some_and(|m| !m.trim().is_empty()), "{err}");
    }
}

/// A value too long for a workbook cell (Excel's 32,767 characters): a customer name and a
/// rules `reason` are cut in report.xlsx and disputes.xlsx with a marker and kept whole in the
/// CSVs; the run does not fail, in memory or streamed (same bytes).
#[test]
fn a_value_too_long_for_a_cell_is_cut_in_the_workbooks_only() {
    use calamine::{open_workbook_auto, Data, Reader};
    let w = Work::new();
    let reason = "理由".repeat(20_000);
    w.write("rules.toml", rules(&format!("\n[[product]]\nid = \"free\"\nservice_type = \"hws.service.type.free\"\nrate = \"0\"\nreason = \"{reason}\"\n")));
    let name = format!("{}名", "N".repeat(40_000));
    let head = "bill_cycle,customer_id,customer_name,association_type,service_type_code,charging_mode,trade_id,trade_time,payment_amount,cash_amount\n";
    w.write("cons.csv", format!("{head}2026-10,C1,{name},resale,hws.service.type.ec2,1,T1,2026-10-05 10:00:00,100.00,100.00\n2026-10,C2,n2,resale,hws.service.type.free,1,T2,2026-10-05 10:00:00,100.00,100.00\n"));
    w.write("inc.csv", "incentive_period,trade_id,service_type_code,incentive_amount\n2026-10,T9,hws.service.type.ec2,1.00\n");
    let base = ["run", "--rules", "rules.toml", "--consumption", "cons.csv", "--incentives", "inc.csv"];
    let m = w.recon(&[&base[..], &["--out", "m", "--in-memory"]].concat());
    assert_eq!(m.status.code(), Some(1), "{}", stderr(&m));
    let s = w.recon(&[&base[..], &["--out", "s", "--streaming"]].concat());
    assert_eq!(s.status.code(), Some(1), "{}", stderr(&s));
    for f in ["findings.csv", "summary.json", "disputes.csv", "rejected.csv", "report.xlsx", "disputes.xlsx", "report.html"] {
        assert!(std::fs::read(w.path(&format!("m/{f}"))).expect("read") == std::fs::read(w.path(&format!("s/{f}"))).expect("read"), "{f}: streamed differs");
    }
    // whole in the CSVs
    let findings = read_csv(&w.path("m/findings.csv"));
    assert!(findings.iter().any(|f| f["customer_name"] == name), "findings.csv has the whole name");
    assert!(findings.iter().any(|f| f["explanation"].contains(&reason)), "findings.csv has the whole reason");
    assert!(read_csv(&w.path("m/disputes.csv")).iter().any(|d| d["客户名称"] == name));
    // cut in the workbooks, with the marker
    let texts = |file: &str, sheet: &str| -> Vec<String> {
        let mut wb = open_workbook_auto(w.path(file)).expect("open workbook");
        let range = wb.worksheet_range(sheet).expect("sheet");
        range.rows().flat_map(|r| r.iter().filter_map(|c| if let Data::String(s) = c { Some(s.clone()) } else { None }).collect::<Vec<_>>()).collect()
    };
    let cut_name = format!("{}…[cut: {} characters]", &name[..32_727], name.chars().count() - 32_727);
    for (file, sheet) in [("m/report.xlsx", "差异明细"), ("m/report.xlsx", "争议"), ("m/disputes.xlsx", "争议")] {
        let cells = texts(file, sheet);
        let long: Vec<&String> = cells.iter().filter(|c| c.chars().count() > 1000).collect();
        assert!(!long.is_empty(), "{file} {sheet}");
        for c in &long {
            assert!(c.encode_utf16().count() <= 32_767, "{file} {sheet}: {} units", c.encode_utf16().count());
            assert!(c.ends_with(" characters]") && c.contains("…[cut: "), "{file} {sheet}: no marker");
        }
        assert!(long.iter().any(|c| **c == cut_name), "{file} {sheet}: the name is cut");
    }
    assert!(texts("m/report.xlsx", "差异明细").iter().any(|c| c.contains("理由理由") && c.contains("…[cut: ")), "the reason is cut");
}

/// Text from the exports that a spreadsheet would run as a formula gets a leading `'` in every
/// CSV output (findings.csv, disputes.csv, rejected.csv); amounts stay numbers; the workbooks
/// show the text as it was, in memory and streamed; explain finds a finding by such a trade id.
#[test]
fn csv_cells_that_would_run_as_formulas_are_neutralised() {
    let w = Work::new();
    w.write("rules.toml", rules(""));
    let head = "bill_cycle,customer_id,customer_name,association_type,service_type_code,charging_mode,trade_id,trade_time,payment_amount,cash_amount\n";
    let ec2 = "hws.service.type.ec2";
    w.write(
        "cons.csv",
        format!("{head}2026-10,@SUM(A1),\"=HYPERLINK(\"\"http://x\"\",\"\"a\"\")\",resale,{ec2},1,-2+3,2026-10-05 10:00:00,100.00,100.00\n2026-10,C2,+cmd|' /C calc'!A0,resale,{ec2},1,T2,=1+1,100.00,100.00\n2026-10,C3,'-x,resale,{ec2},1,T3,2026-10-05 10:00:00,-3.20,-3.20\n"),
    );
    w.write("inc.csv", format!("incentive_period,trade_id,service_type_code,incentive_amount\n2026-10,T3,{ec2},-0.19\n"));
    let base = ["run", "--rules", "rules.toml", "--consumption", "cons.csv", "--incentives", "inc.csv"];
    let m = w.recon(&[&base[..], &["--out", "m", "--in-memory"]].concat());
    assert_eq!(m.status.code(), Some(1), "{}", stderr(&m));
    let s = w.recon(&[&base[..], &["--out", "s", "--streaming"]].concat());
    assert_eq!(s.status.code(), Some(1), "{}", stderr(&s));
    for f in ["findings.csv", "summary.json", "disputes.csv", "rejected.csv", "report.xlsx", "disputes.xlsx", "report.html"] {
        assert!(std::fs::read(w.path(&format!("m/{f}"))).expect("read") == std::fs::read(w.path(&format!("s/{f}"))).expect("read"), "{f}: streamed differs");
    }
    let findings = read_csv(&w.path("m/findings.csv"));
    let f1 = findings.iter().find(|f| f["trade_id"] == "'-2+3").expect("the finding of trade -2+3, neutralised");
    assert_eq!(f1["customer_id"], "'@SUM(A1)");
    assert_eq!(f1["customer_name"], "'=HYPERLINK(\"http://x\",\"a\")");
    assert_eq!(f1["delta"], "-6.00", "amounts are never neutralised");
    let f3 = findings.iter().find(|f| f["trade_id"] == "T3").expect("T3");
    assert_eq!(f3["customer_name"], "''-x", "an apostrophe before a formula character gets one more");
    assert!(f3["expected_base"].starts_with('-') && f3["actual_incentive"] == "-0.19", "{f3:?}");
    let disputes = read_csv(&w.path("m/disputes.csv"));
    let d1 = disputes.iter().find(|d| d["订单号/交易号"] == "'-2+3").expect("the dispute");
    assert_eq!(d1["客户名称"], "'=HYPERLINK(\"http://x\",\"a\")");
    assert_eq!(d1["差额"], "-6.00");
    let rejected = read_csv(&w.path("m/rejected.csv"));
    assert!(rejected.iter().any(|r| r["value"] == "'=1+1"), "{rejected:?}");
    // no text cell of any CSV output starts with a formula character
    for f in ["findings.csv", "disputes.csv", "rejected.csv"] {
        for row in read_csv(&w.path(&format!("m/{f}"))) {
            for (col, v) in &row {
                let amount = ["expected_base", "expected_incentive", "actual_base", "actual_incentive", "delta", "应得激励", "实得激励", "差额"].contains(&col.as_str());
                assert!(amount || !v.starts_with(['=', '+', '-', '@', '\t', '\r']), "{f} {col}: {v:?}");
            }
        }
    }
    // the workbook shows the text as it was (a plain string cell)
    use calamine::{open_workbook_auto, Data, Reader};
    let mut wb = open_workbook_auto(w.path("s/report.xlsx")).expect("open");
    let range = wb.worksheet_range("差异明细").expect("sheet");
    let cells: Vec<&Data> = range.rows().flatten().collect();
    assert!(cells.iter().any(|c| **c == Data::String("=HYPERLINK(\"http://x\",\"a\")".into())), "report.xlsx shows the name as it was");
    assert!(cells.iter().any(|c| **c == Data::String("-2+3".into())));
    // explain finds the finding by its restored trade id, from findings.csv (as a large run does)
    let id = &f1["finding_id"];
    let e = w.recon_env(&["explain", id, "--report", "s"], &[("RECON_AUTO_STREAMING_BYTES", "1")]);
    assert_eq!(e.status.code(), Some(0), "{}", stderr(&e));
    assert!(stdout(&e).contains("-2+3"), "{}", stdout(&e));
}
