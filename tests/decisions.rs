//! One test per decision rule of contract §3 and per boundary, each on a few hand-written rows,
//! run through the real binary.

mod common;

use std::collections::HashMap;

use common::*;

/// One small case: consumption rows, incentive rows, optional customers, extra rules text.
struct Case {
    cons: Vec<String>,
    inc: Vec<String>,
    inc_header: &'static str,
    customers: Option<String>,
    rules_extra: String,
    rules_full: Option<String>,
    periods: Vec<&'static str>,
}

impl Case {
    fn new() -> Case {
        Case { cons: vec![], inc: vec![], inc_header: INCENTIVE_HEADER, customers: None, rules_extra: String::new(), rules_full: None, periods: vec![] }
    }

    /// `bill_cycle,customer_id,association_type,service_type_code,charging_mode,trade_id,trade_time,payment_amount,cash_amount,coupon_amount`
    fn cons(mut self, row: &str) -> Case {
        self.cons.push(row.to_string());
        self
    }

    /// `incentive_period,incentive_id,trade_id,service_type_code,base_amount,rate,incentive_amount`
    fn inc(mut self, row: &str) -> Case {
        self.inc.push(row.to_string());
        self
    }

    fn rules(mut self, extra: &str) -> Case {
        self.rules_extra.push_str(extra);
        self
    }

    fn run(&self) -> Outcome {
        let w = Work::new();
        let rules = self.rules_full.clone().unwrap_or_else(|| rules(&self.rules_extra));
        w.write("rules.toml", rules);
        w.write("cons.csv", format!("{CONSUMPTION_HEADER}{}\n", self.cons.join("\n")));
        w.write("inc.csv", format!("{}{}\n", self.inc_header, self.inc.join("\n")));
        let mut args = vec!["run", "--rules", "rules.toml", "--consumption", "cons.csv", "--incentives", "inc.csv", "--out", "out"];
        if let Some(c) = &self.customers {
            w.write("customers.csv", c);
            args.extend(["--customers", "customers.csv"]);
        }
        for p in &self.periods {
            args.extend(["--period", p]);
        }
        let o = w.recon(&args);
        let code = o.status.code().unwrap_or(-1);
        assert_ne!(code, 2, "recon failed:\n{}\n{}", stdout(&o), stderr(&o));
        let findings = read_csv(&w.path("out/findings.csv"));
        let summary: serde_json::Value = serde_json::from_str(&w.read("out/summary.json")).expect("summary.json");
        Outcome { code, findings, summary }
    }
}

struct Outcome {
    code: i32,
    findings: Vec<HashMap<String, String>>,
    summary: serde_json::Value,
}

impl Outcome {
    fn one(&self, trade: &str) -> &HashMap<String, String> {
        let v: Vec<_> = self.findings.iter().filter(|f| f["trade_id"] == trade).collect();
        assert_eq!(v.len(), 1, "expected one finding for {trade}, got {:#?}", self.findings);
        v[0]
    }

    fn category(&self, trade: &str) -> (String, String, String) {
        let f = self.one(trade);
        (f["category"].clone(), f["action"].clone(), f["delta"].clone())
    }

    fn none(&self, trade: &str) {
        assert!(self.findings.iter().all(|f| f["trade_id"] != trade), "expected no finding for {trade}: {:#?}", self.findings);
    }

    fn waterfall(&self, period: &str, step: &str) -> String {
        let p = self.summary["periods"].as_array().expect("periods").iter().find(|p| p["period"] == period).expect("period");
        p["waterfall"][step].as_str().expect("step").to_string()
    }
}

fn c(cat: &str, action: &str, delta: &str) -> (String, String, String) {
    (cat.to_string(), action.to_string(), delta.to_string())
}

const EC2: &str = "hws.service.type.ec2";

#[test]
fn r2_matched() {
    let o = Case::new()
        .cons(&format!("2026-10,C1,resale,{EC2},1,T1,2026-10-05 10:00:00,100.00,100.00,0"))
        .inc(&format!("2026-10,I1,T1,{EC2},100,6%,6.00"))
        .run();
    assert_eq!(o.category("T1"), c("MATCHED", "none", "0.00"));
    assert!(o.one("T1")["explanation"].contains("R2"));
    assert_eq!(o.code, 0);
}

#[test]
fn r3_rounding_within_tolerance() {
    let o = Case::new()
        .cons(&format!("2026-10,C1,resale,{EC2},1,T1,2026-10-05 10:00:00,100.00,100.00,0"))
        .inc(&format!("2026-10,I1,T1,{EC2},100,6%,5.99"))
        .run();
    assert_eq!(o.category("T1"), c("ROUNDING", "none", "-0.01"));
}

#[test]
fn r4_rate_mismatch_is_a_dispute_when_underpaid() {
    let o = Case::new()
        .cons(&format!("2026-10,C1,resale,{EC2},1,T1,2026-10-05 10:00:00,100.00,100.00,0"))
        .inc(&format!("2026-10,I1,T1,{EC2},100,0.05,5.00"))
        .run();
    assert_eq!(o.category("T1"), c("RATE_MISMATCH", "dispute", "-1.00"));
    assert_eq!(o.code, 1);
}

#[test]
fn r5_base_mismatch() {
    let o = Case::new()
        .cons(&format!("2026-10,C1,resale,{EC2},1,T1,2026-10-05 10:00:00,100.00,100.00,0"))
        .inc(&format!("2026-10,I1,T1,{EC2},90,6%,5.40"))
        .run();
    assert_eq!(o.category("T1"), c("BASE_MISMATCH", "dispute", "-0.60"));
}

#[test]
fn r6_amount_mismatch_overpaid_is_review() {
    let o = Case::new()
        .cons(&format!("2026-10,C1,resale,{EC2},1,T1,2026-10-05 10:00:00,100.00,100.00,0"))
        .inc(&format!("2026-10,I1,T1,{EC2},100,6%,7.00"))
        .run();
    assert_eq!(o.category("T1"), c("AMOUNT_MISMATCH", "review", "1.00"));
}

#[test]
fn r1_duplicate_incentive_id() {
    let o = Case::new()
        .cons(&format!("2026-10,C1,resale,{EC2},1,T1,2026-10-05 10:00:00,100.00,100.00,0"))
        .inc(&format!("2026-10,I1,T1,{EC2},100,6%,6.00"))
        .inc(&format!("2026-10,I1,T1,{EC2},100,6%,6.00"))
        .run();
    assert_eq!(o.category("T1"), c("DUPLICATE_INCENTIVE", "review", "6.00"));
}

#[test]
fn r1_duplicate_identical_rows_without_incentive_id() {
    let mut case = Case::new()
        .cons(&format!("2026-10,C1,resale,{EC2},1,T1,2026-10-05 10:00:00,100.00,100.00,0"))
        .inc(&format!("2026-10,T1,{EC2},6.00"))
        .inc(&format!("2026-10,T1,{EC2},6.00"));
    case.inc_header = "incentive_period,trade_id,service_type_code,incentive_amount\n";
    assert_eq!(case.run().category("T1"), c("DUPLICATE_INCENTIVE", "review", "6.00"));
    // Two different rows of the same key are not duplicates: they add up.
    let mut case = Case::new()
        .cons(&format!("2026-10,C1,resale,{EC2},1,T1,2026-10-05 10:00:00,100.00,100.00,0"))
        .inc(&format!("2026-10,T1,{EC2},4.00"))
        .inc(&format!("2026-10,T1,{EC2},2.00"));
    case.inc_header = "incentive_period,trade_id,service_type_code,incentive_amount\n";
    assert_eq!(case.run().category("T1"), c("MATCHED", "none", "0.00"));
}

#[test]
fn r7_period_shift_pairs_across_loaded_periods() {
    let o = Case::new()
        .cons(&format!("2026-09,C1,resale,{EC2},1,T1,2026-09-10 10:00:00,100.00,100.00,0"))
        .cons(&format!("2026-09,C1,resale,{EC2},1,T2,2026-09-11 10:00:00,50.00,50.00,0"))
        .inc(&format!("2026-09,I2,T2,{EC2},50,6%,3.00"))
        .inc(&format!("2026-10,I1,T1,{EC2},100,6%,6.00"))
        .run();
    let f = o.one("T1");
    assert_eq!((f["category"].as_str(), f["period"].as_str(), f["expected_period"].as_str()), ("PERIOD_SHIFT", "2026-10", "2026-09"));
    assert_eq!((f["action"].as_str(), f["delta"].as_str()), ("none", "0.00"));
    // Each side counts in the waterfall of its own period.
    assert_eq!(o.waterfall("2026-09", "expected_incentive"), "9.00");
    assert_eq!(o.waterfall("2026-09", "actual_incentive"), "3.00");
    assert_eq!(o.waterfall("2026-10", "actual_incentive"), "6.00");
    assert_eq!(o.summary["periods"][0]["categories"]["PERIOD_SHIFT"]["delta"], "-6.00");
    assert_eq!(o.summary["periods"][1]["categories"]["PERIOD_SHIFT"]["delta"], "6.00");
}

#[test]
fn r7_period_shift_underpaid_is_dispute() {
    let o = Case::new()
        .cons(&format!("2026-09,C1,resale,{EC2},1,T1,2026-09-10 10:00:00,100.00,100.00,0"))
        .inc(&format!("2026-09,I2,T9,{EC2},50,6%,3.00"))
        .inc(&format!("2026-10,I1,T1,{EC2},100,6%,4.00"))
        .run();
    assert_eq!(o.category("T1"), c("PERIOD_SHIFT", "dispute", "-2.00"));
}

#[test]
fn r8_rollover_pending_after_every_loaded_period() {
    let o = Case::new()
        .cons(&format!("2026-10,C1,resale,{EC2},1,T1,2026-10-31 12:00:00,100.00,100.00,0"))
        .inc(&format!("2026-10,I9,T9,{EC2},0,6%,0.00"))
        .run();
    let f = o.one("T1");
    assert_eq!((f["category"].as_str(), f["period"].as_str(), f["action"].as_str()), ("ROLLOVER_PENDING", "2026-11", "none"));
    assert_eq!(o.waterfall("2026-10", "rolled_out"), "100.00");
}

#[test]
fn r9_group_that_rounds_to_nothing() {
    let o = Case::new()
        .cons(&format!("2026-10,C1,resale,{EC2},1,T1,2026-10-05 10:00:00,0.08,0.08,0"))
        .cons(&format!("2026-10,C1,resale,{EC2},1,T2,2026-10-05 10:00:00,0.10,0.10,0"))
        .inc(&format!("2026-10,I9,T9,{EC2},0,6%,0.00"))
        .run();
    // 0.08 × 6% = 0.0048 → 0.00: nothing expected, nothing paid.
    assert_eq!(o.category("T1"), c("MATCHED", "none", "0.00"));
    assert!(o.one("T1")["rule_ids"].starts_with("R9"));
    // 0.10 × 6% = 0.006 → 0.01: within tolerance, ROUNDING.
    assert_eq!(o.category("T2"), c("ROUNDING", "none", "-0.01"));
}

#[test]
fn r10_missing_incentive() {
    let o = Case::new()
        .cons(&format!("2026-10,C1,resale,{EC2},1,T1,2026-10-05 10:00:00,100.00,100.00,0"))
        .inc(&format!("2026-10,I9,T9,{EC2},0,6%,0.00"))
        .run();
    assert_eq!(o.category("T1"), c("MISSING_INCENTIVE", "dispute", "-6.00"));
}

#[test]
fn r11_unexpected_incentive_on_ineligible_consumption() {
    let o = Case::new()
        .cons("2026-10,C1,resale,hws.service.type.vpc,3,T1,2026-10-05 10:00:00,100.00,100.00,0")
        .inc("2026-10,I1,T1,hws.service.type.vpc,100,6%,6.00")
        .run();
    assert_eq!(o.category("T1"), c("UNEXPECTED_INCENTIVE", "review", "6.00"));
}

#[test]
fn r12_out_of_scope_when_a_source_cycle_is_not_loaded() {
    let o = Case::new()
        .cons(&format!("2026-10,C1,resale,{EC2},1,T1,2026-10-05 10:00:00,100.00,100.00,0"))
        .inc(&format!("2026-10,I1,T1,{EC2},100,6%,6.00"))
        .inc(&format!("2026-10,I2,T2,{EC2},100,6%,6.00"))
        .run();
    // Late window set: T2 of 2026-10 could stem from cycle 2026-09, which is not loaded.
    assert_eq!(o.category("T2"), c("OUT_OF_SCOPE", "none", "6.00"));
}

#[test]
fn r13_orphan_when_every_source_cycle_is_loaded() {
    let o = Case::new()
        .cons(&format!("2026-09,C1,resale,{EC2},1,T0,2026-09-05 10:00:00,100.00,100.00,0"))
        .cons(&format!("2026-10,C1,resale,{EC2},1,T1,2026-10-05 10:00:00,100.00,100.00,0"))
        .inc(&format!("2026-10,I1,T1,{EC2},100,6%,6.00"))
        .inc(&format!("2026-10,I2,T2,{EC2},100,6%,6.00"))
        .run();
    assert_eq!(o.category("T2"), c("ORPHAN_INCENTIVE", "review", "6.00"));
}

#[test]
fn r14_ineligible_product_no_match_and_zero_rate() {
    let o = Case::new()
        .rules("\n[[product]]\nid = \"market\"\nservice_type = \"hws.service.type.marketplace\"\nrate = \"0\"\nreason = \"云商店商品不产生激励\"\n")
        .cons("2026-10,C1,resale,hws.service.type.vpc,3,T1,2026-10-05 10:00:00,100.00,100.00,0")
        .cons("2026-10,C1,resale,hws.service.type.marketplace,1,T2,2026-10-05 10:00:00,50.00,50.00,0")
        .inc(&format!("2026-10,I9,T9,{EC2},0,6%,0.00"))
        .run();
    assert_eq!(o.category("T1"), c("INELIGIBLE_PRODUCT", "none", "0.00"));
    assert_eq!(o.category("T2"), c("INELIGIBLE_PRODUCT", "none", "0.00"));
    assert!(o.one("T2")["explanation"].contains("云商店商品不产生激励"));
    assert_eq!(o.waterfall("2026-10", "ineligible_product"), "150.00");
}

#[test]
fn r15_not_attributed_association_type_not_listed() {
    let mut case = Case::new()
        .cons(&format!("2026-10,C1,referral,{EC2},1,T1,2026-10-05 10:00:00,100.00,100.00,0"))
        .inc(&format!("2026-10,I9,T9,{EC2},0,6%,0.00"));
    case.rules_full = Some(rules("").replace("association_types = [\"resale\", \"referral\"]", "association_types = [\"resale\"]"));
    let o = case.run();
    assert_eq!(o.category("T1"), c("NOT_ATTRIBUTED", "none", "0.00"));
    assert!(o.one("T1")["rule_ids"].contains("attribution:association_types"));
    assert_eq!(o.waterfall("2026-10", "not_attributed"), "100.00");
}

#[test]
fn r15_customer_missing_from_customers_file() {
    let mut case = Case::new()
        .cons(&format!("2026-10,C1,resale,{EC2},1,T1,2026-10-05 10:00:00,100.00,100.00,0"))
        .cons(&format!("2026-10,C2,resale,{EC2},1,T2,2026-10-05 10:00:00,100.00,100.00,0"))
        .inc(&format!("2026-10,I1,T1,{EC2},100,6%,6.00"));
    case.customers = Some("customer_id,association_type\nC1,代售\n".into());
    let o = case.run();
    assert_eq!(o.category("T1"), c("MATCHED", "none", "0.00"));
    assert_eq!(o.category("T2"), c("NOT_ATTRIBUTED", "none", "0.00"));
    assert!(o.one("T2")["rule_ids"].contains("attribution:customers_file"));
}

#[test]
fn excluded_payment_vouchers_do_not_count() {
    let o = Case::new()
        .cons(&format!("2026-10,C1,resale,{EC2},1,T1,2026-10-05 10:00:00,150.00,100.00,50.00"))
        .inc(&format!("2026-10,I1,T1,{EC2},100,6%,6.00"))
        .run();
    assert_eq!(o.category("T1"), c("MATCHED", "none", "0.00"));
    assert_eq!(o.waterfall("2026-10", "excluded_payment"), "50.00");
    assert_eq!(o.waterfall("2026-10", "expected_base"), "100.00");
}

#[test]
fn refund_groups_are_negative() {
    let o = Case::new()
        .cons(&format!("2026-10,C1,resale,{EC2},1,T1,2026-10-05 10:00:00,-50.00,-50.00,0"))
        .cons(&format!("2026-10,C1,resale,{EC2},1,T2,2026-10-05 10:00:00,100.00,100.00,0"))
        .cons(&format!("2026-10,C1,resale,{EC2},1,T2,2026-10-06 10:00:00,(40.00),(40.00),0"))
        .inc(&format!("2026-10,I1,T1,{EC2},-50,6%,-3.00"))
        .inc(&format!("2026-10,I2,T2,{EC2},60,6%,3.60"))
        .run();
    assert_eq!(o.category("T1"), c("MATCHED", "none", "0.00"));
    assert_eq!(o.one("T1")["expected_incentive"], "-3.00");
    assert_eq!(o.category("T2"), c("MATCHED", "none", "0.00"));
    assert_eq!(o.one("T2")["expected_base"], "60.00");
}

// ---- boundaries, at the exact second ----

#[test]
fn late_window_first_second_and_the_second_before() {
    let o = Case::new()
        // cutoff of 2026-10 with a 24 h window: 2026-10-31 00:00:00 +08:00
        .cons(&format!("2026-10,C1,resale,{EC2},1,LATE,2026-10-31 00:00:00,100.00,100.00,0"))
        .cons(&format!("2026-10,C1,resale,{EC2},1,INTIME,2026-10-30 23:59:59,100.00,100.00,0"))
        .inc(&format!("2026-10,I1,INTIME,{EC2},100,6%,6.00"))
        .run();
    assert_eq!(o.one("LATE")["expected_period"], "2026-11");
    assert_eq!(o.one("LATE")["category"], "ROLLOVER_PENDING");
    assert_eq!(o.one("INTIME")["category"], "MATCHED");
    // The same instants written in UTC and with an explicit zone decide the same way.
    let o = Case::new()
        .cons(&format!("2026-10,C1,resale,{EC2},1,LATE,2026-10-30T16:00:00Z,100.00,100.00,0"))
        .cons(&format!("2026-10,C1,resale,{EC2},1,INTIME,2026-10-30 23:59:59 GMT+08:00,100.00,100.00,0"))
        .inc(&format!("2026-10,I1,INTIME,{EC2},100,6%,6.00"))
        .run();
    assert_eq!(o.one("LATE")["expected_period"], "2026-11");
    assert_eq!(o.one("INTIME")["expected_period"], "2026-10");
}

#[test]
fn valid_from_and_valid_to_on_the_local_date_across_utc_midnight() {
    let promo = "\n[[product]]\nid = \"obs-promo\"\nservice_type = \"hws.service.type.obs\"\nrate = \"0.10\"\nvalid_from = \"2026-10-01\"\nvalid_to = \"2026-10-20\"\n\n[[product]]\nid = \"obs\"\nservice_type = \"hws.service.type.obs\"\nrate = \"0.04\"\n";
    let o = Case::new()
        .rules(promo)
        // 2026-09-30T16:00:00Z is 2026-10-01 00:00:00 in Beijing: the promotion applies.
        .cons("2026-10,C1,resale,hws.service.type.obs,3,FROM_IN,2026-09-30T16:00:00Z,100.00,100.00,0")
        // one second earlier is still 2026-09-30 locally: the standing rate.
        .cons("2026-09,C1,resale,hws.service.type.obs,3,FROM_OUT,2026-09-30T15:59:59Z,100.00,100.00,0")
        // 2026-10-20 23:59:59 local is the last second of valid_to.
        .cons("2026-10,C1,resale,hws.service.type.obs,3,TO_IN,2026-10-20T15:59:59Z,100.00,100.00,0")
        .cons("2026-10,C1,resale,hws.service.type.obs,3,TO_OUT,2026-10-20T16:00:00Z,100.00,100.00,0")
        .inc("2026-10,I1,FROM_IN,hws.service.type.obs,100,10%,10.00")
        .inc("2026-10,I2,FROM_OUT,hws.service.type.obs,100,4%,4.00")
        .inc("2026-10,I3,TO_IN,hws.service.type.obs,100,10%,10.00")
        .inc("2026-10,I4,TO_OUT,hws.service.type.obs,100,4%,4.00")
        .run();
    assert!(o.one("FROM_IN")["rule_ids"].contains("product:obs-promo"));
    assert!(o.one("TO_IN")["rule_ids"].contains("product:obs-promo"));
    assert!(o.one("TO_OUT")["rule_ids"].contains("product:obs"));
    assert!(!o.one("TO_OUT")["rule_ids"].contains("obs-promo"));
    assert_eq!(o.one("TO_OUT")["category"], "MATCHED");
    // FROM_OUT is in cycle 2026-09, but it is in the late window: expected 2026-10 at 4%.
    assert_eq!(o.category("FROM_OUT"), c("MATCHED", "none", "0.00"));
}

#[test]
fn rebind_grace_ends_at_the_exact_second() {
    let mut case = Case::new()
        .cons(&format!("2026-10,C1,resale,{EC2},1,IN_GRACE,2026-10-15 09:59:59,100.00,100.00,0"))
        .cons(&format!("2026-10,C1,resale,{EC2},1,AFTER,2026-10-15 10:00:00,100.00,100.00,0"))
        .inc(&format!("2026-10,I1,AFTER,{EC2},100,6%,6.00"));
    case.customers = Some("客户ID,关联类型,关联时间,换绑时间\nC1,代售,2024-01-01 00:00:00,2026-04-15 10:00:00\n".into());
    let o = case.run();
    assert_eq!(o.category("IN_GRACE"), c("NOT_ATTRIBUTED", "none", "0.00"));
    assert!(o.one("IN_GRACE")["rule_ids"].contains("attribution:rebind_grace_months"));
    assert_eq!(o.category("AFTER"), c("MATCHED", "none", "0.00"));
}

#[test]
fn association_lag_ends_at_the_exact_second() {
    let mut case = Case::new()
        .cons(&format!("2026-10,C1,resale,{EC2},1,EARLY,2026-10-03 23:59:59,100.00,100.00,0"))
        .cons(&format!("2026-10,C1,resale,{EC2},1,ONTIME,2026-10-04 00:00:00,100.00,100.00,0"))
        .inc(&format!("2026-10,I1,ONTIME,{EC2},100,6%,6.00"));
    case.rules_full = Some(rules("").replace("rebind_grace_months = 6", "rebind_grace_months = 6\nassociation_lag_days = 3"));
    case.customers = Some("customer_id,association_type,associated_at\nC1,resale,2026-10-01 00:00:00\n".into());
    let o = case.run();
    assert_eq!(o.category("EARLY"), c("NOT_ATTRIBUTED", "none", "0.00"));
    assert!(o.one("EARLY")["rule_ids"].contains("attribution:association_lag_days"));
    assert_eq!(o.category("ONTIME"), c("MATCHED", "none", "0.00"));
}

#[test]
fn monthly_settled_product_is_paid_next_month() {
    let o = Case::new()
        .rules("\n[[product]]\nid = \"cdn\"\nservice_type = \"hws.service.type.cdn\"\nrate = \"0.05\"\nlag_months = 1\n")
        .cons("2026-09,C1,resale,hws.service.type.cdn,3,T1,2026-09-10 10:00:00,100.00,100.00,0")
        .inc("2026-10,I1,T1,hws.service.type.cdn,100,5%,5.00")
        .inc(&format!("2026-09,I9,T9,{EC2},0,6%,0.00"))
        .run();
    let f = o.one("T1");
    assert_eq!((f["category"].as_str(), f["period"].as_str()), ("MATCHED", "2026-10"));
    assert!(f["rule_ids"].contains("rollover:lag_months"));
    assert_eq!(o.waterfall("2026-09", "rolled_out"), "100.00");
    assert_eq!(o.waterfall("2026-10", "rolled_in"), "100.00");
}

#[test]
fn expected_key_of_an_unloaded_earlier_statement_yields_no_finding() {
    let o = Case::new()
        .cons(&format!("2026-09,C1,resale,{EC2},1,OLD,2026-09-05 10:00:00,100.00,100.00,0"))
        .cons(&format!("2026-10,C1,resale,{EC2},1,T1,2026-10-05 10:00:00,100.00,100.00,0"))
        .inc(&format!("2026-10,I1,T1,{EC2},100,6%,6.00"))
        .run();
    o.none("OLD");
    assert_eq!(o.code, 0);
}

#[test]
fn period_flag_limits_the_scope() {
    let mut case = Case::new()
        .cons(&format!("2026-09,C1,resale,{EC2},1,T9,2026-09-05 10:00:00,100.00,100.00,0"))
        .cons(&format!("2026-10,C1,resale,{EC2},1,T10,2026-10-05 10:00:00,100.00,100.00,0"))
        .inc(&format!("2026-09,I1,T9,{EC2},100,6%,6.00"))
        .inc(&format!("2026-10,I2,T10,{EC2},100,6%,1.00"));
    case.periods = vec!["2026-09"];
    let o = case.run();
    o.none("T10");
    assert_eq!(o.category("T9"), c("MATCHED", "none", "0.00"));
    assert_eq!(o.summary["periods"].as_array().map(Vec::len), Some(1));
    assert_eq!(o.code, 0);
}

#[test]
fn finding_ids_are_stable_and_cite_source_lines() {
    let o = Case::new()
        .cons(&format!("2026-10,C1,resale,{EC2},1,T1,2026-10-05 10:00:00,100.00,100.00,0"))
        .inc(&format!("2026-10,I1,T1,{EC2},100,6%,6.00"))
        .run();
    let f = o.one("T1");
    // F + first 12 hex digits of sha256("2026-10|T1|hws.service.type.ec2")
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(format!("2026-10|T1|{EC2}").as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(f["finding_id"], format!("F{}", &hex[..12]));
    assert_eq!(f["consumption_rows"], "cons.csv:2");
    assert_eq!(f["incentive_rows"], "inc.csv:2");
}
