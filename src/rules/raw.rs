//! The rules file exactly as written: serde structs that refuse unknown keys and keep the span of
//! every value that validation may need to point at.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRules {
    pub policy: RawPolicy,
    #[serde(default)]
    pub base: Option<RawBase>,
    #[serde(default)]
    pub attribution: Option<RawAttribution>,
    #[serde(default)]
    pub rollover: Option<RawRollover>,
    #[serde(default)]
    pub product: Vec<RawProduct>,
    #[serde(default)]
    pub columns: BTreeMap<Spanned<String>, BTreeMap<Spanned<String>, Vec<String>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPolicy {
    pub name: String,
    #[serde(default)]
    pub version: String,
    #[serde(default)]
    pub currency: Option<String>,
    #[serde(default)]
    pub timezone: Option<Spanned<String>>,
    #[serde(default)]
    pub scale: Option<Spanned<i64>>,
    #[serde(default)]
    pub rounding: Option<Spanned<String>>,
    #[serde(default)]
    pub tolerance: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBase {
    pub counted: Spanned<Vec<Spanned<String>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAttribution {
    #[serde(default)]
    pub association_types: Option<Spanned<Vec<Spanned<String>>>>,
    #[serde(default)]
    pub association_lag_days: Option<Spanned<i64>>,
    #[serde(default)]
    pub rebind_grace_months: Option<Spanned<i64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRollover {
    #[serde(default)]
    pub late_window_hours: Option<Spanned<i64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawProduct {
    pub id: Spanned<String>,
    pub service_type: Spanned<String>,
    #[serde(default)]
    pub charging_modes: Option<Vec<Spanned<String>>>,
    pub rate: Spanned<String>,
    #[serde(default)]
    pub valid_from: Option<Spanned<String>>,
    #[serde(default)]
    pub valid_to: Option<Spanned<String>>,
    #[serde(default)]
    pub lag_months: Option<Spanned<i64>>,
    #[serde(default)]
    pub reason: String,
}
