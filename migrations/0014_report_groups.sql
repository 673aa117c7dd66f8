-- sim_report_groups: the month's report figures summed per group (account, plan, pool, tag), so a report by
-- group reads a few hundred rows instead of a million report rows. Triggers on sim_report_month keep it: every
-- statement that writes report rows (the merges, the sim_cards trigger moving a card between groups, a
-- rebuild, a partition drop) adds what it changed, its new rows minus its old ones, per group. Sums are
-- numeric, so adding and taking away the same figures leaves no rounding behind.
CREATE TABLE sim_report_groups (
    month        date    NOT NULL,
    grouped_by     text    NOT NULL CHECK (grouped_by IN ('account', 'plan', 'pool', 'tag')),
    account      text    NOT NULL,
    grp          text    NOT NULL,
    cards        bigint  NOT NULL,
    flow_mb      numeric NOT NULL,
    prev_flow_mb numeric NOT NULL,
    used_mb      numeric NOT NULL,
    -- Cards with a month-usages figure: without any, the group's figure is unknown, not zero.
    used_cards   bigint  NOT NULL,
    PRIMARY KEY (month, grouped_by, account, grp)
);

-- The groups one report row belongs to, with the names reports show (a card counts once per distinct tag).
CREATE FUNCTION gsl_report_groups(account text, price_plan_name text, sim_pool_id bigint, tags text[])
    RETURNS TABLE (grouped_by text, grp text) LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT 'account', account
    UNION ALL SELECT 'plan', coalesce(price_plan_name, '(no plan)')
    UNION ALL SELECT 'pool', coalesce(sim_pool_id::text, '(no pool)')
    UNION ALL SELECT 'tag', coalesce(t.tag, '(untagged)')
              FROM (SELECT 1) one LEFT JOIN (SELECT DISTINCT x AS tag FROM unnest(tags) x) t ON true
$$;

-- Adds `changed` (report rows with sign +1 for new, -1 for old) to the groups. Sorted, so concurrent writers
-- lock group rows in one order and cannot deadlock.
CREATE FUNCTION sim_report_groups_follow() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    changed text := CASE TG_OP
        WHEN 'INSERT' THEN 'SELECT 1 AS sign, * FROM new_rows'
        WHEN 'DELETE' THEN 'SELECT -1 AS sign, * FROM old_rows'
        ELSE 'SELECT 1 AS sign, * FROM new_rows UNION ALL SELECT -1, * FROM old_rows' END;
BEGIN
    EXECUTE format($q$
        INSERT INTO sim_report_groups AS g (month, grouped_by, account, grp, cards, flow_mb, prev_flow_mb,
                                            used_mb, used_cards)
        SELECT c.month, k.grouped_by, c.account, k.grp, sum(c.sign),
               coalesce(sum(c.sign * c.flow_mb::numeric), 0), coalesce(sum(c.sign * c.prev_flow_mb::numeric), 0),
               coalesce(sum(c.sign * c.used_mb::numeric), 0), coalesce(sum(c.sign) FILTER (WHERE c.used_mb IS NOT NULL), 0)
        FROM (%s) c
        CROSS JOIN LATERAL gsl_report_groups(c.account, c.price_plan_name, c.sim_pool_id, c.tags) k
        GROUP BY 1, 2, 3, 4
        HAVING sum(c.sign) <> 0 OR coalesce(sum(c.sign * c.flow_mb::numeric), 0) <> 0
            OR coalesce(sum(c.sign * c.prev_flow_mb::numeric), 0) <> 0
            OR coalesce(sum(c.sign * c.used_mb::numeric), 0) <> 0
            OR coalesce(sum(c.sign) FILTER (WHERE c.used_mb IS NOT NULL), 0) <> 0
        ORDER BY 1, 2, 3, 4
        ON CONFLICT (month, grouped_by, account, grp) DO UPDATE
        SET cards = g.cards + EXCLUDED.cards, flow_mb = g.flow_mb + EXCLUDED.flow_mb,
            prev_flow_mb = g.prev_flow_mb + EXCLUDED.prev_flow_mb, used_mb = g.used_mb + EXCLUDED.used_mb,
            used_cards = g.used_cards + EXCLUDED.used_cards
    $q$, changed);
    RETURN NULL;
END $$;

-- A transition table serves one event per trigger, hence three.
CREATE TRIGGER sim_report_groups_inserted AFTER INSERT ON sim_report_month
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION sim_report_groups_follow();
CREATE TRIGGER sim_report_groups_updated AFTER UPDATE ON sim_report_month
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION sim_report_groups_follow();
CREATE TRIGGER sim_report_groups_deleted AFTER DELETE ON sim_report_month
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION sim_report_groups_follow();

-- Existing report rows (seconds at a million cards).
INSERT INTO sim_report_groups (month, grouped_by, account, grp, cards, flow_mb, prev_flow_mb, used_mb, used_cards)
SELECT r.month, k.grouped_by, r.account, k.grp, count(*), coalesce(sum(r.flow_mb::numeric), 0),
       coalesce(sum(r.prev_flow_mb::numeric), 0), coalesce(sum(r.used_mb::numeric), 0), count(r.used_mb)
FROM sim_report_month r
CROSS JOIN LATERAL gsl_report_groups(r.account, r.price_plan_name, r.sim_pool_id, r.tags) k
GROUP BY 1, 2, 3, 4;
