//! What a managed kind supplies to the [pipeline](super::pipeline): its API
//! calls, how it diffs, creates and updates, and its extra work.

use std::future::Future;
use std::time::Duration;

use kube::Resource;
use serde::de::DeserializeOwned;

use super::context::Services;
use super::outcome::{Halt, Next};
use crate::crd::PendingCreate;
use crate::crd::common::ManagementPolicy;
use crate::crd::managed::ManagedStatus;
use crate::meetings::{ApiError, MeetingsClient};
use crate::services::status_cache::StatusCache;

/// The fields of a spec the pipeline reads.
pub struct SpecView<'a> {
    /// The credentials Secret, if not the default one.
    pub credentials_ref: Option<&'a crate::crd::CredentialsRef>,
    /// A remote object to take over instead of creating one.
    pub adopt_id: Option<&'a str>,
    /// Managed or observed only.
    pub management_policy: ManagementPolicy,
    /// Whether remote cleanup needs the finalizer.
    pub wants_finalizer: bool,
}

/// An update that makes the remote object match, with the spec field names it changes.
pub struct Change<U> {
    /// The update to send.
    pub update: U,
    /// The spec field names it changes.
    pub fields: Vec<&'static str>,
}

/// What observing a known remote object found.
pub enum Observed<R> {
    /// The remote object as it is now.
    Found(R),
    /// The API no longer has it.
    Gone,
    /// It is on a page of a listing that is still being read; that page
    /// wakes the object, so the pass ends without a write (see
    /// [`Halt::Parked`]).
    Parked,
}

impl<R> From<Option<R>> for Observed<R> {
    /// A read's answer: the object, or `Gone` when the API has none.
    fn from(read: Option<R>) -> Self {
        read.map_or(Observed::Gone, Observed::Found)
    }
}

/// What the remote side says about an object that vanished.
pub enum Vanished {
    /// Create it again; the note says why (a Warning event).
    Recreate(String),
    /// The kind set the final status itself.
    Settled(Next),
}

/// A managed kind: the Kubernetes object, its status, its remote object, and
/// every step of the pipeline that differs between kinds. Implemented by
/// each kind's controller state, which also holds what only it needs.
pub trait ManagedKind: Send + Sync + Sized + 'static {
    /// The custom resource.
    type Object: Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + DeserializeOwned
        + std::fmt::Debug
        + Send
        + Sync
        + 'static;
    /// Its status.
    type Status: ManagedStatus;
    /// The remote object as the pipeline passes it between phases.
    type Remote: Send + Sync;
    /// What the kind resolves before locating the remote object (a room's theme).
    type Plan: Send + Sync;
    /// The create request.
    type Request: Send + Sync;
    /// The changes an update sends.
    type Update: Send + Sync;
    /// What the extra work found, for the report.
    type Extras: Send;

    /// `kind` label in metrics and logs.
    const KIND: &'static str;
    /// Whether "room" or "theme", for messages.
    const NOUN: &'static str;
    /// The shared services.
    fn services(&self) -> &Services;
    /// Statuses written but not yet seen through the watch.
    fn statuses(&self) -> &StatusCache<Self::Status>;
    /// The spec fields the pipeline reads.
    fn spec(object: &Self::Object) -> SpecView<'_>;
    /// The status as the watch shows it, without parts others write.
    fn observed_status(object: &Self::Object) -> Self::Status;

    /// Whether the controller can work at all yet (its caches are complete).
    fn may_work(&self) -> bool {
        true
    }
    /// A wait before this pass may write again, if any.
    fn hold(&self, _object: &Self::Object, _current: &Self::Status) -> Option<Duration> {
        None
    }
    /// Called after each status write of this object.
    fn wrote_status(&self, _uid: &str) {}
    /// Called once the object is gone, to drop what is kept for it.
    fn forget(&self, _uid: &str) {}

    /// Remote cleanup on deletion; `Ok` once the finalizer may go.
    fn finalize(
        &self,
        object: &Self::Object,
        status: &mut Self::Status,
    ) -> impl Future<Output = Result<(), Halt>> + Send;

    /// Resolves what locating and converging need (a room's theme).
    fn plan(&self, object: &Self::Object, client: &MeetingsClient) -> Result<Self::Plan, Halt>;

    /// The remote object by id.
    fn observe(
        &self,
        object: &Self::Object,
        client: &MeetingsClient,
        id: &str,
        status: &Self::Status,
    ) -> impl Future<Output = Result<Observed<Self::Remote>, ApiError>> + Send;
    /// The remote object `spec.adoptId` names, read now.
    fn adopt(
        &self,
        client: &MeetingsClient,
        id: &str,
    ) -> impl Future<Output = Result<Option<Self::Remote>, ApiError>> + Send;
    /// What to do about a remote object that vanished (managed objects only).
    fn vanished(&self, object: &Self::Object, status: &mut Self::Status, id: &str) -> Vanished;
    /// Clears what described the vanished remote object before it is created again.
    fn forget_remote(status: &mut Self::Status);

    /// The create request for the spec.
    fn create_request(
        &self,
        object: &Self::Object,
        plan: &Self::Plan,
    ) -> Result<Self::Request, Halt>;
    /// Records in status what the create marker needs beside the pipeline's fields.
    fn mark_creating(_object: &Self::Object, _status: &mut Self::Status) {}
    /// The remote object a create with a lost answer made, if any.
    fn recover(
        &self,
        object: &Self::Object,
        client: &MeetingsClient,
        pending: &PendingCreate,
        request: &Self::Request,
    ) -> impl Future<Output = Result<Option<Self::Remote>, ApiError>> + Send;
    /// Creates the remote object.
    fn create(
        &self,
        client: &MeetingsClient,
        request: &Self::Request,
    ) -> impl Future<Output = Result<Self::Remote, ApiError>> + Send;
    /// Keeps a remote object the operator just wrote or read, for other readers.
    fn remember_remote(&self, _client: &MeetingsClient, _remote: &Self::Remote) {}

    /// The remote object's id.
    fn remote_id(remote: &Self::Remote) -> &str;
    /// The remote object in a few words (`room R (code C)`), for events.
    fn describe(remote: &Self::Remote) -> String;

    /// The update that makes the remote object match, with the names of the
    /// fields it changes; `None` when nothing is to be changed.
    fn diff(
        &self,
        object: &Self::Object,
        status: &Self::Status,
        plan: &Self::Plan,
        remote: &Self::Remote,
    ) -> Result<Option<Change<Self::Update>>, Halt>;
    /// Whether the remote object can take an update of `fields`.
    fn may_update(object: &Self::Object, fields: &[&'static str]) -> Result<(), Halt>;
    /// Sends the update.
    fn update(
        &self,
        client: &MeetingsClient,
        id: &str,
        update: &Self::Update,
    ) -> impl Future<Output = Result<Self::Remote, ApiError>> + Send;

    /// The kind's work beyond the remote object itself.
    fn extras(
        &self,
        object: &Self::Object,
        client: &MeetingsClient,
        status: &mut Self::Status,
        remote: &Self::Remote,
    ) -> impl Future<Output = Result<Self::Extras, Halt>> + Send;
    /// Writes the state of a located, converged object into status;
    /// `drift` names the fields an observed-only object differs in.
    fn report(
        &self,
        object: &Self::Object,
        status: &mut Self::Status,
        plan: Self::Plan,
        remote: &Self::Remote,
        drift: &[&'static str],
        extras: Self::Extras,
    ) -> Next;
}
