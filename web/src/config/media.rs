//! Uploaded files (media): where they are kept and how large they may be. The S3 and GCS credentials and endpoints
//! are the backups' (`S3_*`, `GCS_*`, `GOOGLE_SERVICE_ACCOUNT_PATH`).

use std::path::PathBuf;

use super::{ConfigError, StorageKind, Vars};

#[derive(Debug, Clone)]
pub struct MediaConfig {
    /// `local` (default: the media volume, `/srv/media` in the stack), `s3` or `gcs`.
    pub storage: StorageKind,
    /// Bucket for s3 and gcs.
    pub bucket: Option<String>,
    /// The directory for local storage (the volume mounted at `/srv/media` in the stack).
    pub local_dir: PathBuf,
    /// Largest accepted file, in bytes.
    pub max_bytes: u64,
    /// With local storage behind the stack's nginx: after the owner check, the application answers with
    /// `X-Accel-Redirect: /media/<key>` and nginx sends the file from the volume (its internal `/media/notes/`
    /// location). Without it (or with a bucket) the application streams the file itself.
    pub accel_redirect: bool,
}

impl MediaConfig {
    pub fn from_vars<F: Fn(&str) -> Option<String>>(vars: &Vars<F>) -> Result<Self, ConfigError> {
        Ok(Self {
            storage: vars.or("MEDIA_STORAGE", StorageKind::Local)?,
            bucket: vars.raw("MEDIA_BUCKET"),
            local_dir: vars.or("MEDIA_LOCAL_DIR", PathBuf::from("/srv/media"))?,
            max_bytes: vars.positive("MEDIA_MAX_BYTES", 5 * 1024 * 1024)?,
            accel_redirect: vars.bool_or("MEDIA_ACCEL_REDIRECT", false)?,
        })
    }
}
