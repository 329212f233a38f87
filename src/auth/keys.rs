//! API keys: random base62 with a scope prefix; only their SHA-256 is stored.

use crate::store::{KeyKind, NewKey};
use rand::Rng;
use sha2::{Digest, Sha256};

const BASE62: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
/// 43 base62 characters carry 256 bits of entropy.
const KEY_BODY_LEN: usize = 43;
/// Characters of a key kept for listings: the prefix and four more.
const SHOWN_LEN: usize = 7;

/// Random base62 text of `len` characters from the OS-seeded CSPRNG.
pub fn random_base62(len: usize) -> String {
    let mut rng = rand::rngs::OsRng;
    (0..len)
        .map(|_| BASE62[rng.gen_range(0..BASE62.len())] as char)
        .collect()
}

/// A fresh key of `kind`: the plaintext to show once, and what the store keeps.
pub fn generate(kind: KeyKind, name: Option<String>) -> (String, NewKey) {
    let key = format!("{}{}", kind.prefix(), random_base62(KEY_BODY_LEN));
    let stored = NewKey {
        hash: hash_key(&key),
        prefix: key[..SHOWN_LEN].to_string(),
        name,
    };
    (key, stored)
}

pub fn hash_key(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}

/// The kind a presented key claims by its prefix, when it is well formed.
pub fn claimed_kind(key: &str) -> Option<KeyKind> {
    let kind = [KeyKind::Service, KeyKind::Tenant, KeyKind::Workspace, KeyKind::Inbox]
        .into_iter()
        .find(|k| key.starts_with(k.prefix()))?;
    let body = &key[3..];
    (body.len() == KEY_BODY_LEN && body.bytes().all(|b| b.is_ascii_alphanumeric())).then_some(kind)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_are_well_formed_and_distinct() {
        let (a, stored) = generate(KeyKind::Inbox, None);
        let (b, _) = generate(KeyKind::Inbox, None);
        assert_ne!(a, b);
        assert!(a.starts_with("ak_"));
        assert_eq!(claimed_kind(&a), Some(KeyKind::Inbox));
        assert_eq!(stored.hash, hash_key(&a));
        assert_eq!(stored.prefix.len(), SHOWN_LEN);
    }

    #[test]
    fn malformed_keys_claim_nothing() {
        assert_eq!(claimed_kind("ak_short"), None);
        assert_eq!(claimed_kind("xx_0123456789012345678901234567890123456789012"), None);
        assert_eq!(claimed_kind(&format!("tk_{}!", "a".repeat(42))), None);
    }
}
