//! Value encoding: one version byte, then postcard. Keys are fixed-width big-endian
//! so that range scans come out in order.

use super::StoreError;
use serde::Serialize;
use serde::de::DeserializeOwned;
use uuid::Uuid;

/// Version of the value layout written by this binary.
const VALUE_VERSION: u8 = 1;

pub fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    // Serializing plain structs into a Vec cannot fail; an empty record is the
    // only thing left if it ever did, and decode reports that as corruption.
    postcard::to_extend(value, vec![VALUE_VERSION]).unwrap_or_default()
}

pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, StoreError> {
    match bytes.split_first() {
        Some((&VALUE_VERSION, rest)) => {
            postcard::from_bytes(rest).map_err(|e| StoreError::Corrupt(format!("undecodable record: {e}")))
        }
        Some((v, _)) => Err(StoreError::Corrupt(format!(
            "record version {v} is unknown to this binary"
        ))),
        None => Err(StoreError::Corrupt("empty record".into())),
    }
}

/// Concatenates key parts into one key.
pub fn key(parts: &[&[u8]]) -> Vec<u8> {
    let mut k = Vec::with_capacity(parts.iter().map(|p| p.len()).sum());
    for p in parts {
        k.extend_from_slice(p);
    }
    k
}

pub fn uuid_from(bytes: &[u8]) -> Result<Uuid, StoreError> {
    Uuid::from_slice(bytes).map_err(|_| StoreError::Corrupt("bad id in key".into()))
}

pub fn u32_from(bytes: &[u8]) -> Result<u32, StoreError> {
    bytes
        .try_into()
        .map(u32::from_be_bytes)
        .map_err(|_| StoreError::Corrupt("bad u32 in key".into()))
}

pub fn u64_from(bytes: &[u8]) -> Result<u64, StoreError> {
    bytes
        .try_into()
        .map(u64::from_be_bytes)
        .map_err(|_| StoreError::Corrupt("bad u64 in key".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_version_check() {
        let bytes = encode(&(7u32, "x".to_string()));
        assert_eq!(bytes[0], VALUE_VERSION);
        let back: (u32, String) = decode(&bytes).unwrap();
        assert_eq!(back, (7, "x".into()));
        let mut newer = bytes.clone();
        newer[0] = 99;
        assert!(decode::<(u32, String)>(&newer).is_err());
        assert!(decode::<(u32, String)>(&[]).is_err());
    }
}
