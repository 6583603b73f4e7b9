//! Catalog sources. This build has one: the snapshot bundled with the
//! server (`data/snapshot.json`), loaded into storage when it holds none.
//! A DofusDB-compatible HTTP source for `catalog.sync` belongs here too.

use domain::ports::{BundledSnapshot, SourceError};
use domain::{
    CatalogItem, CatalogSnapshot, CharacterClass, ClassId, GameServer, ItemId, ItemKind, ServerId,
};
use serde::Deserialize;

const BUNDLED: &str = include_str!("../data/snapshot.json");

/// The snapshot compiled into the binary.
#[derive(Debug, Default, Clone, Copy)]
pub struct BundledCatalog;

impl BundledSnapshot for BundledCatalog {
    fn snapshot(&self) -> Result<CatalogSnapshot, SourceError> {
        parse(BUNDLED)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SnapshotFile {
    version: String,
    #[allow(dead_code)] // provenance, for people reading the file
    source: String,
    classes: Vec<Named>,
    servers: Vec<Named>,
    items: Vec<ItemFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Named {
    id: i32,
    name: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[serde(rename_all = "camelCase")]
struct ItemFile {
    /// Roster's id, which characters' progressions point at.
    id: i64,
    kind: String,
    name: String,
    level: i16,
    /// The source's (DofusDB's) id of the item, unique within its kind,
    /// when it is known. The hand-made items of today's file have none: a
    /// sync matches those by kind and name (see `domain::catalog_sync`).
    #[serde(default)]
    source_id: Option<i64>,
}

/// A snapshot from its JSON form, checked against the catalog's rules.
pub fn parse(json: &str) -> Result<CatalogSnapshot, SourceError> {
    let file: SnapshotFile =
        serde_json::from_str(json).map_err(|e| SourceError::Invalid(e.to_string()))?;
    let items = file
        .items
        .into_iter()
        .map(|item| {
            let kind = ItemKind::parse(&item.kind).ok_or_else(|| {
                SourceError::Invalid(format!("item {} has unknown kind {:?}", item.id, item.kind))
            })?;
            Ok(CatalogItem {
                id: ItemId(item.id),
                kind,
                name: item.name,
                level: item.level,
                source_id: item.source_id,
                retired: false,
            })
        })
        .collect::<Result<_, SourceError>>()?;
    let snapshot = CatalogSnapshot {
        version: file.version,
        classes: file
            .classes
            .into_iter()
            .map(|c| CharacterClass {
                id: ClassId(c.id),
                name: c.name,
                retired: false,
            })
            .collect(),
        servers: file
            .servers
            .into_iter()
            .map(|s| GameServer {
                id: ServerId(s.id),
                name: s.name,
                retired: false,
            })
            .collect(),
        items,
    };
    snapshot.validate().map_err(SourceError::Invalid)?;
    Ok(snapshot)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bundled_snapshot_holds_the_19_classes_and_at_least_40_items_of_each_kind() {
        let snapshot = BundledCatalog
            .snapshot()
            .expect("the bundled snapshot is valid");

        assert_eq!(snapshot.classes.len(), 19);
        let ids: Vec<i32> = snapshot.classes.iter().map(|c| c.id.0).collect();
        assert_eq!(
            ids,
            [
                1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 20
            ]
        );
        assert!(!snapshot.servers.is_empty());
        for kind in ItemKind::ALL {
            let count = snapshot.items.iter().filter(|i| i.kind == kind).count();
            assert!(count >= 40, "{kind}: {count}");
        }
    }

    #[test]
    fn an_item_may_record_its_source_id_and_today_none_does() {
        let json = r#"{"version":"x","source":"t","classes":[{"id":1,"name":"Feca"}],
            "servers":[{"id":1,"name":"Dakal"}],"items":[{"id":1,"kind":"quest","name":"Q","level":2,"sourceId":7},
            {"id":2,"kind":"dungeon","name":"D","level":2,"sourceId":7},{"id":3,"kind":"quest","name":"R","level":2}]}"#;

        let parsed = parse(json).expect("valid");
        let bundled = BundledCatalog
            .snapshot()
            .expect("the bundled snapshot is valid");

        let source_ids: Vec<Option<i64>> = parsed.items.iter().map(|i| i.source_id).collect();
        assert_eq!(source_ids, [Some(7), Some(7), None]);
        assert!(
            bundled
                .items
                .iter()
                .all(|i| i.source_id.is_none() && !i.retired)
        );
    }

    #[test]
    fn a_snapshot_that_breaks_a_rule_is_refused() {
        let bad_level = r#"{"version":"x","source":"t","classes":[{"id":1,"name":"Feca"}],
            "servers":[{"id":1,"name":"Dakal"}],"items":[{"id":1,"kind":"quest","name":"Q","level":201}]}"#;
        let bad_kind = bad_level
            .replace("\"quest\"", "\"raid\"")
            .replace("201", "20");
        let duplicate = r#"{"version":"x","source":"t","classes":[{"id":1,"name":"Feca"},{"id":1,"name":"Iop"}],
            "servers":[{"id":1,"name":"Dakal"}],"items":[]}"#;

        let duplicate_source_id = r#"{"version":"x","source":"t","classes":[{"id":1,"name":"Feca"}],
            "servers":[{"id":1,"name":"Dakal"}],"items":[{"id":1,"kind":"quest","name":"Q","level":2,"sourceId":7},
            {"id":2,"kind":"quest","name":"R","level":2,"sourceId":7}]}"#;

        for json in [bad_level, &bad_kind, duplicate, duplicate_source_id, "{}"] {
            assert!(
                matches!(parse(json), Err(SourceError::Invalid(_))),
                "{json}"
            );
        }
    }
}
