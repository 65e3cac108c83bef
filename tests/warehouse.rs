//! The warehouse path (contract §8, issue 21), differentially: on the demo fixtures, on
//! `recon gen --rows 50000`, and on every case of the decision tests (tests/decisions.rs, with
//! a few more for the rounding modes, globs, charging modes and the partner bill), `recon run`
//! writes findings.csv and summary.json; `recon normalize` writes the tables; `recon sql`
//! compiles the rules for Spark and for DuckDB; and tests/warehouse.py runs both scripts, on
//! Spark 3.5 in local mode with ANSI mode on and off (one Spark application for every case, each in a session of its own) and on DuckDB,
//! comparing every finding (finding_id, period, category, action, every amount, delta,
//! rule_ids, the texts and citations) and every waterfall step with recon's.
//!
//! Python with pyspark and duckdb is found through `RECON_PYTHON`, else the virtual environment
//! `.ci/run` makes (`$HOME/.cache/recon-venv`), else `python3`. Without them the test is
//! skipped with a notice, except under CI (`CI` set), where it fails.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;

const EC2: &str = "hws.service.type.ec2";

/// The first of `env` (an environment variable naming a Python), `$HOME/.cache/VENV/bin/python`
/// and the others given that runs `check`.
fn find_python(env: &str, venv: &str, others: &[&str], check: &str) -> Option<PathBuf> {
    let mut candidates: Vec<PathBuf> = Vec::new();
    if let Some(p) = std::env::var_os(env) {
        candidates.push(PathBuf::from(p));
    }
    if let Some(h) = std::env::var_os("HOME") {
        candidates.push(PathBuf::from(h).join(".cache").join(venv).join("bin/python"));
    }
    candidates.extend(others.iter().map(PathBuf::from));
    candidates.into_iter().find(|p| Command::new(p).args(["-c", check]).output().is_ok_and(|o| o.status.success()))
}

fn python() -> Option<PathBuf> {
    find_python("RECON_PYTHON", "recon-venv", &["python3"], "import pyspark, duckdb")
}

/// Python with pyspark 3.3 (DLI's other Spark): `RECON_PYTHON33`, else the virtual environment
/// `.ci/run` makes for it (`$HOME/.cache/recon-venv33`).
fn python33() -> Option<PathBuf> {
    find_python("RECON_PYTHON33", "recon-venv33", &[], "import pyspark; assert pyspark.__version__.startswith('3.3.')")
}

/// One decision case: rules, consumption rows (common::CONSUMPTION_HEADER), the incentive
/// header and rows, a customers file.
struct Case {
    name: &'static str,
    rules: String,
    cons: Vec<String>,
    inc_header: &'static str,
    inc: Vec<String>,
    customers: Option<&'static str>,
    bills: Option<&'static str>,
}

fn case(name: &'static str, cons: &[String], inc: &[String]) -> Case {
    Case { name, rules: rules(""), cons: cons.to_vec(), inc_header: INCENTIVE_HEADER, inc: inc.to_vec(), customers: None, bills: None }
}

fn cons(s: &str) -> String {
    s.replace("EC2", EC2)
}

fn decision_cases() -> Vec<Case> {
    let c = |s: &str| cons(s);
    let t1 = c("2026-10,C1,resale,EC2,1,T1,2026-10-05 10:00:00,100.00,100.00,0");
    let mut v = vec![
        case("r2_matched", &[t1.clone()], &[c("2026-10,I1,T1,EC2,100,6%,6.00")]),
        case("r3_rounding", &[t1.clone()], &[c("2026-10,I1,T1,EC2,100,6%,5.99")]),
        case("r4_rate_mismatch", &[t1.clone()], &[c("2026-10,I1,T1,EC2,100,0.05,5.00")]),
        case("r5_base_mismatch", &[t1.clone()], &[c("2026-10,I1,T1,EC2,90,6%,5.40")]),
        case("r6_amount_mismatch", &[t1.clone()], &[c("2026-10,I1,T1,EC2,100,6%,7.00")]),
        case("r1_duplicate_id", &[t1.clone()], &[c("2026-10,I1,T1,EC2,100,6%,6.00"), c("2026-10,I1,T1,EC2,100,6%,6.00")]),
        case(
            "r7_period_shift",
            &[c("2026-09,C1,resale,EC2,1,T1,2026-09-10 10:00:00,100.00,100.00,0"), c("2026-09,C1,resale,EC2,1,T2,2026-09-11 10:00:00,50.00,50.00,0")],
            &[c("2026-09,I2,T2,EC2,50,6%,3.00"), c("2026-10,I1,T1,EC2,100,6%,6.00")],
        ),
        case("r7_period_shift_underpaid", &[c("2026-09,C1,resale,EC2,1,T1,2026-09-10 10:00:00,100.00,100.00,0")], &[c("2026-09,I2,T9,EC2,50,6%,3.00"), c("2026-10,I1,T1,EC2,100,6%,4.00")]),
        case("r8_rollover_pending", &[c("2026-10,C1,resale,EC2,1,T1,2026-10-31 12:00:00,100.00,100.00,0")], &[c("2026-10,I9,T9,EC2,0,6%,0.00")]),
        case(
            "r9_rounds_to_nothing",
            &[c("2026-10,C1,resale,EC2,1,T1,2026-10-05 10:00:00,0.08,0.08,0"), c("2026-10,C1,resale,EC2,1,T2,2026-10-05 10:00:00,0.10,0.10,0")],
            &[c("2026-10,I9,T9,EC2,0,6%,0.00")],
        ),
        case("r10_missing", &[t1.clone()], &[c("2026-10,I9,T9,EC2,0,6%,0.00")]),
        case("r11_unexpected", &[c("2026-10,C1,resale,hws.service.type.vpc,3,T1,2026-10-05 10:00:00,100.00,100.00,0")], &[c("2026-10,I1,T1,hws.service.type.vpc,100,6%,6.00")]),
        case("r12_out_of_scope", &[t1.clone()], &[c("2026-10,I1,T1,EC2,100,6%,6.00"), c("2026-10,I2,T2,EC2,100,6%,6.00")]),
        case(
            "r13_orphan",
            &[c("2026-09,C1,resale,EC2,1,T0,2026-09-05 10:00:00,100.00,100.00,0"), t1.clone()],
            &[c("2026-10,I1,T1,EC2,100,6%,6.00"), c("2026-10,I2,T2,EC2,100,6%,6.00")],
        ),
        case(
            "excluded_payment",
            &[c("2026-10,C1,resale,EC2,1,T1,2026-10-05 10:00:00,150.00,100.00,50.00")],
            &[c("2026-10,I1,T1,EC2,100,6%,6.00")],
        ),
        case(
            "refunds",
            &[
                c("2026-10,C1,resale,EC2,1,T1,2026-10-05 10:00:00,-50.00,-50.00,0"),
                c("2026-10,C1,resale,EC2,1,T2,2026-10-05 10:00:00,100.00,100.00,0"),
                c("2026-10,C1,resale,EC2,1,T2,2026-10-06 10:00:00,(40.00),(40.00),0"),
            ],
            &[c("2026-10,I1,T1,EC2,-50,6%,-3.00"), c("2026-10,I2,T2,EC2,60,6%,3.60")],
        ),
        case(
            "late_window",
            &[c("2026-10,C1,resale,EC2,1,LATE,2026-10-31 00:00:00,100.00,100.00,0"), c("2026-10,C1,resale,EC2,1,INTIME,2026-10-30 23:59:59,100.00,100.00,0")],
            &[c("2026-10,I1,INTIME,EC2,100,6%,6.00")],
        ),
        case(
            "late_window_zones",
            &[c("2026-10,C1,resale,EC2,1,LATE,2026-10-30T16:00:00Z,100.00,100.00,0"), c("2026-10,C1,resale,EC2,1,INTIME,2026-10-30 23:59:59 GMT+08:00,100.00,100.00,0")],
            &[c("2026-10,I1,INTIME,EC2,100,6%,6.00")],
        ),
        case(
            "expected_of_unloaded_statement",
            &[c("2026-09,C1,resale,EC2,1,OLD,2026-09-05 10:00:00,100.00,100.00,0"), t1.clone()],
            &[c("2026-10,I1,T1,EC2,100,6%,6.00")],
        ),
        case("ids_and_citations", &[t1.clone()], &[c("2026-10,I1,T1,EC2,100,6%,6.00")]),
    ];
    let mut dup = case("r1_duplicate_identical_rows", &[t1.clone()], &[c("2026-10,T1,EC2,6.00"), c("2026-10,T1,EC2,6.00")]);
    dup.inc_header = "incentive_period,trade_id,service_type_code,incentive_amount\n";
    v.push(dup);
    let mut two = case("r1_two_rows_add_up", &[t1.clone()], &[c("2026-10,T1,EC2,4.00"), c("2026-10,T1,EC2,2.00")]);
    two.inc_header = "incentive_period,trade_id,service_type_code,incentive_amount\n";
    v.push(two);
    let mut r14 = case(
        "r14_ineligible",
        &[c("2026-10,C1,resale,hws.service.type.vpc,3,T1,2026-10-05 10:00:00,100.00,100.00,0"), c("2026-10,C1,resale,hws.service.type.marketplace,1,T2,2026-10-05 10:00:00,50.00,50.00,0")],
        &[c("2026-10,I9,T9,EC2,0,6%,0.00")],
    );
    r14.rules = rules("\n[[product]]\nid = \"market\"\nservice_type = \"hws.service.type.marketplace\"\nrate = \"0\"\nreason = \"云商店商品不产生激励\"\n");
    v.push(r14);
    let mut r15 = case("r15_type_not_listed", &[c("2026-10,C1,referral,EC2,1,T1,2026-10-05 10:00:00,100.00,100.00,0")], &[c("2026-10,I9,T9,EC2,0,6%,0.00")]);
    r15.rules = rules("").replace("association_types = [\"resale\", \"referral\"]", "association_types = [\"resale\"]");
    v.push(r15);
    let mut r15f = case(
        "r15_not_in_customers_file",
        &[t1.clone(), c("2026-10,C2,resale,EC2,1,T2,2026-10-05 10:00:00,100.00,100.00,0")],
        &[c("2026-10,I1,T1,EC2,100,6%,6.00")],
    );
    r15f.customers = Some("customer_id,association_type\nC1,代售\n");
    v.push(r15f);
    let promo = "\n[[product]]\nid = \"obs-promo\"\nservice_type = \"hws.service.type.obs\"\nrate = \"0.10\"\nvalid_from = \"2026-10-01\"\nvalid_to = \"2026-10-20\"\n\n[[product]]\nid = \"obs\"\nservice_type = \"hws.service.type.obs\"\nrate = \"0.04\"\n";
    let mut valid = case(
        "valid_from_to_local_date",
        &[
            c("2026-10,C1,resale,hws.service.type.obs,3,FROM_IN,2026-09-30T16:00:00Z,100.00,100.00,0"),
            c("2026-09,C1,resale,hws.service.type.obs,3,FROM_OUT,2026-09-30T15:59:59Z,100.00,100.00,0"),
            c("2026-10,C1,resale,hws.service.type.obs,3,TO_IN,2026-10-20T15:59:59Z,100.00,100.00,0"),
            c("2026-10,C1,resale,hws.service.type.obs,3,TO_OUT,2026-10-20T16:00:00Z,100.00,100.00,0"),
        ],
        &[
            c("2026-10,I1,FROM_IN,hws.service.type.obs,100,10%,10.00"),
            c("2026-10,I2,FROM_OUT,hws.service.type.obs,100,4%,4.00"),
            c("2026-10,I3,TO_IN,hws.service.type.obs,100,10%,10.00"),
            c("2026-10,I4,TO_OUT,hws.service.type.obs,100,4%,4.00"),
        ],
    );
    valid.rules = rules(promo);
    v.push(valid);
    let mut grace = case(
        "rebind_grace",
        &[c("2026-10,C1,resale,EC2,1,IN_GRACE,2026-10-15 09:59:59,100.00,100.00,0"), c("2026-10,C1,resale,EC2,1,AFTER,2026-10-15 10:00:00,100.00,100.00,0")],
        &[c("2026-10,I1,AFTER,EC2,100,6%,6.00")],
    );
    grace.customers = Some("客户ID,关联类型,关联时间,换绑时间\nC1,代售,2024-01-01 00:00:00,2026-04-15 10:00:00\n");
    v.push(grace);
    let mut lag = case(
        "association_lag",
        &[c("2026-10,C1,resale,EC2,1,EARLY,2026-10-03 23:59:59,100.00,100.00,0"), c("2026-10,C1,resale,EC2,1,ONTIME,2026-10-04 00:00:00,100.00,100.00,0")],
        &[c("2026-10,I1,ONTIME,EC2,100,6%,6.00")],
    );
    lag.rules = rules("").replace("rebind_grace_months = 6", "rebind_grace_months = 6\nassociation_lag_days = 3");
    lag.customers = Some("customer_id,association_type,associated_at\nC1,resale,2026-10-01 00:00:00\n");
    v.push(lag);
    let mut cdn = case(
        "monthly_settled",
        &[c("2026-09,C1,resale,hws.service.type.cdn,3,T1,2026-09-10 10:00:00,100.00,100.00,0")],
        &[c("2026-10,I1,T1,hws.service.type.cdn,100,5%,5.00"), c("2026-09,I9,T9,EC2,0,6%,0.00")],
    );
    cdn.rules = rules("\n[[product]]\nid = \"cdn\"\nservice_type = \"hws.service.type.cdn\"\nrate = \"0.05\"\nlag_months = 1\n");
    v.push(cdn);

    // Beyond tests/decisions.rs: each rounding mode on halves and negative halves, a glob
    // product after one limited to a charging mode, a rebind at a month's end (grace clamps to
    // the shorter month), and a partner bill with a referral customer's line.
    let halves = [
        c("2026-10,C1,resale,EC2,1,H1,2026-10-05 10:00:00,0.25,0.25,0"),
        c("2026-10,C1,resale,EC2,1,H2,2026-10-05 10:00:00,-0.25,-0.25,0"),
        c("2026-10,C1,resale,EC2,1,H3,2026-10-05 10:00:00,0.75,0.75,0"),
        c("2026-10,C1,resale,EC2,1,H4,2026-10-05 10:00:00,12.3456789,12.3456789,0"),
        c("2026-10,C1,resale,EC2,1,H5,2026-10-05 10:00:00,-0.75,-0.75,0"),
    ];
    let hinc = [c("2026-10,I1,H1,EC2,0.25,2%,0.01"), c("2026-10,I2,H2,EC2,-0.25,2%,-0.01"), c("2026-10,I3,H3,EC2,0.75,2%,0.02"), c("2026-10,I5,H5,EC2,-0.75,2%,-0.02")];
    for (name, mode) in [("rounding_half_up", "half_up"), ("rounding_half_even", "half_even"), ("rounding_down", "down")] {
        let mut r = case(name, &halves, &hinc);
        r.rules = rules("").replace("rate = \"0.06\"", "rate = \"0.02\"").replace("rounding = \"half_up\"", &format!("rounding = \"{mode}\"")).replace("scale = 2", "scale = 2");
        v.push(r);
    }
    let mut glob = case(
        "glob_and_modes",
        &[
            c("2026-10,C1,resale,hws.service.type.ebs,1,G1,2026-10-05 10:00:00,100.00,100.00,0"),
            c("2026-10,C1,resale,hws.service.type.ec2,3,G2,2026-10-05 10:00:00,100.00,100.00,0"),
            c("2026-10,C1,resale,hws.service.type.ec2,,G3,2026-10-05 10:00:00,100.00,100.00,0"),
            c("2026-10,C1,resale,hws_service.type.x,1,G4,2026-10-05 10:00:00,100.00,100.00,0"),
        ],
        &[c("2026-10,I1,G1,hws.service.type.ebs,100,1%,1.00"), c("2026-10,I2,G2,EC2,100,3%,3.00")],
    );
    glob.rules = rules("").replace(
        "[[product]]\nid = \"ecs\"\nservice_type = \"hws.service.type.ec2\"\nrate = \"0.06\"\n",
        "[[product]]\nid = \"ecs\"\nservice_type = \"hws.service.type.ec2\"\ncharging_modes = [\"包年/包月\"]\nrate = \"0.06\"\n\n[[product]]\nid = \"any_od\"\nservice_type = \"hws.service.*\"\ncharging_modes = [\"按需\"]\nrate = \"0.03\"\n\n[[product]]\nid = \"rest\"\nservice_type = \"hws.*.type.*\"\nrate = \"0.01\"\n",
    );
    v.push(glob);
    let mut eom = case(
        "rebind_at_month_end",
        &[c("2027-02,C1,resale,EC2,1,E1,2027-02-28 09:59:59,100.00,100.00,0"), c("2027-02,C1,resale,EC2,1,E2,2027-02-28 10:00:00,100.00,100.00,0")],
        &[c("2027-02,I1,E2,EC2,100,6%,6.00")],
    );
    eom.customers = Some("客户ID,关联类型,关联时间,换绑时间\nC1,代售,2024-01-01 00:00:00,2026-08-31 10:00:00\n");
    v.push(eom);
    let mut bill = case(
        "partner_bill",
        &[
            c("2026-10,C1,resale,EC2,1,B1,2026-10-05 10:00:00,100.00,100.00,0"),
            c("2026-10,C1,resale,EC2,1,B2,2026-10-06 10:00:00,50.00,50.00,0"),
            c("2026-10,C2,referral,EC2,1,B3,2026-10-06 10:00:00,70.00,70.00,0"),
            c("2026-10,C3,resale,EC2,1,B4,2026-10-06 10:00:00,30.00,30.00,0"),
        ],
        &[c("2026-10,I1,B1,EC2,100,6%,6.00")],
    );
    bill.bills = Some("客户ID,账期,计费模式,产品类型编码,订单号/交易号,应付金额\nC1,2026-10,0,hws.service.type.ec2,B1,100.00\nC1,2026-10,0,hws.service.type.ec2,B2,50.004\nC2,2026-10,0,hws.service.type.ec2,B3,70.00\nC4,2026-10,1,hws.service.type.obs,B9,9.00\n");
    bill.customers = Some("customer_id,association_type\nC1,resale\nC2,referral\n");
    v.push(bill);
    v
}

/// A case ready to compare: its directory, where it was run from.
struct Prepared {
    name: String,
    dir: PathBuf,
    args: Vec<String>,
    rules: String,
    /// Run on Spark alone (the others a few at a time).
    large: bool,
}

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).expect("write");
}

fn prepare_decision(root: &Path, c: &Case) -> Prepared {
    let dir = root.join(c.name);
    std::fs::create_dir_all(&dir).expect("mkdir");
    write(&dir, "rules.toml", &c.rules);
    write(&dir, "cons.csv", &format!("{CONSUMPTION_HEADER}{}\n", c.cons.join("\n")));
    write(&dir, "inc.csv", &format!("{}{}\n", c.inc_header, c.inc.join("\n")));
    let mut args: Vec<String> = ["--consumption", "cons.csv", "--incentives", "inc.csv"].iter().map(|s| s.to_string()).collect();
    if let Some(cu) = c.customers {
        write(&dir, "customers.csv", cu);
        args.extend(["--customers".to_string(), "customers.csv".to_string()]);
    }
    if let Some(b) = c.bills {
        write(&dir, "bills.csv", b);
        args.extend(["--bills".to_string(), "bills.csv".to_string()]);
    }
    Prepared { name: c.name.to_string(), dir, args, rules: "rules.toml".into(), large: false }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("read_dir") {
        let e = e.expect("entry");
        let p = e.path();
        if p.is_dir() {
            copy_dir(&p, &to.join(e.file_name()));
        } else {
            std::fs::copy(&p, to.join(e.file_name())).expect("copy");
        }
    }
}

/// The binary under test: `RECON_BIN` when set (to run this long test's binary directly, not
/// through `cargo test`, which holds the shared target directory's lock while tests run), else
/// cargo's.
fn recon_bin() -> PathBuf {
    std::env::var_os("RECON_BIN").map_or_else(bin, PathBuf::from)
}

fn run_in(dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new(recon_bin()).args(args).current_dir(dir).output().expect("run recon")
}

/// Runs recon run, normalize and sql (both dialects) for a case; returns its manifest entry.
fn run_case(p: &Prepared) -> serde_json::Value {
    let a: Vec<&str> = p.args.iter().map(String::as_str).collect();
    let mut run = vec!["run", "--rules", &p.rules];
    run.extend(&a);
    run.extend(["--out", "report", "--format", "csv,json", "--in-memory"]);
    let o = run_in(&p.dir, &run);
    assert!(matches!(o.status.code(), Some(0 | 1)), "{}: recon run failed:\n{}\n{}", p.name, stdout(&o), stderr(&o));
    let mut norm = vec!["normalize", "--rules", &p.rules];
    norm.extend(&a);
    norm.extend(["--out", "norm"]);
    let o = run_in(&p.dir, &norm);
    assert!(matches!(o.status.code(), Some(0 | 1)), "{}: recon normalize failed:\n{}\n{}", p.name, stdout(&o), stderr(&o));
    assert_eq!(
        std::fs::read(p.dir.join("norm/rejected.csv")).expect("norm/rejected.csv"),
        std::fs::read(p.dir.join("report/rejected.csv")).expect("report/rejected.csv"),
        "{}: normalize's rejected.csv is the run's",
        p.name
    );
    for d in ["spark", "duckdb"] {
        let file = format!("{d}.sql");
        let o = run_in(&p.dir, &["sql", "--rules", &p.rules, "--dialect", d, "--out", &file]);
        assert_eq!(o.status.code(), Some(0), "{}: recon sql --dialect {d} failed:\n{}\n{}", p.name, stdout(&o), stderr(&o));
    }
    serde_json::json!({
        "name": p.name,
        "norm": p.dir.join("norm"),
        "report": p.dir.join("report"),
        "spark": p.dir.join("spark.sql"),
        "duckdb": p.dir.join("duckdb.sql"),
        "large": p.large,
    })
}

#[test]
fn the_compiled_script_gives_recons_findings_on_spark_and_duckdb() {
    let Some(py) = python() else {
        if std::env::var_os("CI").is_some() {
            panic!("tests/warehouse.rs needs Python with pyspark 3.5 and duckdb (and Java 17) under CI: .ci/run installs them into $HOME/.cache/recon-venv; or set RECON_PYTHON");
        }
        eprintln!("tests/warehouse.rs: skipped: no Python with pyspark and duckdb (set RECON_PYTHON, or run .ci/run, which installs them)");
        return;
    };
    let w = Work::new();
    let root = w.dir.path().to_path_buf();
    if let Some(keep) = std::env::var_os("RECON_WAREHOUSE_KEEP") {
        // (to rerun tests/warehouse.py by hand on the cases: the directory is left in place)
        let _ = std::fs::write(keep, root.display().to_string());
        std::mem::forget(w);
    }
    let mut prepared = Vec::new();

    // The demo, as `recon demo` runs it (citations relative to the demo directory).
    let demo = root.join("demo");
    copy_dir(&repo().join("fixtures/demo"), &demo);
    prepared.push(Prepared {
        name: "demo".into(),
        dir: demo,
        args: ["--consumption", "consumption", "--incentives", "incentives", "--bills", "bills", "--customers", "customers.csv"].iter().map(|s| s.to_string()).collect(),
        rules: "rules.toml".into(),
        large: true,
    });

    // recon gen --rows 50000
    let gen = root.join("gen50k");
    std::fs::create_dir_all(&gen).expect("mkdir");
    let o = run_in(&gen, &["gen", "--rows", "50000", "--out", "."]);
    assert_eq!(o.status.code(), Some(0), "recon gen failed: {}", stderr(&o));
    prepared.push(Prepared {
        name: "gen50k".into(),
        dir: gen,
        args: ["--consumption", "consumption.csv", "--incentives", "incentives.csv", "--bills", "customerBill_202610.csv", "--customers", "customers.csv"].iter().map(|s| s.to_string()).collect(),
        rules: "rules.toml".into(),
        large: true,
    });

    for c in decision_cases() {
        prepared.push(prepare_decision(&root, &c));
    }
    let cases: Vec<serde_json::Value> = prepared.iter().map(run_case).collect();
    let manifest = root.join("manifest.json");
    std::fs::write(&manifest, serde_json::to_vec_pretty(&serde_json::json!({ "warehouse": root.join("wh"), "cases": cases })).expect("json")).expect("manifest");
    let engines = std::env::var("RECON_WAREHOUSE_ENGINES").unwrap_or_else(|_| "duckdb,spark-ansi,spark".to_string());
    let mut runs = vec![(py, engines, "3.5")];
    // Spark 3.3, as DLI also runs it: the same cases, ANSI on and off, in an application of its own.
    match python33() {
        Some(py33) => runs.push((py33, std::env::var("RECON_WAREHOUSE_ENGINES_33").unwrap_or_else(|_| "spark-ansi,spark".to_string()), "3.3")),
        None if std::env::var_os("CI").is_some() => panic!("tests/warehouse.rs needs Python with pyspark 3.3 under CI as well: .ci/run installs it into $HOME/.cache/recon-venv33; or set RECON_PYTHON33"),
        None => eprintln!("tests/warehouse.rs: Spark 3.3 skipped: no Python with pyspark 3.3 (set RECON_PYTHON33, or run .ci/run, which installs it)"),
    }
    for (py, engines, version) in runs {
        if engines.is_empty() {
            continue;
        }
        let o = Command::new(&py)
            .arg(repo().join("tests/warehouse.py"))
            .arg(&manifest)
            .arg(&engines)
            .env("SPARK_LOCAL_IP", "127.0.0.1")
            .env("RECON_SPARK_VERSION", version)
            .current_dir(&root)
            .output()
            .expect("run tests/warehouse.py");
        let out = String::from_utf8_lossy(&o.stdout);
        let err = String::from_utf8_lossy(&o.stderr);
        println!("{out}");
        assert!(o.status.success(), "tests/warehouse.py (Spark {version}): the script's answers differ from recon's, or the warehouse failed:\n{out}\n{}", err.lines().rev().take(40).collect::<Vec<_>>().into_iter().rev().collect::<Vec<_>>().join("\n"));
    }
}

#[test]
fn sql_and_normalize_explain_themselves() {
    for cmd in ["sql", "normalize"] {
        let o = Command::new(bin()).args([cmd, "--help"]).output().expect("run");
        let text = String::from_utf8_lossy(&o.stdout);
        assert!(text.contains("Examples:"), "{cmd} --help: {text}");
    }
    let w = Work::new();
    w.write("rules.toml", rules(""));
    let o = w.recon(&["sql", "--rules", "rules.toml", "--dialect", "oracle"]);
    assert_eq!(o.status.code(), Some(2), "an unknown dialect is an error");
    let o = w.recon(&["sql", "--rules", "rules.toml", "--dialect", "duckdb"]);
    assert_eq!(o.status.code(), Some(0));
    let script = stdout(&o);
    assert!(script.lines().all(|l| l.is_empty() || l.starts_with("--") || l.ends_with(';')), "one statement per line");
}

/// normalize reads the exports a block at a time and appends each block to its tables: with
/// tiny blocks (hundreds of them, over the demo's CSV, workbook, JSON and .tar.gz files and a
/// generated month) every CSV table is byte for byte and every Parquet table row for row what
/// one block per file gives; a run that fails on a later input leaves no table behind.
#[test]
fn normalize_streams_its_tables_a_block_at_a_time() {
    let w = Work::new();
    let root = w.dir.path().to_path_buf();
    copy_dir(&repo().join("fixtures/demo"), &root.join("demo"));
    let o = run_in(&root, &["gen", "--rows", "20000", "--out", "g", "--seed", "2"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let cases: [(&str, Vec<&str>); 2] = [
        ("demo", vec!["--rules", "demo/rules.toml", "--consumption", "demo/consumption", "--incentives", "demo/incentives", "--customers", "demo/customers.csv", "--bills", "demo/bills"]),
        ("g", vec!["--rules", "g/rules.toml", "--consumption", "g/consumption.csv", "--incentives", "g/incentives.csv", "--customers", "g/customers.csv", "--bills", "g/customerBill_202610.csv"]),
    ];
    for (name, args) in &cases {
        let mut outs = Vec::new();
        for (tag, block) in [("whole", None), ("blocks", Some("4096"))] {
            let out = format!("{name}-{tag}");
            let mut cmd = Command::new(recon_bin());
            cmd.arg("normalize").args(args).args(["--out", &out]).current_dir(&root);
            if let Some(b) = block {
                cmd.env("RECON_BLOCK_BYTES", b);
            }
            let o = cmd.output().expect("run recon");
            assert!(matches!(o.status.code(), Some(0 | 1)), "{name} {tag}: {}", stderr(&o));
            outs.push(root.join(out));
        }
        for t in ["consumption", "incentives", "customers", "bills", "rejected"] {
            let (a, b) = (outs[0].join(format!("{t}.csv")), outs[1].join(format!("{t}.csv")));
            assert_eq!(std::fs::read(&a).expect("csv"), std::fs::read(&b).expect("csv"), "{name}: {t}.csv differs with small blocks");
        }
        for t in ["consumption", "incentives", "customers", "bills"] {
            let read = |dir: &Path| {
                use polars::prelude::SerReader;
                let f = std::fs::File::open(dir.join(format!("{t}.parquet"))).expect("parquet");
                polars_io::parquet::read::ParquetReader::new(f).finish().expect("read parquet")
            };
            let (a, b) = (read(&outs[0]), read(&outs[1]));
            assert!(a.height() > 0, "{name}: {t} has rows");
            assert!(a.equals_missing(&b), "{name}: {t}.parquet differs with small blocks");
        }
        let left: Vec<_> = std::fs::read_dir(&outs[1]).expect("dir").flatten().map(|e| e.file_name()).filter(|n| n.to_string_lossy().starts_with('.')).collect();
        assert!(left.is_empty(), "{name}: the staging directory is removed: {left:?}");
    }
    // A statement file without its columns, read after the consumption: exit 2, no table.
    std::fs::write(root.join("bad.csv"), "what,ever\n1,2\n").expect("write");
    let o = run_in(&root, &["normalize", "--rules", "g/rules.toml", "--consumption", "g/consumption.csv", "--incentives", "bad.csv", "--out", "failed"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("bad.csv"), "the error names the file: {}", stderr(&o));
    let left: Vec<_> = std::fs::read_dir(root.join("failed")).map(|d| d.flatten().map(|e| e.file_name()).collect()).unwrap_or_default();
    assert!(left.is_empty(), "a failed normalize leaves nothing in --out: {left:?}");
}
