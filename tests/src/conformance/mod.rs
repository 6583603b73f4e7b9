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

pub mod api_keys;
pub mod audit;
pub mod catalog;
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
                setting_a_new_role_changes_it_and_moves_updated_at,
                setting_the_same_role_leaves_updated_at_alone,
                disabling_a_user_sets_the_flag_and_moves_updated_at,
                enabling_a_disabled_user_clears_the_flag,
                setting_the_disabled_flag_it_already_has_returns_true_and_changes_nothing,
                setting_the_role_or_flag_of_an_unknown_user_returns_false,
                disabling_in_a_transaction_dropped_without_commit_changes_nothing,
                listing_returns_every_user_by_id_with_every_field,
                listing_an_empty_store_returns_nothing,
                listing_returns_at_most_limit_users_the_lowest_ids,
                listing_after_an_id_returns_only_higher_ids_and_not_that_one,
                paging_users_with_after_returns_each_exactly_once_even_when_others_register,
                searching_users_matches_a_substring_of_the_email_or_name_ignoring_case,
                searching_users_takes_percent_underscore_and_backslash_literally,
                paging_a_search_returns_each_match_exactly_once,
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

            $crate::storage_conformance!(@group $fresh, audit [
                appending_an_entry_then_listing_it_returns_every_field,
                appending_an_entry_with_a_taken_id_is_a_duplicate,
                listing_an_empty_trail_returns_nothing,
                listing_returns_the_newest_entry_first_by_id,
                listing_before_an_id_returns_only_older_entries_and_not_that_one,
                paging_with_before_returns_every_entry_exactly_once,
                entries_appended_after_a_page_was_read_do_not_shift_the_later_pages,
                listing_returns_at_most_limit_entries_the_newest,
                listing_filtered_by_actor_returns_only_that_actors_entries,
                listing_filtered_by_resource_type_returns_only_that_kind,
                listing_filtered_by_resource_id_returns_that_id_whatever_its_kind,
                listing_with_several_filters_returns_entries_matching_all_of_them,
                paging_a_filtered_listing_returns_each_match_exactly_once,
                an_entry_appended_in_a_committed_transaction_is_visible_afterwards,
                an_entry_appended_in_a_transaction_dropped_without_commit_is_not_stored,
                when_a_user_insert_fails_after_an_append_the_entry_is_not_stored_either,
                when_an_append_fails_after_a_user_insert_the_user_is_not_stored_either,
            ]);

            $crate::storage_conformance!(@group $fresh, api_keys [
                inserting_a_key_then_finding_it_by_hash_returns_every_field,
                finding_a_key_by_an_unknown_hash_returns_none,
                finding_a_key_by_hash_returns_revoked_and_expired_keys_too,
                inserting_a_key_with_a_taken_id_is_a_duplicate,
                inserting_a_key_with_a_stored_hash_is_a_duplicate,
                listing_returns_the_owners_unrevoked_keys_newest_first_expired_ones_included,
                listing_the_keys_of_a_user_without_any_is_empty,
                revoking_a_live_key_succeeds_once_and_keeps_the_first_revocation,
                revoking_another_users_key_returns_false_and_leaves_it_usable,
                revoking_an_unknown_key_returns_false,
                revoking_an_expired_but_unrevoked_key_succeeds,
                concurrent_revokes_of_one_key_have_exactly_one_winner,
                revoking_all_keys_revokes_every_unrevoked_key_of_the_owner_only,
                touching_a_key_never_used_records_the_use,
                touching_a_key_unused_for_longer_than_the_interval_records_the_use,
                touching_a_key_used_within_the_interval_changes_nothing,
                touching_an_unknown_key_changes_nothing,
                dropping_a_transaction_without_commit_undoes_every_key_change,
            ]);

            $crate::storage_conformance!(@group $fresh, catalog [
                an_empty_catalog_has_no_version_and_nothing_in_it,
                replacing_the_catalog_then_reading_it_returns_every_field_sorted_by_id,
                listing_items_returns_them_by_id_and_filters_by_kind,
                counting_items_counts_each_kind,
                searching_items_matches_a_substring_of_the_name_ignoring_case,
                searching_items_takes_percent_underscore_and_backslash_literally,
                searching_items_of_one_kind_matches_both,
                listing_items_after_an_id_returns_only_higher_ids_and_not_that_one,
                listing_items_returns_at_most_limit_the_lowest_ids,
                paging_items_with_after_returns_each_exactly_once,
                a_second_replace_leaves_nothing_of_the_first,
                a_replace_committed_in_a_transaction_is_visible_afterwards,
                a_replace_in_a_transaction_dropped_without_commit_leaves_the_old_catalog,
                a_first_replace_dropped_without_commit_leaves_the_catalog_empty,
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
