//! Accounts: validated e-mail and password types, and the `users` table.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde::Serialize;
use uuid::Uuid;

use crate::config::Secret;
use crate::schema::users;

/// An e-mail address in its one canonical form, so that one mailbox cannot hold two accounts: the domain mapped by
/// IDNA (UTS 46: full-width and other compatibility forms folded, lower-cased, a Unicode label written as its
/// `xn--` A-label) and the local part lower-cased ASCII. The local part must be ASCII: non-ASCII mailboxes need
/// SMTPUTF8 from every relay on the way and would let look-alike letters (a Cyrillic "а") name another person; and
/// it is only lower-cased, not stripped of dots or `+tags`, which is one provider's rule and not every server's. A
/// look-alike domain cannot hide either: it is stored and shown as its `xn--` form. On top of that, lettre's address
/// syntax (the library that sends the mail) and a dotted domain; a verification mail is the real test of an address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        let raw = raw.trim();
        if raw.is_empty() {
            return Err("is required");
        }
        if raw.len() > 254 * 4 {
            return Err("must be at most 254 characters");
        }
        let Some((local, domain)) = raw.rsplit_once('@') else { return Err("is not a valid e-mail address") };
        if !local.is_ascii() {
            return Err("must have only ASCII letters, digits and punctuation before the @");
        }
        if domain.ends_with('.') {
            return Err("is not a valid e-mail address");
        }
        let Ok(domain) = idna::domain_to_ascii_strict(domain) else { return Err("is not a valid e-mail address") };
        let email = format!("{}@{domain}", local.to_ascii_lowercase());
        if email.len() > 254 {
            return Err("must be at most 254 characters");
        }
        // lettre's parser is the one that sends the mail later; a dotted domain is asked on top (no intranet hosts).
        let valid = email.parse::<lettre::Address>().is_ok_and(|address| {
            address.domain().contains('.')
                && !address.domain().starts_with('[')
                && address.user() == local.to_ascii_lowercase()
        });
        if valid { Ok(Self(email)) } else { Err("is not a valid e-mail address") }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A password acceptable for a new account: 8 to 128 characters. The upper bound keeps hashing cost bounded.
#[derive(Debug, Clone)]
pub struct NewPassword(Secret);

impl NewPassword {
    pub const MIN_CHARS: usize = 8;
    pub const MAX_CHARS: usize = 128;

    pub fn parse(raw: &str) -> Result<Self, String> {
        let chars = raw.chars().count();
        if chars < Self::MIN_CHARS {
            return Err(format!("must be at least {} characters", Self::MIN_CHARS));
        }
        if chars > Self::MAX_CHARS {
            return Err(format!("must be at most {} characters", Self::MAX_CHARS));
        }
        Ok(Self(Secret::new(raw)))
    }

    pub fn into_secret(self) -> Secret {
        self.0
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Serialize, utoipa::ToSchema)]
#[diesel(table_name = users)]
#[diesel(check_for_backend(diesel::pg::Pg))]
pub struct User {
    pub id: Uuid,
    pub email: String,
    #[serde(skip)]
    pub password_hash: String,
    pub is_staff: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub email_verified_at: Option<DateTime<Utc>>,
    /// An admin: staff who may also act on the dashboard (retry, cancel). Staff without it only read.
    pub is_superuser: bool,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = users)]
struct NewUser<'a> {
    email: &'a str,
    password_hash: &'a str,
    is_staff: bool,
    /// Staff made here are admins; [`set_dashboard_role`] makes one read-only.
    is_superuser: bool,
}

pub async fn find_by_email(conn: &mut AsyncPgConnection, email: &Email) -> QueryResult<Option<User>> {
    users::table.filter(users::email.eq(email.as_str())).select(User::as_select()).first(conn).await.optional()
}

/// Inserts a user. A taken e-mail is a `UniqueViolation` on `users_email_key`.
pub async fn create(
    conn: &mut AsyncPgConnection,
    email: &Email,
    password_hash: &str,
    is_staff: bool,
) -> QueryResult<User> {
    diesel::insert_into(users::table)
        .values(NewUser { email: email.as_str(), password_hash, is_staff, is_superuser: is_staff })
        .returning(User::as_returning())
        .get_result(conn)
        .await
}

/// Inserts a user unless the e-mail is taken; `None` when it was (nothing is changed then).
pub async fn create_if_absent(
    conn: &mut AsyncPgConnection,
    email: &Email,
    password_hash: &str,
    is_staff: bool,
) -> QueryResult<Option<User>> {
    diesel::insert_into(users::table)
        .values(NewUser { email: email.as_str(), password_hash, is_staff, is_superuser: is_staff })
        .on_conflict(users::email)
        .do_nothing()
        .returning(User::as_returning())
        .get_result(conn)
        .await
        .optional()
}

pub async fn find(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<Option<User>> {
    users::table.find(id).select(User::as_select()).first(conn).await.optional()
}

/// Replaces the password hash and ends every session of the user (a reset must lock out whoever had the old one).
pub async fn set_password(conn: &mut AsyncPgConnection, id: Uuid, password_hash: &str) -> QueryResult<()> {
    use crate::schema::sessions;
    diesel::update(users::table.find(id))
        .set((users::password_hash.eq(password_hash), users::updated_at.eq(chrono::Utc::now())))
        .execute(conn)
        .await?;
    diesel::delete(sessions::table.filter(sessions::user_id.eq(id))).execute(conn).await?;
    Ok(())
}

/// Deletes the account; its sessions, notes and e-mail tokens go with it (foreign keys `ON DELETE CASCADE`). Mail
/// tasks still queued for it find no user and send nothing.
pub async fn delete(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<bool> {
    Ok(diesel::delete(users::table.find(id)).execute(conn).await? > 0)
}

/// True when a database error is the unique violation of the e-mail column.
pub fn is_duplicate_email(err: &diesel::result::Error) -> bool {
    matches!(
        err,
        diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, info)
            if info.constraint_name() == Some("users_email_key")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_is_normalised() {
        assert_eq!(Email::parse("  Ada@Example.COM ").unwrap().as_str(), "ada@example.com");
    }

    #[test]
    fn one_mailbox_has_one_form() {
        let canonical = Email::parse("Mixed.Case@Example.org").unwrap();
        assert_eq!(canonical.as_str(), "mixed.case@example.org");
        for same in [
            "mixed.case@\u{ff45}\u{ff58}\u{ff41}\u{ff4d}\u{ff50}\u{ff4c}\u{ff45}.org",
            "MIXED.CASE@EXAMPLE.ORG",
            " mixed.case@Example.\u{ff2f}rg ",
        ] {
            assert_eq!(Email::parse(same).as_ref(), Ok(&canonical), "{same:?}");
        }
        assert!(Email::parse("mi\u{212a}ed.case@example.org").is_err(), "the Kelvin sign is not a k");
        // A Unicode domain is kept as its A-label, so a look-alike shows as what it is.
        assert_eq!(Email::parse("ada@m\u{fc}nchen.de").unwrap().as_str(), "ada@xn--mnchen-3ya.de");
        assert_eq!(Email::parse("ada@ex\u{430}mple.org").unwrap().as_str(), "ada@xn--exmple-4nf.org");
    }

    #[test]
    fn bad_emails_are_refused() {
        for raw in ["\u{430}da@example.org", "ada@example.org.", "ada@exa mple.org", "ada@exa_mple.org"] {
            assert!(Email::parse(raw).is_err(), "{raw:?} accepted");
        }
        for raw in ["", "   ", "ada", "ada@", "@example.com", "ada@example", "a b@example.com", "a@b@c.com", "ada@.com"]
        {
            assert!(Email::parse(raw).is_err(), "{raw:?} accepted");
        }
    }

    proptest::proptest! {
        /// Whatever is typed, an accepted address is ASCII, already in its canonical form, and fits the column.
        #[test]
        fn accepted_addresses_are_canonical(raw in crate::hostile::text(), tail in crate::hostile::text()) {
            for candidate in [raw.clone(), format!("{raw}@{tail}"), format!("a{raw}@example{tail}.org")] {
                if let Ok(email) = Email::parse(&candidate) {
                    proptest::prop_assert!(crate::hostile::safe_header_text(email.as_str()), "{:?}", email.as_str());
                    proptest::prop_assert!(email.as_str().len() <= 254);
                    let again = Email::parse(email.as_str());
                    proptest::prop_assert_eq!(again, Ok(email.clone()));
                }
            }
        }
    }

    #[test]
    fn password_length_bounds() {
        assert!(NewPassword::parse("short").is_err());
        assert!(NewPassword::parse("long enough").is_ok());
        assert!(NewPassword::parse(&"x".repeat(129)).is_err());
    }
}

/// What an account may do on the monitoring dashboard.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DashboardRole {
    /// Not staff: no dashboard.
    None,
    /// Staff: reads every page, changes nothing.
    ReadOnly,
    /// Staff and superuser: reads and acts (retry, cancel).
    Admin,
}

/// Sets `email`'s dashboard role; `false` when no account has that address.
pub async fn set_dashboard_role(conn: &mut AsyncPgConnection, email: &Email, role: DashboardRole) -> QueryResult<bool> {
    let (staff, admin) = match role {
        DashboardRole::None => (false, false),
        DashboardRole::ReadOnly => (true, false),
        DashboardRole::Admin => (true, true),
    };
    let changed = diesel::update(users::table.filter(users::email.eq(email.as_str())))
        .set((users::is_staff.eq(staff), users::is_superuser.eq(admin), users::updated_at.eq(Utc::now())))
        .execute(conn)
        .await?;
    Ok(changed == 1)
}
