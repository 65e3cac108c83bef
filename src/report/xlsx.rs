//! Excel outputs (rust_xlsxwriter): `disputes.xlsx` and `report.xlsx`.
//!
//! Amounts are written as numbers (from `rust_decimal::Decimal`, converted to the nearest double
//! by rust_xlsxwriter; no float arithmetic here) with the format `#,##0.00` (more decimals only
//! for an amount that has them); text stays text. Both workbooks are byte-for-byte reproducible:
//! the document creation time is fixed (rust_xlsxwriter would otherwise stamp the current time
//! into `docProps/core.xml` as created and modified) and rust_xlsxwriter writes every zip entry
//! with the fixed DOS time 1980-01-01 00:00, so `recon verify` can compare hashes.
//!
//! 差异明细 holds at most Excel's 1,048,575 data rows; past that, 汇总 says how many are shown
//! and findings.csv has them all.

use std::path::Path;
use std::str::FromStr;

use rust_decimal::Decimal;
use rust_xlsxwriter::{Color, DocProperties, ExcelDateTime, Format, FormatAlign, FormatBorder, Workbook, Worksheet, XlsxError};
use super::summary::{Categories, Summary};

use super::disputes::{totals, Dispute, HEADER};
use super::{ReportCtx, ReportError, FINDINGS_HEADER};
use crate::engine::Category;
use crate::model::fmt_money;

/// The last row index Excel allows (1,048,576 rows).
const MAX_ROW: u32 = 1_048_575;
/// The most findings 差异明细 can hold (one header row, then the Excel row limit).
pub const MAX_FINDING_ROWS: usize = MAX_ROW as usize;

pub const SHEET_SUMMARY: &str = "汇总";
pub const SHEET_FINDINGS: &str = "差异明细";
pub const SHEET_DISPUTES: &str = "争议";
pub const SHEET_INPUTS: &str = "输入";
pub const SHEET_CHANGES: &str = "变化";

/// The waterfall steps in contract order: name, sign shown before the label, Chinese label.
pub const WATERFALL: [(&str, &str, &str); 10] = [
    ("consumption_total", "", "消费总额"),
    ("ineligible_product", "-", "不参与激励的产品"),
    ("not_attributed", "-", "未归属伙伴"),
    ("excluded_payment", "-", "不计入基数的金额"),
    ("rolled_out", "-", "顺延至后续期次"),
    ("rolled_in", "+", "自前期顺延"),
    ("expected_base", "=", "应计激励基数"),
    ("expected_incentive", "", "应得激励"),
    ("actual_incentive", "", "实得激励"),
    ("difference", "", "差额（实得－应得）"),
];

/// Columns of 差异明细 (indices into [`FINDINGS_HEADER`]) that hold amounts.
const FINDING_AMOUNTS: std::ops::RangeInclusive<usize> = 10..=14;

/// The most UTF-16 code units an Excel cell holds.
pub const MAX_CELL_TEXT: usize = 32_767;

/// `text` as a workbook cell holds it: whole, or, past Excel's [`MAX_CELL_TEXT`], cut at a
/// character with a visible marker saying how many characters were cut (the CSV outputs keep
/// the whole text; a run never fails on a long value).
pub fn cell_text(text: &str) -> std::borrow::Cow<'_, str> {
    // (a UTF-8 string has at least as many bytes as UTF-16 units)
    if text.len() <= MAX_CELL_TEXT || text.encode_utf16().count() <= MAX_CELL_TEXT {
        return std::borrow::Cow::Borrowed(text);
    }
    // room for the marker ("…[cut: 4294967295 characters]" is 32 units)
    let budget = MAX_CELL_TEXT - 40;
    let (mut units, mut end) = (0, 0);
    for (i, c) in text.char_indices() {
        if units + c.len_utf16() > budget {
            break;
        }
        units += c.len_utf16();
        end = i + c.len_utf8();
    }
    let cut = text[end..].chars().count();
    std::borrow::Cow::Owned(format!("{}…[cut: {cut} characters]", &text[..end]))
}

/// Text cells through [`cell_text`]: every text a workbook shows is written by these.
trait TextCells {
    fn text(&mut self, row: u32, col: u16, text: impl AsRef<str>, format: &Format) -> Result<&mut Worksheet, XlsxError>;
    fn plain_text(&mut self, row: u32, col: u16, text: impl AsRef<str>) -> Result<&mut Worksheet, XlsxError>;
}

impl TextCells for Worksheet {
    fn text(&mut self, row: u32, col: u16, text: impl AsRef<str>, format: &Format) -> Result<&mut Worksheet, XlsxError> {
        self.write_string_with_format(row, col, cell_text(text.as_ref()), format)
    }

    fn plain_text(&mut self, row: u32, col: u16, text: impl AsRef<str>) -> Result<&mut Worksheet, XlsxError> {
        self.write_string(row, col, cell_text(text.as_ref()))
    }
}

fn xlsx_err(path: &Path) -> impl FnOnce(XlsxError) -> ReportError + '_ {
    move |source| ReportError::Xlsx { path: path.display().to_string(), source }
}

/// `disputes.xlsx`: the dispute rows with Chinese headers, grouped by period with totals.
pub fn write_disputes(path: &Path, ctx: &ReportCtx) -> Result<(), ReportError> {
    build_disputes(ctx).and_then(|mut wb| wb.save(path)).map_err(xlsx_err(path))
}

/// `report.xlsx`: sheets 汇总, 差异明细, 争议, 输入.
pub fn write_report(path: &Path, ctx: &ReportCtx) -> Result<(), ReportError> {
    let st = Styles::new();
    let mut wb = workbook("recon report").map_err(xlsx_err(path))?;
    summary_sheet(wb.add_worksheet(), ctx, &st).map_err(xlsx_err(path))?;
    let findings = wb.add_worksheet_with_constant_memory().map_err(xlsx_err(path))?;
    findings_sheet(findings, ctx, &st, path)?;
    let disputes = wb.add_worksheet_with_constant_memory().map_err(xlsx_err(path))?;
    disputes_sheet(disputes, ctx.disputes, &st).map_err(xlsx_err(path))?;
    inputs_sheet(wb.add_worksheet(), ctx.summary, &st).map_err(xlsx_err(path))?;
    if let Some(changes) = ctx.changes {
        let ws = wb.add_worksheet_with_constant_memory().map_err(xlsx_err(path))?;
        changes_sheet(ws, changes, &st, path)?;
    }
    wb.save(path).map_err(xlsx_err(path))
}

/// The number format of amounts.
pub const MONEY_FORMAT: &str = "#,##0.00";
/// For the rare amount with more than two decimals (partner bill lines): shows them instead of
/// rounding the display to cents.
pub const MONEY_FORMAT_FINE: &str = "#,##0.00######";

/// An amount's two formats: cents, and finer when the amount has more decimals.
struct Money {
    cents: Format,
    fine: Format,
}

impl Money {
    fn new(base: Format) -> Money {
        Money { cents: base.clone().set_num_format(MONEY_FORMAT), fine: base.set_num_format(MONEY_FORMAT_FINE) }
    }
}

/// The cell formats shared by the sheets of a workbook.
struct Styles {
    title: Format,
    header: Format,
    section: Format,
    text: Format,
    wrap: Format,
    money: Money,
    count: Format,
    total_text: Format,
    total_wrap: Format,
    total_money: Money,
    total_count: Format,
}

impl Styles {
    fn new() -> Styles {
        let fill = Color::RGB(0xD9E1F2);
        let total_fill = Color::RGB(0xF2F2F2);
        let top = Format::new().set_align(FormatAlign::Top);
        Styles {
            title: Format::new().set_bold().set_font_size(14),
            header: Format::new().set_bold().set_text_wrap().set_align(FormatAlign::Top).set_background_color(fill).set_border_bottom(FormatBorder::Thin),
            section: Format::new().set_bold().set_background_color(fill),
            text: top.clone(),
            wrap: top.clone().set_text_wrap(),
            money: Money::new(top.clone()),
            count: top.clone().set_num_format("0"),
            total_text: top.clone().set_bold().set_background_color(total_fill).set_border_top(FormatBorder::Thin),
            total_wrap: top.clone().set_bold().set_text_wrap().set_background_color(total_fill).set_border_top(FormatBorder::Thin),
            total_money: Money::new(top.clone().set_bold().set_background_color(total_fill).set_border_top(FormatBorder::Thin)),
            total_count: top.set_bold().set_num_format("0").set_background_color(total_fill).set_border_top(FormatBorder::Thin),
        }
    }
}

/// A workbook with fixed document properties, so that its bytes do not depend on the clock.
fn workbook(title: &str) -> Result<Workbook, XlsxError> {
    let created = ExcelDateTime::from_ymd(2000, 1, 1)?.and_hms(0, 0, 0)?;
    let props = DocProperties::new().set_title(title).set_author("recon").set_company("").set_creation_datetime(&created);
    let mut wb = Workbook::new();
    wb.set_properties(&props);
    Ok(wb)
}

fn build_disputes(ctx: &ReportCtx) -> Result<Workbook, XlsxError> {
    let st = Styles::new();
    let mut wb = workbook("recon disputes")?;
    // (rows are written in order: constant-memory mode keeps only the current one)
    let ws = wb.add_worksheet_with_constant_memory()?;
    disputes_sheet(ws, ctx.disputes, &st)?;
    Ok(wb)
}

/// An amount as an Excel number (exact decimal in, the nearest double out; never `-0`), shown
/// with two decimals, or all of them when it has more.
fn money(ws: &mut Worksheet, row: u32, col: u16, v: Decimal, fmt: &Money) -> Result<(), XlsxError> {
    let v = if v.is_zero() { Decimal::ZERO } else { v.normalize() };
    let fmt = if v.scale() > 2 { &fmt.fine } else { &fmt.cents };
    ws.write_with_format(row, col, v, fmt)?;
    Ok(())
}

/// A count as an Excel number.
fn count(ws: &mut Worksheet, row: u32, col: u16, n: u64, fmt: &Format) -> Result<(), XlsxError> {
    ws.write_with_format(row, col, Decimal::from(n), fmt)?;
    Ok(())
}

fn header(ws: &mut Worksheet, row: u32, names: &[&str], st: &Styles) -> Result<(), XlsxError> {
    for (c, name) in (0u16..).zip(names) {
        ws.text(row, c, *name, &st.header)?;
    }
    Ok(())
}

/// A decimal string of the summary.
fn parse_amount(v: &str, what: &str) -> Result<Decimal, XlsxError> {
    Decimal::from_str(v).map_err(|_| XlsxError::ParameterError(format!("summary.json: {what} is not a decimal amount: {v:?}")))
}

/// "一致 MATCHED": the Chinese label and the name of a category.
fn category_label(name: &str) -> String {
    match Category::ALL.iter().chain(&Category::BILL).find(|c| c.name() == name) {
        Some(c) => format!("{} {}", c.label_zh(), name),
        None => name.to_string(),
    }
}

/// 争议 / disputes.xlsx: the same rows as disputes.csv, amounts as numbers.
fn disputes_sheet(ws: &mut Worksheet, disputes: &[Dispute], st: &Styles) -> Result<(), XlsxError> {
    ws.set_name(SHEET_DISPUTES)?;
    header(ws, 0, &HEADER, st)?;
    for (c, width) in (0u16..).zip([10, 16, 22, 14, 20, 26, 14, 14, 14, 16, 100]) {
        ws.set_column_width(c, width)?;
    }
    ws.set_freeze_panes(1, 0)?;
    let mut row = 1u32;
    for (period, n, exp, act, delta) in totals(disputes) {
        for d in disputes.iter().filter(|d| d.period == period) {
            ws.text(row, 0, d.period.to_string(), &st.text)?;
            ws.text(row, 1, &d.id, &st.text)?;
            ws.text(row, 2, &d.trade_id, &st.text)?;
            ws.text(row, 3, &d.customer_id, &st.text)?;
            ws.text(row, 4, &d.customer_name, &st.text)?;
            ws.text(row, 5, &d.service, &st.text)?;
            money(ws, row, 6, d.expected, &st.money)?;
            money(ws, row, 7, d.actual, &st.money)?;
            money(ws, row, 8, d.delta, &st.money)?;
            ws.text(row, 9, d.category.label_zh(), &st.text)?;
            ws.text(row, 10, &d.description, &st.wrap)?;
            row += 1;
        }
        ws.text(row, 0, period.to_string(), &st.total_text)?;
        ws.text(row, 1, format!("合计（{n} 项）"), &st.total_text)?;
        for c in 2..=5 {
            ws.write_blank(row, c, &st.total_text)?;
        }
        money(ws, row, 6, exp, &st.total_money)?;
        money(ws, row, 7, act, &st.total_money)?;
        money(ws, row, 8, delta, &st.total_money)?;
        ws.write_blank(row, 9, &st.total_text)?;
        let sentence = format!("对账期次 {period} 共 {n} 项争议，应得 {}，实得 {}，差额 {}。", fmt_money(exp), fmt_money(act), fmt_money(delta));
        ws.text(row, 10, sentence, &st.total_wrap)?;
        row += 1;
    }
    Ok(())
}

/// 差异明细: the findings, the columns of findings.csv, amounts as numbers; as many as Excel's
/// row limit allows, in file order.
fn findings_sheet(ws: &mut Worksheet, ctx: &ReportCtx, st: &Styles, path: &Path) -> Result<(), ReportError> {
    let head = |ws: &mut Worksheet| -> Result<(), XlsxError> {
        ws.set_name(SHEET_FINDINGS)?;
        header(ws, 0, &FINDINGS_HEADER, st)?;
        let widths = [16, 10, 22, 9, 16, 22, 20, 26, 12, 10, 14, 14, 14, 14, 14, 24, 90, 40, 40];
        for (c, width) in (0u16..).zip(widths) {
            ws.set_column_width(c, width)?;
        }
        ws.set_freeze_panes(1, 0)?;
        Ok(())
    };
    head(ws).map_err(xlsx_err(path))?;
    let shown = shown_findings(ctx.outcome.counts.total);
    let mut row = 0u32;
    let mut failed = None;
    ctx.each_record(&mut |rec| {
        if row as usize >= shown {
            return Ok(false);
        }
        row += 1;
        match finding_row(ws, row, &rec.texts()?, st) {
            Ok(()) => Ok(true),
            Err(e) => {
                failed = Some(e);
                Ok(false)
            }
        }
    })?;
    if let Some(e) = failed {
        return Err(xlsx_err(path)(e));
    }
    let last_col = u16::try_from(FINDINGS_HEADER.len() - 1).unwrap_or(0);
    ws.autofilter(0, 0, row, last_col).map_err(xlsx_err(path))?;
    Ok(())
}

/// One finding's row of 差异明细 from its findings.csv fields: amounts as numbers (an amount
/// findings.csv holds is always a decimal; anything else would be shown as the text it is).
fn finding_row(ws: &mut Worksheet, row: u32, rec: &[&str; 19], st: &Styles) -> Result<(), XlsxError> {
    for (c, &text) in (0u16..).zip(rec.iter()) {
        let col = usize::from(c);
        if text.is_empty() {
            continue;
        }
        let amount = if FINDING_AMOUNTS.contains(&col) { Decimal::from_str(text).ok() } else { None };
        match amount {
            Some(v) => money(ws, row, c, v, &st.money)?,
            None if col >= 16 => {
                ws.text(row, c, text, &st.wrap)?;
            }
            None => {
                ws.text(row, c, text, &st.text)?;
            }
        }
    }
    Ok(())
}

/// How many findings fit in 差异明细 (the rest are in findings.csv).
fn shown_findings(total: usize) -> usize {
    total.min(max_finding_rows())
}

/// The most findings 差异明细 holds: [`MAX_FINDING_ROWS`], or fewer when the environment variable
/// `RECON_XLSX_MAX_FINDINGS` says so (the tests, which cannot make a million findings).
pub fn max_finding_rows() -> usize {
    crate::knobs::knobs().xlsx_max_findings.map_or(MAX_FINDING_ROWS, |n| n.min(MAX_FINDING_ROWS))
}

/// 汇总: the waterfall of each period (one column per period), then the categories with counts
/// and deltas per period, then the finding counts.
fn summary_sheet(ws: &mut Worksheet, ctx: &ReportCtx, st: &Styles) -> Result<(), XlsxError> {
    ws.set_name(SHEET_SUMMARY)?;
    let s = ctx.summary;
    let periods = &s.periods;
    let period_names: Vec<String> = periods.iter().map(|p| p.period.clone()).collect();
    let groups = period_names.len().max(s.bills.len());
    let n = u16::try_from(groups).map_err(|_| XlsxError::ParameterError("too many periods for one sheet".into()))?;

    ws.set_column_width(0, 4)?;
    ws.set_column_width(1, 36)?;
    for c in 0..n.saturating_mul(2).max(4) {
        ws.set_column_width(2 + c, 18)?;
    }

    let mut row = 0u32;
    ws.text(row, 0, "对账汇总 Reconciliation summary", &st.title)?;
    row += 1;
    ws.plain_text(row, 1, format!("激励政策 rules: {} {}", s.rules.name, s.rules.version))?;
    row += 1;
    ws.plain_text(row, 1, format!("对账期次 statement periods: {}", period_names.join(", ")))?;
    row += 2;

    // The waterfall, one column per period.
    ws.text(row, 0, "", &st.header)?;
    ws.text(row, 1, "瀑布 waterfall", &st.header)?;
    for (c, p) in (2u16..).zip(&period_names) {
        ws.text(row, c, p, &st.header)?;
    }
    row += 1;
    for (name, sign, zh) in WATERFALL {
        let closing = matches!(name, "expected_base" | "difference");
        let (tf, mf) = if closing { (&st.total_text, &st.total_money) } else { (&st.text, &st.money) };
        ws.text(row, 0, sign, tf)?;
        ws.text(row, 1, format!("{zh} {name}"), tf)?;
        for (c, p) in (2u16..).zip(periods) {
            let v = parse_amount(p.waterfall.step(name), &format!("periods[{}].waterfall.{name}", p.period))?;
            money(ws, row, c, v, mf)?;
        }
        row += 1;
    }
    // The verdict on each statement: confirm it, or file feedback on its disputes.
    ws.text(row, 1, "结论 verdict", &st.total_text)?;
    for (c, p) in (2u16..).zip(periods) {
        let verdict = match p.verdict.as_str() {
            "feedback" => format!("问题反馈 feedback: {} 项争议 disputes, {}", p.disputes.count, p.disputes.delta),
            "confirm" => "确认账单 confirm".to_string(),
            _ => String::new(),
        };
        ws.text(row, c, verdict, &st.wrap)?;
    }
    row += 1;
    row += 1;

    // The categories: a count and a delta per period.
    let cats: Vec<&Categories> = periods.iter().map(|p| &p.categories).collect();
    row = categories_table(ws, st, row, &period_names, &cats, &Category::ALL)?;

    // The partner bill of each cycle (when bills were reconciled), laid out the same way.
    let bills = &s.bills;
    if !bills.is_empty() {
        let cycles: Vec<String> = bills.iter().map(|b| b.bill_cycle.clone()).collect();
        ws.text(row, 0, "", &st.header)?;
        ws.text(row, 1, "伙伴账单 partner bill", &st.header)?;
        for (c, p) in (2u16..).zip(&cycles) {
            ws.text(row, c, p, &st.header)?;
        }
        row += 1;
        for (name, zh) in BILL_TOTALS {
            let (tf, mf) = if name == "difference" { (&st.total_text, &st.total_money) } else { (&st.text, &st.money) };
            ws.text(row, 0, "", tf)?;
            ws.text(row, 1, format!("{zh} {name}"), tf)?;
            for ((c, b), cycle) in (2u16..).zip(bills).zip(&cycles) {
                money(ws, row, c, parse_amount(b.total(name), &format!("bills[{cycle}].{name}"))?, mf)?;
            }
            row += 1;
        }
        ws.text(row, 1, "核对粒度 grain", &st.text)?;
        for (c, b) in (2u16..).zip(bills) {
            ws.text(row, c, b.grain.join(", "), &st.wrap)?;
        }
        row += 1;
        row += 1;
        let cats: Vec<&Categories> = bills.iter().map(|b| &b.categories).collect();
        row = categories_table(ws, st, row, &cycles, &cats, &Category::BILL)?;
    }

    // Finding counts per action.
    let f = &s.findings;
    header(ws, row, &["", "差异 findings", "数量 count"], st)?;
    row += 1;
    for (key, zh, n) in [("total", "合计", f.total), ("dispute", "争议", f.dispute), ("review", "复核", f.review), ("none", "无需处理", f.none)] {
        ws.text(row, 1, format!("{zh} {key}"), &st.text)?;
        count(ws, row, 2, n, &st.count)?;
        row += 1;
    }
    ws.text(row, 1, "拒收行 rejected rows", &st.text)?;
    count(ws, row, 2, s.rejected, &st.count)?;
    row += 1;
    let total = ctx.outcome.counts.total;
    let shown = shown_findings(total);
    if shown < total {
        row += 1;
        let note = format!("差异明细 shows the first {shown} of {total} findings (the Excel row limit); findings.csv has them all.");
        ws.text(row, 1, note, &st.section)?;
    }
    Ok(())
}

/// The partner bill totals of a cycle in summary.json, with their Chinese labels.
const BILL_TOTALS: [(&str, &str); 5] = [
    ("consumption_total", "代售客户消费"),
    ("bill_total", "伙伴账单合计"),
    ("difference", "差额（账单－消费）"),
    ("referral_consumption", "推荐客户消费（不入账单）"),
    ("unknown_association_consumption", "关联类型未知的消费"),
];

/// A table of categories from row `row`: one line per category present in any group (in the
/// order of `order`, then any other name), a count and a delta column per group, a total line.
/// Returns the row after the table and a blank line.
fn categories_table(ws: &mut Worksheet, st: &Styles, mut row: u32, groups: &[String], cats: &[&Categories], order: &[Category]) -> Result<u32, XlsxError> {
    let mut names: Vec<String> = order.iter().map(|c| c.name().to_string()).collect();
    for (k, _) in cats.iter().flat_map(|c| &c.0) {
        if !names.contains(k) {
            names.push(k.clone());
        }
    }
    names.retain(|k| cats.iter().any(|c| c.get(k).is_some()));
    ws.text(row, 0, "", &st.header)?;
    ws.text(row, 1, "类别 category", &st.header)?;
    for (i, g) in (0u16..).zip(groups) {
        ws.text(row, 2 + 2 * i, format!("{g} 数量 count"), &st.header)?;
        ws.text(row, 3 + 2 * i, format!("{g} 差额 delta"), &st.header)?;
    }
    row += 1;
    let mut sums: Vec<(u64, Decimal)> = vec![(0, Decimal::ZERO); cats.len()];
    for name in &names {
        ws.text(row, 1, category_label(name), &st.text)?;
        for (((i, c), g), sum) in (0u16..).zip(cats).zip(groups).zip(sums.iter_mut()) {
            let Some(cat) = c.get(name) else { continue };
            let k = cat.count;
            let d = parse_amount(&cat.delta, &format!("{g}: categories.{name}.delta"))?;
            count(ws, row, 2 + 2 * i, k, &st.count)?;
            money(ws, row, 3 + 2 * i, d, &st.money)?;
            sum.0 += k;
            sum.1 += d;
        }
        row += 1;
    }
    ws.text(row, 0, "", &st.total_text)?;
    ws.text(row, 1, "合计 total", &st.total_text)?;
    for (i, (k, d)) in (0u16..).zip(sums) {
        count(ws, row, 2 + 2 * i, k, &st.total_count)?;
        money(ws, row, 3 + 2 * i, d, &st.total_money)?;
    }
    Ok(row + 2)
}

/// 变化: what became of each finding since the previous report (changes.csv, in the order
/// [`crate::report::changes::shown_rows`] gives: resolved disputes first, then open ones by age).
fn changes_sheet(ws: &mut Worksheet, changes: &Path, st: &Styles, path: &Path) -> Result<(), ReportError> {
    let (rows, total) = crate::report::changes::shown_rows(changes, MAX_FINDING_ROWS)?;
    let e = xlsx_err(path);
    let go = |ws: &mut Worksheet| -> Result<(), XlsxError> {
        ws.set_name(SHEET_CHANGES)?;
        let names = ["差异编号 finding_id", "上次编号 previous_finding_id", "对账期次 period", "订单号/交易号 trade_id", "产品类型编码 service_type_code", "变化 change", "上次类别 previous_category", "上次处理 previous_action", "上次差额 previous_delta", "类别 category", "处理 action", "差额 delta", "首次期次 open_since", "持续期次 periods_open"];
        for (c, w) in (0u16..).zip([16, 16, 10, 20, 26, 10, 22, 10, 12, 22, 10, 12, 10, 10]) {
            ws.set_column_width(c, w)?;
        }
        header(ws, 0, &names, st)?;
        for (r, cells) in (1u32..).zip(&rows) {
            for (c, v) in (0u16..).zip(cells) {
                match c {
                    8 | 11 if !v.is_empty() => match Decimal::from_str(v) {
                        Ok(d) => money(ws, r, c, d, &st.money)?,
                        Err(_) => ws.text(r, c, v, &st.text).map(|_| ())?,
                    },
                    13 => count(ws, r, c, v.parse().unwrap_or(0), &st.count)?,
                    _ => ws.text(r, c, v, &st.text).map(|_| ())?,
                }
            }
        }
        if total > rows.len() {
            ws.text(rows.len() as u32 + 2, 0, format!("shows {} of {total} rows (the Excel row limit); changes.csv has them all", rows.len()), &st.section)?;
        }
        Ok(())
    };
    go(ws).map_err(e)
}

/// 输入: each input file with its hash, then the rules and the engine.
fn inputs_sheet(ws: &mut Worksheet, s: &Summary, st: &Styles) -> Result<(), XlsxError> {
    ws.set_name(SHEET_INPUTS)?;
    for (c, width) in (0u16..).zip([56, 14, 8, 10, 10, 10, 68]) {
        ws.set_column_width(c, width)?;
    }
    header(ws, 0, &["文件 path", "类型 kind", "格式 format", "行数 rows", "接受 accepted", "拒收 rejected", "SHA-256 sha256"], st)?;
    let mut row = 1u32;
    for i in &s.inputs {
        ws.text(row, 0, &i.path, &st.text)?;
        ws.text(row, 1, &i.kind, &st.text)?;
        ws.text(row, 2, &i.format, &st.text)?;
        count(ws, row, 3, i.rows, &st.count)?;
        count(ws, row, 4, i.accepted, &st.count)?;
        count(ws, row, 5, i.rejected, &st.count)?;
        ws.text(row, 6, &i.sha256, &st.text)?;
        row += 1;
    }
    row += 1;
    let rules = &s.rules;
    ws.text(row, 0, "激励政策 rules", &st.section)?;
    row += 1;
    for (key, zh, v) in [("name", "名称", &rules.name), ("version", "版本", &rules.version), ("path", "文件", &rules.path), ("sha256", "SHA-256", &rules.sha256)] {
        ws.text(row, 0, format!("{zh} {key}"), &st.text)?;
        ws.text(row, 1, v, &st.text)?;
        row += 1;
    }
    row += 1;
    ws.text(row, 0, "引擎 engine", &st.section)?;
    row += 1;
    for (key, zh, v) in [("name", "名称", &s.engine.name), ("version", "版本", &s.engine.version)] {
        ws.text(row, 0, format!("{zh} {key}"), &st.text)?;
        ws.text(row, 1, v, &st.text)?;
        row += 1;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{cell_text, MAX_CELL_TEXT};

    /// A text past the cell limit is cut at a character (never inside a UTF-16 pair) with the
    /// marker; one at the limit is whole.
    #[test]
    fn long_texts_are_cut_for_a_cell() {
        let at_limit = "a".repeat(MAX_CELL_TEXT);
        assert_eq!(cell_text(&at_limit), at_limit.as_str());
        let wide = "中".repeat(MAX_CELL_TEXT);
        assert_eq!(cell_text(&wide), wide.as_str(), "3 bytes, one unit each: whole");
        for long in ["x".repeat(MAX_CELL_TEXT + 1), "😀".repeat(MAX_CELL_TEXT), format!("{}{}", "b".repeat(40_000), "名".repeat(9))] {
            let cut = cell_text(&long);
            assert!(cut.encode_utf16().count() <= MAX_CELL_TEXT, "{}", cut.len());
            let (kept, marker) = cut.rsplit_once('…').expect("marker");
            let n: usize = marker.strip_prefix("[cut: ").and_then(|m| m.strip_suffix(" characters]")).and_then(|n| n.parse().ok()).expect("count");
            assert!(long.starts_with(kept));
            assert_eq!(kept.chars().count() + n, long.chars().count());
        }
    }
}
