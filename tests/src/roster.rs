//! Fixtures for the teams and progression suites: a signed-in player with
//! one game account, characters made through `POST /characters`, and the
//! catalog's servers and items as the public routes list them.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::app::{Reply, SignedIn, TestApp, send};

/// A user with one game account, ready to create characters.
#[derive(Debug, Clone)]
pub struct Player {
    pub user: SignedIn,
    pub account: String,
}

impl Player {
    pub async fn new(app: &TestApp) -> Self {
        let user = app.new_user().await;
        let account = app
            .create_as("/accounts", &user.access_token, &json!({"name": "Main"}))
            .await["id"]
            .as_str()
            .expect("an account id")
            .to_owned();
        Self { user, account }
    }

    pub fn token(&self) -> &str {
        &self.user.access_token
    }

    /// A level-50 character of the catalog's first class on `server`; its
    /// `Character` answer.
    pub async fn character(&self, app: &TestApp, name: &str, server: i64) -> Value {
        let class = first_id(&app.get("/catalog/classes", None).await);
        app.create_as(
            "/characters",
            self.token(),
            &json!({
                "name": name,
                "level": 50,
                "classId": class,
                "serverId": server,
                "accountId": self.account,
            }),
        )
        .await
    }
}

fn first_id(reply: &Reply) -> i64 {
    reply.expect_status(StatusCode::OK);
    reply.items()[0]["id"].as_i64().expect("an id")
}

/// The catalog's server ids, as `GET /catalog/servers` lists them.
pub async fn servers(app: &TestApp) -> Vec<i64> {
    let reply = app.get("/catalog/servers", None).await;
    reply.expect_status(StatusCode::OK);
    reply
        .items()
        .iter()
        .map(|s| s["id"].as_i64().expect("a server id"))
        .collect()
}

/// Every catalog item of `kind` (`{id, kind, name, level}`), following the
/// cursor to the end.
pub async fn items(app: &TestApp, kind: &str) -> Vec<Value> {
    app.all_pages(&format!("/catalog/items?kind={kind}&perPage=100"), None)
        .await
        .iter()
        .flat_map(|page| page.items().clone())
        .collect()
}

/// `PUT /api/v1{path}` with a JSON body and a bearer token.
pub async fn put_json_as(app: &TestApp, path: &str, bearer: &str, body: &Value) -> Reply {
    send(app.api(Method::PUT, path).bearer_auth(bearer).json(body)).await
}

/// The `id` of an answer's `data` (or of an item).
pub fn id_of(value: &Value) -> &str {
    value["id"].as_str().expect("an id")
}
