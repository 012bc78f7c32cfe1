//! Google Cloud Storage through its JSON API, as an [`ObjectStore`].
//!
//! object_store's own GCS client speaks the XML API, which the GCS emulators that install here do not serve (they
//! send no `ETag`/`Last-Modified` on downloads), so this client speaks the JSON API documented at
//! <https://cloud.google.com/storage/docs/json_api>: simple uploads for small objects, resumable uploads for large
//! ones (see [`resumable`]), downloads pinned to the generation whose metadata was read, ranged reads, listings
//! with prefix and delimiter.
//!
//! Authentication stays object_store's: its credential provider turns a service-account JSON key into OAuth tokens
//! (and refreshes them), or uses the instance's metadata server. With `skip_signature` (emulators) no
//! `Authorization` header is sent.
//!
//! Every request is retried on a connection error, a timeout, 429 and 5xx: downloads, listings and deletions
//! because they are idempotent, simple uploads because they replace the whole object, chunks of a resumable upload
//! after asking the server how much it kept.

mod resumable;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures_util::stream::{self, BoxStream, StreamExt as _, TryStreamExt as _};
use object_store::gcp::{GcpCredentialProvider, GoogleCloudStorageBuilder};
use object_store::path::Path;
use object_store::{
    Attribute, CopyMode, CopyOptions, GetOptions, GetRange, GetResult, GetResultPayload, ListResult, MultipartUpload,
    ObjectMeta, ObjectStore, PutMode, PutMultipartOptions, PutOptions, PutPayload, PutResult, Result,
};
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde::Deserialize;

const STORE: &str = "GCS";
/// Attempts per request (the first one included).
const ATTEMPTS: u32 = 6;

/// A bucket of Google Cloud Storage (or of a server speaking its JSON API).
#[derive(Debug, Clone)]
pub struct Gcs {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    http: reqwest::Client,
    /// `https://storage.googleapis.com`, or an emulator's address.
    base: String,
    bucket: String,
    /// None: unsigned requests (emulators).
    credentials: Option<GcpCredentialProvider>,
}

/// An object's metadata as the JSON API returns it.
#[derive(Debug, Deserialize)]
struct Object {
    name: String,
    #[serde(deserialize_with = "number_text")]
    size: u64,
    updated: DateTime<Utc>,
    etag: Option<String>,
    generation: Option<String>,
}

fn number_text<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
    String::deserialize(deserializer)?.parse().map_err(serde::de::Error::custom)
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Listing {
    #[serde(default)]
    items: Vec<Object>,
    #[serde(default)]
    prefixes: Vec<String>,
    next_page_token: Option<String>,
}

impl Object {
    fn meta(self) -> ObjectMeta {
        ObjectMeta {
            location: Path::from(self.name),
            last_modified: self.updated,
            size: self.size,
            e_tag: self.etag,
            version: self.generation,
        }
    }
}

fn error(message: impl Into<String>) -> object_store::Error {
    object_store::Error::Generic { store: STORE, source: message.into().into() }
}

/// Percent-encodes an object name for a URL path segment or query value (`/` included).
fn encode(name: &str) -> String {
    const KEEP: &percent_encoding::AsciiSet =
        &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');
    percent_encoding::utf8_percent_encode(name, KEEP).to_string()
}

/// A `Range` header value for a range of an object.
fn range_header(range: &GetRange) -> String {
    match range {
        GetRange::Bounded(r) => format!("bytes={}-{}", r.start, r.end.saturating_sub(1)),
        GetRange::Offset(start) => format!("bytes={start}-"),
        GetRange::Suffix(n) => format!("bytes=-{n}"),
    }
}

impl Gcs {
    /// A client for `bucket`. `base_url` replaces `https://storage.googleapis.com` (emulators); `service_account`
    /// is a JSON key file (without one, application default credentials or the metadata server are used);
    /// `skip_signature` sends unauthenticated requests (emulators only).
    pub fn new(
        bucket: &str,
        base_url: Option<&str>,
        service_account: Option<&std::path::Path>,
        skip_signature: bool,
    ) -> anyhow::Result<Self> {
        let credentials = if skip_signature {
            None
        } else {
            let mut builder = GoogleCloudStorageBuilder::new().with_bucket_name(bucket);
            if let Some(path) = service_account {
                builder = builder.with_service_account_path(path.to_string_lossy());
            }
            Some(Arc::clone(builder.build()?.credentials()))
        };
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .read_timeout(Duration::from_secs(60))
            .build()?;
        let base = base_url.unwrap_or("https://storage.googleapis.com").trim_end_matches('/').to_string();
        Ok(Self { inner: Arc::new(Inner { http, base, bucket: bucket.to_string(), credentials }) })
    }
}

impl Inner {
    fn object_url(&self, path: &Path) -> String {
        format!("{}/storage/v1/b/{}/o/{}", self.base, encode(&self.bucket), encode(path.as_ref()))
    }

    fn upload_url(&self) -> String {
        format!("{}/upload/storage/v1/b/{}/o", self.base, encode(&self.bucket))
    }

    async fn authorized(&self, request: RequestBuilder) -> Result<RequestBuilder> {
        let Some(credentials) = &self.credentials else { return Ok(request) };
        let credential = credentials.get_credential().await?;
        // A key with `disable_oauth` (emulators) yields an empty token.
        Ok(if credential.bearer.is_empty() { request } else { request.bearer_auth(&credential.bearer) })
    }

    /// Sends the request `build` makes, again after a connection error, a timeout, 429 or 5xx (with backoff), and
    /// returns the first other response or the last failure.
    async fn send(&self, build: impl Fn(&reqwest::Client) -> RequestBuilder) -> Result<Response> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let outcome = self.authorized(build(&self.http)).await?.send().await;
            let retry = match &outcome {
                Ok(response) => retryable(response.status()),
                Err(err) => err.is_connect() || err.is_timeout() || err.is_request() || err.is_body(),
            };
            if !retry || attempt >= ATTEMPTS {
                return outcome.map_err(|err| error(format!("request failed after {attempt} attempt(s): {err}")));
            }
            tokio::time::sleep(backoff(attempt)).await;
        }
    }
}

fn retryable(status: StatusCode) -> bool {
    status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error()
}

fn backoff(attempt: u32) -> Duration {
    Duration::from_millis(100 * 2u64.pow(attempt.min(6)))
}

/// The response when it succeeded; otherwise the error its status means.
async fn check(response: Response, path: &Path) -> Result<Response> {
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    let body = response.text().await.unwrap_or_default();
    let source = format!("{status}: {}", body.chars().take(300).collect::<String>()).into();
    let path = path.to_string();
    Err(match status {
        StatusCode::NOT_FOUND => object_store::Error::NotFound { path, source },
        StatusCode::PRECONDITION_FAILED => object_store::Error::Precondition { path, source },
        StatusCode::NOT_MODIFIED => object_store::Error::NotModified { path, source },
        StatusCode::UNAUTHORIZED => object_store::Error::Unauthenticated { path, source },
        StatusCode::FORBIDDEN => object_store::Error::PermissionDenied { path, source },
        _ => object_store::Error::Generic { store: STORE, source },
    })
}

async fn json<T: serde::de::DeserializeOwned>(response: Response) -> Result<T> {
    let body = response.bytes().await.map_err(|err| error(format!("reading a response: {err}")))?;
    serde_json::from_slice(&body).map_err(|err| error(format!("unexpected response ({err})")))
}

fn put_result(object: &Object) -> PutResult {
    PutResult { e_tag: object.etag.clone(), version: object.generation.clone(), extensions: Default::default() }
}

impl std::fmt::Display for Gcs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "GoogleCloudStorage({}, {})", self.inner.bucket, self.inner.base)
    }
}

impl Gcs {
    async fn metadata(&self, location: &Path, generation: Option<&str>) -> Result<Object> {
        let url = self.inner.object_url(location);
        let response = self
            .inner
            .send(|http| {
                let request = http.get(&url);
                match generation {
                    Some(generation) => request.query(&[("generation", generation)]),
                    None => request,
                }
            })
            .await?;
        json(check(response, location).await?).await
    }

    /// Every page of a listing (`delimiter`: `/` for one folder level).
    async fn list_all(&self, prefix: Option<&Path>, delimiter: bool) -> Result<Listing> {
        let prefix = prefix.map(|p| format!("{p}/")).filter(|p| p != "/").unwrap_or_default();
        let url = format!("{}/storage/v1/b/{}/o", self.inner.base, encode(&self.inner.bucket));
        let mut all = Listing { items: Vec::new(), prefixes: Vec::new(), next_page_token: None };
        let mut token: Option<String> = None;
        loop {
            let response = self
                .inner
                .send(|http| {
                    let mut query = vec![("prefix", prefix.as_str())];
                    if delimiter {
                        query.push(("delimiter", "/"));
                    }
                    if let Some(token) = &token {
                        query.push(("pageToken", token.as_str()));
                    }
                    http.get(&url).query(&query)
                })
                .await?;
            let page: Listing = json(check(response, &Path::from(prefix.as_str())).await?).await?;
            let empty = page.items.is_empty() && page.prefixes.is_empty();
            all.items.extend(page.items);
            all.prefixes.extend(page.prefixes);
            // A server that ignores page tokens would repeat itself: stop on an empty page or a repeated token.
            match page.next_page_token {
                Some(next) if !empty && token.as_ref() != Some(&next) => token = Some(next),
                _ => return Ok(all),
            }
        }
    }

    async fn delete_one(&self, location: &Path) -> Result<()> {
        let url = self.inner.object_url(location);
        let response = self.inner.send(|http| http.delete(&url)).await?;
        // Deleting what is already gone succeeds, as on S3 and in a directory.
        if response.status() == StatusCode::NOT_FOUND {
            return Ok(());
        }
        check(response, location).await.map(drop)
    }
}

#[async_trait]
impl ObjectStore for Gcs {
    async fn put_opts(&self, location: &Path, payload: PutPayload, opts: PutOptions) -> Result<PutResult> {
        let body: Bytes = payload.into_iter().flatten().collect::<Vec<u8>>().into();
        let content_type = opts.attributes.get(&Attribute::ContentType).map(|v| v.to_string());
        let mut query = vec![("uploadType", "media".to_string()), ("name", location.to_string())];
        match &opts.mode {
            PutMode::Overwrite => {}
            PutMode::Create => query.push(("ifGenerationMatch", "0".into())),
            PutMode::Update(version) => {
                let generation = version.version.clone().ok_or_else(|| error("an update needs a generation"))?;
                query.push(("ifGenerationMatch", generation));
            }
        }
        let url = self.inner.upload_url();
        let response = self
            .inner
            .send(|http| {
                http.post(&url)
                    .query(&query)
                    .header("content-type", content_type.as_deref().unwrap_or("application/octet-stream"))
                    .body(body.clone())
            })
            .await?;
        let response = match check(response, location).await {
            Err(object_store::Error::Precondition { path, source }) if matches!(opts.mode, PutMode::Create) => {
                return Err(object_store::Error::AlreadyExists { path, source });
            }
            other => other?,
        };
        Ok(put_result(&json::<Object>(response).await?))
    }

    async fn put_multipart_opts(&self, location: &Path, opts: PutMultipartOptions) -> Result<Box<dyn MultipartUpload>> {
        let content_type = opts.attributes.get(&Attribute::ContentType).map(|v| v.to_string());
        Ok(Box::new(resumable::Upload::start(Arc::clone(&self.inner), location, content_type).await?))
    }

    async fn get_opts(&self, location: &Path, options: GetOptions) -> Result<GetResult> {
        let object = self.metadata(location, options.version.as_deref()).await?;
        let precondition = |message: &str| object_store::Error::Precondition {
            path: location.to_string(),
            source: message.to_string().into(),
        };
        if options.if_match.as_ref().is_some_and(|tag| object.etag.as_ref() != Some(tag)) {
            return Err(precondition("If-Match"));
        }
        if options.if_unmodified_since.is_some_and(|since| object.updated > since) {
            return Err(precondition("If-Unmodified-Since"));
        }
        let not_modified = options.if_none_match.as_ref().is_some_and(|tag| object.etag.as_ref() == Some(tag))
            || options.if_modified_since.is_some_and(|since| object.updated <= since);
        if not_modified {
            return Err(object_store::Error::NotModified {
                path: location.to_string(),
                source: "If-None-Match / If-Modified-Since".into(),
            });
        }
        let range = match &options.range {
            Some(range) => range.as_range(object.size).map_err(|err| error(format!("{location}: {err}")))?,
            None => 0..object.size,
        };
        let generation = object.generation.clone();
        let meta = object.meta();
        let payload: BoxStream<'static, Result<Bytes>> = if options.head || range.is_empty() {
            stream::empty().boxed()
        } else {
            let url = self.inner.object_url(location);
            let header = range_header(&GetRange::Bounded(range.clone()));
            let response = self
                .inner
                .send(|http| {
                    // The generation whose metadata was just read, so data and metadata agree.
                    let mut query = vec![("alt", "media")];
                    if let Some(generation) = &generation {
                        query.push(("generation", generation));
                    }
                    http.get(&url).query(&query).header("range", &header)
                })
                .await?;
            check(response, location)
                .await?
                .bytes_stream()
                .map_err(|err| error(format!("download interrupted: {err}")))
                .boxed()
        };
        Ok(GetResult {
            payload: GetResultPayload::Stream(payload),
            meta,
            range,
            attributes: Default::default(),
            extensions: Default::default(),
        })
    }

    fn delete_stream(&self, locations: BoxStream<'static, Result<Path>>) -> BoxStream<'static, Result<Path>> {
        let store = self.clone();
        locations
            .map(move |location| {
                let store = store.clone();
                async move {
                    let location = location?;
                    store.delete_one(&location).await?;
                    Ok(location)
                }
            })
            .buffered(8)
            .boxed()
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, Result<ObjectMeta>> {
        let store = self.clone();
        let prefix = prefix.cloned();
        stream::once(async move { store.list_all(prefix.as_ref(), false).await })
            .map_ok(|listing| stream::iter(listing.items.into_iter().map(|object| Ok(object.meta()))))
            .try_flatten()
            .boxed()
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> Result<ListResult> {
        let listing = self.list_all(prefix, true).await?;
        Ok(ListResult {
            common_prefixes: listing.prefixes.iter().map(|p| Path::from(p.trim_end_matches('/'))).collect(),
            objects: listing.items.into_iter().map(Object::meta).collect(),
            extensions: Default::default(),
        })
    }

    async fn copy_opts(&self, from: &Path, to: &Path, options: CopyOptions) -> Result<()> {
        let bucket = encode(&self.inner.bucket);
        let url = format!("{}/copyTo/b/{bucket}/o/{}", self.inner.object_url(from), encode(to.as_ref()));
        let create = matches!(options.mode, CopyMode::Create);
        let response = self
            .inner
            .send(|http| {
                let request = http.request(Method::POST, &url);
                if create { request.query(&[("ifGenerationMatch", "0")]) } else { request }
            })
            .await?;
        match check(response, from).await {
            Err(object_store::Error::Precondition { source, .. }) if create => {
                Err(object_store::Error::AlreadyExists { path: to.to_string(), source })
            }
            other => other.map(drop),
        }
    }
}

#[cfg(test)]
mod tests;
