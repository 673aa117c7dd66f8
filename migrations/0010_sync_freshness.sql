-- How fresh each account's data is: the last day whose daily flow is stored for every card, and when the
-- run that first reached that day finished (the night's data was complete then). Set by daily-flow runs.
ALTER TABLE sync_runs
    ADD COLUMN IF NOT EXISTS data_complete_through date,
    ADD COLUMN IF NOT EXISTS night_complete_at timestamptz;
