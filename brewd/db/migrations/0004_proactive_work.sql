-- brewd schema, version 4: proactiveMessages shares a slot's cafés among all live nodes.
-- The node that claims the slot opens a round and writes one work row per café to post to;
-- every node (the claimer and the nodes whose claim of the slot failed) takes rows with
-- FOR UPDATE SKIP LOCKED, each in one transaction with the café's agent_messages insert.
-- A row lock goes with its connection, so a node that dies leaves its cafés to the others.

CREATE TABLE IF NOT EXISTS proactive_rounds (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    run_id bigint,            -- job_runs.id of the claimer's run (NULL outside the runner)
    slot timestamptz,         -- the scheduled slot (NULL for manual runs)
    now timestamptz NOT NULL, -- the run's reference time: every node judges the cafés at it
    node text NOT NULL,       -- the node that opened the round
    opened_at timestamptz NOT NULL DEFAULT now(),
    closes_at timestamptz NOT NULL, -- no café is started after this (database clock)
    state text NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'closed'))
);
CREATE INDEX IF NOT EXISTS proactive_rounds_open_idx ON proactive_rounds (id) WHERE state = 'open';
CREATE INDEX IF NOT EXISTS proactive_rounds_opened_idx ON proactive_rounds (opened_at);

CREATE TABLE IF NOT EXISTS proactive_work (
    round_id bigint NOT NULL REFERENCES proactive_rounds (id) ON DELETE CASCADE,
    cafe_id uuid NOT NULL REFERENCES cafes (id) ON DELETE CASCADE,
    name text NOT NULL,
    timezone text NOT NULL,
    trigger text NOT NULL,
    active_users integer NOT NULL,
    recent_pokes integer NOT NULL,
    recent_messages integer NOT NULL,
    local_hour integer NOT NULL,
    state text NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'done', 'unreached')),
    outcome text,             -- 'claude' | 'template' | 'deferred' | the limit that held it back
    fallback text,            -- why a template stood in for Claude, if it did
    node text,                -- who did it
    done_at timestamptz,
    announced boolean,        -- false: recorded, but PUBLISH failed
    PRIMARY KEY (round_id, cafe_id)
);
CREATE INDEX IF NOT EXISTS proactive_work_open_idx ON proactive_work (round_id) WHERE state = 'open';
CREATE INDEX IF NOT EXISTS proactive_work_cafe_idx ON proactive_work (cafe_id);
