DROP INDEX tasks_updated_idx;
DROP INDEX tasks_state_idx;
CREATE INDEX tasks_state_idx ON tasks (state, updated_at DESC);
DROP INDEX notes_owner_created_idx;
CREATE INDEX notes_owner_created_idx ON notes (owner_id, created_at DESC, id);
