//! `recon verify` and `recon explain` through the real binary.

mod common;

use common::*;

/// Copies the demo fixtures into a scratch directory and runs them there with relative paths.
fn demo_copy() -> Work {
    demo_copy_with(&[])
}

/// [`demo_copy`] with more arguments to `recon run`.
fn demo_copy_with(extra: &[&str]) -> Work {
    let w = Work::new();
    let src = repo().join("fixtures/demo");
    for sub in ["consumption", "incentives", "bills"] {
        for e in std::fs::read_dir(src.join(sub)).expect("ls") {
            let e = e.expect("entry");
            w.write(&format!("{sub}/{}", e.file_name().to_string_lossy()), std::fs::read(e.path()).expect("read"));
        }
    }
    w.write("customers.csv", std::fs::read(src.join("customers.csv")).expect("read"));
    w.write("rules.toml", std::fs::read(src.join("rules.toml")).expect("read"));
    let args = [&["run", "--rules", "rules.toml", "--consumption", "consumption", "--incentives", "incentives", "--customers", "customers.csv", "--out", "out"][..], extra].concat();
    let o = w.recon(&args);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    w
}

/// Moves the size above which runs (and explain) stream down to every input.
const STREAMS: [(&str, &str); 2] = [("RECON_AUTO_STREAMING_BYTES", "1"), ("RECON_TRACE", "1")];
const READ_ONE_TRADE: &str = "explain: the rows of the finding's trade id or customer read";

#[test]
fn explain_on_inputs_that_stream_prints_what_explain_in_memory_prints_for_every_finding() {
    let w = demo_copy_with(&["--bills", "bills"]);
    let findings = read_csv(&w.path("out/findings.csv"));
    assert!(findings.iter().any(|f| f["finding_id"].starts_with('B')), "the demo has bill findings");
    for f in &findings {
        let id = f["finding_id"].as_str();
        let memory = w.recon(&["explain", id, "--report", "out"]);
        let streamed = w.recon_env(&["explain", id, "--report", "out"], &STREAMS);
        assert_eq!(memory.status.code(), Some(0), "{id}: {}", stderr(&memory));
        assert_eq!(streamed.status.code(), Some(0), "{id}: {}", stderr(&streamed));
        assert_eq!(stdout(&streamed), stdout(&memory), "{id} ({})", f["category"]);
        assert!(stderr(&streamed).contains(READ_ONE_TRADE), "{id}: {}", stderr(&streamed));
        assert!(!stderr(&memory).contains(READ_ONE_TRADE));
    }
}

#[test]
fn explain_on_inputs_that_stream_finds_an_unknown_id_absent_without_reading_them() {
    let w = demo_copy();
    let o = w.recon_env(&["explain", "F000000000000", "--report", "out"], &STREAMS);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("no finding F000000000000"), "{}", stderr(&o));
    assert!(!stderr(&o).contains("read consumption"), "{}", stderr(&o));
}

#[test]
fn explain_on_inputs_that_stream_warns_of_a_changed_input_and_explains_from_it() {
    let w = demo_copy();
    let findings = read_csv(&w.path("out/findings.csv"));
    let f = findings.iter().find(|f| f["incentive_rows"].contains("incentives/incentives_2026-10.csv:") && f["category"] == "MATCHED").expect("a matched 2026-10 finding");
    let before = w.recon_env(&["explain", &f["finding_id"], "--report", "out"], &STREAMS);
    assert!(!stderr(&before).contains("has changed"), "{}", stderr(&before));
    // A line appended to the statement: the same findings, another sha256.
    let path = w.path("incentives/incentives_2026-10.csv");
    let mut text = std::fs::read_to_string(&path).expect("read");
    text.push_str(&text.lines().nth(1).expect("a row").replace(&f["trade_id"], "T-ANOTHER-ORDER"));
    text.push('\n');
    std::fs::write(&path, text).expect("write");
    let after = w.recon_env(&["explain", &f["finding_id"], "--report", "out"], &STREAMS);
    assert_eq!(after.status.code(), Some(0), "{}", stderr(&after));
    assert!(stderr(&after).contains("warning: input incentives/incentives_2026-10.csv has changed since the report was written"), "{}", stderr(&after));
    assert!(!stderr(&after).contains("incentives_2026-09.csv has changed"), "{}", stderr(&after));
    assert!(stderr(&after).contains(READ_ONE_TRADE), "{}", stderr(&after));
    assert_eq!(stdout(&after), stdout(&before));
}

#[test]
fn explain_on_inputs_that_stream_without_findings_csv_loads_every_row() {
    let w = demo_copy_with(&["--format", "json"]);
    let reference = demo_copy();
    let f = read_csv(&reference.path("out/findings.csv"));
    let shift = f.iter().find(|f| f["category"] == "PERIOD_SHIFT").expect("a PERIOD_SHIFT");
    let o = w.recon_env(&["explain", &shift["finding_id"], "--report", "out"], &STREAMS);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(!stderr(&o).contains(READ_ONE_TRADE), "{}", stderr(&o));
    assert_eq!(stdout(&o), stdout(&reference.recon(&["explain", &shift["finding_id"], "--report", "out"])));
}

#[test]
fn verify_passes_on_an_untouched_run() {
    let w = demo_copy();
    let o = w.recon(&["verify", "out"]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    let s = stdout(&o);
    assert!(s.contains("reproduces exactly"), "{s}");
    for f in ["findings.csv", "summary.json", "disputes.csv", "rejected.csv"] {
        assert!(s.contains(&format!("same     {f}")), "{f} not compared:\n{s}");
    }
}

/// Regression: a report of inputs named by absolute paths outside the directory it was made in
/// cites them by those paths. Verified from a directory above them, the re-run cited them
/// relative to it, and every output but rejected.csv "differed" although the inputs matched.
#[test]
fn verify_and_explain_reproduce_a_report_of_absolute_paths_from_a_directory_above_them() {
    let w = demo_copy();
    std::fs::create_dir_all(w.path("elsewhere")).expect("mkdir");
    let abs = |p: &str| w.path(p).display().to_string();
    let in_dir = |dir: &str, args: &[&str]| recon_in(&w.path(dir), args, &[]);
    let o = in_dir("elsewhere", &["run", "--rules", &abs("rules.toml"), "--consumption", &abs("consumption"), "--incentives", &abs("incentives"), "--customers", &abs("customers.csv"), "--out", &abs("abs-out")]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let findings = w.read("abs-out/findings.csv");
    assert!(findings.contains(&format!("{}/", abs("consumption"))), "citations are not the absolute paths given:\n{}", &findings[..600.min(findings.len())]);
    let id = read_csv(&w.path("abs-out/findings.csv")).into_iter().find(|f| f["category"] == "PERIOD_SHIFT").expect("a PERIOD_SHIFT finding")["finding_id"].clone();
    let reference = in_dir("elsewhere", &["explain", &id, "--report", &abs("abs-out")]);
    assert_eq!(reference.status.code(), Some(0), "{}", stderr(&reference));
    for dir in ["", "elsewhere"] {
        let o = in_dir(dir, &["verify", &abs("abs-out")]);
        assert_eq!(o.status.code(), Some(0), "verify from {dir:?}:\n{}{}", stdout(&o), stderr(&o));
        assert!(stdout(&o).contains("reproduces exactly"), "{}", stdout(&o));
        let o = in_dir(dir, &["explain", &id, "--report", &abs("abs-out")]);
        assert_eq!(stdout(&o), stdout(&reference), "explain from {dir:?}: {}", stderr(&o));
    }
}

#[test]
fn verify_names_an_input_whose_bytes_changed() {
    let w = demo_copy();
    let path = w.path("incentives/incentives_2026-10.csv");
    let mut bytes = std::fs::read(&path).expect("read");
    let last = bytes.len() - 2;
    bytes[last] = if bytes[last] == b'0' { b'1' } else { b'0' };
    std::fs::write(&path, bytes).expect("write");
    let o = w.recon(&["verify", "out"]);
    assert_eq!(o.status.code(), Some(1), "{}{}", stdout(&o), stderr(&o));
    let s = stdout(&o);
    assert!(s.contains("CHANGED  input incentives/incentives_2026-10.csv changed"), "{s}");
    assert!(!s.contains("incentives_2026-09.csv changed"), "{s}");
}

#[test]
fn verify_names_an_output_that_was_edited() {
    let w = demo_copy();
    let text = w.read("out/findings.csv").replacen("MISSING_INCENTIVE", "MATCHED", 1);
    w.write("out/findings.csv", text);
    let o = w.recon(&["verify", "out"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stdout(&o).contains("DIFFERS  findings.csv"), "{}", stdout(&o));
}

#[test]
fn verify_without_a_summary_is_an_error() {
    let w = Work::new();
    w.write("out/findings.csv", "x");
    let o = w.recon(&["verify", "out"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("summary.json"), "{}", stderr(&o));
}

#[test]
fn explain_a_period_shift_shows_both_periods() {
    let w = demo_copy();
    let f = read_csv(&w.path("out/findings.csv"));
    let shift = f.iter().find(|f| f["category"] == "PERIOD_SHIFT").expect("a PERIOD_SHIFT");
    let o = w.recon(&["explain", &shift["finding_id"], "--report", "out"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let s = stdout(&o);
    assert!(s.contains("expected in 2026-09, paid in 2026-10"), "{s}");
    assert!(s.contains("consumption/consumption_2026-09.xlsx!消费明细:13"), "{s}");
    assert!(s.contains("incentives/incentives_2026-10.csv:2"), "{s}");
    assert!(s.contains("product: ecs-subscription"), "{s}");
    assert!(s.contains("Decision (rule R7"), "{s}");
}

#[test]
fn explain_lists_every_source_row_not_the_first_twenty() {
    let w = Work::new();
    w.write("rules.toml", rules(""));
    let mut cons = String::from(CONSUMPTION_HEADER);
    for i in 0..25 {
        cons.push_str(&format!("2026-10,C1,resale,hws.service.type.ec2,1,T1,2026-10-{:02} 10:00:00,10.00,10.00,0\n", i + 1));
    }
    w.write("cons.csv", cons);
    w.write("inc.csv", format!("{INCENTIVE_HEADER}2026-10,I1,T1,hws.service.type.ec2,250,6%,14.00\n"));
    let o = w.recon(&["run", "--rules", "rules.toml", "--consumption", "cons.csv", "--incentives", "inc.csv", "--out", "out", "--format", "csv,json"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let f = read_csv(&w.path("out/findings.csv"));
    assert!(f[0]["consumption_rows"].ends_with("+5 more"), "{}", f[0]["consumption_rows"]);
    let o = w.recon(&["explain", &f[0]["finding_id"], "--report", "out"]);
    let s = stdout(&o);
    assert!(s.contains("Consumption rows (25):"), "{s}");
    for line in 2..=26 {
        assert!(s.contains(&format!("cons.csv:{line}\n")), "row {line} missing:\n{s}");
    }
    assert!(s.contains("Σ base = 250.00; Σ base × rate = 15"), "{s}");
    assert!(s.contains("delta = actual - expected = 14.00 - 15.00 = -1.00"), "{s}");
}

#[test]
fn explain_an_unknown_finding_is_an_error() {
    let w = demo_copy();
    let o = w.recon(&["explain", "F000000000000", "--report", "out"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("no finding F000000000000"), "{}", stderr(&o));
}

/// Regression: a bill finding was explained as an incentive one ("Incentive rows (0)", "rule R0",
/// "actual - expected = 0.00 - 0.00 = 10.00"); it compares the bill with resale consumption.
#[test]
fn explain_a_bill_finding_shows_bill_minus_consumption() {
    let w = demo_copy_with(&["--bills", "bills"]);
    let f = read_csv(&w.path("out/findings.csv"));
    let mismatch = f.iter().find(|f| f["category"] == "BILL_AMOUNT_MISMATCH").expect("a BILL_AMOUNT_MISMATCH");
    let o = w.recon(&["explain", &mismatch["finding_id"], "--report", "out"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let s = stdout(&o);
    let (cons, bill, delta) = (&mismatch["expected_base"], &mismatch["actual_base"], &mismatch["delta"]);
    assert!(s.contains(&format!("  consumption: Σ payment_amount = {cons} in bill cycle {}", mismatch["period"])), "{s}");
    assert!(s.contains(&format!("  delta = bill - consumption = {bill} - {cons} = {delta}; tolerance 0.01")), "{s}");
    assert!(s.contains("Decision (partner bill check of contract §3, grouped by customer_id,service_type_code"), "{s}");
    assert!(!s.contains("Incentive rows") && !s.contains("rule R0") && !s.contains("actual - expected"), "{s}");
}
