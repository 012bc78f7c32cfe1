//! Files attached to a note, on its edit page: the list (each opens through the API's download, to the owner only),
//! an upload form (multipart, the CSRF token field first) and a remove button per file. A refused upload shows the
//! page again with the reason under the file field and the error's status (413, 415, 422).

use actix_multipart::Multipart;
use actix_web::{HttpRequest, HttpResponse, ResponseError as _, web};
use diesel_async::AsyncPgConnection;
use uuid::Uuid;

use super::notes::FormPage;
use super::{Flash, FormState, Layout, NoFields, PageUser, SignedForm, redirect, render};
use crate::error::{AppError, AppResult};
use crate::http::AppState;
use crate::http::files;
use crate::http::notes::note_id;
use crate::media::ACCEPTED;
use crate::models::{note, note_file};

/// A file as its row on the page.
#[derive(Debug)]
pub struct FileRow {
    pub url: String,
    pub remove: String,
    pub filename: String,
    pub content_type: String,
    pub size: String,
}

/// The files part of a note's edit page.
#[derive(Debug, Default)]
pub struct FilesView {
    pub rows: Vec<FileRow>,
    /// Why the last upload was refused.
    pub error: Option<String>,
    /// The largest file accepted, for the hint.
    pub limit: String,
}

impl FilesView {
    pub async fn of_note(
        state: &AppState,
        conn: &mut AsyncPgConnection,
        owner: Uuid,
        note: Uuid,
        error: Option<String>,
    ) -> AppResult<Self> {
        let rows = note_file::list(conn, owner, note)
            .await?
            .into_iter()
            .map(|file| FileRow {
                url: format!("/api/notes/{note}/files/{}", file.id),
                remove: format!("/notes/{note}/files/{}/delete", file.id),
                filename: file.filename,
                content_type: file.content_type,
                size: human_size(u64::try_from(file.size).unwrap_or_default()),
            })
            .collect();
        Ok(Self { rows, error, limit: human_size(state.config.media.max_bytes) })
    }
}

/// `1.5 MB`, `320 KB`, `12 bytes`.
pub fn human_size(bytes: u64) -> String {
    #[allow(clippy::cast_precision_loss)]
    let value = bytes as f64;
    if bytes >= 1_000_000 {
        format!("{:.1} MB", value / 1_000_000.0)
    } else if bytes >= 1000 {
        format!("{:.0} KB", value / 1000.0)
    } else {
        format!("{bytes} bytes")
    }
}

/// What a person reads when an upload is refused.
fn refusal(err: &AppError, limit: u64) -> Option<String> {
    Some(match err {
        AppError::PayloadTooLarge { .. } => format!("The file is larger than {}.", human_size(limit)),
        AppError::UnsupportedFile(_) => format!("Only {ACCEPTED} files can be attached (judged by their content)."),
        AppError::Validation(_) => "Choose a file to attach.".to_string(),
        AppError::BadRequest(problem) => format!("The upload could not be read: {problem}."),
        _ => return None,
    })
}

/// POST /notes/{id}/files
#[tracing::instrument(skip_all)]
pub async fn upload(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: PageUser,
    id: web::Path<String>,
    body: Multipart,
) -> AppResult<HttpResponse> {
    let note = note_id(&id)?;
    let session = user.0;
    let owner = session.user.id;
    let found = {
        let mut conn = state.conn().await?;
        note::find_owned(&mut conn, owner, note).await?.ok_or(AppError::NotFound)?
    };
    match files::receive(&state, owner, note, body, Some(&session.csrf_token)).await {
        Ok(file) => {
            let flash = Flash::success(format!("“{}” attached.", file.filename));
            Ok(redirect(&format!("/notes/{note}/edit#files"), Some(flash)))
        }
        Err(err) => {
            let Some(message) = refusal(&err, state.config.media.max_bytes) else { return Err(err) };
            let status = err.status_code();
            let mut conn = state.conn().await?;
            let files = FilesView::of_note(&state, &mut conn, owner, note, Some(message)).await?;
            let layout = Layout::new(&req, &state, Some(&session));
            let form = FormState::with(&[("title", &found.title), ("body", &found.body)]);
            let view = FormPage { layout: &layout, form: &form, id: Some(note.to_string()), files };
            render(&layout, status, &view)
        }
    }
}

/// POST /notes/{id}/files/{file}/delete
#[tracing::instrument(skip_all)]
pub async fn delete(
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    form: SignedForm<NoFields>,
) -> AppResult<HttpResponse> {
    let (note, file) = (note_id(&path.0)?, note_id(&path.1)?);
    let removed = files::remove(&state, form.user.user.id, note, file).await?;
    Ok(redirect(&format!("/notes/{note}/edit#files"), Some(Flash::info(format!("“{}” removed.", removed.filename)))))
}

#[cfg(test)]
mod tests {
    use super::human_size;

    #[test]
    fn sizes_read_plainly() {
        assert_eq!(human_size(12), "12 bytes");
        assert_eq!(human_size(320_400), "320 KB");
        assert_eq!(human_size(5 * 1024 * 1024), "5.2 MB");
    }
}
