//! DKIM (RFC 6376): one key pair per sending domain, made on first use and kept
//! in the store; outgoing mail is signed once, when it is queued. The record to
//! publish is `{selector}._domainkey.{domain} TXT "v=DKIM1; k=...; p=..."`.

use crate::config::Config;
use crate::store::{DkimKeyRecord, Store, StoreError, now_millis};
use base64::Engine;
use mail_auth::common::crypto::{Ed25519Key, RsaKey, Sha256, SigningKey};
use mail_auth::common::headers::HeaderWriter;
use mail_auth::dkim::generate::DkimKeyPair;
use mail_auth::dkim::{Canonicalization, DkimSigner, Done};
use parking_lot::Mutex;
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs1KeyDer};
use std::collections::HashMap;
use std::sync::Arc;

/// Header fields covered by the signature (RFC 6376 5.4.1: From is required; the
/// rest are the ones whose change would alter what the reader sees).
const SIGNED_HEADERS: [&str; 13] = [
    "From",
    "Reply-To",
    "Subject",
    "Date",
    "To",
    "Cc",
    "Message-ID",
    "In-Reply-To",
    "References",
    "MIME-Version",
    "Content-Type",
    "Content-Transfer-Encoding",
    "List-Unsubscribe",
];

#[derive(Debug, thiserror::Error)]
pub enum DkimError {
    #[error("DKIM key for {0}: {1}")]
    Crypto(String, String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A ready signer: the key parsed, domain, selector and headers set.
enum Key {
    Rsa(DkimSigner<RsaKey<Sha256>, Done>),
    Ed25519(DkimSigner<Ed25519Key, Done>),
}

/// Parsed keys by domain, so a key is decoded once per process, not per message.
#[derive(Default)]
pub struct Signers {
    keys: Mutex<HashMap<String, Arc<(DkimKeyRecord, Key)>>>,
}

impl Signers {
    /// Returns `raw` with a DKIM-Signature for `domain` in front.
    pub async fn sign(&self, store: &Store, config: &Config, domain: &str, raw: &[u8]) -> Result<Vec<u8>, DkimError> {
        let entry = self.key(store, config, domain).await?;
        if matches!(entry.1, Key::Ed25519(_)) {
            return sign_with(&entry.1, domain, raw);
        }
        // An RSA-2048 signature takes most of a millisecond: keep it off the
        // threads that serve sessions.
        let (domain, raw) = (domain.to_string(), raw.to_vec());
        tokio::task::spawn_blocking(move || sign_with(&entry.1, &domain, &raw))
            .await
            .map_err(|e| DkimError::Crypto(String::new(), e.to_string()))?
    }

    async fn key(&self, store: &Store, config: &Config, domain: &str) -> Result<Arc<(DkimKeyRecord, Key)>, DkimError> {
        let name = domain.to_ascii_lowercase();
        if let Some(k) = self.keys.lock().get(&name) {
            return Ok(k.clone());
        }
        let record = key_record(store, config, &name).await?;
        let key = parse_key(&record)?;
        let entry = Arc::new((record, key));
        self.keys.lock().insert(name, entry.clone());
        Ok(entry)
    }
}

/// The message with its DKIM-Signature header in front.
fn sign_with(key: &Key, domain: &str, raw: &[u8]) -> Result<Vec<u8>, DkimError> {
    let crypto = |e: mail_auth::Error| DkimError::Crypto(domain.to_string(), e.to_string());
    let header = match key {
        Key::Rsa(signer) => signer.sign(raw).map_err(crypto)?.to_header(),
        Key::Ed25519(signer) => signer.sign(raw).map_err(crypto)?.to_header(),
    };
    let mut out = Vec::with_capacity(header.len() + raw.len());
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(raw);
    Ok(out)
}

fn parse_key(record: &DkimKeyRecord) -> Result<Key, DkimError> {
    let crypto = |e: mail_auth::Error| DkimError::Crypto(record.domain.clone(), e.to_string());
    Ok(match record.algorithm.as_str() {
        "ed25519" => Key::Ed25519(signer(
            record,
            Ed25519Key::from_pkcs8_der(&record.private_der).map_err(crypto)?,
        )),
        _ => {
            let der = PrivateKeyDer::Pkcs1(PrivatePkcs1KeyDer::from(record.private_der.as_slice()));
            Key::Rsa(signer(record, RsaKey::<Sha256>::from_key_der(der).map_err(crypto)?))
        }
    })
}

/// Relaxed/relaxed, the canonicalization that survives the
/// header refolding and whitespace changes relays make.
fn signer<T: SigningKey>(record: &DkimKeyRecord, key: T) -> DkimSigner<T, Done> {
    DkimSigner::from_key(key)
        .domain(record.domain.clone())
        .selector(record.selector.clone())
        .headers(SIGNED_HEADERS)
        .header_canonicalization(Canonicalization::Relaxed)
        .body_canonicalization(Canonicalization::Relaxed)
}

/// The domain's key, made and stored on first use.
pub async fn key_record(store: &Store, config: &Config, domain: &str) -> Result<DkimKeyRecord, DkimError> {
    let domain = domain.to_ascii_lowercase();
    if let Some(record) = store.dkim_key(&domain)? {
        return Ok(record);
    }
    let algorithm = config.delivery.dkim_algorithm_for(&domain).to_string();
    let selector = config.delivery.dkim_selector.clone();
    let name = domain.clone();
    // RSA key generation takes a while: keep it off the runtime threads.
    let generated = tokio::task::spawn_blocking(move || generate(&name, &selector, &algorithm))
        .await
        .map_err(|e| DkimError::Crypto(domain.clone(), e.to_string()))??;
    tracing::info!(domain = %domain, algorithm = %generated.algorithm, "generated a DKIM key; publish it (mailroom dkim-record)");
    Ok(store.put_dkim_key_if_absent(&generated).await?)
}

fn generate(domain: &str, selector: &str, algorithm: &str) -> Result<DkimKeyRecord, DkimError> {
    let crypto = |e: mail_auth::Error| DkimError::Crypto(domain.to_string(), e.to_string());
    let pair = match algorithm {
        "ed25519" => DkimKeyPair::generate_ed25519().map_err(crypto)?,
        _ => DkimKeyPair::generate_rsa(2048).map_err(crypto)?,
    };
    let (private_der, public_key) = pair.into_inner();
    Ok(DkimKeyRecord {
        domain: domain.to_string(),
        selector: selector.to_string(),
        algorithm: if algorithm == "ed25519" { "ed25519" } else { "rsa" }.to_string(),
        private_der,
        public_key,
        created_at: now_millis(),
    })
}

/// The DNS name and TXT value to publish for a key.
pub fn dns_record(record: &DkimKeyRecord) -> (String, String) {
    let name = format!("{}._domainkey.{}", record.selector, record.domain);
    let public = match record.algorithm.as_str() {
        // RFC 8463 3: the raw 32-byte key.
        "ed25519" => record.public_key.clone(),
        // The SubjectPublicKeyInfo form, which `openssl rsa -pubout` gives and every
        // verifier reads (RFC 6376 3.6.1 names the bare RSAPublicKey; most accept both).
        _ => rsa_spki(&record.public_key),
    };
    let p = base64::engine::general_purpose::STANDARD.encode(public);
    let k = if record.algorithm == "ed25519" {
        "ed25519"
    } else {
        "rsa"
    };
    (name, format!("v=DKIM1; k={k}; p={p}"))
}

/// A zone-file line for the record, the value split into strings of at most 255
/// bytes (RFC 1035 3.3.14; RFC 6376 3.6.2.2 joins them back).
pub fn zone_line(record: &DkimKeyRecord) -> String {
    let (name, value) = dns_record(record);
    let parts: Vec<String> = value
        .as_bytes()
        .chunks(255)
        .map(|c| format!("\"{}\"", String::from_utf8_lossy(c)))
        .collect();
    format!("{name}. IN TXT ( {} )", parts.join(" "))
}

/// Wraps a PKCS#1 RSAPublicKey in a SubjectPublicKeyInfo (RFC 5280 4.1, RFC 8017 A.1).
fn rsa_spki(pkcs1: &[u8]) -> Vec<u8> {
    // SEQUENCE { OID 1.2.840.113549.1.1.1 (rsaEncryption), NULL }
    const ALGORITHM: [u8; 15] = [
        0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00,
    ];
    let mut bit_string = vec![0x03];
    der_len(&mut bit_string, pkcs1.len() + 1);
    bit_string.push(0); // no unused bits
    bit_string.extend_from_slice(pkcs1);
    let mut out = vec![0x30];
    der_len(&mut out, ALGORITHM.len() + bit_string.len());
    out.extend_from_slice(&ALGORITHM);
    out.extend_from_slice(&bit_string);
    out
}

fn der_len(out: &mut Vec<u8>, len: usize) {
    if len < 0x80 {
        out.push(len as u8);
        return;
    }
    let bytes: Vec<u8> = len.to_be_bytes().into_iter().skip_while(|b| *b == 0).collect();
    out.push(0x80 | bytes.len() as u8);
    out.extend_from_slice(&bytes);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_records_are_split_and_lengths_are_der() {
        let record = DkimKeyRecord {
            domain: "example.test".into(),
            selector: "mailroom".into(),
            algorithm: "rsa".into(),
            private_der: Vec::new(),
            public_key: vec![7; 270],
            created_at: 0,
        };
        let line = zone_line(&record);
        assert!(line.starts_with("mailroom._domainkey.example.test. IN TXT ( \"v=DKIM1; k=rsa; p=MIIB"));
        assert_eq!(line.matches('"').count(), 4, "{line}");
        let mut v = Vec::new();
        der_len(&mut v, 0x7f);
        der_len(&mut v, 0x80);
        der_len(&mut v, 0x1234);
        assert_eq!(v, [0x7f, 0x81, 0x80, 0x82, 0x12, 0x34]);
    }
}
