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
    // changes.csv (a run following the previous report) too; a trade id read back from the
    // previous findings.csv is not neutralised twice
    let c = w.recon(&[&base[..], &["--out", "c", "--previous", "m"]].concat());
    assert_eq!(c.status.code(), Some(1), "{}", stderr(&c));
    let changes = read_csv(&w.path("c/changes.csv"));
    let ch = changes.iter().find(|r| r["trade_id"] == "'-2+3").unwrap_or_else(|| panic!("{changes:?}"));
    assert_eq!((ch["delta"].as_str(), ch["previous_delta"].as_str()), ("-6.00", "-6.00"), "{ch:?}");
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

/// Small inputs of a run with findings of every action, a rejected row and a dispute.
fn small_inputs(w: &Work) -> Vec<&'static str> {
    let ec2 = "hws.service.type.ec2";
    w.write("rules.toml", rules(""));
    w.write("cons.csv", format!("{CONSUMPTION_HEADER}2026-10,C1,resale,{ec2},1,T1,2026-10-05 10:00:00,100.00,100.00,0\n2026-10,C1,resale,{ec2},1,T2,2026-10-05 10:00:00,50.00,50.00,0\n2026-10,C1,resale,{ec2},1,T3,not a time,1.00,1.00,0\n"));
    w.write("inc.csv", format!("incentive_period,trade_id,service_type_code,incentive_amount\n2026-10,T1,{ec2},6.00\n"));
    vec!["run", "--rules", "rules.toml", "--consumption", "cons.csv", "--incentives", "inc.csv"]
}

/// Every file in `dir` with its bytes, hidden ones included.
fn snapshot(dir: &std::path::Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .expect("ls")
        .map(|e| e.expect("entry"))
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .map(|e| (e.file_name().to_string_lossy().to_string(), std::fs::read(e.path()).expect("read")))
        .collect()
}

fn names(dir: &std::path::Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir).expect("ls").map(|e| e.expect("entry").file_name().to_string_lossy().to_string()).collect();
    v.sort();
    v
}

/// A run into a folder holding an earlier, fuller report leaves exactly its own outputs there
/// (recon's older ones removed, other files kept); summary.json lists them with their sha256;
/// verify reproduces it, and fails on an output the summary does not list or whose sha256 is not
/// the listed one.
#[test]
fn a_reused_out_holds_exactly_the_last_runs_report() {
    let w = Work::new();
    let base = small_inputs(&w);
    for streaming in [false, true] {
        let mode: &[&str] = if streaming { &["--streaming"] } else { &["--in-memory"] };
        let _ = std::fs::remove_dir_all(w.path("out"));
        let o = w.recon(&[&base[..], &["--out", "out"], mode].concat());
        assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
        assert_eq!(names(&w.path("out")), ["disputes.csv", "disputes.xlsx", "findings.csv", "rejected.csv", "report.html", "report.xlsx", "summary.json"]);
        w.write("out/notes.txt", "mine");
        let o = w.recon(&[&base[..], &["--out", "out", "--format", "csv,json"], mode].concat());
        assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
        assert_eq!(names(&w.path("out")), ["disputes.csv", "findings.csv", "notes.txt", "rejected.csv", "summary.json"], "streaming {streaming}");
        assert_eq!(w.read("out/notes.txt"), "mine");
        let summary: serde_json::Value = serde_json::from_str(&w.read("out/summary.json")).expect("json");
        let outputs = summary["outputs"].as_array().expect("outputs");
        let listed: Vec<&str> = outputs.iter().map(|o| o["path"].as_str().expect("path")).collect();
        assert_eq!(listed, ["findings.csv", "disputes.csv", "rejected.csv"]);
        for o in outputs {
            let bytes = std::fs::read(w.path(&format!("out/{}", o["path"].as_str().expect("path")))).expect("read");
            use sha2::Digest;
            let hex: String = sha2::Sha256::digest(&bytes).iter().map(|b| format!("{b:02x}")).collect();
            assert_eq!(o["sha256"].as_str(), Some(hex.as_str()));
        }
        let v = w.recon(&["verify", "out"]);
        assert_eq!(v.status.code(), Some(0), "{}{}", stdout(&v), stderr(&v));
        assert!(stdout(&v).contains("reproduces exactly"), "{}", stdout(&v));
    }
    // an output the summary does not list: verify fails on it
    w.write("out/report.html", "<html>an older report</html>");
    let v = w.recon(&["verify", "out"]);
    assert_eq!(v.status.code(), Some(1), "{}", stdout(&v));
    assert!(stdout(&v).contains("DIFFERS  report.html: in the report directory but not among summary.json's outputs"), "{}", stdout(&v));
    std::fs::remove_file(w.path("out/report.html")).expect("rm");
    // a listed output changed: its sha256 is not the listed one
    let mut text = w.read("out/rejected.csv");
    text.push_str("x\n");
    w.write("out/rejected.csv", text);
    let v = w.recon(&["verify", "out"]);
    assert_eq!(v.status.code(), Some(1), "{}", stdout(&v));
    assert!(stdout(&v).contains("rejected.csv: sha256 ") && stdout(&v).contains("summary.json lists"), "{}", stdout(&v));
}

/// A run that fails leaves the previous report as it was, byte for byte, and says so; nothing of
/// it is left behind (in memory and streamed).
#[test]
fn a_failed_run_leaves_the_previous_report_as_it_was() {
    let w = Work::new();
    let base = small_inputs(&w);
    let o = w.recon(&[&base[..], &["--out", "out"]].concat());
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let before = snapshot(&w.path("out"));
    w.write("bad.csv", "incentive_period,trade_id,incentive_amount\n2026-10,T1,6.00\n"); // no service column
    for mode in ["--in-memory", "--streaming"] {
        let o = w.recon(&["run", "--rules", "rules.toml", "--consumption", "cons.csv", "--incentives", "bad.csv", "--out", "out", "--format", "csv,json", mode]);
        assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
        assert!(stderr(&o).contains("bad.csv: the incentives file has no column service_type_code"), "{}", stderr(&o));
        assert!(stderr(&o).contains("nothing of this run was written: the report in --out, if any, is as it was"), "{}", stderr(&o));
        assert_eq!(snapshot(&w.path("out")), before, "{mode}: the previous report changed");
        assert_eq!(names(&w.path("out")).len(), before.len(), "{mode}: nothing left behind");
        // into a folder that did not exist: none is left
        let o = w.recon(&["run", "--rules", "rules.toml", "--consumption", "cons.csv", "--incentives", "bad.csv", "--out", "new", mode]);
        assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
        assert!(!w.path("new").exists(), "{mode}: a failed run leaves no empty --out");
    }
}

/// `flock` on a file of the test's own (what a running recon holds).
fn hold_lock(path: &std::path::Path, pid: &str) -> std::fs::File {
    use std::io::Write;
    use std::os::fd::AsRawFd;
    let mut f = std::fs::OpenOptions::new().read(true).write(true).create(true).truncate(true).open(path).expect("lock file");
    // SAFETY: flock on a descriptor the test owns.
    assert_eq!(unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) }, 0, "flock");
    write!(f, "{pid}\n").expect("write pid");
    f
}

/// A second run into a folder another run is writing to exits 2 naming that run's pid, and
/// touches nothing; once the lock is released (or its holder killed), runs go on.
#[test]
fn a_second_run_into_a_locked_out_exits_2_naming_the_other() {
    let w = Work::new();
    let base = small_inputs(&w);
    let o = w.recon(&[&base[..], &["--out", "out"]].concat());
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let before = snapshot(&w.path("out"));
    let lock = hold_lock(&w.path("out/.recon.lock"), "4242");
    for mode in ["--in-memory", "--streaming"] {
        let o = w.recon(&[&base[..], &["--out", "out", mode]].concat());
        assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
        assert!(stderr(&o).contains("out: another recon run (pid 4242) is writing its report there"), "{}", stderr(&o));
        let mut now = snapshot(&w.path("out"));
        now.remove(".recon.lock");
        let mut was = before.clone();
        was.remove(".recon.lock");
        assert_eq!(now, was);
    }
    drop(lock);
    // a lock file left behind by a run that was killed does not block (the kernel let go of it)
    let o = w.recon(&[&base[..], &["--out", "out"]].concat());
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(!w.path("out/.recon.lock").exists(), "the lock file goes with the run");
}

/// `recon gen` inputs of `rows` consumption rows in `w/dir`, and the arguments of a run on them.
fn generated(w: &Work, rows: &str, dir: &str) -> Vec<String> {
    let g = w.recon(&["gen", "--rows", rows, "--out", dir]);
    assert_eq!(g.status.code(), Some(0), "{}", stderr(&g));
    ["run", "--rules", "rules.toml", "--consumption", "consumption.csv", "--incentives", "incentives.csv", "--customers", "customers.csv"]
        .iter()
        .enumerate()
        .map(|(i, a)| if i > 0 && i % 2 == 0 { format!("{dir}/{a}") } else { a.to_string() })
        .collect()
}

/// The files of `dir` but the lock file (which a killed run leaves, and the next run takes).
fn report_files(dir: &std::path::Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    let mut s = snapshot(dir);
    s.remove(".recon.lock");
    s
}

/// A run killed while it works (streamed: while it partitions; in memory) leaves the previous
/// report as it was (and while it works, a second run into its folder exits 2 naming its pid);
/// the next run into the folder removes what the killed ones left
/// (`.recon-staging-PID`, `.recon-partitions-PID`) and is not blocked by their lock file.
#[test]
fn a_killed_run_leaves_the_previous_report_and_the_next_run_removes_its_leftovers() {
    let w = Work::new();
    let big = generated(&w, "200000", "g");
    let small = small_inputs(&w);
    let o = w.recon(&[&small[..], &["--out", "out"]].concat());
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let before = report_files(&w.path("out"));
    for mode in ["--streaming", "--in-memory"] {
        let mut child = std::process::Command::new(bin())
            .args(&big)
            .args(["--out", "out", "--format", "csv,json", mode])
            .current_dir(w.dir.path())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("spawn recon");
        let pid = child.id();
        let working = w.path(&format!("out/.recon-staging-{pid}"));
        let t = std::time::Instant::now();
        while !working.exists() {
            assert!(child.try_wait().expect("wait").is_none(), "{mode}: the run ended before it was killed");
            assert!(t.elapsed().as_secs() < 60, "{mode}: the run did not start");
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        // a second run into the folder meanwhile exits 2 naming the first, and changes nothing
        let second = w.recon(&[&small[..], &["--out", "out", mode]].concat());
        assert_eq!(second.status.code(), Some(2), "{mode}: {}", stderr(&second));
        assert!(stderr(&second).contains(&format!("another recon run (pid {pid}) is writing its report there")), "{mode}: {}", stderr(&second));
        std::thread::sleep(std::time::Duration::from_millis(300));
        assert!(child.try_wait().expect("wait").is_none(), "{mode}: the run ended before it was killed");
        child.kill().expect("kill");
        child.wait().expect("wait");
        assert!(working.exists(), "{mode}: a killed run leaves its staging directory");
        assert_eq!(report_files(&w.path("out")), before, "{mode}: the previous report changed");
    }
    let o = w.recon(&[&small[..], &["--out", "out"]].concat());
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("recon: removed .recon-staging-") && stderr(&o).contains("left by a run that was stopped"), "{}", stderr(&o));
    assert!(names(&w.path("out")).iter().all(|n| !n.starts_with('.')), "{:?}", names(&w.path("out")));
    assert_eq!(report_files(&w.path("out")), before, "the same report again");
}

/// A tmpfs mounted for a test, unmounted when dropped.
struct Mount(std::path::PathBuf);

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.0).status();
    }
}

/// A disk that fills up while the outputs are written: the run exits 2 naming the file it could
/// not write, and the previous report is as it was (in memory and streamed). Needs root to mount
/// a small tmpfs; skipped with a message otherwise.
#[test]
fn a_full_disk_leaves_the_previous_report_as_it_was() {
    let w = Work::new();
    let mnt = w.path("mnt");
    std::fs::create_dir(&mnt).expect("mkdir");
    let mounted = std::process::Command::new("mount").args(["-t", "tmpfs", "-o", "size=1m", "tmpfs"]).arg(&mnt).stderr(std::process::Stdio::null()).status();
    if !mounted.is_ok_and(|s| s.success()) {
        eprintln!("skipped: cannot mount a tmpfs here (not root?): the full-disk case is not tested");
        return;
    }
    let _mount = Mount(mnt.clone());
    let small = small_inputs(&w);
    let o = w.recon(&[&small[..], &["--out", "mnt/out"]].concat());
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let before = report_files(&w.path("mnt/out"));
    let big = generated(&w, "20000", "g");
    for mode in ["--in-memory", "--streaming"] {
        let args: Vec<&str> = big.iter().map(String::as_str).chain(["--out", "mnt/out", mode]).collect();
        let o = w.recon(&args);
        assert_eq!(o.status.code(), Some(2), "{mode}: {}", stderr(&o));
        assert!(stderr(&o).contains("No space left on device") && stderr(&o).contains("error: cannot write "), "{mode}: {}", stderr(&o));
        assert!(!stderr(&o).contains("cannot read"), "{mode}: a full disk is a write error: {}", stderr(&o));
        assert!(stderr(&o).contains("nothing of this run was written"), "{mode}: {}", stderr(&o));
        assert_eq!(report_files(&w.path("mnt/out")), before, "{mode}: the previous report changed");
        assert!(names(&w.path("mnt/out")).iter().all(|n| !n.starts_with('.')), "{mode}: {:?}", names(&w.path("mnt/out")));
    }
}
