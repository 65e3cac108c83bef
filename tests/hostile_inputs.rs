//! Issue 18, the hostile-input side: archives of several gzip members or cut short, workbooks
//! that declare absurd sizes, hold a stray far cell or fail their CRC, JSON bodies whose records
//! each carry their own key, streamed runs citing the line of an undecodable byte, and inputs
//! changed while they are read. Each case through the binary, in memory and streamed.

mod common;

use std::io::Write;

use common::*;

const EC2: &str = "hws.service.type.ec2";

fn statement(rows: &[&str]) -> String {
    let mut s = String::from("incentive_period,trade_id,service_type_code,incentive_amount\n");
    for t in rows {
        s.push_str(&format!("2026-10,{t},{EC2},6.00\n"));
    }
    s
}

fn consumption(trades: &[&str]) -> String {
    let mut s = String::from(CONSUMPTION_HEADER);
    for t in trades {
        s.push_str(&format!("2026-10,C1,resale,{EC2},1,{t},2026-10-05 10:00:00,100.00,100.00,0\n"));
    }
    s
}

fn summary(w: &Work, out: &str) -> serde_json::Value {
    serde_json::from_str(&w.read(&format!("{out}/summary.json"))).expect("summary.json")
}

/// Runs `recon run` over `cons` (a consumption input already written) in memory and streamed
/// (tiny blocks); both must exit as `code`; returns both outputs.
fn both(w: &Work, cons: &str, trades: &[&str], code: i32) -> Vec<std::process::Output> {
    w.write("rules.toml", rules(""));
    w.write("inc.csv", statement(trades));
    let mut outs = Vec::new();
    for (out, streamed) in [("m", false), ("s", true)] {
        let mut args = vec!["run", "--rules", "rules.toml", "--consumption", cons, "--incentives", "inc.csv", "--out", out];
        if streamed {
            args.push("--streaming");
        }
        let o = w.recon_env(&args, &[("RECON_BLOCK_BYTES", "64")]);
        assert_eq!(o.status.code(), Some(code), "{out}: {}{}", stdout(&o), stderr(&o));
        assert!(!stderr(&o).contains("panicked"), "{}", stderr(&o));
        outs.push(o);
    }
    outs
}



// ---- 1. every gzip member of a .tar.gz is read; a cut or padded archive is an error

#[test]
fn a_tar_gz_of_concatenated_archives_is_read_to_its_last_part() {
    // `cat a.tar.gz b.tar.gz`: two gzip members, two tar archives (each with its end blocks)
    let w = Work::new();
    let a = tar_gz(&[("bill_0001.csv", consumption(&["T1"]))]);
    let b = tar_gz(&[("bill_0002.csv", consumption(&["T2", "T3"]))]);
    w.write("bill.tar.gz", [a, b].concat());
    for o in both(&w, "bill.tar.gz", &["T1", "T2", "T3"], 0) {
        let _ = o;
    }
    for out in ["m", "s"] {
        let s = summary(&w, out);
        assert_eq!(s["inputs"][0]["rows"], 3, "{out}: {s}");
        let f = read_csv(&w.path(&format!("{out}/findings.csv")));
        let t3 = f.iter().find(|f| f["trade_id"] == "T3").expect("T3");
        assert_eq!(t3["consumption_rows"], "bill.tar.gz/bill_0002.csv:3");
    }
    assert_eq!(w.read("m/findings.csv"), w.read("s/findings.csv"));
}

#[test]
fn one_tar_stream_compressed_in_several_gzip_members_is_read_whole() {
    // as parallel compressors write: one tar stream cut at arbitrary bytes, each piece its own member
    let w = Work::new();
    let t = tar(&[("bill_0001.csv", consumption(&["T1"])), ("bill_0002.csv", consumption(&["T2"]))]);
    let cuts = [0, 700, 1300, t.len()];
    let gz: Vec<u8> = cuts.windows(2).flat_map(|c| gzip(&t[c[0]..c[1]])).collect();
    w.write("bill.tar.gz", gz);
    both(&w, "bill.tar.gz", &["T1", "T2"], 0);
    for out in ["m", "s"] {
        assert_eq!(summary(&w, out)["inputs"][0]["rows"], 2, "{out}");
    }
}

#[test]
fn a_tar_gz_cut_short_or_followed_by_garbage_stops_the_run_naming_it() {
    let whole = tar_gz(&[("bill_0001.csv", consumption(&["T1"])), ("bill_0002.csv", consumption(&["T2"]))]);
    let cut = whole[..whole.len() - 12].to_vec();
    let cut_mid = whole[..whole.len() / 2].to_vec();
    let garbage = [whole.clone(), b"this is not gzip\n".to_vec()].concat();
    let zeros_then_garbage = [whole.clone(), vec![0u8; 3]].concat();
    for (name, bytes) in [("cut", cut), ("cut_mid", cut_mid), ("garbage", garbage), ("zeros", zeros_then_garbage)] {
        let w = Work::new();
        w.write("bill.tar.gz", bytes);
        for o in both(&w, "bill.tar.gz", &["T1", "T2"], 2) {
            assert!(stderr(&o).contains("bill.tar.gz"), "{name}: {}", stderr(&o));
            assert!(stderr(&o).contains("archive"), "{name}: {}", stderr(&o));
        }
    }
}

// ---- 6. a streamed run names the line of an undecodable byte, as an in-memory run does

/// Runs over `c.csv` in memory, streamed (default blocks, tiny blocks, and streaming chosen by
/// size); each must stop naming `want`.
fn undecodable_everywhere(bytes: Vec<u8>, want: &str) {
    let w = Work::new();
    w.write("rules.toml", rules(""));
    w.write("inc.csv", statement(&["T1"]));
    w.write("c.csv", bytes);
    let args = ["run", "--rules", "rules.toml", "--consumption", "c.csv", "--incentives", "inc.csv", "--out", "out"];
    let runs: [(&[&str], &[(&str, &str)]); 5] = [
        (&[], &[]),
        (&["--streaming"], &[]),
        (&["--streaming"], &[("RECON_BLOCK_BYTES", "64")]),
        (&["--streaming"], &[("RECON_BLOCK_BYTES", "4096")]),
        (&[], &[("RECON_AUTO_STREAMING_BYTES", "1")]),
    ];
    for (extra, env) in runs {
        let o = w.recon_env(&[&args[..], extra].concat(), env);
        assert_eq!(o.status.code(), Some(2), "{extra:?} {env:?}: {}{}", stdout(&o), stderr(&o));
        assert!(stderr(&o).contains(want), "{extra:?} {env:?}: want {want:?} in {}", stderr(&o));
    }
}

fn rows_with_bad_byte_at(lines: usize, bad_line: usize, gbk: bool) -> Vec<u8> {
    let mut b = CONSUMPTION_HEADER.as_bytes().to_vec();
    for i in 2..=lines {
        let customer: Vec<u8> = if i == bad_line {
            vec![b'C', 0xFF, b'1']
        } else if gbk && i == 3 {
            vec![0xBF, 0xCD, 0xBB, 0xA7] // 客户 in GBK
        } else {
            b"C1".to_vec()
        };
        b.extend_from_slice(b"2026-10,");
        b.extend_from_slice(&customer);
        b.extend_from_slice(format!(",resale,{EC2},1,T{i},2026-10-05 10:00:00,100.00,100.00,0\n").as_bytes());
    }
    b
}

#[test]
fn an_undecodable_byte_at_line_5_is_cited_at_line_5_streamed_or_not() {
    undecodable_everywhere(rows_with_bad_byte_at(9, 5, false), "c.csv:5:");
    undecodable_everywhere(rows_with_bad_byte_at(9, 5, true), "c.csv:5:");
}

#[test]
fn an_undecodable_byte_far_down_is_cited_at_its_line_in_every_block() {
    undecodable_everywhere(rows_with_bad_byte_at(5_003, 5_002, false), "c.csv:5002:");
    undecodable_everywhere(rows_with_bad_byte_at(5_003, 5_002, true), "c.csv:5002:");
}

#[test]
fn a_bad_byte_after_a_utf8_byte_order_mark_is_cited_at_its_line() {
    let bytes = [b"\xEF\xBB\xBF".to_vec(), rows_with_bad_byte_at(9, 7, false)].concat();
    undecodable_everywhere(bytes, "c.csv:7:");
}

// ---- 14. an input changed while it is read stops the run

/// Runs over `c.csv` (in memory, or streamed in tiny blocks), pausing once each input is read
/// (RECON_TEST_PAUSE_READING) and calling `change` on c.csv during its pause.
fn changed_while_read(streamed: bool, change: &dyn Fn(&std::path::Path)) -> std::process::Output {
    let w = Work::new();
    w.write("rules.toml", rules(""));
    w.write("inc.csv", statement(&["T1", "T2"]));
    w.write("c.csv", consumption(&["T1", "T2"]));
    let pause = w.path("pause");
    std::fs::create_dir(&pause).expect("mkdir");
    let mut args = vec!["run", "--rules", "rules.toml", "--consumption", "c.csv", "--incentives", "inc.csv", "--out", "out"];
    if streamed {
        args.push("--streaming");
    }
    let mut child = std::process::Command::new(bin())
        .args(&args)
        .env("RECON_TEST_PAUSE_READING", &pause)
        .env("RECON_BLOCK_BYTES", "64")
        .current_dir(w.dir.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    let marker = pause.join("reading");
    let start = std::time::Instant::now();
    let mut changed = false;
    while child.try_wait().expect("wait").is_none() {
        assert!(start.elapsed() < std::time::Duration::from_secs(60), "recon did not end");
        if let Ok(label) = std::fs::read_to_string(&marker) {
            if label == "c.csv" && !changed {
                // (a later clock tick than the file's writing, whatever the file system's
                // timestamp granularity: a rewrite of the same size shows in its mtime)
                std::thread::sleep(std::time::Duration::from_millis(50));
                change(&w.path("c.csv"));
                changed = true;
            }
            let _ = std::fs::remove_file(&marker);
        }
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    child.wait_with_output().expect("output")
}

#[test]
fn an_input_cut_grown_rewritten_or_replaced_while_it_is_read_stops_the_run() {
    let cut = |p: &std::path::Path| {
        let f = std::fs::OpenOptions::new().write(true).open(p).expect("open");
        f.set_len(std::fs::metadata(p).expect("meta").len() - 20).expect("truncate");
    };
    let grow = |p: &std::path::Path| {
        let mut f = std::fs::OpenOptions::new().append(true).open(p).expect("open");
        f.write_all(format!("2026-10,C1,resale,{EC2},1,T9,2026-10-05 10:00:00,1.00,1.00,0\n").as_bytes()).expect("append");
    };
    let rewrite = |p: &std::path::Path| {
        // same size, other amounts, written in place
        let text = std::fs::read_to_string(p).expect("read").replace("100.00", "900.00");
        let mut f = std::fs::OpenOptions::new().write(true).open(p).expect("open");
        f.write_all(text.as_bytes()).expect("write");
    };
    let replace = |p: &std::path::Path| {
        let new = p.with_extension("new");
        std::fs::write(&new, consumption(&["T1"])).expect("write");
        std::fs::rename(&new, p).expect("rename");
    };
    let changes: [(&str, &dyn Fn(&std::path::Path)); 4] = [("cut", &cut), ("grow", &grow), ("rewrite", &rewrite), ("replace", &replace)];
    for (name, change) in changes {
        for streamed in [false, true] {
            let o = changed_while_read(streamed, change);
            assert_eq!(o.status.code(), Some(2), "{name} streamed={streamed}: {}{}", stdout(&o), stderr(&o));
            let e = stderr(&o);
            assert!(e.contains("c.csv: the file changed while being read"), "{name} streamed={streamed}: {e}");
        }
    }
}

#[test]
fn an_input_left_alone_while_the_run_pauses_reads_as_usual() {
    for streamed in [false, true] {
        let o = changed_while_read(streamed, &|_| {});
        assert_eq!(o.status.code(), Some(0), "streamed={streamed}: {}{}", stdout(&o), stderr(&o));
    }
}

// ---- 2, 3, 4. workbooks: declared sizes not trusted, cells kept sparse, every part checked

/// An .xlsx of string cells (row 0 the header), as rust_xlsxwriter writes it.
fn workbook(rows: &[Vec<String>], extra: impl FnOnce(&mut rust_xlsxwriter::Worksheet)) -> Vec<u8> {
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    sheet.set_name("明细").expect("name");
    for (r, row) in rows.iter().enumerate() {
        for (c, v) in row.iter().enumerate() {
            sheet.write_string(r as u32, c as u16, v).expect("write");
        }
    }
    extra(sheet);
    book.save_to_buffer().expect("save")
}


fn consumption_rows(trades: &[&str]) -> Vec<Vec<String>> {
    let mut rows = vec![CONSUMPTION_HEADER.trim().split(',').map(str::to_string).collect::<Vec<_>>()];
    for t in trades {
        rows.push(format!("2026-10,C1,resale,{EC2},1,{t},2026-10-05 10:00:00,123.45,123.45,0").split(',').map(str::to_string).collect());
    }
    rows
}

#[test]
fn a_workbook_that_declares_absurd_shared_strings_stops_the_run_naming_it() {
    let book = workbook(&consumption_rows(&["T1"]), |_| {});
    for count in ["999999999999", "18446744073709551615", "99999999999999999999999999"] {
        let w = Work::new();
        w.write("c.xlsx", rezip(&book, &|name: &str, data: Vec<u8>| {
            if name.ends_with("sharedStrings.xml") {
                let text = String::from_utf8(data).expect("utf8");
                let at = text.find("uniqueCount=\"").expect("uniqueCount") + "uniqueCount=\"".len();
                let end = at + text[at..].find('"').expect("quote");
                format!("{}{count}{}", &text[..at], &text[end..]).into_bytes()
            } else {
                data
            }
        }));
        for o in both(&w, "c.xlsx", &["T1"], 2) {
            let e = stderr(&o);
            assert!(e.contains("c.xlsx") && e.contains("shared strings"), "{count}: {e}");
        }
    }
}

#[test]
fn a_stray_cell_at_xfd1048576_costs_one_cell_not_the_grid() {
    let w = Work::new();
    w.write("c.xlsx", workbook(&consumption_rows(&["T1", "T2"]), |s| {
        s.write_number(1_048_575, 16_383, 1.0).expect("stray");
    }));
    for o in both(&w, "c.xlsx", &["T1", "T2"], 1) {
        let _ = o;
    }
    for out in ["m", "s"] {
        let s = summary(&w, out);
        let input = &s["inputs"][0];
        // the stray cell's row is read, and rejected: it has no trade
        assert_eq!((input["rows"].as_u64(), input["accepted"].as_u64(), input["rejected"].as_u64()), (Some(3), Some(2), Some(1)), "{out}: {s}");
    }
    let rejected = read_csv(&w.path("m/rejected.csv"));
    assert!(rejected.iter().any(|r| r.values().any(|v| v.contains("1048576"))), "{rejected:?}");
    assert_eq!(w.read("m/findings.csv"), w.read("s/findings.csv"));
}

#[test]
fn a_workbook_part_that_fails_its_crc_stops_the_run_naming_it() {
    let book = rezip(&workbook(&consumption_rows(&["T1"]), |_| {}), &|_, d| d);
    // the shared string 123.45 becomes 923.45 in the stored bytes: valid XML, a wrong CRC-32
    let at = book.windows(6).position(|w| w == b"123.45").expect("value stored");
    let mut bad = book.clone();
    bad[at] = b'9';
    let w = Work::new();
    w.write("c.xlsx", &bad);
    for o in both(&w, "c.xlsx", &["T1"], 2) {
        let e = stderr(&o);
        assert!(e.contains("c.xlsx") && e.contains("damaged"), "{e}");
    }
    // the same workbook untouched reads (exit 1: 123.45 earns 7.41, not the 6.00 stated)
    let w = Work::new();
    w.write("c.xlsx", &book);
    both(&w, "c.xlsx", &["T1"], 1);
}

#[test]
fn json_records_each_with_a_key_of_their_own_cost_one_cell_each() {
    // 20,000 records, each with the usual fields and one key no other record has: 20,000
    // headers; a dense table would be 400 million cells
    let n = 20_000;
    let mut body = String::from("{\"fee_records\": [");
    for i in 0..n {
        if i > 0 {
            body.push(',');
        }
        body.push_str(&format!(
            r#"{{"customer_id": "C1", "association_type": "2", "service_type_code": "{EC2}", "charging_mode": 1, "trade_id": "T{i}", "trade_time": "2026-10-05T02:00:00Z", "payment_amount": 100.00, "cash_amount": 100.00, "extra_{i}": "x"}}"#
        ));
    }
    body.push_str("]}");
    let w = Work::new();
    w.write("c.json", body);
    w.write("rules.toml", rules(""));
    w.write("inc.csv", statement(&["T0"]).replace("2026-10", "2026-09"));
    let start = std::time::Instant::now();
    // (the statement is of September: the October rows are read and counted, and no findings
    // are written, which in a debug build would take most of the time)
    for (out, streamed) in [("m", false), ("s", true)] {
        let mut args = vec!["run", "--rules", "rules.toml", "--consumption", "c.json", "--incentives", "inc.csv", "--period", "2026-09", "--format", "json", "--out", out];
        if streamed {
            args.push("--streaming");
        }
        let o = w.recon(&args);
        assert!(matches!(o.status.code(), Some(0 | 1)), "{out}: {}{}", stdout(&o), stderr(&o));
    }
    for out in ["m", "s"] {
        let s = summary(&w, out);
        assert_eq!((s["inputs"][0]["rows"].as_u64(), s["inputs"][0]["accepted"].as_u64()), (Some(n), Some(n)), "{out}");
    }
    assert!(start.elapsed() < std::time::Duration::from_secs(60), "{:?}", start.elapsed());
}
