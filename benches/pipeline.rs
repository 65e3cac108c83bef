//! Criterion benchmarks of the path the binary takes, on fixed inputs: `recon gen` data
//! (deterministic for its row count and seed). `load` is the in-memory run's reading
//! (`load::load_all`); every other figure is a whole `recon run` through the command
//! (`exec::run`: rules, load, the engine's one entry, the report writers), in memory and streamed,
//! with the outputs a user asks for. Run with `cargo bench`; figures go to BENCHMARKS.md, never
//! into tests.

use std::path::{Path, PathBuf};
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use recon::load::{self, InputPaths};
use recon::rules::RuleSet;

const ROWS: u64 = 50_000;

fn data() -> (PathBuf, RuleSet, InputPaths) {
    let dir = std::env::temp_dir().join(format!("recon-bench-{ROWS}"));
    if !dir.join("incentives.csv").exists() {
        recon::gen::generate(ROWS, &dir, 1).expect("generate bench data");
    }
    let rules = RuleSet::load(&dir.join("rules.toml")).expect("rules");
    let paths = InputPaths {
        consumption: vec![dir.join("consumption.csv")],
        incentives: vec![dir.join("incentives.csv")],
        customers: vec![dir.join("customers.csv")],
        bills: vec![dir.join("customerBill_202610.csv")],
        sheet: None,
        root: dir.clone(),
    };
    (dir, rules, paths)
}

fn out_dir(dir: &Path, name: &str) -> PathBuf {
    let p = dir.join(name);
    let _ = std::fs::remove_dir_all(&p);
    p
}

fn pipeline(c: &mut Criterion) {
    let (dir, rules, paths) = data();
    let mut g = c.benchmark_group(format!("gen_{ROWS}_rows"));
    g.sample_size(10).measurement_time(Duration::from_secs(20)).throughput(Throughput::Elements(ROWS));

    g.bench_function("load", |b| b.iter(|| load::load_all(&paths, &rules).expect("load")));

    // Whole runs through the command, in memory and streamed through 4 partitions (the same
    // outputs, two ways), with csv+json, with every format, and with the partner bill.
    let runs: [(&str, bool, &[&str], bool); 4] = [
        ("run csv+json in memory", false, &["csv", "json"], false),
        ("run csv+json streamed (4 partitions)", true, &["csv", "json"], false),
        ("run every format in memory", false, &[], false),
        ("run csv+json with the bill in memory", false, &["csv", "json"], true),
    ];
    for (name, streaming, formats, with_bill) in runs {
        let args = recon::config::RunArgs {
            rules: dir.join("rules.toml"),
            consumption: paths.consumption.clone(),
            incentives: paths.incentives.clone(),
            customers: paths.customers.clone(),
            bills: if with_bill { paths.bills.clone() } else { Vec::new() },
            formats: formats.iter().map(|f| f.to_string()).collect(),
            out: out_dir(&dir, "run"),
            root: Some(dir.clone()),
            command: "run",
            streaming,
            in_memory: !streaming,
            partitions: streaming.then_some(4),
            ..recon::config::RunArgs::default()
        };
        g.bench_function(name, |b| b.iter(|| recon::exec::run(&args, &mut Vec::new()).expect("run")));
    }
    g.finish();
}

criterion_group!(benches, pipeline);
criterion_main!(benches);
