//! Shared support for Roster's black-box tests: starting the real server on
//! a free port, the storage conformance suites that every adapter must
//! pass, and a fake DofusDB service for the catalog source.

pub mod app;
pub mod cache_conformance;
pub mod conformance;
pub mod dofusdb;
pub mod exposition;
pub mod jobs_conformance;
pub mod pg;
pub mod proxy;
pub mod rate_limit_conformance;
pub mod redis;
pub mod roster;
pub mod roster_seed;
pub mod round_trips;
pub mod skip;

/// `target/<profile>/roster`, beside the running test or bench: built by
/// `cargo test --workspace` for the tests, by `cargo build --release` for
/// the benches.
pub fn roster_binary() -> std::path::PathBuf {
    let exe = std::env::current_exe().expect("the test's path");
    let binary = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>/deps/<test>")
        .join("roster");
    assert!(
        binary.exists(),
        "{} is missing: run the tests with `cargo test --workspace` (the benches after \
         `cargo build --release`), which builds it",
        binary.display()
    );
    binary
}
