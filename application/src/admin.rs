//! Operator and administrator actions on users.

use domain::ports::{Clock, Storage};
use domain::{Email, RepoError, Role};

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("no user has the e-mail {0}")]
    NoSuchUser(String),
    #[error(transparent)]
    Storage(#[from] RepoError),
}

/// Gives the user with `email` the admin role (`roster admin grant`). The
/// new role is in the access tokens issued from the next refresh or login.
pub async fn grant_admin(
    storage: &dyn Storage,
    clock: &dyn Clock,
    email: &Email,
) -> Result<(), AdminError> {
    let user = storage
        .users()
        .find_by_email(email)
        .await?
        .ok_or_else(|| AdminError::NoSuchUser(email.to_string()))?;
    storage
        .users()
        .set_role(user.id, Role::Admin, clock.now())
        .await?;
    tracing::info!(user.id = %user.id, "admin role granted");
    Ok(())
}
