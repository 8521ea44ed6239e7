//! The repository's copy of the Meetings API contract (`api/meetings-openapi.yaml`) as
//! JSON Schema (draft 4) validators for response bodies.
//!
//! The spec is loaded from YAML, its `#/components/...` references are inlined, the
//! known mistakes listed in the API notes are corrected, and every OpenAPI-only keyword
//! is translated (`nullable: true` allows `null`). Objects that list their `properties`
//! are closed (`additionalProperties: false`), so a misspelt or invented field fails
//! validation just like a wrong type does.
//!
//! Error bodies are checked against the two shapes the notes document: the service's
//! `{"status","name","message","errors"}` and the gateway's `{"title","detail"}`.
//! Request bodies are checked against the spec's request schemas, with the request
//! shapes the notes document where the spec differs.
//!
//! Include it with `#[path = "support/spec.rs"] mod spec;`.
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};

use jsonschema::Validator;
use meetings_simulator::Exchange;
use serde_json::{Map, Value, json};

/// The spec copy the tests validate against.
pub const SPEC_PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/api/meetings-openapi.yaml");

/// The `CallbackUrls` pattern as the spec writes it: read literally, it demands a
/// backslash before each slash and so rejects every real URL.
pub const BROKEN_CALLBACK_PATTERN: &str = r"^https?:\\/\\/.*$";
/// What the pattern means.
pub const CALLBACK_PATTERN: &str = "^https?://.*$";

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

/// Which answers are acceptable besides the spec's own shapes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Profile {
    /// The spec as written, with its known mistakes corrected.
    Spec,
    /// Also the retired live service's documented variations (API notes): `_embedded` as
    /// a flat array of rooms, `page_size` as a numeric string, `GET /themes` answered `{}`
    /// when there are none, and unset optional fields rendered as `null` (the notes name
    /// the logo keys and URLs, "null until finalised"; the simulator's live switch also
    /// nulls the room's metadata, theme and callback URLs and the theme's short URL).
    Live,
}

/// The spec as JSON, straight from the YAML file.
pub fn load_spec() -> Value {
    let text = std::fs::read_to_string(SPEC_PATH).expect("read the spec copy");
    let yaml: serde_yaml::Value = serde_yaml::from_str(&text).expect("the spec is YAML");
    serde_json::to_value(yaml).expect("the spec converts to JSON")
}

/// Corrects the spec's known mistakes in place; returns how many patterns were fixed.
///
/// `format: date` fields carrying full timestamps are handled by the `date` format
/// check registered in [`options`], which accepts a date or an RFC 3339 date-time.
pub fn fix_known_mistakes(spec: &mut Value) -> usize {
    fn walk(node: &mut Value, fixed: &mut usize) {
        match node {
            Value::Object(map) => {
                if map.get("pattern").and_then(Value::as_str) == Some(BROKEN_CALLBACK_PATTERN) {
                    map.insert("pattern".into(), json!(CALLBACK_PATTERN));
                    *fixed += 1;
                }
                for value in map.values_mut() {
                    walk(value, fixed);
                }
            }
            Value::Array(items) => {
                for item in items {
                    walk(item, fixed);
                }
            }
            _ => {}
        }
    }
    let mut fixed = 0;
    walk(spec, &mut fixed);
    fixed
}

/// Inlines every local `$ref` (`#/...`) below `node`, resolving against `root`.
/// As in OpenAPI 3.0, keywords beside a `$ref` are ignored. Cycles and references that
/// leave the document are errors.
pub fn resolve_refs(node: &Value, root: &Value) -> Result<Value, String> {
    fn go(node: &Value, root: &Value, stack: &mut Vec<String>) -> Result<Value, String> {
        match node {
            Value::Object(map) => {
                if let Some(reference) = map.get("$ref") {
                    let reference = reference
                        .as_str()
                        .ok_or_else(|| format!("$ref is not a string: {reference}"))?;
                    let pointer = reference
                        .strip_prefix('#')
                        .ok_or_else(|| format!("external $ref {reference} is not supported"))?;
                    if stack.iter().any(|r| r == reference) {
                        return Err(format!("$ref cycle: {} -> {reference}", stack.join(" -> ")));
                    }
                    let target = root
                        .pointer(pointer)
                        .ok_or_else(|| format!("$ref {reference} points nowhere"))?;
                    stack.push(reference.to_owned());
                    let resolved = go(target, root, stack);
                    stack.pop();
                    return resolved;
                }
                let mut out = Map::new();
                for (key, value) in map {
                    out.insert(key.clone(), go(value, root, stack)?);
                }
                Ok(Value::Object(out))
            }
            Value::Array(items) => items
                .iter()
                .map(|item| go(item, root, stack))
                .collect::<Result<Vec<_>, _>>()
                .map(Value::Array),
            other => Ok(other.clone()),
        }
    }
    go(node, root, &mut Vec::new())
}

/// Translates a resolved OpenAPI 3.0 schema object into JSON Schema draft 4:
/// `nullable: true` allows `null` (in `type` and in any `enum`), `example` is dropped,
/// and objects with `properties` become closed objects (`type: object`,
/// `additionalProperties: false`) unless they say otherwise.
pub fn to_draft4(schema: &Value) -> Value {
    let Value::Object(map) = schema else {
        return schema.clone();
    };
    let mut out = Map::new();
    for (key, value) in map {
        let converted = match key.as_str() {
            "nullable" | "example" => continue,
            "properties" => Value::Object(
                value
                    .as_object()
                    .map(|props| {
                        props
                            .iter()
                            .map(|(name, s)| (name.clone(), to_draft4(s)))
                            .collect()
                    })
                    .unwrap_or_default(),
            ),
            "items" | "additionalProperties" | "not" if value.is_object() => to_draft4(value),
            "allOf" | "anyOf" | "oneOf" => Value::Array(
                value
                    .as_array()
                    .map(|items| items.iter().map(to_draft4).collect())
                    .unwrap_or_default(),
            ),
            _ => value.clone(),
        };
        out.insert(key.clone(), converted);
    }
    if out.contains_key("properties") {
        out.entry("type").or_insert_with(|| json!("object"));
        out.entry("additionalProperties").or_insert(json!(false));
    }
    if map.get("nullable").and_then(Value::as_bool) == Some(true) {
        if let Some(Value::Array(values)) = out.get_mut("enum")
            && !values.contains(&Value::Null)
        {
            values.push(Value::Null);
        }
        match out.get("type").cloned() {
            Some(Value::String(t)) => {
                out.insert("type".into(), json!([t, "null"]));
            }
            Some(Value::Array(mut types)) => {
                if !types.contains(&json!("null")) {
                    types.push(json!("null"));
                }
                out.insert("type".into(), Value::Array(types));
            }
            _ => return json!({"anyOf": [Value::Object(out), {"type": "null"}]}),
        }
    }
    Value::Object(out)
}

fn is_date(text: &str) -> bool {
    text.len() == 10 && text.parse::<jiff::civil::Date>().is_ok()
}

fn is_date_time(text: &str) -> bool {
    text.contains('T') && text.parse::<jiff::Timestamp>().is_ok()
}

/// Draft 4 options with the format checks the spec needs; unknown formats are errors.
pub fn options() -> jsonschema::ValidationOptions<'static> {
    jsonschema::draft4::options()
        .should_validate_formats(true)
        .should_ignore_unknown_formats(false)
        // The spec says `date`, the service sends full timestamps (API notes).
        .with_format("date", |s: &str| is_date(s) || is_date_time(s))
        .with_format("uuid", |s: &str| {
            s.len() == 36 && uuid::Uuid::parse_str(s).is_ok()
        })
}

/// Compiles a draft 4 schema with [`options`].
pub fn compile(schema: &Value) -> Validator {
    options()
        .build(schema)
        .unwrap_or_else(|e| panic!("schema does not compile: {e}\n{schema:#}"))
}

/// Every validation error of `instance`, one per line, or `Ok`.
pub fn validate(validator: &Validator, instance: &Value) -> Result<(), String> {
    let errors: Vec<String> = validator
        .iter_errors(instance)
        .map(|e| format!("at {:?}: {e}", e.instance_path().as_str()))
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors.join("\n"))
    }
}

/// The service's error body (API notes, "Errors: two body shapes").
pub fn service_error_schema() -> Value {
    json!({
        "type": "object",
        "required": ["status", "name", "message", "errors"],
        "additionalProperties": false,
        "properties": {
            "status": {"type": "integer", "minimum": 400, "maximum": 599},
            "name": {"type": "string", "minLength": 1},
            "message": {"type": "string"},
            "errors": {"type": "array", "items": {"type": ["string", "object"]}},
        },
    })
}

/// The gateway's error body (API notes, "Errors: two body shapes").
pub fn gateway_error_schema() -> Value {
    json!({
        "type": "object",
        "required": ["title", "detail"],
        "additionalProperties": false,
        "properties": {
            "title": {"type": "string", "minLength": 1},
            "detail": {"type": "string"},
        },
    })
}

/// The documented shape of one response: `None` when it has no body.
type Body = Option<Validator>;

/// What an exchange check concluded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// A JSON body was validated.
    Validated,
    /// The answer had no JSON body, as documented.
    NoBody,
    /// The connection hung and nothing was answered.
    NotAnswered,
}

/// Response validators for every (operationId, status) of the spec, plus the error shapes.
pub struct Contract {
    profile: Profile,
    responses: BTreeMap<String, BTreeMap<u16, Body>>,
    requests: BTreeMap<String, Validator>,
    service_error: Validator,
    gateway_error: Validator,
}

impl std::fmt::Debug for Contract {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Contract")
            .field("profile", &self.profile)
            .field("operations", &self.operation_ids())
            .finish()
    }
}

/// The resolved response schemas, `(operationId, status) -> schema or no body`, of a spec
/// that has already been fixed and patched.
pub fn response_schemas(spec: &Value) -> BTreeMap<String, BTreeMap<u16, Option<Value>>> {
    let mut out: BTreeMap<String, BTreeMap<u16, Option<Value>>> = BTreeMap::new();
    let paths = spec["paths"].as_object().expect("spec has paths");
    for item in paths.values() {
        for method in METHODS {
            let Some(operation) = item.get(method) else {
                continue;
            };
            let id = operation["operationId"]
                .as_str()
                .expect("every operation has an operationId")
                .to_owned();
            let responses = operation["responses"]
                .as_object()
                .expect("every operation has responses");
            let entry = out.entry(id).or_default();
            for (status, response) in responses {
                let status: u16 = status.parse().expect("numeric response status");
                let response = resolve_refs(response, spec).expect("resolvable response");
                let schema = response
                    .pointer("/content/application~1json/schema")
                    .map(|s| resolve_refs(s, spec).expect("resolvable schema"));
                entry.insert(status, schema);
            }
        }
    }
    out
}

/// The resolved request body schemas, `operationId -> schema`, of a fixed spec.
pub fn request_schemas(spec: &Value) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    let paths = spec["paths"].as_object().expect("spec has paths");
    for item in paths.values() {
        for method in METHODS {
            let Some(operation) = item.get(method) else {
                continue;
            };
            if let Some(schema) = operation.pointer("/requestBody/content/application~1json/schema")
            {
                let id = operation["operationId"].as_str().expect("operationId");
                out.insert(
                    id.to_owned(),
                    resolve_refs(schema, spec).expect("resolvable request schema"),
                );
            }
        }
    }
    out
}

/// Request facts the API notes give where the spec differs: the default theme is set
/// with `{"update_details":{"default_theme_id":..}}`, finalize takes `{"keys":["..."]}`
/// (the spec's `{"key":..}` objects are accepted too), and a room update's
/// `theme_id: null` removes the theme.
fn patch_requests(spec: &mut Value) {
    let application = spec
        .pointer_mut("/paths/~1applications/patch/requestBody/content/application~1json/schema")
        .expect("updateApplication has a body");
    let details = application.clone();
    *application = json!({"type": "object", "properties": {"update_details": details}});
    let keys = schema_mut(
        spec,
        "/components/schemas/FinalizeThemeLogosRequestBody/properties/keys",
    );
    let item = keys["items"].clone();
    keys.insert("items".into(), json!({"anyOf": [{"type": "string"}, item]}));
    schema_mut(
        spec,
        "/paths/~1rooms~1{room_id}/patch/requestBody/content/application~1json/schema/properties/update_details/properties/theme_id",
    )
    .insert("nullable".into(), json!(true));
}

fn schema_mut<'a>(spec: &'a mut Value, pointer: &str) -> &'a mut Map<String, Value> {
    spec.pointer_mut(pointer)
        .and_then(Value::as_object_mut)
        .unwrap_or_else(|| panic!("the spec has no schema at {pointer}"))
}

fn room_listing(path: &str) -> String {
    format!(
        "/paths/{}/get/responses/200/content/application~1json/schema/properties",
        path.replace('~', "~0").replace('/', "~1")
    )
}

/// Applies the documented facts the spec leaves out, and the profile's variations.
fn patch(spec: &mut Value, profile: Profile) {
    // `total_items` counts all pages of both room listings (API notes, "Listing rooms").
    let total = spec
        .pointer(&format!("{}/total_items", room_listing("/rooms")))
        .cloned()
        .expect("getRooms documents total_items");
    schema_mut(spec, &room_listing("/themes/{theme_id}/rooms"))
        .entry("total_items")
        .or_insert(total);
    if profile == Profile::Spec {
        return;
    }
    for path in ["/rooms", "/themes/{theme_id}/rooms"] {
        let props = schema_mut(spec, &room_listing(path));
        let embedded = props["_embedded"].clone();
        props.insert(
            "_embedded".into(),
            json!({"anyOf": [embedded, {
                "type": "array",
                "items": {"$ref": "#/components/schemas/Room"},
            }]}),
        );
        let page_size = props["page_size"].clone();
        props.insert(
            "page_size".into(),
            json!({"anyOf": [page_size, {"type": "string", "pattern": "^[0-9]+$"}]}),
        );
    }
    let themes = spec
        .pointer_mut("/paths/~1themes/get/responses/200/content/application~1json")
        .and_then(Value::as_object_mut)
        .expect("getThemes documents its body");
    let listed = themes["schema"].clone();
    themes.insert(
        "schema".into(),
        json!({"anyOf": [listed, {"type": "object", "maxProperties": 0}]}),
    );
    let nullable: [(&str, &[&str]); 3] = [
        ("Room", &["metadata", "theme_id"]),
        (
            "CallbackUrls",
            &[
                "rooms_callback_url",
                "sessions_callback_url",
                "recordings_callback_url",
            ],
        ),
        (
            "Theme",
            &[
                "short_company_url",
                "brand_image_colored",
                "brand_image_white",
                "branded_favicon",
                "brand_image_colored_url",
                "brand_image_white_url",
                "branded_favicon_url",
            ],
        ),
    ];
    for (schema, fields) in nullable {
        let props = schema_mut(spec, &format!("/components/schemas/{schema}/properties"));
        for field in fields {
            props
                .get_mut(*field)
                .and_then(Value::as_object_mut)
                .unwrap_or_else(|| panic!("{schema}.{field} is in the spec"))
                .insert("nullable".into(), json!(true));
        }
    }
}

impl Contract {
    /// Loads, fixes and compiles the spec for `profile`.
    pub fn new(profile: Profile) -> Self {
        let mut spec = load_spec();
        let fixed = fix_known_mistakes(&mut spec);
        assert_eq!(
            fixed, 3,
            "expected the three CallbackUrls patterns to need fixing"
        );
        patch(&mut spec, profile);
        patch_requests(&mut spec);
        let requests = request_schemas(&spec)
            .into_iter()
            .map(|(op, schema)| (op, compile(&to_draft4(&schema))))
            .collect();
        let responses = response_schemas(&spec)
            .into_iter()
            .map(|(op, statuses)| {
                let compiled = statuses
                    .into_iter()
                    .map(|(status, schema)| (status, schema.map(|s| compile(&to_draft4(&s)))))
                    .collect();
                (op, compiled)
            })
            .collect();
        Self {
            profile,
            responses,
            requests,
            service_error: compile(&service_error_schema()),
            gateway_error: compile(&gateway_error_schema()),
        }
    }

    /// The profile this contract validates.
    pub fn profile(&self) -> Profile {
        self.profile
    }

    /// Every operationId of the spec.
    pub fn operation_ids(&self) -> BTreeSet<String> {
        self.responses.keys().cloned().collect()
    }

    /// The operations that take a JSON request body.
    pub fn operations_with_bodies(&self) -> BTreeSet<String> {
        self.requests.keys().cloned().collect()
    }

    /// Checks a request body sent to `operation`.
    pub fn check_request(&self, operation: &str, body: Option<&Value>) -> Result<(), String> {
        let validator = self
            .requests
            .get(operation)
            .ok_or_else(|| format!("{operation} takes no request body"))?;
        let body = body.ok_or_else(|| format!("{operation} was sent without a JSON body"))?;
        validate(validator, body)
    }

    /// Checks the request of an exchange the simulator accepted (2xx): what it accepted
    /// must be a body the spec allows. Returns whether there was a body to check.
    pub fn check_accepted_request(&self, exchange: &Exchange) -> Result<bool, String> {
        let Some(op) = exchange.operation_id.as_deref() else {
            return Ok(false);
        };
        if !(200..300).contains(&exchange.status) || !self.requests.contains_key(op) {
            return Ok(false);
        }
        self.check_request(op, exchange.request_body.as_ref())
            .map(|()| true)
            .map_err(|e| {
                format!(
                    "{} {} -> {}: request does not conform: {e}\nrequest: {}",
                    exchange.method,
                    exchange.path,
                    exchange.status,
                    exchange
                        .request_body
                        .as_ref()
                        .map_or_else(|| "none".to_owned(), |b| format!("{b:#}")),
                )
            })
    }

    /// Checks one answer of `operation` (an operationId of the spec, or `None` for a
    /// path no route serves).
    pub fn check(
        &self,
        operation: Option<&str>,
        status: u16,
        body: Option<&Value>,
    ) -> Result<Verdict, String> {
        let documented = operation.and_then(|op| self.responses.get(op));
        if let (Some(op), None) = (operation, documented) {
            return Err(format!("{op} is not an operation of the spec"));
        }
        if (200..300).contains(&status) {
            let op = operation.ok_or("a success answer for a path no route serves")?;
            let shape = documented
                .and_then(|statuses| statuses.get(&status))
                .ok_or_else(|| format!("{op} does not document status {status}"))?;
            return match (shape, body) {
                (None, None) => Ok(Verdict::NoBody),
                (None, Some(body)) => Err(format!("{op} {status} documents no body, got {body}")),
                (Some(_), None) => Err(format!("{op} {status} documents a JSON body, got none")),
                (Some(validator), Some(body)) => {
                    validate(validator, body).map(|()| Verdict::Validated)
                }
            };
        }
        let body = body.ok_or_else(|| format!("error {status} without a JSON body"))?;
        let service = || -> Result<(), String> {
            validate(&self.service_error, body)?;
            if body["status"] != json!(status) {
                return Err(format!(
                    "the body's status {} is not the answer's {status}",
                    body["status"]
                ));
            }
            Ok(())
        };
        let gateway = || validate(&self.gateway_error, body);
        match (status, operation) {
            (401, _) | (404 | 405, None) => gateway(),
            (400 | 403 | 404 | 409, Some(_)) => service(),
            (429 | 500..=599, _) => service()
                .or_else(|s| gateway().map_err(|g| format!("neither error shape:\n{s}\n---\n{g}"))),
            _ => Err(format!("undocumented error status {status}")),
        }?;
        // Error bodies the spec itself details (deleteTheme and finalizeLogos 400s).
        if let Some(Some(validator)) = documented.and_then(|statuses| statuses.get(&status)) {
            validate(validator, body)?;
        }
        Ok(Verdict::Validated)
    }

    /// Checks one logged exchange. Storage answers are XML or empty, never JSON.
    pub fn check_exchange(&self, exchange: &Exchange) -> Result<Verdict, String> {
        let op = exchange.operation_id.as_deref();
        let result = match op {
            Some("storageUpload" | "storageDownload") => match &exchange.body {
                None => Ok(Verdict::NoBody),
                Some(body) => Err(format!("storage answered JSON: {body}")),
            },
            _ if !exchange.delivered && exchange.body.is_none() && exchange.status == 504 => {
                Ok(Verdict::NotAnswered)
            }
            _ => self.check(op, exchange.status, exchange.body.as_ref()),
        };
        result.map_err(|e| {
            format!(
                "{} {} -> {} ({op:?}, {:?} profile): {e}\nbody: {}",
                exchange.method,
                exchange.path,
                exchange.status,
                self.profile,
                exchange
                    .body
                    .as_ref()
                    .map_or_else(|| "none".to_owned(), |b| format!("{b:#}")),
            )
        })
    }
}
