//! The OpenAPI document that clients generate from.
//!
//! poem-openapi builds it from the routes and DTOs; [`finish`] then states
//! what poem-openapi has no words for, so that a generated client neither
//! breaks nor lies:
//!
//! - a request body refuses unknown fields (every request DTO is
//!   `deny_unknown_fields`): `additionalProperties: false`;
//! - `success` is the literal `true` in every success envelope and `false`
//!   in the error envelope, so a client can tell them apart by type;
//! - `error.code` is the enum of [`ErrorCode`]s;
//! - each operation lists the error statuses it can answer, and only those
//!   ([`error_statuses`]); in debug builds the request shell refuses to send
//!   an undocumented one, so every black-box test checks the list;
//! - public operations say `security: []`; logout takes a bearer token or a
//!   refresh token, so its bearer is optional;
//! - response header names are spelled as HTTP spells them (`ETag`, not
//!   `ETAG`);
//! - the rules the domain enforces on levels, pages, searches, sort keys and
//!   e-mail addresses ([`state_rules`]), taken from the domain's constants,
//!   so each number is written once.
//!
//! The document stays OpenAPI 3.0 (what poem-openapi writes): both
//! generators the project is tried with (`openapi-python-client`,
//! `openapi-typescript`) read 3.0's `nullable`.

use std::collections::HashMap;

use domain::{CharacterSort, Level, PageRequest, SearchText};
use serde_json::{Map, Value, json};

use crate::error::ErrorCode;
use crate::metrics::DocumentedOperation;

/// The operations that answer more than what their shape implies (see
/// [`error_statuses`]): `404` for an object that is not the caller's, `409`
/// for a uniqueness rule or a conflicting state, `412` for a stale
/// `If-Match`, `401`/`403` for the public routes that check credentials.
const EXTRA_ERRORS: &[(&str, &[u16])] = &[
    ("auth.register", &[409]),
    ("auth.login", &[401, 403]),
    ("auth.refresh", &[401, 403]),
    ("auth.logout", &[401, 403]),
    ("auth.sessions.revoke", &[404]),
    ("auth.password", &[409]),
    ("accounts.create", &[409]),
    ("accounts.get", &[404]),
    ("accounts.update", &[404, 409]),
    ("accounts.delete", &[404, 409]),
    ("characters.create", &[404, 409]),
    ("characters.get", &[404]),
    ("characters.update", &[404, 409, 412]),
    ("characters.delete", &[404]),
    ("teams.create", &[404, 409]),
    ("teams.get", &[404]),
    ("teams.update", &[404, 409]),
    ("teams.delete", &[404]),
    ("teams.progressions", &[404]),
    ("progressions.list", &[404]),
    ("progressions.summary", &[404]),
    ("progressions.set", &[404]),
    ("api_keys.revoke", &[404]),
    ("admin.users.update", &[404, 409]),
    ("admin.catalog.sync", &[404]),
    ("admin.jobs.get", &[404]),
    ("admin.jobs.retry", &[404, 409]),
];

/// The error statuses `operation` can answer, given its shape: `400` when
/// it takes parameters or a body, `413` and `415` when it takes a body,
/// `401` and `403` when it needs credentials (a bad one; one that is not
/// allowed there, or whose user is disabled), `429` (every route under
/// `/api/v1` is rate limited), `500` and `503` always; plus
/// its entry in [`EXTRA_ERRORS`].
pub(crate) fn error_statuses(
    operation_id: &str,
    has_parameters: bool,
    has_body: bool,
    secured: bool,
) -> Vec<u16> {
    let mut statuses = vec![429, 500, 503];
    if has_parameters || has_body {
        statuses.push(400);
    }
    if has_body {
        statuses.extend([413, 415]);
    }
    if secured {
        statuses.extend([401, 403]);
    }
    if let Some((_, extra)) = EXTRA_ERRORS.iter().find(|(id, _)| *id == operation_id) {
        statuses.extend_from_slice(extra);
    }
    statuses.sort_unstable();
    statuses.dedup();
    statuses
}

/// The finished document, and what the request shell reads from it.
pub(crate) struct Finished {
    pub(crate) json: String,
    pub(crate) errors: DocumentedErrors,
    pub(crate) allowed: AllowedMethods,
    /// Each operation's path template, method and statuses, for the
    /// request metrics.
    pub(crate) operations: Vec<DocumentedOperation>,
}

/// The finished document, from poem-openapi's.
pub(crate) fn finish(generated: &str) -> Finished {
    let mut document: Value =
        serde_json::from_str(generated).expect("poem-openapi writes a JSON document");
    close_request_bodies(&mut document);
    literal_success(&mut document);
    enumerate_error_codes(&mut document);
    state_rules(&mut document);
    describe_rate_limit_headers(&mut document);
    for operation in operations(&mut document) {
        settle_operation(operation);
    }
    Finished {
        json: serde_json::to_string(&document).expect("a JSON value serializes"),
        errors: documented_errors(&mut document),
        allowed: AllowedMethods::from_document(&document),
        operations: documented_operations(&document),
    }
}

/// Every operation of a finished document with its path template, method
/// and response statuses.
fn documented_operations(document: &Value) -> Vec<DocumentedOperation> {
    let paths = document["paths"].as_object().into_iter().flatten();
    paths
        .flat_map(|(template, methods)| {
            let methods = methods.as_object().into_iter().flatten();
            methods.filter_map(move |(method, operation)| {
                let statuses = operation
                    .get("responses")?
                    .as_object()?
                    .keys()
                    .filter_map(|status| status.parse::<u16>().ok())
                    .collect();
                Some(DocumentedOperation {
                    id: operation.get("operationId")?.as_str()?.to_owned(),
                    template: template.clone(),
                    method: method.clone(),
                    statuses,
                })
            })
        })
        .collect()
}

/// The error statuses each operation of a finished document lists, by
/// operation id.
pub(crate) type DocumentedErrors = HashMap<String, Vec<u16>>;

fn documented_errors(document: &mut Value) -> DocumentedErrors {
    operations(document)
        .filter_map(|operation| {
            let id = operation.get("operationId")?.as_str()?.to_owned();
            let statuses = operation
                .get("responses")?
                .as_object()?
                .keys()
                .filter_map(|status| status.parse::<u16>().ok())
                .filter(|status| *status >= 400)
                .collect();
            Some((id, statuses))
        })
        .collect()
}

/// The methods each path of a finished document answers, for the `Allow`
/// header of a 405.
#[derive(Debug, Default)]
pub(crate) struct AllowedMethods(Vec<(Vec<String>, String)>);

impl AllowedMethods {
    fn from_document(document: &Value) -> Self {
        let paths = document["paths"].as_object().into_iter().flatten();
        Self(
            paths
                .map(|(path, methods)| {
                    let segments = path.split('/').map(str::to_owned).collect();
                    let mut allowed: Vec<String> = methods
                        .as_object()
                        .into_iter()
                        .flat_map(|m| m.keys())
                        .map(|m| m.to_ascii_uppercase())
                        .collect();
                    allowed.sort();
                    (segments, allowed.join(", "))
                })
                .collect(),
        )
    }

    /// The `Allow` value for a request path, when a documented path
    /// template (`/api/v1/characters/{id}`) matches it.
    pub(crate) fn for_path(&self, path: &str) -> Option<&str> {
        let parts: Vec<&str> = path.split('/').collect();
        self.0
            .iter()
            .find(|(template, _)| {
                template.len() == parts.len()
                    && template.iter().zip(&parts).all(|(t, p)| {
                        t == p || (t.starts_with('{') && t.ends_with('}') && !p.is_empty())
                    })
            })
            .map(|(_, allowed)| allowed.as_str())
    }
}

/// Every operation object of the document.
fn operations(document: &mut Value) -> impl Iterator<Item = &mut Map<String, Value>> {
    document["paths"]
        .as_object_mut()
        .into_iter()
        .flat_map(|paths| paths.values_mut())
        .filter_map(Value::as_object_mut)
        .flat_map(|methods| methods.values_mut())
        .filter_map(Value::as_object_mut)
}

/// The schema names a `$ref` inside `value` points to.
fn referenced_schema(value: &Value) -> Option<&str> {
    value
        .get("$ref")?
        .as_str()?
        .strip_prefix("#/components/schemas/")
}

fn schemas(document: &mut Value) -> &mut Map<String, Value> {
    document["components"]["schemas"]
        .as_object_mut()
        .expect("the document has component schemas")
}

fn close_request_bodies(document: &mut Value) {
    let mut bodies = Vec::new();
    for operation in operations(document) {
        let contents = operation
            .get("requestBody")
            .and_then(|body| body.get("content"))
            .and_then(Value::as_object);
        for content in contents.into_iter().flat_map(|c| c.values()) {
            if let Some(name) = content.get("schema").and_then(referenced_schema) {
                bodies.push(name.to_owned());
            }
        }
    }
    let schemas = schemas(document);
    for name in bodies {
        if let Some(schema) = schemas.get_mut(&name).and_then(Value::as_object_mut) {
            schema.insert("additionalProperties".into(), Value::Bool(false));
        }
    }
}

fn literal_success(document: &mut Value) {
    for (name, schema) in schemas(document).iter_mut() {
        let Some(success) = schema
            .get_mut("properties")
            .and_then(|properties| properties.get_mut("success"))
            .and_then(Value::as_object_mut)
        else {
            continue;
        };
        let literal = name != "ErrorEnvelope";
        success.insert("enum".into(), json!([literal]));
    }
}

fn enumerate_error_codes(document: &mut Value) {
    let codes: Vec<&str> = ErrorCode::ALL.iter().map(|code| code.as_str()).collect();
    if let Some(code) = schemas(document)
        .get_mut("ErrorInfo")
        .and_then(|info| info.get_mut("properties"))
        .and_then(|properties| properties.get_mut("code"))
        .and_then(Value::as_object_mut)
    {
        code.insert("enum".into(), json!(codes));
    }
}

/// The characters the domain refuses in searches and filters: the control
/// characters (`char::is_control`, Unicode's `Cc`), as inclusive ranges of
/// code points.
const CONTROL: [(u32, u32); 2] = [(0x00, 0x1f), (0x7f, 0x9f)];

/// A pattern matching text with no code point of `refused` but for
/// `allowed`, within the Basic Multilingual Plane. Code points above it
/// are left out: OpenAPI's patterns are ECMA-262 without its `u` mode,
/// where such a code point is two UTF-16 units and cannot be a class's
/// member or a range's end (schemathesis refuses such a pattern). The
/// server still refuses those of `refused` (private use of planes 15–16,
/// tags, the planes' noncharacters, a few format characters).
fn pattern_without(refused: &[(u32, u32)], allowed: &[char]) -> String {
    let write = |class: &mut String, code: u32| class.push_str(&format!("\\u{code:04x}"));
    let mut class = String::new();
    for &(first, last) in refused.iter().filter(|(first, _)| *first <= 0xFFFF) {
        let last = last.min(0xFFFF);
        let mut start = None;
        for code in first..=last + 1 {
            let is_refused =
                code <= last && char::from_u32(code).is_some_and(|c| !allowed.contains(&c));
            match (is_refused, start) {
                (true, None) => start = Some(code),
                (false, Some(from)) => {
                    write(&mut class, from);
                    if code - 1 > from {
                        class.push('-');
                        write(&mut class, code - 1);
                    }
                    start = None;
                }
                _ => {}
            }
        }
    }
    format!("^[^{class}]*$")
}

/// The rules the domain checks that poem-openapi's validators do not state,
/// from the domain's own constants.
fn state_rules(document: &mut Value) {
    let level = json!({"minimum": Level::MIN, "maximum": Level::MAX});
    let email = json!({"format": "email"});
    let invisible = domain::text::invisible_ranges();
    let names = json!({"pattern": pattern_without(&invisible, &[])});
    let lines = json!({"pattern": pattern_without(&invisible, &domain::text::LINE_BREAKS)});
    let plain = json!({"pattern": pattern_without(&CONTROL, &[])});
    let schemas = schemas(document);
    for (name, property, rule) in [
        ("CreateCharacterRequest", "level", &level),
        ("UpdateCharacterRequest", "level", &level),
        ("RegisterRequest", "email", &email),
        ("LoginRequest", "email", &email),
        ("CreateAccountRequest", "name", &names),
        ("UpdateAccountRequest", "name", &names),
        ("CreateCharacterRequest", "name", &names),
        ("UpdateCharacterRequest", "name", &names),
        ("CreateTeamRequest", "name", &names),
        ("UpdateTeamRequest", "name", &names),
        ("RegisterRequest", "displayName", &names),
        ("CreateKeyRequest", "name", &names),
        ("CreateAccountRequest", "notes", &lines),
        ("UpdateAccountRequest", "notes", &lines),
        ("CreateTeamRequest", "description", &lines),
        ("UpdateTeamRequest", "description", &lines),
    ] {
        if let Some(target) = schemas
            .get_mut(name)
            .and_then(|schema| schema["properties"].get_mut(property))
        {
            merge(target, rule);
        }
    }
    // "What to change; at least one field."
    if let Some(schema) = schemas.get_mut("UpdateUserRequest") {
        merge(schema, &json!({"minProperties": 1}));
    }
    let sort_keys: Vec<&str> = CharacterSort::keys().collect();
    for operation in operations(document) {
        let Some(parameters) = operation
            .get_mut("parameters")
            .and_then(Value::as_array_mut)
        else {
            continue;
        };
        for parameter in parameters {
            let rule = match parameter["name"].as_str().unwrap_or_default() {
                "levelMin" | "levelMax" => level.clone(),
                "page" => json!({"minimum": 1, "maximum": PageRequest::MAX_PAGE, "default": 1}),
                "perPage" if parameter["schema"].get("maximum").is_none() => json!({
                    "minimum": 1,
                    "maximum": PageRequest::MAX_PER_PAGE,
                    "default": PageRequest::DEFAULT_PER_PAGE,
                }),
                "search" if parameter["schema"].get("maxLength").is_none() => {
                    let mut rule = json!({"maxLength": SearchText::MAX_CHARS});
                    merge(&mut rule, &plain);
                    rule
                }
                "search" | "resourceType" | "resourceId" => plain.clone(),
                // A job kind is free text (`GET /admin/jobs`); the catalog's
                // `kind` is an enum and needs no pattern.
                "kind"
                    if parameter["schema"]["type"] == "string"
                        && parameter["schema"].get("enum").is_none() =>
                {
                    plain.clone()
                }
                "sort" => json!({
                    "enum": sort_keys,
                    "x-enum-varnames": sort_keys.iter().map(|key| enum_varname(key)).collect::<Vec<_>>(),
                    "default": CharacterSort::default().key(),
                }),
                _ => continue,
            };
            merge(&mut parameter["schema"], &rule);
        }
    }
}

/// A generated client's name for a sort key: `-createdAt` → `CREATED_AT_DESC`
/// (read by generators as `x-enum-varnames`; without it `-name` becomes
/// `VALUE_1`).
fn enum_varname(key: &str) -> String {
    let (field, direction) = match key.strip_prefix('-') {
        Some(field) => (field, "DESC"),
        None => (key, "ASC"),
    };
    let mut name = String::new();
    for c in field.chars() {
        if c.is_ascii_uppercase() {
            name.push('_');
        }
        name.push(c.to_ascii_uppercase());
    }
    format!("{name}_{direction}")
}

/// Adds the keys of `rule` to the schema `target`.
fn merge(target: &mut Value, rule: &Value) {
    if let (Some(target), Some(rule)) = (target.as_object_mut(), rule.as_object()) {
        for (key, value) in rule {
            target.insert(key.clone(), value.clone());
        }
    }
}

fn settle_operation(operation: &mut Map<String, Value>) {
    let id = operation
        .get("operationId")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let secured = operation
        .get("security")
        .and_then(Value::as_array)
        .is_some_and(|s| !s.is_empty());
    if id == "auth.logout" {
        // The bearer token names the session; without one, the refresh
        // token (body or cookie) does.
        operation.insert("security".into(), json!([{}, {"BearerAuth": []}]));
    } else if !secured {
        operation.insert("security".into(), json!([]));
    }
    let has_parameters = operation
        .get("parameters")
        .and_then(Value::as_array)
        .is_some_and(|p| !p.is_empty());
    let has_body = operation.contains_key("requestBody");
    let Some(responses) = operation
        .get_mut("responses")
        .and_then(Value::as_object_mut)
    else {
        return;
    };
    if id.starts_with("health.") {
        canonical_headers(responses);
        return;
    }
    let statuses = error_statuses(&id, has_parameters, has_body, secured);
    responses.retain(|status, _| {
        status
            .parse::<u16>()
            .map_or(true, |s| s < 400 || statuses.contains(&s))
    });
    for response in responses.values_mut() {
        rate_limit_headers(response);
    }
    canonical_headers(responses);
}

/// Every answer of a rate-limited route carries the IETF draft's headers
/// (a 429 declares them itself; they are described once, in
/// `components.headers`).
fn rate_limit_headers(response: &mut Value) {
    let Some(response) = response.as_object_mut() else {
        return;
    };
    let headers = response
        .entry("headers")
        .or_insert_with(|| json!({}))
        .as_object_mut()
        .expect("response headers are an object");
    for (name, _, _) in RATE_LIMIT_HEADERS {
        headers.insert(
            name.to_ascii_uppercase(),
            json!({"$ref": format!("#/components/headers/{name}")}),
        );
    }
}

/// The rate-limit headers: name, description, example.
const RATE_LIMIT_HEADERS: [(&str, &str, &str); 2] = [
    (
        "RateLimit-Policy",
        "The rate-limit presets that applied, as a Structured Field list \
         (draft-ietf-httpapi-ratelimit-headers-11): `\"name\";q=<quota>;w=<window seconds>`.",
        r#""api";q=600;w=60"#,
    ),
    (
        "RateLimit",
        "What is left of each preset: `\"name\";r=<remaining>;t=<seconds until full again>`.",
        r#""api";r=599;t=1"#,
    ),
];

fn describe_rate_limit_headers(document: &mut Value) {
    let headers = document["components"]
        .as_object_mut()
        .expect("the document has components")
        .entry("headers")
        .or_insert_with(|| json!({}));
    for (name, description, example) in RATE_LIMIT_HEADERS {
        headers[name] = json!({
            "description": description,
            "required": true,
            "schema": {"type": "string"},
            "example": example,
        });
    }
}

/// Response header names as HTTP spells them.
fn canonical_headers(responses: &mut Map<String, Value>) {
    for response in responses.values_mut() {
        let Some(headers) = response.get_mut("headers").and_then(Value::as_object_mut) else {
            continue;
        };
        let spelled: Map<String, Value> = std::mem::take(headers)
            .into_iter()
            .map(|(name, header)| (canonical_name(&name), header))
            .collect();
        *headers = spelled;
    }
}

fn canonical_name(name: &str) -> String {
    match name.to_ascii_lowercase().as_str() {
        "etag" => "ETag".to_owned(),
        "www-authenticate" => "WWW-Authenticate".to_owned(),
        "ratelimit" => "RateLimit".to_owned(),
        "ratelimit-policy" => "RateLimit-Policy".to_owned(),
        lower => lower
            .split('-')
            .map(|word| {
                let mut chars = word.chars();
                chars.next().map_or_else(String::new, |first| {
                    first.to_ascii_uppercase().to_string() + chars.as_str()
                })
            })
            .collect::<Vec<_>>()
            .join("-"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_name_patterns_refuse_exactly_what_the_domain_refuses() {
        let invisible = domain::text::invisible_ranges();
        let names = regex::Regex::new(&pattern_without(&invisible, &[])).unwrap();
        let notes =
            regex::Regex::new(&pattern_without(&invisible, &domain::text::LINE_BREAKS)).unwrap();
        let controls = regex::Regex::new(&pattern_without(&CONTROL, &[])).unwrap();
        for c in (0..=0xFFFF).filter_map(char::from_u32) {
            let text = c.to_string();
            assert_eq!(controls.is_match(&text), !c.is_control(), "{:?}", c);
            let hidden = domain::text::is_invisible(c);
            assert_eq!(names.is_match(&text), !hidden, "{:?}", c);
            assert_eq!(
                notes.is_match(&text),
                !hidden || domain::text::LINE_BREAKS.contains(&c),
                "{:?}",
                c
            );
        }
    }

    #[test]
    fn allowed_methods_follow_the_path_templates() {
        let allowed = AllowedMethods::from_document(
            &json!({"paths": {"/a/{id}": {"get": {}, "patch": {}}, "/a": {"post": {}}}}),
        );
        assert_eq!(allowed.for_path("/a/42"), Some("GET, PATCH"));
        assert_eq!(allowed.for_path("/a"), Some("POST"));
        assert_eq!(allowed.for_path("/a/"), None);
        assert_eq!(allowed.for_path("/b/1"), None);
    }

    #[test]
    fn sort_keys_get_names_a_generated_client_can_use() {
        assert_eq!(enum_varname("name"), "NAME_ASC");
        assert_eq!(enum_varname("-createdAt"), "CREATED_AT_DESC");
    }

    #[test]
    fn header_names_are_spelled_as_http_spells_them() {
        assert_eq!(canonical_name("ETAG"), "ETag");
        assert_eq!(canonical_name("WWW-AUTHENTICATE"), "WWW-Authenticate");
        assert_eq!(canonical_name("RETRY-AFTER"), "Retry-After");
        assert_eq!(canonical_name("SET-COOKIE"), "Set-Cookie");
        assert_eq!(canonical_name("CACHE-CONTROL"), "Cache-Control");
        assert_eq!(canonical_name("RATELIMIT-POLICY"), "RateLimit-Policy");
        assert_eq!(canonical_name("RATELIMIT"), "RateLimit");
    }

    #[test]
    fn an_operation_lists_the_errors_its_shape_and_its_entry_imply() {
        assert_eq!(
            error_statuses("characters.update", true, true, true),
            [400, 401, 403, 404, 409, 412, 413, 415, 429, 500, 503]
        );
        assert_eq!(
            error_statuses("auth.me", false, false, true),
            [401, 403, 429, 500, 503]
        );
        assert_eq!(
            error_statuses("catalog.classes", true, false, false),
            [400, 429, 500, 503]
        );
    }
}
