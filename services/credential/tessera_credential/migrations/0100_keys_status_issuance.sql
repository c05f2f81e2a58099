-- Credential service, part 2: institution keys, Bitstring Status Lists, issued credentials.
-- See docs/credential-keys-and-status.md. The awarding engine's tables are in 0001_awarding.sql;
-- this file only reads them, adds a NOTIFY trigger on its issuance_queue (the seam) and a table of
-- retry times beside it.

-- One Ed25519 key pair per institution and key number; the private key sealed with AES-256-GCM
-- under CREDENTIAL_KEY_ENCRYPTION_KEY (never stored in clear). Keys are never deleted: a retired
-- key stays in the DID document so the credentials it signed keep verifying.
CREATE TABLE institution_keys (
    institution_id text        NOT NULL,
    key_number     integer     NOT NULL CHECK (key_number >= 1),   -- verification method <did>#key-<n>
    public_key     bytea       NOT NULL UNIQUE CHECK (length(public_key) = 32),
    sealed_secret  bytea       NOT NULL,                           -- 0x01 || nonce || AES-GCM(seed) || tag
    kek_id         text        NOT NULL,                           -- fingerprint of the sealing KEK
    created_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
    retired_at     timestamptz,
    PRIMARY KEY (institution_id, key_number)
);
-- exactly one active key per institution (rotation retires the old one in the same transaction)
CREATE UNIQUE INDEX institution_keys_one_active ON institution_keys (institution_id) WHERE retired_at IS NULL;

-- Bitstring Status Lists, one series per issuing institution. The signed list credential is kept
-- with the version of the bits it states; version > signed_version means "sign again".
CREATE TABLE status_lists (
    list_id        text        PRIMARY KEY,
    issuer_id      text        NOT NULL,
    purpose        text        NOT NULL CHECK (purpose IN ('revocation')),
    size           integer     NOT NULL CHECK (size >= 131072),
    capacity       integer     NOT NULL CHECK (capacity > 0 AND capacity <= size),
    allocated      integer     NOT NULL DEFAULT 0 CHECK (allocated >= 0 AND allocated <= capacity),
    open           boolean     NOT NULL DEFAULT true,
    version        bigint      NOT NULL DEFAULT 1,
    signed_version bigint      NOT NULL DEFAULT 0,
    credential     jsonb,                       -- the signed BitstringStatusListCredential
    signed_at      timestamptz,
    created_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
    CHECK (NOT open OR allocated < capacity)
);
CREATE UNIQUE INDEX status_lists_one_open ON status_lists (issuer_id, purpose) WHERE open;
CREATE INDEX status_lists_unsigned ON status_lists (list_id) WHERE version > signed_version;

-- The allocation registry: an index is drawn at random and this key makes it unique per list.
CREATE TABLE status_list_entries (
    list_id       text    NOT NULL REFERENCES status_lists (list_id),
    status_index  integer NOT NULL CHECK (status_index >= 0),
    credential_id text    NOT NULL UNIQUE,
    PRIMARY KEY (list_id, status_index)
);

-- Issued credentials: exactly one per award (award_id UNIQUE), the signed document as issued.
CREATE TABLE issued_credentials (
    credential_id            text        PRIMARY KEY,      -- the VC's id: <PUBLIC_BASE_URL>/credentials/<uuid>
    award_id                 text        NOT NULL UNIQUE,  -- awards.award_id or pathway_awards.award_id
    award_kind               text        NOT NULL CHECK (award_kind IN ('micro_credential', 'pathway')),
    learner_id               text        NOT NULL,
    micro_credential_id      text,
    micro_credential_version integer,
    pathway_id               text,
    pathway_version          integer,
    issuer_id                text        NOT NULL,         -- the coordinating institution
    co_signer_ids            text[]      NOT NULL,         -- the other awarding partners, in proof order
    achievement_id           text        NOT NULL,
    document                 jsonb       NOT NULL,
    status                   text        NOT NULL DEFAULT 'active'
                                         CHECK (status IN ('active', 'revoked', 'superseded')),
    status_list_id           text        NOT NULL,
    status_index             integer     NOT NULL,
    supersedes               text        REFERENCES issued_credentials (credential_id),
    superseded_by            text        REFERENCES issued_credentials (credential_id),
    revocation_reason        text,
    issued_at                timestamptz NOT NULL,
    ended_at                 timestamptz,
    FOREIGN KEY (status_list_id, status_index) REFERENCES status_list_entries (list_id, status_index),
    UNIQUE (status_list_id, status_index),
    CHECK ((status = 'active') = (ended_at IS NULL)),
    CHECK ((status = 'superseded') = (superseded_by IS NOT NULL)),
    CHECK ((status = 'revoked') = (revocation_reason IS NOT NULL)),
    CHECK ((award_kind = 'micro_credential') = (micro_credential_id IS NOT NULL AND micro_credential_version IS NOT NULL)),
    CHECK ((award_kind = 'pathway') = (pathway_id IS NOT NULL AND pathway_version IS NOT NULL))
);
CREATE INDEX issued_credentials_by_learner ON issued_credentials (learner_id, issued_at);
CREATE INDEX issued_credentials_by_list ON issued_credentials (status_list_id) WHERE status <> 'active';

-- When a queue row failed for a reason that time may cure (inputs not arrived yet, a key being
-- rotated), it is not claimed again before not_before. The queue's own attempts/last_error say why.
CREATE TABLE issuance_deferrals (
    queue_id   bigint      PRIMARY KEY REFERENCES issuance_queue (id),
    not_before timestamptz NOT NULL
);

-- Wake the issuance worker as soon as the awarding engine commits queue rows (it also polls).
CREATE FUNCTION issuance_queue_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('tessera_issuance', '');
    RETURN NULL;
END $$;
CREATE TRIGGER issuance_queue_notify AFTER INSERT ON issuance_queue
    FOR EACH STATEMENT EXECUTE FUNCTION issuance_queue_notify();
