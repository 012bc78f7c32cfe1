//! Outgoing e-mail through lettre, behind a small backend type: SMTP (pooled connections), files (one `.eml` per
//! message, for development without a mail server) or memory (tests in one process). Each mail has its own
//! templates in `web/templates/email/`: a subject in code, a text part and an HTML part.
//!
//! Mail is only ever sent by a task (see `crate::tasks::send_email`), never on the request path: a slow or
//! unreachable mail server delays mail, not responses.

use std::sync::{Arc, Mutex};

use anyhow::Context as _;
use askama::Template;
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::PoolConfig;
use lettre::{AsyncFileTransport, AsyncSmtpTransport, AsyncTransport as _, Message, Tokio1Executor};

use crate::config::{EmailBackend, MailConfig};

/// A rendered message, before it gets its envelope.
#[derive(Debug, Clone)]
pub struct Email {
    pub to: Mailbox,
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// One mail: a subject and two templates.
pub trait MailTemplate {
    fn subject(&self) -> String;
    fn text(&self) -> askama::Result<String>;
    fn html(&self) -> askama::Result<String>;

    fn render(&self, to: Mailbox) -> anyhow::Result<Email> {
        Ok(Email {
            to,
            subject: self.subject(),
            text: self.text().context("rendering the text part")?,
            html: self.html().context("rendering the HTML part")?,
        })
    }
}

#[derive(Template)]
#[template(path = "email/verify_email.txt")]
struct VerifyEmailText<'a> {
    app_name: &'a str,
    link: &'a str,
    hours: u64,
}

#[derive(Template)]
#[template(path = "email/verify_email.html")]
struct VerifyEmailHtml<'a> {
    app_name: &'a str,
    link: &'a str,
    hours: u64,
}

/// "Confirm your address", sent at signup.
#[derive(Debug)]
pub struct VerifyEmail<'a> {
    pub app_name: &'a str,
    pub link: &'a str,
    pub hours: u64,
}

impl MailTemplate for VerifyEmail<'_> {
    fn subject(&self) -> String {
        format!("Welcome to {}: please confirm your e-mail address", self.app_name)
    }
    fn text(&self) -> askama::Result<String> {
        VerifyEmailText { app_name: self.app_name, link: self.link, hours: self.hours }.render()
    }
    fn html(&self) -> askama::Result<String> {
        VerifyEmailHtml { app_name: self.app_name, link: self.link, hours: self.hours }.render()
    }
}

#[derive(Template)]
#[template(path = "email/password_reset.txt")]
struct PasswordResetText<'a> {
    app_name: &'a str,
    link: &'a str,
    minutes: u64,
}

#[derive(Template)]
#[template(path = "email/password_reset.html")]
struct PasswordResetHtml<'a> {
    app_name: &'a str,
    link: &'a str,
    minutes: u64,
}

/// "Reset your password", sent on request.
#[derive(Debug)]
pub struct PasswordReset<'a> {
    pub app_name: &'a str,
    pub link: &'a str,
    pub minutes: u64,
}

impl MailTemplate for PasswordReset<'_> {
    fn subject(&self) -> String {
        format!("Reset your {} password", self.app_name)
    }
    fn text(&self) -> askama::Result<String> {
        PasswordResetText { app_name: self.app_name, link: self.link, minutes: self.minutes }.render()
    }
    fn html(&self) -> askama::Result<String> {
        PasswordResetHtml { app_name: self.app_name, link: self.link, minutes: self.minutes }.render()
    }
}

/// Where mail goes.
#[derive(Clone)]
pub enum Mailer {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    File(AsyncFileTransport<Tokio1Executor>),
    Memory(Arc<Mutex<Vec<Message>>>),
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Smtp(_) => "Mailer::Smtp",
            Self::File(_) => "Mailer::File",
            Self::Memory(_) => "Mailer::Memory",
        })
    }
}

/// The From mailbox, already validated by the configuration.
fn from_mailbox(config: &MailConfig) -> anyhow::Result<Mailbox> {
    config.from.parse().context("EMAIL_FROM")
}

impl Mailer {
    pub fn from_config(config: &MailConfig) -> anyhow::Result<Self> {
        Ok(match config.backend {
            EmailBackend::Smtp => {
                let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(config.smtp_url.expose())
                    .map_err(|err| anyhow::anyhow!("SMTP_URL: {err}"))?
                    .timeout(Some(std::time::Duration::from_secs(20)))
                    .pool_config(PoolConfig::new().max_size(4))
                    .build();
                Self::Smtp(transport)
            }
            EmailBackend::File => {
                std::fs::create_dir_all(&config.file_dir)
                    .with_context(|| format!("creating EMAIL_FILE_DIR {}", config.file_dir.display()))?;
                Self::File(AsyncFileTransport::new(&config.file_dir))
            }
            EmailBackend::Memory => Self::Memory(Arc::default()),
        })
    }

    /// Builds the message (From from the configuration) and hands it to the backend.
    pub async fn send(&self, config: &MailConfig, email: Email) -> anyhow::Result<()> {
        let message = Message::builder()
            .from(from_mailbox(config)?)
            .to(email.to)
            .subject(email.subject)
            .multipart(MultiPart::alternative_plain_html(email.text, email.html))
            .context("building the message")?;
        match self {
            Self::Smtp(transport) => {
                transport.send(message).await.context("sending through SMTP")?;
            }
            Self::File(transport) => {
                transport.send(message).await.context("writing the message file")?;
            }
            Self::Memory(sent) => sent.lock().expect("mail lock").push(message),
        }
        Ok(())
    }

    /// Messages kept by the memory backend.
    pub fn sent(&self) -> Vec<Message> {
        match self {
            Self::Memory(sent) => sent.lock().expect("mail lock").clone(),
            _ => Vec::new(),
        }
    }
}
