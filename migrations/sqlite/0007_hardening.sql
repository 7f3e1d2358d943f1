-- Hardening (issue 14). On SQLite the migration runner also rebuilds every table whose integer
-- id could be given again after a delete, making it AUTOINCREMENT (core::db::sqlite_ids_never_reused);
-- PostgreSQL's sequences never reuse an id.
-- Kept statement-for-statement identical across the two databases.

-- Declaring a conflict deleted the panel member's scores without recomputing the application's
-- score summary, so the staff table kept counting them. Recompute every summary from what is stored.
UPDATE grant_applications SET
    conflicts = (SELECT COUNT(*) FROM grant_conflicts c WHERE c.application_id = grant_applications.id),
    score_scorers = (SELECT COUNT(DISTINCT s.member_id) FROM grant_scores s WHERE s.application_id = grant_applications.id),
    score_total = COALESCE((SELECT SUM(s.score) FROM grant_scores s WHERE s.application_id = grant_applications.id), 0),
    score_spread = COALESCE((SELECT MAX(t.total) - MIN(t.total) FROM
        (SELECT application_id, member_id, SUM(score) AS total FROM grant_scores GROUP BY application_id, member_id) t
        WHERE t.application_id = grant_applications.id), 0);

-- A signature's confirmation job outlived the signature when it was erased, and its key then
-- stopped the next signature given the same id from ever getting its email.
DELETE FROM jobs WHERE dedupe_key LIKE 'voice-confirm:%' AND status <> 'running'
    AND CAST(SUBSTR(dedupe_key, 15) AS BIGINT) NOT IN (SELECT id FROM letter_signatures);

-- Figures about people as they were published (core::published): a closed period's figures are
-- read back from here, never recounted in public.
CREATE TABLE published_statistics (
    scope TEXT PRIMARY KEY,
    body TEXT NOT NULL,
    published_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
