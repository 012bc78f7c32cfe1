//! Rows and the queries on them. Functions here return diesel's `QueryResult`; turning a database error into an
//! HTTP answer is the handlers' job (see `crate::error`).

/// The project's own resources: one file each in `src/models/app/` (`template/resource` adds one), declared by the
/// build.
pub mod app {
    include!(concat!(env!("OUT_DIR"), "/app_models.rs"));
}
pub mod email_token;
pub mod keyset;
pub mod login_attempt;
pub mod note;
pub mod note_file;
pub mod session;
pub mod timestamp;
pub mod user;
