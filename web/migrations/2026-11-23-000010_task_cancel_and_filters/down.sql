DROP INDEX task_runs_finished_idx;
DROP INDEX task_runs_worker_idx;
DROP INDEX tasks_failed_idx;
DROP INDEX tasks_queue_idx;
DROP INDEX tasks_name_idx;
CREATE INDEX tasks_name_idx ON tasks (task_name, created_at DESC);

DELETE FROM task_runs WHERE state = 'skipped';
UPDATE tasks SET state = 'dead', last_error = coalesce(last_error, 'cancelled') WHERE state = 'cancelled';
ALTER TABLE task_runs DROP CONSTRAINT task_runs_state_check;
ALTER TABLE task_runs ADD CONSTRAINT task_runs_state_check CHECK (state IN ('running', 'succeeded', 'failed'));
ALTER TABLE tasks DROP CONSTRAINT tasks_state_check;
ALTER TABLE tasks ADD CONSTRAINT tasks_state_check
    CHECK (state IN ('queued', 'running', 'retrying', 'succeeded', 'dead'));
