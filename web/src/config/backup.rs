//! Backups: where they are kept and how many are retained.

use super::vars::text_choice;
use super::{ConfigError, Secret, Vars};
use std::path::PathBuf;

/// Where backups are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StorageKind {
    /// Google Cloud Storage (the default).
    Gcs,
    /// Any S3-compatible service.
    S3,
    /// A directory (a mounted volume).
    Local,
}

text_choice!(StorageKind { Gcs => "gcs", S3 => "s3", Local => "local" });

/// Backups and their retention.
#[derive(Debug, Clone)]
pub struct BackupConfig {
    pub storage: StorageKind,
    /// Bucket for gcs and s3.
    pub bucket: Option<String>,
    /// Folder inside the bucket or directory.
    pub prefix: String,
    pub local_dir: PathBuf,
    /// Service-account JSON for GCS (what `google_storage.sh -a` stores).
    pub gcs_service_account: Option<PathBuf>,
    /// Another GCS endpoint (emulators).
    pub gcs_base_url: Option<String>,
    /// Send unsigned GCS requests (emulators only).
    pub gcs_skip_signature: bool,
    pub s3_endpoint: Option<String>,
    pub s3_region: String,
    pub s3_access_key_id: Option<Secret>,
    pub s3_secret_access_key: Option<Secret>,
    pub s3_allow_http: bool,
    pub keep_daily: usize,
    pub keep_weekly: usize,
    pub keep_monthly: usize,
}

impl BackupConfig {
    pub fn from_vars<F: Fn(&str) -> Option<String>>(vars: &Vars<F>) -> Result<Self, ConfigError> {
        const WEB: &[&str] = &["http", "https"];
        Ok(Self {
            storage: vars.or("BACKUP_STORAGE", StorageKind::Gcs)?,
            bucket: vars.raw("BACKUP_BUCKET"),
            prefix: vars.or("BACKUP_PREFIX", "backups".to_string())?.trim_matches('/').to_string(),
            local_dir: vars.or("BACKUP_LOCAL_DIR", PathBuf::from("/var/backups/app"))?,
            gcs_service_account: vars.optional("GOOGLE_SERVICE_ACCOUNT_PATH")?,
            gcs_base_url: vars.optional_url("GCS_BASE_URL", WEB)?,
            gcs_skip_signature: vars.bool_or("GCS_SKIP_SIGNATURE", false)?,
            s3_endpoint: vars.optional_url("S3_ENDPOINT", WEB)?,
            s3_region: vars.or("S3_REGION", "us-east-1".to_string())?,
            s3_access_key_id: vars.raw("S3_ACCESS_KEY_ID").map(Secret::new),
            s3_secret_access_key: vars.raw("S3_SECRET_ACCESS_KEY").map(Secret::new),
            s3_allow_http: vars.bool_or("S3_ALLOW_HTTP", false)?,
            keep_daily: vars.or("BACKUP_KEEP_DAILY", 7)?,
            keep_weekly: vars.or("BACKUP_KEEP_WEEKLY", 4)?,
            keep_monthly: vars.or("BACKUP_KEEP_MONTHLY", 6)?,
        })
    }
}
