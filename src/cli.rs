//! The command line: clap's types for every command (each `--help` ends with examples), and the
//! dispatch of a parsed command line to the command it names. The binary's `main` parses, calls
//! [`Cli::run`] and maps the outcome to an exit status.

use std::io::Write;
use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::commands;
use crate::config::{Error, RunArgs, Status};

#[derive(Parser)]
#[command(
    name = "recon",
    version,
    about = "Reconcile Huawei Cloud partner incentive statements against consumption, and explain every difference",
    after_help = "Examples:\n  recon demo\n  recon run --rules policy.toml --consumption exports/ --incentives 激励明细_2026-10.xlsx --out reports/2026-10\n\nExit status: 0 nothing needs action, 1 findings need action or rows were rejected, 2 error."
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// How `run`, `init` and `estimate` hold large inputs.
#[derive(clap::Args)]
pub struct Partitioning {
    /// Inputs larger than memory: partition them on disk by trade id (beside the outputs) and
    /// work one partition at a time. Same outputs. Chosen without asking when the consumption,
    /// statement and bill files pass 128 MiB.
    #[arg(long, conflicts_with = "in_memory")]
    pub streaming: bool,
    /// Never stream, however large the inputs.
    #[arg(long)]
    pub in_memory: bool,
    /// Number of partitions when it streams (default: one per 16 MiB of input).
    #[arg(long)]
    pub partitions: Option<usize>,
}

/// The rules and input flags `run` and `normalize` share.
#[derive(clap::Args)]
pub struct Inputs {
    /// The incentive policy (TOML).
    #[arg(long)]
    rules: PathBuf,
    /// Consumption details: files, directories or .tar.gz (repeatable, or several after one flag).
    #[arg(long, required = true, num_args = 1..)]
    consumption: Vec<PathBuf>,
    /// Incentive details of one or more statement periods.
    #[arg(long, required = true, num_args = 1..)]
    incentives: Vec<PathBuf>,
    /// Partner bill lines: customerBill_YYYYMM.tar.gz, its CSV parts, XLSX exports, directories.
    #[arg(long, num_args = 1..)]
    bills: Vec<PathBuf>,
    /// Customers with association type, association and rebinding times.
    #[arg(long, num_args = 1..)]
    customers: Vec<PathBuf>,
    /// Workbook sheet to read (default: the first).
    #[arg(long)]
    sheet: Option<String>,
}

impl Inputs {
    /// These flags as a run's arguments (the rest default).
    fn run_args(self, command: &'static str, out: PathBuf) -> RunArgs {
        let Inputs { rules, consumption, incentives, bills, customers, sheet } = self;
        RunArgs { rules, consumption, incentives, bills, customers, sheet, out, command, ..RunArgs::default() }
    }
}

#[derive(Subcommand)]
pub enum Command {
    /// Reconcile exports under a rules file and write the reports.
    #[command(after_help = "Examples:\n  recon run --rules policy.toml --consumption exports/ --incentives 激励明细_2026-10.xlsx --out reports/2026-10\n  recon run --rules policy.toml --consumption exports/ --incentives statements/ --customers customers.csv \\\n            --bills customerBill_202610.tar.gz --period 2026-10 --out reports/2026-10\n  recon run --rules policy.toml --consumption exports/ --incentives statements/ --previous reports/2026-09 --out reports/2026-10")]
    Run {
        #[command(flatten)]
        inputs: Inputs,
        /// Statement periods to report (default: every loaded period).
        #[arg(long = "period")]
        periods: Vec<String>,
        /// Output directory.
        #[arg(long)]
        out: PathBuf,
        /// Last month's report: follow every finding that needed action there and write
        /// changes.csv (NEW, OPEN, CHANGED, RESOLVED, DROPPED, with their age). Never modified.
        #[arg(long)]
        previous: Option<PathBuf>,
        /// Output formats: csv, json, xlsx, html (comma-separated; default all).
        #[arg(long = "format", value_delimiter = ',')]
        formats: Vec<String>,
        /// Exit 0 even when findings need action.
        #[arg(long)]
        exit_zero: bool,
        #[command(flatten)]
        partitioning: Partitioning,
    },
    /// Reconcile the bundled demo fixtures end to end. Exits 0 when the demo ran (its findings
    /// need action by design; `recon run` would exit 1 on them).
    #[command(after_help = "Examples:\n  recon demo\n  recon demo --out /tmp/demo && recon explain F1a2b3c4d5e6f --report /tmp/demo\n  recon demo --out /tmp/demo-next --previous /tmp/demo      # the monthly cycle: changes.csv")]
    Demo {
        /// Output directory.
        #[arg(long, default_value = "reports/demo")]
        out: PathBuf,
        /// An earlier demo report to follow, as a month's run follows last month's (changes.csv).
        #[arg(long)]
        previous: Option<PathBuf>,
        /// Accepted for scripts written for earlier versions; the demo exits 0 when it ran.
        #[arg(long, hide = true)]
        exit_zero: bool,
    },
    /// Show every source row, rule step and the arithmetic behind one finding of a report.
    #[command(after_help = "Examples:\n  recon explain F3c0d9a1b2e4f --report reports/2026-10\n  recon explain B7e21f0c9d3a8 --report reports/2026-10     # a partner bill finding")]
    Explain {
        /// A finding_id from findings.csv (F…).
        finding_id: String,
        /// The report directory (its summary.json says how to re-run).
        #[arg(long)]
        report: PathBuf,
    },
    /// Re-run a report from its summary.json and compare: inputs' sha256 first, then every output's.
    #[command(after_help = "Examples:\n  recon verify reports/2026-10      # run it from the directory the report was made in")]
    Verify {
        /// The report directory.
        dir: PathBuf,
    },
    /// Write deterministic synthetic exports (rules, customers, consumption, statements, bill).
    #[command(after_help = "Examples:\n  recon gen --rows 1000000 --out /tmp/gen\n  recon gen --rows 50000 --seed 7 --out /tmp/gen7")]
    Gen {
        /// Consumption rows to write.
        #[arg(long)]
        rows: u64,
        /// Output directory.
        #[arg(long)]
        out: PathBuf,
        /// Seed of the generator (same seed, same files).
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// Write the accepted rows of every input in canonical columns, as Parquet and CSV tables
    /// (consumption, incentives, customers, bills) with rejected.csv: what `recon sql`'s script
    /// reads in a warehouse (contract §8, docs/warehouse.md).
    #[command(after_help = "Examples:\n  recon normalize --rules policy.toml --consumption exports/ --incentives statements/ --customers customers.csv --out lake/2026-10\n  recon normalize --rules policy.toml --consumption exports/ --incentives statements/ --bills customerBill_202610.tar.gz --out lake/2026-10")]
    Normalize {
        #[command(flatten)]
        inputs: Inputs,
        /// Output directory for the tables.
        #[arg(long)]
        out: PathBuf,
    },
    /// Compile a rules file into one SQL script (Spark SQL or DuckDB) that reconciles the
    /// normalized tables as `recon run` does, creating `findings` and `waterfall`.
    #[command(after_help = "Examples:\n  recon sql --rules policy.toml --dialect spark --out recon.sql      # a DLI SQL job\n  recon sql --rules policy.toml --dialect duckdb | duckdb lake.db")]
    Sql {
        /// The incentive policy (TOML).
        #[arg(long)]
        rules: PathBuf,
        /// spark (Spark SQL 3.3/3.5, DLI, MRS) or duckdb.
        #[arg(long, default_value = "spark")]
        dialect: String,
        /// Write the script here (default: standard output).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Check a rules file and print the policy it defines.
    #[command(after_help = "Examples:\n  recon check-rules policy.toml\n  recon check-rules rules/example.toml")]
    CheckRules {
        /// The rules file (TOML).
        file: PathBuf,
    },
    /// Draft a rules file from the exports: products and rates, lags, late window, counted
    /// components and attribution inferred from what the statements pay, each with a comment
    /// saying how sure; what cannot be inferred keeps its default, marked "not inferred".
    #[command(after_help = "Examples:\n  recon init --consumption exports/consumption/ --incentives exports/statements/ --customers customers.csv --out my-policy.toml\n  recon check-rules my-policy.toml\n  recon run --rules my-policy.toml --consumption exports/consumption/ --incentives exports/statements/ --customers customers.csv --out reports/first\n  recon init --streaming --consumption big/consumption/ --incentives big/statements/ --out draft.toml   # partitioned on disk, flat memory")]
    Init {
        /// Consumption details: files, directories or .tar.gz.
        #[arg(long, required = true, num_args = 1..)]
        consumption: Vec<PathBuf>,
        /// Incentive details (statements): at least one line is needed.
        #[arg(long, required = true, num_args = 1..)]
        incentives: Vec<PathBuf>,
        /// Customers with association type, association and rebinding times.
        #[arg(long, num_args = 1..)]
        customers: Vec<PathBuf>,
        /// The rules file to write (never overwritten without --force).
        #[arg(long)]
        out: PathBuf,
        /// Replace --out (and its .rejected.csv) if it exists.
        #[arg(long)]
        force: bool,
        /// Workbook sheet to read (default: the first).
        #[arg(long)]
        sheet: Option<String>,
        #[command(flatten)]
        partitioning: Partitioning,
    },
    /// Estimate (预估) the incentive due from consumption alone, for periods whose statement is
    /// not out yet: per period and product, with the engine's decisions (rollover and late window
    /// included). Per period it equals the expected_incentive of a run with the statement.
    #[command(after_help = "Examples:\n  recon estimate --rules my-policy.toml --consumption exports/consumption/ --customers customers.csv --period 2026-11 --out estimates/2026-11\n  recon estimate --rules my-policy.toml --consumption consumption_2026-11.csv --out estimates/all   # every period the consumption falls due in")]
    Estimate {
        /// The incentive policy (TOML).
        #[arg(long)]
        rules: PathBuf,
        /// Consumption details: files, directories or .tar.gz.
        #[arg(long, required = true, num_args = 1..)]
        consumption: Vec<PathBuf>,
        /// Customers with association type, association and rebinding times.
        #[arg(long, num_args = 1..)]
        customers: Vec<PathBuf>,
        /// Statement periods to estimate (default: every period the consumption falls due in).
        #[arg(long = "period")]
        periods: Vec<String>,
        /// Output directory (estimate.csv, rejected.csv).
        #[arg(long)]
        out: PathBuf,
        /// Workbook sheet to read (default: the first).
        #[arg(long)]
        sheet: Option<String>,
        #[command(flatten)]
        partitioning: Partitioning,
    },
    /// Price other rules on a report's inputs: re-run them (sha256-checked, as verify does) under
    /// OTHER.toml and write whatif.csv, the change of expected incentive per period and product,
    /// with each category's change on stdout. The report is never modified.
    #[command(after_help = "Examples:\n  recon whatif --report reports/2026-10 --rules fy2027-policy.toml\n  recon whatif --report reports/2026-10 --rules fy2027-policy.toml --out whatif/fy2027   # run it where the report was made")]
    Whatif {
        /// The report directory (its summary.json says how it was run).
        #[arg(long)]
        report: PathBuf,
        /// The other rules file.
        #[arg(long)]
        rules: PathBuf,
        /// Output directory: whatif.csv, and the other rules' report in after/ (default: REPORT.whatif-RULES beside the report).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Partition the inputs on disk, as `recon run --streaming` does.
        #[arg(long, conflicts_with = "in_memory")]
        streaming: bool,
        /// Never stream, however large the inputs.
        #[arg(long)]
        in_memory: bool,
    },
    /// Show how recon reads a file: kind, encoding, sheet, header mapping, rows, periods.
    #[command(after_help = "Examples:\n  recon inspect 激励明细_2026-10.xlsx\n  recon inspect exports/consumption_2026-10.csv --rules policy.toml")]
    Inspect {
        /// The file (or directory) to inspect.
        file: PathBuf,
        /// Rules file whose [columns] aliases and time zone apply.
        #[arg(long)]
        rules: Option<PathBuf>,
        #[arg(long)]
        sheet: Option<String>,
    },
}

impl Cli {
    /// Runs the command, writing its output to `stdout`; returns how it ended and whether
    /// `--exit-zero` was given.
    pub fn run(self, stdout: &mut impl Write) -> (Result<Status, Error>, bool) {
        match self.command {
            Command::Run { inputs, periods, out, formats, exit_zero, partitioning: Partitioning { streaming, in_memory, partitions }, previous } => {
                let args = RunArgs { periods, formats, streaming, partitions, in_memory, previous, ..inputs.run_args("run", out) };
                (commands::run::run(&args, stdout), exit_zero)
            }
            Command::Demo { out, previous, exit_zero: _ } => (commands::demo::run(&out, previous.as_deref(), stdout), false),
            Command::Explain { finding_id, report } => (commands::explain::run(&finding_id, &report, stdout), false),
            Command::Verify { dir } => (commands::verify::run(&dir, stdout), false),
            Command::Gen { rows, out, seed } => (commands::gen::run(rows, &out, seed, stdout), false),
            Command::CheckRules { file } => (commands::check_rules::run(&file, stdout), false),
            Command::Init { consumption, incentives, customers, out, force, sheet, partitioning: Partitioning { streaming, in_memory, partitions } } => {
                let args = commands::init::InitArgs { consumption, incentives, customers, out, force, sheet, streaming, in_memory, partitions };
                (commands::init::init(&args, stdout), false)
            }
            Command::Estimate { rules, consumption, customers, periods, out, sheet, partitioning: Partitioning { streaming, in_memory, partitions } } => {
                let args = commands::estimate::EstimateArgs { rules, consumption, customers, periods, out, sheet, streaming, in_memory, partitions };
                (commands::estimate::run(&args, stdout), false)
            }
            Command::Whatif { report, rules, out, streaming, in_memory } => {
                let args = commands::whatif::WhatifArgs { report, rules, out, streaming, in_memory };
                (commands::whatif::run(&args, stdout), false)
            }
            Command::Inspect { file, rules, sheet } => (commands::inspect::run(&file, rules.as_deref(), sheet.as_deref(), stdout), false),
            Command::Normalize { inputs, out } => {
                let args = inputs.run_args("normalize", out);
                (commands::normalize::run(&args, stdout), false)
            }
            Command::Sql { rules, dialect, out } => (commands::sql::run(&rules, &dialect, out.as_deref(), stdout), false),
        }
    }
}
