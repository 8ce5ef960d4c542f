-- The lock's one row (load_lock.sql). Two first schema checks racing may both insert it: every load updates every
-- row of the table, so two rows lock as one does.
INSERT INTO {load_lock} (held_by, held_at)
SELECT '', CURRENT_TIMESTAMP()
FROM (SELECT 1 AS one)
WHERE NOT EXISTS (SELECT 1 FROM {load_lock})
