//! The environment knobs, read once, here and nowhere else (a leaf every layer may use). They
//! tune how a run works, never what it decides: the tests use them to make small inputs take the
//! paths large ones take (streaming, tiny blocks and chunks, short embedded lists).

use std::sync::OnceLock;

/// Every knob recon reads from the environment; `None` when unset or not a number.
#[derive(Debug, Clone, Default)]
pub struct Knobs {
    /// `RECON_TRACE`: print each stage's time and resident memory to stderr.
    pub trace: bool,
    /// `RECON_AUTO_STREAMING_BYTES`: input size from which a run streams without being asked.
    pub auto_streaming_bytes: Option<u64>,
    /// `RECON_BLOCK_BYTES`: the block size a streamed run reads its CSV files in (> 0).
    pub block_bytes: Option<usize>,
    /// `RECON_CHUNK_KEYS`: keys decided per chunk (> 0).
    pub chunk_keys: Option<usize>,
    /// `RECON_HTML_MAX_FINDINGS`: findings report.html embeds at most (capped by the built-in).
    pub html_max_findings: Option<usize>,
    /// `RECON_XLSX_MAX_FINDINGS`: findings 差异明细 holds at most (capped by the built-in).
    pub xlsx_max_findings: Option<usize>,
    /// `RECON_TEST_PAUSE_READING` (tests only): a directory where a read signals that it has read
    /// an input and waits, so that a test can change the input then.
    pub test_pause_reading: Option<std::path::PathBuf>,
}

impl Knobs {
    fn from_env() -> Knobs {
        fn num<T: std::str::FromStr>(name: &str) -> Option<T> {
            std::env::var(name).ok().and_then(|v| v.trim().parse::<T>().ok())
        }
        Knobs {
            trace: std::env::var_os("RECON_TRACE").is_some(),
            auto_streaming_bytes: num("RECON_AUTO_STREAMING_BYTES"),
            block_bytes: num::<usize>("RECON_BLOCK_BYTES").filter(|&n| n > 0),
            chunk_keys: num::<usize>("RECON_CHUNK_KEYS").filter(|&n| n > 0),
            html_max_findings: num("RECON_HTML_MAX_FINDINGS"),
            xlsx_max_findings: num("RECON_XLSX_MAX_FINDINGS"),
            test_pause_reading: std::env::var_os("RECON_TEST_PAUSE_READING").map(std::path::PathBuf::from),
        }
    }
}

/// The knobs of this process, read from the environment the first time they are asked for.
pub fn knobs() -> &'static Knobs {
    static KNOBS: OnceLock<Knobs> = OnceLock::new();
    KNOBS.get_or_init(Knobs::from_env)
}
