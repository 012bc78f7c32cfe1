//! `email.send`: renders and sends one of the application's mails. The single-use token of a verification or reset
//! link is created here, inside the task's transaction: it never travels through the outbox or RabbitMQ, and a failed
//! send rolls it back.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::mail::{MailTemplate as _, PasswordReset, VerifyEmail};
use crate::models::email_token::{self, Purpose};
use crate::models::user;
use crate::tasks::{Task, TaskContext};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MailKind {
    /// Welcome mail with the link that verifies the address.
    VerifyEmail,
    /// Link to choose a new password.
    PasswordReset,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SendEmail {
    pub user_id: Uuid,
    pub kind: MailKind,
}

impl Task for SendEmail {
    const NAME: &'static str = "email.send";
    const QUEUE: &'static str = "mail";

    async fn run(self, ctx: &mut TaskContext<'_>) -> anyhow::Result<()> {
        let Some(account) = user::find(ctx.conn, self.user_id).await? else {
            // The account was deleted meanwhile: nothing to send, and retrying will not change that.
            tracing::info!(user_id = %self.user_id, "no such user; mail not sent");
            return Ok(());
        };
        let config = &ctx.services.config;
        let to = account.email.parse().map_err(|err| anyhow::anyhow!("recipient address: {err}"))?;
        let email = match self.kind {
            MailKind::VerifyEmail => {
                let ttl = config.mail.verify_token_ttl;
                let token = email_token::create(ctx.conn, account.id, Purpose::VerifyEmail, ttl).await?;
                let link = format!("{}/verify-email?token={token}", config.public_url);
                VerifyEmail { app_name: &config.app_name, link: &link, hours: ttl.as_secs() / 3600 }.render(to)?
            }
            MailKind::PasswordReset => {
                let ttl = config.mail.reset_token_ttl;
                let token = email_token::create(ctx.conn, account.id, Purpose::PasswordReset, ttl).await?;
                let link = format!("{}/reset-password?token={token}", config.public_url);
                PasswordReset { app_name: &config.app_name, link: &link, minutes: ttl.as_secs() / 60 }.render(to)?
            }
        };
        ctx.services.mailer.send(&config.mail, email).await?;
        tracing::info!(user_id = %account.id, kind = ?self.kind, "mail sent");
        Ok(())
    }
}
