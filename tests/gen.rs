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

/// Generated exports (two periods, PERIOD_SHIFT pairs, duplicates, rollovers) streamed through
/// seven trade id ranges in 64 KiB blocks: the outputs are those of the in-memory run, byte for
/// byte, and the findings really are spread over several partitions.
#[test]
fn gen_data_streamed_through_partitions_gives_the_same_bytes() {
    let w = Work::new();
    let o = w.recon(&["gen", "--rows", "20000", "--out", "g", "--seed", "3"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let base = ["run", "--rules", "g/rules.toml", "--consumption", "g/consumption.csv", "--incentives", "g/incentives.csv", "--customers", "g/customers.csv", "--format", "csv,json"];
    let o = w.recon(&[&base[..], &["--out", "mem"]].concat());
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let o = std::process::Command::new(bin())
        .args([&base[..], &["--out", "s", "--streaming", "--partitions", "7"]].concat())
        .env("RECON_BLOCK_BYTES", "65536")
        .env("RECON_TRACE", "1")
        .current_dir(w.dir.path())
        .output()
        .expect("run recon");
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    for f in ["findings.csv", "summary.json", "disputes.csv", "rejected.csv"] {
        assert!(w.read(&format!("mem/{f}")) == w.read(&format!("s/{f}")), "{f} differs");
    }
    let categories: BTreeSet<String> = read_csv(&w.path("s/findings.csv")).into_iter().map(|f| f["category"].clone()).collect();
    for must in ["PERIOD_SHIFT", "DUPLICATE_INCENTIVE", "ROLLOVER_PENDING", "MISSING_INCENTIVE"] {
        assert!(categories.contains(must), "no {must} in {categories:?}");
    }
    assert!(stderr(&o).contains("7 partitions"), "{}", stderr(&o));
}
