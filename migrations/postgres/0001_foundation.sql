-- Foundation: members, groups, consents, accounts, audit, jobs, rate limits.
-- Kept column-for-column identical to migrations/sqlite/0001_foundation.sql (a test compares them).
CREATE TABLE members (
    id BIGSERIAL PRIMARY KEY,
    display_name TEXT,
    email TEXT UNIQUE,
    region TEXT,
    communities TEXT,
    visibility TEXT NOT NULL DEFAULT 'members',
    status TEXT NOT NULL DEFAULT 'unconfirmed',
    role TEXT NOT NULL DEFAULT 'member',
    password_hash TEXT,
    access_needs_enc TEXT,
    staff_notes_enc TEXT,
    search_text TEXT,
    joined_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    erased_at BIGINT
);
CREATE INDEX members_status_joined ON members (status, joined_at);
-- The staff directory sorts by name or join date, optionally within a region.
CREATE INDEX members_name ON members (display_name, id);
CREATE INDEX members_joined ON members (joined_at, id);
CREATE INDEX members_region_name ON members (region, display_name, id);
CREATE INDEX members_region_joined ON members (region, joined_at, id);
-- Words members are found by in the staff directory. Prefix search compares terms by byte
-- (COLLATE "C" on PostgreSQL, BINARY on SQLite); sort_name is a copy of members.display_name.
CREATE TABLE member_search_terms (
    term TEXT COLLATE "C" NOT NULL,
    member_id BIGINT NOT NULL REFERENCES members (id) ON DELETE CASCADE,
    sort_name TEXT NOT NULL,
    PRIMARY KEY (term, member_id)
);
CREATE INDEX member_search_terms_member ON member_search_terms (member_id, term);
-- Carries the member's name so a search for a word can be read and sorted from this index alone.
CREATE INDEX member_search_terms_sorted ON member_search_terms (term, sort_name, member_id);
CREATE TABLE consents (
    id BIGSERIAL PRIMARY KEY,
    member_id BIGINT NOT NULL REFERENCES members (id) ON DELETE CASCADE,
    purpose TEXT NOT NULL,
    granted BIGINT NOT NULL,
    wording_version TEXT NOT NULL,
    recorded_at BIGINT NOT NULL
);
CREATE INDEX consents_member ON consents (member_id, purpose, id);
CREATE TABLE groups (
    id BIGSERIAL PRIMARY KEY,
    name TEXT NOT NULL,
    description TEXT NOT NULL,
    region TEXT,
    lived_experience_led BIGINT NOT NULL,
    visibility TEXT NOT NULL DEFAULT 'public',
    status TEXT NOT NULL DEFAULT 'active',
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX groups_name ON groups (name);
CREATE TABLE group_contacts (
    group_id BIGINT NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    member_id BIGINT NOT NULL REFERENCES members (id) ON DELETE CASCADE,
    added_at BIGINT NOT NULL,
    PRIMARY KEY (group_id, member_id)
);
CREATE INDEX group_contacts_member ON group_contacts (member_id);
CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    member_id BIGINT NOT NULL REFERENCES members (id) ON DELETE CASCADE,
    csrf_token TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX sessions_member ON sessions (member_id);
CREATE TABLE login_tokens (
    token_hash TEXT PRIMARY KEY,
    member_id BIGINT REFERENCES members (id) ON DELETE CASCADE,
    purpose TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT
);
CREATE INDEX login_tokens_member ON login_tokens (member_id);
CREATE TABLE audit_log (
    id BIGSERIAL PRIMARY KEY,
    actor_id BIGINT,
    action TEXT NOT NULL,
    subject_member_id BIGINT,
    detail TEXT NOT NULL,
    at BIGINT NOT NULL
);
CREATE INDEX audit_log_subject ON audit_log (subject_member_id);
CREATE INDEX audit_log_at ON audit_log (at);
CREATE TABLE jobs (
    id BIGSERIAL PRIMARY KEY,
    kind TEXT NOT NULL,
    payload TEXT NOT NULL,
    member_id BIGINT,
    status TEXT NOT NULL DEFAULT 'queued',
    attempts BIGINT NOT NULL DEFAULT 0,
    max_attempts BIGINT NOT NULL DEFAULT 6,
    run_at BIGINT NOT NULL,
    locked_until BIGINT,
    last_error TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX jobs_ready ON jobs (status, run_at);
CREATE INDEX jobs_member ON jobs (member_id);
CREATE TABLE rate_limits (
    bucket TEXT NOT NULL,
    window_start BIGINT NOT NULL,
    hits BIGINT NOT NULL,
    PRIMARY KEY (bucket, window_start)
);
CREATE TABLE counters (
    name TEXT PRIMARY KEY,
    value BIGINT NOT NULL
);
