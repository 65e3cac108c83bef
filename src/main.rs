//! The `recon` binary: parse the command line, call the library, print any error chain to
//! stderr, and map the outcome to an exit status. Only this file decides the exit.

use std::process::ExitCode;

use clap::Parser;
use recon::config::Status;
use recon::cli::Cli;

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
    // ... until the library asks for it, between two stages (obs::release_memory): from then on
    // freed memory is handed back at once.
    // SAFETY: mi_option_set may be called at any time (the option is read when purging).
    recon::obs::on_release_memory(|| unsafe {
        mi_option_set(MI_OPTION_PURGE_DELAY, 0);
        mi_collect(true);
    });
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
    let (result, exit_zero) = cli.run(&mut stdout);
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
