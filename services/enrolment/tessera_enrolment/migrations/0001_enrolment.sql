-- The enrolment service's tables, after the kernel's (events, outbox, inbox, ...).

-- ------------------------------------------------------------ learned from the catalogue's events

-- One row per offering. Lifecycle events may arrive before OfferingScheduled: the row then exists
-- with its status but no terms. status_rank only grows (the catalogue's lifecycle is monotonic).
-- OfferingScheduled carries the admission requirements and partners; the version's own
-- (micro_credential_versions) stand in for them should an offering lack them.
CREATE TABLE offerings (
    offering_id              text PRIMARY KEY,
    micro_credential_id      text        NOT NULL,
    micro_credential_version integer     NOT NULL,
    coordinator_id           text,
    title                    jsonb,
    ects                     numeric,
    terms                    jsonb,                        -- contract OfferingTerms; NULL until scheduled
    components               jsonb       NOT NULL DEFAULT '[]',
    teaching_institutions    text[]      NOT NULL DEFAULT '{}',
    prerequisites            jsonb,                        -- contract Prerequisites of the pinned version
    partners                 text[],                       -- whom learners' data is shared with (consent)
    status                   text        NOT NULL DEFAULT 'unknown',
    status_rank              integer     NOT NULL DEFAULT 0,
    cancellation_reason      text,
    updated_at               timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX offerings_by_version ON offerings (micro_credential_id, micro_credential_version);

CREATE TABLE micro_credential_versions (
    micro_credential_id text    NOT NULL,
    version             integer NOT NULL,
    title               jsonb   NOT NULL,
    coordinator_id      text,
    prerequisites       jsonb   NOT NULL,                  -- contract Prerequisites
    partners            text[]  NOT NULL,
    PRIMARY KEY (micro_credential_id, version)
);

-- Seats: the authority on how many seats are taken. Every command that admits, frees a seat or
-- hands out a waitlist ticket locks this row first (FOR UPDATE), and writes it back with a
-- conditional update; the CHECK makes exceeding the capacity impossible whatever the code does.
CREATE TABLE offering_seats (
    offering_id text    PRIMARY KEY REFERENCES offerings,
    capacity    integer NOT NULL CHECK (capacity >= 1),
    taken       integer NOT NULL DEFAULT 0,
    tickets     integer NOT NULL DEFAULT 0 CHECK (tickets >= 0),
    CHECK (taken >= 0 AND taken <= capacity)
);

-- ----------------------------------------------------------- learned from the credential events

-- One row per award id, whichever of awarded / revoked / superseded arrives first.
CREATE TABLE awards (
    award_id                 text PRIMARY KEY,
    learner_id               text        NOT NULL,
    micro_credential_id      text        NOT NULL,
    micro_credential_version integer     NOT NULL,
    offering_id              text        NOT NULL,
    enrolment_id             text,
    awarded_at               timestamptz,                  -- NULL: CredentialAwarded not seen yet
    revoked_at               timestamptz,
    superseded_by            text,
    superseded_at            timestamptz
);
CREATE INDEX awards_by_learner ON awards (learner_id, micro_credential_id);
CREATE INDEX awards_by_offering ON awards (offering_id, learner_id);

-- ------------------------------------------------------------------------------- own state

-- Personal data lives here and in the learner events only.
CREATE TABLE learners (
    learner_id                  text PRIMARY KEY,
    given_name                  text        NOT NULL,
    family_name                 text        NOT NULL,
    email                       text        NOT NULL,
    email_verified              boolean     NOT NULL DEFAULT false,
    european_student_identifier text,
    home_institution            text,
    registered_by               text        NOT NULL,
    registered_by_institution   text,
    registered_at               timestamptz NOT NULL,
    updated_at                  timestamptz NOT NULL,
    version                     integer     NOT NULL
);
CREATE UNIQUE INDEX learners_unique_email ON learners (lower(email));
CREATE UNIQUE INDEX learners_unique_esi ON learners (lower(european_student_identifier))
    WHERE european_student_identifier IS NOT NULL;
CREATE INDEX learners_by_home ON learners (home_institution);

-- The current state of each enrolment, written in the transaction that appends its events.
CREATE TABLE enrolments (
    enrolment_id             text PRIMARY KEY,
    learner_id               text        NOT NULL REFERENCES learners,
    offering_id              text        NOT NULL REFERENCES offerings,
    micro_credential_id      text        NOT NULL,
    micro_credential_version integer     NOT NULL,
    status                   text        NOT NULL CHECK (status IN ('requested', 'pending_review', 'waitlisted',
                                 'admitted', 'rejected', 'cancelled', 'withdrawn', 'completed', 'not_completed')),
    route                    text,
    fee_eur                  numeric(12, 2),
    refund_eur               numeric(12, 2),
    refund_rule              text,
    waitlist_ticket          integer,
    requested_at             timestamptz NOT NULL,
    requested_by             text        NOT NULL,
    admitted_at              timestamptz,
    ended_at                 timestamptz,
    ended_by                 text,
    cancellation_date        date,
    reason                   text,
    consent                  jsonb       NOT NULL,
    declared_eqf_level       smallint,
    declared_diploma         jsonb,                        -- personal data: never in an event
    award_id                 text,
    batch_id                 text,
    version                  integer     NOT NULL,
    updated_at               timestamptz NOT NULL
);
-- One active enrolment per learner and offering.
CREATE UNIQUE INDEX enrolments_one_active ON enrolments (learner_id, offering_id)
    WHERE status IN ('requested', 'pending_review', 'waitlisted', 'admitted', 'completed', 'not_completed');
-- A waitlist ticket is handed out once per offering.
CREATE UNIQUE INDEX enrolments_unique_ticket ON enrolments (offering_id, waitlist_ticket)
    WHERE waitlist_ticket IS NOT NULL;
CREATE INDEX enrolments_waiting ON enrolments (offering_id, waitlist_ticket) WHERE status = 'waitlisted';
CREATE INDEX enrolments_by_offering ON enrolments (offering_id, requested_at, enrolment_id);
CREATE INDEX enrolments_by_learner ON enrolments (learner_id, requested_at, enrolment_id);

-- Bulk uploads: one row per (submitter, Idempotency-Key); a re-send returns the stored results.
CREATE TABLE bulk_batches (
    batch_id        text PRIMARY KEY,
    submitted_by    text        NOT NULL,
    institution     text,
    idempotency_key text        NOT NULL,
    request_hash    text        NOT NULL,
    row_count       integer     NOT NULL,
    summary         jsonb       NOT NULL DEFAULT '{}',
    submitted_at    timestamptz NOT NULL,
    UNIQUE (submitted_by, idempotency_key)
);

CREATE TABLE bulk_results (
    batch_id        text    NOT NULL REFERENCES bulk_batches,
    row_no          integer NOT NULL,
    outcome         text    NOT NULL,
    enrolment_id    text,
    learner_id      text,
    offering_id     text,
    fee_eur         numeric(12, 2),
    waitlist_ticket integer,
    field           text,
    error           text,
    PRIMARY KEY (batch_id, row_no)
);
