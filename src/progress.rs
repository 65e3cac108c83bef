//! Progress for long runs: one spinner line per stage (a bar for a stage of counted steps, as a
//! streamed run's partitions) on stderr, shown only when stderr is a
//! terminal (never in pipes, files or CI logs), plus stage timings on stderr when `RECON_TRACE`
//! is set. stdout stays for data and the run summary.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

pub struct Progress {
    bar: Option<ProgressBar>,
    stage: Option<(String, Instant)>,
}

impl Progress {
    pub fn new() -> Progress {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::new_spinner();
            if let Ok(style) = ProgressStyle::with_template("{spinner} {elapsed:>4} {msg}") {
                bar.set_style(style);
            }
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        });
        Progress { bar, stage: None }
    }

    /// Ends the current stage (tracing its time) and starts `name`.
    pub fn stage(&mut self, name: &str) {
        self.end_stage();
        if let Some(bar) = &self.bar {
            bar.set_message(name.to_string());
        }
        self.stage = Some((name.to_string(), Instant::now()));
    }

    /// Starts a stage made of `total` equal steps (partitions), shown as a bar; the returned
    /// counter advances it from any thread.
    pub fn stage_of(&mut self, name: &str, total: u64) -> Counter {
        self.stage(name);
        if let Some(bar) = &self.bar {
            bar.set_length(total);
            bar.set_position(0);
            if let Ok(style) = ProgressStyle::with_template("{elapsed:>4} [{bar:30}] {pos}/{len} {msg} (eta {eta})") {
                bar.set_style(style.progress_chars("=> "));
            }
        }
        Counter(self.bar.clone())
    }

    fn end_stage(&mut self) {
        if let Some((name, since)) = self.stage.take() {
            crate::obs::trace(&name, since);
        }
    }

    pub fn finish(mut self) {
        self.end_stage();
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}

/// Advances a [`Progress::stage_of`] bar (a no-op when stderr is not a terminal).
#[derive(Clone)]
pub struct Counter(Option<ProgressBar>);

impl Counter {
    pub fn inc(&self) {
        if let Some(bar) = &self.0 {
            bar.inc(1);
        }
    }
}

impl Default for Progress {
    fn default() -> Self {
        Progress::new()
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}
