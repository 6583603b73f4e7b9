//! `ProgressionRepository` on PostgreSQL.
//!
//! Progressions have no owner column: every statement reaches the owner
//! through a join on `characters` (`owner_id = $n AND deleted_at IS NULL`),
//! so a deleted or foreign character's progress is never read or written.

use async_trait::async_trait;
use domain::ports::ProgressionRepository;
use domain::{
    CharacterId, ItemId, ItemKind, PageRequest, Paged, ProgressCount, ProgressStatus, Progression,
    ProgressionView, RepoError, UserId,
};
use sea_query::{Cond, Expr, ExprTrait, OnConflict, Order, Query, SelectStatement};
use tokio_postgres::Row;

use crate::Repos;
use crate::characters::live_of;
use crate::exec::Exec;
use crate::roster::{corrupt, paginate, to_count};
use crate::schema::{CatalogItems, Characters, Progressions};

const COLUMNS: [Progressions; 5] = [
    Progressions::CharacterId,
    Progressions::ItemId,
    Progressions::Status,
    Progressions::CompletedAt,
    Progressions::UpdatedAt,
];

/// `FROM progressions JOIN characters`, scoped to the owner's live
/// character(s); the caller picks the columns.
fn of_live_characters(owner: UserId) -> SelectStatement {
    Query::select()
        .from(Progressions::Table)
        .inner_join(
            Characters::Table,
            Expr::col((Characters::Table, Characters::Id))
                .equals((Progressions::Table, Progressions::CharacterId)),
        )
        .cond_where(live_of(owner))
        .to_owned()
}

/// Also joined to the catalog: progress on items it no longer holds is left
/// out; progress on retired items is kept (it still has the item's name).
fn of_live_characters_in_catalog(owner: UserId) -> SelectStatement {
    of_live_characters(owner)
        .inner_join(
            CatalogItems::Table,
            Expr::col((CatalogItems::Table, CatalogItems::Id))
                .equals((Progressions::Table, Progressions::ItemId)),
        )
        .to_owned()
}

fn status_from_row(row: &Row) -> Result<ProgressStatus, RepoError> {
    let status: String = row
        .try_get("status")
        .map_err(|_| corrupt("progressions", "status"))?;
    ProgressStatus::parse(&status).ok_or_else(|| corrupt("progressions", "status"))
}

fn kind_from_row(row: &Row) -> Result<ItemKind, RepoError> {
    let kind: String = row
        .try_get("kind")
        .map_err(|_| corrupt("catalog_items", "kind"))?;
    ItemKind::parse(&kind).ok_or_else(|| corrupt("catalog_items", "kind"))
}

fn progression_from_row(row: &Row) -> Result<Progression, RepoError> {
    let corrupt = |what: &str| corrupt("progressions", what);
    let status = status_from_row(row)?;
    let completed_at = row
        .try_get("completed_at")
        .map_err(|_| corrupt("completed_at"))?;
    Ok(Progression {
        character_id: CharacterId::from_uuid(
            row.try_get("character_id")
                .map_err(|_| corrupt("character_id"))?,
        ),
        item_id: ItemId(row.try_get("item_id").map_err(|_| corrupt("item_id"))?),
        status,
        completed_at,
        updated_at: row
            .try_get("updated_at")
            .map_err(|_| corrupt("updated_at"))?,
    })
}

fn view_from_row(row: &Row) -> Result<ProgressionView, RepoError> {
    Ok(ProgressionView {
        progression: progression_from_row(row)?,
        kind: kind_from_row(row)?,
        item_name: row
            .try_get("item_name")
            .map_err(|_| corrupt("catalog_items", "name"))?,
    })
}

fn count_from_row(row: &Row) -> Result<ProgressCount, RepoError> {
    let count: i64 = row
        .try_get("count")
        .map_err(|_| corrupt("progressions", "count"))?;
    Ok(ProgressCount {
        kind: kind_from_row(row)?,
        status: status_from_row(row)?,
        count: to_count(count)?,
    })
}

#[async_trait]
impl<E: Exec> ProgressionRepository for Repos<E> {
    async fn find(
        &self,
        owner: UserId,
        character: CharacterId,
        item: ItemId,
    ) -> Result<Option<Progression>, RepoError> {
        let query = of_live_characters(owner)
            .columns(COLUMNS.map(|c| (Progressions::Table, c)))
            .and_where(
                Expr::col((Progressions::Table, Progressions::CharacterId)).eq(character.as_uuid()),
            )
            .and_where(Expr::col((Progressions::Table, Progressions::ItemId)).eq(item.0))
            .to_owned();
        Ok(self.select(&query, progression_from_row).await?.pop())
    }

    async fn upsert(&self, owner: UserId, progression: &Progression) -> Result<bool, RepoError> {
        // `INSERT … SELECT … FROM characters WHERE` the owner's live
        // character: no row to insert (nor to update on conflict) otherwise.
        // The casts type the parameters, which a SELECT list does not infer.
        let source = Query::select()
            .column((Characters::Table, Characters::Id))
            .expr(Expr::val(progression.item_id.0).cast_as("bigint"))
            .expr(Expr::val(progression.status.as_str()).cast_as("text"))
            .expr(Expr::val(progression.completed_at).cast_as("timestamptz"))
            .expr(Expr::val(progression.updated_at).cast_as("timestamptz"))
            .from(Characters::Table)
            .cond_where(live_of(owner))
            .and_where(
                Expr::col((Characters::Table, Characters::Id))
                    .eq(progression.character_id.as_uuid()),
            )
            .to_owned();
        let statement = Query::insert()
            .into_table(Progressions::Table)
            .columns(COLUMNS)
            .select_from(source)
            .expect("five columns from five expressions")
            .on_conflict(
                OnConflict::columns([Progressions::CharacterId, Progressions::ItemId])
                    .update_columns([
                        Progressions::Status,
                        Progressions::CompletedAt,
                        Progressions::UpdatedAt,
                    ])
                    .to_owned(),
            )
            .to_owned();
        Ok(self.write(&statement).await? == 1)
    }

    async fn list(
        &self,
        owner: UserId,
        character: CharacterId,
        kind: Option<ItemKind>,
        status: Option<ProgressStatus>,
        page: PageRequest,
    ) -> Result<Paged<ProgressionView>, RepoError> {
        let mut cond = Cond::all().add(
            Expr::col((Progressions::Table, Progressions::CharacterId)).eq(character.as_uuid()),
        );
        if let Some(kind) = kind {
            cond = cond.add(Expr::col((CatalogItems::Table, CatalogItems::Kind)).eq(kind.as_str()));
        }
        if let Some(status) = status {
            cond = cond
                .add(Expr::col((Progressions::Table, Progressions::Status)).eq(status.as_str()));
        }
        let mut items = of_live_characters_in_catalog(owner)
            .columns(COLUMNS.map(|c| (Progressions::Table, c)))
            .column((CatalogItems::Table, CatalogItems::Kind))
            .expr_as(
                Expr::col((CatalogItems::Table, CatalogItems::Name)),
                "item_name",
            )
            .cond_where(cond.clone())
            .order_by((Progressions::Table, Progressions::ItemId), Order::Asc)
            .to_owned();
        paginate(&mut items, page);
        let count = of_live_characters_in_catalog(owner)
            .expr(Expr::col((Progressions::Table, Progressions::ItemId)).count())
            .cond_where(cond)
            .to_owned();
        let items = self.select(&items, view_from_row).await?;
        let total = self.count(&count).await?;
        Ok(Paged { items, total })
    }

    async fn counts(
        &self,
        owner: UserId,
        character: CharacterId,
    ) -> Result<Vec<ProgressCount>, RepoError> {
        let query = of_live_characters_in_catalog(owner)
            .column((CatalogItems::Table, CatalogItems::Kind))
            .column((Progressions::Table, Progressions::Status))
            .expr_as(
                Expr::col((Progressions::Table, Progressions::ItemId)).count(),
                "count",
            )
            .and_where(
                Expr::col((Progressions::Table, Progressions::CharacterId)).eq(character.as_uuid()),
            )
            // Counted against the catalog's current items only.
            .and_where(Expr::col((CatalogItems::Table, CatalogItems::Retired)).not())
            .group_by_col((CatalogItems::Table, CatalogItems::Kind))
            .group_by_col((Progressions::Table, Progressions::Status))
            .to_owned();
        self.select(&query, count_from_row).await
    }

    async fn for_item(
        &self,
        owner: UserId,
        characters: &[CharacterId],
        item: ItemId,
    ) -> Result<Vec<Progression>, RepoError> {
        if characters.is_empty() {
            return Ok(Vec::new());
        }
        let query = of_live_characters(owner)
            .columns(COLUMNS.map(|c| (Progressions::Table, c)))
            .and_where(
                Expr::col((Progressions::Table, Progressions::CharacterId))
                    .is_in(characters.iter().map(|c| c.as_uuid())),
            )
            .and_where(Expr::col((Progressions::Table, Progressions::ItemId)).eq(item.0))
            .to_owned();
        self.select(&query, progression_from_row).await
    }
}
