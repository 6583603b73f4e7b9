//! The one rule for text people read: names (of accounts, characters,
//! teams, users, API keys) and notes.
//!
//! Text is put in Unicode normalisation form C first, so that "é" typed as
//! one code point or as "e" and a combining accent is one name, then
//! trimmed. It may then hold none of the code points that render as nothing
//! or as something else than they say ([`INVISIBLE`]): controls, format
//! characters (bidi overrides that reverse a name in someone's Discord,
//! zero-width spaces, the byte-order mark), private-use and noncharacter
//! code points, and the Hangul fillers that games' blank names are made
//! of. A name must also hold at least one visible character: not only
//! spaces and combining marks.

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

use crate::error::FieldError;

/// The code points no text may hold, as inclusive ranges, sorted: Unicode's
/// general categories Cc (controls) and Cf (format; DerivedGeneralCategory,
/// Unicode 16), Co (private use), Zl and Zp (line and paragraph separators),
/// every noncharacter (U+FDD0–U+FDEF and the last two code points of each
/// plane), and the Hangul fillers (Lo, but blank). The zero-width
/// non-joiner and joiner (U+200C, U+200D) are Cf too, but stay allowed:
/// Persian and Indic spelling and emoji sequences need them; a name of
/// nothing else still has no visible character.
pub const INVISIBLE: &[(u32, u32)] = &[
    (0x0000, 0x001F),
    (0x007F, 0x009F),
    (0x00AD, 0x00AD),
    (0x0600, 0x0605),
    (0x061C, 0x061C),
    (0x06DD, 0x06DD),
    (0x070F, 0x070F),
    (0x0890, 0x0891),
    (0x08E2, 0x08E2),
    (0x115F, 0x1160),
    (0x180E, 0x180E),
    (0x200B, 0x200B),
    (0x200E, 0x200F),
    (0x2028, 0x202E),
    (0x2060, 0x2064),
    (0x2066, 0x206F),
    (0x3164, 0x3164),
    (0xE000, 0xF8FF),
    (0xFDD0, 0xFDEF),
    (0xFEFF, 0xFEFF),
    (0xFFA0, 0xFFA0),
    (0xFFF9, 0xFFFB),
    (0xFFFE, 0xFFFF),
    (0x1_FFFE, 0x1_FFFF),
    (0x2_FFFE, 0x2_FFFF),
    (0x3_FFFE, 0x3_FFFF),
    (0x4_FFFE, 0x4_FFFF),
    (0x5_FFFE, 0x5_FFFF),
    (0x6_FFFE, 0x6_FFFF),
    (0x7_FFFE, 0x7_FFFF),
    (0x8_FFFE, 0x8_FFFF),
    (0x9_FFFE, 0x9_FFFF),
    (0xA_FFFE, 0xA_FFFF),
    (0xB_FFFE, 0xB_FFFF),
    (0xC_FFFE, 0xC_FFFF),
    (0xD_FFFE, 0xD_FFFF),
    (0xE_0001, 0xE_0001),
    (0xE_0020, 0xE_007F),
    (0xE_FFFE, 0xE_FFFF),
    (0xF_0000, 0x10_FFFF),
];

/// Format characters outside the Basic Multilingual Plane that are also
/// invisible (Egyptian hieroglyph controls, shorthand format controls,
/// musical symbol formatting, Kaithi number signs). Kept apart so that
/// [`INVISIBLE`] stays one list of the common cases; [`is_invisible`] checks
/// both.
const INVISIBLE_SUPPLEMENTARY_FORMAT: &[(u32, u32)] = &[
    (0x1_10BD, 0x1_10BD),
    (0x1_10CD, 0x1_10CD),
    (0x1_3430, 0x1_343F),
    (0x1_BCA0, 0x1_BCA3),
    (0x1_D173, 0x1_D17A),
];

/// The line breaks and tab that notes may hold.
pub const LINE_BREAKS: [char; 3] = ['\t', '\n', '\r'];

/// Every range refused, sorted: [`INVISIBLE`] and the supplementary format
/// characters.
pub fn invisible_ranges() -> Vec<(u32, u32)> {
    let mut all: Vec<(u32, u32)> = INVISIBLE
        .iter()
        .chain(INVISIBLE_SUPPLEMENTARY_FORMAT)
        .copied()
        .collect();
    all.sort_unstable();
    all
}

/// Whether `c` is one of the code points no text may hold.
pub fn is_invisible(c: char) -> bool {
    let code = u32::from(c);
    let within = |ranges: &[(u32, u32)]| {
        ranges
            .binary_search_by(|&(first, last)| {
                if last < code {
                    std::cmp::Ordering::Less
                } else if first > code {
                    std::cmp::Ordering::Greater
                } else {
                    std::cmp::Ordering::Equal
                }
            })
            .is_ok()
    };
    within(INVISIBLE) || within(INVISIBLE_SUPPLEMENTARY_FORMAT)
}

/// `raw` in normalisation form C, trimmed.
pub fn normalized(raw: &str) -> String {
    let composed: String = raw.nfc().collect();
    composed.trim().to_owned()
}

/// The first code point of `text` that no text may hold, but for `allowed`,
/// as an error on `field` that names it.
pub fn check_invisible(
    field: &'static str,
    text: &str,
    allowed: &[char],
) -> Result<(), FieldError> {
    match text
        .chars()
        .find(|&c| is_invisible(c) && !allowed.contains(&c))
    {
        None => Ok(()),
        Some(c) => Err(FieldError::new(
            field,
            format!(
                "must not contain invisible, control or private-use characters (found U+{:04X})",
                u32::from(c)
            ),
        )),
    }
}

/// A name as people see it: normalised and trimmed ([`normalized`]),
/// `min..=max` characters once so, none invisible, at least one visible.
/// `length` words the length rule for the error ("must be 2 to 50
/// characters").
pub fn name(
    field: &'static str,
    raw: &str,
    min: usize,
    max: usize,
    length: impl FnOnce() -> String,
) -> Result<String, FieldError> {
    let name = normalized(raw);
    let len = name.chars().count();
    if !(min..=max).contains(&len) {
        return Err(FieldError::new(field, length()));
    }
    check_invisible(field, &name, &[])?;
    if !name.chars().any(|c| {
        !c.is_whitespace() && !is_combining_mark(c) && !matches!(c, '\u{200c}' | '\u{200d}')
    }) {
        return Err(FieldError::new(
            field,
            "must contain at least one visible character",
        ));
    }
    Ok(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(raw: &str) -> Result<String, String> {
        name("name", raw, 1, 50, || "must be 1 to 50 characters".into()).map_err(|e| e.message)
    }

    /// The ranges the OpenAPI document publishes are exactly the ones the
    /// rules refuse: both lists, sorted, each end refused, and the code
    /// points just outside a range allowed where no other range holds them.
    #[test]
    fn the_published_ranges_are_the_refused_ones_sorted() {
        let ranges = invisible_ranges();
        assert_eq!(
            ranges.len(),
            INVISIBLE.len() + INVISIBLE_SUPPLEMENTARY_FORMAT.len()
        );
        assert!(ranges.windows(2).all(|pair| pair[0] < pair[1]), "sorted");
        for &(first, last) in INVISIBLE.iter().chain(INVISIBLE_SUPPLEMENTARY_FORMAT) {
            assert!(ranges.contains(&(first, last)), "{first:#x}..={last:#x}");
        }
        let refused = |code: u32| char::from_u32(code).is_some_and(is_invisible);
        let listed = |code: u32| ranges.iter().any(|&(a, b)| (a..=b).contains(&code));
        for &(first, last) in &ranges {
            for code in [first, last] {
                assert_eq!(refused(code), char::from_u32(code).is_some(), "{code:#x}");
            }
            for code in [first.wrapping_sub(1), last + 1] {
                if char::from_u32(code).is_some() {
                    assert_eq!(refused(code), listed(code), "{code:#x}");
                }
            }
        }
        assert!(listed(0x200B) && listed(0x202E) && listed(0x1_D173));
        assert!(!listed(u32::from('a')));
    }

    #[test]
    fn the_tables_are_sorted_and_disjoint() {
        for table in [INVISIBLE, INVISIBLE_SUPPLEMENTARY_FORMAT] {
            for pair in table.windows(2) {
                assert!(pair[0].1 < pair[1].0, "{pair:x?}");
            }
            assert!(table.iter().all(|(a, b)| a <= b));
        }
    }

    #[test]
    fn every_control_character_is_invisible() {
        for c in (0..=0x10_FFFF).filter_map(char::from_u32) {
            if c.is_control() {
                assert!(is_invisible(c), "U+{:04X}", u32::from(c));
            }
        }
    }

    #[test]
    fn hostile_names_are_refused_naming_the_code_point() {
        for (raw, code) in [
            ("\u{200b}\u{200b}", "U+200B"),
            ("ab\u{202e}cd", "U+202E"),
            ("\u{feff}\u{feff}", "U+FEFF"),
            ("\u{ffff}\u{ffff}", "U+FFFF"),
            ("x\u{fdd0}", "U+FDD0"),
            ("x\u{e000}", "U+E000"),
            ("x\u{f0000}", "U+F0000"),
            ("x\u{e0041}", "U+E0041"),
            ("x\u{2066}y", "U+2066"),
            ("x\u{00ad}y", "U+00AD"),
            ("x\u{0007}", "U+0007"),
            ("x\u{2028}y", "U+2028"),
            ("\u{3164}\u{3164}", "U+3164"),
            ("x\u{1d173}", "U+1D173"),
        ] {
            let error = parse(raw).expect_err(raw);
            assert!(error.contains(code), "{raw:?}: {error}");
        }
    }

    #[test]
    fn a_name_of_spaces_or_marks_alone_has_nothing_visible() {
        for raw in [
            "\u{0301}\u{0301}",
            "\u{3000}\u{0301}\u{3000}",
            "\u{200d}\u{200c}",
        ] {
            assert_eq!(
                parse(raw),
                Err("must contain at least one visible character".into()),
                "{raw:?}"
            );
        }
    }

    #[test]
    fn names_are_stored_in_nfc_and_trimmed() {
        assert_eq!(parse("  Cre\u{0301}ation "), Ok("Création".into()));
        assert_eq!(parse("Création"), parse("Cre\u{0301}ation"));
        // NFC, not NFKC: the full-width letters stay as typed.
        assert_eq!(parse("ＦＥＣＡ"), Ok("ＦＥＣＡ".into()));
    }

    #[test]
    fn ordinary_names_of_every_script_are_kept() {
        for raw in [
            "Iop",
            "Sir Lancelot",
            "Ékaflip-42",
            "Crâ d'Astrub",
            "Пандава",
            "エニリプサ",
            "소환사",
            "الساديدا",
            "Sram 🗡️",
            "👨\u{200d}👩\u{200d}👧",
            "می\u{200c}خواهم",
        ] {
            assert_eq!(parse(raw), Ok(normalized(raw)), "{raw:?}");
        }
    }

    #[test]
    fn lengths_count_characters_after_normalisation() {
        // Two code points that compose into one character.
        let two = "e\u{0301}";
        assert_eq!(
            name("name", two, 1, 1, || "must be 1 character".into()),
            Ok("é".into())
        );
    }
}
