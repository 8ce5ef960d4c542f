-- The ledger's columns added after it was first created: a ledger created before them gets them here, NULL on
-- every existing row (partitions NULL = a full MERGE, which every load before them was); one created by
-- load_ledger.sql has them and is left alone. ADD COLUMN appends: load_ledger.sql declares them last too.
ALTER TABLE {ledger} ADD COLUMN IF NOT EXISTS partitions STRING;
