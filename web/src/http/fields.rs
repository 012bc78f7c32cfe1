//! Typed fields from submitted values, for the resources the `template/resource` generator writes: the API's JSON
//! object and a page's form go through the same rules, and every problem is reported by field name (422).
//!
//! A resource lists its fields as [`Spec`]s. [`Check`] reads each one as a Rust type (a whole record for a create,
//! the fields present for a PATCH), collects the errors, and refuses a key that is not a field at all.

use chrono::{DateTime, NaiveDate, NaiveDateTime, SecondsFormat, Utc};
use serde_json::{Map, Value};

use crate::error::FieldErrors;
use crate::models::keyset::Keyset;

pub const LINE_MAX_CHARS: usize = 200;
pub const TEXT_MAX_CHARS: usize = 20_000;

/// The types a field can have (`name:type` on the generator's command line).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `string`: one line, trimmed, 1 to [`LINE_MAX_CHARS`] characters.
    Line,
    /// `text`: up to [`TEXT_MAX_CHARS`] characters, may be empty.
    Text,
    I32,
    I64,
    F64,
    Bool,
    /// `date`: `YYYY-MM-DD`.
    Date,
    /// `datetime`: RFC 3339, or a browser's `YYYY-MM-DDTHH:MM[:SS]` taken as UTC.
    DateTime,
}

impl Kind {
    /// The form control: an `<input>` type, `textarea` or `select` (yes/no).
    pub fn control(self) -> &'static str {
        match self {
            Self::Line => "text",
            Self::Text => "textarea",
            Self::I32 | Self::I64 | Self::F64 => "number",
            Self::Bool => "select",
            Self::Date => "date",
            Self::DateTime => "datetime-local",
        }
    }
}

/// One field of a resource.
#[derive(Debug, Clone, Copy)]
pub struct Spec {
    pub name: &'static str,
    pub label: &'static str,
    pub kind: Kind,
    /// `name:type?`: may be left out (NULL).
    pub optional: bool,
}

/// A Rust type a field is read into and shown from.
pub trait FieldType: Sized {
    fn read(kind: Kind, value: &Value) -> Result<Self, String>;
    /// The value as a form shows it (and as the API would take it back).
    fn text(&self) -> String;
}

fn as_text(value: &Value) -> Option<&str> {
    value.as_str().map(str::trim)
}

impl FieldType for String {
    fn read(kind: Kind, value: &Value) -> Result<Self, String> {
        let raw = value.as_str().ok_or("must be a string")?;
        // PostgreSQL's text cannot hold NUL: refused here (422) rather than failing the insert (500).
        if raw.contains('\0') {
            return Err("must not contain NUL characters".into());
        }
        if kind == Kind::Text {
            if raw.chars().count() > TEXT_MAX_CHARS {
                return Err(format!("must be at most {TEXT_MAX_CHARS} characters"));
            }
            return Ok(raw.to_string());
        }
        let line = raw.trim();
        if line.is_empty() {
            return Err("must not be empty".into());
        }
        if line.chars().count() > LINE_MAX_CHARS {
            return Err(format!("must be at most {LINE_MAX_CHARS} characters"));
        }
        if line.contains(['\n', '\r']) {
            return Err("must be one line".into());
        }
        Ok(line.to_string())
    }

    fn text(&self) -> String {
        self.clone()
    }
}

impl FieldType for i64 {
    fn read(_: Kind, value: &Value) -> Result<Self, String> {
        let whole = value.as_i64().or_else(|| as_text(value).and_then(|raw| raw.parse().ok()));
        whole.ok_or_else(|| "must be a whole number".into())
    }

    fn text(&self) -> String {
        self.to_string()
    }
}

impl FieldType for i32 {
    fn read(kind: Kind, value: &Value) -> Result<Self, String> {
        let whole = i64::read(kind, value)?;
        i32::try_from(whole).map_err(|_| format!("must be a whole number from {} to {}", i32::MIN, i32::MAX))
    }

    fn text(&self) -> String {
        self.to_string()
    }
}

impl FieldType for f64 {
    fn read(_: Kind, value: &Value) -> Result<Self, String> {
        let number = value.as_f64().or_else(|| as_text(value).and_then(|raw| raw.parse::<f64>().ok()));
        number.filter(|n| n.is_finite()).ok_or_else(|| "must be a number".into())
    }

    fn text(&self) -> String {
        self.to_string()
    }
}

impl FieldType for bool {
    fn read(_: Kind, value: &Value) -> Result<Self, String> {
        match value {
            Value::Bool(flag) => Ok(*flag),
            Value::String(raw) if raw.trim() == "true" => Ok(true),
            Value::String(raw) if raw.trim() == "false" => Ok(false),
            _ => Err("must be true or false".into()),
        }
    }

    fn text(&self) -> String {
        self.to_string()
    }
}

impl FieldType for NaiveDate {
    fn read(_: Kind, value: &Value) -> Result<Self, String> {
        let date = as_text(value).and_then(|raw| NaiveDate::parse_from_str(raw, "%Y-%m-%d").ok());
        date.ok_or_else(|| "must be a date, YYYY-MM-DD".into())
    }

    fn text(&self) -> String {
        self.format("%Y-%m-%d").to_string()
    }
}

impl FieldType for DateTime<Utc> {
    fn read(_: Kind, value: &Value) -> Result<Self, String> {
        let raw = as_text(value).unwrap_or_default();
        let at = DateTime::parse_from_rfc3339(raw).map(|at| at.with_timezone(&Utc)).ok().or_else(|| {
            ["%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M"]
                .iter()
                .find_map(|format| NaiveDateTime::parse_from_str(raw, format).ok())
                .map(|local| local.and_utc())
        });
        at.ok_or_else(|| "must be a date and time, RFC 3339 (2026-05-01T10:30:00Z)".into())
    }

    fn text(&self) -> String {
        self.to_rfc3339_opts(SecondsFormat::AutoSi, true)
    }
}

impl<T: FieldType> FieldType for Option<T> {
    fn read(kind: Kind, value: &Value) -> Result<Self, String> {
        T::read(kind, value).map(Some)
    }

    fn text(&self) -> String {
        self.as_ref().map(T::text).unwrap_or_default()
    }
}

/// Reads submitted values field by field, collecting what is wrong.
#[derive(Debug)]
pub struct Check<'a> {
    specs: &'a [Spec],
    values: &'a Map<String, Value>,
    errors: FieldErrors,
}

impl<'a> Check<'a> {
    /// Keys that are not fields are refused by name (a typo must not pass silently).
    pub fn new(specs: &'a [Spec], values: &'a Map<String, Value>) -> Self {
        let mut errors = FieldErrors::new();
        for key in values.keys().filter(|key| !specs.iter().any(|spec| spec.name == *key)) {
            errors.insert(key.clone(), "is not a field of this resource".into());
        }
        Self { specs, values, errors }
    }

    /// `None`: not given; `Some(None)`: null, or blank (a form's empty input) for anything but `text`.
    fn given<T: FieldType>(&mut self, name: &str) -> Option<Option<T>> {
        let spec = self.specs.iter().find(|spec| spec.name == name).unwrap_or_else(|| panic!("no field {name}"));
        let value = self.values.get(name)?;
        let blank = value.is_null() || (spec.kind != Kind::Text && as_text(value).is_some_and(str::is_empty));
        if blank {
            return Some(None);
        }
        match T::read(spec.kind, value) {
            Ok(read) => Some(Some(read)),
            Err(problem) => {
                self.errors.insert(name.to_string(), problem);
                None
            }
        }
    }

    /// A field a record must have (on error, a default that [`Check::finish`] never lets through).
    pub fn required<T: FieldType + Default>(&mut self, name: &str) -> T {
        match self.given(name) {
            Some(Some(value)) => value,
            Some(None) | None => {
                self.errors.entry(name.to_string()).or_insert_with(|| "is required".into());
                T::default()
            }
        }
    }

    /// A field a record may leave out.
    pub fn optional<T: FieldType>(&mut self, name: &str) -> Option<T> {
        self.given(name).flatten()
    }

    /// A required field in a change: `None` when not given; null is refused.
    pub fn change<T: FieldType>(&mut self, name: &str) -> Option<T> {
        match self.given(name) {
            Some(None) => {
                self.errors.insert(name.to_string(), "is required".into());
                None
            }
            given => given.flatten(),
        }
    }

    /// An optional field in a change: `None` when not given, `Some(None)` to clear it.
    pub fn change_optional<T: FieldType>(&mut self, name: &str) -> Option<Option<T>> {
        self.given(name)
    }

    /// The errors, if any.
    pub fn finish(self) -> Result<(), FieldErrors> {
        if self.errors.is_empty() { Ok(()) } else { Err(self.errors) }
    }

    /// As [`Check::finish`], for a change: at least one field must be given.
    pub fn finish_change(mut self) -> Result<(), FieldErrors> {
        if self.values.is_empty() {
            let names: Vec<&str> = self.specs.iter().map(|spec| spec.name).collect();
            self.errors.insert("body".into(), format!("give at least one of: {}", names.join(", ")));
        }
        self.finish()
    }
}

/// A form's fields as the values [`Check`] reads (all strings).
pub fn form_values(form: std::collections::BTreeMap<String, String>) -> Map<String, Value> {
    form.into_iter().map(|(key, value)| (key, Value::String(value))).collect()
}

pub const PER_PAGE_DEFAULT: i64 = 20;
pub const PER_PAGE_MAX: i64 = 100;

/// The listing's query string: `cursor` (the `next` of the previous page) and `per_page`.
#[derive(Debug, Default, serde::Deserialize)]
pub struct ListQuery {
    pub cursor: Option<String>,
    pub per_page: Option<String>,
}

impl ListQuery {
    /// Where the page starts and how long it is, or what is wrong with the query.
    pub fn parse(&self) -> Result<(Option<Keyset>, i64), FieldErrors> {
        let mut errors = FieldErrors::new();
        let per_page = match self.per_page.as_deref().map(str::parse::<i64>) {
            None => PER_PAGE_DEFAULT,
            Some(Ok(value)) if (1..=PER_PAGE_MAX).contains(&value) => value,
            Some(_) => {
                errors.insert("per_page".into(), format!("must be a whole number from 1 to {PER_PAGE_MAX}"));
                PER_PAGE_DEFAULT
            }
        };
        let after = match self.cursor.as_deref().filter(|raw| !raw.is_empty()) {
            None => None,
            Some(raw) => Keyset::decode(raw).or_else(|| {
                errors.insert("cursor".into(), "is not a `next` value of this listing".into());
                None
            }),
        };
        if errors.is_empty() { Ok((after, per_page)) } else { Err(errors) }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const SPECS: &[Spec] = &[
        Spec { name: "title", label: "Title", kind: Kind::Line, optional: false },
        Spec { name: "body", label: "Body", kind: Kind::Text, optional: true },
        Spec { name: "count", label: "Count", kind: Kind::I32, optional: false },
        Spec { name: "price", label: "Price", kind: Kind::F64, optional: true },
        Spec { name: "done", label: "Done", kind: Kind::Bool, optional: false },
        Spec { name: "due", label: "Due", kind: Kind::Date, optional: true },
        Spec { name: "at", label: "At", kind: Kind::DateTime, optional: true },
    ];

    fn map(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            other => panic!("not an object: {other}"),
        }
    }

    #[test]
    fn a_whole_record_reads_json_and_form_values_alike() {
        let from_json = map(json!({"title": " Tea ", "count": 3, "price": 2.5, "done": true, "due": "2026-05-01",
            "at": "2026-05-01T10:30:00+02:00"}));
        let from_form = form_values(
            [
                ("title", "Tea"),
                ("count", "3"),
                ("price", "2.5"),
                ("done", "true"),
                ("due", "2026-05-01"),
                ("at", "2026-05-01T08:30"),
                ("body", ""),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        );
        for values in [from_json, from_form] {
            let mut check = Check::new(SPECS, &values);
            let title: String = check.required("title");
            let count: i32 = check.required("count");
            let price: Option<f64> = check.optional("price");
            let done: bool = check.required("done");
            let due: Option<NaiveDate> = check.optional("due");
            let at: Option<DateTime<Utc>> = check.optional("at");
            check.finish().unwrap();
            assert_eq!((title.as_str(), count, price, done), ("Tea", 3, Some(2.5), true));
            assert_eq!(due.text(), "2026-05-01");
            assert_eq!(at.text(), "2026-05-01T08:30:00Z");
        }
    }

    #[test]
    fn every_problem_is_named() {
        let values = map(json!({"title": "", "count": 3_000_000_000_i64, "price": "cheap", "done": "maybe",
            "due": "2026-02-30", "at": "yesterday", "colour": "red"}));
        let mut check = Check::new(SPECS, &values);
        let _: String = check.required("title");
        let _: i32 = check.required("count");
        let _: Option<f64> = check.optional("price");
        let _: bool = check.required("done");
        let _: Option<NaiveDate> = check.optional("due");
        let _: Option<DateTime<Utc>> = check.optional("at");
        let errors = check.finish().unwrap_err();
        for name in ["title", "count", "price", "done", "due", "at", "colour"] {
            assert!(errors.contains_key(name), "{name}: {errors:?}");
        }
        assert_eq!(errors["title"], "is required");
        assert!(errors["count"].contains("2147483647"), "{errors:?}");
    }

    #[test]
    fn a_change_takes_what_is_given_and_clears_optional_fields() {
        let values = map(json!({"due": null, "count": "7"}));
        let mut check = Check::new(SPECS, &values);
        assert_eq!(check.change::<String>("title"), None);
        assert_eq!(check.change::<i32>("count"), Some(7));
        assert_eq!(check.change_optional::<NaiveDate>("due"), Some(None));
        assert_eq!(check.change_optional::<f64>("price"), None);
        check.finish_change().unwrap();

        let nulled = map(json!({"title": null}));
        let mut check = Check::new(SPECS, &nulled);
        let _ = check.change::<String>("title");
        assert_eq!(check.finish_change().unwrap_err()["title"], "is required");
        let empty = Map::new();
        assert!(Check::new(SPECS, &empty).finish_change().unwrap_err().contains_key("body"));
    }

    #[test]
    fn long_and_multi_line_values_are_refused() {
        let values = map(json!({"title": "x".repeat(LINE_MAX_CHARS + 1), "body": "y".repeat(TEXT_MAX_CHARS + 1)}));
        let mut check = Check::new(SPECS, &values);
        let _: String = check.required("title");
        let _: Option<String> = check.optional("body");
        let errors = check.finish().unwrap_err();
        assert!(errors["title"].contains("at most"), "{errors:?}");
        assert!(errors["body"].contains("at most"), "{errors:?}");
        assert_eq!(String::read(Kind::Line, &json!("a\nb")).unwrap_err(), "must be one line");
        assert!(f64::read(Kind::F64, &json!("NaN")).is_err());
    }

    #[test]
    fn list_queries_are_checked() {
        assert_eq!(ListQuery::default().parse().unwrap(), (None, PER_PAGE_DEFAULT));
        let bad = ListQuery { cursor: Some("junk".into()), per_page: Some("0".into()) };
        let errors = bad.parse().unwrap_err();
        assert!(errors.contains_key("cursor") && errors.contains_key("per_page"), "{errors:?}");
        let next = Keyset::start().encode();
        let good = ListQuery { cursor: Some(next), per_page: Some("5".into()) };
        assert_eq!(good.parse().unwrap(), (Some(Keyset::start()), 5));
    }
}
