-- Read models of the catalogue, built by projections from the catalogue's own events
-- (adapters/projections.py) and rebuilt with `tessera catalogue rebuild`. Commands never read them:
-- they load aggregates from the event store.

-- projection "institutions"
CREATE TABLE cat_institutions (
    institution_id text PRIMARY KEY,
    profile        jsonb       NOT NULL,           -- InstitutionProfile as published
    name_sort      text        NOT NULL,
    revision       integer     NOT NULL,           -- stream version: usable as If-Match for updates
    registered_at  timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL
);

-- projection "micro-credential-versions": every published version, immutable
CREATE TABLE cat_mc_versions (
    micro_credential_id text        NOT NULL,
    version             integer     NOT NULL,
    coordinator_id      text        NOT NULL,
    definition          jsonb       NOT NULL,      -- MicroCredentialDefinition
    approvals           jsonb       NOT NULL,
    published_by        text        NOT NULL,
    published_at        timestamptz NOT NULL,
    PRIMARY KEY (micro_credential_id, version)
);
CREATE TABLE cat_micro_credentials (
    micro_credential_id text PRIMARY KEY,
    coordinator_id      text        NOT NULL,
    latest_version      integer     NOT NULL,
    retired             boolean     NOT NULL DEFAULT false,
    retired_reason      text,
    retired_at          timestamptz
);

-- projection "offerings"
CREATE TABLE cat_offerings (
    offering_id              text PRIMARY KEY,
    micro_credential_id      text        NOT NULL,
    micro_credential_version integer     NOT NULL,
    coordinator_id           text        NOT NULL,
    status                   text        NOT NULL,
    academic_year            text        NOT NULL,
    period                   text        NOT NULL,
    starts_on                date        NOT NULL,
    ends_on                  date        NOT NULL,
    opens_on                 date        NOT NULL,
    closes_on                date        NOT NULL,
    capacity                 integer     NOT NULL,
    fee                      numeric     NOT NULL,
    scheduled                jsonb       NOT NULL,  -- the OfferingScheduled event's data
    cancellation_reason      text,
    revision                 integer     NOT NULL,
    scheduled_at             timestamptz NOT NULL,
    updated_at               timestamptz NOT NULL
);
CREATE INDEX cat_offerings_by_mc ON cat_offerings (micro_credential_id, starts_on);
CREATE INDEX cat_offerings_by_year ON cat_offerings (academic_year, period);

-- projection "pathway-versions"
CREATE TABLE cat_pathway_versions (
    pathway_id     text        NOT NULL,
    version        integer     NOT NULL,
    coordinator_id text        NOT NULL,
    definition     jsonb       NOT NULL,            -- PathwayDefinition
    approvals      jsonb       NOT NULL,
    published_by   text        NOT NULL,
    published_at   timestamptz NOT NULL,
    PRIMARY KEY (pathway_id, version)
);

-- projection "search": one row per micro-credential, its latest published version
CREATE TABLE cat_search (
    micro_credential_id text PRIMARY KEY,
    version             integer     NOT NULL,
    coordinator_id      text        NOT NULL,
    definition          jsonb       NOT NULL,
    annex_i             jsonb       NOT NULL,
    published_at        timestamptz NOT NULL,
    retired             boolean     NOT NULL DEFAULT false,
    isced_field         text        NOT NULL,
    ects                numeric     NOT NULL,
    eqf                 integer,
    languages           text[]      NOT NULL,       -- as published (nl-BE)
    language_primaries  text[]      NOT NULL,       -- primary subtags (nl)
    mode                text        NOT NULL,
    evening             boolean     NOT NULL,
    distance            boolean     NOT NULL,
    partner_ids         text[]      NOT NULL,
    titles              jsonb       NOT NULL,       -- primary language -> folded title, for sorting
    title_default       text        NOT NULL,
    document            tsvector    NOT NULL        -- 'simple' config over accent-folded text
);
CREATE INDEX cat_search_document ON cat_search USING gin (document);
CREATE INDEX cat_search_partners ON cat_search USING gin (partner_ids);
CREATE INDEX cat_search_languages ON cat_search USING gin (language_primaries);
CREATE INDEX cat_search_field ON cat_search (isced_field text_pattern_ops);
