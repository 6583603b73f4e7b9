//! Strict parsing of request-body strings.
//!
//! poem-openapi's `String` accepts numbers and booleans and turns them into
//! text, and its errors for a missing field do not name the field. Each
//! string field of a request body is therefore read by one of these
//! functions (`#[oai(deserialize_with = …)]`): only a JSON string is
//! accepted, the error names the field, and trimmed fields are trimmed
//! *before* the declared `minLength`/`maxLength` validators run, so the
//! limits of API.md ("1–50 characters after trimming") hold as documented.

use poem_openapi::types::{ParseError, ParseResult};
use serde_json::Value;

fn text(field: &str, value: Option<Value>, trim: bool) -> ParseResult<String> {
    match value {
        Some(Value::String(s)) if trim => Ok(s.trim().to_owned()),
        Some(Value::String(s)) => Ok(s),
        None | Some(Value::Null) => Err(ParseError::custom(format!("field `{field}` is required"))),
        Some(other) => Err(ParseError::custom(format!(
            "field `{field}` must be a string, not {}",
            kind(&other)
        ))),
    }
}

fn optional_text(field: &str, value: Option<Value>) -> ParseResult<Option<String>> {
    match value {
        None | Some(Value::Null) => Ok(None),
        value => text(field, value, false)
            .map(Some)
            .map_err(ParseError::propagate),
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// One reader per field, so that its errors can name it.
macro_rules! string_fields {
    ($($name:ident => $field:literal, $mode:ident;)*) => {
        $(string_fields!(@one $name, $field, $mode);)*
    };
    (@one $name:ident, $field:literal, trimmed) => {
        pub fn $name(value: Option<Value>) -> ParseResult<String> {
            text($field, value, true)
        }
    };
    (@one $name:ident, $field:literal, exact) => {
        pub fn $name(value: Option<Value>) -> ParseResult<String> {
            text($field, value, false)
        }
    };
    (@one $name:ident, $field:literal, optional) => {
        pub fn $name(value: Option<Value>) -> ParseResult<Option<String>> {
            optional_text($field, value)
        }
    };
}

string_fields! {
    email => "email", trimmed;
    display_name => "displayName", trimmed;
    password => "password", exact;
    current_password => "currentPassword", exact;
    new_password => "newPassword", exact;
    refresh_token => "refreshToken", optional;
    key_name => "name", trimmed;
}

/// An optional RFC 3339 timestamp field, with an error that names it.
pub fn expires_at(value: Option<Value>) -> ParseResult<Option<time::OffsetDateTime>> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => {
            time::OffsetDateTime::parse(&s, &time::format_description::well_known::Rfc3339)
                .map(Some)
                .map_err(|_| ParseError::custom("field `expiresAt` must be an RFC 3339 timestamp"))
        }
        Some(other) => Err(ParseError::custom(format!(
            "field `expiresAt` must be an RFC 3339 timestamp, not {}",
            kind(&other)
        ))),
    }
}

/// A UUID path parameter, with an error that names it as the document does
/// (poem-openapi reports a failed path parse under an internal name).
pub fn path_uuid(name: &'static str, raw: &str) -> Result<uuid::Uuid, crate::error::ApiError> {
    uuid::Uuid::parse_str(raw).map_err(|_| {
        crate::error::ApiError::validation(&domain::ValidationErrors::single(
            name,
            "must be a UUID",
        ))
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn only_json_strings_are_accepted_and_errors_name_the_field() {
        assert_eq!(display_name(Some(json!("  Ana  "))).expect("string"), "Ana");
        assert_eq!(
            password(Some(json!("  spaced  "))).expect("string"),
            "  spaced  "
        );
        let wrong = display_name(Some(json!(12345))).expect_err("number");
        assert!(
            wrong
                .message()
                .contains("field `displayName` must be a string, not a number")
        );
        let missing = email(None).expect_err("missing");
        assert!(missing.message().contains("field `email` is required"));
        assert_eq!(refresh_token(Some(Value::Null)).expect("null"), None);
        assert!(refresh_token(Some(json!(true))).is_err());
    }
}

/// The `page` and `perPage` of an offset-paged list (defaults 1 and 20).
pub fn page_request(
    page: Option<i64>,
    per_page: Option<i64>,
) -> Result<domain::PageRequest, crate::error::ApiError> {
    domain::PageRequest::parse(page, per_page)
        .map_err(|errors| crate::error::ApiError::validation(&errors))
}
