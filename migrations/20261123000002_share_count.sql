-- The number of raw share events stored, kept exactly in the same
-- transactions that insert and roll up events: `COUNT(*)` takes seconds at
-- ten million rows, and the ends of `seq` overcount (a replayed, ignored
-- insert still consumes sequence numbers).
CREATE TABLE share_count (
    n INTEGER NOT NULL
);
INSERT INTO share_count (n) SELECT COUNT(*) FROM share_events;
