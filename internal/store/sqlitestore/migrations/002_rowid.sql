-- Resources move to a rowid table. In the WITHOUT ROWID table a row is kept
-- in an index b-tree, whose cells hold at most about 1 KB on a 4 KB page:
-- every larger body (images, executions, builds) spilled to an overflow
-- page, and each update freed and reallocated it, writing four or five
-- pages to the log. A rowid table keeps rows of up to about 4 KB on their
-- leaf, and an update that keeps the indexed columns writes that one page.
CREATE TABLE resources_rowid (
    account    TEXT    NOT NULL,
    region     TEXT    NOT NULL,
    kind       TEXT    NOT NULL,
    id         TEXT    NOT NULL,
    parent     TEXT    NOT NULL DEFAULT '',
    sort_key   TEXT    NOT NULL,
    created_ms INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL,
    tags       TEXT    NOT NULL DEFAULT '{}',
    body       BLOB    NOT NULL
);

INSERT INTO resources_rowid (account, region, kind, id, parent, sort_key, created_ms, updated_ms, tags, body)
    SELECT account, region, kind, id, parent, sort_key, created_ms, updated_ms, tags, body FROM resources;

DROP TABLE resources;

ALTER TABLE resources_rowid RENAME TO resources;

CREATE UNIQUE INDEX resources_id ON resources (account, region, kind, id);

CREATE UNIQUE INDEX resources_order ON resources (account, region, kind, parent, sort_key);
