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

use super::summary::{Categories, PeriodInfo, Summary, WaterfallInfo};
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

fn base_chart(out: &mut String, period: &str, wf: &WaterfallInfo) {
    let mut bars = Vec::new();
    let mut running = Decimal::ZERO;
    for (i, s) in BASE_STEPS.iter().enumerate() {
        let value = wf.step(s.key).to_string();
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
fn incentive_chart(out: &mut String, period: &str, wf: &WaterfallInfo, cats: &Categories, labels: &Labels) {
    let expected_s = wf.expected_incentive.clone();
    let actual_s = wf.actual_incentive.clone();
    let diff_s = wf.difference.clone();
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
    for (name, c) in &cats.0 {
        let delta_s = c.delta.clone();
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
    let (rules_name, rules_version) = (s.rules.name.as_str(), s.rules.version.as_str());
    // (the findings' data is built apart, see findings_section)
    let mut out = String::with_capacity(256 * 1024);
    out.push_str("<!DOCTYPE html>\n<html lang=\"zh-CN\" class=\"no-js\">\n<head>\n<meta charset=\"utf-8\">\n");
    out.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    let _ = writeln!(out, "<title>激励对账报告 Incentive reconciliation · {} {}</title>", esc(rules_name), esc(rules_version));
    out.push_str("<style>\n");
    out.push_str(CSS);
    out.push_str("</style>\n</head>\n<body>\n");

    header(&mut out, ctx);
    let periods = &s.periods;
    nav(&mut out, periods, !s.bills.is_empty());
    let labels = Labels::new(!ctx.outcome.bills.is_empty());
    for p in periods {
        period_section(&mut out, p, &labels);
    }
    bills_section(&mut out, s, &labels);
    if let Some(changes) = ctx.changes {
        changes_section(&mut out, changes)?;
    }
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
    let (rules, engine, f) = (&s.rules, &s.engine, &s.findings);
    out.push_str("<header class=\"top\">\n");
    let _ = writeln!(out, "<h1>激励对账报告 <span class=\"en\">Incentive reconciliation report</span></h1>");
    out.push_str("<dl class=\"meta\">\n");
    let _ = writeln!(
        out,
        "<div><dt>规则 Rules</dt><dd>{} <b>{}</b><br><code class=\"hash\">sha256 {}</code></dd></div>",
        esc(&rules.name),
        esc(&rules.version),
        esc(&rules.sha256)
    );
    let _ = writeln!(out, "<div><dt>引擎 Engine</dt><dd>{} {}</dd></div>", esc(&engine.name), esc(&engine.version));
    let scope: Vec<String> = s.scope.iter().map(|p| esc(p)).collect();
    let _ = writeln!(out, "<div><dt>对账期次 Statement periods</dt><dd>{}</dd></div>", if scope.is_empty() { "—".to_string() } else { scope.join(", ") });
    let _ = writeln!(out, "<div><dt>币种 Currency</dt><dd>{}</dd></div>", esc(&ctx.rules.currency));
    out.push_str("</dl>\n");

    let dispute_total: Decimal = ctx.disputes.iter().map(|d| d.delta).sum();
    out.push_str("<div class=\"cards\">\n");
    let card = |out: &mut String, class: &str, zh: &str, en: &str, n: String, note: String| {
        let _ = writeln!(out, "<div class=\"card {class}\"><div class=\"n\">{}</div><div class=\"l\">{zh}<br><span class=\"en\">{en}</span>{note}</div></div>", esc(&n));
    };
    card(out, "total", "差异总数", "Findings", f.total.to_string(), String::new());
    card(out, "act-dispute", "争议", "Action: dispute", f.dispute.to_string(), String::new());
    card(out, "act-review", "待复核", "Action: review", f.review.to_string(), String::new());
    card(out, "act-none", "无需处理", "Action: none", f.none.to_string(), String::new());
    card(
        out,
        "disputes",
        "问题反馈",
        "Disputes to raise",
        ctx.disputes.len().to_string(),
        format!("<br><span class=\"note\">差额合计 total {}</span>", esc(&fmt_money(dispute_total))),
    );
    card(out, "rejected", "拒绝行", "Rejected rows", s.rejected.to_string(), "<br><span class=\"note\">rejected.csv</span>".to_string());
    out.push_str("</div>\n");

    // The verdict on each statement: confirm it, or file feedback on its disputes.
    out.push_str("<div class=\"verdicts\">\n");
    for p in &s.periods {
        let period = p.period.as_str();
        let (class, zh, en) = match p.verdict.as_str() {
            "feedback" => ("feedback", "问题反馈", "file feedback"),
            _ => ("confirm", "确认账单", "confirm the statement"),
        };
        let d = &p.disputes;
        let detail = match class {
            "feedback" => format!("{} 项争议，合计 {} <span class=\"en\">{} dispute(s) totalling {}</span>", d.count, esc(&d.delta), d.count, esc(&d.delta)),
            _ => "本期没有需要问题反馈的差异 <span class=\"en\">no finding of the period needs a dispute</span>".to_string(),
        };
        let _ = writeln!(out, "<div class=\"verdict {class}\" data-verdict=\"{class}\"><b>{}</b> {zh} <span class=\"en\">{en}</span>: {detail}</div>", esc(period));
    }
    out.push_str("</div>\n");

    out.push_str("<h2 class=\"sub\">输入文件 <span class=\"en\">Inputs</span></h2>\n<div class=\"tablewrap\"><table class=\"inputs\">\n");
    out.push_str("<thead><tr><th>类型 Kind</th><th>文件 File</th><th>格式 Format</th><th class=\"num\">行数 Rows</th><th class=\"num\">接受 Accepted</th><th class=\"num\">拒绝 Rejected</th><th>SHA-256</th></tr></thead>\n<tbody>\n");
    for i in &s.inputs {
        let kind = i.kind.as_str();
        let rejected = i.rejected.to_string();
        let _ = writeln!(
            out,
            "<tr><td>{} <span class=\"en\">{}</span></td><td class=\"path\">{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num{}\">{}</td><td><code class=\"hash\">{}</code></td></tr>",
            kind_zh(kind),
            esc(kind),
            esc(&i.path),
            esc(&i.format),
            i.rows,
            i.accepted,
            if rejected != "0" && !rejected.is_empty() { " warn" } else { "" },
            esc(&rejected),
            esc(&i.sha256)
        );
    }
    out.push_str("</tbody></table></div>\n</header>\n");
}

/// At most this many rows of changes.csv on the page (all of them are in the file).
const MAX_CHANGES_SHOWN: usize = 20_000;

/// 与上次报告相比: what became of each finding since the previous report, resolved disputes
/// first, then open ones by age, then new; filterable by change and by text.
fn changes_section(out: &mut String, changes: &Path) -> Result<(), ReportError> {
    let (rows, total) = crate::report::changes::shown_rows(changes, MAX_CHANGES_SHOWN)?;
    out.push_str("<section id=\"changes\" class=\"changes\">\n<h2>与上次报告相比 <span class=\"en\">Since the previous report</span></h2>\n");
    out.push_str("<div class=\"filters\"><label>变化 Change <select id=\"ch-kind\"><option value=\"\">全部 all</option>");
    for c in crate::report::changes::Change::ALL {
        let _ = write!(out, "<option value=\"{0}\">{0} {1}</option>", c.name(), c.label_zh());
    }
    out.push_str("</select></label> <label>搜索 Search <input id=\"ch-q\" type=\"search\" placeholder=\"订单号 / finding id\"></label></div>\n");
    if total > rows.len() {
        let _ = writeln!(out, "<p class=\"note\">显示 {} / {total} 行，全部见 changes.csv。 Showing {} of {total} rows; changes.csv has them all.</p>", rows.len(), rows.len());
    }
    out.push_str("<div class=\"tablewrap\"><table class=\"changes\" id=\"ch-table\">\n<thead><tr><th>变化 Change</th><th>对账期次 Period</th><th>订单号 Trade</th><th>产品类型 Service</th><th>上次 Before</th><th class=\"num\">上次差额 Δ before</th><th>本次 Now</th><th class=\"num\">差额 Δ now</th><th>首次 Open since</th><th class=\"num\">持续 Periods open</th><th>编号 IDs</th></tr></thead>\n<tbody>\n");
    for r in &rows {
        let g = |k: usize| r.get(k).map_or("", String::as_str);
        let _ = writeln!(
            out,
            "<tr data-change=\"{change}\"><td><b>{change}</b></td><td>{}</td><td>{}</td><td>{}</td><td>{} {}</td><td class=\"num\">{}</td><td>{} {}</td><td class=\"num\">{}</td><td>{}</td><td class=\"num\">{}</td><td><code>{}</code> → <code>{}</code></td></tr>",
            esc(g(2)),
            esc(g(3)),
            esc(g(4)),
            esc(g(6)),
            esc(g(7)),
            esc(g(8)),
            esc(g(9)),
            esc(g(10)),
            esc(g(11)),
            esc(g(12)),
            esc(g(13)),
            esc(g(1)),
            esc(g(0)),
            change = esc(g(5)),
        );
    }
    out.push_str("</tbody></table></div>\n");
    out.push_str("<script>(function(){var k=document.getElementById('ch-kind'),q=document.getElementById('ch-q'),t=document.getElementById('ch-table');function f(){var kv=k.value,qv=q.value.trim().toLowerCase();for(var i=0;i<t.tBodies[0].rows.length;i++){var r=t.tBodies[0].rows[i];r.style.display=((!kv||r.getAttribute('data-change')===kv)&&(!qv||r.textContent.toLowerCase().indexOf(qv)>=0))?'':'none';}}k.addEventListener('change',f);q.addEventListener('input',f);})();</script>\n</section>\n");
    Ok(())
}

fn nav(out: &mut String, periods: &[PeriodInfo], has_bills: bool) {
    out.push_str("<nav class=\"toc\"><span>跳转 Go to:</span>");
    for p in periods {
        let period = esc(&p.period);
        let _ = write!(out, " <a href=\"#p-{period}\">{period}</a>");
    }
    if has_bills {
        out.push_str(" <a href=\"#bills\">伙伴账单 Partner bill</a>");
    }
    out.push_str(" <a href=\"#findings\">差异明细 Findings</a></nav>\n");
}

fn period_section(out: &mut String, p: &PeriodInfo, labels: &Labels) {
    let period = p.period.as_str();
    let pe = esc(period);
    let wf = &p.waterfall;
    let diff = wf.difference.as_str();
    let _ = writeln!(
        out,
        "<section class=\"period\" id=\"p-{pe}\">\n<h2>对账期次 <span class=\"en\">Statement period</span> {pe} <span class=\"headline {}\">差额 Difference {}</span></h2>",
        sign_class(dec(diff)),
        esc(diff)
    );
    out.push_str("<div class=\"charts\">\n<figure>\n<figcaption>消费 → 应得激励基数 <span class=\"en\">Consumption → expected base</span></figcaption>\n");
    base_chart(out, period, wf);
    out.push_str("\n</figure>\n<figure>\n<figcaption>应得与实得激励，差额按类别 <span class=\"en\">Expected and actual incentive; the difference by category</span></figcaption>\n");
    let cats = &p.categories;
    incentive_chart(out, period, wf, cats, labels);
    out.push_str("\n<p class=\"hint\">按类别的差额另用独立比例绘制。 <span class=\"en\">The difference rows use a scale of their own.</span></p>\n</figure>\n</div>\n");

    let _ = writeln!(out, "<h3>差异类别 <span class=\"en\">Categories</span> {pe}</h3>");
    out.push_str("<div class=\"tablewrap\"><table class=\"cats\">\n<thead><tr><th>类别 Category</th><th>中文 Label</th><th class=\"num\">数量 Count</th><th class=\"num\">差额 Delta</th><th class=\"noprint\"></th></tr></thead>\n<tbody>\n");
    let mut count_total: u64 = 0;
    let mut delta_total = Decimal::ZERO;
    for (name, c) in &cats.0 {
        let count = c.count.to_string();
        count_total += c.count;
        let delta = c.delta.as_str();
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

fn bills_section(out: &mut String, s: &Summary, labels: &Labels) {
    let bills = &s.bills;
    if bills.is_empty() {
        return;
    }
    out.push_str("<section class=\"bills\" id=\"bills\">\n<h2>伙伴账单核对 <span class=\"en\">Partner bill</span></h2>\n");
    const FIGURES: [(&str, &str, &str); 5] = [
        ("consumption_total", "代售客户消费", "Resale customers' consumption"),
        ("bill_total", "账单金额", "Bill total"),
        ("difference", "差额（账单 − 消费）", "Difference (bill − consumption)"),
        ("referral_consumption", "推荐客户消费（不入账单）", "Referral customers' consumption (not billed)"),
        ("unknown_association_consumption", "关联类型未知的消费", "Consumption of unknown association"),
    ];
    for b in bills {
        let cycle = esc(&b.bill_cycle);
        let diff = b.difference.as_str();
        let _ = writeln!(
            out,
            "<h3>账期 <span class=\"en\">Bill cycle</span> {cycle} <span class=\"headline {}\">差额 Difference {}</span></h3>",
            sign_class(dec(diff)),
            esc(diff)
        );
        out.push_str("<div class=\"bill-grid\"><table class=\"cats\"><tbody>\n");
        for (key, zh, en) in FIGURES {
            let _ = writeln!(out, "<tr><th>{zh} <span class=\"en\">{en}</span></th><td class=\"num\">{}</td></tr>", esc(b.total(key)));
        }
        let g: Vec<String> = b.grain.iter().map(|g| esc(g)).collect();
        let _ = writeln!(out, "<tr><th>核对粒度 <span class=\"en\">Matched on</span></th><td><code>{}</code></td></tr>", g.join(", "));
        out.push_str("</tbody></table>\n");
        out.push_str("<table class=\"cats\"><thead><tr><th>类别 Category</th><th>中文 Label</th><th class=\"num\">数量 Count</th><th class=\"num\">差额 Delta</th><th class=\"noprint\"></th></tr></thead><tbody>\n");
        for (name, c) in &b.categories.0 {
            let ne = esc(name);
            let delta = c.delta.as_str();
            let _ = writeln!(
                out,
                "<tr><td><code>{ne}</code></td><td>{}</td><td class=\"num\">{}</td><td class=\"num {}\">{}</td><td class=\"noprint\"><a class=\"show\" href=\"#period={cycle}&amp;category={ne}\">查看 show</a></td></tr>",
                labels.zh(name),
                c.count,
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

const CSS: &str = include_str!("report.css");

const JS: &str = include_str!("report.js");

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
