-- Which sites may use a pool (SECURITY.md F1). A pool with no row here is
-- shared: every site may schedule it and fail over to it, and every site's
-- routing plan carries its settings. A pool with rows is the listed sites'
-- only: other sites' plans never carry it (nor its password), and their
-- schedules, overrides and failover lists cannot name it. Removing a site
-- that is the last one a pool is granted to is refused (the pool would
-- otherwise become shared).
CREATE TABLE pool_sites (
    pool_id  INTEGER NOT NULL REFERENCES pools(id) ON DELETE CASCADE,
    site_id  INTEGER NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
    PRIMARY KEY (pool_id, site_id)
) WITHOUT ROWID;

CREATE INDEX pool_sites_by_site ON pool_sites (site_id);
