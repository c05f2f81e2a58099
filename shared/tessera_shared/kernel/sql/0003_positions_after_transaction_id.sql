-- A global position is handed out only to a transaction that already has its transaction id.
-- EventStore.read_all relies on it to tell a position still to be filled (its holder is running)
-- from one rolled back: the holder of a missing position is older than any transaction that began
-- after the position was handed out. An identity column cannot promise that (in a transaction's
-- first insert, nextval runs before the row is written and the id assigned), so the position comes
-- from a function that takes the id first.
-- No append between reading the identity's next value and dropping it (replicas of an older
-- version may still be running during an upgrade).
LOCK TABLE events IN ACCESS EXCLUSIVE MODE;
CREATE SEQUENCE events_position AS bigint OWNED BY events.global_position;
-- Go on from the identity's next value: no position is handed out twice, not even a rolled-back one.
SELECT setval('events_position', nextval(pg_get_serial_sequence('events', 'global_position')), false);

CREATE FUNCTION tessera_next_position() RETURNS bigint LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    PERFORM pg_current_xact_id();
    RETURN nextval('events_position');
END $$;

ALTER TABLE events ALTER COLUMN global_position DROP IDENTITY;
ALTER TABLE events ALTER COLUMN global_position SET DEFAULT tessera_next_position();
