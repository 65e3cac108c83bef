//! The demo end to end through the real binary, against golden outputs reviewed by hand
//! (tests/snapshots/). A change in any finding, explanation, citation or waterfall figure shows
//! up here as a diff.

mod common;

use common::*;

fn demo() -> (Work, std::process::Output) {
    let w = Work::new();
    let o = w.recon(&["demo", "--out", "out"]);
    (w, o)
}

#[test]
fn demo_findings_are_the_golden_ones() {
    let (w, o) = demo();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let findings = w.read("out/findings.csv");
    assert!(findings.starts_with('\u{feff}'), "findings.csv starts with a BOM");
    insta::assert_snapshot!("demo_findings", findings);
    insta::assert_snapshot!("demo_rejected", w.read("out/rejected.csv"));
}

#[test]
fn demo_summary_is_the_golden_one() {
    let (w, _) = demo();
    insta::assert_snapshot!("demo_summary", w.read("out/summary.json"));
}

#[test]
fn demo_prints_both_waterfalls() {
    let (_, o) = demo();
    insta::assert_snapshot!("demo_stdout", stdout(&o));
}

#[test]
fn demo_covers_every_category() {
    let (w, _) = demo();
    let findings = read_csv(&w.path("out/findings.csv"));
    for cat in [
        "DUPLICATE_INCENTIVE", "MATCHED", "ROUNDING", "RATE_MISMATCH", "BASE_MISMATCH", "AMOUNT_MISMATCH", "PERIOD_SHIFT",
        "ROLLOVER_PENDING", "MISSING_INCENTIVE", "UNEXPECTED_INCENTIVE", "OUT_OF_SCOPE", "ORPHAN_INCENTIVE",
        "INELIGIBLE_PRODUCT", "NOT_ATTRIBUTED", "BILL_MATCHED", "BILL_ROUNDING", "BILL_AMOUNT_MISMATCH", "BILL_MISSING_LINE",
        "BILL_EXTRA_LINE", "BILL_NOT_RESALE",
    ] {
        assert!(findings.iter().any(|f| f["category"] == cat), "demo has no {cat}");
    }
    // rule 9 (expected only, rounds to nothing) too
    assert!(findings.iter().any(|f| f["rule_ids"].starts_with("R9")));
}

#[test]
fn demo_is_reproducible_byte_for_byte() {
    let (a, _) = demo();
    let (b, _) = demo();
    for f in ["findings.csv", "summary.json", "rejected.csv"] {
        assert_eq!(a.read(&format!("out/{f}")), b.read(&format!("out/{f}")), "{f} differs between two runs");
    }
}

#[test]
fn exit_zero_turns_needs_action_into_success() {
    let w = Work::new();
    let o = w.recon(&["demo", "--out", "out", "--exit-zero"]);
    assert_eq!(o.status.code(), Some(0));
}

#[test]
fn check_rules_accepts_the_example() {
    let w = Work::new();
    let path = repo().join("rules/example.toml");
    let o = w.recon(&["check-rules", path.to_str().unwrap_or_default()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).contains("ecs-subscription"));
}

#[test]
fn inspect_reads_each_demo_format() {
    let w = Work::new();
    let dir = repo().join("fixtures/demo");
    let run = |f: &str| {
        let o = w.recon(&["inspect", dir.join(f).to_str().unwrap_or_default()]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        stdout(&o)
    };
    let gbk = run("consumption/consumption_2026-08.csv");
    assert!(gbk.contains("encoding  GBK") && gbk.contains("kind      consumption") && gbk.contains("rows      7"), "{gbk}");
    assert!(gbk.contains("columns ignored: 区域"), "{gbk}");
    assert!(gbk.contains("2026-08 (7 rows)"), "{gbk}");
    let xlsx = run("consumption/consumption_2026-09.xlsx");
    assert!(xlsx.contains("sheet     消费明细") && xlsx.contains("rows      19"), "{xlsx}");
    let json = run("consumption/consumption_2026-10.json");
    assert!(json.contains("kind      consumption") && json.contains("2026-10 (9 rows)"), "{json}");
    let inc = run("incentives/incentives_2026-09.csv");
    assert!(inc.contains("UTF-8 with BOM") && inc.contains("kind      incentives"), "{inc}");
}

/// The engine decides keys and streams findings a chunk at a time (`RECON_CHUNK_KEYS`, default
/// 131,072). Tiny chunks put PERIOD_SHIFT partners, and every other key, in different chunks:
/// every output file must still be byte-identical to the one-chunk run.
#[test]
fn chunked_decisions_write_the_same_bytes() {
    let (a, _) = demo();
    for chunk in ["1", "2", "5"] {
        let w = Work::new();
        let o = std::process::Command::new(bin())
            .args(["demo", "--out", "out"])
            .env("RECON_CHUNK_KEYS", chunk)
            .current_dir(w.dir.path())
            .output()
            .expect("run recon");
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        for f in ["findings.csv", "summary.json", "rejected.csv", "disputes.csv", "disputes.xlsx", "report.xlsx", "report.html"] {
            let (x, y) = (std::fs::read(a.path(&format!("out/{f}"))).expect("read"), std::fs::read(w.path(&format!("out/{f}"))).expect("read"));
            assert!(x == y, "{f} differs with RECON_CHUNK_KEYS={chunk}");
        }
    }
}
