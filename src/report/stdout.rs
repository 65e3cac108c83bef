//! The short summary a run prints to stdout.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use super::*;
use crate::engine::{Action, Category, Outcome};
use crate::load::Loaded;
use crate::model::fmt_money;
use crate::rules::RuleSet;

/// The short summary printed to stdout: inputs, each period's waterfall and categories.
pub fn print_summary(out: &mut impl Write, outcome: &Outcome, loaded: &Loaded, rules: &RuleSet, dir: &Path, followed: Option<&changes::Followed>) -> std::io::Result<()> {
    writeln!(out, "recon {VERSION}: {} {}", rules.name, rules.version)?;
    for i in &loaded.inputs {
        let rej = if i.rejected > 0 { format!(", {} rejected", i.rejected) } else { String::new() };
        writeln!(out, "  {:<12} {} ({} rows{rej})", i.kind.name(), i.path, i.rows)?;
    }
    for s in &loaded.skipped {
        writeln!(out, "  {:<12} {} ({})", "skipped", s.path, s.reason)?;
    }
    for p in &outcome.periods {
        writeln!(out)?;
        writeln!(out, "Statement period {}", p.period)?;
        let w = &p.waterfall;
        let rows: [(&str, &str, rust_decimal::Decimal); 10] = [
            ("  ", "consumption_total", w.consumption_total),
            ("- ", "ineligible_product", w.ineligible_product),
            ("- ", "not_attributed", w.not_attributed),
            ("- ", "excluded_payment", w.excluded_payment),
            ("- ", "rolled_out", w.rolled_out),
            ("+ ", "rolled_in", w.rolled_in),
            ("= ", "expected_base", w.expected_base),
            ("  ", "expected_incentive", w.expected_incentive),
            ("  ", "actual_incentive", w.actual_incentive),
            ("  ", "difference", w.difference),
        ];
        for (sign, name, v) in rows {
            writeln!(out, "  {sign}{name:<20}{:>16}", fmt_money(v))?;
        }
        let order: BTreeMap<Category, (usize, rust_decimal::Decimal)> = p.categories.clone();
        for (c, (n, d)) in order {
            writeln!(out, "    {:<22}{:>6}{:>16}", c.name(), n, fmt_money(d))?;
        }
        writeln!(out, "  verdict: {}", outcome.counts.verdict(p.period).sentence())?;
    }
    for b in &outcome.bills {
        writeln!(out)?;
        writeln!(out, "Partner bill {} (grain: {})", b.cycle, b.grain.join(", "))?;
        writeln!(out, "    {:<22}{:>16}", "resale consumption", fmt_money(b.consumption_total))?;
        writeln!(out, "    {:<22}{:>16}", "bill total", fmt_money(b.bill_total))?;
        writeln!(out, "    {:<22}{:>16}", "difference", fmt_money(b.difference))?;
        writeln!(out, "    {:<22}{:>16}", "referral (not billed)", fmt_money(b.referral_consumption))?;
        for (c, (n, d)) in &b.categories {
            writeln!(out, "    {:<22}{:>6}{:>16}", c.name(), n, fmt_money(*d))?;
        }
    }
    if let Some(f) = followed {
        writeln!(out)?;
        writeln!(out, "Since the previous report (changes.csv)")?;
        for d in &f.differences {
            writeln!(out, "  note: {d}")?;
        }
        for c in changes::Change::ALL {
            let (n, d) = f.counts.get(&c).copied().unwrap_or_default();
            writeln!(out, "    {:<22}{:>6}{:>16}  {}", c.name(), n, fmt_money(d), c.label_zh())?;
        }
    }
    writeln!(out)?;
    writeln!(
        out,
        "{} findings: {} dispute, {} review, {} none; {} rows rejected; written to {}",
        outcome.counts.total,
        outcome.count(Action::Dispute),
        outcome.count(Action::Review),
        outcome.count(Action::None),
        loaded.rejects.len(),
        dir.display()
    )
}
