//! Round trips to PostgreSQL of the hottest routes, counted by a proxy in
//! front of the server (`tests::round_trips`): an authenticated character
//! read is two (the session check, the read), a name-only `PATCH` three
//! (the session check; `BEGIN` with the edit that locks, checks and writes;
//! the audit entry with `COMMIT`). A change that adds one shows here.

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
