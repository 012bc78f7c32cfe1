//! The JSON body extractor of the API. Unlike actix's own it answers every problem in our JSON error shape and
//! separates the cases a client needs to tell apart: not JSON at all (415), too big (413), malformed (400), and
//! well-formed but of the wrong shape (422 naming the field, found with `serde_path_to_error`).

use std::ops::Deref;

use actix_web::dev::Payload;
use actix_web::web::BytesMut;
use actix_web::{FromRequest, HttpMessage as _, HttpRequest};
use futures_util::StreamExt as _;
use futures_util::future::LocalBoxFuture;
use serde::de::DeserializeOwned;

use crate::error::{AppError, FieldErrors};
use crate::http::AppState;

#[derive(Debug)]
pub struct ApiJson<T>(pub T);

impl<T> Deref for ApiJson<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

fn is_json(req: &HttpRequest) -> bool {
    match req.mime_type() {
        Ok(Some(mime)) => {
            mime.type_() == "application" && (mime.subtype() == "json" || mime.suffix().is_some_and(|s| s == "json"))
        }
        _ => false,
    }
}

/// Deserializes `bytes`, classifying the failure.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, AppError> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner();
        match inner.classify() {
            serde_json::error::Category::Data if path != "." => {
                AppError::Validation(FieldErrors::from([(path, strip_position(&inner))]))
            }
            serde_json::error::Category::Data => AppError::invalid("body", strip_position(&inner)),
            _ => AppError::BadRequest(format!("malformed JSON: {inner}")),
        }
    })?;
    deserializer.end().map_err(|err| AppError::BadRequest(format!("malformed JSON: {err}")))?;
    Ok(value)
}

/// serde_json appends "at line 1 column 9"; for a named field that is noise.
fn strip_position(err: &serde_json::Error) -> String {
    let text = err.to_string();
    match text.find(" at line ") {
        Some(index) => text[..index].to_string(),
        None => text,
    }
}

impl<T: DeserializeOwned + 'static> FromRequest for ApiJson<T> {
    type Error = AppError;
    type Future = LocalBoxFuture<'static, Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let limit =
            req.app_data::<actix_web::web::Data<AppState>>().map_or(256 * 1024, |state| state.config.http.body_limit);
        let json = is_json(req);
        let declared = req
            .headers()
            .get(actix_web::http::header::CONTENT_LENGTH)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.parse::<usize>().ok());
        let mut payload = payload.take();
        Box::pin(async move {
            if !json {
                return Err(AppError::UnsupportedMediaType);
            }
            if declared.is_some_and(|length| length > limit) {
                return Err(AppError::PayloadTooLarge { limit });
            }
            let mut body = BytesMut::new();
            while let Some(chunk) = payload.next().await {
                let chunk = chunk.map_err(|err| AppError::BadRequest(format!("reading request body: {err}")))?;
                if body.len() + chunk.len() > limit {
                    return Err(AppError::PayloadTooLarge { limit });
                }
                body.extend_from_slice(&chunk);
            }
            parse(&body).map(ApiJson)
        })
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Deserialize)]
    struct Input {
        #[allow(dead_code)]
        title: Option<String>,
    }

    #[test]
    fn malformed_is_bad_request() {
        assert!(matches!(parse::<Input>(b"{\"title\": "), Err(AppError::BadRequest(_))));
        assert!(matches!(parse::<Input>(b"{} trailing"), Err(AppError::BadRequest(_))));
    }

    #[test]
    fn wrong_type_names_the_field() {
        match parse::<Input>(br#"{"title": 5}"#) {
            Err(AppError::Validation(fields)) => assert!(fields.contains_key("title"), "{fields:?}"),
            other => panic!("unexpected {other:?}"),
        }
        assert!(matches!(parse::<Input>(b"[1]"), Err(AppError::Validation(_))));
    }
}
