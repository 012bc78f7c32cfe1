//! Outgoing e-mail.

use std::path::PathBuf;
use std::time::Duration;

use super::vars::text_choice;
use super::{ConfigError, Secret, Vars};

/// How mail leaves the application.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmailBackend {
    Smtp,
    File,
    Memory,
}

text_choice!(EmailBackend { Smtp => "smtp", File => "file", Memory => "memory" });

/// Outgoing e-mail.
#[derive(Debug, Clone)]
pub struct MailConfig {
    pub backend: EmailBackend,
    /// `smtp://host:port` (plain), `smtp://host:port?tls=required` (STARTTLS) or `smtps://user:pass@host` (TLS).
    pub smtp_url: Secret,
    /// The From header, e.g. `Shop <noreply@shop.example>`.
    pub from: String,
    /// Where the file backend writes one `.eml` file per message.
    pub file_dir: PathBuf,
    pub verify_token_ttl: Duration,
    pub reset_token_ttl: Duration,
}

impl MailConfig {
    pub fn from_vars<F: Fn(&str) -> Option<String>>(vars: &Vars<F>) -> Result<Self, ConfigError> {
        let smtp_url = vars.url_or("SMTP_URL", "smtp://127.0.0.1:1025", &["smtp", "smtps"])?;
        let from: String = vars.or("EMAIL_FROM", "rust-compose-template <noreply@localhost>".to_string())?;
        if let Err(err) = from.parse::<lettre::message::Mailbox>() {
            return Err(ConfigError { name: "EMAIL_FROM", problem: format!("is not a mailbox: {err}") });
        }
        Ok(Self {
            backend: vars.or("EMAIL_BACKEND", EmailBackend::Smtp)?,
            smtp_url: Secret::new(smtp_url),
            from,
            file_dir: vars.or("EMAIL_FILE_DIR", PathBuf::from("mail"))?,
            verify_token_ttl: Duration::from_secs(3600 * vars.positive("VERIFY_TOKEN_TTL_HOURS", 48)?),
            reset_token_ttl: Duration::from_secs(60 * vars.positive("RESET_TOKEN_TTL_MINUTES", 60)?),
        })
    }
}
