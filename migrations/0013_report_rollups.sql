-- The monthly usage report at a million cards in well under a second: it reads one narrow row per card and
-- month and groups it, with no join and no per-card aggregation at read time.
--
-- sim_report_month: per card and month, the three figures the report sums (the month's daily flow, the
-- previous month's daily flow, month-usages' figure for the billing cycle) beside the card's grouping
-- attributes. A row exists when any of the three does, which is the set of cards the report counts. The
-- daily-flow and month-usages merges keep the figures (same transaction); the trigger below keeps the
-- attributes in step with sim_cards, whatever writes it.
CREATE TABLE sim_report_month (
    account         text             NOT NULL,
    sim_card_id     bigint           NOT NULL,
    month           date             NOT NULL,
    flow_mb         double precision,
    prev_flow_mb    double precision,
    used_mb         double precision,
    iccid           text,
    price_plan_name text,
    sim_pool_id     bigint,
    tags            text[]           NOT NULL DEFAULT '{}',
    PRIMARY KEY (account, sim_card_id, month)
);
CREATE INDEX sim_report_month_month ON sim_report_month (month);

-- sim_flow_day_totals: the fleet's daily flow per account and day, the report's day chart. The daily-flow
-- merge adds what each merge changed (numeric, so no rounding drifts however many corrections arrive).
CREATE TABLE sim_flow_day_totals (
    account text    NOT NULL,
    day     date    NOT NULL,
    flow_mb numeric NOT NULL,
    cards   bigint  NOT NULL,
    PRIMARY KEY (account, day)
);

-- The digest of each card-month's daily rows and its last day (gsl_store::digest holds the same arithmetic
-- and a store test compares the two): the nightly refresh of a month merges only the days that are new or
-- whose card-month digest differs, instead of probing ~30 unchanged rows per card.
CREATE FUNCTION gsl_flow_row_key(day date, flow_mb double precision) RETURNS bigint
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT ((extract(day FROM day)::bigint * 1000003
             + least(greatest(round(flow_mb * 100), -1e15), 1e15)::bigint % 2147483647) % 2147483647
            + 2147483647) % 2147483647
$$;
CREATE FUNCTION gsl_flow_h1(day date, flow_mb double precision) RETURNS bigint
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT gsl_flow_row_key(day, flow_mb) * gsl_flow_row_key(day, flow_mb) % 2147483647
$$;
CREATE FUNCTION gsl_flow_h2(day date, flow_mb double precision) RETURNS bigint
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT ((gsl_flow_row_key(day, flow_mb) + 1013904223) % 2147483647)
         * ((gsl_flow_row_key(day, flow_mb) + 1013904223) % 2147483647) % 2147483647 * 48271 % 2147483647
$$;

ALTER TABLE sim_flow_monthly ADD COLUMN digest bigint, ADD COLUMN through date;
UPDATE sim_flow_monthly m SET digest = d.digest, through = d.through
FROM (SELECT f.account, f.sim_card_id, date_trunc('month', f.day)::date AS month, max(f.day) AS through,
             ((sum(gsl_flow_h1(f.day, f.flow_mb)) % 2147483647) * 2147483648
              + sum(gsl_flow_h2(f.day, f.flow_mb)) % 2147483647)::bigint AS digest
      FROM sim_daily_flow f GROUP BY 1, 2, 3) d
WHERE m.account = d.account AND m.sim_card_id = d.sim_card_id AND m.month = d.month;

CREATE FUNCTION sim_report_month_follow_cards() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        UPDATE sim_report_month r
        SET iccid = n.iccid, price_plan_name = n.price_plan_name, sim_pool_id = n.sim_pool_id, tags = n.tags
        FROM new_cards n
        WHERE r.account = n.account AND r.sim_card_id = n.sim_card_id;
    ELSE
        UPDATE sim_report_month r
        SET iccid = n.iccid, price_plan_name = n.price_plan_name, sim_pool_id = n.sim_pool_id, tags = n.tags
        FROM new_cards n JOIN old_cards o ON o.account = n.account AND o.sim_card_id = n.sim_card_id
        WHERE r.account = n.account AND r.sim_card_id = n.sim_card_id
          AND (o.iccid, o.price_plan_name, o.sim_pool_id, o.tags)
              IS DISTINCT FROM (n.iccid, n.price_plan_name, n.sim_pool_id, n.tags);
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER sim_report_month_cards_inserted AFTER INSERT ON sim_cards
    REFERENCING NEW TABLE AS new_cards
    FOR EACH STATEMENT EXECUTE FUNCTION sim_report_month_follow_cards();
CREATE TRIGGER sim_report_month_cards_updated AFTER UPDATE ON sim_cards
    REFERENCING OLD TABLE AS old_cards NEW TABLE AS new_cards
    FOR EACH STATEMENT EXECUTE FUNCTION sim_report_month_follow_cards();

-- Existing history (seconds at a million cards).
INSERT INTO sim_report_month (account, sim_card_id, month, flow_mb, prev_flow_mb, used_mb,
                              iccid, price_plan_name, sim_pool_id, tags)
SELECT u.account, u.sim_card_id, u.month, max(u.cur), max(u.prv), max(u.used),
       c.iccid, c.price_plan_name, c.sim_pool_id, coalesce(c.tags, '{}')
FROM (SELECT account, sim_card_id, month, flow_mb AS cur, NULL::float8 AS prv, NULL::float8 AS used
      FROM sim_flow_monthly
      UNION ALL
      SELECT account, sim_card_id, (month + interval '1 month')::date, NULL, flow_mb, NULL FROM sim_flow_monthly
      UNION ALL
      SELECT account, sim_card_id, billing_cycle, NULL, NULL, flow_used_mb FROM sim_monthly_usage) u
LEFT JOIN sim_cards c ON c.account = u.account AND c.sim_card_id = u.sim_card_id
GROUP BY u.account, u.sim_card_id, u.month, c.iccid, c.price_plan_name, c.sim_pool_id, c.tags;

INSERT INTO sim_flow_day_totals (account, day, flow_mb, cards)
SELECT account, day, sum(flow_mb::numeric), count(*) FROM sim_daily_flow GROUP BY 1, 2;
