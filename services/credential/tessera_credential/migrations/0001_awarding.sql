-- The awarding engine (credential service, part 1). See docs/awarding.md.
--
-- Inputs, kept from other contexts' events only (no calls back):
--   award_institutions, award_definitions, award_offerings, award_pathways  <- catalogue
--   award_learners, award_enrolments                                      <- enrolment
--   award_results, award_result_events, award_attendance                  <- assessment
-- State and decisions:
--   award_learner_offerings  one row per learner x offering with any fact: the latest evaluation
--   awards, pathway_awards   the decisions; one ACTIVE award per learner x version / pathway
--   issuance_queue           the seam to part 2 (signing), written in the award's transaction

CREATE TABLE award_institutions (
    institution_id text PRIMARY KEY,
    profile        jsonb       NOT NULL,
    source_stream  text,
    seq            bigint,
    at             timestamptz NOT NULL,
    event_id       text        NOT NULL
);

-- Full published definitions (Annex I elements, learning outcomes): part 2's badge content.
CREATE TABLE award_definitions (
    micro_credential_id text    NOT NULL,
    version             integer NOT NULL,
    definition          jsonb   NOT NULL,
    event_id            text    NOT NULL,
    PRIMARY KEY (micro_credential_id, version)
);

-- Offerings as OfferingScheduled pinned them; the criteria never change after scheduling.
CREATE TABLE award_offerings (
    offering_id              text PRIMARY KEY,
    micro_credential_id      text        NOT NULL,
    micro_credential_version integer     NOT NULL,
    coordinator_id           text        NOT NULL,
    partner_ids              text[]      NOT NULL,
    title                    jsonb       NOT NULL,
    ects                     numeric     NOT NULL,
    components               jsonb       NOT NULL,  -- [{code, ects, semester, teaching_institution}]
    criteria                 jsonb       NOT NULL,
    scheduled_at             timestamptz NOT NULL,  -- the event's time
    event_id                 text        NOT NULL
);
CREATE INDEX award_offerings_by_version ON award_offerings (micro_credential_id, micro_credential_version);

CREATE TABLE award_pathways (
    pathway_id   text        NOT NULL,
    version      integer     NOT NULL,
    definition   jsonb       NOT NULL,
    member_ids   text[]      NOT NULL,
    published_at timestamptz NOT NULL,
    event_id     text        NOT NULL,
    PRIMARY KEY (pathway_id, version)
);
CREATE INDEX award_pathways_by_member ON award_pathways USING gin (member_ids);

-- One row per learner ever seen. Besides the profile (name, email for part 2's badge), the row is
-- THE LOCK: every decision about a learner's awards runs after SELECT ... FOR UPDATE on it, so two
-- consumer instances never decide for the same learner at once (see docs/awarding.md).
CREATE TABLE award_learners (
    learner_id     text PRIMARY KEY,
    profile        jsonb,
    profile_stream text,
    profile_seq    bigint,
    profile_at     timestamptz,
    profile_event_id text
);

CREATE TABLE award_enrolments (
    enrolment_id             text PRIMARY KEY,
    learner_id               text        NOT NULL,
    offering_id              text        NOT NULL,
    micro_credential_id      text        NOT NULL,
    micro_credential_version integer     NOT NULL,
    status                   text        NOT NULL,  -- the highest-ranked status seen (ordering.py)
    admitted_at              timestamptz,           -- time of the admission event
    event_id                 text        NOT NULL,  -- the event that set the status
    at                       timestamptz NOT NULL
);
CREATE INDEX award_enrolments_by_learner ON award_enrolments (learner_id, offering_id);

-- Latest effective result per learner x offering x component (the `effective` of the newest event).
CREATE TABLE award_results (
    learner_id     text        NOT NULL,
    offering_id    text        NOT NULL,
    component_code text        NOT NULL,
    effective      jsonb,                  -- EffectiveResult; NULL when every result is withdrawn
    fact_at        timestamptz NOT NULL,   -- when the stated grade was last established
    source_stream  text,                   -- position of the applied event (ordering guard)
    seq            bigint,
    at             timestamptz NOT NULL,
    event_id       text        NOT NULL,
    PRIMARY KEY (learner_id, offering_id, component_code)
);

-- Every result event seen, applied or not: the contributing event ids of explanations, and audit.
CREATE TABLE award_result_events (
    event_id       text PRIMARY KEY,
    learner_id     text        NOT NULL,
    offering_id    text        NOT NULL,
    component_code text        NOT NULL,
    kind           text        NOT NULL CHECK (kind IN ('recorded', 'corrected', 'withdrawn')),
    result_id      text        NOT NULL,
    attempt        integer     NOT NULL,
    source_stream  text,
    seq            bigint,
    at             timestamptz NOT NULL
);
CREATE INDEX award_result_events_by_component ON award_result_events (learner_id, offering_id, component_code);

CREATE TABLE award_attendance (
    learner_id     text        NOT NULL,
    offering_id    text        NOT NULL,
    component_code text        NOT NULL,
    percentage     numeric     NOT NULL,
    period_end     date        NOT NULL,
    fact_at        timestamptz NOT NULL,
    source_stream  text,
    seq            bigint,
    at             timestamptz NOT NULL,
    event_id       text        NOT NULL,
    PRIMARY KEY (learner_id, offering_id, component_code)
);

CREATE TABLE award_learner_offerings (
    learner_id      text        NOT NULL,
    offering_id     text        NOT NULL,
    outcome         text        NOT NULL DEFAULT 'waiting_for_offering',
    met             boolean     NOT NULL DEFAULT false,
    explanation     jsonb,                 -- the latest evaluation (the "why / why not")
    award_id        uuid,                  -- this offering's active award, if any
    evaluated_by    text,                  -- id of the event whose handling evaluated it last
    evaluated_at    timestamptz,           -- that event's time
    PRIMARY KEY (learner_id, offering_id)
);
CREATE INDEX award_learner_offerings_by_offering ON award_learner_offerings (offering_id, learner_id);

CREATE TABLE awards (
    award_id                 uuid PRIMARY KEY,
    learner_id               text        NOT NULL,
    micro_credential_id      text        NOT NULL,
    micro_credential_version integer     NOT NULL,
    offering_id              text        NOT NULL,
    enrolment_id             text,
    status                   text        NOT NULL CHECK (status IN ('active', 'revoked', 'superseded')),
    awarded_at               timestamptz NOT NULL,
    explanation              jsonb       NOT NULL,  -- the evaluation at award time (the evidence)
    grade_summary            jsonb       NOT NULL,
    supersedes               uuid REFERENCES awards (award_id),
    -- deferred: the old award is marked superseded before its successor is inserted (the partial
    -- unique index below allows only one active award at a time, even within the transaction)
    superseded_by            uuid REFERENCES awards (award_id) DEFERRABLE INITIALLY DEFERRED,
    ended_at                 timestamptz,
    end_reason               text,
    awarded_event_id         uuid        NOT NULL UNIQUE,
    caused_by                text        NOT NULL,  -- the consumed event whose handling decided it
    CHECK ((status = 'active') = (ended_at IS NULL)),
    CHECK ((status = 'superseded') = (superseded_by IS NOT NULL))
);
-- Exactly once: one ACTIVE award per learner x micro-credential version, whatever the consumers do.
CREATE UNIQUE INDEX awards_one_active ON awards (learner_id, micro_credential_id, micro_credential_version)
    WHERE status = 'active';
CREATE INDEX awards_by_learner ON awards (learner_id, awarded_at);
CREATE INDEX awards_by_offering ON awards (offering_id);

CREATE TABLE pathway_awards (
    award_id              uuid PRIMARY KEY,
    learner_id            text        NOT NULL,
    pathway_id            text        NOT NULL,
    pathway_version       integer     NOT NULL,
    status                text        NOT NULL CHECK (status IN ('active', 'revoked')),
    constituent_award_ids uuid[]      NOT NULL,
    explanation           jsonb       NOT NULL,
    awarded_at            timestamptz NOT NULL,
    revoked_at            timestamptz,
    revocation_reason     text,
    awarded_event_id      uuid        NOT NULL UNIQUE,
    caused_by             text        NOT NULL,
    CHECK ((status = 'active') = (revoked_at IS NULL))
);
-- A pathway is awarded once: one ACTIVE pathway award per learner x pathway (any version).
CREATE UNIQUE INDEX pathway_awards_one_active ON pathway_awards (learner_id, pathway_id) WHERE status = 'active';
CREATE INDEX pathway_awards_by_learner ON pathway_awards (learner_id, awarded_at);

-- The seam to part 2: one row per credential to issue, revoke or supersede, written in the same
-- transaction as the award decision and its event. Part 2's issuer claims rows with
-- SELECT ... FOR UPDATE SKIP LOCKED and sets done_at in the transaction that records the signed
-- credential. (created_at is operational only; no decision reads it.)
CREATE TABLE issuance_queue (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    award_kind text        NOT NULL CHECK (award_kind IN ('micro_credential', 'pathway')),
    action     text        NOT NULL CHECK (action IN ('issue', 'revoke', 'supersede')),
    award_id   uuid        NOT NULL,
    event_id   uuid        NOT NULL UNIQUE,  -- the credential event that asks for it
    created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    attempts   integer     NOT NULL DEFAULT 0,
    last_error text,
    done_at    timestamptz
);
CREATE INDEX issuance_queue_pending ON issuance_queue (id) WHERE done_at IS NULL;
