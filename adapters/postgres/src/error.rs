//! From driver and pool errors to the domain's `RepoError`.

use deadpool_postgres::PoolError;
use domain::RepoError;
use tokio_postgres::error::SqlState;

/// The constraint names the schema gives and the ports promise.
const CONSTRAINTS: &[&str] = &[
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

pub(crate) fn from_pg(error: tokio_postgres::Error) -> RepoError {
    if let Some(db) = error.as_db_error() {
        if *db.code() == SqlState::UNIQUE_VIOLATION {
            let name = db.constraint().unwrap_or_default();
            let constraint = CONSTRAINTS
                .iter()
                .find(|c| **c == name)
                .copied()
                .unwrap_or("unknown");
            return RepoError::Duplicate { constraint };
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
