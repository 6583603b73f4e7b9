//! The catalog sync job (`CatalogSync`, kind `catalog.sync`) run for real,
//! as a worker runs it: claimed from the memory storage, given a
//! `JobContext`, reading a scripted catalog source page by page. What the
//! catalog holds afterwards; the progress the job shows in pages (exact at
//! the end, estimated on the way from the totals seen so far); a retry
//! that resumes at the page that failed; the paging mistakes a source can
//! make; and the whole a sync refuses for good.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::thread::ThreadId;

use adapter_memory::{InProcessCache, MemoryStorage};
use adapter_system::{ManualClock, OsRandom};
use application::cache::ReadCache;
use application::catalog::CatalogService;
use application::catalog_sync::{CATALOG_SYNC, CatalogSync};
use application::jobs::{self, JobContext, JobError, JobHandler, JobKind, Outcome, settle};
use async_trait::async_trait;
use domain::ports::{
    CatalogSource, Clock, Repositories, SourceEntry, SourceError, SourcePage, SourceResource,
};
use domain::{
    CatalogSnapshot, CharacterClass, Claim, ClassId, Enqueued, GameServer, ItemKind, Job, JobId,
    JobProgress, JobStatus, LeaseId, ServerId,
};
use time::Duration;

const CLASSES: SourceResource = SourceResource::Classes;
const SERVERS: SourceResource = SourceResource::Servers;
const QUESTS: SourceResource = SourceResource::Items(ItemKind::Quest);
const ACHIEVEMENTS: SourceResource = SourceResource::Items(ItemKind::Achievement);
const DUNGEONS: SourceResource = SourceResource::Items(ItemKind::Dungeon);

/// The version of the catalog the storage holds before any sync.
const BUNDLED: &str = "bundled-1";

/// Where a page starts: its resource and the row it skips to.
type PageKey = (SourceResource, u64);

fn row(source_id: i64, name: &str, level: i16) -> SourceEntry {
    SourceEntry {
        source_id,
        name: name.to_owned(),
        level,
    }
}

/// Classes `1..=count` as the source names them ("Breed N"), level 1.
fn breeds(count: i64) -> Vec<SourceEntry> {
    (1..=count)
        .map(|id| row(id, &format!("Breed {id}"), 1))
        .collect()
}

/// Rows `ids` of one kind of item, named "{label} N", level 10.
fn rows(label: &str, ids: std::ops::RangeInclusive<i64>) -> Vec<SourceEntry> {
    ids.map(|id| row(id, &format!("{label} {id}"), 10))
        .collect()
}

/// A page as a source answers it.
fn page(entries: Vec<SourceEntry>, skipped: u64, total: u64, next: Option<u64>) -> SourcePage {
    SourcePage {
        entries,
        skipped,
        total,
        next,
    }
}

/// What a scripted source answers: pages by where they start, and errors
/// to answer once before a page.
#[derive(Default)]
struct Script {
    pages: HashMap<PageKey, SourcePage>,
    failures: HashMap<PageKey, SourceError>,
}

impl Script {
    /// `all` rows of `resource` cut into pages of `per_page`, with `total`
    /// and `next` as a well-behaved source gives them (one empty page when
    /// there is no row).
    fn paged(mut self, resource: SourceResource, all: Vec<SourceEntry>, per_page: usize) -> Self {
        let total = all.len() as u64;
        let mut skip = 0;
        loop {
            let end = (skip + per_page).min(all.len());
            let next = (end < all.len()).then_some(end as u64);
            self.pages.insert(
                (resource, skip as u64),
                page(all[skip..end].to_vec(), 0, total, next),
            );
            match next {
                Some(_) => skip = end,
                None => return self,
            }
        }
    }

    /// The page of `resource` at `skip` is `answer` (replacing any).
    fn page(mut self, resource: SourceResource, skip: u64, answer: SourcePage) -> Self {
        self.pages.insert((resource, skip), answer);
        self
    }

    /// The first fetch of the page at `skip` fails with `error`; the next
    /// ones are served.
    fn failing_once(mut self, resource: SourceResource, skip: u64, error: SourceError) -> Self {
        self.failures.insert((resource, skip), error);
        self
    }
}

/// A source that is well-behaved, in pages of a few rows: classes in three
/// pages of 8, 8 and 3; one server; nine quests in four pages of three rows
/// with one row skipped on the first (so ten rows in all); no achievement;
/// one dungeon beside a skipped row. Ten pages.
fn paged_source() -> Script {
    Script::default()
        .paged(CLASSES, breeds(19), 8)
        .paged(SERVERS, vec![row(401, "Imagiro", 1)], 50)
        .page(QUESTS, 0, page(rows("Quest", 1..=2), 1, 10, Some(3)))
        .page(QUESTS, 3, page(rows("Quest", 3..=5), 0, 10, Some(6)))
        .page(QUESTS, 6, page(rows("Quest", 6..=8), 0, 10, Some(9)))
        .page(QUESTS, 9, page(rows("Quest", 9..=9), 0, 10, None))
        .paged(ACHIEVEMENTS, Vec::new(), 50)
        .page(DUNGEONS, 0, page(rows("Dungeon", 1..=1), 1, 2, None))
}

/// A source that answers every resource in one page: 19 classes, one
/// server, one quest, no achievement, one dungeon. Five pages.
fn one_page_each() -> Script {
    Script::default()
        .paged(CLASSES, breeds(19), 50)
        .paged(SERVERS, vec![row(401, "Imagiro", 1)], 50)
        .paged(QUESTS, rows("Quest", 1..=1), 50)
        .paged(ACHIEVEMENTS, Vec::new(), 50)
        .paged(DUNGEONS, rows("Dungeon", 1..=1), 50)
}

/// How a job's progress reads: `done/total message`, or `-` when none was
/// recorded.
fn shown(progress: Option<&JobProgress>) -> String {
    progress.map_or_else(
        || "-".to_owned(),
        |p| {
            format!(
                "{}/{} {}",
                p.done,
                p.total,
                p.message.as_deref().unwrap_or("")
            )
        },
    )
}

/// A catalog source scripted page by page: the test double of a
/// DofusDB-compatible service. Every fetch is logged as `resource@skip`
/// with the progress the job showed at that moment, read from storage as
/// an administrator would.
struct ScriptedSource {
    pages: HashMap<PageKey, SourcePage>,
    failures: Mutex<HashMap<PageKey, SourceError>>,
    storage: Arc<MemoryStorage>,
    /// The job whose progress each fetch notes (none yet: `-`).
    watched: Mutex<Option<JobId>>,
    fetches: Mutex<Vec<String>>,
}

impl ScriptedSource {
    fn new(script: Script, storage: Arc<MemoryStorage>) -> Self {
        Self {
            pages: script.pages,
            failures: Mutex::new(script.failures),
            storage,
            watched: Mutex::new(None),
            fetches: Mutex::new(Vec::new()),
        }
    }

    fn watch(&self, job: JobId) {
        *self.watched.lock().unwrap_or_else(PoisonError::into_inner) = Some(job);
    }

    /// The fetches since the last call, oldest first.
    fn take_fetches(&self) -> Vec<String> {
        std::mem::take(&mut *self.fetches.lock().unwrap_or_else(PoisonError::into_inner))
    }

    async fn progress_now(&self) -> String {
        let watched = *self.watched.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(id) = watched else {
            return "-".to_owned();
        };
        let job = self.storage.jobs().find(id).await.expect("find the job");
        shown(job.and_then(|j| j.progress).as_ref())
    }
}

#[async_trait]
impl CatalogSource for ScriptedSource {
    async fn page(&self, resource: SourceResource, skip: u64) -> Result<SourcePage, SourceError> {
        let seen = self.progress_now().await;
        self.fetches
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(format!("{resource}@{skip} {seen}"));
        let failure = self
            .failures
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&(resource, skip));
        if let Some(error) = failure {
            return Err(error);
        }
        self.pages
            .get(&(resource, skip))
            .cloned()
            .ok_or_else(|| SourceError::Invalid(format!("{resource}: no page at {skip}")))
    }
}

/// The `catalog synced` log lines of this test binary, as an operator
/// reads them: a subscriber that keeps the `u64` fields (`pages`,
/// `skipped`, `matched_by_name`) of that event only, with the thread that
/// logged it. Each test runs on its own thread, its runtime with it.
#[derive(Clone, Default)]
struct SyncLog(Arc<Mutex<Vec<(ThreadId, Numbers)>>>);

/// The `u64` fields of one log line, by name, in the order logged.
type Numbers = Vec<(&'static str, u64)>;

impl SyncLog {
    /// The subscriber of the whole binary, installed by the first test to
    /// ask, before anything logs. (A subscriber per test, set as the
    /// thread's default, misses events now and then: tracing caches per
    /// call site whether anyone listens, and a test on another thread can
    /// fill that cache while this one installs its own.)
    fn installed() -> &'static Self {
        static LOG: OnceLock<SyncLog> = OnceLock::new();
        LOG.get_or_init(|| {
            let log = SyncLog::default();
            tracing::subscriber::set_global_default(log.clone())
                .expect("no other subscriber in this binary");
            log
        })
    }

    /// The numbers of each `catalog synced` line this thread logged.
    fn lines_here(&self) -> Vec<Numbers> {
        let here = std::thread::current().id();
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .filter(|(thread, _)| *thread == here)
            .map(|(_, numbers)| numbers.clone())
            .collect()
    }
}

/// An event's message and its `u64` fields.
#[derive(Default)]
struct EventFields {
    message: String,
    numbers: Numbers,
}

impl tracing::field::Visit for EventFields {
    fn record_u64(&mut self, field: &tracing::field::Field, value: u64) {
        self.numbers.push((field.name(), value));
    }

    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn fmt::Debug) {
        if field.name() == "message" {
            self.message = format!("{value:?}");
        }
    }
}

impl tracing::Subscriber for SyncLog {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }

    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }

    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}

    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}

    fn event(&self, event: &tracing::Event<'_>) {
        let mut fields = EventFields::default();
        event.record(&mut fields);
        if fields.message == "catalog synced" {
            self.0
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push((std::thread::current().id(), fields.numbers));
        }
    }

    fn enter(&self, _: &tracing::span::Id) {}

    fn exit(&self, _: &tracing::span::Id) {}
}

/// A stored catalog before any sync: classes 1–19 named "Class N", server
/// 401, no item.
fn bundled() -> CatalogSnapshot {
    CatalogSnapshot {
        version: BUNDLED.to_owned(),
        classes: (1..=19)
            .map(|id| CharacterClass {
                id: ClassId(id),
                name: format!("Class {id}"),
                retired: false,
            })
            .collect(),
        servers: vec![GameServer {
            id: ServerId(401),
            name: "Imagiro".to_owned(),
            retired: false,
        }],
        items: Vec::new(),
    }
}

/// What the JobError of an attempt says, or `ok`.
fn verdict(result: &Result<(), JobError>) -> String {
    match result {
        Ok(()) => "ok".to_owned(),
        Err(JobError::Retry(message)) => format!("retry: {message}"),
        Err(JobError::Permanent(message)) => format!("permanent: {message}"),
        Err(other) => format!("other: {other}"),
    }
}

/// The memory storage holding [`bundled`], a manual clock, a scripted
/// source and the handler over them, whose catalog reads go through an
/// in-process cache (so that a sync that forgot to bump it would show
/// stale classes).
struct Harness {
    storage: Arc<MemoryStorage>,
    clock: Arc<ManualClock>,
    source: Arc<ScriptedSource>,
    handler: CatalogSync,
    catalog: CatalogService,
}

impl Harness {
    async fn new(script: Script) -> Self {
        SyncLog::installed();
        let storage = Arc::new(MemoryStorage::new());
        storage
            .catalog()
            .replace(&bundled())
            .await
            .expect("the bundled catalog is stored");
        let clock = Arc::new(ManualClock::starting_now());
        let source = Arc::new(ScriptedSource::new(script, storage.clone()));
        let cache = ReadCache::new(Arc::new(InProcessCache::default()));
        let handler = CatalogSync {
            storage: storage.clone(),
            source: source.clone(),
            clock: clock.clone(),
            random: Arc::new(OsRandom),
            cache: cache.clone(),
        };
        let catalog = CatalogService::new(storage.clone()).with_cache(cache);
        Self {
            storage,
            clock,
            source,
            handler,
            catalog,
        }
    }

    /// Queues a sync, as `POST /admin/catalog/sync` does.
    async fn enqueue(&self) -> Enqueued {
        jobs::enqueue(
            self.storage.as_ref(),
            &CATALOG_SYNC,
            &serde_json::json!({}),
            self.clock.as_ref(),
            &OsRandom,
        )
        .await
        .expect("enqueue")
    }

    /// Claims the due sync and runs one attempt of it as a worker does,
    /// with the source noting the job's progress at each fetch. An attempt
    /// still running after 20 s fails the test: a handler must not loop.
    async fn attempt(&self) -> (Job, Result<(), JobError>) {
        let mut claimed = self
            .storage
            .jobs()
            .claim(
                Claim {
                    limit: 1,
                    kinds: &[CATALOG_SYNC.name],
                    now: self.clock.now(),
                    lease: CATALOG_SYNC.timeout,
                },
                &|| LeaseId::generate(self.clock.now(), &OsRandom),
            )
            .await
            .expect("claim");
        assert_eq!(claimed.len(), 1, "a sync is due");
        let job = claimed.remove(0);
        self.source.watch(job.id);
        let context = JobContext::new(job.clone(), self.storage.clone(), self.clock.clone())
            .expect("a claimed job holds a lease");
        let result = tokio::time::timeout(
            std::time::Duration::from_secs(20),
            self.handler.run(&context),
        )
        .await
        .expect("the attempt ends");
        (job, result)
    }

    /// Records how the attempt on `job` ended, as the worker does.
    async fn settle(&self, job: &Job, result: Result<(), JobError>) -> JobStatus {
        let outcome = match result {
            Ok(()) => Outcome::Succeeded,
            Err(error) => Outcome::Failed(error),
        };
        settle(
            self.storage.as_ref(),
            job,
            &CATALOG_SYNC,
            outcome,
            self.clock.as_ref(),
            &OsRandom,
        )
        .await
        .expect("settle")
        .expect("the lease is still held")
        .status
    }

    async fn stored_job(&self, id: JobId) -> Job {
        self.storage
            .jobs()
            .find(id)
            .await
            .expect("find")
            .expect("the job")
    }

    /// The job's progress as an administrator reads it.
    async fn progress(&self, id: JobId) -> String {
        shown(self.stored_job(id).await.progress.as_ref())
    }

    async fn snapshot(&self) -> CatalogSnapshot {
        self.storage
            .catalog()
            .snapshot()
            .await
            .expect("snapshot")
            .expect("a catalog")
    }

    /// The class names clients read (through the cache).
    async fn class_names(&self) -> Vec<String> {
        self.catalog
            .classes()
            .await
            .expect("classes")
            .into_iter()
            .map(|c| c.name)
            .collect()
    }
}

/// The items of `snapshot` as `(kind, source id, name, level)`.
fn items(snapshot: &CatalogSnapshot) -> Vec<(ItemKind, Option<i64>, String, i16)> {
    snapshot
        .items
        .iter()
        .map(|i| (i.kind, i.source_id, i.name.clone(), i.level))
        .collect()
}

fn item(kind: ItemKind, source_id: i64, name: &str) -> (ItemKind, Option<i64>, String, i16) {
    (kind, Some(source_id), name.to_owned(), 10)
}

#[tokio::test]
async fn the_kind_runs_one_sync_at_a_time_with_8_attempts_and_a_30_minute_timeout() {
    // Arrange
    let h = Harness::new(one_page_each()).await;

    // Act
    let first = h.enqueue().await;
    let second = h.enqueue().await;

    // Assert: the documented values, and what they do to the queue.
    assert_eq!(h.handler.kind(), CATALOG_SYNC);
    assert_eq!(
        CATALOG_SYNC,
        JobKind {
            one_at_a_time: true,
            max_attempts: 8,
            timeout: Duration::minutes(30),
            ..JobKind::new("catalog.sync")
        }
    );
    let Enqueued::Created(job) = first else {
        panic!("the first sync is queued, got {first:?}");
    };
    assert_eq!(job.max_attempts, 8);
    assert_eq!(job.unique_key.as_deref(), Some("catalog.sync"));
    assert_eq!(second, Enqueued::Existing(job));
}

#[tokio::test]
async fn the_handler_shows_only_its_name_when_debugged() {
    let h = Harness::new(one_page_each()).await;

    assert_eq!(format!("{:?}", h.handler), "CatalogSync");
}

#[tokio::test]
async fn a_sync_makes_the_catalog_what_the_source_serves_and_counts_its_pages() {
    // Arrange: a cached read of the classes before the sync.
    let h = Harness::new(paged_source()).await;
    let before = h.class_names().await;
    let id = h.enqueue().await.job().id;

    // Act
    let (_, result) = h.attempt().await;

    // Assert
    assert_eq!(verdict(&result), "ok");
    let stored = h.snapshot().await;
    assert_eq!(stored.version, stored.content_version());
    assert_ne!(stored.version, BUNDLED);
    assert_eq!(
        h.progress(id).await,
        format!("10/10 catalog updated to version {}", stored.version)
    );
    // Each fetch sees the previous page's progress: pages done, and done +
    // the pages this resource still needs by its total + one per resource
    // not started yet. The first page of quests returned three rows (one
    // skipped) of ten, so seven are left: ⌈7 / 3⌉ = 3 more pages.
    assert_eq!(
        h.source.take_fetches(),
        [
            "breeds@0 -",
            "breeds@8 1/7 fetching breeds",
            "breeds@16 2/7 fetching breeds",
            "servers@0 3/7 fetching breeds",
            "quests@0 4/7 fetching servers",
            "quests@3 5/10 fetching quests",
            "quests@6 6/10 fetching quests",
            "quests@9 7/10 fetching quests",
            "achievements@0 8/10 fetching quests",
            "dungeons@0 9/10 fetching achievements",
        ]
    );
    assert_eq!(before[..2], ["Class 1", "Class 2"]);
    let names: Vec<String> = (1..=19).map(|id| format!("Breed {id}")).collect();
    assert_eq!(h.class_names().await, names);
    assert_eq!(
        stored
            .servers
            .iter()
            .map(|s| (s.id, s.name.as_str()))
            .collect::<Vec<_>>(),
        [(ServerId(401), "Imagiro")]
    );
    let mut expected: Vec<_> = (1..=9)
        .map(|id| item(ItemKind::Quest, id, &format!("Quest {id}")))
        .collect();
    expected.push(item(ItemKind::Dungeon, 1, "Dungeon 1"));
    assert_eq!(items(&stored), expected);
    assert_eq!(
        SyncLog::installed().lines_here(),
        [[("pages", 10), ("skipped", 2), ("matched_by_name", 0)]]
    );
}

#[tokio::test]
async fn a_second_sync_of_the_same_source_leaves_the_catalog_and_its_version_unchanged() {
    // Arrange: a first sync, finished.
    let h = Harness::new(one_page_each()).await;
    h.enqueue().await;
    let (first, result) = h.attempt().await;
    assert_eq!(verdict(&result), "ok");
    assert_eq!(h.settle(&first, result).await, JobStatus::Succeeded);
    let after_first = h.snapshot().await;

    // Act
    let second = h.enqueue().await;
    let (_, result) = h.attempt().await;

    // Assert
    assert_eq!(verdict(&result), "ok");
    let Enqueued::Created(second) = second else {
        panic!("a new sync is queued once the first is done, got {second:?}");
    };
    assert_ne!(after_first.version, BUNDLED);
    assert_eq!(h.snapshot().await, after_first);
    assert_eq!(
        h.progress(second.id).await,
        format!("5/5 catalog unchanged (version {})", after_first.version)
    );
}

#[tokio::test]
async fn a_retry_resumes_at_the_page_that_failed_without_fetching_the_earlier_ones() {
    // Arrange: the second page of quests fails once.
    let script = paged_source().failing_once(
        QUESTS,
        3,
        SourceError::Unavailable("503 after 3 tries".into()),
    );
    let h = Harness::new(script).await;
    let id = h.enqueue().await.job().id;

    // Act
    let (first, failed) = h.attempt().await;
    let failed_verdict = verdict(&failed);
    let status = h.settle(&first, failed).await;
    let first_fetches = h.source.take_fetches();
    let kept = h.stored_job(id).await;
    h.clock.advance(Duration::minutes(1));
    let (second, resumed) = h.attempt().await;

    // Assert
    assert_eq!(
        failed_verdict,
        "retry: catalog source unavailable: 503 after 3 tries"
    );
    assert_eq!(status, JobStatus::Failed);
    assert_eq!(
        first_fetches,
        [
            "breeds@0 -",
            "breeds@8 1/7 fetching breeds",
            "breeds@16 2/7 fetching breeds",
            "servers@0 3/7 fetching breeds",
            "quests@0 4/7 fetching servers",
            "quests@3 5/10 fetching quests",
        ]
    );
    assert_eq!(shown(kept.progress.as_ref()), "5/10 fetching quests");
    let steps: Vec<&str> = kept.steps.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        steps,
        ["breeds@0", "breeds@8", "breeds@16", "servers@0", "quests@0"]
    );
    assert_eq!(second.attempts, 2);
    assert_eq!(verdict(&resumed), "ok");
    assert_eq!(
        h.source.take_fetches(),
        [
            "quests@3 5/10 fetching quests",
            "quests@6 6/10 fetching quests",
            "quests@9 7/10 fetching quests",
            "achievements@0 8/10 fetching quests",
            "dungeons@0 9/10 fetching achievements",
        ]
    );
    let stored = h.snapshot().await;
    assert_eq!(
        h.progress(id).await,
        format!("10/10 catalog updated to version {}", stored.version)
    );
    assert_eq!(items(&stored).len(), 10);
}

#[tokio::test]
async fn a_page_the_source_garbles_is_tried_again_later() {
    // Arrange
    let script = one_page_each().failing_once(
        QUESTS,
        0,
        SourceError::Invalid("quests at skip 0: an HTML page".into()),
    );
    let h = Harness::new(script).await;
    h.enqueue().await;

    // Act
    let (job, result) = h.attempt().await;
    let failed_verdict = verdict(&result);
    let status = h.settle(&job, result).await;

    // Assert
    assert_eq!(
        failed_verdict,
        "retry: invalid catalog: quests at skip 0: an HTML page"
    );
    assert_eq!(status, JobStatus::Failed);
    assert_eq!(h.snapshot().await, bundled());
}

#[tokio::test]
async fn a_page_whose_next_does_not_move_past_it_fails_the_attempt_and_names_the_paging() {
    // A `next` that goes back, then one that stays where the page started.
    // No page is scripted at row 1: a sync that followed the first would
    // fail on it instead.
    for next in [1, 3] {
        // Arrange: quests in pages of three; the second points to `next`.
        let script = one_page_each()
            .page(QUESTS, 0, page(rows("Quest", 1..=3), 0, 9, Some(3)))
            .page(QUESTS, 3, page(rows("Quest", 4..=6), 0, 9, Some(next)));
        let h = Harness::new(script).await;
        let id = h.enqueue().await.job().id;

        // Act
        let (_, result) = h.attempt().await;

        // Assert: the progress stays at the last good page.
        assert_eq!(
            verdict(&result),
            format!("retry: quests at skip 3: the source's paging does not advance (next {next})")
        );
        assert_eq!(
            h.source.take_fetches(),
            [
                "breeds@0 -",
                "servers@0 1/5 fetching breeds",
                "quests@0 2/5 fetching servers",
                "quests@3 3/7 fetching quests",
            ]
        );
        assert_eq!(h.progress(id).await, "3/7 fetching quests");
        assert_eq!(h.snapshot().await, bundled());
    }
}

#[tokio::test]
async fn an_empty_page_that_points_further_is_followed_without_guessing_what_is_left() {
    // Arrange: the first page of achievements is empty yet names a next one.
    let script = one_page_each()
        .page(ACHIEVEMENTS, 0, page(Vec::new(), 0, 4, Some(2)))
        .page(
            ACHIEVEMENTS,
            2,
            page(rows("Achievement", 1..=2), 0, 4, None),
        );
    let h = Harness::new(script).await;
    let id = h.enqueue().await.job().id;

    // Act
    let (_, result) = h.attempt().await;

    // Assert
    assert_eq!(verdict(&result), "ok");
    assert_eq!(
        h.source.take_fetches(),
        [
            "breeds@0 -",
            "servers@0 1/5 fetching breeds",
            "quests@0 2/5 fetching servers",
            "achievements@0 3/5 fetching quests",
            "achievements@2 4/5 fetching achievements",
            "dungeons@0 5/6 fetching achievements",
        ]
    );
    let stored = h.snapshot().await;
    assert_eq!(
        h.progress(id).await,
        format!("6/6 catalog updated to version {}", stored.version)
    );
    assert_eq!(
        items(&stored),
        [
            item(ItemKind::Quest, 1, "Quest 1"),
            item(ItemKind::Achievement, 1, "Achievement 1"),
            item(ItemKind::Achievement, 2, "Achievement 2"),
            item(ItemKind::Dungeon, 1, "Dungeon 1"),
        ]
    );
}

#[tokio::test]
async fn a_whole_that_breaks_the_catalog_rules_fails_for_good_and_changes_nothing() {
    // Arrange: 18 classes.
    let script = one_page_each().paged(CLASSES, breeds(18), 50);
    let h = Harness::new(script).await;
    let id = h.enqueue().await.job().id;

    // Act
    let (job, result) = h.attempt().await;
    let failed_verdict = verdict(&result);
    let status = h.settle(&job, result).await;

    // Assert: every page was fetched; the job is dead after one attempt.
    assert_eq!(
        failed_verdict,
        "permanent: the source's catalog is not usable: the source lists 18 classes, fewer than 19"
    );
    assert_eq!(status, JobStatus::Dead);
    assert_eq!(h.progress(id).await, "5/5 fetching dungeons");
    assert_eq!(h.snapshot().await, bundled());
    assert_eq!(h.class_names().await[0], "Class 1");
}
