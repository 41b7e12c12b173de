//! Text from the store (or from a user's flags) made safe to put on a terminal.
//!
//! Client names, keys, owner ids, error messages and paths can hold anything a
//! store or a shell can hold, escape sequences included: `\e]2;...\a` retitles the
//! window, `\e[2J` wipes the screen, and a bidi override reorders what a person
//! reads. Every front end that prints such text as text (headless lines, `watch`,
//! the dashboard, error lines) passes it through [`printable`] first. JSON output
//! needs nothing: serde_json escapes control characters itself.

use std::borrow::Cow;
use std::fmt::Write;

/// Whether `c` must not reach a terminal as it is: C0 controls (newlines and tabs
/// included: a name must never break a line), DEL, C1 controls, and the bidi
/// embeddings, overrides and isolates.
fn unsafe_char(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// `s` with every control character and bidi override escaped (`\e`, `\n`, `\t`,
/// `\r`, `\x07`, `\u{202e}`); borrowed when there is nothing to escape.
pub fn printable(s: &str) -> Cow<'_, str> {
    if !s.chars().any(unsafe_char) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\u{1b}' => out.push_str("\\e"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if unsafe_char(c) && (c as u32) < 0x100 => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if unsafe_char(c) => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_and_non_ascii_pass_untouched_and_borrowed() {
        for s in ["client-1", "café █ ✂ 東京", ""] {
            assert!(matches!(printable(s), Cow::Borrowed(_)), "{s}");
        }
    }

    #[test]
    fn escape_sequences_bells_and_line_breaks_are_shown_not_obeyed() {
        let s = "\u{1b}]2;pwned\u{7}\u{1b}[2J\nnext\tcol\r\u{7f}\u{85}";
        let p = printable(s);
        assert_eq!(p, "\\e]2;pwned\\x07\\e[2J\\nnext\\tcol\\r\\x7f\\x85");
        assert!(!p.chars().any(unsafe_char));
    }

    #[test]
    fn bidi_overrides_are_escaped() {
        assert_eq!(printable("a\u{202e}b\u{2066}c"), "a\\u{202e}b\\u{2066}c");
    }
}
