//! `recon gen`: deterministic, in the real formats, and reconciled into the categories its
//! faults were built to produce.

mod common;

use std::collections::BTreeSet;

use common::*;

#[test]
fn gen_is_deterministic_and_reconciles_to_its_fault_classes() {
    let w = Work::new();
    let o = w.recon(&["gen", "--rows", "3000", "--out", "a", "--seed", "7"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let o = w.recon(&["gen", "--rows", "3000", "--out", "b", "--seed", "7"]);
    assert_eq!(o.status.code(), Some(0));
    for f in ["rules.toml", "customers.csv", "consumption.csv", "incentives.csv", "customerBill_202610.csv"] {
        assert_eq!(w.read(&format!("a/{f}")), w.read(&format!("b/{f}")), "{f} differs for the same seed");
    }
    let o = w.recon(&["gen", "--rows", "3000", "--out", "c", "--seed", "8"]);
    assert_eq!(o.status.code(), Some(0));
    assert_ne!(w.read("a/consumption.csv"), w.read("c/consumption.csv"));

    let o = w.recon(&[
        "run", "--rules", "a/rules.toml", "--consumption", "a/consumption.csv", "--incentives", "a/incentives.csv", "--customers",
        "a/customers.csv", "--bills", "a/customerBill_202610.csv", "--out", "out", "--format", "csv,json",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}{}", stdout(&o), stderr(&o));
    let cats: BTreeSet<String> = read_csv(&w.path("out/findings.csv")).into_iter().map(|f| f["category"].clone()).collect();
    let allowed: BTreeSet<String> = [
        "MATCHED", "ROUNDING", "RATE_MISMATCH", "AMOUNT_MISMATCH", "MISSING_INCENTIVE", "DUPLICATE_INCENTIVE", "PERIOD_SHIFT",
        "ROLLOVER_PENDING", "OUT_OF_SCOPE", "INELIGIBLE_PRODUCT", "NOT_ATTRIBUTED", "BILL_MATCHED", "BILL_AMOUNT_MISMATCH",
        "BILL_MISSING_LINE", "BILL_EXTRA_LINE", "BILL_NOT_RESALE",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    assert!(cats.is_subset(&allowed), "unexpected categories: {:?}", cats.difference(&allowed).collect::<Vec<_>>());
    for must in ["MATCHED", "MISSING_INCENTIVE", "INELIGIBLE_PRODUCT", "NOT_ATTRIBUTED", "ROLLOVER_PENDING", "BILL_MATCHED"] {
        assert!(cats.contains(must), "no {must} in {cats:?}");
    }
}
