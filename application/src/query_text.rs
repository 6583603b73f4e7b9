//! Text that clients put in list queries (`search`, audit filters): plain
//! text only. A control character has no place in a name or an id, and a
//! NUL cannot even be sent to PostgreSQL, so both are refused up front with
//! a 400 naming the parameter, on every backend alike.

use domain::FieldError;

/// The longest `search` a list takes.
const MAX_SEARCH: usize = 100;

/// The longest exact-match filter value (an id, a resource type).
const MAX_FILTER: usize = 200;

fn refuse_control(field: &'static str, text: &str) -> Result<(), FieldError> {
    if text.chars().any(char::is_control) {
        return Err(FieldError::new(
            field,
            "must not contain control characters",
        ));
    }
    Ok(())
}

/// A list's `search`: trimmed; blank is no search; at most 100 characters.
pub(crate) fn search(raw: Option<&str>) -> Result<Option<String>, FieldError> {
    let Some(text) = raw.map(str::trim).filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    if text.chars().count() > MAX_SEARCH {
        return Err(FieldError::new("search", "must be at most 100 characters"));
    }
    refuse_control("search", text)?;
    Ok(Some(text.to_owned()))
}

/// A filter compared exactly (`resourceType`, `resourceId`): at most 200
/// characters, no control characters.
pub(crate) fn exact(field: &'static str, raw: Option<&str>) -> Result<(), FieldError> {
    let Some(text) = raw else {
        return Ok(());
    };
    if text.chars().count() > MAX_FILTER {
        return Err(FieldError::new(field, "must be at most 200 characters"));
    }
    refuse_control(field, text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_search_is_trimmed_and_blank_is_none() {
        assert_eq!(search(Some("  iop ")).unwrap().as_deref(), Some("iop"));
        assert_eq!(search(Some("   ")).unwrap(), None);
        assert_eq!(search(None).unwrap(), None);
    }

    #[test]
    fn control_characters_and_long_texts_are_refused() {
        assert!(search(Some("a\0b")).is_err());
        assert!(search(Some("\u{1b}[31m")).is_err());
        assert!(search(Some(&"x".repeat(101))).is_err());
        assert!(exact("resourceId", Some("a\0")).is_err());
        assert!(exact("resourceId", Some(&"x".repeat(201))).is_err());
        assert!(exact("resourceId", Some("character")).is_ok());
    }
}
