-- The usage report's card statuses and its count of idle cards without a pass over every card: at a million
-- cards those two passes were the whole time of a report by account, plan, pool or tag (about a second each,
-- beside a few hundred group rows).

-- Whether a card counts as active for the report (current, sim_status 20): one definition for the rollups
-- below and for the store's queries that read cards directly.
CREATE FUNCTION gsl_card_active(sim_status integer, removed_at timestamptz) RETURNS boolean
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT coalesce(sim_status = 20 AND removed_at IS NULL, false)
$$;

-- sim_status_counts: current cards (not removed) per account and (sim_status, operator_status). Statement
-- triggers on sim_cards add what each statement changed, its new rows minus its old ones; a night that
-- rewrites every card without moving its status changes no row here.
CREATE TABLE sim_status_counts (
    account         text    NOT NULL,
    sim_status      integer,
    operator_status integer,
    cards           bigint  NOT NULL
);
-- Either status may be unknown (NULL), which a primary key cannot hold; the sentinel is outside both codes.
CREATE UNIQUE INDEX sim_status_counts_key ON sim_status_counts
    (account, coalesce(sim_status, -2147483648), coalesce(operator_status, -2147483648));

CREATE FUNCTION sim_status_counts_follow() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    changed text := CASE TG_OP
        WHEN 'INSERT' THEN 'SELECT 1 AS sign, account, sim_status, operator_status FROM new_cards
                            WHERE removed_at IS NULL'
        WHEN 'DELETE' THEN 'SELECT -1 AS sign, account, sim_status, operator_status FROM old_cards
                            WHERE removed_at IS NULL'
        ELSE 'SELECT 1 AS sign, account, sim_status, operator_status FROM new_cards WHERE removed_at IS NULL
              UNION ALL
              SELECT -1, account, sim_status, operator_status FROM old_cards WHERE removed_at IS NULL' END;
BEGIN
    -- Sorted, so concurrent writers lock the rows in one order and cannot deadlock.
    EXECUTE format($q$
        INSERT INTO sim_status_counts AS s (account, sim_status, operator_status, cards)
        SELECT account, sim_status, operator_status, sum(sign) FROM (%s) c
        GROUP BY 1, 2, 3 HAVING sum(sign) <> 0 ORDER BY 1, 2, 3
        ON CONFLICT (account, coalesce(sim_status, -2147483648), coalesce(operator_status, -2147483648))
        DO UPDATE SET cards = s.cards + EXCLUDED.cards
    $q$, changed);
    RETURN NULL;
END $$;

CREATE TRIGGER sim_status_counts_inserted AFTER INSERT ON sim_cards
    REFERENCING NEW TABLE AS new_cards FOR EACH STATEMENT EXECUTE FUNCTION sim_status_counts_follow();
CREATE TRIGGER sim_status_counts_updated AFTER UPDATE ON sim_cards
    REFERENCING OLD TABLE AS old_cards NEW TABLE AS new_cards
    FOR EACH STATEMENT EXECUTE FUNCTION sim_status_counts_follow();
CREATE TRIGGER sim_status_counts_deleted AFTER DELETE ON sim_cards
    REFERENCING OLD TABLE AS old_cards FOR EACH STATEMENT EXECUTE FUNCTION sim_status_counts_follow();

INSERT INTO sim_status_counts (account, sim_status, operator_status, cards)
SELECT account, sim_status, operator_status, count(*) FROM sim_cards WHERE removed_at IS NULL GROUP BY 1, 2, 3;

-- A report row knows whether its card is active now (kept by the sim_cards trigger with the other grouping
-- attributes), and each group counts its active cards that used data in the month (a month's daily sum above
-- zero: stored daily flow is never negative). The report's idle cards are then the account's active cards
-- less those, read from a few rows.
ALTER TABLE sim_report_month ADD COLUMN active boolean NOT NULL DEFAULT false;
ALTER TABLE sim_report_groups ADD COLUMN active_used_cards bigint NOT NULL DEFAULT 0;

CREATE OR REPLACE FUNCTION sim_report_month_follow_cards() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        UPDATE sim_report_month r
        SET iccid = n.iccid, price_plan_name = n.price_plan_name, sim_pool_id = n.sim_pool_id, tags = n.tags,
            active = gsl_card_active(n.sim_status, n.removed_at)
        FROM new_cards n
        WHERE r.account = n.account AND r.sim_card_id = n.sim_card_id;
    ELSE
        UPDATE sim_report_month r
        SET iccid = n.iccid, price_plan_name = n.price_plan_name, sim_pool_id = n.sim_pool_id, tags = n.tags,
            active = gsl_card_active(n.sim_status, n.removed_at)
        FROM new_cards n JOIN old_cards o ON o.account = n.account AND o.sim_card_id = n.sim_card_id
        WHERE r.account = n.account AND r.sim_card_id = n.sim_card_id
          AND (o.iccid, o.price_plan_name, o.sim_pool_id, o.tags, gsl_card_active(o.sim_status, o.removed_at))
              IS DISTINCT FROM (n.iccid, n.price_plan_name, n.sim_pool_id, n.tags,
                                gsl_card_active(n.sim_status, n.removed_at));
    END IF;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION sim_report_groups_follow() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    changed text := CASE TG_OP
        WHEN 'INSERT' THEN 'SELECT 1 AS sign, * FROM new_rows'
        WHEN 'DELETE' THEN 'SELECT -1 AS sign, * FROM old_rows'
        ELSE 'SELECT 1 AS sign, * FROM new_rows UNION ALL SELECT -1, * FROM old_rows' END;
BEGIN
    EXECUTE format($q$
        INSERT INTO sim_report_groups AS g (month, grouped_by, account, grp, cards, flow_mb, prev_flow_mb,
                                            used_mb, used_cards, active_used_cards)
        SELECT c.month, k.grouped_by, c.account, k.grp, sum(c.sign),
               coalesce(sum(c.sign * c.flow_mb::numeric), 0), coalesce(sum(c.sign * c.prev_flow_mb::numeric), 0),
               coalesce(sum(c.sign * c.used_mb::numeric), 0), coalesce(sum(c.sign) FILTER (WHERE c.used_mb IS NOT NULL), 0),
               coalesce(sum(c.sign) FILTER (WHERE c.active AND c.flow_mb > 0), 0)
        FROM (%s) c
        CROSS JOIN LATERAL gsl_report_groups(c.account, c.price_plan_name, c.sim_pool_id, c.tags) k
        GROUP BY 1, 2, 3, 4
        HAVING sum(c.sign) <> 0 OR coalesce(sum(c.sign * c.flow_mb::numeric), 0) <> 0
            OR coalesce(sum(c.sign * c.prev_flow_mb::numeric), 0) <> 0
            OR coalesce(sum(c.sign * c.used_mb::numeric), 0) <> 0
            OR coalesce(sum(c.sign) FILTER (WHERE c.used_mb IS NOT NULL), 0) <> 0
            OR coalesce(sum(c.sign) FILTER (WHERE c.active AND c.flow_mb > 0), 0) <> 0
        ORDER BY 1, 2, 3, 4
        ON CONFLICT (month, grouped_by, account, grp) DO UPDATE
        SET cards = g.cards + EXCLUDED.cards, flow_mb = g.flow_mb + EXCLUDED.flow_mb,
            prev_flow_mb = g.prev_flow_mb + EXCLUDED.prev_flow_mb, used_mb = g.used_mb + EXCLUDED.used_mb,
            used_cards = g.used_cards + EXCLUDED.used_cards,
            active_used_cards = g.active_used_cards + EXCLUDED.active_used_cards
    $q$, changed);
    RETURN NULL;
END $$;

-- Existing rows, with the triggers of sim_report_month set aside: the flag is filled in first, then the
-- groups' counts from it in one pass (seconds at a million cards).
ALTER TABLE sim_report_month DISABLE TRIGGER sim_report_groups_updated;
UPDATE sim_report_month r SET active = true
FROM sim_cards c
WHERE c.account = r.account AND c.sim_card_id = r.sim_card_id AND gsl_card_active(c.sim_status, c.removed_at);
ALTER TABLE sim_report_month ENABLE TRIGGER sim_report_groups_updated;

UPDATE sim_report_groups g SET active_used_cards = u.n
FROM (SELECT r.month, k.grouped_by, r.account, k.grp, count(*) AS n
      FROM sim_report_month r
      CROSS JOIN LATERAL gsl_report_groups(r.account, r.price_plan_name, r.sim_pool_id, r.tags) k
      WHERE r.active AND r.flow_mb > 0
      GROUP BY 1, 2, 3, 4) u
WHERE g.month = u.month AND g.grouped_by = u.grouped_by AND g.account = u.account AND g.grp = u.grp;
