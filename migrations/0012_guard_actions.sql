-- Guard actions (0.2): every decision a guard policy (or a person approving one) takes on a card, from the
-- decision to the carrier's confirmation and the restore. Public: docs/reference.md names the key columns.
--
-- status: dry_run (decided, nothing sent) | refused (the card's carrier does not offer the action; reason
-- says why) | queued (enforce: to be sent) | sending (claimed by a sender) | pending (work order sent,
-- not yet confirmed) | completed (the carrier confirmed) | failed | restoring (restore order sent) |
-- restored | dismissed (a dry-run decision undone) | expired (the cycle ended before it was sent).
-- A row is open until closed_at: while open, the card gets no other decision in the same mode.
CREATE TABLE guard_actions (
    id                    bigserial   PRIMARY KEY,
    account               text        NOT NULL,
    sim_card_id           bigint      NOT NULL,
    iccid                 text,
    policy                text        NOT NULL,
    action                text        NOT NULL,   -- speed_limit | cut_net | cut_at_quota | stop
    mode                  text        NOT NULL,   -- dry_run | enforce
    restore               text        NOT NULL,   -- next_cycle | manual
    speed_kbps            integer,                -- speed_limit only
    quota_mb              bigint,                 -- cut_at_quota only
    reason                text        NOT NULL,   -- why, with the figures
    figures               jsonb       NOT NULL DEFAULT '{}',
    status                text        NOT NULL,
    error                 text,                   -- the last refusal or failure, with GSL's code
    work_order_id         bigint,
    restore_work_order_id bigint,
    attempts              integer     NOT NULL DEFAULT 0,
    not_before            timestamptz,            -- not sent again before (GSL's pending and 5-minute rules)
    next_cycle            date        NOT NULL,   -- the first day of the card's next billing cycle
    requested_at          timestamptz NOT NULL DEFAULT now(),
    sent_at               timestamptz,
    checked_at            timestamptz,
    completed_at          timestamptz,
    restored_at           timestamptz,
    closed_at             timestamptz
);
-- The brakes count a policy's decisions of the last hour and of the day.
CREATE INDEX guard_actions_by_policy ON guard_actions (account, policy, requested_at);
-- Open decisions: what the candidate query excludes and the tracker walks.
CREATE INDEX guard_actions_open ON guard_actions (account, sim_card_id) WHERE closed_at IS NULL;
CREATE INDEX guard_actions_recent ON guard_actions (requested_at DESC);
