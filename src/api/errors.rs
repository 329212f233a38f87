//! The JSON error body and its codes (API.md "Errors"):
//! `{"error": <reason phrase>, "code": <CODE>, "message": <sentence>, "statusCode": N}`.

use super::Out;
use crate::store::StoreError;
use hyper::StatusCode;
use hyper::header::{ALLOW, HeaderName, HeaderValue, RETRY_AFTER, WWW_AUTHENTICATE};
use serde::Serialize;
use std::borrow::Cow;

/// The same sentence for every kind of bad key, so a caller learns nothing from it.
const UNAUTHORIZED_MESSAGE: &str =
    "Authentication required. Provide a valid API key as Authorization: Bearer <key> or X-API-Key: <key>.";
/// What clients are told to wait before retrying a 503.
const UNAVAILABLE_RETRY_SECS: u32 = 5;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: Cow<'static, str>,
    /// The rarer parts, boxed so that every `Result` stays small.
    extra: Option<Box<Extra>>,
}

#[derive(Debug, Default)]
struct Extra {
    /// Extra body fields (the strict 409 says which usernames it was about).
    fields: Vec<(&'static str, String)>,
    header: Option<(HeaderName, HeaderValue)>,
    /// What went wrong inside: logged with the request id, never sent.
    internal: Option<String>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<Cow<'static, str>>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
            extra: None,
        }
    }

    fn extra(&mut self) -> &mut Extra {
        self.extra.get_or_insert_with(Default::default)
    }

    pub fn with_field(mut self, name: &'static str, value: impl Into<String>) -> ApiError {
        self.extra().fields.push((name, value.into()));
        self
    }

    fn with_header(mut self, name: HeaderName, value: HeaderValue) -> ApiError {
        self.extra().header = Some((name, value));
        self
    }

    fn with_internal(mut self, detail: impl std::fmt::Display) -> ApiError {
        self.extra().internal = Some(detail.to_string());
        self
    }

    /// What went wrong inside, for the log.
    pub fn internal(&self) -> Option<&str> {
        self.extra.as_ref()?.internal.as_deref()
    }

    pub fn validation(message: impl Into<Cow<'static, str>>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "VALIDATION_ERROR", message)
    }

    pub fn invalid_json(message: impl Into<Cow<'static, str>>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "INVALID_JSON", message)
    }

    pub fn unauthorized() -> ApiError {
        // RFC 9110 11.6.1 / RFC 6750 3: a 401 names the scheme to use.
        ApiError::new(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", UNAUTHORIZED_MESSAGE).with_header(
            WWW_AUTHENTICATE,
            HeaderValue::from_static(r#"Bearer realm="API", charset="UTF-8""#),
        )
    }

    pub fn forbidden(message: impl Into<Cow<'static, str>>) -> ApiError {
        ApiError::new(StatusCode::FORBIDDEN, "FORBIDDEN", message)
    }

    pub fn not_found(what: &str) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "NOT_FOUND", format!("No such {what}."))
    }

    /// RFC 9110 15.5.6: a 405 lists the methods the resource has.
    pub fn method_not_allowed(allow: &'static str) -> ApiError {
        ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "METHOD_NOT_ALLOWED",
            format!("This path allows {allow}."),
        )
        .with_header(ALLOW, HeaderValue::from_static(allow))
    }

    pub fn conflict(code: &'static str, message: impl Into<Cow<'static, str>>) -> ApiError {
        ApiError::new(StatusCode::CONFLICT, code, message)
    }

    pub fn too_large(limit: usize) -> ApiError {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "PAYLOAD_TOO_LARGE",
            format!("The body is larger than {limit} bytes."),
        )
    }

    pub fn unsupported_media_type() -> ApiError {
        ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "UNSUPPORTED_MEDIA_TYPE",
            "The body must be JSON, sent with Content-Type: application/json.",
        )
    }

    pub fn rate_limited(retry_after: u64) -> ApiError {
        ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "RATE_LIMITED",
            "Too many requests for this key; retry after the time in Retry-After.",
        )
        .with_header(RETRY_AFTER, HeaderValue::from(retry_after.max(1)))
    }

    pub fn unavailable(message: impl Into<Cow<'static, str>>) -> ApiError {
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "UNAVAILABLE", message)
            .with_header(RETRY_AFTER, HeaderValue::from(UNAVAILABLE_RETRY_SECS))
    }

    pub fn bug(detail: impl std::fmt::Display) -> ApiError {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "INTERNAL",
            "Internal error; it has been logged with the request id.",
        )
        .with_internal(detail)
    }

    /// The response: the JSON body and the header this error carries.
    pub fn into_out(self) -> Out {
        let body = Body {
            error: self.status.canonical_reason().unwrap_or("Error"),
            code: self.code,
            message: &self.message,
            status_code: self.status.as_u16(),
            fields: Fields(self.extra.as_ref().map_or(&[], |e| &e.fields)),
        };
        let mut out = Out::json_bytes(self.status, serde_json::to_vec(&body).unwrap_or_default());
        out.header = self.extra.and_then(|e| e.header);
        out
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Body<'a> {
    error: &'a str,
    code: &'a str,
    message: &'a str,
    status_code: u16,
    #[serde(flatten)]
    fields: Fields<'a>,
}

struct Fields<'a>(&'a [(&'static str, String)]);

impl Serialize for Fields<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.0.iter().map(|(name, value)| (name, value)))
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> ApiError {
        match e {
            StoreError::NotFound => ApiError::not_found("resource"),
            StoreError::Conflict(m) => ApiError::conflict("ALREADY_EXISTS", m),
            StoreError::Limit(m) => ApiError::new(StatusCode::FORBIDDEN, "PLAN_LIMIT", m),
            StoreError::Io(e) => ApiError::unavailable("The store is unavailable; try again shortly.").with_internal(e),
            other => ApiError::bug(other),
        }
    }
}
