-- Workers and their recent counts, for `ctl workers` and per-worker
-- hashrates (issue 12). Like share_worker_index and share_worker_daily they
-- are brought up to date by the summary pass (every 50,000 events, see
-- share_summarised): the events after `up_to_seq` are in none of them, and
-- the queries add those from share_events. Only events actually inserted
-- have a seq, so a replayed batch counts nothing twice.
--
-- The bucket tables are keyed by time first: a pass adds the newest
-- buckets, at the end of the tree (keyed by worker first, each pass would
-- rewrite a page per worker), and by the worker's id.

-- Every worker per site and algorithm: its latest share (of any verdict),
-- that share's miner (target) difficulty and data plane, and an id the
-- bucket tables use (small keys: cheaper to write, sort and group). Kept as
-- long as raw shares (controlplane.share_retention_days), at least 50 hours.
CREATE TABLE workers (
    id              INTEGER PRIMARY KEY,
    site            TEXT NOT NULL,
    algorithm       TEXT NOT NULL,
    worker          TEXT NOT NULL,
    last_share_ms   INTEGER NOT NULL,
    last_difficulty REAL NOT NULL,
    dataplane_id    TEXT NOT NULL,
    UNIQUE (site, algorithm, worker)
);

-- Shares per worker per 5 minutes (bucket_ms = the bucket's start):
-- accepted and rejected (final verdicts) and the sum of the accepted
-- shares' miner difficulty (their work). Kept 3 hours: the 15-minute and
-- 1-hour hashrates and counts over a `--since` of 2 hours or less.
CREATE TABLE worker_5min (
    bucket_ms     INTEGER NOT NULL,
    worker_id     INTEGER NOT NULL,
    accepted      INTEGER NOT NULL,
    rejected      INTEGER NOT NULL,
    accepted_work REAL NOT NULL,
    PRIMARY KEY (bucket_ms, worker_id)
) WITHOUT ROWID;

-- The same per worker per hour, kept 50 hours: the 24-hour hashrate and
-- counts over a longer `--since` (at most 48 hours).
CREATE TABLE worker_hourly (
    hour_ms       INTEGER NOT NULL,
    worker_id     INTEGER NOT NULL,
    accepted      INTEGER NOT NULL,
    rejected      INTEGER NOT NULL,
    accepted_work REAL NOT NULL,
    PRIMARY KEY (hour_ms, worker_id)
) WITHOUT ROWID;

-- The summarised events of the last 50 hours (found by the at_ms index),
-- so that an upgraded database lists its workers at once. (With one MAX()
-- in a query, SQLite takes the bare columns from that row.)
INSERT INTO workers (site, algorithm, worker, last_share_ms, last_difficulty, dataplane_id)
SELECT site, algorithm, worker, MAX(at_ms), miner_difficulty, dataplane_id
FROM share_events
WHERE at_ms >= (CAST(strftime('%s', 'now') AS INTEGER) - 50 * 3600) * 1000
  AND seq <= (SELECT up_to_seq FROM share_summarised)
GROUP BY site, algorithm, worker;

INSERT INTO worker_5min (bucket_ms, worker_id, accepted, rejected, accepted_work)
SELECT (e.at_ms / 300000) * 300000, w.id, SUM(e.verdict = 'accepted'), SUM(e.verdict <> 'accepted'),
       TOTAL(CASE WHEN e.verdict = 'accepted' THEN e.miner_difficulty END)
FROM share_events e JOIN workers w ON w.site = e.site AND w.algorithm = e.algorithm AND w.worker = e.worker
WHERE e.at_ms >= (CAST(strftime('%s', 'now') AS INTEGER) - 3 * 3600) * 1000
  AND e.seq <= (SELECT up_to_seq FROM share_summarised)
GROUP BY 1, 2;

INSERT INTO worker_hourly (hour_ms, worker_id, accepted, rejected, accepted_work)
SELECT (e.at_ms / 3600000) * 3600000, w.id, SUM(e.verdict = 'accepted'), SUM(e.verdict <> 'accepted'),
       TOTAL(CASE WHEN e.verdict = 'accepted' THEN e.miner_difficulty END)
FROM share_events e JOIN workers w ON w.site = e.site AND w.algorithm = e.algorithm AND w.worker = e.worker
WHERE e.at_ms >= (CAST(strftime('%s', 'now') AS INTEGER) - 50 * 3600) * 1000
  AND e.seq <= (SELECT up_to_seq FROM share_summarised)
GROUP BY 1, 2;
