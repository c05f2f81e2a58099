-- A message delivered again after its dead letter committed (its ack was lost, or a duplicate)
-- must not be dead-lettered twice: one open dead letter per consumer and event.
DELETE FROM dead_letters d USING dead_letters e
 WHERE d.redriven_at IS NULL AND e.redriven_at IS NULL AND d.consumer = e.consumer
   AND d.event_id = e.event_id AND d.id > e.id;
CREATE UNIQUE INDEX dead_letters_open_once ON dead_letters (consumer, event_id)
    WHERE redriven_at IS NULL AND event_id IS NOT NULL;
