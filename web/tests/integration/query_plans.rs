//! The page queries keep one plan: PostgreSQL plans a prepared statement with its values for five runs, then
//! reuses a generic plan only if it looks no dearer. A bound `LIMIT $n` made the generic plan look ten times dearer,
//! so every page was planned anew (three times the cost of running it). These read `pg_prepared_statements` on the
//! connection that ran the query: with the limit back as a bind they fail.

use diesel::sql_types::{BigInt, Text};
use diesel::{ExpressionMethods as _, QueryDsl as _, QueryableByName, SelectableHelper as _};
use diesel_async::{AsyncConnection as _, AsyncPgConnection};
use uuid::Uuid;

use web::models::keyset::{self, Keyset};
use web::models::note::{self, Note};
use web::schema::notes;

use crate::common::db::TestDb;

const RUNS: i64 = 8;

/// A user with a session (token digest `session`) and `count` notes.
async fn arrange(db: &TestDb, session: &[u8], count: i64) -> Uuid {
    let client = db.client().await;
    let owner: Uuid = client
        .query_one("INSERT INTO users (email, password_hash) VALUES ('plans@example.com', 'x') RETURNING id", &[])
        .await
        .unwrap()
        .get(0);
    client
        .execute(
            "INSERT INTO sessions (token_hash, user_id, csrf_token, expires_at) \
             VALUES ($1, $2, 'csrf', now() + interval '1 hour')",
            &[&session, &owner],
        )
        .await
        .unwrap();
    client
        .execute(
            "INSERT INTO notes (owner_id, title, body, created_at) \
             SELECT $1, 'note ' || n, 'body', now() - n * interval '1 second' FROM generate_series(1, $2::bigint) n",
            &[&owner, &count],
        )
        .await
        .unwrap();
    client.batch_execute("ANALYZE notes; ANALYZE sessions").await.unwrap();
    owner
}

#[derive(QueryableByName, Debug)]
struct Prepared {
    #[diesel(sql_type = Text)]
    statement: String,
    #[diesel(sql_type = BigInt)]
    generic_plans: i64,
    #[diesel(sql_type = BigInt)]
    custom_plans: i64,
}

/// The statements this connection has prepared whose text contains `needle`.
async fn prepared(conn: &mut AsyncPgConnection, needle: &str) -> Vec<Prepared> {
    use diesel_async::RunQueryDsl as _;
    diesel::sql_query(
        "SELECT statement, generic_plans, custom_plans FROM pg_prepared_statements WHERE strpos(statement, $1) > 0",
    )
    .bind::<Text, _>(needle)
    .load(conn)
    .await
    .unwrap()
}

/// Five custom plans (PostgreSQL's trial), then the generic one for every run after.
fn assert_plan_reused(statement: &Prepared) {
    assert_eq!(
        (statement.custom_plans, statement.generic_plans),
        (5, RUNS - 5),
        "planned anew on every run: {}",
        statement.statement
    );
}

#[tokio::test]
async fn the_notes_page_is_planned_once_per_page_size() {
    let db = TestDb::migrated().await;
    let session = [7_u8; 32];
    arrange(&db, &session, 300).await;
    let mut conn = AsyncPgConnection::establish(&db.url).await.unwrap();

    let mut after = None;
    let mut seen = Vec::new();
    for _ in 0..RUNS {
        let page = note::list_in_session(&mut conn, &session, after, 20, false).await.unwrap().expect("a session");
        assert_eq!(page.items.len(), 20);
        seen.extend(page.items.iter().map(|note| note.id));
        after = page.next.as_deref().and_then(Keyset::decode);
    }
    seen.sort_unstable();
    seen.dedup();
    assert_eq!(seen.len(), 160, "every page holds new notes");
    let pages = prepared(&mut conn, "LATERAL").await;
    assert_eq!(pages.len(), 1, "one statement for one page size");
    assert_plan_reused(&pages[0]);

    // Another page size is another statement (the size is in its text), with the right number of rows.
    let page = note::list_in_session(&mut conn, &session, None, 7, false).await.unwrap().expect("a session");
    assert_eq!(page.items.len(), 7);
    assert_eq!(prepared(&mut conn, "LATERAL").await.len(), 2);
}

#[tokio::test]
async fn a_dsl_page_with_a_literal_limit_is_planned_once() {
    let db = TestDb::migrated().await;
    let owner = arrange(&db, &[9_u8; 32], 3000).await;
    let mut conn = AsyncPgConnection::establish(&db.url).await.unwrap();

    use diesel_async::RunQueryDsl as _;
    let mut after = Keyset::start();
    for _ in 0..RUNS {
        let query = notes::table
            .filter(notes::owner_id.eq(owner))
            .filter(keyset::after(notes::created_at, notes::id, after))
            .order((notes::created_at.desc(), notes::id.desc()))
            .select(Note::as_select());
        let rows: Vec<Note> = keyset::limited(query, 11).load(&mut conn).await.unwrap();
        assert_eq!(rows.len(), 11);
        assert!(rows.windows(2).all(|pair| pair[0].key() > pair[1].key()), "newest first");
        assert!(rows[0].key() < after, "after the cursor");
        after = rows[9].key();
    }
    let pages = prepared(&mut conn, "LIMIT 11").await;
    assert_eq!(pages.len(), 1);
    assert_plan_reused(&pages[0]);
}
