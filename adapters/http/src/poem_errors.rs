//! Errors poem and poem-openapi raise before any handler runs (a body that
//! does not parse, a bad parameter, a wrong content type, an unknown
//! route…), turned into envelopes with the right code.
//!
//! Poem reports which body field broke a validator only inside its English
//! message (``field `email` verification failed``); [`payload_field`] reads
//! it from there. The tests below raise body errors through poem-openapi's
//! own parsing, so an upgrade that rewords that message fails them instead
//! of silently dropping the field from the answer.

use poem::{IntoResponse, Response};

use crate::envelope::{ErrorDetails, FieldIssue};
use crate::error::{ApiError, ErrorCode, render};

/// Turns an error that poem or poem-openapi raised before any handler ran
/// into an envelope with the right code.
pub fn from_poem_error(error: poem::Error) -> Response {
    if error.is_from_response() {
        return error.into_response();
    }
    // The route's name, for the access log, survives the conversion.
    let operation = error.data::<poem_openapi::OperationId>().copied();
    let mut response = render_poem_error(error);
    if let Some(operation) = operation {
        response.set_data(operation);
    }
    response
}

fn render_poem_error(error: poem::Error) -> Response {
    use poem_openapi::error::{
        AuthorizationError, ContentTypeError, ParseParamError, ParsePathError,
        ParseRequestPayloadError,
    };

    let field_issue = |field: &str, message: &str| {
        Some(ErrorDetails::fields(vec![FieldIssue {
            field: field.to_owned(),
            message: message.to_owned(),
        }]))
    };
    if let Some(e) = error.downcast_ref::<ParseRequestPayloadError>() {
        let field = payload_field(&e.reason);
        let message = for_people(field.as_deref(), &e.reason);
        let details = field.map(|field| {
            ErrorDetails::fields(vec![FieldIssue {
                field,
                message: message.clone(),
            }])
        });
        return render(
            ErrorCode::Validation,
            format!("invalid request body: {message}"),
            details,
        );
    }
    if let Some(e) = error.downcast_ref::<ParseParamError>() {
        let message = for_people(Some(e.name), &e.reason);
        return render(
            ErrorCode::Validation,
            format!("invalid parameter: {message}"),
            field_issue(e.name, &message),
        );
    }
    if let Some(e) = error.downcast_ref::<ParsePathError>() {
        let message = for_people(Some(e.name), &e.reason);
        return render(
            ErrorCode::Validation,
            format!("invalid path: {message}"),
            field_issue(e.name, &message),
        );
    }
    if let Some(e) = error.downcast_ref::<ContentTypeError>() {
        return render(ErrorCode::UnsupportedMediaType, e.to_string(), None);
    }
    if error.is::<AuthorizationError>() {
        return ApiError::unauthenticated().into_response();
    }
    let code = ErrorCode::from_status(error.status());
    let message = match code {
        ErrorCode::NotFound => "no such route".to_owned(),
        ErrorCode::MethodNotAllowed => "method not allowed on this route".to_owned(),
        ErrorCode::PayloadTooLarge => "request body too large".to_owned(),
        ErrorCode::Internal => {
            tracing::error!(error = %error, "unhandled error");
            "internal error".to_owned()
        }
        _ => error.to_string(),
    };
    render(code, message, None)
}

/// poem-openapi's reason, rewritten for a person: without the Rust type
/// names it starts with (`failed to parse "CreateAccountRequest": …`,
/// `failed to parse "optional_integer_int64": …`), and with a validator's
/// failure (`… verification failed. minLength(2)`) said as the rule it
/// broke (`name must be at least 2 characters`).
fn for_people(field: Option<&str>, reason: &str) -> String {
    let mut rest = reason.trim();
    while let Some(after) = rest.strip_prefix("failed to parse \"") {
        match after.find("\": ") {
            Some(end) => rest = &after[end + 3..],
            None => break,
        }
    }
    let subject = field.unwrap_or("the value");
    if let Some((_, rule)) = rest.split_once("verification failed. ") {
        let bound = |name: &str| {
            rule.strip_prefix(name)
                .and_then(|r| r.strip_prefix('('))
                .and_then(|r| r.strip_suffix(')'))
        };
        let characters = |n: &str| if n == "1" { "character" } else { "characters" };
        let said = if let Some(n) = bound("minLength") {
            format!("{subject} must be at least {n} {}", characters(n))
        } else if let Some(n) = bound("maxLength") {
            format!("{subject} must be at most {n} {}", characters(n))
        } else if let Some(n) = bound("minimum") {
            format!("{subject} must be at least {n}")
        } else if let Some(n) = bound("maximum") {
            format!("{subject} must be at most {n}")
        } else if let Some(n) = bound("minItems") {
            format!("{subject} must hold at least {n} items")
        } else if let Some(n) = bound("maxItems") {
            format!("{subject} must hold at most {n} items")
        } else if rule.starts_with("uniqueItems") {
            format!("{subject} must not repeat an item")
        } else if rule.starts_with("pattern") {
            format!("{subject} is not in the expected format")
        } else {
            format!("{subject} breaks a rule ({rule})")
        };
        return said;
    }
    if let Some((expected, got)) = rest
        .strip_prefix("Expected input type ")
        .and_then(|found| found.split_once(", found "))
    {
        return format!(
            "{subject} must be {}, not {}",
            a_type(expected.trim_matches('"')),
            got
        );
    }
    if field.is_some() && rest.starts_with("invalid") {
        return format!("{subject}: {rest}");
    }
    rest.to_owned()
}

/// A JSON Schema type name as a person says it.
fn a_type(name: &str) -> String {
    match name {
        "integer" | "integer_int64" | "integer_int32" | "integer_uint64" | "integer_uint32" => {
            "an integer".to_owned()
        }
        "number" => "a number".to_owned(),
        "string" => "a string".to_owned(),
        "boolean" => "true or false".to_owned(),
        "array" => "an array".to_owned(),
        "object" => "an object".to_owned(),
        other if other.starts_with("string_uuid") => "a UUID".to_owned(),
        other if other.starts_with("string_date-time") => "an RFC 3339 timestamp".to_owned(),
        other => format!("of type {other}"),
    }
}

/// The field a poem-openapi body error names (`field `email` …`), if any.
fn payload_field(reason: &str) -> Option<String> {
    let start = reason.find("field `")? + "field `".len();
    let len = reason[start..].find('`')?;
    Some(reason[start..start + len].to_owned())
}

#[cfg(test)]
mod tests {
    use poem::test::TestClient;
    use poem::{EndpointExt, Route};
    use poem_openapi::payload::Json;
    use poem_openapi::{Object, OpenApi, OpenApiService};
    use serde_json::{Value, json};

    use super::*;

    #[derive(Debug, Object)]
    #[oai(rename_all = "camelCase")]
    struct Probe {
        #[oai(validator(min_length = 1))]
        display_name: String,
        level: i32,
    }

    struct ProbeApi;

    #[OpenApi]
    impl ProbeApi {
        #[oai(path = "/probe", method = "post")]
        async fn probe(&self, body: Json<Probe>) -> Json<i32> {
            Json(body.0.level)
        }
    }

    /// The details of the 400 that `body` gets from a real poem-openapi route
    /// behind the mapping.
    async fn rejected(body: Value) -> Value {
        let service = OpenApiService::new(ProbeApi, "probe", "1");
        let endpoint = Route::new()
            .nest("/", service)
            .catch_all_error(|error| async move { from_poem_error(error) });
        let response = TestClient::new(endpoint)
            .post("/probe")
            .body_json(&body)
            .send()
            .await;
        response.assert_status(poem::http::StatusCode::BAD_REQUEST);
        let answer: Value = response.json().await.value().deserialize();
        assert_eq!(answer["error"]["code"], "VALIDATION_ERROR", "{answer}");
        answer
    }

    fn field_named(answer: &Value) -> &Value {
        &answer["error"]["details"]["fields"][0]["field"]
    }

    // Poem names no field for a missing one or one of the wrong type
    // (`Expected input type "string", found null`): those answers carry no
    // field today. Should an upgrade start naming it, these fail, and the
    // expectation can become the field's name.
    #[tokio::test]
    async fn a_missing_field_is_not_named_by_poem() {
        let answer = rejected(json!({ "level": 1 })).await;
        assert_eq!(field_named(&answer), &Value::Null, "{answer}");
    }

    #[tokio::test]
    async fn a_field_of_the_wrong_type_is_not_named_by_poem() {
        let answer = rejected(json!({ "displayName": "Ann", "level": "high" })).await;
        assert_eq!(field_named(&answer), &Value::Null, "{answer}");
    }

    /// The message the mapping relies on: a validator's failure names its
    /// field.
    #[tokio::test]
    async fn a_field_that_fails_its_validator_is_named() {
        let answer = rejected(json!({ "displayName": "", "level": 1 })).await;
        assert_eq!(field_named(&answer), "displayName", "{answer}");
        assert_eq!(
            answer["error"]["details"]["fields"][0]["message"],
            answer["error"]["message"]
                .as_str()
                .and_then(|m| m.strip_prefix("invalid request body: "))
                .expect("the body error's message"),
            "{answer}"
        );
    }

    #[tokio::test]
    async fn a_broken_validator_is_said_as_its_rule_without_type_names() {
        let answer = rejected(json!({ "displayName": "", "level": 1 })).await;
        assert_eq!(
            answer["error"]["message"],
            "invalid request body: displayName must be at least 1 character",
            "{answer}"
        );
    }

    #[test]
    fn poem_reasons_are_rewritten_for_people() {
        assert_eq!(
            for_people(
                Some("name"),
                "failed to parse \"CreateAccountRequest\": field `name` verification failed. minLength(2)"
            ),
            "name must be at least 2 characters"
        );
        assert_eq!(
            for_people(
                Some("page"),
                "failed to parse \"optional_integer_int64\": failed to parse \"integer_int64\": Expected input type \"integer_int64\", found \"x\""
            ),
            "page must be an integer, not \"x\""
        );
        assert_eq!(
            for_people(Some("level"), "verification failed. maximum(200)"),
            "level must be at most 200"
        );
    }

    #[tokio::test]
    async fn a_body_that_is_not_json_names_no_field() {
        let answer = rejected(json!("not an object")).await;
        assert_eq!(field_named(&answer), &Value::Null, "{answer}");
    }

    #[test]
    fn payload_errors_name_their_field() {
        assert_eq!(
            payload_field("failed to parse \"Register\": field `displayName` verification failed")
                .as_deref(),
            Some("displayName")
        );
        assert_eq!(payload_field("expected value at line 1 column 1"), None);
    }
}
