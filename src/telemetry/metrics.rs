//! The operator's Prometheus metrics.

use std::time::Duration;

use kube::runtime::reflector::Store;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use super::objects::ObjectsCollector;
use crate::crd::{MeetingRoom, MeetingTheme};
use crate::meetings::{ApiObserver, Outcome};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReconcileLabels {
    kind: &'static str,
    result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    kind: &'static str,
    outcome: &'static str,
    reason: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ErrorLabels {
    kind: &'static str,
    reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabels {
    kind: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    operation: &'static str,
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OperationLabels {
    operation: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CallbackLabels {
    event: &'static str,
    result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabels {
    reason: &'static str,
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

fn reconcile_histogram() -> Histogram {
    // 5 ms .. about 41 s.
    Histogram::new(exponential_buckets(0.005, 2.0, 14))
}

fn request_histogram() -> Histogram {
    // 5 ms .. about 20 s.
    Histogram::new(exponential_buckets(0.005, 2.0, 13))
}

/// Every metric of the operator, and the registry that renders them.
///
/// Metric names: `meetings_operator_reconciles_total{kind,result}`,
/// `meetings_operator_reconcile_errors_total{kind,reason}`,
/// `meetings_operator_reconcile_outcomes_total{kind,outcome,reason}`,
/// `meetings_operator_reconcile_duration_seconds{kind}`,
/// `meetings_operator_api_requests_total{operation,status}`,
/// `meetings_operator_api_request_duration_seconds{operation}`,
/// `meetings_operator_rate_limiter_wait_seconds`,
/// `meetings_operator_objects{kind,condition,status}`,
/// `meetings_operator_leader`,
/// `meetings_operator_callbacks_total{event,result}` and
/// `meetings_operator_resync_wakeups_total{reason}`.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    reconciles: Family<ReconcileLabels, Counter>,
    reconcile_errors: Family<ErrorLabels, Counter>,
    reconcile_outcomes: Family<OutcomeLabels, Counter>,
    reconcile_duration: HistogramFamily<KindLabels>,
    api_requests: Family<RequestLabels, Counter>,
    api_duration: HistogramFamily<OperationLabels>,
    rate_limit_wait: Histogram,
    leader: Gauge,
    objects: ObjectsCollector,
    callbacks: Family<CallbackLabels, Counter>,
    resync_wakeups: Family<ReasonLabels, Counter>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Fresh metrics in their own registry.
    pub fn new() -> Self {
        let reconciles = Family::<ReconcileLabels, Counter>::default();
        let reconcile_errors = Family::<ErrorLabels, Counter>::default();
        let reconcile_outcomes = Family::<OutcomeLabels, Counter>::default();
        let reconcile_duration: HistogramFamily<KindLabels> =
            Family::new_with_constructor(reconcile_histogram);
        let api_requests = Family::<RequestLabels, Counter>::default();
        let api_duration: HistogramFamily<OperationLabels> =
            Family::new_with_constructor(request_histogram);
        // 1 ms .. about 16 s.
        let rate_limit_wait = Histogram::new(exponential_buckets(0.001, 2.0, 15));
        let leader = Gauge::default();
        let objects = ObjectsCollector::default();
        let callbacks = Family::<CallbackLabels, Counter>::default();
        let resync_wakeups = Family::<ReasonLabels, Counter>::default();

        let mut registry = Registry::default();
        // Counters get their `_total` suffix from the encoder.
        registry.register(
            "meetings_operator_reconciles",
            "Reconciles finished, by kind and result (success or error)",
            reconciles.clone(),
        );
        registry.register(
            "meetings_operator_reconcile_errors",
            "Reconciles that returned an error, by kind and reason",
            reconcile_errors.clone(),
        );
        registry.register(
            "meetings_operator_reconcile_outcomes",
            "Reconciles by the state they left the object in (ready, reconciling or stalled) and its condition reason, so that API outages and rejections show",
            reconcile_outcomes.clone(),
        );
        registry.register(
            "meetings_operator_reconcile_duration_seconds",
            "Duration of one reconcile",
            reconcile_duration.clone(),
        );
        registry.register(
            "meetings_operator_api_requests",
            "Meetings API request attempts, by operationId and HTTP status (or timeout, transport)",
            api_requests.clone(),
        );
        registry.register(
            "meetings_operator_api_request_duration_seconds",
            "Latency of one Meetings API request attempt",
            api_duration.clone(),
        );
        registry.register(
            "meetings_operator_rate_limiter_wait_seconds",
            "Time requests waited for the client-side rate limiter",
            rate_limit_wait.clone(),
        );
        registry.register(
            "meetings_operator_leader",
            "1 while this replica holds the leader lease (always 1 without leader election)",
            leader.clone(),
        );
        registry.register(
            "meetings_operator_callbacks",
            "Meetings API callbacks received, by event and result",
            callbacks.clone(),
        );
        registry.register(
            "meetings_operator_resync_wakeups",
            "Rooms the periodic listing handed to the controller, by reason (changed, vanished, expiring, unseen, application, credentials)",
            resync_wakeups.clone(),
        );
        registry.register_collector(Box::new(objects.clone()));

        Self {
            registry,
            reconciles,
            reconcile_errors,
            reconcile_outcomes,
            reconcile_duration,
            api_requests,
            api_duration,
            rate_limit_wait,
            leader,
            objects,
            callbacks,
            resync_wakeups,
        }
    }

    /// Records one finished reconcile of `kind`; `error` is the reason label
    /// of a failed one (a Kubernetes error, a failure's category, or the Meetings API error class).
    pub fn reconcile_finished(
        &self,
        kind: &'static str,
        error: Option<&'static str>,
        took: Duration,
    ) {
        let result = if error.is_some() { "error" } else { "success" };
        self.reconciles
            .get_or_create(&ReconcileLabels { kind, result })
            .inc();
        if let Some(reason) = error {
            self.reconcile_errors
                .get_or_create(&ErrorLabels { kind, reason })
                .inc();
        }
        self.reconcile_duration
            .get_or_create(&KindLabels { kind })
            .observe(took.as_secs_f64());
    }

    /// Counts one reconcile that left an object of `kind` in `outcome`
    /// (`ready`, `reconciling` or `stalled`) with condition `reason`.
    pub fn reconcile_outcome(&self, kind: &'static str, outcome: &'static str, reason: &str) {
        self.reconcile_outcomes
            .get_or_create(&OutcomeLabels {
                kind,
                outcome,
                reason: reason.to_owned(),
            })
            .inc();
    }

    /// Counts one callback: its canonical `event` name (or `unknown`) and
    /// what became of it (`applied`, `unchanged`, `malformed`, ...).
    pub fn callback_handled(&self, event: &'static str, result: &'static str) {
        self.callbacks
            .get_or_create(&CallbackLabels { event, result })
            .inc();
    }

    /// Counts one room the periodic listing handed to the controller.
    pub fn resync_wakeup(&self, reason: &'static str) {
        self.resync_wakeups
            .get_or_create(&ReasonLabels { reason })
            .inc();
    }

    /// Sets the leader gauge.
    pub fn set_leader(&self, leading: bool) {
        self.leader.set(i64::from(leading));
    }

    /// Counts the objects of `rooms` and `themes` by condition on every scrape.
    pub fn watch_stores(&self, themes: Store<MeetingTheme>, rooms: Store<MeetingRoom>) {
        self.objects.add(themes, rooms);
    }

    /// The metrics in the OpenMetrics text format.
    pub fn render(&self) -> Result<String, std::fmt::Error> {
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry)?;
        Ok(text)
    }
}

impl ApiObserver for Metrics {
    fn request_finished(&self, operation: &'static str, outcome: Outcome, latency: Duration) {
        self.api_requests
            .get_or_create(&RequestLabels {
                operation,
                status: outcome.label(),
            })
            .inc();
        self.api_duration
            .get_or_create(&OperationLabels { operation })
            .observe(latency.as_secs_f64());
    }

    fn rate_limit_waited(&self, waited: Duration) {
        self.rate_limit_wait.observe(waited.as_secs_f64());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::telemetry::{KIND_ROOM, KIND_THEME};

    fn line_value(text: &str, prefix: &str) -> Option<f64> {
        text.lines()
            .find(|l| l.starts_with(prefix))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
    }

    #[test]
    fn every_family_is_described() {
        let metrics = Metrics::new();
        // Labelled families appear once they have a series.
        metrics.reconcile_finished(KIND_ROOM, Some("Finalizer"), Duration::from_millis(1));
        metrics.request_finished("createRoom", Outcome::Status(201), Duration::from_millis(1));
        metrics.callback_handled("session:started", "applied");
        let text = metrics.render().unwrap();
        for (name, kind) in [
            ("meetings_operator_reconciles", "counter"),
            ("meetings_operator_reconcile_errors", "counter"),
            ("meetings_operator_reconcile_duration_seconds", "histogram"),
            ("meetings_operator_api_requests", "counter"),
            (
                "meetings_operator_api_request_duration_seconds",
                "histogram",
            ),
            ("meetings_operator_rate_limiter_wait_seconds", "histogram"),
            ("meetings_operator_leader", "gauge"),
            ("meetings_operator_objects", "gauge"),
            ("meetings_operator_callbacks", "counter"),
        ] {
            assert!(
                text.contains(&format!("# TYPE {name} {kind}\n")),
                "{name} missing:\n{text}"
            );
        }
        assert_eq!(line_value(&text, "meetings_operator_leader "), Some(0.0));
        assert_eq!(
            line_value(
                &text,
                r#"meetings_operator_callbacks_total{event="session:started",result="applied"}"#
            ),
            Some(1.0)
        );
        assert!(text.ends_with("# EOF\n"));
    }

    #[test]
    fn reconcile_outcomes_show_an_outage() {
        let metrics = Metrics::new();
        metrics.reconcile_outcome(KIND_ROOM, "reconciling", "ApiError");
        metrics.reconcile_outcome(KIND_ROOM, "reconciling", "ApiError");
        metrics.reconcile_outcome(KIND_THEME, "stalled", "Rejected");
        let text = metrics.render().unwrap();
        assert_eq!(
            line_value(
                &text,
                r#"meetings_operator_reconcile_outcomes_total{kind="MeetingRoom",outcome="reconciling",reason="ApiError"}"#
            ),
            Some(2.0)
        );
        assert_eq!(
            line_value(
                &text,
                r#"meetings_operator_reconcile_outcomes_total{kind="MeetingTheme",outcome="stalled",reason="Rejected"}"#
            ),
            Some(1.0)
        );
    }

    #[test]
    fn reconciles_are_counted_by_kind_result_and_reason() {
        let metrics = Metrics::new();
        metrics.reconcile_finished(KIND_ROOM, None, Duration::from_millis(25));
        metrics.reconcile_finished(KIND_ROOM, None, Duration::from_millis(25));
        metrics.reconcile_finished(KIND_THEME, Some("RateLimited"), Duration::from_secs(2));
        let text = metrics.render().unwrap();
        assert_eq!(
            line_value(
                &text,
                r#"meetings_operator_reconciles_total{kind="MeetingRoom",result="success"}"#
            ),
            Some(2.0)
        );
        assert_eq!(
            line_value(
                &text,
                r#"meetings_operator_reconciles_total{kind="MeetingTheme",result="error"}"#
            ),
            Some(1.0)
        );
        assert_eq!(
            line_value(
                &text,
                r#"meetings_operator_reconcile_errors_total{kind="MeetingTheme",reason="RateLimited"}"#
            ),
            Some(1.0)
        );
        assert_eq!(
            line_value(
                &text,
                r#"meetings_operator_reconcile_duration_seconds_count{kind="MeetingRoom"}"#
            ),
            Some(2.0)
        );
        assert_eq!(
            line_value(
                &text,
                r#"meetings_operator_reconcile_duration_seconds_sum{kind="MeetingRoom"}"#
            ),
            Some(0.05)
        );
        assert_eq!(
            line_value(
                &text,
                r#"meetings_operator_reconcile_duration_seconds_bucket{le="0.04",kind="MeetingRoom"}"#
            ),
            Some(2.0)
        );
    }

    #[test]
    fn api_calls_and_rate_limit_waits_are_observed() {
        let metrics = Metrics::new();
        let observer: &dyn ApiObserver = &metrics;
        observer.request_finished(
            "createRoom",
            Outcome::Status(201),
            Duration::from_millis(12),
        );
        observer.request_finished("createRoom", Outcome::Status(429), Duration::from_millis(3));
        observer.request_finished("getRoomsList", Outcome::Timeout, Duration::from_secs(30));
        observer.request_finished("getRoomsList", Outcome::Transport, Duration::from_millis(1));
        observer.rate_limit_waited(Duration::from_millis(250));
        let text = metrics.render().unwrap();
        for (series, value) in [
            (
                r#"meetings_operator_api_requests_total{operation="createRoom",status="201"}"#,
                1.0,
            ),
            (
                r#"meetings_operator_api_requests_total{operation="createRoom",status="429"}"#,
                1.0,
            ),
            (
                r#"meetings_operator_api_requests_total{operation="getRoomsList",status="timeout"}"#,
                1.0,
            ),
            (
                r#"meetings_operator_api_requests_total{operation="getRoomsList",status="transport"}"#,
                1.0,
            ),
            (
                r#"meetings_operator_api_request_duration_seconds_count{operation="createRoom"}"#,
                2.0,
            ),
            ("meetings_operator_rate_limiter_wait_seconds_count", 1.0),
            ("meetings_operator_rate_limiter_wait_seconds_sum", 0.25),
        ] {
            assert_eq!(line_value(&text, series), Some(value), "{series}\n{text}");
        }
    }

    #[test]
    fn the_leader_gauge_follows_leadership() {
        let metrics = Metrics::new();
        metrics.set_leader(true);
        assert_eq!(
            line_value(&metrics.render().unwrap(), "meetings_operator_leader "),
            Some(1.0)
        );
        metrics.set_leader(false);
        assert_eq!(
            line_value(&metrics.render().unwrap(), "meetings_operator_leader "),
            Some(0.0)
        );
    }
}
