//! Names people read, through HTTP (issue 14): every human-facing name
//! goes through one rule (`domain::text`). Zero-width spaces, bidi
//! overrides, byte-order marks, noncharacters, private-use code points and
//! Hangul fillers are refused with a 400 naming the field and the code
//! point; a name must show something; names are stored in NFC.

use reqwest::StatusCode;
use serde_json::{Value, json};
use tests::app::{PASSWORD, Reply, TestApp, unique_email};

/// Names that render as nothing, or as something else than they are.
const HOSTILE: [(&str, &str); 8] = [
    ("\u{200b}\u{200b}", "U+200B"),
    ("\u{202e}\u{202e}", "U+202E"),
    ("ab\u{202e}cd", "U+202E"),
    ("\u{feff}\u{feff}", "U+FEFF"),
    ("\u{ffff}\u{ffff}", "U+FFFF"),
    ("x\u{e000}y", "U+E000"),
    ("\u{3164}\u{3164}", "U+3164"),
    ("x\u{e0041}y", "U+E0041"),
];

fn expect_refused(reply: &Reply, field: &str, code: &str) {
    reply.expect_invalid_field(field);
    let text = reply.text.as_str();
    assert!(text.contains(code), "{code} not named: {text}");
}

#[tokio::test]
async fn hostile_names_are_refused_everywhere_naming_the_code_point() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    let user = app.new_user().await;
    let bearer = user.access_token.as_str();
    for (name, code) in HOSTILE {
        for (path, body) in [
            ("/accounts", json!({"name": name})),
            ("/teams", json!({"name": name, "memberIds": []})),
        ] {
            let reply = app.post_json_as(path, bearer, &body).await;
            expect_refused(&reply, "name", code);
        }
        let reply = app
            .post_json_as("/api-keys", bearer, &json!({"name": name}))
            .await;
        expect_refused(&reply, "name", code);
        let reply = app.register(&unique_email("hostile"), PASSWORD, name).await;
        expect_refused(&reply, "displayName", code);
        let reply = app
            .post_json_as(
                "/accounts",
                bearer,
                &json!({"name": "Fine name", "notes": format!("ok{name}")}),
            )
            .await;
        expect_refused(&reply, "notes", code);
    }
    // Nothing of it was stored.
    let accounts = app.get("/accounts", Some(bearer)).await;
    accounts.expect_status(StatusCode::OK);
    assert!(accounts.items().is_empty(), "{}", accounts.text);
}

#[tokio::test]
async fn a_name_of_marks_or_joiners_alone_shows_nothing_and_is_refused() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    let user = app.new_user().await;
    for name in ["\u{0301}\u{0301}", "\u{200d}\u{200c}"] {
        let reply = app
            .post_json_as("/accounts", &user.access_token, &json!({"name": name}))
            .await;
        reply.expect_invalid_field("name");
        assert!(
            reply.text.contains("at least one visible character"),
            "{}",
            reply.text
        );
    }
}

#[tokio::test]
async fn names_are_stored_in_nfc_so_two_spellings_are_one_name() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    let user = app.new_user().await;
    let decomposed = "Cre\u{0301}ation";
    let created: Value = app
        .create_as(
            "/accounts",
            &user.access_token,
            &json!({"name": decomposed}),
        )
        .await;
    assert_eq!(created["name"], "Création");
    // The composed spelling is the same name: taken.
    app.post_json_as(
        "/accounts",
        &user.access_token,
        &json!({"name": "Création"}),
    )
    .await
    .expect_error(StatusCode::CONFLICT, "CONFLICT");
    // Joiners inside a word stay: Persian spelling and emoji sequences.
    for name in ["می\u{200c}خواهم", "👨\u{200d}👩\u{200d}👧 team"] {
        let team: Value = app
            .create_as(
                "/teams",
                &user.access_token,
                &json!({"name": name, "memberIds": []}),
            )
            .await;
        assert_eq!(team["name"], name);
    }
}
