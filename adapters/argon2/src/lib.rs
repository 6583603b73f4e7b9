//! Argon2id password hashing behind the domain's [`PasswordHasher`] port.
//!
//! Hashes are PHC strings (`$argon2id$v=19$m=…,t=…,p=…$salt$hash`), salted
//! with 16 bytes from the injected [`Random`] port.
//!
//! # Why `spawn_blocking` and a semaphore
//!
//! One Argon2 hash is deliberately expensive: tens of milliseconds of CPU and
//! `memory_kib` KiB of RAM at the default parameters. Run on an async worker,
//! it would stall every other request scheduled on that worker for as long,
//! so each hash runs on Tokio's blocking pool via
//! [`tokio::task::spawn_blocking`].
//!
//! The blocking pool is large (hundreds of threads) and queues without bound,
//! so on its own it would let a burst of logins start hundreds of hashes at
//! once: memory grows by `memory_kib` per hash, every hash slows down, and
//! every request waits behind all the others. A [`Semaphore`] with one permit
//! per core caps how many hashes run at once. A caller that cannot get a
//! permit within `max_wait` is refused with [`HashError::Busy`] (a 503 the
//! client may retry) instead of joining an ever-growing queue. The permit
//! moves into the blocking task and is released only when the hash is done,
//! even if the request that started it has gone away meanwhile, so the cap
//! holds for the work actually running.
//!
//! The timeout needs a Tokio runtime with its time driver enabled.
//!
//! # The queue gauge
//!
//! `roster_argon2_queue` counts the callers waiting for a slot right now
//! (recorded through the `metrics` facade; whoever installed a recorder
//! shows it). A queue that stays above zero means logins wait for CPU.
//!
//! # Memory that comes back
//!
//! Each hash needs `memory_kib` KiB of working memory. Allocated per hash,
//! a flood of logins left the allocator holding freed 19 MiB blocks on
//! every blocking thread that ever ran one (the process grew to 600 MB and
//! kept it). The working memory is instead taken from a pool of at most
//! `concurrency` buffers, each made once and reused: the semaphore already
//! bounds how many are in use.
//!
//! # Unknown accounts
//!
//! [`PasswordHasher::verify_dummy`] checks the candidate against a hash made
//! once at construction with the current parameters, so a login for an
//! unknown account costs as much as one for a real account.

use std::fmt;
use std::num::ParseIntError;
use std::str::FromStr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use argon2::password_hash::{self, ParamsString, Salt, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use async_trait::async_trait;
use domain::ports::{HashError, PasswordHasher, Random, Verification};
use domain::user::{Password, PasswordHash};
use secrecy::{ExposeSecret, SecretString};
use tokio::sync::Semaphore;

/// How long a caller waits for a hashing slot before [`HashError::Busy`],
/// when the bootstrap has no better value.
pub const DEFAULT_MAX_WAIT: Duration = Duration::from_secs(5);

/// The gauge of the callers waiting for a hashing slot.
pub const QUEUE_METRIC: &str = "roster_argon2_queue";

/// The help text of this adapter's metrics, for the exposition's `# HELP`.
pub fn describe_metrics() {
    metrics::describe_gauge!(
        QUEUE_METRIC,
        metrics::Unit::Count,
        "password hashes waiting for a slot (ROSTER_ARGON2_CONCURRENCY run at once)"
    );
}

/// Salt length in bytes (the length argon2 and OWASP recommend).
const SALT_LEN: usize = argon2::RECOMMENDED_SALT_LEN;

/// Output length in bytes of the hashes this adapter makes.
const OUTPUT_LEN: usize = Params::DEFAULT_OUTPUT_LEN;

/// The password behind the dummy hash. Not a secret: it only has to exist.
const DUMMY_PASSWORD: &[u8] = b"roster: no such account";

/// Argon2id cost parameters.
///
/// Parsed from the configuration format `"memory_kib,iterations,parallelism"`,
/// e.g. `"19456,2,1"`; [`fmt::Display`] writes the same format back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Argon2Params {
    /// Memory per hash, in KiB (argon2's `m`).
    pub memory_kib: u32,
    /// Passes over the memory (argon2's `t`).
    pub iterations: u32,
    /// Lanes (argon2's `p`).
    pub parallelism: u32,
}

impl Argon2Params {
    /// OWASP's recommendation for argon2id: 19 MiB, 2 iterations, 1 lane.
    pub const OWASP: Self = Self {
        memory_kib: 19_456,
        iterations: 2,
        parallelism: 1,
    };

    /// Checks the parameters against argon2's own limits.
    pub fn validate(&self) -> Result<(), ParamsError> {
        self.to_argon2().map(|_| ())
    }

    fn to_argon2(self) -> Result<Params, ParamsError> {
        if self.iterations < Params::MIN_T_COST {
            return Err(ParamsError::OutOfRange {
                field: "iterations",
                value: self.iterations,
                min: Params::MIN_T_COST,
                max: Params::MAX_T_COST,
            });
        }
        if !(Params::MIN_P_COST..=Params::MAX_P_COST).contains(&self.parallelism) {
            return Err(ParamsError::OutOfRange {
                field: "parallelism",
                value: self.parallelism,
                min: Params::MIN_P_COST,
                max: Params::MAX_P_COST,
            });
        }
        // Argon2 needs 8 blocks of 1 KiB per lane (`MIN_M_COST` is those 8).
        // Cannot overflow: parallelism < 2^24.
        let min_memory = Params::MIN_M_COST.saturating_mul(self.parallelism);
        if self.memory_kib < min_memory {
            return Err(ParamsError::MemoryTooSmall {
                memory_kib: self.memory_kib,
                parallelism: self.parallelism,
                min: min_memory,
            });
        }
        Params::new(
            self.memory_kib,
            self.iterations,
            self.parallelism,
            Some(OUTPUT_LEN),
        )
        .map_err(|e| ParamsError::Rejected(e.to_string()))
    }
}

impl Default for Argon2Params {
    fn default() -> Self {
        Self::OWASP
    }
}

impl fmt::Display for Argon2Params {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{},{},{}",
            self.memory_kib, self.iterations, self.parallelism
        )
    }
}

impl FromStr for Argon2Params {
    type Err = ParamsError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.trim().is_empty() {
            return Err(ParamsError::Empty);
        }
        let parts: Vec<&str> = s.split(',').map(str::trim).collect();
        let [memory_kib, iterations, parallelism] = parts.as_slice() else {
            return Err(ParamsError::WrongCount { found: parts.len() });
        };
        let params = Self {
            memory_kib: number("memory_kib", memory_kib)?,
            iterations: number("iterations", iterations)?,
            parallelism: number("parallelism", parallelism)?,
        };
        params.validate()?;
        Ok(params)
    }
}

fn number(field: &'static str, value: &str) -> Result<u32, ParamsError> {
    value.parse().map_err(|source| ParamsError::NotANumber {
        field,
        value: value.to_owned(),
        source,
    })
}

/// Why Argon2 parameters were refused. Messages name the faulty part; the
/// caller adds where the value came from.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParamsError {
    #[error("is empty; expected \"memory_kib,iterations,parallelism\", e.g. \"19456,2,1\"")]
    Empty,
    #[error(
        "expected 3 comma-separated values \"memory_kib,iterations,parallelism\" \
         (e.g. \"19456,2,1\"), got {found}"
    )]
    WrongCount { found: usize },
    #[error("{field} must be a whole number, got {value:?} ({source})")]
    NotANumber {
        field: &'static str,
        value: String,
        source: ParseIntError,
    },
    #[error("{field} must be between {min} and {max}, got {value}")]
    OutOfRange {
        field: &'static str,
        value: u32,
        min: u32,
        max: u32,
    },
    #[error(
        "memory_kib must be at least 8 per lane ({min} for parallelism {parallelism}), \
         got {memory_kib}"
    )]
    MemoryTooSmall {
        memory_kib: u32,
        parallelism: u32,
        min: u32,
    },
    #[error("argon2 refused the parameters: {0}")]
    Rejected(String),
}

/// Why an [`Argon2Hasher`] could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BuildError {
    #[error(transparent)]
    Params(#[from] ParamsError),
    #[error("concurrency must be at least 1")]
    ZeroConcurrency,
    #[error("computing the dummy hash failed: {0}")]
    DummyHash(String),
}

/// Argon2id [`PasswordHasher`], run on the blocking pool with at most
/// `concurrency` hashes at once.
pub struct Argon2Hasher {
    params: Argon2Params,
    argon2: Argon2<'static>,
    permits: Arc<Semaphore>,
    concurrency: usize,
    max_wait: Duration,
    /// Callers waiting for a slot now (what the gauge shows).
    waiting: Arc<AtomicUsize>,
    random: Arc<dyn Random>,
    /// Made once with the current parameters, for [`PasswordHasher::verify_dummy`].
    dummy: PasswordHash,
    /// Working memory, reused from hash to hash.
    memory: Arc<Memory>,
    #[cfg(test)]
    in_flight: Arc<probe::InFlight>,
}

impl Argon2Hasher {
    /// Builds the hasher and computes the dummy hash.
    ///
    /// `concurrency` caps how many hashes run at once (the number of cores
    /// is a good value); a caller that gets no slot within `max_wait` gets
    /// [`HashError::Busy`].
    ///
    /// Computing the dummy hash blocks the calling thread for one hash, so
    /// build the hasher at start-up, before serving.
    pub fn new(
        params: Argon2Params,
        concurrency: usize,
        max_wait: Duration,
        random: Arc<dyn Random>,
    ) -> Result<Self, BuildError> {
        let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.to_argon2()?);
        if concurrency == 0 {
            return Err(BuildError::ZeroConcurrency);
        }
        let salt = fresh_salt(random.as_ref()).map_err(|e| BuildError::DummyHash(e.to_string()))?;
        let memory = Arc::new(Memory::new(concurrency));
        let dummy = memory
            .hash(
                (Algorithm::Argon2id, Version::V0x13, argon2.params()),
                DUMMY_PASSWORD,
                salt.as_salt(),
            )
            .map_err(|e| BuildError::DummyHash(e.to_string()))?;
        // The series exists (at 0) before the first wait.
        metrics::gauge!(QUEUE_METRIC).increment(0.0);
        Ok(Self {
            params,
            argon2,
            permits: Arc::new(Semaphore::new(concurrency)),
            concurrency,
            max_wait,
            waiting: Arc::default(),
            dummy: PasswordHash::new(dummy.to_string()),
            memory,
            random,
            #[cfg(test)]
            in_flight: Arc::default(),
        })
    }

    /// The parameters new hashes are made with.
    pub fn params(&self) -> Argon2Params {
        self.params
    }

    /// Waits up to `max_wait` for a slot, then runs `job` on the blocking
    /// pool, holding the slot until `job` returns.
    async fn run_blocking<T, F>(&self, job: F) -> Result<T, HashError>
    where
        T: Send + 'static,
        F: FnOnce() -> Result<T, HashError> + Send + 'static,
    {
        let waiting = Waiting::start(&self.waiting);
        let acquired =
            tokio::time::timeout(self.max_wait, Arc::clone(&self.permits).acquire_owned()).await;
        drop(waiting);
        let permit = match acquired {
            Ok(Ok(permit)) => permit,
            Ok(Err(_closed)) => {
                return Err(HashError::Internal(
                    "the hashing semaphore is closed".into(),
                ));
            }
            Err(_elapsed) => {
                tracing::debug!(
                    concurrency = self.concurrency,
                    max_wait_ms = self.max_wait.as_millis(),
                    "no password hashing slot became free in time"
                );
                return Err(HashError::Busy);
            }
        };
        #[cfg(test)]
        let in_flight = Arc::clone(&self.in_flight);
        tokio::task::spawn_blocking(move || {
            // Declared first, dropped last: the slot is freed after the work.
            let _permit = permit;
            #[cfg(test)]
            let _running = in_flight.enter();
            job()
        })
        .await
        .map_err(|e| {
            // The panic payload is not repeated: keep anything near the
            // password out of messages.
            HashError::Internal(if e.is_panic() {
                "the hashing task panicked".into()
            } else {
                "the hashing task was cancelled".into()
            })
        })?
    }

    /// Checks `candidate` against `stored` on the blocking pool.
    async fn check(
        &self,
        candidate: &SecretString,
        stored: &PasswordHash,
    ) -> Result<Verification, HashError> {
        let candidate = candidate.clone();
        let stored = stored.as_str().to_owned();
        let current = self.params;
        let memory = Arc::clone(&self.memory);
        self.run_blocking(move || {
            verify_blocking(
                &memory,
                candidate.expose_secret().as_bytes(),
                &stored,
                current,
            )
        })
        .await
    }

    #[cfg(test)]
    fn semaphore(&self) -> &Arc<Semaphore> {
        &self.permits
    }

    #[cfg(test)]
    fn waiting(&self) -> usize {
        self.waiting.load(Ordering::Relaxed)
    }
}

/// One caller in the queue for a slot, from its start to its end, however
/// it ends (a slot, a timeout, or the request dropped while waiting).
struct Waiting<'a>(&'a AtomicUsize);

impl<'a> Waiting<'a> {
    fn start(waiting: &'a AtomicUsize) -> Self {
        waiting.fetch_add(1, Ordering::Relaxed);
        metrics::gauge!(QUEUE_METRIC).increment(1.0);
        Self(waiting)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
        metrics::gauge!(QUEUE_METRIC).decrement(1.0);
    }
}

impl fmt::Debug for Argon2Hasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Argon2Hasher")
            .field("params", &self.params)
            .field("concurrency", &self.concurrency)
            .field("available_permits", &self.permits.available_permits())
            .field("max_wait", &self.max_wait)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl PasswordHasher for Argon2Hasher {
    async fn hash(&self, password: &Password) -> Result<PasswordHash, HashError> {
        let salt = fresh_salt(self.random.as_ref()).map_err(internal("encoding the salt"))?;
        let secret = password.secret().clone();
        let argon2 = self.argon2.clone();
        let memory = Arc::clone(&self.memory);
        self.run_blocking(move || {
            let phc = memory
                .hash(
                    (Algorithm::Argon2id, Version::V0x13, argon2.params()),
                    secret.expose_secret().as_bytes(),
                    salt.as_salt(),
                )
                .map_err(internal("hashing the password"))?;
            Ok(PasswordHash::new(phc.to_string()))
        })
        .await
    }

    async fn verify(
        &self,
        candidate: &SecretString,
        hash: &PasswordHash,
    ) -> Result<Verification, HashError> {
        self.check(candidate, hash).await
    }

    async fn verify_dummy(&self, candidate: &SecretString) -> Result<(), HashError> {
        self.check(candidate, &self.dummy).await.map(|_| ())
    }
}

fn fresh_salt(random: &dyn Random) -> Result<SaltString, password_hash::Error> {
    let mut bytes = [0u8; SALT_LEN];
    random.fill(&mut bytes);
    SaltString::encode_b64(&bytes)
}

fn internal(doing: &'static str) -> impl Fn(password_hash::Error) -> HashError {
    move |e| HashError::Internal(format!("{doing}: {e}"))
}

/// Verifies with the stored hash's own algorithm, version and parameters,
/// and says whether they differ from `current`.
fn verify_blocking(
    memory: &Memory,
    candidate: &[u8],
    stored: &str,
    current: Argon2Params,
) -> Result<Verification, HashError> {
    let malformed = internal("the stored password hash is malformed");
    let parsed = argon2::PasswordHash::new(stored).map_err(&malformed)?;
    let algorithm = Algorithm::try_from(parsed.algorithm).map_err(&malformed)?;
    if parsed.salt.is_none() || parsed.hash.is_none() {
        return Err(HashError::Internal(
            "the stored password hash is malformed: it has no salt or no output".into(),
        ));
    }
    let stored_params = Params::try_from(&parsed).map_err(&malformed)?;
    let needs_rehash = algorithm != Algorithm::Argon2id
        || parsed.version != Some(Version::V0x13.into())
        || stored_params.m_cost() != current.memory_kib
        || stored_params.t_cost() != current.iterations
        || stored_params.p_cost() != current.parallelism
        || stored_params.output_len() != Some(OUTPUT_LEN)
        || !stored_params.keyid().is_empty()
        || !stored_params.data().is_empty();
    // The stored hash's own algorithm, version and parameters.
    let version = parsed
        .version
        .map(Version::try_from)
        .transpose()
        .map_err(|e| malformed(e.into()))?
        .unwrap_or_default();
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
        unreachable!("checked above");
    };
    let computed = memory
        .hash((algorithm, version, &stored_params), candidate, salt)
        .map_err(internal("verifying the password"))?;
    // `Output`'s equality takes the same time wherever the bytes differ.
    if computed.hash == Some(expected) {
        Ok(Verification::Match { needs_rehash })
    } else {
        Ok(Verification::Mismatch)
    }
}

/// At most `keep` working-memory buffers, each reused from hash to hash.
struct Memory {
    buffers: Mutex<Vec<Vec<Block>>>,
    keep: usize,
}

impl Memory {
    fn new(keep: usize) -> Self {
        Self {
            buffers: Mutex::new(Vec::with_capacity(keep)),
            keep,
        }
    }

    /// `password` hashed by `argon2` with `salt` in a pooled buffer, as a
    /// PHC string (what `argon2`'s own `hash_password` gives, without its
    /// allocation of the working memory).
    fn hash<'a>(
        &self,
        (algorithm, version, params): (Algorithm, Version, &Params),
        password: &[u8],
        salt: Salt<'a>,
    ) -> password_hash::Result<password_hash::PasswordHash<'a>> {
        let argon2 = Argon2::new(algorithm, version, params.clone());
        let mut salt_bytes = [0u8; 64];
        let salt_bytes = salt.decode_b64(&mut salt_bytes)?;
        let output_len = params.output_len().unwrap_or(Params::DEFAULT_OUTPUT_LEN);
        let mut blocks = self.take(params.block_count());
        let output = password_hash::Output::init_with(output_len, |out| {
            Ok(argon2.hash_password_into_with_memory(password, salt_bytes, out, &mut blocks)?)
        });
        self.give_back(blocks);
        Ok(password_hash::PasswordHash {
            algorithm: algorithm.ident(),
            version: Some(version.into()),
            params: ParamsString::try_from(params)?,
            salt: Some(salt),
            hash: Some(output?),
        })
    }

    fn take(&self, blocks: usize) -> Vec<Block> {
        let pooled = self
            .buffers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        let mut buffer = pooled.unwrap_or_default();
        if buffer.len() < blocks {
            buffer.resize(blocks, Block::default());
        }
        buffer
    }

    fn give_back(&self, buffer: Vec<Block>) {
        let mut buffers = self.buffers.lock().unwrap_or_else(PoisonError::into_inner);
        if buffers.len() < self.keep {
            buffers.push(buffer);
        }
    }
}

/// Test-only gauge of how many hashes run at this instant.
#[cfg(test)]
mod probe {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[derive(Debug, Default)]
    pub(crate) struct InFlight {
        now: AtomicUsize,
        peak: AtomicUsize,
    }

    impl InFlight {
        pub(crate) fn enter(self: &Arc<Self>) -> Running {
            let now = self.now.fetch_add(1, Ordering::SeqCst) + 1;
            self.peak.fetch_max(now, Ordering::SeqCst);
            Running(Arc::clone(self))
        }

        pub(crate) fn peak(&self) -> usize {
            self.peak.load(Ordering::SeqCst)
        }
    }

    pub(crate) struct Running(Arc<InFlight>);

    impl Drop for Running {
        fn drop(&mut self) {
            self.0.now.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

#[cfg(test)]
mod tests;
