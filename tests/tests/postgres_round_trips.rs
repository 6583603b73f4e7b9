//! Round trips to PostgreSQL of the hottest routes, counted by a proxy in
//! front of the server (`tests::round_trips`): an authenticated character
//! read is two (the session check, the read), a name-only `PATCH` three
//! (the session check; `BEGIN` with the edit that locks, checks and writes;
//! the audit entry with `COMMIT`). A change that adds one shows here.
//! Lookups made by many callers at once share connections and go out
//! together (`Exec::lookup` in the PostgreSQL adapter).

use adapter_postgres::PgStorage;
use domain::ports::Repositories;
use domain::{CharacterId, UserId};
use futures::future::join_all;
use reqwest::StatusCode;
use serde_json::json;
use tests::app::TestApp;
use tests::pg::TestDatabase;
use tests::roster::{Player, id_of, servers};
use tests::round_trips::RoundTripProxy;

#[tokio::test]
async fn a_character_read_is_two_round_trips_and_a_name_only_patch_three() {
    // Arrange: a server that reaches PostgreSQL through the counting proxy,
    // and statements prepared on its connections by a few warm-up requests.
    let Some(database) = TestDatabase::create().await else {
        return;
    };
    let proxy = RoundTripProxy::start(database.server_address()).await;
    let app = TestApp::spawn_on(&database.url_via(&proxy.address.to_string()), &[]).await;
    let player = Player::new(&app).await;
    let server = servers(&app).await[0];
    let character = player.character(&app, "Counted", server).await;
    let path = format!("/characters/{}", id_of(&character));
    for round in 0..3 {
        app.get(&path, Some(player.token()))
            .await
            .expect_status(StatusCode::OK);
        app.patch_json_as(
            &path,
            player.token(),
            &json!({"name": format!("Warm {round}")}),
        )
        .await
        .expect_status(StatusCode::OK);
    }
    proxy.take();

    // Act
    let read = app.get(&path, Some(player.token())).await;
    let read_trips = proxy.take();
    let patch = app
        .patch_json_as(&path, player.token(), &json!({"name": "Renamed"}))
        .await;
    let patch_trips = proxy.take();

    // Assert
    read.expect_status(StatusCode::OK);
    patch.expect_status(StatusCode::OK);
    assert_eq!(patch.data()["name"], "Renamed");
    assert_eq!(read_trips, 2, "GET /characters/{{id}}");
    assert_eq!(patch_trips, 3, "a name-only PATCH /characters/{{id}}");
}

#[tokio::test]
async fn lookups_made_at_once_share_flights_and_each_gets_its_own_row() {
    // Arrange: three players with two characters each, written through the
    // service; then a second storage on the same schema, behind the
    // counting proxy, whose lookups are measured.
    let Some(database) = TestDatabase::create().await else {
        return;
    };
    let app = TestApp::spawn_on(&database.url, &[]).await;
    let server = servers(&app).await[0];
    let mut expected = Vec::new();
    for player in 0..3 {
        let owner = Player::new(&app).await;
        for n in 0..2 {
            let name = format!("Lane{player}x{n}");
            let character = owner.character(&app, &name, server).await;
            let owner_id: UserId = owner.user.user_id.parse().expect("a user id");
            let id: CharacterId = id_of(&character).parse().expect("a character id");
            expected.push((owner_id, id, name));
        }
    }
    let proxy = RoundTripProxy::start(database.server_address()).await;
    let storage =
        PgStorage::connect(&database.url_via(&proxy.address.to_string()), 4).expect("a pool");
    // Warm-up: each lane connected, the statement prepared on it.
    let (owner, id, _) = &expected[0];
    for _ in 0..4 {
        storage
            .characters()
            .find(*owner, *id)
            .await
            .expect("a warm-up lookup");
    }
    proxy.take();

    // Act: 120 lookups started together, each for one of the six.
    let characters = storage.characters();
    let found = join_all((0..120).map(|i| {
        let (owner, id, _) = &expected[i % expected.len()];
        characters.find(*owner, *id)
    }))
    .await;
    let flights = proxy.take();

    // Assert: every caller got its own character, never a neighbour's, and
    // the batch went out in a handful of flights, not one per lookup.
    for (i, result) in found.into_iter().enumerate() {
        let (_, id, name) = &expected[i % expected.len()];
        let view = result.expect("a lookup").expect("the character");
        assert_eq!(view.character.id, *id, "lookup {i}");
        assert_eq!(view.character.name.as_str(), name, "lookup {i}");
    }
    assert!(
        flights <= 8,
        "120 lookups at once took {flights} flights to PostgreSQL"
    );
}
