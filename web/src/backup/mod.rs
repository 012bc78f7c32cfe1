//! Backups that are proven: `pg_dump` streamed to object storage, restored into a scratch database every night to
//! check it, pruned by a retention policy, and restorable with one command.
//!
//! Each backup `NAME` is three objects under `BACKUP_PREFIX`:
//! - `NAME.dump`: `pg_dump --format=custom`, uploaded as a multipart upload straight from pg_dump's output with
//!   bounded memory. Object stores make a multipart upload visible only when it completes, so a killed upload never
//!   shows a partial dump;
//! - `NAME.manifest.json`: size, SHA-256, row counts and applied migrations, taken in the very snapshot pg_dump
//!   dumped (`pg_export_snapshot`). Written last: **a backup exists when its manifest does**;
//! - `NAME.verify.json`: the result of the last `backup verify`;
//! - `NAME.media.tar`, when uploaded files are kept in a directory: those files (see [`media`]).
//!
//! Restores go into a new database first; the checksum is checked over the same stream; only when both the restore
//! and the checksum are good is the new database swapped in (connections to the old one are refused and
//! terminated), so a failed restore leaves the old data untouched.

mod create;
mod manifest;
mod media;
mod restore;
mod retention;
pub mod storage;
mod verify;

use anyhow::Context as _;
use futures_util::{Stream, StreamExt as _};
use object_store::WriteMultipart;
use sha2::{Digest as _, Sha256};
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWriteExt as _};

use crate::token;

pub use create::create;
pub use manifest::{Backup, Manifest, Verification, list};
pub use media::MediaArchive;
pub use restore::restore;
pub use retention::{Pruned, prune, retained};
pub use storage::Storage;
pub use verify::verify;

/// Reads `source` (a child's output) to its end into the multipart upload `writer`, with at most `in_flight` parts
/// uploading at once (bounded memory), hashing on the way. Returns the size and SHA-256 (hex). On an error the
/// caller aborts the upload.
async fn pump(
    source: &mut (impl AsyncRead + Unpin),
    writer: &mut WriteMultipart,
    in_flight: usize,
) -> anyhow::Result<(u64, String)> {
    let mut hasher = Sha256::new();
    let mut size = 0u64;
    let mut buffer = vec![0u8; 256 * 1024];
    loop {
        let read = source.read(&mut buffer).await.context("reading the output")?;
        if read == 0 {
            break;
        }
        hasher.update(&buffer[..read]);
        size += read as u64;
        writer.wait_for_capacity(in_flight).await.context("uploading")?;
        writer.write(&buffer[..read]);
    }
    Ok((size, token::hex(&hasher.finalize())))
}

/// Downloads `object` into `stdin` (a child's input), hashing what was downloaded; returns its size and SHA-256
/// (hex). When the child stops reading, the download goes on, so that the checksum can still be reported.
async fn feed(
    mut object: impl Stream<Item = object_store::Result<bytes::Bytes>> + Unpin,
    stdin: Option<tokio::process::ChildStdin>,
) -> anyhow::Result<(u64, String)> {
    let mut stdin = stdin;
    let mut hasher = Sha256::new();
    let mut size = 0u64;
    while let Some(chunk) = object.next().await {
        let chunk = chunk.context("downloading")?;
        hasher.update(&chunk);
        size += chunk.len() as u64;
        if let Some(pipe) = stdin.as_mut()
            && pipe.write_all(&chunk).await.is_err()
        {
            stdin = None;
        }
    }
    drop(stdin);
    Ok((size, token::hex(&hasher.finalize())))
}

/// The last two kilobytes a child process (pg_dump, pg_restore) wrote to stderr, for its error message.
async fn stderr_tail(mut stderr: tokio::process::ChildStderr) -> String {
    let mut text = String::new();
    let _ = stderr.read_to_string(&mut text).await;
    let start = text.len().saturating_sub(2000);
    text[text.floor_char_boundary(start)..].trim().to_string()
}
