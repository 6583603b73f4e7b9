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

/// An optional field that may be left out but not sent as `null`: an enum
/// (`role`, `scope`), whose schema stays a plain `$ref` because it is not
/// nullable (a nullable `$ref` needs an `allOf` wrapper that generators
/// drop), or a field whose `null` would mean nothing (`disabled`).
pub fn absent_or<T: poem_openapi::types::ParseFromJSON>(
    value: Option<Value>,
) -> ParseResult<Option<T>> {
    match value {
        None => Ok(None),
        Some(Value::Null) => Err(ParseError::custom(
            "cannot be null; leave the field out instead",
        )),
        value => T::parse_from_json(value)
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
    roster_name => "name", trimmed;
}

/// A field of a PATCH body that may be left out (kept) but not cleared:
/// `null` is refused like any other wrong type.
fn patched<T>(
    field: &str,
    value: Option<Value>,
    read: impl FnOnce(&str, Option<Value>) -> Result<T, String>,
) -> Result<Option<T>, String> {
    match value {
        None => Ok(None),
        Some(Value::Null) => Err(format!(
            "field `{field}` cannot be null; leave it out to keep it"
        )),
        value => read(field, value).map(Some),
    }
}

/// A string, trimmed, with errors that name the field.
fn trimmed(field: &str, value: Option<Value>) -> Result<String, String> {
    match value {
        Some(Value::String(s)) => Ok(s.trim().to_owned()),
        None | Some(Value::Null) => Err(format!("field `{field}` is required")),
        Some(other) => Err(format!(
            "field `{field}` must be a string, not {}",
            kind(&other)
        )),
    }
}

/// An integer field, with errors that name it.
fn integer(field: &str, value: Option<Value>) -> Result<i64, String> {
    match value {
        None | Some(Value::Null) => Err(format!("field `{field}` is required")),
        Some(Value::Number(n)) => n
            .as_i64()
            .ok_or_else(|| format!("field `{field}` must be an integer")),
        Some(other) => Err(format!(
            "field `{field}` must be an integer, not {}",
            kind(&other)
        )),
    }
}

/// A catalog id (class, server): an integer in the `i32` range.
fn catalog_id(field: &str, value: Option<Value>) -> Result<i32, String> {
    let id = integer(field, value)?;
    i32::try_from(id).map_err(|_| format!("field `{field}` is out of range"))
}

/// A UUID field, with errors that name it.
fn uuid_field(field: &str, value: Option<Value>) -> Result<uuid::Uuid, String> {
    match value {
        Some(Value::String(s)) => {
            uuid::Uuid::parse_str(&s).map_err(|_| format!("field `{field}` must be a UUID"))
        }
        None | Some(Value::Null) => Err(format!("field `{field}` is required")),
        Some(other) => Err(format!(
            "field `{field}` must be a UUID string, not {}",
            kind(&other)
        )),
    }
}

/// The roster's request fields: strict types, errors that name the field.
pub mod roster {
    use poem_openapi::types::{MaybeUndefined, ParseError, ParseResult};
    use serde_json::Value;

    use super::{catalog_id, integer, kind, patched, trimmed, uuid_field};

    fn parsed<T: poem_openapi::types::Type>(result: Result<T, String>) -> ParseResult<T> {
        result.map_err(ParseError::custom)
    }

    /// `notes` of a new account: a string, or absent or `null` for none.
    pub fn new_notes(value: Option<Value>) -> ParseResult<Option<String>> {
        parsed(match value {
            None | Some(Value::Null) => Ok(None),
            value => trimmed("notes", value).map(Some),
        })
    }

    /// `notes` of an account edit: absent keeps them, `null` clears them.
    pub fn patch_notes(value: Option<Value>) -> ParseResult<MaybeUndefined<String>> {
        parsed(match value {
            None => Ok(MaybeUndefined::Undefined),
            Some(Value::Null) => Ok(MaybeUndefined::Null),
            value => trimmed("notes", value).map(MaybeUndefined::Value),
        })
    }

    pub fn patch_name(value: Option<Value>) -> ParseResult<Option<String>> {
        parsed(patched("name", value, trimmed))
    }

    pub fn level(value: Option<Value>) -> ParseResult<i64> {
        parsed(integer("level", value))
    }

    pub fn patch_level(value: Option<Value>) -> ParseResult<Option<i64>> {
        parsed(patched("level", value, integer))
    }

    pub fn class_id(value: Option<Value>) -> ParseResult<i32> {
        parsed(catalog_id("classId", value))
    }

    pub fn patch_class_id(value: Option<Value>) -> ParseResult<Option<i32>> {
        parsed(patched("classId", value, catalog_id))
    }

    pub fn server_id(value: Option<Value>) -> ParseResult<i32> {
        parsed(catalog_id("serverId", value))
    }

    pub fn patch_server_id(value: Option<Value>) -> ParseResult<Option<i32>> {
        parsed(patched("serverId", value, catalog_id))
    }

    pub fn account_id(value: Option<Value>) -> ParseResult<uuid::Uuid> {
        parsed(uuid_field("accountId", value))
    }

    pub fn patch_account_id(value: Option<Value>) -> ParseResult<Option<uuid::Uuid>> {
        parsed(patched("accountId", value, uuid_field))
    }

    /// `ids` of a bulk delete: an array of UUID strings.
    pub fn ids(value: Option<Value>) -> ParseResult<Vec<uuid::Uuid>> {
        parsed(match value {
            Some(Value::Array(items)) => items
                .into_iter()
                .map(|item| uuid_field("ids", Some(item)))
                .collect(),
            None | Some(Value::Null) => Err("field `ids` is required".to_owned()),
            Some(other) => Err(format!(
                "field `ids` must be an array of UUIDs, not {}",
                kind(&other)
            )),
        })
    }
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

/// Path parameters that the document types precisely (`string`/`uuid`,
/// `integer`/`int64`) but that reach the handler as text: a failed parse is
/// then reported by the handler under the parameter's own name, where
/// poem-openapi would report it under an internal one (`param1`).
macro_rules! path_text {
    ($(#[$doc:meta])* $name:ident documented as $as:ty) => {
        $(#[$doc])*
        #[derive(Debug, Clone)]
        pub struct $name(String);

        impl std::ops::Deref for $name {
            type Target = str;
            fn deref(&self) -> &str {
                &self.0
            }
        }

        impl poem_openapi::types::Type for $name {
            const IS_REQUIRED: bool = true;
            type RawValueType = String;
            type RawElementValueType = String;

            fn name() -> std::borrow::Cow<'static, str> {
                <$as as poem_openapi::types::Type>::name()
            }

            fn schema_ref() -> poem_openapi::registry::MetaSchemaRef {
                <$as as poem_openapi::types::Type>::schema_ref()
            }

            fn as_raw_value(&self) -> Option<&String> {
                Some(&self.0)
            }

            fn raw_element_iter<'a>(&'a self) -> Box<dyn Iterator<Item = &'a String> + 'a> {
                Box::new(std::iter::once(&self.0))
            }
        }

        impl poem_openapi::types::ParseFromParameter for $name {
            fn parse_from_parameter(value: &str) -> ParseResult<Self> {
                Ok(Self(value.to_owned()))
            }
        }
    };
}

path_text!(
    /// An id in a path: documented as a UUID, checked by [`path_uuid`].
    UuidText documented as uuid::Uuid
);
path_text!(
    /// A catalog item's id in a path: documented as an integer.
    IntegerText documented as i64
);

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

/// A list's `search` (trimmed; blank is none), with a 400 naming it.
pub fn search_text(
    raw: Option<&str>,
) -> Result<Option<domain::SearchText>, crate::error::ApiError> {
    domain::SearchText::parse(raw)
        .map_err(|error| crate::error::ApiError::validation(&domain::ValidationErrors(vec![error])))
}

/// The `page` and `perPage` of an offset-paged list (defaults 1 and 20).
pub fn page_request(
    page: Option<i64>,
    per_page: Option<i64>,
) -> Result<domain::PageRequest, crate::error::ApiError> {
    domain::PageRequest::parse(page, per_page)
        .map_err(|errors| crate::error::ApiError::validation(&errors))
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
