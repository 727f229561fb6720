//! RFC 9457 problem details, as Dinie sends them: `application/problem+json` with `type`, `title`,
//! `status`, `detail`, `instance`, and Dinie's `code`, `param` and per-field `errors`.
//!
//! The `type` URI follows the docs portal's concept page: `https://api.dinie.com.br/errors/<slug>`,
//! one slug per status.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// One per-field error of a 422.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct FieldError {
    pub(crate) param: String,
    pub(crate) detail: String,
    pub(crate) code: String,
}

/// An error answer of the simulated API.
#[derive(Debug, Clone)]
pub(crate) struct Problem {
    pub(crate) status: StatusCode,
    pub(crate) code: String,
    pub(crate) detail: String,
    pub(crate) param: Option<String>,
    pub(crate) errors: Vec<FieldError>,
    pub(crate) retry_after: Option<u64>,
}

#[derive(Serialize)]
struct Body<'a> {
    #[serde(rename = "type")]
    problem_type: String,
    title: &'static str,
    status: u16,
    detail: &'a str,
    code: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    param: Option<&'a str>,
    #[serde(skip_serializing_if = "<[FieldError]>::is_empty")]
    errors: &'a [FieldError],
}

impl Problem {
    pub(crate) fn new(status: StatusCode, code: &str, detail: impl Into<String>) -> Problem {
        Problem {
            status,
            code: code.to_owned(),
            detail: detail.into(),
            param: None,
            errors: Vec::new(),
            retry_after: None,
        }
    }

    /// A 422 naming one offending field.
    pub(crate) fn field(code: &str, param: &str, detail: impl Into<String>) -> Problem {
        let detail = detail.into();
        Problem {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            code: code.to_owned(),
            detail: "One or more fields failed validation.".to_owned(),
            param: Some(param.to_owned()),
            errors: vec![FieldError {
                param: param.to_owned(),
                detail,
                code: code.to_owned(),
            }],
            retry_after: None,
        }
    }

    /// A 422 business-rule failure (`offer_expired`, `kyc_incomplete`...).
    pub(crate) fn unprocessable(code: &str, detail: impl Into<String>) -> Problem {
        Problem::new(StatusCode::UNPROCESSABLE_ENTITY, code, detail)
    }

    pub(crate) fn bad_request(code: &str, detail: impl Into<String>) -> Problem {
        Problem::new(StatusCode::BAD_REQUEST, code, detail)
    }

    pub(crate) fn unauthorized(code: &str, detail: impl Into<String>) -> Problem {
        Problem::new(StatusCode::UNAUTHORIZED, code, detail)
    }

    pub(crate) fn not_found(what: &str) -> Problem {
        Problem::new(
            StatusCode::NOT_FOUND,
            "resource_not_found",
            format!("No such {what}."),
        )
    }

    pub(crate) fn conflict(code: &str, detail: impl Into<String>) -> Problem {
        Problem::new(StatusCode::CONFLICT, code, detail)
    }

    pub(crate) fn rate_limited(retry_after: u64) -> Problem {
        Problem {
            retry_after: Some(retry_after),
            ..Problem::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limit_exceeded",
                format!("Rate limit exceeded. Try again in {retry_after} seconds."),
            )
        }
    }

    pub(crate) fn with_param(mut self, param: &str) -> Problem {
        self.param = Some(param.to_owned());
        self
    }

    fn slug(&self) -> &'static str {
        match self.status.as_u16() {
            400 => "invalid-request",
            401 => "authentication-failed",
            403 => "forbidden",
            404 => "not-found",
            409 => "conflict",
            422 => "validation-failed",
            429 => "rate-limit-exceeded",
            _ => "internal",
        }
    }

    fn title(&self) -> &'static str {
        match self.status.as_u16() {
            400 => "Invalid Request",
            401 => "Authentication Failed",
            403 => "Forbidden",
            404 => "Not Found",
            409 => "Conflict",
            422 => "Validation Failed",
            429 => "Rate Limit Exceeded",
            _ => "Internal Server Error",
        }
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let body = Body {
            problem_type: format!("https://api.dinie.com.br/errors/{}", self.slug()),
            title: self.title(),
            status: self.status.as_u16(),
            detail: &self.detail,
            code: &self.code,
            param: self.param.as_deref(),
            errors: &self.errors,
        };
        let bytes = serde_json::to_vec(&body).unwrap_or_default();
        let mut response = (self.status, bytes).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}
