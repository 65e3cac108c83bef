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
