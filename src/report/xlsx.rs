//! Excel outputs (rust_xlsxwriter): `disputes.xlsx` and `report.xlsx`.

use std::path::Path;

use super::{ReportCtx, ReportError};

/// `disputes.xlsx`: the dispute rows with Chinese headers, grouped by period with totals.
pub fn write_disputes(_path: &Path, _ctx: &ReportCtx) -> Result<(), ReportError> {
    Ok(())
}

/// `report.xlsx`: sheets 汇总, 差异明细, 争议, 输入.
pub fn write_report(_path: &Path, _ctx: &ReportCtx) -> Result<(), ReportError> {
    Ok(())
}
