//! One error type for every Meetings API call, classified so callers can decide.

use std::time::Duration;

use serde::Deserialize;

/// The service's error body: `{"status","name","message","errors"}`.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
pub struct ServiceError {
    /// HTTP status the body claims.
    #[serde(default)]
    pub status: Option<u16>,
    /// Error class such as `BadRequestError` or `InputValidationError`.
    #[serde(default)]
    pub name: String,
    /// Human-readable message.
    #[serde(default)]
    pub message: String,
    /// Details: strings or objects (e.g. per-logo errors).
    #[serde(default)]
    pub errors: Vec<serde_json::Value>,
}

impl std::fmt::Display for ServiceError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let message = if self.message.is_empty() {
            "no message"
        } else {
            &self.message
        };
        write!(f, "{message}")?;
        if !self.name.is_empty() {
            write!(f, " ({})", self.name)?;
        }
        let details: Vec<String> = self
            .errors
            .iter()
            .map(|e| match e {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            })
            // The service often repeats its message as the only detail.
            .filter(|detail| detail != message)
            .collect();
        if !details.is_empty() {
            write!(f, ": {}", details.join("; "))?;
        }
        Ok(())
    }
}

/// The gateway's error body: `{"title","detail"}`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
pub struct GatewayError {
    /// Short title such as `Unauthorized`.
    #[serde(default)]
    pub title: String,
    /// Explanation.
    #[serde(default)]
    pub detail: String,
}

/// Why a Meetings API call failed.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 401: credentials missing, wrong or expired.
    #[error("unauthorized: {}: {}", .0.title, .0.detail)]
    Unauthorized(GatewayError),
    /// 404: the object does not exist (for this application).
    #[error("not found: {0}")]
    NotFound(ServiceError),
    /// 409: a name or short URL is taken.
    #[error("conflict: {0}")]
    Conflict(ServiceError),
    /// 403: a limit of the application was reached, or the action is forbidden.
    #[error("quota exceeded or forbidden: {0}")]
    QuotaExceeded(ServiceError),
    /// 400: the request was refused as invalid.
    #[error("invalid request: {0}")]
    InvalidRequest(ServiceError),
    /// 429: slow down; `retry_after` is the server's hint.
    #[error("rate limited (retry after {retry_after:?})")]
    RateLimited {
        /// Parsed `Retry-After`.
        retry_after: Option<Duration>,
    },
    /// 5xx from the service.
    #[error("server error {status}: {message}")]
    Server {
        /// HTTP status.
        status: u16,
        /// Message from the body, if any.
        message: String,
    },
    /// Any other unexpected status.
    #[error("unexpected status {status}: {message}")]
    UnexpectedStatus {
        /// HTTP status.
        status: u16,
        /// Message from the body, if any.
        message: String,
    },
    /// The storage service refused a logo upload (XML error code such as `SignatureDoesNotMatch`).
    #[error("logo storage refused the upload ({status}): {code}")]
    Storage {
        /// HTTP status.
        status: u16,
        /// Storage error code.
        code: String,
    },
    /// The request timed out; it may or may not have reached the server.
    #[error("request timed out")]
    Timeout,
    /// Connection could not be made or broke; `maybe_sent` tells whether the
    /// server may have processed the request.
    #[error("transport error: {message}")]
    Transport {
        /// Description of the failure.
        message: String,
        /// False only when the connection was never established.
        maybe_sent: bool,
    },
    /// A 2xx body did not match the contract.
    #[error("unexpected response body for {operation}: {message}")]
    Decode {
        /// Operation whose answer could not be read.
        operation: &'static str,
        /// Parser message.
        message: String,
    },
    /// The application id or private key cannot be used.
    #[error("credentials: {0}")]
    Credentials(#[from] super::auth::CredentialsError),
    /// The request could not be built (e.g. a bad base URL).
    #[error("invalid client configuration: {0}")]
    Config(String),
}

/// Coarse classes used for retry decisions, metrics and conditions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorClass {
    /// Credentials are wrong.
    Unauthorized,
    /// The object is gone.
    NotFound,
    /// Name clash.
    Conflict,
    /// Limit reached.
    QuotaExceeded,
    /// Invalid request.
    InvalidRequest,
    /// Too many requests.
    RateLimited,
    /// Server-side failure.
    Server,
    /// Network failure or timeout.
    Transport,
    /// The answer could not be understood.
    Protocol,
    /// Local configuration problem.
    Configuration,
}

impl ErrorClass {
    /// Short stable label for metrics and condition reasons.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unauthorized => "Unauthorized",
            Self::NotFound => "NotFound",
            Self::Conflict => "Conflict",
            Self::QuotaExceeded => "QuotaExceeded",
            Self::InvalidRequest => "InvalidRequest",
            Self::RateLimited => "RateLimited",
            Self::Server => "ServerError",
            Self::Transport => "TransportError",
            Self::Protocol => "ProtocolError",
            Self::Configuration => "ConfigurationError",
        }
    }
}

impl ApiError {
    /// The class of this error.
    pub fn class(&self) -> ErrorClass {
        match self {
            Self::Unauthorized(_) => ErrorClass::Unauthorized,
            Self::NotFound(_) => ErrorClass::NotFound,
            Self::Conflict(_) => ErrorClass::Conflict,
            Self::QuotaExceeded(_) => ErrorClass::QuotaExceeded,
            Self::InvalidRequest(_) | Self::Storage { .. } => ErrorClass::InvalidRequest,
            Self::RateLimited { .. } => ErrorClass::RateLimited,
            Self::Server { .. } => ErrorClass::Server,
            Self::Timeout | Self::Transport { .. } => ErrorClass::Transport,
            Self::Decode { .. } | Self::UnexpectedStatus { .. } => ErrorClass::Protocol,
            Self::Credentials(_) | Self::Config(_) => ErrorClass::Configuration,
        }
    }

    /// Whether the same request may succeed later without any change.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self.class(),
            ErrorClass::RateLimited | ErrorClass::Server | ErrorClass::Transport
        )
    }

    /// Whether the server may have acted on the request even though it failed.
    /// A create that fails this way must be looked up before it is repeated.
    pub fn may_have_committed(&self) -> bool {
        match self {
            Self::Timeout | Self::Server { .. } => true,
            Self::Transport { maybe_sent, .. } => *maybe_sent,
            Self::UnexpectedStatus { status, .. } => *status >= 500,
            _ => false,
        }
    }

    /// The server's `Retry-After` hint.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::RateLimited { retry_after } => *retry_after,
            _ => None,
        }
    }

    /// The service's error body, when there is one.
    pub fn service_error(&self) -> Option<&ServiceError> {
        match self {
            Self::NotFound(e)
            | Self::Conflict(e)
            | Self::QuotaExceeded(e)
            | Self::InvalidRequest(e) => Some(e),
            _ => None,
        }
    }

    /// Builds the error for a non-success answer from its status, body and `Retry-After`.
    pub(crate) fn from_response(status: u16, body: &[u8], retry_after: Option<Duration>) -> Self {
        let json: Option<serde_json::Value> = serde_json::from_slice(body).ok();
        let gateway = || {
            json.clone()
                .and_then(|v| serde_json::from_value::<GatewayError>(v).ok())
                .unwrap_or_default()
        };
        let service = || {
            json.clone()
                .and_then(|v| serde_json::from_value::<ServiceError>(v).ok())
                .map(|mut e| {
                    if e.message.is_empty() {
                        e.message = gateway().detail;
                    }
                    e
                })
                .unwrap_or_else(|| ServiceError {
                    status: Some(status),
                    message: body_excerpt(body),
                    ..Default::default()
                })
        };
        match status {
            400 | 422 => Self::InvalidRequest(service()),
            401 => Self::Unauthorized(gateway()),
            403 => Self::QuotaExceeded(service()),
            404 => Self::NotFound(service()),
            409 => Self::Conflict(service()),
            429 => Self::RateLimited { retry_after },
            500..=599 => Self::Server {
                status,
                message: service().message,
            },
            _ => Self::UnexpectedStatus {
                status,
                message: service().message,
            },
        }
    }

    pub(crate) fn from_transport(error: reqwest::Error) -> Self {
        if error.is_timeout() {
            return Self::Timeout;
        }
        let maybe_sent = !error.is_connect();
        // Print the source chain, never the URL's query or any header.
        let error = error.without_url();
        let mut message = error.to_string();
        let mut source = std::error::Error::source(&error);
        while let Some(cause) = source {
            message.push_str(": ");
            message.push_str(&cause.to_string());
            source = cause.source();
        }
        Self::Transport {
            message,
            maybe_sent,
        }
    }
}

/// Parses `Retry-After` as delta-seconds or an HTTP date.
pub(crate) fn parse_retry_after(value: &str, now: jiff::Timestamp) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<f64>() {
        return (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs));
    }
    let date = jiff::fmt::rfc2822::parse(value).ok()?.timestamp();
    let delta = date.as_millisecond() - now.as_millisecond();
    Some(Duration::from_millis(delta.max(0) as u64))
}

fn body_excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let mut excerpt: String = text.chars().take(300).collect();
    if text.chars().count() > 300 {
        excerpt.push('…');
    }
    excerpt
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_service_error_shape() {
        let body = br#"{"status":400,"name":"BadRequestError","message":"could not delete theme","errors":["Theme t is used by 1 room"]}"#;
        let err = ApiError::from_response(400, body, None);
        assert_eq!(err.class(), ErrorClass::InvalidRequest);
        assert!(!err.is_retryable());
        assert_eq!(
            err.to_string(),
            "invalid request: could not delete theme (BadRequestError): Theme t is used by 1 room"
        );
    }

    #[test]
    fn a_detail_that_repeats_the_message_is_said_once() {
        let body = br#"{"status":400,"name":"InputValidationError","message":"\"expires_at\" must be in the future","errors":["\"expires_at\" must be in the future"]}"#;
        let err = ApiError::from_response(400, body, None);
        assert_eq!(
            err.to_string(),
            "invalid request: \"expires_at\" must be in the future (InputValidationError)"
        );
    }

    #[test]
    fn parses_gateway_shape() {
        let body = br#"{"title":"Missing Auth","detail":"Auth header is required"}"#;
        let err = ApiError::from_response(401, body, None);
        assert_eq!(err.class(), ErrorClass::Unauthorized);
        assert_eq!(
            err.to_string(),
            "unauthorized: Missing Auth: Auth header is required"
        );
    }

    #[test]
    fn classifies_statuses() {
        let cases = [
            (403, ErrorClass::QuotaExceeded, false),
            (404, ErrorClass::NotFound, false),
            (409, ErrorClass::Conflict, false),
            (429, ErrorClass::RateLimited, true),
            (503, ErrorClass::Server, true),
            (418, ErrorClass::Protocol, false),
        ];
        for (status, class, retryable) in cases {
            let err = ApiError::from_response(status, b"not json", None);
            assert_eq!(err.class(), class, "{status}");
            assert_eq!(err.is_retryable(), retryable, "{status}");
        }
    }

    #[test]
    fn retry_after_in_seconds_and_dates() {
        let now: jiff::Timestamp = "2024-01-01T00:00:00Z".parse().unwrap();
        assert_eq!(parse_retry_after("2", now), Some(Duration::from_secs(2)));
        assert_eq!(
            parse_retry_after("Mon, 01 Jan 2024 00:00:05 GMT", now),
            Some(Duration::from_secs(5))
        );
        assert_eq!(parse_retry_after("soon", now), None);
    }
}
