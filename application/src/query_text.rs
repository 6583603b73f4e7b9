//! The list-query text rules of `domain::query`, in the shape the use cases
//! that still take raw query text (the catalog, admin and audit lists) use.

use domain::FieldError;
use domain::query::{SearchText, check_exact};

/// A list's `search`: trimmed; blank is no search; at most 100 characters.
pub(crate) fn search(raw: Option<&str>) -> Result<Option<String>, FieldError> {
    SearchText::parse(raw).map(|text| text.map(SearchText::into_string))
}

/// A filter compared exactly (`resourceType`, `resourceId`): at most 200
/// characters, no control characters.
pub(crate) fn exact(field: &'static str, raw: Option<&str>) -> Result<(), FieldError> {
    check_exact(field, raw)
}
