-- Each night moves the figures of nearly every open episode (the ratio, flow used and left), so the first
-- evaluation after it rewrites some hundred thousand `alerts` rows at a million cards. With room on the
-- row's page the new version is a heap-only tuple, and none of the table's five indexes is written: none
-- covers a column an evaluation updates (value, threshold, details, iccid). Half a page is room for one
-- new version of every row on it; the dead ones are pruned when the page is next read. Pages written
-- before this migration take the setting as they are rewritten (VACUUM FULL alerts applies it at once).
ALTER TABLE alerts SET (fillfactor = 50);
