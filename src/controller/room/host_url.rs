//! The host URL of a room, kept in a Secret the room owns; never in status,
//! events or logs.

use kube::ResourceExt;

use super::Rooms;
use crate::controller::outcome::{Failure, Halt};
use crate::crd::{MeetingRoom, MeetingRoomStatus};
use crate::meetings::{MeetingsClient, Room};
use crate::services::kube_ops::{host_url_secret_exists, write_host_url_secret};

/// Writes the room's host-URL Secret unless it exists.
pub(super) async fn ensure_secret(
    rooms: &Rooms,
    room: &MeetingRoom,
    client: &MeetingsClient,
    status: &mut MeetingRoomStatus,
    remote: &Room,
) -> Result<(), Halt> {
    let namespace = room.namespace().unwrap_or_default();
    let kube = &rooms.services.kube;
    if let Some(name) = status.host_url_secret_name.as_deref() {
        // The watched Secrets answer without a read; one missing from them
        // may be too new to have been seen yet, so it is read before it is
        // written again.
        if rooms.host_url_secrets.contains(&namespace, name)
            || host_url_secret_exists(kube, &namespace, name).await?
        {
            return Ok(());
        }
    }
    // A create's answer carries the host URL; the shared listing does not.
    let read;
    let remote = if remote.host_url().is_some() {
        remote
    } else {
        read = client
            .get_room(&remote.id)
            .await
            .map_err(|error| Failure::api(&error, "WriteHostUrl"))?;
        &read
    };
    let Some(host_url) = remote.host_url() else {
        return Ok(());
    };
    let name = write_host_url_secret(kube, room, host_url).await?;
    status.host_url_secret_name = Some(name.into());
    Ok(())
}
