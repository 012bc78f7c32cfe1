-- Task queues paused from the dashboard: every worker stops consuming a queue listed here (within a heartbeat) and
-- starts again when its row is deleted. Messages wait in RabbitMQ meanwhile; nothing is lost.
CREATE TABLE paused_queues (
    queue     text        PRIMARY KEY,
    paused_by text        NOT NULL,
    paused_at timestamptz NOT NULL DEFAULT now()
);
