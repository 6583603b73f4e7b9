use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Instant;

use argon2::PasswordHasher as _;
use argon2::password_hash::SaltString;
use tokio::task::JoinSet;

use super::*;

/// Fills every byte with the same value.
struct FixedRandom(u8);

impl Random for FixedRandom {
    fn fill(&self, dest: &mut [u8]) {
        dest.fill(self.0);
    }
}

/// Fills with a different byte on every call.
#[derive(Default)]
struct CountingRandom(AtomicU8);

impl Random for CountingRandom {
    fn fill(&self, dest: &mut [u8]) {
        dest.fill(self.0.fetch_add(1, Ordering::SeqCst));
    }
}

const CHEAP: Argon2Params = Argon2Params {
    memory_kib: 256,
    iterations: 1,
    parallelism: 1,
};

const PASSWORD: &str = "correct horse battery staple";

fn hasher_with(params: Argon2Params, concurrency: usize, max_wait: Duration) -> Argon2Hasher {
    Argon2Hasher::new(
        params,
        concurrency,
        max_wait,
        Arc::new(CountingRandom::default()),
    )
    .expect("valid hasher")
}

fn hasher(params: Argon2Params) -> Argon2Hasher {
    hasher_with(params, 2, DEFAULT_MAX_WAIT)
}

fn password(raw: &str) -> Password {
    Password::parse(raw, "password").expect("acceptable password")
}

fn secret(raw: &str) -> SecretString {
    SecretString::from(raw)
}

/// A hash of `raw` made directly with the argon2 crate.
fn foreign_hash(
    raw: &str,
    algorithm: Algorithm,
    version: Version,
    params: Argon2Params,
) -> PasswordHash {
    let params = Params::new(
        params.memory_kib,
        params.iterations,
        params.parallelism,
        None,
    )
    .expect("valid params");
    let salt = SaltString::encode_b64(&[7; 16]).expect("salt");
    let phc = Argon2::new(algorithm, version, params)
        .hash_password(raw.as_bytes(), &salt)
        .expect("hash");
    PasswordHash::new(phc.to_string())
}

// --- hashing and verifying ---------------------------------------------

#[tokio::test]
async fn verify_with_the_hashed_password_matches_without_rehash() {
    let hasher = hasher(CHEAP);
    let hash = hasher.hash(&password(PASSWORD)).await.expect("hash");

    let outcome = hasher.verify(&secret(PASSWORD), &hash).await;

    assert_eq!(
        outcome.expect("verify"),
        Verification::Match {
            needs_rehash: false
        }
    );
}

#[tokio::test]
async fn verify_with_a_wrong_password_is_a_mismatch() {
    let hasher = hasher(CHEAP);
    let hash = hasher.hash(&password(PASSWORD)).await.expect("hash");

    let outcome = hasher
        .verify(&secret("correct horse battery stapler"), &hash)
        .await;

    assert_eq!(outcome.expect("verify"), Verification::Mismatch);
}

#[tokio::test]
async fn hash_is_a_phc_argon2id_string_with_the_configured_params_and_injected_salt() {
    let params = Argon2Params {
        memory_kib: 512,
        iterations: 2,
        parallelism: 2,
    };
    let hasher = Argon2Hasher::new(params, 1, DEFAULT_MAX_WAIT, Arc::new(FixedRandom(0xAB)))
        .expect("valid hasher");

    let hash = hasher.hash(&password(PASSWORD)).await.expect("hash");

    let fields: Vec<&str> = hash.as_str().split('$').collect();
    let expected_salt = SaltString::encode_b64(&[0xAB; 16]).expect("salt");
    assert_eq!(fields.len(), 6, "{fields:?}");
    assert_eq!(
        fields[..5],
        [
            "",
            "argon2id",
            "v=19",
            "m=512,t=2,p=2",
            expected_salt.as_str()
        ]
    );
    assert_eq!(fields[5].len(), 43, "32 bytes of output in unpadded base64");
}

#[tokio::test]
async fn two_hashes_of_one_password_get_different_salts() {
    let hasher = hasher(CHEAP);

    let first = hasher.hash(&password(PASSWORD)).await.expect("hash");
    let second = hasher.hash(&password(PASSWORD)).await.expect("hash");

    assert_ne!(first, second);
}

#[tokio::test]
async fn hash_made_with_other_costs_matches_but_needs_rehash() {
    let current = hasher(CHEAP);
    for other in [
        Argon2Params {
            memory_kib: 512,
            ..CHEAP
        },
        Argon2Params {
            iterations: 2,
            ..CHEAP
        },
        Argon2Params {
            parallelism: 2,
            ..CHEAP
        },
    ] {
        let old_hash = hasher(other).hash(&password(PASSWORD)).await.expect("hash");

        let outcome = current.verify(&secret(PASSWORD), &old_hash).await;

        assert_eq!(
            outcome.expect("verify"),
            Verification::Match { needs_rehash: true },
            "hash made with {other}"
        );
    }
}

#[tokio::test]
async fn hash_made_with_another_algorithm_or_version_matches_but_needs_rehash() {
    let hasher = hasher(CHEAP);
    for (algorithm, version) in [
        (Algorithm::Argon2i, Version::V0x13),
        (Algorithm::Argon2d, Version::V0x13),
        (Algorithm::Argon2id, Version::V0x10),
    ] {
        let old_hash = foreign_hash(PASSWORD, algorithm, version, CHEAP);

        let outcome = hasher.verify(&secret(PASSWORD), &old_hash).await;

        assert_eq!(
            outcome.expect("verify"),
            Verification::Match { needs_rehash: true },
            "{algorithm} {version:?}"
        );
    }
}

#[tokio::test]
async fn hash_made_elsewhere_with_the_current_params_needs_no_rehash() {
    let hasher = hasher(CHEAP);
    let hash = foreign_hash(PASSWORD, Algorithm::Argon2id, Version::V0x13, CHEAP);

    let outcome = hasher.verify(&secret(PASSWORD), &hash).await;

    assert_eq!(
        outcome.expect("verify"),
        Verification::Match {
            needs_rehash: false
        }
    );
}

#[tokio::test]
async fn wrong_password_against_an_outdated_hash_is_still_a_mismatch() {
    let hasher = hasher(CHEAP);
    let old_hash = foreign_hash(PASSWORD, Algorithm::Argon2i, Version::V0x13, CHEAP);

    let outcome = hasher
        .verify(&secret("something else entirely"), &old_hash)
        .await;

    assert_eq!(outcome.expect("verify"), Verification::Mismatch);
}

#[tokio::test]
async fn malformed_stored_hash_is_an_internal_error_that_never_shows_the_password() {
    let hasher = hasher(CHEAP);
    let candidate = "the-candidate-password";
    let malformed = [
        "",
        "not a hash",
        "$argon2id$v=19$m=256,t=1,p=1",
        "$argon2id$v=19$m=256,t=1,p=1$c2FsdHNhbHRzYWx0",
        "$argon2id$v=19$m=0,t=1,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA",
        "$argon2id$v=99$m=256,t=1,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA",
        "$argon2id$v=19$m=256,t=1,p=1,x=3$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA",
        "$scrypt$ln=16,r=8,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA",
        "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW",
    ];
    for stored in malformed {
        let outcome = hasher
            .verify(&secret(candidate), &PasswordHash::new(stored.into()))
            .await;

        match outcome {
            Err(HashError::Internal(message)) => {
                assert!(!message.contains(candidate), "{stored:?}: {message}");
            }
            other => panic!("{stored:?} should be Internal, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn verify_dummy_succeeds_whatever_the_candidate() {
    let hasher = hasher(CHEAP);

    for candidate in ["", "roster: no such account", PASSWORD] {
        let outcome = hasher.verify_dummy(&secret(candidate)).await;

        assert!(outcome.is_ok(), "{candidate:?}: {outcome:?}");
    }
}

#[test]
fn dummy_hash_uses_the_current_params() {
    let params = Argon2Params {
        memory_kib: 264,
        iterations: 3,
        parallelism: 1,
    };

    let hasher = hasher(params);

    assert!(
        hasher
            .dummy
            .as_str()
            .starts_with("$argon2id$v=19$m=264,t=3,p=1$"),
        "verify_dummy must cost what a real verify costs"
    );
}

#[test]
fn debug_shows_the_settings_and_not_the_dummy_hash() {
    let hasher = hasher(CHEAP);

    let debug = format!("{hasher:?}");

    assert!(debug.contains("memory_kib: 256"), "{debug}");
    assert!(debug.contains("concurrency: 2"), "{debug}");
    assert!(!debug.contains("$argon2"), "{debug}");
}

// --- concurrency ---------------------------------------------------------

#[tokio::test]
async fn caller_gets_busy_when_the_only_slot_stays_taken_past_max_wait() {
    let max_wait = Duration::from_millis(50);
    let hasher = hasher_with(CHEAP, 1, max_wait);
    let hash = hasher.hash(&password(PASSWORD)).await.expect("hash");
    let held = Arc::clone(hasher.semaphore())
        .acquire_owned()
        .await
        .expect("permit");

    let started = Instant::now();
    let verify = hasher.verify(&secret(PASSWORD), &hash).await;
    let waited = started.elapsed();
    let new_hash = hasher.hash(&password(PASSWORD)).await;
    let dummy = hasher.verify_dummy(&secret(PASSWORD)).await;

    assert!(matches!(verify, Err(HashError::Busy)), "{verify:?}");
    assert!(matches!(new_hash, Err(HashError::Busy)), "{new_hash:?}");
    assert!(matches!(dummy, Err(HashError::Busy)), "{dummy:?}");
    assert!(waited >= max_wait, "gave up after {waited:?}");
    assert!(waited < Duration::from_secs(2), "waited {waited:?}");
    drop(held);
    let after_release = hasher.verify(&secret(PASSWORD), &hash).await;
    assert_eq!(
        after_release.expect("verify"),
        Verification::Match {
            needs_rehash: false
        }
    );
}

/// Waits (briefly) until `hasher` has `n` callers waiting for a slot.
async fn until_waiting(hasher: &Argon2Hasher, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while hasher.waiting() != n {
        assert!(
            Instant::now() < deadline,
            "{} waiting, not {n}",
            hasher.waiting()
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

#[tokio::test]
async fn the_queue_counts_callers_waiting_for_a_slot_however_their_wait_ends() {
    let hasher = Arc::new(hasher_with(CHEAP, 1, Duration::from_secs(5)));
    let held = Arc::clone(hasher.semaphore())
        .acquire_owned()
        .await
        .expect("permit");
    assert_eq!(hasher.waiting(), 0);

    let hash = |hasher: &Arc<Argon2Hasher>| {
        let hasher = Arc::clone(hasher);
        tokio::spawn(async move { hasher.hash(&password(PASSWORD)).await })
    };
    let first = hash(&hasher);
    let second = hash(&hasher);
    let abandoned = hash(&hasher);
    until_waiting(&hasher, 3).await;
    // A request that goes away while it waits leaves the queue.
    abandoned.abort();
    until_waiting(&hasher, 2).await;
    drop(held);

    assert!(first.await.expect("joined").is_ok());
    assert!(second.await.expect("joined").is_ok());
    assert_eq!(hasher.waiting(), 0);
}

#[tokio::test]
async fn caller_waits_for_a_slot_freed_within_max_wait() {
    let hasher = hasher_with(CHEAP, 1, Duration::from_secs(5));
    let held = Arc::clone(hasher.semaphore())
        .acquire_owned()
        .await
        .expect("permit");
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(30)).await;
        drop(held);
    });

    let outcome = hasher.hash(&password(PASSWORD)).await;

    assert!(outcome.is_ok(), "{outcome:?}");
}

#[tokio::test]
async fn slot_is_released_after_each_hash() {
    let hasher = hasher_with(CHEAP, 1, Duration::from_millis(50));

    for _ in 0..3 {
        let outcome = hasher.hash(&password(PASSWORD)).await;
        assert!(outcome.is_ok(), "{outcome:?}");
    }

    assert_eq!(hasher.semaphore().available_permits(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn burst_of_verifies_never_runs_more_than_concurrency_at_once() {
    // Enough work per hash (a few ms) for the verifies to overlap.
    let params = Argon2Params {
        iterations: 16,
        ..CHEAP
    };
    let hasher = Arc::new(hasher_with(params, 2, Duration::from_secs(30)));
    let hash = hasher.hash(&password(PASSWORD)).await.expect("hash");
    let mut burst = JoinSet::new();

    for _ in 0..8 {
        let (hasher, hash) = (Arc::clone(&hasher), hash.clone());
        burst.spawn(async move { hasher.verify(&secret(PASSWORD), &hash).await });
    }
    let outcomes = burst.join_all().await;

    for outcome in outcomes {
        assert_eq!(
            outcome.expect("verify"),
            Verification::Match {
                needs_rehash: false
            }
        );
    }
    let peak = hasher.in_flight.peak();
    assert!((1..=2).contains(&peak), "peak of {peak} hashes at once");
    assert_eq!(hasher.semaphore().available_permits(), 2);
}

// --- construction and parameters -----------------------------------------

#[test]
fn default_params_are_owasps_argon2id_recommendation() {
    let params = Argon2Params::default();

    assert_eq!(
        params,
        Argon2Params {
            memory_kib: 19_456,
            iterations: 2,
            parallelism: 1
        }
    );
    assert!(params.validate().is_ok());
}

#[test]
fn params_parse_the_configuration_format_and_display_it_back() {
    let parsed: Argon2Params = "19456,2,1".parse().expect("valid");

    assert_eq!(parsed, Argon2Params::OWASP);
    assert_eq!(parsed.to_string(), "19456,2,1");
    assert_eq!(
        " 65536 , 3 , 4 ".parse(),
        Ok(Argon2Params {
            memory_kib: 65_536,
            iterations: 3,
            parallelism: 4
        })
    );
}

#[test]
fn params_refuse_bad_input_with_a_message_naming_the_fault() {
    let cases = [
        ("", "is empty"),
        ("abc", "expected 3 comma-separated values"),
        ("1,2", "got 2"),
        ("19456,2,1,1", "got 4"),
        ("19456,,1", "iterations must be a whole number"),
        (
            "lots,2,1",
            "memory_kib must be a whole number, got \"lots\"",
        ),
        ("-1,2,1", "memory_kib must be a whole number"),
        ("19456,2,99999999999", "parallelism must be a whole number"),
        ("0,2,1", "memory_kib must be at least 8"),
        ("7,1,1", "memory_kib must be at least 8"),
        ("16,1,4", "(32 for parallelism 4), got 16"),
        ("19456,0,1", "iterations must be between 1 and"),
        (
            "19456,2,0",
            "parallelism must be between 1 and 16777215, got 0",
        ),
        (
            "4294967295,1,16777216",
            "parallelism must be between 1 and 16777215",
        ),
    ];

    for (input, expected) in cases {
        let error = input.parse::<Argon2Params>().expect_err(input).to_string();

        assert!(
            error.contains(expected),
            "{input:?}: {error:?} should contain {expected:?}"
        );
    }
}

#[test]
fn hasher_refuses_invalid_params_and_zero_concurrency() {
    let random: Arc<dyn Random> = Arc::new(FixedRandom(1));
    let invalid = Argon2Params {
        memory_kib: 0,
        ..CHEAP
    };

    let bad_params = Argon2Hasher::new(invalid, 1, DEFAULT_MAX_WAIT, Arc::clone(&random));
    let no_slots = Argon2Hasher::new(CHEAP, 0, DEFAULT_MAX_WAIT, random);

    assert!(matches!(
        bad_params,
        Err(BuildError::Params(ParamsError::MemoryTooSmall { .. }))
    ));
    assert!(matches!(no_slots, Err(BuildError::ZeroConcurrency)));
}

// --- working memory ----------------------------------------------------

#[tokio::test]
async fn a_hash_made_in_pooled_memory_is_the_one_argon2_itself_makes() {
    use argon2::PasswordVerifier as _;

    let hasher = hasher(CHEAP);
    let hash = hasher.hash(&password(PASSWORD)).await.expect("hash");
    let parsed = argon2::PasswordHash::new(hash.as_str()).expect("a PHC string");
    assert!(
        Argon2::default()
            .verify_password(PASSWORD.as_bytes(), &parsed)
            .is_ok()
    );
    assert!(
        Argon2::default()
            .verify_password(b"another password", &parsed)
            .is_err()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_reuses_at_most_one_buffer_per_slot() {
    let hasher = Arc::new(hasher_with(CHEAP, 2, Duration::from_secs(30)));
    let hash = hasher.hash(&password(PASSWORD)).await.expect("hash");
    let mut burst = JoinSet::new();
    for n in 0..32 {
        let (hasher, hash) = (Arc::clone(&hasher), hash.clone());
        burst.spawn(async move {
            let candidate = if n % 2 == 0 {
                PASSWORD
            } else {
                "not the password"
            };
            hasher
                .verify(&secret(candidate), &hash)
                .await
                .expect("verify")
        });
    }
    let mut matches = 0;
    while let Some(outcome) = burst.join_next().await {
        if matches!(outcome.expect("a task"), Verification::Match { .. }) {
            matches += 1;
        }
    }
    assert_eq!(matches, 16);
    let pooled = hasher.memory.buffers.lock().unwrap();
    assert!((1..=2).contains(&pooled.len()), "{} buffers", pooled.len());
    let blocks = Params::try_from(&argon2::PasswordHash::new(hash.as_str()).unwrap())
        .unwrap()
        .block_count();
    assert!(pooled.iter().all(|buffer| buffer.len() == blocks));
}
