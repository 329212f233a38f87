//! The text codes are looked for in (API.md part 2 section 3 "Codes"): NFKC, every Unicode
//! decimal digit as its ASCII digit, zero-width characters removed, URLs and addresses
//! replaced by a space (so that their digits are never codes and their neighbours never join).

use std::sync::LazyLock;

use regex::Regex;
use unicode_normalization::{IsNormalized, UnicodeNormalization, is_nfkc_quick};

/// The ranges of Unicode's Decimal_Number (Nd) characters, Unicode 16.0 (the version the
/// `regex` crate's `\d` follows; a test holds the two together). Each range is a whole
/// number of runs of ten, `0` to `9` in order (Unicode's stability policy for Nd).
const DECIMAL_RANGES: &[(u32, u32)] = &[
    (0x30, 0x39),
    (0x660, 0x669),
    (0x6F0, 0x6F9),
    (0x7C0, 0x7C9),
    (0x966, 0x96F),
    (0x9E6, 0x9EF),
    (0xA66, 0xA6F),
    (0xAE6, 0xAEF),
    (0xB66, 0xB6F),
    (0xBE6, 0xBEF),
    (0xC66, 0xC6F),
    (0xCE6, 0xCEF),
    (0xD66, 0xD6F),
    (0xDE6, 0xDEF),
    (0xE50, 0xE59),
    (0xED0, 0xED9),
    (0xF20, 0xF29),
    (0x1040, 0x1049),
    (0x1090, 0x1099),
    (0x17E0, 0x17E9),
    (0x1810, 0x1819),
    (0x1946, 0x194F),
    (0x19D0, 0x19D9),
    (0x1A80, 0x1A89),
    (0x1A90, 0x1A99),
    (0x1B50, 0x1B59),
    (0x1BB0, 0x1BB9),
    (0x1C40, 0x1C49),
    (0x1C50, 0x1C59),
    (0xA620, 0xA629),
    (0xA8D0, 0xA8D9),
    (0xA900, 0xA909),
    (0xA9D0, 0xA9D9),
    (0xA9F0, 0xA9F9),
    (0xAA50, 0xAA59),
    (0xABF0, 0xABF9),
    (0xFF10, 0xFF19),
    (0x104A0, 0x104A9),
    (0x10D30, 0x10D39),
    (0x10D40, 0x10D49),
    (0x11066, 0x1106F),
    (0x110F0, 0x110F9),
    (0x11136, 0x1113F),
    (0x111D0, 0x111D9),
    (0x112F0, 0x112F9),
    (0x11450, 0x11459),
    (0x114D0, 0x114D9),
    (0x11650, 0x11659),
    (0x116C0, 0x116C9),
    (0x116D0, 0x116E3),
    (0x11730, 0x11739),
    (0x118E0, 0x118E9),
    (0x11950, 0x11959),
    (0x11BF0, 0x11BF9),
    (0x11C50, 0x11C59),
    (0x11D50, 0x11D59),
    (0x11DA0, 0x11DA9),
    (0x11F50, 0x11F59),
    (0x16130, 0x16139),
    (0x16A60, 0x16A69),
    (0x16AC0, 0x16AC9),
    (0x16B50, 0x16B59),
    (0x16D70, 0x16D79),
    (0x1CCF0, 0x1CCF9),
    (0x1D7CE, 0x1D7FF),
    (0x1E140, 0x1E149),
    (0x1E2F0, 0x1E2F9),
    (0x1E4F0, 0x1E4F9),
    (0x1E5F1, 0x1E5FA),
    (0x1E950, 0x1E959),
    (0x1FBF0, 0x1FBF9),
];

/// `http(s)://` and `www.` URLs, and e-mail addresses.
static URL_OR_ADDRESS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)(?:https?://|www\.)[^\s<>]+|[a-z0-9._%+\-]+@[a-z0-9\-]+(?:\.[a-z0-9\-]+)+")
        .expect("a valid static pattern")
});

/// Prepare `text` for the code rules.
pub fn normalize(text: &str) -> String {
    if text.is_ascii() {
        // NFKC leaves ASCII as it is, and ASCII has no other digits nor zero-width characters.
        return URL_OR_ADDRESS.replace_all(text, " ").into_owned();
    }
    let fold = |chars: &mut dyn Iterator<Item = char>| -> String {
        chars.filter(|&c| !is_zero_width(c)).map(ascii_digit).collect()
    };
    // The quick check (UAX #15 9) spares the full normalisation of text already in NFKC.
    let folded = match is_nfkc_quick(text.chars()) {
        IsNormalized::Yes => fold(&mut text.chars()),
        _ => fold(&mut text.nfkc()),
    };
    URL_OR_ADDRESS.replace_all(&folded, " ").into_owned()
}

/// Characters that take no room and are used to split a code so filters miss it.
fn is_zero_width(c: char) -> bool {
    matches!(
        c,
        '\u{200B}'..='\u{200D}' | '\u{2060}' | '\u{FEFF}' | '\u{00AD}' | '\u{180E}'
    )
}

/// A decimal digit of any script as its ASCII digit; other characters unchanged.
fn ascii_digit(c: char) -> char {
    let cp = u32::from(c);
    if c.is_ascii() {
        return c;
    }
    let i = DECIMAL_RANGES.partition_point(|&(start, _)| start <= cp);
    match i.checked_sub(1).and_then(|i| DECIMAL_RANGES.get(i)) {
        Some(&(start, end)) if cp <= end => char::from(b'0' + ((cp - start) % 10) as u8),
        _ => c,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digits_of_every_script_become_ascii() {
        assert_eq!(normalize("４９３０２１"), "493021");
        assert_eq!(normalize("٤٩٣٠٢١ and ४९३०२१ and 𝟒𝟗𝟑"), "493021 and 493021 and 493");
        assert_eq!(normalize("ab"), "ab");
    }

    #[test]
    fn the_table_is_regex_decimal_number() {
        let nd = Regex::new(r"^\d$").expect("pattern");
        let mut buf = [0u8; 4];
        for c in (0..=0x10FFFFu32).filter_map(char::from_u32) {
            let is_nd = nd.is_match(c.encode_utf8(&mut buf));
            let in_table = DECIMAL_RANGES.iter().any(|&(s, e)| (s..=e).contains(&u32::from(c)));
            assert_eq!(is_nd, in_table, "U+{:04X}", u32::from(c));
            if is_nd {
                assert!(ascii_digit(c).is_ascii_digit());
            }
        }
    }

    #[test]
    fn zero_width_urls_and_addresses() {
        assert_eq!(normalize("48\u{200B}29\u{FEFF}10"), "482910");
        assert_eq!(normalize("code:https://e.test/123456 ok"), "code:  ok");
        assert_eq!(normalize("mail 123456@x.test now"), "mail   now");
        assert_eq!(normalize("ｃｏｄｅ：１２３４"), "code:1234");
    }
}
