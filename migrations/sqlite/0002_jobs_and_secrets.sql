-- Jobs can be queued idempotently (a unique dedupe key: one bulletin issue per recipient) and
-- grouped for a report (batch). Secrets shared by every instance (the key that signs links).
ALTER TABLE jobs ADD COLUMN dedupe_key TEXT;
ALTER TABLE jobs ADD COLUMN batch TEXT;
CREATE UNIQUE INDEX jobs_dedupe_key ON jobs (dedupe_key);
CREATE INDEX jobs_batch ON jobs (batch, status);
-- The next job is read in (run_at, id) order straight from the index: with 100,000 queued
-- messages, a sort per claim made sending quadratic.
DROP INDEX jobs_ready;
CREATE INDEX jobs_ready ON jobs (status, run_at, id);
CREATE TABLE secrets (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
