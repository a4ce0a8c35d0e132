//! Free text that other people read (comments, the host's message): what may be shown.
//!
//! Control characters are refused, and so are Unicode format characters (category Cf), which
//! can hide text or reorder it: bidi overrides that turn "gnp.exe" into "exe.png", zero-width
//! spaces that make a comment look empty, the BOM. The one exception is the zero-width joiner
//! inside an emoji sequence (👨‍👩‍👧, ❤️‍🔥), and the tags of a subdivision flag (🏴󠁧󠁢󠁳󠁣󠁴󠁿), which
//! are how those emoji are written. The categories come from `unicode-properties`, not a table of
//! our own.

use unicode_properties::{
    GeneralCategory, GeneralCategoryGroup, UnicodeEmoji, UnicodeGeneralCategory,
};

/// Why a text cannot be shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextRefusal {
    /// Nothing visible: empty, blank, or only marks.
    Empty,
    /// Longer than the limit, in characters.
    TooLong,
    /// A control character or line break.
    Control,
    /// A format character that hides or reorders text.
    Hidden,
}

/// The black flag that starts a subdivision flag's tag sequence.
const BLACK_FLAG: char = '\u{1F3F4}';
const ZWJ: char = '\u{200D}';
const EMOJI_PRESENTATION: char = '\u{FE0F}';
const TAG_CANCEL: char = '\u{E007F}';

fn is_tag(c: char) -> bool {
    matches!(c, '\u{E0020}'..='\u{E007F}')
}

/// Emoji characters that can stand on either side of a joiner. Digits, `#` and `*` are emoji
/// characters too (keycaps), but a joiner between two digits joins nothing.
fn is_pictographic(c: char) -> bool {
    !c.is_ascii() && c.is_emoji_char_or_emoji_component()
}

/// Whether the format character at `i` is part of an emoji sequence.
fn in_emoji_sequence(chars: &[char], i: usize) -> bool {
    let before = i.checked_sub(1).map(|j| chars[j]);
    let after = chars.get(i + 1).copied();
    match chars[i] {
        ZWJ => {
            before.is_some_and(|b| is_pictographic(b) || b == EMOJI_PRESENTATION)
                && after.is_some_and(is_pictographic)
        }
        // A tag run directly after the black flag, up to its cancel tag.
        c if is_tag(c) => {
            let start = chars[..i]
                .iter()
                .rposition(|&b| !is_tag(b))
                .map(|j| chars[j]);
            start == Some(BLACK_FLAG)
                && chars[i..]
                    .iter()
                    .take_while(|&&t| is_tag(t))
                    .any(|&t| t == TAG_CANCEL)
        }
        _ => false,
    }
}

/// Something a reader sees: a letter, digit, punctuation mark or symbol (emoji are symbols).
fn is_visible(c: char) -> bool {
    matches!(
        c.general_category_group(),
        GeneralCategoryGroup::Letter
            | GeneralCategoryGroup::Number
            | GeneralCategoryGroup::Punctuation
            | GeneralCategoryGroup::Symbol
    )
}

/// The text to keep, trimmed: refused when it has a control or hiding format character, shows
/// nothing, or is longer than `max_chars`.
pub fn shown_text(raw: &str, max_chars: usize) -> Result<&str, TextRefusal> {
    let text = raw.trim();
    let chars: Vec<char> = text.chars().collect();
    if chars.iter().any(|c| c.is_control()) {
        return Err(TextRefusal::Control);
    }
    let hidden = chars.iter().enumerate().any(|(i, c)| {
        c.general_category() == GeneralCategory::Format && !in_emoji_sequence(&chars, i)
    });
    if hidden {
        // Nothing but hiding characters reads as empty to whoever sent it.
        let anything_else = chars
            .iter()
            .any(|&c| c.general_category() != GeneralCategory::Format && !c.is_whitespace());
        return Err(if anything_else {
            TextRefusal::Hidden
        } else {
            TextRefusal::Empty
        });
    }
    if !chars.iter().copied().any(is_visible) {
        return Err(TextRefusal::Empty);
    }
    if chars.len() > max_chars {
        return Err(TextRefusal::TooLong);
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_text_and_emoji_are_kept_trimmed() {
        for ok in [
            "好吃！",
            "  hello  ",
            "¥12.50 买两件",
            "👍",
            "家人们 👨\u{200D}👩\u{200D}👧 冲",
            "❤\u{FE0F}\u{200D}🔥",
            "👋🏽",
            "🏴\u{E0067}\u{E0062}\u{E0073}\u{E0063}\u{E0074}\u{E007F}",
            "<b>不是标签</b>",
        ] {
            assert_eq!(shown_text(ok, 200), Ok(ok.trim()), "{ok:?}");
        }
    }

    #[test]
    fn invisible_text_is_empty() {
        for empty in [
            "",
            "   ",
            "\u{3000}",
            "\u{200B}\u{200B}",
            "\u{FEFF}",
            " \u{2060} ",
        ] {
            assert_eq!(shown_text(empty, 200), Err(TextRefusal::Empty), "{empty:?}");
        }
    }

    #[test]
    fn characters_that_hide_or_reorder_text_are_refused() {
        for hidden in [
            // A right-to-left override makes "gnp.exe" read "exe.png".
            "领取红包 \u{202E}gnp.exe",
            "a\u{202D}b",
            "a\u{2066}b\u{2069}",
            "a\u{200F}b",
            "a\u{061C}b",
            "免\u{200B}费",
            "a\u{200C}b",
            "\u{FEFF}hello",
            "a\u{00AD}b",
            // A joiner between ordinary letters or digits joins nothing.
            "a\u{200D}b",
            "1\u{200D}2",
            "👍\u{200D}",
            // Tags outside a flag hide text (ASCII smuggled as tags).
            "hi\u{E0068}\u{E0069}",
            "🏴\u{E0067}\u{E0062}",
        ] {
            assert_eq!(
                shown_text(hidden, 200),
                Err(TextRefusal::Hidden),
                "{hidden:?}"
            );
        }
    }

    #[test]
    fn control_characters_and_length_are_refused() {
        assert_eq!(shown_text("a\nb", 200), Err(TextRefusal::Control));
        assert_eq!(shown_text("a\u{7}b", 200), Err(TextRefusal::Control));
        assert_eq!(shown_text(&"字".repeat(5), 5), Ok("字字字字字"));
        assert_eq!(shown_text(&"字".repeat(6), 5), Err(TextRefusal::TooLong));
    }
}
