//! Cell values as Partner Center writes them: amounts (`1,234.50`, `¥1234.5`, `(3.20)`), rates
//! (`6%`, `0.06`), and times (`2026-10-31 23:30:00 GMT+08:00`, RFC 3339, naive local times).
//! Each parser returns the reason a value is unreadable, which becomes the `reason` column of
//! `rejected.csv`.

use chrono::{DateTime, NaiveDate, NaiveDateTime};
use rust_decimal::Decimal;

use crate::model::{PolicyTz, AMOUNT_SCALE};

/// `s.trim()`, without looking at each character when the first and the last are plainly not
/// white space (ASCII other than tab to CR and space): every cell read is trimmed, most have
/// nothing to trim.
pub fn trim(s: &str) -> &str {
    let plain = |b: &u8| b.is_ascii() && !matches!(b, b'\t'..=b'\r' | b' ');
    match (s.as_bytes().first(), s.as_bytes().last()) {
        (Some(a), Some(z)) if plain(a) && plain(z) => s,
        _ => s.trim(),
    }
}

/// An amount; `None` for an empty cell. Parentheses mean negative.
pub fn parse_amount(raw: &str) -> Result<Option<Decimal>, String> {
    // The common shape (`-1234.50`: digits, a point, a leading minus) parsed in place: the
    // general path below would remove nothing from it, so both give the same value.
    let t = trim(raw);
    if !t.is_empty() && t != "-" && t.bytes().enumerate().all(|(i, b)| b.is_ascii_digit() || b == b'.' || (b == b'-' && i == 0)) {
        let d = parse_plain_decimal(t).ok_or_else(|| format!("not an amount: expected a number such as 1,234.50, ¥1234.5 or (3.20), got {raw:?}"))?;
        return fit_scale(d).map(Some).ok_or_else(|| format!("amount {raw:?} has more than {AMOUNT_SCALE} decimal places"));
    }
    let mut s: String = raw.trim().chars().filter(|c| !matches!(c, ',' | ' ' | '\u{a0}')).collect();
    if s.is_empty() || s == "-" {
        return Ok(None);
    }
    let mut negative = false;
    if s.starts_with('(') && s.ends_with(')') {
        negative = true;
        s = s[1..s.len() - 1].to_string();
    }
    for prefix in ["¥", "￥", "CNY", "RMB", "元"] {
        if let Some(rest) = s.strip_prefix(prefix) {
            s = rest.to_string();
        }
        if let Some(rest) = s.strip_suffix(prefix) {
            s = rest.to_string();
        }
    }
    if let Some(rest) = s.strip_prefix('-') {
        if let Some(rest) = rest.strip_prefix('¥').or_else(|| rest.strip_prefix('￥')) {
            s = format!("-{rest}");
        }
    }
    let d = parse_plain_decimal(&s).ok_or_else(|| format!("not an amount: expected a number such as 1,234.50, ¥1234.5 or (3.20), got {raw:?}"))?;
    let d = if negative { -d } else { d };
    fit_scale(d).map(Some).ok_or_else(|| format!("amount {raw:?} has more than {AMOUNT_SCALE} decimal places"))
}

/// [`parse_amount`] as the physical value at [`AMOUNT_SCALE`] (what [`to_phys`] gives):
/// the common shape (`-1234.50`, at most 18 digits and 10 places) is read straight into an
/// integer, anything else goes the general way.
pub fn parse_amount_phys(raw: &str) -> Result<Option<i128>, String> {
    match plain_phys(trim(raw).as_bytes()) {
        Some(v) => Ok(Some(v)),
        None => Ok(parse_amount(raw)?.map(to_phys)),
    }
}

/// `[-]digits[.digits]` with at most 18 digits and [`AMOUNT_SCALE`] places, scaled to
/// [`AMOUNT_SCALE`]; `None` for any other text.
fn plain_phys(b: &[u8]) -> Option<i128> {
    let (negative, digits) = match b.split_first()? {
        (b'-', rest) => (true, rest),
        _ => (false, b),
    };
    let (int, frac) = match digits.iter().position(|&c| c == b'.') {
        Some(p) if p + 1 < digits.len() => (&digits[..p], &digits[p + 1..]),
        Some(_) => return None,
        None => (digits, &[][..]),
    };
    if int.is_empty() || int.len() + frac.len() > 18 || frac.len() > AMOUNT_SCALE as usize {
        return None;
    }
    let mut m: i128 = 0;
    for &c in int.iter().chain(frac) {
        if !c.is_ascii_digit() {
            return None;
        }
        m = m * 10 + i128::from(c - b'0');
    }
    m *= 10i128.pow(AMOUNT_SCALE - frac.len() as u32);
    Some(if negative { -m } else { m })
}

/// A decimal in plain or scientific notation (`1.5E-3`, as some exports write small floats).
fn parse_plain_decimal(s: &str) -> Option<Decimal> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'-' | b'+' | b'e' | b'E')) {
        return None;
    }
    if s.contains(['e', 'E']) {
        return Decimal::from_scientific(s).ok();
    }
    Decimal::from_str_exact(s.strip_prefix('+').unwrap_or(s)).ok()
}

/// Normalises a value to at most [`AMOUNT_SCALE`] places without rounding it.
fn fit_scale(d: Decimal) -> Option<Decimal> {
    let n = d.normalize();
    (n.scale() <= AMOUNT_SCALE).then_some(n)
}

/// A decimal as the physical `i128` of polars' `Decimal(38, AMOUNT_SCALE)`.
pub fn to_phys(d: Decimal) -> i128 {
    let mut d = d;
    d.rescale(AMOUNT_SCALE);
    d.mantissa()
}

pub fn from_phys(v: i128) -> Decimal {
    Decimal::from_i128_with_scale(v, AMOUNT_SCALE).normalize()
}

/// A rate: `6%` and `0.06` both mean six per cent. Must lie in [0, 1].
pub fn parse_rate(raw: &str) -> Result<Option<Decimal>, String> {
    let s = raw.trim();
    if s.is_empty() {
        return Ok(None);
    }
    let (num, pct) = match s.strip_suffix('%') {
        Some(n) => (n.trim(), true),
        None => (s, false),
    };
    let d = parse_plain_decimal(num).ok_or_else(|| format!("not a rate: expected 6% or 0.06, got {raw:?}"))?;
    let d = if pct { d / Decimal::ONE_HUNDRED } else { d };
    if d < Decimal::ZERO || d > Decimal::ONE {
        return Err(format!("rate {raw:?} is outside 0..1 (0%..100%)"));
    }
    Ok(Some(d.normalize()))
}

/// [`parse_rate`] as the physical value at [`AMOUNT_SCALE`]: `6%`, `12.5%` and `0.06` are read
/// straight into an integer; anything else (and every refusal) goes the general way.
pub fn parse_rate_phys(raw: &str) -> Result<Option<i128>, String> {
    const ONE: i128 = 10i128.pow(AMOUNT_SCALE);
    let s = trim(raw).as_bytes();
    let fast = match s.split_last() {
        Some((b'%', num)) => plain_phys(num).filter(|v| v % 100 == 0).map(|v| v / 100),
        _ => plain_phys(s),
    };
    match fast {
        Some(v) if (0..=ONE).contains(&v) => Ok(Some(v)),
        _ => Ok(parse_rate(raw)?.map(to_phys)),
    }
}

/// A point in time, as UTC epoch seconds. Naive times are in the policy time zone.
pub fn parse_time(raw: &str, tz: PolicyTz) -> Result<i64, String> {
    let s = trim(raw);
    if s.is_empty() {
        return Err("time is empty".into());
    }
    if let Some(t) = fast_time(s.as_bytes(), tz) {
        return Ok(t);
    }
    // `2026-10-31 23:30:00 GMT+08:00` (Partner Center exports), also `UTC+08:00`.
    for marker in [" GMT", " UTC"] {
        if let Some(i) = s.find(marker) {
            let (local, zone) = s.split_at(i);
            let zone = PolicyTz::parse(zone.trim()).ok_or_else(|| bad_time(raw))?;
            let naive = parse_naive(local.trim()).ok_or_else(|| bad_time(raw))?;
            return Ok(zone.local_to_utc(naive));
        }
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.timestamp());
    }
    // RFC 3339 with a space instead of T, or an offset without a colon.
    for fmt in ["%Y-%m-%d %H:%M:%S%.f%:z", "%Y-%m-%dT%H:%M:%S%.f%z", "%Y-%m-%d %H:%M:%S%.f%z"] {
        if let Ok(t) = DateTime::parse_from_str(s, fmt) {
            return Ok(t.timestamp());
        }
    }
    if let Some(naive) = parse_naive(s) {
        return Ok(tz.local_to_utc(naive));
    }
    Err(bad_time(raw))
}

/// The common shapes without the general parser: `YYYY-MM-DD HH:MM:SS` (or `T`), optionally
/// followed by `Z`, ` GMT+08:00` or `+08:00`. Anything else returns `None` and takes the slow path.
fn fast_time(b: &[u8], tz: PolicyTz) -> Option<i64> {
    if b.len() < 19 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b' ' | b'T') || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        b[r].iter().try_fold(0u32, |acc, &c| c.is_ascii_digit().then(|| acc * 10 + (c - b'0') as u32))
    };
    let date = NaiveDate::from_ymd_opt(num(0..4)? as i32, num(5..7)?, num(8..10)?)?;
    let naive = date.and_hms_opt(num(11..13)?, num(14..16)?, num(17..19)?)?;
    let rest = &b[19..];
    let zone = match rest {
        [] => tz,
        [b'Z'] => PolicyTz { offset_secs: 0 },
        _ => {
            let text = std::str::from_utf8(rest).ok()?.trim();
            let text = text.strip_prefix("GMT").or_else(|| text.strip_prefix("UTC")).unwrap_or(text);
            if !text.starts_with(['+', '-']) {
                return None;
            }
            PolicyTz::parse(text)?
        }
    };
    Some(zone.local_to_utc(naive))
}

fn bad_time(raw: &str) -> String {
    format!("not a time: expected 2026-10-31 23:30:00 GMT+08:00, 2026-10-31T15:30:00Z or 2026-10-31 23:30:00, got {raw:?}")
}

/// A local date-time without zone: `2026-10-31 23:30:00`, `2026/10/31 23:30`, `2026-10-31`.
pub fn parse_naive(s: &str) -> Option<NaiveDateTime> {
    const FORMATS: [&str; 6] = [
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y/%m/%d %H:%M:%S%.f",
        "%Y-%m-%d %H:%M",
        "%Y/%m/%d %H:%M",
        "%Y%m%d%H%M%S",
    ];
    for f in FORMATS {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, f) {
            return Some(t.with_nanosecond_zero());
        }
    }
    for f in ["%Y-%m-%d", "%Y/%m/%d", "%Y%m%d"] {
        if let Ok(d) = NaiveDate::parse_from_str(s, f) {
            return d.and_hms_opt(0, 0, 0);
        }
    }
    None
}

trait ZeroNanos {
    fn with_nanosecond_zero(self) -> Self;
}

impl ZeroNanos for NaiveDateTime {
    /// Trade times are compared at whole seconds, the precision Partner Center exports carry.
    fn with_nanosecond_zero(self) -> Self {
        use chrono::Timelike;
        self.with_nanosecond(0).unwrap_or(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        #[test]
        fn the_quick_trim_is_trim(s in "[ \t\r\n\u{b}\u{c}\u{3000}\u{a0}a1,]{0,8}") {
            proptest::prop_assert_eq!(super::trim(&s), s.trim());
        }
    }

    fn amt(s: &str) -> Option<String> {
        parse_amount(s).ok().flatten().map(|d| d.to_string())
    }

    #[test]
    fn amounts_in_every_form() {
        assert_eq!(amt("1,234.50"), Some("1234.5".into()));
        assert_eq!(amt("¥1234.5"), Some("1234.5".into()));
        assert_eq!(amt("-3.20"), Some("-3.2".into()));
        assert_eq!(amt("(3.20)"), Some("-3.2".into()));
        assert_eq!(amt("0.123456"), Some("0.123456".into()));
        assert_eq!(amt("-¥5"), Some("-5".into()));
        assert_eq!(amt(""), None);
        assert!(parse_amount("abc").is_err());
        assert!(parse_amount("1.2.3").is_err());
        assert!(parse_amount("0.12345678901").is_err());
        assert_eq!(amt("1.5E-3"), Some("0.0015".into()));
    }

    #[test]
    fn amounts_read_straight_as_integers_equal_the_general_reading() {
        let general = |s: &str| parse_amount(s).map(|o| o.map(to_phys));
        for s in [
            "0", "-0", "-0.00", "007.50", "1234.5", "-1234.50", "0.0000000001", "999999999999999999", "99999999.9999999999",
            "1.", ".5", "-.5", "-", "", " 12.30 ", "1.2.3", "1,234.50", "(3.20)", "0.12345678901", "1234567890123456789",
            "12345678901234567.89", "1.5E-3", "+5", "--5", "5-",
        ] {
            assert_eq!(parse_amount_phys(s), general(s), "{s:?}");
        }
    }

    proptest::proptest! {
        #[test]
        fn rates_read_as_integers_equal_the_general_reading(int in 0u64..1000, frac in "[0-9]{0,12}", pct in proptest::bool::ANY, neg in proptest::bool::ANY) {
            let s = format!("{}{int}{}{frac}{}", if neg { "-" } else { "" }, if frac.is_empty() { "" } else { "." }, if pct { "%" } else { "" });
            proptest::prop_assert_eq!(parse_rate_phys(&s), parse_rate(&s).map(|o| o.map(to_phys)));
        }

        #[test]
        fn plain_amounts_read_as_integers_equal_the_general_reading(neg in proptest::bool::ANY, int in 0u64..10_000_000_000_000, frac in "[0-9]{0,11}") {
            let s = format!("{}{int}{}{frac}", if neg { "-" } else { "" }, if frac.is_empty() { "" } else { "." });
            proptest::prop_assert_eq!(parse_amount_phys(&s), parse_amount(&s).map(|o| o.map(to_phys)));
        }
    }

    #[test]
    fn rates() {
        let r = |s: &str| parse_rate(s).ok().flatten().map(|d| d.to_string());
        assert_eq!(r("6%"), Some("0.06".into()));
        assert_eq!(r("0.06"), Some("0.06".into()));
        assert_eq!(r("12.5%"), Some("0.125".into()));
        assert!(parse_rate("150%").is_err());
        assert!(parse_rate("-0.1").is_err());
    }

    #[test]
    fn times_in_every_form() {
        let tz = PolicyTz::BEIJING;
        let want = 1_793_462_400 - 1800; // 2026-10-31 23:30:00 +08:00
        assert_eq!(parse_time("2026-10-31 23:30:00 GMT+08:00", tz), Ok(want));
        assert_eq!(parse_time("2026-10-31T15:30:00Z", tz), Ok(want));
        assert_eq!(parse_time("2026-10-31 23:30:00", tz), Ok(want));
        assert_eq!(parse_time("2026/10/31 23:30:00", tz), Ok(want));
        assert_eq!(parse_time("2026-10-31 23:30:00 GMT+00:00", tz), Ok(want + 8 * 3600));
        assert_eq!(parse_time("2026-10-31T23:30:00+08:00", tz), Ok(want));
        assert_eq!(parse_time("2026-10-31T15:30:00.000Z", tz), Ok(want));
        assert_eq!(parse_time("2026-10-31 23:30:00 UTC+08:00", tz), Ok(want));
        assert!(parse_time("2026-02-30 10:00:00", tz).is_err());
        assert!(parse_time("2026-10-31 24:00:00", tz).is_err());
        assert!(parse_time("31.10.2026", tz).is_err());
        assert!(parse_time("", tz).is_err());
    }
}
