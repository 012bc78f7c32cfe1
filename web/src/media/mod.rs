//! Media: files attached to notes, kept in object storage (`MEDIA_STORAGE`: a directory, S3 or GCS, through the same
//! clients as backups).
//!
//! - An upload is streamed into a multipart upload with a size limit (`MEDIA_MAX_BYTES`): over it, the upload is
//!   aborted and nothing is stored or recorded.
//! - Its type is decided by its first bytes (PNG, JPEG, GIF, WebP, PDF), never by the client's header or file
//!   name; anything else is refused.
//! - Its key is generated (`notes/<note id>/<random>.<extension of the sniffed type>`): nothing the client sends
//!   reaches a storage path. Every key read back is checked against that grammar before use ([`check_key`]).
//! - The row in `note_files` is written after the upload completed, so a row always names a whole object; an object
//!   without a row (an upload cut off before its row, a user deleted with their notes) is removed by the
//!   `media.sweep` task once it is an hour old.

pub mod tasks;

use std::ops::Range;
use std::sync::Arc;

use bytes::Bytes;
use diesel_async::AsyncPgConnection;
use futures_util::{Stream, StreamExt as _};
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt as _, WriteMultipart};
use uuid::Uuid;

use crate::config::{Config, MediaConfig};
use crate::models::note_file;

/// Upload part size: memory per upload in flight is about twice this.
const PART_SIZE: usize = 5 * 1024 * 1024;

/// The configured media store.
#[derive(Debug, Clone)]
pub struct Media {
    pub store: Arc<dyn ObjectStore>,
    pub config: MediaConfig,
}

impl Media {
    pub fn open(config: &Config) -> anyhow::Result<Self> {
        let media = &config.media;
        let (store, _) = crate::backup::storage::open_store(
            media.storage,
            media.bucket.as_deref(),
            &media.local_dir,
            &config.backup,
        )?;
        Ok(Self { store, config: media.clone() })
    }
}

/// A type this site accepts, recognised by its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Kind {
    pub content_type: &'static str,
    pub extension: &'static str,
}

/// Bytes needed to recognise every accepted type.
pub const SNIFF_BYTES: usize = 12;

/// The accepted type whose signature `head` starts with.
pub fn sniff(head: &[u8]) -> Option<Kind> {
    let kind = |content_type, extension| Some(Kind { content_type, extension });
    match head {
        [0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a, ..] => kind("image/png", "png"),
        [0xff, 0xd8, 0xff, ..] => kind("image/jpeg", "jpg"),
        [b'G', b'I', b'F', b'8', b'7' | b'9', b'a', ..] => kind("image/gif", "gif"),
        [b'R', b'I', b'F', b'F', _, _, _, _, b'W', b'E', b'B', b'P', ..] => kind("image/webp", "webp"),
        [b'%', b'P', b'D', b'F', b'-', ..] => kind("application/pdf", "pdf"),
        _ => None,
    }
}

/// What [`ACCEPTED`] lists, for messages.
pub const ACCEPTED: &str = "PNG, JPEG, GIF, WebP or PDF";

/// A new file's key.
pub fn new_key(note: Uuid, kind: Kind) -> String {
    format!("notes/{note}/{}.{}", Uuid::new_v4().simple(), kind.extension)
}

/// The storage path of a key, when it has the shape [`new_key`] gives (`notes/<uuid>/<32 hex>.<ext>`); anything
/// else (`..`, other folders, separators, encodings) is refused.
pub fn check_key(key: &str) -> Option<Path> {
    let mut parts = key.split('/');
    let (Some("notes"), Some(note), Some(file), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return None;
    };
    let (stem, extension) = file.split_once('.')?;
    let shaped = Uuid::parse_str(note).is_ok_and(|id| id.to_string() == note)
        && stem.len() == 32
        && stem.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        && ["png", "jpg", "gif", "webp", "pdf"].contains(&extension);
    shaped.then(|| Path::from(key))
}

/// Why an upload was not stored.
#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    #[error("the file is larger than {0} bytes")]
    TooLarge(u64),
    #[error("the file is not a {ACCEPTED} file (judged by its content)")]
    Unsupported,
    #[error("the file is empty")]
    Empty,
    #[error("reading the upload: {0}")]
    Client(String),
    #[error("storing the file: {0:#}")]
    Storage(anyhow::Error),
}

/// A stored object: its key, type and size.
#[derive(Debug)]
pub struct Stored {
    pub key: String,
    pub kind: Kind,
    pub size: u64,
}

/// Streams `body` into a new object for `note`: sniffs its type from the first bytes, counts its size against
/// `max_bytes`, and aborts the upload (nothing stored) on any error.
pub async fn store<S, E>(media: &Media, note: Uuid, body: S) -> Result<Stored, UploadError>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    let max = media.config.max_bytes;
    let mut body = body;
    // Enough bytes to tell the type.
    let mut head = Vec::new();
    while head.len() < SNIFF_BYTES {
        match body.next().await {
            Some(chunk) => head.extend_from_slice(&chunk.map_err(|err| UploadError::Client(err.to_string()))?),
            None => break,
        }
    }
    if head.is_empty() {
        return Err(UploadError::Empty);
    }
    let kind = sniff(&head).ok_or(UploadError::Unsupported)?;
    if head.len() as u64 > max {
        return Err(UploadError::TooLarge(max));
    }
    let key = new_key(note, kind);
    let path = check_key(&key).expect("generated keys have the checked shape");
    let upload = media.store.put_multipart(&path).await.map_err(|err| UploadError::Storage(err.into()))?;
    let mut writer = WriteMultipart::new_with_chunk_size(upload, PART_SIZE);
    let mut size = head.len() as u64;
    writer.write(&head);
    let streamed: Result<(), UploadError> = async {
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|err| UploadError::Client(err.to_string()))?;
            size += chunk.len() as u64;
            if size > max {
                return Err(UploadError::TooLarge(max));
            }
            writer.wait_for_capacity(2).await.map_err(|err| UploadError::Storage(err.into()))?;
            writer.write(&chunk);
        }
        Ok(())
    }
    .await;
    if let Err(err) = streamed {
        let _ = writer.abort().await;
        return Err(err);
    }
    writer.finish().await.map_err(|err| UploadError::Storage(err.into()))?;
    Ok(Stored { key, kind, size })
}

/// The byte range a `Range` header asks of an object of `size` bytes: `Ok(None)` for the whole object (no header,
/// or one this server does not honour, such as several ranges), `Err(())` when it cannot be satisfied (416).
#[allow(clippy::result_unit_err)]
pub fn byte_range(header: Option<&str>, size: u64) -> Result<Option<Range<u64>>, ()> {
    let Some(spec) = header.and_then(|h| h.trim().strip_prefix("bytes=")) else { return Ok(None) };
    if spec.contains(',') {
        return Ok(None);
    }
    let (start, end) = spec.split_once('-').ok_or(())?;
    let range = match (start.trim(), end.trim()) {
        ("", suffix) => {
            let n: u64 = suffix.parse().map_err(|_| ())?;
            if n == 0 {
                return Err(());
            }
            size.saturating_sub(n)..size
        }
        (start, "") => start.parse().map_err(|_| ())?..size,
        (start, end) => {
            let (start, end): (u64, u64) = (start.parse().map_err(|_| ())?, end.parse().map_err(|_| ())?);
            if end < start {
                return Err(());
            }
            start..(end + 1).min(size)
        }
    };
    if range.start >= size { Err(()) } else { Ok(Some(range)) }
}

/// Deletes a note with its file rows, and enqueues the deletion of its objects in the same transaction (so they
/// are deleted even if this process dies right after). Returns false when the owner has no such note.
pub async fn delete_note(conn: &mut AsyncPgConnection, owner: Uuid, note: Uuid) -> diesel::QueryResult<bool> {
    use diesel_async::AsyncConnection as _;
    conn.transaction(async |conn| {
        let keys = note_file::keys_of_note(conn, owner, note).await?;
        if !crate::models::note::delete(conn, owner, note).await? {
            return Ok(false);
        }
        if !keys.is_empty() {
            crate::tasks::enqueue(conn, &tasks::DeleteFiles { keys }).await?;
        }
        Ok(true)
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_are_told_by_content() {
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR").unwrap().content_type, "image/png");
        assert_eq!(sniff(b"\xff\xd8\xff\xe0\0\x10JFIF").unwrap().extension, "jpg");
        assert_eq!(sniff(b"GIF89a\x01\0").unwrap().extension, "gif");
        assert_eq!(sniff(b"RIFF\x10\0\0\0WEBPVP8 ").unwrap().extension, "webp");
        assert_eq!(sniff(b"%PDF-1.7\n").unwrap().content_type, "application/pdf");
        for refused in [&b"<html><script>alert(1)</script>"[..], b"<svg xmlns=", b"MZ\x90\0", b"RIFF\0\0\0\0WAVE", b""]
        {
            assert_eq!(sniff(refused), None, "{refused:?}");
        }
    }

    #[test]
    fn only_generated_keys_pass() {
        let note = Uuid::new_v4();
        let key = new_key(note, sniff(b"%PDF-1.4").unwrap());
        assert_eq!(check_key(&key).unwrap().as_ref(), key);
        for bad in [
            "../etc/passwd".to_string(),
            format!("notes/{note}/../../etc/passwd"),
            format!("notes/{note}/{}.html", "a".repeat(32)),
            format!("notes/{note}/{}.png/x", "a".repeat(32)),
            format!("notes/{}/{}.png", note.simple(), "a".repeat(32)),
            format!("notes/{note}/{}.png", "A".repeat(32)),
            format!("notes/{note}/%2e%2e.png"),
            format!("/notes/{note}/{}.png", "a".repeat(32)),
            "backups/app-1.dump".to_string(),
        ] {
            assert!(check_key(&bad).is_none(), "{bad}");
        }
    }

    proptest::proptest! {
        /// A key that passes is one this server made: plain lower-case ASCII in three parts, nothing to climb out.
        #[test]
        fn only_keys_of_the_generated_shape_pass(noise in crate::hostile::text(), at in 0usize..80) {
            let key = new_key(Uuid::new_v4(), sniff(b"%PDF-1.4").unwrap());
            let at = key.char_indices().map(|(i, _)| i).chain([key.len()]).nth(at % (key.len() + 1)).unwrap();
            for candidate in [noise.clone(), format!("{}{noise}{}", &key[..at], &key[at..])] {
                if let Some(path) = check_key(&candidate) {
                    proptest::prop_assert_eq!(path.as_ref(), candidate.as_str());
                    proptest::prop_assert!(candidate.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-./".contains(&b)));
                    proptest::prop_assert!(!candidate.contains("..") && candidate.split('/').count() == 3);
                }
            }
        }

        /// Any `Range` header gives the whole object, a range inside it, or 416; never a panic or a range past the end.
        #[test]
        fn any_range_header_stays_inside_the_object(header in crate::hostile::text(), size in 0u64..10_000) {
            for candidate in [header.clone(), format!("bytes={header}")] {
                if let Ok(Some(range)) = byte_range(Some(&candidate), size) {
                    proptest::prop_assert!(range.start < range.end && range.end <= size, "{range:?} of {size}");
                }
            }
        }
    }

    #[test]
    fn ranges_follow_rfc_9110() {
        assert_eq!(byte_range(None, 10), Ok(None));
        assert_eq!(byte_range(Some("bytes=0-3"), 10), Ok(Some(0..4)));
        assert_eq!(byte_range(Some("bytes=4-"), 10), Ok(Some(4..10)));
        assert_eq!(byte_range(Some("bytes=-3"), 10), Ok(Some(7..10)));
        assert_eq!(byte_range(Some("bytes=5-100"), 10), Ok(Some(5..10)));
        assert_eq!(byte_range(Some("bytes=0-1,4-5"), 10), Ok(None));
        for bad in ["bytes=10-", "bytes=5-2", "bytes=x-3", "bytes=-0", "bytes=3"] {
            assert_eq!(byte_range(Some(bad), 10), Err(()), "{bad}");
        }
    }
}
