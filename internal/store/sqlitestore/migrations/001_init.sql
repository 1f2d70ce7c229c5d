-- Resources: one row per AWS resource, a few indexed columns plus the JSON body.
CREATE TABLE resources (
    account    TEXT    NOT NULL,
    region     TEXT    NOT NULL,
    kind       TEXT    NOT NULL,
    id         TEXT    NOT NULL,
    parent     TEXT    NOT NULL DEFAULT '',
    sort_key   TEXT    NOT NULL,
    created_ms INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL,
    tags       TEXT    NOT NULL DEFAULT '{}',
    body       BLOB    NOT NULL,
    PRIMARY KEY (account, region, kind, id)
) WITHOUT ROWID;

CREATE UNIQUE INDEX resources_order ON resources (account, region, kind, parent, sort_key);

-- Idempotency: the remembered outcome of each clientToken.
CREATE TABLE idempotency (
    account     TEXT    NOT NULL,
    region      TEXT    NOT NULL,
    operation   TEXT    NOT NULL,
    token       TEXT    NOT NULL,
    fingerprint TEXT    NOT NULL,
    result      BLOB    NOT NULL,
    created_ms  INTEGER NOT NULL,
    PRIMARY KEY (account, region, operation, token)
) WITHOUT ROWID;

-- Server metadata, e.g. the pagination-token key. Survives reset.
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value BLOB NOT NULL
) WITHOUT ROWID;
