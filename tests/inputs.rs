//! Input forms of contract §1: tar.gz deliveries read in memory, directories in name order,
//! workbook cells read exactly, API JSON bodies with numeric codes.

mod common;

use std::io::Write;

use common::*;

const EC2: &str = "hws.service.type.ec2";

fn statement(rows: &[(&str, &str)]) -> String {
    let mut s = String::from("incentive_period,trade_id,service_type_code,incentive_amount\n");
    for (t, a) in rows {
        s.push_str(&format!("2026-10,{t},{EC2},{a}\n"));
    }
    s
}

#[test]
fn tar_gz_of_csv_parts_is_read_in_memory_and_cited_by_part() {
    let w = Work::new();
    w.write("rules.toml", rules(""));
    let part = |t: &str| format!("{CONSUMPTION_HEADER}2026-10,C1,resale,{EC2},1,{t},2026-10-05 10:00:00,100.00,100.00,0\n");
    // parts deliberately stored out of name order
    w.write("customerBill_202610.tar.gz", tar_gz(&[("customerBill_202610_0002.csv", part("T2")), ("customerBill_202610_0001.csv", part("T1"))]));
    w.write("inc.csv", statement(&[("T1", "6.00"), ("T2", "6.00")]));
    let o = w.recon(&["run", "--rules", "rules.toml", "--consumption", "customerBill_202610.tar.gz", "--incentives", "inc.csv", "--out", "out"]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    let f = read_csv(&w.path("out/findings.csv"));
    let t1 = f.iter().find(|f| f["trade_id"] == "T1").expect("T1");
    assert_eq!(t1["consumption_rows"], "customerBill_202610.tar.gz/customerBill_202610_0001.csv:2");
    let summary: serde_json::Value = serde_json::from_str(&w.read("out/summary.json")).expect("json");
    let input = &summary["inputs"][0];
    assert_eq!((input["path"].as_str(), input["rows"].as_u64(), input["format"].as_str()), (Some("customerBill_202610.tar.gz"), Some(2), Some("tar.gz")));
    // nothing was unpacked next to the archive
    let entries: Vec<_> = std::fs::read_dir(w.dir.path()).expect("ls").filter_map(|e| e.ok()).map(|e| e.file_name()).collect();
    assert!(entries.iter().all(|e| !e.to_string_lossy().ends_with("_0001.csv")), "{entries:?}");
}

#[test]
fn directory_is_read_in_name_order_with_mixed_formats() {
    let w = Work::new();
    w.write("rules.toml", rules(""));
    w.write("cons/b.csv", format!("{CONSUMPTION_HEADER}2026-10,C1,resale,{EC2},1,T2,2026-10-05 10:00:00,100.00,100.00,0\n"));
    w.write("cons/a.json", format!(r#"{{"fee_records": [{{"customer_id": "C1", "association_type": "2", "service_type_code": "{EC2}", "charging_mode": 1, "trade_id": "T1", "trade_time": "2026-10-05T02:00:00Z", "payment_amount": 100.00, "cash_amount": 100.00}}]}}"#));
    w.write("cons/notes.md", "ignored: not a supported file");
    w.write("inc.csv", statement(&[("T1", "6.00"), ("T2", "6.00")]));
    let o = w.recon(&["run", "--rules", "rules.toml", "--consumption", "cons", "--incentives", "inc.csv", "--out", "out"]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    let summary: serde_json::Value = serde_json::from_str(&w.read("out/summary.json")).expect("json");
    assert_eq!(summary["inputs"][0]["path"], "cons/a.json");
    assert_eq!(summary["inputs"][1]["path"], "cons/b.csv");
    let f = read_csv(&w.path("out/findings.csv"));
    assert_eq!(f.iter().find(|f| f["trade_id"] == "T1").map(|f| f["consumption_rows"].clone()), Some("cons/a.json:fee_records[0]".into()));
}

#[test]
fn api_json_codes_and_utc_times() {
    let w = Work::new();
    w.write("rules.toml", rules("\n[[product]]\nid = \"ri\"\nservice_type = \"hws.service.type.rds\"\ncharging_modes = [\"预留实例\"]\nrate = \"0.10\"\n"));
    // charging_mode 10 = 预留实例, association "1" = referral; 2026-10-31T16:00:00Z is
    // 2026-11-01 00:00 in Beijing: bill cycle 2026-11, derived from the UTC time.
    w.write(
        "cons.json",
        r#"{"fee_records": [
 {"customer_id": "C1", "association_type": "1", "service_type_code": "hws.service.type.rds", "charging_mode": 10, "trade_id": "T1", "trade_time": "2026-10-05T02:00:00Z", "payment_amount": 50.5, "cash_amount": 50.5},
 {"customer_id": "C1", "association_type": "1", "service_type_code": "hws.service.type.rds", "charging_mode": 11, "trade_id": "T2", "trade_time": "2026-10-05T02:00:00Z", "payment_amount": 10, "cash_amount": 10},
 {"customer_id": "C1", "association_type": "1", "service_type_code": "hws.service.type.rds", "charging_mode": 10, "trade_id": "T3", "trade_time": "2026-10-31T16:00:00Z", "payment_amount": 10, "cash_amount": 10}
]}"#,
    );
    w.write("inc.csv", "incentive_period,trade_id,service_type_code,incentive_amount,charging_mode\n2026-10,T1,hws.service.type.rds,5.05,10\n");
    let o = w.recon(&["run", "--rules", "rules.toml", "--consumption", "cons.json", "--incentives", "inc.csv", "--out", "out"]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    let f = read_csv(&w.path("out/findings.csv"));
    let t1 = f.iter().find(|f| f["trade_id"] == "T1").expect("T1");
    assert_eq!((t1["category"].as_str(), t1["charging_mode"].as_str()), ("MATCHED", "预留实例"));
    let t2 = f.iter().find(|f| f["trade_id"] == "T2").expect("T2");
    assert_eq!((t2["category"].as_str(), t2["charging_mode"].as_str()), ("INELIGIBLE_PRODUCT", "节省计划"));
    // T3 is in bill cycle 2026-11 (no statement loaded): no finding, and not in 2026-10's total
    assert!(f.iter().all(|f| f["trade_id"] != "T3"));
    let summary: serde_json::Value = serde_json::from_str(&w.read("out/summary.json")).expect("json");
    assert_eq!(summary["periods"][0]["waterfall"]["consumption_total"], "60.50");
}

#[test]
fn workbook_numbers_keep_their_shortest_decimal_text() {
    let w = Work::new();
    w.write("rules.toml", rules(""));
    let book = repo().join("tests/fixtures/precise.xlsx");
    w.write("inc.csv", statement(&[("T1", "0.01"), ("T2", "74.07"), ("T3", "6.00")]));
    let o = w.recon(&["run", "--rules", "rules.toml", "--consumption", book.to_str().unwrap_or_default(), "--sheet", "明细", "--incentives", "inc.csv", "--out", "out"]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    let f = read_csv(&w.path("out/findings.csv"));
    let get = |t: &str| f.iter().find(|f| f["trade_id"] == t).cloned().expect(t);
    assert_eq!(get("T1")["expected_base"], "0.123456");
    assert_eq!(get("T2")["expected_base"], "1234.5678");
    assert!(get("T2")["consumption_rows"].ends_with("precise.xlsx!明细:3"), "{}", get("T2")["consumption_rows"]);
    assert_eq!(get("T3")["category"], "MATCHED");
    // the first sheet is header-only: read by default, it reconciles nothing
    let o = w.recon(&["run", "--rules", "rules.toml", "--consumption", book.to_str().unwrap_or_default(), "--incentives", "inc.csv", "--out", "out2"]);
    assert_ne!(o.status.code(), Some(2), "{}", stderr(&o));
    let o = w.recon(&["run", "--rules", "rules.toml", "--consumption", book.to_str().unwrap_or_default(), "--sheet", "nope", "--incentives", "inc.csv", "--out", "out3"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("no sheet named \"nope\"") && stderr(&o).contains("明细"), "{}", stderr(&o));
}

#[test]
fn gbk_and_bom_csv_are_detected() {
    let w = Work::new();
    w.write("rules.toml", rules(""));
    let text = format!("账期,客户ID,产品类型编码,计费模式,订单号,交易时间,现金支付金额\n2026-10,C1,{EC2},包年/包月,T1,2026/10/05 10:00:00,\"1,000.00\"\n");
    let (gbk, _, _) = encoding_rs::GBK.encode(&text);
    w.write("cons.csv", gbk.as_ref());
    let mut bom = b"\xEF\xBB\xBF".to_vec();
    bom.write_all("对账期次,订单号/交易号,产品类型编码,激励金额\n2026年10月,T1,hws.service.type.ec2,¥60.00\n".as_bytes()).expect("write");
    w.write("inc.csv", bom);
    let o = w.recon(&["run", "--rules", "rules.toml", "--consumption", "cons.csv", "--incentives", "inc.csv", "--out", "out"]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    let f = read_csv(&w.path("out/findings.csv"));
    assert_eq!((f[0]["category"].as_str(), f[0]["expected_base"].as_str()), ("MATCHED", "1000.00"));
}

/// A large CSV without quotes is read in parallel parts (each at least 1 MiB): rejections and
/// citations must still name the physical line, in every part, and rows keep their order.
#[test]
fn a_large_csv_read_in_parts_cites_the_right_lines() {
    let w = Work::new();
    w.write("rules.toml", rules(""));
    let n = 40_000; // ~4 MB: split into parts on any machine with two or more threads
    let bad = [7usize, 13_001, 26_002, 39_999]; // data rows whose amount is unreadable
    let mut cons = String::from(CONSUMPTION_HEADER);
    let mut inc = String::from("incentive_period,trade_id,service_type_code,incentive_amount\n");
    for i in 1..=n {
        let amount = if bad.contains(&i) { "12,3x4".to_string() } else { "100.00".to_string() };
        cons.push_str(&format!("2026-10,C{},resale,{EC2},1,T{i:06},2026-10-05 10:00:00,{amount},{amount},0\n", i % 97));
        if i % 1000 == 0 {
            cons.push('\n'); // a blank line: not a row, but it counts as a line
        }
        inc.push_str(&format!("2026-10,T{i:06},{EC2},6.00\n"));
    }
    w.write("cons.csv", &cons);
    w.write("inc.csv", &inc);
    let o = w.recon(&["run", "--rules", "rules.toml", "--consumption", "cons.csv", "--incentives", "inc.csv", "--out", "out"]);
    assert_eq!(o.status.code(), Some(1), "{}{}", stdout(&o), stderr(&o));
    // data row i sits on line i + 1 (the header) + the blank lines before it
    let line = |i: usize| i + 1 + (i - 1) / 1000;
    let rejected = read_csv(&w.path("out/rejected.csv"));
    let got: Vec<String> = rejected.iter().map(|r| r["location"].clone()).collect();
    let want: Vec<String> = bad.iter().map(|&i| line(i).to_string()).collect();
    assert_eq!(got, want);
    let f = read_csv(&w.path("out/findings.csv"));
    assert_eq!(f.len(), n);
    for i in [1, 999, 1000, 1001, 20_000, 20_001, 33_333, n] {
        let t = format!("T{i:06}");
        let row = f.iter().find(|r| r["trade_id"] == t).expect("finding");
        assert_eq!(row["consumption_rows"], format!("cons.csv:{}", line(i)), "{t}");
        assert_eq!(row["incentive_rows"], format!("inc.csv:{}", i + 1), "{t}");
        assert_eq!(row["customer_id"], format!("C{}", i % 97), "{t}");
    }
    let summary: serde_json::Value = serde_json::from_str(&w.read("out/summary.json")).expect("json");
    assert_eq!(summary["inputs"][0]["rows"].as_u64(), Some(n as u64));
    assert_eq!(summary["inputs"][0]["rejected"].as_u64(), Some(bad.len() as u64));
}
