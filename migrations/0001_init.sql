-- gsl-sync schema. Append-only once shipped: change it with a new migration, never by editing this one.
-- Names and key columns are public (CONTRACT.md): dashboards and users' SQL read them.

-- The latest state of every card. Flow figures are MB as the API gives them, valid as of data_date 24:00
-- in sync.timezone.
CREATE TABLE sim_cards (
    account                text        NOT NULL,
    sim_card_id            bigint      NOT NULL,
    iccid                  text,
    cid                    text,
    msisdn                 text,
    imsi                   text,
    imei                   text,
    account_id             text,
    sim_type               integer,
    sim_status             integer,
    operator_status        integer,
    device_status          integer,
    device_model           text,
    device_status_date     timestamptz,
    node_id                text,
    network_type           text,
    dbm                    text,
    signal_level           text,
    sim_pool_id            bigint,
    order_id               bigint,
    price_plan_name        text,
    sim_price_plan_id      bigint,
    flow_used_mb           double precision,
    flow_left_mb           double precision,
    act_date               timestamptz,
    expire_time            timestamptz,
    tag_names              text,
    real_named             boolean,
    cut_net_flag           boolean,
    exceed_cut_net_flag    boolean,
    exceed_cut_net_quota   integer,
    imei_bind_remain_times integer,
    speed_value            integer,
    customer_attribute1    text,
    customer_attribute2    text,
    customer_attribute3    text,
    customer_attribute4    text,
    customer_attribute5    text,
    customer_attribute6    text,
    data_date              date,          -- the usage day the flow figures are "as of"
    first_seen_at          timestamptz NOT NULL DEFAULT now(),
    last_seen_at           timestamptz NOT NULL DEFAULT now(),
    removed_at             timestamptz,
    updated_at             timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (account, sim_card_id)
);
CREATE INDEX sim_cards_iccid ON sim_cards (iccid);
CREATE INDEX sim_cards_cid ON sim_cards (account, cid);
CREATE INDEX sim_cards_pool ON sim_cards (account, sim_pool_id) WHERE sim_pool_id IS NOT NULL;

-- One row per card per data day: the figures the card list showed for that day.
CREATE TABLE sim_snapshots (
    account         text             NOT NULL,
    sim_card_id     bigint           NOT NULL,
    data_date       date             NOT NULL,
    flow_used_mb    double precision,
    flow_left_mb    double precision,
    operator_status integer,
    sim_status      integer,
    captured_at     timestamptz      NOT NULL DEFAULT now(),
    PRIMARY KEY (account, sim_card_id, data_date)
) PARTITION BY RANGE (data_date);

-- Daily usage per card and calendar day (sync.timezone), MB.
CREATE TABLE sim_daily_flow (
    account     text             NOT NULL,
    sim_card_id bigint           NOT NULL,
    iccid       text,
    day         date             NOT NULL,
    flow_mb     double precision NOT NULL,
    fetched_at  timestamptz      NOT NULL DEFAULT now(),
    PRIMARY KEY (account, sim_card_id, day)
) PARTITION BY RANGE (day);
CREATE INDEX sim_daily_flow_day ON sim_daily_flow (account, day);

-- Month-usages per billing cycle (first day of the month), as the carrier bills it.
CREATE TABLE sim_monthly_usage (
    account       text             NOT NULL,
    sim_card_id   bigint           NOT NULL,
    iccid         text,
    billing_cycle date             NOT NULL,
    flow_used_mb  double precision NOT NULL,
    fetched_at    timestamptz      NOT NULL DEFAULT now(),
    PRIMARY KEY (account, sim_card_id, billing_cycle)
);
CREATE INDEX sim_monthly_usage_cycle ON sim_monthly_usage (account, billing_cycle);

-- Flow pools: kind 'forward' (/v1/sim-pools) or 'backward' (/v1/back-pools); ids are unique per kind.
CREATE TABLE sim_pools (
    account                   text        NOT NULL,
    kind                      text        NOT NULL CHECK (kind IN ('forward', 'backward')),
    sim_pool_id               bigint      NOT NULL,
    pool_name                 text,
    price_plan_name           text,
    price_plan_id             text,
    status                    integer,
    quantity                  bigint,
    activated_sim_quantity    bigint,
    inactive_sim_quantity     bigint,
    disassembled_sim_quantity bigint,
    effective_time            timestamptz,
    expired_time              timestamptz,
    first_seen_at             timestamptz NOT NULL DEFAULT now(),
    last_seen_at              timestamptz NOT NULL DEFAULT now(),
    removed_at                timestamptz,
    PRIMARY KEY (account, kind, sim_pool_id)
);

CREATE TABLE sim_pool_usage (
    account       text             NOT NULL,
    kind          text             NOT NULL,
    sim_pool_id   bigint           NOT NULL,
    billing_cycle date             NOT NULL,
    flow_total_mb double precision,
    flow_used_mb  double precision,
    flow_left_mb  double precision,
    fetched_at    timestamptz      NOT NULL DEFAULT now(),
    PRIMARY KEY (account, kind, sim_pool_id, billing_cycle)
);

CREATE TABLE sim_pool_members (
    account           text             NOT NULL,
    kind              text             NOT NULL,
    sim_pool_id       bigint           NOT NULL,
    billing_cycle     date             NOT NULL,
    cid               text             NOT NULL,
    sim_price_plan_id bigint,
    flow_used_mb      double precision,
    sim_status        integer,
    fetched_at        timestamptz      NOT NULL DEFAULT now(),
    PRIMARY KEY (account, kind, sim_pool_id, billing_cycle, cid)
);

-- Every job run. A run killed mid-way stays 'running' until a later run or the leader marks it failed.
CREATE TABLE sync_runs (
    id             bigserial   PRIMARY KEY,
    account        text        NOT NULL,
    job            text        NOT NULL,
    started_at     timestamptz NOT NULL DEFAULT now(),
    finished_at    timestamptz,
    status         text        NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'succeeded', 'failed')),
    api_calls      bigint      NOT NULL DEFAULT 0,
    items_seen     bigint      NOT NULL DEFAULT 0,
    rows_inserted  bigint      NOT NULL DEFAULT 0,
    rows_updated   bigint      NOT NULL DEFAULT 0,
    rows_removed   bigint      NOT NULL DEFAULT 0,
    gap_days       date[]      NOT NULL DEFAULT '{}', -- days that fell out of the API's window unfetched
    details        jsonb       NOT NULL DEFAULT '{}',
    error          text,
    holder         text                                 -- the replica that ran it
);
CREATE INDEX sync_runs_recent ON sync_runs (account, job, started_at DESC);

-- One row per alert episode; at most one open episode per subject and kind.
CREATE TABLE alerts (
    id               bigserial        PRIMARY KEY,
    account          text             NOT NULL,
    kind             text             NOT NULL,  -- the alertname, e.g. GslSimQuotaWarning
    severity         text             NOT NULL,
    sim_card_id      bigint,
    iccid            text,
    sim_pool_id      bigint,
    subject          text             NOT NULL,  -- the card or pool the episode is about, e.g. 'sim:123'
    started_at       timestamptz      NOT NULL DEFAULT now(),
    resolved_at      timestamptz,
    last_notified_at timestamptz,
    resolve_notified_at timestamptz,
    value            double precision,           -- the figure that triggered it (ratio, MB, days)
    threshold        double precision,
    details          jsonb            NOT NULL DEFAULT '{}'
);
CREATE UNIQUE INDEX alerts_one_open_episode ON alerts (account, kind, subject) WHERE resolved_at IS NULL;
CREATE INDEX alerts_pending_notification ON alerts (last_notified_at) WHERE resolve_notified_at IS NULL;
