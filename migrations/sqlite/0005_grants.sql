-- Grants: funds and their income, rounds with short forms, applications, panels, scores,
-- decisions, awards that never overspend a fund, payments, follow-up, donations and Gift Aid.
-- Kept column-for-column identical across the two databases (a test compares them).
CREATE TABLE grant_funds (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    purpose TEXT NOT NULL,
    budget_pence BIGINT NOT NULL,
    restricted BIGINT NOT NULL,
    -- 'individuals', 'groups' or 'both'
    applicant_type TEXT NOT NULL,
    cap_pence BIGINT,
    -- The small-costs pot: fed only by donations.
    donations_only BIGINT NOT NULL,
    -- A 360Giving regrant type code (FRG…) when the network gives this money as a fiscal sponsor.
    regrant_type TEXT,
    created_at BIGINT NOT NULL,
    -- Every award first updates this row, so deciding on one fund is serialised.
    updated_at BIGINT NOT NULL
);
CREATE TABLE grant_criteria (
    id INTEGER PRIMARY KEY,
    fund_id BIGINT NOT NULL REFERENCES grant_funds (id) ON DELETE CASCADE,
    position BIGINT NOT NULL,
    title TEXT NOT NULL,
    description TEXT NOT NULL
);
CREATE INDEX grant_criteria_fund ON grant_criteria (fund_id, position);
-- A donor who gave to the small-costs pot. Name NULL: anonymous, or erased.
CREATE TABLE grant_donors (
    id INTEGER PRIMARY KEY,
    name TEXT,
    email TEXT,
    created_at BIGINT NOT NULL,
    erased_at BIGINT
);
-- HMRC Gift Aid declaration: kept until 6 years after the last gift it covers, even when the
-- donor's other data is erased (a legal obligation).
CREATE TABLE gift_aid_declarations (
    id INTEGER PRIMARY KEY,
    donor_id BIGINT REFERENCES grant_donors (id) ON DELETE SET NULL,
    full_name TEXT NOT NULL,
    house TEXT NOT NULL,
    postcode TEXT NOT NULL,
    -- 'this' (this gift only) or 'all' (this gift, gifts in the past 4 years and future gifts)
    covers TEXT NOT NULL,
    declared_on TEXT NOT NULL,
    keep_until TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE TABLE grant_income (
    id INTEGER PRIMARY KEY,
    fund_id BIGINT NOT NULL REFERENCES grant_funds (id),
    -- 'funder_grant' or 'donation'
    kind TEXT NOT NULL,
    amount_pence BIGINT NOT NULL,
    received_on TEXT NOT NULL,
    source TEXT,
    donor_id BIGINT REFERENCES grant_donors (id) ON DELETE SET NULL,
    declaration_id BIGINT REFERENCES gift_aid_declarations (id),
    recorded_by BIGINT,
    created_at BIGINT NOT NULL
);
CREATE INDEX grant_income_fund ON grant_income (fund_id);
CREATE INDEX grant_income_donor ON grant_income (donor_id);
CREATE TABLE grant_rounds (
    id INTEGER PRIMARY KEY,
    fund_id BIGINT NOT NULL REFERENCES grant_funds (id),
    title TEXT NOT NULL,
    opens_on TEXT,
    closes_on TEXT,
    rolling BIGINT NOT NULL,
    budget_pence BIGINT NOT NULL,
    who_decides TEXT NOT NULL,
    help TEXT NOT NULL,
    published BIGINT NOT NULL,
    -- Set when staff publish the decisions: the transparency page and open data show it.
    decided_at BIGINT,
    created_at BIGINT NOT NULL
);
CREATE INDEX grant_rounds_fund ON grant_rounds (fund_id);
CREATE TABLE grant_questions (
    id INTEGER PRIMARY KEY,
    round_id BIGINT NOT NULL REFERENCES grant_rounds (id) ON DELETE CASCADE,
    position BIGINT NOT NULL,
    -- 'short', 'long', 'amount', 'choice', 'yesno'
    kind TEXT NOT NULL,
    label TEXT NOT NULL,
    hint TEXT NOT NULL,
    word_limit BIGINT,
    -- Choices, one a line (choice questions only).
    options TEXT NOT NULL,
    required BIGINT NOT NULL
);
CREATE INDEX grant_questions_round ON grant_questions (round_id, position);
CREATE TABLE grant_applications (
    id INTEGER PRIMARY KEY,
    round_id BIGINT NOT NULL REFERENCES grant_rounds (id),
    member_id BIGINT REFERENCES members (id) ON DELETE SET NULL,
    group_id BIGINT REFERENCES groups (id) ON DELETE SET NULL,
    amount_pence BIGINT,
    -- draft, submitted, withdrawn, awarded, declined
    status TEXT NOT NULL,
    -- Staff member who entered it on the applicant's behalf (a phone call, a conversation).
    entered_by BIGINT,
    entered_by_name TEXT,
    -- For the fairness view, fixed when it is submitted.
    first_time BIGINT,
    region TEXT,
    community TEXT,
    group_size TEXT,
    -- The group agreed to be named in the public list of awards.
    listed BIGINT NOT NULL,
    -- The panel's scores in brief, recomputed from grant_scores and grant_conflicts in the
    -- same transaction as every change to them, so the scoring table is one indexed read.
    score_scorers BIGINT NOT NULL DEFAULT 0,
    score_total BIGINT NOT NULL DEFAULT 0,
    score_spread BIGINT NOT NULL DEFAULT 0,
    conflicts BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    submitted_at BIGINT
);
CREATE INDEX grant_applications_round ON grant_applications (round_id, status);
CREATE INDEX grant_applications_member ON grant_applications (member_id);
CREATE INDEX grant_applications_group ON grant_applications (group_id);
CREATE TABLE grant_answers (
    application_id BIGINT NOT NULL REFERENCES grant_applications (id) ON DELETE CASCADE,
    question_id BIGINT NOT NULL REFERENCES grant_questions (id) ON DELETE CASCADE,
    value TEXT NOT NULL,
    PRIMARY KEY (application_id, question_id)
);
-- Everything said to the applicant about an application, in one place.
CREATE TABLE grant_messages (
    id INTEGER PRIMARY KEY,
    application_id BIGINT NOT NULL REFERENCES grant_applications (id) ON DELETE CASCADE,
    body TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX grant_messages_application ON grant_messages (application_id, id);
CREATE TABLE grant_panel_members (
    round_id BIGINT NOT NULL REFERENCES grant_rounds (id) ON DELETE CASCADE,
    member_id BIGINT NOT NULL REFERENCES members (id) ON DELETE CASCADE,
    -- How they chose to be shown on the transparency page; NULL: not shown.
    shown_as TEXT,
    -- Members are paid for their time (read by the participation payments area).
    paid BIGINT NOT NULL,
    added_at BIGINT NOT NULL,
    PRIMARY KEY (round_id, member_id)
);
CREATE INDEX grant_panel_members_member ON grant_panel_members (member_id);
CREATE TABLE grant_conflicts (
    application_id BIGINT NOT NULL REFERENCES grant_applications (id) ON DELETE CASCADE,
    member_id BIGINT NOT NULL REFERENCES members (id) ON DELETE CASCADE,
    declared_at BIGINT NOT NULL,
    PRIMARY KEY (application_id, member_id)
);
CREATE INDEX grant_conflicts_member ON grant_conflicts (member_id);
CREATE TABLE grant_scores (
    application_id BIGINT NOT NULL REFERENCES grant_applications (id) ON DELETE CASCADE,
    member_id BIGINT NOT NULL REFERENCES members (id) ON DELETE CASCADE,
    criterion_id BIGINT NOT NULL REFERENCES grant_criteria (id) ON DELETE CASCADE,
    score BIGINT NOT NULL,
    note TEXT NOT NULL,
    scored_at BIGINT NOT NULL,
    PRIMARY KEY (application_id, member_id, criterion_id)
);
CREATE INDEX grant_scores_member ON grant_scores (member_id);
CREATE TABLE grant_decisions (
    id INTEGER PRIMARY KEY,
    application_id BIGINT NOT NULL REFERENCES grant_applications (id) ON DELETE CASCADE,
    -- award, award_different, decline
    outcome TEXT NOT NULL,
    amount_pence BIGINT,
    reason TEXT NOT NULL,
    other_help TEXT NOT NULL,
    -- How many panel members declared a conflict, as it stood at the decision.
    conflicts BIGINT NOT NULL,
    decided_by BIGINT,
    decided_at BIGINT NOT NULL
);
CREATE INDEX grant_decisions_application ON grant_decisions (application_id);
CREATE TABLE grant_awards (
    id INTEGER PRIMARY KEY,
    application_id BIGINT NOT NULL UNIQUE REFERENCES grant_applications (id),
    fund_id BIGINT NOT NULL REFERENCES grant_funds (id),
    amount_pence BIGINT NOT NULL,
    awarded_on TEXT NOT NULL,
    -- A registered recipient's org-id (GB-CHC-…, GB-COH-…), for open data.
    recipient_org_id TEXT,
    -- Account name, sort code and number, encrypted; only when store_bank_details is on.
    bank_details_enc TEXT,
    follow_up_on TEXT NOT NULL,
    follow_up_sent_at BIGINT,
    updated_at BIGINT NOT NULL
);
CREATE INDEX grant_awards_fund ON grant_awards (fund_id);
CREATE TABLE grant_payments (
    id INTEGER PRIMARY KEY,
    award_id BIGINT NOT NULL REFERENCES grant_awards (id) ON DELETE CASCADE,
    due_on TEXT NOT NULL,
    amount_pence BIGINT NOT NULL,
    paid_on TEXT,
    method TEXT,
    created_at BIGINT NOT NULL
);
CREATE INDEX grant_payments_award ON grant_payments (award_id);
-- The one optional "how did it go?" reply.
CREATE TABLE grant_follow_ups (
    award_id BIGINT PRIMARY KEY REFERENCES grant_awards (id) ON DELETE CASCADE,
    what_happened TEXT NOT NULL,
    difference TEXT NOT NULL,
    learning TEXT NOT NULL,
    -- 'written', 'phone' (staff call back) or 'link' (audio or video)
    reply_by TEXT NOT NULL,
    link TEXT,
    replied_at BIGINT NOT NULL
);
