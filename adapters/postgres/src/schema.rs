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

#[derive(Iden, Clone, Copy)]
pub(crate) enum AuditEntries {
    Table,
    Id,
    ActorId,
    Action,
    ResourceType,
    ResourceId,
    Changes,
    Ip,
    RequestId,
    At,
}

#[derive(Iden, Clone, Copy)]
pub(crate) enum ApiKeys {
    Table,
    Id,
    OwnerId,
    Name,
    Prefix,
    KeyHash,
    CreatedAt,
    LastUsedAt,
    ExpiresAt,
    RevokedAt,
}

/// The stored snapshot's version: one row, or none while the catalog is
/// empty.
#[derive(Iden, Clone, Copy)]
pub(crate) enum CatalogMeta {
    Table,
    Version,
}

#[derive(Iden, Clone, Copy)]
pub(crate) enum CatalogClasses {
    Table,
    Id,
    Name,
    Retired,
}

#[derive(Iden, Clone, Copy)]
pub(crate) enum CatalogServers {
    Table,
    Id,
    Name,
    Retired,
}

#[derive(Iden, Clone, Copy)]
pub(crate) enum CatalogItems {
    Table,
    Id,
    Kind,
    Name,
    Level,
    SourceId,
    Retired,
}

#[derive(Iden, Clone, Copy)]
pub(crate) enum GameAccounts {
    Table,
    Id,
    OwnerId,
    Name,
    Notes,
    CreatedAt,
    UpdatedAt,
    DeletedAt,
}

#[derive(Iden, Clone, Copy)]
pub(crate) enum Characters {
    Table,
    Id,
    OwnerId,
    AccountId,
    Name,
    Level,
    ClassId,
    ServerId,
    Version,
    CreatedAt,
    UpdatedAt,
    DeletedAt,
}

#[derive(Iden, Clone, Copy)]
pub(crate) enum Teams {
    Table,
    Id,
    OwnerId,
    Name,
    Description,
    CreatedAt,
    UpdatedAt,
}

#[derive(Iden, Clone, Copy)]
pub(crate) enum TeamMembers {
    Table,
    TeamId,
    CharacterId,
    Position,
}

#[derive(Iden, Clone, Copy)]
pub(crate) enum Progressions {
    Table,
    CharacterId,
    ItemId,
    Status,
    CompletedAt,
    UpdatedAt,
}
