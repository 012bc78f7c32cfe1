-- Files attached to notes. The bytes are in media storage under `key` (generated, never taken from the client);
-- the row is written after the upload completed, so a row always names a whole object. Deleting a note deletes its
-- rows here (cascade) and, through the media.delete task enqueued in the same transaction, its objects.
CREATE TABLE note_files (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    note_id uuid NOT NULL REFERENCES notes (id) ON DELETE CASCADE,
    owner_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    key text NOT NULL UNIQUE,
    filename text NOT NULL,
    content_type text NOT NULL,
    size bigint NOT NULL CHECK (size >= 0),
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX note_files_note ON note_files (note_id, created_at);
