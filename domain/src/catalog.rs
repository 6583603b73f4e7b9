//! The reference catalog: classes, servers, and the quests, dungeons and
//! achievements progress is tracked against. It ships with the server as a
//! snapshot and may be replaced by a sync from an outside source.

use std::collections::HashSet;
use std::fmt;

use serde::{Deserialize, Serialize};

/// A playable class (the game's breed id).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ClassId(pub i32);

/// A game server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ServerId(pub i32);

/// A quest, dungeon or achievement; unique across kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ItemId(pub i64);

/// A class of the catalog. Its id is the source's (the game's breed id).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CharacterClass {
    pub id: ClassId,
    pub name: String,
    /// Gone from the source at the last sync: left out of the catalog's
    /// lists, still naming the characters that have it.
    pub retired: bool,
}

/// A server of the catalog. Its id is the source's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GameServer {
    pub id: ServerId,
    pub name: String,
    /// As for [`CharacterClass::retired`].
    pub retired: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum ItemKind {
    Quest,
    Achievement,
    Dungeon,
}

impl ItemKind {
    pub const ALL: [ItemKind; 3] = [ItemKind::Quest, ItemKind::Achievement, ItemKind::Dungeon];

    pub const fn as_str(self) -> &'static str {
        match self {
            ItemKind::Quest => "quest",
            ItemKind::Achievement => "achievement",
            ItemKind::Dungeon => "dungeon",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

impl fmt::Display for ItemKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A quest, achievement or dungeon. Its id is Roster's, given when the item
/// was first seen: the source's ids collide across kinds, so the source's
/// id is kept beside it, unique within the kind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatalogItem {
    pub id: ItemId,
    pub kind: ItemKind,
    pub name: String,
    /// 1–200.
    pub level: i16,
    /// The source's id for the item, unique within `kind`; `None` for an
    /// item the bundled snapshot made up and no sync has matched yet.
    pub source_id: Option<i64>,
    /// As for [`CharacterClass::retired`]: still naming the progressions on
    /// it, out of the lists and the counts.
    pub retired: bool,
}

/// A whole catalog: what storage holds (retired entries included) and what
/// replaces it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogSnapshot {
    /// Identifies the content: the bundled file's own version (a date), or,
    /// once a sync replaced it, [`CatalogSnapshot::content_version`].
    pub version: String,
    pub classes: Vec<CharacterClass>,
    pub servers: Vec<GameServer>,
    pub items: Vec<CatalogItem>,
}

impl CatalogSnapshot {
    /// The same catalog with every list sorted by id, as storage reads it
    /// back.
    pub fn sorted(mut self) -> Self {
        self.classes.sort_by_key(|c| c.id);
        self.servers.sort_by_key(|s| s.id);
        self.items.sort_by_key(|i| i.id);
        self
    }

    /// Whether `self` and `other` hold the same entries, whatever their
    /// versions and the order of their lists.
    pub fn same_content(&self, other: &Self) -> bool {
        let (a, b) = (self.clone().sorted(), other.clone().sorted());
        a.classes == b.classes && a.servers == b.servers && a.items == b.items
    }

    /// A short hash of the content (every entry, retired ones and source
    /// ids included; not the version, nor the order of the lists): equal
    /// contents have equal versions, so a sync that brings nothing new
    /// leaves the version as it is.
    pub fn content_version(&self) -> String {
        use sha2::{Digest, Sha256};
        let sorted = self.clone().sorted();
        let mut hash = Sha256::new();
        // Every field length-prefixed: no name can pass for another field.
        let mut field = |bytes: &[u8]| {
            hash.update((bytes.len() as u64).to_be_bytes());
            hash.update(bytes);
        };
        for c in &sorted.classes {
            field(b"class");
            field(&c.id.0.to_be_bytes());
            field(c.name.as_bytes());
            field(&[u8::from(c.retired)]);
        }
        for s in &sorted.servers {
            field(b"server");
            field(&s.id.0.to_be_bytes());
            field(s.name.as_bytes());
            field(&[u8::from(s.retired)]);
        }
        for i in &sorted.items {
            field(b"item");
            field(&i.id.0.to_be_bytes());
            field(i.kind.as_str().as_bytes());
            field(i.name.as_bytes());
            field(&i.level.to_be_bytes());
            match i.source_id {
                Some(id) => field(&id.to_be_bytes()),
                None => field(b""),
            }
            field(&[u8::from(i.retired)]);
        }
        hash.finalize()[..8]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// Every rule a snapshot must meet before it replaces the catalog:
    /// unique ids, unique source ids within a kind, non-empty names, levels
    /// 1–200, a version.
    pub fn validate(&self) -> Result<(), String> {
        if self.version.trim().is_empty() {
            return Err("the snapshot has no version".into());
        }
        if self.classes.is_empty() || self.servers.is_empty() {
            return Err("the snapshot has no classes or no servers".into());
        }
        unique(self.classes.iter().map(|c| c.id), "class")?;
        unique(self.servers.iter().map(|s| s.id), "server")?;
        unique(self.items.iter().map(|i| i.id), "item")?;
        unique(
            self.items
                .iter()
                .filter_map(|i| Some((i.kind, i.source_id?))),
            "item source",
        )?;
        let names = self
            .classes
            .iter()
            .map(|c| &c.name)
            .chain(self.servers.iter().map(|s| &s.name))
            .chain(self.items.iter().map(|i| &i.name));
        if names.into_iter().any(|n| n.trim().is_empty()) {
            return Err("an entry has an empty name".into());
        }
        if let Some(item) = self.items.iter().find(|i| !(1..=200).contains(&i.level)) {
            return Err(format!(
                "item {} has level {}, outside 1–200",
                item.id.0, item.level
            ));
        }
        Ok(())
    }
}

fn unique<T: std::hash::Hash + Eq + fmt::Debug>(
    ids: impl Iterator<Item = T>,
    what: &str,
) -> Result<(), String> {
    let mut seen = HashSet::new();
    for id in ids {
        if !seen.insert(id) {
            return Err(String::from(what) + " ids are not unique");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(id: i64, kind: ItemKind, source_id: Option<i64>, level: i16) -> CatalogItem {
        CatalogItem {
            id: ItemId(id),
            kind,
            name: format!("Item {id}"),
            level,
            source_id,
            retired: false,
        }
    }

    /// One class, one server, items at both ends of the level range, the
    /// same source id under two kinds and two unsourced items.
    fn valid() -> CatalogSnapshot {
        CatalogSnapshot {
            version: "2026-01-01".to_owned(),
            classes: vec![CharacterClass {
                id: ClassId(1),
                name: "Feca".to_owned(),
                retired: false,
            }],
            servers: vec![GameServer {
                id: ServerId(401),
                name: "Imagiro".to_owned(),
                retired: false,
            }],
            items: vec![
                item(1, ItemKind::Quest, Some(10), 1),
                item(2, ItemKind::Dungeon, Some(10), 200),
                item(3, ItemKind::Quest, None, 50),
                item(4, ItemKind::Quest, None, 50),
            ],
        }
    }

    #[test]
    fn an_item_kind_displays_as_its_wire_name() {
        assert_eq!(ItemKind::Quest.to_string(), "quest");
        assert_eq!(ItemKind::Achievement.to_string(), "achievement");
        assert_eq!(ItemKind::Dungeon.to_string(), "dungeon");
        assert_eq!(ItemKind::parse("dungeon"), Some(ItemKind::Dungeon));
        assert_eq!(ItemKind::parse("Dungeon"), None);
    }

    #[test]
    fn a_snapshot_that_breaks_a_rule_is_refused_with_the_rule() {
        let err = |snapshot: CatalogSnapshot| snapshot.validate().unwrap_err();
        let mut no_version = valid();
        no_version.version = "  ".to_owned();
        let mut no_classes = valid();
        no_classes.classes.clear();
        let mut no_servers = valid();
        no_servers.servers.clear();
        let mut twice_class = valid();
        twice_class.classes.push(twice_class.classes[0].clone());
        let mut twice_server = valid();
        twice_server.servers.push(twice_server.servers[0].clone());
        let mut twice_item = valid();
        twice_item
            .items
            .push(item(1, ItemKind::Achievement, None, 1));
        let mut twice_source = valid();
        twice_source
            .items
            .push(item(5, ItemKind::Dungeon, Some(10), 1));
        let mut blank_class = valid();
        blank_class.classes[0].name = " ".to_owned();
        let mut blank_server = valid();
        blank_server.servers[0].name = String::new();
        let mut blank_item = valid();
        blank_item.items[2].name = "\t".to_owned();
        let mut level_zero = valid();
        level_zero.items[1].level = 0;
        let mut level_high = valid();
        level_high.items[0].level = 201;

        assert_eq!(valid().validate(), Ok(()));
        assert_eq!(err(no_version), "the snapshot has no version");
        assert_eq!(err(no_classes), "the snapshot has no classes or no servers");
        assert_eq!(err(no_servers), "the snapshot has no classes or no servers");
        assert_eq!(err(twice_class), "class ids are not unique");
        assert_eq!(err(twice_server), "server ids are not unique");
        assert_eq!(err(twice_item), "item ids are not unique");
        assert_eq!(err(twice_source), "item source ids are not unique");
        assert_eq!(err(blank_class), "an entry has an empty name");
        assert_eq!(err(blank_server), "an entry has an empty name");
        assert_eq!(err(blank_item), "an entry has an empty name");
        assert_eq!(err(level_zero), "item 2 has level 0, outside 1–200");
        assert_eq!(err(level_high), "item 1 has level 201, outside 1–200");
    }

    #[test]
    fn unique_refuses_the_first_repeat_only() {
        assert_eq!(unique([1, 2, 3].into_iter(), "class"), Ok(()));
        assert_eq!(unique(std::iter::empty::<i32>(), "class"), Ok(()));
        assert_eq!(
            unique([1, 2, 1].into_iter(), "server"),
            Err("server ids are not unique".to_owned())
        );
    }
}
