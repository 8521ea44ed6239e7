//! What the controllers read and call: the services both kinds share; each
//! kind keeps what it alone needs beside them (see [`super::room::RoomKind`]
//! and [`super::theme::ThemeKind`]).

use std::sync::Arc;

use kube::runtime::reflector::Store;

use super::Settings;
use crate::crd::{MeetingRoom, MeetingTheme};
use crate::services::CredentialStore;
use crate::services::backoff::ObjectBackoff;
use crate::services::events::EventPublisher;
use crate::services::resync_cycle::ResyncCycle;
use crate::services::snapshot::RoomSnapshots;
use crate::telemetry::Metrics;

/// The services both controllers of a scope share.
#[derive(Clone)]
pub struct Services {
    /// Kubernetes client.
    pub kube: kube::Client,
    /// Meetings API clients per credentials Secret.
    pub credentials: Arc<CredentialStore>,
    /// Shared listings of remote rooms.
    pub snapshots: Arc<RoomSnapshots>,
    /// Failure backoff per object.
    pub backoff: Arc<ObjectBackoff>,
    /// Event publisher.
    pub events: Arc<EventPublisher>,
    /// Behaviour settings.
    pub settings: Settings,
    /// Reconcile counters.
    pub metrics: Arc<Metrics>,
    /// Cache of every watched `MeetingTheme` of the scope.
    pub themes: Store<MeetingTheme>,
    /// Cache of every watched `MeetingRoom` of the scope.
    pub rooms: Store<MeetingRoom>,
    /// The period both kinds observe their settled objects in.
    pub cycle: Arc<ResyncCycle>,
}
