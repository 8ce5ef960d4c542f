-- A build's Parquet output as loaded, before the MERGE: the OBT's columns without the MERGE's bookkeeping.
CREATE OR REPLACE TABLE {staging} AS
SELECT * EXCEPT (build_id, loaded_at) FROM {obt} WHERE FALSE
