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

diesel::joinable!(sessions -> users (user_id));
diesel::joinable!(notes -> users (owner_id));
diesel::allow_tables_to_appear_in_same_query!(users, sessions, login_attempts, notes);
