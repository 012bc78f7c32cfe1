-- {{title}}, owned by a user (template/resource). Pages and the API list them newest first by keyset: the index is in
-- exactly that order, so a page reads only its own rows however many the owner has.
CREATE TABLE {{plural}} (
    id         uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    owner_id   uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
{{sql_columns}}    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX {{plural}}_owner_created_idx ON {{plural}} (owner_id, created_at DESC, id DESC);
