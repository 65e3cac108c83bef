//! summary.json as a type: [`Summary`] is what a run writes and what `verify`, `explain` and a
//! re-run read back (one serde type both ways, so a field cannot be written under one name and
//! read under another). Amounts are decimal strings, exact; maps keep their order (categories in
//! the engine's order).

use std::path::Path;

use serde::de::{MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::{io_err, ReportError, ENGINE, VERSION};
use crate::engine::{Action, Outcome};
use crate::load::{InputSummary, Loaded};
use crate::model::fmt_money;
use crate::rules::RuleSet;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub engine: EngineInfo,
    pub rules: RulesInfo,
    pub inputs: Vec<InputInfo>,
    pub options: OptionsInfo,
    #[serde(default)]
    pub scope: Vec<String>,
    #[serde(default)]
    pub loaded_periods: Vec<String>,
    #[serde(default)]
    pub periods: Vec<PeriodInfo>,
    #[serde(default)]
    pub bills: Vec<BillInfo>,
    pub findings: FindingCounts,
    #[serde(default)]
    pub rejected: u64,
    #[serde(default)]
    pub skipped: Vec<SkippedInfo>,
    /// The earlier report this run followed (`--previous`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous: Option<PreviousInfo>,
    /// Per change (NEW, OPEN, CHANGED, RESOLVED, DROPPED), how many findings and their delta.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub changes: Option<Categories>,
    /// Every other output of the run with its sha256 (see [`crate::outdir`]), written last.
    #[serde(default)]
    pub outputs: Vec<OutputInfo>,
}

/// One output file of a run (a name in --out) and its sha256.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct OutputInfo {
    pub path: String,
    pub sha256: String,
}

/// The previous report a run followed, and what differs between the two runs.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PreviousInfo {
    pub path: String,
    pub summary_sha256: String,
    pub findings_sha256: String,
    #[serde(default)]
    pub differences: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EngineInfo {
    pub name: String,
    pub version: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RulesInfo {
    pub name: String,
    pub version: String,
    #[serde(default)]
    pub path: String,
    pub sha256: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct InputInfo {
    pub path: String,
    pub kind: String,
    #[serde(default)]
    pub format: String,
    pub sha256: String,
    pub rows: u64,
    pub accepted: u64,
    pub rejected: u64,
}

/// How the run was made, for re-runs (paths as cited).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct OptionsInfo {
    /// `run` or `demo`; missing in reports older than re-runs.
    #[serde(default)]
    pub command: Option<String>,
    #[serde(default)]
    pub rules: Option<String>,
    #[serde(default)]
    pub consumption: Vec<String>,
    #[serde(default)]
    pub incentives: Vec<String>,
    #[serde(default)]
    pub customers: Vec<String>,
    #[serde(default)]
    pub bills: Vec<String>,
    #[serde(default)]
    pub periods: Vec<String>,
    #[serde(default)]
    pub sheet: Option<String>,
    #[serde(default)]
    pub formats: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PeriodInfo {
    pub period: String,
    pub waterfall: WaterfallInfo,
    pub categories: Categories,
    /// `confirm` (确认账单: no finding of the period is a dispute) or `feedback` (问题反馈).
    #[serde(default)]
    pub verdict: String,
    /// The period's disputes: how many, and the sum of their deltas.
    #[serde(default)]
    pub disputes: CountDelta,
}

/// The waterfall of a period, each step a decimal string (contract §3's names and order).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct WaterfallInfo {
    pub consumption_total: String,
    pub ineligible_product: String,
    pub not_attributed: String,
    pub excluded_payment: String,
    pub rolled_out: String,
    pub rolled_in: String,
    pub expected_base: String,
    pub expected_incentive: String,
    pub actual_incentive: String,
    pub difference: String,
}

impl WaterfallInfo {
    /// The step `name` (one of §3's names; empty for another name).
    pub fn step(&self, name: &str) -> &str {
        match name {
            "consumption_total" => &self.consumption_total,
            "ineligible_product" => &self.ineligible_product,
            "not_attributed" => &self.not_attributed,
            "excluded_payment" => &self.excluded_payment,
            "rolled_out" => &self.rolled_out,
            "rolled_in" => &self.rolled_in,
            "expected_base" => &self.expected_base,
            "expected_incentive" => &self.expected_incentive,
            "actual_incentive" => &self.actual_incentive,
            "difference" => &self.difference,
            _ => "",
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BillInfo {
    pub bill_cycle: String,
    pub consumption_total: String,
    pub bill_total: String,
    pub difference: String,
    pub referral_consumption: String,
    pub unknown_association_consumption: String,
    pub grain: Vec<String>,
    pub categories: Categories,
}

impl BillInfo {
    /// The total `name` of the cycle (empty for another name).
    pub fn total(&self, name: &str) -> &str {
        match name {
            "consumption_total" => &self.consumption_total,
            "bill_total" => &self.bill_total,
            "difference" => &self.difference,
            "referral_consumption" => &self.referral_consumption,
            "unknown_association_consumption" => &self.unknown_association_consumption,
            _ => "",
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FindingCounts {
    pub total: u64,
    pub none: u64,
    pub dispute: u64,
    pub review: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SkippedInfo {
    pub path: String,
    pub reason: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CountDelta {
    pub count: u64,
    pub delta: String,
}

/// Categories by name, in the order written (a JSON object whose key order is kept both ways).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Categories(pub Vec<(String, CountDelta)>);

impl Serialize for Categories {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

impl Categories {
    /// The count and delta of category `name`, if present.
    pub fn get(&self, name: &str) -> Option<&CountDelta> {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v)
    }
}

impl<'de> Deserialize<'de> for Categories {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Categories;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an object of categories, each {count, delta}")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<Categories, A::Error> {
                let mut out = Vec::new();
                while let Some((k, v)) = a.next_entry::<String, CountDelta>()? {
                    out.push((k, v));
                }
                Ok(Categories(out))
            }
        }
        d.deserialize_map(V)
    }
}

fn input_info(i: &InputSummary) -> InputInfo {
    InputInfo {
        path: i.path.clone(),
        kind: i.kind.name().to_string(),
        format: i.format.to_string(),
        sha256: i.sha256.clone(),
        rows: i.rows as u64,
        accepted: i.accepted as u64,
        rejected: i.rejected as u64,
    }
}

fn categories<C: Copy>(cats: &std::collections::BTreeMap<C, (usize, rust_decimal::Decimal)>, name: impl Fn(C) -> &'static str) -> Categories {
    Categories(cats.iter().map(|(c, (count, delta))| (name(*c).to_string(), CountDelta { count: *count as u64, delta: fmt_money(*delta) })).collect())
}

impl Summary {
    /// The summary of a run.
    pub fn of(outcome: &Outcome, loaded: &Loaded, rules: &RuleSet, options: &OptionsInfo) -> Summary {
        let periods = outcome
            .periods
            .iter()
            .map(|p| {
                let w = &p.waterfall;
                PeriodInfo {
                    period: p.period.to_string(),
                    waterfall: WaterfallInfo {
                        consumption_total: fmt_money(w.consumption_total),
                        ineligible_product: fmt_money(w.ineligible_product),
                        not_attributed: fmt_money(w.not_attributed),
                        excluded_payment: fmt_money(w.excluded_payment),
                        rolled_out: fmt_money(w.rolled_out),
                        rolled_in: fmt_money(w.rolled_in),
                        expected_base: fmt_money(w.expected_base),
                        expected_incentive: fmt_money(w.expected_incentive),
                        actual_incentive: fmt_money(w.actual_incentive),
                        difference: fmt_money(w.difference),
                    },
                    categories: categories(&p.categories, |c| c.name()),
                    verdict: outcome.counts.verdict(p.period).name().to_string(),
                    disputes: {
                        let (count, delta) = outcome.counts.disputes.get(&p.period).copied().unwrap_or_default();
                        CountDelta { count: count as u64, delta: fmt_money(delta) }
                    },
                }
            })
            .collect();
        let bills = outcome
            .bills
            .iter()
            .map(|b| BillInfo {
                bill_cycle: b.cycle.to_string(),
                consumption_total: fmt_money(b.consumption_total),
                bill_total: fmt_money(b.bill_total),
                difference: fmt_money(b.difference),
                referral_consumption: fmt_money(b.referral_consumption),
                unknown_association_consumption: fmt_money(b.unknown_association_consumption),
                grain: b.grain.iter().map(|g| g.to_string()).collect(),
                categories: categories(&b.categories, |c| c.name()),
            })
            .collect();
        Summary {
            engine: EngineInfo { name: ENGINE.to_string(), version: VERSION.to_string() },
            rules: RulesInfo { name: rules.name.clone(), version: rules.version.clone(), path: rules.path.clone(), sha256: rules.sha256.clone() },
            inputs: loaded.inputs.iter().map(input_info).collect(),
            options: options.clone(),
            scope: outcome.scope.iter().map(|p| p.to_string()).collect(),
            loaded_periods: outcome.loaded_periods.iter().map(|p| p.to_string()).collect(),
            periods,
            bills,
            findings: FindingCounts {
                total: outcome.counts.total as u64,
                none: outcome.count(Action::None) as u64,
                dispute: outcome.count(Action::Dispute) as u64,
                review: outcome.count(Action::Review) as u64,
            },
            rejected: loaded.rejects.len() as u64,
            skipped: loaded.skipped.iter().map(|s| SkippedInfo { path: s.path.clone(), reason: s.reason.clone() }).collect(),
            previous: None,
            changes: None,
            outputs: Vec::new(),
        }
    }

    /// Writes summary.json: pretty-printed, with a final line break.
    pub fn write(&self, path: &Path) -> Result<(), ReportError> {
        let mut text = serde_json::to_string_pretty(self).unwrap_or_default();
        text.push('\n');
        std::fs::write(path, text).map_err(io_err(path))
    }

    /// Reads a report's summary.json; the error says what is wrong with it.
    pub fn read(path: &Path) -> Result<Summary, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read it ({e}); was the run written with --format json?"))?;
        serde_json::from_str(&text).map_err(|e| format!("not a recon summary.json: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_summary_reads_back_as_written_with_its_category_order() {
        let cd = |n: u64, d: &str| CountDelta { count: n, delta: d.to_string() };
        let s = Summary {
            engine: EngineInfo { name: "recon".into(), version: "0.1.0".into() },
            periods: vec![PeriodInfo {
                period: "2026-10".into(),
                categories: Categories(vec![("MATCHED".into(), cd(3, "0.00")), ("AMOUNT_MISMATCH".into(), cd(1, "-1.20")), ("DUPLICATE_INCENTIVE".into(), cd(1, "6.00"))]),
                ..PeriodInfo::default()
            }],
            options: OptionsInfo { command: Some("run".into()), sheet: None, ..OptionsInfo::default() },
            ..Summary::default()
        };
        let text = serde_json::to_string_pretty(&s).expect("json");
        assert!(text.find("MATCHED").expect("m") < text.find("AMOUNT_MISMATCH").expect("a"), "{text}");
        let back: Summary = serde_json::from_str(&text).expect("read back");
        assert_eq!(back, s);
    }

    #[test]
    fn a_file_that_is_not_a_summary_says_so() {
        let dir = tempfile::tempdir().expect("tmp");
        let p = dir.path().join("summary.json");
        std::fs::write(&p, r#"{"engine": 3}"#).expect("write");
        let e = Summary::read(&p).expect_err("not a summary");
        assert!(e.contains("not a recon summary.json"), "{e}");
    }
}
