-- The alert rules read a few days of one card at a time, for a good part of the fleet: the anomaly rule
-- 14 baseline days of every card above its floor (some 125,000 cards at a million), the projection a week
-- of the cards that may run out. With the flow inside the primary key those reads stay in the key's own
-- pages (an index-only scan, where the days are all-visible, as settled days are) instead of fetching one
-- heap page per day, each day's rows having been written together on a different night.
-- The key is the same key: merges still conflict on (account, sim_card_id, day).
ALTER TABLE sim_daily_flow DROP CONSTRAINT sim_daily_flow_pkey;
ALTER TABLE sim_daily_flow ADD CONSTRAINT sim_daily_flow_pkey
    PRIMARY KEY (account, sim_card_id, day) INCLUDE (flow_mb);
