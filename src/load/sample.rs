//! Trade ids sampled from the CSV inputs, without reading them whole: where a streamed run cuts
//! its partitions.

use std::path::{Path, PathBuf};

use super::schema::{map_headers, Kind};
use super::table;
use super::LoadError;
use crate::rules::RuleSet;

/// Trade ids sampled from the CSV files of one kind without reading them whole: `per_file`
/// short reads at evenly spaced offsets, each giving the first whole line after the offset. A
/// streamed run cuts its partitions at quantiles of these, so each partition is a range of trade
/// ids. The samples only balance the partitions: a line misread here (a cut inside a quoted
/// cell) changes no result. Files in other formats are not sampled.
pub(crate) fn sample_trade_ids(paths: &[PathBuf], root: &Path, kind: Kind, rules: &RuleSet, per_file: usize) -> Result<Vec<String>, LoadError> {
    use std::io::{Read as _, Seek, SeekFrom};
    let mut out = Vec::new();
    for (path, label, format) in table::list(paths, root)? {
        if format != table::Format::Csv {
            continue;
        }
        let io = |source| LoadError::Io { path: label.clone(), source };
        let mut file = std::fs::File::open(&path).map_err(io)?;
        let len = file.metadata().map_err(io)?.len();
        let mut head = vec![0u8; (64 << 10).min(len as usize)];
        file.read_exact(&mut head).map_err(io)?;
        let text = |bytes: &[u8]| -> String {
            let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
            match std::str::from_utf8(bytes) {
                Ok(s) => s.to_string(),
                Err(e) if e.error_len().is_none() => String::from_utf8_lossy(&bytes[..e.valid_up_to()]).into_owned(),
                Err(_) => encoding_rs::GB18030.decode_without_bom_handling(bytes).0.into_owned(),
            }
        };
        let first_record = |s: &str| -> Option<Vec<String>> {
            let mut r = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(s.as_bytes());
            let mut rec = csv::StringRecord::new();
            r.read_record(&mut rec).ok()?.then(|| rec.iter().map(|c| c.trim_start_matches('\u{feff}').to_string()).collect())
        };
        let Some(headers) = first_record(&text(&head)) else { continue };
        let (map, _) = map_headers(kind, &headers, &rules.columns);
        let Some(col) = map.index("trade_id") else { continue };
        let mut buf = vec![0u8; 4096];
        for i in 1..=per_file as u64 {
            let at = len * i / (per_file as u64 + 1);
            file.seek(SeekFrom::Start(at)).map_err(io)?;
            let n = file.read(&mut buf).map_err(io)?;
            let window = &buf[..n];
            let Some(nl) = window.iter().position(|&c| c == b'\n') else { continue };
            let line = &window[nl + 1..];
            let Some(end) = line.iter().position(|&c| c == b'\n') else { continue };
            if let Some(v) = first_record(&text(&line[..end])).and_then(|r| r.get(col).map(|v| v.trim().to_string())) {
                if !v.is_empty() {
                    out.push(v);
                }
            }
        }
    }
    Ok(out)
}
