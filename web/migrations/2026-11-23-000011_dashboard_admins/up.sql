-- Staff read the monitoring dashboard; superusers (admins) also act on it (retry, cancel). Every staff account made
-- so far was made by `app createsuperuser` and keeps its powers.
ALTER TABLE users ADD COLUMN is_superuser boolean NOT NULL DEFAULT false;
UPDATE users SET is_superuser = true WHERE is_staff;
ALTER TABLE users ADD CONSTRAINT users_superuser_is_staff CHECK (is_staff OR NOT is_superuser);
