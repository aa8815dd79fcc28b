-- ALEO pools: the stratum dialect the pool speaks ('aleostratum3' or
-- 'iceriver', protocols.md section 3); NULL lets the data plane detect it.
ALTER TABLE pools ADD COLUMN dialect TEXT
    CHECK (dialect IS NULL OR (algorithm = 'zksnark' AND dialect IN ('aleostratum3', 'iceriver')));
