//! The storage conformance suite: one generic body per behaviour, written
//! once, run against every storage adapter.
//!
//! Each behaviour is a `pub async fn` that receives a fresh, empty
//! [`Storage`] and pins one promise of the port's doc comment
//! (`domain::ports::storage`). A backend joins the suite with one test file:
//!
//! ```text
//! use std::sync::Arc;
//! use adapter_memory::MemoryStorage;
//!
//! tests::storage_conformance!(memory, async { Some(Arc::new(MemoryStorage::new()) as _) });
//! ```
//!
//! The second argument is an expression evaluated once per test; its future
//! must yield `Some(Arc<dyn Storage>)`, or `None` when the backend cannot be
//! reached and the test is to be skipped (after saying so loudly). It
//! must hand out a store no other test sees, so the tests run in parallel:
//! a new `MemoryStorage`, a new PostgreSQL schema. Whatever needs cleaning
//! up afterwards (the schema) is best owned by the returned value and
//! released on `Drop`.
//!
//! This module must not know any adapter: a behaviour that only one backend
//! has is a bug in the other, not a reason for a special case here.

pub mod fixtures;
pub mod sessions;
pub mod transactions;
pub mod users;

use std::sync::Arc;

use domain::ports::Storage;

/// What each behaviour receives: a fresh, empty store of the backend under test.
pub type FreshStorage = Arc<dyn Storage>;

/// Expands to one `#[tokio::test]` per behaviour, in a module named after the
/// backend, so each shows separately in the output
/// (`memory::users::inserting_a_second_user_with_the_same_email_is_a_duplicate`).
///
/// Every behaviour of the suite is listed here once; a function that is not
/// listed does not run.
#[macro_export]
macro_rules! storage_conformance {
    ($backend:ident, $fresh:expr $(,)?) => {
        mod $backend {
            #[allow(unused_imports)]
            use super::*;

            $crate::storage_conformance!(@group $fresh, users [
                inserting_a_user_then_finding_it_by_id_returns_every_field,
                finding_a_user_by_email_returns_every_field,
                finding_an_unknown_user_returns_none,
                inserting_a_second_user_with_the_same_email_is_a_duplicate,
                inserting_a_second_user_with_the_same_id_is_a_duplicate,
                replacing_the_password_hash_from_the_current_one_succeeds,
                replacing_the_password_hash_from_a_stale_one_changes_nothing,
                replacing_the_password_hash_of_an_unknown_user_returns_false,
                concurrent_password_replacements_from_the_same_hash_have_exactly_one_winner,
                recording_a_login_sets_last_login_at,
                recording_a_login_for_an_unknown_user_changes_nothing,
            ]);

            $crate::storage_conformance!(@group $fresh, sessions [
                inserting_a_session_then_finding_it_returns_every_field,
                every_revoke_reason_round_trips,
                finding_a_session_by_token_hash_returns_every_field,
                finding_an_unknown_session_returns_none,
                finding_returns_revoked_and_expired_sessions_too,
                inserting_a_session_with_a_taken_id_is_a_duplicate,
                inserting_a_session_with_a_stored_token_hash_is_a_duplicate,
                listing_active_sessions_returns_only_the_owners_live_ones_newest_first,
                listing_active_sessions_of_a_user_without_any_is_empty,
                a_session_is_expired_from_the_instant_its_expiry_is_reached,
                revoking_a_live_session_succeeds_and_records_when_why_and_by_what,
                revoking_an_already_revoked_session_returns_false_and_keeps_the_first_revocation,
                revoking_another_users_session_returns_false_and_leaves_it_live,
                revoking_an_unknown_session_returns_false,
                revoking_an_expired_but_unrevoked_session_succeeds,
                concurrent_revokes_of_one_session_have_exactly_one_winner,
                revoking_a_family_revokes_only_its_unrevoked_sessions_and_counts_them,
                revoking_a_family_as_another_user_revokes_nothing,
                revoking_all_sessions_revokes_every_unrevoked_session_of_the_owner_only,
                revoking_all_sessions_but_one_keeps_that_one_live,
                touching_a_session_unused_for_longer_than_the_interval_records_the_use,
                touching_a_session_used_within_the_interval_changes_nothing,
                touching_an_unknown_session_changes_nothing,
                purging_sealed_tokens_erases_only_those_of_sessions_created_before_the_cutoff,
            ]);

            $crate::storage_conformance!(@group $fresh, transactions [
                ping_answers_ok,
                changes_committed_in_a_transaction_are_visible_afterwards,
                a_transaction_reads_its_own_writes,
                dropping_a_transaction_without_commit_discards_every_insert,
                dropping_a_transaction_without_commit_undoes_every_update,
                a_rolled_back_insert_leaves_its_email_and_token_hash_free,
                when_the_second_insert_fails_the_first_user_is_not_stored_either,
                when_an_insert_fails_after_a_revoke_the_revoke_is_undone,
                a_revoke_and_its_successor_committed_together_are_both_visible,
                of_concurrent_rotations_of_one_session_exactly_one_commits_a_successor,
            ]);
        }
    };
    (@group $fresh:expr, $group:ident [$($behaviour:ident),* $(,)?]) => {
        mod $group {
            #[allow(unused_imports)]
            use super::*;

            $(
                // Several workers, so the concurrency behaviours race for real.
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $behaviour() {
                    // `None`: the backend is unreachable and said so; skip.
                    let Some(storage): Option<$crate::conformance::FreshStorage> = $fresh.await else {
                        return;
                    };
                    $crate::conformance::$group::$behaviour(storage).await;
                }
            )*
        }
    };
}
