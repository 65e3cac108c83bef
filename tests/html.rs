//! `report.html`: self-contained, exact, reproducible, escaped; and, in headless Chromium, the
//! JavaScript findings table renders, pages, searches and filters (state from the URL hash).
//!
//! The Chromium tests need `/usr/bin/chromium` (Debian package `chromium`). Without it they are
//! skipped with a notice, except under CI (`CI` set), where they fail: CI installs it.
//! `RECON_UPDATE_SCREENSHOT=1 cargo test --test html` refreshes docs/report-top.png.

mod common;

use std::collections::{BTreeSet, HashMap};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

// ---------------------------------------------------------------------------------------------
// helpers

fn demo() -> Work {
    let w = Work::new();
    let o = w.recon(&["demo", "--out", "out"]);
    assert!(o.status.code() == Some(0) || o.status.code() == Some(1), "demo failed: {}", stderr(&o));
    w
}

fn summary(w: &Work) -> serde_json::Value {
    serde_json::from_str(&w.read("out/summary.json")).expect("summary.json")
}

/// The text of the `<script type="application/json" id="ID">` block.
fn json_block<'a>(html: &'a str, id: &str) -> &'a str {
    let open = format!("<script type=\"application/json\" id=\"{id}\"");
    let start = html.find(&open).unwrap_or_else(|| panic!("no JSON block {id}"));
    let body = start + html[start..].find('>').expect("tag end") + 1;
    let end = body + html[body..].find("</script>").expect("script end");
    &html[body..end]
}

fn findings_json(html: &str) -> serde_json::Value {
    serde_json::from_str(json_block(html, "findings-data")).expect("findings JSON parses")
}

/// The `data-id`s of the finding rows in the findings table body of a rendered DOM.
fn table_ids(dom: &str) -> Vec<String> {
    let start = dom.find("<tbody id=\"ft-body\">").expect("findings tbody");
    let end = start + dom[start..].find("</tbody>").expect("tbody end");
    dom[start..end]
        .split("<tr data-id=\"")
        .skip(1)
        .map(|s| s[..s.find('"').expect("attr end")].to_string())
        .collect()
}

fn chromium() -> Option<PathBuf> {
    let fixed = PathBuf::from("/usr/bin/chromium");
    if fixed.is_file() {
        return Some(fixed);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|d| ["chromium", "chromium-browser"].map(|n| d.join(n)))
        .find(|p| p.is_file())
}

/// Chromium, or None (skip) outside CI; under CI its absence fails the test.
fn require_chromium(test: &str) -> Option<PathBuf> {
    match chromium() {
        Some(p) => Some(p),
        None if std::env::var_os("CI").is_some() => {
            panic!("{test}: headless Chromium is required in CI but /usr/bin/chromium is missing (install the Debian package `chromium`; .ci/run does)")
        }
        None => {
            eprintln!("SKIPPED {test}: no /usr/bin/chromium (apt-get install chromium) to render report.html");
            None
        }
    }
}

/// Runs headless Chromium on a URL with `extra` arguments; returns stdout. A fresh profile
/// directory per run; a hang (not slowness) is stopped after a long guard.
fn chrome(bin: &Path, extra: &[String], url: &str) -> String {
    let profile = tempfile::tempdir().expect("profile dir");
    let mut cmd = Command::new(bin);
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
    ])
    .arg(format!("--user-data-dir={}", profile.path().display()))
    .args(extra)
    .arg(url)
    .stdin(Stdio::null())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("start chromium");
    let mut stdout = child.stdout.take().expect("stdout");
    let reader = std::thread::spawn(move || {
        let mut s = Vec::new();
        stdout.read_to_end(&mut s).map(|_| s)
    });
    let mut stderr = child.stderr.take().expect("stderr");
    let err_reader = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = stderr.read_to_end(&mut s);
        s
    });
    let guard = Instant::now();
    let status = loop {
        if let Some(st) = child.try_wait().expect("wait chromium") {
            break st;
        }
        if guard.elapsed() > Duration::from_secs(300) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium did not finish on {url} (hang guard)");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let out = reader.join().expect("reader").expect("read stdout");
    let err = err_reader.join().unwrap_or_default();
    assert!(status.success(), "chromium failed on {url}: {status}\n{}", String::from_utf8_lossy(&err));
    String::from_utf8(out).expect("DOM is UTF-8")
}

fn dump_dom(bin: &Path, file: &Path, hash: &str) -> String {
    let url = format!("file://{}{hash}", file.canonicalize().expect("report path").display());
    chrome(bin, &["--dump-dom".to_string()], &url)
}

// ---------------------------------------------------------------------------------------------
// static checks (no browser)

#[test]
fn html_is_self_contained_exact_and_reproducible() {
    let a = demo();
    let b = demo();
    let html = a.read("out/report.html");
    assert_eq!(html.as_bytes(), b.read("out/report.html").as_bytes(), "report.html differs between two runs");
    assert!(html.starts_with("<!DOCTYPE html>"));

    // no network: no external URL anywhere, no linked or sourced asset at all
    for bad in ["http://", "https://", "<link", " src=", "@import", "url(", "//cdn"] {
        assert!(!html.contains(bad), "report.html contains {bad:?}");
    }
    assert_eq!(html.matches("<script").count(), html.matches("</script>").count());

    // every waterfall figure of summary.json, as a text node of the chart
    let s = summary(&a);
    let periods = s["periods"].as_array().expect("periods");
    assert!(!periods.is_empty());
    for p in periods {
        let period = p["period"].as_str().unwrap();
        assert!(html.contains(&format!("id=\"p-{period}\"")), "no section for {period}");
        for (name, v) in p["waterfall"].as_object().unwrap() {
            let v = v.as_str().unwrap();
            assert!(html.contains(&format!(">{v}</text>")), "{period} {name} = {v} is not drawn");
        }
        // the category table, server-side: name, Chinese label, count and delta
        let section = &html[html.find(&format!("id=\"p-{period}\"")).unwrap()..];
        let section = &section[..section.find("</section>").unwrap()];
        for (name, c) in p["categories"].as_object().unwrap() {
            let row = format!("<tr><td><code>{name}</code></td>");
            let at = section.find(&row).unwrap_or_else(|| panic!("{period}: no category row {name}"));
            let tail = &section[at..at + section[at..].find("</tr>").unwrap()];
            assert!(tail.contains(&format!(">{}</td>", c["count"])), "{period} {name}: count");
            assert!(tail.contains(&format!(">{}</td>", c["delta"].as_str().unwrap())), "{period} {name}: delta");
        }
    }
    // header: rules, engine, inputs with sha256, counts per action, disputes
    assert!(html.contains(s["rules"]["sha256"].as_str().unwrap()));
    assert!(html.contains(&format!("{} {}", s["engine"]["name"].as_str().unwrap(), s["engine"]["version"].as_str().unwrap())));
    for i in s["inputs"].as_array().unwrap() {
        assert!(html.contains(i["sha256"].as_str().unwrap()), "input {} sha256 missing", i["path"]);
        assert!(html.contains(i["path"].as_str().unwrap()));
    }
    for (zh, key) in [("差异总数", "total"), ("争议", "dispute"), ("待复核", "review"), ("无需处理", "none")] {
        let card = format!("<div class=\"n\">{}</div><div class=\"l\">{zh}<br>", s["findings"][key]);
        assert!(html.contains(&card), "no {key} count card");
    }
    // disputes.csv: one line per dispute, plus a total line per period
    let disputes = read_csv(&a.path("out/disputes.csv")).into_iter().filter(|d| d["问题编号"].starts_with('F')).count();
    assert!(disputes > 0);
    assert!(html.contains(&format!("<div class=\"n\">{disputes}</div><div class=\"l\">问题反馈")), "no disputes count");
    for label in ["差异明细 <span class=\"en\">Findings</span>", "差异类别 <span class=\"en\">Categories</span>", "输入文件 <span class=\"en\">Inputs</span>"] {
        assert!(html.contains(label), "missing bilingual heading {label}");
    }
    assert!(html.contains("@media print"));

    // the embedded findings are findings.csv, column for column, money as strings
    let data = findings_json(&html);
    let columns: Vec<&str> = data["columns"].as_array().unwrap().iter().map(|c| c.as_str().unwrap()).collect();
    assert_eq!(columns, recon::report::FINDINGS_HEADER.to_vec());
    let csv = read_csv(&a.path("out/findings.csv"));
    let rows = data["rows"].as_array().unwrap();
    assert_eq!(rows.len(), csv.len());
    for (row, rec) in rows.iter().zip(&csv) {
        for (i, col) in columns.iter().enumerate() {
            assert_eq!(row[i].as_str(), Some(rec[*col].as_str()), "finding {} column {col}", rec["finding_id"]);
        }
    }
    // the table body is empty until the script fills it: without JS, no half table
    assert!(html.contains("<tbody id=\"ft-body\"></tbody>"));
    assert!(html.contains("<noscript>"));
}

/// Inputs whose texts try to break out of the page: a customer name with `</script>` and markup,
/// a policy name with `&` and `<`.
fn hostile(w: &Work) {
    let rules = rules("").replace("name = \"test policy\"", "name = \"A & B <i>policy</i>\"");
    w.write("rules.toml", rules);
    w.write(
        "c.csv",
        "bill_cycle,customer_id,customer_name,association_type,service_type_code,charging_mode,trade_id,trade_time,payment_amount,cash_amount\n\
         2026-09,C1,\"</script><img src=x onerror=alert(1)><!--\",resale,hws.service.type.ec2,按需,T1,2026-09-10 10:00:00,100.00,100.00\n\
         2026-09,C2,\"Tom & Jerry's \"\"<b>\"\"\",resale,hws.service.type.ec2,按需,T2,2026-09-10 10:00:00,50.00,50.00\n",
    );
    w.write("i.csv", format!("{INCENTIVE_HEADER}2026-09,I1,T2,hws.service.type.ec2,50.00,0.06,3.00\n"));
    let o = w.recon(&["run", "--rules", "rules.toml", "--consumption", "c.csv", "--incentives", "i.csv", "--out", "out", "--format", "csv,json,html"]);
    assert!(o.status.code() == Some(0) || o.status.code() == Some(1), "{}", stderr(&o));
}

#[test]
fn html_escapes_every_text() {
    let w = Work::new();
    hostile(&w);
    let html = w.read("out/report.html");
    assert!(!html.contains("<img"), "markup from an input reached the page");
    assert!(!html.contains("<i>policy"), "rules name not escaped");
    assert!(html.contains("A &amp; B &lt;i&gt;policy&lt;/i&gt;"));
    // one closing tag per script element: nothing inside the JSON closes it
    assert_eq!(html.matches("<script").count(), html.matches("</script>").count());
    let block = json_block(&html, "findings-data");
    for c in ['<', '>', '&'] {
        assert!(!block.contains(c), "JSON block contains a raw {c:?}");
    }
    assert!(block.contains("\\u003c/script\\u003e\\u003cimg"));
    // and it still reads back to the exact text
    let data = findings_json(&html);
    let names: BTreeSet<&str> = data["rows"].as_array().unwrap().iter().map(|r| r[5].as_str().unwrap()).collect();
    assert!(names.contains("</script><img src=x onerror=alert(1)><!--"), "{names:?}");
    assert!(names.contains("Tom & Jerry's \"<b>\""), "{names:?}");
}

// ---------------------------------------------------------------------------------------------
// headless Chromium

#[test]
fn html_renders_in_chromium() {
    let Some(bin) = require_chromium("html_renders_in_chromium") else { return };
    let w = demo();
    let s = summary(&w);
    let report = w.path("out/report.html");
    let findings = read_csv(&w.path("out/findings.csv"));

    let dom = dump_dom(&bin, &report, "");
    assert!(dom.contains("<html lang=\"zh-CN\" class=\"js\">"), "the script did not run");
    let p09 = s["periods"].as_array().unwrap().iter().find(|p| p["period"] == "2026-09").expect("2026-09 in summary");
    for key in ["consumption_total", "expected_base", "expected_incentive", "actual_incentive", "difference"] {
        let v = p09["waterfall"][key].as_str().unwrap();
        assert!(dom.contains(&format!(">{v}</text>")), "2026-09 {key} {v} not in the rendered page");
    }
    let categories: BTreeSet<&str> = findings.iter().map(|f| f["category"].as_str()).collect();
    assert!(categories.len() >= 10, "demo categories: {categories:?}");
    for c in &categories {
        assert!(dom.contains(c), "category {c} not on the page");
    }
    // the JS table: every demo finding (one page), the MISSING_INCENTIVE one among them
    let ids = table_ids(&dom);
    assert_eq!(ids.len(), findings.len(), "the demo fits one page");
    let missing = findings.iter().find(|f| f["category"] == "MISSING_INCENTIVE").expect("a MISSING_INCENTIVE finding");
    let mid = &missing["finding_id"];
    assert!(dom.contains(&format!("<tr data-id=\"{mid}\" class=\"main act-dispute\">")), "{mid} not rendered by the script");
    for c in &categories {
        assert!(dom.contains(&format!("<div class=\"small\">{c}</div>")), "no table row of category {c}");
    }
    assert!(dom.contains(&format!("共 {n} 条（全部 {n} 条）", n = findings.len())), "status line");

    // search from the URL hash: the order's finding only
    let trade = &missing["trade_id"];
    let dom = dump_dom(&bin, &report, &format!("#q={trade}"));
    let ids = table_ids(&dom);
    let want: Vec<&str> = findings
        .iter()
        .filter(|f| ["finding_id", "trade_id", "customer_id", "customer_name", "service_type_code", "explanation"].iter().any(|c| f[*c].contains(trade.as_str())))
        .map(|f| f["finding_id"].as_str())
        .collect();
    assert_eq!(ids, want, "search {trade}");
    assert!(ids.contains(mid));
    let other = findings.iter().find(|f| !f["trade_id"].contains(trade.as_str()) && !f["explanation"].contains(trade.as_str())).unwrap();
    assert!(!ids.contains(&other["finding_id"]), "unrelated {} shown for {trade}", other["finding_id"]);

    // a customer name and a finding id are searchable too, case-insensitively
    let by_name = findings.iter().find(|f| !f["customer_name"].is_empty()).unwrap();
    let dom = dump_dom(&bin, &report, &format!("#q={}", by_name["finding_id"].to_lowercase()));
    assert_eq!(table_ids(&dom), vec![by_name["finding_id"].clone()]);

    // filters from the hash: period and action
    let dom = dump_dom(&bin, &report, "#period=2026-10&action=review");
    let ids: BTreeSet<String> = table_ids(&dom).into_iter().collect();
    let want: BTreeSet<String> = findings.iter().filter(|f| f["period"] == "2026-10" && f["action"] == "review").map(|f| f["finding_id"].clone()).collect();
    assert!(!want.is_empty());
    assert_eq!(ids, want, "period and action filters");
    let dom = dump_dom(&bin, &report, "#category=MISSING_INCENTIVE");
    let want: Vec<String> = findings.iter().filter(|f| f["category"] == "MISSING_INCENTIVE").map(|f| f["finding_id"].clone()).collect();
    assert_eq!(table_ids(&dom), want, "category filter");

    // without JavaScript (the page with its script taken out: Chromium's --dump-dom needs
    // scripting on) the summary is all there, and no half-drawn table
    let html = w.read("out/report.html");
    let start = html.find("<script>\n").expect("the page script");
    let end = start + html[start..].find("</script>").unwrap() + "</script>".len();
    let nojs = w.write("out/report-nojs.html", format!("{}{}", &html[..start], &html[end..]));
    assert!(!std::fs::read_to_string(&nojs).unwrap().contains("<script>"));
    let dom = dump_dom(&bin, &nojs, "");
    assert!(dom.contains("<html lang=\"zh-CN\" class=\"no-js\">"));
    assert!(table_ids(&dom).is_empty());
    for key in ["consumption_total", "expected_base"] {
        assert!(dom.contains(&format!(">{}</text>", p09["waterfall"][key].as_str().unwrap())));
    }
    for c in p09["categories"].as_object().unwrap().keys() {
        assert!(dom.contains(&format!("<code>{c}</code>")), "no-JS page lacks category {c}");
    }

    // a screenshot of the top of the page
    let shots = Work::new();
    let png = shots.path("report-top.png");
    let url = format!("file://{}", report.canonicalize().unwrap().display());
    chrome(&bin, &[format!("--screenshot={}", png.display()), "--window-size=1280,1600".to_string(), "--hide-scrollbars".to_string()], &url);
    let bytes = std::fs::read(&png).expect("screenshot written");
    assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n") && bytes.len() > 20_000, "screenshot is not a real PNG ({} bytes)", bytes.len());
    if std::env::var_os("RECON_UPDATE_SCREENSHOT").is_some() {
        let dest = repo().join("docs/report-top.png");
        std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
        std::fs::write(&dest, &bytes).unwrap();
        eprintln!("wrote {}", dest.display());
    }
}

#[test]
fn html_escaping_holds_in_the_browser() {
    let Some(bin) = require_chromium("html_escaping_holds_in_the_browser") else { return };
    let w = Work::new();
    hostile(&w);
    let dom = dump_dom(&bin, &w.path("out/report.html"), "");
    assert_eq!(table_ids(&dom).len(), 2, "both findings rendered");
    let body = &dom[dom.find("<tbody id=\"ft-body\">").unwrap()..];
    assert!(!body.contains("<img"), "an input's markup became an element");
    assert!(body.contains("&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;&lt;!--"));
    assert!(body.contains("Tom &amp; Jerry's \"&lt;b&gt;\""));
}

/// 100,000 findings: the page embeds them all and draws one page of rows.
#[test]
fn html_pages_a_big_run() {
    const N: usize = 100_000;
    let w = Work::new();
    let mut c = String::with_capacity(N * 130);
    c.push_str("bill_cycle,customer_id,customer_name,association_type,service_type_code,charging_mode,trade_id,trade_time,payment_amount,cash_amount\n");
    for i in 0..N {
        let cents = 10_000 + (i * 7919) % 900_000;
        let amount = format!("{}.{:02}", cents / 100, cents % 100);
        c.push_str(&format!(
            "2026-09,C{:05},客户{},resale,hws.service.type.ec2,按需,BIG{i:07},2026-09-{:02} 10:00:00,{amount},{amount}\n",
            i % 997,
            i % 997,
            1 + i % 28
        ));
    }
    w.write("c.csv", c);
    w.write("i.csv", INCENTIVE_HEADER);
    w.write("rules.toml", rules(""));
    // an empty statement declared loaded: every key is MISSING_INCENTIVE
    let o = w.recon(&["run", "--rules", "rules.toml", "--consumption", "c.csv", "--incentives", "i.csv", "--period", "2026-09", "--out", "out", "--format", "html"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let html = w.read("out/report.html");
    let data = findings_json(&html);
    let rows = data["rows"].as_array().unwrap();
    assert_eq!(rows.len(), N, "the JSON holds every finding");
    assert!(html.contains("<tbody id=\"ft-body\"></tbody>"), "no row is rendered server-side");
    assert!(html.contains("data-page-size=\"200\""));

    let Some(bin) = require_chromium("html_pages_a_big_run") else { return };
    let report = w.path("out/report.html");
    // three loads of the 49 MB page at once (Chromium spends most of the time serialising it)
    let [(plain, status), (search, _), (page3, _)] = std::thread::scope(|sc| {
        ["", "#q=BIG0054321", "#page=3"]
            .map(|hash| {
                sc.spawn(|| {
                    let dom = dump_dom(&bin, &report, hash);
                    let status = dom.find("id=\"pager-top\"").map(|i| dom[i..i + dom[i..].find("<table").unwrap_or(0)].to_string()).unwrap_or_default();
                    (table_ids(&dom), status)
                })
            })
            .map(|h| h.join().expect("chromium thread"))
    });
    assert_eq!(plain.len(), 200, "one page of rows, not {N}");
    assert!(status.contains(&format!("共 {N} 条（全部 {N} 条）")), "status counts every finding: {status}");
    assert!(status.contains("第 1 / 500 页"), "500 pages: {status}");
    let first: Vec<&str> = rows.iter().take(200).map(|r| r[0].as_str().unwrap()).collect();
    assert_eq!(plain, first);

    // search the whole array from the hash
    let row = rows.iter().find(|r| r[6] == "BIG0054321").unwrap();
    assert_eq!(search, vec![row[0].as_str().unwrap()], "one order");

    // page 3 shows findings 401..600
    let by_id: HashMap<&str, usize> = rows.iter().enumerate().map(|(i, r)| (r[0].as_str().unwrap(), i)).collect();
    assert_eq!(page3.len(), 200);
    assert_eq!(by_id[page3[0].as_str()], 400);
    assert_eq!(by_id[page3[199].as_str()], 599);
}
