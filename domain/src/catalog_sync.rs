//! A sync from an outside catalog source: the rows fetched from every
//! resource ([`SourceCatalog`]), checked as a whole, and merged into the
//! stored catalog ([`merge`]) so that every entry keeps its id across
//! syncs. Pure: fetching the pages and storing the result are the
//! application's business.
//!
//! The rules of the merge:
//! - Classes and servers are the source's ids.
//! - An item is matched by `(kind, source id)` and keeps the Roster id it
//!   got when first seen; an item the source lists for the first time gets
//!   the next free Roster id (one above the highest id the catalog ever
//!   held, retired items included, so an id never changes meaning).
//! - An item of the bundled snapshot has no source id (nobody knows the
//!   real ids of those hand-made entries). It is matched by its kind and
//!   its name ignoring case, when exactly one source row of that kind has
//!   that name, that row is not another item's by source id, and no other
//!   unmatched item of the kind has that name; it then records the row's
//!   source id, so later syncs match it by id. Otherwise it is retired: a
//!   wrong match would move players' progress onto another entry, a
//!   missed one only retires an entry whose progress stays readable.
//! - An entry gone from the source is kept, retired; one that comes back
//!   is restored under its old id.

use std::collections::{BTreeMap, HashMap, HashSet};

use crate::catalog::{
    CatalogItem, CatalogSnapshot, CharacterClass, ClassId, GameServer, ItemId, ItemKind, ServerId,
};
use crate::ports::{SourceEntry, SourceResource};

/// The fewest classes a source may list: the game has 19, and a source
/// listing fewer is broken or cut short, not a new game.
pub const MIN_CLASSES: usize = 19;

/// Every usable row a source listed, per resource, in the source's order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SourceCatalog {
    pub classes: Vec<SourceEntry>,
    pub servers: Vec<SourceEntry>,
    /// Per kind; a kind without an entry has no row.
    pub items: BTreeMap<ItemKind, Vec<SourceEntry>>,
    /// Rows the source answered but that were left out (no id, no name),
    /// over every resource: reported, never stored.
    pub skipped: u64,
}

impl SourceCatalog {
    /// The rows of `resource`.
    pub fn rows(&self, resource: SourceResource) -> &[SourceEntry] {
        match resource {
            SourceResource::Classes => &self.classes,
            SourceResource::Servers => &self.servers,
            SourceResource::Items(kind) => self.items.get(&kind).map_or(&[], Vec::as_slice),
        }
    }

    /// The rows of `resource`, to add a page to.
    pub fn rows_mut(&mut self, resource: SourceResource) -> &mut Vec<SourceEntry> {
        match resource {
            SourceResource::Classes => &mut self.classes,
            SourceResource::Servers => &mut self.servers,
            SourceResource::Items(kind) => self.items.entry(kind).or_default(),
        }
    }

    /// Every rule the fetched catalog must meet, as a whole, before it may
    /// replace anything: at least [`MIN_CLASSES`] classes and one server;
    /// per resource, unique source ids, names that are not blank, levels
    /// 1–200; class and server ids that fit Roster's (32-bit) ids. The
    /// message names the resource and the row.
    pub fn validate(&self) -> Result<(), String> {
        if self.classes.len() < MIN_CLASSES {
            return Err(format!(
                "the source lists {} classes, fewer than {MIN_CLASSES}",
                self.classes.len()
            ));
        }
        if self.servers.is_empty() {
            return Err("the source lists no server".into());
        }
        for resource in SourceResource::ALL {
            let mut seen = HashSet::new();
            for row in self.rows(resource) {
                let id = row.source_id;
                if !seen.insert(id) {
                    return Err(format!("{resource}: id {id} is listed twice"));
                }
                if row.name.trim().is_empty() {
                    return Err(format!("{resource}: id {id} has a blank name"));
                }
                if !(1..=200).contains(&row.level) {
                    return Err(format!(
                        "{resource}: id {id} has level {}, outside 1–200",
                        row.level
                    ));
                }
                if matches!(resource, SourceResource::Classes | SourceResource::Servers)
                    && i32::try_from(id).is_err()
                {
                    return Err(format!("{resource}: id {id} is out of range"));
                }
            }
        }
        Ok(())
    }
}

/// What a sync did to the entries of one resource.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SyncCounts {
    /// Listed for the first time: a new entry.
    pub added: u64,
    /// Listed, and its name or level (or, for a bundled item matched by
    /// name, its source id) changed.
    pub updated: u64,
    /// Listed as it already was.
    pub unchanged: u64,
    /// No longer listed: kept, retired.
    pub retired: u64,
    /// Retired before, listed again: current again under its old id.
    pub restored: u64,
}

/// The catalog a sync leads to, and how it got there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Merge {
    /// The whole new catalog, retired entries included. Its version is the
    /// current one when nothing changed, else its
    /// [`CatalogSnapshot::content_version`].
    pub catalog: CatalogSnapshot,
    /// Whether it differs from the current catalog at all.
    pub changed: bool,
    /// Per resource, in [`SourceResource::ALL`] order.
    pub counts: BTreeMap<SourceResource, SyncCounts>,
    /// Bundled items (no source id) matched to a source row by name.
    pub matched_by_name: u64,
}

/// Merges `fetched` into `current` (`None`: storage holds no catalog yet).
/// Refuses, with [`SourceCatalog::validate`]'s message, a fetched catalog
/// that breaks a rule.
pub fn merge(current: Option<&CatalogSnapshot>, fetched: &SourceCatalog) -> Result<Merge, String> {
    fetched.validate()?;
    let mut counts = BTreeMap::new();
    let (current_classes, current_servers, current_items): (
        &[CharacterClass],
        &[GameServer],
        &[CatalogItem],
    ) = match current {
        Some(c) => (&c.classes, &c.servers, &c.items),
        None => (&[], &[], &[]),
    };

    let classes = merge_named(
        current_classes
            .iter()
            .map(|c| (c.id.0, c.name.as_str(), c.retired)),
        &fetched.classes,
        counts.entry(SourceResource::Classes).or_default(),
    )
    .into_iter()
    .map(|(id, name, retired)| CharacterClass {
        id: ClassId(id),
        name,
        retired,
    })
    .collect();
    let servers = merge_named(
        current_servers
            .iter()
            .map(|s| (s.id.0, s.name.as_str(), s.retired)),
        &fetched.servers,
        counts.entry(SourceResource::Servers).or_default(),
    )
    .into_iter()
    .map(|(id, name, retired)| GameServer {
        id: ServerId(id),
        name,
        retired,
    })
    .collect();

    let mut next_id = current_items.iter().map(|i| i.id.0).max().unwrap_or(0);
    let mut items = Vec::with_capacity(current_items.len());
    let mut matched_by_name = 0;
    for kind in ItemKind::ALL {
        let resource = SourceResource::Items(kind);
        let merged = merge_items(
            kind,
            current_items.iter().filter(|i| i.kind == kind),
            fetched.rows(resource),
            &mut next_id,
            counts.entry(resource).or_default(),
        );
        matched_by_name += merged.matched_by_name;
        items.extend(merged.items);
    }

    let mut catalog = CatalogSnapshot {
        version: String::new(),
        classes,
        servers,
        items,
    }
    .sorted();
    let changed = current.is_none_or(|current| !current.same_content(&catalog));
    catalog.version = match current {
        Some(current) if !changed => current.version.clone(),
        _ => catalog.content_version(),
    };
    Ok(Merge {
        catalog,
        changed,
        counts,
        matched_by_name,
    })
}

/// Classes or servers, as `(id, name, retired)`: the source's ids are
/// theirs. In id order.
fn merge_named<'a>(
    current: impl Iterator<Item = (i32, &'a str, bool)>,
    fetched: &[SourceEntry],
    counts: &mut SyncCounts,
) -> Vec<(i32, String, bool)> {
    // Validated: every id fits.
    let mut listed: BTreeMap<i32, &str> = fetched
        .iter()
        .filter_map(|e| Some((i32::try_from(e.source_id).ok()?, e.name.as_str())))
        .collect();
    let mut merged = Vec::new();
    for (id, name, retired) in current {
        match listed.remove(&id) {
            Some(new_name) => {
                if retired {
                    counts.restored += 1;
                } else if new_name != name {
                    counts.updated += 1;
                } else {
                    counts.unchanged += 1;
                }
                merged.push((id, new_name.to_owned(), false));
            }
            None => {
                if !retired {
                    counts.retired += 1;
                }
                merged.push((id, name.to_owned(), true));
            }
        }
    }
    for (id, name) in listed {
        counts.added += 1;
        merged.push((id, name.to_owned(), false));
    }
    merged.sort_by_key(|(id, _, _)| *id);
    merged
}

struct MergedItems {
    items: Vec<CatalogItem>,
    matched_by_name: u64,
}

/// How names are compared when a bundled item is matched by name.
fn folded(name: &str) -> String {
    name.trim().to_lowercase()
}

/// The items of one kind. `next_id` is the highest Roster id given so far.
fn merge_items<'a>(
    kind: ItemKind,
    current: impl Iterator<Item = &'a CatalogItem> + Clone,
    fetched: &[SourceEntry],
    next_id: &mut i64,
    counts: &mut SyncCounts,
) -> MergedItems {
    let by_source_id: HashMap<i64, &SourceEntry> =
        fetched.iter().map(|e| (e.source_id, e)).collect();
    let mut rows_by_name: HashMap<String, Vec<&SourceEntry>> = HashMap::new();
    for row in fetched {
        rows_by_name.entry(folded(&row.name)).or_default().push(row);
    }
    // Source ids some stored item already holds: those rows are that item's,
    // never a bundled item's by name.
    let held: HashSet<i64> = current.clone().filter_map(|i| i.source_id).collect();
    let mut unsourced_by_name: HashMap<String, usize> = HashMap::new();
    for item in current.clone().filter(|i| i.source_id.is_none()) {
        *unsourced_by_name.entry(folded(&item.name)).or_default() += 1;
    }

    let mut taken = HashSet::new();
    let mut matched_by_name = 0;
    let mut items = Vec::new();
    for item in current {
        let row = match item.source_id {
            Some(source_id) => by_source_id.get(&source_id).copied(),
            None => {
                let name = folded(&item.name);
                match (
                    rows_by_name.get(&name).map(Vec::as_slice),
                    unsourced_by_name.get(&name),
                ) {
                    (Some([row]), Some(1)) if !held.contains(&row.source_id) => {
                        matched_by_name += 1;
                        Some(*row)
                    }
                    _ => None,
                }
            }
        };
        match row {
            Some(row) => {
                taken.insert(row.source_id);
                let next = CatalogItem {
                    id: item.id,
                    kind,
                    name: row.name.clone(),
                    level: row.level,
                    source_id: Some(row.source_id),
                    retired: false,
                };
                if item.retired {
                    counts.restored += 1;
                } else if next != *item {
                    counts.updated += 1;
                } else {
                    counts.unchanged += 1;
                }
                items.push(next);
            }
            None => {
                if !item.retired {
                    counts.retired += 1;
                }
                items.push(CatalogItem {
                    retired: true,
                    ..item.clone()
                });
            }
        }
    }
    let mut new_rows: Vec<&SourceEntry> = fetched
        .iter()
        .filter(|row| !taken.contains(&row.source_id))
        .collect();
    new_rows.sort_by_key(|row| row.source_id);
    for row in new_rows {
        *next_id += 1;
        counts.added += 1;
        items.push(CatalogItem {
            id: ItemId(*next_id),
            kind,
            name: row.name.clone(),
            level: row.level,
            source_id: Some(row.source_id),
            retired: false,
        });
    }
    MergedItems {
        items,
        matched_by_name,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(source_id: i64, name: &str, level: i16) -> SourceEntry {
        SourceEntry {
            source_id,
            name: name.to_owned(),
            level,
        }
    }

    /// 19 classes (ids 1–19), one server (401), the items given.
    fn fetched(items: &[(ItemKind, i64, &str)]) -> SourceCatalog {
        let mut catalog = SourceCatalog {
            classes: (1..=19)
                .map(|id| row(id, &format!("Class {id}"), 1))
                .collect(),
            servers: vec![row(401, "Imagiro", 1)],
            ..SourceCatalog::default()
        };
        for &(kind, id, name) in items {
            catalog
                .rows_mut(SourceResource::Items(kind))
                .push(row(id, name, 10));
        }
        catalog
    }

    #[test]
    fn a_fetched_catalog_that_breaks_a_rule_is_refused_with_the_rule() {
        let valid = fetched(&[(ItemKind::Quest, 1, "Q")]);
        let mut few_classes = valid.clone();
        few_classes.classes.pop();
        let mut no_server = valid.clone();
        no_server.servers.clear();
        let mut twice = valid.clone();
        twice
            .rows_mut(SourceResource::Items(ItemKind::Quest))
            .push(row(1, "R", 1));
        let mut blank = valid.clone();
        blank.servers[0].name = " ".to_owned();
        let mut level = valid.clone();
        level.rows_mut(SourceResource::Items(ItemKind::Quest))[0].level = 201;
        let mut wide = valid.clone();
        wide.classes[0].source_id = i64::from(i32::MAX) + 1;

        assert_eq!(valid.validate(), Ok(()));
        assert_eq!(
            few_classes.validate(),
            Err("the source lists 18 classes, fewer than 19".to_owned())
        );
        assert_eq!(
            no_server.validate(),
            Err("the source lists no server".to_owned())
        );
        assert_eq!(
            twice.validate(),
            Err("quests: id 1 is listed twice".to_owned())
        );
        assert_eq!(
            blank.validate(),
            Err("servers: id 401 has a blank name".to_owned())
        );
        assert_eq!(
            level.validate(),
            Err("quests: id 1 has level 201, outside 1–200".to_owned())
        );
        assert_eq!(
            wide.validate(),
            Err("breeds: id 2147483648 is out of range".to_owned())
        );
    }

    #[test]
    fn the_content_version_ignores_order_and_version_but_not_content() {
        let first = merge(None, &fetched(&[(ItemKind::Quest, 1, "Q")]))
            .expect("valid")
            .catalog;
        let mut shuffled = first.clone();
        shuffled.classes.reverse();
        shuffled.version = "other".to_owned();
        let mut renamed = first.clone();
        renamed.items[0].name = "Q2".to_owned();
        let mut retired = first.clone();
        retired.items[0].retired = true;

        assert_eq!(first.content_version().len(), 16);
        assert_eq!(first.version, first.content_version());
        assert_eq!(shuffled.content_version(), first.content_version());
        assert_ne!(renamed.content_version(), first.content_version());
        assert_ne!(retired.content_version(), first.content_version());
    }

    #[test]
    fn ids_that_collide_across_kinds_become_distinct_items() {
        let merged = merge(
            None,
            &fetched(&[
                (ItemKind::Dungeon, 1, "D"),
                (ItemKind::Quest, 2, "Q2"),
                (ItemKind::Quest, 1, "Q1"),
                (ItemKind::Achievement, 1, "A"),
            ]),
        )
        .expect("valid");

        let items: Vec<(i64, ItemKind, Option<i64>)> = merged
            .catalog
            .items
            .iter()
            .map(|i| (i.id.0, i.kind, i.source_id))
            .collect();
        assert_eq!(
            items,
            [
                (1, ItemKind::Quest, Some(1)),
                (2, ItemKind::Quest, Some(2)),
                (3, ItemKind::Achievement, Some(1)),
                (4, ItemKind::Dungeon, Some(1)),
            ]
        );
        assert!(merged.changed);
        assert_eq!(
            merged.counts[&SourceResource::Classes],
            SyncCounts {
                added: 19,
                ..SyncCounts::default()
            }
        );
    }

    fn class(id: i32, name: &str, retired: bool) -> CharacterClass {
        CharacterClass {
            id: ClassId(id),
            name: name.to_owned(),
            retired,
        }
    }

    fn quest(id: i64, source_id: Option<i64>, name: &str, retired: bool) -> CatalogItem {
        CatalogItem {
            id: ItemId(id),
            kind: ItemKind::Quest,
            name: name.to_owned(),
            level: 10,
            source_id,
            retired,
        }
    }

    #[test]
    fn every_counter_counts_exactly_the_entries_it_names() {
        let current = CatalogSnapshot {
            version: "2026-01-01".to_owned(),
            classes: vec![
                class(1, "Class 1", false),   // listed as it is: unchanged
                class(2, "Old name", false),  // renamed: updated
                class(3, "Class 3", true),    // listed again: restored
                class(20, "Gone", false),     // no longer listed: retired
                class(21, "Long gone", true), // still not listed: already retired
                class(22, "Gone too", false), // no longer listed: retired
            ],
            servers: vec![GameServer {
                id: ServerId(401),
                name: "Imagiro".to_owned(),
                retired: false,
            }],
            items: vec![
                quest(1, Some(1), "Q1", false),
                quest(2, Some(2), "Old Q2", false),
                quest(3, Some(3), "Q3", true),
                quest(4, Some(4), "Q4", false),
                quest(5, None, "bundled", false),
            ],
        };
        let source = fetched(&[
            (ItemKind::Quest, 1, "Q1"),
            (ItemKind::Quest, 2, "Q2"),
            (ItemKind::Quest, 3, "Q3"),
            (ItemKind::Quest, 9, "Bundled"),
            (ItemKind::Quest, 6, "Q6"),
        ]);

        let merged = merge(Some(&current), &source).expect("valid");

        assert!(merged.changed);
        assert_eq!(merged.catalog.version, merged.catalog.content_version());
        assert_eq!(merged.matched_by_name, 1);
        assert_eq!(
            merged.counts[&SourceResource::Classes],
            SyncCounts {
                added: 16, // 4–19
                updated: 1,
                unchanged: 1,
                retired: 2,
                restored: 1,
            }
        );
        assert_eq!(
            merged.counts[&SourceResource::Servers],
            SyncCounts {
                unchanged: 1,
                ..SyncCounts::default()
            }
        );
        assert_eq!(
            merged.counts[&SourceResource::Items(ItemKind::Quest)],
            SyncCounts {
                added: 1,   // source 6
                updated: 2, // renamed, and matched by name
                unchanged: 1,
                retired: 1,
                restored: 1,
            }
        );
        let classes: Vec<(i32, &str, bool)> = merged
            .catalog
            .classes
            .iter()
            .filter(|c| c.id.0 <= 3 || c.id.0 >= 20)
            .map(|c| (c.id.0, c.name.as_str(), c.retired))
            .collect();
        assert_eq!(
            classes,
            [
                (1, "Class 1", false),
                (2, "Class 2", false),
                (3, "Class 3", false),
                (20, "Gone", true),
                (21, "Long gone", true),
                (22, "Gone too", true),
            ]
        );
        // And the 16 new ones, 4–19, current.
        assert_eq!(merged.catalog.classes.len(), 22);
        assert!(
            merged.catalog.classes[3..19]
                .iter()
                .all(|c| !c.retired && c.name == format!("Class {}", c.id.0))
        );
        assert_eq!(
            merged.catalog.items,
            [
                quest(1, Some(1), "Q1", false),
                quest(2, Some(2), "Q2", false),
                quest(3, Some(3), "Q3", false),
                quest(4, Some(4), "Q4", true),
                quest(5, Some(9), "Bundled", false),
                quest(6, Some(6), "Q6", false),
            ]
        );
    }

    #[test]
    fn a_sync_that_brings_nothing_new_keeps_the_catalog_and_its_version() {
        let source = fetched(&[(ItemKind::Quest, 1, "Q")]);
        let mut current = merge(None, &source).expect("valid").catalog;
        current.version = "2026-01-01".to_owned();

        let again = merge(Some(&current), &source).expect("valid");

        assert!(!again.changed);
        assert_eq!(again.catalog, current);
        assert_eq!(again.catalog.version, "2026-01-01");
        assert_eq!(again.matched_by_name, 0);
        assert_eq!(
            again.counts[&SourceResource::Classes],
            SyncCounts {
                unchanged: 19,
                ..SyncCounts::default()
            }
        );
        assert_eq!(
            again.counts[&SourceResource::Items(ItemKind::Quest)],
            SyncCounts {
                unchanged: 1,
                ..SyncCounts::default()
            }
        );
    }
}
