-- Keyset pagination: list pages order by (created_at DESC, id DESC) and start after the previous page's last key.
-- An index in exactly that order lets a page read only its own rows, however many the owner has; the old one ended
-- in `id` ascending, so PostgreSQL read and sorted every row of the owner for every page.
DROP INDEX notes_owner_created_idx;
CREATE INDEX notes_owner_created_idx ON notes (owner_id, created_at DESC, id DESC);

-- The task history, newest activity first, with or without a state filter (`app tasks list`).
DROP INDEX tasks_state_idx;
CREATE INDEX tasks_state_idx ON tasks (state, updated_at DESC, task_id DESC);
CREATE INDEX tasks_updated_idx ON tasks (updated_at DESC, task_id DESC);
