-- Jobs that run beside the inventory ask every few seconds for the cards it has just listed for the first
-- time: an index lookup instead of reading every card of the account again.
CREATE INDEX IF NOT EXISTS sim_cards_first_seen ON sim_cards (account, first_seen_at);
