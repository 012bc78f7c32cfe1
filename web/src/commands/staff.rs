//! `app staff`: what an existing account may do on the monitoring dashboard: `admin` (read and act: retry,
//! cancel), `read-only` (read every page, change nothing) or `none`.

#![allow(clippy::print_stdout)]

use std::process::ExitCode;

use web::config::{DatabaseConfig, Vars};
use web::db;
use web::models::user::{self, DashboardRole, Email};

#[derive(Debug, clap::Args)]
pub struct Opts {
    /// E-mail address of the account (it must exist: sign up first, or `app createsuperuser`).
    #[arg(long)]
    email: String,
    /// Its dashboard role.
    #[arg(long, value_enum)]
    role: DashboardRole,
}

pub async fn run(opts: Opts) -> anyhow::Result<ExitCode> {
    let email = Email::parse(&opts.email).map_err(|problem| anyhow::anyhow!("--email {problem}"))?;
    let pool = db::pool(&DatabaseConfig::from_vars(&Vars::from_env())?)?;
    let mut conn = db::conn(&pool).await?;
    if !user::set_dashboard_role(&mut conn, &email, opts.role).await? {
        anyhow::bail!("no account has the address {} (sign up first, or app createsuperuser)", email.as_str());
    }
    let what = match opts.role {
        DashboardRole::None => "no longer staff: the dashboard refuses it",
        DashboardRole::ReadOnly => "staff, read-only: it reads the dashboard and changes nothing",
        DashboardRole::Admin => "an admin: it reads the dashboard and acts on it",
    };
    println!("{} is {what}.", email.as_str());
    Ok(ExitCode::SUCCESS)
}
