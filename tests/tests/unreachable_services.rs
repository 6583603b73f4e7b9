//! What a run does when a service it needs is unreachable: it fails, in CI
//! and by default; it skips only when a developer asked for it, and then
//! says so where a person sees it. Each case runs this binary again on one
//! test that needs PostgreSQL or Redis, pointed at a port nothing listens on.

use std::process::{Command, Output};

use tests::pg::TestDatabase;
use tests::redis::TestRedis;

const NOBODY: &str = "127.0.0.1:1";

/// Run only as a child of the tests below.
#[tokio::test]
#[ignore = "run by the tests of this file, against an unreachable PostgreSQL"]
async fn needs_postgres() {
    assert!(
        TestDatabase::create().await.is_none(),
        "reached a database that should be unreachable"
    );
}

/// Run only as a child of the tests below.
#[tokio::test]
#[ignore = "run by the tests of this file, against an unreachable Redis"]
async fn needs_redis() {
    assert!(
        TestRedis::create().await.is_none(),
        "reached a Redis that should be unreachable"
    );
}

fn run(test: &str, vars: &[(&str, &str)]) -> Output {
    let mut command = Command::new(std::env::current_exe().expect("this test binary"));
    command
        .args(["--ignored", "--exact", test])
        .env_remove("CI")
        .env_remove("TEST_SKIP_UNREACHABLE")
        .env(
            "TEST_DATABASE_URL",
            format!("postgres://postgres@{NOBODY}/test"),
        )
        .env("TEST_REDIS_URL", format!("redis://{NOBODY}"));
    for (name, value) in vars {
        command.env(name, value);
    }
    command.output().expect("the test binary runs")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn an_unreachable_service_fails_the_test_by_default_and_in_ci() {
    for test in ["needs_postgres", "needs_redis"] {
        for vars in [
            &[][..],
            &[("CI", "true")][..],
            // CI overrides a developer's opt-out.
            &[("CI", "true"), ("TEST_SKIP_UNREACHABLE", "1")][..],
            // Only "1" opts out.
            &[("TEST_SKIP_UNREACHABLE", "true")][..],
        ] {
            let output = run(test, vars);
            assert!(
                !output.status.success(),
                "{test} with {vars:?} passed:\n{}",
                stdout(&output)
            );
            assert!(
                stdout(&output).contains("is unreachable"),
                "{test} with {vars:?}: {}",
                stdout(&output)
            );
            assert!(stdout(&output).contains("1 failed"), "{}", stdout(&output));
        }
    }
}

#[test]
fn a_skip_asked_for_is_reported_after_the_summary() {
    for (test, service) in [("needs_postgres", "PostgreSQL"), ("needs_redis", "Redis")] {
        let output = run(test, &[("TEST_SKIP_UNREACHABLE", "1")]);
        assert!(output.status.success(), "{}", stderr(&output));
        assert!(stdout(&output).contains("1 passed"), "{}", stdout(&output));
        let stderr = stderr(&output);
        let report = stderr
            .split_once("!!! 1 test(s) in ")
            .map(|(_, report)| report)
            .unwrap_or_else(|| panic!("no report at exit:\n{stderr}"));
        assert!(
            report.contains(&format!("!!!   {test}: {service} at ")),
            "{stderr}"
        );
        // And once as it happened, naming the test.
        assert!(
            stderr.contains(&format!("!!! SKIPPED {test} (TEST_SKIP_UNREACHABLE=1)")),
            "{stderr}"
        );
    }
}
