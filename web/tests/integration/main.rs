//! Integration tests against a real PostgreSQL (start it with `scripts/services.sh`): each test gets its own
//! database and its own server on port 0; the command tests run the real `app` binary.

mod auth;
mod backup_storage;
mod backups;
mod browser;
mod commands;
mod common;
mod dashboard;
mod dashboard_actions;
mod errors;
mod gcs_auth;
mod hardening;
mod health;
mod media;
mod notes;
mod pages;
mod query_plans;
/// The tests of the project's own pages: one file each in `pages_app/` (`template/page` adds one), compiled by the
/// build.
mod pages_app {
    include!(concat!(env!("OUT_DIR"), "/app_page_tests.rs"));
}
/// The tests of the project's own resources: one file each in `resources_app/` (`template/resource` adds one),
/// compiled by the build.
mod resources_app {
    include!(concat!(env!("OUT_DIR"), "/app_resource_tests.rs"));
}
mod server_process;
mod tasks;
