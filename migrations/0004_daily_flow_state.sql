-- How far each month of daily flow has been fetched, per account: the planner's memory, so that catch-up,
-- month close-out and gap detection do not depend on whether the API lists zero-usage days.
CREATE TABLE daily_flow_state (
    account          text        NOT NULL,
    month            date        NOT NULL,  -- first day of the month
    complete_through date        NOT NULL,  -- every day up to this one was fetched for every active card
    closed           boolean     NOT NULL DEFAULT false,  -- fetched after the close-out window
    updated_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (account, month)
);
