-- The cards each inventory run has listed so far, so that a complete pass can mark the others removed
-- without rewriting every card row. Rows live only while their run does.
CREATE UNLOGGED TABLE inventory_seen (
    run_id      bigint NOT NULL,
    sim_card_id bigint NOT NULL,
    PRIMARY KEY (run_id, sim_card_id)
);
