//! Inbox passwords: argon2id at rest, random when the caller gives none.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

pub const MIN_PASSWORD_LEN: usize = 12;
pub const MAX_PASSWORD_LEN: usize = 256;
const GENERATED_LEN: usize = 24;

/// argon2id with the configured cost.
#[derive(Clone)]
pub struct PasswordHasherConfig {
    params: Params,
}

impl PasswordHasherConfig {
    pub fn new(memory_kib: u32, iterations: u32, lanes: u32) -> Result<Self, String> {
        let params = Params::new(memory_kib, iterations, lanes, None).map_err(|e| e.to_string())?;
        Ok(PasswordHasherConfig { params })
    }

    fn argon2(&self) -> Argon2<'static> {
        Argon2::new(Algorithm::Argon2id, Version::V0x13, self.params.clone())
    }

    /// The PHC string of `password` with a fresh salt. CPU-heavy: call off the async threads.
    pub fn hash(&self, password: &str) -> Result<String, String> {
        let salt = SaltString::generate(&mut rand::rngs::OsRng);
        self.argon2()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| e.to_string())
    }

    /// Checks `password` against a PHC string (its own parameters apply).
    pub fn verify(&self, phc: &str, password: &str) -> bool {
        match PasswordHash::new(phc) {
            Ok(parsed) => self.argon2().verify_password(password.as_bytes(), &parsed).is_ok(),
            Err(_) => false,
        }
    }
}

pub fn generate_password() -> String {
    super::keys::random_base62(GENERATED_LEN)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_then_verify() {
        let hasher = PasswordHasherConfig::new(64, 1, 1).unwrap();
        let phc = hasher.hash("correct horse battery").unwrap();
        assert!(phc.starts_with("$argon2id$"));
        assert!(hasher.verify(&phc, "correct horse battery"));
        assert!(!hasher.verify(&phc, "wrong"));
        assert!(!hasher.verify("not a hash", "x"));
        assert_eq!(generate_password().len(), GENERATED_LEN);
    }
}
