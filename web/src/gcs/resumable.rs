//! Resumable uploads (<https://cloud.google.com/storage/docs/performing-resumable-uploads>): one session, chunks sent
//! in order at byte offsets, the last one with the total size. The object exists only when the last chunk is
//! accepted, so an upload that is abandoned or killed leaves nothing to list.
//!
//! A chunk that fails (connection cut, timeout, 429, 5xx) is not simply sent again: the client asks the session how
//! many bytes it kept (`Content-Range: bytes */*`, answered by 308 and a `Range` header) and resumes from there, so
//! a chunk cut half-way is neither lost nor stored twice.
//!
//! [`MultipartUpload::put_part`] may be called again before earlier parts finished. Parts are queued in the order
//! they were given (synchronously, in `put_part`); whichever part's future runs next sends everything queued, under
//! a lock, so bytes reach the session in order. Every chunk but the last must be a multiple of 256 KiB.

use std::sync::Arc;

use async_trait::async_trait;
use bytes::{Bytes, BytesMut};
use object_store::path::Path;
use object_store::{MultipartUpload, PutPayload, PutResult, Result, UploadPart};

use super::{ATTEMPTS, Inner, Object, backoff, check, error, put_result, retryable};

/// GCS's chunk granularity.
const ALIGN: usize = 256 * 1024;

#[derive(Debug)]
pub(super) struct Upload {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    inner: Arc<Inner>,
    location: Path,
    /// The session URI every chunk goes to.
    session: String,
    /// Bytes given to `put_part` and not yet sent.
    queue: std::sync::Mutex<BytesMut>,
    /// Bytes the session holds; held while sending, so one chunk is in flight at a time.
    sent: tokio::sync::Mutex<u64>,
}

impl Upload {
    pub(super) async fn start(inner: Arc<Inner>, location: &Path, content_type: Option<String>) -> Result<Self> {
        let url = inner.upload_url();
        let name = location.to_string();
        let metadata = serde_json::json!({ "name": name, "contentType": content_type });
        let response = inner
            .send(|http| http.post(&url).query(&[("uploadType", "resumable"), ("name", name.as_str())]).json(&metadata))
            .await?;
        let response = check(response, location).await?;
        let session = response
            .headers()
            .get("location")
            .and_then(|value| value.to_str().ok())
            .ok_or_else(|| error("the server started no upload session (no Location header)"))?
            .to_string();
        Ok(Self {
            shared: Arc::new(Shared {
                inner,
                location: location.clone(),
                session,
                queue: std::sync::Mutex::new(BytesMut::new()),
                sent: tokio::sync::Mutex::new(0),
            }),
        })
    }
}

/// What the session answered to a chunk or a status query.
enum Session {
    /// No answer, or a transient one (connection cut, timeout, 429, 5xx): ask again.
    Failed(String),
    /// Still open, holding this many bytes.
    Holds(u64),
    /// Complete: the object.
    Done(Box<Object>),
}

impl Shared {
    /// Sends what is queued: every whole 256 KiB block but the last byte's (so the final chunk is never empty), or,
    /// with `last`, everything, completing the object.
    async fn flush(&self, last: bool) -> Result<Option<PutResult>> {
        let mut sent = self.sent.lock().await;
        let chunk = {
            let mut queue = self.queue.lock().expect("upload queue");
            let take = if last { queue.len() } else { queue.len().saturating_sub(1) / ALIGN * ALIGN };
            queue.split_to(take).freeze()
        };
        if chunk.is_empty() && !last {
            return Ok(None);
        }
        let total = last.then(|| *sent + chunk.len() as u64);
        self.send_chunk(&mut sent, chunk, total).await
    }

    /// Sends `chunk` at offset `*sent`, resuming after failures from what the session reports it kept.
    async fn send_chunk(&self, sent: &mut u64, mut chunk: Bytes, total: Option<u64>) -> Result<Option<PutResult>> {
        let total_text = total.map_or("*".to_string(), |t| t.to_string());
        let end = *sent + chunk.len() as u64;
        let mut failures = 0;
        for _round in 0..1000 {
            let range = if chunk.is_empty() {
                format!("bytes */{total_text}")
            } else {
                format!("bytes {}-{}/{total_text}", *sent, *sent + chunk.len() as u64 - 1)
            };
            let mut answer = self.put(&range, chunk.clone()).await?;
            while let Session::Failed(reason) = answer {
                failures += 1;
                if failures >= ATTEMPTS {
                    return Err(error(format!(
                        "uploading {}: the connection failed {failures} times, last: {reason}",
                        self.location
                    )));
                }
                tokio::time::sleep(backoff(failures)).await;
                // How much of the chunk did the session keep?
                answer = self.put(&format!("bytes */{total_text}"), Bytes::new()).await?;
            }
            match answer {
                Session::Failed(_) => unreachable!("resolved above"),
                Session::Done(object) => {
                    return if total.is_some() {
                        Ok(Some(put_result(&object)))
                    } else {
                        Err(error(format!("uploading {}: the server completed the object early", self.location)))
                    };
                }
                Session::Holds(held) if held >= end && total.is_none() => {
                    *sent = held;
                    return Ok(None);
                }
                Session::Holds(held) => {
                    // Resume after what the session holds (it never holds less than was confirmed before).
                    let from = held.clamp(*sent, end);
                    chunk = chunk.slice((from - *sent) as usize..);
                    *sent = from;
                }
            }
        }
        Err(error(format!("uploading {}: the session stopped taking data", self.location)))
    }

    /// One PUT to the session. A transient failure (connection, timeout, 429, 5xx) comes back as
    /// [`Session::Failed`], for the caller to resume; any other refusal (an expired or cancelled session: 404, 410)
    /// ends the upload.
    async fn put(&self, range: &str, body: Bytes) -> Result<Session> {
        let request =
            self.inner.authorized(self.inner.http.put(&self.session).header("content-range", range).body(body));
        let response = match request.await?.send().await {
            Ok(response) => response,
            Err(err) => return Ok(Session::Failed(err.to_string())),
        };
        let status = response.status();
        if status.as_u16() == 308 {
            // `Range: bytes=0-N`: N + 1 bytes kept; no header: none.
            let held = response
                .headers()
                .get("range")
                .and_then(|value| value.to_str().ok())
                .and_then(|value| value.rsplit('-').next())
                .and_then(|last| last.parse::<u64>().ok())
                .map_or(0, |last| last + 1);
            return Ok(Session::Holds(held));
        }
        if retryable(status) {
            return Ok(Session::Failed(format!("the server answered {status}")));
        }
        let response = check(response, &self.location).await?;
        match response.bytes().await {
            Ok(body) => serde_json::from_slice::<Object>(&body)
                .map(|object| Session::Done(Box::new(object)))
                .map_err(|err| error(format!("unexpected response to the last chunk ({err})"))),
            Err(err) => Ok(Session::Failed(err.to_string())),
        }
    }
}

#[async_trait]
impl MultipartUpload for Upload {
    fn put_part(&mut self, data: PutPayload) -> UploadPart {
        {
            let mut queue = self.shared.queue.lock().expect("upload queue");
            for bytes in data {
                queue.extend_from_slice(&bytes);
            }
        }
        let shared = Arc::clone(&self.shared);
        Box::pin(async move { shared.flush(false).await.map(drop) })
    }

    async fn complete(&mut self) -> Result<PutResult> {
        self.shared.flush(true).await?.ok_or_else(|| error("the upload did not complete"))
    }

    async fn abort(&mut self) -> Result<()> {
        // Cancelling the session frees it at once (GCS answers 499); the object never existed either way.
        let shared = &self.shared;
        let request = shared.inner.authorized(shared.inner.http.delete(&shared.session)).await?;
        let _ = request.send().await;
        Ok(())
    }
}
