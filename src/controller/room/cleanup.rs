//! A deleted room: a managed long-term room with `deletionPolicy: Expire` is
//! set to expire as soon as the API allows (rooms cannot be deleted).

use jiff::Timestamp;
use kube::ResourceExt;

use super::Rooms;
use crate::controller::kind::ManagedKind;
use crate::controller::outcome::{Failure, Halt};
use crate::crd::common::ManagementPolicy;
use crate::crd::reasons::event;
use crate::crd::{MeetingRoom, MeetingRoomStatus, RoomDeletionPolicy, RoomKind};
use crate::meetings::{ApiError, MeetingsClient, RoomUpdate, format_timestamp};

/// Expires the room if its policy says so; `Ok` once the finalizer may go.
pub(super) async fn expire(
    rooms: &Rooms,
    room: &MeetingRoom,
    status: &MeetingRoomStatus,
) -> Result<(), Halt> {
    let expire = room.spec.management_policy == ManagementPolicy::Managed
        && room.spec.deletion_policy == RoomDeletionPolicy::Expire
        && room.spec.room_type == RoomKind::LongTerm;
    if !expire || (status.room_id.is_none() && status.pending_create.is_none()) {
        return Ok(());
    }
    let namespace = room.namespace().unwrap_or_default();
    let client = rooms
        .services
        .credentials
        .client(&namespace, room.spec.credentials_ref.as_deref())
        .await
        .map_err(|problem| Failure::credentials(&problem))?;
    let Some(room_id) = room_id(rooms, room, &client, status).await? else {
        return Ok(());
    };
    // The API refuses expiry ten minutes or less ahead.
    let earliest = Timestamp::now() + jiff::SignedDuration::from_secs(11 * 60);
    let update = RoomUpdate {
        expires_at: Some(earliest),
        ..Default::default()
    };
    match client.update_room(&room_id, &update).await {
        Ok(_) => {
            let note = format!(
                "room {room_id} set to expire at {}",
                format_timestamp(&earliest)
            );
            rooms
                .services
                .events
                .normal(room, event::EXPIRY_SET, "Delete", note)
                .await;
            Ok(())
        }
        Err(ApiError::NotFound(_)) => Ok(()),
        Err(ApiError::InvalidRequest(e)) => {
            // Already expiring sooner, or no longer updatable: nothing left to do.
            tracing::info!(room_id, error = %e, "room could not be set to expire; leaving it");
            Ok(())
        }
        Err(error) => Err(Failure::api(&error, "Delete").into()),
    }
}

/// The room to expire: the recorded one, or the one a create with a lost
/// answer made (deleted while the create was unconfirmed).
async fn room_id(
    rooms: &Rooms,
    room: &MeetingRoom,
    client: &MeetingsClient,
    status: &MeetingRoomStatus,
) -> Result<Option<String>, Halt> {
    if let Some(room_id) = status.room_id.as_deref() {
        return Ok(Some(room_id.to_owned()));
    }
    let Some(pending) = status.pending_create.as_ref() else {
        return Ok(None);
    };
    let theme_id = status.theme_id.as_deref().map(str::to_owned);
    // A spec the operator cannot send was never created.
    let Ok(request) = rooms.create_request(room, &theme_id) else {
        return Ok(None);
    };
    let found = super::recover_lost_create(rooms, room, client, pending, &request)
        .await
        .map_err(|error| Failure::api(&error, "RecoverCreate"))?;
    Ok(found.map(|found| found.id))
}
