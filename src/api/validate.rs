//! Field rules shared by the handlers. Each returns the clean value or a 400
//! that names the field.

use super::errors::ApiError;
use crate::auth::password::{MAX_PASSWORD_LEN, MIN_PASSWORD_LEN};
use crate::store::MAX_USERNAME;

const MAX_NAME: usize = 256;
const MAX_SLUG: usize = 64;
/// Room for the numeric fallback (`name99`) after a generated username or slug.
const GENERATED_ROOM: usize = 3;

/// 1 to 64 of `a-z 0-9 . - _`, lower-cased, not starting or ending with `.`; no
/// `..` either, which no mail address may hold (RFC 5322 3.4.1 dot-atom).
pub fn username(value: &str) -> Result<String, ApiError> {
    let u = value.to_ascii_lowercase();
    let ok = (1..=MAX_USERNAME).contains(&u.len())
        && u.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
        && !u.starts_with('.')
        && !u.ends_with('.')
        && !u.contains("..");
    if !ok {
        return Err(ApiError::validation(format!(
            "username must be 1 to {MAX_USERNAME} of a-z 0-9 . - _, not starting or ending with a dot."
        )));
    }
    Ok(u)
}

/// A username made from a tenant's name: its letters and digits, other runs as `-`.
pub fn username_from(name: &str) -> String {
    let made = slugify(name, MAX_USERNAME - GENERATED_ROOM);
    if made.is_empty() { "agent".into() } else { made }
}

/// A display name, tenant or workspace name: no control characters (CR, LF, NUL ...).
pub fn name(field: &str, value: &str, required: bool) -> Result<String, ApiError> {
    let count = value.chars().count();
    if (required && value.trim().is_empty()) || count > MAX_NAME || value.chars().any(char::is_control) {
        let need = if required { "1 to" } else { "at most" };
        return Err(ApiError::validation(format!(
            "{field} must be {need} {MAX_NAME} characters without control characters."
        )));
    }
    Ok(value.to_string())
}

/// An inbox password chosen by the caller.
pub fn password(value: &str) -> Result<String, ApiError> {
    let count = value.chars().count();
    if !(MIN_PASSWORD_LEN..=MAX_PASSWORD_LEN).contains(&count) || value.chars().any(char::is_control) {
        return Err(ApiError::validation(format!(
            "password must be {MIN_PASSWORD_LEN} to {MAX_PASSWORD_LEN} characters without control characters."
        )));
    }
    Ok(value.to_string())
}

/// A workspace slug: 1 to 64 of `a-z 0-9 -`, not starting or ending with `-`.
pub fn slug(value: &str) -> Result<String, ApiError> {
    let s = value.to_ascii_lowercase();
    let ok = (1..=MAX_SLUG).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-');
    if !ok {
        return Err(ApiError::validation(format!(
            "slug must be 1 to {MAX_SLUG} of a-z 0-9 -, not starting or ending with -."
        )));
    }
    Ok(s)
}

/// A slug made from a workspace name.
pub fn slug_from(name: &str) -> String {
    let made = slugify(name, MAX_SLUG - GENERATED_ROOM);
    if made.is_empty() { "workspace".into() } else { made }
}

/// Lower-case ASCII letters and digits, each run of anything else one `-`, at most `max` long.
fn slugify(text: &str, max: usize) -> String {
    let mut out = String::new();
    for c in text.chars().map(|c| c.to_ascii_lowercase()) {
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            out.push(c);
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
        if out.len() >= max {
            break;
        }
    }
    out.trim_end_matches('-').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames() {
        assert_eq!(username("Scout.Two_3-x").unwrap(), "scout.two_3-x");
        for bad in ["", ".a", "a.", "a..b", "a b", "a@b", "ä", "a\r\nb", &"a".repeat(65)] {
            assert!(username(bad).is_err(), "{bad:?}");
        }
        assert!(username(&"a".repeat(64)).is_ok());
        assert_eq!(username_from("Acme Agents, Inc."), "acme-agents-inc");
        assert_eq!(username_from("!!!"), "agent");
        let long = username_from(&"ab ".repeat(40));
        assert!(long.len() <= 61 && username(&long).is_ok(), "{long}");
    }

    #[test]
    fn names_slugs_passwords() {
        assert!(name("name", "Scout", true).is_ok());
        assert!(name("name", "  ", true).is_err());
        assert!(name("displayName", "", false).is_ok());
        assert!(name("name", "a\nb", true).is_err());
        assert!(name("name", "a\u{7f}b", true).is_err());
        assert!(name("name", &"é".repeat(256), true).is_ok());
        assert!(name("name", &"é".repeat(257), true).is_err());
        assert_eq!(slug("Team-1").unwrap(), "team-1");
        assert!(slug("-x").is_err() && slug("a_b").is_err());
        assert_eq!(slug_from("Sales & Support"), "sales-support");
        assert!(password("short").is_err());
        assert!(password("twelve chars").is_ok());
        assert!(password("twelve\tchars").is_err());
    }
}
