//! The word lists of the code rules (API.md part 2 section 3) and how they are found:
//! case-insensitive, and for words of spaced scripts only as whole words, so `PIN` is
//! not found in "shipping" nor `ref` in "prefer". Han, kana and Hangul words need no
//! boundary: those scripts write no spaces.

use std::sync::LazyLock;

use regex::Regex;

fn regex(pattern: &str) -> Regex {
    Regex::new(pattern).expect("a valid static pattern")
}

/// Code keywords, longest first where one contains another.
pub(super) static KEYWORDS: LazyLock<Regex> = LazyLock::new(|| {
    regex(
        "(?i)security code|login code|one-time|passcode|verification|verificación|verificação|vérification|\
         authentication|verify|código|codice|code|otp|pin|2fa|kód|kod|код|\
         验证码|驗證碼|校验码|动态码|确认码|認証|コード|ワンタイム|인증번호|인증|코드",
    )
});

/// Words after which the first number is a phone number.
pub(super) static PHONE_WORDS: LazyLock<Regex> = LazyLock::new(|| regex("(?i)telephone|phone|tel|call|电话"));

/// Words after which the first number is a reference, not a code.
pub(super) static REFERENCE_WORDS: LazyLock<Regex> = LazyLock::new(|| {
    regex(
        r"(?i)order|invoice|receipt|ticket|account|booking|tracking|case|ref|transaction|customer|\
          bestellung|commande|pedido|no\.|#|订单|单号|注文|주문",
    )
});

/// Text with its characters indexed: the code rules count characters, regex counts bytes.
pub(super) struct Text {
    pub text: String,
    pub chars: Vec<char>,
    /// Character index of each byte offset that starts a character (and of the end).
    char_at: Vec<u32>,
}

impl Text {
    pub fn new(text: String) -> Self {
        let mut chars = Vec::with_capacity(text.len());
        let mut char_at = vec![0; text.len() + 1];
        for (n, (byte, c)) in text.char_indices().enumerate() {
            chars.push(c);
            char_at[byte] = n as u32;
        }
        char_at[text.len()] = chars.len() as u32;
        Self { text, chars, char_at }
    }

    pub fn char_index(&self, byte: usize) -> usize {
        self.char_at.get(byte).map_or(self.chars.len(), |&i| i as usize)
    }

    pub fn get(&self, i: usize) -> Option<char> {
        self.chars.get(i).copied()
    }

    /// The character before index `i`.
    pub fn before(&self, i: usize) -> Option<char> {
        i.checked_sub(1).and_then(|i| self.get(i))
    }
}

/// One word found: character range and the word in lower case.
#[derive(Debug, Clone)]
pub(super) struct Hit {
    pub start: usize,
    pub end: usize,
    pub word: String,
}

/// What may follow a word.
#[derive(Clone, Copy)]
pub(super) enum Right {
    /// Nothing of the word's script.
    Bound,
    /// An `s` (codes, PINs, OTPs).
    Plural,
    /// One or two letters (Slavic and Turkish cases of `kod`: kodu, кода, кодом).
    Inflected,
    /// Anything (orders, reference, accounts, called).
    Free,
}

/// Where a word must stand: whether a letter may precede it, and what may follow.
#[derive(Clone, Copy)]
pub(super) struct Rule {
    pub left_free: bool,
    pub right: Right,
}

const WHOLE: Rule = Rule {
    left_free: false,
    right: Right::Plural,
};
const ANYWHERE: Rule = Rule {
    left_free: true,
    right: Right::Free,
};

pub(super) fn keyword_rule(word: &str) -> Rule {
    match word {
        // Compounds end in it: passcode, Bestätigungscode, Sicherheitscode.
        "code" => Rule {
            left_free: true,
            right: Right::Plural,
        },
        "kod" | "kód" | "код" => Rule {
            left_free: false,
            right: Right::Inflected,
        },
        _ => WHOLE,
    }
}

pub(super) fn phone_rule(word: &str) -> Rule {
    match word {
        "tel" => Rule {
            left_free: false,
            right: Right::Bound,
        },
        "call" => Rule {
            left_free: false,
            right: Right::Free,
        },
        _ => WHOLE,
    }
}

pub(super) fn reference_rule(word: &str) -> Rule {
    match word {
        "#" => ANYWHERE,
        _ => Rule {
            left_free: false,
            right: Right::Free,
        },
    }
}

/// Every match of `re` in `text` that stands where its rule allows.
pub(super) fn hits(re: &Regex, text: &Text, rule: fn(&str) -> Rule) -> Vec<Hit> {
    re.find_iter(&text.text)
        .filter_map(|m| {
            let (start, end) = (text.char_index(m.start()), text.char_index(m.end()));
            let word = m.as_str().to_lowercase();
            let spaced = m.as_str().chars().next().is_some_and(|c| !is_unspaced(c));
            let rule = if spaced { rule(&word) } else { ANYWHERE };
            stands(text, start, end, rule).then_some(Hit { start, end, word })
        })
        .collect()
}

fn stands(text: &Text, start: usize, end: usize, rule: Rule) -> bool {
    if !rule.left_free && text.before(start).is_some_and(is_word) {
        return false;
    }
    let letters = text
        .chars
        .get(end..)
        .unwrap_or_default()
        .iter()
        .take(3)
        .take_while(|&&c| is_word(c))
        .count();
    match rule.right {
        Right::Free => true,
        Right::Bound => letters == 0,
        Right::Plural => letters == 0 || (letters == 1 && text.get(end).is_some_and(|c| c.eq_ignore_ascii_case(&'s'))),
        Right::Inflected => letters <= 2,
    }
}

/// A letter or digit of a script that separates words with spaces.
pub(super) fn is_word(c: char) -> bool {
    c.is_alphanumeric() && !is_unspaced(c)
}

/// Han, kana and Hangul.
pub(super) fn is_unspaced(c: char) -> bool {
    matches!(u32::from(c),
        0x1100..=0x11FF | 0x3040..=0x30FF | 0x3130..=0x318F | 0x31F0..=0x31FF | 0x3400..=0x4DBF
        | 0x4E00..=0x9FFF | 0xAC00..=0xD7AF | 0xF900..=0xFAFF | 0xFF66..=0xFF9F | 0x20000..=0x3FFFF)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(re: &Regex, s: &str, rule: fn(&str) -> Rule) -> Vec<String> {
        hits(re, &Text::new(s.to_string()), rule)
            .into_iter()
            .map(|h| h.word)
            .collect()
    }

    #[test]
    fn keywords_stand_as_words_or_compounds() {
        let k = |s| words(&KEYWORDS, s, keyword_rule);
        assert_eq!(k("Your PIN, your OTPs, your CODES"), ["pin", "otp", "code"]);
        assert_eq!(k("shipping pinned spinach"), Vec::<String>::new());
        assert_eq!(k("Ihr Bestätigungscode"), ["code"]);
        assert_eq!(k("Ваш код: 1234, кода"), ["код", "код"]);
        assert_eq!(k("kodiak"), Vec::<String>::new());
        assert_eq!(k("您的验证码：123456"), ["验证码"]);
        assert_eq!(k("인증번호 코드"), ["인증번호", "코드"]);
        assert_eq!(k("Your security code"), ["security code"]);
        assert_eq!(k("enable 2FA now"), ["2fa"]);
    }

    #[test]
    fn reference_and_phone_words() {
        assert_eq!(
            words(&REFERENCE_WORDS, "Order #12 prefer references", reference_rule),
            ["order", "#", "ref"]
        );
        assert_eq!(
            words(&PHONE_WORDS, "Tel: 1, telegram, recall, call us, phones", phone_rule),
            ["tel", "call", "phone"]
        );
    }
}
