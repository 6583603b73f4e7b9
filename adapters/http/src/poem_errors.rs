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
        let details = payload_field(&e.reason).map(|field| {
            ErrorDetails::fields(vec![FieldIssue {
                field,
                message: e.reason.clone(),
            }])
        });
        return render(
            ErrorCode::Validation,
            format!("invalid request body: {}", e.reason),
            details,
        );
    }
    if let Some(e) = error.downcast_ref::<ParseParamError>() {
        return render(
            ErrorCode::Validation,
            e.to_string(),
            field_issue(e.name, &e.reason),
        );
    }
    if let Some(e) = error.downcast_ref::<ParsePathError>() {
        return render(
            ErrorCode::Validation,
            e.to_string(),
            field_issue(e.name, &e.reason),
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
