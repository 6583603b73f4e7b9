//! What `TeamRepository` promises, whatever stores the teams.
//!
//! Owners, accounts, members and the catalog naming the members are stored
//! first, so a backend with foreign keys runs the same bodies.

use domain::{Character, GameAccount, PageRequest, Team, TeamMembers, TeamView, UniqueRule, User};

use super::FreshStorage;
use super::fixtures::{
    DRACONIROS, FECA, IMAGIRO, IOP, SACRIER, a_character_of, a_team_of, assert_duplicate, at,
    notes, roster_name, store_characters, store_teams, stored_account, stored_roster_catalog,
    stored_user, team_members,
};

fn page(page: i64, per_page: i64) -> PageRequest {
    PageRequest::parse(Some(page), Some(per_page)).expect("fixture page")
}

/// A user, one account, and three of its characters, in the roster catalog.
struct Roster {
    owner: User,
    account: GameAccount,
    members: [Character; 3],
}

async fn roster(storage: &FreshStorage) -> Roster {
    stored_roster_catalog(storage).await;
    let owner = stored_user(storage).await;
    let account = stored_account(storage, owner.id).await;
    let members = [
        a_character_of(owner.id, account.id).class(IOP).build(),
        a_character_of(owner.id, account.id).class(FECA).build(),
        a_character_of(owner.id, account.id).class(SACRIER).build(),
    ];
    store_characters(storage, &[&members[0], &members[1], &members[2]]).await;
    Roster {
        owner,
        account,
        members,
    }
}

/// `team` as the store shows it: `members` are the live ones, in order.
fn view(team: &Team, account: &GameAccount, members: &[&Character]) -> TeamView {
    TeamView {
        team: Team {
            member_ids: team_members(&members.iter().map(|c| c.id).collect::<Vec<_>>()),
            ..team.clone()
        },
        members: members
            .iter()
            .map(|c| domain::CharacterView {
                character: (*c).clone(),
                account_name: account.name.as_str().to_owned(),
                class_name: match c.class_id {
                    IOP => "Iop",
                    FECA => "Feca",
                    SACRIER => "Sacrier",
                    other => panic!("no fixture class {other:?}"),
                }
                .to_owned(),
                server_name: match c.server_id {
                    IMAGIRO => "Imagiro",
                    DRACONIROS => "Draconiros",
                    other => panic!("no fixture server {other:?}"),
                }
                .to_owned(),
            })
            .collect(),
    }
}

async fn found(storage: &FreshStorage, owner: &User, team: &Team) -> Option<TeamView> {
    storage
        .teams()
        .find(owner.id, team.id)
        .await
        .expect("find team")
}

/// The names of one page of `owner`'s teams matching `search`, and the total.
async fn listed_names(
    storage: &FreshStorage,
    owner: &User,
    search: Option<&str>,
    page: PageRequest,
) -> (Vec<String>, u64) {
    let listed = storage
        .teams()
        .list(owner.id, search, page)
        .await
        .expect("list teams");
    let names = listed
        .items
        .iter()
        .map(|v| v.team.name.as_str().to_owned())
        .collect();
    (names, listed.total)
}

pub async fn inserting_a_team_then_finding_it_returns_every_field_and_its_members_in_order(
    storage: FreshStorage,
) {
    // Arrange: members in an order that is neither insertion nor id order.
    let r = roster(&storage).await;
    let [a, b, c] = &r.members;
    let team = a_team_of(r.owner.id)
        .name("Dungeon crew ☃")
        .description("Tuesdays\nand Fridays")
        .members(&[c, a, b])
        .created_at(at(10))
        .build();
    let empty = a_team_of(r.owner.id).build();

    // Act
    store_teams(&storage, &[&team, &empty]).await;

    // Assert
    assert_eq!(
        found(&storage, &r.owner, &team).await,
        Some(view(&team, &r.account, &[c, a, b]))
    );
    assert_eq!(
        found(&storage, &r.owner, &empty).await,
        Some(view(&empty, &r.account, &[]))
    );
}

pub async fn inserting_a_team_with_a_taken_id_is_a_duplicate(storage: FreshStorage) {
    // Arrange: the id is taken by another user's team.
    let r = roster(&storage).await;
    let someone_else = stored_user(&storage).await;
    let first = a_team_of(someone_else.id).build();
    store_teams(&storage, &[&first]).await;
    let second = a_team_of(r.owner.id).id(first.id).build();

    // Act
    let result = storage.teams().insert(&second).await;

    // Assert
    assert_duplicate(result, UniqueRule::TeamId);
    assert_eq!(found(&storage, &r.owner, &second).await, None);
    assert_eq!(
        found(&storage, &someone_else, &first).await,
        Some(view(&first, &r.account, &[]))
    );
}

pub async fn a_team_name_of_the_owner_ignoring_case_is_a_duplicate_but_free_for_another_user(
    storage: FreshStorage,
) {
    // Arrange
    let r = roster(&storage).await;
    let someone_else = stored_user(&storage).await;
    let first = a_team_of(r.owner.id).name("Raid Team").build();
    store_teams(&storage, &[&first]).await;
    let clash = a_team_of(r.owner.id).name("RAID team").build();
    let theirs = a_team_of(someone_else.id).name("raid team").build();

    // Act
    let clash_result = storage.teams().insert(&clash).await;
    let theirs_result = storage.teams().insert(&theirs).await;

    // Assert
    assert_duplicate(clash_result, UniqueRule::TeamName);
    assert_eq!(found(&storage, &r.owner, &clash).await, None);
    theirs_result.expect("another user may use the name");
    let mine = listed_names(&storage, &r.owner, None, page(1, 20)).await;
    assert_eq!(mine, (vec!["Raid Team".to_owned()], 1));
}

pub async fn another_users_team_is_not_found_listed_updated_or_deleted(storage: FreshStorage) {
    // Arrange
    let r = roster(&storage).await;
    let intruder = stored_user(&storage).await;
    let team = a_team_of(r.owner.id).members(&[&r.members[0]]).build();
    store_teams(&storage, &[&team]).await;
    let teams = storage.teams();

    // Act
    let find = teams.find(intruder.id, team.id).await;
    let list = teams.list(intruder.id, None, page(1, 20)).await;
    let stolen = Team {
        owner: intruder.id,
        name: roster_name("Stolen"),
        member_ids: TeamMembers::default(),
        ..team.clone()
    };
    let update = teams.update(&stolen).await;
    let delete = teams.delete(intruder.id, team.id).await;

    // Assert
    assert_eq!(find.expect("find"), None);
    let list = list.expect("list");
    assert_eq!((list.items, list.total), (Vec::new(), 0));
    assert!(!update.expect("update"));
    assert!(!delete.expect("delete"));
    assert_eq!(
        found(&storage, &r.owner, &team).await,
        Some(view(&team, &r.account, &[&r.members[0]])),
        "untouched"
    );
}

pub async fn deleted_characters_drop_out_of_a_teams_members_keeping_the_order(
    storage: FreshStorage,
) {
    // Arrange
    let r = roster(&storage).await;
    let [a, b, c] = &r.members;
    let team = a_team_of(r.owner.id).members(&[c, b, a]).build();
    store_teams(&storage, &[&team]).await;
    storage
        .characters()
        .delete(r.owner.id, &[b.id], at(5))
        .await
        .expect("delete");

    // Act
    let shown = found(&storage, &r.owner, &team).await;
    let listed = storage
        .teams()
        .list(r.owner.id, None, page(1, 20))
        .await
        .expect("list");

    // Assert: in the team itself as in the members.
    let expected = view(&team, &r.account, &[c, a]);
    assert_eq!(shown, Some(expected.clone()));
    assert_eq!(listed.items, vec![expected]);
}

pub async fn updating_a_team_writes_its_name_description_members_and_updated_at(
    storage: FreshStorage,
) {
    // Arrange
    let r = roster(&storage).await;
    let [a, b, c] = &r.members;
    let team = a_team_of(r.owner.id)
        .name("Before")
        .description("old")
        .members(&[a, b])
        .created_at(at(0))
        .build();
    store_teams(&storage, &[&team]).await;
    let changed = Team {
        name: roster_name("BEFORE and after"),
        description: Some(notes("new")),
        member_ids: team_members(&[c.id, a.id]),
        created_at: at(999),
        updated_at: at(100),
        ..team.clone()
    };
    let emptied = Team {
        name: roster_name("before AND AFTER"),
        description: None,
        member_ids: TeamMembers::default(),
        updated_at: at(200),
        ..changed.clone()
    };

    // Act
    let first = storage.teams().update(&changed).await;
    let after_first = found(&storage, &r.owner, &team).await;
    let second = storage.teams().update(&emptied).await;
    let after_second = found(&storage, &r.owner, &team).await;

    // Assert: created_at is not written; its own name in another case is
    // no duplicate.
    assert!(first.expect("update"));
    let expected = Team {
        created_at: at(0),
        ..changed
    };
    assert_eq!(after_first, Some(view(&expected, &r.account, &[c, a])));
    assert!(second.expect("update"));
    let expected = Team {
        created_at: at(0),
        ..emptied
    };
    assert_eq!(after_second, Some(view(&expected, &r.account, &[])));
}

pub async fn updating_a_team_to_another_teams_name_is_a_duplicate_and_writes_nothing(
    storage: FreshStorage,
) {
    // Arrange
    let r = roster(&storage).await;
    let taken = a_team_of(r.owner.id).name("Taken").build();
    let team = a_team_of(r.owner.id)
        .name("Mine")
        .members(&[&r.members[0]])
        .build();
    store_teams(&storage, &[&taken, &team]).await;
    let clash = Team {
        name: roster_name("tAkEn"),
        member_ids: team_members(&[r.members[1].id]),
        updated_at: at(100),
        ..team.clone()
    };

    // Act
    let result = storage.teams().update(&clash).await;

    // Assert
    assert_duplicate(result, UniqueRule::TeamName);
    assert_eq!(
        found(&storage, &r.owner, &team).await,
        Some(view(&team, &r.account, &[&r.members[0]])),
        "nothing written"
    );
}

pub async fn listing_teams_sorts_by_lower_cased_name_searches_and_pages(storage: FreshStorage) {
    // Arrange: names are unique ignoring case per owner, so no two of the
    // owner's teams tie on the name.
    let r = roster(&storage).await;
    let someone_else = stored_user(&storage).await;
    let names = [
        "twins",
        "Raid 100%",
        "raid 1000",
        "Alt_team",
        "alt team",
        "Beta",
    ];
    for name in names {
        store_teams(&storage, &[&a_team_of(r.owner.id).name(name).build()]).await;
    }
    let theirs = a_team_of(someone_else.id).name("Aaa theirs").build();
    store_teams(&storage, &[&theirs]).await;
    let all = page(1, 20);

    // Act
    let everything = storage
        .teams()
        .list(r.owner.id, None, all)
        .await
        .expect("list");
    let first_page = listed_names(&storage, &r.owner, None, page(1, 3)).await;
    let second_page = listed_names(&storage, &r.owner, None, page(2, 3)).await;
    let past = listed_names(&storage, &r.owner, None, page(3, 3)).await;
    let percent = listed_names(&storage, &r.owner, Some("0%"), all).await;
    let underscore = listed_names(&storage, &r.owner, Some("T_T"), all).await;
    let raid = listed_names(&storage, &r.owner, Some("RAID"), all).await;

    // Assert
    let names: Vec<&str> = everything
        .items
        .iter()
        .map(|v| v.team.name.as_str())
        .collect();
    assert_eq!(
        names,
        [
            "alt team",
            "Alt_team",
            "Beta",
            "Raid 100%",
            "raid 1000",
            "twins"
        ],
    );
    assert_eq!(everything.total, 6);
    assert_eq!(
        first_page,
        (vec!["alt team".into(), "Alt_team".into(), "Beta".into()], 6)
    );
    assert_eq!(
        second_page,
        (
            vec!["Raid 100%".into(), "raid 1000".into(), "twins".into()],
            6
        )
    );
    assert_eq!(past, (Vec::new(), 6));
    assert_eq!(percent, (vec!["Raid 100%".into()], 1));
    assert_eq!(underscore, (vec!["Alt_team".into()], 1));
    assert_eq!(raid, (vec!["Raid 100%".into(), "raid 1000".into()], 2));
}

pub async fn deleting_a_team_removes_it_once_and_frees_its_name(storage: FreshStorage) {
    // Arrange
    let r = roster(&storage).await;
    let team = a_team_of(r.owner.id)
        .name("Gone")
        .members(&[&r.members[0]])
        .build();
    store_teams(&storage, &[&team]).await;

    // Act
    let first = storage.teams().delete(r.owner.id, team.id).await;
    let second = storage.teams().delete(r.owner.id, team.id).await;

    // Assert: the members themselves stay.
    assert!(first.expect("delete"));
    assert!(!second.expect("second delete"));
    assert_eq!(found(&storage, &r.owner, &team).await, None);
    let update = storage.teams().update(&team).await;
    assert!(!update.expect("update"));
    let again = a_team_of(r.owner.id).name("GONE").build();
    storage
        .teams()
        .insert(&again)
        .await
        .expect("the name is free");
    let member = storage.characters().find(r.owner.id, r.members[0].id).await;
    assert!(member.expect("find").is_some());
}

pub async fn team_writes_in_a_transaction_dropped_without_commit_leave_nothing(
    storage: FreshStorage,
) {
    // Arrange: an insert, an update and a delete in one unit.
    let r = roster(&storage).await;
    let [a, b, _] = &r.members;
    let updated = a_team_of(r.owner.id).members(&[a, b]).build();
    let deleted = a_team_of(r.owner.id).build();
    store_teams(&storage, &[&updated, &deleted]).await;
    let added = a_team_of(r.owner.id).name("Added").build();
    let tx = storage.begin().await.expect("begin");
    tx.teams().insert(&added).await.expect("insert");
    let changed = Team {
        member_ids: team_members(&[b.id]),
        updated_at: at(50),
        ..updated.clone()
    };
    assert!(tx.teams().update(&changed).await.expect("update"));
    assert!(
        tx.teams()
            .delete(r.owner.id, deleted.id)
            .await
            .expect("delete")
    );

    // Act
    drop(tx);

    // Assert
    assert_eq!(found(&storage, &r.owner, &added).await, None);
    assert_eq!(
        found(&storage, &r.owner, &updated).await,
        Some(view(&updated, &r.account, &[a, b]))
    );
    assert_eq!(
        found(&storage, &r.owner, &deleted).await,
        Some(view(&deleted, &r.account, &[]))
    );
}

pub async fn the_teams_with_a_member_are_the_owners_teams_holding_it_by_name(
    storage: FreshStorage,
) {
    // Arrange
    let r = roster(&storage).await;
    let [a, b, _] = &r.members;
    let zulu = a_team_of(r.owner.id).name("zulu").members(&[b, a]).build();
    let alpha = a_team_of(r.owner.id).name("Alpha").members(&[a]).build();
    let without = a_team_of(r.owner.id).name("Beta").members(&[b]).build();
    store_teams(&storage, &[&zulu, &alpha, &without]).await;
    let intruder = stored_user(&storage).await;

    // Act
    let holding = storage.teams().with_member(r.owner.id, a.id).await;
    let for_intruder = storage.teams().with_member(intruder.id, a.id).await;

    // Assert
    assert_eq!(
        holding.expect("with_member"),
        vec![
            view(&alpha, &r.account, &[a]),
            view(&zulu, &r.account, &[b, a]),
        ]
    );
    assert_eq!(for_intruder.expect("with_member"), Vec::new());
}
