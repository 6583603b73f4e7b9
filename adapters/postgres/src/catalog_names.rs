//! The names of the catalog's classes and servers, held by the process, so
//! that reading a character joins no catalog table: the catalog is small
//! (tens of rows), versioned, and replaced whole, while characters are read
//! on every request.
//!
//! The held copy is trusted for [`FRESH_FOR`]; the first read after that
//! asks the database for the catalog's version (one short statement) and
//! reloads the names only if it changed. A `replace` made by this process
//! drops the copy at once; one made by another process (a sync run by a
//! worker) shows here within [`FRESH_FOR`]. Only display names come from
//! here: every rule about the catalog (is this class in it?) still asks the
//! database.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use domain::RepoError;
use domain::ports::CatalogRepository;

use crate::Repos;
use crate::exec::Exec;

/// How long the held names are used without asking for the version.
pub(crate) const FRESH_FOR: Duration = Duration::from_secs(5);

/// One catalog version's class and server names, by id.
#[derive(Debug, Default)]
pub(crate) struct Names {
    version: Option<String>,
    classes: HashMap<i32, String>,
    servers: HashMap<i32, String>,
}

impl Names {
    /// The class's name (current or retired), empty if the catalog does not
    /// hold it at all (as a character keeps a class that a replaced catalog
    /// dropped).
    pub(crate) fn class(&self, id: i32) -> String {
        self.classes.get(&id).cloned().unwrap_or_default()
    }

    /// The server's name, empty if the catalog does not hold it.
    pub(crate) fn server(&self, id: i32) -> String {
        self.servers.get(&id).cloned().unwrap_or_default()
    }
}

/// The held names and when they were last known to be current.
#[derive(Debug, Default)]
pub(crate) struct CatalogNames {
    // A std lock: held for a clone of an `Arc`, never across an await.
    held: RwLock<Option<(Arc<Names>, Instant)>>,
}

impl CatalogNames {
    /// The current names, asking the database through `repos` only when
    /// the held copy is older than [`FRESH_FOR`].
    pub(crate) async fn get<E: Exec>(&self, repos: &Repos<E>) -> Result<Arc<Names>, RepoError> {
        let held = self.read().clone();
        if let Some((names, checked)) = &held
            && checked.elapsed() < FRESH_FOR
        {
            return Ok(Arc::clone(names));
        }
        let version = repos.version().await?;
        let names = match held {
            Some((names, _)) if names.version == version => names,
            _ => Arc::new(Names {
                // Retired ones too: they still name the characters that
                // have them.
                classes: repos
                    .every_class(true)
                    .await?
                    .into_iter()
                    .map(|class| (class.id.0, class.name))
                    .collect(),
                servers: repos
                    .every_server(true)
                    .await?
                    .into_iter()
                    .map(|server| (server.id.0, server.name))
                    .collect(),
                version,
            }),
        };
        *self.write() = Some((Arc::clone(&names), Instant::now()));
        Ok(names)
    }

    /// Drops the held copy: the catalog was just replaced.
    pub(crate) fn forget(&self) {
        *self.write() = None;
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Option<(Arc<Names>, Instant)>> {
        // A poisoned lock still holds a whole value: a panic elsewhere
        // cannot leave an `Option<Arc<…>>` half-written.
        self.held
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Option<(Arc<Names>, Instant)>> {
        self.held
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
