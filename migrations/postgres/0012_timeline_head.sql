-- The timeline's head follows each entry as it is inserted, in the same statement: an
-- append is then two round trips to the database (count, entries) instead of three, and
-- the single writer waits on each. Row triggers of one insert fire in the order its rows
-- were inserted, so the head is the last entry's hash.
CREATE FUNCTION incident_events_head() RETURNS trigger AS $$
BEGIN
    UPDATE sevs SET timeline_head = NEW.hash WHERE id = NEW.sev_id;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER incident_events_head AFTER INSERT ON incident_events
    FOR EACH ROW EXECUTE FUNCTION incident_events_head();
