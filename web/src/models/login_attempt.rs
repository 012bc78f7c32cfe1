//! Login throttling: a fixed-window counter per client address in PostgreSQL, so that every web replica shares it.

use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use diesel::prelude::*;
use diesel::upsert::excluded;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::schema::login_attempts;

/// Outcome of counting one attempt.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    Allowed,
    /// Over the limit; the window ends after this long.
    Limited(Duration),
}

/// Counts one login attempt by `client` and says whether it may proceed.
pub async fn record(
    conn: &mut AsyncPgConnection,
    client: &str,
    limit: u32,
    window: Duration,
    now: DateTime<Utc>,
) -> QueryResult<Verdict> {
    let window_secs = i64::try_from(window.as_secs()).unwrap_or(i64::MAX).max(1);
    let start_secs = now.timestamp() - now.timestamp().rem_euclid(window_secs);
    let window_start = Utc.timestamp_opt(start_secs, 0).single().unwrap_or(now);
    let attempts: i32 = diesel::insert_into(login_attempts::table)
        .values((
            login_attempts::client.eq(client),
            login_attempts::window_start.eq(window_start),
            login_attempts::attempts.eq(1),
        ))
        .on_conflict((login_attempts::client, login_attempts::window_start))
        .do_update()
        .set(login_attempts::attempts.eq(login_attempts::attempts + excluded(login_attempts::attempts)))
        .returning(login_attempts::attempts)
        .get_result(conn)
        .await?;
    if u32::try_from(attempts).unwrap_or(u32::MAX) <= limit {
        return Ok(Verdict::Allowed);
    }
    let ends = start_secs + window_secs - now.timestamp();
    Ok(Verdict::Limited(Duration::from_secs(u64::try_from(ends).unwrap_or(1).max(1))))
}
