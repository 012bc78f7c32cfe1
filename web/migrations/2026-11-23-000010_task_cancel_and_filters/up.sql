-- A queued or retrying task can be cancelled from the dashboard: the worker that later receives its message skips
-- it and records a `skipped` run.
ALTER TABLE tasks DROP CONSTRAINT tasks_state_check;
ALTER TABLE tasks ADD CONSTRAINT tasks_state_check
    CHECK (state IN ('queued', 'running', 'retrying', 'succeeded', 'dead', 'cancelled'));
ALTER TABLE task_runs DROP CONSTRAINT task_runs_state_check;
ALTER TABLE task_runs ADD CONSTRAINT task_runs_state_check
    CHECK (state IN ('running', 'succeeded', 'failed', 'skipped'));

-- The dashboard's task filters, each in the history's order (latest activity first), so that a filtered page reads
-- its own rows only.
DROP INDEX tasks_name_idx;
CREATE INDEX tasks_name_idx ON tasks (task_name, updated_at DESC, task_id DESC);
CREATE INDEX tasks_queue_idx ON tasks (queue, updated_at DESC, task_id DESC);
-- Error-text search reads only the tasks that have an error.
CREATE INDEX tasks_failed_idx ON tasks (updated_at DESC, task_id DESC) WHERE last_error IS NOT NULL;
-- "Tasks run by this worker".
CREATE INDEX task_runs_worker_idx ON task_runs (worker_id, task_id);
-- The dashboard's /metrics counts attempts as they finish.
CREATE INDEX task_runs_finished_idx ON task_runs (finished_at) WHERE finished_at IS NOT NULL;
