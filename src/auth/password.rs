//! Inbox passwords: argon2id at rest, random when the caller gives none.
//!
//! argon2 runs in working memory the caller keeps between runs ([`Memory`]): a fresh
//! `argon2_memory_kib` allocation per run comes fresh from the system, and faulting
//! in and zeroing 19 MiB costs about as much as the hash itself.

use argon2::password_hash::{Output, ParamsString, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};

pub const MIN_PASSWORD_LEN: usize = 12;
pub const MAX_PASSWORD_LEN: usize = 256;
const GENERATED_LEN: usize = 24;

/// argon2id with the configured cost.
#[derive(Clone)]
pub struct PasswordHasherConfig {
    params: Params,
}

/// argon2 working memory, reused from one run to the next.
#[derive(Default)]
pub struct Memory(Vec<Block>);

impl Memory {
    fn blocks(&mut self, params: &Params) -> &mut [Block] {
        let need = params.block_count();
        if self.0.len() < need {
            self.0.resize(need, Block::default());
        }
        &mut self.0[..need]
    }
}

impl PasswordHasherConfig {
    pub fn new(memory_kib: u32, iterations: u32, lanes: u32) -> Result<Self, String> {
        let params = Params::new(memory_kib, iterations, lanes, None).map_err(|e| e.to_string())?;
        Ok(PasswordHasherConfig { params })
    }

    /// The PHC string of `password` with a fresh salt. CPU-heavy: call off the async threads.
    pub fn hash(&self, password: &str, memory: &mut Memory) -> Result<String, String> {
        let salt = SaltString::generate(&mut rand::rngs::OsRng);
        let mut salt_buf = [0u8; 64];
        let salt_bytes = salt.as_salt().decode_b64(&mut salt_buf).map_err(|e| e.to_string())?;
        let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
        Argon2::new(Algorithm::Argon2id, Version::V0x13, self.params.clone())
            .hash_password_into_with_memory(password.as_bytes(), salt_bytes, &mut out, memory.blocks(&self.params))
            .map_err(|e| e.to_string())?;
        let phc = PasswordHash {
            algorithm: Algorithm::Argon2id.ident(),
            version: Some(Version::V0x13.into()),
            params: ParamsString::try_from(&self.params).map_err(|e| e.to_string())?,
            salt: Some(salt.as_salt()),
            hash: Some(Output::new(&out).map_err(|e| e.to_string())?),
        };
        Ok(phc.to_string())
    }

    /// Checks `password` against a PHC string (its own parameters apply).
    pub fn verify(&self, phc: &str, password: &str, memory: &mut Memory) -> bool {
        verify_phc(phc, password, memory).unwrap_or(false)
    }
}

fn verify_phc(phc: &str, password: &str, memory: &mut Memory) -> Option<bool> {
    let parsed = PasswordHash::new(phc).ok()?;
    let algorithm = Algorithm::try_from(parsed.algorithm).ok()?;
    let version = match parsed.version {
        Some(v) => Version::try_from(v).ok()?,
        None => Version::default(),
    };
    let params = Params::try_from(&parsed).ok()?;
    let (salt, expected) = (parsed.salt?, parsed.hash?);
    let mut salt_buf = [0u8; 64];
    let salt = salt.decode_b64(&mut salt_buf).ok()?;
    let mut out = vec![0u8; expected.len()];
    Argon2::new(algorithm, version, params.clone())
        .hash_password_into_with_memory(password.as_bytes(), salt, &mut out, memory.blocks(&params))
        .ok()?;
    // Output's equality is constant-time.
    Some(Output::new(&out).ok()? == expected)
}

pub fn generate_password() -> String {
    super::keys::random_base62(GENERATED_LEN)
}

#[cfg(test)]
mod tests {
    use super::*;
    use argon2::password_hash::{PasswordHasher, PasswordVerifier};

    #[test]
    fn hash_then_verify() {
        let hasher = PasswordHasherConfig::new(64, 1, 1).unwrap();
        let mut memory = Memory::default();
        let phc = hasher.hash("correct horse battery", &mut memory).unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=64,t=1,p=1$"), "{phc}");
        assert!(hasher.verify(&phc, "correct horse battery", &mut memory));
        assert!(!hasher.verify(&phc, "wrong", &mut memory));
        assert!(!hasher.verify("not a hash", "x", &mut memory));
        assert_eq!(generate_password().len(), GENERATED_LEN);
    }

    #[test]
    fn agrees_with_the_argon2_crate_both_ways() {
        let ours = PasswordHasherConfig::new(256, 2, 2).unwrap();
        let theirs = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(256, 2, 2, None).unwrap(),
        );
        let mut memory = Memory::default();
        let salt = SaltString::generate(&mut rand::rngs::OsRng);
        let phc = theirs.hash_password(b"pw-123456789", &salt).unwrap().to_string();
        assert!(ours.verify(&phc, "pw-123456789", &mut memory));
        // A stored hash of other parameters, then ours again: the memory adapts.
        let small = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(32, 1, 1, None).unwrap(),
        );
        let other = small.hash_password(b"pw-123456789", &salt).unwrap().to_string();
        assert!(ours.verify(&other, "pw-123456789", &mut memory));
        let mine = ours.hash("pw-123456789", &mut memory).unwrap();
        let parsed = PasswordHash::new(&mine).unwrap();
        assert!(theirs.verify_password(b"pw-123456789", &parsed).is_ok());
        assert!(theirs.verify_password(b"pw-12345678", &parsed).is_err());
    }
}
