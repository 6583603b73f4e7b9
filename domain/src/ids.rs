//! Typed identifiers. Every id is a UUIDv7: time-ordered, so ids sort by
//! creation and index well.

use std::fmt;
use std::str::FromStr;

use time::OffsetDateTime;
use uuid::Uuid;

use crate::ports::Random;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
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

/// Builds a UUIDv7 from the clock's time and the random port, so tests that
/// control both get predictable ids.
pub fn new_v7(now: OffsetDateTime, random: &dyn Random) -> Uuid {
    let millis = u64::try_from(now.unix_timestamp_nanos() / 1_000_000).unwrap_or(0);
    let mut bytes = [0u8; 10];
    random.fill(&mut bytes);
    uuid::Builder::from_unix_timestamp_millis(millis, &bytes).into_uuid()
}
