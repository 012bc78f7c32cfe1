DROP TABLE cron_runs;
DROP TABLE backups;
