//! From driver and pool errors to the domain's `RepoError`.

use deadpool_postgres::PoolError;
use domain::{RepoError, UniqueRule};
use tokio_postgres::error::SqlState;

/// The uniqueness rule a schema constraint (or unique index) enforces: the
/// only place that knows the schema's constraint names. `None` for a
/// constraint no port promises to report.
fn unique_rule(constraint: &str) -> Option<UniqueRule> {
    Some(match constraint {
        "users_pkey" => UniqueRule::UserId,
        "users_email" => UniqueRule::UserEmail,
        "sessions_pkey" => UniqueRule::SessionId,
        "sessions_token_hash" => UniqueRule::SessionTokenHash,
        "audit_entries_pkey" => UniqueRule::AuditEntryId,
        "api_keys_pkey" => UniqueRule::ApiKeyId,
        "api_keys_key_hash" => UniqueRule::ApiKeyHash,
        "game_accounts_pkey" => UniqueRule::AccountId,
        "game_accounts_owner_name" => UniqueRule::AccountName,
        "characters_pkey" => UniqueRule::CharacterId,
        "characters_owner_server_name" => UniqueRule::CharacterName,
        "teams_pkey" => UniqueRule::TeamId,
        "teams_owner_name" => UniqueRule::TeamName,
        _ => return None,
    })
}

pub(crate) fn from_pg(error: tokio_postgres::Error) -> RepoError {
    if let Some(db) = error.as_db_error() {
        if *db.code() == SqlState::UNIQUE_VIOLATION {
            let name = db.constraint().unwrap_or_default();
            return match unique_rule(name) {
                Some(rule) => RepoError::Duplicate(rule),
                // A rule no port reports: the code wrote what it should
                // have checked first, a bug rather than a client's conflict.
                None => RepoError::unknown(format!("unique violation on {name}")),
            };
        }
        // The server is going away or refuses work for now.
        if matches!(
            db.code().code(),
            "57P01" | "57P02" | "57P03" | "53300" | "08000" | "08003" | "08006"
        ) {
            return RepoError::Unavailable(db.message().to_owned());
        }
        return RepoError::unknown(format!("{}: {}", db.code().code(), db.message()));
    }
    if error.is_closed() || error.code().is_none() {
        // No SQLSTATE: the connection itself failed (I/O, closed, timeout).
        return RepoError::Unavailable(error.to_string());
    }
    RepoError::unknown(error.to_string())
}

pub(crate) fn from_pool(error: PoolError) -> RepoError {
    match error {
        PoolError::Backend(e) => from_pg(e),
        other => RepoError::Unavailable(other.to_string()),
    }
}

/// Worth running again: the transaction lost a race, nothing is wrong.
pub(crate) fn is_retryable(error: &tokio_postgres::Error) -> bool {
    matches!(
        error.code(),
        Some(code) if *code == SqlState::T_R_SERIALIZATION_FAILURE || *code == SqlState::T_R_DEADLOCK_DETECTED
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_constraint_the_migrations_name_maps_to_its_own_rule() {
        let names = [
            "users_pkey",
            "users_email",
            "sessions_pkey",
            "sessions_token_hash",
            "audit_entries_pkey",
            "api_keys_pkey",
            "api_keys_key_hash",
            "game_accounts_pkey",
            "game_accounts_owner_name",
            "characters_pkey",
            "characters_owner_server_name",
            "teams_pkey",
            "teams_owner_name",
        ];
        let rules: std::collections::HashSet<UniqueRule> =
            names.iter().filter_map(|name| unique_rule(name)).collect();
        assert_eq!(rules.len(), names.len());
        assert_eq!(unique_rule("team_members_pkey"), None);
    }
}
