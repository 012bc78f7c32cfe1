//! Single-use tokens sent by mail: e-mail verification and password reset. The mail carries the token; the table
//! keeps its SHA-256, when it expires, and when it was used.

use std::time::Duration;

use chrono::Utc;
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::schema::{email_tokens, users};
use crate::token;

/// What a token allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    VerifyEmail,
    PasswordReset,
}

impl Purpose {
    fn as_str(self) -> &'static str {
        match self {
            Self::VerifyEmail => "verify_email",
            Self::PasswordReset => "password_reset",
        }
    }
}

/// Creates a token for `user_id` and returns it (the only time it exists in clear).
pub async fn create(
    conn: &mut AsyncPgConnection,
    user_id: Uuid,
    purpose: Purpose,
    ttl: Duration,
) -> QueryResult<String> {
    let token = token::generate();
    let expires_at = Utc::now() + chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::hours(1));
    diesel::insert_into(email_tokens::table)
        .values((
            email_tokens::token_hash.eq(token::digest(&token)),
            email_tokens::user_id.eq(user_id),
            email_tokens::purpose.eq(purpose.as_str()),
            email_tokens::expires_at.eq(expires_at),
        ))
        .execute(conn)
        .await?;
    Ok(token)
}

/// Marks the token used and returns its user, if it exists for this purpose, is unexpired and unused. A second
/// use of the same token finds nothing: the update is conditional on `used_at IS NULL`.
pub async fn consume(conn: &mut AsyncPgConnection, token: &str, purpose: Purpose) -> QueryResult<Option<Uuid>> {
    diesel::update(
        email_tokens::table
            .filter(email_tokens::token_hash.eq(token::digest(token)))
            .filter(email_tokens::purpose.eq(purpose.as_str()))
            .filter(email_tokens::used_at.is_null())
            .filter(email_tokens::expires_at.gt(Utc::now())),
    )
    .set(email_tokens::used_at.eq(Utc::now()))
    .returning(email_tokens::user_id)
    .get_result(conn)
    .await
    .optional()
}

/// Consumes a verification token and marks the address verified.
pub async fn verify_email(conn: &mut AsyncPgConnection, token: &str) -> QueryResult<Option<Uuid>> {
    let Some(user_id) = consume(conn, token, Purpose::VerifyEmail).await? else {
        return Ok(None);
    };
    diesel::update(users::table.find(user_id)).set(users::email_verified_at.eq(Utc::now())).execute(conn).await?;
    Ok(Some(user_id))
}
