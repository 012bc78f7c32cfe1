-- A run whose process was killed before it recorded its end is closed as `interrupted` by the next run of its job.
ALTER TABLE cron_runs DROP CONSTRAINT cron_runs_status_check;
ALTER TABLE cron_runs ADD CONSTRAINT cron_runs_status_check
    CHECK (status IN ('running', 'succeeded', 'failed', 'timed_out', 'skipped', 'interrupted'));
