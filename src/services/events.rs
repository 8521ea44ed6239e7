//! Kubernetes Events with the reasons of [`crate::crd::reasons::event`]; failures to publish are logged, never fatal.

use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::api::events::v1::Event as KubeEvent;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use kube::Resource;
use kube::api::{ObjectMeta, PostParams};
use kube::core::request::Request;
use kube::runtime::events::{Event, EventType, Recorder, Reporter};

use super::kube_ops::{WriteError, send_write};

/// Publishes events for our objects.
///
/// Warnings go through one shared [`Recorder`], whose cache folds a repeated
/// warning into a series. Normal events (a create, an update, a deletion)
/// happen once per occurrence; they are created as the recorder creates a
/// new event, but without its cache, which would otherwise hold every event
/// of the last minutes (at 10,000 rooms, 10,000 events, scanned on every
/// publish), and without decoding the event the API server sends back.
pub struct EventPublisher {
    client: kube::Client,
    reporter: Reporter,
    warnings: Recorder,
}

impl EventPublisher {
    /// A publisher reporting as `controller`.
    pub fn new(client: kube::Client, controller: &str) -> Self {
        let reporter = Reporter {
            controller: controller.to_owned(),
            instance: std::env::var("POD_NAME").ok(),
        };
        Self {
            warnings: Recorder::new(client.clone(), reporter.clone()),
            client,
            reporter,
        }
    }

    /// Publishes a Normal event.
    pub async fn normal<K>(&self, object: &K, reason: &str, action: &str, note: String)
    where
        K: Resource<DynamicType = ()>,
    {
        self.publish(object, EventType::Normal, reason, action, note)
            .await;
    }

    /// Publishes a Warning event.
    pub async fn warning<K>(&self, object: &K, reason: &str, action: &str, note: String)
    where
        K: Resource<DynamicType = ()>,
    {
        self.publish(object, EventType::Warning, reason, action, note)
            .await;
    }

    async fn publish<K>(
        &self,
        object: &K,
        type_: EventType,
        reason: &str,
        action: &str,
        note: String,
    ) where
        K: Resource<DynamicType = ()>,
    {
        let mut note = note;
        if note.len() > 1000 {
            let mut cut = 1000;
            while !note.is_char_boundary(cut) {
                cut -= 1;
            }
            note.truncate(cut);
        }
        let event = Event {
            type_,
            reason: reason.to_owned(),
            note: Some(note),
            action: action.to_owned(),
            secondary: None,
        };
        let published = match type_ {
            EventType::Warning => self
                .warnings
                .publish(&event, &object.object_ref(&()))
                .await
                .map_err(WriteError::from),
            EventType::Normal => self.create_normal(&event, object.object_ref(&())).await,
        };
        if let Err(error) = published {
            tracing::warn!(%error, reason, "could not publish event");
        }
    }

    /// Creates `event` about `regarding` as a new Normal Event, as the
    /// recorder creates one that starts no series.
    async fn create_normal(
        &self,
        event: &Event,
        regarding: ObjectReference,
    ) -> Result<(), WriteError> {
        let now = jiff::Timestamp::now();
        let namespace = regarding
            .namespace
            .clone()
            .unwrap_or_else(|| "default".to_owned());
        let controller = &self.reporter.controller;
        let name = format!(
            "{}.{:x}",
            regarding.name.as_deref().unwrap_or(controller),
            now.as_nanosecond()
        );
        let body = KubeEvent {
            metadata: ObjectMeta {
                name: Some(name),
                namespace: Some(namespace.clone()),
                ..ObjectMeta::default()
            },
            action: Some(event.action.clone()),
            reason: Some(event.reason.clone()),
            note: event.note.clone(),
            event_time: Some(MicroTime(now)),
            regarding: Some(regarding),
            reporting_controller: Some(controller.clone()),
            reporting_instance: Some(self.reporter.instance.clone().unwrap_or(controller.clone())),
            type_: Some("Normal".to_owned()),
            ..KubeEvent::default()
        };
        let body = serde_json::to_vec(&body).map_err(kube::Error::SerdeError)?;
        let request = Request::new(KubeEvent::url_path(&(), Some(&namespace)))
            .create(&PostParams::default(), body);
        send_write(&self.client, request).await
    }
}
