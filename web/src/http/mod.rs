//! The HTTP server: routes, middleware and the [`Application`] that binds a port.
//!
//! `Application::build` binds before it returns, so callers (the `server` command, the tests with port 0) learn the
//! real address at once. actix-web's server handles SIGTERM and SIGINT itself: it stops accepting, lets in-flight
//! requests finish within `SHUTDOWN_TIMEOUT_SECS`, and `run` then returns normally.

pub mod email_links;
pub mod fields;
pub mod files;
pub mod health;
pub mod identity;
pub mod json;
pub mod login;
pub mod notes;
pub mod openapi;
pub mod openapi_resources;
pub mod pages;
pub mod request_id;
pub mod route;
pub mod server_errors;
/// The project's own resources: one file each in `src/http/resources/app/` (`template/resource` adds one), routed by
/// the build.
pub mod resources {
    pub mod app {
        include!(concat!(env!("OUT_DIR"), "/app_resources.rs"));
    }
}

use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;

use actix_web::dev::{Server, ServerHandle};
use actix_web::middleware::from_fn;
use actix_web::{App, HttpRequest, HttpServer, ResponseError as _, web};
use anyhow::Context as _;

use crate::assets::Assets;
use crate::config::Config;
use crate::db::{self, DbConn, DbPool};
use crate::error::AppError;

/// Shared by every request.
pub struct AppState {
    pub pool: DbPool,
    pub config: Arc<Config>,
    /// The built assets' manifest, for the pages' `<link>` and `<script>` URLs.
    pub assets: Arc<Assets>,
    /// This role's HTTP figures for `/metrics`.
    pub metrics: crate::metrics::HttpMetrics,
    /// The dashboard's counters of finished task runs (unused by the other roles).
    pub run_counters: Arc<crate::dashboard::metrics::RunCounters>,
    /// One HTTP client for the role's outgoing calls (the dashboard's RabbitMQ management API), connections reused.
    pub http: reqwest::Client,
    /// Media storage, or why it could not be opened (the media routes then answer 503).
    pub media: Result<crate::media::Media, String>,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState").field("config", &self.config).finish_non_exhaustive()
    }
}

impl AppState {
    /// The state behind a request. Registered for every route by [`routes`].
    pub fn of(req: &HttpRequest) -> web::Data<Self> {
        req.app_data::<web::Data<Self>>().cloned().expect("AppState is registered for every route")
    }

    /// A pooled connection; a database that cannot be reached is a 503, not a 500.
    pub async fn conn(&self) -> Result<DbConn, AppError> {
        db::conn(&self.pool).await.map_err(|err| {
            tracing::warn!(error = format!("{err:#}"), "no database connection");
            AppError::Unavailable
        })
    }
}

pub(crate) use route::resource;

/// How long an idle connection is kept open: longer than nginx keeps its idle connections to the web role
/// (`keepalive_timeout 60s` in nginx.conf), so that nginx, not the application, closes one. Otherwise a request nginx
/// sends on a connection at the moment the application times it out fails: a GET is passed to another replica, but a
/// POST is not (it may have been sent), and the client gets a 502.
const KEEP_ALIVE: std::time::Duration = std::time::Duration::from_secs(75);

/// Every route. Separate from [`Application`] so it can be mounted in other test setups.
pub fn routes(cfg: &mut web::ServiceConfig) {
    use pages::{account, auth, notes as note_pages};
    // The API first: actix tries resources in order and matches each one with a path pattern (a regular
    // expression) against the request's path, so the routes taken most are listed before the pages.
    cfg.service(resource("/api/notes").get(notes::list).post(notes::create))
        .service(resource("/api/notes/{id}").get(notes::get).patch(notes::update).delete(notes::delete))
        .service(resource("/api/openapi.json").get(pages::api_docs::document))
        .service(resource("/api/docs").get(pages::api_docs::show))
        .service(resource("/api/auth/signup").post(login::signup))
        .service(resource("/api/auth/login").post(login::login))
        .service(resource("/api/auth/logout").post(login::logout))
        .service(resource("/api/auth/me").get(login::me))
        .service(resource("/api/auth/verify-email").post(email_links::verify_email))
        .service(resource("/api/auth/password-reset").post(email_links::request_reset))
        .service(resource("/api/auth/password-reset/confirm").post(email_links::confirm_reset))
        .service(resource("/api/notes/{id}/files").get(files::list).post(files::upload))
        .service(resource("/api/notes/{id}/files/{file}").get(files::download).delete(files::delete))
        .service(resource("/").get(pages::home))
        .service(resource("/healthz").get(health::healthz))
        .service(resource("/metrics").get(crate::metrics::web_metrics))
        .service(resource("/readyz").get(health::readyz))
        .service(resource("/signup").get(auth::signup_page).post(auth::signup))
        .service(resource("/login").get(auth::login_page).post(auth::login))
        .service(resource("/logout").post(auth::logout))
        .service(resource("/forgot-password").get(auth::forgot_page).post(auth::forgot))
        .service(resource("/verify-email").get(auth::verify_email))
        .service(resource("/reset-password").get(auth::reset_page).post(auth::reset))
        .service(resource("/account").get(account::show))
        .service(resource("/account/password").post(account::change_password))
        .service(resource("/account/verification").post(account::resend_verification))
        .service(resource("/account/delete").get(account::delete_page).post(account::delete))
        .service(resource("/notes").get(note_pages::list).post(note_pages::create))
        .service(resource("/notes/new").get(note_pages::new))
        .service(resource("/notes/{id}/edit").get(note_pages::edit).post(note_pages::update))
        .service(resource("/notes/{id}/delete").post(note_pages::delete))
        .service(resource("/notes/{id}/files").post(pages::note_files::upload))
        .service(resource("/notes/{id}/files/{file}/delete").post(pages::note_files::delete))
        .configure(pages::app::routes)
        .configure(resources::app::routes)
        .service(resource("/static/{path:.*}").get(crate::static_files::serve));
}

/// A bound, not yet running, HTTP server.
pub struct Application {
    server: Server,
    addr: SocketAddr,
}

impl std::fmt::Debug for Application {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Application").field("addr", &self.addr).finish_non_exhaustive()
    }
}

impl Application {
    /// The web role: the site and its API.
    pub fn build(config: Config) -> anyhow::Result<Self> {
        Self::build_with(config, routes)
    }

    /// The dashboard role: `/monitor/` (see [`crate::dashboard`]).
    pub fn build_dashboard(config: Config) -> anyhow::Result<Self> {
        Self::build_with(config, crate::dashboard::routes)
    }

    fn build_with(config: Config, routes: fn(&mut web::ServiceConfig)) -> anyhow::Result<Self> {
        let pool = db::pool(&config.database)?;
        let http = config.http.clone();
        let assets = Arc::new(Assets::new(config.http.static_root.as_ref().unwrap_or(&config.http.static_dir)));
        assets.check()?;
        let config_for_media = config.clone();
        let state = web::Data::new(AppState {
            pool,
            config: Arc::new(config),
            assets,
            metrics: crate::metrics::HttpMetrics::default(),
            run_counters: Arc::default(),
            http: reqwest::Client::new(),
            media: crate::media::Media::open(&config_for_media).map_err(|err| format!("{err:#}")),
        });
        if let Some(root) = &state.config.http.static_root {
            pages::errors::write_upstream_page(&state, root)?;
        }
        let listener = TcpListener::bind((http.bind_address, http.port))
            .with_context(|| format!("binding {}:{}", http.bind_address, http.port))?;
        let addr = listener.local_addr().context("reading the bound address")?;
        let query_config = web::QueryConfig::default()
            .error_handler(|err, _| AppError::BadRequest(format!("invalid query string: {err}")).into());
        let server = HttpServer::new(move || {
            App::new()
                .app_data(state.clone())
                .app_data(query_config.clone())
                .app_data(
                    web::FormConfig::default()
                        .limit(state.config.http.body_limit)
                        .error_handler(|err, _| AppError::BadRequest(format!("invalid form: {err}")).into()),
                )
                .configure(routes)
                .default_service(web::to(|| async { AppError::NotFound.error_response() }))
                .wrap(from_fn(server_errors::middleware))
                .wrap(from_fn(pages::errors::html_errors))
                .wrap(from_fn(identity::same_origin))
                .wrap(from_fn(crate::metrics::track))
                .wrap(from_fn(request_id::middleware))
        })
        .workers(http.workers)
        .keep_alive(KEEP_ALIVE)
        .shutdown_timeout(http.shutdown_timeout.as_secs())
        .listen(listener)
        .context("listening")?
        .run();
        Ok(Self { server, addr })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops the server from elsewhere (tests); signals do the same in production.
    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    /// Serves until a shutdown signal (or [`ServerHandle::stop`]) and in-flight requests are done.
    pub async fn run(self) -> std::io::Result<()> {
        self.server.await
    }
}
