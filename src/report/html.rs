//! `report.html`: one self-contained page (no network, no external assets).
//!
//! - The run header (rules, engine, inputs with sha256, counts per action, disputes), each
//!   statement period's waterfall as two inline SVG charts (consumption → expected base, and
//!   expected → actual incentive by category) and the category table are rendered here, as HTML,
//!   so they show without JavaScript and print as they are.
//! - The findings are embedded once as JSON in a `<script type="application/json">` block and
//!   drawn by a small vanilla script one page (200 rows) at a time, with search, filters, sorting
//!   and paging working on the array, so a run with 100,000 findings stays responsive. The state
//!   lives in the URL hash (`report.html#q=CS2609260001&period=2026-09&category=…&action=…`), so
//!   a link can open the page already filtered.
//!
//! Every text goes through [`esc`]; the JSON block escapes `<`, `>` and `&` as `\u003c`… so no
//! value can close the script element. Bar geometry is computed with `Decimal` (no floats). The
//! output is a pure function of the context: the same run writes the same bytes.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;

use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;
use serde_json::Value;

use super::{io_err, ReportCtx, ReportError, FINDINGS_HEADER};
use crate::engine::Action;
use crate::engine::Category;
use crate::model::fmt_money;

/// Rows drawn at a time by the findings table.
pub const PAGE_SIZE: usize = 200;

/// Escapes text for HTML content and quoted attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// JSON text safe inside `<script>`: `<`, `>` and `&` (which can only occur inside JSON strings)
/// become `\u003c`, `\u003e`, `\u0026`, so the text can never contain `</script>` or `<!--`.
pub fn script_json(json: &str) -> String {
    let mut out = String::with_capacity(json.len() + json.len() / 64);
    push_script_json(&mut out, json);
    out
}

/// [`script_json`] appended to `out` (escaping is per character: pieces escaped one by one
/// make the escaped whole).
fn push_script_json(out: &mut String, json: &str) {
    for c in json.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            _ => out.push(c),
        }
    }
}

/// Category names and Chinese labels: every incentive category, and the partner bill's when the
/// run checked one, in category order.
struct Labels(Vec<(&'static str, &'static str)>);

impl Labels {
    fn new(bills: bool) -> Labels {
        let bill: &[Category] = if bills { &Category::BILL } else { &[] };
        let set: BTreeSet<Category> = Category::ALL.into_iter().chain(bill.iter().copied()).collect();
        Labels(set.into_iter().map(|c| (c.name(), c.label_zh())).collect())
    }

    /// The Chinese label of a category name; empty when unknown.
    fn zh(&self, name: &str) -> &'static str {
        if let Some((_, zh)) = self.0.iter().find(|(n, _)| *n == name) {
            return zh;
        }
        match name {
            "BILL_MATCHED" => "账单一致",
            "BILL_ROUNDING" => "账单舍入差异",
            "BILL_AMOUNT_MISMATCH" => "账单金额不符",
            "BILL_MISSING_LINE" => "账单缺少消费",
            "BILL_EXTRA_LINE" => "账单多出条目",
            "BILL_NOT_RESALE" => "非代售客户入账",
            _ => "",
        }
    }
}

fn action_zh(name: &str) -> &'static str {
    match name {
        "dispute" => "争议",
        "review" => "待复核",
        "none" => "无需处理",
        _ => "",
    }
}

fn kind_zh(name: &str) -> &'static str {
    match name {
        "consumption" => "消费明细",
        "incentives" => "激励明细",
        "customers" => "客户",
        "bills" => "伙伴账单",
        _ => "",
    }
}

fn text<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or("")
}

/// A count or string field as text (numbers may be arbitrary-precision JSON numbers).
fn num(v: &Value, key: &str) -> String {
    match v.get(key) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

fn dec(s: &str) -> Decimal {
    s.trim().parse::<Decimal>().unwrap_or(Decimal::ZERO)
}

fn sign_class(d: Decimal) -> &'static str {
    if d < Decimal::ZERO {
        "neg"
    } else if d > Decimal::ZERO {
        "pos"
    } else {
        "zero"
    }
}

// ---------------------------------------------------------------------------------------------
// Charts

/// One row of a horizontal waterfall chart: a bar from `from` to `to`.
struct Bar {
    zh: String,
    en: String,
    /// `−`, `+`, `=` or empty, shown before the label.
    op: &'static str,
    value: String,
    from: Decimal,
    to: Decimal,
    class: &'static str,
    /// Draw a dashed connector from this bar's end to the next bar.
    link: bool,
    /// Draw a separator line above this row.
    rule_above: bool,
    /// Bars of one group share a scale.
    group: u8,
    title: String,
}

const CHART_W: i64 = 640;
const BAR_X: i64 = 222;
const BAR_W: i64 = 286;
const ROW_H: i64 = 36;
const TOP: i64 = 10;

/// `x` on a scale from `lo..hi` to `0..BAR_W` pixels, in exact decimal arithmetic.
fn px(x: Decimal, lo: Decimal, hi: Decimal) -> i64 {
    let range = hi - lo;
    if range <= Decimal::ZERO {
        return 0;
    }
    let w = Decimal::from(BAR_W);
    let off = x - lo;
    let scaled = off.checked_mul(w).and_then(|v| v.checked_div(range)).or_else(|| off.checked_div(range).and_then(|v| v.checked_mul(w)));
    scaled.and_then(|v| v.round().to_i64()).unwrap_or(0).clamp(0, BAR_W)
}

fn svg_chart(out: &mut String, id: &str, title: &str, bars: &[Bar]) {
    // Each group of bars has its own scale (incentive amounts are drawn apart from their
    // difference, which is much smaller).
    let mut scales: Vec<(u8, Decimal, Decimal)> = Vec::new();
    for b in bars {
        match scales.iter_mut().find(|s| s.0 == b.group) {
            Some(s) => {
                s.1 = s.1.min(b.from).min(b.to);
                s.2 = s.2.max(b.from).max(b.to);
            }
            None => scales.push((b.group, Decimal::ZERO.min(b.from).min(b.to), Decimal::ZERO.max(b.from).max(b.to))),
        }
    }
    let scale = |g: u8| scales.iter().find(|s| s.0 == g).map_or((Decimal::ZERO, Decimal::ZERO), |s| (s.1, s.2));
    let height = TOP * 2 + ROW_H * bars.len() as i64;
    let _ = write!(
        out,
        r#"<svg class="chart" id="{id}" viewBox="0 0 {CHART_W} {height}" width="{CHART_W}" height="{height}" role="img" aria-labelledby="{id}-t"><title id="{id}-t">{}</title>"#,
        esc(title)
    );
    for &(g, lo, hi) in &scales {
        if lo < Decimal::ZERO {
            let rows: Vec<i64> = bars.iter().enumerate().filter(|(_, b)| b.group == g).map(|(i, _)| i as i64).collect();
            let (first, last) = (rows.first().copied().unwrap_or(0), rows.last().copied().unwrap_or(0));
            let zero = BAR_X + px(Decimal::ZERO, lo, hi);
            let _ = write!(out, r#"<line class="axis" x1="{zero}" y1="{}" x2="{zero}" y2="{}"/>"#, TOP + ROW_H * first + 4, TOP + ROW_H * (last + 1) - 4);
        }
    }
    for (i, b) in bars.iter().enumerate() {
        let (lo, hi) = scale(b.group);
        let y = TOP + ROW_H * i as i64;
        if b.rule_above {
            let _ = write!(out, r#"<line class="sep" x1="4" y1="{y}" x2="{}" y2="{y}"/>"#, CHART_W - 4);
        }
        let a = BAR_X + px(b.from.min(b.to), lo, hi);
        let z = BAR_X + px(b.from.max(b.to), lo, hi);
        let mut w = z - a;
        if w == 0 && b.from != b.to {
            w = 1;
        }
        let _ = write!(out, r#"<g class="row {}"><title>{}</title>"#, b.class, esc(&b.title));
        let op = if b.op.is_empty() { String::new() } else { format!(r#"<tspan class="op">{}</tspan> "#, b.op) };
        let _ = write!(out, r#"<text class="zh" x="8" y="{}">{op}{}</text>"#, y + 16, esc(&b.zh));
        let _ = write!(out, r#"<text class="en" x="8" y="{}">{}</text>"#, y + 30, esc(&b.en));
        let _ = write!(out, r#"<rect class="bar" x="{a}" y="{}" width="{w}" height="20" rx="2"/>"#, y + 8);
        let _ = write!(out, r#"<text class="val" x="{}" y="{}">{}</text></g>"#, CHART_W - 8, y + 23, esc(&b.value));
        if b.link && i + 1 < bars.len() && bars[i + 1].group == b.group {
            let x = BAR_X + px(b.to, lo, hi);
            let _ = write!(out, r#"<line class="link" x1="{x}" y1="{}" x2="{x}" y2="{}"/>"#, y + 28, y + ROW_H + 8);
        }
    }
    out.push_str("</svg>");
}

struct Step {
    key: &'static str,
    zh: &'static str,
    en: &'static str,
}

const BASE_STEPS: [Step; 7] = [
    Step { key: "consumption_total", zh: "消费总额", en: "Consumption total" },
    Step { key: "ineligible_product", zh: "不参与激励的产品", en: "Ineligible products" },
    Step { key: "not_attributed", zh: "未归属伙伴", en: "Not attributed to the partner" },
    Step { key: "excluded_payment", zh: "不计入业绩的支付", en: "Excluded payment (vouchers…)" },
    Step { key: "rolled_out", zh: "转入后续期次", en: "Rolled out to a later period" },
    Step { key: "rolled_in", zh: "前期转入", en: "Rolled in from earlier cycles" },
    Step { key: "expected_base", zh: "应得激励基数", en: "Expected base" },
];

fn base_chart(out: &mut String, period: &str, wf: &Value) {
    let mut bars = Vec::new();
    let mut running = Decimal::ZERO;
    for (i, s) in BASE_STEPS.iter().enumerate() {
        let value = text(wf, s.key).to_string();
        let v = dec(&value);
        let (op, from, to, class) = match i {
            0 => ("", Decimal::ZERO, v, "total"),
            1..=4 => ("−", running, running - v, "dec"),
            5 => ("+", running, running + v, "inc"),
            _ => ("=", Decimal::ZERO, v, "result"),
        };
        running = to;
        let title = format!("{} {} {}: {}", s.zh, s.en, s.key, value);
        bars.push(Bar { zh: s.zh.into(), en: s.en.into(), op, value, from, to, class, link: i < 5, rule_above: i == 6, group: 0, title });
    }
    svg_chart(out, &format!("wf-base-{period}"), &format!("{period} 激励基数瀑布 Waterfall from consumption to expected base"), &bars);
}

/// Expected and actual incentive on one scale; below them, on a scale of its own, the difference
/// as a waterfall of the category deltas from zero to `difference`.
fn incentive_chart(out: &mut String, period: &str, wf: &Value, cats: Option<&serde_json::Map<String, Value>>, labels: &Labels) {
    let expected_s = text(wf, "expected_incentive").to_string();
    let actual_s = text(wf, "actual_incentive").to_string();
    let diff_s = text(wf, "difference").to_string();
    let (expected, actual, diff) = (dec(&expected_s), dec(&actual_s), dec(&diff_s));
    let mut bars = vec![
        Bar {
            zh: "应得激励".into(),
            en: "Expected incentive".into(),
            op: "",
            title: format!("应得激励 Expected incentive: {expected_s}"),
            value: expected_s,
            from: Decimal::ZERO,
            to: expected,
            class: "total",
            link: false,
            rule_above: false,
            group: 0,
        },
        Bar {
            zh: "实得激励".into(),
            en: "Actual incentive".into(),
            op: "",
            title: format!("实得激励 Actual incentive: {actual_s}"),
            value: actual_s,
            from: Decimal::ZERO,
            to: actual,
            class: "result",
            link: false,
            rule_above: false,
            group: 0,
        },
    ];
    let mut running = Decimal::ZERO;
    for (name, c) in cats.into_iter().flatten() {
        let delta_s = text(c, "delta").to_string();
        let d = dec(&delta_s);
        if d.is_zero() {
            continue;
        }
        let zh = labels.zh(name);
        bars.push(Bar {
            zh: zh.into(),
            en: name.clone(),
            op: if d < Decimal::ZERO { "−" } else { "+" },
            title: format!("{zh} {name}: {delta_s}"),
            value: delta_s,
            from: running,
            to: running + d,
            class: if d < Decimal::ZERO { "dec" } else { "inc" },
            link: true,
            rule_above: bars.len() == 2,
            group: 1,
        });
        running += d;
    }
    let first_diff = bars.len() == 2;
    bars.push(Bar {
        zh: "差额（实得 − 应得）".into(),
        en: "Difference (actual − expected)".into(),
        op: "=",
        title: format!("差额 Difference: {diff_s}"),
        value: diff_s,
        from: Decimal::ZERO,
        to: diff,
        class: if diff < Decimal::ZERO { "diff neg" } else { "diff pos" },
        link: false,
        rule_above: true,
        group: 1,
    });
    if first_diff {
        // no category moved the amount: the difference row follows the incentive rows directly
        if let Some(b) = bars.last_mut() {
            b.op = "";
        }
    }
    svg_chart(out, &format!("wf-inc-{period}"), &format!("{period} 应得与实得激励 Expected and actual incentive, difference by category"), &bars);
}

// ---------------------------------------------------------------------------------------------
// Page

/// Writes `report.html` to `path`.
pub fn write(path: &Path, ctx: &ReportCtx) -> Result<(), ReportError> {
    let mut file = std::io::BufWriter::new(std::fs::File::create(path).map_err(io_err(path))?);
    for piece in render(ctx)? {
        file.write_all(piece.as_bytes()).map_err(io_err(path))?;
    }
    file.flush().map_err(io_err(path))
}

/// The page, in pieces to be written one after the other (the findings' data is one of them,
/// not copied into the rest).
pub fn render(ctx: &ReportCtx) -> Result<Vec<String>, ReportError> {
    let s = ctx.summary;
    let rules_name = text(&s["rules"], "name");
    let rules_version = text(&s["rules"], "version");
    // (the findings' data is built apart, see findings_section)
    let mut out = String::with_capacity(256 * 1024);
    out.push_str("<!DOCTYPE html>\n<html lang=\"zh-CN\" class=\"no-js\">\n<head>\n<meta charset=\"utf-8\">\n");
    out.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    let _ = writeln!(out, "<title>激励对账报告 Incentive reconciliation · {} {}</title>", esc(rules_name), esc(rules_version));
    out.push_str("<style>\n");
    out.push_str(CSS);
    out.push_str("</style>\n</head>\n<body>\n");

    header(&mut out, ctx);
    let periods = s.get("periods").and_then(Value::as_array).cloned().unwrap_or_default();
    let has_bills = s.get("bills").and_then(Value::as_array).is_some_and(|b| !b.is_empty());
    nav(&mut out, &periods, has_bills);
    let labels = Labels::new(!ctx.outcome.bills.is_empty());
    for p in &periods {
        period_section(&mut out, p, &labels);
    }
    bills_section(&mut out, s, &labels);
    let data = findings_section(&mut out, ctx, &labels)?;
    let mut pieces = vec![std::mem::take(&mut out)];
    pieces.extend(data);
    out.push_str("</script>\n</section>\n");

    out.push_str("<footer><p>由 recon 生成；数值为精确小数，与 summary.json、findings.csv 一致。 Generated by recon; amounts are exact decimals, as in summary.json and findings.csv.</p></footer>\n");
    out.push_str("<script>\n");
    out.push_str(JS);
    out.push_str("</script>\n</body>\n</html>\n");
    pieces.push(out);
    Ok(pieces)
}

fn header(out: &mut String, ctx: &ReportCtx) {
    let s = ctx.summary;
    let rules = &s["rules"];
    let engine = &s["engine"];
    let f = &s["findings"];
    out.push_str("<header class=\"top\">\n");
    let _ = writeln!(out, "<h1>激励对账报告 <span class=\"en\">Incentive reconciliation report</span></h1>");
    out.push_str("<dl class=\"meta\">\n");
    let _ = writeln!(
        out,
        "<div><dt>规则 Rules</dt><dd>{} <b>{}</b><br><code class=\"hash\">sha256 {}</code></dd></div>",
        esc(text(rules, "name")),
        esc(text(rules, "version")),
        esc(text(rules, "sha256"))
    );
    let _ = writeln!(out, "<div><dt>引擎 Engine</dt><dd>{} {}</dd></div>", esc(text(engine, "name")), esc(text(engine, "version")));
    let scope: Vec<String> = s.get("scope").and_then(Value::as_array).map(|a| a.iter().filter_map(Value::as_str).map(esc).collect()).unwrap_or_default();
    let _ = writeln!(out, "<div><dt>对账期次 Statement periods</dt><dd>{}</dd></div>", if scope.is_empty() { "—".to_string() } else { scope.join(", ") });
    let _ = writeln!(out, "<div><dt>币种 Currency</dt><dd>{}</dd></div>", esc(&ctx.rules.currency));
    out.push_str("</dl>\n");

    let dispute_total: Decimal = ctx.disputes.iter().map(|d| d.delta).sum();
    out.push_str("<div class=\"cards\">\n");
    let card = |out: &mut String, class: &str, zh: &str, en: &str, n: String, note: String| {
        let _ = writeln!(out, "<div class=\"card {class}\"><div class=\"n\">{}</div><div class=\"l\">{zh}<br><span class=\"en\">{en}</span>{note}</div></div>", esc(&n));
    };
    card(out, "total", "差异总数", "Findings", num(f, "total"), String::new());
    card(out, "act-dispute", "争议", "Action: dispute", num(f, "dispute"), String::new());
    card(out, "act-review", "待复核", "Action: review", num(f, "review"), String::new());
    card(out, "act-none", "无需处理", "Action: none", num(f, "none"), String::new());
    card(
        out,
        "disputes",
        "问题反馈",
        "Disputes to raise",
        ctx.disputes.len().to_string(),
        format!("<br><span class=\"note\">差额合计 total {}</span>", esc(&fmt_money(dispute_total))),
    );
    card(out, "rejected", "拒绝行", "Rejected rows", num(s, "rejected"), "<br><span class=\"note\">rejected.csv</span>".to_string());
    out.push_str("</div>\n");

    out.push_str("<h2 class=\"sub\">输入文件 <span class=\"en\">Inputs</span></h2>\n<div class=\"tablewrap\"><table class=\"inputs\">\n");
    out.push_str("<thead><tr><th>类型 Kind</th><th>文件 File</th><th>格式 Format</th><th class=\"num\">行数 Rows</th><th class=\"num\">接受 Accepted</th><th class=\"num\">拒绝 Rejected</th><th>SHA-256</th></tr></thead>\n<tbody>\n");
    for i in s.get("inputs").and_then(Value::as_array).into_iter().flatten() {
        let kind = text(i, "kind");
        let rejected = num(i, "rejected");
        let _ = writeln!(
            out,
            "<tr><td>{} <span class=\"en\">{}</span></td><td class=\"path\">{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num{}\">{}</td><td><code class=\"hash\">{}</code></td></tr>",
            kind_zh(kind),
            esc(kind),
            esc(text(i, "path")),
            esc(text(i, "format")),
            esc(&num(i, "rows")),
            esc(&num(i, "accepted")),
            if rejected != "0" && !rejected.is_empty() { " warn" } else { "" },
            esc(&rejected),
            esc(text(i, "sha256"))
        );
    }
    out.push_str("</tbody></table></div>\n</header>\n");
}

fn nav(out: &mut String, periods: &[Value], has_bills: bool) {
    out.push_str("<nav class=\"toc\"><span>跳转 Go to:</span>");
    for p in periods {
        let period = esc(text(p, "period"));
        let _ = write!(out, " <a href=\"#p-{period}\">{period}</a>");
    }
    if has_bills {
        out.push_str(" <a href=\"#bills\">伙伴账单 Partner bill</a>");
    }
    out.push_str(" <a href=\"#findings\">差异明细 Findings</a></nav>\n");
}

fn period_section(out: &mut String, p: &Value, labels: &Labels) {
    let period = text(p, "period");
    let pe = esc(period);
    let wf = &p["waterfall"];
    let diff = text(wf, "difference");
    let _ = writeln!(
        out,
        "<section class=\"period\" id=\"p-{pe}\">\n<h2>对账期次 <span class=\"en\">Statement period</span> {pe} <span class=\"headline {}\">差额 Difference {}</span></h2>",
        sign_class(dec(diff)),
        esc(diff)
    );
    out.push_str("<div class=\"charts\">\n<figure>\n<figcaption>消费 → 应得激励基数 <span class=\"en\">Consumption → expected base</span></figcaption>\n");
    base_chart(out, period, wf);
    out.push_str("\n</figure>\n<figure>\n<figcaption>应得与实得激励，差额按类别 <span class=\"en\">Expected and actual incentive; the difference by category</span></figcaption>\n");
    let cats = p.get("categories").and_then(Value::as_object);
    incentive_chart(out, period, wf, cats, labels);
    out.push_str("\n<p class=\"hint\">按类别的差额另用独立比例绘制。 <span class=\"en\">The difference rows use a scale of their own.</span></p>\n</figure>\n</div>\n");

    let _ = writeln!(out, "<h3>差异类别 <span class=\"en\">Categories</span> {pe}</h3>");
    out.push_str("<div class=\"tablewrap\"><table class=\"cats\">\n<thead><tr><th>类别 Category</th><th>中文 Label</th><th class=\"num\">数量 Count</th><th class=\"num\">差额 Delta</th><th class=\"noprint\"></th></tr></thead>\n<tbody>\n");
    let mut count_total: u64 = 0;
    let mut delta_total = Decimal::ZERO;
    for (name, c) in cats.into_iter().flatten() {
        let count = num(c, "count");
        count_total += count.parse::<u64>().unwrap_or(0);
        let delta = text(c, "delta");
        let d = dec(delta);
        delta_total += d;
        let ne = esc(name);
        let _ = writeln!(
            out,
            "<tr><td><code>{ne}</code></td><td>{}</td><td class=\"num\">{}</td><td class=\"num {}\">{}</td><td class=\"noprint\"><a class=\"show\" href=\"#period={pe}&amp;category={ne}\">查看 show</a></td></tr>",
            labels.zh(name),
            esc(&count),
            sign_class(d),
            esc(delta),
        );
    }
    let _ = writeln!(
        out,
        "</tbody>\n<tfoot><tr><th>合计 Total</th><th></th><th class=\"num\">{count_total}</th><th class=\"num {}\">{}</th><th class=\"noprint\"></th></tr></tfoot>\n</table></div>",
        sign_class(delta_total),
        esc(&fmt_money(delta_total))
    );
    out.push_str("<p class=\"hint\">数量计在差异所在期次；跨期差异的差额按双方所在期次拆分，类别差额之和等于该期差额。 Counts are at each finding's period; a PERIOD_SHIFT's delta is split by where each side lies, so the deltas add up to the period's difference.</p>\n");
    out.push_str("</section>\n");
}

fn bills_section(out: &mut String, s: &Value, labels: &Labels) {
    let Some(bills) = s.get("bills").and_then(Value::as_array).filter(|b| !b.is_empty()) else {
        return;
    };
    out.push_str("<section class=\"bills\" id=\"bills\">\n<h2>伙伴账单核对 <span class=\"en\">Partner bill</span></h2>\n");
    const FIGURES: [(&str, &str, &str); 5] = [
        ("consumption_total", "代售客户消费", "Resale customers' consumption"),
        ("bill_total", "账单金额", "Bill total"),
        ("difference", "差额（账单 − 消费）", "Difference (bill − consumption)"),
        ("referral_consumption", "推荐客户消费（不入账单）", "Referral customers' consumption (not billed)"),
        ("unknown_association_consumption", "关联类型未知的消费", "Consumption of unknown association"),
    ];
    for b in bills {
        let cycle = esc(text(b, "bill_cycle"));
        let diff = text(b, "difference");
        let _ = writeln!(
            out,
            "<h3>账期 <span class=\"en\">Bill cycle</span> {cycle} <span class=\"headline {}\">差额 Difference {}</span></h3>",
            sign_class(dec(diff)),
            esc(diff)
        );
        out.push_str("<div class=\"bill-grid\"><table class=\"cats\"><tbody>\n");
        for (key, zh, en) in FIGURES {
            if let Some(v) = b.get(key).and_then(Value::as_str) {
                let _ = writeln!(out, "<tr><th>{zh} <span class=\"en\">{en}</span></th><td class=\"num\">{}</td></tr>", esc(v));
            }
        }
        if let Some(grain) = b.get("grain").and_then(Value::as_array) {
            let g: Vec<String> = grain.iter().filter_map(Value::as_str).map(esc).collect();
            let _ = writeln!(out, "<tr><th>核对粒度 <span class=\"en\">Matched on</span></th><td><code>{}</code></td></tr>", g.join(", "));
        }
        out.push_str("</tbody></table>\n");
        out.push_str("<table class=\"cats\"><thead><tr><th>类别 Category</th><th>中文 Label</th><th class=\"num\">数量 Count</th><th class=\"num\">差额 Delta</th><th class=\"noprint\"></th></tr></thead><tbody>\n");
        for (name, c) in b.get("categories").and_then(Value::as_object).into_iter().flatten() {
            let ne = esc(name);
            let delta = text(c, "delta");
            let _ = writeln!(
                out,
                "<tr><td><code>{ne}</code></td><td>{}</td><td class=\"num\">{}</td><td class=\"num {}\">{}</td><td class=\"noprint\"><a class=\"show\" href=\"#period={cycle}&amp;category={ne}\">查看 show</a></td></tr>",
                labels.zh(name),
                esc(&num(c, "count")),
                sign_class(dec(delta)),
                esc(delta)
            );
        }
        out.push_str("</tbody></table></div>\n");
    }
    out.push_str("</section>\n");
}

/// The findings' data is built in pieces of about this many bytes.
const DATA_PIECE: usize = 4 << 20;

/// Writes the findings section into `out` up to its data (inside a script element left open),
/// which it returns in pieces.
fn findings_section(out: &mut String, ctx: &ReportCtx, labels: &Labels) -> Result<Vec<String>, ReportError> {
    // The findings the page embeds (see [`Embed`]), read in file order; the reading stops once
    // only actionable ones could be taken and all of those are in.
    let total = ctx.outcome.counts.total;
    let actionable = ctx.outcome.count(Action::Dispute) + ctx.outcome.count(Action::Review);
    let mut embed = Embed::new(total, actionable, max_embedded());
    // They go into the page as one JSON object, {"columns": [...], "rows": [[...], ...]}, escaped
    // for a script element as it is built, in pieces of about DATA_PIECE bytes (one string would
    // be copied each time it grew).
    let mut data = Vec::new();
    let mut piece = String::from("{\"columns\":");
    push_script_json(&mut piece, &serde_json::to_string(&FINDINGS_HEADER).unwrap_or_default());
    piece.push_str(",\"rows\":[");
    let (mut shown, mut actionable_seen, mut none_shown) = (0usize, 0, 0);
    let mut periods: BTreeSet<String> = BTreeSet::new();
    ctx.each_record(&mut |rec| {
        let needs_action = rec.bytes(3) != Action::None.name().as_bytes();
        actionable_seen += usize::from(needs_action);
        if embed.wants(needs_action) {
            let rec = rec.texts()?;
            none_shown += usize::from(!needs_action);
            if piece.len() >= DATA_PIECE {
                data.push(std::mem::replace(&mut piece, String::with_capacity(DATA_PIECE + (DATA_PIECE >> 3))));
            }
            if shown > 0 {
                piece.push(',');
            }
            shown += 1;
            if !periods.contains(rec[1]) {
                periods.insert(rec[1].to_string());
            }
            push_script_json(&mut piece, &serde_json::to_string(&rec).unwrap_or_default());
        }
        Ok(!(embed.full() && actionable_seen == actionable))
    })?;
    piece.push_str("]}");
    data.push(piece);
    out.push_str("<section class=\"findings\" id=\"findings\">\n<h2>差异明细 <span class=\"en\">Findings</span></h2>\n");
    out.push_str("<div class=\"controls\" role=\"search\">\n");
    out.push_str("<label class=\"q\">搜索 Search <input id=\"q\" type=\"search\" placeholder=\"编号、订单号、客户、产品、说明 · id, order, customer, service, explanation\" autocomplete=\"off\"></label>\n");
    out.push_str("<label>期次 Period <select id=\"f-period\"><option value=\"\">全部 All</option>");
    for p in &periods {
        let pe = esc(p);
        let _ = write!(out, "<option value=\"{pe}\">{pe}</option>");
    }
    out.push_str("</select></label>\n<label>类别 Category <select id=\"f-category\"><option value=\"\">全部 All</option>");
    for (name, zh) in &labels.0 {
        let _ = write!(out, "<option value=\"{name}\">{zh} {name}</option>");
    }
    out.push_str("</select></label>\n<label>处理 Action <select id=\"f-action\"><option value=\"\">全部 All</option>");
    for a in ["dispute", "review", "none"] {
        let _ = write!(out, "<option value=\"{a}\">{} {a}</option>", action_zh(a));
    }
    out.push_str("</select></label>\n<button type=\"button\" id=\"reset\">清除 Clear</button>\n</div>\n");
    out.push_str("<div class=\"pager\" id=\"pager-top\"></div>\n");
    out.push_str("<p class=\"status\" id=\"status\" aria-live=\"polite\"></p>\n");
    out.push_str("<div class=\"tablewrap\"><table class=\"findings\" id=\"ft\">\n<thead><tr>");
    let heads: [(&str, &str, &str, &str); 10] = [
        ("finding_id", "编号", "ID", "str"),
        ("period", "期次", "Period", "str"),
        ("category", "类别", "Category", "str"),
        ("action", "处理", "Action", "str"),
        ("customer_name", "客户", "Customer", "str"),
        ("trade_id", "订单号/交易号", "Order", "str"),
        ("service_type_code", "产品", "Service", "str"),
        ("expected_incentive", "应得激励", "Expected", "dec"),
        ("actual_incentive", "实得激励", "Actual", "dec"),
        ("delta", "差额", "Delta", "dec"),
    ];
    for (col, zh, en, ty) in heads {
        let num_class = if ty == "dec" { " num" } else { "" };
        let _ = write!(out, "<th class=\"sortable c-{col}{num_class}\" data-col=\"{col}\" data-type=\"{ty}\" tabindex=\"0\">{zh}<br><span class=\"en\">{en}</span></th>");
    }
    out.push_str("</tr></thead>\n<tbody id=\"ft-body\"></tbody>\n</table></div>\n");
    out.push_str("<p class=\"hint noprint\">每条差异下方为说明；点击一行查看来源行与规则。 <span class=\"en\">The explanation is under each finding; click a row for its source rows and rules.</span></p>\n");
    out.push_str("<div class=\"pager\" id=\"pager-bottom\"></div>\n");
    let _ = writeln!(
        out,
        "<noscript><p class=\"noscript\">差异明细表需要 JavaScript；全部 {n} 条差异见 findings.csv，上方汇总不受影响。 The findings table needs JavaScript; all {n} findings are in findings.csv. The summary above is complete without it.</p></noscript>",
        n = ctx.outcome.counts.total
    );

    if shown < total {
        let _ = writeln!(
            out,
            "<p class=\"notice\">本页内含 {s} / {n} 条差异：全部争议与待复核项，以及前 {k} 条无需处理项；全部差异见 findings.csv。 <span class=\"en\">This page holds {s} of {n} findings: every dispute and review finding and the first {k} that need no action; findings.csv has them all.</span></p>",
            s = shown,
            n = total,
            k = none_shown
        );
    }
    let zh: serde_json::Map<String, Value> = labels.0.iter().map(|(n, z)| (n.to_string(), Value::String(z.to_string()))).collect();
    let _ = writeln!(out, "<script type=\"application/json\" id=\"category-zh\">{}</script>", script_json(&Value::Object(zh).to_string()));
    let _ = write!(out, "<script type=\"application/json\" id=\"findings-data\" data-page-size=\"{PAGE_SIZE}\">");
    Ok(data)
}

/// The most findings embedded in the page. Beyond it (a page of ~400 MB at a million findings
/// is no longer usable in a browser), the page keeps every finding that needs action and the
/// first of the others, and says so; findings.csv always has them all.
pub const MAX_EMBEDDED: usize = 200_000;

/// [`MAX_EMBEDDED`], or fewer when the environment variable `RECON_HTML_MAX_FINDINGS` says so
/// (the tests, which cannot make 200,000 findings quickly).
pub fn max_embedded() -> usize {
    crate::knobs::knobs().html_max_findings.map_or(MAX_EMBEDDED, |n| n.min(MAX_EMBEDDED))
}

/// Chooses, a finding at a time in file order, which findings the page embeds: all of them when
/// there are at most `cap`, else every one that needs action and the first of the others while
/// room is left.
pub struct Embed {
    all: bool,
    room: usize,
}

impl Embed {
    /// For a run of `total` findings, `actionable` of which need action.
    pub fn new(total: usize, actionable: usize, cap: usize) -> Embed {
        Embed { all: total <= cap, room: cap.saturating_sub(actionable) }
    }

    pub fn wants(&mut self, needs_action: bool) -> bool {
        if self.all || needs_action {
            return true;
        }
        let take = self.room > 0;
        self.room = self.room.saturating_sub(1);
        take
    }

    /// Whether only findings that need action can still be taken.
    pub fn full(&self) -> bool {
        !self.all && self.room == 0
    }
}

/// The positions [`Embed`] takes from `actions` (of a run of `total` findings, every actionable
/// one among them).
#[cfg(test)]
pub(crate) fn embedded(actions: &[Action], total: usize, cap: usize) -> Vec<usize> {
    let mut e = Embed::new(total, actions.iter().filter(|&&a| a != Action::None).count(), cap);
    (0..actions.len()).filter(|&i| e.wants(actions[i] != Action::None)).collect()
}

const CSS: &str = r#":root{--ink:#1d2733;--muted:#5f6b7a;--line:#d9dee5;--bg:#f5f7fa;--card:#fff;--blue:#2f5597;--slate:#6b8cc2;--red:#c0392b;--redbar:#e08e7b;--green:#2e8b57;--greenbar:#79bf93;--amber:#b7791f;
--font:system-ui,-apple-system,"Segoe UI","PingFang SC","Hiragino Sans GB","Microsoft YaHei","Noto Sans CJK SC","Noto Sans SC","WenQuanYi Micro Hei",sans-serif}
*{box-sizing:border-box}
html{font-family:var(--font);color:var(--ink);background:var(--bg);font-size:14px;line-height:1.45}
body{margin:0 auto;max-width:1400px;padding:16px 24px 40px}
h1{font-size:1.7rem;margin:.2rem 0 .6rem}
h2{font-size:1.3rem;margin:0 0 .8rem}
h2.sub{font-size:1.05rem;margin:1rem 0 .4rem}
h3{font-size:1.05rem;margin:1rem 0 .4rem}
.en{color:var(--muted);font-weight:normal}
h1 .en,h2 .en{font-size:.8em}
code,.hash,.mono{font-family:ui-monospace,"SFMono-Regular",Menlo,Consolas,"Liberation Mono",monospace;font-size:.86em}
.hash{color:var(--muted);overflow-wrap:anywhere;word-break:break-all}
header.top,section{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:16px 20px;margin:0 0 16px}
.meta{display:grid;grid-template-columns:repeat(auto-fit,minmax(220px,1fr));gap:6px 24px;margin:0 0 12px}
.meta div{min-width:0}.meta dt{color:var(--muted);font-size:.85rem}.meta dd{margin:0;overflow-wrap:anywhere}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(150px,1fr));gap:10px;margin:8px 0}
.card{border:1px solid var(--line);border-left:5px solid var(--slate);border-radius:6px;padding:8px 12px;background:#fbfcfd}
.card .n{font-size:1.6rem;font-weight:600;font-variant-numeric:tabular-nums}
.card .l{font-size:.9rem}.card .note{color:var(--muted);font-size:.8rem}
.card.act-dispute{border-left-color:var(--red)}.card.act-review{border-left-color:var(--amber)}.card.act-none{border-left-color:#9aa5b1}
.card.disputes{border-left-color:var(--red)}.card.rejected{border-left-color:var(--amber)}
.toc{margin:0 0 16px;font-size:.95rem}.toc a{margin-left:.6em;color:var(--blue)}
.tablewrap{overflow-x:auto}
table{border-collapse:collapse;width:100%;font-variant-numeric:tabular-nums}
th,td{border-bottom:1px solid var(--line);padding:5px 8px;text-align:left;vertical-align:top}
thead th{background:#eef2f7;font-size:.85rem;white-space:nowrap}
tfoot th{border-top:2px solid var(--ink)}
.num{text-align:right;white-space:nowrap}
td.neg,.neg{color:var(--red)}td.pos{color:var(--green)}
td.warn{color:var(--amber);font-weight:600}
td.path{overflow-wrap:anywhere}
table.inputs td:last-child{min-width:16em}
table.cats{width:auto;min-width:min(100%,640px)}
.bill-grid{display:flex;flex-wrap:wrap;gap:8px 32px;align-items:flex-start}.bill-grid table.cats{min-width:min(100%,480px)}
h3 .headline{font-size:.85rem}
.headline{font-size:.95rem;font-weight:600;margin-left:.8em;padding:2px 10px;border-radius:12px;background:#eef2f7;white-space:nowrap}
.headline.neg{background:#fbe9e7;color:var(--red)}.headline.pos{background:#e6f4ec;color:var(--green)}
.charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(520px,1fr));gap:16px}
figure{margin:0;min-width:0}
figcaption{font-weight:600;margin:0 0 4px}
svg.chart{width:100%;height:auto;max-width:760px;display:block;font-family:var(--font)}
svg .zh{font-size:13px;fill:var(--ink)}svg .en{font-size:11px;fill:var(--muted)}
svg .op{font-weight:700;fill:var(--muted)}
svg .val{font-size:13px;text-anchor:end;fill:var(--ink);font-variant-numeric:tabular-nums}
svg .total .bar{fill:var(--slate)}svg .dec .bar{fill:var(--redbar)}svg .inc .bar{fill:var(--greenbar)}
svg .result .bar{fill:var(--blue)}svg .result .val{font-weight:700}
svg .diff.neg .bar{fill:var(--red)}svg .diff.pos .bar{fill:var(--green)}
svg .diff.neg .val{fill:var(--red);font-weight:700}svg .diff.pos .val{fill:var(--green);font-weight:700}
svg .link{stroke:#8a96a3;stroke-dasharray:3 3;stroke-width:1}
svg .sep,svg .axis{stroke:var(--line);stroke-width:1}
.hint{color:var(--muted);font-size:.85rem;margin:.4rem 0 0}
.controls{display:flex;flex-wrap:wrap;gap:8px 16px;align-items:flex-end;margin:0 0 8px}
.controls label{display:flex;flex-direction:column;font-size:.85rem;color:var(--muted);gap:2px}
.controls label.q{flex:1 1 320px}
.controls input,.controls select,.controls button,.pager button,.pager select{font:inherit;color:var(--ink);padding:5px 8px;border:1px solid #b8c1cc;border-radius:5px;background:#fff}
.controls button,.pager button{cursor:pointer}
.pager{display:flex;gap:6px;align-items:center;flex-wrap:wrap;margin:6px 0}
.pager button[disabled]{opacity:.4;cursor:default}
.status{margin:4px 0;color:var(--muted)}
.no-js .controls,.no-js .pager,.no-js .status{display:none}
table.findings td{font-size:.9rem}
table.findings tbody tr{cursor:pointer}
table.findings tbody tr.hover,table.findings tbody tr.main:hover,table.findings tbody tr.main:hover+tr.ex{background:#f3f7fc}
table.findings th.sortable{cursor:pointer}
table.findings th[aria-sort=ascending]::after{content:" ▲"}table.findings th[aria-sort=descending]::after{content:" ▼"}
table.findings td.id{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:.82rem;white-space:nowrap}
table.findings td{border-bottom:none}
table.findings tr.ex td{border-bottom:1px solid var(--line);padding:0 8px 7px 2.2em;font-size:.86rem;color:#34404d}
table.findings tr.ex .en{display:block;font-size:.95em}
table.findings tr.main td{padding-top:7px}
table.findings .c-finding_id{width:9em}table.findings td.per{white-space:nowrap}table.findings .c-customer_name{min-width:13em}table.findings .c-category{min-width:10.5em}
table.findings td.cust .small{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:.72rem}
.badge{display:inline-block;padding:0 7px;border-radius:10px;font-size:.8rem;white-space:nowrap;border:1px solid transparent}
.badge.dispute{background:#fbe9e7;color:var(--red);border-color:#f1b9b0}.badge.review{background:#fdf3e1;color:var(--amber);border-color:#efd39c}.badge.none{background:#eef1f4;color:var(--muted)}
tr.detail td{background:#f8fafc;cursor:auto}
tr.detail dl{display:grid;grid-template-columns:max-content 1fr;gap:2px 14px;margin:4px 0}
tr.detail dt{color:var(--muted)}tr.detail dd{margin:0;overflow-wrap:anywhere}
.small{font-size:.8rem;color:var(--muted);overflow-wrap:anywhere}
.noscript{padding:8px 12px;background:#fdf3e1;border-radius:6px}
.notice{background:#fff8e6;border:1px solid #f0d49a;border-radius:6px;padding:8px 12px}
footer{color:var(--muted);font-size:.8rem;text-align:center}
@media print{
 @page{size:A4;margin:12mm}
 html{background:#fff;font-size:10pt}
 body{max-width:none;padding:0}
 *{-webkit-print-color-adjust:exact;print-color-adjust:exact}
 header.top,section{border:none;padding:0;margin:0 0 10mm;border-radius:0}
 .controls,.pager,.toc,.noprint,#reset,noscript{display:none!important}
 .tablewrap{overflow:visible!important}
 table{table-layout:auto;width:100%}
 table.cats{width:auto}
 th,td{overflow-wrap:break-word;white-space:normal!important}
 td.num,th.num{white-space:nowrap!important}
 thead{display:table-header-group}
 tr{break-inside:avoid}
 .charts{display:block}
 figure{break-inside:avoid;margin:0 0 4mm}
 svg.chart{max-width:160mm}
 section.period{break-before:page}
 table.findings tbody tr{cursor:auto}
 table.findings{font-size:8pt}
 table.findings th,table.findings td{padding:3px 4px}
 table.findings .c-customer_name,table.findings .c-category{min-width:0}
 table.findings td.id,table.findings td.per{white-space:nowrap!important}
 .tog{display:none}
 table.findings td.svc,table.findings td.cust{overflow-wrap:anywhere}
 .badge{white-space:normal}
 .small{overflow-wrap:anywhere}
 table.inputs{font-size:8.5pt}
 table.inputs td:last-child{min-width:0;width:32%}
 table.inputs td.path{width:34%}
 a{color:inherit;text-decoration:none}
}
"#;

const JS: &str = r#"(function () {
  'use strict';
  var d = document;
  d.documentElement.className = 'js';
  var dataEl = d.getElementById('findings-data');
  var data = JSON.parse(dataEl.textContent);
  var catZh = JSON.parse(d.getElementById('category-zh').textContent);
  var C = {};
  data.columns.forEach(function (c, i) { C[c] = i; });
  var rows = data.rows;
  var PAGE_SIZES = [50, 200, 1000];
  var ACTION_ZH = { dispute: '争议', review: '待复核', none: '无需处理' };
  var st = { q: '', period: '', category: '', action: '', page: 1, size: Number(dataEl.getAttribute('data-page-size')) || 200, sort: '', desc: false };
  var hay = null;
  var view = [];
  var open = {};
  var body = d.getElementById('ft-body');
  var qEl = d.getElementById('q');
  var sel = { period: d.getElementById('f-period'), category: d.getElementById('f-category'), action: d.getElementById('f-action') };
  var statusEl = d.getElementById('status');

  function esc(s) {
    return String(s).replace(/[&<>"']/g, function (c) {
      return { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c];
    });
  }
  // Exact comparison of decimal strings ("-12.50", "3", ""): no floating point.
  function cmpAbs(a, b) {
    var pa = a.split('.'), pb = b.split('.');
    var ia = pa[0].replace(/^0+(?=\d)/, ''), ib = pb[0].replace(/^0+(?=\d)/, '');
    if (ia.length !== ib.length) return ia.length < ib.length ? -1 : 1;
    if (ia !== ib) return ia < ib ? -1 : 1;
    var fa = pa[1] || '', fb = pb[1] || '', n = Math.max(fa.length, fb.length);
    fa = fa + '0'.repeat(n - fa.length); fb = fb + '0'.repeat(n - fb.length);
    return fa < fb ? -1 : fa > fb ? 1 : 0;
  }
  function cmpDec(a, b) {
    if (a === b) return 0;
    if (a === '') return -1;
    if (b === '') return 1;
    var na = a.charAt(0) === '-', nb = b.charAt(0) === '-';
    if (na !== nb) return na ? -1 : 1;
    var r = cmpAbs(na ? a.slice(1) : a, nb ? b.slice(1) : b);
    return na ? -r : r;
  }
  function cmpStr(a, b) { return a < b ? -1 : a > b ? 1 : 0; }

  function readHash() {
    var h = location.hash.replace(/^#/, '');
    var src = h.indexOf('=') >= 0 ? h : location.search.replace(/^\?/, '');
    if (src.indexOf('=') < 0) return false;
    var p = new URLSearchParams(src);
    st.q = p.get('q') || '';
    st.period = p.get('period') || '';
    st.category = p.get('category') || '';
    st.action = p.get('action') || '';
    st.page = Math.max(1, parseInt(p.get('page') || '1', 10) || 1);
    var size = parseInt(p.get('size') || '', 10);
    if (PAGE_SIZES.indexOf(size) >= 0) st.size = size;
    st.sort = p.get('sort') || '';
    st.desc = p.get('desc') === '1';
    if (st.sort && !(st.sort in C)) st.sort = '';
    return true;
  }
  function writeHash() {
    var p = new URLSearchParams();
    if (st.q) p.set('q', st.q);
    ['period', 'category', 'action'].forEach(function (k) { if (st[k]) p.set(k, st[k]); });
    if (st.sort) { p.set('sort', st.sort); if (st.desc) p.set('desc', '1'); }
    if (st.size !== 200) p.set('size', String(st.size));
    if (st.page > 1) p.set('page', String(st.page));
    var h = p.toString();
    try { history.replaceState(null, '', h ? '#' + h : location.pathname + location.search); } catch (e) { /* file: URLs in some browsers */ }
  }
  function syncControls() {
    qEl.value = st.q;
    ['period', 'category', 'action'].forEach(function (k) {
      var s = sel[k];
      if (st[k] && !Array.prototype.some.call(s.options, function (o) { return o.value === st[k]; })) st[k] = '';
      s.value = st[k];
    });
    Array.prototype.forEach.call(d.querySelectorAll('#ft th.sortable'), function (th) {
      var c = th.getAttribute('data-col');
      if (c === st.sort) th.setAttribute('aria-sort', st.desc ? 'descending' : 'ascending'); else th.removeAttribute('aria-sort');
    });
  }

  function filter() {
    var terms = st.q.toLowerCase().split(/\s+/).filter(Boolean);
    if (terms.length && !hay) {
      hay = rows.map(function (r) {
        return [r[C.finding_id], r[C.trade_id], r[C.customer_id], r[C.customer_name], r[C.service_type_code], r[C.explanation]].join('\u0001').toLowerCase();
      });
    }
    var ip = C.period, ic = C.category, ia = C.action;
    view = [];
    for (var i = 0; i < rows.length; i++) {
      var r = rows[i];
      if (st.period && r[ip] !== st.period) continue;
      if (st.category && r[ic] !== st.category) continue;
      if (st.action && r[ia] !== st.action) continue;
      if (terms.length) {
        var h = hay[i], ok = true;
        for (var t = 0; t < terms.length; t++) { if (h.indexOf(terms[t]) < 0) { ok = false; break; } }
        if (!ok) continue;
      }
      view.push(i);
    }
    if (st.sort) {
      var col = C[st.sort];
      var th = d.querySelector('#ft th[data-col="' + st.sort + '"]');
      var cmp = th && th.getAttribute('data-type') === 'dec' ? cmpDec : cmpStr;
      var sign = st.desc ? -1 : 1;
      view.sort(function (a, b) { return sign * cmp(rows[a][col], rows[b][col]) || a - b; });
    }
  }

  function explanation(s) {
    var k = s.indexOf(' | ');
    if (k < 0) return esc(s);
    return esc(s.slice(0, k)) + '<span class="en">' + esc(s.slice(k + 3)) + '</span>';
  }
  function money(v, signed) {
    var cls = !signed ? '' : v.charAt(0) === '-' ? ' neg' : (v && v !== '0.00' ? ' pos' : '');
    return '<td class="num' + cls + '">' + esc(v) + '</td>';
  }
  function rowHtml(r) {
    var id = r[C.finding_id], act = r[C.action], cat = r[C.category];
    var h = '<tr data-id="' + esc(id) + '" class="main act-' + esc(act) + '">' +
      '<td class="id"><span class="tog">' + (open[id] ? '▾ ' : '▸ ') + '</span>' + esc(id) + '</td>' +
      '<td class="per">' + esc(r[C.period]) + '</td>' +
      '<td>' + esc(catZh[cat] || '') + '<div class="small">' + esc(cat) + '</div></td>' +
      '<td><span class="badge ' + esc(act) + '">' + esc(ACTION_ZH[act] || '') + ' ' + esc(act) + '</span></td>' +
      '<td class="cust">' + esc(r[C.customer_name]) + '<div class="small">' + esc(r[C.customer_id]) + '</div></td>' +
      '<td class="mono">' + esc(r[C.trade_id]) + '</td>' +
      '<td class="svc">' + esc(r[C.service_type_code]) + '<div class="small">' + esc(r[C.charging_mode]) + '</div></td>' +
      money(r[C.expected_incentive], false) + money(r[C.actual_incentive], false) + money(r[C.delta], true) +
      '</tr><tr class="ex" data-of="' + esc(id) + '"><td colspan="10">' + explanation(r[C.explanation]) + '</td></tr>';
    if (open[id]) {
      var f = [
        ['expected_period', '应结期次 Expected period'], ['expected_base', '应得基数 Expected base'], ['expected_incentive', '应得激励 Expected incentive'],
        ['actual_base', '实得基数 Actual base'], ['actual_incentive', '实得激励 Actual incentive'], ['delta', '差额 Delta'],
        ['charging_mode', '计费模式 Charging mode'], ['rule_ids', '规则 Rules'], ['consumption_rows', '消费来源行 Consumption rows'], ['incentive_rows', '激励或账单来源行 Incentive or bill rows']
      ];
      h += '<tr class="detail" data-detail="' + esc(id) + '"><td colspan="10"><dl>' + f.map(function (x) {
        return '<dt>' + esc(x[1]) + '</dt><dd>' + (esc(r[C[x[0]]]) || '—') + '</dd>';
      }).join('') + '</dl></td></tr>';
    }
    return h;
  }
  function pagerHtml(pages) {
    var opts = PAGE_SIZES.map(function (n) { return '<option value="' + n + '"' + (n === st.size ? ' selected' : '') + '>' + n + '</option>'; }).join('');
    return '<button type="button" data-go="first"' + (st.page <= 1 ? ' disabled' : '') + ' title="首页 First">«</button>' +
      '<button type="button" data-go="prev"' + (st.page <= 1 ? ' disabled' : '') + ' title="上一页 Previous">‹ 上一页 Prev</button>' +
      '<span>第 ' + st.page + ' / ' + pages + ' 页 Page</span>' +
      '<button type="button" data-go="next"' + (st.page >= pages ? ' disabled' : '') + ' title="下一页 Next">下一页 Next ›</button>' +
      '<button type="button" data-go="last"' + (st.page >= pages ? ' disabled' : '') + ' title="末页 Last">»</button>' +
      '<label>每页 Per page <select data-size="1">' + opts + '</select></label>';
  }
  function render() {
    var pages = Math.max(1, Math.ceil(view.length / st.size));
    if (st.page > pages) st.page = pages;
    var start = (st.page - 1) * st.size, end = Math.min(view.length, start + st.size);
    var parts = [];
    for (var i = start; i < end; i++) parts.push(rowHtml(rows[view[i]]));
    if (!parts.length) parts.push('<tr class="empty"><td colspan="10">没有符合条件的差异。 No finding matches.</td></tr>');
    body.innerHTML = parts.join('');
    statusEl.textContent = view.length
      ? '显示第 ' + (start + 1) + '–' + end + ' 条，共 ' + view.length + ' 条（全部 ' + rows.length + ' 条） · Showing ' + (start + 1) + '–' + end + ' of ' + view.length + ' (' + rows.length + ' in total)'
      : '共 0 条（全部 ' + rows.length + ' 条） · 0 of ' + rows.length;
    var ph = pagerHtml(pages);
    d.getElementById('pager-top').innerHTML = ph;
    d.getElementById('pager-bottom').innerHTML = ph;
    syncControls();
    writeHash();
  }
  function update(resetPage) {
    if (resetPage) st.page = 1;
    filter();
    render();
  }

  var timer = 0;
  qEl.addEventListener('input', function () {
    clearTimeout(timer);
    timer = setTimeout(function () { st.q = qEl.value; update(true); }, rows.length > 20000 ? 250 : 80);
  });
  ['period', 'category', 'action'].forEach(function (k) {
    sel[k].addEventListener('change', function () { st[k] = sel[k].value; update(true); });
  });
  d.getElementById('reset').addEventListener('click', function () {
    st.q = ''; st.period = ''; st.category = ''; st.action = ''; st.sort = ''; st.desc = false; open = {};
    update(true);
  });
  function onPager(e) {
    var b = e.target.closest('button[data-go]');
    if (!b || b.disabled) return;
    var pages = Math.max(1, Math.ceil(view.length / st.size));
    var go = b.getAttribute('data-go');
    st.page = go === 'first' ? 1 : go === 'prev' ? st.page - 1 : go === 'next' ? st.page + 1 : pages;
    render();
    if (e.currentTarget.id === 'pager-bottom') d.getElementById('findings').scrollIntoView();
  }
  function onSize(e) {
    if (!e.target.hasAttribute('data-size')) return;
    var first = (st.page - 1) * st.size;
    st.size = Number(e.target.value) || 200;
    st.page = Math.floor(first / st.size) + 1;
    render();
  }
  ['pager-top', 'pager-bottom'].forEach(function (id) {
    var el = d.getElementById(id);
    el.addEventListener('click', onPager);
    el.addEventListener('change', onSize);
  });
  function sortBy(th) {
    var c = th.getAttribute('data-col');
    if (st.sort === c) { if (st.desc) { st.sort = ''; st.desc = false; } else st.desc = true; } else { st.sort = c; st.desc = false; }
    update(true);
  }
  Array.prototype.forEach.call(d.querySelectorAll('#ft th.sortable'), function (th) {
    th.addEventListener('click', function () { sortBy(th); });
    th.addEventListener('keydown', function (e) { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); sortBy(th); } });
  });
  body.addEventListener('click', function (e) {
    var tr = e.target.closest('tr[data-id], tr[data-of]');
    if (!tr || (window.getSelection && String(window.getSelection()).length)) return;
    var id = tr.getAttribute('data-id') || tr.getAttribute('data-of');
    if (open[id]) delete open[id]; else open[id] = true;
    render();
  });
  window.addEventListener('hashchange', function () {
    if (readHash()) { update(false); d.getElementById('findings').scrollIntoView(); }
  });

  readHash();
  update(false);
})();
"#;

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    #[test]
    fn big_runs_embed_every_actionable_finding_first() {
        use crate::engine::Action::{Dispute, None, Review};
        let actions = [None, Dispute, None, Review, None, None];
        assert_eq!(embedded(&actions, 6, 10), vec![0, 1, 2, 3, 4, 5]);
        assert_eq!(embedded(&actions, 6, 6), vec![0, 1, 2, 3, 4, 5]);
        assert_eq!(embedded(&actions, 6, 3), vec![0, 1, 3]);
        assert_eq!(embedded(&actions, 6, 1), vec![1, 3], "actionable findings are never dropped");
    }

    #[test]
    fn escapes_html_and_script_json() {
        assert_eq!(esc(r#"<a href="x">Tom & 'J'</a>"#), "&lt;a href=&quot;x&quot;&gt;Tom &amp; &#39;J&#39;&lt;/a&gt;");
        let json = serde_json::to_string(&["</script><!-- & \u{2028}"]).unwrap();
        let safe = script_json(&json);
        assert!(!safe.contains('<') && !safe.contains('>') && !safe.contains('&'));
        let back: Vec<String> = serde_json::from_str(&safe).unwrap();
        assert_eq!(back, ["</script><!-- & \u{2028}"]);
    }

    #[test]
    fn bar_geometry_is_exact_and_bounded() {
        assert_eq!(px(d("0"), d("0"), d("100")), 0);
        assert_eq!(px(d("100"), d("0"), d("100")), BAR_W);
        assert_eq!(px(d("50"), d("0"), d("100")), BAR_W / 2);
        assert_eq!(px(d("0"), d("-100"), d("100")), BAR_W / 2);
        // an empty scale, values outside it, and amounts near the limits of Decimal
        assert_eq!(px(d("5"), d("0"), d("0")), 0);
        assert_eq!(px(d("500"), d("0"), d("100")), BAR_W);
        assert_eq!(px(Decimal::MAX, Decimal::ZERO, Decimal::MAX), BAR_W);
        assert_eq!(px(Decimal::MAX / d("2"), Decimal::ZERO, Decimal::MAX), BAR_W / 2);
    }
}
