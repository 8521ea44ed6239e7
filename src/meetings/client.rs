//! The HTTP core shared by every operation: auth, rate limit, retries, decoding.

use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, RETRY_AFTER};
use serde::Serialize;
use serde::de::DeserializeOwned;
use url::Url;

use super::auth::{Credentials, TokenCache};
use super::config::ClientConfig;
use super::error::{ApiError, parse_retry_after};
use super::observe::{ApiObserver, NoopObserver, Outcome};
use super::rate_limit::{Priority, RateLimiter};
use super::retry::{Idempotency, RetryPolicy};

/// A Meetings API client for one application. Cheap to clone; clones share
/// the token cache, the rate limiter and the connection pool.
#[derive(Clone, Debug)]
pub struct MeetingsClient {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    base: Url,
    tokens: TokenCache,
    limiter: Arc<RateLimiter>,
    retry: RetryPolicy,
    page_size: u32,
    observer: Arc<dyn ApiObserver>,
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MeetingsClient")
            .field("base", &self.base.as_str())
            .field("tokens", &self.tokens)
            .field("rate_limit", &self.limiter.limit())
            .finish_non_exhaustive()
    }
}

/// Builds a [`MeetingsClient`], optionally sharing a rate limiter, an HTTP
/// connection pool and an observer with other clients.
pub struct ClientBuilder {
    config: ClientConfig,
    credentials: Credentials,
    limiter: Option<Arc<RateLimiter>>,
    http: Option<reqwest::Client>,
    observer: Arc<dyn ApiObserver>,
}

impl ClientBuilder {
    /// Shares `limiter` instead of creating one from the configuration.
    pub fn rate_limiter(mut self, limiter: Arc<RateLimiter>) -> Self {
        self.limiter = Some(limiter);
        self
    }

    /// Shares an HTTP client (its pool and timeouts) built by [`http_client`].
    pub fn http_client(mut self, http: reqwest::Client) -> Self {
        self.http = Some(http);
        self
    }

    /// Reports every request's outcome and every rate-limit wait to `observer`.
    pub fn observer(mut self, observer: Arc<dyn ApiObserver>) -> Self {
        self.observer = observer;
        self
    }

    /// Builds the client.
    pub fn build(self) -> Result<MeetingsClient, ApiError> {
        let mut base = Url::parse(self.config.base_url.trim_end_matches('/'))
            .map_err(|e| ApiError::Config(format!("base URL {:?}: {e}", self.config.base_url)))?;
        if base.cannot_be_a_base() || !matches!(base.scheme(), "http" | "https") {
            return Err(ApiError::Config(format!(
                "base URL {:?} must be an http(s) URL",
                self.config.base_url
            )));
        }
        base.set_query(None);
        let http = match self.http {
            Some(http) => http,
            None => http_client(&self.config)?,
        };
        let limiter = self
            .limiter
            .unwrap_or_else(|| Arc::new(RateLimiter::new(self.config.rate_limit)));
        Ok(MeetingsClient {
            inner: Arc::new(Inner {
                http,
                base,
                tokens: TokenCache::new(self.credentials, self.config.token_ttl),
                limiter,
                retry: self.config.retry,
                page_size: self.config.page_size.clamp(1, 1000),
                observer: self.observer,
            }),
        })
    }
}

/// An HTTP client with the configured timeout and user agent.
pub fn http_client(config: &ClientConfig) -> Result<reqwest::Client, ApiError> {
    reqwest::Client::builder()
        .timeout(config.request_timeout)
        .connect_timeout(config.request_timeout.min(Duration::from_secs(10)))
        .user_agent(config.user_agent.clone())
        .build()
        .map_err(|e| ApiError::Config(format!("HTTP client: {e}")))
}

/// Whether a request carries the application's bearer token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Auth {
    /// Meetings API call.
    Bearer,
    /// Presigned storage upload: no `Authorization` header.
    None,
}

/// One logical request: what to send and how to treat failures.
pub(crate) struct Call<'a> {
    pub operation: &'static str,
    pub method: reqwest::Method,
    pub url: Url,
    /// The JSON body, encoded once for every attempt.
    pub json: Option<bytes::Bytes>,
    pub multipart: Option<&'a (dyn Fn() -> reqwest::multipart::Form + Sync)>,
    pub idempotency: Idempotency,
    pub auth: Auth,
    pub priority: Priority,
}

/// A successful answer: status and raw body.
pub(crate) struct Answer {
    pub status: u16,
    pub body: bytes::Bytes,
}

impl MeetingsClient {
    /// Starts building a client for `credentials`.
    pub fn builder(config: ClientConfig, credentials: Credentials) -> ClientBuilder {
        ClientBuilder {
            config,
            credentials,
            limiter: None,
            http: None,
            observer: Arc::new(NoopObserver),
        }
    }

    /// A client with its own rate limiter and connection pool.
    pub fn new(config: ClientConfig, credentials: Credentials) -> Result<Self, ApiError> {
        Self::builder(config, credentials).build()
    }

    /// The application this client acts for.
    pub fn application_id(&self) -> &str {
        self.inner.tokens.credentials().application_id()
    }

    /// The credentials this client signs with.
    pub fn credentials(&self) -> &Credentials {
        self.inner.tokens.credentials()
    }

    /// The rate limiter all requests go through.
    pub fn rate_limiter(&self) -> &Arc<RateLimiter> {
        &self.inner.limiter
    }

    /// Rooms requested per page when listing.
    pub fn page_size(&self) -> u32 {
        self.inner.page_size
    }

    /// The base URL with `segments` appended (each percent-encoded).
    pub(crate) fn url(&self, segments: &[&str]) -> Url {
        let mut url = self.inner.base.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(segments);
        }
        url
    }

    pub(crate) fn json<T: Serialize>(body: &T) -> Result<bytes::Bytes, ApiError> {
        serde_json::to_vec(body)
            .map(bytes::Bytes::from)
            .map_err(|e| ApiError::Config(format!("request body: {e}")))
    }

    pub(crate) fn decode<T: DeserializeOwned>(
        operation: &'static str,
        answer: &Answer,
    ) -> Result<T, ApiError> {
        serde_json::from_slice(&answer.body).map_err(|e| ApiError::Decode {
            operation,
            message: e.to_string(),
        })
    }

    /// Sends a call with rate limiting, auth, one re-mint on 401 and retries.
    pub(crate) async fn execute(&self, call: Call<'_>) -> Result<Answer, ApiError> {
        let inner = &self.inner;
        let mut attempt = 1;
        let mut reminted = false;
        loop {
            let result = self.attempt(&call).await;
            let error = match result {
                Ok(answer) => return Ok(answer),
                Err(error) => error,
            };
            if matches!(error, ApiError::Unauthorized(_)) && call.auth == Auth::Bearer && !reminted
            {
                reminted = true;
                inner.tokens.invalidate();
                continue;
            }
            if let Some(pause) = error.retry_after() {
                inner
                    .limiter
                    .pause_for(pause.min(inner.retry.max_delay))
                    .await;
            }
            let Some(delay) = inner.retry.next_delay(attempt, &error, call.idempotency) else {
                return Err(error);
            };
            tracing::debug!(
                operation = call.operation,
                attempt,
                delay_ms = delay.as_millis() as u64,
                error = %error,
                "retrying Meetings API request"
            );
            tokio::time::sleep(delay).await;
            attempt += 1;
        }
    }

    async fn attempt(&self, call: &Call<'_>) -> Result<Answer, ApiError> {
        let inner = &self.inner;
        if call.auth == Auth::Bearer {
            let waited = inner.limiter.acquire_at(call.priority).await;
            inner.observer.rate_limit_waited(waited);
        }
        let mut request = inner.http.request(call.method.clone(), call.url.clone());
        if call.auth == Auth::Bearer {
            let token = inner.tokens.token()?;
            request = request.header(AUTHORIZATION, token.header_value());
        }
        if let Some(json) = &call.json {
            request = request
                .header(CONTENT_TYPE, "application/json")
                .body(json.clone());
        }
        if let Some(form) = call.multipart {
            request = request.multipart(form());
        }
        let started = std::time::Instant::now();
        let outcome = async {
            let response = request.send().await.map_err(ApiError::from_transport)?;
            let status = response.status().as_u16();
            let retry_after = response
                .headers()
                .get(RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| parse_retry_after(v, jiff::Timestamp::now()));
            let body = read_body(response, call.operation).await?;
            if (200..300).contains(&status) {
                Ok(Answer { status, body })
            } else if call.auth == Auth::None && (400..500).contains(&status) {
                Err(ApiError::Storage {
                    status,
                    code: storage_error_code(&body),
                })
            } else {
                Err(ApiError::from_response(status, &body, retry_after))
            }
        }
        .await;
        let label = match &outcome {
            Ok(answer) => Outcome::Status(answer.status),
            Err(ApiError::Timeout) => Outcome::Timeout,
            Err(ApiError::Transport { .. }) => Outcome::Transport,
            Err(
                ApiError::Server { status, .. }
                | ApiError::UnexpectedStatus { status, .. }
                | ApiError::Storage { status, .. },
            ) => Outcome::Status(*status),
            Err(other) => Outcome::Status(status_of(other)),
        };
        inner
            .observer
            .request_finished(call.operation, label, started.elapsed());
        outcome
    }
}

/// Largest response body the client reads (a page of 1,000 rooms is about 1 MB).
pub const MAX_RESPONSE_BYTES: usize = 16 * 1024 * 1024;

/// Reads a response body, refusing one larger than [`MAX_RESPONSE_BYTES`]
/// instead of holding whatever a broken or hostile server sends.
async fn read_body(
    mut response: reqwest::Response,
    operation: &'static str,
) -> Result<bytes::Bytes, ApiError> {
    let too_large = || ApiError::Decode {
        operation,
        message: format!("response body larger than {MAX_RESPONSE_BYTES} bytes"),
    };
    if response
        .content_length()
        .is_some_and(|len| len > MAX_RESPONSE_BYTES as u64)
    {
        return Err(too_large());
    }
    let mut body = bytes::BytesMut::new();
    while let Some(chunk) = response.chunk().await.map_err(ApiError::from_transport)? {
        if body.len() + chunk.len() > MAX_RESPONSE_BYTES {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

fn status_of(error: &ApiError) -> u16 {
    match error {
        ApiError::Unauthorized(_) => 401,
        ApiError::NotFound(_) => 404,
        ApiError::Conflict(_) => 409,
        ApiError::QuotaExceeded(_) => 403,
        ApiError::InvalidRequest(_) => 400,
        ApiError::RateLimited { .. } => 429,
        _ => 0,
    }
}

/// The `<Code>` of a storage XML error, or `Unknown`.
fn storage_error_code(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    text.split_once("<Code>")
        .and_then(|(_, rest)| rest.split_once("</Code>"))
        .map(|(code, _)| code.trim().to_owned())
        .filter(|code| !code.is_empty() && code.len() < 100)
        .unwrap_or_else(|| "Unknown".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn storage_codes_are_read_from_xml() {
        assert_eq!(
            storage_error_code(b"<Error><Code>SignatureDoesNotMatch</Code></Error>"),
            "SignatureDoesNotMatch"
        );
        assert_eq!(storage_error_code(b"oops"), "Unknown");
    }

    #[test]
    fn urls_are_built_under_the_base_and_encoded() {
        let creds = Credentials::new(
            "app",
            crate::meetings::auth::tests::test_key_pem().as_bytes(),
        )
        .unwrap();
        let config = ClientConfig {
            base_url: "http://127.0.0.1:1/v1/meetings/".into(),
            ..Default::default()
        };
        let client = MeetingsClient::new(config, creds).unwrap();
        assert_eq!(
            client.url(&["rooms", "a/b?c"]).as_str(),
            "http://127.0.0.1:1/v1/meetings/rooms/a%2Fb%3Fc"
        );
    }

    #[test]
    fn rejects_unusable_base_urls() {
        let creds = Credentials::new(
            "app",
            crate::meetings::auth::tests::test_key_pem().as_bytes(),
        )
        .unwrap();
        for bad in ["not a url", "ftp://host/x", "mailto:a@b"] {
            let config = ClientConfig {
                base_url: bad.into(),
                ..Default::default()
            };
            assert!(matches!(
                MeetingsClient::new(config, creds.clone()),
                Err(ApiError::Config(_))
            ));
        }
    }
}
