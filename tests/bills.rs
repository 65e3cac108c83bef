//! The partner bill against resale consumption (contract §1.3 and the bill part of §3).

mod common;

use std::collections::HashMap;

use common::*;

const EC2: &str = "hws.service.type.ec2";

struct Run {
    code: i32,
    findings: Vec<HashMap<String, String>>,
    summary: serde_json::Value,
    stdout: String,
}

impl Run {
    fn bills(&self) -> Vec<&HashMap<String, String>> {
        self.findings.iter().filter(|f| f["category"].starts_with("BILL_")).collect()
    }

    fn bill(&self, trade: &str) -> &HashMap<String, String> {
        let v: Vec<_> = self.bills().into_iter().filter(|f| f["trade_id"] == trade).collect();
        assert_eq!(v.len(), 1, "one bill finding for {trade}: {:#?}", self.bills());
        v[0]
    }

    fn cycle(&self, c: &str) -> &serde_json::Value {
        self.summary["bills"].as_array().and_then(|a| a.iter().find(|b| b["bill_cycle"] == c)).unwrap_or_else(|| panic!("no bill cycle {c}: {}", self.summary["bills"]))
    }
}

fn run(cons: &str, bills: &[(&str, Vec<u8>)], customers: Option<&str>) -> Run {
    let w = Work::new();
    w.write("rules.toml", rules(""));
    w.write("cons.csv", format!("{CONSUMPTION_HEADER}{cons}"));
    w.write("inc.csv", format!("{INCENTIVE_HEADER}2026-10,I0,T0,{EC2},0,6%,0.00\n"));
    let mut args = vec!["run", "--rules", "rules.toml", "--consumption", "cons.csv", "--incentives", "inc.csv", "--out", "out", "--format", "csv,json", "--bills"];
    for (name, bytes) in bills {
        w.write(name, bytes);
        args.push(name);
    }
    if let Some(c) = customers {
        w.write("customers.csv", c);
        args.extend(["--customers", "customers.csv"]);
    }
    let o = w.recon(&args);
    let code = o.status.code().unwrap_or(-1);
    assert_ne!(code, 2, "{}{}", stdout(&o), stderr(&o));
    Run {
        code,
        findings: read_csv(&w.path("out/findings.csv")),
        summary: serde_json::from_str(&w.read("out/summary.json")).expect("summary"),
        stdout: stdout(&o),
    }
}

const BILL_HEADER: &str = "客户ID,账期,计费模式,产品类型编码,订单号/交易号,应付金额\n";

fn cons_rows() -> String {
    [
        format!("2026-10,C1,resale,{EC2},1,T1,2026-10-05 10:00:00,100.00,100.00,0"),
        format!("2026-10,C1,resale,{EC2},1,T2,2026-10-05 10:00:00,100.00,100.00,0"),
        format!("2026-10,C1,resale,{EC2},1,T3,2026-10-05 10:00:00,100.00,100.00,0"),
        format!("2026-10,C1,resale,{EC2},1,T4,2026-10-05 10:00:00,100.00,100.00,0"),
        format!("2026-10,C2,referral,{EC2},3,T6,2026-10-05 10:00:00,70.00,70.00,0"),
        format!("2026-09,C1,resale,{EC2},1,T9,2026-09-05 10:00:00,100.00,100.00,0"),
    ]
    .join("\n")
        + "\n"
}

#[test]
fn each_bill_category_and_totals_that_close() {
    // bill coding: 0 包年/包月, 1 按需
    let bill = format!(
        "{BILL_HEADER}C1,2026-10,0,{EC2},T1,100.00\nC1,2026-10,0,{EC2},T2,100.004\nC1,2026-10,0,{EC2},T3,90.00\nC1,2026-10,0,{EC2},T5,12.00\nC2,2026-10,1,{EC2},T6,70.00\n"
    );
    let r = run(&cons_rows(), &[("bill.csv", bill.into_bytes())], None);
    let cat = |t: &str| (r.bill(t)["category"].clone(), r.bill(t)["action"].clone(), r.bill(t)["delta"].clone());
    assert_eq!(cat("T1"), ("BILL_MATCHED".into(), "none".into(), "0.00".into()));
    assert_eq!(cat("T2"), ("BILL_ROUNDING".into(), "none".into(), "0.004".into()));
    assert_eq!(cat("T3"), ("BILL_AMOUNT_MISMATCH".into(), "review".into(), "-10.00".into()));
    assert_eq!(cat("T4"), ("BILL_MISSING_LINE".into(), "review".into(), "-100.00".into()));
    assert_eq!(cat("T5"), ("BILL_EXTRA_LINE".into(), "review".into(), "12.00".into()));
    assert_eq!(cat("T6"), ("BILL_NOT_RESALE".into(), "review".into(), "70.00".into()));
    assert_eq!(r.code, 1);
    let t3 = r.bill("T3");
    assert!(t3["finding_id"].starts_with('B') && t3["finding_id"].len() == 13);
    assert_eq!((t3["expected_base"].as_str(), t3["actual_base"].as_str()), ("100.00", "90.00"));
    assert!(t3["explanation"].contains("C1") && t3["explanation"].contains("100.00") && t3["explanation"].contains("90.00"), "{}", t3["explanation"]);
    assert!(t3["explanation"].contains("grain: customer_id,service_type_code,charging_mode,trade_id"), "{}", t3["explanation"]);
    assert_eq!(t3["incentive_rows"], "bill.csv:4", "bill findings cite their bill lines");
    assert_eq!(t3["consumption_rows"], "cons.csv:4");
    // totals: resale consumption 400, bill 372.004, difference = Σ category deltas
    let c = r.cycle("2026-10");
    assert_eq!((c["consumption_total"].as_str(), c["bill_total"].as_str(), c["difference"].as_str()), (Some("400.00"), Some("372.004"), Some("-27.996")));
    assert_eq!(c["referral_consumption"], "70.00");
    let sum: rust_decimal::Decimal = c["categories"].as_object().expect("cats").values().map(|v| v["delta"].as_str().unwrap_or("x").parse::<rust_decimal::Decimal>().expect("dec")).sum();
    assert_eq!(sum.to_string(), "-27.996");
    assert!(r.stdout.contains("Partner bill 2026-10"), "{}", r.stdout);
}

#[test]
fn a_bill_cycle_absent_from_the_bills_yields_no_bill_findings() {
    let bill = format!("{BILL_HEADER}C1,2026-10,0,{EC2},T1,100.00\n");
    let r = run(&cons_rows(), &[("bill.csv", bill.into_bytes())], None);
    assert!(r.bills().iter().all(|f| f["period"] == "2026-10"));
    assert!(r.bills().iter().all(|f| f["trade_id"] != "T9"), "cycle 2026-09 has no bill");
    assert_eq!(r.summary["bills"].as_array().map(Vec::len), Some(1));
}

#[test]
fn grain_falls_back_when_the_bill_has_no_trade_id() {
    let bill = format!("客户ID,账期,计费模式,产品类型编码,应付金额\nC1,2026-10,0,{EC2},400.00\n");
    let r = run(&cons_rows(), &[("bill.csv", bill.into_bytes())], None);
    let b = r.bills();
    let resale: Vec<_> = b.iter().filter(|f| f["customer_id"] == "C1").collect();
    assert_eq!(resale.len(), 1, "{b:#?}");
    assert_eq!((resale[0]["category"].as_str(), resale[0]["trade_id"].as_str()), ("BILL_MATCHED", ""));
    assert!(resale[0]["rule_ids"].ends_with("grain:customer_id,service_type_code,charging_mode"), "{}", resale[0]["rule_ids"]);
    assert_eq!(r.cycle("2026-10")["grain"].as_array().map(Vec::len), Some(3));
}

#[test]
fn grain_falls_back_when_consumption_has_no_charging_mode() {
    let w = Work::new();
    w.write("rules.toml", rules(""));
    w.write("cons.csv", format!("customer_id,association_type,service_type_code,trade_id,trade_time,cash_amount\nC1,resale,{EC2},T1,2026-10-05 10:00:00,100.00\n"));
    w.write("inc.csv", format!("{INCENTIVE_HEADER}2026-10,I1,T1,{EC2},100,6%,6.00\n"));
    w.write("bill.csv", format!("{BILL_HEADER}C1,2026-10,0,{EC2},T1,100.00\n"));
    let o = w.recon(&["run", "--rules", "rules.toml", "--consumption", "cons.csv", "--incentives", "inc.csv", "--bills", "bill.csv", "--out", "out"]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    let f = read_csv(&w.path("out/findings.csv"));
    let b = f.iter().find(|f| f["category"] == "BILL_MATCHED").expect("matched");
    assert!(b["rule_ids"].ends_with("grain:customer_id,service_type_code,trade_id"), "{}", b["rule_ids"]);
    assert_eq!(b["charging_mode"], "");
}

#[test]
fn the_tar_gz_delivery_and_xlsx_exports_are_read() {
    // the demo ships customerBill_202610.tar.gz: two CSV parts read in memory
    let w = Work::new();
    let o = w.recon(&["demo", "--out", "out"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let f = read_csv(&w.path("out/findings.csv"));
    let mismatch = f.iter().find(|f| f["category"] == "BILL_AMOUNT_MISMATCH").expect("mismatch");
    assert_eq!(mismatch["incentive_rows"], "fixtures/demo/bills/customerBill_202610.tar.gz/customerBill_202610_0001.csv:3");
    for cat in ["BILL_MATCHED", "BILL_ROUNDING", "BILL_AMOUNT_MISMATCH", "BILL_MISSING_LINE", "BILL_EXTRA_LINE", "BILL_NOT_RESALE"] {
        assert!(f.iter().any(|x| x["category"] == cat), "demo has no {cat}");
    }
    // an XLSX bill export, with text charging modes and numeric amount cells
    let book = std::fs::read(repo().join("tests/fixtures/bill.xlsx")).expect("bill.xlsx");
    let cons = format!(
        "2026-10,C1,resale,{EC2},3,T1,2026-10-05 10:00:00,100.50,100.50,0\n2026-10,C1,resale,{EC2},1,T2,2026-10-05 10:00:00,0.123456,0.123456,0\n"
    );
    let r = run(&cons, &[("bill.xlsx", book)], None);
    assert_eq!(r.bill("T1")["category"], "BILL_MATCHED");
    assert_eq!(r.bill("T2")["category"], "BILL_MATCHED");
    assert_eq!(r.bill("T2")["actual_base"], "0.123456");
    assert_eq!(r.bill("T1")["incentive_rows"], "bill.xlsx!账单明细:2");
}

#[test]
fn the_customers_file_decides_who_is_resale() {
    // C1's rows say referral, the customers file says resale: the file wins.
    let cons = format!("2026-10,C1,referral,{EC2},1,T1,2026-10-05 10:00:00,100.00,100.00,0\n");
    let bill = format!("{BILL_HEADER}C1,2026-10,0,{EC2},T1,100.00\n");
    let r = run(&cons, &[("bill.csv", bill.into_bytes())], Some("customer_id,association_type\nC1,代售\n"));
    assert_eq!(r.bill("T1")["category"], "BILL_MATCHED");
}
