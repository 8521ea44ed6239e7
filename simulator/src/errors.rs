//! Error types: the exact API error bodies, and the simulator's own failures.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// An error answered to an API client, rendered with the service's exact body shape.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ApiError {
    /// 401 without an `Authorization` header.
    #[error("missing auth")]
    MissingAuth,
    /// 401 for a token that does not verify.
    #[error("unauthorized")]
    Unauthorized,
    /// 400 `InputValidationError`; the first message is the headline.
    #[error("input validation: {}", .0.join("; "))]
    InputValidation(Vec<String>),
    /// 400 `BadRequestError` with optional detail entries.
    #[error("bad request: {message}")]
    BadRequest {
        /// Headline message.
        message: String,
        /// Detail entries (strings or objects).
        errors: Vec<Value>,
    },
    /// 403 `ForbiddenError`.
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// 404 `NotFoundError`.
    #[error("not found: {0}")]
    NotFound(String),
    /// 409 `ConflictError`.
    #[error("conflict: {0}")]
    Conflict(String),
    /// Gateway 404 for a path no route serves.
    #[error("no such route")]
    NoRoute,
    /// Gateway 405 for a method a route does not serve.
    #[error("method not allowed")]
    MethodNotAllowed,
    /// 429 with `Retry-After` seconds.
    #[error("too many requests")]
    TooManyRequests {
        /// Seconds to wait before retrying.
        retry_after_secs: u64,
    },
    /// 413 for a request body beyond what the simulator reads.
    #[error("payload too large")]
    PayloadTooLarge,
    /// An injected server-side failure with the given 5xx status.
    #[error("injected server error {0}")]
    Injected(u16),
}

impl ApiError {
    /// Shorthand for a single-message `InputValidationError`.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::InputValidation(vec![message.into()])
    }

    /// Shorthand for a `BadRequestError` without details.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::BadRequest {
            message: message.into(),
            errors: Vec::new(),
        }
    }

    /// The HTTP status this error is answered with.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::MissingAuth | Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::InputValidation(_) | Self::BadRequest { .. } => StatusCode::BAD_REQUEST,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound(_) | Self::NoRoute => StatusCode::NOT_FOUND,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Injected(code) => {
                StatusCode::from_u16(*code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
            }
        }
    }

    /// The JSON body for this error.
    pub fn body(&self) -> Value {
        let status = self.status().as_u16();
        match self {
            Self::MissingAuth => gateway("Missing Auth", "Auth header is required"),
            Self::Unauthorized => {
                gateway("Unauthorized", "You did not provide correct credentials")
            }
            Self::NoRoute => gateway("Not Found", "The requested resource does not exist"),
            Self::MethodNotAllowed => gateway(
                "Method Not Allowed",
                "The requested method is not supported for this resource",
            ),
            Self::PayloadTooLarge => gateway("Payload Too Large", "The request body is too large"),
            Self::TooManyRequests { .. } => gateway(
                "Too Many Requests",
                "You have exceeded the number of requests allowed, please try again later",
            ),
            Self::Injected(code) if *code != 500 => {
                let title = self.status().canonical_reason().unwrap_or("Server Error");
                gateway(title, "The upstream service did not answer correctly")
            }
            Self::Injected(_) => {
                service(status, "InternalServerError", "Internal server error", &[])
            }
            Self::InputValidation(messages) => {
                let errors: Vec<Value> = messages.iter().map(|m| json!(m)).collect();
                let headline = messages
                    .first()
                    .map(String::as_str)
                    .unwrap_or("invalid input");
                service(status, "InputValidationError", headline, &errors)
            }
            Self::BadRequest { message, errors } => {
                service(status, "BadRequestError", message, errors)
            }
            Self::Forbidden(message) => service(status, "ForbiddenError", message, &[]),
            Self::NotFound(message) => service(status, "NotFoundError", message, &[]),
            Self::Conflict(message) => service(status, "ConflictError", message, &[]),
        }
    }
}

fn gateway(title: &str, detail: &str) -> Value {
    json!({ "title": title, "detail": detail })
}

fn service(status: u16, name: &str, message: &str, errors: &[Value]) -> Value {
    json!({ "status": status, "name": name, "message": message, "errors": errors })
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status(), axum::Json(self.body())).into_response();
        if let Self::TooManyRequests { retry_after_secs } = self {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
        }
        response
    }
}

/// A failure of a simulator control operation (test API or `/_sim` endpoint).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ControlError {
    /// The named object does not exist.
    #[error("{0} not found")]
    NotFound(String),
    /// The request conflicts with the current state.
    #[error("{0}")]
    Conflict(String),
    /// The request itself is malformed.
    #[error("{0}")]
    Invalid(String),
    /// Key material could not be generated or parsed.
    #[error("key error: {0}")]
    Key(String),
}

impl IntoResponse for ControlError {
    fn into_response(self) -> Response {
        let status = match self {
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::Invalid(_) | Self::Key(_) => StatusCode::BAD_REQUEST,
        };
        (status, axum::Json(json!({ "error": self.to_string() }))).into_response()
    }
}

/// Failure to start, configure or run the simulator.
#[derive(Debug, thiserror::Error)]
pub enum SimulatorError {
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// Requested address.
        addr: std::net::SocketAddr,
        /// Underlying error.
        source: std::io::Error,
    },
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    File {
        /// The file involved.
        path: std::path::PathBuf,
        /// Underlying error.
        source: std::io::Error,
    },
    /// A control operation failed during setup.
    #[error(transparent)]
    Control(#[from] ControlError),
    /// The configuration is inconsistent.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// Another I/O failure while serving.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gateway_bodies_are_exact() {
        assert_eq!(
            ApiError::MissingAuth.body(),
            json!({"title":"Missing Auth","detail":"Auth header is required"})
        );
        assert_eq!(
            ApiError::Unauthorized.body(),
            json!({"title":"Unauthorized","detail":"You did not provide correct credentials"})
        );
    }

    #[test]
    fn service_bodies_have_four_fields() {
        let body = ApiError::invalid("\"update_details\" must have at least 1 key").body();
        assert_eq!(
            body,
            json!({"status":400,"name":"InputValidationError",
                   "message":"\"update_details\" must have at least 1 key",
                   "errors":["\"update_details\" must have at least 1 key"]})
        );
        let body = ApiError::Conflict("theme_name already exists in application".into()).body();
        assert_eq!(body["status"], 409);
        assert_eq!(body["name"], "ConflictError");
    }

    #[test]
    fn rate_limit_sets_retry_after() {
        let response = ApiError::TooManyRequests {
            retry_after_secs: 3,
        }
        .into_response();
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(response.headers()[header::RETRY_AFTER], "3");
    }
}
