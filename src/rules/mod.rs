//! The incentive policy. A rules file is read in two layers: [`raw`] mirrors the TOML and refuses
//! unknown keys; [`RuleSet::from_toml`] validates it once, before any data is read, into the
//! typed policy the engine uses. Every error names the file, line and column, shows the line with
//! a caret under the offending value, and says what was expected.

pub mod raw;

use std::collections::HashMap;
use std::fmt;
use std::ops::Range;
use std::path::Path;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use sha2::{Digest, Sha256};
use toml::Spanned;

use crate::model::hex;
use crate::model::schema::{ExtraAliases, Kind};
use crate::model::{Association, ChargingMode, Component, ModeCoding, PolicyTz, Rounding};

/// A rules file that cannot be used, located to the line.
#[derive(Debug, thiserror::Error)]
pub enum RulesError {
    #[error("cannot read rules file {path}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}:{line}:{column}: {message}\n{snippet}")]
    Invalid {
        path: String,
        line: usize,
        column: usize,
        /// The rules key at fault, e.g. `product[2].rate`.
        key: String,
        message: String,
        snippet: String,
    },
}

/// A `*` glob over service type codes (`hws.service.type.*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Glob(String);

impl Glob {
    pub fn matches(&self, s: &str) -> bool {
        glob_match(self.0.as_bytes(), s.as_bytes())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn glob_match(p: &[u8], s: &[u8]) -> bool {
    // Iterative wildcard match with backtracking to the last `*`.
    let (mut pi, mut si, mut star, mut mark) = (0, 0, None, 0);
    while si < s.len() {
        if pi < p.len() && p[pi] != b'*' && p[pi] == s[si] {
            pi += 1;
            si += 1;
        } else if pi < p.len() && p[pi] == b'*' {
            star = Some(pi);
            mark = si;
            pi += 1;
        } else if let Some(sp) = star {
            pi = sp + 1;
            mark += 1;
            si = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == b'*')
}

/// One `[[product]]`: what earns incentive, at which rate, when, and how late it is paid.
#[derive(Debug, Clone)]
pub struct Product {
    pub id: String,
    pub service_type: Glob,
    pub charging_modes: Option<Vec<ChargingMode>>,
    pub rate: Decimal,
    pub valid_from: Option<NaiveDate>,
    pub valid_to: Option<NaiveDate>,
    pub lag_months: i32,
    pub reason: String,
    /// Line of the `id` key, for explanations ("rules line 42").
    pub line: usize,
}

impl Product {
    /// Does this product cover a row with this service type, charging mode and local trade date?
    pub fn matches(&self, service_type: &str, mode: Option<ChargingMode>, date: NaiveDate) -> bool {
        if !self.service_type.matches(service_type) {
            return false;
        }
        if let Some(modes) = &self.charging_modes {
            match mode {
                Some(m) if modes.contains(&m) => {}
                _ => return false,
            }
        }
        self.valid_from.is_none_or(|f| date >= f) && self.valid_to.is_none_or(|t| date <= t)
    }
}

/// The validated policy.
#[derive(Debug, Clone)]
pub struct RuleSet {
    pub path: String,
    pub sha256: String,
    pub name: String,
    pub version: String,
    pub currency: String,
    pub tz: PolicyTz,
    pub scale: u32,
    pub rounding: Rounding,
    pub tolerance: Decimal,
    pub counted: Vec<Component>,
    pub association_types: Vec<Association>,
    pub association_lag_days: i64,
    pub rebind_grace_months: i32,
    pub late_window_hours: i64,
    pub products: Vec<Product>,
    pub columns: ExtraAliases,
}

impl RuleSet {
    pub fn load(path: &Path) -> Result<RuleSet, RulesError> {
        let bytes = std::fs::read(path).map_err(|source| RulesError::Io { path: path.display().to_string(), source })?;
        let label = path.display().to_string();
        match std::str::from_utf8(&bytes) {
            Ok(text) => RuleSet::from_toml(text, &label),
            Err(e) => Err(not_utf8(&bytes, e.valid_up_to(), &label)),
        }
    }

    /// Parses and validates a rules file; `path` is used in messages only.
    pub fn from_toml(text: &str, path: &str) -> Result<RuleSet, RulesError> {
        let v = Validator { text, path };
        let raw: raw::RawRules = toml::from_str(text).map_err(|e| {
            let span = e.span().unwrap_or(0..0);
            let mut message = parse_message(text, span.start, e.message());
            if message.contains("expected a string") && (message.contains("floating point") || message.contains("integer")) {
                message.push_str("; write amounts, rates and dates in quotes, such as rate = \"0.06\"");
            }
            v.error(span, "", message)
        })?;
        v.build(raw)
    }

    /// The first product that covers a row, by the rules' order.
    pub fn product_for(&self, service_type: &str, mode: Option<ChargingMode>, date: NaiveDate) -> Option<usize> {
        self.products.iter().position(|p| p.matches(service_type, mode, date))
    }

    /// The largest shift between a bill cycle and the period that pays it.
    pub fn max_shift(&self) -> i32 {
        let lag = self.products.iter().map(|p| p.lag_months).max().unwrap_or(0);
        lag + i32::from(self.late_window_hours > 0)
    }

    pub fn lists(&self, a: Association) -> bool {
        self.association_types.contains(&a)
    }
}

/// The message of a TOML syntax error: the parser's own, on one line, or, where it gives none
/// (a value missing at the end of the file, a control character), what is wrong at `at` and
/// what was expected there.
fn parse_message(text: &str, at: usize, message: &str) -> String {
    let message = message.trim().lines().map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join("; ");
    let at = (0..=at.min(text.len())).rev().find(|&i| text.is_char_boundary(i)).unwrap_or(0);
    let line_start = text[..at].rfind('\n').map_or(0, |i| i + 1);
    let before = text[line_start..at].trim_end();
    let here = text[at..].chars().next();
    if let Some(c) = here.filter(|&c| is_control(c)) {
        return format!(
            "control character {} is not allowed in a TOML file, not even in a comment; remove it (inside a quoted string, write it as \\u{:04X})",
            control_name(c),
            u32::from(c)
        );
    }
    let line_ends = matches!(here, None | Some('\n' | '\r' | '#'));
    if before.ends_with('=') && line_ends {
        let key = before.trim_end_matches('=').trim();
        return format!("the value of {key:?} is missing after `=`; expected a value such as \"text\", 12, true or [\"a\", \"b\"]");
    }
    if message.ends_with("string") && line_ends {
        return format!("{message}: it is not closed; expected a closing quote before the end of the line");
    }
    if !message.is_empty() {
        return message;
    }
    match here {
        None => "the file ends in the middle of a line; expected a `key = value` line, a `[table]` header or a `# comment`".to_string(),
        Some(c) => format!("unexpected {c:?}; expected a `key = value` line, a `[table]` header or a `# comment`"),
    }
}

/// A character TOML allows nowhere but escaped in a string (tab, LF and CR aside).
fn is_control(c: char) -> bool {
    (c.is_control() && !matches!(c, '\t' | '\n' | '\r')) || c == '\u{7f}'
}

/// `U+0001 (a control character)` and the like.
fn control_name(c: char) -> String {
    let what = match c {
        '\0' => "NUL",
        '\u{1b}' => "ESC",
        '\u{7f}' => "DEL",
        '\u{8}' => "backspace",
        '\u{c}' => "form feed",
        '\u{b}' => "vertical tab",
        _ => return format!("U+{:04X}", u32::from(c)),
    };
    format!("U+{:04X} ({what})", u32::from(c))
}

/// The line of a rules file as an error shows it: control characters as visible symbols (one
/// column each, so the caret stays under its character).
fn shown_line(line: &str) -> String {
    line.chars()
        .map(|c| match c {
            '\t' => '\t',
            c if u32::from(c) < 0x20 => char::from_u32(0x2400 + u32::from(c)).unwrap_or('?'),
            '\u{7f}' => '\u{2421}',
            c if is_control(c) => '\u{fffd}',
            c => c,
        })
        .collect()
}

/// A rules file that is not UTF-8: located at its first byte that is not, and said what it
/// looks like instead (UTF-16, GBK).
fn not_utf8(bytes: &[u8], valid_up_to: usize, path: &str) -> RulesError {
    let looks = if bytes.starts_with(&[0xFF, 0xFE]) || bytes.starts_with(&[0xFE, 0xFF]) {
        "it is UTF-16 (\"Unicode\" in some editors)"
    } else if encoding_rs::GBK.decode_without_bom_handling_and_without_replacement(bytes).is_some() {
        "it looks like GBK"
    } else {
        "it may be Latin-1 or another legacy encoding"
    };
    let byte = bytes.get(valid_up_to).copied().unwrap_or(0);
    // (the lossy text has the valid prefix unchanged: the offset is the same in it)
    let text = String::from_utf8_lossy(bytes);
    let v = Validator { text: &text, path };
    v.error(valid_up_to..valid_up_to + 1, "", format!("byte 0x{byte:02X} is not UTF-8; a rules file must be saved as UTF-8 text ({looks})"))
}

struct Validator<'a> {
    text: &'a str,
    path: &'a str,
}

impl Validator<'_> {
    fn error(&self, span: Range<usize>, key: &str, message: String) -> RulesError {
        // (offsets at a character boundary, whatever a span says)
        let floor = |i: usize| (0..=i.min(self.text.len())).rev().find(|&i| self.text.is_char_boundary(i)).unwrap_or(0);
        let start = floor(span.start);
        let span = start..floor(span.end.max(start));
        let before = &self.text[..start];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = self.text[line_start..start].chars().count() + 1;
        let line_text = shown_line(self.text[line_start..].lines().next().unwrap_or(""));
        let width = self.text[start..span.end.clamp(start, self.text.len())]
            .lines()
            .next()
            .map_or(1, |s| s.chars().count().max(1));
        let pad: String = line_text.chars().take(column - 1).map(|c| if c == '\t' { '\t' } else { ' ' }).collect();
        let snippet = format!("{line:>5} | {line_text}\n      | {pad}{}", "^".repeat(width));
        RulesError::Invalid { path: self.path.to_string(), line, column, key: key.to_string(), message, snippet }
    }

    fn at<T>(&self, s: &Spanned<T>, key: &str, message: impl Into<String>) -> RulesError {
        self.error(s.span(), key, message.into())
    }

    fn decimal(&self, s: &Spanned<String>, key: &str) -> Result<Decimal, RulesError> {
        Decimal::from_str_exact(s.get_ref().trim())
            .map_err(|_| self.at(s, key, format!("{key} must be a decimal number in quotes, such as \"0.06\"; got {:?}", s.get_ref())))
    }

    fn date(&self, s: &Spanned<String>, key: &str) -> Result<NaiveDate, RulesError> {
        NaiveDate::parse_from_str(s.get_ref().trim(), "%Y-%m-%d")
            .map_err(|_| self.at(s, key, format!("{key} must be a date in quotes, such as \"2026-01-01\"; got {:?}", s.get_ref())))
    }

    fn non_negative(&self, s: &Option<Spanned<i64>>, key: &str, max: i64) -> Result<i64, RulesError> {
        match s {
            None => Ok(0),
            Some(v) if (0..=max).contains(v.get_ref()) => Ok(*v.get_ref()),
            Some(v) => Err(self.at(v, key, format!("{key} must be a whole number from 0 to {max}; got {}", v.get_ref()))),
        }
    }

    fn build(&self, raw: raw::RawRules) -> Result<RuleSet, RulesError> {
        let p = &raw.policy;
        let tz = match &p.timezone {
            None => PolicyTz::BEIJING,
            Some(s) => PolicyTz::parse(s.get_ref())
                .ok_or_else(|| self.at(s, "policy.timezone", format!("policy.timezone must be an offset such as \"+08:00\"; got {:?}", s.get_ref())))?,
        };
        let scale = match &p.scale {
            None => 2,
            Some(s) => self.non_negative(&Some(s.clone()), "policy.scale", 8)? as u32,
        };
        let rounding = match p.rounding.as_ref().map(|s| (s, s.get_ref().as_str())) {
            None => Rounding::HalfUp,
            Some((_, "half_up")) => Rounding::HalfUp,
            Some((_, "half_even")) => Rounding::HalfEven,
            Some((_, "down")) => Rounding::Down,
            Some((s, other)) => {
                return Err(self.at(s, "policy.rounding", format!("policy.rounding must be one of half_up, half_even, down; got {other:?}")))
            }
        };
        let tolerance = match &p.tolerance {
            None => Decimal::new(1, 2),
            Some(s) => {
                let t = self.decimal(s, "policy.tolerance")?;
                if t < Decimal::ZERO {
                    return Err(self.at(s, "policy.tolerance", "policy.tolerance must not be negative"));
                }
                t
            }
        };

        let counted = match &raw.base {
            None => vec![Component::Cash, Component::Credit, Component::StoredValueCard, Component::Debt],
            Some(b) => {
                let mut out = Vec::new();
                for item in b.counted.get_ref() {
                    let c = Component::from_name(item.get_ref().trim()).ok_or_else(|| {
                        let names: Vec<_> = Component::ALL.iter().map(|c| c.name()).collect();
                        self.at(item, "base.counted", format!("unknown payment component {:?}; expected one of {}", item.get_ref(), names.join(", ")))
                    })?;
                    if out.contains(&c) {
                        return Err(self.at(item, "base.counted", format!("{:?} is listed twice", item.get_ref())));
                    }
                    out.push(c);
                }
                if out.is_empty() {
                    return Err(self.at(&b.counted, "base.counted", "base.counted must name at least one payment component"));
                }
                out
            }
        };

        let (association_types, association_lag_days, rebind_grace_months) = match &raw.attribution {
            None => (vec![Association::Resale, Association::Referral], 0, 0),
            Some(a) => {
                let types = match &a.association_types {
                    None => vec![Association::Resale, Association::Referral],
                    Some(list) => {
                        let mut out = Vec::new();
                        for item in list.get_ref() {
                            let t = match item.get_ref().trim() {
                                "resale" => Association::Resale,
                                "referral" => Association::Referral,
                                other => {
                                    return Err(self.at(item, "attribution.association_types", format!("unknown association type {other:?}; expected \"resale\" or \"referral\"")))
                                }
                            };
                            if !out.contains(&t) {
                                out.push(t);
                            }
                        }
                        out
                    }
                };
                let lag = self.non_negative(&a.association_lag_days, "attribution.association_lag_days", 3660)?;
                let grace = self.non_negative(&a.rebind_grace_months, "attribution.rebind_grace_months", 120)?;
                (types, lag, grace as i32)
            }
        };

        let late_window_hours = match &raw.rollover {
            None => 0,
            Some(r) => self.non_negative(&r.late_window_hours, "rollover.late_window_hours", 24 * 28)?,
        };

        let mut products: Vec<Product> = Vec::new();
        for (i, rp) in raw.product.iter().enumerate() {
            let k = |name: &str| format!("product[{}].{name}", i + 1);
            let id = rp.id.get_ref().trim().to_string();
            if id.is_empty() {
                return Err(self.at(&rp.id, &k("id"), "product id must not be empty"));
            }
            if let Some(prev) = products.iter().find(|p| p.id == id) {
                return Err(self.at(&rp.id, &k("id"), format!("product id {id:?} is used twice (first at line {})", prev.line)));
            }
            let st = rp.service_type.get_ref().trim();
            if st.is_empty() {
                return Err(self.at(&rp.service_type, &k("service_type"), "service_type must not be empty"));
            }
            let rate = self.decimal(&rp.rate, &k("rate"))?;
            if rate < Decimal::ZERO || rate > Decimal::ONE {
                return Err(self.at(&rp.rate, &k("rate"), format!("rate must lie between 0 and 1 (\"0.06\" is six per cent); got {rate}")));
            }
            let charging_modes = match &rp.charging_modes {
                None => None,
                Some(list) => {
                    let mut out = Vec::new();
                    for m in list {
                        let mode = ChargingMode::parse(m.get_ref(), ModeCoding::Api).ok_or_else(|| {
                            self.at(m, &k("charging_modes"), format!("unknown charging mode {:?}; expected 包年/包月, 按需, 预留实例 or 节省计划", m.get_ref()))
                        })?;
                        out.push(mode);
                    }
                    Some(out)
                }
            };
            let valid_from = rp.valid_from.as_ref().map(|s| self.date(s, &k("valid_from"))).transpose()?;
            let valid_to = rp.valid_to.as_ref().map(|s| self.date(s, &k("valid_to"))).transpose()?;
            if let (Some(f), Some(t), Some(s)) = (valid_from, valid_to, rp.valid_to.as_ref()) {
                if t < f {
                    return Err(self.at(s, &k("valid_to"), format!("valid_to {t} is before valid_from {f}")));
                }
            }
            let lag_months = self.non_negative(&rp.lag_months, &k("lag_months"), 12)? as i32;
            let line = self.text[..rp.id.span().start.min(self.text.len())].matches('\n').count() + 1;
            products.push(Product {
                id,
                service_type: Glob(st.to_string()),
                charging_modes,
                rate,
                valid_from,
                valid_to,
                lag_months,
                reason: rp.reason.clone(),
                line,
            });
        }

        let mut columns: ExtraAliases = HashMap::new();
        for (kind_name, fields) in &raw.columns {
            let kind = Kind::from_name(kind_name.get_ref()).ok_or_else(|| {
                self.at(kind_name, "columns", format!("unknown input kind [columns.{}]; expected consumption, incentives, bills or customers", kind_name.get_ref()))
            })?;
            let entry = columns.entry(kind).or_default();
            for (field, aliases) in fields {
                if kind.column(field.get_ref()).is_none() {
                    let names: Vec<_> = kind.columns().iter().map(|c| c.name).collect();
                    return Err(self.at(
                        field,
                        &format!("columns.{kind}.{}", field.get_ref()),
                        format!("{kind} has no column {:?}; expected one of {}", field.get_ref(), names.join(", ")),
                    ));
                }
                entry.insert(field.get_ref().clone(), aliases.clone());
            }
        }

        let mut hasher = Sha256::new();
        hasher.update(self.text.as_bytes());
        Ok(RuleSet {
            path: self.path.to_string(),
            sha256: hex(&hasher.finalize()),
            name: p.name.clone(),
            version: p.version.clone(),
            currency: p.currency.clone().unwrap_or_else(|| "CNY".into()),
            tz,
            scale,
            rounding,
            tolerance,
            counted,
            association_types,
            association_lag_days,
            rebind_grace_months,
            late_window_hours,
            products,
            columns,
        })
    }
}

impl fmt::Display for RuleSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{} {} ({} products, time zone {}, scale {}, {}, tolerance {})", self.name, self.version, self.products.len(), self.tz, self.scale, self.rounding.name(), self.tolerance)?;
        let counted: Vec<_> = self.counted.iter().map(|c| c.name()).collect();
        writeln!(f, "  counted as 业绩: {}", counted.join(", "))?;
        let types: Vec<_> = self.association_types.iter().map(|a| a.key()).collect();
        writeln!(
            f,
            "  earns: {}; association lag {} days; rebind grace {} months; late window {} hours",
            types.join(", "),
            self.association_lag_days,
            self.rebind_grace_months,
            self.late_window_hours
        )?;
        for p in &self.products {
            let modes = p.charging_modes.as_ref().map_or("any".to_string(), |m| m.iter().map(|m| m.label()).collect::<Vec<_>>().join("|"));
            let dates = match (p.valid_from, p.valid_to) {
                (None, None) => String::new(),
                (f, t) => format!(" {}..{}", f.map_or(String::new(), |d| d.to_string()), t.map_or(String::new(), |d| d.to_string())),
            };
            writeln!(f, "  {:<24} {:<32} {:<12} rate {}{} lag {}", p.id, p.service_type.as_str(), modes, p.rate, dates, p.lag_months)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        let g = |p: &str, s: &str| Glob(p.into()).matches(s);
        assert!(g("hws.service.type.*", "hws.service.type.ec2"));
        assert!(g("*", ""));
        assert!(g("hws.*.ec2", "hws.service.type.ec2"));
        assert!(!g("hws.service.type.ec2", "hws.service.type.ec2x"));
        assert!(g("*cdn*", "hws.service.type.cdn"));
        assert!(!g("a*b", "acbd"));
    }

    fn invalid(text: &str) -> (usize, usize, String, String) {
        match RuleSet::from_toml(text, "r.toml") {
            Err(RulesError::Invalid { line, column, message, snippet, .. }) => (line, column, message, snippet),
            other => panic!("{text:?}: expected an invalid rules error, got {other:?}"),
        }
    }

    /// The syntax errors the TOML parser gives no words for are described: a value missing at
    /// the end of the file, a control character (shown as a visible symbol under the caret).
    #[test]
    fn syntax_errors_say_what_is_wrong() {
        let (line, column, message, _) = invalid("[policy]\nname =");
        assert_eq!((line, column), (2, 7));
        assert!(message.contains("value of \"name\" is missing after `=`") && message.contains("expected a value"), "{message}");
        let (line, column, message, snippet) = invalid("[policy]\nname = \"x\"\n# bad \u{1} comment\n");
        assert_eq!((line, column), (3, 7));
        assert!(message.contains("control character U+0001") && message.contains("not even in a comment"), "{message}");
        assert!(snippet.contains("# bad \u{2401} comment") && snippet.ends_with("      ^"), "{snippet}");
        let (_, _, message, _) = invalid("[policy]\nname = \"a\u{7f}\"\n");
        assert!(message.contains("U+007F (DEL)"), "{message}");
        let (_, _, message, _) = invalid("[policy]\nname =\n[base]\n");
        assert!(message.contains("value of \"name\" is missing"), "{message}");
        let (line, column, message, _) = invalid("[policy]\nname = \"x\n");
        assert_eq!((line, column), (2, 10));
        assert!(message.contains("invalid basic string: it is not closed; expected a closing quote"), "{message}");
        // the parser's own several-line messages are put on one line
        let (_, _, message, _) = invalid("[policy\n");
        assert!(!message.contains('\n') && message.contains("invalid table header; expected"), "{message}");
    }

    /// Whatever a rules file's syntax error, its message says something, on one line: every
    /// truncation of the example rules, and the example with a stray character at each line start.
    #[test]
    fn every_syntax_error_has_a_message() {
        let example = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/rules/example.toml")).expect("rules/example.toml");
        let mut texts: Vec<String> = (0..example.len()).filter(|&i| example.is_char_boundary(i)).map(|i| example[..i].to_string()).collect();
        let starts: Vec<usize> = std::iter::once(0).chain(example.match_indices('\n').map(|(i, _)| i + 1)).collect();
        for &at in &starts {
            for stray in ["\u{1}", "\u{7f}", "=", "\"", "[", "]", "{", ",", "x =", "é", "\u{0}"] {
                texts.push(format!("{}{stray}{}", &example[..at], &example[at..]));
            }
        }
        for text in &texts {
            if let Err(e) = RuleSet::from_toml(text, "r.toml") {
                let RulesError::Invalid { message, .. } = &e else { panic!("{e}") };
                assert!(!message.trim().is_empty() && !message.contains('\n'), "no message for {text:?}: {e}");
            }
        }
    }

    /// A rules file that is not UTF-8 is located at its first bad byte.
    #[test]
    fn a_rules_file_that_is_not_utf8_gets_a_line() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("r.toml");
        let mut bytes = b"[policy]\nname = \"".to_vec();
        bytes.extend_from_slice(&encoding_rs::GBK.encode("测试").0);
        bytes.extend_from_slice(b"\"\n");
        std::fs::write(&path, &bytes).expect("write");
        let e = RuleSet::load(&path).expect_err("not UTF-8");
        let RulesError::Invalid { line, column, message, .. } = &e else { panic!("{e}") };
        assert_eq!((*line, *column), (2, 9));
        assert!(message.contains("byte 0xB2 is not UTF-8") && message.contains("saved as UTF-8") && message.contains("GBK"), "{message}");
        std::fs::write(&path, b"\xFF\xFE[\0p\0").expect("write");
        let e = RuleSet::load(&path).expect_err("UTF-16");
        assert!(e.to_string().contains("r.toml:1:1: byte 0xFF is not UTF-8") && e.to_string().contains("UTF-16"), "{e}");
    }
}
