//! The `search` parameter of every list that has one, through HTTP: plain
//! text only. A control character (a NUL above all, which PostgreSQL text
//! cannot hold) is a 400 naming `search`, never a 500; blank is no search.
//! The audit trails' exact filters likewise.

use reqwest::StatusCode;
use tests::app::{TestApp, unique_email};

const LISTS: [&str; 5] = [
    "/accounts",
    "/characters",
    "/teams",
    "/catalog/items",
    "/admin/users",
];

#[tokio::test]
async fn a_search_with_a_control_character_is_refused_naming_it_on_every_list() {
    let email = unique_email("admin");
    let Some(app) = TestApp::spawn_with(&[("ROSTER_ADMIN_EMAILS", email.as_str())]).await else {
        return;
    };
    let reply = app.register(&email, tests::app::PASSWORD, "Admin").await;
    reply.expect_status(StatusCode::CREATED);
    let admin = tests::app::SignedIn::from_reply(&email, &reply);

    for list in LISTS {
        for bad in ["%00", "a%00b", "%07", "%1B%5B31m"] {
            let path = format!("{list}?search={bad}");
            let reply = app.get(&path, Some(&admin.access_token)).await;
            assert_eq!(
                reply.status,
                StatusCode::BAD_REQUEST,
                "{path}: {}",
                reply.text
            );
            reply.expect_invalid_field("search");
        }
        let blank = format!("{list}?search=%20%20");
        let reply = app.get(&blank, Some(&admin.access_token)).await;
        assert_eq!(reply.status, StatusCode::OK, "{blank}: {}", reply.text);
        // Blank is no search: the same answer as no search at all.
        let unfiltered = app.get(list, Some(&admin.access_token)).await;
        assert_eq!(reply.data(), unfiltered.data(), "{blank}");
    }
}

#[tokio::test]
async fn an_audit_filter_with_a_control_character_is_refused_naming_it() {
    let email = unique_email("admin");
    let Some(app) = TestApp::spawn_with(&[("ROSTER_ADMIN_EMAILS", email.as_str())]).await else {
        return;
    };
    let reply = app.register(&email, tests::app::PASSWORD, "Admin").await;
    reply.expect_status(StatusCode::CREATED);
    let admin = tests::app::SignedIn::from_reply(&email, &reply);

    for trail in ["/audit", "/admin/audit"] {
        for field in ["resourceType", "resourceId"] {
            let path = format!("{trail}?{field}=a%00b");
            let reply = app.get(&path, Some(&admin.access_token)).await;
            assert_eq!(
                reply.status,
                StatusCode::BAD_REQUEST,
                "{path}: {}",
                reply.text
            );
            reply.expect_invalid_field(field);
        }
        let reply = app
            .get(
                &format!("{trail}?resourceType=user"),
                Some(&admin.access_token),
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{trail}: {}", reply.text);
    }
}
