//! Text that clients put in list queries (`search`, exact-match filters):
//! plain text only. A control character has no place in a name or an id,
//! and a NUL cannot even be sent to PostgreSQL, so both are refused up
//! front, on every backend alike.

use crate::error::FieldError;

fn refuse_control(field: &'static str, text: &str) -> Result<(), FieldError> {
    if text.chars().any(char::is_control) {
        return Err(FieldError::new(
            field,
            "must not contain control characters",
        ));
    }
    Ok(())
}

/// A list's `search`: trimmed, non-blank, at most
/// [`SearchText::MAX_CHARS`] characters, no control characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchText(String);

impl SearchText {
    /// Most characters (Unicode scalar values) once trimmed.
    pub const MAX_CHARS: usize = 100;

    /// What a client sent as `search`; blank is no search.
    pub fn parse(raw: Option<&str>) -> Result<Option<Self>, FieldError> {
        let Some(text) = raw.map(str::trim).filter(|t| !t.is_empty()) else {
            return Ok(None);
        };
        if text.chars().count() > Self::MAX_CHARS {
            return Err(FieldError::new(
                "search",
                format!("must be at most {} characters", Self::MAX_CHARS),
            ));
        }
        refuse_control("search", text)?;
        Ok(Some(Self(text.to_owned())))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

/// The longest exact-match filter value (an id, a resource type).
pub const MAX_FILTER_CHARS: usize = 200;

/// Checks a filter compared exactly (`resourceType`, `resourceId`): at
/// most [`MAX_FILTER_CHARS`] characters, no control characters.
pub fn check_exact(field: &'static str, raw: Option<&str>) -> Result<(), FieldError> {
    let Some(text) = raw else {
        return Ok(());
    };
    if text.chars().count() > MAX_FILTER_CHARS {
        return Err(FieldError::new(
            field,
            format!("must be at most {MAX_FILTER_CHARS} characters"),
        ));
    }
    refuse_control(field, text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn search(raw: Option<&str>) -> Result<Option<String>, FieldError> {
        SearchText::parse(raw).map(|s| s.map(SearchText::into_string))
    }

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
        assert_eq!(
            search(Some(&"x".repeat(101))).unwrap_err().message,
            "must be at most 100 characters"
        );
        assert!(check_exact("resourceId", Some("a\0")).is_err());
        assert_eq!(
            check_exact("resourceId", Some(&"x".repeat(201)))
                .unwrap_err()
                .message,
            "must be at most 200 characters"
        );
        assert!(check_exact("resourceId", Some("character")).is_ok());
    }

    #[test]
    fn texts_of_exactly_the_most_characters_are_kept() {
        // Counted in characters, not bytes: 100 `é` are 200 bytes.
        let longest = "é".repeat(SearchText::MAX_CHARS);
        assert_eq!(search(Some(&longest)).unwrap(), Some(longest.clone()));
        assert_eq!(
            search(Some(&format!("{longest}é"))).unwrap_err().message,
            "must be at most 100 characters"
        );
        let widest = "é".repeat(MAX_FILTER_CHARS);
        assert_eq!(check_exact("resourceId", Some(&widest)), Ok(()));
        assert_eq!(
            check_exact("resourceId", Some(&format!("{widest}é"))),
            Err(FieldError::new(
                "resourceId",
                "must be at most 200 characters"
            ))
        );
    }
}
