-- The core reconciliation of recon (contract §3), written in DuckDB SQL as a careful analyst
-- would, for the files `recon gen` writes. It is the comparison point of the end-to-end benchmark
-- (benches/e2e.sh); benches/duckdb_run.py substitutes {{DATA}} (the gen directory) and {{OUT}}
-- (where the CSVs go), sets threads, memory limit and spill directory, and runs it.
--
-- The policy is the one `recon gen` writes (src/gen.rs RULES), spelled out below as a products
-- table and constants: time zone +08:00, counted base = cash + credit + stored-value card + debt,
-- late window 24 h, rebind grace 6 months, both association types earn, rounding half up to
-- 2 places per (period, trade, service) key, tolerance 0.01.
--
-- Money is DECIMAL(38,10) throughout (never DOUBLE; note that DuckDB turns decimal division into
-- DOUBLE, so nothing here divides). Every CSV is read as VARCHAR and cast with explicit formats.
--
-- Outputs: {{OUT}}/findings.csv, {{OUT}}/waterfall.csv, {{OUT}}/categories.csv.

SET TimeZone = 'Etc/GMT-8';   -- the policy's +08:00 (POSIX sign: Etc/GMT-8 is UTC+8, no DST)

-- ---------------------------------------------------------------------------------------------
-- Value formats (contract §1.5)
-- ---------------------------------------------------------------------------------------------

-- Amounts: '1,234.50', '¥1234.5', '-3.20'; empty is NULL (zero for optional components).
CREATE MACRO money(x) AS
    CAST(NULLIF(replace(replace(trim(x), ',', ''), '¥', ''), '') AS DECIMAL(38,10));

-- Periods: '2026-10', '2026/10', '202610', '2026年10月' → the first day of the month.
CREATE MACRO month_of(x) AS
    CAST(strptime(trim(x), ['%Y-%m', '%Y/%m', '%Y%m', '%Y年%m月']) AS DATE);

-- Times: '2026-10-31 23:30:00 GMT+08:00', RFC 3339 with offset, or naive (policy time zone).
-- The result is the local wall-clock time in +08:00 (a TIMESTAMP), which is what the period
-- boundaries and the late window are defined on.
CREATE MACRO local_ts(x) AS
    CASE
        WHEN x LIKE '%GMT%' THEN CAST(strptime(x, '%Y-%m-%d %H:%M:%S GMT%z') AS TIMESTAMP)
        WHEN x LIKE '%T%'   THEN CAST(CAST(x AS TIMESTAMPTZ) AS TIMESTAMP)
        WHEN NULLIF(trim(x), '') IS NULL THEN NULL
        ELSE strptime(x, '%Y-%m-%d %H:%M:%S')
    END;

-- Charging modes: text wins; numeric codes follow the API (1 包年/包月, 3 按需, 10, 11).
CREATE MACRO mode_of(x) AS
    CASE
        WHEN x IS NULL OR trim(x) = '' THEN ''
        WHEN trim(x) IN ('包年/包月', '包周期', '1') THEN '包年/包月'
        WHEN trim(x) IN ('按需', '3') THEN '按需'
        WHEN trim(x) LIKE '预留实例%' OR trim(x) = '10' THEN '预留实例'
        WHEN trim(x) LIKE '节省计划%' OR trim(x) = '11' THEN '节省计划'
        ELSE trim(x)
    END;

-- Statement rates: '6%' and '0.06' both mean six per cent (multiplied, never divided).
CREATE MACRO rate_of(x) AS
    CASE
        WHEN NULLIF(trim(x), '') IS NULL THEN NULL
        WHEN trim(x) LIKE '%\%' ESCAPE '\'
            THEN CAST(CAST(rtrim(trim(x), '%') AS DECIMAL(38,10)) * CAST(0.01 AS DECIMAL(38,10)) AS DECIMAL(38,10))
        ELSE CAST(trim(x) AS DECIMAL(38,10))
    END;

-- ---------------------------------------------------------------------------------------------
-- The policy
-- ---------------------------------------------------------------------------------------------

CREATE TABLE products (prio INTEGER, product VARCHAR, svc VARCHAR, modes VARCHAR[], rate DECIMAL(38,10), lag INTEGER);
INSERT INTO products VALUES
    (1, 'marketplace',      'hws.service.type.marketplace', NULL,          0.00, 0),
    (2, 'ecs-subscription', 'hws.service.type.ec2',         ['包年/包月'], 0.06, 0),
    (3, 'ecs-on-demand',    'hws.service.type.ec2',         ['按需'],      0.03, 0),
    (4, 'evs',              'hws.service.type.ebs',         NULL,          0.05, 0),
    (5, 'obs',              'hws.service.type.obs',         NULL,          0.04, 0),
    (6, 'cdn-monthly',      'hws.service.type.cdn',         NULL,          0.05, 1);

-- First match wins: expand every product to the charging modes it accepts ('' = no mode on the
-- row) and keep the first product per (service, mode). Consumption then needs one hash join.
CREATE TABLE product_of AS
SELECT svc, mode, product, rate, lag
FROM products, (SELECT unnest(['', '包年/包月', '按需', '预留实例', '节省计划']) AS mode) m
WHERE modes IS NULL OR list_contains(modes, m.mode)
QUALIFY row_number() OVER (PARTITION BY svc, mode ORDER BY prio) = 1;

-- ---------------------------------------------------------------------------------------------
-- Incentive statements: the actual side, grouped by key. Loaded periods L = the periods present;
-- the scope S is L (no --period).
-- ---------------------------------------------------------------------------------------------

CREATE TABLE actual AS
WITH inc AS (
    SELECT month_of("对账期次")            AS period,
           "激励数据ID"                    AS incentive_id,
           "订单号/交易号"                 AS trade,
           "客户ID"                        AS cust,
           "产品类型编码"                  AS svc,
           mode_of("计费模式")             AS mode,
           money("激励基数")               AS base,
           rate_of("激励比例")             AS rate,
           money("激励金额")               AS amount
    FROM read_csv('{{DATA}}/incentives.csv', header = true, all_varchar = true)
),
-- Duplicates (contract rule 1): two rows of a key with the same incentive id. Counting distinct
-- ids per key in two plain aggregations is what scales (a COUNT(DISTINCT) per group does not).
per_id AS (
    SELECT period, trade, svc, incentive_id,
           sum(amount) AS amount, sum(base) AS base, count(base) AS base_n,
           min(rate) AS rate_min, max(rate) AS rate_max,
           count(*) AS n, any_value(cust) AS cust, max(NULLIF(mode, '')) AS mode
    FROM inc
    GROUP BY period, trade, svc, incentive_id
)
SELECT period, trade, svc,
       sum(amount)                        AS a_inc,
       CASE WHEN sum(base_n) > 0 THEN sum(base) END AS a_base,
       min(rate_min)                      AS a_rate_min,
       max(rate_max)                      AS a_rate_max,
       sum(n)                             AS a_n,
       count(*)                           AS a_ids,
       any_value(cust)                    AS a_cust,
       max(mode)                          AS a_mode
FROM per_id
GROUP BY period, trade, svc;

CREATE TABLE loaded AS SELECT DISTINCT period FROM actual;

-- ---------------------------------------------------------------------------------------------
-- Customers (association type, association and rebinding times).
-- ---------------------------------------------------------------------------------------------

CREATE TABLE customers AS
SELECT "客户ID"  AS cust,
       "客户名称" AS name,
       CASE WHEN trim("关联类型") IN ('代售', '垫付', 'resale', '2') THEN 'resale'
            WHEN trim("关联类型") IN ('顾问销售', '推荐', 'referral', '1') THEN 'referral' END AS assoc,
       local_ts("关联时间") + INTERVAL 0 DAY                    AS counts_from,   -- association_lag_days = 0
       local_ts(NULLIF("换绑时间", '')) + INTERVAL 6 MONTH      AS grace_until    -- rebind_grace_months = 6
FROM read_csv('{{DATA}}/customers.csv', header = true, all_varchar = true);

-- ---------------------------------------------------------------------------------------------
-- Consumption, one row each: product, attribution, status, base, expected period.
-- status: 0 eligible, 1 ineligible product, 2 not attributed.
-- ---------------------------------------------------------------------------------------------

CREATE TABLE cons AS
WITH raw AS (
    SELECT month_of("账期")              AS cycle,
           "客户ID"                      AS cust,
           "产品类型编码"                AS svc,
           mode_of("计费模式")           AS mode,
           "订单号/交易号"               AS trade,
           local_ts("客户交易时间")      AS ts,
           coalesce(money("现金支付金额"), 0) + coalesce(money("信用额度支付金额"), 0)
             + coalesce(money("储值卡支付金额"), 0) + coalesce(money("欠费金额"), 0) AS counted,
           money("代金券支付金额")       AS voucher,
           money("应付金额")             AS payable
    FROM read_csv('{{DATA}}/consumption.csv', header = true, all_varchar = true)
),
decided AS (
    SELECT r.cycle, r.cust, r.svc, r.mode, r.trade,
           CAST(coalesce(r.payable, r.counted + coalesce(r.voucher, 0)) AS DECIMAL(38,10)) AS pay,
           CAST(r.counted AS DECIMAL(38,10)) AS base,
           p.product, p.rate, p.lag,
           CASE
               WHEN p.product IS NULL OR p.rate = 0 THEN 1
               WHEN c.cust IS NULL                          -- a customers file is given: not in it
                 OR c.assoc IS NULL                         -- association type not listed
                 OR r.ts < c.counts_from                    -- before associated_at + lag days
                 OR r.ts < c.grace_until                    -- in the rebind grace
               THEN 2
               ELSE 0
           END AS status,
           -- late window: at or after (end of the bill cycle − 24 h), local time
           r.ts >= r.cycle + INTERVAL 1 MONTH - INTERVAL 24 HOUR AS late
    FROM raw r
    LEFT JOIN product_of p ON p.svc = r.svc AND p.mode = r.mode
    LEFT JOIN customers c ON c.cust = r.cust
)
SELECT cycle, cust, svc, mode, trade, pay, base, product, rate, status,
       CASE WHEN status = 0
            THEN CAST(cycle + to_months(lag + CASE WHEN late THEN 1 ELSE 0 END) AS DATE)
            ELSE cycle END AS exp,
       cycle IN (SELECT period FROM loaded) AS cycle_in_scope
FROM decided;

-- ---------------------------------------------------------------------------------------------
-- Keys: expected (eligible rows by expected period), no-side (ineligible and non-attributed
-- rows by bill cycle), actual; full outer join.
-- ---------------------------------------------------------------------------------------------

CREATE TABLE keys AS
WITH expected AS (
    SELECT exp AS period, trade, svc,
           sum(base)                          AS e_base,
           round(sum(base * rate), 2)         AS e_inc,     -- rounded once per key, half up
           min(rate)                          AS e_rate_min,
           max(rate)                          AS e_rate_max,
           count(*)                           AS e_n,
           bool_or(cycle_in_scope)            AS e_from_scope,
           any_value(cust)                    AS e_cust,
           max(NULLIF(mode, ''))              AS e_mode
    FROM cons WHERE status = 0
    GROUP BY exp, trade, svc
),
noside AS (
    SELECT cycle AS period, trade, svc,
           count(*) FILTER (WHERE status = 1) AS n_inel,
           count(*) FILTER (WHERE status = 2) AS n_na,
           any_value(cust)                    AS n_cust,
           max(NULLIF(mode, ''))              AS n_mode
    FROM cons WHERE status <> 0
    GROUP BY cycle, trade, svc
)
SELECT *
FROM expected
FULL OUTER JOIN actual USING (period, trade, svc)
FULL OUTER JOIN noside USING (period, trade, svc);

-- PERIOD_SHIFT (rule 7): expected-only keys and actual-only keys (not duplicated, in a loaded
-- period) of the same trade and service, paired in period order.
CREATE TABLE pairs AS
WITH eo AS (
    SELECT period, trade, svc, e_base, e_inc,
           row_number() OVER (PARTITION BY trade, svc ORDER BY period) AS rn
    FROM keys WHERE e_n IS NOT NULL AND a_n IS NULL
),
ao AS (
    SELECT period, trade, svc,
           row_number() OVER (PARTITION BY trade, svc ORDER BY period) AS rn
    FROM keys
    WHERE a_n IS NOT NULL AND e_n IS NULL AND a_n = a_ids AND period IN (SELECT period FROM loaded)
)
SELECT eo.period AS e_period, ao.period AS a_period, trade, svc, eo.e_base AS p_base, eo.e_inc AS p_inc
FROM eo JOIN ao USING (trade, svc, rn);

-- What consumption the trade and service of each actual-only key has, over every cycle
-- (rules 11–13).
CREATE TABLE seen AS
SELECT trade, svc,
       bool_or(e_n IS NOT NULL OR n_inel IS NOT NULL) AS any_cons,
       bool_or(coalesce(n_inel, 0) > 0)               AS inel,
       bool_or(coalesce(n_na, 0) > 0)                 AS na
FROM keys
SEMI JOIN (SELECT DISTINCT trade, svc FROM keys WHERE e_n IS NULL AND a_n IS NOT NULL) USING (trade, svc)
GROUP BY trade, svc;

-- OUT_OF_SCOPE (rule 12) needs a bill cycle the period could stem from (period − max shift …
-- period; max shift = largest lag 1 + late window 1 = 2) that is not loaded.
CREATE TABLE cycles AS SELECT DISTINCT cycle FROM cons;
CREATE TABLE stem AS
SELECT l.period,
       (SELECT count(*) FROM cycles c
        WHERE c.cycle BETWEEN CAST(l.period - INTERVAL 2 MONTH AS DATE) AND l.period) < 3 AS unloaded_source
FROM loaded l;

-- ---------------------------------------------------------------------------------------------
-- Decide every key (contract §3, first rule that fits).
-- ---------------------------------------------------------------------------------------------

CREATE TABLE decided AS
WITH k AS (
    SELECT k.*,
           pa.e_period AS shift_from, pa.p_base, pa.p_inc,
           pe.a_period IS NOT NULL AS paired_expected,
           s.any_cons, s.inel, s.na, st.unloaded_source,
           (SELECT min(period) FROM loaded) AS first_l,
           (SELECT max(period) FROM loaded) AS last_l
    FROM keys k
    LEFT JOIN pairs pa ON pa.a_period = k.period AND pa.trade = k.trade AND pa.svc = k.svc
    LEFT JOIN pairs pe ON pe.e_period = k.period AND pe.trade = k.trade AND pe.svc = k.svc
    LEFT JOIN seen s ON s.trade = k.trade AND s.svc = k.svc AND k.e_n IS NULL AND k.a_n IS NOT NULL
    LEFT JOIN stem st ON st.period = k.period
),
c AS (
    SELECT *,
        CASE
            WHEN a_n > a_ids THEN 'DUPLICATE_INCENTIVE'
            WHEN e_n IS NOT NULL AND a_n IS NOT NULL THEN
                CASE
                    WHEN a_inc = e_inc THEN 'MATCHED'
                    WHEN abs(a_inc - e_inc) <= 0.01 THEN 'ROUNDING'
                    WHEN a_rate_min < e_rate_min OR a_rate_max > e_rate_max THEN 'RATE_MISMATCH'
                    WHEN a_base IS NOT NULL AND abs(a_base - e_base) > 0.01 THEN 'BASE_MISMATCH'
                    ELSE 'AMOUNT_MISMATCH'
                END
            WHEN e_n IS NOT NULL THEN
                CASE
                    WHEN paired_expected THEN NULL                 -- decided at its actual's key
                    WHEN period > last_l THEN 'ROLLOVER_PENDING'
                    WHEN period < first_l THEN NULL                -- a statement not loaded
                    WHEN e_inc = 0 THEN 'MATCHED'
                    WHEN abs(e_inc) <= 0.01 THEN 'ROUNDING'
                    ELSE 'MISSING_INCENTIVE'
                END
            WHEN a_n IS NOT NULL THEN
                CASE
                    WHEN shift_from IS NOT NULL THEN 'PERIOD_SHIFT'
                    WHEN inel OR na THEN 'UNEXPECTED_INCENTIVE'
                    WHEN NOT coalesce(any_cons, false) AND unloaded_source THEN 'OUT_OF_SCOPE'
                    ELSE 'ORPHAN_INCENTIVE'
                END
            WHEN n_inel > 0 THEN 'INELIGIBLE_PRODUCT'
            ELSE 'NOT_ATTRIBUTED'
        END AS category
    FROM k
)
SELECT period, trade, svc, category,
       coalesce(e_cust, n_cust, a_cust)                           AS cust,
       coalesce(e_mode, n_mode, a_mode)                           AS mode,
       CASE WHEN category = 'PERIOD_SHIFT' THEN shift_from
            WHEN e_n IS NOT NULL THEN period END                  AS e_period,
       CASE WHEN category = 'PERIOD_SHIFT' THEN p_base ELSE e_base END AS e_base,
       CASE WHEN category = 'PERIOD_SHIFT' THEN p_inc  ELSE e_inc  END AS e_inc,
       a_base, a_inc,
       CASE WHEN category IN ('INELIGIBLE_PRODUCT', 'NOT_ATTRIBUTED') THEN 0
            ELSE coalesce(a_inc, 0) - coalesce(CASE WHEN category = 'PERIOD_SHIFT' THEN p_inc ELSE e_inc END, 0)
       END                                                        AS delta,
       coalesce(e_n, 0) + coalesce(n_inel, 0) + coalesce(n_na, 0) AS consumption_rows,
       coalesce(a_n, 0)                                           AS incentive_rows,
       period IN (SELECT period FROM loaded)
         OR (category = 'ROLLOVER_PENDING' AND e_from_scope)      AS written
FROM c
WHERE category IS NOT NULL;

-- ---------------------------------------------------------------------------------------------
-- Findings to CSV, in key order.
-- ---------------------------------------------------------------------------------------------

COPY (
    SELECT 'F' || left(sha256(strftime(d.period, '%Y-%m') || '|' || d.trade || '|' || d.svc), 12) AS finding_id,
           strftime(d.period, '%Y-%m') AS period,
           d.category,
           CASE
               WHEN d.category IN ('MATCHED', 'ROUNDING', 'ROLLOVER_PENDING', 'OUT_OF_SCOPE',
                                   'INELIGIBLE_PRODUCT', 'NOT_ATTRIBUTED') THEN 'none'
               WHEN d.category IN ('DUPLICATE_INCENTIVE', 'UNEXPECTED_INCENTIVE', 'ORPHAN_INCENTIVE') THEN 'review'
               WHEN d.category = 'MISSING_INCENTIVE' THEN 'dispute'
               WHEN d.category = 'PERIOD_SHIFT' AND abs(d.delta) <= 0.01 THEN 'none'
               WHEN d.delta < 0 THEN 'dispute'
               ELSE 'review'
           END AS action,
           d.cust AS customer_id,
           cu.name AS customer_name,
           d.trade AS trade_id,
           d.svc AS service_type_code,
           d.mode AS charging_mode,
           strftime(d.e_period, '%Y-%m') AS expected_period,
           d.e_base AS expected_base,
           d.e_inc AS expected_incentive,
           d.a_base AS actual_base,
           d.a_inc AS actual_incentive,
           d.delta,
           d.consumption_rows,
           d.incentive_rows
    FROM decided d
    LEFT JOIN customers cu ON cu.cust = d.cust
    WHERE d.written
    ORDER BY d.period, d.trade, d.svc
) TO '{{OUT}}/findings.csv' (HEADER, DELIMITER ',');

-- ---------------------------------------------------------------------------------------------
-- Waterfall per statement period in scope (contract §3), and its closure.
-- ---------------------------------------------------------------------------------------------

CREATE TABLE flows AS
SELECT cycle, exp, status, sum(pay) AS pay, sum(base) AS base, sum(pay - base) AS excluded
FROM cons GROUP BY cycle, exp, status;

CREATE TABLE key_sums AS
SELECT period, sum(e_base) AS expected_base, sum(e_inc) AS expected_incentive, sum(a_inc) AS actual_incentive
FROM keys WHERE period IN (SELECT period FROM loaded)
GROUP BY period;

COPY (
    WITH w AS (
        SELECT l.period,
               coalesce((SELECT sum(pay) FROM flows f WHERE f.cycle = l.period), 0) AS consumption_total,
               coalesce((SELECT sum(pay) FROM flows f WHERE f.cycle = l.period AND status = 1), 0) AS ineligible_product,
               coalesce((SELECT sum(pay) FROM flows f WHERE f.cycle = l.period AND status = 2), 0) AS not_attributed,
               coalesce((SELECT sum(excluded) FROM flows f WHERE f.cycle = l.period AND status = 0), 0) AS excluded_payment,
               coalesce((SELECT sum(base) FROM flows f WHERE f.cycle = l.period AND status = 0 AND f.exp > l.period), 0) AS rolled_out,
               coalesce((SELECT sum(base) FROM flows f WHERE f.cycle < l.period AND status = 0 AND f.exp = l.period), 0) AS rolled_in,
               coalesce(ks.expected_base, 0) AS expected_base,
               coalesce(ks.expected_incentive, 0) AS expected_incentive,
               coalesce(ks.actual_incentive, 0) AS actual_incentive
        FROM loaded l LEFT JOIN key_sums ks USING (period)
    )
    SELECT strftime(period, '%Y-%m') AS period,
           consumption_total, ineligible_product, not_attributed, excluded_payment, rolled_out, rolled_in,
           expected_base, expected_incentive, actual_incentive,
           actual_incentive - expected_incentive AS difference,
           consumption_total - ineligible_product - not_attributed - excluded_payment - rolled_out + rolled_in
             = expected_base AS closes
    FROM w ORDER BY period
) TO '{{OUT}}/waterfall.csv' (HEADER, DELIMITER ',');

-- Categories per period: the count of findings at the period, and the delta of the sides lying
-- in it (a PERIOD_SHIFT's +actual at the actual's period, −expected at the expected's).
COPY (
    WITH sides AS (
        SELECT period, category, 1 AS n, 0 AS amount FROM decided WHERE written
        UNION ALL
        SELECT period, category, 0, a_inc FROM decided
        WHERE a_inc IS NOT NULL AND category NOT IN ('INELIGIBLE_PRODUCT', 'NOT_ATTRIBUTED')
        UNION ALL
        SELECT e_period, category, 0, -e_inc FROM decided
        WHERE e_inc IS NOT NULL AND category NOT IN ('INELIGIBLE_PRODUCT', 'NOT_ATTRIBUTED')
    )
    SELECT strftime(period, '%Y-%m') AS period, category, sum(n) AS count, sum(amount) AS delta
    FROM sides WHERE period IN (SELECT period FROM loaded)
    GROUP BY period, category ORDER BY period, category
) TO '{{OUT}}/categories.csv' (HEADER, DELIMITER ',');
