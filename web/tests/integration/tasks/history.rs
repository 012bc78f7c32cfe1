//! The task history kept to its retention (`app tasks prune`).

use super::task_states;
use crate::common::{TestDb, output_text, run_app};

/// `app tasks prune` deletes succeeded tasks (with their runs) and stopped workers older than the retention; dead
/// tasks and recent history stay, and `--dry-run` only counts.
#[tokio::test]
async fn prune_keeps_recent_history_and_dead_tasks() {
    let db = TestDb::migrated().await;
    let client = db.client().await;
    client
        .batch_execute(
            "INSERT INTO tasks (task_id, task_name, queue, payload, state, max_attempts, updated_at, finished_at)
             SELECT gen_random_uuid(), 'probe', 'default', '{}', 'succeeded', 5, at, at
             FROM (VALUES (now() - interval '40 days'), (now() - interval '31 days'), (now() - interval '2 days')) v(at);
             INSERT INTO tasks (task_id, task_name, queue, payload, state, max_attempts, updated_at, finished_at)
             VALUES (gen_random_uuid(), 'probe', 'default', '{}', 'dead', 5, now() - interval '90 days', now() - interval '90 days');
             INSERT INTO task_runs (task_id, task_name, attempt, state, worker_id)
             SELECT task_id, task_name, 1, 'succeeded', 'w' FROM tasks;
             INSERT INTO workers (worker_id, hostname, pid, queues, concurrency, last_seen_at, stopped_at) VALUES
             ('old', 'h', 1, '{default}', 4, now() - interval '45 days', now() - interval '45 days'),
             ('live', 'h', 2, '{default}', 4, now(), NULL);",
        )
        .await
        .unwrap();
    let env = [("DATABASE_URL", db.url.as_str())];

    let dry = run_app(&["tasks", "prune", "--dry-run"], &env);
    assert!(dry.status.success(), "{}", output_text(&dry));
    assert!(output_text(&dry).contains("Would delete 2 succeeded task(s)"), "{}", output_text(&dry));
    assert_eq!(db.count("tasks").await, 4, "a dry run deletes nothing");

    let pruned = run_app(&["tasks", "prune"], &env);
    assert!(pruned.status.success(), "{}", output_text(&pruned));
    assert!(output_text(&pruned).contains("Deleted 2 succeeded task(s) with their runs and 1 stopped worker(s)"));
    let states = task_states(&db).await;
    assert_eq!(states.len(), 2, "the recent succeeded task and the old dead one stay: {states:?}");
    assert!(states.iter().any(|(_, state)| state == "dead"));
    assert_eq!(db.count("task_runs").await, 2, "the runs of pruned tasks went with them");
    assert_eq!(db.count("workers").await, 1);

    let shorter = run_app(&["tasks", "prune", "--older-than-days", "1"], &env);
    assert!(output_text(&shorter).contains("Deleted 1 succeeded task(s)"), "{}", output_text(&shorter));
    let refused = run_app(&["tasks", "prune", "--older-than-days", "0"], &env);
    assert!(!refused.status.success(), "0 days is refused");
}
