//! The object store backups live in, chosen by `BACKUP_STORAGE`: Google Cloud Storage (default, through
//! [`crate::gcs`], its JSON API), S3-compatible, or a local directory, all as `object_store` stores. Also the URLs
//! users pass around (`gs://`, `s3://`, `file://`) and their mapping to object paths.

use std::sync::Arc;

use anyhow::Context as _;
use object_store::ObjectStore;
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::path::Path;

use crate::config::{BackupConfig, StorageKind};
use crate::gcs::Gcs;

/// A configured store plus how to name its objects.
#[derive(Debug, Clone)]
pub struct Storage {
    pub store: Arc<dyn ObjectStore>,
    kind: StorageKind,
    /// `gs://bucket`, `s3://bucket` or `file:///dir`.
    root_url: String,
    prefix: String,
    /// The media directory whose `notes/` goes into each backup (media kept locally), when there is one.
    pub media_dir: Option<std::path::PathBuf>,
}

/// Opens a store of `kind`: the bucket (gcs, s3) or the directory `local_dir` (created when missing), with the
/// endpoints and credentials of `credentials` (the `S3_*` and `GCS_*` settings, shared by backups and media).
/// Returns it with its root URL (`gs://bucket`, `s3://bucket`, `file:///dir`).
pub fn open_store(
    kind: StorageKind,
    bucket: Option<&str>,
    local_dir: &std::path::Path,
    credentials: &BackupConfig,
) -> anyhow::Result<(Arc<dyn ObjectStore>, String)> {
    let need_bucket = || bucket.context("a bucket must be set for gcs and s3 storage (BACKUP_BUCKET, MEDIA_BUCKET)");
    Ok(match kind {
        StorageKind::Gcs => {
            let bucket = need_bucket()?;
            if let Some(path) = &credentials.gcs_service_account {
                anyhow::ensure!(
                    path.exists(),
                    "GOOGLE_SERVICE_ACCOUNT_PATH {} does not exist (google_storage.sh -a stores it)",
                    path.display()
                );
            }
            let store = Gcs::new(
                bucket,
                credentials.gcs_base_url.as_deref(),
                credentials.gcs_service_account.as_deref(),
                credentials.gcs_skip_signature,
            )
            .context("configuring Google Cloud Storage")?;
            (Arc::new(store), format!("gs://{bucket}"))
        }
        StorageKind::S3 => {
            let bucket = need_bucket()?;
            let mut builder = AmazonS3Builder::new()
                .with_bucket_name(bucket)
                .with_region(&credentials.s3_region)
                .with_allow_http(credentials.s3_allow_http);
            if let Some(endpoint) = &credentials.s3_endpoint {
                builder = builder.with_endpoint(endpoint);
            }
            if let Some(key) = &credentials.s3_access_key_id {
                builder = builder.with_access_key_id(key.expose());
            }
            if let Some(secret) = &credentials.s3_secret_access_key {
                builder = builder.with_secret_access_key(secret.expose());
            }
            (Arc::new(builder.build().context("configuring S3 storage")?), format!("s3://{bucket}"))
        }
        StorageKind::Local => {
            std::fs::create_dir_all(local_dir).with_context(|| format!("creating {}", local_dir.display()))?;
            let dir = local_dir.canonicalize().with_context(|| format!("opening {}", local_dir.display()))?;
            let store = LocalFileSystem::new_with_prefix(&dir).with_context(|| format!("opening {}", dir.display()))?;
            (Arc::new(store), format!("file://{}", dir.display()))
        }
    })
}

impl Storage {
    pub fn from_config(config: &BackupConfig) -> anyhow::Result<Self> {
        if config.storage != StorageKind::Local {
            anyhow::ensure!(config.bucket.is_some(), "BACKUP_BUCKET must be set for gcs and s3 storage");
        }
        let (store, root_url) = open_store(config.storage, config.bucket.as_deref(), &config.local_dir, config)?;
        Ok(Self { store, kind: config.storage, root_url, prefix: config.prefix.clone(), media_dir: None })
    }

    pub fn kind(&self) -> StorageKind {
        self.kind
    }

    /// Where the backups are, for messages.
    pub fn describe(&self) -> String {
        format!("{}/{}", self.root_url, self.prefix)
    }

    /// The folder holding the backups.
    pub fn folder(&self) -> Path {
        Path::from(self.prefix.as_str())
    }

    pub fn path(&self, file: &str) -> Path {
        if self.prefix.is_empty() { Path::from(file) } else { Path::from(format!("{}/{file}", self.prefix)) }
    }

    /// The URL of an object, as `backup list` prints it and `backup restore` takes it.
    pub fn url(&self, path: &Path) -> String {
        format!("{}/{path}", self.root_url)
    }

    /// The backup name a user gave: a full URL of this store, a path, or a bare name, with or without `.dump`.
    pub fn name_from(&self, given: &str) -> anyhow::Result<String> {
        let path = if let Some(rest) = given.strip_prefix(&format!("{}/", self.root_url)) {
            rest.to_string()
        } else if given.contains("://") {
            anyhow::bail!(
                "{given} is not in the configured backup storage ({}); check BACKUP_STORAGE and BACKUP_BUCKET",
                self.root_url
            );
        } else {
            given.to_string()
        };
        let file = path.rsplit('/').next().unwrap_or(&path);
        let name = file.strip_suffix(".dump").unwrap_or(file);
        anyhow::ensure!(
            !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)),
            "{given:?} does not name a backup"
        );
        Ok(name.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn local(dir: &std::path::Path) -> Storage {
        let mut config = crate::config::BackupConfig::from_vars(&crate::config::Vars::from_map(
            [("BACKUP_STORAGE".to_string(), "local".to_string())].into(),
        ))
        .unwrap();
        config.local_dir = dir.to_path_buf();
        Storage::from_config(&config).unwrap()
    }

    #[test]
    fn names_come_from_urls_paths_and_bare_names() {
        let dir = std::env::temp_dir().join(format!("storage-test-{}", std::process::id()));
        let storage = local(&dir);
        let url = storage.url(&storage.path("app-20261123T030000Z-ab12.dump"));
        assert!(url.starts_with("file://"));
        assert_eq!(storage.name_from(&url).unwrap(), "app-20261123T030000Z-ab12");
        assert_eq!(storage.name_from("backups/app-1.dump").unwrap(), "app-1");
        assert_eq!(storage.name_from("app-1").unwrap(), "app-1");
        assert!(storage.name_from("s3://other/app-1.dump").is_err());
        // Only the last path component counts: no way out of the backup folder.
        assert_eq!(storage.name_from("../../etc/passwd").unwrap(), "passwd");
        assert!(storage.name_from("bad name").is_err());
        assert!(storage.name_from("").is_err());
        std::fs::remove_dir_all(dir).ok();
    }
}
