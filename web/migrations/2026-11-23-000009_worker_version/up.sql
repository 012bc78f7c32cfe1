-- The release each worker process runs (the dashboard's workers page); rows of older workers read ''.
ALTER TABLE workers ADD COLUMN version text NOT NULL DEFAULT '';
