UPDATE cron_runs SET status = 'failed' WHERE status = 'interrupted';
ALTER TABLE cron_runs DROP CONSTRAINT cron_runs_status_check;
ALTER TABLE cron_runs ADD CONSTRAINT cron_runs_status_check
    CHECK (status IN ('running', 'succeeded', 'failed', 'timed_out', 'skipped'));
