-- The assessment service's tables (after the kernel's event store, outbox, inbox, dead letters).
--
-- 1. What it knows of other contexts, fed by its consumers (docs/assessment.md, "Event handling"):
--    institutions, micro-credential versions and their components, offerings, enrolments.
-- 2. Read models of its own events, written in the command's transaction and rebuildable by the
--    projection "assessment-records": records (one per learner x offering x component) and results.
-- 3. Bulk uploads: the idempotency record and report of every upload.

-- ------------------------------------------------------------------------- from the catalogue

CREATE TABLE institutions (
    institution_id     text PRIMARY KEY,
    grading_scheme_ids text[]      NOT NULL DEFAULT '{}',  -- first = the default scheme
    source_version     integer     NOT NULL DEFAULT 0,     -- envelope streamversion; newer wins
    updated_at         timestamptz NOT NULL DEFAULT clock_timestamp()
);

CREATE TABLE micro_credential_versions (
    micro_credential_id text    NOT NULL,
    version             integer NOT NULL,
    coordinator_id      text    NOT NULL,
    title               jsonb   NOT NULL,
    recorded_at         timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (micro_credential_id, version)
);

-- A component of a published version. Filled by whichever arrives first of the version's
-- snapshot (with titles) and an offering of that version (codes, ECTS, teaching institution).
CREATE TABLE components (
    micro_credential_id  text    NOT NULL,
    version              integer NOT NULL,
    code                 text    NOT NULL,
    title                jsonb,
    ects                 numeric NOT NULL,
    semester             text    NOT NULL,
    teaching_institution text    NOT NULL,
    PRIMARY KEY (micro_credential_id, version, code)
);
CREATE INDEX components_by_teacher ON components (teaching_institution, micro_credential_id, version);

-- An offering; a lifecycle event may arrive before OfferingScheduled, so the scheduled facts are
-- nullable. status_rank only grows (scheduled 0, open 1, closed 2, running 3, finished 4, cancelled 5).
CREATE TABLE offerings (
    offering_id              text PRIMARY KEY,
    micro_credential_id      text    NOT NULL,
    micro_credential_version integer NOT NULL,
    coordinator_id           text,
    title                    jsonb,
    academic_year            text,
    attendance_compulsory    boolean,
    scheduled                boolean NOT NULL DEFAULT false,
    status                   text    NOT NULL,
    status_rank              integer NOT NULL,
    updated_at               timestamptz NOT NULL DEFAULT clock_timestamp()
);

-- ------------------------------------------------------------------------- from the enrolment service

-- status_rank only grows: requested/waitlisted/pending_review 0, promoted 1, admitted 2,
-- rejected 3, cancelled/withdrawn/not_completed 4, completed 5 (not completed -> completed happens).
CREATE TABLE enrolments (
    enrolment_id             text PRIMARY KEY,
    learner_id               text    NOT NULL,
    offering_id              text    NOT NULL,
    micro_credential_id      text    NOT NULL,
    micro_credential_version integer NOT NULL,
    status                   text    NOT NULL,
    status_rank              integer NOT NULL,
    updated_at               timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX enrolments_by_offering ON enrolments (offering_id, learner_id);

-- ------------------------------------------------------------------------- own read models

-- One learner's record on one component of one offering (= one ComponentResults stream).
CREATE TABLE records (
    stream_id                 text PRIMARY KEY,
    learner_id                text    NOT NULL,
    offering_id               text    NOT NULL,
    component_code            text    NOT NULL,
    micro_credential_id       text    NOT NULL,
    micro_credential_version  integer NOT NULL,
    version                   integer NOT NULL,  -- stream version reflected here
    effective_result_id       text,
    attendance_percentage     double precision,
    attendance_period_start   date,
    attendance_period_end     date,
    attendance_history        jsonb   NOT NULL DEFAULT '[]',
    updated_at                timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX records_by_offering ON records (offering_id, learner_id, component_code);

-- Every recorded result, withdrawn and superseded ones included (status), with its corrections.
CREATE TABLE results (
    result_id                text PRIMARY KEY,
    stream_id                text    NOT NULL,
    learner_id               text    NOT NULL,
    offering_id              text    NOT NULL,
    component_code           text    NOT NULL,
    micro_credential_id      text    NOT NULL,
    micro_credential_version integer NOT NULL,
    attempt                  integer NOT NULL,
    grade                    text    NOT NULL,
    scheme_id                text    NOT NULL,
    scheme_kind              text    NOT NULL,
    normalised_score         double precision NOT NULL,
    passed                   boolean NOT NULL,
    assessed_on              date    NOT NULL,
    assessor_id              text    NOT NULL,
    assessor_institution     text    NOT NULL,
    remarks                  text,
    status                   text    NOT NULL CHECK (status IN ('effective', 'superseded', 'withdrawn')),
    original                 jsonb   NOT NULL,
    corrections              jsonb   NOT NULL DEFAULT '[]',
    withdrawal               jsonb,
    record_version           integer NOT NULL,
    updated_at               timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX results_by_offering ON results (offering_id, learner_id, component_code, attempt, result_id);
CREATE INDEX results_by_learner ON results (learner_id, offering_id, component_code, attempt, result_id);

-- ------------------------------------------------------------------------- bulk uploads

-- One row per upload; (subject, idempotency_key) is unique, so a re-sent upload finds its report
-- and a concurrent duplicate waits for the first and then finds it. Written in the upload's
-- transaction together with every accepted row's events: all or nothing.
CREATE TABLE uploads (
    upload_id        uuid PRIMARY KEY,
    subject          text    NOT NULL,
    institution      text,
    idempotency_key  text    NOT NULL,
    offering_id      text    NOT NULL,
    digest           text    NOT NULL,  -- sha256 of offering, format and body: same key, other body -> 422
    format           text    NOT NULL,
    rows_received    integer NOT NULL,
    rows_accepted    integer NOT NULL,
    rows_rejected    integer NOT NULL,
    report           jsonb   NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT clock_timestamp(),
    UNIQUE (subject, idempotency_key)
);
CREATE INDEX uploads_by_offering ON uploads (offering_id, created_at);
