//! Fault injection: latency, rate limiting, injected errors, hangs, dropped connections
//! and 200 answers whose body is malformed or too large.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use rand::Rng;
use serde::{Deserialize, Serialize};

use super::errors::ApiError;

/// Latency added to requests: `fixed_ms` plus a uniform random `0..=jitter_ms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Latency {
    /// Constant delay in milliseconds.
    pub fixed_ms: u64,
    /// Extra random delay bound in milliseconds.
    #[serde(default)]
    pub jitter_ms: u64,
}

impl Latency {
    fn sample(&self) -> Duration {
        let jitter = if self.jitter_ms > 0 {
            rand::rng().random_range(0..=self.jitter_ms)
        } else {
            0
        };
        Duration::from_millis(self.fixed_ms.saturating_add(jitter))
    }
}

/// Server-wide token-bucket limit; requests above it get 429 with `Retry-After`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RateLimit {
    /// Sustained requests per second.
    pub per_second: f64,
    /// Bucket size (burst); defaults to `per_second` rounded up.
    #[serde(default)]
    pub burst: Option<u32>,
    /// Fixed `Retry-After` value; by default the seconds until a token is free (at least 1).
    #[serde(default)]
    pub retry_after_secs: Option<u64>,
}

/// What an injected fault does.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum FaultKind {
    /// Add latency, then handle normally (other rules still apply).
    Latency {
        /// Constant delay in milliseconds.
        fixed_ms: u64,
        /// Extra random delay bound in milliseconds.
        #[serde(default)]
        jitter_ms: u64,
    },
    /// Answer a 5xx without handling; `status` absent picks one of 500/502/503/504.
    ServerError {
        /// The status to answer.
        #[serde(default)]
        status: Option<u16>,
    },
    /// Answer 429 with `Retry-After` without handling.
    RateLimited {
        /// The `Retry-After` seconds.
        #[serde(default = "one")]
        retry_after_secs: u64,
    },
    /// Answer 401 Unauthorized without handling (e.g. to test token re-minting).
    Unauthorized,
    /// Never answer; the connection stays open until the client gives up.
    Timeout,
    /// Close the connection without handling the request.
    DropBeforeCommit,
    /// Handle the request (commit its effect), then close the connection without a response.
    CommitThenDrop,
    /// Handle the request (commit its effect), then answer 502.
    CommitThenBadGateway,
    /// Answer 200 with a JSON content type and a body that breaks the contract, without
    /// handling the request.
    MalformedBody {
        /// What is wrong with the body; absent picks one at random per request.
        #[serde(default)]
        shape: Option<Malformation>,
    },
    /// Answer 200 with a JSON content type and a body of `bytes` bytes (an unterminated
    /// JSON string), streamed chunked without `Content-Length`, without handling the request.
    OversizedBody {
        /// Length of the body.
        bytes: u64,
    },
}

/// How a [`FaultKind::MalformedBody`] answer is broken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Malformation {
    /// A JSON document cut off in the middle.
    Truncated,
    /// Well-formed JSON with the wrong type for every field the client reads.
    WrongTypes,
    /// Bytes that are not JSON (nor UTF-8).
    RandomBytes,
}

impl Malformation {
    /// Every shape.
    pub const ALL: [Self; 3] = [Self::Truncated, Self::WrongTypes, Self::RandomBytes];

    /// A body of this shape.
    pub fn body(self) -> Vec<u8> {
        match self {
            Self::Truncated => br#"{"id":"3fa85f64-5717-4562-b3fc-2c963f66afa6","display_name":"Sales","_embedded":{"rooms":[{"id":"8f1"#.to_vec(),
            Self::WrongTypes => serde_json::json!({
                "id": {"wrong": true},
                "theme_id": 42,
                "display_name": [1, 2],
                "application_id": 7,
                "default_theme_id": false,
                "session_id": [],
                "number": null,
                "url": 17,
                "fields": "none",
                "_embedded": 12,
                "_links": "x",
                "page_size": "many",
            })
            .to_string()
            .into_bytes(),
            Self::RandomBytes => {
                let mut rng = rand::rng();
                let len = rng.random_range(1..=512);
                // 0xFF never starts JSON and is never UTF-8.
                std::iter::once(0xFF)
                    .chain((0..len).map(|_| rng.random::<u8>()))
                    .collect()
            }
        }
    }
}

fn one() -> u64 {
    1
}

/// When a fault rule fires.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    /// On every matching request.
    #[default]
    Always,
    /// On the next N matching requests.
    Times(u32),
    /// On each matching request with this probability (0.0–1.0).
    Probability(f64),
}

/// A fault bound to an operation id (e.g. `createRoom`) or `*` for every API route.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FaultSpec {
    /// Operation id, or `*`.
    pub operation: String,
    /// The fault.
    pub kind: FaultKind,
    /// When it fires.
    #[serde(default)]
    pub trigger: Trigger,
}

impl FaultSpec {
    /// A rule firing on every request of `operation`.
    pub fn new(operation: impl Into<String>, kind: FaultKind) -> Self {
        Self {
            operation: operation.into(),
            kind,
            trigger: Trigger::Always,
        }
    }

    /// Fires on the next `n` matching requests only.
    pub fn times(mut self, n: u32) -> Self {
        self.trigger = Trigger::Times(n);
        self
    }

    /// Fires with probability `p`.
    pub fn probability(mut self, p: f64) -> Self {
        self.trigger = Trigger::Probability(p);
        self
    }
}

/// An installed rule with its id and remaining count.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InstalledFault {
    /// Id for removal.
    pub id: u64,
    /// The rule.
    #[serde(flatten)]
    pub spec: FaultSpec,
    /// For `times` rules, how many firings remain.
    pub remaining: Option<u32>,
}

/// What the server must do with a request.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Handle normally.
    Proceed,
    /// Answer this error without handling.
    Respond(ApiError),
    /// Never answer.
    Hang,
    /// Close the connection without handling.
    DropBeforeCommit,
    /// Handle, then close the connection.
    CommitThenDrop,
    /// Handle, then answer 502.
    CommitThenBadGateway,
    /// Answer 200 with this malformed body without handling.
    MalformedBody(Malformation),
    /// Answer 200 with a body of this many bytes, streamed without `Content-Length`.
    OversizedBody(u64),
}

/// The outcome of fault evaluation for one request.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    /// Delay before acting.
    pub delay: Duration,
    /// The action.
    pub action: Action,
}

#[derive(Debug, Default)]
struct FaultState {
    rules: Vec<InstalledFault>,
    next_id: u64,
    latency: Option<Latency>,
    error_rate: f64,
    rate_limit: Option<RateLimit>,
    tokens: f64,
    refilled: Option<Instant>,
}

/// The live fault configuration.
#[derive(Debug, Default)]
pub struct Faults {
    state: Mutex<FaultState>,
}

/// Snapshot of the fault configuration.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FaultsView {
    /// Installed rules in evaluation order.
    pub rules: Vec<InstalledFault>,
    /// Latency added to every request.
    pub latency: Option<Latency>,
    /// Probability of a random 5xx.
    pub error_rate: f64,
    /// Server-wide rate limit.
    pub rate_limit: Option<RateLimit>,
}

const RANDOM_5XX: [u16; 4] = [500, 502, 503, 504];

impl Faults {
    fn lock(&self) -> std::sync::MutexGuard<'_, FaultState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Installs a rule; returns its id. Rules are evaluated in installation order.
    pub fn add(&self, spec: FaultSpec) -> u64 {
        let mut state = self.lock();
        state.next_id += 1;
        let id = state.next_id;
        let remaining = match spec.trigger {
            Trigger::Times(n) => Some(n),
            _ => None,
        };
        state.rules.push(InstalledFault {
            id,
            spec,
            remaining,
        });
        id
    }

    /// Removes one rule; returns whether it existed.
    pub fn remove(&self, id: u64) -> bool {
        let mut state = self.lock();
        let before = state.rules.len();
        state.rules.retain(|r| r.id != id);
        state.rules.len() != before
    }

    /// Removes every rule and resets latency, error rate and rate limit.
    pub fn clear(&self) {
        let mut state = self.lock();
        state.rules.clear();
        state.latency = None;
        state.error_rate = 0.0;
        state.rate_limit = None;
    }

    /// Sets the latency added to every request.
    pub fn set_latency(&self, latency: Option<Latency>) {
        self.lock().latency = latency;
    }

    /// Sets the probability of a random 5xx on any request.
    pub fn set_error_rate(&self, rate: f64) {
        self.lock().error_rate = rate.clamp(0.0, 1.0);
    }

    /// Sets (or removes) the server-wide rate limit; the bucket starts full.
    pub fn set_rate_limit(&self, limit: Option<RateLimit>) {
        let mut state = self.lock();
        state.rate_limit = limit;
        state.tokens = limit.map_or(0.0, |l| burst(&l));
        state.refilled = Some(Instant::now());
    }

    /// The current configuration.
    pub fn view(&self) -> FaultsView {
        let state = self.lock();
        FaultsView {
            rules: state.rules.clone(),
            latency: state.latency,
            error_rate: state.error_rate,
            rate_limit: state.rate_limit,
        }
    }

    /// Decides what to do with a request for `operation`.
    pub fn decide(&self, operation: &str) -> Decision {
        let mut rng = rand::rng();
        let mut state = self.lock();
        if let Some(retry_after_secs) = take_token(&mut state) {
            return Decision {
                delay: Duration::ZERO,
                action: Action::Respond(ApiError::TooManyRequests { retry_after_secs }),
            };
        }
        let mut delay = state.latency.map_or(Duration::ZERO, |l| l.sample());
        let mut action = Action::Proceed;
        for rule in state.rules.iter_mut() {
            if rule.spec.operation != "*" && rule.spec.operation != operation {
                continue;
            }
            let fires = match rule.spec.trigger {
                Trigger::Always => true,
                Trigger::Probability(p) => rng.random_bool(p.clamp(0.0, 1.0)),
                Trigger::Times(_) => match rule.remaining.as_mut() {
                    Some(n) if *n > 0 => {
                        *n -= 1;
                        true
                    }
                    _ => false,
                },
            };
            if !fires {
                continue;
            }
            match rule.spec.kind {
                FaultKind::Latency {
                    fixed_ms,
                    jitter_ms,
                } => {
                    delay += Latency {
                        fixed_ms,
                        jitter_ms,
                    }
                    .sample();
                    continue;
                }
                FaultKind::ServerError { status } => {
                    let status = status
                        .filter(|s| (500..600).contains(s))
                        .unwrap_or_else(|| RANDOM_5XX[rng.random_range(0..RANDOM_5XX.len())]);
                    action = Action::Respond(ApiError::Injected(status));
                }
                FaultKind::RateLimited { retry_after_secs } => {
                    action = Action::Respond(ApiError::TooManyRequests { retry_after_secs });
                }
                FaultKind::Unauthorized => action = Action::Respond(ApiError::Unauthorized),
                FaultKind::Timeout => action = Action::Hang,
                FaultKind::DropBeforeCommit => action = Action::DropBeforeCommit,
                FaultKind::CommitThenDrop => action = Action::CommitThenDrop,
                FaultKind::CommitThenBadGateway => action = Action::CommitThenBadGateway,
                FaultKind::MalformedBody { shape } => {
                    let shape = shape.unwrap_or_else(|| {
                        Malformation::ALL[rng.random_range(0..Malformation::ALL.len())]
                    });
                    action = Action::MalformedBody(shape);
                }
                FaultKind::OversizedBody { bytes } => action = Action::OversizedBody(bytes),
            }
            break;
        }
        if action == Action::Proceed && state.error_rate > 0.0 && rng.random_bool(state.error_rate)
        {
            let status = RANDOM_5XX[rng.random_range(0..RANDOM_5XX.len())];
            action = Action::Respond(ApiError::Injected(status));
        }
        Decision { delay, action }
    }
}

fn burst(limit: &RateLimit) -> f64 {
    limit
        .burst
        .map_or(limit.per_second.ceil(), f64::from)
        .max(1.0)
}

/// Takes a token; returns the `Retry-After` seconds when none is available.
fn take_token(state: &mut FaultState) -> Option<u64> {
    let limit = state.rate_limit?;
    let rate = limit.per_second.max(f64::MIN_POSITIVE);
    let now = Instant::now();
    let elapsed = state
        .refilled
        .map_or(0.0, |t| now.duration_since(t).as_secs_f64());
    state.refilled = Some(now);
    state.tokens = (state.tokens + elapsed * rate).min(burst(&limit));
    if state.tokens >= 1.0 {
        state.tokens -= 1.0;
        return None;
    }
    let wait = ((1.0 - state.tokens) / rate).ceil().max(1.0);
    Some(limit.retry_after_secs.unwrap_or(wait.min(3600.0) as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_rules_fire_n_times_then_stop() {
        let faults = Faults::default();
        faults.add(
            FaultSpec::new("createRoom", FaultKind::ServerError { status: Some(503) }).times(2),
        );
        assert_eq!(faults.decide("getRooms").action, Action::Proceed);
        for _ in 0..2 {
            assert_eq!(
                faults.decide("createRoom").action,
                Action::Respond(ApiError::Injected(503))
            );
        }
        assert_eq!(faults.decide("createRoom").action, Action::Proceed);
        assert_eq!(faults.view().rules[0].remaining, Some(0));
    }

    #[test]
    fn latency_accumulates_and_wildcard_matches() {
        let faults = Faults::default();
        faults.set_latency(Some(Latency {
            fixed_ms: 5,
            jitter_ms: 0,
        }));
        faults.add(FaultSpec::new(
            "*",
            FaultKind::Latency {
                fixed_ms: 10,
                jitter_ms: 0,
            },
        ));
        faults.add(FaultSpec::new("getRoom", FaultKind::CommitThenDrop));
        let decision = faults.decide("getRoom");
        assert_eq!(decision.delay, Duration::from_millis(15));
        assert_eq!(decision.action, Action::CommitThenDrop);
        assert_eq!(faults.decide("getRooms").action, Action::Proceed);
    }

    #[test]
    fn first_terminal_rule_wins_and_removal_works() {
        let faults = Faults::default();
        let id = faults.add(FaultSpec::new("*", FaultKind::Timeout));
        faults.add(FaultSpec::new("*", FaultKind::Unauthorized));
        assert_eq!(faults.decide("x").action, Action::Hang);
        assert!(faults.remove(id));
        assert_eq!(
            faults.decide("x").action,
            Action::Respond(ApiError::Unauthorized)
        );
        faults.clear();
        assert_eq!(faults.decide("x").action, Action::Proceed);
    }

    #[test]
    fn probability_and_error_rate_extremes() {
        let faults = Faults::default();
        faults.add(
            FaultSpec::new(
                "*",
                FaultKind::RateLimited {
                    retry_after_secs: 7,
                },
            )
            .probability(0.0),
        );
        assert_eq!(faults.decide("x").action, Action::Proceed);
        faults.set_error_rate(1.0);
        match faults.decide("x").action {
            Action::Respond(ApiError::Injected(status)) => assert!(RANDOM_5XX.contains(&status)),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn rate_limit_answers_429_above_burst() {
        let faults = Faults::default();
        faults.set_rate_limit(Some(RateLimit {
            per_second: 0.5,
            burst: Some(2),
            retry_after_secs: None,
        }));
        assert_eq!(faults.decide("x").action, Action::Proceed);
        assert_eq!(faults.decide("x").action, Action::Proceed);
        match faults.decide("x").action {
            Action::Respond(ApiError::TooManyRequests { retry_after_secs }) => {
                assert!(retry_after_secs >= 1)
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn specs_round_trip_as_json() {
        let spec: FaultSpec = serde_json::from_str(
            r#"{"operation":"createRoom","kind":{"type":"rate_limited","retry_after_secs":2},"trigger":{"times":3}}"#,
        )
        .unwrap();
        assert_eq!(
            spec,
            FaultSpec::new(
                "createRoom",
                FaultKind::RateLimited {
                    retry_after_secs: 2
                }
            )
            .times(3)
        );
        let spec: FaultSpec =
            serde_json::from_str(r#"{"operation":"*","kind":{"type":"commit_then_drop"}}"#)
                .unwrap();
        assert_eq!(spec.trigger, Trigger::Always);
        let spec: FaultSpec = serde_json::from_str(
            r#"{"operation":"getRoom","kind":{"type":"malformed_body","shape":"wrong_types"}}"#,
        )
        .unwrap();
        assert_eq!(
            spec.kind,
            FaultKind::MalformedBody {
                shape: Some(Malformation::WrongTypes)
            }
        );
        let spec: FaultSpec = serde_json::from_str(
            r#"{"operation":"*","kind":{"type":"oversized_body","bytes":20000000}}"#,
        )
        .unwrap();
        assert_eq!(spec.kind, FaultKind::OversizedBody { bytes: 20_000_000 });
        assert_eq!(
            serde_json::to_value(FaultKind::MalformedBody { shape: None }).unwrap(),
            serde_json::json!({"type": "malformed_body", "shape": null})
        );
    }

    #[test]
    fn malformed_bodies_are_never_json_of_the_contract() {
        for shape in Malformation::ALL {
            let faults = Faults::default();
            faults.add(FaultSpec::new(
                "getRoom",
                FaultKind::MalformedBody { shape: Some(shape) },
            ));
            assert_eq!(
                faults.decide("getRoom").action,
                Action::MalformedBody(shape)
            );
            let body = shape.body();
            let parsed = serde_json::from_slice::<serde_json::Value>(&body);
            assert_eq!(
                parsed.is_ok(),
                shape == Malformation::WrongTypes,
                "{shape:?}"
            );
        }
        let faults = Faults::default();
        faults.add(FaultSpec::new(
            "*",
            FaultKind::MalformedBody { shape: None },
        ));
        assert!(matches!(
            faults.decide("x").action,
            Action::MalformedBody(_)
        ));
    }
}
