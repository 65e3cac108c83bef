//! Types at the boundary: statement periods, charging modes, association types, payment
//! components, the policy time zone and money. Each is parsed and validated once, where a value
//! enters the program (an input cell or a rules key), so the engine never sees a raw string
//! where one of these belongs.

pub mod schema;

/// At most this many source rows are cited per finding, then `+N more`.
pub const MAX_CITES: usize = 20;

/// Bytes (a digest) as lower-case hexadecimal.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 15) as usize] as char);
    }
    s
}


use std::fmt;

use chrono::{Datelike, NaiveDate, NaiveDateTime, TimeZone, Timelike};
use rust_decimal::Decimal;

// Money and rates are exact decimals (`rust_decimal::Decimal`); inside polars they are
// `Decimal(38, AMOUNT_SCALE)`.

/// Decimal places kept for input amounts (the partner bill's line amounts are not truncated).
/// A value with more significant decimal places is rejected, never silently rounded.
pub const AMOUNT_SCALE: u32 = 10;

/// A calendar month (`YYYY-MM`): a statement period (对账期次) or a bill cycle (账期).
/// Stored as months since year 0 so that `+ lag_months` is integer addition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Period(pub i32);

impl Period {
    pub fn new(year: i32, month: u32) -> Option<Period> {
        if !(1..=12).contains(&month) || !(1900..=9999).contains(&year) {
            return None;
        }
        Some(Period(year * 12 + month as i32 - 1))
    }

    pub fn year(self) -> i32 {
        self.0.div_euclid(12)
    }

    pub fn month(self) -> u32 {
        (self.0.rem_euclid(12) + 1) as u32
    }

    pub fn add_months(self, n: i32) -> Period {
        Period(self.0 + n)
    }

    /// Accepts `2026-10`, `2026/10`, `202610`, `2026年10月` (and `2026-1`, `2026年1月`).
    pub fn parse(s: &str) -> Option<Period> {
        let s = s.trim();
        let (y, m) = if let Some(rest) = s.strip_suffix('月') {
            let (y, m) = rest.split_once('年')?;
            (y, m)
        } else if let Some((y, m)) = s.split_once(['-', '/', '.']) {
            (y, m)
        } else if s.len() == 6 && s.bytes().all(|b| b.is_ascii_digit()) {
            (&s[..4], &s[4..])
        } else {
            return None;
        };
        let (y, m) = (y.trim(), m.trim());
        if y.len() != 4 || m.is_empty() || m.len() > 2 {
            return None;
        }
        if !y.bytes().all(|b| b.is_ascii_digit()) || !m.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        Period::new(y.parse().ok()?, m.parse().ok()?)
    }

    /// The first instant of the month in the policy time zone, as UTC epoch seconds.
    pub fn start_ts(self, tz: PolicyTz) -> i64 {
        let date = NaiveDate::from_ymd_opt(self.year(), self.month(), 1).unwrap_or_default();
        tz.local_to_utc(date.and_hms_opt(0, 0, 0).unwrap_or_default())
    }

    /// The first instant of the next month: the exclusive end of this one.
    pub fn end_ts(self, tz: PolicyTz) -> i64 {
        self.add_months(1).start_ts(tz)
    }
}

impl Period {
    /// The `YYYY-MM` that `Display` writes, in `buf` (no String: a large run hashes one per key).
    pub fn text(self, buf: &mut [u8; 16]) -> &str {
        let (y, m) = (self.year(), self.month());
        if (0..=9999).contains(&y) {
            let y = y as u32;
            *buf = [0; 16];
            buf[..7].copy_from_slice(&[b'0' + (y / 1000) as u8, b'0' + (y / 100 % 10) as u8, b'0' + (y / 10 % 10) as u8, b'0' + (y % 10) as u8, b'-', b'0' + (m / 10) as u8, b'0' + (m % 10) as u8]);
            return std::str::from_utf8(&buf[..7]).unwrap_or_default();
        }
        use std::io::Write as _;
        let mut cursor = std::io::Cursor::new(&mut buf[..]);
        let _ = write!(cursor, "{self}");
        let n = cursor.position() as usize;
        std::str::from_utf8(&buf[..n]).unwrap_or_default()
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.year(), self.month())
    }
}

/// The policy time zone: a fixed offset east of UTC (`+08:00` for Beijing time).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PolicyTz {
    pub offset_secs: i32,
}

impl PolicyTz {
    pub const BEIJING: PolicyTz = PolicyTz { offset_secs: 8 * 3600 };

    /// `+08:00`, `-05:30`, `UTC`, `Z`, `GMT+08:00`, `UTC+8`.
    pub fn parse(s: &str) -> Option<PolicyTz> {
        let s = s.trim();
        let s = s.strip_prefix("GMT").or_else(|| s.strip_prefix("UTC")).unwrap_or(s);
        if s.is_empty() || s == "Z" {
            return Some(PolicyTz { offset_secs: 0 });
        }
        let (sign, rest) = match s.as_bytes()[0] {
            b'+' => (1, &s[1..]),
            b'-' => (-1, &s[1..]),
            _ => return None,
        };
        let (h, m) = match rest.split_once(':') {
            Some((h, m)) => (h, m),
            None if rest.len() == 4 => (&rest[..2], &rest[2..]),
            None => (rest, "0"),
        };
        let h: i32 = h.parse().ok()?;
        let m: i32 = m.parse().ok()?;
        if !(0..=14).contains(&h) || !(0..60).contains(&m) {
            return None;
        }
        Some(PolicyTz { offset_secs: sign * (h * 3600 + m * 60) })
    }

    pub fn local_to_utc(self, local: NaiveDateTime) -> i64 {
        local.and_utc().timestamp() - self.offset_secs as i64
    }

    pub fn utc_to_local(self, ts: i64) -> NaiveDateTime {
        chrono::DateTime::from_timestamp(ts + self.offset_secs as i64, 0)
            .unwrap_or_default()
            .naive_utc()
    }

    /// The local calendar date of an instant, as days since 1970-01-01.
    pub fn local_day(self, ts: i64) -> i32 {
        (ts + self.offset_secs as i64).div_euclid(86_400) as i32
    }

    /// The month an instant falls in, in this time zone.
    pub fn period_of(self, ts: i64) -> Period {
        let d = self.utc_to_local(ts);
        Period::new(d.year(), d.month()).unwrap_or(Period(0))
    }

    pub fn offset(self) -> chrono::FixedOffset {
        chrono::FixedOffset::east_opt(self.offset_secs).unwrap_or(chrono::FixedOffset::east_opt(0).unwrap_or_else(|| unreachable!()))
    }

    /// Formats an instant as local time with its offset: `2026-10-31 23:30:00 GMT+08:00`.
    pub fn format(self, ts: i64) -> String {
        let off = self.offset();
        match off.timestamp_opt(ts, 0).single() {
            // (fields written one by one, where they are what %Y-%m-%d writes: chrono's `format`
            // parses its pattern on every call, and a run formats a time per NOT_ATTRIBUTED key)
            Some(t) if (0..=9999).contains(&t.year()) => {
                format!("{:04}-{:02}-{:02} {:02}:{:02}:{:02} GMT{off}", t.year(), t.month(), t.day(), t.hour(), t.minute(), t.second())
            }
            Some(t) => format!("{} GMT{}", t.format("%Y-%m-%d %H:%M:%S"), off),
            None => ts.to_string(),
        }
    }
}

impl fmt::Display for PolicyTz {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.offset())
    }
}

/// Days since 1970-01-01 of a calendar date.
pub fn epoch_day(d: NaiveDate) -> i32 {
    (d - NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default()).num_days() as i32
}

/// 计费模式, normalised. Codes used inside frames: 0 = not given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ChargingMode {
    Subscription = 1,
    OnDemand = 2,
    Reserved = 3,
    SavingsPlan = 4,
}

/// Which numeric coding a file uses for 计费模式.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModeCoding {
    /// API and Partner Center exports: 1 包年/包月, 3 按需, 10 预留实例, 11 节省计划.
    Api,
    /// customerBill delivery: 0 包年/包月, 1 按需, 2–3 预留实例, 4–6 节省计划.
    Bill,
}

impl ChargingMode {
    pub const ALL: [ChargingMode; 4] = [
        ChargingMode::Subscription,
        ChargingMode::OnDemand,
        ChargingMode::Reserved,
        ChargingMode::SavingsPlan,
    ];

    pub fn label(self) -> &'static str {
        match self {
            ChargingMode::Subscription => "包年/包月",
            ChargingMode::OnDemand => "按需",
            ChargingMode::Reserved => "预留实例",
            ChargingMode::SavingsPlan => "节省计划",
        }
    }

    pub fn code(self) -> i32 {
        self as i32
    }

    pub fn from_code(code: i32) -> Option<ChargingMode> {
        ChargingMode::ALL.into_iter().find(|m| m.code() == code)
    }

    /// Text always wins; numbers follow the file's coding.
    pub fn parse(s: &str, coding: ModeCoding) -> Option<ChargingMode> {
        let t = s.trim();
        // The Chinese labels first: no lower-casing needed (every row of an export has one).
        if t.starts_with("包年") || t.starts_with("包月") || t.starts_with("包周期") {
            return Some(ChargingMode::Subscription);
        }
        if t.starts_with("按需") {
            return Some(ChargingMode::OnDemand);
        }
        if t.starts_with("预留实例") {
            return Some(ChargingMode::Reserved);
        }
        if t.starts_with("节省计划") {
            return Some(ChargingMode::SavingsPlan);
        }
        let lower = t.to_ascii_lowercase();
        if lower == "subscription" || lower == "yearly/monthly" {
            return Some(ChargingMode::Subscription);
        }
        if lower == "on-demand" || lower == "pay-per-use" || lower == "ondemand" {
            return Some(ChargingMode::OnDemand);
        }
        if lower.starts_with("reserved") {
            return Some(ChargingMode::Reserved);
        }
        if lower.starts_with("savings") {
            return Some(ChargingMode::SavingsPlan);
        }
        let n: i32 = t.strip_suffix(".0").unwrap_or(t).parse().ok()?;
        match (coding, n) {
            (ModeCoding::Api, 1) => Some(ChargingMode::Subscription),
            (ModeCoding::Api, 3) => Some(ChargingMode::OnDemand),
            (ModeCoding::Api, 10) => Some(ChargingMode::Reserved),
            (ModeCoding::Api, 11) => Some(ChargingMode::SavingsPlan),
            (ModeCoding::Bill, 0) => Some(ChargingMode::Subscription),
            (ModeCoding::Bill, 1) => Some(ChargingMode::OnDemand),
            (ModeCoding::Bill, 2 | 3) => Some(ChargingMode::Reserved),
            (ModeCoding::Bill, 4..=6) => Some(ChargingMode::SavingsPlan),
            _ => None,
        }
    }
}

/// 关联类型. Codes inside frames: 0 = unknown, 1 = referral, 2 = resale (the API's codes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Association {
    Referral = 1,
    Resale = 2,
}

impl Association {
    pub fn parse(s: &str) -> Option<Association> {
        let t = s.trim();
        match t {
            "代售" | "垫付" | "2" => Some(Association::Resale),
            "顾问销售" | "推荐" | "1" => Some(Association::Referral),
            _ if t.eq_ignore_ascii_case("resale") => Some(Association::Resale),
            _ if t.eq_ignore_ascii_case("referral") => Some(Association::Referral),
            _ => None,
        }
    }

    pub fn code(self) -> i32 {
        self as i32
    }

    pub fn from_code(code: i32) -> Option<Association> {
        match code {
            1 => Some(Association::Referral),
            2 => Some(Association::Resale),
            _ => None,
        }
    }

    pub fn key(self) -> &'static str {
        match self {
            Association::Referral => "referral",
            Association::Resale => "resale",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Association::Referral => "顾问销售",
            Association::Resale => "代售",
        }
    }
}

/// The payment components of a consumption row (consume_amount is their sum).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Component {
    Cash,
    Credit,
    Coupon,
    FlexipurchaseCoupon,
    StoredValueCard,
    Bonus,
    Debt,
    Writeoff,
}

impl Component {
    pub const ALL: [Component; 8] = [
        Component::Cash,
        Component::Credit,
        Component::Coupon,
        Component::FlexipurchaseCoupon,
        Component::StoredValueCard,
        Component::Bonus,
        Component::Debt,
        Component::Writeoff,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Component::Cash => "cash_amount",
            Component::Credit => "credit_amount",
            Component::Coupon => "coupon_amount",
            Component::FlexipurchaseCoupon => "flexipurchase_coupon_amount",
            Component::StoredValueCard => "stored_value_card_amount",
            Component::Bonus => "bonus_amount",
            Component::Debt => "debt_amount",
            Component::Writeoff => "writeoff_amount",
        }
    }

    pub fn from_name(s: &str) -> Option<Component> {
        Component::ALL.into_iter().find(|c| c.name() == s)
    }
}

/// Rounding of an incentive amount to the policy's scale.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rounding {
    HalfUp,
    HalfEven,
    Down,
}

impl Rounding {
    pub fn apply(self, v: Decimal, scale: u32) -> Decimal {
        use rust_decimal::RoundingStrategy as R;
        let strategy = match self {
            Rounding::HalfUp => R::MidpointAwayFromZero,
            Rounding::HalfEven => R::MidpointNearestEven,
            Rounding::Down => R::ToZero,
        };
        let mut r = v.round_dp_with_strategy(scale, strategy);
        r.rescale(scale);
        r
    }

    pub fn name(self) -> &'static str {
        match self {
            Rounding::HalfUp => "half_up",
            Rounding::HalfEven => "half_even",
            Rounding::Down => "down",
        }
    }
}

/// Formats money with at least two decimals and no trailing zeros beyond them.
pub fn fmt_money(v: Decimal) -> String {
    let mut s = String::new();
    fmt_money_into(&mut s, v);
    s
}

/// [`fmt_money`] appended to `out`.
pub fn fmt_money_into(out: &mut String, v: Decimal) {
    let mut buf = [0u8; 48];
    out.push_str(money_str(v, &mut buf));
}

/// Money as [`fmt_money`] writes it, for `format!` and `write!` without a String of its own.
#[derive(Debug, Clone, Copy)]
pub struct MoneyText(pub Decimal);

impl fmt::Display for MoneyText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut buf = [0u8; 48];
        f.write_str(money_str(self.0, &mut buf))
    }
}

/// [`fmt_money`]'s text in `buf`, in integer arithmetic on the decimal's mantissa and scale
/// (exact, and several times faster than normalising and printing the Decimal: a large run
/// prints about nine amounts per finding).
pub fn money_str(v: Decimal, buf: &mut [u8; 48]) -> &str {
    let m = v.mantissa().unsigned_abs();
    if m == 0 {
        return "0.00";
    }
    // Most amounts are whole cents (sums of inputs read at AMOUNT_SCALE, amounts rounded to
    // cents): printed from the number of cents, without going over each trailing zero.
    if let Some(cents) = whole_cents(m, v.scale()) {
        let mut out = 0;
        if v.is_sign_negative() {
            buf[0] = b'-';
            out = 1;
        }
        let mut int = itoa::Buffer::new();
        let int = int.format(cents / 100).as_bytes();
        buf[out..out + int.len()].copy_from_slice(int);
        out += int.len();
        let c = (cents % 100) as u8;
        buf[out..out + 3].copy_from_slice(&[b'.', b'0' + c / 10, b'0' + c % 10]);
        return std::str::from_utf8(&buf[..out + 3]).unwrap_or("0.00");
    }
    // The digits, least significant first, in 64-bit arithmetic (128-bit division is a slow
    // library call): a wide mantissa is taken as two halves of at most 19 digits.
    let (mut digits, mut n) = ([0u8; 40], 0usize);
    match u64::try_from(m) {
        Ok(x) => push_digits(x, 1, &mut digits, &mut n),
        Err(_) => {
            const E19: u128 = 10_000_000_000_000_000_000;
            push_digits((m % E19) as u64, 19, &mut digits, &mut n);
            push_digits((m / E19) as u64, 1, &mut digits, &mut n);
        }
    }
    // Drop trailing zeros beyond two decimals; pad to two decimals.
    let (mut low, mut scale) = (0usize, v.scale() as usize);
    while scale > 2 && digits[low] == 0 {
        low += 1;
        scale -= 1;
    }
    let pad = 2usize.saturating_sub(scale);
    let mut out = 0;
    let mut put = |b: u8| {
        buf[out] = b;
        out += 1;
    };
    if v.is_sign_negative() {
        put(b'-');
    }
    let point = low + scale;
    if n > point {
        for i in (point..n).rev() {
            put(b'0' + digits[i]);
        }
    } else {
        put(b'0');
    }
    put(b'.');
    for i in (low..point).rev() {
        put(b'0' + if i < n { digits[i] } else { 0 });
    }
    for _ in 0..pad {
        put(b'0');
    }
    // Only ASCII digits, '.' and '-' were written.
    std::str::from_utf8(&buf[..out]).unwrap_or("0.00")
}

/// The mantissa `m` at `scale` as a whole number of cents, when it is one and fits 64 bits.
fn whole_cents(m: u128, scale: u32) -> Option<u64> {
    let m = u64::try_from(m).ok()?;
    match scale {
        0..=2 => m.checked_mul(10u64.pow(2 - scale)),
        3..=21 => {
            let unit = 10u64.pow(scale - 2);
            (m % unit == 0).then_some(m / unit)
        }
        _ => None,
    }
}

/// Appends the decimal digits of `x`, least significant first, at least `at_least` of them.
fn push_digits(mut x: u64, at_least: usize, digits: &mut [u8; 40], n: &mut usize) {
    let start = *n;
    while x > 0 || *n - start < at_least {
        digits[*n] = (x % 10) as u8;
        x /= 10;
        *n += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What fmt_money wrote before money_str: normalise, pad to two decimals, print the Decimal.
    fn money_by_decimal(v: Decimal) -> String {
        let mut v = v.normalize();
        if v.scale() < 2 {
            v.rescale(2);
        }
        if v.is_zero() {
            "0.00".to_string()
        } else {
            v.to_string()
        }
    }

    #[test]
    fn period_text_is_what_display_writes() {
        let mut buf = [0u8; 16];
        for p in [Period(0), Period(1900 * 12), Period(2026 * 12 + 9), Period(9999 * 12 + 11), Period(10_000 * 12), Period(-13)] {
            assert_eq!(p.text(&mut buf), p.to_string());
        }
    }

    #[test]
    fn money_text_at_the_edges() {
        for (v, want) in [
            ("0", "0.00"),
            ("-0.000", "0.00"),
            ("0.05", "0.05"),
            ("-0.05", "-0.05"),
            ("1", "1.00"),
            ("-12.5", "-12.50"),
            ("100.000", "100.00"),
            ("0.001", "0.001"),
            ("123456789.123456", "123456789.123456"),
            ("-0.0000000000000000000000000001", "-0.0000000000000000000000000001"),
            ("79228162514264337593543950335", "79228162514264337593543950335.00"),
        ] {
            let d: Decimal = v.parse().unwrap();
            assert_eq!(fmt_money(d), want, "{v}");
            assert_eq!(MoneyText(d).to_string(), want, "{v}");
        }
    }

    // Below 2^96 / 100, where padding to two decimals fits a Decimal (above it the Decimal print
    // drops decimals; money_str keeps two).
    proptest::proptest! {
        #[test]
        fn a_time_reads_as_chrono_formats_it(ts in -80_000_000_000i64..300_000_000_000, offset_min in -14 * 60i32..=14 * 60) {
            let tz = PolicyTz { offset_secs: offset_min * 60 };
            let off = tz.offset();
            let by_chrono = off.timestamp_opt(ts, 0).single().map(|t| format!("{} GMT{}", t.format("%Y-%m-%d %H:%M:%S"), off));
            proptest::prop_assert_eq!(Some(tz.format(ts)), by_chrono);
        }

        #[test]
        fn money_text_equals_the_decimal_print(lo in proptest::num::u32::ANY, mid in proptest::num::u32::ANY, hi in 0u32..42_949_672, neg: bool, scale in 0u32..=28) {
            let d = Decimal::from_parts(lo, mid, hi, neg, scale);
            proptest::prop_assert_eq!(fmt_money(d), money_by_decimal(d));
        }

        #[test]
        fn money_text_of_whole_cents(cents in proptest::num::u64::ANY, small in 0u64..100_000_000, neg: bool, scale in 0u32..=28) {
            // cents × 10^(scale-2) at any scale, so that the whole-cents path is taken when it fits
            for c in [cents, small] {
                let (m, s) = if scale >= 2 { (u128::from(c).checked_mul(10u128.pow(scale - 2)), scale) } else { (Some(u128::from(c)), 2) };
                if let Some(m) = m.filter(|&m| m < 1u128 << 96) {
                    let d = Decimal::from_i128_with_scale(if neg { -(m as i128) } else { m as i128 }, s);
                    proptest::prop_assert_eq!(fmt_money(d), money_by_decimal(d));
                }
            }
        }

        #[test]
        fn money_text_of_64_bit_amounts(m in proptest::num::u64::ANY, small in 0u64..100_000, neg: bool, scale in 0u32..=28) {
            for v in [m, small] {
                let d = Decimal::from_parts(v as u32, (v >> 32) as u32, 0, neg, scale);
                proptest::prop_assert_eq!(fmt_money(d), money_by_decimal(d));
            }
        }
    }

    #[test]
    fn periods_in_every_form() {
        for s in ["2026-10", "2026/10", "202610", "2026年10月", " 2026-10 "] {
            assert_eq!(Period::parse(s), Period::new(2026, 10), "{s}");
        }
        assert_eq!(Period::parse("2026-1"), Period::new(2026, 1));
        for bad in ["2026-13", "26-10", "2026", "20261", "abc", "2026-10-01", ""] {
            assert_eq!(Period::parse(bad), None, "{bad}");
        }
        assert_eq!(Period::new(2026, 12).map(|p| p.add_months(1).to_string()), Some("2027-01".into()));
    }

    #[test]
    fn month_end_in_beijing_time() {
        let p = Period::new(2026, 10).unwrap_or(Period(0));
        // 2026-11-01 00:00:00 +08:00 is 2026-10-31 16:00:00 UTC
        assert_eq!(p.end_ts(PolicyTz::BEIJING), 1_793_462_400);
        assert_eq!(PolicyTz::BEIJING.period_of(1_793_462_400 - 1), p);
        assert_eq!(PolicyTz::BEIJING.period_of(1_793_462_400), p.add_months(1));
    }

    #[test]
    fn charging_mode_codings() {
        assert_eq!(ChargingMode::parse("1", ModeCoding::Api), Some(ChargingMode::Subscription));
        assert_eq!(ChargingMode::parse("1", ModeCoding::Bill), Some(ChargingMode::OnDemand));
        assert_eq!(ChargingMode::parse("0", ModeCoding::Api), None);
        assert_eq!(ChargingMode::parse("5", ModeCoding::Bill), Some(ChargingMode::SavingsPlan));
        assert_eq!(ChargingMode::parse("预留实例-订购", ModeCoding::Bill), Some(ChargingMode::Reserved));
        assert_eq!(ChargingMode::parse("包周期", ModeCoding::Api), Some(ChargingMode::Subscription));
    }

    #[test]
    fn rounding_modes() {
        let v: Decimal = "0.125".parse().unwrap_or_default();
        assert_eq!(Rounding::HalfUp.apply(v, 2).to_string(), "0.13");
        assert_eq!(Rounding::HalfEven.apply(v, 2).to_string(), "0.12");
        assert_eq!(Rounding::Down.apply(-v, 2).to_string(), "-0.12");
        assert_eq!(Rounding::HalfUp.apply(-v, 2).to_string(), "-0.13");
    }
}
