-- The timeline's head follows each entry as it is inserted, in the same statement: an
-- append is then two round trips to the database (count, entries) instead of three, and
-- the single writer waits on each. Entries of one insert fire in order, so the head is
-- the last entry's hash.
CREATE TRIGGER incident_events_head AFTER INSERT ON incident_events
BEGIN
    UPDATE sevs SET timeline_head = NEW.hash WHERE id = NEW.sev_id;
END;
