//! The `recon` binary: parse the command line, call the library, print any error chain to
//! stderr, and map the outcome to an exit status. Only this file decides the exit.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use recon::app::{self, RunArgs, Status};

/// mimalloc instead of the system allocator: a run allocates and frees millions of small strings
/// from two threads, where glibc malloc spent a fifth of the time (measured with perf).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

unsafe extern "C" {
    /// mimalloc's `mi_option_set` (linked in with the allocator).
    fn mi_option_set(option: std::ffi::c_int, value: std::ffi::c_long);
    /// mimalloc's `mi_collect`: with `force`, frees what it can and hands it back to the kernel.
    fn mi_collect(force: bool);
}

/// `mi_option_purge_delay` in mimalloc's `mi_option_e` (v2 and v3 alike).
const MI_OPTION_PURGE_DELAY: std::ffi::c_int = 15;

/// Keeps freed memory in the process instead of handing it back to the kernel 10 ms later: a
/// run frees and re-allocates the same few hundred MB per partition, and every hand-back cost a
/// fresh page fault and page zeroing on reuse (a 10 M row run spent 33 s of system time, 18 s
/// with this; BENCHMARKS.md). Peak memory is unchanged; it is simply not returned early.
fn keep_freed_memory() {
    // SAFETY: called first thing in main, before any other thread exists; the option is an int.
    unsafe { mi_option_set(MI_OPTION_PURGE_DELAY, -1) }
    // ... until the library asks for it, between two stages (app::release_memory): from then on
    // freed memory is handed back at once.
    // SAFETY: mi_option_set may be called at any time (the option is read when purging).
    app::on_release_memory(|| unsafe {
        mi_option_set(MI_OPTION_PURGE_DELAY, 0);
        mi_collect(true);
    });
}

#[derive(Parser)]
#[command(
    name = "recon",
    version,
    about = "Reconcile Huawei Cloud partner incentive statements against consumption, and explain every difference",
    after_help = "Examples:\n  recon demo\n  recon run --rules policy.toml --consumption exports/ --incentives 激励明细_2026-10.xlsx --out reports/2026-10\n\nExit status: 0 nothing needs action, 1 findings need action or rows were rejected, 2 error."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Reconcile exports under a rules file and write the reports.
    #[command(after_help = "Examples:\n  recon run --rules policy.toml --consumption exports/ --incentives 激励明细_2026-10.xlsx --out reports/2026-10\n  recon run --rules policy.toml --consumption exports/ --incentives statements/ --customers customers.csv \\\n            --bills customerBill_202610.tar.gz --period 2026-10 --out reports/2026-10")]
    Run {
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
        /// Statement periods to report (default: every loaded period).
        #[arg(long = "period")]
        periods: Vec<String>,
        /// Output directory.
        #[arg(long)]
        out: PathBuf,
        /// Output formats: csv, json, xlsx, html (comma-separated; default all).
        #[arg(long = "format", value_delimiter = ',')]
        formats: Vec<String>,
        /// Workbook sheet to read (default: the first).
        #[arg(long)]
        sheet: Option<String>,
        /// Exit 0 even when findings need action.
        #[arg(long)]
        exit_zero: bool,
        /// Inputs larger than memory: partition them on disk (under --out) and reconcile one
        /// partition at a time. Same outputs, every format and --bills included. Chosen without
        /// asking when the consumption, statement and bill files pass 128 MiB.
        #[arg(long, conflicts_with = "in_memory")]
        streaming: bool,
        /// Never stream, however large the inputs.
        #[arg(long)]
        in_memory: bool,
        /// Number of partitions when the run streams (default: one per 16 MiB of input).
        #[arg(long)]
        partitions: Option<usize>,
    },
    /// Reconcile the bundled demo fixtures end to end. Exits 0 when the demo ran (its findings
    /// need action by design; `recon run` would exit 1 on them).
    #[command(after_help = "Examples:\n  recon demo\n  recon demo --out /tmp/demo && recon explain F1a2b3c4d5e6f --report /tmp/demo")]
    Demo {
        /// Output directory.
        #[arg(long, default_value = "reports/demo")]
        out: PathBuf,
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
    /// Check a rules file and print the policy it defines.
    #[command(after_help = "Examples:\n  recon check-rules policy.toml\n  recon check-rules rules/example.toml")]
    CheckRules {
        /// The rules file (TOML).
        file: PathBuf,
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

/// 0 clean, 1 findings need action (or rows were rejected), 2 error.
enum Exit {
    Clean = 0,
    NeedsAction = 1,
    Error = 2,
}

fn main() -> ExitCode {
    keep_freed_memory();
    let cli = Cli::parse();
    let mut stdout = std::io::stdout().lock();
    let (result, exit_zero) = match cli.command {
        Command::Run { rules, consumption, incentives, bills, customers, periods, out, formats, sheet, exit_zero, streaming, in_memory, partitions } => {
            let args = RunArgs { rules, consumption, incentives, bills, customers, periods, out, formats, sheet, root: None, command: "run", streaming, partitions, in_memory };
            (app::run(&args, &mut stdout), exit_zero)
        }
        Command::Demo { out, exit_zero: _ } => (app::demo(&out, &mut stdout), false),
        Command::Explain { finding_id, report } => (app::explain(&finding_id, &report, &mut stdout), false),
        Command::Verify { dir } => (app::verify(&dir, &mut stdout), false),
        Command::Gen { rows, out, seed } => (app::gen(rows, &out, seed, &mut stdout), false),
        Command::CheckRules { file } => (app::check_rules(&file, &mut stdout), false),
        Command::Inspect { file, rules, sheet } => (app::inspect(&file, rules.as_deref(), sheet.as_deref(), &mut stdout), false),
    };
    let exit = match result {
        Ok(Status::Clean) => Exit::Clean,
        Ok(Status::NeedsAction) if exit_zero => Exit::Clean,
        Ok(Status::NeedsAction) => Exit::NeedsAction,
        Err(e) => {
            eprintln!("error: {e}");
            let mut source = std::error::Error::source(&e);
            while let Some(s) = source {
                eprintln!("  caused by: {s}");
                source = s.source();
            }
            if let Some(note) = e.note() {
                eprintln!("{note}");
            }
            Exit::Error
        }
    };
    ExitCode::from(exit as u8)
}
