//! The task history: filtered, keyset-paginated, each task with its payload and every attempt; retry of a dead task
//! or of every dead task a filter shows, cancel of a waiting one, each recorded in the audit trail.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use diesel_async::AsyncConnection as _;
use uuid::Uuid;

pub use super::filter::ListQuery;
use super::{Action, Staff, audit, audit_each};
use crate::error::{AppError, AppResult};
use crate::http::AppState;
use crate::http::pages::{Flash, Layout, NoFields, SignedForm, redirect, render};
use crate::tasks::TaskState;
use crate::tasks::store::{self, ActionError, RunRecord, TaskRecord};

pub const PER_PAGE: i64 = 50;

#[derive(Template)]
#[template(path = "monitor/tasks.html")]
struct ListPage<'a> {
    layout: &'a Layout,
    tasks: &'a [TaskRecord],
    states: &'a [TaskState],
    query: &'a ListQuery,
    next: Option<String>,
    first_page: bool,
    can_act: bool,
    /// Suggestions for the filters: registered task names, their queues, recent workers.
    suggest: Suggestions,
}

/// What the filter fields suggest (HTML `datalist`s); any other value can still be typed.
struct Suggestions {
    names: Vec<&'static str>,
    queues: Vec<String>,
    workers: Vec<String>,
}

impl Suggestions {
    async fn load(conn: &mut diesel_async::AsyncPgConnection) -> diesel::QueryResult<Self> {
        use diesel::{ExpressionMethods as _, QueryDsl as _};
        use diesel_async::RunQueryDsl as _;
        let registry = crate::tasks::registry();
        let workers = crate::schema::workers::table
            .order(crate::schema::workers::last_seen_at.desc())
            .limit(50)
            .select(crate::schema::workers::worker_id)
            .load(conn)
            .await?;
        Ok(Self {
            names: registry.kinds().map(|kind| kind.name).collect(),
            queues: registry.queues().into_keys().collect(),
            workers,
        })
    }
}

impl ListPage<'_> {
    /// "Retry all" is offered on a listing of dead tasks.
    fn dead_listed(&self) -> bool {
        self.can_act && self.query.state == TaskState::Dead.as_str() && !self.tasks.is_empty()
    }
}

/// GET /monitor/tasks?state=dead&name=email.send&queue=...&worker=...&since=...&until=...&min_seconds=...&error=...
#[tracing::instrument(skip_all)]
pub async fn list(
    req: HttpRequest,
    state: web::Data<AppState>,
    staff: Staff,
    query: web::Query<ListQuery>,
) -> AppResult<HttpResponse> {
    let filter = query.filter()?;
    let after = query.after()?;
    let mut conn = state.conn().await?;
    let page = store::list(&mut conn, &filter, after, PER_PAGE).await?;
    let suggest = Suggestions::load(&mut conn).await?;
    let layout = Layout::new(&req, &state, Some(&staff.0));
    let view = ListPage {
        layout: &layout,
        tasks: &page.items,
        states: &TaskState::ALL,
        query: &query,
        next: page.next,
        first_page: after.is_none(),
        can_act: staff.can_act(),
        suggest,
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
    can_act: bool,
}

impl DetailPage<'_> {
    fn is_dead(&self) -> bool {
        self.can_act && self.task.state == TaskState::Dead
    }

    fn is_waiting(&self) -> bool {
        self.can_act && self.task.state.is_waiting()
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
        &DetailPage { layout: &layout, task: &task, payload, runs: &runs, actions: &actions, can_act: staff.can_act() },
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
    act(&state, &id, form, Act::Retry).await
}

/// POST /monitor/tasks/{id}/cancel: a task still waiting (queued or retrying) cancelled, and the action in the audit
/// trail, in one transaction. The worker that receives its message skips it and records a `skipped` attempt.
#[tracing::instrument(skip_all)]
pub async fn cancel(
    state: web::Data<AppState>,
    id: web::Path<String>,
    form: SignedForm<NoFields>,
) -> AppResult<HttpResponse> {
    act(&state, &id, form, Act::Cancel).await
}

/// What staff do to one task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Act {
    Retry,
    Cancel,
}

impl Act {
    /// Its name in the audit trail.
    fn name(self) -> &'static str {
        match self {
            Self::Retry => "retry",
            Self::Cancel => "cancel",
        }
    }
}

/// One action on one task: done and audited in one transaction, then back to the task's page with what happened.
async fn act(state: &AppState, id: &str, form: SignedForm<NoFields>, act: Act) -> AppResult<HttpResponse> {
    let staff = Staff::admin(form.user)?;
    let id = task_id(id)?;
    let mut conn = state.conn().await?;
    let done = conn
        .transaction(async |conn| {
            let task = match act {
                Act::Retry => store::retry(conn, id).await?,
                Act::Cancel => store::cancel(conn, id).await?,
            };
            audit(conn, &staff, act.name(), Some(id)).await?;
            Ok::<_, ActionError>(task)
        })
        .await;
    let location = format!("/monitor/tasks/{id}");
    match done {
        Ok(task) => {
            tracing::info!(task_id = %id, action = act.name(), by = %staff.0.user.email, "task changed from the dashboard");
            let text = match act {
                Act::Cancel => format!("{} cancelled: a worker that receives it will skip it.", task.task_name),
                Act::Retry => {
                    let cleaned = clean_dead_letters(state, &[id]).await;
                    format!("{} queued again.{cleaned}", task.task_name)
                }
            };
            Ok(redirect(&location, Some(Flash::success(text))))
        }
        Err(ActionError::Unknown(_)) => Err(AppError::NotFound),
        Err(ActionError::WrongState(_, now)) => {
            let only = if act == Act::Cancel { "queued or retrying" } else { "dead" };
            let text = format!("Not done ({}): the task is {now}, and only {only} tasks can be.", act.name());
            Ok(redirect(&location, Some(Flash::info(text))))
        }
        Err(ActionError::Database(err)) => Err(err.into()),
    }
}

/// POST /monitor/tasks/retry-dead: every dead task the posted filters show, up to [`store::RETRY_BATCH`], queued
/// again, each retry in the audit trail, in one transaction. Back to the listing with how many, and whether more
/// remain.
#[tracing::instrument(skip_all)]
pub async fn retry_dead(state: web::Data<AppState>, form: SignedForm<ListQuery>) -> AppResult<HttpResponse> {
    let staff = Staff::admin(form.user)?;
    let query = ListQuery { state: TaskState::Dead.as_str().to_string(), cursor: String::new(), ..form.fields };
    let filter = query.filter()?;
    let mut conn = state.conn().await?;
    let retried = conn
        .transaction(async |conn| {
            let tasks = store::retry_dead(conn, &filter, store::RETRY_BATCH).await?;
            let ids: Vec<Option<Uuid>> = tasks.iter().map(|task| Some(task.task_id)).collect();
            audit_each(conn, &staff, "retry (all dead shown)", &ids).await?;
            diesel::QueryResult::Ok(tasks.into_iter().map(|task| task.task_id).collect::<Vec<_>>())
        })
        .await?;
    tracing::info!(retried = retried.len(), by = %staff.0.user.email, "dead tasks retried from the dashboard");
    let cleaned = clean_dead_letters(&state, &retried).await;
    let retried = retried.len();
    let more = if i64::try_from(retried).unwrap_or(i64::MAX) >= store::RETRY_BATCH {
        " More remain: retry again for the next batch."
    } else {
        ""
    };
    let location = format!("/monitor/tasks?{}", query.query_string(None));
    let text = match retried {
        0 => "No dead task matched: nothing retried.".to_string(),
        1 => format!("1 dead task queued again.{cleaned}{more}"),
        n => format!("{n} dead tasks queued again.{cleaned}{more}"),
    };
    Ok(redirect(&location, Some(Flash::success(text))))
}

/// After a retry has committed: the retried tasks' messages taken out of the dead-letter queue (as `app tasks retry`
/// does), within 10 s; what happened, as a sentence for the flash. The retry stands whatever this says.
async fn clean_dead_letters(state: &AppState, ids: &[Uuid]) -> String {
    let ids: std::collections::HashSet<Uuid> = ids.iter().copied().collect();
    let removing = crate::tasks::dead_letters::remove(&state.config.broker, "dashboard retry", &ids);
    match tokio::time::timeout(std::time::Duration::from_secs(10), removing).await {
        Ok(Ok(0)) => String::new(),
        Ok(Ok(found)) => format!(" Removed {found} message(s) from {}.", crate::broker::DEAD_QUEUE),
        Ok(Err(err)) => {
            tracing::warn!(error = format!("{err:#}"), "could not clean the dead-letter queue");
            format!(" {} could not be cleaned ({err:#}); the retry stands.", crate::broker::DEAD_QUEUE)
        }
        Err(_) => format!(" Cleaning {} took too long; the retry stands.", crate::broker::DEAD_QUEUE),
    }
}
