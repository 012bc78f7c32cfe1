//! Diesel's view of the tables created by `web/migrations/`. Keep it in step with the migrations
//! (the migration tests fail when a column here does not exist).

diesel::table! {
    users (id) {
        id -> Uuid,
        email -> Text,
        password_hash -> Text,
        is_staff -> Bool,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        email_verified_at -> Nullable<Timestamptz>,
        is_superuser -> Bool,
    }
}

diesel::table! {
    sessions (id) {
        id -> Uuid,
        token_hash -> Bytea,
        user_id -> Uuid,
        csrf_token -> Text,
        created_at -> Timestamptz,
        expires_at -> Timestamptz,
    }
}

diesel::table! {
    login_attempts (client, window_start) {
        client -> Text,
        window_start -> Timestamptz,
        attempts -> Int4,
    }
}

diesel::table! {
    notes (id) {
        id -> Uuid,
        owner_id -> Uuid,
        title -> Text,
        body -> Text,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    email_tokens (id) {
        id -> Uuid,
        token_hash -> Bytea,
        user_id -> Uuid,
        purpose -> Text,
        created_at -> Timestamptz,
        expires_at -> Timestamptz,
        used_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    outbox (id) {
        id -> Int8,
        task_id -> Uuid,
        task_name -> Text,
        queue -> Text,
        payload -> Jsonb,
        attempt -> Int4,
        created_at -> Timestamptz,
        published_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    tasks (task_id) {
        task_id -> Uuid,
        task_name -> Text,
        queue -> Text,
        payload -> Jsonb,
        state -> Text,
        attempts -> Int4,
        max_attempts -> Int4,
        last_error -> Nullable<Text>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        finished_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    task_runs (id) {
        id -> Int8,
        task_id -> Uuid,
        task_name -> Text,
        attempt -> Int4,
        state -> Text,
        worker_id -> Text,
        started_at -> Timestamptz,
        finished_at -> Nullable<Timestamptz>,
        error -> Nullable<Text>,
        retry_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    workers (worker_id) {
        worker_id -> Text,
        hostname -> Text,
        pid -> Int4,
        queues -> Array<Text>,
        concurrency -> Int4,
        in_flight -> Int4,
        started_at -> Timestamptz,
        last_seen_at -> Timestamptz,
        stopped_at -> Nullable<Timestamptz>,
        version -> Text,
    }
}

diesel::table! {
    dashboard_actions (id) {
        id -> BigInt,
        user_id -> Nullable<Uuid>,
        user_email -> Text,
        action -> Text,
        task_id -> Nullable<Uuid>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    paused_queues (queue) {
        queue -> Text,
        paused_by -> Text,
        paused_at -> Timestamptz,
    }
}

diesel::table! {
    outbox_idle_relays (relay_id) {
        relay_id -> Text,
        since -> Timestamptz,
    }
}

diesel::table! {
    note_files (id) {
        id -> Uuid,
        note_id -> Uuid,
        owner_id -> Uuid,
        key -> Text,
        filename -> Text,
        content_type -> Text,
        size -> Int8,
        created_at -> Timestamptz,
    }
}

diesel::joinable!(sessions -> users (user_id));
diesel::joinable!(email_tokens -> users (user_id));
diesel::joinable!(task_runs -> tasks (task_id));
diesel::joinable!(notes -> users (owner_id));
diesel::joinable!(note_files -> notes (note_id));
diesel::allow_tables_to_appear_in_same_query!(
    users,
    sessions,
    login_attempts,
    notes,
    note_files,
    email_tokens,
    outbox,
    outbox_idle_relays,
    tasks,
    task_runs,
    workers,
    dashboard_actions,
    paused_queues
);
