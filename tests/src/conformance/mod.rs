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

pub mod accounts;
pub mod api_keys;
pub mod audit;
pub mod catalog;
pub mod characters;
pub mod fixtures;
pub mod progressions;
pub mod sessions;
pub mod teams;
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
/// Every behaviour of the suite is listed here once, and this one list runs
/// on every backend. A `pub async fn` of a suite module that is left out of
/// it fails `every_behaviour_of_every_suite_module_is_listed` below, naming
/// it.
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
                deleting_expired_sessions_removes_only_those_expired_before_the_cutoff,
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
                entries_committed_with_a_unit_are_stored_with_its_changes,
                entries_committed_with_a_unit_that_ran_nothing_are_stored,
                when_an_entry_committed_with_a_unit_fails_nothing_of_the_unit_is_stored,
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
                retired_entries_are_left_out_of_lists_and_counts,
                retired_entries_are_still_found_by_id,
                the_whole_catalog_reads_back_with_retired_entries_and_source_ids,
                a_catalog_read_merged_and_replaced_in_one_unit_keeps_its_ids,
            ]);

            $crate::storage_conformance!(@group $fresh, accounts [
                inserting_an_account_then_finding_it_returns_every_field,
                inserting_an_account_with_a_taken_id_is_a_duplicate,
                inserting_an_account_named_like_a_live_one_of_the_owner_ignoring_case_is_a_duplicate,
                another_user_and_a_deleted_accounts_name_are_free_to_take,
                another_users_account_is_not_found_locked_listed_updated_or_deleted,
                an_unknown_account_is_not_found_locked_updated_or_deleted,
                the_character_count_counts_the_accounts_live_characters_only,
                listing_sorts_by_lower_cased_name,
                listing_pages_with_the_total_and_a_page_past_the_end_is_empty,
                searching_accounts_matches_a_substring_ignoring_case_and_wildcards_literally,
                updating_an_account_writes_its_name_notes_and_updated_at_only,
                updating_an_account_to_another_live_accounts_name_is_a_duplicate_and_writes_nothing,
                deleting_an_account_hides_it_from_every_method_and_succeeds_once,
                locking_answers_whether_the_owner_has_the_live_account_inside_a_transaction,
                an_account_written_in_a_transaction_dropped_without_commit_is_not_stored,
            ]);

            $crate::storage_conformance!(@group $fresh, characters [
                inserting_a_character_then_finding_it_returns_every_field_and_its_names,
                a_class_or_server_the_catalog_no_longer_holds_is_named_by_an_empty_string,
                a_retired_class_or_server_still_names_the_character,
                a_character_of_a_deleted_account_keeps_the_accounts_name,
                inserting_a_character_with_a_taken_id_is_a_duplicate,
                a_live_characters_name_ignoring_case_on_the_same_server_is_a_duplicate,
                a_name_is_free_on_another_server_for_another_user_and_once_deleted,
                another_users_character_is_invisible_to_every_method,
                finding_many_returns_the_owners_live_characters_among_the_ids,
                listing_with_a_search_matches_a_substring_ignoring_case_and_wildcards_literally,
                listing_filters_by_class_server_and_account_any_of_each,
                listing_filters_by_level_bounds_inclusively,
                listing_with_several_criteria_returns_characters_matching_all_of_them,
                listing_by_name_compares_lower_cased_names_then_ids_in_the_orders_direction,
                listing_by_level_breaks_ties_by_name_ascending_then_id_in_the_orders_direction,
                listing_by_creation_breaks_ties_by_id_in_the_orders_direction,
                paging_characters_returns_each_once_with_the_total_and_nothing_past_the_end,
                deleting_characters_returns_the_ids_deleted_once_and_hides_them_everywhere,
                deleting_by_account_deletes_only_that_accounts_live_characters,
                updating_from_the_stored_version_writes_every_field_and_the_new_version,
                updating_from_a_stale_version_returns_false_and_writes_nothing,
                concurrent_updates_from_one_version_have_exactly_one_winner,
                updating_to_a_live_characters_name_on_the_same_server_is_a_duplicate_and_writes_nothing,
                character_writes_in_a_transaction_dropped_without_commit_leave_nothing,
                characters_found_together_in_a_transaction_stay_unchanged_until_it_ends,
                an_edit_writes_the_fields_given_with_the_next_version_and_returns_both_sides,
                an_edit_against_other_versions_writes_nothing_and_names_the_current_one,
                an_edit_that_changes_no_field_writes_nothing,
                an_edit_of_an_unknown_deleted_or_foreign_character_finds_nothing,
                an_edit_onto_a_taken_name_is_a_duplicate,
                concurrent_edits_take_turns_and_each_sees_the_last_version,
            ]);

            $crate::storage_conformance!(@group $fresh, teams [
                inserting_a_team_then_finding_it_returns_every_field_and_its_members_in_order,
                inserting_a_team_with_a_taken_id_is_a_duplicate,
                a_team_name_of_the_owner_ignoring_case_is_a_duplicate_but_free_for_another_user,
                another_users_team_is_not_found_listed_updated_or_deleted,
                deleted_characters_drop_out_of_a_teams_members_keeping_the_order,
                updating_a_team_writes_its_name_description_members_and_updated_at,
                updating_a_team_to_another_teams_name_is_a_duplicate_and_writes_nothing,
                listing_teams_sorts_by_lower_cased_name_searches_and_pages,
                deleting_a_team_removes_it_once_and_frees_its_name,
                team_writes_in_a_transaction_dropped_without_commit_leave_nothing,
                the_teams_with_a_member_are_the_owners_teams_holding_it_by_name,
            ]);

            $crate::storage_conformance!(@group $fresh, progressions [
                upserting_a_new_progression_then_finding_it_returns_every_field,
                upserting_again_replaces_the_status_and_both_times,
                upserting_for_another_users_or_an_unknown_or_deleted_character_stores_nothing,
                another_users_character_shows_no_progression_anywhere,
                listing_returns_the_characters_progressions_by_item_id_with_kind_and_name,
                listing_filters_by_kind_and_status_and_pages_with_the_total,
                counting_counts_each_kind_and_status_and_leaves_out_empty_pairs,
                items_the_catalog_no_longer_holds_are_left_out_of_lists_and_counts,
                progress_on_a_retired_item_is_listed_with_its_name_but_not_counted,
                progress_on_an_item_is_read_for_the_owners_live_characters_among_those_given,
                a_deleted_characters_progressions_vanish,
                upserts_in_a_transaction_dropped_without_commit_leave_the_previous_progress,
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

#[cfg(test)]
mod completeness {
    /// Each suite module's source, by the group name the list uses.
    const SUITES: &[(&str, &str)] = &[
        ("users", include_str!("users.rs")),
        ("sessions", include_str!("sessions.rs")),
        ("transactions", include_str!("transactions.rs")),
        ("audit", include_str!("audit.rs")),
        ("api_keys", include_str!("api_keys.rs")),
        ("catalog", include_str!("catalog.rs")),
        ("accounts", include_str!("accounts.rs")),
        ("characters", include_str!("characters.rs")),
        ("teams", include_str!("teams.rs")),
        ("progressions", include_str!("progressions.rs")),
    ];

    /// The behaviours `storage_conformance!` lists for `group`.
    fn listed(group: &str) -> Vec<String> {
        let source = include_str!("mod.rs");
        let marker = format!("@group $fresh, {group} [");
        let Some(start) = source.find(&marker) else {
            return Vec::new();
        };
        let rest = &source[start + marker.len()..];
        let end = rest.find(']').expect("the list closes");
        rest[..end]
            .split(',')
            .map(str::trim)
            .filter(|name| !name.is_empty())
            .map(str::to_owned)
            .collect()
    }

    /// The behaviours a suite module defines: each of its `pub async fn`s.
    fn defined(source: &str) -> Vec<String> {
        source
            .lines()
            .filter_map(|line| line.strip_prefix("pub async fn "))
            .map(|rest| {
                rest.split(|c: char| !(c.is_alphanumeric() || c == '_'))
                    .next()
                    .unwrap_or_default()
                    .to_owned()
            })
            .collect()
    }

    #[test]
    fn every_behaviour_of_every_suite_module_is_listed() {
        let mut missing = Vec::new();
        for (group, source) in SUITES {
            let listed = listed(group);
            assert!(!listed.is_empty(), "no list for the suite `{group}`");
            for name in defined(source) {
                if !listed.contains(&name) {
                    missing.push(format!("{group}::{name}"));
                }
            }
        }
        assert!(
            missing.is_empty(),
            "behaviours missing from `storage_conformance!` (they run on no backend): {missing:?}"
        );
    }

    #[test]
    fn every_suite_module_is_checked() {
        let declared = include_str!("mod.rs")
            .lines()
            .filter_map(|line| line.strip_prefix("pub mod "))
            .map(|name| name.trim_end_matches(';'))
            .filter(|name| *name != "fixtures");
        for name in declared {
            assert!(
                SUITES.iter().any(|(group, _)| *group == name),
                "the suite module `{name}` is missing from SUITES"
            );
        }
    }
}
