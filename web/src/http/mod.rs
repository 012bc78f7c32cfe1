//! The HTTP server: routes, middleware and the [`Application`] that binds a port.
//!
//! `Application::build` binds before it returns, so callers (the `server` command, the tests with port 0) learn the
//! real address at once. actix-web's server handles SIGTERM and SIGINT itself: it stops accepting, lets in-flight
//! requests finish within `SHUTDOWN_TIMEOUT_SECS`, and `run` then returns normally.

pub mod email_links;
pub mod fields;
pub mod health;
pub mod identity;
pub mod json;
pub mod login;
pub mod notes;
pub mod pages;
pub mod request_id;
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

/// A resource whose unsupported methods answer 405 in our JSON error shape.
pub(crate) fn resource(path: &str) -> actix_web::Resource {
    web::resource(path).default_service(web::to(|| async { AppError::MethodNotAllowed.error_response() }))
}

/// Every route. Separate from [`Application`] so it can be mounted in other test setups.
pub fn routes(cfg: &mut web::ServiceConfig) {
    use pages::{account, auth, notes as note_pages};
    cfg.service(resource("/").route(web::get().to(pages::home)))
        .service(resource("/healthz").route(web::get().to(health::healthz)))
        .service(resource("/metrics").route(web::get().to(crate::metrics::web_metrics)))
        .service(resource("/readyz").route(web::get().to(health::readyz)))
        .service(resource("/signup").route(web::get().to(auth::signup_page)).route(web::post().to(auth::signup)))
        .service(resource("/login").route(web::get().to(auth::login_page)).route(web::post().to(auth::login)))
        .service(resource("/logout").route(web::post().to(auth::logout)))
        .service(
            resource("/forgot-password").route(web::get().to(auth::forgot_page)).route(web::post().to(auth::forgot)),
        )
        .service(resource("/verify-email").route(web::get().to(auth::verify_email)))
        .service(resource("/reset-password").route(web::get().to(auth::reset_page)).route(web::post().to(auth::reset)))
        .service(resource("/account").route(web::get().to(account::show)))
        .service(resource("/account/password").route(web::post().to(account::change_password)))
        .service(resource("/account/verification").route(web::post().to(account::resend_verification)))
        .service(
            resource("/account/delete")
                .route(web::get().to(account::delete_page))
                .route(web::post().to(account::delete)),
        )
        .service(resource("/notes").route(web::get().to(note_pages::list)).route(web::post().to(note_pages::create)))
        .service(resource("/notes/new").route(web::get().to(note_pages::new)))
        .service(
            resource("/notes/{id}/edit")
                .route(web::get().to(note_pages::edit))
                .route(web::post().to(note_pages::update)),
        )
        .service(resource("/notes/{id}/delete").route(web::post().to(note_pages::delete)))
        .configure(pages::app::routes)
        .configure(resources::app::routes)
        .service(resource("/static/{path:.*}").route(web::get().to(crate::static_files::serve)))
        .service(
            web::scope("/api")
                .service(resource("/auth/signup").route(web::post().to(login::signup)))
                .service(resource("/auth/login").route(web::post().to(login::login)))
                .service(resource("/auth/logout").route(web::post().to(login::logout)))
                .service(resource("/auth/me").route(web::get().to(login::me)))
                .service(resource("/auth/verify-email").route(web::post().to(email_links::verify_email)))
                .service(resource("/auth/password-reset").route(web::post().to(email_links::request_reset)))
                .service(resource("/auth/password-reset/confirm").route(web::post().to(email_links::confirm_reset)))
                .service(resource("/notes").route(web::get().to(notes::list)).route(web::post().to(notes::create)))
                .service(
                    resource("/notes/{id}")
                        .route(web::get().to(notes::get))
                        .route(web::patch().to(notes::update))
                        .route(web::delete().to(notes::delete)),
                ),
        );
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
        let state = web::Data::new(AppState {
            pool,
            config: Arc::new(config),
            assets,
            metrics: crate::metrics::HttpMetrics::default(),
            run_counters: Arc::default(),
            http: reqwest::Client::new(),
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
                .wrap(from_fn(pages::errors::html_errors))
                .wrap(from_fn(identity::same_origin))
                .wrap(from_fn(crate::metrics::track))
                .wrap(from_fn(request_id::middleware))
        })
        .workers(http.workers)
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
