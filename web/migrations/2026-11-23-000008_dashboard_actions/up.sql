-- Every state-changing action taken from the monitoring dashboard: who, what, when, on which task.
CREATE TABLE dashboard_actions (
    id         bigserial   PRIMARY KEY,
    user_id    uuid        REFERENCES users (id) ON DELETE SET NULL,
    user_email text        NOT NULL,
    action     text        NOT NULL,
    task_id    uuid,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX dashboard_actions_created_idx ON dashboard_actions (created_at DESC);
