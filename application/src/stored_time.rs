//! Times as every backend stores them: UTC, whole microseconds (PostgreSQL's
//! `timestamptz` precision), so an answer is the same whatever the storage.

use time::{OffsetDateTime, UtcOffset};

/// `at` in UTC, truncated to whole microseconds.
pub(crate) fn as_stored(at: OffsetDateTime) -> OffsetDateTime {
    let at = at.to_offset(UtcOffset::UTC);
    at.replace_nanosecond(at.nanosecond() / 1_000 * 1_000)
        .unwrap_or(at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_time_is_stored_in_utc_whole_microseconds() {
        let at = OffsetDateTime::UNIX_EPOCH
            .to_offset(UtcOffset::from_hms(2, 0, 0).unwrap())
            .replace_nanosecond(123_456_789)
            .unwrap();
        let stored = as_stored(at);
        assert_eq!(stored.offset(), UtcOffset::UTC);
        assert_eq!(stored.nanosecond(), 123_456_000);
        assert_eq!(stored.unix_timestamp(), at.unix_timestamp());
    }
}
