//! `app createsuperuser`: creates a staff account for scripted installs. Idempotent: when the e-mail is already
//! registered nothing is changed (not even the password) and it exits 0 saying so.

#![allow(clippy::print_stdout)]

use std::process::ExitCode;

use anyhow::Context as _;
use web::config::{DatabaseConfig, Vars};
use web::db;
use web::models::user::{self, Email, NewPassword};
use web::password;

#[derive(Debug, clap::Args)]
pub struct Opts {
    /// E-mail address of the account.
    #[arg(long, env = "ADMIN_EMAIL")]
    email: String,
    /// Password (prefer the environment variable: command-line arguments are visible to other users).
    #[arg(long, env = "ADMIN_PASSWORD", hide_env_values = true)]
    password: String,
}

pub async fn run(opts: Opts) -> anyhow::Result<ExitCode> {
    let email = Email::parse(&opts.email).map_err(|problem| anyhow::anyhow!("--email/ADMIN_EMAIL {problem}"))?;
    let password =
        NewPassword::parse(&opts.password).map_err(|problem| anyhow::anyhow!("--password/ADMIN_PASSWORD {problem}"))?;
    let database = DatabaseConfig::from_vars(&Vars::from_env())?;
    let pool = db::pool(&database)?;
    let mut conn = db::conn(&pool).await?;
    if user::find_by_email(&mut conn, &email).await?.is_some() {
        println!("User {} already exists; nothing changed.", email.as_str());
        return Ok(ExitCode::SUCCESS);
    }
    let hash = password::hash(password.into_secret()).await?;
    // Another install racing us may have created it meanwhile: the insert does nothing then.
    match user::create_if_absent(&mut conn, &email, &hash, true).await.context("creating the user")? {
        Some(created) => println!("Created staff user {} ({}).", created.email, created.id),
        None => println!("User {} already exists; nothing changed.", email.as_str()),
    }
    Ok(ExitCode::SUCCESS)
}
