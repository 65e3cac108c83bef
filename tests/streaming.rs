//! `recon run --streaming`: inputs partitioned on disk and reconciled a partition at a time must
//! give exactly the outputs of an in-memory run, whatever the number of partitions and the block
//! size the files are read in (report.xlsx and report.html too, which a streamed run fills from
//! findings.csv read back, and the partner bill check).

mod common;

use common::*;

const OUTPUTS: [&str; 4] = ["findings.csv", "summary.json", "disputes.csv", "rejected.csv"];
const WORKBOOKS: [&str; 3] = ["report.xlsx", "disputes.xlsx", "report.html"];

fn same_outputs(a: &std::path::Path, b: &std::path::Path, what: &str) {
    same_files(a, b, &OUTPUTS, what);
}

fn same_files(a: &std::path::Path, b: &std::path::Path, files: &[&str], what: &str) {
    for &f in files {
        let (x, y) = (std::fs::read(a.join(f)).expect("read"), std::fs::read(b.join(f)).expect("read"));
        assert!(x == y, "{f} differs: {what}\n--- in memory\n{}\n--- streamed\n{}", String::from_utf8_lossy(&x), String::from_utf8_lossy(&y));
    }
}

/// A `.tar.gz` delivery is read a part at a time by a streamed run (in name order; whole when
/// its parts are stored out of order): the same bytes as in memory, a rejected row in a middle
/// part cited there, parts of several statements' keys.
#[test]
fn tar_gz_parts_streamed_give_the_same_bytes() {
    let ec2 = "hws.service.type.ec2";
    let part = |k: usize| format!("{CONSUMPTION_HEADER}2026-10,C1,resale,{ec2},1,T{k},2026-10-05 10:00:00,100.00,100.00,0\n2026-10,C1,resale,{ec2},1,X{k},not a time,100.00,100.00,0\n2026-10,C2,resale,{ec2},1,U{k},2026-10-31 23:30:00,50.00,50.00,0\n");
    for order in [[1usize, 2, 3], [3, 1, 2]] {
        let w = Work::new();
        w.write("rules.toml", rules(""));
        let names: Vec<String> = order.iter().map(|k| format!("customerBill_202610_{k:04}.csv")).collect();
        let parts: Vec<(&str, String)> = names.iter().zip(order).map(|(n, k)| (n.as_str(), part(k))).collect();
        w.write("delivery.tar.gz", tar_gz(&parts));
        let mut inc = String::from("incentive_period,trade_id,service_type_code,incentive_amount\n");
        for (t, a) in [("T1", "6.00"), ("T2", "5.00"), ("T3", "6.00"), ("U1", "3.00")] {
            inc.push_str(&format!("2026-10,{t},{ec2},{a}\n"));
        }
        w.write("inc.csv", inc);
        let base = ["run", "--rules", "rules.toml", "--consumption", "delivery.tar.gz", "--incentives", "inc.csv", "--format", "csv,json"];
        let m = recon_in(w.dir.path(), &[&base[..], &["--out", "m", "--in-memory"]].concat(), &[]);
        assert_eq!(m.status.code(), Some(1), "{}", stderr(&m));
        assert!(w.read("m/rejected.csv").contains("delivery.tar.gz/customerBill_202610_0002.csv"), "{}", w.read("m/rejected.csv"));
        for parts in ["1", "2"] {
            let s = recon_in(w.dir.path(), &[&base[..], &["--out", "s", "--streaming", "--partitions", parts]].concat(), &[]);
            assert_eq!(s.status.code(), Some(1), "{}", stderr(&s));
            same_outputs(&w.path("m"), &w.path("s"), &format!("parts stored {order:?}, {parts} partitions"));
        }
    }
}

/// The demo inputs (GBK CSV, XLSX and JSON consumption; BOM and English-header statements;
/// customers; rejected rows) without the bill, every output format.
#[test]
fn demo_inputs_streamed_give_the_same_bytes() {
    let w = Work::new();
    let repo = repo();
    let base = ["run", "--rules", "fixtures/demo/rules.toml", "--consumption", "fixtures/demo/consumption", "--incentives", "fixtures/demo/incentives", "--customers", "fixtures/demo/customers.csv"];
    let mem = w.path("mem");
    let o = recon_in(&repo, &[&base[..], &["--out", mem.to_str().expect("path")]].concat(), &[]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    for (parts, block) in [("1", "67108864"), ("3", "200"), ("7", "1"), ("64", "4096")] {
        let out = w.path(&format!("s{parts}"));
        let o = recon_in(&repo, &[&base[..], &["--out", out.to_str().expect("path"), "--streaming", "--partitions", parts]].concat(), &[("RECON_BLOCK_BYTES", block)]);
        assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
        same_files(&mem, &out, &[&OUTPUTS[..], &WORKBOOKS[..]].concat(), &format!("{parts} partitions, {block}-byte blocks"));
        assert!(std::fs::read_dir(&out).expect("ls").all(|e| !e.expect("entry").file_name().to_string_lossy().starts_with(".recon")), "partition files are removed");
    }
}

/// A CSV whose quoted cells hold commas, quotes and line breaks, with blank lines, a BOM and a
/// rejected row, read in blocks smaller than one record: cut only between records, and lines
/// cited as in the file. The same text in GBK, too.
#[test]
fn quoted_multiline_csv_read_in_tiny_blocks() {
    let w = Work::new();
    w.write("rules.toml", rules(""));
    let mut cons = String::from("\u{feff}bill_cycle,customer_id,customer_name,association_type,service_type_code,charging_mode,trade_id,trade_time,payment_amount,cash_amount,coupon_amount\n");
    for i in 0..60 {
        let name = match i % 4 {
            0 => "\"客户, \"\"甲\"\"\"".to_string(),
            1 => "\"two\nlines\"".to_string(),
            2 => "plain".to_string(),
            _ => "\"\"".to_string(),
        };
        let amount = if i == 33 { "1O0.00" } else { "100.00" };
        cons.push_str(&format!("2026-10,C{},{name},resale,hws.service.type.ec2,1,T{i:03},2026-10-05 10:00:00,{amount},{amount},0\n", i % 7));
        if i % 10 == 9 {
            cons.push_str("\n,,,,,,,,,,\n");
        }
    }
    let inc = {
        let mut s = String::from("incentive_period,trade_id,service_type_code,incentive_amount\n");
        for i in (0..60).step_by(2) {
            s.push_str(&format!("2026-10,T{i:03},hws.service.type.ec2,6.00\n"));
        }
        s.push_str("2026-10,T999,hws.service.type.ec2,1.00\n");
        s
    };
    w.write("cons.csv", &cons);
    let (gbk, _, _) = encoding_rs::GBK.encode(cons.trim_start_matches('\u{feff}'));
    w.write("gbk/cons.csv", &gbk);
    w.write("inc.csv", &inc);
    for input in ["cons.csv", "gbk/cons.csv"] {
        let args = ["run", "--rules", "rules.toml", "--consumption", input, "--incentives", "inc.csv", "--format", "csv,json"];
        let o = recon_in(w.dir.path(), &[&args[..], &["--out", "mem"]].concat(), &[]);
        assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
        for block in ["1", "37", "100000"] {
            let o = recon_in(w.dir.path(), &[&args[..], &["--out", "s", "--streaming", "--partitions", "3"]].concat(), &[("RECON_BLOCK_BYTES", block)]);
            assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
            same_outputs(&w.path("mem"), &w.path("s"), &format!("{input}, {block}-byte blocks"));
        }
        let rejected = read_csv(&w.path("mem/rejected.csv"));
        assert_eq!(rejected.len(), 1);
        // row 33 starts after the header, 33 rows of which 8 span two lines, and 3 blank pairs
        assert_eq!(rejected[0]["location"], (1 + 33 + 8 + 3 * 2 + 1).to_string());
    }
}

/// The partner bill streamed: a cycle compared by trade id and charging mode, one compared by
/// customer only (some lines without a trade id or mode), whose groups span partitions, one with
/// no consumption at all; resale, referral and unknown customers, names on some rows only; with
/// and without a customers file, in 1 to 13 partitions and tiny blocks: the same bytes as in
/// memory, every format.
#[test]
fn the_partner_bill_streamed_gives_the_same_bytes() {
    let w = Work::new();
    w.write("rules.toml", rules(""));
    let ec2 = "hws.service.type.ec2";
    let mut cons = String::from("bill_cycle,customer_id,customer_name,association_type,service_type_code,charging_mode,trade_id,trade_time,payment_amount,cash_amount,coupon_amount\n");
    let mut bill = String::from("客户ID,客户名称,账期,计费模式,产品类型编码,订单号/交易号,应付金额\n");
    let mut inc = String::from("incentive_period,trade_id,service_type_code,incentive_amount\n");
    for i in 0..90 {
        let cust = format!("C{}", i % 6);
        let assoc = ["resale", "resale", "referral", "resale", "", "resale"][i % 6];
        let name = if i % 4 == 0 { format!("\"客户 {}, 甲\"", i % 6) } else { String::new() };
        let (cycle, day) = if i % 3 == 0 { ("2026-09", "2026-09-07") } else { ("2026-10", "2026-10-07") };
        // in 2026-09 one resale row has no charging mode: that cycle is not compared by mode
        let mode = if i == 33 { "" } else { ["1", "3"][i % 2] };
        let amount = format!("{}.{:02}", 50 + i, i % 100);
        cons.push_str(&format!("{cycle},{cust},{name},{assoc},{ec2},{mode},T{i:03},{day} 10:00:00,{amount},{amount},0\n"));
        if i % 2 == 0 {
            inc.push_str(&format!("2026-10,T{i:03},{ec2},1.00\n"));
        }
        // bill coding: 0 包年/包月, 1 按需
        let bmode = ["0", "1"][i % 2];
        let bname = if i % 5 == 0 { format!("账单客户{}", i % 6) } else { String::new() };
        match (cycle, i % 7) {
            (_, 0) => {}                                                                          // no line
            ("2026-10", 1) => bill.push_str(&format!("{cust},{bname},{cycle},{bmode},{ec2},T{i:03},{}.00\n", 50 + i)), // differs
            ("2026-10", _) => bill.push_str(&format!("{cust},{bname},{cycle},{bmode},{ec2},T{i:03},{amount}\n")),
            // 2026-09: lines without trade ids (by customer), one without a mode
            (_, k) => bill.push_str(&format!("{cust},{bname},{cycle},{},{ec2},{},{amount}\n", if k == 2 { "" } else { bmode }, if k == 3 { format!("T{i:03}") } else { String::new() })),
        }
    }
    bill.push_str(&format!("C9,,2026-10,0,{ec2},T900,5.00\nC2,,2026-10,0,{ec2},T901,7.00\nC1,,2026-08,0,{ec2},T902,9.00\n"));
    // a customer whose 2026-09 lines all have a trade id and a mode, in a cycle compared by
    // customer only: its group is by customer, whatever its own lines have
    cons.push_str(&format!("2026-09,C7,,resale,{ec2},1,T950,2026-09-08 10:00:00,10.00,10.00,0\n"));
    bill.push_str(&format!("C7,,2026-09,0,{ec2},T950,10.00\n"));
    w.write("cons.csv", &cons);
    w.write("inc.csv", &inc);
    w.write("bill.csv", &bill);
    w.write("customers.csv", "customer_id,customer_name,association_type\nC0,甲,resale\nC1,乙,resale\nC2,丙,referral\nC3,丁,resale\nC5,戊,referral\n");
    let files = [&OUTPUTS[..], &WORKBOOKS[..]].concat();
    for (k, customers) in [&["--customers", "customers.csv"][..], &[]].into_iter().enumerate() {
        let base = [&["run", "--rules", "rules.toml", "--consumption", "cons.csv", "--incentives", "inc.csv", "--bills", "bill.csv"][..], customers].concat();
        let mem = format!("mem{k}");
        let o = recon_in(w.dir.path(), &[&base[..], &["--out", &mem, "--in-memory"]].concat(), &[]);
        assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
        let summary = w.read(&format!("{mem}/summary.json"));
        for cat in ["BILL_MATCHED", "BILL_AMOUNT_MISMATCH", "BILL_MISSING_LINE", "BILL_EXTRA_LINE", "BILL_NOT_RESALE"] {
            assert!(summary.contains(cat), "{cat} is among the cases: {summary}");
        }
        assert!(summary.contains("\"trade_id\"") && summary.contains("\"2026-08\""), "{summary}");
        for (parts, block) in [("1", "67108864"), ("4", "97"), ("13", "1")] {
            let out = format!("s{k}-{parts}");
            let o = recon_in(w.dir.path(), &[&base[..], &["--out", &out, "--streaming", "--partitions", parts]].concat(), &[("RECON_BLOCK_BYTES", block)]);
            assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
            same_files(&w.path(&mem), &w.path(&out), &files, &format!("customers file {}, {parts} partitions, {block}-byte blocks", k == 0));
        }
        // summary.json alone: the bill's totals without findings.csv
        let (mem_json, out) = (format!("mem-json{k}"), format!("json{k}"));
        let o = recon_in(w.dir.path(), &[&base[..], &["--out", &mem_json, "--in-memory", "--format", "json"]].concat(), &[]);
        assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
        let o = recon_in(w.dir.path(), &[&base[..], &["--out", &out, "--streaming", "--partitions", "5", "--format", "json"]].concat(), &[]);
        assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
        same_files(&w.path(&mem_json), &w.path(&out), &["summary.json", "rejected.csv"], "json only");
        assert!(!w.path(&format!("{out}/findings.csv")).exists());
        // one statement period in scope: the bill check is the same
        let (mem_p, out) = (format!("mem-period{k}"), format!("period{k}"));
        let o = recon_in(w.dir.path(), &[&base[..], &["--out", &mem_p, "--in-memory", "--period", "2026-10"]].concat(), &[]);
        assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
        let o = recon_in(w.dir.path(), &[&base[..], &["--out", &out, "--streaming", "--partitions", "3", "--period", "2026-10"]].concat(), &[]);
        assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
        same_files(&w.path(&mem_p), &w.path(&out), &files, "--period 2026-10");
        // explain on inputs that stream reads only the finding's trade id's or customer's rows,
        // the bill's grain from every line: the same text as explain loading every row
        let streams = [("RECON_AUTO_STREAMING_BYTES", "1"), ("RECON_TRACE", "1")];
        let findings = read_csv(&w.path(&format!("{mem}/findings.csv")));
        let mut explained = 0;
        for (i, f) in findings.iter().enumerate() {
            let id = f["finding_id"].as_str();
            if id.starts_with('F') && i % 4 != 0 {
                continue;
            }
            let args = ["explain", id, "--report", &mem];
            let (memory, streamed) = (recon_in(w.dir.path(), &args, &[]), recon_in(w.dir.path(), &args, &streams));
            assert_eq!(streamed.status.code(), Some(0), "{id}: {}", stderr(&streamed));
            assert!(stderr(&streamed).contains("explain: the rows of the finding's trade id or customer read"), "{id}: {}", stderr(&streamed));
            assert_eq!(stdout(&streamed), stdout(&memory), "{id} ({}), customers file {}", f["category"], k == 0);
            explained += 1;
        }
        assert!(explained > 30, "{explained}");
    }
}

/// More findings than report.xlsx and report.html show (their limits lowered for the test): the
/// streamed run, which reads them back from findings.csv, picks the same ones as an in-memory
/// run, which keeps them; also when findings.csv itself is not asked for.
#[test]
fn workbooks_of_a_streamed_run_show_what_an_in_memory_run_shows() {
    let w = Work::new();
    w.write("rules.toml", rules(""));
    let (mut cons, mut inc) = (CONSUMPTION_HEADER.to_string(), String::from("incentive_period,trade_id,service_type_code,incentive_amount\n"));
    for i in 0..40 {
        cons.push_str(&format!("2026-10,C{},resale,hws.service.type.ec2,1,T{i:03},2026-10-05 10:00:00,100.00,100.00,0\n", i % 3));
        // every fifth statement line underpaid (a dispute), every seventh missing
        match (i % 5, i % 7) {
            (_, 0) => {}
            (0, _) => inc.push_str(&format!("2026-10,T{i:03},hws.service.type.ec2,5.00\n")),
            _ => inc.push_str(&format!("2026-10,T{i:03},hws.service.type.ec2,6.00\n")),
        }
    }
    w.write("cons.csv", &cons);
    w.write("inc.csv", &inc);
    let limits = [("RECON_XLSX_MAX_FINDINGS", "9"), ("RECON_HTML_MAX_FINDINGS", "15")];
    for (k, formats) in ["csv,json,xlsx,html", "json,xlsx,html", "csv,html"].into_iter().enumerate() {
        let (mem_dir, s_dir) = (format!("mem{k}"), format!("s{k}"));
        let base = ["run", "--rules", "rules.toml", "--consumption", "cons.csv", "--incentives", "inc.csv", "--format", formats];
        let mem = recon_in(w.dir.path(), &[&base[..], &["--out", &mem_dir, "--in-memory"]].concat(), &limits);
        assert_eq!(mem.status.code(), Some(1), "{}", stderr(&mem));
        let s = recon_in(w.dir.path(), &[&base[..], &["--out", &s_dir, "--streaming", "--partitions", "4"]].concat(), &limits);
        assert_eq!(s.status.code(), Some(1), "{}", stderr(&s));
        let written: Vec<String> = std::fs::read_dir(w.path(&s_dir)).expect("ls").map(|e| e.expect("entry").file_name().to_string_lossy().to_string()).collect();
        let files: Vec<&str> = OUTPUTS.iter().chain(&WORKBOOKS).copied().filter(|f| written.iter().any(|n| n == f)).collect();
        assert_eq!(written.len(), files.len(), "{formats}: {written:?}");
        assert_eq!(written.iter().any(|n| n == "findings.csv"), formats.contains("csv"), "{formats}: {written:?}");
        same_files(&w.path(&mem_dir), &w.path(&s_dir), &files, formats);
        if formats.contains("html") {
            let page = w.read(&format!("{s_dir}/report.html"));
            // 40 findings, 12 disputes (6 underpaid, 6 missing): those and the first 3 others
            assert!(page.contains("This page holds 15 of 40 findings"), "{formats}");
        }
        if formats.contains("xlsx") {
            use calamine::Reader;
            let mut book = calamine::open_workbook_auto(w.path(&format!("{s_dir}/report.xlsx"))).expect("open report.xlsx");
            let sheet = book.worksheet_range("差异明细").expect("差异明细");
            assert_eq!(sheet.height(), 1 + 9, "{formats}: a header and the first 9 findings");
            let ids: Vec<String> = sheet.rows().skip(1).map(|r| r[0].to_string()).collect();
            if formats.contains("csv") {
                let csv_ids: Vec<String> = read_csv(&w.path(&format!("{s_dir}/findings.csv"))).into_iter().take(9).map(|r| r["finding_id"].clone()).collect();
                assert_eq!(ids, csv_ids);
            }
        }
    }
}

/// Above a size (64 MiB; moved here by RECON_AUTO_STREAMING_BYTES) a run that can stream does,
/// without --streaming; --in-memory keeps it in memory.
#[test]
fn large_inputs_stream_without_being_asked() {
    let w = Work::new();
    let repo = repo();
    let base = ["run", "--rules", "fixtures/demo/rules.toml", "--consumption", "fixtures/demo/consumption", "--incentives", "fixtures/demo/incentives", "--customers", "fixtures/demo/customers.csv"];
    let streamed = |extra: &[&str], name: &str| -> bool {
        let out = w.path(name);
        let o = recon_in(&repo, &[&base[..], extra, &["--out", out.to_str().expect("path")]].concat(), &[("RECON_AUTO_STREAMING_BYTES", "1"), ("RECON_TRACE", "1")]);
        assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
        stderr(&o).contains("streaming: read and partition")
    };
    assert!(streamed(&["--format", "csv,json"], "auto"));
    assert!(!streamed(&["--format", "csv,json", "--in-memory"], "mem"));
    assert!(streamed(&["--format", "csv,xlsx"], "xlsx"));
    assert!(streamed(&["--format", "csv,json", "--bills", "fixtures/demo/bills"], "bills"));
    same_outputs(&w.path("mem"), &w.path("auto"), "automatic streaming");
}

/// A file that cannot be used stops a streamed run exactly as it stops an in-memory one (same
/// message, exit 2), and the partition files are removed.
#[test]
fn a_bad_file_stops_a_streamed_run_and_leaves_no_partitions() {
    let w = Work::new();
    w.write("rules.toml", rules(""));
    w.write("cons.csv", format!("{CONSUMPTION_HEADER}2026-10,C1,resale,hws.service.type.ec2,1,T1,2026-10-05 10:00:00,100.00,100.00,0\n"));
    w.write("inc.csv", "incentive_period,trade_id,incentive_amount\n2026-10,T1,6.00\n"); // no service column
    let base = ["run", "--rules", "rules.toml", "--consumption", "cons.csv", "--incentives", "inc.csv", "--format", "csv,json"];
    let mem = w.recon(&[&base[..], &["--out", "mem"]].concat());
    let streamed = w.recon(&[&base[..], &["--out", "s", "--streaming"]].concat());
    assert_eq!((mem.status.code(), streamed.status.code()), (Some(2), Some(2)));
    assert!(stderr(&mem).contains("inc.csv: the incentives file has no column service_type_code"), "{}", stderr(&mem));
    assert_eq!(stderr(&mem), stderr(&streamed));
    // (a failed run into a directory it created leaves none)
    let left: Vec<String> = std::fs::read_dir(w.path("s")).into_iter().flatten().map(|e| e.expect("entry").file_name().to_string_lossy().to_string()).collect();
    assert!(left.iter().all(|n| !n.starts_with(".recon-partitions")), "{left:?}");
    // With a bill, a streamed run reads the customers file first, yet names the bad statement
    // first, as in memory; with good statements, the bad customers file.
    w.write("customers.csv", "customer_id,customer_name\nC1,甲\n"); // no association_type column
    w.write("bill.csv", "bill_cycle,customer_id,service_type_code,amount\n2026-10,C1,hws.service.type.ec2,100.00\n");
    w.write("good-inc.csv", "incentive_period,trade_id,service_type_code,incentive_amount\n2026-10,T1,hws.service.type.ec2,6.00\n");
    for (inc, expect) in [("inc.csv", "inc.csv: the incentives file has no column service_type_code"), ("good-inc.csv", "customers.csv")] {
        let base = ["run", "--rules", "rules.toml", "--consumption", "cons.csv", "--incentives", inc, "--customers", "customers.csv", "--bills", "bill.csv", "--format", "csv,json"];
        let mem = w.recon(&[&base[..], &["--out", "mem-b", "--in-memory"]].concat());
        let streamed = w.recon(&[&base[..], &["--out", "s-b", "--streaming"]].concat());
        assert_eq!((mem.status.code(), streamed.status.code()), (Some(2), Some(2)));
        assert!(stderr(&mem).contains(expect), "{}", stderr(&mem));
        assert_eq!(stderr(&mem), stderr(&streamed));
    }
}
