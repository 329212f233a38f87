//! JSON in and out: reading a request body (413, 415, 400) and building replies.

use super::errors::ApiError;
use bytes::Bytes;
use http_body_util::{BodyExt, Limited};
use hyper::StatusCode;
use hyper::body::{Body, Incoming};
use hyper::header::{CONTENT_LENGTH, CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::error::Category;

pub const JSON_TYPE: &str = "application/json; charset=utf-8";

/// A reply before the common headers are added.
pub struct Out {
    pub status: StatusCode,
    pub body: Bytes,
    pub content_type: &'static str,
    pub header: Option<(HeaderName, HeaderValue)>,
}

impl Out {
    pub fn json_bytes(status: StatusCode, body: Vec<u8>) -> Out {
        Out {
            status,
            body: Bytes::from(body),
            content_type: JSON_TYPE,
            header: None,
        }
    }
}

/// Serializes `value` as the reply body.
pub fn reply<T: Serialize>(status: StatusCode, value: &T) -> Result<Out, ApiError> {
    let mut body = Vec::with_capacity(512);
    serde_json::to_writer(&mut body, value).map_err(ApiError::bug)?;
    Ok(Out::json_bytes(status, body))
}

/// Reads a JSON object body into `T`; `Ok(None)` when there is no body at all.
pub async fn read<T: DeserializeOwned>(
    headers: &HeaderMap,
    body: Incoming,
    limit: usize,
) -> Result<Option<T>, ApiError> {
    if body.is_end_stream() {
        return Ok(None);
    }
    if !is_json(headers) {
        return Err(ApiError::unsupported_media_type());
    }
    let declared = headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(ApiError::too_large(limit));
    }
    let bytes = match Limited::new(body, limit).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => return Err(ApiError::too_large(limit)),
        Err(_) => return Err(ApiError::invalid_json("The body could not be read.")),
    };
    parse(&bytes)
}

/// Parses a body already read; whitespace only counts as no body.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<Option<T>, ApiError> {
    let Some(first) = bytes.iter().find(|b| !b.is_ascii_whitespace()) else {
        return Ok(None);
    };
    if *first != b'{' {
        // serde would read a JSON array into a struct by position: refuse it here.
        return Err(match serde_json::from_slice::<serde::de::IgnoredAny>(bytes) {
            Ok(_) => ApiError::validation("The body must be a JSON object."),
            Err(e) => ApiError::invalid_json(format!("Malformed JSON: {e}.")),
        });
    }
    serde_json::from_slice(bytes).map(Some).map_err(|e| match e.classify() {
        Category::Data => ApiError::validation(format!("Invalid field: {e}.")),
        _ => ApiError::invalid_json(format!("Malformed JSON: {e}.")),
    })
}

/// `application/json`, with or without parameters such as `charset=utf-8`.
fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|media| media.trim().eq_ignore_ascii_case("application/json"))
}

/// A time as RFC 3339 UTC with seconds (`2026-11-23T10:00:00Z`), from unix milliseconds.
pub struct Time(pub i64);

impl std::fmt::Display for Time {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let t = time::OffsetDateTime::from_unix_timestamp(self.0.div_euclid(1000))
            .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
        write!(
            f,
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute(),
            t.second()
        )
    }
}

impl Serialize for Time {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// For PATCH fields where `null` (clear) differs from absent (leave alone):
/// use with `#[serde(default, deserialize_with = "nullable")]` on an `Option<Option<T>>`.
pub fn nullable<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

use serde::Deserialize;

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Body {
        #[allow(dead_code)]
        name: Option<String>,
        #[serde(default, deserialize_with = "nullable")]
        note: Option<Option<String>>,
    }

    #[test]
    fn bodies_are_objects_with_known_fields() {
        assert!(parse::<Body>(b"  ").unwrap().is_none());
        assert_eq!(parse::<Body>(br#"{"note":null}"#).unwrap().unwrap().note, Some(None));
        assert_eq!(parse::<Body>(br#"{}"#).unwrap().unwrap().note, None);
        let code = |b: &[u8]| parse::<Body>(b).unwrap_err().code;
        assert_eq!(code(b"{\"name\":"), "INVALID_JSON");
        assert_eq!(code(b"[\"x\"]"), "VALIDATION_ERROR");
        assert_eq!(code(b"nope"), "INVALID_JSON");
        assert_eq!(code(b"{\"name\":5}"), "VALIDATION_ERROR");
        assert_eq!(code(b"{\"nmae\":\"x\"}"), "VALIDATION_ERROR");
        assert_eq!(code(b"{\"name\":\"a\",\"name\":\"b\"}"), "VALIDATION_ERROR");
        assert_eq!(code(b"{\"name\":\"\xff\"}"), "INVALID_JSON");
    }

    #[test]
    fn times_are_rfc3339_utc_seconds() {
        assert_eq!(Time(1_795_428_000_123).to_string(), "2026-11-23T10:00:00Z");
        assert_eq!(Time(0).to_string(), "1970-01-01T00:00:00Z");
    }
}
