-- The alert rules read one day of the whole fleet (the anomaly rule: yesterday's flow above a floor). Each
-- night appends that day's rows together, so a BRIN index on `day` finds them in a few hundred pages
-- instead of a scan of the month's partition (about 1 s at a million cards); it costs a few pages per
-- partition and next to nothing on insert. A day written out of order (a backfill) only widens its ranges.
CREATE INDEX sim_daily_flow_day_brin ON sim_daily_flow USING brin (day);
