//! The API as a contract: an OpenAPI 3.1 document generated from the handlers' own annotations (utoipa), served at
//! `GET /api/openapi.json`, and listed for people at `GET /api/docs`. The answers every operation shares (the
//! errors of a JSON body, of a session, of an id in the path) are added here from what each operation declares, so
//! no handler can forget one; schemathesis checks the running stack against it (scripts/compose-test.sh).

use std::sync::OnceLock;

use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, RefOr};
use utoipa::{Modify, OpenApi};

use crate::http::{email_links, files, health, login, notes, openapi_resources};

/// The name of the session scheme (the `session` cookie).
pub const SESSION: &str = "session";
/// The name of the CSRF scheme (the `X-CSRF-Token` header, required with the cookie on every change).
pub const CSRF: &str = "csrf";

#[derive(Debug, OpenApi)]
#[openapi(
    info(
        title = "API",
        description = "The JSON API of the site. Sign up or log in to get the `session` cookie and a `csrf_token`; \
                       send the token back in the `X-CSRF-Token` header of every request that changes something. \
                       Every error has the body `{\"error\": {\"code\", \"message\", \"fields\"?}}`."
    ),
    paths(
        login::signup,
        login::login,
        login::logout,
        login::me,
        email_links::verify_email,
        email_links::request_reset,
        email_links::confirm_reset,
        notes::list,
        notes::create,
        notes::get,
        notes::update,
        notes::delete,
        files::upload,
        files::list,
        files::download,
        files::delete,
        health::healthz,
        health::readyz,
    ),
    modifiers(&Shared),
    tags(
        (name = "auth", description = "Accounts and sessions"),
        (name = "notes", description = "The example resource: notes owned by the signed-in user"),
        (name = "files", description = "Files attached to a note"),
        (name = "health", description = "Probes for orchestrators"),
    )
)]
pub struct ApiDoc;

/// The whole document: the handlers' annotations, the links between operations, and every generated resource
/// (`http::openapi_resources`); built once.
fn value() -> &'static serde_json::Value {
    static VALUE: OnceLock<serde_json::Value> = OnceLock::new();
    VALUE.get_or_init(|| {
        let mut doc = ApiDoc::openapi();
        doc.info.version = env!("CARGO_PKG_VERSION").to_string();
        let mut value = serde_json::to_value(&doc).unwrap_or_default();
        add_links(&mut value);
        // At least one of the two (utoipa 5.5 writes `min_properties` as maxProperties, so it is said here).
        value["components"]["schemas"]["NotePatch"]["anyOf"] =
            serde_json::json!([{ "required": ["title"] }, { "required": ["body"] }]);
        for names in crate::http::resources::app::NAV {
            openapi_resources::add(&mut value, names);
        }
        add_shared_answers(&mut value);
        value
    })
}

/// The document as JSON, with the site's name as its title; built once.
pub fn document(app_name: &str) -> &'static str {
    static DOCUMENT: OnceLock<String> = OnceLock::new();
    DOCUMENT.get_or_init(|| {
        let mut value = value().clone();
        value["info"]["title"] = serde_json::Value::from(format!("{app_name} API"));
        serde_json::to_string_pretty(&value).unwrap_or_else(|err| {
            tracing::error!(%err, "serializing the OpenAPI document");
            String::from("{}")
        })
    })
}

/// Adds the security schemes and the 429 of the routes nginx limits.
struct Shared;

impl Modify for Shared {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(SESSION, SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new("session"))));
        components.add_security_scheme(CSRF, SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("X-CSRF-Token"))));
        // nginx limits these POSTs per client address (nginx/conf/locations.conf), whatever the application says.
        for path in
            ["/api/auth/signup", "/api/auth/login", "/api/auth/password-reset", "/api/auth/password-reset/confirm"]
        {
            if let Some(operation) = doc.paths.paths.get_mut(path).and_then(|item| item.post.as_mut()) {
                operation.responses.responses.entry("429".to_string()).or_insert_with(too_many);
            }
        }
    }
}

/// What a created item leads to: OpenAPI links from the 201 answer of a POST to the operations on the item, their
/// parameters taken from the answer (clients and schemathesis' stateful tests follow them). Written into the JSON:
/// utoipa 5.5 serializes a link's `operationId` as `operation_id`.
fn add_links(doc: &mut serde_json::Value) {
    let note = serde_json::json!({ "id": "$response.body#/id" });
    let file = serde_json::json!({ "id": "$response.body#/note_id", "file": "$response.body#/id" });
    let links = [
        ("/api/notes", &note, &["get_note", "update_note", "delete_note", "list_files", "upload_file"][..]),
        ("/api/notes/{id}/files", &file, &["download_file", "delete_file"][..]),
    ];
    for (path, parameters, targets) in links {
        let created = &mut doc["paths"][path]["post"]["responses"]["201"];
        if !created.is_object() {
            continue;
        }
        let links: serde_json::Map<String, serde_json::Value> = targets
            .iter()
            .map(|target| {
                let link = serde_json::json!({ "operationId": target, "parameters": parameters });
                ((*target).to_string(), link)
            })
            .collect();
        created["links"] = serde_json::Value::Object(links);
    }
}

/// 429 with the shared body and `Retry-After`.
fn too_many() -> RefOr<Response> {
    let retry_after = utoipa::openapi::header::HeaderBuilder::new()
        .schema(utoipa::openapi::schema::ObjectBuilder::new().schema_type(utoipa::openapi::schema::Type::Integer))
        .description(Some("Seconds to wait before trying again"))
        .build();
    ResponseBuilder::new()
        .description("Too many attempts from this address")
        .header("Retry-After", retry_after)
        .content("application/json", ContentBuilder::new().schema(Some(Ref::from_schema_name("Error"))).build())
        .build()
        .into()
}

/// Adds to every operation of `doc` the answers it shares with the others, from what it declares: a JSON body
/// brings 400, 413, 415 and 422 (a form or a file their own 400 and 415), a session 401, a change with a session
/// 403, an id in the path 404, a query parameter 400, an `/api/` path 503. An answer the operation states itself is
/// kept. One pass over the whole document: the handlers' operations and the generated resources' alike.
pub(crate) fn add_shared_answers(doc: &mut serde_json::Value) {
    let Some(paths) = doc["paths"].as_object_mut() else { return };
    for (path, item) in paths {
        let has_id = path.contains('{');
        let api = path.starts_with("/api/");
        for method in ["get", "post", "patch", "delete"] {
            if let Some(operation) = item.get_mut(method).filter(|operation| operation.is_object()) {
                shared_answers(operation, method != "get", has_id, api);
            }
        }
    }
}

fn shared_answers(operation: &mut serde_json::Value, changes: bool, has_id: bool, api: bool) {
    let signed_in = operation["security"].as_array().is_some_and(|security| !security.is_empty());
    let query =
        operation["parameters"].as_array().is_some_and(|parameters| parameters.iter().any(|p| p["in"] == "query"));
    let body =
        operation["requestBody"]["content"].as_object().map(|content| content.keys().cloned().collect::<Vec<_>>());
    let responses = &mut operation["responses"];
    let mut add = |status: &str, description: &str| {
        if responses.get(status).is_none() {
            responses[status] = error(description);
        }
    };
    if let Some(types) = body {
        if types.iter().any(|t| t == "application/json") {
            add("400", "The body is not valid JSON, or a field has the wrong type");
            add("415", "The body is not `application/json`");
        } else {
            add("400", "The body is not a well-formed form");
            add("415", "The file's content is not an allowed type");
        }
        add("413", "The body is over the size limit");
        add("422", "A field was refused: `fields` names each with its problem");
    }
    if signed_in {
        add("401", "No valid session: signed out, expired or never signed in");
        if changes {
            add("403", "The `X-CSRF-Token` header is missing or wrong, or the request came from another site");
        }
    }
    if has_id {
        add("404", "No such item, or it is someone else's");
    }
    if query {
        add("400", "A query parameter is malformed: given twice, or not of its type");
    }
    if api {
        add("503", "The database (or, for files, the storage) does not answer; try again");
    }
}

/// An error answer with the shared body.
pub(crate) fn error(description: &str) -> serde_json::Value {
    serde_json::json!({ "description": description,
        "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } })
}

/// The operations of the document, for the docs page: (method, path, summary, tag), in path order.
pub fn operations() -> Vec<(String, String, String, String)> {
    let mut listed = Vec::new();
    let Some(paths) = value()["paths"].as_object() else { return listed };
    let mut paths: Vec<_> = paths.iter().collect();
    paths.sort_by(|a, b| a.0.cmp(b.0));
    for (path, item) in paths {
        for method in ["get", "post", "patch", "delete"] {
            let operation = &item[method];
            if operation.is_object() {
                let text = |value: &serde_json::Value| value.as_str().unwrap_or_default().to_string();
                listed.push((
                    method.to_uppercase(),
                    path.clone(),
                    text(&operation["summary"]),
                    text(&operation["tags"][0]),
                ));
            }
        }
    }
    listed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_document_is_openapi_3_1_with_every_api_route() {
        let doc: serde_json::Value = serde_json::from_str(document("test")).unwrap();
        assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"), "{}", doc["openapi"]);
        for path in ["/api/auth/signup", "/api/notes", "/api/notes/{id}", "/api/notes/{id}/files/{file}"] {
            assert!(doc["paths"][path].is_object(), "{path} missing");
        }
        // Shared answers: a JSON body brings 400/413/415/422, a session 401, a change 403, an id 404.
        let create = &doc["paths"]["/api/notes"]["post"]["responses"];
        for status in ["201", "400", "401", "403", "413", "415", "422"] {
            assert!(create[status].is_object(), "POST /api/notes lacks {status}");
        }
        assert!(doc["paths"]["/api/notes/{id}"]["get"]["responses"]["404"].is_object());
        assert!(doc["paths"]["/api/notes"]["get"]["responses"]["403"].is_null(), "a read has no CSRF answer");
        assert_eq!(doc["components"]["securitySchemes"]["session"]["in"], "cookie");
        assert!(doc["components"]["schemas"]["Error"].is_object());
        let patch = &doc["components"]["schemas"]["NotePatch"];
        assert!(patch["anyOf"].is_array() && patch["maxProperties"].is_null(), "{patch}");
        let link = &doc["paths"]["/api/notes"]["post"]["responses"]["201"]["links"]["get_note"];
        assert_eq!(link["operationId"], "get_note");
        assert_eq!(link["parameters"]["id"], "$response.body#/id");
    }
}
