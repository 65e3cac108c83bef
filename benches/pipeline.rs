//! Criterion benchmarks of the pipeline's stages on fixed inputs: `recon gen` data (deterministic
//! for its row count and seed), loaded, reconciled and written. Run with `cargo bench`; figures
//! go to BENCHMARKS.md, never into tests.

use std::path::{Path, PathBuf};
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use recon::load::{self, InputPaths};
use recon::report::{self, Formats, RunOptions};
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

    let loaded = load::load_all(&paths, &rules).expect("load");
    g.bench_function("decide (engine::run)", |b| b.iter(|| recon::engine::run(&loaded, &rules, &[]).expect("engine")));

    let outcome = recon::engine::run(&loaded, &rules, &[]).expect("engine");
    let options = RunOptions { command: "run", ..RunOptions::default() };
    for (name, formats) in [
        ("write csv+json", Formats { csv: true, json: true, xlsx: false, html: false }),
        ("write xlsx", Formats { csv: false, json: false, xlsx: true, html: false }),
        ("write html", Formats { csv: false, json: false, xlsx: false, html: true }),
    ] {
        let out = out_dir(&dir, "out");
        g.bench_function(name, |b| b.iter(|| report::write_all(&out, &outcome, &loaded, &rules, &options, formats).expect("write")));
    }

    // Whole runs through the command (rules, load, reconcile, csv+json outputs), in memory and
    // streamed through 4 partitions: the same outputs, two ways.
    for (name, streaming, in_memory) in [("run csv+json in memory", false, true), ("run csv+json streamed (4 partitions)", true, false)] {
        let args = recon::app::RunArgs {
            rules: dir.join("rules.toml"),
            consumption: paths.consumption.clone(),
            incentives: paths.incentives.clone(),
            customers: paths.customers.clone(),
            formats: vec!["csv".into(), "json".into()],
            out: out_dir(&dir, "run"),
            root: Some(dir.clone()),
            command: "run",
            streaming,
            in_memory,
            partitions: streaming.then_some(4),
            ..recon::app::RunArgs::default()
        };
        g.bench_function(name, |b| b.iter(|| recon::app::run(&args, &mut Vec::new()).expect("run")));
    }
    g.finish();
}

criterion_group!(benches, pipeline);
criterion_main!(benches);
