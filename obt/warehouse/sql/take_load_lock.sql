-- A load's first statement inside its transaction (load_lock.sql): two loads at once now conflict, and the one that
-- commits second is cancelled and retried, reading the ledger afresh.
UPDATE {load_lock} SET held_by = @build_id, held_at = CURRENT_TIMESTAMP() WHERE TRUE
