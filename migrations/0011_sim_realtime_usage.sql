-- The real-time watch (0.2): real-time figures of watched cards, and the watchlist they come from.
-- Real-time figures are estimates ("today so far"); the nightly ones in sim_cards stay the billed ones.

-- The latest real-time check per card. usage_day is the check's calendar day in sync.timezone: a figure
-- checked on a day after sim_cards.data_date is fresher than the nightly one ("as of data_date 24:00").
CREATE TABLE sim_realtime_usage (
    account       text             NOT NULL,
    sim_card_id   bigint           NOT NULL,
    iccid         text,
    checked_at    timestamptz      NOT NULL,
    usage_day     date             NOT NULL,
    flow_used_mb  double precision,
    flow_left_mb  double precision,
    flow_total_mb double precision,
    PRIMARY KEY (account, sim_card_id)
);

-- Every check of the last days (pruned in the same write): how a card burnt through the day.
CREATE TABLE sim_realtime_history (
    account       text             NOT NULL,
    sim_card_id   bigint           NOT NULL,
    checked_at    timestamptz      NOT NULL,
    flow_used_mb  double precision,
    flow_left_mb  double precision,
    PRIMARY KEY (account, sim_card_id, checked_at)
);
CREATE INDEX sim_realtime_history_checked ON sim_realtime_history (account, checked_at);

-- The watchlist of each account, rebuilt after each nightly job: why each card is watched and how fast
-- it burns, so that each round of checks re-ranks it from its latest figures without scanning the fleet.
CREATE TABLE watch_cards (
    account      text             NOT NULL,
    sim_card_id  bigint           NOT NULL,
    iccid        text,
    reasons      text[]           NOT NULL,
    daily_rate_mb double precision,
    listed_at    timestamptz      NOT NULL,
    PRIMARY KEY (account, sim_card_id)
);
