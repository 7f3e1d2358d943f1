-- Voice: open letters and petitions with their signatures and co-signing organisations, and
-- members' requests for campaign support with staff's triage and narrative records.
-- Kept column-for-column identical across the two databases (a test compares them).
CREATE TABLE letters (
    id BIGSERIAL PRIMARY KEY,
    slug TEXT NOT NULL UNIQUE,
    -- 'letter' or 'petition'
    kind TEXT NOT NULL,
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    addressee TEXT NOT NULL,
    goal BIGINT,
    published_with TEXT NOT NULL,
    -- draft, open, closed, delivered
    status TEXT NOT NULL,
    closes_on TEXT,
    closed_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
-- One row per email per letter, enforced here so no race between instances can add a second.
-- email becomes NULL when it is deleted after the letter closes; confirm_hash is the hash of
-- the emailed token, NULL once confirmed. No IP address is ever stored.
CREATE TABLE letter_signatures (
    id BIGSERIAL PRIMARY KEY,
    letter_id BIGINT NOT NULL REFERENCES letters (id) ON DELETE CASCADE,
    email TEXT,
    name TEXT NOT NULL,
    organisation TEXT,
    role TEXT,
    place TEXT,
    comment TEXT,
    -- full, initials, hidden
    display TEXT NOT NULL,
    wants_updates BIGINT NOT NULL,
    confirm_hash TEXT,
    created_at BIGINT NOT NULL,
    confirmed_at BIGINT
);
CREATE UNIQUE INDEX letter_signatures_email ON letter_signatures (letter_id, email);
CREATE INDEX letter_signatures_confirmed ON letter_signatures (letter_id, confirmed_at);
CREATE INDEX letter_signatures_confirm_hash ON letter_signatures (confirm_hash);
CREATE TABLE letter_cosigners (
    id BIGSERIAL PRIMARY KEY,
    letter_id BIGINT NOT NULL REFERENCES letters (id) ON DELETE CASCADE,
    -- A network group (signed by one of its contacts) or NULL for an organisation staff added.
    group_id BIGINT REFERENCES groups (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    signed_by BIGINT REFERENCES members (id) ON DELETE SET NULL,
    created_at BIGINT NOT NULL,
    UNIQUE (letter_id, group_id)
);
CREATE TABLE letter_updates (
    id BIGSERIAL PRIMARY KEY,
    letter_id BIGINT NOT NULL REFERENCES letters (id) ON DELETE CASCADE,
    body TEXT NOT NULL,
    recipients BIGINT NOT NULL,
    posted_by BIGINT REFERENCES members (id) ON DELETE SET NULL,
    posted_at BIGINT NOT NULL
);
CREATE TABLE support_requests (
    id BIGSERIAL PRIMARY KEY,
    -- 'support' (a campaign asking for help) or 'alert' (a policy issue to know about)
    kind TEXT NOT NULL,
    member_id BIGINT REFERENCES members (id) ON DELETE SET NULL,
    group_id BIGINT REFERENCES groups (id) ON DELETE SET NULL,
    title TEXT NOT NULL,
    description TEXT NOT NULL,
    -- what they ask for, comma-separated keys
    asks TEXT NOT NULL,
    ask_other TEXT,
    deadline TEXT,
    -- new, considering, taking_on, cant_now, done
    status TEXT NOT NULL,
    answer TEXT,
    referral TEXT,
    answered_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX support_requests_status ON support_requests (status, created_at);
CREATE INDEX support_requests_member ON support_requests (member_id);
-- The decision matrix: one answer (yes, no, unsure) and note per question per request.
CREATE TABLE support_assessments (
    request_id BIGINT NOT NULL REFERENCES support_requests (id) ON DELETE CASCADE,
    question BIGINT NOT NULL,
    answer TEXT NOT NULL,
    note TEXT NOT NULL,
    PRIMARY KEY (request_id, question)
);
CREATE TABLE support_narrative (
    id BIGSERIAL PRIMARY KEY,
    request_id BIGINT NOT NULL REFERENCES support_requests (id) ON DELETE CASCADE,
    entry_on TEXT NOT NULL,
    what_was_done TEXT NOT NULL,
    reflection TEXT NOT NULL,
    written_by BIGINT REFERENCES members (id) ON DELETE SET NULL,
    created_at BIGINT NOT NULL
);
