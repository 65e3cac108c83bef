//! `recon inspect`: what each table of a file is taken for (kind, header mapping, missing
//! columns) and how its rows spread over periods.

use std::path::Path;

use super::rows::period_value;
use super::schema::{self, map_headers, HeaderMap, Kind};
use super::table::{self, read_tables};
use super::values::parse_time;
use super::LoadError;
use crate::rules::RuleSet;

/// What `recon inspect` reports about one file.
#[derive(Debug)]
pub struct Inspection {
    pub label: String,
    pub format: &'static str,
    pub sha256: String,
    pub tables: Vec<TableInspection>,
}

#[derive(Debug)]
pub struct TableInspection {
    pub label: String,
    pub encoding: &'static str,
    pub sheet: Option<String>,
    pub kind: Option<Kind>,
    pub map: Option<HeaderMap>,
    pub missing: Vec<String>,
    pub rows: usize,
    pub periods: Vec<(String, usize)>,
}

pub fn inspect(path: &Path, root: &Path, rules: &RuleSet, sheet: Option<&str>) -> Result<Inspection, LoadError> {
    let files = table::expand(&[path.to_path_buf()], root)?;
    let mut tables = Vec::new();
    let first = files.first();
    for f in &files {
        let mut f = f.clone();
        for t in read_tables(&mut f, sheet)? {
            let kind = schema::detect_kind(&t.headers, &rules.columns);
            let (map, missing) = match kind {
                Some(k) => {
                    let (m, miss) = map_headers(k, &t.headers, &rules.columns);
                    (Some(m), miss.iter().map(|c| c.name.to_string()).collect())
                }
                None => (None, Vec::new()),
            };
            let mut periods: std::collections::BTreeMap<String, usize> = Default::default();
            let col = map.as_ref().and_then(|m| ["incentive_period", "bill_cycle"].iter().find_map(|c| m.index(c)));
            let time_col = map.as_ref().and_then(|m| m.index("trade_time"));
            let mut rows = 0;
            let mut t = t;
            t.for_each_row(|_, cells| {
                rows += 1;
                if map.is_none() {
                    return;
                }
                let p = col
                    .and_then(|i| cells.get(i))
                    .and_then(|v| period_value(v.trim()).ok())
                    .or_else(|| time_col.and_then(|i| cells.get(i)).and_then(|v| parse_time(v, rules.tz).ok()).map(|ts| rules.tz.period_of(ts)));
                let key = p.map_or("(unreadable)".to_string(), |p| p.to_string());
                *periods.entry(key).or_default() += 1;
            })?;
            tables.push(TableInspection {
                label: t.label.clone(),
                encoding: t.encoding,
                sheet: t.sheet.clone(),
                kind,
                map,
                missing,
                rows,
                periods: periods.into_iter().collect(),
            });
        }
    }
    Ok(Inspection {
        label: first.map_or(path.display().to_string(), |f| f.label.clone()),
        format: first.map_or("", |f| f.format.name()),
        sha256: first.map_or(String::new(), |f| f.sha256.clone()),
        tables,
    })
}
