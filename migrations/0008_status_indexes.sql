-- The status page and card page (`/`, `/sims/{iccid}`) answer from indexes, never a scan of every card:
-- the card search by MSISDN (ICCID and sim_card_id have theirs), the top consumers, the cards nearest
-- exhaustion, the newest firing alerts of each kind and one card's alerts.
CREATE INDEX IF NOT EXISTS sim_cards_msisdn ON sim_cards (msisdn);
CREATE INDEX IF NOT EXISTS sim_cards_top_used ON sim_cards (flow_used_mb DESC NULLS LAST)
    WHERE removed_at IS NULL;
-- Must stay the expression crates/store/src/status.rs orders by, or the planner cannot use it.
CREATE INDEX IF NOT EXISTS sim_cards_usage_ratio
    ON sim_cards ((flow_used_mb / NULLIF(flow_used_mb + flow_left_mb, 0)) DESC NULLS LAST)
    WHERE removed_at IS NULL;
CREATE INDEX IF NOT EXISTS alerts_firing_by_kind ON alerts (kind, started_at DESC)
    WHERE resolved_at IS NULL;
CREATE INDEX IF NOT EXISTS alerts_by_card ON alerts (account, sim_card_id, started_at DESC)
    WHERE sim_card_id IS NOT NULL;
