//! Kubernetes Events with the reasons of [`crate::crd::reasons::event`]; failures to publish are logged, never fatal.

use kube::Resource;
use kube::runtime::events::{Event, EventType, Recorder, Reporter};

/// Publishes events for our objects.
///
/// Warnings go through one shared [`Recorder`], whose cache folds a repeated
/// warning into a series. Normal events (a create, an update, a deletion)
/// happen once per occurrence; they are published without that cache, which
/// would otherwise hold every event of the last minutes (at 10,000 rooms,
/// 10,000 events, scanned on every publish).
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
            EventType::Warning => self.warnings.publish(&event, &object.object_ref(&())).await,
            EventType::Normal => {
                Recorder::new(self.client.clone(), self.reporter.clone())
                    .publish(&event, &object.object_ref(&()))
                    .await
            }
        };
        if let Err(error) = published {
            tracing::warn!(%error, reason, "could not publish event");
        }
    }
}
