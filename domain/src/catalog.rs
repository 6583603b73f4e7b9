//! The reference catalog: classes, servers, and the quests, dungeons and
//! achievements progress is tracked against. It ships with the server as a
//! snapshot and may be replaced by a sync from an outside source.

use std::collections::HashSet;
use std::fmt;

/// A playable class (the game's breed id).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ClassId(pub i32);

/// A game server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ServerId(pub i32);

/// A quest, dungeon or achievement; unique across kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ItemId(pub i64);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CharacterClass {
    pub id: ClassId,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GameServer {
    pub id: ServerId,
    pub name: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
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

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogItem {
    pub id: ItemId,
    pub kind: ItemKind,
    pub name: String,
    /// 1–200.
    pub level: i16,
}

/// A whole catalog, as a source delivers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogSnapshot {
    /// Identifies the snapshot (a date or a source revision).
    pub version: String,
    pub classes: Vec<CharacterClass>,
    pub servers: Vec<GameServer>,
    pub items: Vec<CatalogItem>,
}

impl CatalogSnapshot {
    /// Every rule a snapshot must meet before it replaces the catalog:
    /// unique ids, non-empty names, levels 1–200, a version.
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
