//! Typed identifiers. Every id is a UUIDv7: time-ordered, so ids sort by
//! creation and index well.

use std::fmt;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::ports::Random;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            /// A new UUIDv7 for the instant `now`, its random bits from `random`.
            pub fn generate(now: OffsetDateTime, random: &dyn Random) -> Self {
                Self(new_v7(now, random))
            }

            pub const fn from_uuid(uuid: Uuid) -> Self {
                Self(uuid)
            }

            pub const fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }
    };
}

id_type!(
    /// A registered user.
    UserId
);
id_type!(
    /// One login session (one refresh token's lifetime).
    SessionId
);
id_type!(
    /// The sessions born of one login through successive refreshes.
    FamilyId
);
id_type!(
    /// One entry of the audit trail.
    AuditId
);
id_type!(
    /// An API key.
    ApiKeyId
);
id_type!(
    /// One of a user's game accounts.
    AccountId
);
id_type!(
    /// A character of one of a user's game accounts.
    CharacterId
);
id_type!(
    /// A group of a user's characters that play together.
    TeamId
);
id_type!(
    /// A background job.
    JobId
);
id_type!(
    /// One claim of a job by a worker: the fencing token every write of
    /// that attempt carries, so a worker whose lease ran out cannot touch
    /// the job another worker now holds.
    LeaseId
);

/// The last id stamp handed out: milliseconds << 12 | a sub-millisecond
/// counter (RFC 9562, method 1).
static LAST_STAMP: AtomicU64 = AtomicU64::new(0);

/// Builds a UUIDv7 from the clock's time and the random port, so tests that
/// control both get predictable ids. Ids made by one process strictly
/// increase, even within one millisecond (a 12-bit counter fills `rand_a`),
/// so sorting by id is sorting by creation.
pub fn new_v7(now: OffsetDateTime, random: &dyn Random) -> Uuid {
    let millis = u64::try_from(now.unix_timestamp_nanos() / 1_000_000).unwrap_or(0);
    let candidate = millis << 12;
    let mut last = LAST_STAMP.load(Ordering::Relaxed);
    let stamp = loop {
        let next = candidate.max(last + 1);
        match LAST_STAMP.compare_exchange_weak(last, next, Ordering::AcqRel, Ordering::Relaxed) {
            Ok(_) => break next,
            Err(actual) => last = actual,
        }
    };
    let mut bytes = [0u8; 10];
    random.fill(&mut bytes);
    let counter = (stamp & 0xfff) as u16;
    bytes[0] = (counter >> 8) as u8;
    bytes[1] = counter as u8;
    uuid::Builder::from_unix_timestamp_millis(stamp >> 12, &bytes).into_uuid()
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Zeros;
    impl Random for Zeros {
        fn fill(&self, dest: &mut [u8]) {
            dest.fill(0);
        }
    }

    #[test]
    fn ids_made_in_one_millisecond_still_increase() {
        let now = OffsetDateTime::now_utc();
        let ids: Vec<Uuid> = (0..5000).map(|_| new_v7(now, &Zeros)).collect();
        assert!(ids.windows(2).all(|pair| pair[0] < pair[1]));
        assert!(ids.iter().all(|id| id.get_version_num() == 7));
    }

    /// The only test that makes ids in the future: the stamp is process-wide,
    /// so the instants here must come after every other test's.
    #[test]
    fn an_id_carries_its_millisecond_in_its_first_48_bits() {
        use time::Duration;
        use time::macros::datetime;

        let start = datetime!(2030-01-01 00:00 UTC);
        let millis: u64 = 1_893_456_000_000; // 2030-01-01T00:00:00Z
        let id = new_v7(start, &Zeros);
        assert_eq!(id.as_u128() >> 80, u128::from(millis));
        assert_eq!(id.get_version_num(), 7);
        assert_eq!(id.as_bytes()[8] >> 6, 0b10);
        assert_eq!(id.get_variant(), uuid::Variant::RFC4122);
        // Counter (rand_a) 0, random bits from `Zeros`.
        assert_eq!(id.to_string(), "01b8dac5-b400-7000-8000-000000000000");

        let later = [
            start + Duration::milliseconds(1),
            start + Duration::seconds(1),
            start + Duration::days(1),
            start + Duration::days(365 * 20),
        ];
        let ids: Vec<Uuid> = later.iter().map(|&at| new_v7(at, &Zeros)).collect();
        let stamps: Vec<u128> = ids.iter().map(|id| id.as_u128() >> 80).collect();
        assert_eq!(
            stamps,
            [
                u128::from(millis + 1),
                u128::from(millis + 1_000),
                u128::from(millis + 86_400_000),
                u128::from(millis + 365 * 20 * 86_400_000),
            ]
        );
        assert!(id < ids[0]);
        assert!(ids.windows(2).all(|pair| pair[0] < pair[1]));
        // A whole millisecond apart: the sub-millisecond counter starts over.
        assert!(ids.iter().all(|id| (id.as_u128() >> 64) & 0xfff == 0));
    }
}
