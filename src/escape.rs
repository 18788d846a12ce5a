//! Input-derived text made safe to print.

use std::fmt::Write;

/// `text` as the text report prints input-derived strings: control characters (a bell,
/// an escape sequence, a newline that would forge a report line), Unicode's invisible
/// format characters (a right-to-left override) and the backslash itself are written as
/// escapes (`\x07`, `\u{202e}`, `\\`), so nothing from the input can move the cursor,
/// recolour the terminal or fake a line. Bytes that were not UTF-8 reached the report as
/// U+FFFD when their producer decoded them and print as such.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            c if c.is_control() && u32::from(c) <= 0xff => {
                let _ = write!(out, "\\x{:02x}", u32::from(c));
            }
            c if c.is_control() || invisible(c) => {
                let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out
}

/// Unicode format characters that change how the text around them displays without
/// showing themselves: zero-width marks, bidirectional overrides and isolates, the BOM.
fn invisible(c: char) -> bool {
    matches!(
        c,
        '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2060}'..='\u{2069}' | '\u{feff}'
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn input_derived_text_is_escaped() {
        assert_eq!(escape("AAPL"), "AAPL");
        assert_eq!(escape("byte 12: type 'Z'"), "byte 12: type 'Z'");
        assert_eq!(escape("bell\x07"), "bell\\x07");
        assert_eq!(escape("\x1b[31mred"), "\\x1b[31mred");
        assert_eq!(escape("two\nlines\r"), "two\\x0alines\\x0d");
        assert_eq!(escape("\u{85}c1"), "\\x85c1");
        assert_eq!(escape("\u{202e}lpaa"), "\\u{202e}lpaa");
        assert_eq!(
            escape("a\\x07"),
            "a\\\\x07",
            "a literal backslash is not an escape"
        );
        assert_eq!(escape("caf\u{e9} \u{fffd} ×"), "caf\u{e9} \u{fffd} ×");
    }
}
