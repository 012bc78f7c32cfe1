//! The task history: filtered, keyset-paginated, each task with its payload and every attempt; retry of a
//! dead-lettered task, recorded in the audit trail.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use diesel_async::AsyncConnection as _;
use serde::Deserialize;
use uuid::Uuid;

use super::{Action, Staff, audit};
use crate::error::{AppError, AppResult, FieldErrors};
use crate::http::AppState;
use crate::http::pages::{Flash, Layout, NoFields, SignedForm, redirect, render};
use crate::models::keyset::Keyset;
use crate::tasks::TaskState;
use crate::tasks::store::{self, RetryError, RunRecord, TaskFilter, TaskRecord};

pub const PER_PAGE: i64 = 50;

#[derive(Debug, Deserialize)]
pub struct ListQuery {
    state: Option<String>,
    name: Option<String>,
    cursor: Option<String>,
}

#[derive(Template)]
#[template(path = "monitor/tasks.html")]
struct ListPage<'a> {
    layout: &'a Layout,
    tasks: &'a [TaskRecord],
    states: &'a [TaskState],
    state: &'a str,
    name: &'a str,
    next: Option<String>,
    first_page: bool,
}

impl ListPage<'_> {
    /// The query string of the next page: the same filters and its cursor.
    fn next_query(&self, cursor: &str) -> String {
        let encode = |v: &str| percent_encoding::utf8_percent_encode(v, percent_encoding::NON_ALPHANUMERIC).to_string();
        format!("state={}&name={}&cursor={}", encode(self.state), encode(self.name), encode(cursor))
    }
}

/// GET /monitor/tasks?state=dead&name=email.send&cursor=...
#[tracing::instrument(skip_all)]
pub async fn list(
    req: HttpRequest,
    state: web::Data<AppState>,
    staff: Staff,
    query: web::Query<ListQuery>,
) -> AppResult<HttpResponse> {
    let mut errors = FieldErrors::new();
    let wanted = query.state.as_deref().filter(|s| !s.is_empty());
    let task_state = wanted.and_then(|raw| {
        let parsed = raw.parse::<TaskState>().ok();
        if parsed.is_none() {
            errors.insert("state".into(), format!("must be one of {}", TaskState::ALL.map(|s| s.as_str()).join(", ")));
        }
        parsed
    });
    let name = query.name.as_deref().map(str::trim).filter(|n| !n.is_empty());
    let cursor = query.cursor.as_deref().filter(|c| !c.is_empty());
    let after = cursor.and_then(|raw| {
        let decoded = Keyset::decode(raw);
        if decoded.is_none() {
            errors.insert("cursor".into(), "is not a page of this list".into());
        }
        decoded
    });
    if !errors.is_empty() {
        return Err(AppError::Validation(errors));
    }
    let filter = TaskFilter { state: task_state, name: name.map(str::to_string) };
    let mut conn = state.conn().await?;
    let page = store::list(&mut conn, &filter, after, PER_PAGE).await?;
    let layout = Layout::new(&req, &state, Some(&staff.0));
    let view = ListPage {
        layout: &layout,
        tasks: &page.items,
        states: &TaskState::ALL,
        state: wanted.unwrap_or_default(),
        name: name.unwrap_or_default(),
        next: page.next,
        first_page: cursor.is_none(),
    };
    render(&layout, StatusCode::OK, &view)
}

#[derive(Template)]
#[template(path = "monitor/task.html")]
struct DetailPage<'a> {
    layout: &'a Layout,
    task: &'a TaskRecord,
    payload: String,
    runs: &'a [RunRecord],
    actions: &'a [Action],
}

impl DetailPage<'_> {
    fn is_dead(&self) -> bool {
        self.task.state == TaskState::Dead
    }
}

fn task_id(raw: &str) -> AppResult<Uuid> {
    Uuid::parse_str(raw).map_err(|_| AppError::NotFound)
}

/// GET /monitor/tasks/{id}
pub async fn detail(
    req: HttpRequest,
    state: web::Data<AppState>,
    staff: Staff,
    id: web::Path<String>,
) -> AppResult<HttpResponse> {
    let id = task_id(&id)?;
    let mut conn = state.conn().await?;
    let task = store::get(&mut conn, id).await?.ok_or(AppError::NotFound)?;
    let runs = store::runs(&mut conn, id).await?;
    let actions = super::actions_on(&mut conn, id).await?;
    let payload = serde_json::to_string_pretty(&task.payload).unwrap_or_else(|_| task.payload.to_string());
    let layout = Layout::new(&req, &state, Some(&staff.0));
    render(
        &layout,
        StatusCode::OK,
        &DetailPage { layout: &layout, task: &task, payload, runs: &runs, actions: &actions },
    )
}

/// POST /monitor/tasks/{id}/retry: a dead task queued again (a new outbox row), and the action in the audit trail,
/// in one transaction.
#[tracing::instrument(skip_all)]
pub async fn retry(
    state: web::Data<AppState>,
    id: web::Path<String>,
    form: SignedForm<NoFields>,
) -> AppResult<HttpResponse> {
    let staff = Staff::check(form.user)?;
    let id = task_id(&id)?;
    let mut conn = state.conn().await?;
    let retried = conn
        .transaction(async |conn| {
            let task = store::retry(conn, id).await?;
            audit(conn, &staff, "retry", Some(id)).await?;
            Ok::<_, RetryError>(task)
        })
        .await;
    let location = format!("/monitor/tasks/{id}");
    match retried {
        Ok(task) => {
            tracing::info!(task_id = %id, by = %staff.0.user.email, "task retried from the dashboard");
            Ok(redirect(&location, Some(Flash::success(format!("{} queued again.", task.task_name)))))
        }
        Err(RetryError::Unknown(_)) => Err(AppError::NotFound),
        Err(RetryError::NotDead(_, now)) => Ok(redirect(
            &location,
            Some(Flash::info(format!("Not retried: the task is {}, and only dead tasks can be.", now.as_str()))),
        )),
        Err(RetryError::Database(err)) => Err(err.into()),
    }
}
