-- The OBT's data columns added after it was first created (obt_contract.schema.ADDED_COLUMNS): an OBT created
-- before them gets them here, NULL on every existing row; one created by obt.sql has them and is left alone.
-- ADD COLUMN appends, so an upgraded table holds them after loaded_at: every statement names its columns.
ALTER TABLE {obt} ADD COLUMN IF NOT EXISTS predicted_positive INT64;
ALTER TABLE {obt} ADD COLUMN IF NOT EXISTS sentiment_score FLOAT64;
