ALTER TABLE workers DROP COLUMN version;
