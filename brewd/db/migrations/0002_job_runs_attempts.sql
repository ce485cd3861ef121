-- brewd schema, version 2: each run records how many attempts it made and the last transient
-- error one of them ended with (NULL for rows that never ran, and for runs recorded before).
-- Nullable columns without a default: adding them only changes the catalog, no table rewrite.
ALTER TABLE job_runs ADD COLUMN IF NOT EXISTS attempts integer;
ALTER TABLE job_runs ADD COLUMN IF NOT EXISTS last_error text;
