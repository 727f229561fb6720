//! Extractors that answer bad input with `ApiError` (problem+json), never with axum's plain-text
//! rejections.

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::http::error::{ApiError, FieldProblem};

/// A JSON body; errors carry the JSON Pointer of the offending field.
#[derive(Debug, Clone)]
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_json = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.split(';').next())
            .is_some_and(|mime| {
                let mime = mime.trim();
                mime.eq_ignore_ascii_case("application/json") || mime.ends_with("+json")
            });
        if !is_json {
            return Err(ApiError::UnsupportedMediaType);
        }
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(body_rejection)?;
        parse_json(&bytes).map(ApiJson)
    }
}

/// Parses JSON bytes into `T`, naming the failing field. Text holding U+0000 is refused (422,
/// naming the field): Postgres cannot store it, and no field of the API needs it.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if has_nul_escape(bytes)
        && let Ok(value) = serde_json::from_slice::<serde_json::Value>(bytes)
        && let Some(pointer) = pointer_to_nul(&value, String::new())
    {
        return Err(ApiError::Validation(vec![FieldProblem {
            pointer,
            message: "must not contain U+0000 (NUL)".into(),
        }]));
    }
    let deserializer = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(deserializer).map_err(|error| {
        let pointer = pointer_of(error.path());
        let inner = error.into_inner();
        if inner.is_data() {
            return ApiError::Validation(vec![FieldProblem {
                pointer,
                message: inner.to_string(),
            }]);
        }
        ApiError::MalformedBody(inner.to_string())
    })
}

/// Whether the JSON text has a `\u0000` escape (raw NUL bytes are not valid JSON at all). The
/// cheap scan keeps the full walk off the common path.
fn has_nul_escape(bytes: &[u8]) -> bool {
    bytes.windows(6).enumerate().any(|(at, window)| {
        window == b"\\u0000"
            && bytes[..at]
                .iter()
                .rev()
                .take_while(|&&byte| byte == b'\\')
                .count()
                % 2
                == 0
    })
}

/// The JSON Pointer of the first string (value or key) holding U+0000.
fn pointer_to_nul(value: &serde_json::Value, at: String) -> Option<String> {
    let escape = |key: &str| key.replace('~', "~0").replace('/', "~1");
    match value {
        serde_json::Value::String(text) => text.contains('\0').then_some(at),
        serde_json::Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(index, item)| pointer_to_nul(item, format!("{at}/{index}"))),
        serde_json::Value::Object(fields) => fields.iter().find_map(|(key, item)| {
            let pointer = format!("{at}/{}", escape(key));
            match key.contains('\0') {
                true => Some(pointer),
                false => pointer_to_nul(item, pointer),
            }
        }),
        _ => None,
    }
}

fn pointer_of(path: &serde_path_to_error::Path) -> String {
    let mut pointer = String::new();
    for segment in path.iter() {
        match segment {
            serde_path_to_error::Segment::Seq { index } => pointer.push_str(&format!("/{index}")),
            serde_path_to_error::Segment::Map { key }
            | serde_path_to_error::Segment::Enum { variant: key } => {
                pointer.push('/');
                pointer.push_str(&key.replace('~', "~0").replace('/', "~1"));
            }
            serde_path_to_error::Segment::Unknown => pointer.push_str("/?"),
        }
    }
    pointer
}

/// Maps a body-reading failure: too large → 413, anything else → 400.
pub fn body_rejection(rejection: BytesRejection) -> ApiError {
    if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
        return ApiError::PayloadTooLarge;
    }
    ApiError::MalformedBody(rejection.body_text())
}

/// A query string.
#[derive(Debug, Clone)]
pub struct ApiQuery<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiQuery<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or("");
        if let Some((name, _)) = form_urlencoded::parse(query.as_bytes())
            .find(|(name, value)| name.contains('\0') || value.contains('\0'))
        {
            return Err(ApiError::InvalidQuery(format!(
                "{}: must not contain U+0000 (NUL)",
                name.replace('\0', "\\0")
            )));
        }
        let deserializer =
            serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
        serde_path_to_error::deserialize(deserializer)
            .map(ApiQuery)
            .map_err(|error| {
                let parameter = error.path().to_string();
                ApiError::InvalidQuery(format!("{parameter}: {}", error.into_inner()))
            })
    }
}

/// Path parameters.
#[derive(Debug, Clone)]
pub struct ApiPath<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiPath<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Send,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let path = parts.uri.path();
        if path.contains("%00") {
            return Err(ApiError::InvalidPath(
                "must not contain U+0000 (NUL)".into(),
            ));
        }
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(value)| ApiPath(value))
            .map_err(|rejection: PathRejection| ApiError::InvalidPath(rejection.body_text()))
    }
}

/// Serde helpers for whole numbers in JSON bodies, read as JSON Schema reads `integer`: `12`,
/// `12.0` and `1.2e1` are all the integer 12 (clients that hold numbers as doubles send `12.0`),
/// while `12.5`, a negative number or a string is refused. Use with
/// `#[serde(deserialize_with = "crate::http::extract::whole_number::deserialize")]`, or
/// `::option` for an optional field, `::nullable` for a patch field where `null` clears.
pub mod whole_number {
    use std::fmt;

    use rust_decimal::Decimal;
    use serde::de::{self, Deserialize, Deserializer, MapAccess, Visitor};

    /// A whole number that fits `T`.
    struct Whole<T>(T);

    impl<'de, T: TryFrom<u64>> Deserialize<'de> for Whole<T> {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Whole<T>, D::Error> {
            let value = deserializer.deserialize_any(WholeVisitor)?;
            T::try_from(value)
                .map(Whole)
                .map_err(|_| de::Error::custom(format!("{value} is out of range")))
        }
    }

    /// A required whole number.
    pub fn deserialize<'de, D: Deserializer<'de>, T: TryFrom<u64>>(
        deserializer: D,
    ) -> Result<T, D::Error> {
        Whole::<T>::deserialize(deserializer).map(|whole| whole.0)
    }

    /// An optional whole number (`null` or absent is `None`).
    pub fn option<'de, D: Deserializer<'de>, T: TryFrom<u64>>(
        deserializer: D,
    ) -> Result<Option<T>, D::Error> {
        Option::<Whole<T>>::deserialize(deserializer).map(|value| value.map(|whole| whole.0))
    }

    /// A patch field: absent is `None` (with `#[serde(default)]`), `null` is `Some(None)`.
    pub fn nullable<'de, D: Deserializer<'de>, T: TryFrom<u64>>(
        deserializer: D,
    ) -> Result<Option<Option<T>>, D::Error> {
        option(deserializer).map(Some)
    }

    struct WholeVisitor;

    const EXPECTED: &str = "a whole number of at least 0";

    fn from_text<E: de::Error>(text: &str) -> Result<u64, E> {
        let parsed = match text.contains(['e', 'E']) {
            true => Decimal::from_scientific(text),
            false => Decimal::from_str_exact(text),
        };
        let value = parsed.map_err(|_| E::custom(format!("{text} is out of range")))?;
        if !value.fract().is_zero() {
            return Err(E::custom(format!("expected {EXPECTED}, found {text}")));
        }
        u64::try_from(value).map_err(|_| E::custom(format!("expected {EXPECTED}, found {text}")))
    }

    impl<'de> Visitor<'de> for WholeVisitor {
        type Value = u64;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(EXPECTED)
        }

        fn visit_u64<E: de::Error>(self, value: u64) -> Result<u64, E> {
            Ok(value)
        }

        fn visit_i64<E: de::Error>(self, value: i64) -> Result<u64, E> {
            u64::try_from(value)
                .map_err(|_| E::custom(format!("expected {EXPECTED}, found {value}")))
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<u64, A::Error> {
            // serde_json's arbitrary-precision numbers arrive as a one-entry map of their text.
            match map.next_key::<String>()?.as_deref() {
                Some(providers::money::JSON_NUMBER_TOKEN) => {
                    from_text(&map.next_value::<String>()?)
                }
                _ => Err(de::Error::invalid_type(de::Unexpected::Map, &self)),
            }
        }
    }
}
