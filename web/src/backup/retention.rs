//! `backup prune`: which backups the retention policy keeps, and deleting the rest.

use std::collections::BTreeSet;

use chrono::{DateTime, Datelike as _, Utc};
use object_store::ObjectStoreExt as _;

use super::Storage;
use super::manifest::{Backup, dump_file, list, manifest_file, verify_file};
use super::media::media_file;
use crate::config::BackupConfig;

/// Which backups the retention policy keeps: the newest of each of the last `daily` days, `weekly` ISO weeks and
/// `monthly` months that have backups, and always the newest successfully verified one.
pub fn retained(backups: &[Backup], config: &BackupConfig) -> BTreeSet<String> {
    let mut keep = BTreeSet::new();
    // Newest first: the first backup seen in a period is that period's newest.
    let mut per_period = |period: &dyn Fn(&DateTime<Utc>) -> (i32, u32), limit: usize| {
        let mut seen = BTreeSet::new();
        for backup in backups {
            let key = period(&backup.manifest.created_at);
            if seen.len() < limit && seen.insert(key) {
                keep.insert(backup.manifest.name.clone());
            }
        }
    };
    per_period(&|at| (at.year(), at.ordinal()), config.keep_daily);
    per_period(&|at| (at.iso_week().year(), at.iso_week().week()), config.keep_weekly);
    per_period(&|at| (at.year(), at.month()), config.keep_monthly);
    if let Some(verified) = backups.iter().find(|b| b.verification.as_ref().is_some_and(|v| v.ok)) {
        keep.insert(verified.manifest.name.clone());
    }
    keep
}

/// Outcome of a prune.
#[derive(Debug, Default)]
pub struct Pruned {
    pub kept: Vec<String>,
    pub deleted: Vec<String>,
    /// Dumps never completed by a manifest, older than a day.
    pub incomplete_deleted: Vec<String>,
}

/// `backup prune`: deletes what the retention policy does not keep.
pub async fn prune(storage: &Storage, config: &BackupConfig, dry_run: bool) -> anyhow::Result<Pruned> {
    let (backups, incomplete) = list(storage).await?;
    let keep = retained(&backups, config);
    let mut pruned = Pruned::default();
    for backup in &backups {
        let name = &backup.manifest.name;
        if keep.contains(name) {
            pruned.kept.push(name.clone());
            continue;
        }
        if !dry_run {
            // Manifest first: the backup stops existing before its dump goes.
            for file in [manifest_file(name), verify_file(name), media_file(name), dump_file(name)] {
                match storage.store.delete(&storage.path(&file)).await {
                    Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                    Err(err) => return Err(anyhow::Error::from(err).context(format!("deleting {file}"))),
                }
            }
        }
        pruned.deleted.push(name.clone());
    }
    let day_ago = Utc::now() - chrono::Duration::days(1);
    for (name, modified) in incomplete {
        if modified < day_ago {
            if !dry_run {
                storage.store.delete(&storage.path(&media_file(&name))).await.ok();
                storage.store.delete(&storage.path(&dump_file(&name))).await.ok();
            }
            pruned.incomplete_deleted.push(name);
        }
    }
    Ok(pruned)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use chrono::TimeZone as _;

    use super::*;
    use crate::backup::{Manifest, Verification};

    fn backup(name: &str, at: DateTime<Utc>, verified: Option<bool>) -> Backup {
        Backup {
            manifest: Manifest {
                name: name.into(),
                database: "app".into(),
                created_at: at,
                size: 1,
                sha256: String::new(),
                format: "pg_dump-custom".into(),
                row_counts: BTreeMap::new(),
                migrations: Vec::new(),
                app_version: String::new(),
                media: None,
            },
            verification: verified.map(|ok| Verification { verified_at: at, ok, error: None, duration_ms: 0 }),
            url: String::new(),
        }
    }

    fn config(daily: usize, weekly: usize, monthly: usize) -> BackupConfig {
        let mut config = BackupConfig::from_vars(&crate::config::Vars::from_map(Default::default())).unwrap();
        (config.keep_daily, config.keep_weekly, config.keep_monthly) = (daily, weekly, monthly);
        config
    }

    #[test]
    fn retention_keeps_the_newest_per_period() {
        // Two backups a day (15:00 and 03:00) for 100 days, newest first.
        let start = Utc.with_ymd_and_hms(2026, 11, 23, 15, 0, 0).unwrap();
        let backups: Vec<Backup> =
            (0..200).map(|i| backup(&format!("b{i:03}"), start - chrono::Duration::hours(12 * i), None)).collect();
        let keep = retained(&backups, &config(7, 4, 6));
        // 7 daily (the newest of each of 7 days: b000, b002, ... b012), weekly and monthly add older ones.
        for i in (0..14).step_by(2) {
            assert!(keep.contains(&format!("b{i:03}")), "day {i}");
        }
        assert!(!keep.contains("b001"), "the older backup of a kept day goes");
        assert!(keep.len() <= 7 + 4 + 6);
        assert!(keep.len() >= 10);
    }

    #[test]
    fn the_newest_verified_backup_is_always_kept() {
        let start = Utc.with_ymd_and_hms(2026, 11, 23, 3, 0, 0).unwrap();
        let backups = vec![
            backup("new-failed", start, Some(false)),
            backup("new-unverified", start - chrono::Duration::hours(1), None),
            backup("old-verified", start - chrono::Duration::days(40), Some(true)),
        ];
        let keep = retained(&backups, &config(1, 0, 0));
        assert!(keep.contains("new-failed"));
        assert!(keep.contains("old-verified"));
        assert!(!keep.contains("new-unverified"));
    }
}
