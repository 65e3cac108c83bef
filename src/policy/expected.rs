//! The expected incentive of a run, per statement period and product: `estimate` and `whatif`
//! run the engine through the same executors as `recon run` (in memory or partitioned), which
//! sum what it decided as they render it ([`crate::report::expected`], one key for both), so
//! that no decision is made twice; a report made earlier is summed from its findings.csv
//! ([`read`]). The lines of a period sum exactly to the period's `expected_incentive` in the
//! waterfall, which [`check_totals`] checks.

use std::collections::BTreeMap;
use std::path::Path;

use rust_decimal::Decimal;

use crate::config::Error;
use crate::report::FINDINGS_HEADER;
use crate::report::summary::Summary;

pub use crate::report::expected::{ExpectedSums, Line, Sums};

/// The expected side of every finding of a findings.csv, summed per [`Line`] (see
/// [`crate::report::expected`]). Also the file's sha256, taken as it is read
/// ([`crate::report::scan`]: records split in place, fields as byte slices). A run that is to
/// be summed sums as it renders (`exec::run_summed`); this reads a report made earlier.
/// Each record is split only up to the last column needed (`rule_ids`): the explanation and the
/// citations after it are passed over, so the rows cited are not counted (`rows` is 0; whatif
/// does not show them).
pub fn read(path: &Path) -> Result<(BTreeMap<Line, Sums>, String), Error> {
    use crate::report::scan::{scan_file_prefix, ScanError};
    let bad = |message: String| Error::Corrupt { path: path.display().to_string(), message };
    const NAMES: [&str; 7] = ["finding_id", "service_type_code", "charging_mode", "expected_period", "expected_base", "expected_incentive", "rule_ids"];
    let mut cols: Option<[usize; 7]> = None;
    let mut failed: Option<Error> = None;
    let mut sums = ExpectedSums::default();
    // (the columns needed lie where recon writes them; a header that puts one later is read whole)
    let want = NAMES.iter().filter_map(|n| FINDINGS_HEADER.iter().position(|h| h == n)).max().map_or(usize::MAX, |m| m + 1);
    let scanned = scan_file_prefix(path, want, |fields, line, _| {
        let Some(at) = cols else {
            let headers: Vec<String> = fields.iter().map(|f| String::from_utf8_lossy(f).trim_start_matches('\u{feff}').to_string()).collect();
            let mut at = [0usize; 7];
            for (k, name) in NAMES.iter().enumerate() {
                match headers.iter().position(|h| h == name) {
                    Some(i) => at[k] = i,
                    None => {
                        failed = Some(bad(format!("not a findings.csv of recon: no column {name}")));
                        return Ok(false);
                    }
                }
            }
            if at.iter().any(|&i| i >= want) {
                failed = Some(bad("its columns are not where recon writes them: not a findings.csv of this version of recon".into()));
                return Ok(false);
            }
            cols = Some(at);
            return Ok(true);
        };
        let get = |k: usize| fields.get(at[k]).copied().unwrap_or(b"");
        if !get(0).starts_with(b"F") || get(5).is_empty() {
            return Ok(true);
        }
        let money = |b: &[u8]| -> Result<Decimal, ScanError> {
            std::str::from_utf8(b).ok().and_then(|s| Decimal::from_str_exact(s.trim()).ok()).ok_or(ScanError::Malformed { line, what: "an expected amount that is not a decimal" })
        };
        let restored = |k: usize| crate::report::restore_bytes(get(k));
        sums.add(get(3), get(6), restored(1), restored(2), money(get(4))?, money(get(5))?, 0);
        Ok(true)
    });
    if let Some(e) = failed {
        return Err(e);
    }
    let sha = scanned.map_err(|e| match e {
        ScanError::Io(source) => Error::ReadBack { path: path.display().to_string(), source },
        ScanError::Malformed { line, what } => bad(format!("line {line}: {what}")),
    })?;
    Ok((sums.into_lines().map_err(|m| bad(m.into()))?, sha))
}

/// Each period's expected incentive in a summary.json's waterfall.
pub fn waterfall_expected(summary: &Summary, path: &Path) -> Result<BTreeMap<String, Decimal>, Error> {
    summary
        .periods
        .iter()
        .map(|p| {
            Decimal::from_str_exact(&p.waterfall.expected_incentive)
                .map(|d| (p.period.clone(), d))
                .map_err(|_| Error::Corrupt { path: path.display().to_string(), message: format!("expected_incentive of {} is not an amount", p.period) })
        })
        .collect()
}

/// The lines of each period sum exactly to its expected incentive in the waterfall, or recon has
/// a bug (the run stops rather than print numbers that do not close).
pub fn check_totals(lines: &BTreeMap<Line, Sums>, waterfall: &BTreeMap<String, Decimal>) -> Result<(), Error> {
    for (period, total) in waterfall {
        let sum: Decimal = lines.iter().filter(|(l, _)| &l.0 == period).map(|(_, s)| s.incentive).sum();
        if sum != *total {
            return Err(Error::Internal(format!("the expected incentive of {period} per product sums to {sum}, the waterfall says {total}")));
        }
    }
    Ok(())
}
