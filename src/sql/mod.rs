//! `recon sql`: the validated rules compiled into one SQL script (contract §8) for Spark SQL
//! (3.3 and 3.5, ANSI mode on or off; Huawei Cloud DLI and MRS) or DuckDB. The script reads the
//! four tables `recon normalize` writes (`consumption`, `incentives`, `customers`, `bills`; an
//! input not given is an empty table of the same columns) and creates `findings` (the columns
//! of findings.csv, bill findings included) and `waterfall` (one row per statement period).
//!
//! It is the procedure of contract §3 as the engine runs it (`engine::frames`, `engine::decide`,
//! `engine::bills`, `engine::waterfall`), in set operations:
//! - the products are a VALUES table, matched first-match by priority on the distinct
//!   (service type, charging mode, local trade date) of the consumption rows;
//! - every time is UTC epoch seconds computed in integer arithmetic from the normalized UTC
//!   text, and the policy's offset is added explicitly: nothing depends on the session time
//!   zone;
//! - money is DECIMAL throughout, cast narrow enough (amounts DECIMAL(28,10), base × rate as
//!   DECIMAL(26,10) × DECIMAL(11,10) = DECIMAL(38,20)) that no operation needs more than 38
//!   digits, so Spark never reduces a scale, whatever `allowPrecisionLoss` says;
//! - rounding: half_up is `round` (half away from zero on decimals in both engines), half_even
//!   `bround` / `round_even`, down is half_up of the value moved half a unit towards zero.
//!
//! Every statement is one line ending in `;` (comment lines start with `--`), so a script can be
//! split by lines and fed to `spark.sql` a statement at a time, or submitted as a DLI SQL job.
//! Not compiled: `--period` (the scope is every loaded statement period, as a run without
//! `--period`).

use crate::model::{Association, Rounding};
use crate::rules::RuleSet;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Spark,
    DuckDb,
}

impl Dialect {
    pub fn parse(s: &str) -> Option<Dialect> {
        match s.trim().to_ascii_lowercase().as_str() {
            "spark" | "sparksql" | "spark-sql" | "dli" => Some(Dialect::Spark),
            "duckdb" => Some(Dialect::DuckDb),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Dialect::Spark => "spark",
            Dialect::DuckDb => "duckdb",
        }
    }

    /// A string literal.
    fn lit(self, s: &str) -> String {
        let s = s.replace('\'', "''");
        match self {
            // (Spark SQL reads a backslash in a literal as an escape)
            Dialect::Spark => format!("'{}'", s.replace('\\', "\\\\")),
            Dialect::DuckDb => format!("'{s}'"),
        }
    }

    fn string(self) -> &'static str {
        match self {
            Dialect::Spark => "STRING",
            Dialect::DuckDb => "VARCHAR",
        }
    }

    /// Integer division of non-negative integers.
    fn idiv(self, a: &str, b: &str) -> String {
        match self {
            Dialect::Spark => format!("(({a}) div ({b}))"),
            Dialect::DuckDb => format!("(({a}) // ({b}))"),
        }
    }

    /// Days since 1970-01-01 of a DATE.
    fn days(self, date: &str) -> String {
        match self {
            Dialect::Spark => format!("unix_date({date})"),
            Dialect::DuckDb => format!("date_diff('day', DATE '1970-01-01', {date})"),
        }
    }

    /// A `YYYY-MM-DD` text as a DATE.
    fn date_of(self, text: &str) -> String {
        match self {
            Dialect::Spark => format!("to_date({text})"),
            Dialect::DuckDb => format!("CAST({text} AS DATE)"),
        }
    }

    /// Days since 1970-01-01 plus `n` calendar months (a day past the month's end clamps to its
    /// last day), as days.
    fn add_months_days(self, days: &str, n: i32) -> String {
        match self {
            Dialect::Spark => format!("unix_date(add_months(date_from_unix_date(CAST({days} AS INT)), {n}))"),
            Dialect::DuckDb => format!("date_diff('day', DATE '1970-01-01', CAST((DATE '1970-01-01' + CAST({days} AS INTEGER)) + to_months({n}) AS DATE))"),
        }
    }

    fn sha256(self, s: &str) -> String {
        match self {
            Dialect::Spark => format!("sha2({s}, 256)"),
            Dialect::DuckDb => format!("sha256({s})"),
        }
    }

    /// The texts of a group joined by `sep`, in the order of `ord` (an aggregate), over the rows
    /// where `cond` holds.
    fn ordered_concat(self, text: &str, ord: &str, sep: &str, cond: &str) -> String {
        match self {
            Dialect::Spark => format!("array_join(transform(array_sort(collect_list(CASE WHEN {cond} THEN named_struct('o', {ord}, 's', {text}) END)), z_ -> z_.s), {})", self.lit(sep)),
            Dialect::DuckDb => format!("coalesce(string_agg(CASE WHEN {cond} THEN {text} END, {} ORDER BY {ord}), '')", self.lit(sep)),
        }
    }

    /// Money as text for an explanation: the decimal without trailing zeros past two places.
    fn money(self, x: &str) -> String {
        let s = self.string();
        match self {
            Dialect::Spark => format!("(CASE WHEN {x} IS NULL THEN '0.00' WHEN {x} = 0 THEN '0.00' ELSE regexp_replace(CAST({x} AS {s}), '(\\\\.[0-9][0-9][0-9]*?)0+$', '$1') END)"),
            Dialect::DuckDb => format!("(CASE WHEN {x} IS NULL THEN '0.00' WHEN {x} = 0 THEN '0.00' ELSE regexp_replace(CAST({x} AS {s}), '(\\.[0-9][0-9][0-9]*?)0+$', '\\1') END)"),
        }
    }

    /// An intermediate step. DuckDB: a temporary table. Spark: a table when later steps read it
    /// more than once ([`SHARED`]), else a temporary view (a view is re-analysed wherever it is
    /// read: were every step a (cached) view, the last steps' plans would hold thousands of
    /// copies of the first; a table per step writes files for nothing).
    fn temp(self, name: &str, select: &str) -> Vec<String> {
        match self {
            Dialect::Spark if SHARED.contains(&name) => vec![format!("DROP TABLE IF EXISTS {name};"), format!("CREATE TABLE {name} USING parquet AS {select};")],
            Dialect::Spark => vec![format!("CREATE OR REPLACE TEMPORARY VIEW {name} AS {select};")],
            Dialect::DuckDb => vec![format!("CREATE OR REPLACE TEMP TABLE {name} AS {select};")],
        }
    }

    /// A result table.
    fn result(self, name: &str, select: &str) -> Vec<String> {
        match self {
            Dialect::Spark => vec![format!("DROP TABLE IF EXISTS {name};"), format!("CREATE TABLE {name} USING parquet AS {select};")],
            Dialect::DuckDb => vec![format!("CREATE OR REPLACE TABLE {name} AS {select};")],
        }
    }

    /// Rounding of a decimal to `scale` places by the policy's rule.
    fn round(self, x: &str, rounding: Rounding, scale: u32) -> String {
        match rounding {
            Rounding::HalfUp => format!("round({x}, {scale})"),
            Rounding::HalfEven => match self {
                Dialect::Spark => format!("bround({x}, {scale})"),
                Dialect::DuckDb => format!("round_even({x}, {scale})"),
            },
            Rounding::Down => {
                // half a unit of the last place kept, e.g. 0.005 for two places
                let half = format!("CAST('0.{}5' AS DECIMAL(12,{}))", "0".repeat(scale as usize), scale + 1);
                format!("(CASE WHEN {x} >= 0 THEN round({x} - {half}, {scale}) ELSE round({x} + {half}, {scale}) END)")
            }
        }
    }
}

/// `YYYY-MM` text as months since year 0 (the engine's `Period`).
fn month_of(x: &str) -> String {
    format!("(CAST(substr({x}, 1, 4) AS INT) * 12 + CAST(substr({x}, 6, 2) AS INT) - 1)")
}

/// Months since year 0 as `YYYY-MM`.
fn month_text(d: Dialect, m: &str) -> String {
    let s = d.string();
    let y = d.idiv(m, "12");
    format!("concat(lpad(CAST({y} AS {s}), 4, '0'), '-', lpad(CAST(({m}) - {y} * 12 + 1 AS {s}), 2, '0'))")
}

/// A UTC `YYYY-MM-DD HH:MM:SS` text as epoch seconds (NULL stays NULL).
fn epoch_of(d: Dialect, t: &str) -> String {
    let days = d.days(&d.date_of(&format!("substr({t}, 1, 10)")));
    format!(
        "(CAST({days} AS BIGINT) * 86400 + CAST(substr({t}, 12, 2) AS BIGINT) * 3600 + CAST(substr({t}, 15, 2) AS BIGINT) * 60 + CAST(substr({t}, 18, 2) AS BIGINT))"
    )
}

/// The first instant (epoch seconds) of month `m` (months since year 0) in the policy zone.
fn month_start(d: Dialect, m: &str, offset: i64) -> String {
    let y = d.idiv(m, "12");
    let date = format!("make_date(CAST({y} AS INT), CAST(({m}) - {y} * 12 + 1 AS INT), 1)");
    format!("(CAST({} AS BIGINT) * 86400 - {offset})", d.days(&date))
}

/// The steps that later steps read more than once: tables in Spark (see [`Dialect::temp`]).
const SHARED: [&str; 8] = ["r_cons", "r_cust", "r_rows", "r_inc", "r_keys", "r_pairs", "r_frows", "r_bgrain"];

const MONEY: &str = "DECIMAL(28,10)";
const SUM: &str = "DECIMAL(30,10)";
const OUT: &str = "DECIMAL(38,10)";

/// The script for `rules` in `dialect`.
pub fn compile(rules: &RuleSet, d: Dialect) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut step = |comment: &str, stmts: Vec<String>| {
        out.push(String::new());
        for line in comment.lines() {
            out.push(format!("-- {line}"));
        }
        out.extend(stmts);
    };
    let s = d.string();
    let off = i64::from(rules.tz.offset_secs);
    let tol = format!("CAST('{}' AS {MONEY})", rules.tolerance);
    let max_shift = rules.max_shift();
    let late = rules.late_window_hours;

    let mut head = vec![
        format!("-- recon {} — reconciliation compiled from the rules file {} (sha256 {})", env!("CARGO_PKG_VERSION"), rules.path, rules.sha256),
        format!("-- policy {:?} version {:?}; dialect {}", rules.name, rules.version, d.name()),
        "-- Reads the tables consumption, incentives, customers and bills of `recon normalize` (an input not given: an empty table);".to_string(),
        "-- creates findings (findings.csv's columns) and waterfall (one row per statement period). One statement per line.".to_string(),
        format!(
            "-- time zone {} (offset {off} s, added explicitly), rounding {} to {} places, tolerance {}, counted {}, association types {}, association lag {} days, rebind grace {} months, late window {} h, max shift {} months",
            rules.tz,
            rules.rounding.name(),
            rules.scale,
            rules.tolerance,
            rules.counted.iter().map(|c| c.name()).collect::<Vec<_>>().join("+"),
            rules.association_types.iter().map(|a| a.key()).collect::<Vec<_>>().join(","),
            rules.association_lag_days,
            rules.rebind_grace_months,
            late,
            max_shift
        ),
    ];
    if d == Dialect::Spark {
        head.push("-- Spark: exact decimals without precision loss; times are computed from UTC text, independent of the session time zone.".to_string());
        head.push("SET spark.sql.decimalOperations.allowPrecisionLoss=false;".to_string());
        head.push("SET spark.sql.session.timeZone=UTC;".to_string());
    }
    let mut out_head = head;

    // ---- the policy: products ----
    let mut rows = Vec::new();
    for (i, p) in rules.products.iter().enumerate() {
        let st = p.service_type.as_str();
        let glob = st.contains('*');
        let pattern: String = st.chars().flat_map(|c| match c {
            '!' => vec!['!', '!'],
            '%' => vec!['!', '%'],
            '_' => vec!['!', '_'],
            '*' => vec!['%'],
            c => vec![c],
        }).collect();
        let modes = p.charging_modes.as_ref().map_or(format!("CAST(NULL AS {s})"), |m| {
            d.lit(&format!("|{}|", m.iter().map(|m| m.label()).collect::<Vec<_>>().join("|")))
        });
        let day = |date: Option<chrono::NaiveDate>| date.map_or("CAST(NULL AS INT)".to_string(), |x| format!("CAST({} AS INT)", crate::model::epoch_day(x)));
        rows.push(format!(
            "({}, {}, {}, {}, {}, {modes}, CAST('{}' AS DECIMAL(11,10)), {}, {}, {}, {}, {})",
            i + 1,
            d.lit(&p.id),
            d.lit(st),
            if glob { "true" } else { "false" },
            d.lit(&pattern),
            p.rate,
            day(p.valid_from),
            day(p.valid_to),
            p.lag_months,
            p.line,
            d.lit(&p.reason)
        ));
    }
    // (a VALUES table cannot be empty: a row of priority 0 stands for none and is filtered out)
    rows.push(format!("(0, '', '', false, '', CAST(NULL AS {s}), CAST('0' AS DECIMAL(11,10)), CAST(NULL AS INT), CAST(NULL AS INT), 0, 0, '')"));
    let cols = "prio, product_id, service_type, is_glob, pattern, modes, rate, valid_from, valid_to, lag_months, line, reason";
    let values = match d {
        Dialect::Spark => format!("SELECT * FROM VALUES {} AS t({cols})", rows.join(", ")),
        Dialect::DuckDb => format!("SELECT * FROM (VALUES {}) AS t({cols})", rows.join(", ")),
    };
    step("The products, in first-match order (valid_from/valid_to: days since 1970-01-01 of the local trade date; modes: |mode|mode|, NULL for any).", d.temp("r_products", &format!("SELECT * FROM ({values}) v WHERE prio > 0")));

    // ---- consumption rows ----
    let counted: Vec<String> = rules.counted.iter().map(|c| format!("coalesce(CAST({} AS {MONEY}), CAST(0 AS {MONEY}))", c.name())).collect();
    let base = if counted.is_empty() { format!("CAST(0 AS {MONEY})") } else { format!("CAST({} AS {MONEY})", counted.join(" + ")) };
    let ts = epoch_of(d, "trade_time");
    step(
        "Consumption rows: bill cycle as months since year 0, trade time as UTC epoch seconds, local trade date, base = Σ counted components.",
        d.temp(
            "r_cons",
            &format!(
                "SELECT row_no, source, {} AS cycle, customer_id, coalesce(customer_name, '') AS customer_name, CASE association_type WHEN 'resale' THEN 2 WHEN 'referral' THEN 1 ELSE 0 END AS assoc, service_type_code AS svc, coalesce(charging_mode, '') AS mode, trade_id AS trade, ts, {} AS day, CAST(payment_amount AS {MONEY}) AS pay, {base} AS base FROM (SELECT *, {ts} AS ts FROM consumption) c",
                month_of("bill_cycle"),
                d.idiv(&format!("ts + {off}"), "86400")
            ),
        ),
    );
    step("The distinct (service, mode, local date) and the first product that matches each.", d.temp("r_pkeys", "SELECT DISTINCT svc, mode, day FROM r_cons"));
    step(
        "First match wins.",
        d.temp(
            "r_pmatch",
            "SELECT svc, mode, day, prio, product_id, rate, lag_months FROM (SELECT k.svc, k.mode, k.day, p.prio, p.product_id, p.rate, p.lag_months, row_number() OVER (PARTITION BY k.svc, k.mode, k.day ORDER BY p.prio) AS rn FROM r_pkeys k JOIN r_products p ON (CASE WHEN p.is_glob THEN k.svc LIKE p.pattern ESCAPE '!' ELSE k.svc = p.service_type END) AND (p.modes IS NULL OR (k.mode <> '' AND instr(p.modes, concat('|', k.mode, '|')) > 0)) AND (p.valid_from IS NULL OR k.day >= p.valid_from) AND (p.valid_to IS NULL OR k.day <= p.valid_to)) x WHERE rn = 1",
        ),
    );

    // ---- customers ----
    let at = epoch_of(d, "associated_at");
    let rb = epoch_of(d, "rebound_at");
    let local_rb = format!("({rb} + {off})");
    let rb_day = d.idiv(&local_rb, "86400");
    let grace = format!("({} * 86400 + ({local_rb} - {rb_day} * 86400) - {off})", d.add_months_days(&rb_day, rules.rebind_grace_months));
    step(
        &format!("Customers: association type, and the instants before which consumption is not attributed (associated_at + {} days; rebound_at + {} months on the local calendar, same time of day).", rules.association_lag_days, rules.rebind_grace_months),
        d.temp(
            "r_cust",
            &format!(
                "SELECT customer_id, coalesce(customer_name, '') AS customer_name, row_no, CASE association_type WHEN 'resale' THEN 2 WHEN 'referral' THEN 1 ELSE 0 END AS assoc, {at} + {} AS lag_from, CASE WHEN rebound_at IS NULL THEN CAST(NULL AS BIGINT) ELSE {grace} END AS grace_from FROM customers",
                rules.association_lag_days * 86_400
            ),
        ),
    );
    step("Whether a customers file was given (a non-empty customers table).", d.temp("r_hasfile", "SELECT count(*) > 0 AS has_file FROM customers"));

    // ---- row decisions ----
    let referral = rules.lists(Association::Referral);
    let resale = rules.lists(Association::Resale);
    let all_listed = rules.association_types.len() == 2;
    let type_ok = format!("((coalesce(c_assoc, 0) = 1 AND {referral}) OR (coalesce(c_assoc, 0) = 2 AND {resale}) OR (coalesce(c_assoc, 0) = 0 AND {all_listed}))");
    let late_expr = if late > 0 { format!("(status = 0 AND ts >= {} - {})", month_start(d, "cycle + 1", off), late * 3600) } else { "false".to_string() };
    step(
        "Each consumption row decided: product, attribution (na: 0 none, 1 association type, 2 not in customers file, 3 association lag, 4 rebind grace), status (0 eligible, 1 ineligible product, 2 not attributed).",
        d.temp(
            "r_rows0",
            &format!(
                "SELECT c.*, m.prio, m.product_id, m.rate, coalesce(m.lag_months, 0) AS lag, CASE WHEN f.has_file THEN cu.assoc ELSE c.assoc END AS c_assoc, (NOT f.has_file OR cu.customer_id IS NOT NULL) AS in_file, cu.lag_from, cu.grace_from FROM r_cons c CROSS JOIN r_hasfile f LEFT JOIN r_pmatch m ON m.svc = c.svc AND m.mode = c.mode AND m.day = c.day LEFT JOIN r_cust cu ON cu.customer_id = c.customer_id"
            ),
        ),
    );
    step(
        "",
        d.temp(
            "r_rows1",
            &format!(
                "SELECT *, CASE WHEN prio IS NULL OR rate = 0 THEN 1 WHEN na <> 0 THEN 2 ELSE 0 END AS status FROM (SELECT *, CASE WHEN NOT in_file THEN 2 WHEN NOT {type_ok} THEN 1 WHEN lag_from IS NOT NULL AND ts < lag_from THEN 3 WHEN grace_from IS NOT NULL AND ts < grace_from THEN 4 ELSE 0 END AS na FROM r_rows0) x"
            ),
        ),
    );
    step(
        &format!("Expected period: bill cycle + lag_months, + 1 when traded in the last {late} hours of the cycle (policy time zone); ineligible and non-attributed rows stay in their cycle (kp: the row's key period)."),
        d.temp(
            "r_rows",
            "SELECT *, CASE WHEN status = 0 THEN exp ELSE cycle END AS kp FROM (SELECT *, CASE WHEN status = 0 THEN cycle + lag + CASE WHEN late THEN 1 ELSE 0 END ELSE cycle END AS exp FROM (SELECT *, LATE_EXPR AS late FROM r_rows1) a) b".replace("LATE_EXPR", &late_expr).as_str(),
        ),
    );

    // ---- incentives ----
    step(
        "Incentive rows.",
        d.temp(
            "r_inc",
            &format!(
                "SELECT row_no, source, {} AS period, trade_id AS trade, service_type_code AS svc, coalesce(customer_id, '') AS customer_id, coalesce(customer_name, '') AS customer_name, coalesce(charging_mode, '') AS mode, CAST(base_amount AS {MONEY}) AS base, CAST(rate AS {MONEY}) AS rate, CAST(incentive_amount AS {MONEY}) AS amount, dup_key FROM incentives",
                month_of("incentive_period")
            ),
        ),
    );
    step("Loaded statement periods L (the scope: all of them), their bounds, and the bill cycles loaded.", d.temp("r_loaded", "SELECT DISTINCT period FROM r_inc"));
    step("", d.temp("r_bounds", "SELECT min(period) AS first_l, max(period) AS last_l FROM r_inc"));
    step("", d.temp("r_cycles", "SELECT DISTINCT cycle FROM r_cons"));

    // ---- keys ----
    let e_inc = d.round("e_raw", rules.rounding, rules.scale);
    step(
        &format!("Expected side per key (expected period, trade, service): expected_incentive = round(Σ base × rate, {}, {}).", rules.scale, rules.rounding.name()),
        d.temp(
            "r_exp",
            &format!(
                "SELECT period, trade, svc, e_base, CAST({e_inc} AS {SUM}) AS e_inc, e_n FROM (SELECT kp AS period, trade, svc, CAST(sum(base) AS {SUM}) AS e_base, CAST(sum(CAST(base AS DECIMAL(26,10)) * CAST(rate AS DECIMAL(11,10))) AS DECIMAL(37,20)) AS e_raw, count(*) AS e_n FROM r_rows WHERE status = 0 GROUP BY kp, trade, svc) x"
            ),
        ),
    );
    step(
        "No-side consumption per key (bill cycle, trade, service).",
        d.temp("r_nos", "SELECT kp AS period, trade, svc, sum(CASE WHEN status = 1 THEN 1 ELSE 0 END) AS n_inel, sum(CASE WHEN status = 2 THEN 1 ELSE 0 END) AS n_na FROM r_rows WHERE status <> 0 GROUP BY kp, trade, svc"),
    );
    step(
        "Actual side per key (statement period, trade, service); a_distinct < a_n: two rows with the same incentive id (or identical rows).",
        d.temp(
            "r_act",
            &format!(
                "SELECT period, trade, svc, CAST(sum(amt) AS {SUM}) AS a_inc, CASE WHEN sum(bn) > 0 THEN CAST(sum(b) AS {SUM}) END AS a_base, sum(n) AS a_n, count(*) AS a_distinct FROM (SELECT period, trade, svc, dup_key, sum(amount) AS amt, sum(base) AS b, count(base) AS bn, count(*) AS n FROM r_inc GROUP BY period, trade, svc, dup_key) x GROUP BY period, trade, svc"
            ),
        ),
    );
    step(
        "Rule 4: keys where a statement rate differs from every rules rate of the key's expected rows.",
        d.temp(
            "r_ratediff",
            "SELECT a.period, a.trade, a.svc, count(*) AS n FROM (SELECT DISTINCT period, trade, svc, rate FROM r_inc WHERE rate IS NOT NULL) a LEFT JOIN (SELECT DISTINCT kp AS period, trade, svc, rate FROM r_rows WHERE status = 0) e ON e.period = a.period AND e.trade = a.trade AND e.svc = a.svc AND e.rate = a.rate WHERE e.rate IS NULL GROUP BY a.period, a.trade, a.svc",
        ),
    );
    step(
        "Every key: expected, actual and no-side, full-outer-joined.",
        d.temp(
            "r_keys",
            "SELECT k.*, (r.n IS NOT NULL) AS rate_diff FROM (SELECT coalesce(e.period, a.period, n.period) AS period, coalesce(e.trade, a.trade, n.trade) AS trade, coalesce(e.svc, a.svc, n.svc) AS svc, e.e_base, e.e_inc, coalesce(e.e_n, 0) AS e_n, a.a_inc, a.a_base, coalesce(a.a_n, 0) AS a_n, coalesce(a.a_distinct, 0) AS a_distinct, coalesce(n.n_inel, 0) AS n_inel, coalesce(n.n_na, 0) AS n_na FROM r_exp e FULL OUTER JOIN r_act a ON a.period = e.period AND a.trade = e.trade AND a.svc = e.svc FULL OUTER JOIN r_nos n ON n.period = coalesce(e.period, a.period) AND n.trade = coalesce(e.trade, a.trade) AND n.svc = coalesce(e.svc, a.svc)) k LEFT JOIN r_ratediff r ON r.period = k.period AND r.trade = k.trade AND r.svc = k.svc",
        ),
    );
    step(
        "Rule 7 pairing: expected-only keys with actual-only keys (not duplicated) of the same trade and service in another loaded period, in period order.",
        d.temp(
            "r_pairs",
            "SELECT e.period AS e_period, a.period AS a_period, e.trade, e.svc FROM (SELECT period, trade, svc, row_number() OVER (PARTITION BY trade, svc ORDER BY period) AS rn FROM r_keys WHERE e_n > 0 AND a_n = 0) e JOIN (SELECT period, trade, svc, row_number() OVER (PARTITION BY trade, svc ORDER BY period) AS rn FROM r_keys WHERE e_n = 0 AND a_n > 0 AND a_distinct >= a_n) a ON a.trade = e.trade AND a.svc = e.svc AND a.rn = e.rn",
        ),
    );
    step(
        "Rules 11-13: what consumption each trade and service has, over every key.",
        d.temp("r_seen", "SELECT trade, svc, max(CASE WHEN e_n > 0 OR n_inel + n_na > 0 THEN 1 ELSE 0 END) AS s_any, max(CASE WHEN n_inel > 0 THEN 1 ELSE 0 END) AS s_inel, max(CASE WHEN n_na > 0 THEN 1 ELSE 0 END) AS s_na FROM r_keys GROUP BY trade, svc"),
    );
    step(
        &format!("Rule 12: a bill cycle the period could stem from (period - {max_shift} ... period) is not loaded."),
        d.temp("r_stem", &format!("SELECT l.period, count(c.cycle) < {} AS unloaded FROM r_loaded l LEFT JOIN r_cycles c ON c.cycle BETWEEN l.period - {max_shift} AND l.period GROUP BY l.period", max_shift + 1)),
    );
    step(
        "Each key decided by the first rule that fits (NULL: no finding here: the expected half of a PERIOD_SHIFT, or a statement not loaded).",
        d.temp(
            "r_rule",
            &format!(
                "SELECT k.*, pa.e_period AS shift_from, CASE WHEN k.a_n > 0 AND k.a_distinct < k.a_n THEN 1 WHEN k.e_n > 0 AND k.a_n > 0 THEN CASE WHEN k.a_inc = k.e_inc THEN 2 WHEN abs(k.a_inc - k.e_inc) <= {tol} THEN 3 WHEN k.rate_diff THEN 4 WHEN k.a_base IS NOT NULL AND abs(k.a_base - k.e_base) > {tol} THEN 5 ELSE 6 END WHEN k.e_n > 0 THEN CASE WHEN pe.a_period IS NOT NULL THEN NULL WHEN b.last_l IS NULL OR k.period > b.last_l THEN 8 WHEN k.period < b.first_l THEN NULL WHEN abs(k.e_inc) <= {tol} THEN 9 ELSE 10 END WHEN k.a_n > 0 THEN CASE WHEN pa.e_period IS NOT NULL THEN 7 WHEN s.s_inel = 1 OR s.s_na = 1 THEN 11 WHEN s.s_any = 0 AND st.unloaded THEN 12 ELSE 13 END WHEN k.n_inel > 0 THEN 14 ELSE 15 END AS rule, s.s_inel FROM r_keys k CROSS JOIN r_bounds b LEFT JOIN r_pairs pa ON pa.a_period = k.period AND pa.trade = k.trade AND pa.svc = k.svc LEFT JOIN r_pairs pe ON pe.e_period = k.period AND pe.trade = k.trade AND pe.svc = k.svc LEFT JOIN r_seen s ON s.trade = k.trade AND s.svc = k.svc LEFT JOIN r_stem st ON st.period = k.period"
            ),
        ),
    );
    let category = "CASE rule WHEN 1 THEN 'DUPLICATE_INCENTIVE' WHEN 2 THEN 'MATCHED' WHEN 3 THEN 'ROUNDING' WHEN 4 THEN 'RATE_MISMATCH' WHEN 5 THEN 'BASE_MISMATCH' WHEN 6 THEN 'AMOUNT_MISMATCH' WHEN 7 THEN 'PERIOD_SHIFT' WHEN 8 THEN 'ROLLOVER_PENDING' WHEN 9 THEN CASE WHEN e_inc = 0 THEN 'MATCHED' ELSE 'ROUNDING' END WHEN 10 THEN 'MISSING_INCENTIVE' WHEN 11 THEN 'UNEXPECTED_INCENTIVE' WHEN 12 THEN 'OUT_OF_SCOPE' WHEN 13 THEN 'ORPHAN_INCENTIVE' WHEN 14 THEN 'INELIGIBLE_PRODUCT' ELSE 'NOT_ATTRIBUTED' END";
    let action = format!("CASE WHEN rule IN (2, 3, 8, 9, 12, 14, 15) THEN 'none' WHEN rule IN (1, 11, 13) THEN 'review' WHEN rule = 10 THEN 'dispute' WHEN rule = 7 AND abs(delta) <= {tol} THEN 'none' WHEN delta < 0 THEN 'dispute' ELSE 'review' END");
    step(
        "The finding of each decided key: a PERIOD_SHIFT takes its expected side from its partner; delta = actual - expected (0 for rules 14 and 15).",
        d.temp(
            "r_fkeys0",
            &format!(
                "SELECT r.period, r.trade, r.svc, r.rule, r.s_inel, CASE WHEN r.rule = 7 THEN r.shift_from WHEN r.e_n > 0 THEN r.period END AS e_period, CASE WHEN r.rule = 7 THEN x.e_base ELSE r.e_base END AS e_base, CASE WHEN r.rule = 7 THEN x.e_inc ELSE r.e_inc END AS e_inc, r.a_base, r.a_inc, r.a_n FROM r_rule r LEFT JOIN r_keys x ON r.rule = 7 AND x.period = r.shift_from AND x.trade = r.trade AND x.svc = r.svc WHERE r.rule IS NOT NULL"
            ),
        ),
    );
    step(
        "",
        d.temp(
            "r_fkeys",
            &format!("SELECT *, {category} AS category, {action} AS action FROM (SELECT *, CASE WHEN rule IN (14, 15) THEN CAST(0 AS {SUM}) ELSE CAST(coalesce(a_inc, CAST(0 AS {SUM})) - coalesce(e_inc, CAST(0 AS {SUM})) AS {SUM}) END AS delta FROM r_fkeys0) x"),
        ),
    );

    // ---- the rows behind each finding ----
    step(
        "Each consumption row's finding: its key's, or, for the expected half of a PERIOD_SHIFT, its partner's (fperiod).",
        d.temp(
            "r_frows",
            "SELECT coalesce(p.a_period, r.kp) AS fperiod, r.*, (l.period IS NOT NULL) AS cycle_loaded, row_number() OVER (PARTITION BY coalesce(p.a_period, r.kp), r.trade, r.svc ORDER BY r.row_no) AS rn FROM r_rows r LEFT JOIN r_pairs p ON p.e_period = r.kp AND p.trade = r.trade AND p.svc = r.svc LEFT JOIN r_loaded l ON l.period = r.cycle",
        ),
    );
    let na_name = "CASE na WHEN 1 THEN 'association_types' WHEN 2 THEN 'customers_file' WHEN 3 THEN 'association_lag_days' WHEN 4 THEN 'rebind_grace_months' ELSE 'none' END";
    let big = "1000000000000000";
    step(
        "Per finding, its consumption rows: count, first customer, first name and mode given, product ids and attribution reasons (for rule_ids), rollover reasons, citations (the first 20 in load order).",
        d.temp(
            "r_fcons",
            &format!(
                "SELECT fperiod, trade, svc, count(*) AS c_n, min_by(customer_id, row_no) AS customer_id, min_by(customer_name, CASE WHEN customer_name <> '' THEN row_no ELSE row_no + {big} END) AS customer_name, min_by(mode, CASE WHEN mode <> '' THEN row_no ELSE row_no + {big} END) AS mode, max(CASE WHEN status = 0 AND late THEN 1 ELSE 0 END) AS is_late, max(CASE WHEN status = 0 AND lag > 0 THEN 1 ELSE 0 END) AS is_lagged, max(CASE WHEN cycle_loaded THEN 1 ELSE 0 END) AS from_scope, CAST(sum(pay) AS {SUM}) AS pay, min(ts) AS first_ts, {} AS cites FROM r_frows GROUP BY fperiod, trade, svc",
                d.ordered_concat("source", "row_no", "; ", "rn <= 20")
            ),
        ),
    );
    step(
        "",
        d.temp("r_fprod", &format!("SELECT fperiod, trade, svc, {} AS products, {} AS product_ids FROM (SELECT DISTINCT fperiod, trade, svc, prio, product_id FROM r_frows WHERE prio IS NOT NULL) x GROUP BY fperiod, trade, svc", d.ordered_concat("concat(';product:', product_id)", "prio", "", "true"), d.ordered_concat("product_id", "prio", ", ", "true"))),
    );
    step(
        "",
        d.temp("r_fna", &format!("SELECT fperiod, trade, svc, {} AS reasons FROM (SELECT DISTINCT fperiod, trade, svc, na, {na_name} AS name FROM r_frows WHERE status = 2) x GROUP BY fperiod, trade, svc", d.ordered_concat("concat(';attribution:', name)", "na", "", "true"))),
    );
    step(
        "Per key, its incentive rows: count, first customer, name and mode given, citations.",
        d.temp(
            "r_finc",
            &format!(
                "SELECT period, trade, svc, count(*) AS i_n, min_by(customer_id, CASE WHEN customer_id <> '' THEN row_no ELSE row_no + {big} END) AS customer_id, min_by(customer_name, CASE WHEN customer_name <> '' THEN row_no ELSE row_no + {big} END) AS customer_name, min_by(mode, CASE WHEN mode <> '' THEN row_no ELSE row_no + {big} END) AS mode, {} AS cites FROM (SELECT *, row_number() OVER (PARTITION BY period, trade, svc ORDER BY row_no) AS rn FROM r_inc) x GROUP BY period, trade, svc",
                d.ordered_concat("source", "row_no", "; ", "rn <= 20")
            ),
        ),
    );

    // ---- findings of the keys ----
    let m = |x: &str| d.money(x);
    let p = month_text(d, "f.period");
    let ep = month_text(d, "f.e_period");
    let (a, e, b, ab, dl) = (m("f.a_inc"), m("f.e_inc"), m("f.e_base"), m("f.a_base"), m("f.delta"));
    let prods = "coalesce(pr.product_ids, '-')";
    let tolt = d.lit(&rules.tolerance.to_string());
    let late_zh = d.lit(&format!("（账期最后 {late} 小时内的消费或月结产品，顺延）"));
    let late_en = d.lit(&format!(" (late window of {late} h or monthly-settled: paid later)"));
    let shift_zh = format!("CASE WHEN c.is_late = 1 OR c.is_lagged = 1 THEN {late_zh} ELSE '' END");
    let shift_en = format!("CASE WHEN c.is_late = 1 OR c.is_lagged = 1 THEN {late_en} ELSE '' END");
    let cons_total = m("c.pay");
    let explanation = format!(
        "CASE f.rule \
WHEN 1 THEN concat('R1 对账期次 ', {p}, ' 的激励明细中同一激励数据重复出现（', CAST(f.a_n AS {s}), ' 行，合计 ', {a}, '），应得 ', {e}, '，差额 ', {dl}, ' | R1 statement ', {p}, ' holds the same incentive item more than once (', CAST(f.a_n AS {s}), ' rows totalling ', {a}, '); expected ', {e}, ', difference ', {dl}) \
WHEN 2 THEN concat('R2 实得激励 ', {a}, ' 等于应得激励 ', {e}, '（激励基数 ', {b}, ' × 产品 ', {prods}, '） | R2 actual incentive ', {a}, ' equals expected ', {e}, ' (base ', {b}, ' × product ', {prods}, ')') \
WHEN 3 THEN concat('R3 实得 ', {a}, ' 与应得 ', {e}, ' 相差 ', {dl}, '，在容差 ', {tolt}, ' 内 | R3 actual ', {a}, ' differs from expected ', {e}, ' by ', {dl}, ', within tolerance ', {tolt}) \
WHEN 4 THEN concat('R4 激励明细的激励比例与政策比例不符（产品 ', {prods}, '）：应得 ', {e}, '，实得 ', {a}, '，差额 ', {dl}, ' | R4 the statement rate differs from the policy (product ', {prods}, '): expected ', {e}, ', actual ', {a}, ', difference ', {dl}) \
WHEN 5 THEN concat('R5 激励基数不符：明细基数 ', {ab}, '，按消费计算 ', {b}, '；应得 ', {e}, '，实得 ', {a}, '，差额 ', {dl}, ' | R5 base differs: statement base ', {ab}, ', consumption base ', {b}, '; expected ', {e}, ', actual ', {a}, ', difference ', {dl}) \
WHEN 6 THEN concat('R6 激励金额不符：应得 ', {e}, '（激励基数 ', {b}, ' × 产品 ', {prods}, '），实得 ', {a}, '，差额 ', {dl}, ' | R6 amount differs: expected ', {e}, ' (base ', {b}, ' × product ', {prods}, '), actual ', {a}, ', difference ', {dl}) \
WHEN 7 THEN concat('R7 应在对账期次 ', {ep}, ' 结算的激励 ', {e}, {shift_zh}, '出现在 ', {p}, '，实得 ', {a}, '，差额 ', {dl}, ' | R7 incentive ', {e}, ' expected in period ', {ep}, {shift_en}, ' was paid in ', {p}, ': actual ', {a}, ', difference ', {dl}) \
WHEN 8 THEN concat('R8 激励 ', {e}, '（激励基数 ', {b}, '）应在对账期次 ', {ep}, ' 结算', {shift_zh}, '，该期尚未加载 | R8 incentive ', {e}, ' (base ', {b}, ') falls due in period ', {ep}, {shift_en}, ', which is not loaded yet') \
WHEN 9 THEN concat('R9 应得激励 ', {e}, '（激励基数 ', {b}, '）在容差内，激励明细中无此项 | R9 expected incentive ', {e}, ' (base ', {b}, ') is within tolerance; the statement has no line for it') \
WHEN 10 THEN concat('R10 对账期次 ', {p}, ' 的激励明细缺少该订单：应得 ', {e}, '（激励基数 ', {b}, ' × 产品 ', {prods}, {shift_zh}, '），实得 0，差额 ', {dl}, ' | R10 statement ', {p}, ' has no incentive for this order: expected ', {e}, ' (base ', {b}, ' × product ', {prods}, {shift_en}, '), actual 0, difference ', {dl}) \
WHEN 11 THEN concat('R11 对账期次 ', {p}, ' 发放了激励 ', {a}, '，但该订单的消费', CASE WHEN f.s_inel = 1 THEN '属于不参与激励的产品' ELSE '未归属本伙伴' END, '，应得 0 | R11 statement ', {p}, ' pays ', {a}, ', but ', CASE WHEN f.s_inel = 1 THEN 'its consumption is of a product that earns nothing' ELSE 'its consumption is not attributed to the partner' END, ': expected 0') \
WHEN 12 THEN concat('R12 对账期次 ', {p}, ' 的激励 ', {a}, ' 可能来自未加载的账期（前 {max_shift} 个月内），无法核对 | R12 incentive ', {a}, ' of period ', {p}, ' may stem from a bill cycle not loaded (up to {max_shift} months before); it cannot be checked') \
WHEN 13 THEN concat('R13 对账期次 ', {p}, ' 发放了激励 ', {a}, '，但已加载的消费中没有该订单和产品 | R13 statement ', {p}, ' pays ', {a}, ', but the loaded consumption has no such order and service') \
WHEN 14 THEN concat('R14 消费 ', {cons_total}, ' 的产品 ', f.svc, CASE WHEN pr.product_ids IS NOT NULL THEN concat('（', pr.product_ids, '，激励比例为 0）') ELSE '（不在激励政策的任何 [[product]] 中）' END, '，不产生激励 | R14 consumption ', {cons_total}, ' of ', f.svc, CASE WHEN pr.product_ids IS NOT NULL THEN concat(' is of product ', pr.product_ids, ' whose rate is 0') ELSE ' matches no [[product]] of the policy' END, ': it earns no incentive') \
ELSE concat('R15 消费 ', {cons_total}, ' 未归属伙伴（', substr(coalesce(na.reasons, ''), 14), '），不产生激励 | R15 consumption ', {cons_total}, ' is not attributed (', substr(coalesce(na.reasons, ''), 14), '): it earns no incentive') END"
    );
    let rule_ids = "concat('R', CAST(f.rule AS STRING_T), coalesce(pr.products, ''), coalesce(na.reasons, ''), CASE WHEN c.is_late = 1 THEN ';rollover:late_window_hours' ELSE '' END, CASE WHEN c.is_lagged = 1 THEN ';rollover:lag_months' ELSE '' END)".replace("STRING_T", s);
    let more = |n: &str, cites: &str| format!("CASE WHEN {n} IS NULL THEN '' WHEN {n} > 20 THEN concat({cites}, '; +', CAST({n} - 20 AS {s}), ' more') ELSE {cites} END");
    let mode_c = "CASE WHEN coalesce(c.mode, '') <> '' THEN c.mode ELSE coalesce(i.mode, '') END";
    let name_c = "CASE WHEN coalesce(c.customer_name, '') <> '' THEN c.customer_name WHEN coalesce(cu.customer_name, '') <> '' THEN cu.customer_name ELSE coalesce(i.customer_name, '') END";
    let fid = format!("concat('F', substr({}, 1, 12))", d.sha256(&format!("concat({p}, '|', f.trade, '|', f.svc)")));
    step(
        "The findings of the keys in scope (and the ROLLOVER_PENDING ones whose consumption is of a loaded cycle), with findings.csv's columns.",
        d.temp(
            "r_kfind",
            &format!(
                "SELECT {fid} AS finding_id, {p} AS period, f.category, f.action, coalesce(c.customer_id, i.customer_id, '') AS customer_id, {name_c} AS customer_name, f.trade AS trade_id, f.svc AS service_type_code, {mode_c} AS charging_mode, CASE WHEN f.e_period IS NULL THEN '' ELSE {ep} END AS expected_period, CAST(f.e_base AS {OUT}) AS expected_base, CAST(f.e_inc AS {OUT}) AS expected_incentive, CAST(f.a_base AS {OUT}) AS actual_base, CAST(f.a_inc AS {OUT}) AS actual_incentive, CAST(f.delta AS {OUT}) AS delta, {rule_ids} AS rule_ids, {explanation} AS explanation, {} AS consumption_rows, {} AS incentive_rows, 0 AS part, f.period AS o1, f.trade AS o2, f.svc AS o3, '' AS o4, '' AS o5 FROM r_fkeys f LEFT JOIN r_fcons c ON c.fperiod = f.period AND c.trade = f.trade AND c.svc = f.svc LEFT JOIN r_fprod pr ON pr.fperiod = f.period AND pr.trade = f.trade AND pr.svc = f.svc LEFT JOIN r_fna na ON na.fperiod = f.period AND na.trade = f.trade AND na.svc = f.svc LEFT JOIN r_finc i ON i.period = f.period AND i.trade = f.trade AND i.svc = f.svc LEFT JOIN r_cust cu ON cu.customer_id = coalesce(c.customer_id, i.customer_id) LEFT JOIN r_loaded lo ON lo.period = f.period WHERE lo.period IS NOT NULL OR (f.rule = 8 AND c.from_scope = 1)",
                more("c.c_n", "c.cites"),
                more("i.i_n", "i.cites")
            ),
        ),
    );

    // ---- the partner bill ----
    step(
        "Partner bill lines.",
        d.temp(
            "r_bills",
            &format!("SELECT row_no, source, {} AS cycle, customer_id AS cust, coalesce(customer_name, '') AS customer_name, service_type_code AS svc, coalesce(charging_mode, '') AS mode, coalesce(trade_id, '') AS trade, CAST(amount AS {MONEY}) AS amount FROM bills", month_of("bill_cycle")),
        ),
    );
    step(
        "Each bill cycle's grain: charging mode when every line of both sides has one, trade id when every bill line has one. A customer is resale by the customers file when it lists it, else by its consumption rows.",
        d.temp(
            "r_bgrain",
            "SELECT b.cycle, (b.wm = b.n AND (r.n IS NULL OR r.wm = r.n)) AS use_mode, (b.wt = b.n) AS use_trade FROM (SELECT cycle, count(*) AS n, sum(CASE WHEN mode <> '' THEN 1 ELSE 0 END) AS wm, sum(CASE WHEN trade <> '' THEN 1 ELSE 0 END) AS wt FROM r_bills GROUP BY cycle) b LEFT JOIN (SELECT cycle, count(*) AS n, sum(CASE WHEN mode <> '' THEN 1 ELSE 0 END) AS wm FROM r_rows WHERE coalesce(c_assoc, assoc) = 2 GROUP BY cycle) r ON r.cycle = b.cycle",
        ),
    );
    step(
        "",
        d.temp(
            "r_bcrows",
            "SELECT x.*, row_number() OVER (PARTITION BY x.cycle, x.cust, x.svc, x.gmode, x.gtrade ORDER BY x.row_no) AS rn FROM (SELECT r.row_no, r.source, r.cycle, r.customer_id AS cust, r.customer_name, r.svc, CASE WHEN g.use_mode THEN r.mode ELSE '' END AS gmode, CASE WHEN g.use_trade THEN r.trade ELSE '' END AS gtrade, r.pay FROM r_rows r JOIN r_bgrain g ON g.cycle = r.cycle WHERE coalesce(r.c_assoc, r.assoc) = 2) x",
        ),
    );
    step(
        "",
        d.temp(
            "r_bbrows",
            "SELECT x.*, row_number() OVER (PARTITION BY x.cycle, x.cust, x.svc, x.gmode, x.gtrade ORDER BY x.row_no) AS rn FROM (SELECT b.row_no, b.source, b.cycle, b.cust, b.customer_name, b.svc, CASE WHEN g.use_mode THEN b.mode ELSE '' END AS gmode, CASE WHEN g.use_trade THEN b.trade ELSE '' END AS gtrade, b.amount FROM r_bills b JOIN r_bgrain g ON g.cycle = b.cycle) x",
        ),
    );
    let bgroup = |t: &str, amt: &str| {
        format!(
            "SELECT cycle, cust, svc, gmode, gtrade, CAST(sum({amt}) AS {SUM}) AS amt, count(*) AS n, min_by(customer_name, CASE WHEN customer_name <> '' THEN row_no ELSE row_no + {big} END) AS customer_name, {} AS cites FROM {t} GROUP BY cycle, cust, svc, gmode, gtrade",
            d.ordered_concat("source", "row_no", "; ", "rn <= 20")
        )
    };
    step("Both sides summed per group of the grain.", d.temp("r_bcons", &bgroup("r_bcrows", "pay")));
    step("", d.temp("r_bbill", &bgroup("r_bbrows", "amount")));
    step(
        "A customer without consumption in the customers file is referral by its largest association code over its consumption rows.",
        d.temp("r_bwhose", "SELECT customer_id, max(assoc) AS m FROM r_cons GROUP BY customer_id"),
    );
    step(
        "Bill groups, full-outer-joined; delta = bill - consumption.",
        d.temp(
            "r_bgroups",
            &format!(
                "SELECT x.*, CASE WHEN c_n > 0 AND b_n > 0 AND delta = 0 THEN 'BILL_MATCHED' WHEN c_n > 0 AND b_n > 0 AND abs(delta) <= {tol} THEN 'BILL_ROUNDING' WHEN c_n > 0 AND b_n > 0 THEN 'BILL_AMOUNT_MISMATCH' WHEN c_n > 0 THEN 'BILL_MISSING_LINE' WHEN referral THEN 'BILL_NOT_RESALE' ELSE 'BILL_EXTRA_LINE' END AS category FROM (SELECT x0.*, CASE WHEN cu.customer_id IS NOT NULL THEN cu.assoc = 1 ELSE coalesce(w.m, 0) = 1 END AS referral FROM (SELECT coalesce(c.cycle, b.cycle) AS cycle, coalesce(c.cust, b.cust) AS cust, coalesce(c.svc, b.svc) AS svc, coalesce(c.gmode, b.gmode) AS gmode, coalesce(c.gtrade, b.gtrade) AS gtrade, c.amt AS c_amt, coalesce(c.n, 0) AS c_n, c.cites AS c_cites, b.amt AS b_amt, coalesce(b.n, 0) AS b_n, b.cites AS b_cites, CASE WHEN coalesce(c.customer_name, '') <> '' THEN c.customer_name ELSE coalesce(b.customer_name, '') END AS customer_name, CAST(coalesce(b.amt, CAST(0 AS {SUM})) - coalesce(c.amt, CAST(0 AS {SUM})) AS {SUM}) AS delta FROM r_bcons c FULL OUTER JOIN r_bbill b ON b.cycle = c.cycle AND b.cust = c.cust AND b.svc = c.svc AND b.gmode = c.gmode AND b.gtrade = c.gtrade) x0 LEFT JOIN r_cust cu ON cu.customer_id = x0.cust LEFT JOIN r_bwhose w ON w.customer_id = x0.cust) x",
            ),
        ),
    );
    let bp = month_text(d, "g.cycle");
    let (bc, bb, bd) = (m("g.c_amt"), m("g.b_amt"), m("g.delta"));
    let grain = "concat('customer_id,service_type_code', CASE WHEN gr.use_mode THEN ',charging_mode' ELSE '' END, CASE WHEN gr.use_trade THEN ',trade_id' ELSE '' END)";
    let unlisted_zh = "CASE WHEN hf.has_file AND cu.customer_id IS NULL THEN '；客户不在客户文件中，关联类型取自其消费明细（不计激励）' ELSE '' END";
    let unlisted_en = "CASE WHEN hf.has_file AND cu.customer_id IS NULL THEN '; the customer is not in the customers file: its association type is taken from its consumption rows (it earns no incentive)' ELSE '' END";
    let what_zh = format!("concat('账期 ', {bp}, ' 客户 ', g.cust, ' 产品类型 ', g.svc, CASE WHEN g.gmode <> '' THEN concat('（', g.gmode, '）') ELSE '' END, CASE WHEN g.gtrade <> '' THEN concat(' 订单 ', g.gtrade) ELSE '' END)");
    let what_en = format!("concat('bill cycle ', {bp}, ', customer ', g.cust, ', service ', g.svc, CASE WHEN g.gmode <> '' THEN concat(' (', g.gmode, ')') ELSE '' END, CASE WHEN g.gtrade <> '' THEN concat(', order ', g.gtrade) ELSE '' END)");
    let bexpl = format!(
        "concat({what_zh}, '：', CASE g.category WHEN 'BILL_MATCHED' THEN concat('伙伴账单 ', {bb}, ' 与代售消费 ', {bc}, ' 一致') WHEN 'BILL_ROUNDING' THEN concat('伙伴账单 ', {bb}, ' 与代售消费 ', {bc}, ' 相差 ', {bd}, '，在容差 ', {tolt}, ' 内') WHEN 'BILL_AMOUNT_MISMATCH' THEN concat('伙伴账单 ', {bb}, ' 与代售消费 ', {bc}, ' 不符，差额 ', {bd}) WHEN 'BILL_MISSING_LINE' THEN concat('有代售消费 ', {bc}, '，伙伴账单中没有对应条目，差额 ', {bd}) WHEN 'BILL_EXTRA_LINE' THEN concat('伙伴账单条目 ', {bb}, ' 没有对应的代售消费，差额 ', {bd}) ELSE concat('伙伴账单条目 ', {bb}, ' 属于顾问销售（推荐）客户，其消费不应进入伙伴账单，差额 ', {bd}) END, {unlisted_zh}, '（比对粒度：', {grain}, '） | ', {what_en}, ': ', CASE g.category WHEN 'BILL_MATCHED' THEN concat('partner bill ', {bb}, ' equals resale consumption ', {bc}) WHEN 'BILL_ROUNDING' THEN concat('partner bill ', {bb}, ' differs from resale consumption ', {bc}, ' by ', {bd}, ', within tolerance ', {tolt}) WHEN 'BILL_AMOUNT_MISMATCH' THEN concat('partner bill ', {bb}, ' differs from resale consumption ', {bc}, ': difference ', {bd}) WHEN 'BILL_MISSING_LINE' THEN concat('resale consumption ', {bc}, ' has no partner bill line: difference ', {bd}) WHEN 'BILL_EXTRA_LINE' THEN concat('partner bill line ', {bb}, ' has no resale consumption: difference ', {bd}) ELSE concat('partner bill line ', {bb}, ' is for a referral customer, whose consumption is not part of the partner bill: difference ', {bd}) END, {unlisted_en}, ' (grain: ', {grain}, ')')"
    );
    let bid = format!("concat('B', substr({}, 1, 12))", d.sha256(&format!("concat({bp}, '|', g.cust, '|', g.svc, '|', g.gmode, '|', g.gtrade)")));
    step(
        "The bill findings (non-matching ones: review).",
        d.temp(
            "r_bfind",
            &format!(
                "SELECT {bid} AS finding_id, {bp} AS period, g.category, CASE WHEN g.category IN ('BILL_MATCHED', 'BILL_ROUNDING') THEN 'none' ELSE 'review' END AS action, g.cust AS customer_id, g.customer_name, g.gtrade AS trade_id, g.svc AS service_type_code, g.gmode AS charging_mode, '' AS expected_period, CAST(g.c_amt AS {OUT}) AS expected_base, CAST(NULL AS {OUT}) AS expected_incentive, CAST(g.b_amt AS {OUT}) AS actual_base, CAST(NULL AS {OUT}) AS actual_incentive, CAST(g.delta AS {OUT}) AS delta, concat('BILL;grain:', {grain}) AS rule_ids, {bexpl} AS explanation, {} AS consumption_rows, {} AS incentive_rows, 1 AS part, g.cycle AS o1, g.cust AS o2, g.svc AS o3, g.gmode AS o4, g.gtrade AS o5 FROM r_bgroups g JOIN r_bgrain gr ON gr.cycle = g.cycle CROSS JOIN r_hasfile hf LEFT JOIN r_cust cu ON cu.customer_id = g.cust",
                more("g.c_n", "g.c_cites").replace("g.c_n IS NULL", "g.c_n = 0"),
                more("g.b_n", "g.b_cites").replace("g.b_n IS NULL", "g.b_n = 0")
            ),
        ),
    );

    step(
        "findings: the keys' findings in key order (period, trade id, service), then the bill findings (cycle, customer, service, mode, trade).",
        d.result(
            "findings",
            "SELECT finding_id, period, category, action, customer_id, customer_name, trade_id, service_type_code, charging_mode, expected_period, expected_base, expected_incentive, actual_base, actual_incentive, delta, rule_ids, explanation, consumption_rows, incentive_rows FROM (SELECT * FROM r_kfind UNION ALL SELECT * FROM r_bfind) u ORDER BY part, o1, o2, o3, o4, o5",
        ),
    );

    // ---- waterfall ----
    step("Waterfall flows per (bill cycle, expected period, status).", d.temp("r_flows", "SELECT cycle, exp, status, sum(pay) AS pay, sum(base) AS base, sum(pay - base) AS excluded FROM r_rows GROUP BY cycle, exp, status"));
    step("", d.temp("r_ksum", "SELECT period, sum(e_base) AS e_base, sum(e_inc) AS e_inc, sum(a_inc) AS a_inc FROM r_keys GROUP BY period"));
    let z = format!("CAST(0 AS {OUT})");
    let wsum = |what: &str, cond: &str| format!("CAST(coalesce(sum(CASE WHEN {cond} THEN f.{what} END), {z}) AS {OUT})");
    step(
        "waterfall: one row per statement period; consumption_total - ineligible_product - not_attributed - excluded_payment - rolled_out + rolled_in = expected_base.",
        d.result(
            "waterfall",
            &format!(
                "SELECT {} AS period, w.consumption_total, w.ineligible_product, w.not_attributed, w.excluded_payment, w.rolled_out, w.rolled_in, CAST(coalesce(k.e_base, {z}) AS {OUT}) AS expected_base, CAST(coalesce(k.e_inc, {z}) AS {OUT}) AS expected_incentive, CAST(coalesce(k.a_inc, {z}) AS {OUT}) AS actual_incentive, CAST(coalesce(k.a_inc, {z}) - coalesce(k.e_inc, {z}) AS {OUT}) AS difference FROM (SELECT l.period, {} AS consumption_total, {} AS ineligible_product, {} AS not_attributed, {} AS excluded_payment, {} AS rolled_out, {} AS rolled_in FROM r_loaded l LEFT JOIN r_flows f ON f.cycle <= l.period GROUP BY l.period) w LEFT JOIN r_ksum k ON k.period = w.period ORDER BY w.period",
                month_text(d, "w.period"),
                wsum("pay", "f.cycle = l.period"),
                wsum("pay", "f.cycle = l.period AND f.status = 1"),
                wsum("pay", "f.cycle = l.period AND f.status = 2"),
                wsum("excluded", "f.cycle = l.period AND f.status = 0"),
                wsum("base", "f.cycle = l.period AND f.status = 0 AND f.exp > l.period"),
                wsum("base", "f.cycle < l.period AND f.status = 0 AND f.exp = l.period"),
            ),
        ),
    );
    out_head.extend(out);
    let mut text = out_head.join("\n");
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules() -> RuleSet {
        let text = "[policy]\nname = \"t\"\nscale = 2\nrounding = \"down\"\n[rollover]\nlate_window_hours = 24\n[[product]]\nid = \"a_b\"\nservice_type = \"hws.service.*\"\ncharging_modes = [\"按需\"]\nrate = \"0.06\"\nreason = \"it's\"\n";
        RuleSet::from_toml(text, "t.toml").unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn every_statement_is_one_line() {
        for d in [Dialect::Spark, Dialect::DuckDb] {
            let script = compile(&rules(), d);
            for line in script.lines() {
                assert!(line.is_empty() || line.starts_with("--") || line.ends_with(';'), "{line}");
            }
            assert!(script.contains("CREATE") && script.contains("findings") && script.contains("waterfall"));
            assert!(script.contains("'it''s'"), "quotes doubled");
            assert!(script.contains("'hws.service.%'") && script.contains("'a_b'"));
        }
    }
}
