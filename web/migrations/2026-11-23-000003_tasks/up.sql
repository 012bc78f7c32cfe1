-- Background tasks: the transactional outbox, one status row per task, one row per attempt, worker heartbeats.

-- Written in the same transaction as the business change that enqueues the task; the relay publishes unpublished
-- rows to RabbitMQ (publisher confirms) and stamps published_at. A broker outage delays tasks, never loses them.
CREATE TABLE outbox (
    id           bigserial   PRIMARY KEY,
    task_id      uuid        NOT NULL,
    task_name    text        NOT NULL,
    queue        text        NOT NULL,
    payload      jsonb       NOT NULL,
    attempt      integer     NOT NULL DEFAULT 1,
    created_at   timestamptz NOT NULL DEFAULT now(),
    published_at timestamptz
);
CREATE INDEX outbox_unpublished_idx ON outbox (id) WHERE published_at IS NULL;

-- The life of a task across attempts. state: queued, running, retrying, succeeded, dead.
CREATE TABLE tasks (
    task_id       uuid        PRIMARY KEY,
    task_name     text        NOT NULL,
    queue         text        NOT NULL,
    payload       jsonb       NOT NULL,
    state         text        NOT NULL DEFAULT 'queued'
                  CHECK (state IN ('queued', 'running', 'retrying', 'succeeded', 'dead')),
    attempts      integer     NOT NULL DEFAULT 0,
    max_attempts  integer     NOT NULL,
    last_error    text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    finished_at   timestamptz
);
CREATE INDEX tasks_state_idx ON tasks (state, updated_at DESC);
CREATE INDEX tasks_name_idx ON tasks (task_name, created_at DESC);

-- One row per attempt, written by the worker. state: running, succeeded, failed.
CREATE TABLE task_runs (
    id          bigserial   PRIMARY KEY,
    task_id     uuid        NOT NULL REFERENCES tasks (task_id) ON DELETE CASCADE,
    task_name   text        NOT NULL,
    attempt     integer     NOT NULL,
    state       text        NOT NULL CHECK (state IN ('running', 'succeeded', 'failed')),
    worker_id   text        NOT NULL,
    started_at  timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz,
    error       text,
    -- When the next attempt becomes due (failed attempts that will be retried).
    retry_at    timestamptz
);
CREATE INDEX task_runs_task_idx ON task_runs (task_id, attempt);
CREATE INDEX task_runs_started_idx ON task_runs (started_at DESC);

-- Each worker process upserts its row every few seconds.
CREATE TABLE workers (
    worker_id    text        PRIMARY KEY,
    hostname     text        NOT NULL,
    pid          integer     NOT NULL,
    queues       text[]      NOT NULL,
    concurrency  integer     NOT NULL,
    in_flight    integer     NOT NULL DEFAULT 0,
    started_at   timestamptz NOT NULL DEFAULT now(),
    last_seen_at timestamptz NOT NULL DEFAULT now(),
    stopped_at   timestamptz
);
