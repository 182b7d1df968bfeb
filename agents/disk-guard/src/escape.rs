//! File names in human-readable output (the `--once` report, the journal,
//! logs). A name may hold any byte but `/` and NUL: a newline or tab printed
//! raw would forge or split report lines, and bytes that are not UTF-8 would
//! be shown lossily (two different names looking the same).
//!
//! [`path`] is the one text form of a name: backslash, control characters,
//! Unicode line separators and bidirectional overrides are escaped, as are
//! bytes that are not UTF-8 (`\xNN`). It is unambiguous (backslash itself is
//! escaped), so the journal can store it and the report can show it as is.
//! [`line`] is the last guard at an output sink for free text: it escapes
//! control characters but leaves backslashes alone, so text already escaped
//! by [`path`] passes through unchanged.

use std::fmt::Write;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// The escaped text form of a path or file name.
pub fn path(p: &Path) -> String {
    bytes(p.as_os_str().as_bytes())
}

/// The escaped text form of raw name bytes.
pub fn bytes(b: &[u8]) -> String {
    let mut out = String::with_capacity(b.len());
    for chunk in b.utf8_chunks() {
        for c in chunk.valid().chars() {
            if c == '\\' {
                out.push_str("\\\\");
            } else {
                push_char(&mut out, c);
            }
        }
        for byte in chunk.invalid() {
            let _ = write!(out, "\\x{byte:02x}");
        }
    }
    out
}

/// Free text made safe for one line of output: control characters escaped,
/// everything else (backslashes included) kept.
pub fn line(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        push_char(&mut out, c);
    }
    out
}

fn push_char(out: &mut String, c: char) {
    match c {
        '\n' => out.push_str("\\n"),
        '\t' => out.push_str("\\t"),
        '\r' => out.push_str("\\r"),
        c if (c as u32) < 0x80 && c.is_control() => {
            let _ = write!(out, "\\x{:02x}", c as u32);
        }
        c if needs_escape(c) => {
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        }
        c => out.push(c),
    }
}

/// Characters that break or reorder a line on a terminal or in a log viewer:
/// C0/C1 controls, line and paragraph separators, and the bidirectional
/// embedding, override and isolate controls ("Trojan Source").
fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{2028}' | '\u{2029}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}'
                | '\u{2066}'..='\u{2069}' | '\u{061c}'
        )
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Inverse of [`bytes`], to show that the text form loses nothing.
    fn unescape(s: &str) -> Vec<u8> {
        let mut out = Vec::new();
        let mut chars = s.chars();
        while let Some(c) = chars.next() {
            if c != '\\' {
                let mut buf = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                continue;
            }
            match chars.next().expect("dangling backslash") {
                '\\' => out.push(b'\\'),
                'n' => out.push(b'\n'),
                't' => out.push(b'\t'),
                'r' => out.push(b'\r'),
                'x' => {
                    let hex: String = chars.by_ref().take(2).collect();
                    out.push(u8::from_str_radix(&hex, 16).unwrap());
                }
                'u' => {
                    assert_eq!(chars.next(), Some('{'));
                    let hex: String = chars.by_ref().take_while(|&c| c != '}').collect();
                    let c = char::from_u32(u32::from_str_radix(&hex, 16).unwrap()).unwrap();
                    let mut buf = [0u8; 4];
                    out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                }
                other => panic!("unknown escape \\{other}"),
            }
        }
        out
    }

    #[test]
    fn escapes_what_would_forge_lines_and_keeps_the_rest() {
        assert_eq!(bytes(b"a\nb\tc\rd"), "a\\nb\\tc\\rd");
        assert_eq!(bytes(b"caf\xe9.log"), "caf\\xe9.log");
        assert_eq!(bytes(b"back\\slash"), "back\\\\slash");
        assert_eq!(bytes("b\u{e4}ckerei.log".as_bytes()), "b\u{e4}ckerei.log");
        assert_eq!(bytes("x\u{202e}gol.exe".as_bytes()), "x\\u{202e}gol.exe");
        assert_eq!(bytes(b"bell\x07\x1b[31m"), "bell\\x07\\x1b[31m");
        assert_eq!(line("a\\nb\nc"), "a\\nb\\nc");
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

        #[test]
        fn the_text_form_is_one_safe_line_and_loses_nothing(
            name in proptest::collection::vec(any::<u8>(), 0..64)
        ) {
            let shown = bytes(&name);
            prop_assert!(!shown.chars().any(needs_escape), "{shown:?}");
            prop_assert_eq!(unescape(&shown), name);
            // Already escaped text passes the sink guard unchanged.
            prop_assert_eq!(line(&shown), shown);
        }

        #[test]
        fn free_text_never_keeps_a_control_character(text in any::<String>()) {
            prop_assert!(!line(&text).chars().any(needs_escape));
        }
    }
}
