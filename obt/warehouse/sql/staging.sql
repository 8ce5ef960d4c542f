-- A build's Parquet output as loaded, before the MERGE: the OBT's columns without the MERGE's bookkeeping.
-- Partitioned like the OBT, so that a MERGE bounded to some partitions reads only those of the source too.
CREATE OR REPLACE TABLE {staging}
PARTITION BY log_date
AS SELECT * EXCEPT (build_id, loaded_at) FROM {obt} WHERE FALSE
