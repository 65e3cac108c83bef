//! The columns of each input kind and the headers accepted for them (contract §1). Headers match
//! after trimming and ignoring case; for each column the first alias found wins. Aliases from the
//! rules file's `[columns.<kind>]` are tried before the built-in ones.

use std::collections::HashMap;
use std::fmt;

/// The four kinds of input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    Consumption,
    Incentives,
    Bills,
    Customers,
}

impl Kind {
    pub const ALL: [Kind; 4] = [Kind::Consumption, Kind::Incentives, Kind::Bills, Kind::Customers];

    pub fn name(self) -> &'static str {
        match self {
            Kind::Consumption => "consumption",
            Kind::Incentives => "incentives",
            Kind::Bills => "bills",
            Kind::Customers => "customers",
        }
    }

    pub fn from_name(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.name() == s)
    }

    pub fn columns(self) -> &'static [Column] {
        match self {
            Kind::Consumption => CONSUMPTION,
            Kind::Incentives => INCENTIVES,
            Kind::Bills => BILLS,
            Kind::Customers => CUSTOMERS,
        }
    }

    pub fn column(self, name: &str) -> Option<&'static Column> {
        self.columns().iter().find(|c| c.name == name)
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A logical column and the headers that name it.
#[derive(Debug)]
pub struct Column {
    pub name: &'static str,
    pub aliases: &'static [&'static str],
    pub required: bool,
}

const fn col(name: &'static str, aliases: &'static [&'static str], required: bool) -> Column {
    Column { name, aliases, required }
}

pub const CONSUMPTION: &[Column] = &[
    col("bill_cycle", &["bill_cycle", "账期", "消费账期"], false),
    col("customer_id", &["customer_id", "客户ID"], true),
    col("customer_name", &["customer_name", "客户名称"], false),
    col("association_type", &["association_type", "关联类型"], false),
    col("service_type_code", &["service_type_code", "cloud_service_type", "产品类型编码"], true),
    col("service_type_name", &["service_type_name", "产品类型"], false),
    col("charging_mode", &["charging_mode", "charge_mode", "计费模式"], false),
    col("bill_type", &["bill_detail_type", "bill_type", "账单类型"], false),
    col("trade_id", &["trade_id", "order_id", "订单号/交易号", "订单号", "交易号"], true),
    col("original_order_id", &["original_order_id", "原订单号"], false),
    col("trade_time", &["trade_time", "客户交易时间", "交易时间"], true),
    col("payment_amount", &["payment_amount", "amount", "consume_amount", "应付金额", "消费金额"], false),
    col("cash_amount", &["cash_amount", "现金支付金额"], false),
    col("credit_amount", &["credit_amount", "信用额度支付金额"], false),
    col("coupon_amount", &["coupon_amount", "代金券支付金额"], false),
    col("flexipurchase_coupon_amount", &["flexipurchase_coupon_amount", "现金券支付金额"], false),
    col("stored_value_card_amount", &["stored_value_card_amount", "stored_card_amount", "储值卡支付金额"], false),
    col("bonus_amount", &["bonus_amount", "奖励金支付金额"], false),
    col("debt_amount", &["debt_amount", "欠费金额"], false),
    col("writeoff_amount", &["writeoff_amount", "adjustment_amount", "欠费核销金额"], false),
];

pub const INCENTIVES: &[Column] = &[
    col("incentive_period", &["incentive_period", "对账期次", "激励账期"], true),
    col("incentive_id", &["incentive_id", "激励数据ID"], false),
    col("statement_id", &["statement_id", "激励账单ID"], false),
    col("trade_id", &["trade_id", "订单号/交易号", "订单号"], true),
    col("customer_id", &["customer_id", "客户ID"], false),
    col("customer_name", &["customer_name", "客户名称"], false),
    col("service_type_code", &["service_type_code", "产品类型编码"], true),
    col("charging_mode", &["charging_mode", "计费模式"], false),
    col("base_amount", &["base_amount", "激励基数", "业绩金额"], false),
    col("rate", &["rate", "激励比例"], false),
    col("incentive_amount", &["incentive_amount", "激励金额"], true),
    col("incentive_type", &["incentive_type", "激励类型", "激励计划名称"], false),
    col("status", &["status", "状态"], false),
];

pub const BILLS: &[Column] = &[
    // Required, but a bill body from the API (bill_sums) has none: its cycle is in its file name.
    col("bill_cycle", &["bill_cycle", "账期"], false),
    col("customer_id", &["customer_id", "客户ID"], true),
    col("customer_name", &["customer_name", "客户名称"], false),
    col("service_type_code", &["service_type_code", "cloud_service_type", "产品类型编码"], true),
    col("amount", &["amount", "payment_amount", "应付金额", "消费金额"], true),
    col("trade_id", &["trade_id", "订单号/交易号"], false),
    col("charging_mode", &["charging_mode", "charge_mode", "计费模式"], false),
    col("bill_type", &["bill_type", "账单类型"], false),
];

pub const CUSTOMERS: &[Column] = &[
    col("customer_id", &["customer_id", "客户ID"], true),
    col("customer_name", &["customer_name", "客户名称"], false),
    col("association_type", &["association_type", "关联类型"], true),
    col("associated_at", &["associated_at", "关联时间"], false),
    col("rebound_at", &["rebound_at", "换绑时间"], false),
];

/// Extra aliases per kind and column, from the rules file.
pub type ExtraAliases = HashMap<Kind, HashMap<String, Vec<String>>>;

/// Normalises a header for matching: trimmed, BOM removed, lower case.
pub fn norm_header(h: &str) -> String {
    h.trim().trim_start_matches('\u{feff}').trim().to_lowercase()
}

/// Where each logical column was found in a file's header row.
#[derive(Debug, Clone)]
pub struct HeaderMap {
    pub kind: Kind,
    /// Logical column name to (index in the row, header as written).
    pub used: Vec<(&'static str, usize, String)>,
    /// Further columns of a column that may be empty in a row (see [`FALLBACK_COLUMNS`]): the
    /// other aliases present, in alias order, tried when the ones before are empty.
    pub fallback: Vec<(&'static str, usize, String)>,
    /// Headers that no column claimed.
    pub ignored: Vec<String>,
}

/// Columns whose value is the first non-empty of every alias column present: an export with both
/// 订单号 and 交易号 gives subscription rows an order number, pay-per-use rows only a transaction
/// number (contract §1).
pub const FALLBACK_COLUMNS: &[&str] = &["trade_id"];

impl HeaderMap {
    pub fn index(&self, name: &str) -> Option<usize> {
        self.used.iter().find(|(n, _, _)| *n == name).map(|(_, i, _)| *i)
    }

    pub fn has(&self, name: &str) -> bool {
        self.index(name).is_some()
    }
}

/// The aliases tried for a column, user-given first.
pub fn aliases_for(kind: Kind, column: &Column, extra: &ExtraAliases) -> Vec<String> {
    let mut out: Vec<String> = extra
        .get(&kind)
        .and_then(|m| m.get(column.name))
        .cloned()
        .unwrap_or_default();
    out.extend(column.aliases.iter().map(|s| s.to_string()));
    out
}

/// Maps a header row onto a kind's columns. Returns the map and the required columns missing.
pub fn map_headers(kind: Kind, headers: &[String], extra: &ExtraAliases) -> (HeaderMap, Vec<&'static Column>) {
    let normed: Vec<String> = headers.iter().map(|h| norm_header(h)).collect();
    let mut used = Vec::new();
    let mut fallback = Vec::new();
    let mut claimed = vec![false; headers.len()];
    let mut missing = Vec::new();
    let shown = |i: usize| headers[i].trim().trim_start_matches('\u{feff}').to_string();
    for column in kind.columns() {
        let aliases = aliases_for(kind, column, extra);
        let mut at = aliases.iter().flat_map(|alias| {
            let a = norm_header(alias);
            normed.iter().enumerate().filter(move |(_, h)| **h == a).map(|(i, _)| i).collect::<Vec<_>>()
        });
        let found = at.by_ref().find(|&i| !claimed[i]);
        match found {
            Some(i) => {
                claimed[i] = true;
                used.push((column.name, i, shown(i)));
                if FALLBACK_COLUMNS.contains(&column.name) {
                    for j in at {
                        if !claimed[j] {
                            claimed[j] = true;
                            fallback.push((column.name, j, shown(j)));
                        }
                    }
                }
            }
            None if column.required => missing.push(column),
            None => {}
        }
    }
    let ignored = headers
        .iter()
        .zip(&claimed)
        .filter(|(h, c)| !**c && !h.trim().is_empty())
        .map(|(h, _)| h.trim().to_string())
        .collect();
    (HeaderMap { kind, used, fallback, ignored }, missing)
}

/// Guesses the kind of a file from its headers: the kind with every required column present and
/// the most columns matched.
pub fn detect_kind(headers: &[String], extra: &ExtraAliases) -> Option<Kind> {
    let mut best: Option<(usize, Kind)> = None;
    for kind in [Kind::Incentives, Kind::Consumption, Kind::Bills, Kind::Customers] {
        let (map, missing) = map_headers(kind, headers, extra);
        if missing.is_empty() && best.is_none_or(|(n, _)| map.used.len() > n) {
            best = Some((map.used.len(), kind));
        }
    }
    best.map(|(_, k)| k)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn first_alias_wins_and_unknown_are_listed() {
        let (map, missing) = map_headers(
            Kind::Consumption,
            &h(&["\u{feff}客户ID", " Trade_ID ", "订单号", "产品类型编码", "交易时间", "备注"]),
            &ExtraAliases::new(),
        );
        assert!(missing.is_empty());
        assert_eq!(map.index("trade_id"), Some(1));
        assert_eq!(map.index("customer_id"), Some(0));
        // 订单号 feeds trade_id where Trade_ID is empty
        assert_eq!(map.fallback, vec![("trade_id", 2, "订单号".to_string())]);
        assert_eq!(map.ignored, vec!["备注".to_string()]);
    }

    #[test]
    fn user_aliases_come_first() {
        let mut extra = ExtraAliases::new();
        extra.insert(Kind::Consumption, HashMap::from([("trade_id".to_string(), vec!["单号".to_string()])]));
        let (map, _) = map_headers(Kind::Consumption, &h(&["订单号", "单号"]), &extra);
        assert_eq!(map.index("trade_id"), Some(1));
    }

    #[test]
    fn detects_kinds() {
        let e = ExtraAliases::new();
        assert_eq!(detect_kind(&h(&["对账期次", "订单号", "产品类型编码", "激励金额"]), &e), Some(Kind::Incentives));
        assert_eq!(detect_kind(&h(&["客户ID", "关联类型", "关联时间"]), &e), Some(Kind::Customers));
        assert_eq!(detect_kind(&h(&["账期", "客户ID", "产品类型编码", "应付金额"]), &e), Some(Kind::Bills));
        assert_eq!(
            detect_kind(&h(&["账期", "客户ID", "产品类型编码", "订单号", "交易时间", "应付金额"]), &e),
            Some(Kind::Consumption)
        );
    }
}
