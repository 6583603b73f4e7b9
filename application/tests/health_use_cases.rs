//! Readiness: `Health` reports what the storage's ping and the rate
//! limiter's shared store answer, through small doubles of the two ports.

use std::sync::Arc;

use adapter_memory::MemoryStorage;
use application::health::Health;
use async_trait::async_trait;
use domain::RepoError;
use domain::ports::{RateLimiter, Repositories, RepositorySet, Storage, Transaction};
use domain::rate_limit::{Decision, Quota};

/// The memory storage, except that its ping answers `Unavailable` when
/// `down`.
struct Pinged {
    memory: MemoryStorage,
    down: bool,
}

impl Repositories for Pinged {
    fn repositories(&self) -> &dyn RepositorySet {
        self.memory.repositories()
    }
}

#[async_trait]
impl Storage for Pinged {
    async fn begin(&self) -> Result<Box<dyn Transaction>, RepoError> {
        self.memory.begin().await
    }
    async fn ping(&self) -> Result<(), RepoError> {
        if self.down {
            Err(RepoError::Unavailable("connection refused".into()))
        } else {
            self.memory.ping().await
        }
    }
}

/// A limiter that allows everything and says whether its shared store
/// answers as told.
struct Limiter {
    reachable: bool,
}

fn allowed() -> Decision {
    Decision {
        allowed: true,
        remaining: 1,
        reset: std::time::Duration::ZERO,
        retry_after: std::time::Duration::ZERO,
    }
}

#[async_trait]
impl RateLimiter for Limiter {
    async fn take(&self, _: &str, _: Quota) -> Decision {
        allowed()
    }
    async fn peek(&self, _: &str, _: Quota) -> Decision {
        allowed()
    }
    async fn reachable(&self) -> bool {
        self.reachable
    }
}

fn health(storage_down: bool, limiter_reachable: bool) -> Health {
    Health::new(
        Arc::new(Pinged {
            memory: MemoryStorage::new(),
            down: storage_down,
        }),
        Arc::new(Limiter {
            reachable: limiter_reachable,
        }),
    )
}

#[tokio::test]
async fn a_storage_that_answers_its_ping_is_ready() {
    let result = health(false, true).storage().await;

    assert!(result.is_ok(), "{result:?}");
}

#[tokio::test]
async fn a_storage_whose_ping_fails_is_reported_with_its_error() {
    let result = health(true, true).storage().await;

    match result {
        Err(RepoError::Unavailable(detail)) => assert_eq!(detail, "connection refused"),
        other => panic!("expected Unavailable, got {other:?}"),
    }
}

#[tokio::test]
async fn the_shared_services_are_reported_as_the_limiter_reaches_them() {
    let reachable = health(false, true).shared().await;
    let unreachable = health(false, false).shared().await;

    assert!(reachable);
    assert!(!unreachable);
}

#[tokio::test]
async fn the_shared_services_do_not_depend_on_the_storage() {
    let reachable = health(true, true).shared().await;
    let unreachable = health(true, false).shared().await;

    assert_eq!((reachable, unreachable), (true, false));
}
