ALTER TABLE users DROP CONSTRAINT users_superuser_is_staff;
ALTER TABLE users DROP COLUMN is_superuser;
