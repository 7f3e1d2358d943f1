-- The weekly bulletin: member submissions, the editorial record, issues, and mailing lists.
-- Kept column-for-column identical across the two databases (a test compares them).
CREATE TABLE mailing_lists (
    id BIGSERIAL PRIMARY KEY,
    slug TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    description TEXT NOT NULL,
    -- 'members': active members whose consent for consent_purpose is on,
    -- 'signups': people who signed up with only an email and confirmed it (double opt-in).
    audience TEXT NOT NULL,
    consent_purpose TEXT,
    created_at BIGINT NOT NULL
);
INSERT INTO mailing_lists (slug, name, description, audience, consent_purpose, created_at) VALUES
    ('bulletin', 'Weekly bulletin', 'Opportunities, paid work, events, funding and news from across the network, every week, for members.', 'members', 'bulletin', 0),
    ('supporters', 'Supporters'' newsletter', 'News of the network''s work now and then, for anyone who wants to follow it.', 'signups', NULL, 0);
CREATE TABLE list_signups (
    id BIGSERIAL PRIMARY KEY,
    list_id BIGINT NOT NULL REFERENCES mailing_lists (id),
    email TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    confirmed_at BIGINT,
    unsubscribed_at BIGINT,
    UNIQUE (list_id, email)
);
CREATE INDEX list_signups_status ON list_signups (list_id, status);
-- Permanent delivery failures per address, so staff can see them and delivery pauses after
-- bounce_limit of them. Kept by address: a new address starts clean.
CREATE TABLE mail_failures (
    email TEXT PRIMARY KEY,
    failures BIGINT NOT NULL,
    last_failure TEXT NOT NULL,
    paused_at BIGINT,
    updated_at BIGINT NOT NULL
);
CREATE TABLE bulletin_issues (
    id BIGSERIAL PRIMARY KEY,
    list_id BIGINT NOT NULL REFERENCES mailing_lists (id),
    number BIGINT NOT NULL,
    title TEXT NOT NULL,
    editor_note TEXT NOT NULL,
    members_only BIGINT NOT NULL,
    -- draft, scheduled (send_at set), sent (recipients queued at sent_at)
    status TEXT NOT NULL,
    send_at BIGINT,
    sent_at BIGINT,
    recipients BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (list_id, number)
);
CREATE TABLE bulletin_items (
    id BIGSERIAL PRIMARY KEY,
    kind TEXT NOT NULL,
    title TEXT NOT NULL,
    description TEXT NOT NULL,
    link TEXT,
    closes_on TEXT,
    region TEXT,
    -- Who it is from: a member, optionally on behalf of a group they are a contact for; or,
    -- when open submissions are on, someone with only a name and an email.
    member_id BIGINT REFERENCES members (id),
    group_id BIGINT REFERENCES groups (id),
    submitter_name TEXT,
    submitter_email TEXT,
    written_by_staff BIGINT NOT NULL,
    edited_by_staff BIGINT NOT NULL,
    -- draft, unconfirmed, received, changes_requested, accepted, declined, expired
    status TEXT NOT NULL,
    issue_id BIGINT REFERENCES bulletin_issues (id),
    position BIGINT NOT NULL,
    submitted_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX bulletin_items_status ON bulletin_items (status, kind);
CREATE INDEX bulletin_items_member ON bulletin_items (member_id);
CREATE INDEX bulletin_items_issue ON bulletin_items (issue_id, position);
CREATE TABLE bulletin_guidelines (
    id BIGSERIAL PRIMARY KEY,
    text TEXT NOT NULL,
    position BIGINT NOT NULL,
    retired_at BIGINT,
    created_at BIGINT NOT NULL
);
CREATE TABLE bulletin_reply_templates (
    id BIGSERIAL PRIMARY KEY,
    name TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
-- Every editorial decision, with who decided, why, and which guideline points applied: the
-- record of the "how we work" questions submissions raise.
CREATE TABLE bulletin_decisions (
    id BIGSERIAL PRIMARY KEY,
    item_id BIGINT NOT NULL REFERENCES bulletin_items (id) ON DELETE CASCADE,
    decided_by BIGINT REFERENCES members (id),
    decision TEXT NOT NULL,
    message TEXT NOT NULL,
    reasoning TEXT NOT NULL,
    issue_id BIGINT REFERENCES bulletin_issues (id),
    decided_at BIGINT NOT NULL
);
CREATE INDEX bulletin_decisions_item ON bulletin_decisions (item_id, id);
CREATE TABLE bulletin_decision_guidelines (
    decision_id BIGINT NOT NULL REFERENCES bulletin_decisions (id) ON DELETE CASCADE,
    guideline_id BIGINT NOT NULL REFERENCES bulletin_guidelines (id),
    PRIMARY KEY (decision_id, guideline_id)
);
