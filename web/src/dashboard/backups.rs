//! Backups as the cron role records them (`backups`: one row per backup written, with its verification), newest
//! first, each with the line that restores it. Object storage stays the source of truth: `app backup list`.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use chrono::{DateTime, Utc};
use diesel::QueryableByName;
use diesel::sql_types::{BigInt, Bool, Nullable, Text, Timestamptz};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde::Serialize;

use super::Staff;
use super::overview::age;
use crate::error::AppResult;
use crate::http::AppState;
use crate::http::pages::{Layout, render};

/// How many backups the page lists (retention keeps far fewer).
pub const LISTED: i64 = 200;

#[derive(Debug, QueryableByName, Serialize)]
pub struct BackupRow {
    #[diesel(sql_type = Text)]
    pub name: String,
    #[diesel(sql_type = Text)]
    pub url: String,
    #[diesel(sql_type = BigInt)]
    pub size: i64,
    #[diesel(sql_type = Text)]
    pub sha256: String,
    #[diesel(sql_type = Timestamptz)]
    pub created_at: DateTime<Utc>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    pub verified_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = Nullable<Bool>)]
    pub verify_ok: Option<bool>,
    #[diesel(sql_type = Nullable<Text>)]
    pub verify_error: Option<String>,
}

impl BackupRow {
    /// `verified`, `failed` or `unverified`.
    pub fn verification(&self) -> &'static str {
        match self.verify_ok {
            Some(true) => "verified",
            Some(false) => "failed",
            None => "unverified",
        }
    }

    /// The size for people: `12.3 MB`.
    pub fn size_text(&self) -> String {
        let bytes = self.size as f64;
        if self.size < 1_000 {
            format!("{} B", self.size)
        } else if self.size < 1_000_000 {
            format!("{:.1} kB", bytes / 1e3)
        } else if self.size < 1_000_000_000 {
            format!("{:.1} MB", bytes / 1e6)
        } else {
            format!("{:.2} GB", bytes / 1e9)
        }
    }
}

pub async fn load(conn: &mut AsyncPgConnection) -> diesel::QueryResult<Vec<BackupRow>> {
    diesel::sql_query(
        "SELECT name, url, size, sha256, created_at, verified_at, verify_ok, verify_error
           FROM backups ORDER BY created_at DESC LIMIT $1",
    )
    .bind::<BigInt, _>(LISTED)
    .load(conn)
    .await
}

#[derive(Template)]
#[template(path = "monitor/backups.html")]
struct BackupsPage<'a> {
    layout: &'a Layout,
    backups: &'a [BackupRow],
    now: DateTime<Utc>,
}

impl BackupsPage<'_> {
    fn age(&self, backup: &BackupRow) -> String {
        age(self.now - backup.created_at)
    }
}

/// GET /monitor/backups
pub async fn page(req: HttpRequest, state: web::Data<AppState>, staff: Staff) -> AppResult<HttpResponse> {
    let mut conn = state.conn().await?;
    let backups = load(&mut conn).await?;
    let layout = Layout::new(&req, &state, Some(&staff.0));
    render(&layout, StatusCode::OK, &BackupsPage { layout: &layout, backups: &backups, now: Utc::now() })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(size: i64, verify_ok: Option<bool>) -> BackupRow {
        BackupRow {
            name: "n".into(),
            url: "file:///backups/n".into(),
            size,
            sha256: String::new(),
            created_at: Utc::now(),
            verified_at: None,
            verify_ok,
            verify_error: None,
        }
    }

    #[test]
    fn sizes_and_verification_in_words() {
        assert_eq!(row(999, None).size_text(), "999 B");
        assert_eq!(row(12_345_678, None).size_text(), "12.3 MB");
        assert_eq!(row(2_500_000_000, None).size_text(), "2.50 GB");
        assert_eq!(row(1, Some(true)).verification(), "verified");
        assert_eq!(row(1, Some(false)).verification(), "failed");
        assert_eq!(row(1, None).verification(), "unverified");
    }
}
