//! Files attached to notes, over the API: upload (multipart/form-data, one `file` field), list, download (with
//! `Range`), delete. The note's owner only: anyone else gets 404, as for the note itself. See [`crate::media`].

use actix_multipart::Multipart;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use futures_util::{StreamExt as _, TryStreamExt as _};
use object_store::{GetOptions, GetRange, ObjectStore as _, ObjectStoreExt as _};
use serde::Serialize;
use uuid::Uuid;

use crate::config::StorageKind;
use crate::error::{AppError, AppResult, FieldErrors};
use crate::http::AppState;
use crate::http::identity::CurrentUser;
use crate::http::notes::note_id;
use crate::media::{self, Media, UploadError};
use crate::models::note_file::{self, NewNoteFile, NoteFile};
use crate::token;

/// A file as the API shows it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct FileView {
    #[serde(flatten)]
    pub file: NoteFile,
    /// Where to download it (this API, for every storage).
    pub url: String,
}

impl From<NoteFile> for FileView {
    fn from(file: NoteFile) -> Self {
        let url = format!("/api/notes/{}/files/{}", file.note_id, file.id);
        Self { file, url }
    }
}

/// The body of an upload: `multipart/form-data` with one `file` field (described for the OpenAPI document; the
/// body itself is streamed, never held whole).
#[derive(Debug)]
pub struct FileUpload;

impl utoipa::PartialSchema for FileUpload {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, SchemaFormat, Type};
        let file =
            ObjectBuilder::new().schema_type(Type::String).format(Some(SchemaFormat::KnownFormat(KnownFormat::Binary)));
        ObjectBuilder::new().property("file", file).required("file").into()
    }
}

impl utoipa::ToSchema for FileUpload {}

fn media(state: &AppState) -> AppResult<&Media> {
    state.media.as_ref().map_err(|problem| {
        tracing::error!(problem, "media storage unavailable");
        AppError::Unavailable
    })
}

/// The name shown for a file: the last part of the name the client gave, without control characters, at most 200
/// characters; the sniffed type's extension when there is none. Never used as a storage path.
/// Characters that change how the text around them is shown without being seen themselves: controls, bidirectional
/// overrides and isolates (`invoice\u{202e}fdp.exe` shows as `invoiceexe.pdf`), zero-width characters, the byte-order
/// mark. A file name keeps none of them.
fn invisible(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2060}'..='\u{2069}' | '\u{feff}')
}

fn display_name(given: Option<&str>, extension: &str) -> String {
    let base = given.unwrap_or_default().rsplit(['/', '\\']).next().unwrap_or_default();
    let clean: String = base.chars().filter(|c| !invisible(*c)).take(200).collect();
    let clean = clean.trim();
    if clean.is_empty() || clean.starts_with('.') { format!("file.{extension}") } else { clean.to_string() }
}

/// Reads a multipart body: a `csrf_token` field first when `csrf` is given (the pages' form), then the `file` field,
/// streamed into storage and recorded for the note. Nothing is stored when anything fails.
pub(crate) async fn receive(
    state: &AppState,
    owner: Uuid,
    note: Uuid,
    mut body: Multipart,
    csrf: Option<&str>,
) -> AppResult<NoteFile> {
    let media = media(state)?;
    let mut csrf_checked = csrf.is_none();
    while let Some(field) = body.next().await {
        let mut field = field.map_err(|err| AppError::BadRequest(format!("invalid multipart body: {err}")))?;
        match field.name() {
            Some("csrf_token") if csrf.is_some() => {
                let mut sent = Vec::new();
                while let Some(chunk) = field.next().await {
                    sent.extend_from_slice(&chunk.map_err(|err| AppError::BadRequest(err.to_string()))?);
                    if sent.len() > 256 {
                        break;
                    }
                }
                let expected = csrf.unwrap_or_default();
                csrf_checked = token::constant_time_eq(&String::from_utf8_lossy(&sent), expected);
            }
            Some("file") => {
                if !csrf_checked {
                    return Err(AppError::Forbidden("missing or wrong CSRF token (it must come before the file)"));
                }
                let given = field.content_disposition().and_then(|cd| cd.get_filename()).map(str::to_string);
                let stored = media::store(media, note, field).await.map_err(|err| match err {
                    UploadError::TooLarge(limit) => {
                        AppError::PayloadTooLarge { limit: usize::try_from(limit).unwrap_or(usize::MAX) }
                    }
                    UploadError::Unsupported => AppError::UnsupportedFile(err.to_string()),
                    UploadError::Empty => AppError::Validation(FieldErrors::from([("file".into(), err.to_string())])),
                    UploadError::Client(_) => AppError::BadRequest(err.to_string()),
                    UploadError::Storage(cause) => {
                        tracing::error!(error = format!("{cause:#}"), "media upload failed");
                        AppError::Unavailable
                    }
                })?;
                let filename = display_name(given.as_deref(), stored.kind.extension);
                let new = NewNoteFile {
                    note_id: note,
                    owner_id: owner,
                    key: &stored.key,
                    filename: &filename,
                    content_type: stored.kind.content_type,
                    size: i64::try_from(stored.size).unwrap_or(i64::MAX),
                };
                let recorded = match state.conn().await {
                    Ok(mut conn) => note_file::create(&mut conn, &new).await.map_err(AppError::from),
                    Err(err) => Err(err),
                };
                return match recorded {
                    Ok(Some(file)) => Ok(file),
                    // The note went away meanwhile, or the row could not be written: the object must not stay.
                    other => {
                        let path = media::check_key(&stored.key).expect("a generated key");
                        let _ = media.store.delete(&path).await;
                        other.and_then(|found| found.ok_or(AppError::NotFound))
                    }
                };
            }
            _ => {} // other fields are skipped
        }
    }
    if csrf_checked {
        Err(AppError::Validation(FieldErrors::from([("file".into(), "is required".into())])))
    } else {
        Err(AppError::Forbidden("missing or wrong CSRF token"))
    }
}

/// POST /api/notes/{id}/files
#[utoipa::path(post, path = "/api/notes/{id}/files", operation_id = "upload_file", tag = "files", summary = "Attach a file to a note",
    description = "One `file` field; PNG, JPEG, GIF, WebP or PDF, told by its first bytes.",
    security(("session" = [], "csrf" = [])), params(("id" = String, Path, description = "The note's id (a UUID)")),
    request_body(content = FileUpload, content_type = "multipart/form-data"),
    responses((status = 201, description = "Stored", body = FileView,
        headers(("Location" = String, description = "Where to download it")))))]
#[tracing::instrument(skip_all)]
pub async fn upload(
    state: web::Data<AppState>,
    current: CurrentUser,
    id: web::Path<String>,
    body: Multipart,
) -> AppResult<HttpResponse> {
    let note = note_id(&id)?;
    let owner = current.0.user.id;
    {
        let mut conn = state.conn().await?;
        if !note_file::note_is_owned(&mut conn, owner, note).await? {
            return Err(AppError::NotFound);
        }
    }
    let file = FileView::from(receive(&state, owner, note, body, None).await?);
    Ok(HttpResponse::Created().insert_header((header::LOCATION, file.url.clone())).json(file))
}

/// GET /api/notes/{id}/files
#[utoipa::path(get, path = "/api/notes/{id}/files", operation_id = "list_files", tag = "files", summary = "A note's files",
    security(("session" = [])), params(("id" = String, Path, description = "The note's id (a UUID)")),
    responses((status = 200, description = "The note's files, oldest first", body = Vec<FileView>)))]
#[tracing::instrument(skip_all)]
pub async fn list(
    state: web::Data<AppState>,
    current: CurrentUser,
    id: web::Path<String>,
) -> AppResult<web::Json<Vec<FileView>>> {
    let note = note_id(&id)?;
    let owner = current.0.user.id;
    let mut conn = state.conn().await?;
    if !note_file::note_is_owned(&mut conn, owner, note).await? {
        return Err(AppError::NotFound);
    }
    Ok(web::Json(note_file::list(&mut conn, owner, note).await?.into_iter().map(FileView::from).collect()))
}

fn ids(path: &(String, String)) -> AppResult<(Uuid, Uuid)> {
    Ok((note_id(&path.0)?, note_id(&path.1)?))
}

/// GET /api/notes/{id}/files/{file}: the bytes, or the range asked (206), with headers that keep the browser from
/// running them as a page of this site.
#[utoipa::path(get, path = "/api/notes/{id}/files/{file}", operation_id = "download_file", tag = "files", summary = "Download a file",
    description = "The bytes as stored, of the type sniffed at upload; `Range: bytes=...` gives a part.",
    security(("session" = [])),
    params(("id" = String, Path, description = "The note's id (a UUID)"), ("file" = String, Path, description = "The file's id (a UUID)"), ("Range" = Option<String>, Header, description = "One byte range, e.g. `bytes=0-99`")),
    responses(
        (status = 200, description = "The file", content(
            (Vec<u8> = "image/png"), (Vec<u8> = "image/jpeg"), (Vec<u8> = "image/gif"),
            (Vec<u8> = "image/webp"), (Vec<u8> = "application/pdf"))),
        (status = 206, description = "The range asked", content(
            (Vec<u8> = "image/png"), (Vec<u8> = "image/jpeg"), (Vec<u8> = "image/gif"),
            (Vec<u8> = "image/webp"), (Vec<u8> = "application/pdf"))),
        (status = 416, description = "The range is outside the file", body = crate::error::Body),
    ))]
#[tracing::instrument(skip_all)]
pub async fn download(
    req: HttpRequest,
    state: web::Data<AppState>,
    current: CurrentUser,
    path: web::Path<(String, String)>,
) -> AppResult<HttpResponse> {
    let (note, id) = ids(&path)?;
    let file = {
        let mut conn = state.conn().await?;
        note_file::find(&mut conn, current.0.user.id, note, id).await?.ok_or(AppError::NotFound)?
    };
    // A row whose key is not of the generated shape is never followed into storage.
    let location = media::check_key(&file.key).ok_or(AppError::NotFound)?;
    let media = media(&state)?;
    if media.config.accel_redirect && media.config.storage == StorageKind::Local {
        // nginx sends the file from the volume (ranges included), with these headers and its own safe ones.
        let mut response = HttpResponse::Ok();
        described(&mut response, &file);
        return Ok(response.insert_header(("X-Accel-Redirect", format!("/media/{location}"))).finish());
    }
    let size = u64::try_from(file.size).unwrap_or_default();
    let asked = req.headers().get(header::RANGE).and_then(|value| value.to_str().ok());
    let Ok(range) = media::byte_range(asked, size) else {
        return Ok(HttpResponse::RangeNotSatisfiable()
            .insert_header((header::CONTENT_RANGE, format!("bytes */{size}")))
            .json(serde_json::json!({ "error": { "code": "range_not_satisfiable", "message": "the range is outside the file" } })));
    };
    let options = GetOptions { range: range.clone().map(GetRange::Bounded), ..GetOptions::default() };
    let object = media.store.get_opts(&location, options).await.map_err(|err| match err {
        object_store::Error::NotFound { .. } => AppError::NotFound,
        other => {
            tracing::error!(error = %other, key = file.key, "media download failed");
            AppError::Unavailable
        }
    })?;
    let served = object.range.clone();
    let mut response = match range {
        Some(_) => {
            let mut partial = HttpResponse::PartialContent();
            partial.insert_header((
                header::CONTENT_RANGE,
                format!("bytes {}-{}/{}", served.start, served.end.saturating_sub(1), object.meta.size),
            ));
            partial
        }
        None => HttpResponse::Ok(),
    };
    described(&mut response, &file);
    Ok(response
        .insert_header((header::ACCEPT_RANGES, "bytes"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::CONTENT_SECURITY_POLICY, "default-src 'none'; sandbox"))
        .no_chunking(served.end - served.start)
        .streaming(object.into_stream().map_err(|err| actix_web::error::ErrorInternalServerError(err.to_string()))))
}

/// The headers that describe a file, whoever sends its bytes (nginx keeps these on an `X-Accel-Redirect`): its
/// sniffed type, its name, shown inline for images and downloaded otherwise, cached by this browser only.
fn described(response: &mut actix_web::HttpResponseBuilder, file: &NoteFile) {
    response
        .insert_header((header::CONTENT_TYPE, file.content_type.clone()))
        .insert_header((header::CONTENT_DISPOSITION, disposition(&file.content_type, &file.filename)))
        .insert_header((header::CACHE_CONTROL, "private, max-age=3600"));
}

/// `Content-Disposition` for a file of `content_type` named `filename`: the name percent-encoded (RFC 8187), so the
/// header is plain ASCII whatever the name holds.
fn disposition(content_type: &str, filename: &str) -> String {
    let disposition = if content_type.starts_with("image/") { "inline" } else { "attachment" };
    let encoded = percent_encoding::utf8_percent_encode(filename, percent_encoding::NON_ALPHANUMERIC);
    format!("{disposition}; filename*=UTF-8''{encoded}")
}

/// DELETE /api/notes/{id}/files/{file}: the row at once, the object by the `media.delete` task enqueued with it
/// (and right away, when storage answers).
#[utoipa::path(delete, path = "/api/notes/{id}/files/{file}", operation_id = "delete_file", tag = "files", summary = "Remove a file",
    security(("session" = [], "csrf" = [])), params(("id" = String, Path, description = "The note's id (a UUID)"), ("file" = String, Path, description = "The file's id (a UUID)")),
    responses((status = 204, description = "Removed")))]
#[tracing::instrument(skip_all)]
pub async fn delete(
    state: web::Data<AppState>,
    current: CurrentUser,
    path: web::Path<(String, String)>,
) -> AppResult<HttpResponse> {
    let (note, id) = ids(&path)?;
    let owner = current.0.user.id;
    remove(&state, owner, note, id).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Deletes a file of the owner's note: its row and the `media.delete` task in one transaction, then the object.
pub(crate) async fn remove(state: &AppState, owner: Uuid, note: Uuid, id: Uuid) -> AppResult<NoteFile> {
    use diesel_async::AsyncConnection as _;
    let mut conn = state.conn().await?;
    let deleted = conn
        .transaction(async |conn| {
            let Some(file) = note_file::delete(conn, owner, note, id).await? else { return Ok(None) };
            crate::tasks::enqueue(conn, &media::tasks::DeleteFiles { keys: vec![file.key.clone()] }).await?;
            Ok::<_, diesel::result::Error>(Some(file))
        })
        .await?
        .ok_or(AppError::NotFound)?;
    if let (Ok(media), Some(location)) = (media(state), media::check_key(&deleted.key)) {
        // The task deletes it again later if this fails; deleting twice is harmless.
        let _ = media.store.delete(&location).await;
    }
    Ok(deleted)
}

#[cfg(test)]
mod tests {
    use super::{display_name, disposition};

    #[test]
    fn shown_names_are_plain_and_bounded() {
        assert_eq!(display_name(Some("../../etc/passwd"), "png"), "passwd");
        assert_eq!(display_name(Some("C:\\Users\\a\\photo.jpg"), "jpg"), "photo.jpg");
        assert_eq!(display_name(Some("a\u{0}b\nc.pdf"), "pdf"), "abc.pdf");
        assert_eq!(display_name(Some(".htaccess"), "png"), "file.png");
        assert_eq!(display_name(None, "gif"), "file.gif");
        assert_eq!(display_name(Some(&"x".repeat(500)), "png").chars().count(), 200);
        assert_eq!(display_name(Some("invoice\u{202e}fdp.exe"), "pdf"), "invoicefdp.exe");
        assert_eq!(display_name(Some("\u{200b}\u{feff}"), "pdf"), "file.pdf");
    }

    proptest::proptest! {
        /// Whatever name an upload claims, the name kept is one file name, visible, bounded, and its header valid.
        #[test]
        fn any_claimed_name_is_kept_plain(given in crate::hostile::text()) {
            let name = display_name(Some(&given), "pdf");
            proptest::prop_assert!(!name.is_empty() && name.chars().count() <= 200);
            proptest::prop_assert!(!name.contains(['/', '\\']) && !name.starts_with('.'), "{name:?}");
            proptest::prop_assert!(name.trim() == name, "{name:?}");
            let hidden = ['\u{202e}', '\u{2066}', '\u{200b}', '\u{feff}', '\u{85}', '\u{7f}'];
            proptest::prop_assert!(!name.chars().any(|c| c.is_control() || hidden.contains(&c)), "{name:?}");
            let header = disposition("application/pdf", &name);
            proptest::prop_assert!(crate::hostile::safe_header_text(&header), "{header:?}");
            proptest::prop_assert!(actix_web::http::header::HeaderValue::from_str(&header).is_ok());
        }
    }
}
