//! Inputs as a partner's month-end folder holds them (issue 17, contract §1): notes and other
//! files beside the exports, empty API pages, exports with both 订单号 and 交易号, partner bill
//! bodies from the API, 代售 customers missing from the customers file; and the help and the
//! demo a newcomer meets first. Each case runs in memory and streamed, which write the same bytes.

mod common;

use common::*;

const EC2: &str = "hws.service.type.ec2";
const OUTPUTS: [&str; 4] = ["findings.csv", "summary.json", "disputes.csv", "rejected.csv"];

/// Runs `args` (plus `--out`) in memory and streamed in two partitions, checks they write the same
/// bytes, and returns the in-memory run's output and directory name.
fn both_ways(w: &Work, args: &[&str], code: i32) -> std::process::Output {
    let m = w.recon(&[args, &["--out", "m", "--in-memory"]].concat());
    assert_eq!(m.status.code(), Some(code), "in memory\n{}{}", stdout(&m), stderr(&m));
    let s = w.recon(&[args, &["--out", "s", "--streaming", "--partitions", "2"]].concat());
    assert_eq!(s.status.code(), Some(code), "streamed\n{}{}", stdout(&s), stderr(&s));
    for f in OUTPUTS {
        let (a, b) = (std::fs::read(w.path("m").join(f)).expect("read"), std::fs::read(w.path("s").join(f)).expect("read"));
        assert!(a == b, "{f} differs in memory / streamed\n{}\n---\n{}", String::from_utf8_lossy(&a), String::from_utf8_lossy(&b));
    }
    m
}

fn summary(w: &Work, dir: &str) -> serde_json::Value {
    serde_json::from_str(&w.read(&format!("{dir}/summary.json"))).expect("summary.json")
}

fn findings(w: &Work, dir: &str) -> Vec<std::collections::HashMap<String, String>> {
    read_csv(&w.path(&format!("{dir}/findings.csv")))
}

fn gbk(text: &str) -> Vec<u8> {
    encoding_rs::GBK.encode(text).0.into_owned()
}

fn one_statement(w: &Work, rows: &[(&str, &str)]) {
    let mut s = String::from("incentive_period,trade_id,service_type_code,incentive_amount\n");
    for (t, a) in rows {
        s.push_str(&format!("2026-10,{t},{EC2},{a}\n"));
    }
    w.write("inc.csv", s);
}

/// A directory's notes, PDFs, hidden files, Excel lock files, links and subdirectories are skipped
/// and listed (stdout and summary.json); a file named on the command line is read whatever its
/// name.
#[test]
fn a_month_end_folder_reads_its_exports_and_lists_what_it_skipped() {
    let w = Work::new();
    w.write("rules.toml", rules(""));
    w.write("exports/consumption.csv", format!("{CONSUMPTION_HEADER}2026-10,C1,resale,{EC2},1,T1,2026-10-05 10:00:00,100.00,100.00,0\n"));
    w.write("exports/说明.txt", "本目录为 10 月导出\n");
    w.write("exports/激励政策.pdf", b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n");
    w.write("exports/.DS_Store", b"\0\0\0\x01Bud1\0\0\x10\0");
    w.write("exports/~$consumption.xlsx", b"\x0bowner name");
    w.write("exports/old/consumption_2026-09.csv", "not read: a subdirectory");
    w.write("elsewhere/secret.csv", "customer_id,password\nC1,hunter2\n");
    std::os::unix::fs::symlink(w.path("elsewhere/secret.csv"), w.path("exports/link.csv")).expect("symlink");
    one_statement(&w, &[("T1", "6.00")]);
    let m = both_ways(&w, &["run", "--rules", "rules.toml", "--consumption", "exports", "--incentives", "inc.csv"], 0);
    let out = stdout(&m);
    for name in ["exports/说明.txt", "exports/激励政策.pdf", "exports/.DS_Store", "exports/~$consumption.xlsx", "exports/old", "exports/link.csv"] {
        assert!(out.lines().any(|l| l.trim_start().starts_with("skipped") && l.contains(name)), "stdout does not list {name} as skipped:\n{out}");
    }
    assert!(!out.contains("hunter2") && !stderr(&m).contains("hunter2"), "the link's target was read");
    let s = summary(&w, "m");
    let skipped: Vec<(String, String)> = s["skipped"].as_array().expect("skipped").iter().map(|v| (v["path"].as_str().unwrap_or("").to_string(), v["reason"].as_str().unwrap_or("").to_string())).collect();
    assert_eq!(skipped.len(), 6, "{skipped:?}");
    assert!(skipped.iter().any(|(p, r)| p == "exports/link.csv" && r.contains("symbolic link")), "{skipped:?}");
    assert!(skipped.iter().any(|(p, r)| p == "exports/old" && r.contains("subdirector")), "{skipped:?}");
    assert_eq!(s["inputs"].as_array().map(Vec::len), Some(2), "only the export and the statement are inputs");

    // Named on the command line, a .txt is read as CSV, and a link is followed.
    w.write("named.txt", format!("{CONSUMPTION_HEADER}2026-10,C1,resale,{EC2},1,T1,2026-10-05 10:00:00,100.00,100.00,0\n"));
    let o = w.recon(&["run", "--rules", "rules.toml", "--consumption", "named.txt", "--incentives", "inc.csv", "--out", "t"]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    assert_eq!(findings(&w, "t")[0]["category"], "MATCHED");
    std::os::unix::fs::symlink(w.path("exports/consumption.csv"), w.path("linked.csv")).expect("symlink");
    let o = w.recon(&["run", "--rules", "rules.toml", "--consumption", "linked.csv", "--incentives", "inc.csv", "--out", "l"]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
}

/// A directory of nothing but notes is still an error naming it.
#[test]
fn a_folder_without_exports_is_an_error() {
    let w = Work::new();
    w.write("rules.toml", rules(""));
    w.write("exports/说明.txt", "nothing here");
    one_statement(&w, &[("T1", "6.00")]);
    let o = w.recon(&["run", "--rules", "rules.toml", "--consumption", "exports", "--incentives", "inc.csv", "--out", "out"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("exports") && stderr(&o).contains(".csv"), "{}", stderr(&o));
}

/// Empty API pages (past the last page, a customer without charges) are inputs with no rows, for
/// every kind and for top-level arrays; a JSON file with no row list is still an error.
#[test]
fn empty_api_pages_are_files_with_no_rows() {
    let w = Work::new();
    w.write("rules.toml", rules(""));
    // as the SDK writes them: amounts as bare numbers, charging_mode an int, association_type a string
    w.write(
        "cons/page_0001.json",
        format!(r#"{{"total_count":1,"currency":"CNY","fee_records":[{{"bill_cycle":"2026-10","customer_id":"C1","association_type":"2","service_type_code":"{EC2}","charging_mode":1,"bill_detail_type":1,"trade_id":"T1","trade_time":"2026-10-05T02:00:00Z","payment_amount":100,"cash_amount":100,"coupon_amount":0}}]}}"#),
    );
    w.write("cons/page_0002.json", r#"{"total_count":0,"currency":"CNY","fee_records":[]}"#);
    w.write("inc/a.csv", format!("incentive_period,trade_id,service_type_code,incentive_amount\n2026-10,T1,{EC2},6.00\n"));
    w.write("inc/b.json", "[]");
    w.write("customers/a.csv", "customer_id,association_type\nC1,代售\n");
    w.write("customers/b.json", r#"{"records": []}"#);
    w.write("bills/bills_2026-10.json", format!(r#"{{"bill_sums":[{{"customer_id":"C1","cloud_service_type":"{EC2}","charge_mode":"1","bill_type":"0","amount":100}}],"count":1,"currency":"CNY"}}"#));
    w.write("bills/bills_2026-10_p2.json", r#"{"bill_sums":[],"count":0,"currency":"CNY"}"#);
    let m = both_ways(&w, &["run", "--rules", "rules.toml", "--consumption", "cons", "--incentives", "inc", "--customers", "customers", "--bills", "bills"], 0);
    let s = summary(&w, "m");
    let rows = |path: &str| s["inputs"].as_array().and_then(|a| a.iter().find(|i| i["path"] == path)).map(|i| (i["rows"].as_u64(), i["rejected"].as_u64()));
    for empty in ["cons/page_0002.json", "inc/b.json", "customers/b.json", "bills/bills_2026-10_p2.json"] {
        assert_eq!(rows(empty), Some((Some(0), Some(0))), "{empty} is not an input with 0 rows: {}", s["inputs"]);
    }
    let f = findings(&w, "m");
    assert!(f.iter().any(|f| f["trade_id"] == "T1" && f["category"] == "MATCHED"), "{f:?}\n{}", stdout(&m));
    assert!(f.iter().any(|f| f["category"] == "BILL_MATCHED"), "{f:?}");

    // no row list at all: an error naming the file
    w.write("odd.json", r#"{"error_code":"CBC.0150","error_msg":"Access denied."}"#);
    let o = w.recon(&["run", "--rules", "rules.toml", "--consumption", "odd.json", "--incentives", "inc", "--out", "x"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("odd.json") && stderr(&o).contains("fee_records"), "{}", stderr(&o));
}

/// Subscription rows carry an order number, pay-per-use rows only a transaction number: the trade
/// id is the first non-empty of 订单号 and 交易号 (GBK CSV), or of trade_id and order_id (API body).
#[test]
fn a_trade_id_is_the_first_non_empty_of_its_columns() {
    let w = Work::new();
    w.write("rules.toml", rules(""));
    let cons = format!(
        "账期,客户ID,关联类型,产品类型编码,计费模式,订单号,交易号,客户交易时间,应付金额,现金支付金额\n\
         2026-10,C1,代售,{EC2},包年/包月,CS001,,2026-10-05 10:00:00 GMT+08:00,100.00,100.00\n\
         2026-10,C1,代售,{EC2},按需,,TX002,2026-10-06 10:00:00 GMT+08:00,50.00,50.00\n\
         2026-10,C1,代售,{EC2},按需,CS003,TX003,2026-10-07 10:00:00 GMT+08:00,10.00,10.00\n\
         2026-10,C1,代售,{EC2},按需,,,2026-10-08 10:00:00 GMT+08:00,10.00,10.00\n"
    );
    w.write("cons/gbk.csv", gbk(&cons));
    w.write(
        "cons/api.json",
        format!(r#"{{"fee_records":[
 {{"customer_id":"C1","association_type":"2","cloud_service_type":"{EC2}","charge_mode":"3","trade_id":"","order_id":"CS004","trade_time":"2026-10-09T02:00:00Z","amount":20,"cash_amount":20}},
 {{"customer_id":"C1","association_type":"2","cloud_service_type":"{EC2}","charge_mode":"3","trade_id":"TX005","order_id":"CS005","trade_time":"2026-10-09T02:00:00Z","amount":30,"cash_amount":30}}]}}"#),
    );
    let mut inc = String::from("对账期次,订单号/交易号,产品类型编码,激励金额\n");
    for (t, a) in [("CS001", "6.00"), ("TX002", "3.00"), ("CS003", "0.60"), ("CS004", "1.20"), ("TX005", "1.80")] {
        inc.push_str(&format!("2026-10,{t},{EC2},{a}\n"));
    }
    w.write("inc.csv", gbk(&inc));
    both_ways(&w, &["run", "--rules", "rules.toml", "--consumption", "cons", "--incentives", "inc.csv"], 1);
    let f = findings(&w, "m");
    for t in ["CS001", "TX002", "CS003", "CS004", "TX005"] {
        assert_eq!(f.iter().find(|f| f["trade_id"] == t).map(|f| f["category"].as_str()), Some("MATCHED"), "{t}: {f:?}");
    }
    let rejected = read_csv(&w.path("m/rejected.csv"));
    assert_eq!(rejected.len(), 1, "{rejected:?}");
    assert_eq!((rejected[0]["file"].as_str(), rejected[0]["location"].as_str()), ("cons/gbk.csv", "5"), "{rejected:?}");
    assert!(rejected[0]["reason"].contains("订单号") && rejected[0]["reason"].contains("交易号"), "{rejected:?}");

    let o = w.recon(&["inspect", "cons/gbk.csv"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = stdout(&o);
    let feeding: Vec<&str> = text.lines().filter(|l| l.trim_start().starts_with("trade_id")).collect();
    assert_eq!(feeding.len(), 2, "{text}");
    assert!(feeding[0].contains("订单号") && feeding[1].contains("交易号"), "{text}");
}

/// A bill body from the API (ListSubcustomerMonthlyBills' bill_sums) takes its cycle from its file
/// name and reads charge_mode in the API coding ("3" 按需, where a bill CSV's 3 is 预留实例).
#[test]
fn a_bill_body_from_the_api_takes_its_cycle_from_its_name() {
    let w = Work::new();
    w.write("rules.toml", rules(""));
    w.write(
        "cons.csv",
        format!("{CONSUMPTION_HEADER}2026-10,C1,resale,{EC2},3,T1,2026-10-05 10:00:00,100.00,100.00,0\n2026-10,C1,resale,{EC2},1,T2,2026-10-05 10:00:00,40.00,40.00,0\n"),
    );
    one_statement(&w, &[("T1", "6.00"), ("T2", "2.40")]);
    let body = format!(
        r#"{{"bill_sums":[{{"customer_id":"C1","cloud_service_type":"{EC2}","charge_mode":"3","bill_type":"0","amount":100}},{{"customer_id":"C1","cloud_service_type":"{EC2}","charge_mode":"1","bill_type":"0","amount":40.5}}],"count":2,"currency":"CNY"}}"#
    );
    for name in ["bills_2026-10.json", "customerBill_202610.json"] {
        let w2 = Work::new();
        for f in ["rules.toml", "cons.csv", "inc.csv"] {
            w2.write(f, std::fs::read(w.path(f)).expect("read"));
        }
        w2.write(name, &body);
        both_ways(&w2, &["run", "--rules", "rules.toml", "--consumption", "cons.csv", "--incentives", "inc.csv", "--bills", name], 1);
        let f = findings(&w2, "m");
        let bill: Vec<_> = f.iter().filter(|f| f["finding_id"].starts_with('B')).collect();
        assert_eq!(bill.len(), 2, "{name}: {bill:?}");
        let on_demand = bill.iter().find(|f| f["charging_mode"] == "按需").expect("an 按需 group");
        assert_eq!((on_demand["period"].as_str(), on_demand["category"].as_str()), ("2026-10", "BILL_MATCHED"), "{name}");
        let sub = bill.iter().find(|f| f["charging_mode"] == "包年/包月").expect("a 包年/包月 group");
        assert_eq!((sub["category"].as_str(), sub["delta"].as_str()), ("BILL_AMOUNT_MISMATCH", "0.50"), "{name}");
        let s = summary(&w2, "m");
        assert_eq!(s["bills"][0]["bill_cycle"], "2026-10");
    }
    w.write("bills.json", &body);
    let o = w.recon(&["run", "--rules", "rules.toml", "--consumption", "cons.csv", "--incentives", "inc.csv", "--bills", "bills.json", "--out", "x"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("bills.json") && stderr(&o).contains("bill_cycle") && stderr(&o).contains("file name"), "{}", stderr(&o));
}

/// A 代售 customer missing from the customers file earns no incentive, but its bill lines are
/// compared with its consumption, and the finding says it is missing from the file.
#[test]
fn a_resale_customer_missing_from_the_customers_file_is_still_billed() {
    let w = Work::new();
    w.write("rules.toml", rules(""));
    w.write(
        "cons.csv",
        format!("{CONSUMPTION_HEADER}2026-10,C1,resale,{EC2},1,T1,2026-10-05 10:00:00,100.00,100.00,0\n2026-10,C2,resale,{EC2},1,T2,2026-10-05 10:00:00,70.00,70.00,0\n"),
    );
    w.write("customers.csv", "customer_id,association_type\nC1,代售\n");
    one_statement(&w, &[("T1", "6.00")]);
    w.write("bills.csv", format!("账期,客户ID,产品类型编码,应付金额\n2026-10,C1,{EC2},100.00\n2026-10,C2,{EC2},70.00\n"));
    let m = both_ways(&w, &["run", "--rules", "rules.toml", "--consumption", "cons.csv", "--incentives", "inc.csv", "--customers", "customers.csv", "--bills", "bills.csv"], 0);
    let f = findings(&w, "m");
    let c2: Vec<_> = f.iter().filter(|f| f["customer_id"] == "C2").collect();
    assert!(c2.iter().any(|f| f["category"] == "NOT_ATTRIBUTED"), "{c2:?}");
    let bill = c2.iter().find(|f| f["finding_id"].starts_with('B')).expect("C2's bill finding");
    assert_eq!(bill["category"], "BILL_MATCHED", "{bill:?}");
    assert!(bill["explanation"].contains("客户不在客户文件中") && bill["explanation"].contains("not in the customers file"), "{}", bill["explanation"]);
    let c1 = f.iter().find(|f| f["customer_id"] == "C1" && f["finding_id"].starts_with('B')).expect("C1's bill finding");
    assert!(!c1["explanation"].contains("customers file"), "{}", c1["explanation"]);
    let s = summary(&w, "m");
    assert_eq!((s["bills"][0]["consumption_total"].as_str(), s["bills"][0]["unknown_association_consumption"].as_str()), (Some("170.00"), Some("0.00")), "{}", stdout(&m));
}

/// Every command's help ends with examples, and no help line claims what is no longer true.
#[test]
fn every_help_names_an_example() {
    let w = Work::new();
    for cmd in [&[][..], &["run"], &["demo"], &["check-rules"], &["inspect"], &["explain"], &["verify"], &["gen"], &["normalize"], &["sql"]] {
        let o = w.recon(&[cmd, &["--help"]].concat());
        assert_eq!(o.status.code(), Some(0), "{cmd:?}");
        let help = stdout(&o);
        let tail = help.rsplit("Examples:").next().unwrap_or("");
        assert!(help.contains("Examples:") && tail.contains("recon "), "recon {cmd:?} --help has no example:\n{help}");
        assert!(!help.contains("no --bills") && !help.contains("csv and json formats only"), "recon {cmd:?} --help:\n{help}");
    }
}

/// The README's first command does not look like a failure: the demo exits 0 and says why `recon
/// run` would exit 1.
#[test]
fn the_demo_exits_zero_and_says_what_run_would_do() {
    let w = Work::new();
    let o = w.recon(&["demo", "--out", "out"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    let last = out.lines().last().unwrap_or("");
    assert!(last.contains("recon run") && last.contains("exit 1") && last.contains("dispute"), "{last}");
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 12, ..proptest::prelude::ProptestConfig::default() })]

    /// Whatever else a folder of exports holds (notes, PDFs, hidden files, lock files, links,
    /// subdirectories, with any bytes in them), the findings are those of the exports alone.
    #[test]
    fn a_folders_extra_files_never_change_the_findings(
        extras in proptest::collection::vec((0usize..8, proptest::collection::vec(proptest::num::u8::ANY, 0..200)), 1..6)
    ) {
        let w = Work::new();
        let demo = repo().join("fixtures/demo");
        for sub in ["consumption", "incentives"] {
            for e in std::fs::read_dir(demo.join(sub)).expect("ls") {
                let p = e.expect("entry").path();
                let name = p.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
                w.write(&format!("{sub}/{name}"), std::fs::read(&p).expect("read"));
            }
        }
        w.write("rules.toml", std::fs::read(demo.join("rules.toml")).expect("rules"));
        let args = ["run", "--rules", "rules.toml", "--consumption", "consumption", "--incentives", "incentives", "--format", "csv,json"];
        let base = w.recon(&[&args[..], &["--out", "base"]].concat());
        proptest::prop_assert_eq!(base.status.code(), Some(1));
        for (i, (kind, bytes)) in extras.iter().enumerate() {
            let dir = if i % 2 == 0 { "consumption" } else { "incentives" };
            let name = match kind {
                0 => format!("说明{i}.txt"),
                1 => format!("policy{i}.pdf"),
                2 => format!(".DS_Store{i}"),
                3 => format!("._consumption{i}.csv"),
                4 => format!("~$statement{i}.xlsx"),
                5 => format!("notes{i}.md"),
                6 => format!("old{i}/inside.csv"),
                _ => format!("link{i}.csv"),
            };
            if *kind == 7 {
                let target = w.write(&format!("outside/t{i}.csv"), bytes);
                std::os::unix::fs::symlink(target, w.path(&format!("{dir}/{name}"))).expect("symlink");
            } else {
                w.write(&format!("{dir}/{name}"), bytes);
            }
        }
        let o = w.recon(&[&args[..], &["--out", "with"]].concat());
        proptest::prop_assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
        proptest::prop_assert_eq!(w.read("base/findings.csv"), w.read("with/findings.csv"));
        proptest::prop_assert_eq!(w.read("base/rejected.csv"), w.read("with/rejected.csv"));
        let s: serde_json::Value = serde_json::from_str(&w.read("with/summary.json")).expect("json");
        proptest::prop_assert_eq!(s["skipped"].as_array().map(Vec::len), Some(extras.len()));
    }
}
