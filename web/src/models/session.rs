//! Login sessions: a random token in an HttpOnly cookie, its SHA-256 in the `sessions` table, and a per-session
//! CSRF token that state-changing requests must echo in a header.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::models::user::User;
use crate::schema::{sessions, users};
use crate::token;

/// A session as the request handlers see it.
#[derive(Debug, Clone)]
pub struct ActiveSession {
    pub id: Uuid,
    pub csrf_token: String,
    pub user: User,
}

/// A freshly created session: `token` goes into the cookie and is never stored.
#[derive(Debug)]
pub struct NewSession {
    pub token: String,
    pub csrf_token: String,
    pub expires_at: DateTime<Utc>,
}

pub async fn create(conn: &mut AsyncPgConnection, user_id: Uuid, ttl: std::time::Duration) -> QueryResult<NewSession> {
    let token = token::generate();
    let csrf_token = token::generate();
    let ttl = chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::days(14));
    let expires_at = Utc::now() + ttl;
    diesel::insert_into(sessions::table)
        .values((
            sessions::token_hash.eq(token::digest(&token)),
            sessions::user_id.eq(user_id),
            sessions::csrf_token.eq(&csrf_token),
            sessions::expires_at.eq(expires_at),
        ))
        .execute(conn)
        .await?;
    Ok(NewSession { token, csrf_token, expires_at })
}

/// The unexpired session whose cookie token is `token`, with its user.
pub async fn find(conn: &mut AsyncPgConnection, token: &str) -> QueryResult<Option<ActiveSession>> {
    let row: Option<(Uuid, String, User)> = sessions::table
        .inner_join(users::table)
        .filter(sessions::token_hash.eq(token::digest(token)))
        .filter(sessions::expires_at.gt(Utc::now()))
        .select((sessions::id, sessions::csrf_token, User::as_select()))
        .first(conn)
        .await
        .optional()?;
    Ok(row.map(|(id, csrf_token, user)| ActiveSession { id, csrf_token, user }))
}

pub async fn delete(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<()> {
    diesel::delete(sessions::table.find(id)).execute(conn).await?;
    Ok(())
}
