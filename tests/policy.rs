//! The policy tools (contract §7, issue 22) through the binary: `init` drafts rules from the
//! exports (the demo; `recon gen` exports, whose policy it must recover), `estimate` gives the
//! run's expected incentive from consumption alone, `whatif` prices other rules on a report's
//! inputs; each in memory and streamed.

mod common;

use std::collections::{BTreeMap, HashMap};

use common::*;
use rust_decimal::Decimal;

fn demo(name: &str) -> String {
    repo().join("fixtures/demo").join(name).display().to_string()
}

fn ok(o: &std::process::Output, codes: &[i32]) {
    assert!(codes.contains(&o.status.code().unwrap_or(-1)), "exit {:?}\nstdout:\n{}\nstderr:\n{}", o.status.code(), stdout(o), stderr(o));
}

fn dec(s: &str) -> Decimal {
    Decimal::from_str_exact(s).unwrap_or_else(|_| panic!("not an amount: {s:?}"))
}

fn summary(w: &Work, dir: &str) -> serde_json::Value {
    serde_json::from_str(&w.read(&format!("{dir}/summary.json"))).expect("summary.json")
}

/// Each period's expected incentive in a report's waterfall.
fn expected_by_period(w: &Work, dir: &str) -> BTreeMap<String, Decimal> {
    summary(w, dir)["periods"].as_array().expect("periods").iter().map(|p| (p["period"].as_str().unwrap_or("").to_string(), dec(p["waterfall"]["expected_incentive"].as_str().unwrap_or("")))).collect()
}

fn categories(w: &Work, dir: &str) -> HashMap<String, String> {
    read_csv(&w.path(&format!("{dir}/findings.csv"))).into_iter().map(|f| (f["finding_id"].clone(), f["category"].clone())).collect()
}

/// The sum of a money column per period of a CSV output.
fn sum_by_period(w: &Work, file: &str, column: &str) -> BTreeMap<String, Decimal> {
    let mut out = BTreeMap::new();
    for r in read_csv(&w.path(file)) {
        *out.entry(r["period"].clone()).or_insert(Decimal::ZERO) += dec(&r[column]);
    }
    out
}

fn demo_init(w: &Work, out: &str, extra: &[&str]) -> std::process::Output {
    let (c, i, k) = (demo("consumption"), demo("incentives"), demo("customers.csv"));
    w.recon(&[&["init", "--consumption", &c, "--incentives", &i, "--customers", &k, "--out", out][..], extra].concat())
}

fn demo_run(w: &Work, rules: &str, out: &str, extra: &[&str]) -> std::process::Output {
    let (c, i, k) = (demo("consumption"), demo("incentives"), demo("customers.csv"));
    w.recon(&[&["run", "--rules", rules, "--consumption", &c, "--incentives", &i, "--customers", &k, "--out", out, "--format", "csv,json"][..], extra].concat())
}

/// On the demo: the draft passes check-rules, says what it inferred, flags the conflicts (ebs paid
/// at 5 % and 4 %, the marketplace paid once and not once) and the products nothing pays, and a
/// run with it decides every key as the demo's own rules do.
#[test]
fn init_on_the_demo_drafts_the_demo_policy() {
    let w = Work::new();
    let o = demo_init(&w, "draft.toml", &[]);
    ok(&o, &[1]); // (the demo has a rejected row)
    let out = stdout(&o);
    for says in ["base       counted = cash_amount, credit_amount, stored_value_card_amount, debt_amount", "late window 24 h", "rebind grace 6 months", "lag 1 month", "CONFLICT", "1 input rows rejected"] {
        assert!(out.contains(says), "stdout lacks {says:?}:\n{out}");
    }
    assert!(w.path("draft.rejected.csv").exists(), "rejected rows go beside the draft");
    let draft = w.read("draft.toml");
    for has in [
        "# lines per rate paid: 3 at 0.05, 1 at 0.04  <- CONFLICT",
        "id = \"marketplace\"\nservice_type = \"hws.service.type.marketplace\"\nrate = \"0\"   # CONFLICT: some statement lines pay it",
        "id = \"vpc\"\nservice_type = \"hws.service.type.vpc\"\nrate = \"0\"\nreason = \"no statement line pays it",
        "id = \"cdn\"\nservice_type = \"hws.service.type.cdn\"\nrate = \"0.05\"",
        "lag_months = 1",
        "id = \"ec2-subscription\"\nservice_type = \"hws.service.type.ec2\"\ncharging_modes = [\"包年/包月\"]\nrate = \"0.06\"",
        "id = \"ec2-on-demand\"\nservice_type = \"hws.service.type.ec2\"\ncharging_modes = [\"按需\"]\nrate = \"0.03\"",
        "late_window_hours = 24",
        "association_types = [\"resale\", \"referral\"]",
        "rebind_grace_months = 6",
        "not inferred",
    ] {
        assert!(draft.contains(has), "the draft lacks {has:?}:\n{draft}");
    }
    let o = w.recon(&["check-rules", "draft.toml"]);
    ok(&o, &[0]);
    ok(&demo_run(&w, &demo("rules.toml"), "orig", &[]), &[1]);
    ok(&demo_run(&w, "draft.toml", "drafted", &[]), &[1]);
    let (a, b) = (categories(&w, "orig"), categories(&w, "drafted"));
    assert_eq!(a.len(), b.len());
    for (id, cat) in &a {
        assert_eq!(Some(cat), b.get(id), "finding {id}: {cat} under the demo rules, {:?} under the draft", b.get(id));
    }
}

/// `init` never overwrites without --force; with it, it does.
#[test]
fn init_refuses_to_overwrite_an_existing_file() {
    let w = Work::new();
    w.write("mine.toml", "# my own policy\n");
    let o = demo_init(&w, "mine.toml", &[]);
    ok(&o, &[2]);
    assert!(stderr(&o).contains("mine.toml") && stderr(&o).contains("--force"), "{}", stderr(&o));
    assert_eq!(w.read("mine.toml"), "# my own policy\n", "overwritten without --force");
    let o = demo_init(&w, "mine.toml", &["--force"]);
    ok(&o, &[1]);
    assert!(w.read("mine.toml").contains("[[product]]"));
}

/// Statements without a line: exit 2, naming the file, saying a draft needs a statement.
#[test]
fn init_without_statement_lines_is_an_error() {
    let w = Work::new();
    w.write("c.csv", format!("{CONSUMPTION_HEADER}2026-10,C1,代售,hws.service.type.ec2,包年/包月,CS1,2026-10-05 10:00:00,100.00,100.00,0\n"));
    w.write("empty_statement.csv", INCENTIVE_HEADER);
    let o = w.recon(&["init", "--consumption", "c.csv", "--incentives", "empty_statement.csv", "--out", "r.toml"]);
    ok(&o, &[2]);
    let e = stderr(&o);
    assert!(e.contains("empty_statement.csv") && e.contains("a draft needs at least one statement"), "{e}");
    assert!(!w.path("r.toml").exists());
}

/// Where components fit alike, the draft says so; a rate paid once on a product the statements
/// otherwise leave unpaid is a conflict, not the product's rate.
#[test]
fn init_comments_say_what_also_fits_and_what_conflicts() {
    let w = Work::new();
    let mut c = String::from(CONSUMPTION_HEADER);
    let mut i = String::from(INCENTIVE_HEADER);
    for n in 0..6 {
        c.push_str(&format!("2026-10,C1,代售,hws.service.type.ec2,包年/包月,CS{n},2026-10-0{} 10:00:00,110.00,100.00,10.00\n", n + 1));
        i.push_str(&format!("2026-10,I{n},CS{n},hws.service.type.ec2,100.00,{},{}\n", if n == 0 { "5%" } else { "6%" }, if n == 0 { "5.00" } else { "6.00" }));
    }
    for n in 0..3 {
        c.push_str(&format!("2026-10,C1,代售,hws.service.type.dns,按需,TX{n},2026-10-1{n} 10:00:00,50.00,50.00,0\n"));
    }
    i.push_str("2026-10,J0,TX0,hws.service.type.dns,50.00,2%,1.00\n");
    w.write("c.csv", c);
    w.write("i.csv", i);
    let o = w.recon(&["init", "--consumption", "c.csv", "--incentives", "i.csv", "--out", "r.toml"]);
    ok(&o, &[0]);
    let draft = w.read("r.toml");
    assert!(draft.contains("# lines per rate paid: 5 at 0.06, 1 at 0.05  <- CONFLICT"), "{draft}");
    assert!(draft.contains("counted = [\"cash_amount\"]") && draft.contains("# not counted: coupon_amount"), "{draft}");
    assert!(draft.contains("id = \"dns\"\nservice_type = \"hws.service.type.dns\"\nrate = \"0\"   # CONFLICT"), "{draft}");
    assert!(draft.contains("reason = \"paid on only 1 of 3 attributed orders"), "{draft}");
    ok(&w.recon(&["check-rules", "r.toml"]), &[0]);
}

/// The round trip on generated exports: the generator's products and rates come back, every
/// finding MATCHED under the generator's rules is MATCHED under the draft, and at least 99 % of
/// all findings have the same category.
#[test]
fn init_recovers_the_policy_of_generated_exports() {
    let w = Work::new();
    ok(&w.recon(&["gen", "--rows", "20000", "--out", "g", "--seed", "5"]), &[0]);
    let o = w.recon(&["init", "--consumption", "g/consumption.csv", "--incentives", "g/incentives.csv", "--customers", "g/customers.csv", "--out", "draft.toml"]);
    ok(&o, &[0]);
    let draft: toml::Value = toml::from_str(&w.read("draft.toml")).expect("toml");
    let products = draft["product"].as_array().expect("products");
    // (service, charging mode, rate, lag) of recon gen's policy; vpc has no product there (rate 0 here)
    for (svc, mode, rate, lag) in [
        ("hws.service.type.ec2", "包年/包月", "0.06", 0),
        ("hws.service.type.ec2", "按需", "0.03", 0),
        ("hws.service.type.ebs", "按需", "0.05", 0),
        ("hws.service.type.obs", "按需", "0.04", 0),
        ("hws.service.type.cdn", "按需", "0.05", 1),
        ("hws.service.type.marketplace", "包年/包月", "0", 0),
        ("hws.service.type.vpc", "按需", "0", 0),
    ] {
        let p = products
            .iter()
            .find(|p| p["service_type"].as_str() == Some(svc) && p.get("charging_modes").is_none_or(|m| m.as_array().is_some_and(|m| m.iter().any(|x| x.as_str() == Some(mode)))))
            .unwrap_or_else(|| panic!("no product for {svc} {mode}"));
        assert_eq!(p["rate"].as_str(), Some(rate), "{svc} {mode}");
        assert_eq!(p.get("lag_months").and_then(|l| l.as_integer()).unwrap_or(0), lag, "{svc} {mode}");
    }
    assert_eq!(draft["rollover"]["late_window_hours"].as_integer(), Some(24));
    assert_eq!(draft["attribution"]["rebind_grace_months"].as_integer(), Some(6));
    let base = ["--consumption", "g/consumption.csv", "--incentives", "g/incentives.csv", "--customers", "g/customers.csv", "--format", "csv,json"];
    ok(&w.recon(&[&["run", "--rules", "g/rules.toml", "--out", "orig"][..], &base].concat()), &[1]);
    ok(&w.recon(&[&["run", "--rules", "draft.toml", "--out", "drafted"][..], &base].concat()), &[1]);
    let (a, b) = (categories(&w, "orig"), categories(&w, "drafted"));
    let same = a.iter().filter(|(id, c)| b.get(*id) == Some(*c)).count();
    assert!(same * 100 >= a.len() * 99, "{same} of {} findings have the same category", a.len());
    for (id, c) in a.iter().filter(|(_, c)| c.as_str() == "MATCHED") {
        assert_eq!(b.get(id).map(String::as_str), Some("MATCHED"), "{id} is {c} under the generator's rules");
    }
}

/// A streamed `init` (the exports partitioned on disk, each stage over every partition) drafts
/// byte for byte what an in-memory one drafts, says the same, and rejects the same rows: on the
/// demo, and on generated exports past the base sample (so that the sample is taken by key, not
/// by position) with customers, cut into several partitions.
#[test]
fn init_streamed_drafts_what_in_memory_drafts() {
    let w = Work::new();
    let m = demo_init(&w, "mem.toml", &["--in-memory"]);
    let s = demo_init(&w, "str.toml", &["--streaming", "--partitions", "3"]);
    ok(&m, &[1]);
    ok(&s, &[1]);
    assert_eq!(w.read("mem.toml"), w.read("str.toml"));
    assert_eq!(stdout(&m).replace("mem.", "x."), stdout(&s).replace("str.", "x."));
    assert_eq!(w.read("mem.rejected.csv"), w.read("str.rejected.csv"));
    ok(&w.recon(&["gen", "--rows", "220000", "--out", "g", "--seed", "3"]), &[0]);
    let base = ["init", "--consumption", "g/consumption.csv", "--incentives", "g/incentives.csv", "--customers", "g/customers.csv"];
    let m = w.recon(&[&base[..], &["--out", "gm.toml", "--in-memory"]].concat());
    let s = w.recon(&[&base[..], &["--out", "gs.toml", "--streaming", "--partitions", "7"]].concat());
    ok(&m, &[0]);
    ok(&s, &[0]);
    let draft = w.read("gm.toml");
    assert_eq!(draft, w.read("gs.toml"));
    assert!(draft.contains("lag_months = 1") && draft.contains("late_window_hours = 24"), "{draft}");
    assert!(!stdout(&s).contains("of 0 statement bases"), "{}", stdout(&s));
    assert_eq!(stdout(&m).replace("gm.", "x."), stdout(&s).replace("gs.", "x."));
    let left: Vec<_> = std::fs::read_dir(w.path(".")).unwrap().flatten().map(|e| e.file_name().to_string_lossy().to_string()).filter(|n| n.contains("partitions")).collect();
    assert!(left.is_empty(), "the partition files are removed: {left:?}");
}

/// `estimate` from consumption alone gives, per period, exactly the expected incentive of a run
/// with the statements; its rows sum to it; streamed and in memory write the same estimate.
#[test]
fn estimate_is_the_runs_expected_incentive() {
    let w = Work::new();
    ok(&demo_run(&w, &demo("rules.toml"), "run", &[]), &[1]);
    let want = expected_by_period(&w, "run");
    let (r, c, k) = (demo("rules.toml"), demo("consumption"), demo("customers.csv"));
    for (dir, mode) in [("mem", "--in-memory"), ("str", "--streaming")] {
        let o = w.recon(&["estimate", "--rules", &r, "--consumption", &c, "--customers", &k, "--period", "2026-09", "--period", "2026-10", "--out", dir, mode]);
        ok(&o, &[1]); // (the demo's rejected row)
        assert_eq!(sum_by_period(&w, &format!("{dir}/estimate.csv"), "expected_incentive"), want, "{mode}");
        for (p, v) in &want {
            assert!(stdout(&o).contains(&format!("{p}  expected incentive {:>14}", v.to_string())), "{mode}: {}", stdout(&o));
        }
        assert!(stdout(&o).contains("2026-11") && stdout(&o).contains("rollover"), "the rollover into 2026-11 is named:\n{}", stdout(&o));
        assert_eq!(read_csv(&w.path(&format!("{dir}/rejected.csv"))).len(), 1);
    }
    assert_eq!(w.read("mem/estimate.csv"), w.read("str/estimate.csv"));
    // Without --period: every period the consumption falls due in, 2026-11 (rollover) included.
    let o = w.recon(&["estimate", "--rules", &r, "--consumption", &c, "--customers", &k, "--out", "all"]);
    ok(&o, &[1]);
    let all = sum_by_period(&w, "all/estimate.csv", "expected_incentive");
    for (p, v) in &want {
        assert_eq!(all.get(p), Some(v), "{p}");
    }
    assert_eq!(all.get("2026-11"), Some(&dec("30.00")), "{all:?}");
    let header = w.read("all/estimate.csv");
    assert!(header.starts_with("\u{feff}period,product_id,service_type_code,charging_mode,base,rate,expected_incentive,rows\n"), "{header}");
}

/// The same on generated exports (late window, lag, several thousand keys), streamed through
/// partitions.
#[test]
fn estimate_on_generated_exports_matches_the_run_streamed_and_in_memory() {
    let w = Work::new();
    ok(&w.recon(&["gen", "--rows", "20000", "--out", "g", "--seed", "9"]), &[0]);
    ok(&w.recon(&["run", "--rules", "g/rules.toml", "--consumption", "g/consumption.csv", "--incentives", "g/incentives.csv", "--customers", "g/customers.csv", "--out", "run", "--format", "csv,json"]), &[1]);
    let want = expected_by_period(&w, "run");
    let base = ["estimate", "--rules", "g/rules.toml", "--consumption", "g/consumption.csv", "--customers", "g/customers.csv", "--period", "2026-09", "--period", "2026-10"];
    ok(&w.recon(&[&base[..], &["--out", "mem", "--in-memory"]].concat()), &[0]);
    ok(&w.recon(&[&base[..], &["--out", "str", "--streaming", "--partitions", "5"]].concat()), &[0]);
    assert_eq!(sum_by_period(&w, "mem/estimate.csv", "expected_incentive"), want);
    assert_eq!(w.read("mem/estimate.csv"), w.read("str/estimate.csv"));
    let rows: u64 = read_csv(&w.path("mem/estimate.csv")).iter().map(|r| r["rows"].parse::<u64>().unwrap_or(0)).sum();
    assert!(rows > 10_000, "{rows} rows");
}

/// `whatif` on a report: its changes sum per period to the difference of two plain runs'
/// expected incentive; the report is untouched; streamed and in memory agree.
#[test]
fn whatif_changes_sum_to_the_difference_of_two_runs() {
    let w = Work::new();
    let fy27 = std::fs::read_to_string(demo("rules.toml")).expect("rules").replace("rate = \"0.06\"", "rate = \"0.07\"").replace("rate = \"0.04\"", "rate = \"0\"");
    w.write("fy27.toml", fy27);
    ok(&demo_run(&w, &demo("rules.toml"), "report", &[]), &[1]);
    ok(&demo_run(&w, "fy27.toml", "plain27", &[]), &[1]);
    let snapshot = |w: &Work| -> BTreeMap<String, String> {
        std::fs::read_dir(w.path("report")).expect("report").map(|e| e.expect("entry").path()).map(|p| (p.display().to_string(), String::from_utf8_lossy(&std::fs::read(&p).unwrap_or_default()).to_string())).collect()
    };
    let before = snapshot(&w);
    let (old, new) = (expected_by_period(&w, "report"), expected_by_period(&w, "plain27"));
    for (dir, mode) in [("wm", "--in-memory"), ("ws", "--streaming")] {
        let o = w.recon(&["whatif", "--report", "report", "--rules", "fy27.toml", "--out", dir, mode]);
        ok(&o, &[0]);
        let change = sum_by_period(&w, &format!("{dir}/whatif.csv"), "change");
        for (p, v) in &old {
            assert_eq!(change.get(p).copied().unwrap_or_default(), new[p] - v, "{mode} {p}");
            assert!(stdout(&o).contains(&format!("{p}  expected incentive {v} -> {}  change {}", new[p], new[p] - v)), "{}", stdout(&o));
        }
        assert!(stdout(&o).contains("RATE_MISMATCH") && stdout(&o).contains("count"), "{}", stdout(&o));
        assert_eq!(categories(&w, &format!("{dir}/after")), categories(&w, "plain27"), "the other rules' report is a plain run's");
    }
    assert_eq!(w.read("wm/whatif.csv"), w.read("ws/whatif.csv"));
    assert!(w.read("wm/whatif.csv").starts_with("\u{feff}period,product_id,service_type_code,charging_mode,expected_incentive_before,expected_incentive_after,change\n"));
    assert_eq!(snapshot(&w), before, "whatif touched the report");
}

/// The expected side summed as the other rules' run decides it (the "after") is, line by line,
/// what the report's findings.csv read back gives (the "before"): under the same rules every
/// line is unchanged, on generated exports with a partner bill, streamed and in memory.
#[test]
fn whatif_under_the_same_rules_changes_nothing() {
    let w = Work::new();
    let o = w.recon(&["gen", "--rows", "20000", "--seed", "5", "--out", "g"]);
    ok(&o, &[0]);
    w.write("same.toml", w.read("g/rules.toml"));
    let run = ["run", "--rules", "g/rules.toml", "--consumption", "g/consumption.csv", "--incentives", "g/incentives.csv", "--customers", "g/customers.csv", "--bills", "g/customerBill_202610.csv", "--out", "rep", "--exit-zero"];
    ok(&w.recon(&run), &[0]);
    for (dir, mode) in [("wm", "--in-memory"), ("ws", "--streaming")] {
        let o = w.recon(&["whatif", "--report", "rep", "--rules", "same.toml", "--out", dir, mode]);
        ok(&o, &[0]);
        let lines = read_csv(&w.path(&format!("{dir}/whatif.csv")));
        assert!(lines.len() > 4, "{lines:?}");
        for l in &lines {
            assert_eq!((l["expected_incentive_before"].as_str(), l["change"].as_str()), (l["expected_incentive_after"].as_str(), "0.00"), "{mode}: {l:?}");
        }
    }
    assert_eq!(w.read("wm/whatif.csv"), w.read("ws/whatif.csv"));
}

/// A report whose input changed since it was written cannot be priced: exit 2, naming the input.
#[test]
fn whatif_refuses_changed_inputs() {
    let w = Work::new();
    let c = w.write("c.csv", format!("{CONSUMPTION_HEADER}2026-10,C1,代售,hws.service.type.ec2,包年/包月,CS1,2026-10-05 10:00:00,100.00,100.00,0\n"));
    w.write("i.csv", format!("{INCENTIVE_HEADER}2026-10,I1,CS1,hws.service.type.ec2,100.00,6%,6.00\n"));
    w.write("r.toml", rules(""));
    ok(&w.recon(&["run", "--rules", "r.toml", "--consumption", "c.csv", "--incentives", "i.csv", "--out", "rep"]), &[0]);
    w.write("other.toml", rules("").replace("0.06", "0.05"));
    let o = w.recon(&["whatif", "--report", "rep", "--rules", "other.toml", "--out", "wi"]);
    ok(&o, &[0]);
    assert!(stdout(&o).contains("2026-10  expected incentive 6.00 -> 5.00  change -1.00"), "{}", stdout(&o));
    // A report without findings.csv (json only), or with one edited since: its run is redone.
    ok(&w.recon(&["run", "--rules", "r.toml", "--consumption", "c.csv", "--incentives", "i.csv", "--out", "rep_json", "--format", "json"]), &[0]);
    let o = w.recon(&["whatif", "--report", "rep_json", "--rules", "other.toml", "--out", "wj"]);
    ok(&o, &[0]);
    assert!(stdout(&o).contains("2026-10  expected incentive 6.00 -> 5.00  change -1.00"), "{}", stdout(&o));
    let edited = w.read("rep/findings.csv").replace(",6.00,", ",7.00,");
    w.write("rep/findings.csv", edited);
    let o = w.recon(&["whatif", "--report", "rep", "--rules", "other.toml", "--out", "we"]);
    ok(&o, &[0]);
    assert!(stdout(&o).contains("2026-10  expected incentive 6.00 -> 5.00  change -1.00"), "{}", stdout(&o));
    std::fs::write(&c, format!("{CONSUMPTION_HEADER}2026-10,C1,代售,hws.service.type.ec2,包年/包月,CS1,2026-10-05 10:00:00,200.00,200.00,0\n")).expect("write");
    let o = w.recon(&["whatif", "--report", "rep", "--rules", "other.toml", "--out", "wi2"]);
    ok(&o, &[2]);
    assert!(stderr(&o).contains("c.csv changed"), "{}", stderr(&o));
}

/// The three commands' help ends with examples.
#[test]
fn policy_commands_have_examples() {
    let w = Work::new();
    for cmd in ["init", "estimate", "whatif"] {
        let o = w.recon(&[cmd, "--help"]);
        ok(&o, &[0]);
        let help = stdout(&o);
        let tail = help.rsplit("Examples:").next().unwrap_or("");
        assert!(help.contains("Examples:") && tail.contains(&format!("recon {cmd} ")), "recon {cmd} --help:\n{help}");
    }
}
