-- Delivery of alert episodes, tracked per receiver ('alertmanager', 'webhook'), so that one receiver's
-- outage neither blocks nor loses the other's notifications. A row exists once a firing notification
-- reached that receiver; the resolved notification is due while resolve_sent_at is null.
CREATE TABLE alert_deliveries (
    alert_id        bigint      NOT NULL REFERENCES alerts (id) ON DELETE CASCADE,
    receiver        text        NOT NULL,
    last_sent_at    timestamptz NOT NULL,
    resolve_sent_at timestamptz,
    PRIMARY KEY (alert_id, receiver)
);
CREATE INDEX alert_deliveries_unresolved ON alert_deliveries (receiver, alert_id) WHERE resolve_sent_at IS NULL;
