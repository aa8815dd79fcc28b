-- Weighted windows (issue 14): a schedule window may name several pools
-- with weights. Each pool of a window is one row with the window's start
-- and end; `weight` 0 is a window of one pool (the only row at that
-- start), a positive weight a pool of a weighted window, whose pools keep
-- their written order in `position`.
CREATE TABLE schedule_entries_new (
    site_id    INTEGER NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
    algorithm  TEXT NOT NULL,
    start_min  INTEGER NOT NULL CHECK (start_min BETWEEN 0 AND 1439),
    end_min    INTEGER NOT NULL CHECK (end_min BETWEEN 0 AND 1440),
    pool_id    INTEGER NOT NULL REFERENCES pools(id),
    weight     INTEGER NOT NULL DEFAULT 0 CHECK (weight BETWEEN 0 AND 1000000),
    position   INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (site_id, algorithm, start_min, pool_id)
);

INSERT INTO schedule_entries_new (site_id, algorithm, start_min, end_min, pool_id)
    SELECT site_id, algorithm, start_min, end_min, pool_id FROM schedule_entries;

DROP TABLE schedule_entries;

ALTER TABLE schedule_entries_new RENAME TO schedule_entries;

CREATE INDEX schedule_entries_by_pool ON schedule_entries (pool_id);
