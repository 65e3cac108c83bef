//! A Huawei API JSON body (or a top-level array) as a table: each record a row, every key a
//! header.

use super::encoding::undecodable;
use super::{Body, CiteStyle, SparseRow, Table};
use crate::load::LoadError;

pub(super) fn read_json(bytes: &[u8], label: &str) -> Result<Table, LoadError> {
    let text = std::str::from_utf8(bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes))
        .map_err(|e| undecodable(bytes, e.valid_up_to(), label, "UTF-8 JSON"))?;
    let value: serde_json::Value = serde_json::from_str(text)
        .map_err(|e| LoadError::Json { path: label.to_string(), line: e.line(), column: e.column(), message: e.to_string() })?;
    let (key, records) = match value {
        serde_json::Value::Array(a) => ("", a),
        serde_json::Value::Object(mut o) => match ["fee_records", "bill_sums", "records"].iter().find(|k| o.get(**k).is_some_and(|v| v.is_array())) {
            Some(k) => match o.remove(*k) {
                Some(serde_json::Value::Array(a)) => (*k, a),
                _ => (*k, Vec::new()),
            },
            None => {
                return Err(LoadError::JsonShape {
                    path: label.to_string(),
                    message: "expected a Huawei API response body with a fee_records or bill_sums array, or a top-level array".into(),
                })
            }
        },
        _ => return Err(LoadError::JsonShape { path: label.to_string(), message: "expected a JSON object or array".into() }),
    };
    // Every key of any record is a header, in the order first seen; each row keeps only the keys
    // it has (records that each carry a key of their own cost one cell each, not one per header).
    let mut headers: Vec<String> = Vec::new();
    let mut column: std::collections::HashMap<String, u32> = std::collections::HashMap::new();
    let mut rows = Vec::with_capacity(records.len());
    for (i, r) in records.into_iter().enumerate() {
        let serde_json::Value::Object(o) = r else {
            return Err(LoadError::JsonShape { path: label.to_string(), message: format!("record {i} is not an object") });
        };
        let mut cells = Vec::with_capacity(o.len());
        for (k, v) in o {
            let c = match column.get(&k) {
                Some(&c) => c,
                None => {
                    let c = headers.len() as u32;
                    headers.push(k.clone());
                    column.insert(k, c);
                    c
                }
            };
            cells.push((c, json_text(v)));
        }
        rows.push(SparseRow { loc: i as u32, cells });
    }
    let cite_key: &'static str = if key.is_empty() { "" } else { key };
    Ok(Table { label: label.to_string(), encoding: "UTF-8 JSON", sheet: None, rows_hint: rows.len(), body: Body::Sparse(headers.len(), rows), headers, cite: CiteStyle::Record(cite_key) })
}

fn json_text(v: serde_json::Value) -> String {
    match v {
        serde_json::Value::Null => String::new(),
        serde_json::Value::String(s) => s,
        // With arbitrary_precision, a number keeps its exact source text.
        serde_json::Value::Number(n) => n.to_string(),
        serde_json::Value::Bool(b) => b.to_string(),
        other => other.to_string(),
    }
}
