//! Backups that are proven: `pg_dump` streamed to object storage, restored into a scratch database every night to
//! check it, pruned by a retention policy, and restorable with one command.
//!
//! Each backup `NAME` is three objects under `BACKUP_PREFIX`:
//! - `NAME.dump`: `pg_dump --format=custom`, uploaded as a multipart upload straight from pg_dump's output with
//!   bounded memory. Object stores make a multipart upload visible only when it completes, so a killed upload never
//!   shows a partial dump;
//! - `NAME.manifest.json`: size, SHA-256, row counts and applied migrations, taken in the very snapshot pg_dump
//!   dumped (`pg_export_snapshot`). Written last: **a backup exists when its manifest does**;
//! - `NAME.verify.json`: the result of the last `backup verify`.
//!
//! Restores go into a new database first; the checksum is checked over the same stream; only when both the restore
//! and the checksum are good is the new database swapped in (connections to the old one are refused and
//! terminated), so a failed restore leaves the old data untouched.

mod create;
mod manifest;
mod restore;
mod retention;
pub mod storage;
mod verify;

use tokio::io::AsyncReadExt as _;

pub use create::create;
pub use manifest::{Backup, Manifest, Verification, list};
pub use restore::restore;
pub use retention::{Pruned, prune, retained};
pub use storage::Storage;
pub use verify::verify;

/// The last two kilobytes a child process (pg_dump, pg_restore) wrote to stderr, for its error message.
async fn stderr_tail(mut stderr: tokio::process::ChildStderr) -> String {
    let mut text = String::new();
    let _ = stderr.read_to_string(&mut text).await;
    let start = text.len().saturating_sub(2000);
    text[text.floor_char_boundary(start)..].trim().to_string()
}
