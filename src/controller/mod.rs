//! The controllers that make the Meetings API agree with `MeetingTheme` and
//! `MeetingRoom` manifests.

pub mod annotations;
pub mod backoff;
pub mod credentials;
pub mod events;
mod kube_ops;
pub mod logos;
pub mod lost_create;
pub mod name_index;
pub mod png_rules;
pub mod room;
pub mod room_sync;
pub mod runner;
pub mod snapshot;
pub mod status_cache;
pub mod theme;
mod triggers;

use std::sync::Arc;
use std::time::Duration;

use kube::runtime::reflector::Store;
use rand::Rng;

use crate::crd::{MeetingRoom, MeetingRoomStatus, MeetingTheme, MeetingThemeStatus};
use crate::meetings::ApiError;

pub use credentials::{CredentialStore, CredentialsProblem, SecretKey};

/// Finalizer guarding remote cleanup.
pub const FINALIZER: &str = "meetings.vonage.com/cleanup";
/// Annotation overriding the resync period of one object (e.g. `30s`, `10m`).
pub const RESYNC_ANNOTATION: &str = "meetings.vonage.com/resync-period";
/// Label on Secrets holding a room's host URL.
pub const HOST_URL_LABEL: &str = "meetings.vonage.com/host-url-of";
/// Key of the host URL in its Secret.
pub const HOST_URL_KEY: &str = "hostUrl";

/// Operator-wide behaviour.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Base period between two observations of a remote object.
    pub resync: Duration,
    /// Fraction of the period added at random, so resyncs spread out.
    pub resync_jitter: f64,
    /// Concurrent reconciles per kind (0 = unlimited).
    pub concurrency: u16,
    /// Name used as the reporting controller of events.
    pub controller_name: String,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            resync: Duration::from_secs(300),
            resync_jitter: 0.1,
            concurrency: 8,
            controller_name: "meetings-operator".to_owned(),
        }
    }
}

impl Settings {
    /// The jittered delay until the next resync of an object, honouring its annotation.
    pub fn resync_after(
        &self,
        annotations: Option<&std::collections::BTreeMap<String, String>>,
    ) -> Duration {
        let base = annotations
            .and_then(|a| a.get(RESYNC_ANNOTATION))
            .and_then(|v| parse_duration(v))
            .unwrap_or(self.resync);
        let jitter = base.mul_f64(self.resync_jitter.clamp(0.0, 1.0) * rand::rng().random::<f64>());
        base + jitter
    }
}

/// Parses `90`, `90s`, `15m`, `2h` into a duration.
pub fn parse_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    let (number, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => text.split_at(i),
        None => (text, "s"),
    };
    let value: u64 = number.parse().ok()?;
    let secs = match unit {
        "s" => value,
        "m" => value.checked_mul(60)?,
        "h" => value.checked_mul(3600)?,
        _ => return None,
    };
    (secs > 0).then(|| Duration::from_secs(secs))
}

/// Everything the reconcilers share.
pub struct Context {
    /// Kubernetes client.
    pub kube: kube::Client,
    /// Meetings API clients per credentials Secret.
    pub credentials: Arc<CredentialStore>,
    /// Shared listings of remote rooms.
    pub snapshots: Arc<snapshot::RoomSnapshots>,
    /// Failure backoff per object.
    pub backoff: Arc<backoff::ObjectBackoff>,
    /// Event publisher.
    pub events: events::EventPublisher,
    /// Behaviour settings.
    pub settings: Settings,
    /// The operator's callback URLs, for rooms with `spec.operatorCallbacks`.
    pub callback_urls: Option<crate::crd::room::RoomCallbackUrls>,
    /// Cache of every watched `MeetingTheme`.
    pub themes: Store<MeetingTheme>,
    /// Cache of every watched `MeetingRoom`.
    pub rooms: Store<MeetingRoom>,
    /// Set once `rooms` holds the first complete list: until then a theme
    /// cannot tell which rooms use it.
    pub rooms_synced: Arc<std::sync::atomic::AtomicBool>,
    /// Names of the host-URL Secrets seen through their watch.
    pub host_url_secrets: name_index::NameIndex,
    /// Room statuses written but not yet seen through the watch.
    pub room_statuses: status_cache::StatusCache<MeetingRoomStatus>,
    /// Theme statuses written but not yet seen through the watch.
    pub theme_statuses: status_cache::StatusCache<MeetingThemeStatus>,
    /// When each theme was last read from the API.
    pub observed: status_cache::LastObserved,
    /// Each theme's budget of tally-only status writes (see `theme::TALLY_INTERVAL`).
    pub theme_writes: status_cache::WriteBudget,
    /// Logo images the API refused, so they are not uploaded again.
    pub logo_rejections: logos::Rejections,
    /// Reconcile outcome counters.
    pub metrics: Arc<crate::telemetry::Metrics>,
}

/// Why a reconcile failed; the error policy turns it into a requeue.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A Kubernetes call failed.
    #[error("Kubernetes API: {0}")]
    Kube(#[from] kube::Error),
    /// A Meetings API call failed in a way a retry may fix.
    #[error("Meetings API: {0}")]
    Api(#[from] ApiError),
    /// A finalizer step failed.
    #[error("finalizer: {0}")]
    Finalizer(String),
    /// The object lacks a namespace or name.
    #[error("object has no {0}")]
    MissingField(&'static str),
}

impl Error {
    /// The `reason` label of a failed reconcile in the metrics: the Meetings
    /// API error class (`RateLimited`, `ServerError`, ...),
    /// `Kubernetes<Reason>` for a few Kubernetes API answers,
    /// `KubernetesError` for other Kubernetes failures, `Finalizer` or
    /// `MissingField`.
    pub fn metric_reason(&self) -> &'static str {
        match self {
            Error::Api(api) => api.class().as_str(),
            Error::Kube(kube::Error::Api(status)) => match status.code {
                404 => "KubernetesNotFound",
                409 => "KubernetesConflict",
                403 => "KubernetesForbidden",
                422 => "KubernetesInvalid",
                429 => "KubernetesTooManyRequests",
                _ => "KubernetesError",
            },
            Error::Kube(_) => "KubernetesError",
            Error::Finalizer(_) => "Finalizer",
            Error::MissingField(_) => "MissingField",
        }
    }
}

/// Shared pointer to the context.
pub type Ctx = Arc<Context>;

/// Stable key of an object (`Kind/namespace/name`) for backoff bookkeeping.
pub fn object_key<K: kube::Resource<DynamicType = ()>>(object: &K) -> String {
    format!(
        "{}/{}/{}",
        K::kind(&()),
        object.meta().namespace.as_deref().unwrap_or_default(),
        object.meta().name.as_deref().unwrap_or_default()
    )
}

/// Requeues a failed reconcile with per-object exponential backoff.
pub fn error_policy<K: kube::Resource<DynamicType = ()>>(
    object: Arc<K>,
    error: &Error,
    ctx: Ctx,
) -> kube::runtime::controller::Action {
    let key = object_key(object.as_ref());
    let delay = ctx.backoff.next_delay(&key);
    tracing::warn!(
        object = %key,
        %error,
        retry_in_ms = delay.as_millis() as u64,
        "reconcile failed"
    );
    kube::runtime::controller::Action::requeue(delay)
}

/// Logs at debug level which top-level status fields a status write
/// changes (why was this written?); nothing is compared unless debug is on.
pub(crate) fn debug_status_change<S: serde::Serialize>(before: &S, after: &S) {
    if tracing::enabled!(tracing::Level::DEBUG) {
        let fields = changed_status_fields(before, after);
        tracing::debug!(?fields, "writing status");
    }
}

/// The top-level status fields that differ between two statuses.
fn changed_status_fields<S: serde::Serialize>(before: &S, after: &S) -> Vec<String> {
    let (Ok(serde_json::Value::Object(before)), Ok(serde_json::Value::Object(after))) =
        (serde_json::to_value(before), serde_json::to_value(after))
    else {
        return Vec::new();
    };
    let mut fields: Vec<String> = after
        .iter()
        .filter(|(key, value)| before.get(*key) != Some(*value))
        .map(|(key, _)| key.clone())
        .collect();
    fields.extend(before.keys().filter(|k| !after.contains_key(*k)).cloned());
    fields
}

/// The current time as a Kubernetes timestamp, in whole seconds: that is
/// how the API server stores it, so a status written with it reads back
/// equal (see [`status_cache`]).
pub(crate) fn now() -> k8s_openapi::apimachinery::pkg::apis::meta::v1::Time {
    let now = jiff::Timestamp::now();
    k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
        jiff::Timestamp::from_second(now.as_second()).unwrap_or(now),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_reasons_are_short_and_stable() {
        assert_eq!(Error::MissingField("name").metric_reason(), "MissingField");
        assert_eq!(Error::Finalizer("x".into()).metric_reason(), "Finalizer");
        assert_eq!(
            Error::Api(crate::meetings::ApiError::Timeout).metric_reason(),
            "TransportError"
        );
        let conflict = kube::Error::Api(Box::new(kube::core::Status {
            code: 409,
            ..Default::default()
        }));
        assert_eq!(Error::Kube(conflict).metric_reason(), "KubernetesConflict");
    }

    #[test]
    fn changed_status_fields_names_changed_added_and_removed_fields() {
        let before = serde_json::json!({"roomId": "r", "meetingCode": "1", "guestUrl": "g"});
        let after = serde_json::json!({"roomId": "r", "meetingCode": "2", "themeId": "t"});
        let mut fields = changed_status_fields(&before, &after);
        fields.sort();
        assert_eq!(fields, ["guestUrl", "meetingCode", "themeId"]);
    }

    #[test]
    fn durations_parse_with_units() {
        assert_eq!(parse_duration("90"), Some(Duration::from_secs(90)));
        assert_eq!(parse_duration("30s"), Some(Duration::from_secs(30)));
        assert_eq!(parse_duration("15m"), Some(Duration::from_secs(900)));
        assert_eq!(parse_duration("2h"), Some(Duration::from_secs(7200)));
        for bad in ["", "0s", "5d", "m", "-1s"] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
    }

    #[test]
    fn resync_is_jittered_and_overridden_per_object() {
        let settings = Settings {
            resync: Duration::from_secs(100),
            resync_jitter: 0.1,
            ..Settings::default()
        };
        let delays: Vec<Duration> = (0..200).map(|_| settings.resync_after(None)).collect();
        assert!(
            delays
                .iter()
                .all(|d| *d >= Duration::from_secs(100) && *d <= Duration::from_secs(110))
        );
        assert!(delays.iter().any(|d| *d != delays[0]), "jittered");
        let annotations =
            std::collections::BTreeMap::from([(RESYNC_ANNOTATION.to_owned(), "10s".to_owned())]);
        let overridden = settings.resync_after(Some(&annotations));
        assert!(overridden >= Duration::from_secs(10) && overridden <= Duration::from_secs(11));
        let invalid =
            std::collections::BTreeMap::from([(RESYNC_ANNOTATION.to_owned(), "soon".to_owned())]);
        assert!(settings.resync_after(Some(&invalid)) >= Duration::from_secs(100));
    }
}
