//! The resources of `template/resource` in the OpenAPI document. Their fields are data ([`Spec`]s), not Rust types
//! with utoipa's derives, so each resource's schemas and operations are written from its specs into the document's
//! JSON: the record, the body of a create (every required field) and of a PATCH (at least one field; null clears an
//! optional one), a page of the list, and the five operations with the answers every operation of the API shares.

use serde_json::{Map, Value, json};

use crate::http::fields::{Kind, LINE_MAX_CHARS, PER_PAGE_MAX, Spec, TEXT_MAX_CHARS};
use crate::http::openapi::{CSRF, SESSION, error};
use crate::http::pages::resource::Names;

/// The JSON schema of one field's value (not null).
fn value_schema(kind: Kind) -> Value {
    match kind {
        // One line with something other than spaces; the length counts after trimming.
        Kind::Line => json!({ "type": "string", "minLength": 1, "pattern": "^[^\\r\\n]*\\S[^\\r\\n]*$",
            "description": format!("1 to {LINE_MAX_CHARS} characters once trimmed") }),
        Kind::Text => json!({ "type": "string", "maxLength": TEXT_MAX_CHARS }),
        Kind::I32 => json!({ "type": "integer", "format": "int32", "minimum": i32::MIN, "maximum": i32::MAX }),
        Kind::I64 => json!({ "type": "integer", "format": "int64", "minimum": i64::MIN, "maximum": i64::MAX }),
        Kind::F64 => json!({ "type": "number", "format": "double" }),
        Kind::Bool => json!({ "type": "boolean" }),
        Kind::Date => json!({ "type": "string", "format": "date" }),
        Kind::DateTime => json!({ "type": "string", "format": "date-time" }),
    }
}

/// A field's schema: its value, or null when it is optional.
fn field_schema(spec: &Spec) -> Value {
    let value = value_schema(spec.kind);
    let mut schema = if spec.optional { json!({ "oneOf": [value, { "type": "null" }] }) } else { value };
    if schema.get("description").is_none() {
        schema["description"] = Value::from(spec.label);
    }
    schema
}

fn object(properties: Map<String, Value>, required: &[&str], extra: Value) -> Value {
    let mut schema = json!({ "type": "object", "required": required });
    schema["properties"] = Value::Object(properties);
    if let (Some(schema), Value::Object(extra)) = (schema.as_object_mut(), extra) {
        schema.extend(extra);
    }
    schema
}

fn json_body(schema: &str, description: &str) -> Value {
    json!({ "description": description, "content": { "application/json": { "schema": { "$ref": format!("#/components/schemas/{schema}") } } } })
}

/// One operation: its id, summary, own answers and security (the answers every operation shares are added to the
/// whole document by `openapi::add_shared_answers`).
fn operation(tag: &str, id: &str, summary: &str, changes: bool, has_id: bool, responses: Value) -> Value {
    let security = if changes { json!([{ SESSION: [], CSRF: [] }]) } else { json!([{ SESSION: [] }]) };
    let mut operation = json!({ "tags": [tag], "operationId": id, "summary": summary, "security": security });
    operation["responses"] = responses;
    if has_id {
        operation["parameters"] = json!([{ "name": "id", "in": "path", "required": true,
            "description": "The record's id (a UUID)", "schema": { "type": "string" } }]);
    }
    operation
}

/// A JSON request body, with what this API says of a refused one (the other answers of a body are the shared ones).
fn with_body(mut operation: Value, schema: &str) -> Value {
    operation["requestBody"] = json!({ "required": true,
        "content": { "application/json": { "schema": { "$ref": format!("#/components/schemas/{schema}") } } } });
    let responses = &mut operation["responses"];
    responses["400"] = error("The body is not valid JSON, or not an object");
    responses["422"] = error("A field was refused (or is not a field at all): `fields` names each with its problem");
    operation
}

/// Adds the schemas, paths and tag of the resource `names` to the document `doc`.
pub fn add(doc: &mut Value, names: &Names) {
    let schema = names.schema;
    let plural = names.path.trim_start_matches('/').replace('-', "_");
    let one = names.one.replace(' ', "_");
    let fields = names.fields;

    let mut record = Map::new();
    record.insert("id".into(), json!({ "type": "string", "format": "uuid" }));
    let mut input = Map::new();
    let mut patch = Map::new();
    for spec in fields {
        record.insert(spec.name.into(), field_schema(spec));
        input.insert(spec.name.into(), field_schema(spec));
        patch.insert(spec.name.into(), field_schema(spec));
    }
    record.insert("created_at".into(), json!({ "type": "string", "format": "date-time" }));
    record.insert("updated_at".into(), json!({ "type": "string", "format": "date-time" }));
    let every: Vec<&str> = record.keys().map(String::as_str).collect();
    let record = object(record.clone(), &every, json!({}));
    let required: Vec<&str> = fields.iter().filter(|spec| !spec.optional).map(|spec| spec.name).collect();
    let input = object(input, &required, json!({ "additionalProperties": false }));
    let patch = object(patch, &[], json!({ "additionalProperties": false, "minProperties": 1 }));
    let page = object(
        Map::from_iter([
            (
                "items".to_string(),
                json!({ "type": "array", "items": { "$ref": format!("#/components/schemas/{schema}") } }),
            ),
            (
                "next".to_string(),
                json!({ "type": ["string", "null"], "description": "The cursor of the next page; null on the last one" }),
            ),
            ("per_page".to_string(), json!({ "type": "integer" })),
        ]),
        &["items", "next", "per_page"],
        json!({}),
    );
    let schemas = &mut doc["components"]["schemas"];
    schemas[schema] = record;
    schemas[format!("{schema}Input")] = input;
    schemas[format!("{schema}Patch")] = patch;
    schemas[format!("{schema}Page")] = page;

    let tag = plural.as_str();
    let mut list = operation(
        tag,
        &format!("list_{plural}"),
        &format!("List your {}, newest first", names.title.to_lowercase()),
        false,
        false,
        json!({ "200": json_body(&format!("{schema}Page"), "A page"),
                "400": error("A query parameter is malformed: given twice, or not of its type"),
                "422": error("A parameter was refused") }),
    );
    list["parameters"] = json!([
        { "name": "cursor", "in": "query", "description": "`next` of the previous page", "schema": { "type": "string" } },
        { "name": "per_page", "in": "query", "description": "Records per page (20)",
          "schema": { "type": "integer", "minimum": 1, "maximum": PER_PAGE_MAX } },
    ]);
    let mut create = with_body(
        operation(
            tag,
            &format!("create_{one}"),
            &format!("Create a {}", names.one),
            true,
            false,
            json!({ "201": json_body(schema, "Created; `Location` names it") }),
        ),
        &format!("{schema}Input"),
    );
    let targets = [format!("get_{one}"), format!("update_{one}"), format!("delete_{one}")];
    create["responses"]["201"]["links"] = targets
        .iter()
        .map(|target| (target.clone(), json!({ "operationId": target, "parameters": { "id": "$response.body#/id" } })))
        .collect::<Map<String, Value>>()
        .into();
    let get = operation(
        tag,
        &targets[0],
        &format!("One {}", names.one),
        false,
        true,
        json!({ "200": json_body(schema, "The record") }),
    );
    let update = with_body(
        operation(
            tag,
            &targets[1],
            &format!("Change a {}", names.one),
            true,
            true,
            json!({ "200": json_body(schema, "The record as changed") }),
        ),
        &format!("{schema}Patch"),
    );
    let delete = operation(
        tag,
        &targets[2],
        &format!("Delete a {}", names.one),
        true,
        true,
        json!({ "204": { "description": "Deleted" } }),
    );
    doc["paths"][format!("/api{}", names.path)] = json!({ "get": list, "post": create });
    doc["paths"][format!("/api{}/{{id}}", names.path)] = json!({ "get": get, "patch": update, "delete": delete });
    if let Some(tags) = doc["tags"].as_array_mut() {
        tags.push(json!({ "name": tag, "description": format!("{}: a resource of the site", names.title) }));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIELDS: &[Spec] = &[
        Spec { name: "title", label: "Title", kind: Kind::Line, optional: false },
        Spec { name: "price", label: "Price", kind: Kind::F64, optional: true },
        Spec { name: "stock", label: "Stock", kind: Kind::I32, optional: false },
        Spec { name: "sold_on", label: "Sold on", kind: Kind::Date, optional: true },
    ];
    const NAMES: Names =
        Names { path: "/stock-items", one: "stock item", title: "Stock items", schema: "StockItem", fields: FIELDS };

    #[test]
    fn a_resource_gets_its_schemas_and_five_operations() {
        let mut doc = json!({ "paths": {}, "components": { "schemas": {} }, "tags": [] });
        add(&mut doc, &NAMES);
        crate::http::openapi::add_shared_answers(&mut doc);
        let record = &doc["components"]["schemas"]["StockItem"];
        assert_eq!(
            record["required"],
            json!(["created_at", "id", "price", "sold_on", "stock", "title", "updated_at"]),
            "every key of a record is always there"
        );
        assert_eq!(record["properties"]["price"]["oneOf"][1]["type"], "null");
        assert_eq!(record["properties"]["stock"]["maximum"], i32::MAX);
        let input = &doc["components"]["schemas"]["StockItemInput"];
        assert_eq!(input["required"], json!(["title", "stock"]));
        assert_eq!(input["additionalProperties"], false);
        assert_eq!(doc["components"]["schemas"]["StockItemPatch"]["minProperties"], 1);

        let list = &doc["paths"]["/api/stock-items"]["get"];
        assert_eq!(list["operationId"], "list_stock_items");
        assert_eq!(
            list["responses"]["200"]["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/StockItemPage"
        );
        assert!(list["responses"]["403"].is_null(), "a read has no CSRF answer");
        let create = &doc["paths"]["/api/stock-items"]["post"];
        for status in ["201", "400", "401", "403", "413", "415", "422", "503"] {
            assert!(create["responses"][status].is_object(), "create lacks {status}");
        }
        assert_eq!(create["responses"]["201"]["links"]["get_stock_item"]["parameters"]["id"], "$response.body#/id");
        assert_eq!(create["security"], json!([{ "session": [], "csrf": [] }]));
        let item = &doc["paths"]["/api/stock-items/{id}"];
        assert_eq!(item["get"]["parameters"][0]["in"], "path");
        assert!(item["patch"]["responses"]["404"].is_object() && item["delete"]["responses"]["204"].is_object());
        assert_eq!(doc["tags"][0]["name"], "stock_items");
    }
}
