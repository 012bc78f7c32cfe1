//! The pages of a generated resource (`template/resource`): a keyset-paged table of the signed-in owner's records and
//! a form to create, edit and delete one. The generated code gives its names, its fields ([`Spec`]s) and each
//! record's values as text; the templates (`templates/resource/`) are shared by every resource.

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use askama::Template;
use serde_json::{Map, Value};

use super::{Layout, render};
use crate::error::{AppResult, FieldErrors};
use crate::http::fields::{Kind, Spec};

/// How a resource is named on its pages and in the API's OpenAPI document (`http::openapi_resources`).
#[derive(Debug, Clone, Copy)]
pub struct Names {
    /// Where its pages live: `/products` (the list), `/products/new`, `/products/{id}/edit`; the API is under `/api`
    /// followed by the same path.
    pub path: &'static str,
    /// One record, in a sentence: "product".
    pub one: &'static str,
    /// The list's heading: "Products".
    pub title: &'static str,
    /// The record's schema in the OpenAPI document: "Product".
    pub schema: &'static str,
    /// Its fields.
    pub fields: &'static [Spec],
}

/// One row of the list: its id and a cell per field.
#[derive(Debug)]
pub struct Row {
    pub id: String,
    pub cells: Vec<Cell>,
}

/// A value as the list shows it; short values (numbers, dates, yes/no) do not wrap.
#[derive(Debug)]
pub struct Cell {
    pub text: String,
    pub nowrap: bool,
}

#[derive(Template)]
#[template(path = "resource/list.html")]
struct ListPage<'a> {
    layout: &'a Layout,
    names: &'a Names,
    headers: Vec<&'static str>,
    rows: Vec<Row>,
    next: Option<&'a str>,
    first_page: bool,
}

/// What a list cell shows for a value in its form text.
fn cell(kind: Kind, text: &str) -> Cell {
    let shown = match (kind, text) {
        (_, "") => "—".into(),
        (Kind::Bool, "true") => "Yes".into(),
        (Kind::Bool, _) => "No".into(),
        (Kind::Text, long) if long.chars().count() > 80 => long.chars().take(79).chain(['…']).collect(),
        (Kind::DateTime, at) => chrono::DateTime::parse_from_rfc3339(at)
            .map_or_else(|_| at.to_string(), |at| at.format("%Y-%m-%d %H:%M UTC").to_string()),
        (_, other) => other.to_string(),
    };
    Cell { text: shown, nowrap: !matches!(kind, Kind::Line | Kind::Text) }
}

/// The list page: `records` are each one's id and its values in the order of `specs`.
pub fn list(
    layout: &Layout,
    names: &Names,
    specs: &[Spec],
    records: Vec<(String, Vec<String>)>,
    next: Option<&str>,
    first_page: bool,
) -> AppResult<HttpResponse> {
    let rows = records
        .into_iter()
        .map(|(id, values)| Row { id, cells: specs.iter().zip(&values).map(|(s, v)| cell(s.kind, v)).collect() })
        .collect();
    let headers = specs.iter().map(|spec| spec.label).collect();
    render(layout, StatusCode::OK, &ListPage { layout, names, headers, rows, next, first_page })
}

/// One control of the form.
#[derive(Debug)]
pub struct Control {
    pub name: &'static str,
    pub label: &'static str,
    /// An `<input>` type, `textarea` or `select`.
    pub control: &'static str,
    pub value: String,
    pub error: Option<String>,
    pub required: bool,
    /// `step` of a number input: `1` for whole numbers, `any` otherwise.
    pub step: &'static str,
}

#[derive(Template)]
#[template(path = "resource/form.html")]
struct FormPage<'a> {
    layout: &'a Layout,
    names: &'a Names,
    controls: Vec<Control>,
    /// `None` for a new record.
    id: Option<&'a str>,
}

/// The form, new (`id` `None`) or for the record `id`, with `values` (by field name, as text) and `errors`; a form
/// shown again after a refusal is a 422.
pub fn form(
    layout: &Layout,
    names: &Names,
    specs: &[Spec],
    values: &Map<String, Value>,
    errors: &FieldErrors,
    id: Option<&str>,
) -> AppResult<HttpResponse> {
    let controls = specs
        .iter()
        .map(|spec| {
            let text = values.get(spec.name).and_then(Value::as_str).unwrap_or_default();
            // A datetime-local input takes no zone: the time is shown, and read back, as UTC.
            let value = match spec.kind {
                Kind::DateTime => text.trim_end_matches('Z').to_string(),
                _ => text.to_string(),
            };
            Control {
                name: spec.name,
                label: spec.label,
                control: spec.kind.control(),
                value,
                error: errors.get(spec.name).cloned(),
                required: !spec.optional,
                step: if spec.kind == Kind::F64 { "any" } else { "1" },
            }
        })
        .collect();
    let status = if errors.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    render(layout, status, &FormPage { layout, names, controls, id })
}

/// A record's values (in the order of `specs`) as the form's values.
pub fn values(specs: &[Spec], texts: Vec<String>) -> Map<String, Value> {
    specs.iter().zip(texts).map(|(spec, text)| (spec.name.to_string(), Value::String(text))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_show_yes_no_dashes_and_short_text() {
        assert_eq!(cell(Kind::Bool, "true").text, "Yes");
        assert_eq!(cell(Kind::Bool, "false").text, "No");
        assert_eq!(cell(Kind::Date, "").text, "—");
        assert_eq!(cell(Kind::Text, &"a".repeat(100)).text.chars().count(), 80);
        assert_eq!(cell(Kind::DateTime, "2026-05-01T10:30:00Z").text, "2026-05-01 10:30 UTC");
        assert!(cell(Kind::I64, "42").nowrap && !cell(Kind::Line, "x").nowrap);
    }
}
