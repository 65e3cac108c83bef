//! `report.html`: one self-contained page.

use super::ReportCtx;

pub fn render(_ctx: &ReportCtx) -> String {
    String::new()
}
