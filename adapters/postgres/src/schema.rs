//! Table and column names, so queries cannot misspell them.

use sea_query::Iden;

#[derive(Iden, Clone, Copy)]
pub(crate) enum Users {
    Table,
    Id,
    Email,
    DisplayName,
    Role,
    PasswordHash,
    Disabled,
    CreatedAt,
    UpdatedAt,
    LastLoginAt,
}

#[derive(Iden, Clone, Copy)]
pub(crate) enum Sessions {
    Table,
    Id,
    UserId,
    FamilyId,
    RefreshTokenHash,
    CreatedAt,
    LastUsedAt,
    ExpiresAt,
    FamilyExpiresAt,
    RevokedAt,
    RevokeReason,
    ReplacedBy,
    SealedRefreshToken,
    UserAgent,
    Ip,
}
