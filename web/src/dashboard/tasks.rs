//! The task history: filtered, keyset-paginated, each task with its payload and every attempt; retry of a
//! dead-lettered task, recorded in the audit trail.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use diesel_async::AsyncConnection as _;
use serde::Deserialize;
use uuid::Uuid;

use super::{Action, Staff, audit};
use crate::error::{AppError, AppResult};
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

impl ListQuery {
    /// The filters, each refused by name when it does not parse.
    pub fn filter(&self) -> AppResult<TaskFilter> {
        let state = match self.state.as_deref().filter(|s| !s.is_empty()) {
            None => None,
            Some(raw) => Some(raw.parse::<TaskState>().map_err(|_| {
                AppError::invalid(
                    "state",
                    format!("must be one of {}", TaskState::ALL.map(TaskState::as_str).join(", ")),
                )
            })?),
        };
        let name = self.name.as_deref().map(str::trim).filter(|n| !n.is_empty()).map(str::to_string);
        Ok(TaskFilter { state, name })
    }

    /// The page after `cursor` (the listing's `next`); `None` for the first page.
    pub fn after(&self) -> AppResult<Option<Keyset>> {
        match self.cursor.as_deref().filter(|c| !c.is_empty()) {
            None => Ok(None),
            Some(raw) => {
                Keyset::decode(raw).map(Some).ok_or_else(|| AppError::invalid("cursor", "is not a page of this list"))
            }
        }
    }
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
    let filter = query.filter()?;
    let after = query.after()?;
    let (wanted, name) = (filter.state.map(TaskState::as_str), filter.name.clone());
    let cursor = query.cursor.as_deref().filter(|c| !c.is_empty());
    let mut conn = state.conn().await?;
    let page = store::list(&mut conn, &filter, after, PER_PAGE).await?;
    let layout = Layout::new(&req, &state, Some(&staff.0));
    let view = ListPage {
        layout: &layout,
        tasks: &page.items,
        states: &TaskState::ALL,
        state: wanted.unwrap_or_default(),
        name: name.as_deref().unwrap_or_default(),
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

pub(super) fn task_id(raw: &str) -> AppResult<Uuid> {
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
