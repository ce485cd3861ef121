-- brewd schema, version 3: analytics.from_original marks the rows the original scheduler wrote
-- (date and hour in its own local zone, figures defined differently). aggregateAnalytics never
-- overwrites them and does not count them as its own newest hour. On brewd's own databases
-- every row is brewd's (false); on an adopted one `db init` adds the column with DEFAULT true
-- first, so the rows already there are marked, then sets the default to false.
ALTER TABLE analytics ADD COLUMN IF NOT EXISTS from_original boolean NOT NULL DEFAULT false;
