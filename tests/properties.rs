//! Property tests of the engine's invariants on random inputs:
//! - the waterfall closes and every accepted row lands in exactly one finding (the engine checks
//!   both and fails the run otherwise; here they are checked again from the outputs);
//! - a statement generated from the rules themselves, by an independent model written here,
//!   reconciles to all MATCHED.

mod common;

use std::collections::{BTreeMap, HashMap, HashSet};

use common::*;
use proptest::prelude::*;
use recon::config::RunArgs;
use recon::exec;
use rust_decimal::Decimal;

const RULES: &str = r#"[policy]
name = "property policy"
version = "p1"
timezone = "+08:00"
scale = 2
rounding = "half_up"
tolerance = "0.01"

[base]
counted = ["cash_amount", "credit_amount"]

[attribution]
association_types = ["resale"]

[rollover]
late_window_hours = 6

[[product]]
id = "ecs-sub"
service_type = "hws.service.type.ec2"
charging_modes = ["包年/包月"]
rate = "0.06"

[[product]]
id = "ecs-od"
service_type = "hws.service.type.ec2"
charging_modes = ["按需"]
rate = "0.035"

[[product]]
id = "cdn"
service_type = "hws.service.type.cdn"
rate = "0.05"
lag_months = 1

[[product]]
id = "market"
service_type = "hws.service.type.marketplace"
rate = "0"
"#;

/// One random consumption row.
#[derive(Debug, Clone)]
struct Row {
    cycle: u32,        // 9 or 10 (2026-09, 2026-10)
    day: u32,          // 1..=30
    hour: u32,         // 0..24
    service: usize,    // index into SERVICES
    mode: usize,       // 0 包年/包月, 1 按需
    trade: usize,      // small pool, so keys collide
    customer: usize,   // 0..4: 0-2 resale, 3 referral
    cash_cents: i64,   // may be negative (refunds)
    credit_cents: i64,
    coupon_cents: i64,
}

const SERVICES: [&str; 4] = ["hws.service.type.ec2", "hws.service.type.cdn", "hws.service.type.marketplace", "hws.service.type.vpc"];
const MODES: [&str; 2] = ["包年/包月", "按需"];

fn row() -> impl Strategy<Value = Row> {
    (9u32..=10, 1u32..=30, 0u32..24, 0usize..4, 0usize..2, 0usize..12, 0usize..4, -5_000i64..50_000, 0i64..2_000, 0i64..1_000).prop_map(
        |(cycle, day, hour, service, mode, trade, customer, cash_cents, credit_cents, coupon_cents)| Row {
            cycle,
            day,
            hour,
            service,
            mode,
            trade,
            customer,
            cash_cents,
            credit_cents,
            coupon_cents,
        },
    )
}

fn cents(c: i64) -> Decimal {
    Decimal::new(c, 2)
}

/// The independent model: expected incentive per (period, trade, service) under RULES.
fn model(rows: &[Row]) -> BTreeMap<(u32, String, String), Decimal> {
    let mut raw: BTreeMap<(u32, String, String), Decimal> = BTreeMap::new();
    for r in rows {
        if r.customer == 3 {
            continue; // referral: not listed
        }
        let (rate, lag) = match (SERVICES[r.service], r.mode) {
            ("hws.service.type.ec2", 0) => (Decimal::new(6, 2), 0),
            ("hws.service.type.ec2", _) => (Decimal::new(35, 3), 0),
            ("hws.service.type.cdn", _) => (Decimal::new(5, 2), 1),
            _ => continue, // marketplace rate 0, vpc no product
        };
        let last_day = if r.cycle == 9 { 30 } else { 31 };
        // late window: the last 6 hours of the month (day is at most 30)
        let late = r.day == last_day && r.hour >= 18;
        let period = r.cycle + lag + u32::from(late);
        let base = cents(r.cash_cents + r.credit_cents);
        *raw.entry((period, format!("T{}", r.trade), SERVICES[r.service].to_string())).or_default() += base * rate;
    }
    raw.into_iter()
        .map(|(k, v)| (k, v.round_dp_with_strategy(2, rust_decimal::RoundingStrategy::MidpointAwayFromZero)))
        .collect()
}

fn write_inputs(w: &Work, rows: &[Row], statement: &[(u32, String, String, Decimal)]) {
    let mut cons = String::from("bill_cycle,customer_id,service_type_code,charging_mode,trade_id,trade_time,cash_amount,credit_amount,coupon_amount\n");
    for r in rows {
        cons.push_str(&format!(
            "2026-{:02},C{},{},{},T{},2026-{:02}-{:02} {:02}:30:00,{},{},{}\n",
            r.cycle,
            r.customer,
            SERVICES[r.service],
            MODES[r.mode],
            r.trade,
            r.cycle,
            r.day,
            r.hour,
            cents(r.cash_cents),
            cents(r.credit_cents),
            cents(r.coupon_cents)
        ));
    }
    w.write("cons.csv", cons);
    let mut inc = String::from("incentive_period,incentive_id,trade_id,service_type_code,incentive_amount\n");
    for (i, (p, t, s, a)) in statement.iter().enumerate() {
        inc.push_str(&format!("2026-{p:02},I{i},{t},{s},{a}\n"));
    }
    w.write("inc.csv", inc);
    w.write("customers.csv", "customer_id,association_type\nC0,代售\nC1,resale\nC2,2\nC3,顾问销售\n");
    w.write("rules.toml", RULES);
}

fn run(w: &Work) -> Result<(i32, Vec<HashMap<String, String>>, serde_json::Value), String> {
    let args = RunArgs {
        rules: w.path("rules.toml"),
        consumption: vec![w.path("cons.csv")],
        incentives: vec![w.path("inc.csv")],
        customers: vec![w.path("customers.csv")],
        out: w.path("out"),
        root: Some(w.dir.path().to_path_buf()),
        ..RunArgs::default()
    };
    let mut sink = Vec::new();
    let status = exec::run(&args, &mut sink).map_err(|e| format!("{e:#?}"))?;
    let findings = read_csv(&w.path("out/findings.csv"));
    let summary = serde_json::from_str(&w.read("out/summary.json")).map_err(|e| e.to_string())?;
    Ok((status as i32, findings, summary))
}

fn dec(s: &str) -> Decimal {
    s.parse().unwrap_or_else(|_| panic!("not a decimal: {s:?}"))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// A statement built from the rules, for every period that has expected keys, reconciles to
    /// nothing but MATCHED (and the no-side categories).
    #[test]
    fn statement_from_the_rules_is_all_matched(rows in prop::collection::vec(row(), 1..40)) {
        let w = Work::new();
        let expected = model(&rows);
        let statement: Vec<_> = expected.iter().map(|((p, t, s), a)| (*p, t.clone(), s.clone(), *a)).collect();
        // a zero-amount line keeps every period loaded even when nothing is expected in it
        let mut statement = statement;
        for p in [9, 10, 11, 12] {
            statement.push((p, "ANCHOR".into(), "hws.service.type.ec2".into(), Decimal::ZERO));
        }
        write_inputs(&w, &rows, &statement);
        let (_, findings, summary) = run(&w).map_err(TestCaseError::fail)?;
        for f in &findings {
            if f["trade_id"] == "ANCHOR" { continue; }
            prop_assert!(
                matches!(f["category"].as_str(), "MATCHED" | "INELIGIBLE_PRODUCT" | "NOT_ATTRIBUTED"),
                "{} {} {}: {} ({})", f["period"], f["trade_id"], f["service_type_code"], f["category"], f["explanation"]
            );
        }
        // every expected key of the model is a MATCHED finding with the model's amount
        for ((p, t, s), a) in &expected {
            let f = findings.iter().find(|f| f["period"] == format!("2026-{p:02}") && &f["trade_id"] == t && &f["service_type_code"] == s);
            let f = f.ok_or_else(|| TestCaseError::fail(format!("no finding for {p} {t} {s}")))?;
            prop_assert_eq!(dec(&f["expected_incentive"]), *a);
        }
        check_closure(&summary)?;
    }

    /// Random statements: the run never fails its own checks, the waterfall closes in the
    /// written summary, and every input row is cited by exactly one finding.
    #[test]
    fn waterfall_closes_and_rows_land_once(
        rows in prop::collection::vec(row(), 1..30),
        noise in prop::collection::vec((10u32..=11, 0usize..14, 0usize..4, -300i64..3_000), 0..12),
    ) {
        let w = Work::new();
        let statement: Vec<_> = noise.iter().map(|(p, t, s, a)| (*p, format!("T{t}"), SERVICES[*s].to_string(), cents(*a))).collect();
        write_inputs(&w, &rows, &statement);
        let (_, findings, summary) = run(&w).map_err(TestCaseError::fail)?;
        check_closure(&summary)?;
        // Incentive rows: each cited by exactly one finding (every period is in scope).
        let mut cited = HashSet::new();
        for f in &findings {
            for c in f["incentive_rows"].split("; ").filter(|c| !c.is_empty()) {
                prop_assert!(cited.insert(c.to_string()), "incentive row {} cited twice", c);
            }
        }
        prop_assert_eq!(cited.len(), statement.len());
        // Consumption rows: never cited twice.
        let mut cited = HashSet::new();
        for f in &findings {
            for c in f["consumption_rows"].split("; ").filter(|c| !c.is_empty() && !c.starts_with('+')) {
                prop_assert!(cited.insert(c.to_string()), "consumption row {} cited twice", c);
            }
        }
    }
}

/// Both equalities of the waterfall, recomputed from summary.json.
fn check_closure(summary: &serde_json::Value) -> Result<(), TestCaseError> {
    for p in summary["periods"].as_array().cloned().unwrap_or_default() {
        let w = &p["waterfall"];
        let g = |k: &str| dec(w[k].as_str().unwrap_or("x"));
        prop_assert_eq!(
            g("consumption_total") - g("ineligible_product") - g("not_attributed") - g("excluded_payment") - g("rolled_out") + g("rolled_in"),
            g("expected_base")
        );
        prop_assert_eq!(g("actual_incentive") - g("expected_incentive"), g("difference"));
        let cats: Decimal = p["categories"].as_object().map(|m| m.values().map(|c| dec(c["delta"].as_str().unwrap_or("x"))).sum()).unwrap_or_default();
        prop_assert_eq!(cats, g("difference"));
    }
    Ok(())
}
