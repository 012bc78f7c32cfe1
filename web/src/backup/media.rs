//! The media volume in backups. When uploaded files are kept in a directory (`MEDIA_STORAGE=local`), each backup
//! carries them as `NAME.media.tar` (its size and SHA-256 in the manifest), so that a restore brings back both the
//! rows and the files they name. Files in a bucket are not copied: see "Media" in docs/backups.md.
//!
//! - Create: `tar` of `<media>/notes` streamed into a multipart upload, hashed on the way, after the dump (every
//!   row in the dump then names a file already in the archive) and before the manifest, which makes the backup
//!   exist.
//! - Restore: the archive is unpacked into a staging directory inside the media directory, its checksum checked
//!   over the same bytes, and only then are its files (keys of the application's shape only) moved into place. It
//!   runs before the database is swapped, so a bad archive leaves both the files and the database as they were.
//!   Files are only added: one that no restored row names is removed by the nightly `media.sweep`.
//! - Verify: the archive's size and checksum, and that `tar` can list it.

use std::path::Path;
use std::process::Stdio;

use anyhow::Context as _;
use object_store::{ObjectStoreExt as _, WriteMultipart};
use serde::{Deserialize, Serialize};

use super::{Storage, feed, pump, stderr_tail};

const PART_SIZE: usize = 8 * 1024 * 1024;

/// The media archive of a backup, as its manifest records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MediaArchive {
    /// Bytes of the `.media.tar` object.
    pub size: u64,
    pub sha256: String,
    /// Files in it.
    pub files: u64,
}

pub(super) fn media_file(name: &str) -> String {
    format!("{name}.media.tar")
}

fn tar() -> tokio::process::Command {
    let mut command = tokio::process::Command::new("tar");
    command.kill_on_drop(true);
    command
}

/// Files under `dir`, counted.
fn count_files(dir: &Path) -> u64 {
    let mut count = 0;
    let mut pending = vec![dir.to_path_buf()];
    while let Some(next) = pending.pop() {
        for entry in std::fs::read_dir(&next).into_iter().flatten().flatten() {
            match entry.file_type() {
                Ok(kind) if kind.is_dir() => pending.push(entry.path()),
                Ok(kind) if kind.is_file() => count += 1,
                _ => {}
            }
        }
    }
    count
}

/// Archives `<media>/notes` into backup `name`'s `.media.tar`; `None` when there is no media directory to back up.
pub(super) async fn archive(storage: &Storage, name: &str) -> anyhow::Result<Option<MediaArchive>> {
    let Some(dir) = storage.media_dir.as_deref() else { return Ok(None) };
    if !dir.join("notes").is_dir() {
        return Ok(None);
    }
    let files = count_files(&dir.join("notes"));
    let mut child = tar()
        .arg("--create")
        .arg("--file=-")
        .arg("--directory")
        .arg(dir)
        .arg("notes")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("starting tar for the media files")?;
    let mut stdout = child.stdout.take().expect("piped");
    let stderr = tokio::spawn(stderr_tail(child.stderr.take().expect("piped")));
    let path = storage.path(&media_file(name));
    let upload = storage.store.put_multipart(&path).await.with_context(|| format!("starting upload of {path}"))?;
    let mut writer = WriteMultipart::new_with_chunk_size(upload, PART_SIZE);
    let streamed = pump(&mut stdout, &mut writer, 2).await.context("streaming the media files");
    let status = child.wait().await.context("waiting for tar")?;
    let errors = stderr.await.unwrap_or_default();
    // Exit 1 is "a file changed while it was read" (an upload meanwhile): the archive is still whole.
    let failed = !status.success() && status.code() != Some(1);
    let (size, sha256) = match streamed {
        Ok(done) if !failed => done,
        other => {
            let _ = writer.abort().await;
            other?;
            anyhow::bail!("tar of the media files failed ({status}): {errors}");
        }
    };
    writer.finish().await.context("completing the media upload")?;
    Ok(Some(MediaArchive { size, sha256, files }))
}

/// Streams backup `name`'s media archive into `tar` run with `args` (extract or list), checking size and checksum
/// over the same bytes.
async fn stream_into_tar(storage: &Storage, name: &str, archive: &MediaArchive, args: &[&str]) -> anyhow::Result<()> {
    let object = storage.store.get(&storage.path(&media_file(name))).await.context("opening the media archive")?;
    let mut child = tar()
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .context("starting tar")?;
    let stderr = tokio::spawn(stderr_tail(child.stderr.take().expect("piped")));
    let (size, digest) = feed(object.into_stream(), child.stdin.take()).await.context("reading the media archive")?;
    let status = child.wait().await.context("waiting for tar")?;
    let errors = stderr.await.unwrap_or_default();
    anyhow::ensure!(
        size == archive.size && digest == archive.sha256,
        "the media archive of {name} is corrupted or truncated: expected {} bytes with SHA-256 {}, found {size} \
         bytes with {digest}",
        archive.size,
        archive.sha256
    );
    anyhow::ensure!(status.success(), "tar could not read the media archive of {name} ({status}): {errors}");
    Ok(())
}

/// Checks backup `name`'s media archive (size, checksum, readable by tar) without unpacking it.
pub(super) async fn check(storage: &Storage, name: &str, archive: &MediaArchive) -> anyhow::Result<()> {
    stream_into_tar(storage, name, archive, &["--list", "--file=-"]).await
}

/// Restores backup `name`'s media files into the media directory; returns how many were put in place.
pub(super) async fn restore(storage: &Storage, name: &str, archive: &MediaArchive) -> anyhow::Result<u64> {
    let dir = storage.media_dir.as_deref().context(
        "this backup holds media files, but there is no media directory here (MEDIA_STORAGE=local, MEDIA_LOCAL_DIR)",
    )?;
    let staging = dir.join(format!(".restore-{}", crate::token::random_hex(4)));
    std::fs::create_dir_all(&staging).with_context(|| format!("creating {}", staging.display()))?;
    let staged = staging.to_str().context("the media directory's path is not UTF-8")?.to_string();
    let args = ["--extract", "--file=-", "--no-same-owner", "--no-same-permissions", "--directory", &staged];
    let placed = match stream_into_tar(storage, name, archive, &args).await {
        Ok(()) => place(&staging, dir),
        Err(err) => Err(err),
    };
    let _ = std::fs::remove_dir_all(&staging);
    placed.with_context(|| format!("restoring the media files of {name}"))
}

/// Moves the staged files whose keys have the application's shape into place.
fn place(staging: &Path, dir: &Path) -> anyhow::Result<u64> {
    let mut placed = 0;
    for note in std::fs::read_dir(staging.join("notes")).into_iter().flatten().flatten() {
        for file in std::fs::read_dir(note.path())?.flatten() {
            let key = format!("notes/{}/{}", note.file_name().to_string_lossy(), file.file_name().to_string_lossy());
            if crate::media::check_key(&key).is_none() || !file.file_type()?.is_file() {
                tracing::warn!(key, "not a media file; left out of the restore");
                continue;
            }
            let target = dir.join(&key);
            std::fs::create_dir_all(target.parent().expect("a key has a folder"))?;
            std::fs::rename(file.path(), &target).with_context(|| format!("moving {key} into place"))?;
            placed += 1;
        }
    }
    Ok(placed)
}
