//! Reading one answer of a DofusDB-compatible list: the Feathers envelope
//! `{total, limit, skip, data}` and the few fields of each row that Roster
//! keeps. Pure: no I/O, no panics on any input. The envelope is checked
//! strictly (a wrong one means the source is not what we think it is); rows
//! are read leniently (a row without an id or any name is counted and left
//! out, an odd level becomes a valid one).

use domain::catalog::ItemKind;
use domain::ports::{SourceEntry, SourcePage, SourceResource};
use serde_json::{Map, Value};

use crate::config::Language;

/// The lowest and highest character levels; item levels are clamped to them.
const MIN_LEVEL: i16 = 1;
const MAX_LEVEL: i16 = 200;

/// Reads the body of the page of `resource` asked at `skip`. The error is a
/// message without the resource and skip (the caller adds them).
pub(crate) fn parse_page(
    resource: SourceResource,
    skip: u64,
    language: Language,
    body: &[u8],
) -> Result<SourcePage, String> {
    let envelope: Value =
        serde_json::from_slice(body).map_err(|e| format!("expected JSON, got {e}"))?;
    let Value::Object(envelope) = envelope else {
        return Err(format!(
            "expected an object {{total, limit, skip, data}}, got {}",
            kind_of(&envelope)
        ));
    };

    let total = count_field(&envelope, "total")?.ok_or("the answer has no `total`")?;
    let echoed_limit = count_field(&envelope, "limit")?;
    if let Some(echoed_skip) = count_field(&envelope, "skip")?
        && echoed_skip != skip
    {
        return Err(format!("the answer is for skip {echoed_skip}"));
    }
    let rows = match envelope.get("data") {
        Some(Value::Array(rows)) => rows,
        Some(other) => {
            return Err(format!("`data` is {}, not an array", kind_of(other)));
        }
        None => return Err("the answer has no `data`".to_owned()),
    };

    let returned = rows.len() as u64;
    if let Some(limit) = echoed_limit
        && returned > limit
    {
        return Err(format!(
            "{returned} rows returned, more than the limit {limit}"
        ));
    }
    let end = skip
        .checked_add(returned)
        // A page past the end is empty: it goes past nothing.
        .filter(|end| returned == 0 || *end <= total)
        .ok_or_else(|| format!("{returned} rows from skip {skip} go past the total {total}"))?;

    let mut entries = Vec::with_capacity(rows.len());
    let mut skipped = 0;
    for row in rows {
        match read_row(resource, language, row) {
            Some(entry) => entries.push(entry),
            None => skipped += 1,
        }
    }
    let next = (returned > 0 && end < total).then_some(end);
    Ok(SourcePage {
        entries,
        skipped,
        total,
        next,
    })
}

/// A non-negative integer field of the envelope; `Ok(None)` when absent.
fn count_field(envelope: &Map<String, Value>, field: &str) -> Result<Option<u64>, String> {
    match envelope.get(field) {
        None => Ok(None),
        Some(value) => value
            .as_u64()
            .map(Some)
            .ok_or_else(|| format!("`{field}` is not a non-negative integer: {}", short(value))),
    }
}

/// One usable row, or `None` when it has no id or no name in any language.
fn read_row(resource: SourceResource, language: Language, row: &Value) -> Option<SourceEntry> {
    let row = row.as_object()?;
    let source_id = row.get("id")?.as_i64()?;
    let name_field = match resource {
        SourceResource::Classes => "shortName",
        _ => "name",
    };
    let names = row.get(name_field)?.as_object()?;
    let name = language.fallbacks().find_map(|lang| {
        let name = names.get(lang)?.as_str()?.trim();
        (!name.is_empty()).then(|| name.to_owned())
    })?;
    let level = match resource {
        SourceResource::Classes | SourceResource::Servers => MIN_LEVEL,
        SourceResource::Items(kind) => level(row.get(level_field(kind))),
    };
    Some(SourceEntry {
        source_id,
        name,
        level,
    })
}

const fn level_field(kind: ItemKind) -> &'static str {
    match kind {
        ItemKind::Quest => "levelMin",
        ItemKind::Achievement => "level",
        ItemKind::Dungeon => "optimalPlayerLevel",
    }
}

/// A level clamped to 1–200 (a fraction rounded); 1 when missing or not a
/// number.
fn level(value: Option<&Value>) -> i16 {
    match value.and_then(Value::as_f64) {
        // In range after the clamp, so the cast is exact.
        Some(level) if level.is_finite() => level
            .round()
            .clamp(f64::from(MIN_LEVEL), f64::from(MAX_LEVEL))
            as i16,
        _ => MIN_LEVEL,
    }
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A value for a message, cut short: the source is not trusted to keep its
/// values small.
fn short(value: &Value) -> String {
    let mut shown = value.to_string();
    if shown.len() > 40 {
        let mut cut = 40;
        while !shown.is_char_boundary(cut) {
            cut -= 1;
        }
        shown.truncate(cut);
        shown.push('…');
    }
    shown
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const QUESTS: SourceResource = SourceResource::Items(ItemKind::Quest);

    fn parse(resource: SourceResource, skip: u64, body: Value) -> Result<SourcePage, String> {
        parse_page(resource, skip, Language::En, body.to_string().as_bytes())
    }

    fn names(page: &SourcePage) -> Vec<(i64, &str, i16)> {
        page.entries
            .iter()
            .map(|e| (e.source_id, e.name.as_str(), e.level))
            .collect()
    }

    #[test]
    fn the_samples_read_as_their_rows() {
        let samples = [
            (SourceResource::Classes, "breeds.json", 19, 19, (1, "Feca")),
            (
                SourceResource::Servers,
                "servers.json",
                12,
                12,
                (401, "Draconiros"),
            ),
            (
                QUESTS,
                "quests-page-1-excerpt.json",
                1976,
                3,
                (1, "Quest for the Incarnam Dungeon"),
            ),
            (
                SourceResource::Items(ItemKind::Achievement),
                "achievements-page-1-excerpt.json",
                2733,
                3,
                (1, "Incarnam Explorer"),
            ),
            (
                SourceResource::Items(ItemKind::Dungeon),
                "dungeons-page-1-excerpt.json",
                118,
                3,
                (1, "Gobball Dungeon"),
            ),
        ];
        for (resource, file, total, rows, first) in samples {
            let body = include_sample(file);
            let page = parse_page(resource, 0, Language::En, body.as_bytes()).unwrap();
            assert_eq!(page.total, total, "{file}");
            assert_eq!(page.entries.len(), rows, "{file}");
            assert_eq!(page.skipped, 0, "{file}");
            assert_eq!(
                (page.entries[0].source_id, page.entries[0].name.as_str()),
                first
            );
            let expected_next = (rows as u64) < total;
            assert_eq!(page.next, expected_next.then_some(rows as u64), "{file}");
        }
    }

    /// The samples of `shared/dofusdb`, copied beside the crate.
    fn include_sample(file: &str) -> &'static str {
        match file {
            "breeds.json" => include_str!("../samples/breeds.json"),
            "servers.json" => include_str!("../samples/servers.json"),
            "quests-page-1-excerpt.json" => include_str!("../samples/quests-page-1-excerpt.json"),
            "achievements-page-1-excerpt.json" => {
                include_str!("../samples/achievements-page-1-excerpt.json")
            }
            "dungeons-page-1-excerpt.json" => {
                include_str!("../samples/dungeons-page-1-excerpt.json")
            }
            other => panic!("no sample {other}"),
        }
    }

    #[test]
    fn names_fall_back_to_english_then_french_and_blank_is_missing() {
        let body = json!({"total": 4, "limit": 50, "skip": 0, "data": [
            {"id": 1, "name": {"id": "1", "en": "Only English"}, "levelMin": 3},
            {"id": 2, "name": {"id": "2", "fr": "Seulement français"}, "levelMin": 3},
            {"id": 3, "name": {"id": "3", "de": "  ", "en": "", "fr": "Blanc ailleurs"}},
            {"id": 4, "name": {"id": "4", "de": " Deutsch ", "en": "English", "fr": "Français"}},
        ]});
        let page = parse_page(QUESTS, 0, Language::De, body.to_string().as_bytes()).unwrap();
        assert_eq!(
            names(&page),
            vec![
                (1, "Only English", 3),
                (2, "Seulement français", 3),
                (3, "Blanc ailleurs", 1),
                (4, "Deutsch", 1),
            ]
        );
    }

    #[test]
    fn rows_without_id_or_any_name_are_skipped_and_counted() {
        let body = json!({"total": 7, "limit": 50, "skip": 0, "data": [
            {"id": 1, "name": {"en": "Kept"}},
            {"name": {"en": "No id"}},
            {"id": "2", "name": {"en": "Id as text"}},
            {"id": 3, "name": {"id": "3", "es": "Only Spanish"}},
            {"id": 4, "name": "not an object"},
            {"id": 5},
            17,
        ]});
        let page = parse(QUESTS, 0, body).unwrap();
        assert_eq!(names(&page), vec![(1, "Kept", 1)]);
        assert_eq!(page.skipped, 6);
        assert_eq!(page.next, None);
    }

    #[test]
    fn levels_are_read_per_kind_clamped_and_default_to_one() {
        let rows = |field: &str| {
            json!({"total": 7, "limit": 50, "skip": 0, "data": [
                {"id": 1, "name": {"en": "a"}, field: 0},
                {"id": 2, "name": {"en": "b"}, field: 250},
                {"id": 3, "name": {"en": "c"}, field: -4},
                {"id": 4, "name": {"en": "d"}},
                {"id": 5, "name": {"en": "e"}, field: "60"},
                {"id": 6, "name": {"en": "f"}, field: 59.6},
                {"id": 7, "name": {"en": "g"}, field: u64::MAX},
            ]})
        };
        for (kind, field) in [
            (ItemKind::Quest, "levelMin"),
            (ItemKind::Achievement, "level"),
            (ItemKind::Dungeon, "optimalPlayerLevel"),
        ] {
            let page = parse(SourceResource::Items(kind), 0, rows(field)).unwrap();
            let levels: Vec<i16> = page.entries.iter().map(|e| e.level).collect();
            assert_eq!(levels, vec![1, 200, 1, 1, 1, 60, 200], "{field}");
        }
        // Classes and servers have no level, whatever their rows hold.
        let page = parse(
            SourceResource::Classes,
            0,
            json!({"total": 1, "data": [{"id": 1, "shortName": {"en": "Feca"}, "level": 90}]}),
        )
        .unwrap();
        assert_eq!(names(&page), vec![(1, "Feca", 1)]);
    }

    #[test]
    fn classes_are_named_by_short_name_and_servers_by_name() {
        let body = json!({"total": 1, "data": [{"id": 1, "name": {"en": "Wrong"}}]});
        let page = parse(SourceResource::Classes, 0, body).unwrap();
        assert_eq!(page.skipped, 1);
        let body = json!({"total": 1, "data": [{"id": 401, "name": {"en": "Dakal"}, "shortName": {"en": "x"}}]});
        let page = parse(SourceResource::Servers, 0, body).unwrap();
        assert_eq!(names(&page), vec![(401, "Dakal", 1)]);
    }

    #[test]
    fn next_counts_every_returned_row_and_stops_at_total_or_an_empty_page() {
        let rows: Vec<Value> = (0..20)
            .map(|i| {
                if i % 5 == 0 {
                    json!({"name": {"en": "no id"}})
                } else {
                    json!({"id": i, "name": {"en": format!("q{i}")}})
                }
            })
            .collect();
        let page = parse(
            QUESTS,
            40,
            json!({"total": 100, "limit": 20, "skip": 40, "data": rows}),
        )
        .unwrap();
        assert_eq!(
            (page.entries.len(), page.skipped, page.next),
            (16, 4, Some(60))
        );

        let last = parse(
            QUESTS,
            80,
            json!({"total": 100, "limit": 20, "skip": 80, "data": rows}),
        )
        .unwrap();
        assert_eq!(last.next, None);

        let past_end = parse(
            QUESTS,
            100,
            json!({"total": 100, "limit": 20, "skip": 100, "data": []}),
        )
        .unwrap();
        assert_eq!(
            (past_end.entries.len(), past_end.total, past_end.next),
            (0, 100, None)
        );

        let far_past_end = parse(
            QUESTS,
            150,
            json!({"total": 100, "limit": 20, "skip": 150, "data": []}),
        )
        .unwrap();
        assert_eq!((far_past_end.total, far_past_end.next), (100, None));

        let empty_early = parse(
            QUESTS,
            40,
            json!({"total": 100, "limit": 20, "skip": 40, "data": []}),
        )
        .unwrap();
        assert_eq!(empty_early.next, None);
    }

    #[test]
    fn a_wrong_envelope_is_refused_with_a_reason() {
        let cases = [
            (json!([1, 2]), "expected an object"),
            (json!({"data": []}), "no `total`"),
            (json!({"total": 3}), "no `data`"),
            (
                json!({"total": 3, "data": {}}),
                "`data` is an object, not an array",
            ),
            (
                json!({"total": -1, "data": []}),
                "`total` is not a non-negative integer: -1",
            ),
            (
                json!({"total": 1.5, "data": []}),
                "`total` is not a non-negative integer",
            ),
            (
                json!({"total": "3", "data": []}),
                "`total` is not a non-negative integer",
            ),
            (
                json!({"total": 3, "skip": "0", "data": []}),
                "`skip` is not",
            ),
            (
                json!({"total": 3, "skip": 50, "data": []}),
                "the answer is for skip 50",
            ),
            (
                json!({"total": 3, "limit": -5, "data": []}),
                "`limit` is not",
            ),
            (
                json!({"total": 9, "limit": 1, "data": [{"id": 1}, {"id": 2}]}),
                "2 rows returned, more than the limit 1",
            ),
            (
                json!({"total": 1, "data": [{"id": 1}, {"id": 2}]}),
                "2 rows from skip 0 go past the total 1",
            ),
        ];
        for (body, expected) in cases {
            let err = parse(QUESTS, 0, body.clone()).unwrap_err();
            assert!(err.contains(expected), "{body}: {err}");
        }
        let err = parse_page(QUESTS, 0, Language::En, b"<html>busy</html>").unwrap_err();
        assert!(err.starts_with("expected JSON"), "{err}");
        let err = parse_page(QUESTS, 0, Language::En, b"").unwrap_err();
        assert!(err.starts_with("expected JSON"), "{err}");
    }

    #[test]
    fn a_skip_near_the_end_of_u64_does_not_overflow() {
        let err = parse(
            QUESTS,
            u64::MAX,
            json!({"total": u64::MAX, "data": [{"id": 1}]}),
        )
        .unwrap_err();
        assert!(err.contains("go past the total"), "{err}");
    }
}
