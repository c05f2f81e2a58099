"""From awards to stored, signed Open Badges 3.0 credentials (credential service, part 2).

* ``inputs``: what a credential states, from the awarding engine's read models.
* ``pipeline``: batches of the issuance queue → build, sign, store, events (exactly once per award).
* ``worker``: the background loop (LISTEN/NOTIFY + polling, one active worker per database).
* ``settings`` / ``wiring``: environment settings and ``wire_issuance(definition)``.

See docs/credential-keys-and-status.md.
"""
