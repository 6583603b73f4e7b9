//! `TeamRepository` on PostgreSQL.
//!
//! Members are rows of `team_members` with their place in the team. A
//! team is shown with its live members only, read for a whole page of
//! teams in one query (never one query per team).

use std::collections::HashMap;

use async_trait::async_trait;
use domain::ports::TeamRepository;
use domain::{
    CharacterId, CharacterView, Notes, PageRequest, Paged, RepoError, RosterName, Team, TeamId,
    TeamView, UserId,
};
use sea_query::extension::postgres::PgExpr;
use sea_query::{
    CommonTableExpression, Cond, Expr, ExprTrait, InsertStatement, OnConflict, Order,
    PostgresQueryBuilder, Query, SelectStatement, UnionType, WithClause, WithQuery,
};
use sea_query_postgres::PostgresBinder;
use tokio_postgres::Row;

use crate::Repos;
use crate::catalog::contains_pattern;
use crate::characters::{live_of, view_from_row, view_select};
use crate::exec::{Exec, Statement};
use crate::roster::{corrupt, name_key, paginate};
use crate::schema::{Characters, TeamMembers, Teams};

const COLUMNS: [Teams; 6] = [
    Teams::Id,
    Teams::OwnerId,
    Teams::Name,
    Teams::Description,
    Teams::CreatedAt,
    Teams::UpdatedAt,
];

/// The name of the CTE holding the updated team's id (see `update`).
const UPDATED: &str = "updated_team";

fn select() -> SelectStatement {
    Query::select()
        .columns(COLUMNS.map(|c| (Teams::Table, c)))
        .from(Teams::Table)
        .to_owned()
}

fn of_owner(owner: UserId) -> Cond {
    Cond::all().add(Expr::col((Teams::Table, Teams::OwnerId)).eq(owner.as_uuid()))
}

/// A team row, members not yet read.
fn team_from_row(row: &Row) -> Result<Team, RepoError> {
    let corrupt = |what: &str| corrupt("teams", what);
    let name: String = row.try_get("name").map_err(|_| corrupt("name"))?;
    let description: Option<String> = row
        .try_get("description")
        .map_err(|_| corrupt("description"))?;
    // Only parsed names and descriptions are ever written.
    let description = description.map(Notes::from_stored);
    Ok(Team {
        id: TeamId::from_uuid(row.try_get("id").map_err(|_| corrupt("id"))?),
        owner: UserId::from_uuid(row.try_get("owner_id").map_err(|_| corrupt("owner_id"))?),
        name: RosterName::from_stored(name),
        description,
        member_ids: domain::TeamMembers::default(),
        created_at: row
            .try_get("created_at")
            .map_err(|_| corrupt("created_at"))?,
        updated_at: row
            .try_get("updated_at")
            .map_err(|_| corrupt("updated_at"))?,
    })
}

fn member_from_row(row: &Row) -> Result<(TeamId, CharacterView), RepoError> {
    let team = row
        .try_get("team_id")
        .map_err(|_| corrupt("team_members", "team_id"))?;
    Ok((TeamId::from_uuid(team), view_from_row(row)?))
}

/// `INSERT INTO team_members` of `team`'s members in order, or `None`
/// when it has none.
fn members_insert(team: &Team) -> Option<InsertStatement> {
    if team.member_ids.is_empty() {
        return None;
    }
    let mut insert = Query::insert();
    insert.into_table(TeamMembers::Table).columns([
        TeamMembers::TeamId,
        TeamMembers::CharacterId,
        TeamMembers::Position,
    ]);
    for (position, member) in (0_i16..).zip(team.member_ids.iter()) {
        insert.values_panic([
            team.id.as_uuid().into(),
            member.as_uuid().into(),
            position.into(),
        ]);
    }
    Some(insert)
}

impl<E: Exec> Repos<E> {
    /// `teams` with their live members, in the teams' order.
    async fn with_members(
        &self,
        owner: UserId,
        teams: Vec<Team>,
    ) -> Result<Vec<TeamView>, RepoError> {
        if teams.is_empty() {
            return Ok(Vec::new());
        }
        let query = view_select()
            .column((TeamMembers::Table, TeamMembers::TeamId))
            .inner_join(
                TeamMembers::Table,
                Expr::col((TeamMembers::Table, TeamMembers::CharacterId))
                    .equals((Characters::Table, Characters::Id)),
            )
            .cond_where(live_of(owner))
            .and_where(
                Expr::col((TeamMembers::Table, TeamMembers::TeamId))
                    .is_in(teams.iter().map(|t| t.id.as_uuid())),
            )
            .order_by((TeamMembers::Table, TeamMembers::TeamId), Order::Asc)
            .order_by((TeamMembers::Table, TeamMembers::Position), Order::Asc)
            .to_owned();
        let mut members: HashMap<TeamId, Vec<CharacterView>> = HashMap::new();
        for (team, member) in self.select(&query, member_from_row).await? {
            members.entry(team).or_default().push(member);
        }
        Ok(teams
            .into_iter()
            .map(|mut team| {
                let members = members.remove(&team.id).unwrap_or_default();
                team.member_ids = domain::TeamMembers::from_stored(
                    members.iter().map(|m| m.character.id).collect(),
                );
                TeamView { team, members }
            })
            .collect())
    }
}

/// One statement that updates the team of its owner and replaces its
/// members, and answers how many teams it updated (0 or 1): members are
/// only written when the team matched, and all of it is atomic even
/// outside a transaction.
///
/// ```sql
/// WITH updated_team AS (UPDATE teams SET … WHERE id = $ AND owner_id = $ RETURNING id),
///      gone AS (DELETE FROM team_members WHERE team_id IN (SELECT id FROM updated_team)
///               AND character_id NOT IN (…the new members…)),
///      placed AS (INSERT INTO team_members SELECT id, $member, $position FROM updated_team
///                 UNION ALL … ON CONFLICT (team_id, character_id) DO UPDATE SET position)
/// SELECT count(*) FROM updated_team
/// ```
///
/// The rows deleted and the rows upserted are disjoint, as sub-statements
/// of one statement must be (they see the same snapshot).
fn update_statement(team: &Team) -> WithQuery {
    let updated = Query::update()
        .table(Teams::Table)
        .value(Teams::Name, team.name.as_str())
        .value(
            Teams::Description,
            team.description.as_ref().map(|d| d.as_str().to_owned()),
        )
        .value(Teams::UpdatedAt, team.updated_at)
        .and_where(Expr::col(Teams::Id).eq(team.id.as_uuid()))
        .and_where(Expr::col(Teams::OwnerId).eq(team.owner.as_uuid()))
        .returning_col(Teams::Id)
        .to_owned();
    let updated_id = Query::select().column(Teams::Id).from(UPDATED).to_owned();
    let mut gone = Query::delete()
        .from_table(TeamMembers::Table)
        .and_where(Expr::col(TeamMembers::TeamId).in_subquery(updated_id))
        .to_owned();
    if !team.member_ids.is_empty() {
        gone.and_where(
            Expr::col(TeamMembers::CharacterId)
                .is_not_in(team.member_ids.iter().map(|m| m.as_uuid())),
        );
    }
    let mut with = WithClause::new();
    with.cte(
        CommonTableExpression::new()
            .query(updated)
            .table_name(UPDATED)
            .to_owned(),
    )
    .cte(
        CommonTableExpression::new()
            .query(gone)
            .table_name("gone")
            .to_owned(),
    );
    // Each member as `SELECT id, $member::uuid, $position::smallint FROM
    // updated_team`: nothing is placed unless the team matched. The casts
    // give the parameters their types, which a SELECT list does not infer.
    let mut rows = (0_i16..)
        .zip(team.member_ids.iter())
        .map(|(position, member)| {
            Query::select()
                .column((UPDATED, Teams::Id))
                .expr(Expr::val(member.as_uuid()).cast_as("uuid"))
                .expr(Expr::val(position).cast_as("smallint"))
                .from(UPDATED)
                .to_owned()
        });
    if let Some(mut placed) = rows.next() {
        for row in rows {
            placed.union(UnionType::All, row);
        }
        let insert = Query::insert()
            .into_table(TeamMembers::Table)
            .columns([
                TeamMembers::TeamId,
                TeamMembers::CharacterId,
                TeamMembers::Position,
            ])
            .select_from(placed)
            .expect("three columns from three expressions")
            .on_conflict(
                OnConflict::columns([TeamMembers::TeamId, TeamMembers::CharacterId])
                    .update_column(TeamMembers::Position)
                    .to_owned(),
            )
            .to_owned();
        with.cte(
            CommonTableExpression::new()
                .query(insert)
                .table_name("placed")
                .to_owned(),
        );
    }
    let count = Query::select()
        .expr(Expr::col((UPDATED, Teams::Id)).count())
        .from(UPDATED)
        .to_owned();
    with.query(count)
}

#[async_trait]
impl<E: Exec> TeamRepository for Repos<E> {
    async fn insert(&self, team: &Team) -> Result<(), RepoError> {
        let mut statements: Vec<Statement> = vec![
            Query::insert()
                .into_table(Teams::Table)
                .columns(COLUMNS)
                .values_panic([
                    team.id.as_uuid().into(),
                    team.owner.as_uuid().into(),
                    team.name.as_str().into(),
                    team.description
                        .as_ref()
                        .map(|d| d.as_str().to_owned())
                        .into(),
                    team.created_at.into(),
                    team.updated_at.into(),
                ])
                .build_postgres(PostgresQueryBuilder),
        ];
        statements.extend(members_insert(team).map(|i| i.build_postgres(PostgresQueryBuilder)));
        // Both or neither: in the caller's transaction, or in one of its own.
        self.0.execute_all(&statements).await
    }

    async fn find(&self, owner: UserId, id: TeamId) -> Result<Option<TeamView>, RepoError> {
        let query = select()
            .cond_where(of_owner(owner))
            .and_where(Expr::col((Teams::Table, Teams::Id)).eq(id.as_uuid()))
            .to_owned();
        let teams = self.select(&query, team_from_row).await?;
        Ok(self.with_members(owner, teams).await?.pop())
    }

    async fn list(
        &self,
        owner: UserId,
        search: Option<&str>,
        page: PageRequest,
    ) -> Result<Paged<TeamView>, RepoError> {
        let mut cond = of_owner(owner);
        if let Some(search) = search {
            cond = cond.add(Expr::col((Teams::Table, Teams::Name)).ilike(contains_pattern(search)));
        }
        let mut query = select()
            .cond_where(cond.clone())
            .order_by_expr(name_key((Teams::Table, Teams::Name)), Order::Asc)
            .order_by((Teams::Table, Teams::Id), Order::Asc)
            .to_owned();
        paginate(&mut query, page);
        let count = Query::select()
            .expr(Expr::col((Teams::Table, Teams::Id)).count())
            .from(Teams::Table)
            .cond_where(cond)
            .to_owned();
        let teams = self.select(&query, team_from_row).await?;
        let total = self.count(&count).await?;
        let items = self.with_members(owner, teams).await?;
        Ok(Paged { items, total })
    }

    async fn update(&self, team: &Team) -> Result<bool, RepoError> {
        let (sql, values) = update_statement(team).build_postgres(PostgresQueryBuilder);
        let rows = self.0.query(&sql, &values.as_params()).await?;
        let updated: i64 = rows
            .first()
            .and_then(|row| row.try_get(0).ok())
            .ok_or_else(|| RepoError::unknown("COUNT returned no row"))?;
        Ok(updated == 1)
    }

    async fn delete(&self, owner: UserId, id: TeamId) -> Result<bool, RepoError> {
        // Its members go with it (ON DELETE CASCADE).
        let statement = Query::delete()
            .from_table(Teams::Table)
            .and_where(Expr::col(Teams::Id).eq(id.as_uuid()))
            .and_where(Expr::col(Teams::OwnerId).eq(owner.as_uuid()))
            .to_owned();
        Ok(self.write(&statement).await? == 1)
    }

    async fn with_member(
        &self,
        owner: UserId,
        character: CharacterId,
    ) -> Result<Vec<TeamView>, RepoError> {
        let teams_of_character = Query::select()
            .column(TeamMembers::TeamId)
            .from(TeamMembers::Table)
            .and_where(Expr::col(TeamMembers::CharacterId).eq(character.as_uuid()))
            .to_owned();
        let query = select()
            .cond_where(of_owner(owner))
            .and_where(Expr::col((Teams::Table, Teams::Id)).in_subquery(teams_of_character))
            .order_by_expr(name_key((Teams::Table, Teams::Name)), Order::Asc)
            .order_by((Teams::Table, Teams::Id), Order::Asc)
            .to_owned();
        let teams = self.select(&query, team_from_row).await?;
        self.with_members(owner, teams).await
    }
}
