//! What the two kinds' statuses have in common, so that one reconcile
//! pipeline can read and write both.

use crate::crd::conditions::Condition;

use super::common::PendingCreate;
use super::{MeetingRoomStatus, MeetingThemeStatus};

/// The fields every managed object's status has.
pub trait ManagedStatus:
    Clone + Default + PartialEq + serde::Serialize + std::fmt::Debug + Send + Sync + 'static
{
    /// The conditions.
    fn conditions(&self) -> &Vec<Condition>;
    /// The conditions, to change.
    fn conditions_mut(&mut self) -> &mut Vec<Condition>;
    /// The generation the status describes.
    fn observed_generation(&self) -> Option<i64>;
    /// Records the generation the status describes.
    fn set_observed_generation(&mut self, generation: Option<i64>);
    /// The id of the remote object, once known.
    fn remote_id(&self) -> Option<&str>;
    /// Records the id of the remote object.
    fn set_remote_id(&mut self, id: Option<String>);
    /// The application the remote object belongs to.
    fn application_id(&self) -> Option<&str>;
    /// Records the application the remote object belongs to.
    fn set_application_id(&mut self, id: Option<String>);
    /// The marker of a create whose answer is not recorded yet.
    fn pending_create(&self) -> Option<&PendingCreate>;
    /// Records or clears the create marker.
    fn set_pending_create(&mut self, pending: Option<PendingCreate>);
    /// The last `reconcile-requested-at` value handled.
    fn last_handled_reconcile_at(&self) -> Option<&str>;
    /// Records the last `reconcile-requested-at` value handled.
    fn set_last_handled_reconcile_at(&mut self, value: Option<String>);
}

macro_rules! managed_status {
    ($status:ty, $id:ident) => {
        impl ManagedStatus for $status {
            fn conditions(&self) -> &Vec<Condition> {
                &self.conditions
            }
            fn conditions_mut(&mut self) -> &mut Vec<Condition> {
                &mut self.conditions
            }
            fn observed_generation(&self) -> Option<i64> {
                self.observed_generation
            }
            fn set_observed_generation(&mut self, generation: Option<i64>) {
                self.observed_generation = generation;
            }
            fn remote_id(&self) -> Option<&str> {
                self.$id.as_deref()
            }
            fn set_remote_id(&mut self, id: Option<String>) {
                self.$id = id.map(Into::into);
            }
            fn application_id(&self) -> Option<&str> {
                self.application_id.as_deref()
            }
            fn set_application_id(&mut self, id: Option<String>) {
                self.application_id = id.map(Into::into);
            }
            fn pending_create(&self) -> Option<&PendingCreate> {
                self.pending_create.as_deref()
            }
            fn set_pending_create(&mut self, pending: Option<PendingCreate>) {
                self.pending_create = pending.map(Box::new);
            }
            fn last_handled_reconcile_at(&self) -> Option<&str> {
                self.last_handled_reconcile_at.as_deref()
            }
            fn set_last_handled_reconcile_at(&mut self, value: Option<String>) {
                self.last_handled_reconcile_at = value.map(Into::into);
            }
        }
    };
}

managed_status!(MeetingRoomStatus, room_id);
managed_status!(MeetingThemeStatus, theme_id);
