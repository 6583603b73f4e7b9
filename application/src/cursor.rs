//! Opaque cursors of keyset-paged lists: the id of the last item of a page,
//! base64url-encoded. Opaque to clients, so the encoding may change.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use uuid::Uuid;

pub(crate) fn encode(id: Uuid) -> String {
    URL_SAFE_NO_PAD.encode(id.as_bytes())
}

/// The id a cursor of [`encode`] holds; `None` for anything else.
pub(crate) fn decode(cursor: &str) -> Option<Uuid> {
    URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|bytes| Uuid::from_slice(&bytes).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_round_trips_and_garbage_is_refused() {
        let id = Uuid::from_u128(42);
        assert_eq!(decode(&encode(id)), Some(id));
        assert_eq!(decode("not a cursor!"), None);
        assert_eq!(decode("AAAA"), None);
    }
}
