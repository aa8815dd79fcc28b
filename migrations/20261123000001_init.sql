-- Switchyard control-plane schema. Times are unix milliseconds (UTC) in
-- columns named *_ms; the v_* views show them as readable UTC times.
-- Schema changes only ever come as new migration files.

-- Key/value facts about this database (the admin token's hash, when the
-- config was first imported).
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- One rig site: its IANA time zone (schedules are its local wall-clock
-- times), the SHA-256 hash of its data-plane token, its data-plane settings
-- (the seed's `proxy:` section as YAML) and the version of its routing plan.
CREATE TABLE sites (
    id            INTEGER PRIMARY KEY,
    name          TEXT NOT NULL UNIQUE,
    timezone      TEXT NOT NULL,
    token_hash    TEXT NOT NULL UNIQUE,
    proxy_yaml    TEXT NOT NULL,
    plan_version  INTEGER NOT NULL DEFAULT 0,
    plan_json     TEXT,
    created_ms    INTEGER NOT NULL
);

-- A pool (the seed's "server"), shared by all sites.
CREATE TABLE pools (
    id                INTEGER PRIMARY KEY,
    name              TEXT NOT NULL UNIQUE,
    algorithm         TEXT NOT NULL CHECK (algorithm IN ('sha256', 'randomx', 'zksnark')),
    host              TEXT NOT NULL,
    port              INTEGER NOT NULL CHECK (port BETWEEN 1 AND 65535),
    username          TEXT NOT NULL,
    password          TEXT NOT NULL,
    tls               INTEGER NOT NULL DEFAULT 0,
    mode              TEXT NOT NULL DEFAULT 'aggregate' CHECK (mode IN ('aggregate', 'passthrough')),
    enabled           INTEGER NOT NULL DEFAULT 1,
    connect_timeout_s INTEGER NOT NULL DEFAULT 30,
    retry_interval_s  INTEGER NOT NULL DEFAULT 5,
    buffer_percent    REAL,
    min_difficulty    REAL,
    max_difficulty    REAL,
    created_ms        INTEGER NOT NULL,
    updated_ms        INTEGER NOT NULL
);

-- A site's day for one algorithm: slots of local time, end exclusive
-- (minutes since local midnight, 1440 = 24:00; start > end crosses midnight).
-- Always replaced as a whole day.
CREATE TABLE schedule_entries (
    site_id    INTEGER NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
    algorithm  TEXT NOT NULL,
    start_min  INTEGER NOT NULL CHECK (start_min BETWEEN 0 AND 1439),
    end_min    INTEGER NOT NULL CHECK (end_min BETWEEN 0 AND 1440),
    pool_id    INTEGER NOT NULL REFERENCES pools(id),
    PRIMARY KEY (site_id, algorithm, start_min)
);

-- A manual override: the site's hashrate of one algorithm goes to `pool_id`
-- until `until_ms`, whatever the schedule says.
CREATE TABLE overrides (
    site_id    INTEGER NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
    algorithm  TEXT NOT NULL,
    pool_id    INTEGER NOT NULL REFERENCES pools(id) ON DELETE CASCADE,
    until_ms   INTEGER NOT NULL,
    created_ms INTEGER NOT NULL,
    PRIMARY KEY (site_id, algorithm)
);

-- The operator's failover order per site and algorithm (the pools tried,
-- in this order, when the current one fails; the other enabled pools follow).
CREATE TABLE failover_order (
    site_id   INTEGER NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
    algorithm TEXT NOT NULL,
    position  INTEGER NOT NULL,
    pool_id   INTEGER NOT NULL REFERENCES pools(id) ON DELETE CASCADE,
    PRIMARY KEY (site_id, algorithm, position)
);

-- Every data plane that ever registered, with the plan version it last
-- acknowledged.
CREATE TABLE dataplanes (
    id                 TEXT PRIMARY KEY,
    site_id            INTEGER NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
    version            TEXT NOT NULL,
    hostname           TEXT NOT NULL,
    first_seen_ms      INTEGER NOT NULL,
    last_seen_ms       INTEGER NOT NULL,
    acked_plan_version INTEGER NOT NULL DEFAULT 0,
    ack_error          TEXT NOT NULL DEFAULT ''
);

-- Circuit breaker state per (site, pool); absent = closed.
CREATE TABLE breakers (
    site_id              INTEGER NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
    pool_id              INTEGER NOT NULL REFERENCES pools(id) ON DELETE CASCADE,
    state                TEXT NOT NULL CHECK (state IN ('closed', 'open', 'half-open')),
    consecutive_failures INTEGER NOT NULL,
    successes            INTEGER NOT NULL,
    changed_ms           INTEGER NOT NULL,
    retry_ms             INTEGER,
    last_error           TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (site_id, pool_id)
);

-- Every breaker transition.
CREATE TABLE breaker_events (
    id         INTEGER PRIMARY KEY,
    at_ms      INTEGER NOT NULL,
    site       TEXT NOT NULL,
    pool       TEXT NOT NULL,
    from_state TEXT NOT NULL,
    to_state   TEXT NOT NULL,
    reason     TEXT NOT NULL
);

-- Every share a miner submitted (design decision 5). The id is the data
-- plane's UUIDv7, unique, so a replayed batch inserts nothing twice. Names
-- (site, pool, worker) are stored as text so history outlives renames and
-- removals. `verdict` is the final answer the miner got: the pool's when the
-- share was forwarded, the data plane's otherwise. `seq` is the order of
-- arrival (never reused; a replayed batch leaves a gap).
CREATE TABLE share_events (
    seq              INTEGER PRIMARY KEY AUTOINCREMENT,
    id               TEXT NOT NULL UNIQUE,
    at_ms            INTEGER NOT NULL,
    site             TEXT NOT NULL,
    dataplane_id     TEXT NOT NULL,
    algorithm        TEXT NOT NULL,
    pool             TEXT NOT NULL,
    worker           TEXT NOT NULL,
    job_id           TEXT NOT NULL,
    miner_difficulty REAL NOT NULL,
    share_difficulty REAL,
    local_verdict    TEXT NOT NULL,
    forwarded        INTEGER NOT NULL,
    pool_verdict     TEXT,
    verdict          TEXT NOT NULL,
    reason           TEXT,
    pool_latency_us  INTEGER
);
CREATE INDEX share_events_at ON share_events (at_ms);
CREATE INDEX share_events_pool_at ON share_events (pool, at_ms);
CREATE INDEX share_events_rejected_at ON share_events (at_ms) WHERE verdict <> 'accepted';
CREATE INDEX share_events_rejected_pool_at ON share_events (pool, at_ms) WHERE verdict <> 'accepted';

-- Two summaries of share_events are brought up to date in bulk, each time
-- 50,000 events have arrived after `share_summarised.up_to_seq`: all the
-- events up to the latest are added to share_worker_index and
-- share_worker_daily at once and the mark moves. (An index by worker kept
-- with every batch would write about one page per worker of the batch; in
-- bulk it is one page per worker per pass.) The events after the mark
-- (`seq > up_to_seq`) are in neither: queries and v_worker_daily add them
-- from share_events.
CREATE TABLE share_summarised (
    up_to_seq INTEGER NOT NULL
);
INSERT INTO share_summarised (up_to_seq) VALUES (0);

-- share_events by worker.
CREATE TABLE share_worker_index (
    worker TEXT NOT NULL,
    at_ms  INTEGER NOT NULL,
    seq    INTEGER NOT NULL,
    PRIMARY KEY (worker, at_ms, seq)
) WITHOUT ROWID;

-- Shares per hour, site, algorithm, pool, verdict, reason ('' when none)
-- and whether forwarded to the pool: kept with every batch (its new events
-- only), up to date.
CREATE TABLE share_hourly (
    hour_ms        INTEGER NOT NULL,
    site           TEXT NOT NULL,
    algorithm      TEXT NOT NULL,
    pool           TEXT NOT NULL,
    verdict        TEXT NOT NULL,
    reason         TEXT NOT NULL,
    forwarded      INTEGER NOT NULL,
    shares         INTEGER NOT NULL,
    difficulty_sum REAL NOT NULL,
    PRIMARY KEY (hour_ms, site, algorithm, pool, verdict, reason, forwarded)
) WITHOUT ROWID;

-- Shares per UTC day ('YYYY-MM-DD', as v_worker_daily shows it, so that a
-- filter on the day finds its rows by the key), site, algorithm, worker and
-- verdict (summarised in bulk, see above).
CREATE TABLE share_worker_daily (
    day_utc        TEXT NOT NULL,
    site           TEXT NOT NULL,
    algorithm      TEXT NOT NULL,
    worker         TEXT NOT NULL,
    verdict        TEXT NOT NULL,
    shares         INTEGER NOT NULL,
    difficulty_sum REAL NOT NULL,
    PRIMARY KEY (day_utc, site, algorithm, worker, verdict)
) WITHOUT ROWID;

-- Shares older than the retention period, counted per hour and worker (raw
-- rows are deleted once rolled up).
CREATE TABLE share_rollups (
    hour_ms        INTEGER NOT NULL,
    site           TEXT NOT NULL,
    algorithm      TEXT NOT NULL,
    pool           TEXT NOT NULL,
    worker         TEXT NOT NULL,
    verdict        TEXT NOT NULL,
    reason         TEXT NOT NULL DEFAULT '',
    shares         INTEGER NOT NULL,
    difficulty_sum REAL NOT NULL,
    PRIMARY KEY (hour_ms, site, algorithm, pool, worker, verdict, reason)
);

-- Every change of where a site's hashrate goes (schedule boundary, override,
-- failover because of a breaker), as decided by the control plane.
CREATE TABLE switch_events (
    id           INTEGER PRIMARY KEY,
    at_ms        INTEGER NOT NULL,
    site         TEXT NOT NULL,
    algorithm    TEXT NOT NULL,
    from_pool    TEXT NOT NULL,
    to_pool      TEXT NOT NULL,
    reason       TEXT NOT NULL,
    plan_version INTEGER NOT NULL
);

-- Every admin change: who (token kind), what, on which object, with details
-- (never a password or token).
CREATE TABLE audit_log (
    id     INTEGER PRIMARY KEY,
    at_ms  INTEGER NOT NULL,
    actor  TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT ''
);

-- Views for the common questions: `sqlite3 switchyard.db 'SELECT * FROM v_pool_hourly'`.
CREATE VIEW v_shares AS
SELECT strftime('%Y-%m-%d %H:%M:%f', at_ms / 1000.0, 'unixepoch') AS time_utc,
       id, at_ms, site, dataplane_id, algorithm, pool, worker, job_id, miner_difficulty,
       share_difficulty, local_verdict, forwarded, pool_verdict, verdict, reason, pool_latency_us
FROM share_events;

CREATE VIEW v_pool_hourly AS
SELECT strftime('%Y-%m-%d %H:00', hour_ms / 1000, 'unixepoch') AS hour_utc,
       site, algorithm, pool,
       SUM(CASE WHEN verdict = 'accepted' THEN shares ELSE 0 END) AS accepted,
       SUM(CASE WHEN verdict = 'accepted' THEN 0 ELSE shares END) AS rejected,
       SUM(shares) AS total,
       ROUND(100.0 * SUM(CASE WHEN verdict = 'accepted' THEN shares ELSE 0 END) / SUM(shares), 2) AS accepted_pct,
       SUM(CASE WHEN verdict = 'accepted' THEN difficulty_sum ELSE 0 END) AS accepted_difficulty
FROM share_hourly
GROUP BY hour_ms, site, algorithm, pool;

CREATE VIEW v_worker_daily AS
SELECT day_utc, site, algorithm, worker,
       SUM(CASE WHEN verdict = 'accepted' THEN shares ELSE 0 END) AS accepted,
       SUM(CASE WHEN verdict = 'accepted' THEN 0 ELSE shares END) AS rejected,
       SUM(shares) AS total,
       SUM(CASE WHEN verdict = 'accepted' THEN difficulty_sum ELSE 0 END) AS accepted_difficulty
FROM (
    SELECT day_utc, site, algorithm, worker, verdict, shares, difficulty_sum FROM share_worker_daily
    UNION ALL
    SELECT strftime('%Y-%m-%d', day * 86400, 'unixepoch'), site, algorithm, worker, verdict, n, d FROM (
        SELECT at_ms / 86400000 AS day, site, algorithm, worker, verdict, COUNT(*) AS n, SUM(miner_difficulty) AS d
        FROM share_events WHERE seq > (SELECT up_to_seq FROM share_summarised)
        GROUP BY worker, day, site, algorithm, verdict
    )
)
GROUP BY day_utc, site, algorithm, worker;

CREATE VIEW v_reject_reasons AS
SELECT strftime('%Y-%m-%d', day_ms / 1000, 'unixepoch') AS day_utc,
       site, algorithm, pool, reason, SUM(shares) AS shares
FROM (
    SELECT (hour_ms / 86400000) * 86400000 AS day_ms, site, algorithm, pool,
           COALESCE(NULLIF(reason, ''), 'unknown') AS reason, shares
    FROM share_hourly WHERE verdict <> 'accepted'
)
GROUP BY day_ms, site, algorithm, pool, reason;

CREATE VIEW v_switches AS
SELECT strftime('%Y-%m-%d %H:%M:%S', at_ms / 1000, 'unixepoch') AS time_utc, site, algorithm,
       from_pool, to_pool, reason, plan_version
FROM switch_events;

CREATE VIEW v_audit AS
SELECT strftime('%Y-%m-%d %H:%M:%S', at_ms / 1000, 'unixepoch') AS time_utc, actor, action, target, detail
FROM audit_log;
