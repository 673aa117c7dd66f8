-- The (account, day) index let the planner answer a per-key probe (account, sim_card_id, day) by scanning a
-- whole day of the fleet and filtering on sim_card_id: with fresh statistics it chose it over the primary
-- key, and a merge of 2,000 rows took ~0.5 s on 2,345 cards and would scan a million rows per key at fleet
-- scale. No query needs it: per-card reads use the primary key, fleet-wide ones read whole partitions.
DROP INDEX IF EXISTS sim_daily_flow_day;
