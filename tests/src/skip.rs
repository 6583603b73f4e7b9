//! Skips that a person sees. The test harness has no "skipped at run time"
//! outcome and hides what a passing test prints, so a test that skips
//! (only ever with `TEST_SKIP_UNREACHABLE=1` outside CI, see
//! [`allowed`]) says so twice, on the process's own standard error, past
//! the harness's capture: once when it happens, and again in a list printed
//! after the binary's `test result:` line, when the process exits.

use std::io::Write;
use std::sync::{Mutex, Once};

/// Whether a test may skip when a service it needs is unreachable: only
/// when a developer asked for it (`TEST_SKIP_UNREACHABLE=1`), never in CI.
pub fn allowed() -> bool {
    std::env::var("TEST_SKIP_UNREACHABLE").as_deref() == Ok("1")
        && std::env::var("CI").as_deref() != Ok("true")
}

/// The skips of this process: the test (its thread's name) and why.
static SKIPPED: Mutex<Vec<(String, String)>> = Mutex::new(Vec::new());
static REPORT_AT_EXIT: Once = Once::new();

/// Records that the running test skips because of `reason`, and says so.
pub fn record(reason: &str) {
    let test = std::thread::current()
        .name()
        .unwrap_or("a test outside the harness")
        .to_owned();
    let _ = writeln!(
        std::io::stderr(),
        "\n!!! SKIPPED {test} (TEST_SKIP_UNREACHABLE=1): {reason}"
    );
    SKIPPED
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .push((test, reason.to_owned()));
    REPORT_AT_EXIT.call_once(|| {
        // SAFETY: `atexit` takes a plain function with no arguments, which
        // `report` is; it runs once, on the main thread, as the process exits
        // after the harness printed its summary.
        #[allow(unsafe_code)]
        unsafe {
            atexit(report)
        };
    });
}

#[allow(unsafe_code)]
unsafe extern "C" {
    fn atexit(callback: extern "C" fn()) -> std::ffi::c_int;
}

extern "C" fn report() {
    let skipped = SKIPPED
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let mut stderr = std::io::stderr().lock();
    let _ = writeln!(
        stderr,
        "\n!!! {} test(s) in {} SKIPPED, not run (TEST_SKIP_UNREACHABLE=1):",
        skipped.len(),
        std::env::args().next().unwrap_or_default()
    );
    for (test, reason) in skipped.iter() {
        let _ = writeln!(stderr, "!!!   {test}: {reason}");
    }
}
