DROP TABLE workers;
DROP TABLE task_runs;
DROP TABLE tasks;
DROP TABLE outbox;
