-- What the dashboard shows of backups and scheduled jobs. Object storage stays the source of truth for backups.
CREATE TABLE backups (
    name         text        PRIMARY KEY,
    url          text        NOT NULL,
    size         bigint      NOT NULL,
    sha256       text        NOT NULL,
    created_at   timestamptz NOT NULL,
    verified_at  timestamptz,
    verify_ok    boolean,
    verify_error text
);

-- One row per scheduled run. status: running, succeeded, failed, timed_out, skipped.
CREATE TABLE cron_runs (
    id          bigserial   PRIMARY KEY,
    job         text        NOT NULL,
    host        text        NOT NULL,
    status      text        NOT NULL CHECK (status IN ('running', 'succeeded', 'failed', 'timed_out', 'skipped')),
    started_at  timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz,
    exit_code   integer,
    output_tail text,
    note        text
);
CREATE INDEX cron_runs_job_idx ON cron_runs (job, started_at DESC);
