-- Resources: one row per AWS resource, a few indexed columns plus the JSON
-- body. Text compares byte-wise (COLLATE "C"), as SQLite's does, so sort
-- keys order the same on both stores.
CREATE TABLE resources (
    account    TEXT   COLLATE "C" NOT NULL,
    region     TEXT   COLLATE "C" NOT NULL,
    kind       TEXT   COLLATE "C" NOT NULL,
    id         TEXT   COLLATE "C" NOT NULL,
    parent     TEXT   COLLATE "C" NOT NULL DEFAULT '',
    sort_key   TEXT   COLLATE "C" NOT NULL,
    created_ms BIGINT NOT NULL,
    updated_ms BIGINT NOT NULL,
    tags       TEXT   NOT NULL DEFAULT '{}',
    body       BYTEA  NOT NULL,
    PRIMARY KEY (account, region, kind, id)
);

CREATE UNIQUE INDEX resources_order ON resources (account, region, kind, parent, sort_key);

-- Idempotency: the remembered outcome of each clientToken.
CREATE TABLE idempotency (
    account     TEXT   NOT NULL,
    region      TEXT   NOT NULL,
    operation   TEXT   NOT NULL,
    token       TEXT   NOT NULL,
    fingerprint TEXT   NOT NULL,
    result      BYTEA  NOT NULL,
    created_ms  BIGINT NOT NULL,
    PRIMARY KEY (account, region, operation, token)
);

-- Server metadata, e.g. the pagination-token key. Survives reset.
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value BYTEA NOT NULL
);
