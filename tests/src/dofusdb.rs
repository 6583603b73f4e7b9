//! A fake DofusDB-compatible service, for tests of the `adapter-dofusdb`
//! crate and of catalog syncs end to end.
//!
//! It answers `GET /{resource}?$limit=N&$skip=N&lang=xx` like the real
//! service (a Feathers API; see `shared/dofusdb/`): full envelopes
//! `{total, limit, skip, data}`, rows with `_id`, `className` and other
//! fields a client must ignore, names as per-language objects with a string
//! translation `id`, a silent cap on `$limit`, and `?$limit=0` for a bare
//! count. It never honours `lang` (the real one sends every translation).
//!
//! ```no_run
//! # async fn demo() {
//! use domain::catalog::ItemKind;
//! use domain::ports::SourceResource;
//! use tests::dofusdb::{Fault, FakeCounts, FakeData, FakeDofusDb};
//!
//! let fake = FakeDofusDb::start(FakeData::generated(FakeCounts::default())).await;
//! let quests = SourceResource::Items(ItemKind::Quest);
//! // The next request for the quests page at skip 40 gets a 500, once.
//! fake.faults().once(quests, 40, Fault::Status(500));
//! // ... point the adapter at fake.url(), sync ...
//! assert!(fake.requests().iter().any(|r| r.skip == Some(40)));
//! // The source changes between two syncs.
//! fake.update_data(|data| {
//!     data.rename(quests, 1, "en", "A new name");
//!     data.remove(quests, 2);
//! });
//! # }
//! ```
//!
//! What it must not do: guess what the adapter does. Its answers follow the
//! samples; `FakeData::expected` is an oracle written from the contract in
//! `API.md`, for tests that compare a whole resource.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};
use std::time::{Duration, Instant};

use domain::catalog::ItemKind;
use domain::ports::{SourceEntry, SourceResource};
use poem::http::StatusCode;
use poem::listener::{Acceptor, Listener, TcpListener};
use poem::{Body, Request, Response, Server};
use serde_json::{Map, Value, json};

/// The language codes of the source's name objects.
pub const LANGUAGES: [&str; 5] = ["en", "fr", "de", "es", "pt"];

/// The `$limit` the fake applies when a request gives none (Feathers' `paginate.default`).
pub const DEFAULT_LIMIT: u64 = 10;

/// One row of a resource, as the fake serves it.
#[derive(Debug, Clone, PartialEq)]
pub struct FakeRow {
    /// `None`: the row is served without an `id` (a client skips it).
    pub id: Option<i64>,
    /// The translations, by language code. Served as
    /// `{"id": "<translation id>", "en": …, "fr": …}`; empty: a name object
    /// with only its `id` (a client skips the row).
    pub names: BTreeMap<String, String>,
    /// The value of the level field (`levelMin`, `level` or
    /// `optimalPlayerLevel` by kind), raw so a test can serve odd ones
    /// (`0`, `250`, `"60"`); `None`: the field is absent. Ignored for
    /// classes and servers.
    pub level: Option<Value>,
}

impl FakeRow {
    /// A row named `name` in English and `name [fr]`, `name [de]`… in the
    /// other languages, so a test sees which one a client picked.
    pub fn translated(id: i64, name: &str, level: Option<i64>) -> Self {
        let names = LANGUAGES
            .iter()
            .map(|&lang| {
                let text = if lang == "en" {
                    name.to_owned()
                } else {
                    format!("{name} [{lang}]")
                };
                (lang.to_owned(), text)
            })
            .collect();
        FakeRow {
            id: Some(id),
            names,
            level: level.map(Value::from),
        }
    }

    /// A row with exactly these translations.
    pub fn with_names(id: Option<i64>, names: &[(&str, &str)], level: Option<Value>) -> Self {
        FakeRow {
            id,
            names: names
                .iter()
                .map(|(lang, name)| ((*lang).to_owned(), (*name).to_owned()))
                .collect(),
            level,
        }
    }

    /// Keeps only the translations in `languages`.
    pub fn only(mut self, languages: &[&str]) -> Self {
        self.names
            .retain(|lang, _| languages.contains(&lang.as_str()));
        self
    }

    /// The name a client should pick for `lang` (then `en`, then `fr`;
    /// blank names do not count), per the contract.
    pub fn expected_name(&self, lang: &str) -> Option<String> {
        [lang, "en", "fr"].into_iter().find_map(|l| {
            let name = self.names.get(l)?.trim();
            (!name.is_empty()).then(|| name.to_owned())
        })
    }

    /// The level a client should read, per the contract.
    pub fn expected_level(&self, resource: SourceResource) -> i16 {
        match resource {
            SourceResource::Classes | SourceResource::Servers => 1,
            SourceResource::Items(_) => match self.level.as_ref().and_then(Value::as_f64) {
                Some(level) if level.is_finite() => level.round().clamp(1.0, 200.0) as i16,
                _ => 1,
            },
        }
    }
}

/// How many rows [`FakeData::generated`] makes per resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FakeCounts {
    pub classes: usize,
    pub servers: usize,
    pub quests: usize,
    pub achievements: usize,
    pub dungeons: usize,
}

impl Default for FakeCounts {
    /// Close to the real service: 19 classes, 20 servers, thousands of items.
    fn default() -> Self {
        FakeCounts {
            classes: 19,
            servers: 20,
            quests: 2000,
            achievements: 2700,
            dungeons: 120,
        }
    }
}

impl FakeCounts {
    /// Enough rows for several pages of every item kind, few enough for a
    /// quick test.
    pub fn small() -> Self {
        FakeCounts {
            classes: 19,
            servers: 20,
            quests: 130,
            achievements: 75,
            dungeons: 41,
        }
    }
}

/// The classes of the game, in their ids' order (1–19).
const CLASS_NAMES: [&str; 19] = [
    "Feca",
    "Osamodas",
    "Enutrof",
    "Sram",
    "Xelor",
    "Ecaflip",
    "Eniripsa",
    "Iop",
    "Cra",
    "Sadida",
    "Sacrier",
    "Pandawa",
    "Rogue",
    "Masqueraider",
    "Foggernaut",
    "Eliotrope",
    "Huppermage",
    "Ouginak",
    "Forgelance",
];

/// The rows the fake serves, and its `$limit` cap.
#[derive(Debug, Clone, PartialEq)]
pub struct FakeData {
    rows: BTreeMap<SourceResource, Vec<FakeRow>>,
    /// The most rows one answer holds, whatever `$limit` asks (default 20:
    /// a client asking 50 gets 20 and must page by that).
    pub limit_cap: u64,
}

impl Default for FakeData {
    fn default() -> Self {
        FakeData::empty()
    }
}

impl FakeData {
    /// No rows anywhere; a `$limit` cap of 20.
    pub fn empty() -> Self {
        FakeData {
            rows: SourceResource::ALL
                .into_iter()
                .map(|r| (r, Vec::new()))
                .collect(),
            limit_cap: 20,
        }
    }

    /// Generated rows, `counts` of each. Classes (ids 1–19, then 20…) and
    /// servers (ids 401…) are clean: every language, named `Feca`,
    /// `Server 401`… Items have ids 1, 2, 3… in every kind (they collide
    /// across kinds) and are named `Quest 17`, `Achievement 17`,
    /// `Dungeon 17` (`Quest 17 [fr]` in French…), except that the row at
    /// position `n` (1-based, its id when it has one):
    /// - `n % 50 == 25`: has no name in any language (to be skipped);
    /// - `n % 50 == 45`: has no `id` (to be skipped);
    /// - otherwise `n % 10 == 3`: only English; `n % 10 == 7`: only French;
    /// - level: absent when `n % 11 == 0`, else `(n * 7) % 230`, so some
    ///   are 0 and some above 200.
    pub fn generated(counts: FakeCounts) -> Self {
        let mut data = FakeData::empty();
        for id in 1..=counts.classes {
            let name = CLASS_NAMES
                .get(id - 1)
                .map_or_else(|| format!("Class {id}"), |n| (*n).to_owned());
            data.push(
                SourceResource::Classes,
                FakeRow::translated(id as i64, &name, None),
            );
        }
        for n in 1..=counts.servers {
            let id = 400 + n as i64;
            data.push(
                SourceResource::Servers,
                FakeRow::translated(id, &format!("Server {id}"), None),
            );
        }
        for (kind, count) in [
            (ItemKind::Quest, counts.quests),
            (ItemKind::Achievement, counts.achievements),
            (ItemKind::Dungeon, counts.dungeons),
        ] {
            let label = match kind {
                ItemKind::Quest => "Quest",
                ItemKind::Achievement => "Achievement",
                ItemKind::Dungeon => "Dungeon",
            };
            for n in 1..=count as i64 {
                let level = (n % 11 != 0).then(|| (n * 7) % 230);
                let mut row = FakeRow::translated(n, &format!("{label} {n}"), level);
                if n % 50 == 25 {
                    row.names.clear();
                } else if n % 50 == 45 {
                    row.id = None;
                } else if n % 10 == 3 {
                    row = row.only(&["en"]);
                } else if n % 10 == 7 {
                    row = row.only(&["fr"]);
                }
                data.push(SourceResource::Items(kind), row);
            }
        }
        data
    }

    /// Sets the `$limit` cap.
    pub fn with_limit_cap(mut self, cap: u64) -> Self {
        self.limit_cap = cap;
        self
    }

    /// Replaces the rows of `resource`.
    pub fn with_rows(mut self, resource: SourceResource, rows: Vec<FakeRow>) -> Self {
        self.rows.insert(resource, rows);
        self
    }

    pub fn rows(&self, resource: SourceResource) -> &[FakeRow] {
        self.rows.get(&resource).map_or(&[], Vec::as_slice)
    }

    pub fn rows_mut(&mut self, resource: SourceResource) -> &mut Vec<FakeRow> {
        self.rows.entry(resource).or_default()
    }

    /// Adds a row at the end of `resource`.
    pub fn push(&mut self, resource: SourceResource, row: FakeRow) {
        self.rows_mut(resource).push(row);
    }

    /// Sets the `lang` name of the row with `id`; false when there is none.
    pub fn rename(&mut self, resource: SourceResource, id: i64, lang: &str, name: &str) -> bool {
        match self.row_mut(resource, id) {
            Some(row) => {
                row.names.insert(lang.to_owned(), name.to_owned());
                true
            }
            None => false,
        }
    }

    /// Removes the row with `id` from `resource`, and returns it.
    pub fn remove(&mut self, resource: SourceResource, id: i64) -> Option<FakeRow> {
        let rows = self.rows_mut(resource);
        let at = rows.iter().position(|r| r.id == Some(id))?;
        Some(rows.remove(at))
    }

    pub fn row_mut(&mut self, resource: SourceResource, id: i64) -> Option<&mut FakeRow> {
        self.rows_mut(resource)
            .iter_mut()
            .find(|r| r.id == Some(id))
    }

    /// What a client reading `resource` in `lang` should end up with, per
    /// the contract: the usable entries in order, and how many rows it
    /// should skip.
    pub fn expected(&self, resource: SourceResource, lang: &str) -> (Vec<SourceEntry>, u64) {
        let mut entries = Vec::new();
        let mut skipped = 0;
        for row in self.rows(resource) {
            match (row.id, row.expected_name(lang)) {
                (Some(source_id), Some(name)) => entries.push(SourceEntry {
                    source_id,
                    name,
                    level: row.expected_level(resource),
                }),
                _ => skipped += 1,
            }
        }
        (entries, skipped)
    }
}

/// What goes wrong with an answer, on demand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// This status with a Feathers error body (`{name, message, code}`).
    Status(u16),
    /// `429 Too Many Requests` with this `Retry-After` value (seconds or an
    /// HTTP date).
    TooManyRequests { retry_after: String },
    /// `200` with an HTML page (a proxy's error page, a captive portal).
    Html,
    /// The normal answer, after this delay.
    Delay(Duration),
    /// `200`, `application/json`, a body of this many bytes streamed without
    /// a `Content-Length`. The body is a valid empty page padded with
    /// spaces: only a size cap refuses it.
    Oversized { bytes: usize },
    /// Anything else: this status, content type and body.
    Raw {
        status: u16,
        content_type: String,
        body: String,
    },
}

/// Which requests a fault hits, and how many more times.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FaultRule {
    /// `None`: every resource.
    pub resource: Option<SourceResource>,
    /// `None`: every page.
    pub skip: Option<u64>,
    pub fault: Fault,
    /// `None`: forever; `Some(n)`: the next `n` matching requests.
    pub remaining: Option<u32>,
}

/// The faults waiting for requests. The first rule that matches a request
/// applies (one fault per request) and is used up when its count runs out.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Faults {
    pub rules: Vec<FaultRule>,
}

impl Faults {
    /// The next request for this page gets `fault`, once.
    pub fn once(&mut self, resource: SourceResource, skip: u64, fault: Fault) -> &mut Self {
        self.times(resource, skip, 1, fault)
    }

    /// The next `times` requests for this page get `fault`.
    pub fn times(
        &mut self,
        resource: SourceResource,
        skip: u64,
        times: u32,
        fault: Fault,
    ) -> &mut Self {
        self.add(FaultRule {
            resource: Some(resource),
            skip: Some(skip),
            fault,
            remaining: Some(times),
        })
    }

    /// Every request for this page gets `fault`, until [`Faults::clear`].
    pub fn always(&mut self, resource: SourceResource, skip: u64, fault: Fault) -> &mut Self {
        self.add(FaultRule {
            resource: Some(resource),
            skip: Some(skip),
            fault,
            remaining: None,
        })
    }

    /// Every request, for any page, gets `fault`, until [`Faults::clear`].
    pub fn everywhere(&mut self, fault: Fault) -> &mut Self {
        self.add(FaultRule {
            resource: None,
            skip: None,
            fault,
            remaining: None,
        })
    }

    pub fn add(&mut self, rule: FaultRule) -> &mut Self {
        self.rules.push(rule);
        self
    }

    pub fn clear(&mut self) {
        self.rules.clear();
    }

    /// Takes the fault for a request, using up one of its rule's count.
    fn take(&mut self, resource: Option<SourceResource>, skip: u64) -> Option<Fault> {
        let at = self.rules.iter().position(|rule| {
            rule.resource.is_none_or(|r| Some(r) == resource)
                && rule.skip.is_none_or(|s| s == skip)
                && rule.remaining != Some(0)
        })?;
        let rule = &mut self.rules[at];
        let fault = rule.fault.clone();
        if let Some(remaining) = &mut rule.remaining {
            *remaining -= 1;
            if *remaining == 0 {
                self.rules.remove(at);
            }
        }
        Some(fault)
    }
}

/// One request the fake received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeRequest {
    /// The path, e.g. `/quests`.
    pub path: String,
    /// The raw query, e.g. `$limit=50&$skip=0&lang=en`.
    pub query: String,
    /// The resource the path names, when it names one.
    pub resource: Option<SourceResource>,
    /// `$skip`, `$limit` and `lang` as read from the query.
    pub skip: Option<u64>,
    pub limit: Option<u64>,
    pub lang: Option<String>,
    pub user_agent: Option<String>,
    /// When it arrived.
    pub at: Instant,
}

#[derive(Debug)]
struct Shared {
    data: RwLock<FakeData>,
    faults: Mutex<Faults>,
    requests: Mutex<Vec<FakeRequest>>,
}

/// A running fake DofusDB service on `127.0.0.1` and a free port. Stops
/// when dropped.
#[derive(Debug)]
pub struct FakeDofusDb {
    url: String,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

/// A test that panicked while holding a lock leaves valid data behind.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl FakeDofusDb {
    /// Starts serving `data`.
    pub async fn start(data: FakeData) -> Self {
        let shared = Arc::new(Shared {
            data: RwLock::new(data),
            faults: Mutex::new(Faults::default()),
            requests: Mutex::new(Vec::new()),
        });
        let acceptor = TcpListener::bind("127.0.0.1:0")
            .into_acceptor()
            .await
            .expect("the fake DofusDB binds a local port");
        let addr: SocketAddr = acceptor
            .local_addr()
            .first()
            .and_then(|a| a.as_socket_addr().copied())
            .expect("the fake DofusDB has a local address");
        let endpoint_shared = Arc::clone(&shared);
        let endpoint = poem::endpoint::make(move |req: Request| {
            let shared = Arc::clone(&endpoint_shared);
            async move { shared.answer(req).await }
        });
        let task = tokio::spawn(Server::new_with_acceptor(acceptor).run(endpoint));
        FakeDofusDb {
            url: format!("http://{addr}"),
            shared,
            task,
        }
    }

    /// The base URL to give a client (`http://127.0.0.1:PORT`, no trailing
    /// slash).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The faults, to set or clear while the fake runs. Do not hold the
    /// guard across an `.await`.
    pub fn faults(&self) -> MutexGuard<'_, Faults> {
        lock(&self.shared.faults)
    }

    /// Every request received so far, in order of arrival.
    pub fn requests(&self) -> Vec<FakeRequest> {
        lock(&self.shared.requests).clone()
    }

    /// The requests received for one resource.
    pub fn requests_for(&self, resource: SourceResource) -> Vec<FakeRequest> {
        lock(&self.shared.requests)
            .iter()
            .filter(|r| r.resource == Some(resource))
            .cloned()
            .collect()
    }

    pub fn clear_requests(&self) {
        lock(&self.shared.requests).clear();
    }

    /// A copy of the data served now.
    pub fn data(&self) -> FakeData {
        self.shared
            .data
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Serves `data` from the next request on.
    pub fn set_data(&self, data: FakeData) {
        *self
            .shared
            .data
            .write()
            .unwrap_or_else(PoisonError::into_inner) = data;
    }

    /// Changes the data served from the next request on.
    pub fn update_data(&self, change: impl FnOnce(&mut FakeData)) {
        change(
            &mut self
                .shared
                .data
                .write()
                .unwrap_or_else(PoisonError::into_inner),
        );
    }
}

impl Drop for FakeDofusDb {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Shared {
    async fn answer(&self, req: Request) -> Response {
        let path = req.uri().path().to_owned();
        let query = req.uri().query().unwrap_or("").to_owned();
        let params = parse_query(&query);
        let resource = SourceResource::parse(path.trim_start_matches('/'));
        let request = FakeRequest {
            resource,
            skip: params.get("$skip").and_then(|v| v.parse().ok()),
            limit: params.get("$limit").and_then(|v| v.parse().ok()),
            lang: params.get("lang").cloned(),
            user_agent: req
                .headers()
                .get("user-agent")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
            at: Instant::now(),
            path,
            query,
        };
        lock(&self.requests).push(request.clone());

        let skip_for_faults = request.skip.unwrap_or(0);
        let fault = lock(&self.faults).take(resource, skip_for_faults);
        match fault {
            None => {}
            Some(Fault::Delay(delay)) => tokio::time::sleep(delay).await,
            Some(fault) => return faulty(fault),
        }

        let Some(resource) = resource else {
            return feathers_error(404, "NotFound", "Page not found");
        };
        let limit = match params.get("$limit").map(|v| v.parse::<u64>()) {
            None => DEFAULT_LIMIT,
            Some(Ok(limit)) => limit,
            Some(Err(_)) => return feathers_error(400, "BadRequest", "Invalid $limit"),
        };
        let skip = match params.get("$skip").map(|v| v.parse::<u64>()) {
            None => 0,
            Some(Ok(skip)) => skip,
            Some(Err(_)) => return feathers_error(400, "BadRequest", "Invalid $skip"),
        };
        let body = {
            let data = self.data.read().unwrap_or_else(PoisonError::into_inner);
            let limit = limit.min(data.limit_cap);
            let rows = data.rows(resource);
            let page: Vec<Value> = rows
                .iter()
                .enumerate()
                .skip(usize::try_from(skip).unwrap_or(usize::MAX))
                .take(usize::try_from(limit).unwrap_or(usize::MAX))
                .map(|(position, row)| row_json(resource, position, row))
                .collect();
            json!({"total": rows.len(), "limit": limit, "skip": skip, "data": page})
        };
        json_response(200, &body)
    }
}

/// `a=1&b=2` into a map; `%XX` escapes decoded (a client may send `%24limit`).
fn parse_query(query: &str) -> BTreeMap<String, String> {
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(key), percent_decode(value))
        })
        .collect()
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (b'+', _) => {
                out.push(b' ');
                i += 1;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A row in the shape of the samples, with the fields a client ignores.
fn row_json(resource: SourceResource, position: usize, row: &FakeRow) -> Value {
    let translation_id = |base: usize| Value::from((base + position).to_string());
    let mut names = Map::new();
    names.insert("id".to_owned(), translation_id(resource_base(resource)));
    for (lang, name) in &row.names {
        names.insert(lang.clone(), Value::from(name.clone()));
    }
    let mut out = Map::new();
    out.insert(
        "_id".to_owned(),
        Value::from(format!(
            "66a0{:04x}{:016x}",
            resource_base(resource) / 1000,
            position
        )),
    );
    if let Some(id) = row.id {
        out.insert("id".to_owned(), Value::from(id));
    }
    let mut put = |key: &str, value: Value| {
        out.insert(key.to_owned(), value);
    };
    let level_field = match resource {
        SourceResource::Classes => {
            put("className", json!("Breeds"));
            put("m_id", json!(row.id));
            put("shortName", Value::Object(names));
            put(
                "longName",
                json!({"id": translation_id(7000), "en": "The long name", "fr": "Le nom long"}),
            );
            put(
                "description",
                json!({"id": translation_id(8000), "en": "…", "fr": "…"}),
            );
            put("sortIndex", json!(position + 1));
            put("complexity", json!(2));
            put(
                "img",
                json!("https://example.invalid/img/breeds/symbol.png"),
            );
            None
        }
        SourceResource::Servers => {
            put("className", json!("Servers"));
            put("name", Value::Object(names));
            put("language", json!("fr"));
            put("gameTypeId", json!(0));
            put("monoAccount", json!(false));
            put("openingDate", json!("2024-12-03"));
            None
        }
        SourceResource::Items(ItemKind::Quest) => {
            put("className", json!("Quests"));
            put("name", Value::Object(names));
            put("levelMax", json!(200));
            put("repeatType", json!(0));
            put("isDungeonQuest", json!(false));
            put(
                "steps",
                json!([{"id": position * 10 + 1, "objectives": []}]),
            );
            Some("levelMin")
        }
        SourceResource::Items(ItemKind::Achievement) => {
            put("className", json!("AchievementData"));
            put("name", Value::Object(names));
            put(
                "description",
                json!({"id": translation_id(21000), "en": "…"}),
            );
            put("points", json!(10));
            put("objectiveIds", json!([position]));
            put("rewardIds", json!([]));
            Some("level")
        }
        SourceResource::Items(ItemKind::Dungeon) => {
            put("className", json!("Dungeons"));
            put("name", Value::Object(names));
            put("mapIds", json!([1000 + position]));
            put("monsters", json!([]));
            Some("optimalPlayerLevel")
        }
    };
    if let (Some(field), Some(level)) = (level_field, &row.level) {
        out.insert(field.to_owned(), level.clone());
    }
    Value::Object(out)
}

fn resource_base(resource: SourceResource) -> usize {
    match resource {
        SourceResource::Classes => 600,
        SourceResource::Servers => 900,
        SourceResource::Items(ItemKind::Quest) => 1000,
        SourceResource::Items(ItemKind::Achievement) => 2000,
        SourceResource::Items(ItemKind::Dungeon) => 3000,
    }
}

fn status(code: u16) -> StatusCode {
    StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

fn json_response(code: u16, body: &Value) -> Response {
    Response::builder()
        .status(status(code))
        .content_type("application/json; charset=utf-8")
        .body(body.to_string())
}

/// An error the way Feathers answers one.
fn feathers_error(code: u16, name: &str, message: &str) -> Response {
    let class = name.to_ascii_lowercase();
    json_response(
        code,
        &json!({"name": name, "message": message, "code": code, "className": class}),
    )
}

fn faulty(fault: Fault) -> Response {
    match fault {
        Fault::Status(code) => feathers_error(code, "GeneralError", "the fake was told to fail"),
        Fault::TooManyRequests { retry_after } => Response::builder()
            .status(StatusCode::TOO_MANY_REQUESTS)
            .header("retry-after", retry_after)
            .content_type("application/json")
            .body(r#"{"name":"TooManyRequests","code":429}"#),
        Fault::Html => Response::builder()
            .status(StatusCode::OK)
            .content_type("text/html; charset=utf-8")
            .body("<!DOCTYPE html><html><body><h1>Checking your browser…</h1></body></html>"),
        Fault::Delay(_) => unreachable!("a delay is served as the normal answer"),
        Fault::Oversized { bytes } => {
            const HEAD: &[u8] = br#"{"total":0,"limit":50,"skip":0,"data":["#;
            const CHUNK: usize = 64 * 1024;
            let padding = bytes.saturating_sub(HEAD.len() + 2);
            let chunks = std::iter::once(HEAD.to_vec())
                .chain((0..padding / CHUNK).map(|_| vec![b' '; CHUNK]))
                .chain(std::iter::once(vec![b' '; padding % CHUNK]))
                .chain(std::iter::once(b"]}".to_vec()))
                .map(Ok::<_, std::io::Error>);
            Response::builder()
                .status(StatusCode::OK)
                .content_type("application/json")
                .body(Body::from_bytes_stream(futures::stream::iter(chunks)))
        }
        Fault::Raw {
            status: code,
            content_type,
            body,
        } => Response::builder()
            .status(status(code))
            .content_type(content_type)
            .body(body),
    }
}
