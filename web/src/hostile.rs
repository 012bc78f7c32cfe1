//! Hostile input for the property tests of every function that turns outside input into a redirect target, a header
//! value, a file name or a storage key: strings built from pieces an attacker reaches for (control characters,
//! whitespace a browser drops, slashes and their look-alikes, schemes, percent-encodings, bidirectional overrides,
//! compatibility characters that normalise to ASCII) mixed with any character at all.

use proptest::prelude::*;

/// The pieces hostile strings are made of.
const PIECES: &[&str] = &[
    "/",
    "/",
    "/",
    "//",
    "\\",
    "\t",
    "\n",
    "\r",
    "\r\n",
    "\0",
    " ",
    "\u{0b}",
    "\u{0c}",
    "\u{7f}",
    "\u{85}",
    "\u{a0}",
    "\u{3000}",
    "\u{200b}",
    "\u{202e}",
    "\u{2066}",
    "\u{feff}",
    "\u{ff0f}",
    "\u{2215}",
    "\u{2044}",
    "\u{ff3c}",
    "\u{212a}",
    "\u{430}",
    "\u{ff45}\u{ff58}",
    ":",
    "@",
    ".",
    "..",
    "?",
    "#",
    "&",
    "=",
    ";",
    "%",
    "%09",
    "%0a",
    "%0d%0a",
    "%2f",
    "%5c",
    "%00",
    "%E2%80%AE",
    "http:",
    "https://",
    "javascript:",
    "data:",
    "evil.example",
    "example.org",
    "notes",
    "a",
    "Set-Cookie: x=y",
    "\"",
    "'",
    "<script>",
    "\u{1f600}",
    "\u{10ffff}",
];

/// A hostile string: up to 12 pieces, a path of three pieces between slashes (where the escapes hide), or any
/// characters.
pub fn text() -> impl Strategy<Value = String> {
    let piece = || prop::sample::select(PIECES);
    prop_oneof![
        2 => (piece(), piece(), piece()).prop_map(|(a, b, c)| format!("/{a}/{b}{c}")),
        3 => prop::collection::vec(
            prop_oneof![prop::sample::select(PIECES).prop_map(str::to_string), any::<char>().prop_map(String::from)],
            0..12,
        )
        .prop_map(|pieces| pieces.concat()),
        1 => any::<String>(),
    ]
}

/// What a browser makes of a relative URL before resolving it (the WHATWG URL parser): C0 controls and spaces
/// trimmed at both ends, every tab and line break removed, `\` read as `/`. Then it must still be a path of this
/// site: starting with one `/`, not `//` (another host).
pub fn browser_keeps_on_site(location: &str) -> bool {
    let trimmed = location.trim_matches(|c: char| c <= ' ');
    let seen: String =
        trimmed.chars().filter(|c| !matches!(c, '\t' | '\n' | '\r')).map(|c| if c == '\\' { '/' } else { c }).collect();
    seen.starts_with('/') && !seen.starts_with("//")
}

/// A header value that stays one line and is what was meant: visible ASCII and spaces only, no CR, LF or NUL.
pub fn safe_header_text(value: &str) -> bool {
    value.bytes().all(|b| b == b' ' || b.is_ascii_graphic())
}

#[test]
fn the_model_of_a_browser_catches_the_known_escapes() {
    assert!(browser_keeps_on_site("/notes"));
    for escape in ["/\t/evil.example", "/\n/evil.example", "\\\\evil.example", "/\\evil.example", " //evil.example"] {
        assert!(!browser_keeps_on_site(escape), "{escape:?}");
    }
}
